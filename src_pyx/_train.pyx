"""Compiled training: whole epochs of forward, backward and optimizer update in one call,
without the GIL and without allocation, for the first-order rules of _optim.pxd.

The caller (fastnn/training.py) decides the epochs' row orders (from its seeded NumPy
Generator) and learning rates, so the compiled and the Python loop see the same draws.
"""
from cython cimport floating
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.math cimport isfinite
from libc.string cimport memcpy

from _passes cimport NetLayout, backward_pass
from _optim cimport update


def run_epochs(plan, floating[::1] params, const floating[:, ::1] X, const floating[:, ::1] Y,
               const Py_ssize_t[:, ::1] order, int batch_size, int kind,
               const double[::1] hyper, floating[:, ::1] state, long t, const double[::1] lrs,
               double weight_decay, floating[::1] grad, floating[::1] acts,
               floating[::1] deltas, floating[:, ::1] X_batch, floating[:, ::1] Y_batch,
               floating[::1] snapshot, double[::1] losses, bint decay_per_row=False,
               const floating[::1] sample_weight=None, floating[::1] weight_batch=None):
    """Train len(lrs) epochs. order[e] is epoch e's row order (ignored for full batches,
    batch_size >= n, which use X and Y in place). losses[e] receives the epoch's mean batch
    loss (weighted by batch length), each batch's loss taken before its update.

    With decay_per_row, each batch of m rows uses weight_decay / m (scikit-learn's alpha).
    With sample_weight (one per row), a batch's cost is sum_i w_i L_i / sum_i w_i (and its
    decay, with decay_per_row, weight_decay / sum_i w_i), as scikit-learn weighs samples;
    weight_batch is the scratch row for a batch's weights.

    Returns (epochs_done, t, diverged_step): on a non-finite loss, params are restored from
    the start of that epoch and diverged_step is the step within the epoch (else -1).
    """
    cdef const NetLayout* net = <const NetLayout*> PyCapsule_GetPointer(plan.capsule(), b"fastnn.NetLayout")
    cdef Py_ssize_t n = X.shape[0], n_in = X.shape[1], n_out = Y.shape[1]
    cdef Py_ssize_t n_params = params.shape[0], n_epochs = lrs.shape[0]
    cdef bint full = batch_size >= n
    cdef Py_ssize_t e, i, start, stop, r, step, diverged = -1, done = n_epochs
    cdef double J, total, weight_sum
    cdef int m
    cdef const floating* w = NULL
    cdef const floating* x_rows
    cdef const floating* y_rows
    cdef int rows = <int> (n if full else batch_size)
    # the passes trust these sizes: check every buffer once
    if (net.n_params != n_params or net.sizes[0] != n_in or net.sizes[net.n_layers] != n_out
            or Y.shape[0] != n or n < 1 or batch_size < 1 or grad.shape[0] != n_params
            or snapshot.shape[0] != n_params or state.shape[1] != n_params or state.shape[0] < 3
            or hyper.shape[0] < 6 or losses.shape[0] < n_epochs
            or acts.shape[0] < rows * net.n_units or deltas.shape[0] < rows * net.n_units):
        raise ValueError("run_epochs: buffers do not match the network")
    if not full and (X_batch.shape[0] < batch_size or X_batch.shape[1] != n_in
                     or Y_batch.shape[0] < batch_size or Y_batch.shape[1] != n_out
                     or order.shape[0] < n_epochs or order.shape[1] != n):
        raise ValueError("run_epochs: batch buffers or row orders do not match")
    cdef bint weighted = sample_weight is not None
    if weighted and (sample_weight.shape[0] != n or weight_batch is None
                     or weight_batch.shape[0] < rows):
        raise ValueError("run_epochs: sample_weight must have one entry per row, weight_batch "
                         "one per batch row")
    if not full:
        for e in range(n_epochs):
            for i in range(n):
                if not 0 <= order[e, i] < n:
                    raise IndexError(f"row order {order[e, i]} outside [0, {n})")
    with nogil:
        for e in range(n_epochs):
            memcpy(&snapshot[0], &params[0], n_params * sizeof(floating))
            total = 0
            start = 0
            step = 0
            while start < n:
                if full:
                    m = <int> n
                    x_rows, y_rows = &X[0, 0], &Y[0, 0]
                else:
                    stop = start + batch_size if start + batch_size < n else n
                    m = <int> (stop - start)
                    for r in range(m):
                        memcpy(&X_batch[r, 0], &X[order[e, start + r], 0], n_in * sizeof(floating))
                        memcpy(&Y_batch[r, 0], &Y[order[e, start + r], 0], n_out * sizeof(floating))
                    x_rows, y_rows = &X_batch[0, 0], &Y_batch[0, 0]
                weight_sum = m
                if weighted:  # w_i m / sum(w): the kernel's (1/m) sum w_i L_i is then sklearn's
                    weight_sum = 0
                    for r in range(m):
                        weight_batch[r] = sample_weight[start + r if full else order[e, start + r]]
                        weight_sum += weight_batch[r]
                    for r in range(m):
                        weight_batch[r] = <floating> (weight_batch[r] * m / weight_sum)
                    w = &weight_batch[0]
                J = backward_pass(net, &params[0], x_rows, y_rows, w, m,
                                  <floating> (weight_decay / weight_sum if decay_per_row else weight_decay),
                                  &acts[0], &deltas[0], &grad[0])
                if not isfinite(J):
                    memcpy(&params[0], &snapshot[0], n_params * sizeof(floating))
                    losses[e] = J
                    diverged = step
                    break
                t += 1
                update(kind, &hyper[0], &params[0], &grad[0], &state[0, 0], n_params, t, lrs[e])
                total += J * m
                start += m
                step += 1
            if diverged >= 0:
                done = e
                break
            losses[e] = total / n
    return done, t, diverged
