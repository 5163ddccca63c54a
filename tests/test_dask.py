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


# -- one network trained on data spread over the cluster (fastnn/dask_blocks.py) ---------------

def regression(n=900, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5))
    return X, np.column_stack([np.sin(X[:, 0]) + X[:, 1] * X[:, 2], np.tanh(X[:, 3])])


def small_net():
    return fnn.Network([5, 8, 2], activation="tanh", output="identity", loss="mse", seed=1)


@pytest.mark.parametrize("optimizer", ["lbfgs", "bfgs"])
def test_quasi_newton_on_dask_blocks_equals_the_in_memory_fit(client, optimizer):
    """50 iterations on uneven row blocks, summed on the workers, reach the in-memory fit's
    weights within 1e-10 (float64: only the summation order differs), with weight decay
    and validation data given as dask arrays."""
    X, Y = regression()
    X_val, Y_val = regression(200, seed=1)
    options = dict(optimizer=optimizer, epochs=50, weight_decay=1e-3)
    local, remote = small_net(), small_net()
    local_history = local.fit(X, Y, validation_data=(X_val, Y_val), **options)
    chunks = (250, 250, 250, 150)
    remote_history = remote.fit(da.from_array(X, chunks=(chunks, 5)), da.from_array(Y, chunks=(chunks, 2)),
                                validation_data=(da.from_array(X_val, chunks=100), da.from_array(Y_val, chunks=100)),
                                **options)
    assert remote_history.epochs == local_history.epochs == 50
    np.testing.assert_allclose(remote.params, local.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(remote_history.loss, local_history.loss, rtol=1e-12)
    np.testing.assert_allclose(remote_history.val_loss, local_history.val_loss, rtol=1e-10)


def test_early_stopping_and_callbacks_see_the_same_run_on_dask_blocks(client):
    X, Y = regression()
    X_val, Y_val = regression(200, seed=2)
    seen = {"local": [], "remote": []}

    def run(name, X_fit, Y_fit):
        net = small_net()
        history = net.fit(X_fit, Y_fit, optimizer="lbfgs", epochs=200, validation_data=(X_val, Y_val),
                          early_stopping=True, patience=3, min_delta=1e-3,
                          callbacks=[lambda epoch, logs, net: seen[name].append(logs["loss"])])
        return net, history

    local, local_history = run("local", X, Y)
    remote, remote_history = run("remote", da.from_array(X, chunks=300), da.from_array(Y, chunks=300))
    assert remote_history.stop_reason == local_history.stop_reason == "early_stopping"
    assert remote_history.epochs == local_history.epochs < 200
    # some 50 iterations: rounding differences grow along the path, still far below the test's
    np.testing.assert_allclose(seen["remote"], seen["local"], rtol=1e-8)
    np.testing.assert_allclose(remote.params, local.params, rtol=0, atol=1e-8)


@pytest.mark.parametrize("options", [dict(optimizer="lbfgs"), dict(optimizer="sgd", batch_size=64, seed=4)],
                         ids=["lbfgs", "streamed-sgd"])
def test_a_worker_killed_mid_fit_changes_nothing(client, options):
    """A worker dies after the fifth epoch (its nanny starts a new one): its blocks are
    recomputed from the arrays' graph, the evaluation or the block being fetched completes,
    and the weights are those of an undisturbed fit on the same blocks (to rounding of the
    in-memory one for lbfgs). An alarm bounds the test in time, should the fit hang."""
    import signal

    X, Y = regression()
    X_dask, Y_dask = da.from_array(X, chunks=150), da.from_array(Y, chunks=150)
    undisturbed = small_net()
    undisturbed.fit(X_dask, Y_dask, epochs=30, **options)
    victim = sorted(client.scheduler_info()["workers"])[0]

    def kill_once(epoch, logs, net):
        if epoch == 5:
            try:
                client.run(os._exit, 1, workers=[victim])
            except Exception:  # the worker dies before it can answer
                pass

    def hung(*_):  # not TimeoutError: the broadcast retries on distributed's timeouts
        pytest.fail("the fit hung after a worker died")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)
    try:
        remote = small_net()
        history = remote.fit(X_dask, Y_dask, epochs=30, callbacks=[kill_once], **options)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        client.wait_for_workers(2, timeout=60)  # the next test gets the whole cluster
    assert history.epochs == 30
    assert victim not in client.scheduler_info()["workers"]  # it did die mid-fit
    np.testing.assert_array_equal(remote.params, undisturbed.params)
    if options["optimizer"] == "lbfgs":
        local = small_net()
        local.fit(X, Y, epochs=30, **options)
        np.testing.assert_allclose(remote.params, local.params, rtol=0, atol=1e-10)


