# What a training step does around its update rule: the gradient clipped before it (as
# torch.nn.utils.clip_grad_value_ and clip_grad_norm_) and the weights averaged after it (as
# torch.optim.swa_utils.AveragedModel with an EMA or the SWA running mean).
from cython cimport floating
from libc.math cimport sqrt
from libc.string cimport memcpy

from _optim cimport lerp
from _passes cimport sum_squares

# Codes shared with fastnn/training.py (AVERAGES).
cdef enum:
    NO_AVERAGE = 0
    EMA = 1
    SWA = 2


cdef inline void clip_gradient(floating* g, Py_ssize_t n, double clip_value,
                               double clip_norm) noexcept nogil:
    """g clamped into [-clip_value, clip_value] (when clip_value > 0), then scaled by
    clip_norm / (||g||_2 + 1e-6) where that is below 1 (when clip_norm > 0). The norm is
    summed in double in a fixed order; NaN stays NaN (and leaves the scale alone)."""
    cdef Py_ssize_t i
    cdef floating v = <floating> clip_value
    cdef floating coef
    cdef double scale
    if clip_value > 0:
        for i in range(n):
            g[i] = v if g[i] > v else (-v if g[i] < -v else g[i])
    if clip_norm > 0:
        scale = clip_norm / (sqrt(sum_squares(g, n)) + 1e-6)
        if scale < 1:
            coef = <floating> scale
            for i in range(n):
                g[i] = g[i] * coef


cdef inline void average_weights(int kind, floating* averaged, const floating* params,
                                 Py_ssize_t n, long n_averaged, double ema_decay) noexcept nogil:
    """Fold params into the running average of the n_averaged weights seen before: a copy
    the first time; then EMA: averaged + (1 - ema_decay)(params - averaged) (torch's lerp,
    written from the nearer end when the weight passes 1/2), or SWA: averaged +
    (params - averaged) / (n_averaged + 1), the mean of all weights averaged."""
    cdef Py_ssize_t i
    cdef floating w = <floating> (1 - ema_decay)
    cdef floating count = <floating> (n_averaged + 1)
    if n_averaged == 0:
        memcpy(averaged, params, n * sizeof(floating))
    elif kind == SWA:
        for i in range(n):
            averaged[i] = averaged[i] + (params[i] - averaged[i]) / count
    else:
        for i in range(n):
            averaged[i] = lerp(averaged[i], params[i], w)
