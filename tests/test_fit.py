"""Network.fit: reproducibility, the two backends' agreement, and every stopping rule."""
import numpy as np
import pytest

import fastnn as fnn
from fastnn import optim, schedules

from conftest import random_problem

XOR_X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=float)


def classification(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5))
    labels = (X[:, 0] + X[:, 1] ** 2 > 0.8).astype(int) + (X[:, 2] > 0.5)
    return X, np.eye(3)[labels]


def softmax_net(backend="cython", seed=0, dtype="float64"):
    return fnn.Network([5, 16, 3], activation="relu", output="softmax", loss="cross_entropy",
                       backend=backend, dtype=dtype, seed=seed)


@pytest.mark.parametrize("optimizer", [lambda: optim.SGD(lr=0.1, momentum=0.9),
                                       lambda: optim.Adam(lr=0.01), lambda: optim.Rprop()])
def test_compiled_fit_matches_the_numpy_loop(optimizer):
    X, Y = classification()
    nets = [softmax_net(backend) for backend in ("numpy", "cython")]
    histories = [net.fit(X, Y, optimizer=optimizer(), epochs=15, batch_size=16, seed=4,
                         weight_decay=1e-3) for net in nets]
    np.testing.assert_allclose(nets[1].params, nets[0].params, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(histories[1].loss, histories[0].loss, rtol=1e-10)


@pytest.mark.parametrize("name", list(optim.OPTIMIZERS))
def test_same_seed_gives_bit_identical_weights(backend, name):
    X, Y = classification(60)
    runs = []
    for _ in range(2):
        net = softmax_net(backend, seed=1)
        net.fit(X, Y, optimizer=name, epochs=5, batch_size=16, seed=7, validation_fraction=0.2)
        runs.append(net.params.copy())
    np.testing.assert_array_equal(runs[0], runs[1])


def test_full_batch_fit_replays_iamtrask():
    """Seed 004, hidden 4, alpha 1: after 10,000 updates the blog prints 0.00858452565325."""
    np.random.seed(1)
    syn0, syn1 = 2 * np.random.random((3, 4)) - 1, 2 * np.random.random((4, 1)) - 1
    net = fnn.Network([3, 4, 1], bias=False)
    net.weights[0][...], net.weights[1][...] = syn0, syn1
    history = net.fit(XOR_X, XOR_Y, optimizer=optim.SGD(lr=4.0), epochs=10000, batch_size=None)
    np.testing.assert_allclose(np.mean(np.abs(net.forward(XOR_X) - XOR_Y)), 0.00858452565325, rtol=1e-6)
    # the first epoch's loss is J at the blog's starting weights
    first_output = 1 / (1 + np.exp(-(1 / (1 + np.exp(-XOR_X @ syn0))) @ syn1))
    np.testing.assert_allclose(history.loss[0], 0.5 * np.mean((first_output - XOR_Y) ** 2), rtol=1e-12)
    assert history.epochs == 10000 and history.stop_reason == "completed"


def test_mini_batches_cover_every_row_once_per_epoch(backend):
    """Mean batch loss with a zero learning rate is exactly the full-data cost."""
    X, Y = classification(50)
    net = softmax_net(backend)
    history = net.fit(X, Y, optimizer=optim.SGD(lr=0.0), epochs=3, batch_size=7, seed=0)
    np.testing.assert_allclose(history.loss, [net.cost(X, Y)] * 3, rtol=1e-12)


def test_validation_metrics_and_split(backend):
    X, Y = classification(100)
    net = softmax_net(backend)
    history = net.fit(X, Y, optimizer="adam", epochs=4, validation_fraction=0.25, seed=0)
    assert history.metric == "accuracy" and len(history.val_loss) == len(history.val_metric) == 4
    assert all(0 <= a <= 1 for a in history.val_metric)
    X_val, Y_val = X[:30], Y[:30]
    history = net.fit(X, Y, optimizer="adam", epochs=2, validation_data=(X_val, Y_val))
    np.testing.assert_allclose(history.val_loss[-1], net.cost(X_val, Y_val), rtol=1e-12)
    accuracy = np.mean(net.predict(X_val).argmax(1) == Y_val.argmax(1))
    assert history.val_metric[-1] == accuracy


def test_regression_metric_is_r2():
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    Y = X @ rng.standard_normal((3, 2))
    net = fnn.Network([3, 2], output="identity", seed=0)
    history = net.fit(X, Y, optimizer="lbfgs", epochs=5, validation_data=(X, Y))
    assert history.metric == "r2"
    np.testing.assert_allclose(history.val_metric[-1], r2_score(Y, net.predict(X)), rtol=1e-10)


def test_early_stopping_restores_the_best_weights(backend):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((30, 5)), rng.standard_normal((30, 3))  # noise: overfits
    X_val, Y_val = rng.standard_normal((30, 5)), rng.standard_normal((30, 3))
    net = fnn.Network([5, 64, 3], activation="relu", output="identity", backend=backend, seed=0)
    seen = {}
    history = net.fit(X, Y, optimizer=optim.Adam(lr=0.01), epochs=500, batch_size=None,
                      validation_data=(X_val, Y_val), early_stopping=True, patience=5,
                      callbacks=lambda epoch, logs, n: seen.__setitem__(epoch, n.params.copy()))
    assert history.stop_reason == "early_stopping" and history.epochs < 500
    assert history.epochs - 1 - history.best_epoch == 5
    np.testing.assert_array_equal(net.params, seen[history.best_epoch])
    np.testing.assert_allclose(net.cost(X_val, Y_val), min(history.val_loss), rtol=1e-12)


def test_early_stopping_on_training_loss_with_min_delta():
    net = fnn.Network([3, 4, 1], seed=0)
    history = net.fit(XOR_X, XOR_Y, optimizer=optim.SGD(lr=1e-4), epochs=1000, batch_size=None,
                      early_stopping=True, patience=3, min_delta=1e-3)
    assert history.stop_reason == "early_stopping" and history.epochs == 4


def test_callbacks_stop_by_returning_true_or_raising(backend):
    X, Y = classification(40)
    logs_seen = []

    class Recorder:
        def on_epoch_end(self, epoch, logs, network):
            logs_seen.append((epoch, sorted(logs), network))
            return epoch == 2

    net = softmax_net(backend)
    history = net.fit(X, Y, optimizer="adam", epochs=50, callbacks=[Recorder()],
                      validation_fraction=0.2, seed=0)
    assert history.epochs == 3 and history.stop_reason == "callback"
    assert logs_seen[0][1] == ["loss", "lr", "val_accuracy", "val_loss"] and logs_seen[0][2] is net

    def stopper(epoch, logs, network):
        if epoch == 4:
            raise fnn.StopTraining

    history = net.fit(X, Y, optimizer="adam", epochs=50, callbacks=stopper)
    assert history.epochs == 5 and history.stop_reason == "callback"
    with pytest.raises(TypeError, match="callback"):
        net.fit(X, Y, callbacks=[42])


def test_ctrl_c_keeps_the_best_weights_and_the_history(backend):
    X, Y = classification(60)
    net = softmax_net(backend)
    seen = {}

    def interrupt(epoch, logs, network):
        seen[epoch] = network.params.copy()
        if epoch == 6:
            raise KeyboardInterrupt

    history = net.fit(X, Y, optimizer=optim.SGD(lr=2.0), epochs=100, batch_size=10, seed=0,
                      callbacks=interrupt)
    assert history.stop_reason == "interrupted" and history.epochs == 7
    np.testing.assert_array_equal(net.params, seen[history.best_epoch])
    assert history.loss[history.best_epoch] == min(history.loss)


def test_schedules_set_each_epochs_rate(backend):
    X, Y = classification(40)
    cases = [(schedules.StepLR(step_size=2, gamma=0.5), [0.1, 0.1, 0.05, 0.05, 0.025]),
             (schedules.ExponentialLR(gamma=0.9), [0.1 * 0.9 ** e for e in range(5)]),
             (schedules.InverseScaling(power_t=0.5), [0.1 / np.sqrt(e + 1) for e in range(5)]),
             (schedules.InverseScaling(power_t=0.5, unit="samples"),
              [0.1 / np.sqrt(40 * e + 1) for e in range(5)]),
             (schedules.CosineAnnealingLR(T_max=4), [0.1 * (1 + np.cos(np.pi * e / 4)) / 2 for e in range(5)])]
    for schedule, expected in cases:
        history = softmax_net(backend).fit(X, Y, optimizer=optim.SGD(lr=0.1), epochs=5,
                                           lr_schedule=schedule, seed=0)
        np.testing.assert_allclose(history.lr, expected, rtol=1e-12)


def test_schedule_changes_training_like_a_manual_loop():
    """Full-batch SGD with StepLR equals plain gradient steps at the scheduled rates."""
    net, manual = fnn.Network([3, 4, 1], seed=0), fnn.Network([3, 4, 1], seed=0)
    net.fit(XOR_X, XOR_Y, optimizer=optim.SGD(lr=1.0), epochs=6, batch_size=None,
            lr_schedule=schedules.StepLR(step_size=2, gamma=0.1))
    for lr in [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]:
        manual.params -= lr * manual.loss_and_grad(XOR_X, XOR_Y)[1]
    np.testing.assert_allclose(net.params, manual.params, rtol=1e-13)


def test_reduce_on_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    losses = [1.0, 0.9, 0.9, 0.9, 0.9, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.84]
    ours = schedules.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1)
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=1.0)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1)
    for epoch, loss in enumerate(losses):
        assert ours.lr(epoch, 1.0) == pytest.approx(opt.param_groups[0]["lr"])
        ours.observe(epoch, loss)
        theirs.step(loss)


