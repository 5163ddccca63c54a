"""Fitted drop-ins saved without pickle: fastnn.load gives back an estimator that predicts
the same and trains on bit for bit like one that was never saved."""
import json
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import fastnn as fnn
from fastnn import MLPClassifier, MLPRegressor


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


def fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


TARGETS = {
    "ints": lambda y: y,
    "strings": lambda y: np.array(["zero", "one", "two", "three", "four", "five", "six",
                                   "seven", "eight", "nine"])[y],
    "object strings": lambda y: np.where(y > 4, "big", "small").astype(object),
    "booleans": lambda y: y > 4,
    "floats": lambda y: (y % 3).astype(float) - 1.0,
    "multilabel": lambda y: np.c_[y > 4, y % 2 == 0, y == 3].astype(int),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_classifier_round_trip_predicts_and_trains_on_bit_for_bit(data, tmp_path, target, solver):
    X, y = data[0], TARGETS[target](data[1])
    kept = fit(MLPClassifier((12,), solver=solver, max_iter=3, random_state=0), X, y)
    path = tmp_path / "clf.npz"
    kept.save(path)
    loaded = fnn.load(path)
    assert type(loaded) is MLPClassifier and loaded.get_params() == kept.get_params()
    np.testing.assert_array_equal(loaded.classes_, kept.classes_)
    assert loaded.classes_.dtype == kept.classes_.dtype
    np.testing.assert_array_equal(loaded.predict(X), kept.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), kept.predict_proba(X))
    for name in ("n_iter_", "t_", "loss_", "loss_curve_", "best_loss_", "_no_improvement_count",
                 "out_activation_", "n_layers_", "n_outputs_", "n_features_in_"):
        assert getattr(loaded, name) == getattr(kept, name), name
    for model in (kept, loaded):
        model.partial_fit(X, y)
        model.partial_fit(X[::2], y[::2])
    np.testing.assert_array_equal(loaded._net.params, kept._net.params)
    for model in (kept, loaded):
        fit(model.set_params(warm_start=True, max_iter=2), X, y)
    np.testing.assert_array_equal(loaded._net.params, kept._net.params)
    assert loaded.loss_curve_ == kept.loss_curve_


@pytest.mark.parametrize("params", [
    {"solver": "adam", "early_stopping": True},
    {"solver": "sgd", "loss": "poisson"},
    {"solver": "sgd", "random_state": np.random.RandomState(3)},  # its state travels too
    {"solver": "lbfgs"},
])
def test_regressor_round_trip(data, tmp_path, params):
    X, y = data[0], data[1].astype(float)
    Y = np.c_[y, y ** 0.5] if params.get("loss") != "poisson" else y
    kept = fit(MLPRegressor(hidden_layer_sizes=(9,), max_iter=4, **{"random_state": 0, **params}), X, Y)
    fnn.save(kept, tmp_path / "reg.npz")
    loaded = fnn.load(tmp_path / "reg.npz")
    np.testing.assert_array_equal(loaded.predict(X), kept.predict(X))
    assert getattr(loaded, "validation_scores_", 0) == getattr(kept, "validation_scores_", 0)
    if params["solver"] != "lbfgs":
        for model in (kept, loaded):
            model.partial_fit(X, Y) if not params.get("early_stopping") else fit(
                model.set_params(warm_start=True), X, Y)
        np.testing.assert_array_equal(loaded._net.params, kept._net.params)
    else:
        for model in (kept, loaded):
            fit(model.set_params(warm_start=True, max_iter=10), X, Y)
        np.testing.assert_array_equal(loaded._net.params, kept._net.params)


def test_feature_names_are_kept(tmp_path):
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.random.default_rng(0).standard_normal((40, 3)), columns=["a", "b", "c"])
    kept = fit(MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0), X, X["a"])
    kept.save(tmp_path / "m.npz")
    loaded = fnn.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.feature_names_in_, ["a", "b", "c"])
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(X[["c", "b", "a"]])


def rewrite_header(path, change):
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(str(arrays["header"][()]))
    change(header["estimator"])
    arrays["header"] = np.array(json.dumps(header))
    np.savez(path, **arrays)


@pytest.mark.parametrize("change, message", [
    (lambda e: e.update({"class": "Pipeline"}), "estimator class"),
    (lambda e: e["classes"]["values"].append(99), "classes"),
    (lambda e: e["classes"].update({"kind": "<U300000000"}), "classes"),
    (lambda e: e["fitted"].update({"n_iter_": "many"}), "n_iter_"),
    (lambda e: e["fitted"].update({"n_features_in_": 3}), "shape"),
    (lambda e: e["params"].update({"alpha": -1.0}), "parameters"),
    (lambda e: e["params"].update({"hidden_layer_sizes": [5]}), "shape"),
    (lambda e: e["optimizer"].update({"class": "os.system"}), "optimizer"),
    (lambda e: e.update({"label_type": "continuous"}), "classes"),
])
def test_tampered_estimator_files_are_refused(data, tmp_path, change, message):
    X, y = data
    fit(MLPClassifier((12,), max_iter=1, random_state=0), X, y).save(tmp_path / "m.npz")
    rewrite_header(tmp_path / "m.npz", change)
    with pytest.raises(fnn.ModelFileError, match=message):
        fnn.load(tmp_path / "m.npz")


def test_unfitted_or_foreign_objects_are_refused(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MLPClassifier().save(tmp_path / "m.npz")
    with pytest.raises(TypeError, match="a Network, a fastnn drop-in estimator or a model made "
                                        "by `fastnn train`; got str"):
        fnn.save("not a model", tmp_path / "m.npz")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X, y = np.random.default_rng(0).standard_normal((20, 2)), np.arange(20) % 2
    other = make_pipeline(StandardScaler(), MLPClassifier(max_iter=500)).fit(X, y)
    with pytest.raises(TypeError, match="model made by `fastnn train`; got Pipeline"):
        fnn.save(other, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_a_network_file_is_still_a_network(tmp_path):
    net = fnn.Network([3, 2], seed=0)
    fnn.save(net, tmp_path / "n.npz")
    with zipfile.ZipFile(tmp_path / "n.npz") as archive:
        assert sorted(archive.namelist()) == ["header.npy", "params.npy"]
    assert isinstance(fnn.load(tmp_path / "n.npz"), fnn.Network)
