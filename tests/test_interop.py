"""Weights in and out of scikit-learn and PyTorch: the converted model, run by the other
library, predicts what the original predicts (scikit-learn and torch are the oracles)."""
import warnings

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor

import fastnn as fnn
from conftest import assert_close_to_scale


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 6))
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5), X @ rng.standard_normal((6, 2))


def _close(actual, expected, dtype):
    assert_close_to_scale(actual, expected, 1e-6 if np.dtype(dtype) == np.float32 else 1e-12)


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("make", [SkClassifier, fnn.MLPClassifier])
def test_from_sklearn_classifier_predicts_its_probabilities(data, dtype, activation, make):
    X, y, _ = data
    X = X.astype(dtype)
    for target in (y, np.where(y > 0, "yes", "no")):  # three classes, then two
        clf = _fit(make(hidden_layer_sizes=(7, 5), activation=activation, max_iter=20,
                        random_state=0), X, target)
        net = fnn.Network.from_sklearn(clf)
        assert net.dtype == dtype and list(net.layers) == [6, 7, 5, clf.n_outputs_]
        probabilities = clf.predict_proba(X)
        expected = probabilities if probabilities.shape[1] > 2 else probabilities[:, 1:]
        np.testing.assert_allclose(net.predict(X), expected,
                                   rtol=1e-12 if dtype == np.float64 else 1e-5, atol=1e-15)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_from_sklearn_regressor_predicts_its_values(data, loss):
    X, _, Y = data
    Y = np.abs(Y) if loss == "poisson" else Y
    reg = _fit(SkRegressor(hidden_layer_sizes=(9,), loss=loss, max_iter=30, random_state=0), X, Y)
    net = fnn.Network.from_sklearn(reg)
    assert net.output == ("exp" if loss == "poisson" else "identity")
    np.testing.assert_allclose(net.predict(X), reg.predict(X), rtol=1e-12)


@pytest.mark.parametrize("net, classes, kind", [
    (fnn.Network([6, 8, 3], activation="relu", output="softmax", loss="cross_entropy", seed=0),
     ["a", "b", "c"], SkClassifier),
    (fnn.Network([6, 8, 1], activation="tanh", output="sigmoid", loss="binary_cross_entropy",
                 seed=0), [False, True], SkClassifier),
    (fnn.Network([6, 8, 4], activation="sigmoid", output="sigmoid", loss="binary_cross_entropy",
                 seed=0), None, SkClassifier),
    (fnn.Network([6, 8, 5, 2], activation="relu", output="identity", seed=0), None, SkRegressor),
    (fnn.Network([6, 8, 1], activation="relu", output="exp", loss="poisson", seed=0), None,
     SkRegressor),
    (fnn.Network([6, 8, 3], activation="relu", output="softmax", loss="cross_entropy",
                 dtype="float32", seed=0), None, SkClassifier),
])
def test_to_sklearn_gives_scikit_learns_model_of_the_network(data, net, classes, kind):
    X = data[0].astype(net.dtype)
    model = net.to_sklearn(classes=classes)
    assert type(model) is kind
    out = net.predict(X)
    rtol = 1e-12 if net.dtype == np.float64 else 1e-5
    if kind is SkRegressor:
        np.testing.assert_allclose(model.predict(X), out.ravel() if out.shape[1] == 1 else out,
                                   rtol=rtol)
        return
    probabilities = model.predict_proba(X)
    np.testing.assert_allclose(probabilities if out.shape[1] > 1 else probabilities[:, 1:], out,
                               rtol=rtol)
    if classes is not None:
        np.testing.assert_array_equal(model.predict(X),
                                      np.asarray(classes)[probabilities.argmax(axis=1)])
    else:
        np.testing.assert_array_equal(model.predict(X),
                                      out.argmax(axis=1) if net.output == "softmax" else out > 0.5)
    np.testing.assert_array_equal(fnn.Network.from_sklearn(model).params, net.params)


