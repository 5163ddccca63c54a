"""The scikit-learn drop-ins against scikit-learn itself."""
import contextlib
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastnn import MLPClassifier, MLPRegressor


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    return X, np.c_[np.sin(X[:, 0]), X[:, 1] * X[:, 2]]


def assert_same_model(ours, theirs, rtol=1e-7):
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())
    for name in ("n_iter_", "n_layers_", "n_outputs_", "out_activation_", "t_", "n_features_in_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-9)


def fit_both(ours, theirs, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ours.fit(X, y), theirs.fit(X, y)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("max_iter", [1, 5, 20])
def test_classifier_reproduces_sklearn(digits, solver, max_iter):
    X, y = digits
    params = dict(hidden_layer_sizes=(32,), solver=solver, max_iter=max_iter, random_state=0,
                  learning_rate_init=0.01 if solver != "lbfgs" else 0.001)
    ours, theirs = fit_both(MLPClassifier(**params), SkClassifier(**params), X, y)
    assert_same_model(ours, theirs)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-6, atol=1e-12)
    if solver != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("max_iter", [1, 5, 20])
def test_regressor_reproduces_sklearn(regression, solver, max_iter):
    X, Y = regression
    params = dict(hidden_layer_sizes=(16,), activation="tanh", solver=solver, max_iter=max_iter,
                  random_state=0)
    ours, theirs = fit_both(MLPRegressor(**params), SkRegressor(**params), X, Y)
    assert_same_model(ours, theirs)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("params", [
    dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5, momentum=0.5,
         nesterovs_momentum=False),
    dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.2, tol=0.05,
         n_iter_no_change=2, max_iter=40),
    dict(solver="adam", early_stopping=True, validation_fraction=0.2, n_iter_no_change=3,
         max_iter=60, tol=1e-3),
    dict(solver="adam", batch_size=64, shuffle=False, alpha=0.1, activation="logistic"),
    dict(solver="sgd", early_stopping=True, activation="identity", max_iter=15),
])
def test_options_reproduce_sklearn(digits, params):
    X, y = digits
    params = dict(dict(hidden_layer_sizes=(24,), random_state=1, max_iter=10), **params)
    ours, theirs = fit_both(MLPClassifier(**params), SkClassifier(**params), X, y)
    assert_same_model(ours, theirs)
    if params.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
        assert ours.best_validation_score_ == theirs.best_validation_score_
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)


@pytest.mark.parametrize("target", ["binary", "multilabel"])
def test_binary_and_multilabel_targets(digits, target):
    X, y = digits
    y = (y > 4).astype(int) if target == "binary" else np.c_[y > 4, y % 2 == 0, y == 3].astype(int)
    params = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    ours, theirs = fit_both(MLPClassifier(**params), SkClassifier(**params), X, y)
    assert_same_model(ours, theirs)
    assert ours.out_activation_ == "logistic"
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-6, atol=1e-12)


def test_partial_fit_and_warm_start_match_sklearn(digits):
    X, y = digits
    classes = np.unique(y)
    ours, theirs = MLPClassifier(hidden_layer_sizes=(16,), random_state=0), SkClassifier(
        hidden_layer_sizes=(16,), random_state=0)
    for start in range(0, 600, 200):
        ours.partial_fit(X[start:start + 200], y[start:start + 200], classes=classes)
        theirs.partial_fit(X[start:start + 200], y[start:start + 200], classes=classes)
    assert_same_model(ours, theirs)
    params = dict(hidden_layer_sizes=(16,), random_state=0, warm_start=True, max_iter=3)
    ours, theirs = fit_both(MLPRegressor(**params), SkRegressor(**params), X, y.astype(float))
    fit_both(ours, theirs, X, y.astype(float))
    assert_same_model(ours, theirs)


def test_partial_fit_only_for_stochastic_solvers():
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="annealing"), "partial_fit")
    assert hasattr(MLPClassifier(solver="rmsprop"), "partial_fit")


