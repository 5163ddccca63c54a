"""Property-based fuzzing (hypothesis): any valid network and input layout gives the same
numbers on both backends and never crashes; any damaged model file raises ModelFileError.
CI also runs this file against a build with bounds checks on (FASTNN_DEBUG=1)."""
import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastnn as fnn
from fastnn.activations import HIDDEN_ACTIVATIONS
from fastnn.losses import LOSS_OUTPUTS

PAIRS = [(output, loss) for loss, outputs in LOSS_OUTPUTS.items() for output in outputs]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw):
    widths = draw(st.lists(st.integers(1, 9), min_size=2, max_size=5))
    hidden = draw(st.lists(st.sampled_from(HIDDEN_ACTIVATIONS), min_size=len(widths) - 2,
                           max_size=len(widths) - 2))
    output, loss = draw(st.sampled_from(PAIRS))
    dtype = draw(st.sampled_from(["float64", "float32"]))
    bias = draw(st.booleans())
    n_samples = draw(st.sampled_from([1, 2, 5, 33]))
    layout = draw(st.sampled_from(["c", "fortran", "strided", "readonly", "reversed"]))
    seed = draw(st.integers(0, 2**31))
    return widths, hidden, output, loss, dtype, bias, n_samples, layout, seed


def arrange(X, layout):
    if layout == "fortran":
        return np.asfortranarray(X)
    if layout == "strided":
        wide = np.zeros((X.shape[0], 2 * X.shape[1]))
        wide[:, ::2] = X
        return wide[:, ::2]
    if layout == "readonly":
        X = X.copy()
        X.flags.writeable = False
        return X
    if layout == "reversed":
        return X[::-1].copy()[::-1]
    return X


@FUZZ
@given(problems())
def test_backends_agree_on_any_network_and_layout(problem):
    widths, hidden, output, loss, dtype, bias, n_samples, layout, seed = problem
    rng = np.random.default_rng(seed)
    reference = fnn.Network(widths, activation=hidden, output=output, loss=loss, bias=bias,
                            dtype=dtype, backend="numpy", seed=seed)
    compiled = reference.copy(backend="cython")
    X = arrange(rng.standard_normal((n_samples, widths[0])) * 3, layout)
    if loss == "cross_entropy":
        Y = np.eye(widths[-1])[rng.integers(0, widths[-1], n_samples)]
    else:
        Y = rng.random((n_samples, widths[-1]))
    tol = 1e-10 if dtype == "float64" else 2e-4
    np.testing.assert_allclose(compiled.forward(X), reference.forward(X), rtol=tol, atol=tol)
    a, b = reference.backward(X, Y, 0.01), compiled.backward(X, Y, 0.01)
    np.testing.assert_allclose(b.loss, a.loss, rtol=tol, atol=tol)
    np.testing.assert_allclose(b.grad, a.grad, rtol=tol, atol=tol * max(1, np.abs(a.grad).max()))
    assert np.isfinite(b.grad).all()


@FUZZ
@given(problems(), st.integers(1, 50), st.sampled_from(["sgd", "adam", "rprop"]))
def test_training_with_any_batch_size_never_crashes(problem, batch_size, optimizer):
    widths, hidden, output, loss, dtype, bias, n_samples, layout, seed = problem
    rng = np.random.default_rng(seed)
    nets = [fnn.Network(widths, activation=hidden, output=output, loss=loss, bias=bias,
                        dtype=dtype, backend=backend, seed=seed) for backend in ("numpy", "cython")]
    X = arrange(rng.standard_normal((n_samples, widths[0])), layout)
    Y = np.eye(widths[-1])[rng.integers(0, widths[-1], n_samples)] if loss == "cross_entropy" \
        else rng.random((n_samples, widths[-1]))
    for net in nets:
        net.fit(X, Y, optimizer=optimizer, epochs=3, batch_size=batch_size, seed=seed)
    tol = 1e-9 if dtype == "float64" else 1e-3
    np.testing.assert_allclose(nets[1].params, nets[0].params, rtol=tol, atol=tol)


@st.composite
def wide_problems(draw):
    """Networks wide enough that the kernels split their phases over threads (see
    src_pyx/_team.pxd), with any thread count and batch size."""
    widths = draw(st.lists(st.integers(1, 200), min_size=2, max_size=4))
    hidden = draw(st.lists(st.sampled_from(HIDDEN_ACTIVATIONS), min_size=len(widths) - 2,
                           max_size=len(widths) - 2))
    output, loss = draw(st.sampled_from(PAIRS))
    return (widths, hidden, output, loss, draw(st.sampled_from(["float64", "float32"])),
            draw(st.booleans()), draw(st.integers(1, 300)), draw(st.integers(1, 5)),
            draw(st.integers(1, 128)), draw(st.integers(0, 2**31)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wide_problems())
def test_threaded_passes_and_training_agree_with_numpy(problem):
    widths, hidden, output, loss, dtype, bias, n_samples, threads, batch_size, seed = problem
    rng = np.random.default_rng(seed)
    reference = fnn.Network(widths, activation=hidden, output=output, loss=loss, bias=bias,
                            dtype=dtype, backend="numpy", seed=seed)
    compiled = reference.copy(backend="cython")
    X = rng.standard_normal((n_samples, widths[0]))
    Y = np.eye(widths[-1])[rng.integers(0, widths[-1], n_samples)] if loss == "cross_entropy" \
        else rng.random((n_samples, widths[-1]))
    tol = 1e-9 if dtype == "float64" else 1e-3
    expected = reference.forward(X)
    np.testing.assert_allclose(compiled.forward(X, threads=threads), expected, rtol=tol,
                               atol=tol * max(1, np.abs(expected).max()))
    for net in (reference, compiled):
        net.fit(X, Y, optimizer="adam", epochs=2, batch_size=batch_size, seed=seed,
                weight_decay=1e-3, threads=threads)
    np.testing.assert_allclose(compiled.params, reference.params, rtol=tol, atol=tol)


@pytest.fixture(scope="module")
def model_bytes():
    buffer = io.BytesIO()
    net = fnn.Network([3, 4, 2], seed=0)
    header = {"format": "fastnn-model", "format_version": 1, "fastnn_version": fnn.__version__,
              "layers": [3, 4, 2], "activation": ["sigmoid"], "output": "sigmoid", "loss": "mse",
              "bias": True, "init": "glorot_uniform", "dtype": "float64", "n_params": net.n_params}
    np.savez(buffer, header=np.array(json.dumps(header)), params=net.params)
    return buffer.getvalue()


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_raise_model_file_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "model.npz"
    path.write_bytes(data)
    with pytest.raises(fnn.ModelFileError):
        fnn.load(path)


@FUZZ
@given(st.data())
def test_mutated_model_files_load_or_raise_model_file_error(tmp_path_factory, model_bytes, data):
    mutated = bytearray(model_bytes)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(mutated) - 1))
        mutated[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(mutated)))
    path = tmp_path_factory.mktemp("fuzz") / "model.npz"
    path.write_bytes(bytes(mutated[:cut]))
    try:
        net = fnn.load(path)
    except fnn.ModelFileError:
        return
    assert np.isfinite(net.params).all() and net.n_params == 26
