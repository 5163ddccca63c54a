"""What a training run reports: History, and the exceptions that stop or end training."""
from dataclasses import dataclass, field


class StopTraining(Exception):
    """Raise in a callback to stop Network.fit after the current epoch."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite. The network keeps the weights it had at the start of
    the epoch that diverged; `epoch` and `step` (both from 0) say where, `history` what ran."""

    def __init__(self, epoch, step, loss, history=None):
        super().__init__(f"training diverged at epoch {epoch}, step {step}: the loss became {loss}; "
                         "the network keeps the weights from the start of that epoch "
                         "(try a smaller learning rate)")
        self.epoch, self.step, self.loss, self.history = epoch, step, loss, history


@dataclass(repr=False)
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
    """

    loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_metric: list = field(default_factory=list)
    metric: str = None
    lr: list = field(default_factory=list)
    time: list = field(default_factory=list)
    stop_reason: str = "completed"
    best_epoch: int = None
    best_loss: float = float("inf")
    restarts: list = field(default_factory=list)
    same_valley_as: int = None

    @property
    def epochs(self):
        return len(self.loss)

    def __repr__(self):
        last = f", loss={self.loss[-1]:.6g}" if self.loss else ""
        val = f", val_loss={self.val_loss[-1]:.6g}" if self.val_loss else ""
        return f"History(epochs={self.epochs}{last}{val}, stop_reason={self.stop_reason!r})"
