"""Network construction, parameter layout, initialisation, copies and pickling."""
import copy
import pickle

import numpy as np
import pytest

import fastnn as fnn


def test_defaults_follow_the_seeds():
    net = fnn.Network([3, 4, 1])
    assert (net.hidden_activations, net.output, net.loss) == (["sigmoid"], "sigmoid", "mse")
    assert net.dtype == np.float64 and net.backend == "cython" and net.bias


@pytest.mark.parametrize("layers, bias, n_params", [
    ([3, 1], True, 4), ([3, 1], False, 3), ([3, 4, 1], True, 21), ([3, 4, 1], False, 16),
    ([2, 5, 4, 3], True, 15 + 24 + 15),
])
def test_parameter_layout(backend, layers, bias, n_params):
    net = fnn.Network(layers, bias=bias, backend=backend)
    assert net.n_params == n_params == net.params.size
    assert [W.shape for W in net.weights] == list(zip(layers[:-1], layers[1:]))
    assert [b.shape for b in net.biases] == ([(n,) for n in layers[1:]] if bias else [])
    for view in net.weights + net.biases:
        assert view.base is net.params and view.flags.c_contiguous


def test_views_write_through(backend):
    net = fnn.Network([2, 3, 1], output="identity", backend=backend, seed=0)
    net.weights[1][...] = 0.0
    net.biases[1][...] = 2.5
    np.testing.assert_array_equal(net.forward([[1.0, -1.0], [3.0, 4.0]]), [[2.5], [2.5]])
    net.params[...] = 0.0
    assert not net.weights[0].any()


def test_params_setter_copies_into_the_same_vector():
    net = fnn.Network([2, 2, 1], seed=0)
    flat = net.params
    net.params = np.arange(net.n_params)
    assert net.params is flat and net.weights[0][0, 1] == 1.0
    with pytest.raises(ValueError, match="shape"):
        net.params = np.zeros(3)
    with pytest.raises(ValueError, match="finite"):
        net.params = np.full(net.n_params, np.nan)


@pytest.mark.parametrize("make_copy", [
    lambda n: pickle.loads(pickle.dumps(n)), copy.copy, copy.deepcopy, lambda n: n.copy()])
def test_copies_own_their_flat_vector(backend, make_copy):
    net = fnn.Network([3, 4, 2], activation="tanh", output="softmax", loss="cross_entropy",
                      backend=backend, seed=1)
    X = np.random.default_rng(0).standard_normal((5, 3))
    clone = make_copy(net)
    np.testing.assert_array_equal(clone.forward(X), net.forward(X))
    assert clone.params is not net.params
    for view in clone.weights + clone.biases:
        assert view.base is clone.params
    clone.weights[0][...] = 0
    assert net.weights[0].any(), "changing the copy changed the original"
    assert repr(clone) == repr(net)


def test_copy_to_other_dtype_and_backend():
    net = fnn.Network([3, 2], seed=0)
    other = net.copy(dtype="float32", backend="numpy")
    assert other.dtype == np.float32 and other.backend == "numpy"
    np.testing.assert_allclose(other.params, net.params, rtol=1e-7)


