"""Learning-rate schedules, applied between epochs of Network.fit.

A schedule gives the learning rate of each epoch (counted from 0) from the optimizer's
initial rate lr0. All but ReduceLROnPlateau depend on the epoch alone, so the compiled
training loop can take a whole run of epochs at once.

======================  ==============================================================
StepLR                  lr0 * gamma ^ floor(epoch / step_size)
ExponentialLR           lr0 * gamma ^ epoch
InverseScaling          lr0 / (t + 1) ^ power_t, t = epochs (or samples) seen before
CosineAnnealingLR       eta_min + (lr0 - eta_min) (1 + cos(pi epoch / T_max)) / 2
ReduceLROnPlateau       lr * factor after `patience` epochs without improvement
======================  ==============================================================

>>> from fastnn.schedules import StepLR
>>> [StepLR(step_size=2, gamma=0.5).lr(epoch, 1.0) for epoch in range(5)]
[1.0, 1.0, 0.5, 0.5, 0.25]
"""
import math

from .optim.base import check_count, check_real

__all__ = ["Schedule", "StepLR", "ExponentialLR", "InverseScaling", "CosineAnnealingLR",
           "ReduceLROnPlateau", "SCHEDULES"]


def __dir__():  # tab completion shows the public names only
    return __all__


class Schedule:
    """Base: `lr(epoch, lr0, n_samples)` for the epoch about to run."""

    depends_on_loss = False

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


SCHEDULES = {"step": StepLR, "exponential": ExponentialLR, "invscaling": InverseScaling,
             "cosine": CosineAnnealingLR, "plateau": ReduceLROnPlateau}