def test_dask_fit_refuses_bad_chunks_and_options_before_any_work():
    """Checked on the client before anything is sent (no cluster needed for these)."""
    X, Y = regression(100)
    net = small_net()
    before = net.params.copy()
    cases = [
        (da.from_array(X, chunks=(50, 2)), da.from_array(Y, chunks=(50, 2)), {}, "chunked by rows only"),
        (da.from_array(X, chunks=50), da.from_array(Y, chunks=40), {}, "same row chunks"),
        (da.from_array(X, chunks=50), Y, {}, "both be dask arrays"),
        (da.from_array(X, chunks=50), da.from_array(Y, chunks=50), {"optimizer": "annealing"}, "lbfgs"),
        (da.from_array(X, chunks=50), da.from_array(Y, chunks=50), {"optimizer": "sgd", "batch_size": None,
                                                                    "dropout_net": True}, "dropout"),
        (da.from_array(X, chunks=50), da.from_array(Y, chunks=50), {"validation_fraction": 0.2},
         "validation_data"),
        (da.from_array(X[:, :4], chunks=50), da.from_array(Y, chunks=50), {}, "4 columns"),
        (da.from_array(X, chunks=50), da.from_array(Y, chunks=50), {"epochs": 0}, "epochs"),
        (da.from_array(X, chunks=50), da.from_array(Y, chunks=50), {"optimizer": "sgd", "batch_size": 100,
                                                                    "dropout_net": True}, "dropout"),
    ]
    dropping = fnn.Network([5, 8, 2], activation="tanh", output="identity", loss="mse", dropout=0.2, seed=1)
    dropping_before = dropping.params.copy()
    for X_fit, Y_fit, options, message in cases:
        options = {"optimizer": "lbfgs", "epochs": 3, **options}
        model = dropping if options.pop("dropout_net", False) else net
        with pytest.raises((ValueError, TypeError), match=message):
            model.fit(X_fit, Y_fit, **options)
    np.testing.assert_array_equal(net.params, before)
    np.testing.assert_array_equal(dropping.params, dropping_before)
    y = da.from_array((X[:, 0] > 0).astype(int), chunks=50)
    for estimator, options, message in [
            (fnn.MLPClassifier(solver="adam"), {}, "solver='lbfgs'"),
            (fnn.MLPClassifier(solver="lbfgs"), {"sample_weight": da.ones(100, chunks=40)}, "same row chunks"),
            (fnn.MLPClassifier(solver="lbfgs"), {"sample_weight": np.ones(99)}, "sample_weight.shape"),
            (fnn.MLPRegressor(solver="lbfgs"), {"sample_weight": da.zeros(100, chunks=50)}, "positive sum")]:
        with pytest.raises((ValueError, TypeError), match=message):
            estimator.fit(da.from_array(X, chunks=50), y, **options)
        assert not hasattr(estimator, "coefs_") and not hasattr(estimator, "n_features_in_")
    with pytest.raises(TypeError, match="both be dask arrays"):
        fnn.MLPClassifier(solver="lbfgs").fit(X, y, sample_weight=np.ones(100))
    with pytest.raises(TypeError, match="partial_fit takes in-memory"):
        fnn.MLPClassifier().partial_fit(da.from_array(X, chunks=50), y, classes=[0, 1])
    unknown = da.from_array(X, chunks=50)
    unknown = unknown[unknown[:, 0] > -10]  # a filter: row counts unknown until computed
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        net.fit(unknown, da.from_array(Y, chunks=50), optimizer="lbfgs")


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_full_batch_gradient_descent_on_dask_blocks(client, optimizer):
    """batch_size=None: one step per epoch on the loss summed over the blocks. One block is
    the in-memory fit bit for bit (its share of the sum is exactly 1), float32 too; uneven
    blocks sum in another order than the in-memory product, so equal within rounding."""
    X, Y = regression()
    options = dict(optimizer=optimizer, epochs=20, batch_size=None, weight_decay=1e-3, threads=1)
    for dtype in ("float64", "float32"):
        local = fnn.Network([5, 8, 2], activation="tanh", output="identity", loss="mse", seed=1, dtype=dtype)
        remote = local.copy()
        local_history = local.fit(X, Y, **options)
        remote_history = remote.fit(da.from_array(X, chunks=(900, 5)), da.from_array(Y, chunks=(900, 2)), **options)
        np.testing.assert_array_equal(remote.params, local.params)
        np.testing.assert_array_equal(remote_history.loss, local_history.loss)
    local, remote = small_net(), small_net()
    local.fit(X, Y, **options)
    chunks = (250, 250, 250, 150)
    remote.fit(da.from_array(X, chunks=(chunks, 5)), da.from_array(Y, chunks=(chunks, 2)), **options)
    np.testing.assert_allclose(remote.params, local.params, rtol=0, atol=1e-13)


