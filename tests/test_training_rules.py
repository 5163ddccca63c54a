"""Gradient clipping, weight averaging and per-batch learning-rate schedules in Network.fit:
whole training runs against the same run written in PyTorch (torch.nn.utils.clip_grad_*,
torch.optim.swa_utils.AveragedModel, torch.optim.lr_scheduler), the compiled loop against
the NumPy reference, and the errors."""
import math

import numpy as np
import pytest

import fastnn as fnn
from fastnn.schedules import (CosineAnnealingWarmRestarts, LinearWarmup, OneCycleLR,
                              ReduceLROnPlateau, StepLR)

LAYERS = [5, 7, 3]


def problem(n=53, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, LAYERS[0]))
    Y = np.eye(LAYERS[-1])[rng.integers(0, LAYERS[-1], n)]
    return X, Y


def network(backend="cython", dtype="float64"):
    return fnn.Network(LAYERS, activation="tanh", output="softmax", loss="cross_entropy",
                       seed=1, backend=backend, dtype=dtype)


def torch_run(net, X, Y, epochs, batch_size, lr, make_scheduler=None, clip_norm=None,
              clip_value=None, average=None, ema_decay=0.999, swa_start=0, weight_decay=0.0):
    """The same training written in PyTorch: Adam, unshuffled mini-batches, J = mean
    cross-entropy + (weight_decay / 2) sum ||W||^2. Returns (final weights, averaged or None)
    as fastnn's flat parameter vector."""
    torch = pytest.importorskip("torch")
    swa_utils = torch.optim.swa_utils
    model = net.to_torch().double()
    linears = [layer for layer in model if isinstance(layer, torch.nn.Linear)]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = make_scheduler(opt) if make_scheduler else None
    averaged = None
    if average == "ema":
        averaged = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(ema_decay))
    elif average == "swa":
        averaged = swa_utils.AveragedModel(model)
    X_t, labels = torch.tensor(X), torch.tensor(Y.argmax(axis=1))
    for epoch in range(epochs):
        for start in range(0, X.shape[0], batch_size):
            rows = slice(start, start + batch_size)
            opt.zero_grad()
            z = model[:-1](X_t[rows])  # the logits: the Softmax layer is the output's
            J = torch.nn.functional.cross_entropy(z, labels[rows])
            J = J + 0.5 * weight_decay * sum((layer.weight ** 2).sum() for layer in linears)
            J.backward()
            if clip_value is not None:
                torch.nn.utils.clip_grad_value_(model.parameters(), clip_value)
            if clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
            opt.step()
            if scheduler is not None:
                scheduler.step()
            if average == "ema":
                averaged.update_parameters(model)
        if average == "swa" and epoch >= swa_start:
            averaged.update_parameters(model)
    flat = fnn.Network.from_torch(model).params
    return flat, (None if averaged is None else fnn.Network.from_torch(averaged.module).params)


@pytest.mark.parametrize("rules", [dict(clip_norm=0.05), dict(clip_value=0.02),
                                   dict(clip_value=0.05, clip_norm=0.08)])
def test_clipping_matches_torch(backend, rules):
    X, Y = problem()
    net = network(backend)
    expected, _ = torch_run(net, X, Y, epochs=4, batch_size=8, lr=0.01, weight_decay=0.01,
                            **rules)
    net.fit(X, Y, optimizer=fnn.optim.Adam(lr=0.01), epochs=4, batch_size=8, shuffle=False,
            weight_decay=0.01, **rules)
    np.testing.assert_allclose(net.params, expected, rtol=1e-9, atol=1e-12)


def test_clipping_changes_the_steps():
    """The clip is active in the runs above: unclipped training ends elsewhere."""
    X, Y = problem()
    clipped, free = network(), network()
    clipped.fit(X, Y, optimizer="sgd", epochs=3, batch_size=8, shuffle=False, clip_norm=0.01)
    free.fit(X, Y, optimizer="sgd", epochs=3, batch_size=8, shuffle=False)
    start = network().params
    moved_clipped = np.linalg.norm(clipped.params - start)
    assert moved_clipped < np.linalg.norm(free.params - start)
    # SGD's step is lr * g with ||g|| <= clip_norm: at most 3 epochs * 7 steps * 0.01 * 0.01
    assert moved_clipped <= 21 * 0.01 * 0.01 * (1 + 1e-9)


