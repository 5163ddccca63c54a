"""Per-epoch bookkeeping of a training run, shared by every optimizer: history, validation
metrics, best weights, early stopping, schedules, callbacks, progress and the restarts'
valley check."""
import time

import numpy as np

from .history import History, StopTraining


def run_callbacks(callbacks, epoch, logs, model):
    """Call each callback (a function, or an object's on_epoch_end) with (epoch, a copy of
    logs, model); True when one of them returned True or raised StopTraining."""
    stop = False
    for callback in callbacks:
        try:
            stop = getattr(callback, "on_epoch_end", callback)(epoch, dict(logs), model) is True or stop
        except StopTraining:
            stop = True
    return stop


def same_valley(params, points, tol):
    """The index of the first of `points` within relative distance tol of params, or None."""
    for index, point in enumerate(points):
        if np.linalg.norm(params - point) <= tol * max(np.linalg.norm(point), 1e-12):
            return index
    return None


class Session:
    """Per-epoch bookkeeping of one training run."""

    def __init__(self, net, validation, early_stopping, patience, min_delta, schedule,
                 callbacks, progress, valleys, valley_tol, total_epochs):
        self.net, self.validation = net, validation
        self.early_stopping, self.patience, self.min_delta = early_stopping, patience, min_delta
        self.schedule, self.callbacks, self.valleys, self.valley_tol = schedule, callbacks, valleys, valley_tol
        self.history = History(metric=_metric_name(net.loss) if validation else None)
        self.best_params, self.wait = None, 0
        self.started = time.perf_counter()

        self.bar = None
        if progress:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=total_epochs, unit="epoch", desc="fit")

    @property
    def per_epoch_python(self):
        """Whether each epoch needs Python: validation, callbacks, stopping rules, plateaus."""
        return bool(self.validation or self.callbacks or self.early_stopping or self.valleys
                    or (self.schedule is not None and self.schedule.depends_on_loss))

    def end_epoch(self, loss, lr):
        """Record one epoch; returns True when training should stop."""
        h, net = self.history, self.net
        epoch = len(h.loss)
        h.loss.append(float(loss))
        h.lr.append(float(lr))
        h.time.append(time.perf_counter() - self.started)
        monitored = loss
        logs = {"loss": float(loss), "lr": float(lr)}
        if self.validation:
            X_val, Y_val = self.validation
            val_loss = float(net._backend.cost(X_val, Y_val, 0.0))
            metric = _metric(net.loss, net._backend.forward(X_val), Y_val)
            h.val_loss.append(val_loss)
            h.val_metric.append(metric)
            logs.update(val_loss=val_loss, **{f"val_{h.metric}": metric})
            monitored = val_loss
        if monitored < h.best_loss - self.min_delta:
            h.best_loss, h.best_epoch, self.wait = float(monitored), epoch, 0
            self.best_params = net.params.copy()
        else:
            self.wait += 1
        if self.schedule is not None:
            self.schedule.observe(epoch, monitored)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items() if k != "lr"}, refresh=False)
        if run_callbacks(self.callbacks, epoch, logs, net):
            h.stop_reason = "callback"
            return True
        if self.early_stopping and self.wait >= self.patience:
            h.stop_reason = "early_stopping"
            return True
        if self._same_valley():
            h.stop_reason = "same_valley"
            return True
        return False

    def end_chunk(self, losses, lrs, elapsed, best_epoch, best_loss, best_params):
        """Record a run of epochs trained in one compiled call (no per-epoch Python work is
        needed: see per_epoch_python). best_epoch (in this run, or -1) is the epoch whose
        loss best_loss was a new best, and best_params (kept up to date by the runner) the
        weights after it."""
        h = self.history
        count = len(losses)
        first = h.epochs
        times = h.last_time + elapsed * np.arange(1, count + 1) / count
        h._extend(np.array(losses, dtype=float), np.array(lrs, dtype=float), times)
        if best_epoch >= 0:
            h.best_loss, h.best_epoch = float(best_loss), first + best_epoch
            self.best_params = best_params
        if self.bar is not None:
            self.bar.update(count)
            self.bar.set_postfix(loss=f"{losses[-1]:.4g}", refresh=False)

    def _same_valley(self):
        index = same_valley(self.net.params, self.valleys, self.valley_tol)
        self.history.same_valley_as = index
        return index is not None

    def close(self, restore_best):
        if restore_best and self.best_params is not None:
            self.net.params[...] = self.best_params
        if self.bar is not None:
            self.bar.close()


def _metric_name(loss):
    return "r2" if loss == "mse" else "accuracy"


def _metric(loss, output, Y):
    """Accuracy (classes by argmax, or 0.5 thresholds for binary outputs; a row counts when
    all its labels are right) or the R^2 of regression, averaged over outputs."""
    if loss == "cross_entropy":
        return float(np.mean(output.argmax(axis=1) == Y.argmax(axis=1)))
    if loss == "binary_cross_entropy":
        return float(np.mean(np.all((output > 0.5) == (Y > 0.5), axis=1)))
    residual = ((Y - output) ** 2).sum(axis=0)
    total = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
    return float(np.mean(1 - residual / np.where(total > 0, total, 1)))