def test_mini_batches_streamed_from_the_blocks_are_the_in_memory_fit(client):
    """batch_size set: the blocks come to the client one at a time and batches span block
    boundaries (blocks of 250 rows, batches of 32), so the model is the in-memory fit's over
    the same row order, bit for bit: the data's order without shuffle (here with dropout, a
    per-batch schedule and clipping, which see every step), and with shuffle the documented
    order (a permutation of the blocks, then of each block's rows, drawn from the seed)."""
    X, Y = regression()
    chunks = (250, 250, 250, 150)
    X_dask, Y_dask = da.from_array(X, chunks=(chunks, 5)), da.from_array(Y, chunks=(chunks, 2))

    def dropping():
        return fnn.Network([5, 8, 2], activation="tanh", output="identity", loss="mse", dropout=0.1, seed=1)

    options = dict(optimizer="adam", epochs=4, batch_size=32, shuffle=False, seed=5, threads=1,
                   clip_norm=0.5, lr_schedule=fnn.schedules.OneCycleLR(max_lr=0.02))
    local, remote = dropping(), dropping()
    local_history = local.fit(X, Y, **options)
    remote_history = remote.fit(X_dask, Y_dask, **options)
    np.testing.assert_array_equal(remote.params, local.params)
    np.testing.assert_array_equal(remote_history.lr, local_history.lr)
    np.testing.assert_allclose(remote_history.loss, local_history.loss, rtol=1e-12)

    remote, remote_sgd = small_net(), fnn.optim.SGD(lr=0.05, momentum=0.9)
    remote.fit(X_dask, Y_dask, optimizer=remote_sgd, epochs=3, batch_size=32, seed=7, threads=1)
    local, local_sgd = small_net(), fnn.optim.SGD(lr=0.05, momentum=0.9)
    rng, starts = np.random.default_rng(7), np.cumsum((0,) + chunks)
    for epoch in range(3):
        order = np.concatenate([starts[b] + rng.permutation(chunks[b]) for b in rng.permutation(4)])
        local.fit(X[order], Y[order], optimizer=local_sgd, epochs=1, batch_size=32, shuffle=False,
                  resume=epoch > 0, threads=1)
    np.testing.assert_array_equal(remote.params, local.params)
    assert remote_sgd.t == local_sgd.t == 3 * 29


