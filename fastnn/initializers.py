"""Initial weights. Each initializer draws W (n_in x n_out), then b (n_out,) if the layer has
biases, from `rng` (a numpy Generator, or a legacy RandomState to replay old scripts):

===============  =========================================  ==================
name             W                                          b
===============  =========================================  ==================
glorot_uniform   U(-r, r), r = sqrt(6 / (n_in + n_out))     0
he_normal        N(0, 2 / n_in)                             0
normal           N(0, 0.01^2) (UFLDL, seed 001)             N(0, 0.01^2)
uniform          2 U[0, 1) - 1 (iamtrask, seed 004)         2 U[0, 1) - 1
he_uniform       U(-r, r), r = sqrt(6 / n_in)               0
lecun_normal     N(0, 1 / n_in) truncated at 2 sd           0
orthogonal       orthonormal columns (or rows) from QR      0
===============  =========================================  ==================

he_uniform is torch's kaiming_uniform_ for relu; lecun_normal is Keras's and JAX's: a normal
truncated to two standard deviations, its scale raised by 1/0.8796 so the variance is 1/n_in
(for SELU-like activations); orthogonal is torch's orthogonal_ (the Q of a Gaussian matrix's
QR decomposition, signs fixed by R's diagonal), gain 1.

With ``Network([3, 4, 1], bias=False, init="uniform", seed=np.random.RandomState(1))`` the
draws are those of iamtrask's ``np.random.seed(1); 2*np.random.random((3, 4)) - 1; ...``.
"""
import numbers

import numpy as np

__all__ = ["glorot_uniform", "he_normal", "normal", "uniform", "he_uniform", "lecun_normal",
           "orthogonal", "INITIALIZERS"]


def __dir__():  # tab completion shows the public names only
    return __all__


def glorot_uniform(rng, n_in, n_out, bias):
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, (n_in, n_out)), (np.zeros(n_out) if bias else None)


def he_normal(rng, n_in, n_out, bias):
    return rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, n_out)), (np.zeros(n_out) if bias else None)


def normal(rng, n_in, n_out, bias):
    W = rng.normal(0.0, 0.01, (n_in, n_out))
    return W, (rng.normal(0.0, 0.01, n_out) if bias else None)


def uniform(rng, n_in, n_out, bias):
    W = 2 * rng.random((n_in, n_out)) - 1
    return W, (2 * rng.random(n_out) - 1 if bias else None)


def he_uniform(rng, n_in, n_out, bias):
    limit = np.sqrt(6.0 / n_in)
    return rng.uniform(-limit, limit, (n_in, n_out)), (np.zeros(n_out) if bias else None)


#: the standard deviation of a standard normal truncated to [-2, 2]
_TRUNCATED_SD = 0.87962566103423978


def lecun_normal(rng, n_in, n_out, bias):
    scale = np.sqrt(1.0 / n_in) / _TRUNCATED_SD
    W = rng.normal(0.0, 1.0, (n_in, n_out))
    outside = np.abs(W) > 2
    while outside.any():  # redraw beyond two standard deviations
        W[outside] = rng.normal(0.0, 1.0, int(outside.sum()))
        outside = np.abs(W) > 2
    return scale * W, (np.zeros(n_out) if bias else None)


def orthogonal(rng, n_in, n_out, bias):
    A = rng.normal(0.0, 1.0, (max(n_in, n_out), min(n_in, n_out)))
    Q, R = np.linalg.qr(A)
    Q *= np.where(np.diag(R) < 0, -1.0, 1.0)  # a uniform (Haar) draw, not QR's sign convention
    return (Q if n_in >= n_out else Q.T), (np.zeros(n_out) if bias else None)


#: name -> function(rng, n_in, n_out, bias) returning (W, b or None)
INITIALIZERS = {"glorot_uniform": glorot_uniform, "he_normal": he_normal, "normal": normal,
                "uniform": uniform, "he_uniform": he_uniform, "lecun_normal": lecun_normal,
                "orthogonal": orthogonal}


def as_rng(seed):
    """A random generator from None, an int, a Generator or a RandomState."""
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool)):
        if seed is not None and seed < 0:
            raise ValueError(f"seed must be >= 0; got {seed}")
        return np.random.default_rng(seed)
    if isinstance(seed, (np.random.Generator, np.random.RandomState)):
        return seed
    raise TypeError(f"seed must be None, an int, a numpy Generator or RandomState; got {seed!r}")
