"""Honest failures: no run ends "completed" with broken weights, every optimizer raises
TrainingDiverged and leaves the last weights whose loss was finite, Ctrl-C stops a long
compiled epoch promptly and keeps the best epoch's weights, resumed runs retrace straight
ones (schedules and validation splits included), and overlapping fits leave the process's
BLAS settings as they found them."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import fastnn as fnn

from conftest import random_problem

ROOT = str(Path(fnn.__file__).resolve().parents[1])


def regression(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)), rng.standard_normal((n, 1))


@pytest.mark.parametrize("batch_size", [None, 8])
def test_a_huge_learning_rate_diverges_and_keeps_the_last_finite_weights(backend, batch_size):
    X, Y = regression()
    net = fnn.Network([3, 8, 1], output="identity", backend=backend, seed=0)
    with pytest.raises(fnn.TrainingDiverged) as caught:
        net.fit(X, Y, optimizer=fnn.optim.SGD(lr=1e308), epochs=5, batch_size=batch_size, seed=0)
    assert np.isfinite(net.params).all() and np.isfinite(net.cost(X, Y))
    assert caught.value.history.stop_reason == "diverged"


def dead_unit_network(backend):
    """A relu network whose first hidden unit never fires: its weights get zero gradients,
    so Adam with eps=0 divides 0 by 0 there."""
    net = fnn.Network([2, 3, 1], activation="relu", output="identity", backend=backend, seed=0)
    net.weights[0][:, 0] = -1.0
    net.biases[0][0] = -10.0
    return net


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "adadelta", "adagrad"])
@pytest.mark.parametrize("epochs", [1, 3])
def test_a_nan_update_is_caught_even_when_it_is_the_last(backend, optimizer, epochs):
    X = np.abs(np.random.default_rng(0).standard_normal((16, 2)))
    Y = X.sum(axis=1, keepdims=True)
    net = dead_unit_network(backend)
    rule = fnn.optim.get_optimizer(optimizer)
    rule.eps = 0.0
    before = net.params.copy()
    with pytest.raises(fnn.TrainingDiverged):
        net.fit(X, Y, optimizer=rule, epochs=epochs, batch_size=None)
    assert np.isfinite(net.params).all()
    if epochs == 1:  # the only weights whose loss was computed are the first ones
        np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize("optimizer", ["lbfgs", "bfgs", "annealing"])
def test_full_batch_optimizers_raise_on_an_infinite_loss(backend, optimizer):
    X = np.full((8, 3), 1e200)
    Y = np.zeros((8, 1))
    net = fnn.Network([3, 4, 1], activation="identity", output="identity", backend=backend,
                      seed=0)
    assert not np.isfinite(net.cost(X, Y))
    before = net.params.copy()
    with pytest.raises(fnn.TrainingDiverged):
        net.fit(X, Y, optimizer=optimizer, epochs=3)
    np.testing.assert_array_equal(net.params, before)


def test_relu_propagates_nan_on_both_backends():
    for backend in ("numpy", "cython"):
        net = fnn.Network([2, 3, 1], activation="relu", output="identity", backend=backend, seed=0)
        net.weights[0][0, 1] = np.nan
        assert np.isnan(net.forward([[1.0, 1.0]])).all()


# -- Ctrl-C --------------------------------------------------------------------------------

def interrupt_after(seconds):
    timer = threading.Timer(seconds, os.kill, args=(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signals reach the main thread only")
def test_ctrl_c_stops_a_long_compiled_epoch_promptly():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 100)).astype(np.float32)
    Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 200_000)]
    net = fnn.Network([100, 512, 512, 10], activation="relu", output="softmax",
                      loss="cross_entropy", dtype="float32", seed=0)
    timer = interrupt_after(0.5)
    started = time.perf_counter()
    history = net.fit(X, Y, optimizer="adam", epochs=3, batch_size=64, threads=1)
    elapsed = time.perf_counter() - started
    timer.join()
    assert history.stop_reason == "interrupted" and elapsed < 1.5
    assert np.isfinite(net.params).all()


def xor_training(epochs, **kwargs):
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
    Y = np.array([[0], [1], [1], [0]], dtype=float)
    net = fnn.Network([3, 4, 1], bias=False, init="uniform", seed=np.random.RandomState(1))
    history = net.fit(X, Y, optimizer=fnn.optim.SGD(lr=30.0), epochs=epochs, batch_size=None,
                      **kwargs)
    return net, history


def test_the_compiled_run_keeps_the_best_epochs_weights_not_its_last():
    """Noisy mini-batch epochs: the runner's best weights are those after the epoch with the
    lowest loss of its one compiled call, as a rerun stopped right there shows."""
    from fastnn.training import EpochRunner, row_orders

    X, Y = regression(32)
    orders = row_orders(np.random.default_rng(0), 32, 200, True)

    def runner():
        net = fnn.Network([3, 8, 1], output="identity", seed=0)
        return net, EpochRunner(net, fnn.optim.Adam(lr=0.1), X, Y, 4, 0.0)

    _, whole = runner()
    result = whole.run(orders, np.full(200, 0.1))
    losses = result.losses
    assert result.done == 200 and 0 < result.best_epoch < 199
    assert losses[result.best_epoch] == losses.min() and losses[-1] > losses.min()
    replay_net, replay = runner()
    replay.run(orders[:result.best_epoch + 1], np.full(result.best_epoch + 1, 0.1))
    np.testing.assert_array_equal(whole.best, replay_net.params)


def test_interrupted_fit_restores_the_best_epoch(monkeypatch):
    """Ctrl-C in the middle of a compiled run: the network holds the weights of the History's
    best epoch (checked by retraining up to that epoch)."""
    from fastnn import training

    original = training.EpochRunner.run
    calls = []

    def run_then_interrupt(self, orders, lrs, *args, **kwargs):
        result = original(self, orders, lrs, *args, **kwargs)
        calls.append(len(lrs))
        os.kill(os.getpid(), signal.SIGINT)  # arrives while the next call starts
        return result

    monkeypatch.setattr(training.EpochRunner, "run", run_then_interrupt)
    net, history = xor_training(5000)
    assert history.stop_reason == "interrupted" and history.epochs == sum(calls)
    monkeypatch.setattr(training.EpochRunner, "run", original)
    replay, _ = xor_training(history.best_epoch + 1)
    np.testing.assert_array_equal(net.params, replay.params)


# -- resume ------------------------------------------------------------------------------------

RESUME = """
import sys, numpy as np
sys.path.insert(0, sys.argv[3])
import fastnn as fnn
state = fnn.load_checkpoint(sys.argv[1])
data = np.load(sys.argv[2])
state.network.fit(data["X"], data["Y"], optimizer=state.optimizer, epochs=5, batch_size=8,
                  seed=state.rng, lr_schedule=state.lr_schedule, resume=True, **eval(sys.argv[4]))
