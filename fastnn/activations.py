"""Activation functions: the NumPy reference and the codes of the compiled kernels.

Each activation works in place on the pre-activation z and returns it. Its derivative is
written in terms of the activation's output a = f(z) where a tells z's side (so z need not
be stored), else in terms of z itself (the names in FROM_Z, whose z is kept):

==========  ======================================  =======  ========================
name        f(z)                                    f' from  f'(z)
==========  ======================================  =======  ========================
identity    z                                       a        1
sigmoid     1 / (1 + e^-z)                          a        a (1 - a)
tanh        tanh(z)                                 a        1 - a^2
relu        max(z, 0)                               a        [a > 0]
leaky_relu  z if z > 0 else 0.01 z                  a        1 if a > 0 else 0.01
elu         z if z > 0 else e^z - 1                 a        1 if a > 0 else a + 1
softplus    log(1 + e^z)                            a        1 - e^-a  (= sigmoid(z))
gelu        z Phi(z) = z (1 + erf(z / sqrt 2)) / 2  z        Phi(z) + z phi(z)
silu        z s(z),  s = sigmoid                    z        s(z) (1 + z (1 - s(z)))
softmax     e^z_k / sum_j e^z_j                              (through its loss only)
exp         e^z (output of the poisson loss)                 (through its loss only)
==========  ======================================  =======  ========================

leaky_relu's slope and elu's alpha are torch's defaults (0.01, 1.0); softplus is computed as
max(z, 0) + log1p(e^-|z|), finite for any z. The derivatives from a work because those
functions are increasing. GELU and SiLU are not (both dip below 0 for z < 0, so one a comes
from two z): their derivatives take z, which both backends keep for them (the compiled
kernels keep D = f'(z) instead, from the forward pass). gelu is the exact form (torch's
default, not its tanh approximation), Phi the standard normal CDF, computed as
erfc(-z/sqrt2) / 2, accurate far below 0 where 1 + erf cancels; phi = e^(-z^2/2)/sqrt(2 pi).

Adding an activation: one entry in each registry below (and in FROM_Z, with needs_z in
src_pyx/_activations.pxd, when its derivative needs z), plus its branch in
src_pyx/_activations.pxd; the tests iterate the registries.
"""
import numpy as np
from scipy.special import erfc, expit

__all__ = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu",
           "silu", "softmax", "exp", "ACTIVATIONS", "DERIVATIVES", "FROM_Z",
           "HIDDEN_ACTIVATIONS", "multiply_derivative"]

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


def _normal_cdf(z):
    """Phi(z) by erfc: no cancellation far below 0 (1 + erf(z / sqrt 2) rounds to 0 there)."""
    return 0.5 * erfc(-z / np.sqrt(2))


def gelu(z):
    """z Phi(z) = z (1 + erf(z / sqrt 2)) / 2, the exact GELU (torch's default)."""
    return np.multiply(z, _normal_cdf(z), out=z)


def silu(z):
    """z sigmoid(z) (SiLU, swish with beta 1), sigmoid by expit: no overflow for any z."""
    return np.multiply(z, expit(z), out=z)


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


def _gelu_derivative(z, delta):
    # phi(z) = e^(-z^2/2) / sqrt(2 pi) is 0 in any dtype beyond |z| = 40: clipped there, z^2
    # cannot overflow
    size = np.minimum(np.abs(z), 40)
    delta *= _normal_cdf(z) + z * np.exp(-0.5 * size * size) / np.sqrt(2 * np.pi)
    return delta


def _silu_derivative(z, delta):
    # 1 - s as sigmoid(-z): exact where s rounds to 1
    delta *= expit(z) * (1 + z * expit(-z))
    return delta


#: name -> in-place f(z)
ACTIVATIONS = {"identity": identity, "sigmoid": sigmoid, "tanh": tanh, "relu": relu,
               "leaky_relu": leaky_relu, "elu": elu, "softplus": softplus, "gelu": gelu,
               "silu": silu, "softmax": softmax, "exp": exp}

#: name -> in-place delta *= f'(z), given a = f(z), or z itself for the names in FROM_Z;
#: softmax and exp have none (their losses supply it)
DERIVATIVES = {"identity": _identity_derivative, "sigmoid": _sigmoid_derivative,
               "tanh": _tanh_derivative, "relu": _relu_derivative,
               "leaky_relu": _leaky_relu_derivative, "elu": _elu_derivative,
               "softplus": _softplus_derivative, "gelu": _gelu_derivative,
               "silu": _silu_derivative}

#: the activations whose derivative takes z rather than a (not monotonic: a does not tell z)
FROM_Z = frozenset({"gelu", "silu"})


def multiply_derivative(name, z, a, delta):
    """delta *= f'(z) in place for activation `name`, from z or a as its derivative takes."""
    return DERIVATIVES[name](z if name in FROM_Z else a, delta)


#: activations allowed in hidden layers (softmax and exp only serve an output layer's loss)
HIDDEN_ACTIVATIONS = tuple(DERIVATIVES)

#: name -> code of the compiled kernels (src_pyx/_activations.pxd)
ACTIVATION_CODES = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3, "softmax": 4, "exp": 5,
                    "leaky_relu": 6, "elu": 7, "softplus": 8, "gelu": 9, "silu": 10}