def test_seed_reproducible_and_distinct():
    a, b, c = (fnn.Network([5, 6, 2], seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)


@pytest.mark.parametrize("init, check", [
    ("glorot_uniform", lambda W, b, n_in, n_out: (np.abs(W).max() <= np.sqrt(6 / (n_in + n_out)))
     and abs(W.std() - np.sqrt(2 / (n_in + n_out))) < 0.05 * np.sqrt(2 / (n_in + n_out)) and not b.any()),
    ("he_normal", lambda W, b, n_in, n_out: abs(W.std() - np.sqrt(2 / n_in)) < 0.05 * np.sqrt(2 / n_in)
     and not b.any()),
    ("normal", lambda W, b, n_in, n_out: abs(W.std() - 0.01) < 5e-4 and abs(b.std() - 0.01) < 2e-3),
    ("uniform", lambda W, b, n_in, n_out: W.min() >= -1 and W.max() < 1 and abs(W.std() - 1 / np.sqrt(3)) < 0.02),
])
def test_initializer_distributions(init, check):
    net = fnn.Network([300, 200], init=init, seed=0)
    assert check(net.weights[0], net.biases[0], 300, 200)


@pytest.mark.parametrize("init", ["he_uniform", "lecun_normal", "orthogonal"])
@pytest.mark.parametrize("shape", [(300, 200), (120, 400)])
def test_newer_initializers_draw_what_their_references_draw(init, shape):
    """Kolmogorov-Smirnov against samples of the reference distribution: torch's
    kaiming_uniform_ (relu) and orthogonal_, scipy's normal truncated at 2 sd for Keras's
    lecun_normal; orthogonal's columns (or rows) orthonormal."""
    from scipy import stats

    n_in, n_out = shape
    W = fnn.Network([n_in, n_out], init=init, seed=0).weights[0]
    assert not fnn.Network([n_in, n_out], init=init, seed=0).biases[0].any()
    if init == "lecun_normal":
        sd = np.sqrt(1 / n_in) / 0.87962566103423978
        reference = stats.truncnorm(-2, 2, scale=sd).rvs(W.size, random_state=1)
        assert np.abs(W).max() <= 2 * sd and abs(W.var() * n_in - 1) < 0.02
    else:
        torch = pytest.importorskip("torch")
        torch.manual_seed(1)
        T = torch.empty(n_out, n_in, dtype=torch.float64)  # torch's weight is (out, in)
        if init == "he_uniform":
            torch.nn.init.kaiming_uniform_(T, nonlinearity="relu")
            assert np.abs(W).max() <= np.sqrt(6 / n_in)
        else:
            torch.nn.init.orthogonal_(T)
            small = min(shape)
            gram = W.T @ W if n_in >= n_out else W @ W.T
            np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)
        reference = T.numpy().ravel()
    assert stats.ks_2samp(W.ravel(), reference).pvalue > 1e-3


def test_summary_and_call(capsys):
    net = fnn.Network([784, 256, 128, 10], activation=["relu", "elu"], output="softmax",
                      loss="cross_entropy", dtype="float32", seed=0)
    text = net.summary()
    assert capsys.readouterr().out.strip() == text.strip()
    torch = pytest.importorskip("torch")
    counts = [sum(p.numel() for p in m.parameters()) for m in net.to_torch()
              if isinstance(m, torch.nn.Linear)]
    lines = text.splitlines()
    for l, count in enumerate(counts):
        row = next(line for line in lines if line.startswith(f"dense_{l + 1} "))
        assert f"{count:,}" in row
    total = sum(counts)
    assert f"total: {total:,} parameters" in text and f"{total * 4 / 1024:.1f} KiB" in text
    assert "elu" in text and "softmax" in text and "cross_entropy" in text
    X = np.random.default_rng(0).standard_normal((3, 784)).astype("float32")
    np.testing.assert_array_equal(net(X), net.predict(X))


def test_float32_end_to_end(backend):
    net = fnn.Network([3, 4, 2], dtype="float32", backend=backend, seed=0)
    X = np.ones((2, 3))
    bp = net.backward(X, np.zeros((2, 2)))
    assert net.params.dtype == net.forward(X).dtype == bp.grad.dtype == np.float32
    assert all(d.dtype == np.float32 for d in bp.deltas + bp.activations)


