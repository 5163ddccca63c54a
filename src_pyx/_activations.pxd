# Activation kernels, fused over float/double. Each works in place on a block of `rows` x
# `cols` entries of a row-major matrix whose rows are `ld` apart (a column block of a layer,
# when a product is split over threads); callers guarantee the shapes. For the increasing
# activations the derivative is taken from the output a = f(z), so z need not be kept:
#   identity 1, sigmoid a(1-a), tanh 1-a^2, relu [a > 0], leaky_relu 1 or 0.01 (a > 0 or
#   not), elu 1 or a + 1, softplus 1 - e^-a (each is increasing, so a alone tells z's side).
# gelu and silu are not monotonic (a does not tell z): needs_z is true for them, and the
# passes keep D = f'(z) from the forward pass instead (add_bias_activate_keep):
#   gelu z Phi(z), f' = Phi(z) + z phi(z);  silu z s(z), f' = s(z) (1 + z (1 - s(z))).
# softmax and exp are output activations only: their derivatives enter through the loss.
# NaN propagates as in NumPy: relu(NaN) is NaN, and a NaN activation keeps its delta.
from cython cimport floating

from _fmath cimport exp_nonpositive, expm1_nonpositive, fabsolute, fexp, log1p_unit, normal_cdf

# Codes shared with fastnn/activations.py (ACTIVATION_CODES).
cdef enum:
    IDENTITY = 0
    SIGMOID = 1
    TANH = 2
    RELU = 3
    SOFTMAX = 4
    EXP = 5
    LEAKY_RELU = 6
    ELU = 7
    SOFTPLUS = 8
    GELU = 9
    SILU = 10


cdef inline bint needs_z(int act) noexcept nogil:
    """Whether f'(z) cannot be had from a = f(z) (f is not monotonic): the passes then keep
    D = f'(z), written by add_bias_activate_keep, for the backward pass."""
    return act == GELU or act == SILU


cdef inline floating sigmoid(floating z) noexcept nogil:
    """1 / (1 + e^-z) from e = e^-|z|, which never overflows: 1/(1+e) for z >= 0, else
    e/(1+e)."""
    cdef floating e = exp_nonpositive(-fabsolute(z))
    cdef floating r = 1 / (<floating> 1 + e)
    return r if z >= 0 else e * r


cdef inline void softmax_rows(floating* z, int rows, int n) noexcept nogil:
    """Each row of a contiguous (rows x n) block <- exp(z - max z) / sum exp(z - max z): the
    max is subtracted so exp never overflows. The exponentials run over the whole block in
    one loop, which vectorizes however narrow the rows are (10 classes: 8 + 2 otherwise)."""
    cdef int i, j
    cdef Py_ssize_t k
    cdef floating zmax, total
    cdef floating* row
    for i in range(rows):
        row = z + <Py_ssize_t> i * n
        zmax = row[0]
        for j in range(1, n):  # a select, not a branch: a max instruction, no mispredictions
            zmax = row[j] if row[j] > zmax else zmax
        for j in range(n):
            row[j] = row[j] - zmax
    for k in range(<Py_ssize_t> rows * n):
        z[k] = exp_nonpositive(z[k])
    for i in range(rows):
        row = z + <Py_ssize_t> i * n
        total = 0
        for j in range(n):
            total = total + row[j]
        total = <floating> 1 / total
        for j in range(n):
            row[j] = row[j] * total


cdef inline void activate_run(int act, floating* z, Py_ssize_t n) noexcept nogil:
    """z <- f(z) over n consecutive entries (element-wise activations): one loop per
    activation, so that each compiles to vector instructions."""
    cdef Py_ssize_t j
    cdef floating e
    if act == SIGMOID:
        for j in range(n):
            z[j] = sigmoid(z[j])
    elif act == TANH:  # -expm1(-2|z|) / (2 + expm1(-2|z|)), signed: no libm call per entry
        for j in range(n):
            e = expm1_nonpositive(<floating> -2 * fabsolute(z[j]))
            e = -e / (<floating> 2 + e)
            z[j] = e if z[j] >= 0 else -e
    elif act == RELU:
        for j in range(n):
            z[j] = 0 if z[j] < 0 else z[j]
    elif act == EXP:
        for j in range(n):
            z[j] = fexp(z[j])
    elif act == LEAKY_RELU:
        for j in range(n):
            z[j] = z[j] if z[j] > 0 else <floating> 0.01 * z[j]
    elif act == ELU:
        for j in range(n):
            z[j] = z[j] if z[j] > 0 else expm1_nonpositive(z[j] if z[j] < 0 else 0)
    elif act == SOFTPLUS:  # max(z, 0) + log1p(e^-|z|): finite for any z
        for j in range(n):
            z[j] = (z[j] if z[j] > 0 else 0) + log1p_unit(exp_nonpositive(-fabsolute(z[j])))
    elif act == GELU:  # z Phi(z)
        for j in range(n):
            z[j] = z[j] * normal_cdf(z[j], &e)
    elif act == SILU:
        for j in range(n):
            z[j] = z[j] * sigmoid(z[j])


cdef inline void activate_keep_run(int act, floating* z, floating* d,
                                   Py_ssize_t n) noexcept nogil:
    """d <- f'(z), then z <- f(z), over n consecutive entries, for the activations that
    need z (needs_z): one pass, each z read once."""
    cdef Py_ssize_t j
    cdef floating p, e, r, s, c
    if act == GELU:  # f' = Phi(z) + z phi(z)
        for j in range(n):
            p = normal_cdf(z[j], &e)
            d[j] = p + z[j] * e
            z[j] = z[j] * p
    elif act == SILU:  # f' = s (1 + z (1 - s)): s and 1 - s = sigmoid(-z) from one e^-|z|
        for j in range(n):
            e = exp_nonpositive(-fabsolute(z[j]))
            r = 1 / (<floating> 1 + e)
            s = r if z[j] >= 0 else e * r
            c = e * r if z[j] >= 0 else r
            d[j] = s * (<floating> 1 + z[j] * c)
            z[j] = z[j] * s


