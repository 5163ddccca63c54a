"""Shared fixtures: every test that takes `backend` runs against both backends."""
import numpy as np
import pytest

BACKENDS = ["numpy", "cython"]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture(params=["float64", "float32"])
def dtype(request):
    return request.param


def rtol_for(dtype):
    """Agreement expected between two computations of the same maths in `dtype`."""
    return 1e-12 if np.dtype(dtype) == np.float64 else 2e-5


def assert_close_to_scale(actual, expected, tol):
    """Agreement to `tol` relative to each entry, or to the array's largest magnitude for
    entries that are sums cancelling to near zero (another library adds in another order,
    which float32 shows there)."""
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * np.abs(expected).max())


def random_problem(rng, layers, loss, n_samples):
    """Inputs and targets that suit `loss` (one-hot rows for cross_entropy, {0, 1} for binary)."""
    X = rng.standard_normal((n_samples, layers[0]))
    if loss == "cross_entropy":
        Y = np.eye(layers[-1])[rng.integers(0, layers[-1], n_samples)]
    elif loss == "binary_cross_entropy":
        Y = (rng.random((n_samples, layers[-1])) < 0.5).astype(float)
    elif loss == "poisson":
        Y = rng.poisson(1.5, (n_samples, layers[-1])).astype(float)
    else:
        Y = rng.standard_normal((n_samples, layers[-1])) * 0.5
    return X, Y


def randomize(net, rng, scale=0.5):
    """Random parameters, biases included: zero biases put relu exactly on its kink for rows
    whose inputs are all zero, where finite differences are meaningless."""
    net.params = rng.normal(0.0, scale, net.n_params)
    return net
