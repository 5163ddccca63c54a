# Output-layer kernel: bias, output activation, loss and output delta in one pass per row.
# The loss is computed from z (log-softmax, log-sigmoid), so it stays finite even where a
# predicted probability underflows to 0. Per-sample losses L(y, a):
#   mse                   1/2 sum_k (a_k - y_k)^2           dL/dz_k = (a_k - y_k) f'(a_k)
#   cross_entropy         -sum_k y_k log softmax(z)_k       dL/dz_k = a_k sum_j y_j - y_k
#   binary_cross_entropy  sum_k softplus(z_k) - y_k z_k     dL/dz_k = a_k - y_k
from cython cimport floating
from libc.math cimport fabs

from _activations cimport activate, derivative
from _fmath cimport fexp, flog, flog1p

# Codes shared with fastnn/losses.py (LOSS_CODES).
cdef enum:
    MSE = 0
    CROSS_ENTROPY = 1
    BINARY_CROSS_ENTROPY = 2


cdef inline double output_layer(int loss, int act, floating* z, const floating* bias,
                                const floating* y, const floating* sample_weight, int m, int n,
                                floating scale, floating* delta,
                                floating* grad_bias) noexcept nogil:
    """z holds the output GEMM (without bias). Row by row: add the bias, add the sample's
    loss w_i L_i to the returned sum, overwrite z with a = f(z), and, if delta is not NULL,
    write delta = scale * w_i * dL/dz and accumulate grad_bias (if not NULL) = column sums
    of delta. w_i = 1 when sample_weight is NULL. Callers pass scale = 1/m and guarantee the
    loss/activation pairing and the shapes. Sums are accumulated in double so a large batch
    loses no precision."""
    cdef int i, j
    cdef double total = 0, row_total
    cdef floating* row
    cdef const floating* yrow
    cdef floating* drow
    cdef floating zmax, s, ysum, e, a, r, row_scale
    if grad_bias != NULL:
        for j in range(n):
            grad_bias[j] = 0
    for i in range(m):
        row = z + <Py_ssize_t> i * n
        yrow = y + <Py_ssize_t> i * n
        drow = delta + <Py_ssize_t> i * n if delta != NULL else NULL
        row_scale = scale if sample_weight == NULL else scale * sample_weight[i]
        row_total = 0
        if bias != NULL:
            for j in range(n):
                row[j] = row[j] + bias[j]
        if loss == CROSS_ENTROPY:
            # -sum_k y_k (z_k - lse) with lse = zmax + log sum_k exp(z_k - zmax)
            zmax = row[0]
            for j in range(1, n):
                if row[j] > zmax:
                    zmax = row[j]
            s = 0
            ysum = 0
            r = 0
            for j in range(n):
                r = r + yrow[j] * (zmax - row[j])
                ysum = ysum + yrow[j]
                row[j] = fexp(row[j] - zmax)
                s = s + row[j]
            row_total = r + ysum * flog(s)
            s = 1 / s
            for j in range(n):
                row[j] = row[j] * s
                if drow != NULL:
                    drow[j] = row_scale * (row[j] * ysum - yrow[j])
        elif loss == BINARY_CROSS_ENTROPY:
            # softplus(z) = max(z, 0) + log1p(e^-|z|); sigmoid shares e^-|z|
            for j in range(n):
                e = fexp(-fabs(row[j]))
                row_total += (row[j] if row[j] > 0 else 0) + flog1p(e) - yrow[j] * row[j]
                row[j] = 1 / (1 + e) if row[j] >= 0 else e / (1 + e)
                if drow != NULL:
                    drow[j] = row_scale * (row[j] - yrow[j])
        else:
            for j in range(n):
                a = activate(act, row[j])
                row[j] = a
                r = a - yrow[j]
                row_total += 0.5 * r * r
                if drow != NULL:
                    drow[j] = row_scale * r * derivative(act, a)
        total += row_total if sample_weight == NULL else sample_weight[i] * row_total
        if grad_bias != NULL:
            for j in range(n):
                grad_bias[j] = grad_bias[j] + drow[j]
    return total