@pytest.mark.parametrize("average, extra", [("ema", dict(ema_decay=0.9)),
                                            ("ema", dict(ema_decay=0.3)),
                                            ("swa", dict(swa_start=2))])
def test_averaging_matches_torch_averaged_model(backend, average, extra):
    X, Y = problem()
    net = network(backend)
    raw, averaged = torch_run(net, X, Y, epochs=5, batch_size=16, lr=0.02, average=average,
                              **extra)
    history = net.fit(X, Y, optimizer=fnn.optim.Adam(lr=0.02), epochs=5, batch_size=16,
                      shuffle=False, average=average, **extra)
    np.testing.assert_allclose(net.params, averaged, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(history.raw_params, raw, rtol=1e-9, atol=1e-12)
    assert not np.allclose(history.raw_params, net.params)


def test_swa_start_defaults_to_three_quarters_of_the_epochs():
    X, Y = problem()
    default, explicit = network(), network()
    default.fit(X, Y, optimizer="adam", epochs=8, batch_size=16, average="swa", seed=0)
    explicit.fit(X, Y, optimizer="adam", epochs=8, batch_size=16, average="swa", swa_start=6,
                 seed=0)
    np.testing.assert_array_equal(default.params, explicit.params)


def test_callbacks_see_the_raw_weights_and_interruption_keeps_the_average():
    """Per-epoch Python runs (a callback) average the same as a compiled run, callbacks see
    the trained weights, and a run stopped by a callback still ends on the average."""
    X, Y = problem()
    seen = []
    compiled, stepped = network(), network()
    compiled.fit(X, Y, optimizer="adam", epochs=6, batch_size=16, seed=0, average="swa", swa_start=1)
    history = stepped.fit(X, Y, optimizer="adam", epochs=6, batch_size=16, seed=0, average="swa",
                          swa_start=1, callbacks=lambda e, logs, net: seen.append(net.params.copy()))
    np.testing.assert_array_equal(stepped.params, compiled.params)
    np.testing.assert_array_equal(seen[-1], history.raw_params)
    # SWA: the mean of the weights after epochs 1..5 (swa_start=1)
    np.testing.assert_allclose(stepped.params, np.mean(seen[1:], axis=0), rtol=1e-12, atol=1e-15)
    stopped = network()
    stopped.fit(X, Y, optimizer="adam", epochs=6, batch_size=16, seed=0, average="swa", swa_start=1,
                callbacks=lambda e, logs, net: e == 3)
    np.testing.assert_allclose(stopped.params, np.mean(seen[1:4], axis=0), rtol=1e-12, atol=1e-15)


def torch_schedule_run(make_fastnn, make_torch, epochs=6, batch_size=8, lr=0.01):
    """The same run in torch and in fastnn, compiled in one call and, with a callback, one
    epoch per call (the schedule must see the run's length, not the call's)."""
    X, Y = problem()
    expected, _ = torch_run(network(), X, Y, epochs, batch_size, lr, make_scheduler=make_torch)
    for callbacks in (None, lambda epoch, logs, net: None):
        net = network()
        history = net.fit(X, Y, optimizer=fnn.optim.Adam(lr=lr), epochs=epochs,
                          batch_size=batch_size, shuffle=False, lr_schedule=make_fastnn(),
                          callbacks=callbacks)
        np.testing.assert_allclose(net.params, expected, rtol=1e-9, atol=1e-12)
    return history


@pytest.mark.parametrize("kwargs", [dict(), dict(anneal_strategy="linear", pct_start=0.5),
                                    dict(three_phase=True, div_factor=10, final_div_factor=100)])
def test_one_cycle_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    steps = 6 * 7  # 53 rows in batches of 8
    torch_schedule_run(lambda: OneCycleLR(0.05, **kwargs),
                       lambda opt: torch.optim.lr_scheduler.OneCycleLR(
                           opt, 0.05, total_steps=steps, cycle_momentum=False, **kwargs))


def test_one_cycle_rates_against_torch_over_a_cycle_and_its_length_rule():
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    theirs = torch.optim.lr_scheduler.OneCycleLR(opt, 2.0, epochs=5, steps_per_epoch=9,
                                                 cycle_momentum=False, pct_start=0.25)
    ours = OneCycleLR(2.0, epochs=5, steps_per_epoch=9, pct_start=0.25)
    for step in range(45):
        assert ours.lr_at(step, 123.0, 9, 45) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-14)
        opt.step()
        theirs.step()
    X, Y = problem()
    with pytest.raises(ValueError, match="covers 45 steps; this fit would take 70"):
        network().fit(X, Y, optimizer="adam", epochs=10, batch_size=8, lr_schedule=ours)


