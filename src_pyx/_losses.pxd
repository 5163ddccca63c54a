# Output-layer kernel: bias, output activation, loss and output delta of a block of rows.
# The loss is computed from z (log-softmax, log-sigmoid), so it stays finite even where a
# predicted probability underflows to 0. Per-sample losses L(y, a):
#   mse                   1/2 sum_k (a_k - y_k)^2           dL/dz_k = (a_k - y_k) f'(a_k)
#   cross_entropy         -sum_k y_k log softmax(z)_k       dL/dz_k = a_k sum_j y_j - y_k
#   binary_cross_entropy  sum_k softplus(z_k) - y_k z_k     dL/dz_k = a_k - y_k
#   poisson               sum_k e^z_k - y_k z_k + y_k log y_k - y_k   dL/dz_k = a_k - y_k
#   mae                   sum_k |r_k|, r = a - y            dL/dz_k = sign(r_k) f'(a_k)
#   huber                 sum_k h(r_k)                      dL/dz_k = clip(r_k, -d, d) f'(a_k)
# with h(r) = r^2/2 for |r| <= d, else d (|r| - d/2); d = huber_delta. f'(a_k) stands for
# f'(z_k): for the activations that need z (gelu, silu) it is taken from z, into the delta
# block, before z is overwritten with a.
from cython cimport floating

from _activations cimport (activate_keep_run, activate_run, add_bias, multiply_derivative_run,
                          needs_z)
from _fmath cimport exp_nonpositive, fabsolute, fexp, flog, flog1p

# Codes shared with fastnn/losses.py (LOSS_CODES).
cdef enum:
    MSE = 0
    CROSS_ENTROPY = 1
    BINARY_CROSS_ENTROPY = 2
    POISSON = 3
    MAE = 4
    HUBER = 5

cdef enum:
    LOSS_CHUNK = 64  # rows per exponential loop of the softmax loss


cdef inline floating residual_loss(int loss, floating r, floating d) noexcept nogil:
    """L of one residual r = a - y for mse, mae and huber."""
    if loss == MAE:
        return fabsolute(r)
    if loss == HUBER:
        return <floating> 0.5 * r * r if fabsolute(r) <= d else d * (fabsolute(r) - <floating> 0.5 * d)
    return <floating> 0.5 * r * r


cdef inline floating residual_slope(int loss, floating r, floating d) noexcept nogil:
    """dL/da of one residual r = a - y for mse, mae (0 at r = 0) and huber."""
    if loss == MAE:
        return <floating> ((r > 0) - (r < 0))
    if loss == HUBER:
        return d if r > d else (-d if r < -d else r)
    return r