def test_convergence_warning_and_errors(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPClassifier(hidden_layer_sizes=(8, 0)).fit(X, y)
    with pytest.raises(ValueError, match="solver"):
        MLPClassifier(solver="newton").fit(X, y)
    with pytest.raises(ValueError, match="learning_rate_init"):
        MLPRegressor(learning_rate_init=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        MLPClassifier(hidden_layer_sizes=(8,), max_iter=2).fit(X, y).predict(X[:, :10])


@pytest.mark.parametrize("solver", ["rmsprop", "rprop", "bfgs", "annealing", "awsgd"])
def test_fastnn_solvers_are_accepted(digits, solver):
    X, y = digits
    X, y = X[:300], y[:300]
    clf = MLPClassifier(hidden_layer_sizes=(16,), solver=solver, max_iter=15, random_state=0,
                        learning_rate_init=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ >= 1 and len(clf.loss_curve_) == clf.n_iter_
    assert clf.score(X, y) > 0.3


def test_float32_trains_in_float32_lbfgs_included(digits):
    X, y = digits
    for solver in ("adam", "lbfgs"):
        clf = MLPClassifier(hidden_layer_sizes=(16,), solver=solver, max_iter=30, random_state=0,
                            learning_rate_init=0.01)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X.astype(np.float32), y)
        assert all(c.dtype == np.float32 for c in clf.coefs_ + clf.intercepts_)
        assert clf.predict_proba(X.astype(np.float32)).dtype == np.float32
        assert clf.score(X.astype(np.float32), y) > 0.85


def test_pipeline_search_clone_and_pickle(digits, tmp_path):
    X, y = digits
    X, y = X[:400], y[:400]
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=50,
                                                         learning_rate_init=0.01,
                                                         random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert cross_val_score(pipe, X, y, cv=3).mean() > 0.8
        search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=2).fit(X, y)
    model = search.best_estimator_
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    import joblib
    joblib.dump(model, tmp_path / "model.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "model.joblib").predict_proba(X),
                                  model.predict_proba(X))
    mlp = restored[-1]
    for view in mlp.coefs_ + mlp.intercepts_:
        assert view.base is mlp._net.params
    fresh = clone(model[-1])
    assert fresh.get_params() == model[-1].get_params() and not hasattr(fresh, "coefs_")


def test_parameters_match_sklearn():
    for ours, theirs in ((MLPClassifier(), SkClassifier()), (MLPRegressor(), SkRegressor())):
        assert ours.get_params() == theirs.get_params()


@parametrize_with_checks([MLPClassifier(max_iter=100), MLPRegressor(max_iter=100)])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_sample_weights_reproduce_sklearn(digits, solver, early_stopping):
    X, y = digits
    weights = np.random.default_rng(0).uniform(0.1, 3.0, len(y))
    params = dict(hidden_layer_sizes=(16,), solver=solver, max_iter=8, random_state=0,
                  early_stopping=early_stopping and solver != "lbfgs", batch_size=150)
    ours, theirs = MLPClassifier(**params), SkClassifier(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y, sample_weight=weights)
        theirs.fit(X, y, sample_weight=weights)
    assert_same_model(ours, theirs)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_poisson_regressor_reproduces_sklearn(solver):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((150, 4))
    y = rng.poisson(np.exp(0.5 * X[:, 0] + 0.3 * X[:, 1]))
    params = dict(loss="poisson", hidden_layer_sizes=(8,), solver=solver, max_iter=15,
                  random_state=0, learning_rate_init=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = MLPRegressor(**params).fit(X, y), SkRegressor(**params).fit(X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    assert_same_model(ours, theirs)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-7)
    with pytest.raises(ValueError, match="y >= 0"):
        MLPRegressor(loss="poisson").fit(X, y - 5.0)


def test_weights_set_by_hand_are_the_model():
    """coefs_/intercepts_ are plain lists: assigned lists or elements change the model, also
    before the first partial_fit, as in scikit-learn."""
    X, y = np.array([[0.6, 0.8, 0.7], [0.1, 0.2, 0.3]]), np.array([0, 1])
    fitted = MLPClassifier(hidden_layer_sizes=(2,), activation="logistic", max_iter=1,
                           solver="sgd", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted.fit(X, y)
    W0 = np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0.0]])
    fitted.coefs_[0] = W0
    fitted.intercepts_ = [np.array([0.1, 0.1]), np.array([1.0])]
    hidden = 1 / (1 + np.exp(-(X @ W0 + 0.1)))
    expected = 1 / (1 + np.exp(-(hidden @ fitted.coefs_[1] + 1.0)))
    np.testing.assert_allclose(fitted.predict_proba(X)[:, 1], expected.ravel(), rtol=1e-12)
    np.testing.assert_array_equal(fitted.coefs_[0], W0)
    with pytest.raises(ValueError, match="coefs_ and intercepts_"):
        fitted.coefs_ = [np.zeros((3, 5)), np.zeros((2, 1))]
        fitted.predict(X)