@pytest.mark.parametrize("T_mult", [1, 2])
def test_cosine_warm_restarts_matches_torch_at_fractional_epochs(T_mult):
    torch = pytest.importorskip("torch")
    steps = 7

    class PerBatch:  # torch's documented per-batch use: step(epoch + i / iters)
        def __init__(self, opt):
            self.inner = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
                opt, T_0=2, T_mult=T_mult, eta_min=1e-4)
            self.count = 0

        def step(self):
            self.count += 1
            self.inner.step(self.count / steps)

    torch_schedule_run(lambda: CosineAnnealingWarmRestarts(2, T_mult, eta_min=1e-4), PerBatch,
                       epochs=7)


def test_linear_warmup_matches_torch_linear_lr_then_hands_over():
    torch = pytest.importorskip("torch")
    torch_schedule_run(lambda: LinearWarmup(10, start_factor=0.1),
                       lambda opt: torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1,
                                                                     total_iters=10))
    warm = LinearWarmup(10, after=StepLR(2, gamma=0.5), start_factor=0.2)
    rates = [warm.lr_at(step, 1.0, 7, 70) for step in range(70)]
    assert rates[0] == pytest.approx(0.2) and rates[5] == pytest.approx(0.6)
    assert rates[10:14] == [1.0] * 4  # epoch 1: StepLR still at lr0
    assert rates[14] == 0.5 and rates[28] == 0.25  # epochs 2 and 4


def test_per_batch_schedules_agree_between_backends_and_record_each_epochs_first_rate():
    """53 rows in batches of 10: 6 steps per epoch, 24 in all; History.lr holds the rate of
    steps 0, 6, 12 and 18, written out from each schedule's definition (lr0 = 0.001)."""
    X, Y = problem()
    # one cycle: cosine from 0.05 / 25 up to 0.05 at step 0.3 * 24 - 1, down to 2e-7 at 23
    one_cycle = [end + (start - end) / 2 * (math.cos(math.pi * (step - first) / (last - first)) + 1)
                 for step, first, last, start, end in [(0, 0, 6.2, 0.002, 0.05),
                                                       (6, 0, 6.2, 0.002, 0.05),
                                                       (12, 6.2, 23, 0.05, 2e-7),
                                                       (18, 6.2, 23, 0.05, 2e-7)]]
    # warm-up factor 1/3 + (2/3) min(s, 9) / 9 on StepLR(2): 0.001 for epochs 0-1, then 1e-4
    warmup = [0.001 / 3, 0.001 * (1 / 3 + 2 / 3 * 6 / 9), 1e-4, 1e-4]
    # SGDR with T_0 = 1, T_mult = 2: cycles [0, 1), [1, 3), [3, 7); epoch 2 is half way
    restarts = [0.001, 0.001, 0.0005, 0.001]
    for make, expected in ((lambda: OneCycleLR(0.05), one_cycle),
                           (lambda: LinearWarmup(9, after=StepLR(2)), warmup),
                           (lambda: CosineAnnealingWarmRestarts(1, 2), restarts)):
        nets = [network(backend) for backend in ("cython", "numpy")]
        histories = [net.fit(X, Y, optimizer="adam", epochs=4, batch_size=10, seed=2,
                             lr_schedule=make()) for net in nets]
        np.testing.assert_allclose(nets[0].params, nets[1].params, rtol=1e-12, atol=1e-15)
        assert histories[0].lr == pytest.approx(expected, rel=1e-12)