def test_plateau_schedule_in_fit_lowers_the_rate():
    history = fnn.Network([3, 4, 1], seed=0).fit(
        XOR_X, XOR_Y, optimizer=optim.SGD(lr=1e-6), epochs=30, batch_size=None,
        lr_schedule=schedules.ReduceLROnPlateau(factor=0.5, patience=3))
    assert history.lr[0] == 1e-6 and history.lr[-1] < 1e-6


def test_divergence_raises_and_keeps_the_last_weights_whose_loss_was_finite(backend):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((40, 3)), rng.standard_normal((40, 1)) * 100
    net = fnn.Network([3, 8, 1], activation="relu", output="identity", backend=backend, seed=0)
    start = net.copy()
    with pytest.raises(fnn.TrainingDiverged, match=r"epoch \d+, step \d+") as info:
        net.fit(X, Y, optimizer=optim.SGD(lr=10.0), epochs=50, batch_size=8, seed=0)
    error = info.value
    assert error.history.stop_reason == "diverged" and error.history.epochs == error.epoch
    assert error.step >= 0 and not np.isfinite(error.loss)
    # replayed by hand, step by step: every update but the last (whose result's loss was
    # not finite)
    generator, updates = np.random.default_rng(0), 5 * error.epoch + error.step - 1
    for step in range(updates):
        if step % 5 == 0:
            order = generator.permutation(40)
        rows = order[8 * (step % 5):8 * (step % 5) + 8]
        loss, grad = start.loss_and_grad(X[rows], Y[rows])
        start.params[...] = start.params + -10.0 * grad
    np.testing.assert_array_equal(net.params, start.params)
    assert np.isfinite(net.params).all() and np.isfinite(net.cost(X, Y))