cdef inline void add_bias(floating* z, int rows, int cols, int ld,
                          const floating* bias) noexcept nogil:
    """z[i, j] += bias[j] for a block of rows x cols entries (rows ld apart); NULL: no bias."""
    cdef int i, j
    cdef floating* row
    if bias == NULL:
        return
    for i in range(rows):
        row = z + <Py_ssize_t> i * ld
        for j in range(cols):
            row[j] = row[j] + bias[j]


cdef inline void add_bias_activate(int act, floating* z, int rows, int cols, int ld,
                                   const floating* bias) noexcept nogil:
    """z <- f(z + bias) for a block, in one pass over the GEMM output (bias may be NULL).
    softmax needs whole rows: callers pass cols = ld = the layer's width for it."""
    cdef int i
    add_bias(z, rows, cols, ld, bias)
    if act == SOFTMAX:
        softmax_rows(z, rows, cols)
    elif cols == ld:  # a contiguous block: one run (small layers gain most)
        activate_run(act, z, <Py_ssize_t> rows * cols)
    else:
        for i in range(rows):
            activate_run(act, z + <Py_ssize_t> i * ld, cols)


cdef inline void add_bias_activate_keep(int act, floating* z, int rows, int cols, int ld,
                                        const floating* bias, floating* d) noexcept nogil:
    """add_bias_activate that also writes D = f'(z + bias) into the block at d (laid out as
    z's) for the backward pass: from z for the activations that need it (needs_z), else
    from a, after the activation (a dropout layer's D: 1 times f'(a))."""
    cdef int i, j
    cdef floating* row
    if not needs_z(act):
        add_bias_activate(act, z, rows, cols, ld, bias)
        for i in range(rows):
            row = d + <Py_ssize_t> i * ld
            for j in range(cols):
                row[j] = 1
        multiply_derivative(act, d, z, rows, cols, ld)
        return
    add_bias(z, rows, cols, ld, bias)
    if cols == ld:
        activate_keep_run(act, z, d, <Py_ssize_t> rows * cols)
    else:
        for i in range(rows):
            activate_keep_run(act, z + <Py_ssize_t> i * ld, d + <Py_ssize_t> i * ld, cols)


cdef inline void multiply_derivative_run(int act, floating* delta, const floating* a,
                                         Py_ssize_t n) noexcept nogil:
    """delta <- delta * f'(a) over n consecutive entries."""
    cdef Py_ssize_t j
    if act == SIGMOID:
        for j in range(n):
            delta[j] = delta[j] * a[j] * (<floating> 1 - a[j])
    elif act == TANH:
        for j in range(n):
            delta[j] = delta[j] * (<floating> 1 - a[j] * a[j])
    elif act == RELU:
        for j in range(n):
            delta[j] = 0 if a[j] <= 0 else delta[j]
    elif act == LEAKY_RELU:
        for j in range(n):
            delta[j] = delta[j] if a[j] > 0 else <floating> 0.01 * delta[j]
    elif act == ELU:
        for j in range(n):
            delta[j] = delta[j] if a[j] > 0 else delta[j] * (a[j] + <floating> 1)
    elif act == SOFTPLUS:  # sigmoid(z) = 1 - e^-a, a > 0
        for j in range(n):
            delta[j] = -delta[j] * expm1_nonpositive(-a[j])


cdef inline void multiply_derivative(int act, floating* delta, const floating* a, int rows,
                                     int cols, int ld) noexcept nogil:
    """delta <- delta * f'(a) for a block of rows x cols entries (both matrices ld apart);
    not for the activations that need z (their D multiplies instead: multiply_rows)."""
    cdef int i
    if act == IDENTITY:
        return
    if cols == ld:
        multiply_derivative_run(act, delta, a, <Py_ssize_t> rows * cols)
        return
    for i in range(rows):
        multiply_derivative_run(act, delta + <Py_ssize_t> i * ld, a + <Py_ssize_t> i * ld, cols)


cdef inline void multiply_rows(floating* delta, const floating* d, int rows, int cols,
                               int ld) noexcept nogil:
    """delta <- delta * d for a block of rows x cols entries (both matrices ld apart): the
    kept derivative D = f'(z) of an activation that needs z."""
    cdef int i, j
    cdef Py_ssize_t k
    cdef floating* row
    cdef const floating* drow
    if cols == ld:
        for k in range(<Py_ssize_t> rows * cols):
            delta[k] = delta[k] * d[k]
        return
    for i in range(rows):
        row = delta + <Py_ssize_t> i * ld
        drow = d + <Py_ssize_t> i * ld
        for j in range(cols):
            row[j] = row[j] * drow[j]


cdef inline void column_sums(const floating* x, int rows, int cols, int ld,
                             floating* out) noexcept nogil:
    """out[j] = sum_i x[i, j], rows added in order (as NumPy's sum(axis=0) of C-ordered rows)."""
    cdef int i, j
    cdef const floating* row
    for j in range(cols):
        out[j] = 0
    for i in range(rows):
        row = x + <Py_ssize_t> i * ld
        for j in range(cols):
            out[j] = out[j] + row[j]
