"""Dropout: the masked training pass against finite differences and PyTorch autograd given
the same masks, the masks' statistics, both backends on the same masks, reproducibility,
prediction without dropout, files, and the errors."""
import numpy as np
import pytest

import fastnn as fnn
from fastnn.dropout import scales

LAYERS = [5, 9, 8, 3]


def problem(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, LAYERS[0]))
    Y = np.eye(LAYERS[-1])[rng.integers(0, LAYERS[-1], n)]
    return X, Y


def network(backend="cython", activation="tanh", dropout=(0.3, 0.5), dtype="float64"):
    return fnn.Network(LAYERS, activation=activation, output="softmax", loss="cross_entropy",
                       seed=1, backend=backend, dropout=list(dropout), dtype=dtype)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "gelu", "silu", "elu"])
def test_training_gradient_matches_central_differences(backend, activation):
    X, Y = problem()
    net = network(backend, activation)
    # random biases too: zero ones put relu on its kink for rows whose units are all dropped
    net.params = np.random.default_rng(2).normal(0.0, 0.5, net.n_params)
    bp = net.backward(X, Y, weight_decay=0.01, training=True, dropout_seed=11)
    params, eps = net.params.copy(), 1e-6
    numeric = np.empty_like(params)
    for i in range(params.size):
        costs = []
        for sign in (1, -1):
            net.params = params + sign * eps * (np.arange(params.size) == i)
            costs.append(net.cost(X, Y, 0.01, training=True, dropout_seed=11))
        numeric[i] = (costs[0] - costs[1]) / (2 * eps)
    np.testing.assert_allclose(bp.grad, numeric, rtol=1e-5, atol=1e-8)
    # the masks matter: without training the gradient is another
    net.params = params
    assert not np.allclose(bp.grad, net.backward(X, Y, 0.01).grad)


def test_training_pass_matches_torch_autograd_with_the_same_masks(backend):
    torch = pytest.importorskip("torch")
    X, Y = problem()
    net = network(backend, "relu")
    bp = net.backward(X, Y, training=True, dropout_seed=5)
    Ws = [torch.tensor(W, requires_grad=True) for W in net.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in net.biases]
    a = torch.tensor(X)
    for l in range(2):
        mask = torch.tensor(scales(5, 1, l, 3, (X.shape[0], LAYERS[l + 1]), net.dropout[l],
                                   np.dtype("float64")))
        a = torch.relu(a @ Ws[l] + bs[l]) * mask
    J = torch.nn.functional.cross_entropy(a @ Ws[2] + bs[2], torch.tensor(Y.argmax(axis=1)))
    J.backward()
    assert bp.loss == pytest.approx(J.item(), rel=1e-12)
    for ours, theirs in zip(bp.grad_weights + bp.grad_biases,
                            [W.grad for W in Ws] + [b.grad for b in bs], strict=True):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-14)


def test_masks_drop_each_unit_with_probability_p_and_scale_the_rest():
    """Over 200 x 1000 units: the dropped share within 5 standard errors of p, kept units
    scaled by exactly 1 / (1 - p), and masks that differ by step, layer and seed."""
    for p in (0.1, 0.5, 0.9):
        s = scales(123, 7, 1, 3, (200, 1000), p, np.dtype("float64"))
        dropped = np.mean(s == 0)
        assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / s.size)
        assert set(np.unique(s)) == {0.0, 1 / (1 - p)}
        # no structure along rows or columns: each row's and column's share is binomial too
        assert np.abs((s == 0).mean(axis=1) - p).max() < 6 * np.sqrt(p * (1 - p) / 1000)
        assert np.abs((s == 0).mean(axis=0) - p).max() < 6 * np.sqrt(p * (1 - p) / 200)
    base = scales(1, 1, 0, 3, (50, 50), 0.5, np.dtype("float64"))
    for other in (scales(1, 2, 0, 3, (50, 50), 0.5, np.dtype("float64")),
                  scales(1, 1, 1, 3, (50, 50), 0.5, np.dtype("float64")),
                  scales(2, 1, 0, 3, (50, 50), 0.5, np.dtype("float64"))):
        assert 0.4 < np.mean((base == 0) == (other == 0)) < 0.6  # independent masks


