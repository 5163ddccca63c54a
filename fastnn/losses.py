"""Loss functions: the NumPy reference and the codes of the compiled kernels.

Per-sample losses, computed from the output layer's pre-activation z where that is more
stable (log-softmax, log-sigmoid), so a loss stays finite even where a predicted
probability underflows to 0. The cost over m samples is J = (1/m) sum_i L(y_i, a_i).

=====================  ===========  ===================================  ===================
name                   output       L(y, a)                              dL/dz
=====================  ===========  ===================================  ===================
mse                    element-wise 1/2 sum_k (a_k - y_k)^2              (a - y) f'(z)
cross_entropy          softmax      -sum_k y_k log a_k                   a sum_k y_k - y
binary_cross_entropy   sigmoid      -sum_k y_k log a_k + (1-y_k) log(1-a_k)   a - y
poisson                exp          sum_k a_k - y_k log a_k + y_k log y_k - y_k   a - y
mae                    element-wise sum_k |r_k|,  r = a - y              sign(r) f'(z)
huber                  element-wise sum_k h(r_k), r = a - y              clip(r, -d, d) f'(z)
=====================  ===========  ===================================  ===================

h is Huber's loss with threshold d (`huber_delta`, default 1): r^2 / 2 where |r| <= d, else
d (|r| - d/2), quadratic near 0 and linear beyond d, with a continuous gradient (torch's
huber_loss). mae's subgradient at r = 0 is 0, as torch's l1_loss takes it. Both are sums over
the outputs, like mse; over m samples J averages them, so for one output J is torch's mean.

poisson is half the Poisson deviance (scikit-learn's MLPRegressor(loss="poisson")), with the
log link a = e^z: targets are counts or rates, never negative.

cross_entropy's gradient a * sum_k y_k - y is a - y for one-hot (or any probability) rows.
"""
import numpy as np

from .activations import ACTIVATIONS, multiply_derivative

__all__ = ["mse", "cross_entropy", "binary_cross_entropy", "poisson", "mae", "huber", "LOSSES",
           "LOSS_OUTPUTS"]


def __dir__():  # tab completion shows the public names only
    return __all__


def _log_softmax(z):
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def mse(z, y, output, huber_delta=None):
    """Returns (L_i per sample, a, dL/dz); z is not modified. Every loss takes huber_delta,
    which only huber reads."""
    a = ACTIVATIONS[output](z.copy())
    error = a - y
    return 0.5 * np.einsum("ij,ij->i", error, error), a, multiply_derivative(output, z, a, error)


def mae(z, y, output, huber_delta=None):
    a = ACTIVATIONS[output](z.copy())
    error = a - y
    return np.abs(error).sum(axis=1), a, multiply_derivative(output, z, a, np.sign(error))


def huber(z, y, output, huber_delta=1.0):
    a = ACTIVATIONS[output](z.copy())
    error = a - y
    size = np.abs(error)
    losses = np.where(size <= huber_delta, 0.5 * error * error,
                      huber_delta * (size - 0.5 * huber_delta)).sum(axis=1)
    return losses, a, multiply_derivative(output, z, a, np.clip(error, -huber_delta, huber_delta))


def cross_entropy(z, y, output, huber_delta=None):
    log_a = _log_softmax(z)
    a = np.exp(log_a)
    return -np.einsum("ij,ij->i", y, log_a), a, a * y.sum(axis=1, keepdims=True) - y


def binary_cross_entropy(z, y, output, huber_delta=None):
    # -[y log s(z) + (1-y) log(1-s(z))] = softplus(z) - y z,  softplus(z) = log(1 + e^z)
    softplus = np.logaddexp(0, z)
    a = ACTIVATIONS["sigmoid"](z.copy())
    return (softplus - y * z).sum(axis=1), a, a - y


def poisson(z, y, output, huber_delta=None):
    # y log(y / a) - y + a with log a = z, so no log of a (which may underflow) is taken
    from scipy.special import xlogy

    a = np.exp(z)
    return (a - y * z + xlogy(y, y) - y).sum(axis=1), a, a - y


#: name -> function(z, y, output, huber_delta) returning (per-sample losses, activation a,
#: dL/dz)
LOSSES = {"mse": mse, "cross_entropy": cross_entropy,
          "binary_cross_entropy": binary_cross_entropy, "poisson": poisson, "mae": mae,
          "huber": huber}

#: name -> the output activations the loss may follow
_ELEMENTWISE_OUTPUTS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus",
                        "gelu", "silu")
LOSS_OUTPUTS = {
    "mse": _ELEMENTWISE_OUTPUTS,
    "cross_entropy": ("softmax",),
    "binary_cross_entropy": ("sigmoid",),
    "poisson": ("exp",),
    "mae": _ELEMENTWISE_OUTPUTS,
    "huber": _ELEMENTWISE_OUTPUTS,
}

#: name -> (lowest, highest) target value the loss accepts (None: no bound)
TARGET_RANGES = {"poisson": (0.0, None)}

#: name -> code of the compiled kernels (src_pyx/_losses.pxd)
LOSS_CODES = {"mse": 0, "cross_entropy": 1, "binary_cross_entropy": 2, "poisson": 3, "mae": 4,
              "huber": 5}
