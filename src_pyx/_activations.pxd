# Activation kernels, fused over float/double. Each works in place on a row-major
# (m x n) block; callers guarantee the shapes. The derivative is taken from the
# activation's output a = f(z), so z need not be kept:
#   identity 1, sigmoid a(1-a), tanh 1-a^2, relu [a > 0].
# softmax is an output activation only: its derivative enters through the loss.
from cython cimport floating

from _fmath cimport fexp, ftanh

# Codes shared with fastnn/activations.py (ACTIVATION_CODES).
cdef enum:
    IDENTITY = 0
    SIGMOID = 1
    TANH = 2
    RELU = 3
    SOFTMAX = 4


cdef inline floating sigmoid(floating z) noexcept nogil:
    """1 / (1 + e^-z), evaluated without overflow for any z."""
    cdef floating e
    if z >= 0:
        return 1 / (1 + fexp(-z))
    e = fexp(z)
    return e / (1 + e)


cdef inline floating activate(int act, floating z) noexcept nogil:
    """f(z) for the element-wise activations (not softmax)."""
    if act == SIGMOID:
        return sigmoid(z)
    if act == TANH:
        return ftanh(z)
    if act == RELU:
        return z if z > 0 else 0
    return z


cdef inline floating derivative(int act, floating a) noexcept nogil:
    """f'(z) written in terms of a = f(z)."""
    if act == SIGMOID:
        return a * (1 - a)
    if act == TANH:
        return 1 - a * a
    if act == RELU:
        return 1 if a > 0 else 0
    return 1


cdef inline void softmax_row(floating* z, int n) noexcept nogil:
    """z <- exp(z - max z) / sum exp(z - max z): the max is subtracted so exp never overflows."""
    cdef int j
    cdef floating zmax = z[0]
    cdef floating total = 0
    for j in range(1, n):
        if z[j] > zmax:
            zmax = z[j]
    for j in range(n):
        z[j] = fexp(z[j] - zmax)
        total = total + z[j]
    total = 1 / total
    for j in range(n):
        z[j] = z[j] * total


cdef inline void add_bias_activate(int act, floating* z, int m, int n,
                                   const floating* bias) noexcept nogil:
    """z <- f(z + bias) row by row, in one pass over the GEMM output (bias may be NULL)."""
    cdef int i, j
    cdef floating* row
    for i in range(m):
        row = z + <Py_ssize_t> i * n
        if bias != NULL:
            for j in range(n):
                row[j] = row[j] + bias[j]
        if act == SOFTMAX:
            softmax_row(row, n)
        elif act == SIGMOID:
            for j in range(n):
                row[j] = sigmoid(row[j])
        elif act == TANH:
            for j in range(n):
                row[j] = activate(TANH, row[j])
        elif act == RELU:
            for j in range(n):
                row[j] = row[j] if row[j] > 0 else 0


cdef inline void multiply_derivative(int act, floating* delta, const floating* a,
                                     int m, int n, floating* grad_bias) noexcept nogil:
    """delta <- delta * f'(a), and grad_bias <- column sums of the new delta (if not NULL)."""
    cdef int i, j
    cdef floating* row
    cdef const floating* arow
    if grad_bias != NULL:
        for j in range(n):
            grad_bias[j] = 0
    for i in range(m):
        row = delta + <Py_ssize_t> i * n
        arow = a + <Py_ssize_t> i * n
        if act == SIGMOID:
            for j in range(n):
                row[j] = row[j] * arow[j] * (1 - arow[j])
        elif act == TANH:
            for j in range(n):
                row[j] = row[j] * (1 - arow[j] * arow[j])
        elif act == RELU:
            for j in range(n):
                row[j] = row[j] if arow[j] > 0 else 0
        if grad_bias != NULL:
            for j in range(n):
                grad_bias[j] = grad_bias[j] + row[j]