def test_validation_callbacks_and_interruption_of_streamed_epochs(client):
    """Validation data, callbacks and Ctrl-C (here a KeyboardInterrupt from a callback after
    the third epoch) end a streamed fit as they end the in-memory one."""
    X, Y = regression()
    X_val, Y_val = regression(200, seed=3)

    def interrupt(epoch, logs, net):
        if epoch == 2:
            raise KeyboardInterrupt

    def run(X_fit, Y_fit):
        net = small_net()
        history = net.fit(X_fit, Y_fit, optimizer="sgd", epochs=10, batch_size=64, shuffle=False, threads=1,
                          validation_data=(X_val, Y_val), callbacks=[interrupt])
        return net, history

    local, local_history = run(X, Y)
    remote, remote_history = run(da.from_array(X, chunks=200), da.from_array(Y, chunks=200))
    assert remote_history.stop_reason == local_history.stop_reason == "interrupted"
    assert remote_history.epochs == local_history.epochs == 3
    np.testing.assert_allclose(remote_history.val_loss, local_history.val_loss, rtol=1e-12)
    np.testing.assert_array_equal(remote.params, local.params)


def test_drop_ins_fit_dask_arrays_with_lbfgs(client):
    """MLPClassifier (string labels, sample weights as a dask array) and MLPRegressor fitted
    on dask arrays with lbfgs: the in-memory fit's weights within 1e-10 after 50 iterations."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((700, 6))
    labels = np.array(["low", "mid", "high"])[(X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 1)]
    weights = rng.uniform(0.2, 2.0, 700)
    X_dask = da.from_array(X, chunks=200)
    make = dict(hidden_layer_sizes=(8,), activation="tanh", solver="lbfgs", max_iter=50, alpha=1e-2,
                random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        local = fnn.MLPClassifier(**make).fit(X, labels, sample_weight=weights)
        remote = fnn.MLPClassifier(**make).fit(X_dask, da.from_array(labels, chunks=200),
                                               sample_weight=da.from_array(weights, chunks=200))
        target = X[:, 0] ** 2 + X[:, 1]
        local_regressor = fnn.MLPRegressor(**make).fit(X, target)
        remote_regressor = fnn.MLPRegressor(**make).fit(X_dask, da.from_array(target, chunks=200))
    assert list(remote.classes_) == list(local.classes_) == ["high", "low", "mid"]
    assert remote.n_iter_ == local.n_iter_ == 50 and remote.n_features_in_ == 6
    for fitted, reference in ((remote, local), (remote_regressor, local_regressor)):
        for a, b in zip(fitted.coefs_ + fitted.intercepts_, reference.coefs_ + reference.intercepts_, strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
        assert fitted.loss_ == pytest.approx(reference.loss_, rel=1e-10)
    np.testing.assert_array_equal(remote.predict(X), local.predict(X))
    before = remote.predict_proba(X)
    remote.set_params(warm_start=True)
    with pytest.raises(ValueError, match="same classes"):
        remote.fit(X_dask, da.from_array(np.where(labels == "mid", "low", labels), chunks=200))
    np.testing.assert_array_equal(remote.predict_proba(X), before)


@pytest.mark.parametrize("chunks, lr, scale", [((250, 250, 250, 150), 1e3, 1.0),
                                                ((32, 300, 300, 268), 1e305, 1e6)])
def test_divergence_of_streamed_epochs_is_reported_as_in_memory(client, chunks, lr, scale):
    """A rate that blows the weights up: the streamed fit stops at the same epoch and step,
    with the same message, and puts back the same last weights whose loss was finite. In
    the second case the first block's only update leaves infinite weights, which the next
    block's first step meets (as the in-memory loop's next step does)."""
    X, Y = regression()
    Y = Y * scale
    errors, params = [], []
    for X_fit, Y_fit in ((X, Y), (da.from_array(X, chunks=(chunks, 5)), da.from_array(Y, chunks=(chunks, 2)))):
        net = small_net()
        with pytest.raises(fnn.TrainingDiverged) as caught:
            net.fit(X_fit, Y_fit, optimizer=fnn.optim.SGD(lr=lr), epochs=5, batch_size=32, shuffle=False, threads=1)
        errors.append(str(caught.value))
        params.append(net.params.copy())
    assert errors[0] == errors[1]
    assert np.isfinite(params[1]).all()
    np.testing.assert_array_equal(params[1], params[0])
