"""Scale-out on a real Dask cluster (2 worker processes on loopback): restarts and searches
through joblib's dask backend, dask-ml's Incremental and ParallelPostFit, and lazy predict
on dask arrays, each equal to the single-process result. Skipped without the dask extra."""
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")

import dask.array as da  # noqa: E402
import joblib  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

import fastnn as fnn  # noqa: E402


@pytest.fixture(scope="module")
def client():
    # the workers import the same fastnn as this process
    root = str(Path(fnn.__file__).resolve().parents[1])
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    with distributed.Client(cluster) as dask_client:
        yield dask_client
    cluster.close()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 6))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    return X, y, np.eye(2)[y]


def test_restarts_on_the_cluster_equal_sequential_restarts(client, data):
    X, _, Y = data

    def train(n_jobs):
        net = fnn.Network([6, 8, 2], activation="tanh", output="softmax", loss="cross_entropy", seed=0)
        history = net.fit(X, Y, optimizer="adam", epochs=15, restarts=4, seed=3, n_jobs=n_jobs,
                          valley_tol=0.0)
        return net.params.copy(), history

    local_params, local_history = train(None)
    with joblib.parallel_config(backend="dask"):
        cluster_params, cluster_history = train(-1)
    np.testing.assert_array_equal(cluster_params, local_params)
    assert [r["best_loss"] for r in cluster_history.restarts] == [r["best_loss"] for r in local_history.restarts]
    assert len({r["best_loss"] for r in local_history.restarts}) == 4  # four different runs


def test_grid_search_on_the_cluster_equals_local(client, data):
    X, y, _ = data
    search = lambda: GridSearchCV(fnn.MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0),
                                  {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2]}, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        local = search().fit(X, y)
        with joblib.parallel_config(backend="dask"):
            remote = search().set_params(n_jobs=-1).fit(X, y)
    np.testing.assert_array_equal(remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])
    assert remote.best_params_ == local.best_params_


def test_incremental_learns_block_by_block(client, data):
    X, y, _ = data
    X_dask, y_dask = da.from_array(X, chunks=(150, 6)), da.from_array(y, chunks=150)
    incremental = dask_ml_wrappers.Incremental(fnn.MLPClassifier(hidden_layer_sizes=(8,), random_state=0,
                                                                 learning_rate_init=0.01),
                                                shuffle_blocks=False)
    incremental.fit(X_dask, y_dask, classes=[0, 1])
    local = fnn.MLPClassifier(hidden_layer_sizes=(8,), random_state=0, learning_rate_init=0.01)
    for start in range(0, 600, 150):
        local.partial_fit(X[start:start + 150], y[start:start + 150], classes=[0, 1])
    for a, b in zip(incremental.estimator_.coefs_, local.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)


def test_parallel_post_fit_and_lazy_predict(client, data):
    X, y, _ = data
    X_dask = da.from_array(X, chunks=(128, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        wrapped = dask_ml_wrappers.ParallelPostFit(
            fnn.MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0)).fit(X, y)
    probabilities = wrapped.predict_proba(X_dask)
    assert isinstance(probabilities, da.Array)
    np.testing.assert_allclose(probabilities.compute(), wrapped.estimator.predict_proba(X), rtol=1e-12)
    net = fnn.Network([6, 8, 2], seed=0)
    lazy = net.predict(X_dask)
    assert isinstance(lazy, da.Array) and lazy.chunks == ((128, 128, 128, 128, 88), (2,))
    np.testing.assert_allclose(lazy.compute(), net.predict(X), rtol=1e-12)
    with pytest.raises(ValueError, match="expects"):
        net.predict(da.zeros((10, 5), chunks=5))
