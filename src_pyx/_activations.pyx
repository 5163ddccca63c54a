"""Thin Python twins of the activation kernels in _activations.pxd, so tests can call them."""
from cython cimport floating

from _activations cimport add_bias_activate, multiply_derivative


def activate_(int act, floating[:, ::1] z, const floating[::1] bias=None):
    """In place: z <- f(z + bias) for the activation code `act` (see fastnn.activations)."""
    if bias is not None and bias.shape[0] != z.shape[1]:
        raise ValueError(f"bias has {bias.shape[0]} entries, z has {z.shape[1]} columns")
    if z.shape[0] == 0 or z.shape[1] == 0:
        return
    cdef const floating* b = &bias[0] if bias is not None else NULL
    with nogil:
        add_bias_activate(act, &z[0, 0], <int> z.shape[0], <int> z.shape[1], b)


def multiply_derivative_(int act, floating[:, ::1] delta, const floating[:, ::1] a,
                         floating[::1] grad_bias=None):
    """In place: delta <- delta * f'(a); grad_bias <- delta.sum(axis=0) if given."""
    if a.shape[0] != delta.shape[0] or a.shape[1] != delta.shape[1]:
        raise ValueError("delta and a must have the same shape")
    if grad_bias is not None and grad_bias.shape[0] != delta.shape[1]:
        raise ValueError("grad_bias must have one entry per column of delta")
    if delta.shape[0] == 0 or delta.shape[1] == 0:
        return
    cdef floating* gb = &grad_bias[0] if grad_bias is not None else NULL
    with nogil:
        multiply_derivative(act, &delta[0, 0], &a[0, 0], <int> delta.shape[0],
                            <int> delta.shape[1], gb)
