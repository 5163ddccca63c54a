"""Activations whose derivative needs z (gelu, silu): the compiled passes keep D = f'(z) in a
block of the activations workspace after the layer's own. The layout (output block still
last), prediction's paths (general, few rows) and training's (compiled epochs, threads,
sparse first layers, extreme pre-activations) against the NumPy reference, which keeps z."""
import numpy as np
import pytest
import scipy.sparse as sp

import fastnn as fnn
from fastnn._sparse import CSRRows

from conftest import random_problem, randomize, rtol_for

# wide enough that the threaded phases split (see tests/test_threads.py)
WIDE = [96, 160, 144, 20]


def pair(layers, dtype, **kwargs):
    reference = randomize(fnn.Network(layers, dtype=dtype, backend="numpy", **kwargs),
                          np.random.default_rng(0), scale=0.3)
    return reference, reference.copy(backend="cython")


def test_layout_puts_derivative_blocks_after_their_layers_and_the_output_last():
    net = fnn.Network([5, 7, 6, 4, 3], activation=["gelu", "relu", "silu"], output="gelu",
                      loss="mse", seed=0)
    plan = net._backend.plan
    assert plan.unit_offsets == (0, 14, 20, 28)
    assert plan.derivative_offsets == (7, -1, 24, -1)  # the output's f' comes from the loss
    assert plan.n_units == 31 == plan.unit_offsets[-1] + 3
    plain = fnn.Network([5, 7, 6, 4, 3], activation="relu", seed=0)._backend.plan
    assert plain.derivative_offsets == (-1, -1, -1, -1) and plain.n_units == 20
    # the activations backward reports are the layers' blocks, not the D blocks beside them
    X, Y = random_problem(np.random.default_rng(1), [5, 7, 6, 4, 3], "mse", 11)
    reference = net.copy(backend="numpy")
    for ours, theirs in zip(net.backward(X, Y).activations, reference.backward(X, Y).activations,
                            strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("hidden", [["gelu", "silu"], ["silu", "gelu"], ["relu", "gelu"]])
def test_prediction_paths_agree(dtype, hidden):
    """The few-row Predictor (its own workspace), the general forward, forward in batches
    and the NumPy reference: the output block is read where it is."""
    layers = [6, 9, 8, 4]
    reference, net = pair(layers, dtype, activation=hidden, output="silu", loss="mse")
    X = np.random.default_rng(2).standard_normal((150, 6)).astype(dtype)
    few = X[:5]
    assert net._predict_few(few) is not None  # the Predictor's path
    rtol = rtol_for(dtype)
    expected = reference.forward(X)
    np.testing.assert_allclose(net.predict(few), expected[:5], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(net.forward(X), expected, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(net.forward(X, batch_size=7), expected, rtol=rtol, atol=rtol)
    net.backward(X, np.zeros((150, 4), dtype))  # a training pass fills the D blocks first
    np.testing.assert_allclose(net.predict(few), expected[:5], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(net.forward(X), expected, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_predict_after_fit_equals_forward(dtype, optimizer):
    """Compiled training (run_epochs, or L-BFGS through backward) of gelu and silu layers
    learns, and the trained network predicts what the reference computes from its weights."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 4)).astype(dtype)
    Y = np.stack([np.sin(X[:, 0]) * X[:, 1], np.abs(X[:, 2]) - X[:, 3]], axis=1)
    net = fnn.Network([4, 16, 12, 2], activation=["gelu", "silu"], output="identity",
                      loss="mse", dtype=dtype, seed=4)
    before = net.cost(X, Y)
    epochs = 60 if optimizer == "adam" else 80
    net.fit(X, Y, optimizer=optimizer, epochs=epochs, batch_size=32, seed=0)
    assert net.cost(X, Y) < 0.3 * before
    rtol = rtol_for(dtype)
    np.testing.assert_allclose(net.predict(X), net.copy(backend="numpy").forward(X),
                               rtol=rtol, atol=rtol)


@pytest.mark.parametrize("rows", [40, 400])  # fewer rows than units: split by columns
@pytest.mark.parametrize("threads", [1, 2])
def test_threaded_passes_agree_with_numpy(dtype, rows, threads):
    reference, net = pair(WIDE, dtype, activation=["gelu", "silu"], output="gelu", loss="huber")
    X, Y = random_problem(np.random.default_rng(5), WIDE, "huber", rows)
    X, Y = X.astype(dtype), Y.astype(dtype)
    rtol = rtol_for(dtype)
    expected = reference.backward(X, Y, 0.01)
    grad = np.empty_like(net.params)
    J = net._backend.backward(X, Y, 0.01, grad, threads=threads)
    np.testing.assert_allclose(J, expected.loss, rtol=rtol)
    np.testing.assert_allclose(grad, expected.grad, rtol=rtol, atol=rtol * np.abs(expected.grad).max())
    activations, deltas = net._backend.layer_values(rows)
    for ours, theirs in zip(deltas, expected.deltas, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * np.abs(theirs).max())
    output = expected.activations[-1]
    np.testing.assert_allclose(net.forward(X, threads=threads), output, rtol=rtol,
                               atol=rtol * np.abs(output).max())


@pytest.mark.parametrize("threads", [1, 2])
def test_sparse_rows_into_a_gelu_layer(backend, dtype, threads):
    """CSR rows into a gelu first layer: the sparse product's pass keeps D too."""
    X = sp.random(300, 200, density=0.05, format="csr", random_state=6, dtype=dtype)
    Y = np.random.default_rng(7).standard_normal((300, 3)).astype(dtype)
    net = randomize(fnn.Network([200, 64, 32, 3], activation=["gelu", "silu"], output="silu",
                                loss="mse", dtype=dtype, backend=backend),
                    np.random.default_rng(8), scale=0.4)
    dense = X.toarray()
    rtol = rtol_for(dtype)
    rows = CSRRows(X, net.dtype, 200)
    grad_sparse, grad_dense = np.empty_like(net.params), np.empty_like(net.params)
    J_sparse = net._backend.backward(rows, Y, 0.01, grad_sparse, threads=threads)
    J_dense = net._backend.backward(dense, Y, 0.01, grad_dense, threads=threads)
    np.testing.assert_allclose(J_sparse, J_dense, rtol=rtol)
    np.testing.assert_allclose(grad_sparse, grad_dense, rtol=rtol * 10,
                               atol=rtol * np.abs(grad_dense).max())
    np.testing.assert_allclose(net.forward(X, threads=threads), net.forward(dense), rtol=rtol,
                               atol=rtol)
    if backend == "cython":  # and the compiled training loop over CSR batches (a drop-in's)
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        from fastnn import MLPRegressor

        models = []
        for rows_in in (X, dense):
            model = MLPRegressor(hidden_layer_sizes=(64, 32), activation="gelu", max_iter=3,
                                 batch_size=50, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                models.append(model.fit(rows_in, Y))
        for a, b in zip(models[0].coefs_, models[1].coefs_, strict=True):
            np.testing.assert_allclose(a, b, rtol=100 * rtol, atol=100 * rtol)


@pytest.mark.parametrize("name", ["gelu", "silu"])
def test_extreme_pre_activations_in_hidden_layers(backend, dtype, name):
    """|z| up to 1e4 into a hidden gelu/silu layer: f(z) = z above, 0 below, derivatives 1
    and 0, so the loss and every gradient stay finite and exact."""
    net = fnn.Network([1, 4, 1], activation=name, output="identity", loss="mse", dtype=dtype,
                      backend=backend)
    net.weights[0][...] = [[1e4, -1e4, 1e3, -1e3]]
    net.biases[0][...] = 0.0
    net.weights[1][...] = 1.0
    net.biases[1][...] = 0.0
    X = np.array([[1.0], [-1.0], [0.5]], dtype)
    Y = np.zeros((3, 1), dtype)
    bp = net.backward(X, Y)
    z = X * net.weights[0]
    expected_a = np.where(z > 0, z, 0.0)  # exactly, at |z| >= 500
    np.testing.assert_allclose(bp.activations[0], expected_a, rtol=rtol_for(dtype), atol=1e-30)
    assert np.isfinite(bp.loss) and np.isfinite(bp.grad).all()
    # delta[0] = delta[1] * f'(z): exactly the output's delta where z > 0, 0 below
    np.testing.assert_allclose(bp.deltas[0], np.where(z > 0, bp.deltas[1], 0.0),
                               rtol=rtol_for(dtype), atol=1e-30)
    np.testing.assert_allclose(net.forward(X)[:, 0], expected_a.sum(axis=1), rtol=rtol_for(dtype))
