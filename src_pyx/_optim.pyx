"""The fused optimizer updates of _optim.pxd, one call per step, GIL released."""
from cython cimport floating

from _optim cimport update


def step(int kind, const double[::1] hyper, floating[::1] params, const floating[::1] grad,
         floating[:, ::1] state, long t, double lr):
    """params <- one update of rule `kind` (fastnn.optim's codes) at step t (1-based)."""
    cdef Py_ssize_t n = params.shape[0]
    if grad.shape[0] != n or state.shape[1] != n or state.shape[0] < 3 or hyper.shape[0] < 6:
        raise ValueError("grad must match params; state must be (3, n_params); hyper has 6 entries")
    if t < 1:
        raise ValueError("t counts steps from 1")
    if n == 0:
        return
    with nogil:
        update(kind, &hyper[0], &params[0], &grad[0], &state[0, 0], n, t, lr)