def test_loss_grad_hook_matches_sklearn(digits):
    X, y = digits[0][:60], digits[1][:60]
    ours = MLPClassifier(hidden_layer_sizes=(7,), solver="lbfgs", max_iter=2, random_state=0)
    theirs = SkClassifier(hidden_layer_sizes=(7,), solver="lbfgs", max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y), theirs.fit(X, y)
    Y = ours._label_binarizer.transform(y)
    theta = np.random.default_rng(0).standard_normal(
        sum(c.size for c in ours.coefs_) + sum(b.size for b in ours.intercepts_)) * 0.1
    units = [X.shape[1], 7, 10]
    buffers = ([X] + [np.empty((len(X), n)) for n in units[1:]],
               [np.empty((len(X), n)) for n in units[1:]],
               [np.empty((a, b)) for a, b in zip(units[:-1], units[1:])],
               [np.empty(b) for b in units[1:]])
    J, grad = ours._loss_grad_lbfgs(theta, X, Y, None, *buffers)
    J_sk, grad_sk = theirs._loss_grad_lbfgs(theta, X, Y, None, *buffers)
    np.testing.assert_allclose(J, J_sk, rtol=1e-12)
    np.testing.assert_allclose(grad, grad_sk, rtol=1e-9, atol=1e-14)


