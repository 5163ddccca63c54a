"""fastnn.onnx.export against ONNX Runtime as the independent oracle: every layer's activations
and every output, the drop-ins' labels and probabilities, and the graphs pass onnx.checker."""
import warnings

import numpy as np
import pytest

import fastnn as fnn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import helper  # noqa: E402

from conftest import assert_close_to_scale  # noqa: E402

from fastnn.activations import HIDDEN_ACTIVATIONS  # noqa: E402
from fastnn.onnx import export  # noqa: E402

TOLERANCE = {"float32": 1e-5, "float64": 1e-12}
OUTPUTS = {"identity": "mse", "sigmoid": "binary_cross_entropy", "tanh": "mse", "relu": "mse",
           "softmax": "cross_entropy", "exp": "poisson", "leaky_relu": "huber", "elu": "mae",
           "softplus": "mse", "gelu": "mse", "silu": "huber"}


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:400] / 16.0, y[:400]


def _close(actual, expected, dtype):
    assert_close_to_scale(actual, expected, TOLERANCE[str(np.dtype(dtype))])


def _run(path, X, names=None):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(names, {"X": X})


def _with_hidden_outputs(path, n_layers):
    """The exported graph with every layer's activations a0 .. a{L-1} as extra outputs."""
    model = onnx.load(str(path))
    elem = model.graph.input[0].type.tensor_type.elem_type
    for l in range(n_layers):
        model.graph.output.append(helper.make_tensor_value_info(f"a{l}", elem, None))
    hidden = path.with_name("hidden_" + path.name)
    onnx.save(model, str(hidden))
    return hidden


@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_every_layer_matches_onnx_runtime(tmp_path, dtype, hidden, output):
    net = fnn.Network([6, 9, 7, 4], activation=hidden, output=output, loss=OUTPUTS[output],
                      dtype=dtype, seed=3)
    net.params = np.random.default_rng(1).normal(0, 0.6, net.n_params)
    X = np.random.default_rng(2).normal(0, 2, (33, 6)).astype(dtype)
    path = tmp_path / "net.onnx"
    export(net, path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    output_only, = _run(path, X)
    assert output_only.dtype == dtype and output_only.shape == (33, 4)
    _close(output_only, net.predict(X), dtype)
    ours = net.backward(X, np.zeros((33, 4), dtype) + 0.5).activations
    theirs = _run(_with_hidden_outputs(path, 3), X, [f"a{l}" for l in range(3)])
    for l in range(2):  # hidden layers (backward's last entry is the output layer's z)
        _close(theirs[l], ours[l], dtype)


def test_gelu_graph_is_the_exact_gelu_over_the_whole_line(tmp_path, dtype):
    """The gelu nodes (Phi from elementary operators: ONNX Runtime has no float64 Erf) give
    x Phi(x) to the tolerance, scipy's ndtr the oracle, from -1e4 to 1e4, in both dtypes;
    silu's too."""
    from scipy.special import expit, ndtr

    x = np.concatenate([np.linspace(-40, 40, 8001), [-1e4, -300.0, 300.0, 1e4]])
    X = x.astype(dtype)[:, None]
    x = X[:, 0].astype(np.float64)
    for name, formula in (("gelu", x * ndtr(x)), ("silu", x * expit(x))):
        net = fnn.Network([1, 1], output=name, loss="mse", dtype=dtype)
        net.weights[0][...], net.biases[0][...] = 1.0, 0.0
        path = tmp_path / f"{name}.onnx"
        export(net, path)
        theirs, = _run(path, X)
        tol = TOLERANCE[dtype]
        np.testing.assert_allclose(theirs[:, 0], formula, rtol=tol, atol=tol)
        _close(theirs, net.predict(X), dtype)
        np.testing.assert_array_equal(theirs[-4:, 0], [0, 0, 300, 1e4])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_export_in_another_dtype_and_without_biases(tmp_path, dtype):
    net = fnn.Network([5, 8, 3], activation="tanh", output="softmax", loss="cross_entropy",
                      bias=False, seed=0)  # float64 weights
    X = np.random.default_rng(0).standard_normal((10, 5))
    path = tmp_path / "net.onnx"
    graph = export(net, path, dtype=dtype)
    assert [n.op_type for n in graph.graph.node] == ["MatMul", "Tanh", "MatMul", "Softmax",
                                                     "Identity"]
    result, = _run(path, X.astype(dtype))
    assert result.dtype == dtype
    _close(result, net.copy(dtype=dtype).predict(X), dtype)


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


@pytest.mark.parametrize("labels", [
    lambda y: y,                                          # ten integer classes
    lambda y: np.array(["even", "odd"])[y % 2],           # two string classes
    lambda y: y > 4,                                      # booleans
    lambda y: (y % 3).astype(float),                      # three float classes
    lambda y: np.array(["a", "b", "c"], dtype=object)[y % 3],  # strings as objects
])
def test_classifier_graph_gives_predict_and_predict_proba(tmp_path, digits, dtype, labels):
    X, y = digits
    X = X.astype(dtype)
    clf = _fit(fnn.MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0), X, labels(y))
    path = tmp_path / "clf.onnx"
    export(clf, path)
    label, probabilities = _run(path, X, ["label", "probabilities"])
    _close(probabilities, clf.predict_proba(X), dtype)
    expected = clf.predict(X)
    if expected.dtype.kind in "UO":
        label = label.astype(str)
    np.testing.assert_array_equal(label, expected)


