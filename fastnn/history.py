"""What a training run reports: History, and the exceptions that stop or end training."""
import numpy as np

__all__ = ["History", "StopTraining", "TrainingDiverged"]


def __dir__():  # tab completion shows the public names only
    return __all__


class StopTraining(Exception):
    """Raise in a callback to stop Network.fit after the current epoch."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite, or the weights did. The network keeps the last
    weights whose loss was finite; `epoch` and `step` (both from 0; step None when the last
    update of a run broke the weights) say where, `history` what ran."""

    def __init__(self, epoch, step, loss, history=None):
        where = (f"at epoch {epoch}, step {step}: the loss became {loss}" if step is not None
                 else f"at epoch {epoch}: its last update left NaN or infinity in the weights")
        super().__init__(f"training diverged {where}; the network keeps the last weights whose "
                         "loss was finite (try a smaller learning rate)")
        self.epoch, self.step, self.loss, self.history = epoch, step, loss, history


class History:
    """Per-epoch curves of one training run (for LBFGS/BFGS/Annealing an epoch is one
    iteration or one temperature).

    Attributes
    ----------
    loss : list of float
        Training cost J per epoch (the mean of the epoch's batch losses, each taken before
        its update).
    val_loss, val_metric : list of float
        Cost and metric on the validation data after each epoch (empty without validation);
        `metric` names the metric: "accuracy" for cross-entropy losses, "r2" for mse.
    lr : list of float
        Learning rate used in each epoch.
    time : list of float
        Seconds since the start of training at each epoch's end.
    stop_reason : str
        "completed", "early_stopping", "callback", "interrupted", "same_valley",
        "converged" (quasi-Newton) or "diverged".
    best_epoch : int or None
        The epoch with the best monitored loss (val_loss if any, else loss).
    restarts : list of dict
        With restarts > 1: per run its final monitored loss, epochs, stop reason and, for a
        run stopped because it reached an earlier run's point, `same_valley_as`.
    raw_params : ndarray or None
        With fit(average=...): the trained weights at the end, before the network took
        their average (not kept in checkpoints).

    A compiled run of many epochs hands its curves over as arrays; they become the lists
    above when first read (a Python float per epoch would cost more than a tiny network's
    epoch itself).
    """

    #: why a run ended
    STOP_REASONS = ("completed", "early_stopping", "callback", "interrupted", "same_valley",
                    "converged", "diverged", "max_fun")
    #: every field, in the order of the constructor (what a checkpoint stores)
    FIELDS = ("loss", "val_loss", "val_metric", "metric", "lr", "time", "stop_reason",
              "best_epoch", "best_loss", "restarts", "same_valley_as")
    _CURVES = ("loss", "lr", "time")

    def __init__(self, loss=None, val_loss=None, val_metric=None, metric=None, lr=None,
                 time=None, stop_reason="completed", best_epoch=None, best_loss=float("inf"),
                 restarts=None, same_valley_as=None):
        self._loss, self._lr, self._time = list(loss or []), list(lr or []), list(time or [])
        self._runs = []  # (losses, lrs, times) arrays not yet in the lists
        self._run_epochs = 0
        self.val_loss, self.val_metric = list(val_loss or []), list(val_metric or [])
        self.metric, self.stop_reason, self.best_epoch = metric, stop_reason, best_epoch
        self.best_loss, self.restarts = best_loss, list(restarts or [])
        self.same_valley_as = same_valley_as
        self.raw_params = None

    def _extend(self, losses, lrs, times):
        """Append a run of epochs given as arrays (kept as arrays until read)."""
        self._runs.append((losses, lrs, times))
        self._run_epochs += len(losses)

    def _curve(self, name):
        if self._runs:
            for values, target in zip((np.concatenate(parts) for parts in zip(*self._runs)),
                                      (self._loss, self._lr, self._time)):
                target.extend(values.tolist())
            self._runs, self._run_epochs = [], 0
        return getattr(self, "_" + name)

    loss = property(lambda self: self._curve("loss"), doc="Training cost J per epoch.")
    lr = property(lambda self: self._curve("lr"), doc="Learning rate of each epoch.")
    time = property(lambda self: self._curve("time"), doc="Seconds since the start, per epoch.")

    @property
    def epochs(self):
        return len(self._loss) + self._run_epochs

    @property
    def last_time(self):
        """Seconds since the start at the end of the last epoch (0 before any)."""
        if self._runs:
            return float(self._runs[-1][2][-1])
        return self._time[-1] if self._time else 0.0

    def to_dict(self):
        """Every field as plain values (lists, numbers, strings)."""
        return {name: getattr(self, name) for name in self.FIELDS}

    def __eq__(self, other):
        return isinstance(other, History) and self.to_dict() == other.to_dict()

    def __repr__(self):
        loss = self.loss
        last = f", loss={loss[-1]:.6g}" if loss else ""
        val = f", val_loss={self.val_loss[-1]:.6g}" if self.val_loss else ""
        return f"History(epochs={self.epochs}{last}{val}, stop_reason={self.stop_reason!r})"
