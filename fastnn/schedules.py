"""Learning-rate schedules for Network.fit.

A schedule gives the learning rate of each epoch (counted from 0) from the optimizer's
initial rate lr0, or, for the per-batch schedules (`per_batch`), of each mini-batch step s
(counted from 0 over the whole run, S steps per epoch). All but ReduceLROnPlateau depend on
the epoch or step alone, so the compiled training loop takes a whole run of epochs at once,
with one rate per step where the schedule is per batch.

===========================  =========================================================
StepLR                       lr0 * gamma ^ floor(epoch / step_size)
ExponentialLR                lr0 * gamma ^ epoch
InverseScaling               lr0 / (t + 1) ^ power_t, t = epochs (or samples) seen before
CosineAnnealingLR            eta_min + (lr0 - eta_min) (1 + cos(pi epoch / T_max)) / 2
ReduceLROnPlateau            lr * factor after `patience` epochs without improvement
OneCycleLR (per batch)       max_lr/div_factor up to max_lr over pct_start of the steps,
                             then down to max_lr/(div_factor final_div_factor)
CosineAnnealingWarmRestarts  eta_min + (lr0 - eta_min) (1 + cos(pi T_cur / T_i)) / 2,
(per batch)                  T_cur = epochs (fractional: s / S) since the last restart
LinearWarmup (per batch)     another schedule's rate times a factor rising linearly from
                             start_factor to 1 over warmup_steps steps
===========================  =========================================================

>>> from fastnn.schedules import StepLR
>>> [StepLR(step_size=2, gamma=0.5).lr(epoch, 1.0) for epoch in range(5)]
[1.0, 1.0, 0.5, 0.5, 0.25]
"""
import math

import numpy as np

from .optim.base import check_count, check_real

__all__ = ["Schedule", "StepLR", "ExponentialLR", "InverseScaling", "CosineAnnealingLR",
           "ReduceLROnPlateau", "OneCycleLR", "CosineAnnealingWarmRestarts", "LinearWarmup",
           "SCHEDULES"]


def __dir__():  # tab completion shows the public names only
    return __all__


class Schedule:
    """Base: `lr(epoch, lr0, n_samples)` for the epoch about to run; per-batch schedules
    give `lr_at(steps, lr0, steps_per_epoch, total_steps)` for mini-batch steps."""

    depends_on_loss = False
    per_batch = False

    def lr_at(self, steps, lr0, steps_per_epoch, total_steps, n_samples=1):
        """The rates of mini-batch steps `steps` (an array, or one step, counted from 0) of
        a run of total_steps steps, steps_per_epoch per epoch, in one call (the training loop
        asks for a whole run of steps at once): an epoch schedule's rate holds through its
        epoch."""
        epochs, where = np.unique(np.asarray(steps) // steps_per_epoch, return_inverse=True)
        rates = np.array([self.lr(int(epoch), lr0, n_samples) for epoch in epochs])
        return rates[where].reshape(np.shape(steps))[()]

    def check_steps(self, total_steps):
        """Raise ValueError when a run of total_steps steps is more than the schedule covers."""

    def start(self):
        """Forget any state from an earlier fit."""

    def lr(self, epoch, lr0, n_samples=1):
        raise NotImplementedError

    def observe(self, epoch, monitored):
        """The monitored loss after an epoch (only plateau schedules use it)."""

    def parameters(self):
        """The constructor's arguments (what a checkpoint stores to rebuild the schedule)."""
        return {key: value for key, value in vars(self).items() if not key.startswith("_")}

    def state_dict(self):
        """What the schedule has learned from the losses seen (nothing, but for plateaus)."""
        return {}

    def load_state_dict(self, state):
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state; got {state!r}")

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items() if not k.startswith('_'))})"


