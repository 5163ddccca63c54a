# Whole-network passes over a NetLayout, shared by _network (one pass per call) and _train
# (many steps per call). For a batch of m rows, layer l's activations and deltas are the
# (m x n_l) blocks at m * unit_off[l] of two packed workspaces. Callers guarantee every
# shape and offset (the Plan in _network checks them once).
from cython cimport floating

from _blas cimport gemm, dot
from _activations cimport add_bias_activate, multiply_derivative
from _losses cimport output_layer


cdef struct NetLayout:
    int n_layers
    int loss
    int* sizes              # n_layers + 1 widths, input first
    int* act                # activation code of each layer's output
    Py_ssize_t* w_off       # start of W[l] (sizes[l] x sizes[l+1], row-major) in params
    Py_ssize_t* b_off       # start of b[l] in params, -1 without biases
    Py_ssize_t* unit_off    # units in layers before l: layer l's block is at m * unit_off[l]
    Py_ssize_t n_params
    Py_ssize_t n_units
    double loss_scale       # J's data term is scaled by this (1; scikit-learn's mse: 1/n_out)


cdef inline const floating* layer_input(const NetLayout* net, int l, const floating* X,
                                        const floating* acts, int m) noexcept nogil:
    return X if l == 0 else acts + m * net.unit_off[l - 1]


cdef inline void forward_pass(const NetLayout* net, const floating* params, const floating* X,
                              int m, floating* acts, bint activate_output) noexcept nogil:
    """a[l] = f(a[l-1] @ W[l] + b[l]) for every layer; the last layer keeps its GEMM
    output (no bias, no activation) when activate_output is false, for the loss kernel."""
    cdef int l, n_in, n_out
    cdef floating* out
    for l in range(net.n_layers):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        out = acts + m * net.unit_off[l]
        gemm(False, False, m, n_out, n_in, <floating> 1, layer_input(net, l, X, acts, m), n_in,
             params + net.w_off[l], n_out, <floating> 0, out, n_out)
        if l < net.n_layers - 1 or activate_output:
            add_bias_activate(net.act[l], out, m, n_out,
                              params + net.b_off[l] if net.b_off[l] >= 0 else NULL)


cdef inline double weight_penalty(const NetLayout* net, const floating* params) noexcept nogil:
    """sum_l ||W[l]||^2 (biases are not decayed)."""
    cdef double total = 0
    cdef int l
    for l in range(net.n_layers):  # a Plan guarantees each W has < 2**31 entries
        total += dot(net.sizes[l] * net.sizes[l + 1], params + net.w_off[l], params + net.w_off[l])
    return total


cdef inline double backward_pass(const NetLayout* net, const floating* params, const floating* X,
                                 const floating* Y, const floating* sample_weight, int m,
                                 floating weight_decay, floating* acts, floating* deltas,
                                 floating* grad) noexcept nogil:
    """J = (1/m) sum_i w_i L(y_i, a_i) + (weight_decay/2) sum_l ||W[l]||^2 (w_i = 1 when
    sample_weight is NULL); with grad not NULL also delta[l] = dJ/dz[l] into deltas and
    dJ/dparams into grad:
        delta[L-1] from the loss kernel (it carries w_i / m)
        delta[l-1] = (delta[l] @ W[l].T) * f'(a[l-1])
        grad W[l] = a[l-1].T @ delta[l] + weight_decay * W[l],  grad b[l] = sum_rows delta[l]
    """
    cdef int L = net.n_layers, l = L - 1, n_in, n_out
    cdef Py_ssize_t k, size
    cdef floating* delta = deltas + m * net.unit_off[l] if grad != NULL else NULL
    cdef const floating* W
    cdef floating* grad_W
    cdef floating beta
    cdef double J
    forward_pass(net, params, X, m, acts, False)
    J = output_layer(net.loss, net.act[l], acts + m * net.unit_off[l],
                     params + net.b_off[l] if net.b_off[l] >= 0 else NULL, Y, sample_weight,
                     m, net.sizes[L], <floating> (1.0 / m), delta,
                     grad + net.b_off[l] if grad != NULL and net.b_off[l] >= 0 else NULL) \
        * net.loss_scale / m
    if weight_decay != 0:
        J += 0.5 * weight_decay * weight_penalty(net, params)
    if grad == NULL:
        return J
    for l in range(L - 1, -1, -1):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        W = params + net.w_off[l]
        grad_W = grad + net.w_off[l]
        delta = deltas + m * net.unit_off[l]
        beta = 0
        if weight_decay != 0:
            size = n_in * n_out
            for k in range(size):
                grad_W[k] = weight_decay * W[k]
            beta = 1
        gemm(True, False, n_in, n_out, m, <floating> 1, layer_input(net, l, X, acts, m), n_in,
             delta, n_out, beta, grad_W, n_out)
        if l > 0:
            gemm(False, True, m, n_in, n_out, <floating> 1, delta, n_out, W, n_out,
                 <floating> 0, deltas + m * net.unit_off[l - 1], n_in)
            multiply_derivative(net.act[l - 1], deltas + m * net.unit_off[l - 1],
                                acts + m * net.unit_off[l - 1], m, n_in,
                                grad + net.b_off[l - 1] if net.b_off[l - 1] >= 0 else NULL)
    return J