def test_hidden_activation_per_layer(backend):
    net = fnn.Network([2, 3, 3, 1], activation=["relu", "tanh"], output="identity",
                      backend=backend, seed=0)
    assert net.hidden_activations == ["relu", "tanh"]
    X = np.array([[0.3, -0.7]])
    h1 = np.maximum(X @ net.weights[0] + net.biases[0], 0)
    h2 = np.tanh(h1 @ net.weights[1] + net.biases[1])
    np.testing.assert_allclose(net.forward(X), h2 @ net.weights[2] + net.biases[2], rtol=1e-12)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(layers=[3]), ValueError, "at least an input and an output"),
    (dict(layers=[3, 0, 1]), ValueError, "at least one unit"),
    (dict(layers=[3, 2.5, 1]), TypeError, "integers"),
    (dict(layers=5), TypeError, "sequence of widths"),
    (dict(layers=[3, 4, 1], activation="swish"), ValueError, "unknown activation 'swish'"),
    (dict(layers=[3, 4, 1], activation="softmax"), ValueError, "output activation only"),
    (dict(layers=[3, 4, 4, 1], activation=["relu"]), ValueError, "1 names for 2 hidden layers"),
    (dict(layers=[3, 4, 1], output="softmax"), ValueError, "goes with loss='cross_entropy'"),
    (dict(layers=[3, 4, 1], loss="cross_entropy"), ValueError, "needs output softmax"),
    (dict(layers=[3, 4, 1], output="tanh", loss="binary_cross_entropy"), ValueError, "needs output sigmoid"),
    (dict(layers=[3, 4, 1], loss="hinge"), ValueError, "unknown loss"),
    (dict(layers=[3, 4, 1], init="zeros"), ValueError, "unknown init"),
    (dict(layers=[3, 4, 1], dtype="float16"), ValueError, "float32 or float64"),
    (dict(layers=[3, 4, 1], dtype="int64"), ValueError, "float32 or float64"),
    (dict(layers=[3, 4, 1], backend="gpu"), ValueError, "unknown backend"),
    (dict(layers=[3, 4, 1], bias="yes"), TypeError, "bias must be True or False"),
    (dict(layers=[3, 4, 1], seed=-1), ValueError, "seed"),
    (dict(layers=[3, 4, 1], seed="abc"), TypeError, "seed"),
])
def test_bad_constructor_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        fnn.Network(**kwargs)


def test_repr_names_the_configuration():
    net = fnn.Network([3, 4, 1], activation="relu", output="identity", backend="numpy")
    assert repr(net) == ("Network([3, 4, 1], activation='relu', output='identity', loss='mse', "
                         "bias=True, dtype='float64', backend='numpy')")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sparse_rows_match_dense_rows(backend, dtype):
    """A scipy.sparse X gives the dense X's outputs, loss and gradients (the first layer's
    product and weight gradient run over the stored entries only)."""
    import scipy.sparse as sp

    from fastnn._sparse import CSRRows

    X = sp.random(40, 30, density=0.1, format="csr", random_state=3)
    X = X.tolil()
    X[5] = 0  # an empty row
    X = X.tocsr()
    Y = np.eye(4)[np.arange(40) % 4]
    net = fnn.Network([30, 9, 4], activation="tanh", output="softmax", loss="cross_entropy",
                      dtype=dtype, backend=backend, seed=2)
    rtol = 1e-12 if dtype == "float64" else 1e-5
    dense = X.toarray()
    np.testing.assert_allclose(net.forward(X, batch_size=7), net.forward(dense), rtol=rtol)
    np.testing.assert_allclose(net.forward(X.tocsc()), net.forward(dense), rtol=rtol)
    rows = CSRRows(X, net.dtype, 30)
    grad_sparse, grad_dense = np.empty_like(net.params), np.empty_like(net.params)
    weights = np.linspace(0.5, 1.5, 40).astype(dtype)
    J_sparse = net._backend.backward(rows, Y.astype(dtype), 0.01, grad_sparse, weights)
    J_dense = net._backend.backward(dense.astype(dtype), Y.astype(dtype), 0.01, grad_dense, weights)
    np.testing.assert_allclose(J_sparse, J_dense, rtol=rtol)
    np.testing.assert_allclose(grad_sparse, grad_dense, rtol=rtol * 10, atol=rtol)
    np.testing.assert_allclose(net._backend.cost(rows, Y.astype(dtype), 0.01, weights), J_dense,
                               rtol=rtol)
    with pytest.raises(ValueError, match="29 features"):
        net.forward(X[:, :29])
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        net.forward(bad)


def test_compiled_csr_kernels_refuse_broken_rows():
    net = fnn.Network([3, 2], seed=0)
    kernels, plan = net._backend.kernels, net._backend.plan
    acts = np.empty(10)
    good = (np.array([0, 1, 2]), np.array([0, 2], np.int32), np.array([1.0, 2.0]))
    kernels.forward_csr(plan, net.params, *good, acts)
    for ptr, idx, message in [
            (np.array([0, 2, 1]), good[1], "decrease"),
            (np.array([0, 1, 3]), good[1], "outside"),
            (good[0], np.array([0, 3], np.int32), "column index 3"),
            (np.array([0]), good[1], "no rows")]:
        with pytest.raises(ValueError, match=message):
            kernels.forward_csr(plan, net.params, ptr, idx, good[2], acts)