class StepLR(Schedule):
    def __init__(self, step_size, gamma=0.1):
        self.step_size = check_count(step_size, "step_size")
        self.gamma = check_real(gamma, "gamma", low=0, low_open=True)

    def lr(self, epoch, lr0, n_samples=1):
        return lr0 * self.gamma ** (epoch // self.step_size)


class ExponentialLR(Schedule):
    def __init__(self, gamma):
        self.gamma = check_real(gamma, "gamma", low=0, low_open=True)

    def lr(self, epoch, lr0, n_samples=1):
        return lr0 * self.gamma ** epoch


class InverseScaling(Schedule):
    """lr0 / (t + 1)^power_t with t the epochs seen, or with unit="samples" the samples
    seen (scikit-learn's 'invscaling')."""

    def __init__(self, power_t=0.5, unit="epochs"):
        self.power_t = check_real(power_t, "power_t", low=0)
        if unit not in ("epochs", "samples"):
            raise ValueError(f"unit must be 'epochs' or 'samples'; got {unit!r}")
        self.unit = unit

    def lr(self, epoch, lr0, n_samples=1):
        t = epoch * (n_samples if self.unit == "samples" else 1)
        return lr0 / (t + 1) ** self.power_t


class CosineAnnealingLR(Schedule):
    def __init__(self, T_max, eta_min=0.0):
        self.T_max = check_count(T_max, "T_max")
        self.eta_min = check_real(eta_min, "eta_min", low=0)

    def lr(self, epoch, lr0, n_samples=1):
        return self.eta_min + (lr0 - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class ReduceLROnPlateau(Schedule):
    """Multiply the rate by `factor` once the monitored loss has not improved by more than
    `threshold` (relative) for `patience` epochs; then wait `cooldown` epochs."""

    depends_on_loss = True

    def __init__(self, factor=0.1, patience=10, threshold=1e-4, cooldown=0, min_lr=0.0):
        self.factor = check_real(factor, "factor", low=0, high=1, low_open=True, high_open=True)
        self.patience = check_count(patience, "patience", low=0)
        self.threshold = check_real(threshold, "threshold", low=0)
        self.cooldown = check_count(cooldown, "cooldown", low=0)
        self.min_lr = check_real(min_lr, "min_lr", low=0)
        self.start()

    def start(self):
        self._best, self._bad, self._cool, self._scale = math.inf, 0, 0, 1.0

    def state_dict(self):
        return {"best": self._best, "bad": self._bad, "cool": self._cool, "scale": self._scale}

    def load_state_dict(self, state):
        best, bad, cool, scale = state["best"], state["bad"], state["cool"], state["scale"]
        if not (isinstance(best, (int, float)) and isinstance(scale, (int, float)) and 0 < scale <= 1
                and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (bad, cool))):
            raise ValueError(f"not a ReduceLROnPlateau state: {state!r}")
        self._best, self._bad, self._cool, self._scale = float(best), bad, cool, float(scale)

    def lr(self, epoch, lr0, n_samples=1):
        return max(lr0 * self._scale, self.min_lr)

    def observe(self, epoch, monitored):
        if monitored < self._best * (1 - self.threshold):
            self._best, self._bad = monitored, 0
        else:
            self._bad += 1
        if self._cool > 0:
            self._cool -= 1
            self._bad = 0
        elif self._bad > self.patience:
            self._scale *= self.factor
            self._cool, self._bad = self.cooldown, 0


class OneCycleLR(Schedule):
    """The one-cycle policy (Smith and Topin, 2018), with torch.optim.lr_scheduler.OneCycleLR's
    semantics, stepped once per mini-batch: from initial = max_lr / div_factor up to max_lr
    over the first pct_start * total_steps - 1 steps, then down to initial / final_div_factor
    at step total_steps - 1 (anneal_strategy "cos": end + (start - end)(1 + cos(pi p)) / 2 at
    fraction p of a phase; "linear": start + (end - start) p). With three_phase, the second
    phase comes back to initial at step 2 pct_start total_steps - 2 and a third anneals to
    the minimum. The optimizer's own lr is not used.

    total_steps, or epochs and steps_per_epoch, fix the cycle's length; left out, it is the
    fit's epochs times its batches per epoch. Unlike torch (cycle_momentum=True by default),
    the momentum (or Adam's beta1) is not cycled: compare with torch's cycle_momentum=False.
    """

    per_batch = True

    def __init__(self, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", div_factor=25.0, final_div_factor=1e4,
                 three_phase=False):
        self.max_lr = check_real(max_lr, "max_lr", low=0, low_open=True)
        if total_steps is not None:
            total_steps = check_count(total_steps, "total_steps")
        elif (epochs is None) != (steps_per_epoch is None):
            raise ValueError("give total_steps, or both epochs and steps_per_epoch, or none "
                             "(the fit's own length)")
        elif epochs is not None:
            total_steps = check_count(epochs, "epochs") * check_count(steps_per_epoch, "steps_per_epoch")
        self.total_steps = total_steps
        self.pct_start = check_real(pct_start, "pct_start", low=0, high=1, low_open=True,
                                    high_open=True)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear'; got {anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        self.div_factor = check_real(div_factor, "div_factor", low=0, low_open=True)
        self.final_div_factor = check_real(final_div_factor, "final_div_factor", low=0,
                                           low_open=True)
        self.three_phase = bool(three_phase)

    def _phases(self, total):
        """(end step, start rate, end rate) of each phase, as torch builds them."""
        initial = self.max_lr / self.div_factor
        low = initial / self.final_div_factor
        up = float(self.pct_start * total) - 1
        if self.three_phase:
            return [(up, initial, self.max_lr), (2 * up, self.max_lr, initial),
                    (total - 1, initial, low)]
        return [(up, initial, self.max_lr), (total - 1, self.max_lr, low)]

    def _anneal(self, start, end, fraction):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (np.cos(np.pi * fraction) + 1)
        return (end - start) * fraction + start

    def check_steps(self, total_steps):
        if self.total_steps is not None and total_steps > self.total_steps:
            raise ValueError(f"OneCycleLR covers {self.total_steps} steps; this fit would take "
                             f"{total_steps} (raise total_steps, or leave it out to fit the run)")
        ends = [0] + [end for end, _, _ in self._phases(self.total_steps or total_steps)]
        if any(end <= start for start, end in zip(ends, ends[1:])):
            raise ValueError(f"OneCycleLR: pct_start={self.pct_start} leaves a phase with no "
                             f"steps in a cycle of {self.total_steps or total_steps}")

    def lr_at(self, steps, lr0, steps_per_epoch, total_steps, n_samples=1):
        steps = np.asarray(steps, dtype=float)
        phases = self._phases(self.total_steps or total_steps)
        rates = np.empty_like(steps)
        for index, (end_step, start, end) in reversed(list(enumerate(phases))):
            # each step ends in the first phase whose end it has not passed (the last phase
            # takes the rest), as torch's loop over the phases decides
            start_step = phases[index - 1][0] if index else 0
            here = steps <= end_step if index < len(phases) - 1 else np.ones(steps.shape, bool)
            rates[here] = self._anneal(start, end, (steps[here] - start_step)
                                       / (end_step - start_step))
        return rates[()]

    def lr(self, epoch, lr0, n_samples=1):
        raise TypeError("OneCycleLR is stepped per mini-batch: use lr_at(step, ...)")


class CosineAnnealingWarmRestarts(Schedule):
    """SGDR (Loshchilov and Hutter, 2017), with torch's CosineAnnealingWarmRestarts semantics
    stepped per mini-batch at fractional epochs (torch's `scheduler.step(epoch + i / iters)`):
    eta_min + (lr0 - eta_min) (1 + cos(pi T_cur / T_i)) / 2, where the i-th cycle lasts
    T_i = T_0 T_mult^i epochs and T_cur counts the epochs since it began."""

    per_batch = True

    def __init__(self, T_0, T_mult=1, eta_min=0.0):
        self.T_0 = check_count(T_0, "T_0")
        self.T_mult = check_count(T_mult, "T_mult")
        self.eta_min = check_real(eta_min, "eta_min", low=0)

    def lr_at(self, steps, lr0, steps_per_epoch, total_steps, n_samples=1):
        return self.lr(np.asarray(steps) / steps_per_epoch, lr0)

    def lr(self, epoch, lr0, n_samples=1):
        """The rate at (fractional) epochs `epoch`, an array or one number."""
        epoch, T_0, T_mult = np.asarray(epoch, dtype=float), self.T_0, self.T_mult
        if T_mult == 1:
            T_cur, T_i = epoch % T_0, T_0
        else:  # the cycle n holding each epoch (0 before T_0), as torch computes it
            n = np.floor(np.log(epoch / T_0 * (T_mult - 1) + 1) / math.log(T_mult))
            T_cur, T_i = epoch - T_0 * (T_mult ** n - 1) / (T_mult - 1), T_0 * T_mult ** n
        return (self.eta_min + (lr0 - self.eta_min) * (1 + np.cos(np.pi * T_cur / T_i)) / 2)[()]


class LinearWarmup(Schedule):
    """Warm up, then hand over: the rate of `after` (a schedule; None: the optimizer's lr)
    times a factor that rises linearly from start_factor at step 0 to 1 at step
    warmup_steps, as torch's LinearLR(start_factor, total_iters=warmup_steps) stepped per
    batch. `after` sees the epochs (or steps) of the whole run, warm-up included."""

    per_batch = True

    def __init__(self, warmup_steps, after=None, start_factor=1 / 3):
        self.warmup_steps = check_count(warmup_steps, "warmup_steps")
        if after is not None and not isinstance(after, Schedule):
            raise TypeError(f"after must be a fastnn.schedules.Schedule or None; got {after!r}")
        if isinstance(after, LinearWarmup):
            raise ValueError("LinearWarmup after LinearWarmup: give one warm-up")
        self.after = after
        self.start_factor = check_real(start_factor, "start_factor", low=0, high=1,
                                       low_open=True)

    @property
    def depends_on_loss(self):
        return self.after is not None and self.after.depends_on_loss

    def start(self):
        if self.after is not None:
            self.after.start()

    def observe(self, epoch, monitored):
        if self.after is not None:
            self.after.observe(epoch, monitored)

    def state_dict(self):
        return {} if self.after is None else self.after.state_dict()

    def load_state_dict(self, state):
        if self.after is None:
            super().load_state_dict(state)
        else:
            self.after.load_state_dict(state)

    def check_steps(self, total_steps):
        if self.after is not None:
            self.after.check_steps(total_steps)

    def lr_at(self, steps, lr0, steps_per_epoch, total_steps, n_samples=1):
        rate = lr0 if self.after is None else self.after.lr_at(steps, lr0, steps_per_epoch,
                                                               total_steps, n_samples)
        progress = np.minimum(steps, self.warmup_steps) / self.warmup_steps
        return rate * (self.start_factor + (1 - self.start_factor) * progress)

    def lr(self, epoch, lr0, n_samples=1):
        raise TypeError("LinearWarmup is stepped per mini-batch: use lr_at(step, ...)")


SCHEDULES = {"step": StepLR, "exponential": ExponentialLR, "invscaling": InverseScaling,
             "cosine": CosineAnnealingLR, "plateau": ReduceLROnPlateau, "onecycle": OneCycleLR,
             "cosine_restarts": CosineAnnealingWarmRestarts, "warmup": LinearWarmup}