state.network.save(sys.argv[1] + ".resumed.npz")
"""


@pytest.mark.parametrize("schedule, options", [
    (lambda: fnn.schedules.StepLR(step_size=3, gamma=0.5), {}),
    (lambda: fnn.schedules.CosineAnnealingLR(T_max=10), {"validation_fraction": 0.2}),
    (lambda: fnn.schedules.ReduceLROnPlateau(patience=1, factor=0.5),
     {"validation_fraction": 0.25}),
])
def test_resume_retraces_a_straight_run_with_schedules_and_validation(tmp_path, schedule, options):
    X, Y = random_problem(np.random.default_rng(3), [4, 8, 2], "mse", 60)
    np.savez(tmp_path / "data.npz", X=X, Y=Y)
    straight = fnn.Network([4, 8, 2], output="identity", seed=1)
    straight_history = straight.fit(X, Y, optimizer=fnn.optim.Adam(lr=0.05), epochs=10,
                                    batch_size=8, seed=np.random.default_rng(7),
                                    lr_schedule=schedule(), **options)
    half = fnn.Network([4, 8, 2], output="identity", seed=1)
    opt, generator, first = fnn.optim.Adam(lr=0.05), np.random.default_rng(7), schedule()
    history = half.fit(X, Y, optimizer=opt, epochs=5, batch_size=8, seed=generator,
                       lr_schedule=first, **options)
    fnn.save_checkpoint(tmp_path / "run.npz", half, opt, history, generator, lr_schedule=first)
    done = subprocess.run([sys.executable, "-c", RESUME, str(tmp_path / "run.npz"),
                           str(tmp_path / "data.npz"), ROOT, repr(options)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(fnn.load(str(tmp_path / "run.npz") + ".resumed.npz").params,
                                  straight.params)
    assert straight_history.lr[5:] != straight_history.lr[:5] or not options


# -- global state ------------------------------------------------------------------------------

def blas_settings():
    return sorted((info["filepath"], info["num_threads"]) for info in threadpool_info()
                  if info["user_api"] == "blas")


@pytest.mark.parametrize("backend_name", ["numpy", "cython"])
def test_overlapping_fits_leave_the_blas_settings_alone(backend_name):
    X, Y = random_problem(np.random.default_rng(0), [300, 300, 10], "cross_entropy", 400)
    before = blas_settings()
    errors = []

    def fit(seed):
        try:
            net = fnn.Network([300, 300, 10], activation="relu", output="softmax",
                              loss="cross_entropy", backend=backend_name, seed=seed)
            net.fit(X, Y, optimizer="adam", epochs=2, batch_size=200, threads=1)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=fit, args=(seed,)) for seed in range(3)]
    for worker in workers:
        worker.start()
    fit(9)
    for worker in workers:
        worker.join()
    assert not errors and blas_settings() == before


# -- smaller ones ----------------------------------------------------------------------------

def test_predict_adapts_its_batch_to_a_very_wide_network():
    import tracemalloc

    net = fnn.Network([2, 600_000, 1], activation="relu", output="identity", seed=0)
    X = np.random.default_rng(0).standard_normal((3000, 2))
    tracemalloc.start()
    out = net.predict(X)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert out.shape == (3000, 1) and peak < 200_000_000
    np.testing.assert_allclose(out, net.predict(X, batch_size=7), rtol=1e-12)


def test_copying_weights_beyond_float32_to_float32_raises():
    net = fnn.Network([2, 1], seed=0)
    net.weights[0][0, 0] = 1e300
    with pytest.raises(ValueError, match="beyond what float32 holds"):
        net.copy(dtype="float32")
    assert net.copy(dtype="float64").params[0] == 1e300


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_the_regressor_with_huge_targets_behaves_as_scikit_learns(solver):
    """Targets of 1e300 make the squared loss infinite: scikit-learn's adam and lbfgs return
    a model (with finite weights), its sgd raises; the drop-in does the same."""
    import warnings

    from sklearn.neural_network import MLPRegressor as SkRegressor

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((50, 3)), rng.standard_normal(50) * 1e300
    outcomes = []
    for cls in (SkRegressor, fnn.MLPRegressor):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model = cls(hidden_layer_sizes=(8,), solver=solver, max_iter=20,
                            random_state=0).fit(X, y)
                outcomes.append(("fitted", all(np.isfinite(W).all() for W in model.coefs_)))
            except ValueError as exc:
                outcomes.append(("refused", "non-finite parameter weights" in str(exc)))
    assert outcomes[0] == outcomes[1]