def test_to_sklearn_then_a_warm_started_fit_goes_on_from_the_weights(data):
    X, y, _ = data
    net = fnn.Network([6, 8, 3], activation="relu", output="softmax", loss="cross_entropy",
                      seed=0)
    model = net.to_sklearn()
    before = model.score(X, y)
    settings = dict(warm_start=True, max_iter=50, random_state=0, n_iter_no_change=1000)
    model.set_params(**settings)
    _fit(model, X, y)
    assert model.n_iter_ == 50 and model.score(X, y) > before
    # the oracle: scikit-learn's own estimator, initialized by its own fit, then given the
    # network's weights by hand and warm-started the same way
    reference = _fit(SkClassifier(hidden_layer_sizes=(8,), **{**settings, "max_iter": 1}), X, y)
    reference.coefs_ = [W.copy() for W in net.weights]
    reference.intercepts_ = [b.copy() for b in net.biases]
    _fit(reference.set_params(max_iter=50), X, y)
    for ours, theirs in zip(model.coefs_ + model.intercepts_,
                            reference.coefs_ + reference.intercepts_):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_to_sklearn_without_biases_uses_zero_intercepts(data):
    net = fnn.Network([6, 4, 2], activation="tanh", output="identity", bias=False, seed=0)
    model = net.to_sklearn()
    assert all((b == 0).all() for b in model.intercepts_)
    np.testing.assert_allclose(model.predict(data[0]), net.predict(data[0]), rtol=1e-12)


@pytest.mark.parametrize("net, kwargs, message", [
    (fnn.Network([3, 4, 4, 2], activation=["relu", "tanh"], output="identity"), {},
     "one hidden activation"),
    (fnn.Network([3, 4, 2], activation="gelu", output="identity"), {},
     "one hidden activation of .*; this network has .*gelu"),
    (fnn.Network([3, 4, 2], activation="silu", output="identity"), {}, "one hidden activation"),
    (fnn.Network([3, 4, 2], output="tanh"), {}, "output is 'tanh'"),
    (fnn.Network([3, 4, 3], output="softmax", loss="cross_entropy"), {"classes": [1, 2]},
     "classes must be 3 distinct labels"),
    (fnn.Network([3, 4, 3], output="softmax", loss="cross_entropy"), {"classes": [1, 1, 2]},
     "classes must be 3 distinct labels"),
    (fnn.Network([3, 4, 3], output="sigmoid", loss="binary_cross_entropy"), {"classes": [0, 1, 2]},
     "multi-label"),
    (fnn.Network([3, 4, 1], output="identity"), {"classes": [0, 1]}, "regressor: no classes"),
])
def test_to_sklearn_refuses_what_scikit_learn_cannot_hold(net, kwargs, message):
    with pytest.raises(ValueError, match=message):
        net.to_sklearn(**kwargs)


def test_from_sklearn_refuses_other_things():
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="fitted MLPClassifier or MLPRegressor"):
        fnn.Network.from_sklearn(LogisticRegression())
    with pytest.raises(NotFittedError):
        fnn.Network.from_sklearn(SkClassifier())


# -- PyTorch ------------------------------------------------------------------------------------

def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_from_torch_predicts_what_torch_computes(dtype):
    torch = _torch()
    torch.manual_seed(0)
    tdtype = getattr(torch, dtype)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Dropout(0.2),
                          nn.Sequential(nn.Linear(10, 8), nn.Tanh()), nn.Linear(8, 7),
                          nn.Sigmoid(), nn.Linear(7, 5), nn.Identity(), nn.Linear(5, 4),
                          nn.Softmax(dim=-1)).to(tdtype).eval()
    net = fnn.Network.from_torch(model)
    assert list(net.layers) == [6, 10, 8, 7, 5, 4] and net.dtype == dtype
    assert list(net.hidden_activations) == ["relu", "tanh", "sigmoid", "identity"]
    assert (net.output, net.loss) == ("softmax", "cross_entropy")
    X = np.random.default_rng(0).standard_normal((50, 6)).astype(dtype)
    with torch.no_grad():
        expected = model(torch.from_numpy(X)).numpy()
    _close(net.predict(X), expected, dtype)
    # the newer activations, and their torch arguments checked
    model = nn.Sequential(nn.Linear(6, 10), nn.LeakyReLU(), nn.Linear(10, 8), nn.ELU(),
                          nn.Linear(8, 3), nn.Softplus()).to(tdtype).eval()
    net = fnn.Network.from_torch(model)
    assert list(net.hidden_activations) == ["leaky_relu", "elu"] and net.output == "softplus"
    X = 10 * X  # beyond softplus's threshold (20) too
    with torch.no_grad():
        expected = model(torch.from_numpy(X)).numpy()
    _close(net.predict(X), expected, dtype)
    model = nn.Sequential(nn.Linear(6, 10), nn.GELU(), nn.Linear(10, 8), nn.SiLU(),
                          nn.Linear(8, 3), nn.GELU(approximate="none")).to(tdtype).eval()
    net = fnn.Network.from_torch(model)
    assert list(net.hidden_activations) == ["gelu", "silu"] and net.output == "gelu"
    assert net.loss == "mse"
    with torch.no_grad():
        expected = model(torch.from_numpy(X)).numpy()
    _close(net.predict(X), expected, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output, loss", [("identity", "mse"), ("sigmoid", "binary_cross_entropy"),
                                          ("softmax", "cross_entropy"), ("tanh", "mse"),
                                          ("relu", "mse"), ("leaky_relu", "mae"), ("elu", "huber"),
                                          ("softplus", "mse"), ("gelu", "mse"), ("silu", "huber")])
