"""Activation functions: the NumPy reference and the codes of the compiled kernels.

Each activation works in place on the pre-activation z and returns it; its derivative is
written in terms of the activation's output a = f(z) (so z need not be stored):

==========  ===============================  ======================
name        f(z)                             f'(z) from a = f(z)
==========  ===============================  ======================
identity    z                                1
sigmoid     1 / (1 + exp(-z))                a (1 - a)
tanh        tanh(z)                          1 - a^2
relu        max(z, 0)                        [a > 0]
leaky_relu  z if z > 0 else 0.01 z           1 if a > 0 else 0.01
elu         z if z > 0 else e^z - 1          1 if a > 0 else a + 1
softplus    log(1 + e^z)                     1 - e^-a  (= sigmoid(z))
softmax     exp(z_k) / sum_j exp(z_j)        (through its loss only)
exp         e^z (output of the poisson loss)  (through its loss only)
==========  ===============================  ======================

leaky_relu's slope and elu's alpha are torch's defaults (0.01, 1.0); softplus is computed as
max(z, 0) + log1p(e^-|z|), finite for any z. Each derivative depends on a alone because each
of these functions is increasing (GELU and SiLU are not, and would need z kept).

Adding an activation: one entry in each registry below, plus its branch in
src_pyx/_activations.pxd; the tests iterate the registries.
"""
import numpy as np
from scipy.special import expit

__all__ = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax",
           "exp", "ACTIVATIONS", "DERIVATIVES", "HIDDEN_ACTIVATIONS"]

#: leaky_relu's slope below 0 (torch.nn.LeakyReLU's default)
LEAKY_SLOPE = 0.01


def __dir__():  # tab completion shows the public names only
    return __all__


def identity(z):
    return z


def sigmoid(z):
    """Logistic function 1 / (1 + e^-z), without overflow for any z (scipy's expit)."""
    return expit(z, out=z)


def tanh(z):
    return np.tanh(z, out=z)


def relu(z):
    return np.maximum(z, 0, out=z)


def leaky_relu(z):
    return np.multiply(z, np.where(z > 0, 1.0, LEAKY_SLOPE).astype(z.dtype), out=z)


def elu(z):
    """z for z > 0, else e^z - 1 (alpha 1), by expm1: exact near 0, -1 far below."""
    z[...] = np.where(z > 0, z, np.expm1(np.minimum(z, 0)))
    return z


def softplus(z):
    """log(1 + e^z) as max(z, 0) + log1p(e^-|z|): no overflow for any z."""
    return np.logaddexp(0, z, out=z)


def softmax(z):
    """Row-wise softmax; the row maximum is subtracted so exp never overflows."""
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def exp(z):
    """e^z: the mean of a Poisson count, from the log-link pre-activation."""
    return np.exp(z, out=z)


def _identity_derivative(a, delta):
    return delta


def _sigmoid_derivative(a, delta):
    delta *= a * (1 - a)
    return delta


def _tanh_derivative(a, delta):
    delta *= 1 - a * a
    return delta


def _relu_derivative(a, delta):
    delta[a <= 0] = 0
    return delta


def _leaky_relu_derivative(a, delta):
    delta *= np.where(a > 0, 1.0, LEAKY_SLOPE).astype(a.dtype)
    return delta


def _elu_derivative(a, delta):
    delta *= np.where(a > 0, 1, a + 1)
    return delta


def _softplus_derivative(a, delta):
    delta *= -np.expm1(-a)  # sigmoid(z) = 1 - e^-a, exact where a is tiny
    return delta


#: name -> in-place f(z)
ACTIVATIONS = {"identity": identity, "sigmoid": sigmoid, "tanh": tanh, "relu": relu,
               "leaky_relu": leaky_relu, "elu": elu, "softplus": softplus,
               "softmax": softmax, "exp": exp}

#: name -> in-place delta *= f'(z), given a = f(z); softmax and exp have none (their losses
#: supply it)
DERIVATIVES = {"identity": _identity_derivative, "sigmoid": _sigmoid_derivative,
               "tanh": _tanh_derivative, "relu": _relu_derivative,
               "leaky_relu": _leaky_relu_derivative, "elu": _elu_derivative,
               "softplus": _softplus_derivative}

#: activations allowed in hidden layers (softmax and exp only serve an output layer's loss)
HIDDEN_ACTIVATIONS = tuple(DERIVATIVES)

#: name -> code of the compiled kernels (src_pyx/_activations.pxd)
ACTIVATION_CODES = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3, "softmax": 4, "exp": 5,
                    "leaky_relu": 6, "elu": 7, "softplus": 8}