def test_diverging_fit_is_scored_nan_and_keeps_the_best_weights():
    X, y = load_digits(return_X_y=True)
    params = dict(hidden_layer_sizes=(20,), activation="identity", solver="sgd",
                  learning_rate_init=1.0, max_iter=8, early_stopping=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = MLPRegressor(**params).fit(X, y.astype(float))
        theirs = SkRegressor(**params).fit(X, y.astype(float))
    assert np.isnan(ours.validation_scores_[-1]) and np.isnan(theirs.validation_scores_[-1])
    assert len(ours.validation_scores_) == len(theirs.validation_scores_)
    assert np.isfinite(ours.predict(X)).all()
    np.testing.assert_allclose(ours.best_validation_score_, theirs.best_validation_score_,
                               rtol=1e-6)


def test_validation_split_keeps_labels_and_feature_names():
    pd = pytest.importorskip("pandas")
    with pytest.raises(ValueError, match="least populated class") as error:
        MLPClassifier(early_stopping=True).fit([[1, 2], [2, 3], [3, 4], [4, 5]], [0, 0, 0, 1])
    if "too few members are" in str(error.value):  # scikit-learn >= 1.8 names them
        assert "['True']" in str(error.value)
    rng = np.random.RandomState(0)
    X = pd.DataFrame(rng.randn(40, 2), columns=["a", "b"])
    for model, y in ((MLPClassifier, (X["a"] > 0).astype(int)), (MLPRegressor, X["b"] * 2)):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            model(early_stopping=True, max_iter=5, random_state=0).fit(X, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_predict_path_agrees_with_the_validated_one_and_sklearn(digits, dtype):
    X, y = digits[0].astype(dtype), digits[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0).fit(X, y)
        theirs = SkClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0).fit(X, y)
        binary = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(
            X, np.where(y > 4, "big", "small"))
    rows = X[:5].copy()                                  # the fast path: ready ndarray
    for model in (ours, binary):
        np.testing.assert_array_equal(model.predict_proba(rows),
                                      model.predict_proba(rows.tolist()))  # validated path
        np.testing.assert_array_equal(model.predict(rows), model.predict(rows.tolist()))
        np.testing.assert_array_equal(model.predict(rows), model._label_binarizer.inverse_transform(
            model.predict_proba(rows) if len(model.classes_) > 2 else model.predict_proba(rows)[:, 1]))
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(ours.predict_proba(rows), theirs.predict_proba(rows), rtol=rtol)
    bad = rows.copy()
    bad[0, 3] = np.nan
    for model in (ours, theirs):  # the same errors as scikit-learn's own model
        with pytest.raises(ValueError, match="Input X contains NaN"):
            model.predict_proba(bad)
        with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 64"):
            model.predict(np.ascontiguousarray(rows[:, :3]))
        with pytest.raises(ValueError, match="0 sample"):
            model.predict(rows[:0])


def test_fast_predict_path_keeps_the_feature_name_check():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.random.default_rng(0).standard_normal((30, 2)), columns=["a", "b"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPRegressor(max_iter=2, random_state=0).fit(X, X["a"])
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        model.predict(X.to_numpy()[:1].copy())


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("solver, early_stopping", [("sgd", False), ("adam", True), ("lbfgs", False)])
def test_sparse_input_trains_the_dense_model_without_densifying(fmt, solver, early_stopping,
                                                              monkeypatch):
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = sp.random(300, 80, density=0.05, format=fmt, random_state=1)
    dense_X = X.toarray()
    y = (X @ rng.standard_normal(80) > 0).astype(int) + (dense_X[:, 0] > 0.5)
    params = dict(hidden_layer_sizes=(12,), solver=solver, max_iter=6, batch_size=32,
                  early_stopping=early_stopping, random_state=0)

    @contextlib.contextmanager
    def never_densified():
        """Densifying any sparse matrix as wide as X (rows of X) fails the test; narrower ones
        (scikit-learn's label binarizing) go on as usual."""
        with monkeypatch.context() as patch:
            for cls in (sp.csr_matrix, sp.csc_matrix, sp.csr_array, sp.csc_array):
                for name in ("toarray", "todense"):
                    def guarded(self, *args, _original=getattr(cls, name), **kwargs):
                        assert self.shape[1] != X.shape[1], "the sparse rows were densified"
                        return _original(self, *args, **kwargs)
                    patch.setattr(cls, name, guarded)
            yield

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense = MLPClassifier(**params).fit(dense_X, y)
        theirs = SkClassifier(**params).fit(X, y)
        with never_densified():
            sparse = MLPClassifier(**params).fit(X, y)
            sparse_proba, sparse_labels = sparse.predict_proba(X), sparse.predict(X)
    for a, b in zip(sparse.coefs_ + sparse.intercepts_, dense.coefs_ + dense.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert_same_model(sparse, theirs)
    np.testing.assert_allclose(sparse_proba, dense.predict_proba(dense_X), rtol=1e-12)
    np.testing.assert_array_equal(sparse_labels, theirs.predict(X))
    if solver == "sgd":  # partial_fit on sparse rows follows the dense one too
        with never_densified():
            sparse.partial_fit(X, y)
        dense.partial_fit(dense_X, y)
        np.testing.assert_allclose(sparse._net.params, dense._net.params, rtol=1e-10, atol=1e-12)


def test_fit_callbacks_see_each_epoch_and_can_stop_it():
    """The drop-ins' callbacks: every epoch's loss (scikit-learn's own loss_curve_ as the
    oracle), a stop after a chosen epoch, L-BFGS iterations, and routing through a Pipeline."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import fastnn
    from fastnn import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = X[:300] / 16
    y = y[:300]
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(hidden_layer_sizes=(16,), max_iter=12, random_state=0).fit(
            X, y, callbacks=lambda epoch, logs, est: seen.append((epoch, logs["loss"], est)))
        oracle = SkClassifier(hidden_layer_sizes=(16,), max_iter=12, random_state=0).fit(X, y)
    assert [e for e, _, _ in seen] == list(range(12)) and all(est is ours for _, _, est in seen)
    np.testing.assert_allclose([loss for _, loss, _ in seen], oracle.loss_curve_, rtol=1e-12)

    def stop_at_three(epoch, logs, est):
        if epoch == 2:
            raise fastnn.StopTraining

    stopped = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, random_state=0)
    stopped.fit(X, y, callbacks=[stop_at_three])
    assert stopped.n_iter_ == 3 and len(stopped.validation_scores_) == 3

    iterations = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a callback's stop is not a failure
        lbfgs = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", random_state=0).fit(
            X, y, callbacks=lambda epoch, logs, est: iterations.append(logs["loss"]) or epoch == 4)
    assert len(iterations) == 5 and lbfgs.n_iter_ == 5

    epochs = []
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(8,), max_iter=3,
                                                             random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipeline.fit(X, y, mlpclassifier__callbacks=lambda epoch, logs, est: epochs.append(epoch))
    assert epochs == [0, 1, 2]
    with pytest.raises(TypeError, match="a callback must be callable"):
        MLPClassifier(max_iter=1).fit(X, y, callbacks=[42])


@pytest.mark.parametrize("activation", ["leaky_relu", "elu", "softplus", "gelu", "silu"])
def test_drop_ins_take_fastnns_newer_activations(tmp_path, activation):
    """The drop-ins train with leaky_relu, elu, softplus, gelu and silu: scikit-learn's L-BFGS
    hook's gradient against central differences of its own J, a fit that learns, and a file
    that keeps the activation."""
    from fastnn import MLPClassifier, MLPRegressor

    X, y = load_digits(return_X_y=True)
    X = X[:400] / 16
    clf = MLPClassifier(hidden_layer_sizes=(20,), activation=activation, max_iter=150,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y[:400])
    assert clf.score(X, y[:400]) > 0.95
    import fastnn
    clf.save(tmp_path / "clf.npz")
    loaded = fastnn.load(tmp_path / "clf.npz")
    assert loaded.activation == activation
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    reg = MLPRegressor(hidden_layer_sizes=(6,), activation=activation, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X[:50, :8], X[:50, 8])
    theta = np.concatenate([c.ravel() for c in reg.coefs_] + list(reg.intercepts_))
    Y = X[:50, 8:9]
    J, grad = reg._loss_grad_lbfgs(theta.copy(), X[:50, :8], Y, None)
    eps, numeric = 1e-5, np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = eps
        numeric[i] = (reg._loss_grad_lbfgs(theta + step, X[:50, :8], Y, None)[0]
                      - reg._loss_grad_lbfgs(theta - step, X[:50, :8], Y, None)[0]) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="activation"):
        MLPClassifier(activation="swish").fit(X, y[:400])