def test_divergence_weights_agree_across_backends():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((40, 3)), rng.standard_normal((40, 1)) * 100
    kept = []
    for backend in ("numpy", "cython"):
        net = fnn.Network([3, 8, 1], activation="relu", output="identity", backend=backend, seed=0)
        with pytest.raises(fnn.TrainingDiverged) as info:
            net.fit(X, Y, optimizer=optim.SGD(lr=10.0), epochs=50, batch_size=8, seed=0)
        kept.append((net.params.copy(), info.value.epoch, info.value.step))
    np.testing.assert_allclose(kept[0][0], kept[1][0], rtol=1e-10)
    assert kept[0][1:] == kept[1][1:]


def test_restarts_stop_runs_that_reach_an_earlier_valley():
    """A linear least-squares problem has one minimum: every restart after the first
    reaches the first run's point and is stopped there."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    Y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3
    net = fnn.Network([3, 1], output="identity", seed=0)
    history = net.fit(X, Y, optimizer="lbfgs", epochs=200, restarts=3, valley_tol=1e-4, seed=0,
                      early_stopping=False)
    runs = history.restarts
    assert len(runs) == 3 and runs[0]["same_valley_as"] is None
    assert [r["same_valley_as"] for r in runs[1:]] == [0, 0]
    assert all(r["stop_reason"] == "same_valley" for r in runs[1:])


def test_restarts_keep_the_best_run():
    net = fnn.Network([3, 2, 1], seed=0)
    history = net.fit(XOR_X, XOR_Y, optimizer=optim.Adam(lr=0.05), epochs=300, batch_size=None,
                      restarts=4, seed=3)
    finals = [r["best_loss"] for r in history.restarts]
    assert len(finals) == 4 and len(set(finals)) > 1
    np.testing.assert_allclose(net.cost(XOR_X, XOR_Y), min(finals), rtol=0.05)


def test_float32_training_stays_float32(backend):
    X, Y = classification(40)
    for name in ("adam", "lbfgs", "annealing", "awsgd"):
        net = softmax_net(backend, dtype="float32")
        history = net.fit(X, Y, optimizer=name, epochs=3, seed=0)
        assert net.params.dtype == np.float32 and np.isfinite(history.loss).all()


def test_lbfgs_matches_scipy_called_directly():
    from scipy.optimize import minimize

    X, Y = classification(50)
    net, reference = softmax_net(seed=2), softmax_net(seed=2)
    history = net.fit(X, Y, optimizer=optim.LBFGS(max_iter=25), weight_decay=1e-3)

    def fun(p):
        reference.params[...] = p
        return reference.loss_and_grad(X, Y, weight_decay=1e-3)

    result = minimize(fun, reference.params.copy(), jac=True, method="L-BFGS-B",
                      options={"maxiter": 25})
    np.testing.assert_allclose(net.params, result.x, rtol=1e-9, atol=1e-12)
    assert history.epochs == result.nit <= 25


def test_annealing_then_gradient_training():
    net = fnn.Network([3, 4, 1], seed=0)
    start = net.cost(XOR_X, XOR_Y)
    net.fit(XOR_X, XOR_Y, optimizer=optim.Annealing(step=0.5), epochs=20, seed=0)
    annealed = net.cost(XOR_X, XOR_Y)
    net.fit(XOR_X, XOR_Y, optimizer=optim.Adam(lr=0.05), epochs=200, batch_size=None)
    assert net.cost(XOR_X, XOR_Y) < annealed < start


def test_sample_weights_equal_repeated_rows(backend):
    """The importance weights AWSGD uses: integer weights equal repeating rows."""
    rng = np.random.default_rng(0)
    X, Y = random_problem(rng, [4, 5, 3], "cross_entropy", 6)
    weights = np.array([1.0, 3.0, 0.0, 2.0, 1.0, 1.0])
    net = fnn.Network([4, 5, 3], activation="tanh", output="softmax", loss="cross_entropy",
                      backend=backend, seed=0)
    grad = np.empty_like(net.params)
    J = net._backend.backward(X, Y, 0.0, grad, sample_weight=weights)
    repeat = np.repeat(np.arange(6), weights.astype(int))
    J_rep, grad_rep = net.loss_and_grad(X[repeat], Y[repeat])
    np.testing.assert_allclose(J * 6 / len(repeat), J_rep, rtol=1e-12)
    np.testing.assert_allclose(grad * 6 / len(repeat), grad_rep, rtol=1e-12, atol=1e-15)


def test_awsgd_learns_a_proposal():
    X, Y = classification(120)
    net = softmax_net()
    awsgd = optim.AWSGD(step=optim.Adam(lr=0.01), eta=0.5, mix=0.2)
    start = net.cost(X, Y)
    net.fit(X, Y, optimizer=awsgd, epochs=20, batch_size=16, seed=0)
    q = awsgd.proposal
    assert q.shape == (3,) and np.isclose(q.sum(), 1) and (q >= 0.2 * Y.mean(0) - 1e-12).all()
    assert net.cost(X, Y) < 0.6 * start


def test_progress_bar_and_threads(capsys):
    X, Y = classification(40)
    history = softmax_net().fit(X, Y, epochs=3, progress=True, threads=1)
    assert history.epochs == 3
    assert "fit" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(epochs=0), ValueError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(optimizer="newton"), ValueError, "unknown optimizer"),
    (dict(validation_fraction=1.5), ValueError, "validation_fraction"),
    (dict(validation_fraction=0.2, validation_data=([[0, 0, 1]], [[1]])), ValueError, "not both"),
    (dict(validation_data=([[0, 0]], [[1]])), ValueError, "X_val has 2 features"),
    (dict(lr_schedule="step"), ValueError, "needs its parameters"),
    (dict(restarts=0), ValueError, "restarts"),
    (dict(threads=0), ValueError, "threads"),
    (dict(weight_decay=-1), ValueError, "weight_decay"),
])
def test_bad_fit_arguments_leave_the_network_unchanged(kwargs, error, message):
    net = fnn.Network([3, 4, 1], seed=0)
    before = net.params.copy()
    with pytest.raises(error, match=message):
        net.fit(XOR_X, XOR_Y, **kwargs)
    np.testing.assert_array_equal(net.params, before)


def test_quasi_newton_limits_are_honoured():
    X, Y = classification(50)
    calls = []
    net = softmax_net(seed=2)
    true_backward = net._backend.backward
    net._backend.backward = lambda *a, **k: calls.append(1) or true_backward(*a, **k)
    history = net.fit(X, Y, optimizer=optim.LBFGS(max_fun=7), epochs=100)
    assert history.stop_reason == "max_fun" and len(calls) == 7
    loose = softmax_net(seed=2).fit(X, Y, optimizer=optim.BFGS(tol=1e-1), epochs=500)
    tight = softmax_net(seed=2).fit(X, Y, optimizer=optim.BFGS(tol=1e-8), epochs=500)
    assert loose.epochs < tight.epochs
    capped = softmax_net(seed=2).fit(X, Y, optimizer=optim.BFGS(max_iter=3), epochs=500)
    assert capped.epochs == 3


@pytest.mark.parametrize("factory, message", [
    (lambda: schedules.StepLR(step_size=0), "step_size"),
    (lambda: schedules.StepLR(step_size=2, gamma=-1), "gamma"),
    (lambda: schedules.ExponentialLR(gamma=0), "gamma"),
    (lambda: schedules.InverseScaling(power_t=-1), "power_t"),
    (lambda: schedules.InverseScaling(unit="steps"), "unit"),
    (lambda: schedules.CosineAnnealingLR(T_max=0), "T_max"),
    (lambda: schedules.ReduceLROnPlateau(factor=1.5), "factor"),
    (lambda: schedules.ReduceLROnPlateau(patience=-1), "patience"),
])
def test_bad_schedule_parameters(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


def test_ctrl_c_during_a_compiled_run_keeps_its_epochs():
    import os
    import signal
    import threading

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((2000, 50)), rng.standard_normal((2000, 5))
    net = fnn.Network([50, 256, 5], output="identity", seed=0)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    history = net.fit(X, Y, optimizer=optim.SGD(lr=1e-3), epochs=10_000, batch_size=64, seed=0)
    timer.join()
    assert history.stop_reason == "interrupted" and 0 < history.epochs < 10_000
    assert len(history.loss) == history.epochs and np.isfinite(net.params).all()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_patience_must_be_at_least_one():
    with pytest.raises(ValueError, match="patience"):
        fnn.Network([3, 1], seed=0).fit(XOR_X, XOR_Y, early_stopping=True, patience=0)
