"""Around each first-order update: gradient clipping before it and weight averaging after
it, the NumPy twins of src_pyx/_clip_average.pxd, and the Averager a fit keeps.

clip_value (torch.nn.utils.clip_grad_value_): g <- min(max(g, -clip_value), clip_value).
clip_norm (torch.nn.utils.clip_grad_norm_): g <- g * min(1, clip_norm / (||g||_2 + 1e-6)),
the norm over all parameters at once. Both act on dJ/dparams, weight decay's term included.

EMA: after every update, avg <- avg + (1 - ema_decay)(w - avg) (the first update copies w).
SWA: after every epoch from swa_start on, avg <- avg + (w - avg) / (k + 1), the mean of
the k + 1 weights averaged. Both as torch.optim.swa_utils.AveragedModel computes them.
"""
import numpy as np

from .optim.base import check_count, check_real

#: average= name -> code of the compiled loop (src_pyx/_clip_average.pxd)
AVERAGES = {None: 0, "ema": 1, "swa": 2}


def clip_gradient(g, clip_value, clip_norm):
    """In place, as the compiled clip_gradient (0 or None leaves that clip out)."""
    if clip_value:
        np.clip(g, -clip_value, clip_value, out=g)
    if clip_norm:
        wide = g.astype(float, copy=False)  # summed in double, as the kernel does
        scale = clip_norm / (np.sqrt(np.dot(wide, wide)) + 1e-6)
        if scale < 1:
            g *= g.dtype.type(scale)


def average_weights(kind, averaged, params, n_averaged, ema_decay):
    """In place, as the compiled average_weights."""
    if n_averaged == 0:
        averaged[...] = params
    elif kind == "swa":
        averaged += (params - averaged) / params.dtype.type(n_averaged + 1)
    else:
        w = params.dtype.type(1 - ema_decay)
        if w < 0.5:
            averaged += w * (params - averaged)
        else:
            averaged[...] = params - (params - averaged) * (1 - w)


def check_clip(value, name):
    """None, or a positive finite float."""
    return None if value is None else check_real(value, name, low=0, low_open=True)


class Averager:
    """The running average of a fit's weights (average "ema" or "swa"), held beside the
    network; `swa_start` counts the epochs of the fit before SWA begins averaging (None:
    three quarters of them, the SWA paper's recipe)."""

    def __init__(self, kind, ema_decay, swa_start, epochs, n_params, dtype):
        if kind not in ("ema", "swa"):
            raise ValueError(f"average must be None, 'ema' or 'swa'; got {kind!r}")
        self.kind, self.code = kind, AVERAGES[kind]
        self.ema_decay = check_real(ema_decay, "ema_decay", low=0, high=1, high_open=True)
        if swa_start is None:
            swa_start = (3 * epochs) // 4
        self.swa_start = check_count(swa_start, "swa_start", low=0)
        if kind == "swa" and self.swa_start >= epochs:
            raise ValueError(f"swa_start={self.swa_start} leaves none of the {epochs} epochs "
                             "to average: it counts the epochs trained before averaging begins")
        self.weights = np.empty(n_params, dtype)
        self.count = 0

    def reset(self):
        """Forget the weights averaged (a new training run)."""
        self.count = 0

    def apply(self, net, history):
        """End of a run: the network takes the average; the raw weights go to the History."""
        history.raw_params = net.params.copy()
        if self.count:
            net.params[...] = self.weights
