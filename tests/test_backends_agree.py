"""The compiled backend against the NumPy reference, and both against plain formulas."""
import numpy as np
import pytest
from scipy.special import expit, log_softmax

import fastnn as fnn
from fastnn.activations import HIDDEN_ACTIVATIONS
from fastnn.losses import LOSS_OUTPUTS

from conftest import assert_close_to_scale, random_problem, rtol_for

PAIRS = [(output, loss) for loss, outputs in LOSS_OUTPUTS.items() for output in outputs]


def pair_of_networks(layers, dtype, **kwargs):
    reference = fnn.Network(layers, dtype=dtype, backend="numpy", **kwargs)
    return reference, reference.copy(backend="cython")


@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output, loss", PAIRS)
@pytest.mark.parametrize("n_samples", [1, 17])
def test_forward_backward_agree(dtype, hidden, output, loss, n_samples):
    layers = [6, 9, 5, 4]
    numpy_net, cython_net = pair_of_networks(layers, dtype, activation=hidden, output=output,
                                             loss=loss, seed=5)
    X, Y = random_problem(np.random.default_rng(6), layers, loss, n_samples)
    rtol = rtol_for(dtype)
    # an identity output is a sum that may cancel to near 0: agreement to the outputs' scale
    assert_close_to_scale(cython_net.forward(X), numpy_net.forward(X), rtol)
    a, b = numpy_net.backward(X, Y, 0.01), cython_net.backward(X, Y, 0.01)
    np.testing.assert_allclose(b.loss, a.loss, rtol=rtol)
    scale = np.abs(a.grad).max()
    np.testing.assert_allclose(b.grad, a.grad, rtol=rtol, atol=rtol * scale)
    for da, db in zip(a.deltas, b.deltas, strict=True):
        np.testing.assert_allclose(db, da, rtol=rtol, atol=rtol * np.abs(da).max())
    for aa, ab in zip(a.activations, b.activations, strict=True):
        assert_close_to_scale(ab, aa, rtol)
        assert ab.dtype == np.dtype(dtype)
    assert b.grad.dtype == np.dtype(dtype)


def test_workspace_reuse_across_batch_sizes():
    """Growing and shrinking batches through one compiled network give fresh results."""
    numpy_net, cython_net = pair_of_networks([4, 8, 3], "float64", output="softmax",
                                             loss="cross_entropy", seed=0)
    rng = np.random.default_rng(0)
    for m in [3, 50, 1, 50, 7]:
        X, Y = random_problem(rng, [4, 8, 3], "cross_entropy", m)
        np.testing.assert_allclose(cython_net.loss_and_grad(X, Y)[1], numpy_net.loss_and_grad(X, Y)[1],
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(cython_net.forward(X), numpy_net.forward(X), rtol=1e-12)


@pytest.mark.parametrize("output, loss, formula", [
    ("softmax", "cross_entropy",
     lambda z, y: -(y * log_softmax(z, axis=1)).sum(axis=1).mean()),
    ("sigmoid", "binary_cross_entropy",
     lambda z, y: -(y * np.log(expit(z)) + (1 - y) * np.log(expit(-z))).sum(axis=1).mean()),
    ("sigmoid", "mse", lambda z, y: 0.5 * ((expit(z) - y) ** 2).sum(axis=1).mean()),
    ("tanh", "mse", lambda z, y: 0.5 * ((np.tanh(z) - y) ** 2).sum(axis=1).mean()),
    ("identity", "mae", lambda z, y: np.abs(z - y).sum(axis=1).mean()),
    ("tanh", "huber", lambda z, y: np.where(np.abs(np.tanh(z) - y) <= 1, 0.5 * (np.tanh(z) - y) ** 2,
                                            np.abs(np.tanh(z) - y) - 0.5).sum(axis=1).mean()),
])
def test_cost_matches_scipy_formula(backend, output, loss, formula):
    net = fnn.Network([3, 4], output=output, loss=loss, backend=backend, seed=7)
    X, Y = random_problem(np.random.default_rng(7), [3, 4], loss, 9)
    z = X @ net.weights[0] + net.biases[0]
    np.testing.assert_allclose(net.cost(X, Y), formula(z, Y), rtol=1e-12)


@pytest.mark.parametrize("output, loss", PAIRS)
def test_extreme_pre_activations_stay_finite(backend, dtype, output, loss):
    """|z| up to 1e4 into sigmoid/softmax, probabilities of exactly 0 or 1: finite J and grad."""
    if output == "exp":
        pytest.skip("e^z itself overflows past z = 88 (float32) or 709 (float64): see below")
    net = fnn.Network([1, 3], output=output, loss=loss, dtype=dtype, backend=backend)
    net.weights[0][...] = [[1e4, -1e4, 0.0]]
    X = np.array([[1.0], [-1.0], [0.0]])
    Y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    bp = net.backward(X, Y)
    assert np.isfinite(bp.loss) and np.isfinite(bp.grad).all()
    assert np.isfinite(net.forward(X)).all()
    if loss not in ("mse", "mae", "huber"):  # log-loss of a confident wrong answer: ~|z| = 1e4
        assert bp.loss > 1e3


def test_the_exp_output_overflows_only_where_e_to_the_z_does(backend, dtype):
    """Poisson's exp output: a very negative z is a rate of 0 (finite loss), a z beyond the
    dtype's exp range an infinite rate and loss, which training reports as divergence."""
    net = fnn.Network([1, 1], output="exp", loss="poisson", dtype=dtype, backend=backend)
    net.weights[0][...] = 1.0
    net.biases[0][...] = 0.0
    low = net.backward(np.array([[-1e4]]), np.array([[2.0]]))
    assert np.isfinite(low.loss) and np.isfinite(low.grad).all()
    np.testing.assert_allclose(low.loss, 2e4 + 2 * np.log(2) - 2, rtol=1e-6)
    with np.errstate(over="ignore"):
        assert np.isinf(net.cost(np.array([[1e4]]), np.array([[2.0]])))
    with pytest.raises(fnn.TrainingDiverged):
        net.fit(np.array([[1e4]]), np.array([[2.0]]), optimizer="sgd", epochs=1, batch_size=1)