def test_to_torch_computes_what_the_network_computes(dtype, output, loss):
    torch = _torch()
    hidden = (["tanh", "relu"] if output in ("identity", "sigmoid", "softmax")
              else ["gelu", "silu"] if output in ("gelu", "silu") else ["elu", "softplus"])
    net = fnn.Network([5, 9, 6, 3], activation=hidden, output=output, loss=loss, dtype=dtype, seed=4)
    model = net.to_torch()
    X = np.random.default_rng(1).standard_normal((40, 5)).astype(dtype)
    with torch.no_grad():
        theirs = model(torch.from_numpy(X)).numpy()
    assert theirs.dtype == dtype
    _close(theirs, net.predict(X), dtype)
    back = fnn.Network.from_torch(model, loss=loss)
    np.testing.assert_array_equal(back.params, net.params)
    assert back.output == output and list(back.hidden_activations) == hidden


def test_to_torch_without_biases_and_back():
    torch = _torch()
    net = fnn.Network([3, 4, 1], bias=False, seed=0)
    model = net.to_torch()
    assert all(m.bias is None for m in model if isinstance(m, torch.nn.Linear))
    assert not fnn.Network.from_torch(model).bias


@pytest.mark.parametrize("build, message", [
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Conv1d(1, 1, 1)), r"layer 1 \(Conv1d"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.ReLU()), "must follow a Linear"),
    (lambda nn: nn.Sequential(nn.ReLU(), nn.Linear(3, 4)), "must follow a Linear"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 2)), "takes 5 features"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2, bias=False)), "biases in every"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=0)), "dim=-1"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=-1), nn.Linear(4, 2)),
     "only supported after the last"),
    (lambda nn: nn.Sequential(nn.Linear(3, 4).half()), "float32 or all float64"),
    (lambda nn: nn.Sequential(), "no Linear layer"),
])
def test_from_torch_names_what_it_cannot_convert(build, message):
    torch = _torch()
    with pytest.raises(ValueError, match=message):
        fnn.Network.from_torch(build(torch.nn))


def test_from_torch_wants_a_sequential_and_to_torch_an_exp_free_network():
    torch = _torch()
    with pytest.raises(TypeError, match="torch.nn.Sequential"):
        fnn.Network.from_torch(torch.nn.Linear(3, 4))
    with pytest.raises(ValueError, match="'exp' .* has no torch.nn module"):
        fnn.Network([3, 2], output="exp", loss="poisson").to_torch()


def test_from_torch_refuses_activation_arguments_fastnn_lacks():
    torch = _torch()
    nn = torch.nn
    for module, message in ((nn.LeakyReLU(0.2), "leaky_relu has negative_slope=0.01"),
                            (nn.ELU(alpha=0.5), "elu has alpha=1.0"),
                            (nn.Softplus(beta=2.0), "softplus has beta=1.0"),
                            (nn.GELU(approximate="tanh"),
                             r"GELU\(approximate='tanh'\).*gelu has approximate='none'")):
        with pytest.raises(ValueError, match=message):
            fnn.Network.from_torch(nn.Sequential(nn.Linear(3, 4), module, nn.Linear(4, 1)))
