"""Network.predict / forward: the few-row path checked in C, the general path, `out=`.

The oracle is the NumPy reference backend (and, for the few-row path, the general path fed
a list, which converts and checks everything in Python)."""
import threading

import numpy as np
import pytest

import fastnn as fnn


def _pair(dtype, layers=(5, 7, 3)):
    kwargs = dict(output="softmax", loss="cross_entropy", dtype=dtype, seed=1)
    return (fnn.Network(list(layers), backend="cython", **kwargs),
            fnn.Network(list(layers), backend="numpy", **kwargs))


def _rows(dtype, m=70, n=5):
    return np.random.default_rng(0).standard_normal((m, n)).astype(dtype)


def test_predict_is_forward():
    assert fnn.Network.predict is fnn.Network.forward


@pytest.mark.parametrize("rows", [1, 8, 64, 65, 300])
def test_every_path_agrees_with_the_reference(dtype, rows):
    net, reference = _pair(dtype)
    X = _rows(dtype, m=rows)
    assert (net._predict_few(X) is not None) == (rows <= 64)  # the path taken below
    fast = net.predict(X)
    np.testing.assert_array_equal(fast, net.predict(X.tolist()))  # converted and checked
    rtol = 1e-12 if dtype == "float64" else 2e-5
    # another batch size may take another product routine (loops or BLAS): rounding differs
    np.testing.assert_allclose(fast, net.predict(X, batch_size=7), rtol=rtol)
    np.testing.assert_allclose(fast, reference.predict(X), rtol=rtol)
    out = np.full((rows, 3), -1.0, dtype)
    assert net.predict(X, out=out) is out
    np.testing.assert_array_equal(out, fast)
    out[...] = -1
    assert reference.predict(X, out=out) is out
    np.testing.assert_allclose(out, fast, rtol=rtol)


@pytest.mark.parametrize("make", [
    lambda X: np.asfortranarray(X),                                   # column order
    lambda X: X[::2],                                                 # strided rows
    lambda X: X.astype(X.dtype.newbyteorder()),                       # byte-swapped
    lambda X: np.frombuffer(b"\0" + X.tobytes(), X.dtype, offset=1).reshape(X.shape),  # unaligned
    lambda X: X.astype(np.float64 if X.dtype == np.float32 else np.float32),  # other float
    lambda X: (X * 10).astype(np.int64),                              # integers
    lambda X: X.view(np.matrix),                                      # an ndarray subclass
])
def test_inputs_the_kernel_cannot_take_as_they_are_are_converted(dtype, make):
    net, _ = _pair(dtype)
    X = make(_rows(dtype, m=8))
    assert net._predict_few(X) is None
    expected = net.predict(np.ascontiguousarray(np.asarray(X), dtype=dtype))
    np.testing.assert_array_equal(net.predict(X), expected)
    out = np.empty_like(expected)
    np.testing.assert_array_equal(net.predict(X, out=out), expected)


@pytest.mark.parametrize("rows", [1, 64, 65])
def test_bad_inputs_raise_the_documented_errors_and_leave_out_untouched(dtype, rows):
    net, _ = _pair(dtype)
    X = _rows(dtype, m=rows)
    out = np.full((rows, 3), 7.0, dtype)
    for value in (np.nan, np.inf, -np.inf):
        bad = X.copy()
        bad[-1, 2] = value
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            net.predict(bad, out=out)
    with pytest.raises(ValueError, match="X has 4 features, the network expects 5"):
        net.predict(np.ascontiguousarray(X[:, :4]), out=out)
    with pytest.raises(ValueError, match="X is empty"):
        net.predict(X[:0])
    np.testing.assert_array_equal(out, 7.0)


@pytest.mark.parametrize("out, error, message", [
    (lambda m, d: np.empty((m, 4), d), ValueError, r"out must have shape \(\d+, 3\)"),
    (lambda m, d: np.empty((m + 1, 3), d), ValueError, r"out must have shape"),
    (lambda m, d: np.empty((m, 3), np.float16), ValueError, "dtype"),
    (lambda m, d: np.empty((m, 3), d).tolist(), TypeError, "out must be a numpy array"),
])
@pytest.mark.parametrize("rows", [2, 100])
def test_an_out_that_does_not_fit_is_refused(dtype, rows, out, error, message):
    net, _ = _pair(dtype)
    with pytest.raises(error, match=message):
        net.predict(_rows(dtype, m=rows), out=out(rows, dtype))


def test_a_read_only_out_is_refused(dtype):
    net, _ = _pair(dtype)
    out = np.zeros((3, 3), dtype)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        net.predict(_rows(dtype, m=3), out=out)
    np.testing.assert_array_equal(out, 0)


def test_a_non_contiguous_out_is_written_through_the_general_path(dtype):
    net, _ = _pair(dtype)
    X = _rows(dtype, m=6)
    wide = np.zeros((6, 6), dtype)
    assert net._predict_few(X, wide[:, ::2]) is None
    net.predict(X, out=wide[:, ::2])
    np.testing.assert_array_equal(wide[:, ::2], net.predict(X))
    np.testing.assert_array_equal(wide[:, 1::2], 0)


def test_out_may_be_the_input_itself():
    """The output is computed before anything is written, so X may double as out."""
    net = fnn.Network([3, 4, 3], seed=0, output="identity")
    X = _rows("float64", m=5, n=3)
    expected = net.predict(X)
    assert net.predict(X, out=X) is X
    np.testing.assert_array_equal(X, expected)


def test_few_row_predictions_from_many_threads_are_right():
    """The few-row path shares one workspace per network and keeps the GIL while it runs."""
    net, reference = _pair("float64", layers=(6, 32, 4))
    X = _rows("float64", m=400, n=6)
    expected = reference.predict(X)
    failures = []

    def work(start):
        for i in range(start, 400, 4):
            if not np.allclose(net.predict(X[i:i + 1]), expected[i:i + 1], rtol=1e-12, atol=0):
                failures.append(i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


def test_the_kernel_refuses_a_parameter_vector_that_is_not_the_plans():
    net, _ = _pair("float64")
    kernels = net._backend.kernels
    with pytest.raises(ValueError, match="params must be"):
        kernels.Predictor(net._backend.plan, np.zeros(net.n_params + 1), 64)
    with pytest.raises(ValueError, match="max_rows must be >= 1"):
        kernels.Predictor(net._backend.plan, net.params, 0)


def test_wide_networks_take_fewer_rows_at_once_holding_the_gil():
    """The few-row path does at most FEW_WORK multiply-adds per call: wider networks get
    fewer rows, and the widest none (the general path releases the GIL)."""
    from fastnn.backends import FEW_WORK

    X = _rows("float32", m=64, n=512)
    wide = fnn.Network([512, 2048, 10], dtype="float32", seed=0)  # ~1.07 M parameters
    rows = FEW_WORK // wide.n_params
    assert wide._predict_few(X[:rows]) is not None and wide._predict_few(X[:rows + 1]) is None
    widest = fnn.Network([512, 8192, 10], dtype="float32", seed=0)
    assert widest._predict_few(X[:1]) is None
    np.testing.assert_allclose(widest.predict(X[:1]), widest.predict(X[:1].tolist()), rtol=1e-6)
