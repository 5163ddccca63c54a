"""Thin Python twin of the output-layer kernel in _losses.pxd, so tests can call it."""
from cython cimport floating

from _losses cimport output_layer


def output_layer_(int loss, int act, floating[:, ::1] z, const floating[:, ::1] y,
                  floating[:, ::1] delta=None, const floating[::1] bias=None,
                  floating[::1] grad_bias=None):
    """In place: z <- a = f(z + bias); delta <- dL/dz / m. Returns sum_i L(y_i, a_i)."""
    cdef int m = <int> z.shape[0], n = <int> z.shape[1]
    if y.shape[0] != m or y.shape[1] != n:
        raise ValueError("y must have the shape of z")
    if delta is not None and (delta.shape[0] != m or delta.shape[1] != n):
        raise ValueError("delta must have the shape of z")
    if bias is not None and bias.shape[0] != n:
        raise ValueError("bias must have one entry per column of z")
    if grad_bias is not None and (grad_bias.shape[0] != n or delta is None):
        raise ValueError("grad_bias needs delta and one entry per column of z")
    if m == 0 or n == 0:
        return 0.0
    cdef floating* d = &delta[0, 0] if delta is not None else NULL
    cdef const floating* b = &bias[0] if bias is not None else NULL
    cdef floating* gb = &grad_bias[0] if grad_bias is not None else NULL
    cdef double total
    with nogil:
        total = output_layer(loss, act, &z[0, 0], b, &y[0, 0], NULL, m, n, <floating> (1.0 / m), d, gb)
    return total
