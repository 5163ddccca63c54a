"""Finite-difference check of a network's backpropagated gradient."""
import numpy as np

from ._validation import as_nonnegative, as_pair

__all__ = ["gradcheck"]


def __dir__():  # tab completion shows the public names only
    return __all__


def gradcheck(net, X, Y, weight_decay=0.0, eps=1e-6, max_params=1000, seed=0):
    """Max relative error between net's gradient and central finite differences of J.

    The gradient is net's own (its dtype, its backend). The reference is
    n_i = (J(p + eps e_i) - J(p - eps e_i)) / (2 eps), computed on a float64 copy of net,
    so a float32 network is checked against an accurate oracle. Each parameter's error is
    |g_i - n_i| / max(|g_i| + |n_i|, 1e-4 * max_j |n_j|): components smaller than 1e-4 of
    the largest are judged on an absolute scale, where finite differences are mostly noise.

    Parameters
    ----------
    net : Network
    X, Y : array-like
        Inputs and targets.
    weight_decay : float
        The L2 term of J (biases excluded).
    eps : float
        Step of the central differences.
    max_params : int or None
        Networks with more parameters are checked on a random subset of this size (drawn
        with `seed`); None checks every parameter.

    Returns
    -------
    float
        The largest relative error over the checked parameters.

    Examples
    --------
    >>> import fastnn as fnn
    >>> net = fnn.Network([2, 3, 1], seed=0)
    >>> fnn.gradcheck(net, [[0.0, 1.0], [1.0, 0.0]], [[1.0], [0.0]]) < 1e-6
    True
    """
    _, grad = net.loss_and_grad(X, Y, weight_decay)
    reference = net.copy(dtype="float64")
    X, Y = as_pair(X, Y, np.float64, net.n_inputs, net.n_outputs)
    weight_decay = as_nonnegative(weight_decay, "weight_decay")
    if max_params is None or net.n_params <= max_params:
        indices = np.arange(net.n_params)
    else:
        indices = np.sort(np.random.default_rng(seed).choice(net.n_params, max_params, replace=False))
    params = reference.params
    numeric = np.empty(indices.size)
    for k, i in enumerate(indices):
        saved = params[i]
        params[i] = saved + eps
        plus = reference._backend.cost(X, Y, weight_decay)
        params[i] = saved - eps
        minus = reference._backend.cost(X, Y, weight_decay)
        params[i] = saved
        numeric[k] = (plus - minus) / (2 * eps)
    analytic = grad[indices].astype(np.float64)
    floor = max(1e-4 * np.abs(numeric).max(), np.finfo(np.float64).tiny)
    return float((np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), floor)).max())
