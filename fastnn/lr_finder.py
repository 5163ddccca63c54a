"""The learning-rate range test (Smith 2017, as fastai's lr_find and PyTorch-lr-finder run it).

Seed 004 names the two ways a learning rate fails: too large and the loss diverges, too small
and it stalls. The test trains a copy of the network for `steps` mini-batches while the rate
grows geometrically from start_lr to end_lr,

    lr_k = start_lr (end_lr / start_lr)^(k / (steps - 1)),

records each batch's loss, smooths it (an exponential moving average, bias-corrected:
s_k = EMA_k / (1 - beta^(k+1))), and stops once the smoothed loss exceeds 4 times its lowest
value (divergence). The suggested rate is where the smoothed loss falls fastest against
log(lr): the steepest descent of the (lag-free smoothed) log loss before its minimum. The network and optimizer
passed in are left exactly as they were.
"""
import copy
from dataclasses import dataclass

import numpy as np

__all__ = ["lr_find", "LRFinderResult"]


def __dir__():  # tab completion shows the public names only
    return __all__


@dataclass
class LRFinderResult:
    """What lr_find measured: the rates tried, each batch's loss and its smoothed curve, and
    the suggested rate (None when the curve never fell)."""
    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float = None
    diverged: bool = False

    def plot(self, path=None, ax=None):
        """The smoothed loss against the rate (log axis), the suggestion marked; drawn on
        `ax` or a new figure, written to `path` when given. Needs matplotlib."""
        from ._plotting import pyplot, save

        plt = pyplot(headless=ax is None and path is not None)
        figure = None
        if ax is None:
            figure, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs, self.smoothed, label="smoothed training loss")
        if self.suggestion is not None:
            ax.axvline(self.suggestion, color="C3", linestyle="--",
                       label=f"suggested lr {self.suggestion:.3g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss (smoothed)")
        ax.set_title("learning-rate range test")
        ax.legend()
        if path is not None:
            target = figure or ax.figure
            target.tight_layout()
            save(target, path)
            if figure is not None:
                plt.close(figure)
        return ax


def lr_find(net, X, Y, optimizer="sgd", start_lr=1e-7, end_lr=10.0, steps=100, batch_size=32,
            weight_decay=0.0, beta=0.98, diverge=4.0, seed=None):
    """Run the range test on a copy of `net` with a copy of `optimizer` (a fastnn first-order
    optimizer or its name); returns an LRFinderResult. Batches are drawn without replacement
    from a shuffle of the rows (reshuffled each pass), seeded by `seed`.

    >>> import numpy as np, fastnn as fnn
    >>> X = np.random.default_rng(0).standard_normal((256, 4)); Y = X @ np.ones((4, 1))
    >>> net = fnn.Network([4, 1], output="identity", seed=0)
    >>> result = fnn.lr_find(net, X, Y, steps=60, seed=0)
    >>> bool(0.01 < result.suggestion < 2.0)
    True
    """
    from ._validation import as_nonnegative, as_pair
    from .optim.base import check_real
    from .initializers import as_rng
    from .network import Network, _check_batch_size
    from .optim import FirstOrder, get_optimizer

    if not isinstance(net, Network):
        raise TypeError(f"lr_find takes a Network; got {type(net).__name__}")
    rule = copy.deepcopy(get_optimizer(optimizer))
    if not isinstance(rule, FirstOrder):
        raise ValueError(f"lr_find needs an optimizer with a learning rate (sgd, adam, ...); "
                         f"got {type(rule).__name__}")
    start_lr = check_real(start_lr, "start_lr", low=0)
    end_lr = check_real(end_lr, "end_lr", low=0)
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr; got {start_lr} and {end_lr}")
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 5:
        raise ValueError(f"steps must be an integer >= 5; got {steps!r}")
    if not 0 <= beta < 1 or not diverge > 1:
        raise ValueError(f"need 0 <= beta < 1 and diverge > 1; got {beta} and {diverge}")
    X, Y = as_pair(X, Y, net.dtype, net.n_inputs, net.n_outputs, net.loss)
    weight_decay = as_nonnegative(weight_decay, "weight_decay")
    n = X.shape[0]
    rows = n if batch_size is None else min(_check_batch_size(batch_size), n)
    trial = net.copy()
    rule.reset(trial.n_params, trial.dtype)
    rng = as_rng(seed)
    lrs = start_lr * (end_lr / start_lr) ** (np.arange(steps) / (steps - 1))
    losses, smoothed = [], []
    average, best, order, position, diverged = 0.0, np.inf, None, n, False
    compiled = trial.backend == "cython"
    # one batch's buffers, filled in place each step (checked once, above)
    X_batch, Y_batch = np.empty((rows, X.shape[1]), X.dtype), np.empty((rows, Y.shape[1]), Y.dtype)
    grad = np.empty_like(trial.params)
    with np.errstate(over="ignore", invalid="ignore"):
        for k, lr in enumerate(lrs):
            if position + rows > n:
                order, position = rng.permutation(n), 0
            batch = order[position:position + rows]
            position += rows
            np.take(X, batch, axis=0, out=X_batch)
            np.take(Y, batch, axis=0, out=Y_batch)
            loss = trial._backend.backward(X_batch, Y_batch, weight_decay, grad)
            losses.append(float(loss))
            average = beta * average + (1 - beta) * float(loss)
            smoothed.append(average / (1 - beta ** (k + 1)))
            if not np.isfinite(smoothed[-1]) or smoothed[-1] > diverge * best:
                diverged = True
                break
            best = min(best, smoothed[-1])
            if not np.isfinite(grad).all():
                diverged = True
                break
            rule.step(trial.params, grad, compiled=compiled, lr=float(lr))
    count = len(losses)
    result = LRFinderResult(lrs[:count], np.array(losses), np.array(smoothed), diverged=diverged)
    result.suggestion = _steepest(result)
    return result


def _steepest(result):
    """The rate where the loss falls fastest against log(lr): the steepest descent of log
    loss, smoothed without lag (a centred Savitzky-Golay filter over about a tenth of the
    points; the running average lags the falling loss by many steps), between the first
    tenth of the points and the curve's lowest value; None if it never falls."""
    from scipy.signal import savgol_filter

    losses = result.losses
    finite = np.isfinite(losses)  # a run that diverged may end on a non-finite loss
    count = len(losses) if finite.all() else int(np.argmin(finite))
    window = max(5, (count // 10) | 1)
    if count < window + 3 or (losses[:count] <= 0).any():
        return None
    log_lr = np.log(result.lrs[:count])
    curve = savgol_filter(np.log(losses[:count]), window, 2)
    skip = max(1, count // 10)
    lowest = int(np.argmin(curve))
    if lowest < skip + 2:
        return None
    slope = np.gradient(curve[skip:lowest + 1], log_lr[skip:lowest + 1])
    if slope.min() >= 0:
        return None
    return float(result.lrs[skip + int(np.argmin(slope))])