def test_inverted_dropout_keeps_the_expected_activation():
    """E[a * s] = a: the mean of the dropped hidden activations over many seeds is the
    activation without dropout."""
    X, Y = problem(n=4)
    net = network(dropout=(0.5, 0.5))
    plain = net.backward(X, Y).activations[0]
    mean = np.mean([net.backward(X, Y, training=True, dropout_seed=seed).activations[0]
                    for seed in range(4000)], axis=0)
    np.testing.assert_allclose(mean, plain, atol=5 * np.abs(plain).max() / np.sqrt(4000))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_compiled_and_numpy_training_use_the_same_masks(dtype):
    X, Y = problem(n=101)
    results = []
    for backend in ("cython", "numpy"):
        net = network(backend, "gelu", dtype=dtype)
        bp = net.backward(X, Y, training=True, dropout_seed=3)
        net.fit(X, Y, optimizer="adam", epochs=4, batch_size=16, seed=2)
        results.append((bp, net.params.copy()))
    (bp_c, p_c), (bp_n, p_n) = results
    for ours, theirs in zip(bp_c.activations[:-1], bp_n.activations[:-1]):
        np.testing.assert_array_equal(ours == 0, theirs == 0)
    tol = 1e-12 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(p_c, p_n, rtol=tol, atol=tol)


def test_fit_is_bit_reproducible_for_a_seed_and_a_thread_count_and_predict_never_drops():
    X, Y = problem(n=300)
    runs = []
    for threads in (1, 2, 1):
        net = network(dropout=(0.5, 0.2))
        net.fit(X, Y, optimizer="adam", epochs=3, batch_size=64, seed=9, threads=threads)
        runs.append(net.params.copy())
    np.testing.assert_array_equal(runs[0], runs[2])
    np.testing.assert_array_equal(runs[0], runs[1])
    other = network(dropout=(0.5, 0.2))
    other.fit(X, Y, optimizer="adam", epochs=3, batch_size=64, seed=10)
    assert not np.array_equal(other.params, runs[0])
    # prediction: the same network without dropout gives the same outputs, every time
    plain = network(dropout=(0.0, 0.0))
    plain.params = net.params
    np.testing.assert_array_equal(net.predict(X), plain.predict(X))
    np.testing.assert_array_equal(net.predict(X[:1]), plain.predict(X[:1]))
    assert net.cost(X, Y) == plain.cost(X, Y)


def test_dropout_changes_training_and_validation_is_scored_without_it():
    X, Y = problem(n=120)
    dropped, plain = network(dropout=(0.5, 0.5)), network(dropout=(0.0, 0.0))
    logs = []
    history = dropped.fit(X, Y, optimizer="adam", epochs=2, batch_size=30, seed=0,
                          validation_data=(X, Y), callbacks=lambda e, l, n: logs.append(n.cost(X, Y)))
    plain.fit(X, Y, optimizer="adam", epochs=2, batch_size=30, seed=0)
    assert not np.allclose(dropped.params, plain.params)
    assert history.val_loss == pytest.approx(logs, rel=1e-12)


def test_dropout_is_kept_by_files_and_copies(tmp_path):
    net = network(dropout=(0.25, 0.0))
    net.save(tmp_path / "net.npz")
    assert fnn.load(tmp_path / "net.npz").dropout == [0.25, 0.0]
    assert net.copy(dtype="float32").dropout == [0.25, 0.0]
    assert "dropout=[0.25, 0.0]" in repr(net)
    assert "relu, dropout 0.25" in network(activation="relu", dropout=(0.25, 0.0)).summary(False)
    assert network(dropout=(0.0, 0.0)).dropout == [0.0, 0.0]


@pytest.mark.parametrize("dropout, error, message", [
    (1.0, ValueError, r"dropout rates must lie in \[0, 1\)"),
    (-0.1, ValueError, r"dropout rates must lie in \[0, 1\)"),
    ([0.5], ValueError, "dropout has 1 rates for 2 hidden layers"),
    ("0.5", TypeError, "dropout must be a float or one float per hidden layer"),
    (True, TypeError, "dropout must be a float"),
])
def test_bad_dropout_is_refused(dropout, error, message):
    with pytest.raises(error, match=message):
        fnn.Network(LAYERS, dropout=dropout)


def test_dropout_needs_a_first_order_optimizer_and_a_valid_seed():
    X, Y = problem()
    net = network()
    before = net.params.copy()
    with pytest.raises(ValueError, match="a network with dropout: only the first-order"):
        net.fit(X, Y, optimizer="lbfgs", epochs=3)
    np.testing.assert_array_equal(net.params, before)
    with pytest.raises(ValueError, match=r"dropout_seed must be an integer in \[0, 2\*\*64\)"):
        net.backward(X, Y, training=True, dropout_seed=-1)
    with pytest.raises(TypeError, match="training must be True or False"):
        net.cost(X, Y, training="yes")