def test_linear_warmup_of_a_plateau_schedule_observes_and_checkpoints(tmp_path):
    X, Y = problem()
    schedule = LinearWarmup(5, after=ReduceLROnPlateau(patience=0, factor=0.5))
    net, opt = network(), fnn.optim.Adam(lr=0.01)
    history = net.fit(X, Y, optimizer=opt, epochs=3, batch_size=10, lr_schedule=schedule,
                      seed=0)
    assert schedule.depends_on_loss and len(history.lr) == 3
    assert schedule.after.state_dict()["best"] in history.loss  # the plateau saw the losses
    fnn.save_checkpoint(tmp_path / "run.npz", net, opt, history, lr_schedule=schedule)
    restored = fnn.load_checkpoint(tmp_path / "run.npz").lr_schedule
    assert isinstance(restored, LinearWarmup) and isinstance(restored.after, ReduceLROnPlateau)
    assert restored.warmup_steps == 5 and restored.after.state_dict() == schedule.after.state_dict()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rules_give_bit_identical_runs_for_any_thread_count(dtype):
    """Clipping and averaging add no thread-dependent sums: 1 and 2 threads agree bit for
    bit (the loss blocks and updates are split in fixed pieces)."""
    X, Y = problem(n=300)
    results = []
    for threads in (1, 2, 1):
        net = network(dtype=dtype)
        net.fit(X, Y, optimizer="adam", epochs=3, batch_size=64, seed=4, threads=threads,
                clip_norm=0.1, average="ema", ema_decay=0.9, lr_schedule=OneCycleLR(0.02))
        results.append(net.params.copy())
    np.testing.assert_array_equal(results[0], results[2])
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("kwargs, message", [
    (dict(clip_norm=0), "clip_norm must be > 0"),
    (dict(clip_value=-1.0), "clip_value must be > 0"),
    (dict(clip_norm=float("nan")), "clip_norm must be a finite real number"),
    (dict(average="mean"), "average must be None, 'ema' or 'swa'"),
    (dict(average="ema", ema_decay=1.0), "ema_decay must be < 1"),
    (dict(average="swa", swa_start=5), "swa_start=5 leaves none of the 5 epochs"),
    (dict(average="swa", swa_start=1.5), "swa_start must be an integer"),
    (dict(optimizer="lbfgs", clip_norm=1.0), "clip_norm: only the first-order optimizers"),
    (dict(optimizer="lbfgs", average="ema"), "average: only the first-order"),
    (dict(optimizer="lbfgs", lr_schedule=OneCycleLR(0.1)), r"OneCycleLR \(per batch\)"),
    (dict(average="ema", early_stopping=True), "pass restore_best_weights=False"),
])
def test_bad_rules_are_refused_before_training(kwargs, message):
    X, Y = problem()
    net = network()
    before = net.params.copy()
    kwargs = {"optimizer": "adam", **kwargs}
    with pytest.raises(ValueError, match=message):
        net.fit(X, Y, epochs=5, batch_size=8, **kwargs)
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize("make, message", [
    (lambda: OneCycleLR(0), "max_lr must be > 0"),
    (lambda: OneCycleLR(1, pct_start=1), "pct_start must be < 1"),
    (lambda: OneCycleLR(1, epochs=3), "give total_steps, or both epochs and steps_per_epoch"),
    (lambda: OneCycleLR(1, anneal_strategy="cosine"), "anneal_strategy must be 'cos' or 'linear'"),
    (lambda: CosineAnnealingWarmRestarts(0), "T_0 must be an integer >= 1"),
    (lambda: LinearWarmup(5, after="step"), "after must be a fastnn.schedules.Schedule"),
    (lambda: LinearWarmup(0), "warmup_steps must be an integer >= 1"),
    (lambda: LinearWarmup(5, start_factor=0), "start_factor must be > 0"),
])
def test_bad_schedule_arguments(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_one_cycle_too_short_for_its_warmup_phase():
    X, Y = problem(n=8)
    with pytest.raises(ValueError, match="leaves a phase with no steps"):
        network().fit(X, Y, optimizer="adam", epochs=2, batch_size=8,
                      lr_schedule=OneCycleLR(0.1, pct_start=0.3))


def test_one_cycle_peak_is_max_lr():
    schedule = OneCycleLR(0.4, total_steps=100, pct_start=0.3)
    rates = [schedule.lr_at(step, 1.0, 10, 100) for step in range(100)]
    assert max(rates) == pytest.approx(0.4) and rates.index(max(rates)) == 29
    assert rates[0] == pytest.approx(0.4 / 25) and rates[-1] == pytest.approx(0.4 / 25 / 1e4)
    assert all(math.isfinite(r) for r in rates)