def test_multilabel_classifier_graph(tmp_path, digits):
    X, y = digits
    Y = np.stack([y % 2, y > 4, y % 3 == 0], axis=1).astype(int)
    clf = _fit(fnn.MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0), X, Y)
    path = tmp_path / "multi.onnx"
    export(clf, path)
    label, probabilities = _run(path, X, ["label", "probabilities"])
    np.testing.assert_allclose(probabilities, clf.predict_proba(X), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(label, clf.predict(X))


@pytest.mark.parametrize("targets", [1, 2])
def test_regressor_graph(tmp_path, targets):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 4))
    y = X @ rng.standard_normal((4, targets))
    reg = _fit(fnn.MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=0), X, y.ravel() if targets == 1 else y)
    path = tmp_path / "reg.onnx"
    export(reg, path, dtype="float32")
    variable, = _run(path, X.astype(np.float32))
    assert variable.shape == (80, targets)
    np.testing.assert_allclose(variable.reshape(reg.predict(X).shape), reg.predict(X), rtol=1e-5,
                               atol=1e-6)


def test_poisson_regressor_graph_ends_in_exp(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3))
    reg = _fit(fnn.MLPRegressor(hidden_layer_sizes=(8,), loss="poisson", max_iter=20, random_state=0), X,
               rng.poisson(2.0, 80))
    path = tmp_path / "poisson.onnx"
    assert export(reg, path).graph.node[-2].op_type == "Exp"
    np.testing.assert_allclose(_run(path, X)[0].ravel(), reg.predict(X), rtol=1e-12)


def test_bad_exports_are_refused_and_write_nothing(tmp_path):
    from sklearn.exceptions import NotFittedError

    path = tmp_path / "model.onnx"
    with pytest.raises(TypeError, match="export takes a fastnn Network"):
        export(object(), path)
    with pytest.raises(NotFittedError):
        export(fnn.MLPClassifier(), path)
    net = fnn.Network([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        export(net, path, dtype="float16")
    net.params[0] = 1e300
    with pytest.raises(ValueError, match="beyond what float32 holds"):
        export(net, path, dtype="float32")
    net.params[0] = np.nan
    with pytest.raises(ValueError, match="not all finite"):
        export(net, path)
    with pytest.raises(ValueError, match="no folder"):
        export(fnn.Network([2, 1], seed=0), tmp_path / "missing" / "model.onnx")
    assert list(tmp_path.iterdir()) == []
