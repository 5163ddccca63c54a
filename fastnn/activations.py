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
softmax     exp(z_k) / sum_j exp(z_j)        (through its loss only)
exp         e^z (output of the poisson loss)  (through its loss only)
==========  ===============================  ======================

Adding an activation: one entry in each registry below, plus its branch in
src_pyx/_activations.pxd; the tests iterate the registries.
"""
import numpy as np
from scipy.special import expit

__all__ = ["identity", "sigmoid", "tanh", "relu", "softmax", "exp", "ACTIVATIONS", "DERIVATIVES",
           "HIDDEN_ACTIVATIONS"]


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


#: name -> in-place f(z)
ACTIVATIONS = {"identity": identity, "sigmoid": sigmoid, "tanh": tanh, "relu": relu,
               "softmax": softmax, "exp": exp}

#: name -> in-place delta *= f'(z), given a = f(z); softmax and exp have none (their losses
#: supply it)
DERIVATIVES = {"identity": _identity_derivative, "sigmoid": _sigmoid_derivative,
               "tanh": _tanh_derivative, "relu": _relu_derivative}

#: activations allowed in hidden layers (softmax and exp only serve an output layer's loss)
HIDDEN_ACTIVATIONS = tuple(DERIVATIVES)

#: name -> code of the compiled kernels (src_pyx/_activations.pxd)
ACTIVATION_CODES = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3, "softmax": 4, "exp": 5}