cdef inline double output_rows(int loss, int act, floating* z, const floating* bias,
                               const floating* y, const floating* sample_weight, int rows, int n,
                               floating scale, floating* delta, floating huber_delta) noexcept nogil:
    """z holds `rows` rows of the output GEMM (without bias), contiguous. Add the bias, return
    the sum of the samples' losses w_i L_i, overwrite z with a = f(z), and, if delta is not
    NULL, write delta = scale * w_i * dL/dz. w_i = 1 when sample_weight is NULL. Callers pass
    scale = 1/m (m the whole batch) and guarantee the loss/activation pairing and the shapes.
    Sums are accumulated in double so a large batch loses no precision; the element-wise
    work runs in loops over whole blocks, which compile to vector instructions."""
    cdef int i, j, i0, i1
    cdef Py_ssize_t k, size = <Py_ssize_t> rows * n
    cdef floating shifted_loss[LOSS_CHUNK]
    cdef floating label_sums[LOSS_CHUNK]
    cdef double total = 0, row_total
    cdef floating* row
    cdef const floating* yrow
    cdef floating* drow
    cdef floating zmax, s, ysum, e, r, row_scale
    cdef bint slope_kept = delta != NULL and needs_z(act)
    add_bias(z, rows, n, n, bias)
    if loss == CROSS_ENTROPY:
        # -sum_k y_k (z_k - lse) with lse = zmax + log sum_k exp(z_k - zmax), LOSS_CHUNK rows
        # at a time: each row shifted by its max, then one exponential loop over the chunk
        # (a row of 10 classes alone is too short for vector instructions)
        i0 = 0
        while i0 < rows:
            i1 = i0 + LOSS_CHUNK if i0 + LOSS_CHUNK < rows else rows
            for i in range(i0, i1):
                row = z + <Py_ssize_t> i * n
                yrow = y + <Py_ssize_t> i * n
                zmax = row[0]
                for j in range(1, n):
                    if row[j] > zmax:
                        zmax = row[j]
                ysum = 0
                r = 0
                for j in range(n):
                    r = r + yrow[j] * (zmax - row[j])
                    ysum = ysum + yrow[j]
                for j in range(n):
                    row[j] = row[j] - zmax
                shifted_loss[i - i0] = r
                label_sums[i - i0] = ysum
            row = z + <Py_ssize_t> i0 * n
            for k in range(<Py_ssize_t> (i1 - i0) * n):
                row[k] = exp_nonpositive(row[k])
            for i in range(i0, i1):
                row = z + <Py_ssize_t> i * n
                yrow = y + <Py_ssize_t> i * n
                ysum = label_sums[i - i0]
                s = 0
                for j in range(n):
                    s = s + row[j]
                row_total = shifted_loss[i - i0] + ysum * flog(s)
                total += row_total if sample_weight == NULL else sample_weight[i] * row_total
                s = <floating> 1 / s
                for j in range(n):
                    row[j] = row[j] * s
                if delta != NULL:
                    drow = delta + <Py_ssize_t> i * n
                    row_scale = scale if sample_weight == NULL else scale * sample_weight[i]
                    for j in range(n):
                        drow[j] = row_scale * (row[j] * ysum - yrow[j])
            i0 = i1
        return total
    if loss == BINARY_CROSS_ENTROPY:
        for i in range(rows):
            row = z + <Py_ssize_t> i * n
            yrow = y + <Py_ssize_t> i * n
            row_total = 0
            # softplus(z) = max(z, 0) + log1p(e^-|z|); sigmoid shares e^-|z|
            for j in range(n):
                e = exp_nonpositive(-fabsolute(row[j]))
                row_total += (row[j] if row[j] > 0 else 0) + flog1p(e) - yrow[j] * row[j]
                r = 1 / (<floating> 1 + e)
                row[j] = r if row[j] >= 0 else e * r
            total += row_total if sample_weight == NULL else sample_weight[i] * row_total
    elif loss == POISSON:  # half the Poisson deviance, log link: y log(y / a) - y + a
        for i in range(rows):
            row = z + <Py_ssize_t> i * n
            yrow = y + <Py_ssize_t> i * n
            row_total = 0
            for j in range(n):
                e = fexp(row[j])
                row_total += e - yrow[j] * row[j] - yrow[j]
                if yrow[j] > 0:
                    row_total += yrow[j] * flog(yrow[j])
                row[j] = e
            total += row_total if sample_weight == NULL else sample_weight[i] * row_total
    elif slope_kept:  # mse, mae, huber after gelu or silu: delta <- f'(z), z <- a = f(z)
        activate_keep_run(act, z, delta, size)
    else:
        activate_run(act, z, size)
    if loss == MSE:  # 1/2 sum_k (a_k - y_k)^2
        if sample_weight == NULL:
            for k in range(size):
                r = z[k] - y[k]
                total += 0.5 * r * r
        else:
            for i in range(rows):
                row_total = 0
                for j in range(n):
                    r = z[<Py_ssize_t> i * n + j] - y[<Py_ssize_t> i * n + j]
                    row_total += 0.5 * r * r
                total += sample_weight[i] * row_total
    elif loss == MAE or loss == HUBER:  # sum_k L(a_k - y_k)
        for i in range(rows):
            row_total = 0
            for j in range(n):
                row_total += residual_loss(loss, z[<Py_ssize_t> i * n + j] - y[<Py_ssize_t> i * n + j],
                                           huber_delta)
            total += row_total if sample_weight == NULL else sample_weight[i] * row_total
    if delta == NULL:
        return total
    if slope_kept:  # delta holds f'(z): times dL/da
        for i in range(rows):
            row_scale = scale if sample_weight == NULL else scale * sample_weight[i]
            for j in range(n):
                k = <Py_ssize_t> i * n + j
                delta[k] = row_scale * residual_slope(loss, z[k] - y[k], huber_delta) * delta[k]
        return total
    if loss == MAE or loss == HUBER:  # dL/da = their slope of a - y
        for i in range(rows):
            row_scale = scale if sample_weight == NULL else scale * sample_weight[i]
            for j in range(n):
                k = <Py_ssize_t> i * n + j
                delta[k] = row_scale * residual_slope(loss, z[k] - y[k], huber_delta)
    elif sample_weight == NULL:
        for k in range(size):
            delta[k] = scale * (z[k] - y[k])
    else:
        for i in range(rows):
            row_scale = scale * sample_weight[i]
            for j in range(n):
                delta[<Py_ssize_t> i * n + j] = row_scale * (z[<Py_ssize_t> i * n + j]
                                                             - y[<Py_ssize_t> i * n + j])
    if loss == MSE or loss == MAE or loss == HUBER:  # dL/dz = dL/da f'(a); BCE, poisson: a - y
        multiply_derivative_run(act, delta, z, size)
    return total
