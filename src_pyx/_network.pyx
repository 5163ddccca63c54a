"""Whole-network passes: forward, loss, and forward + backward, each one call without the GIL.

A network of L layers is described once by a Plan (sizes, activation codes, loss code and
where each W[l] and b[l] sits in the flat parameter vector). Activations and deltas of all
layers live packed in two flat workspaces owned by the caller: for a batch of m rows,
layer l's (m x n_l) block starts at m * unit_offset[l]. Nothing is allocated per call.

The def functions check every shape against the Plan before any kernel runs; the cdef
passes below trust their callers.
"""
from cython cimport floating
from libc.stdlib cimport malloc, free
from libc.string cimport memset

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


cdef class Plan:
    """The C description of a network's layers; built once per Network."""
    cdef NetLayout c

    def __cinit__(self, sizes, activations, int loss, w_offsets, b_offsets, Py_ssize_t n_params):
        cdef int L = len(sizes) - 1, l
        if L < 1 or len(activations) != L or len(w_offsets) != L or len(b_offsets) != L:
            raise ValueError("inconsistent layer description")
        self.c.n_layers = L
        self.c.loss = loss
        self.c.n_params = n_params
        self.c.sizes = <int*> malloc((L + 1) * sizeof(int))
        self.c.act = <int*> malloc(L * sizeof(int))
        self.c.w_off = <Py_ssize_t*> malloc(L * sizeof(Py_ssize_t))
        self.c.b_off = <Py_ssize_t*> malloc(L * sizeof(Py_ssize_t))
        self.c.unit_off = <Py_ssize_t*> malloc(L * sizeof(Py_ssize_t))
        if not (self.c.sizes and self.c.act and self.c.w_off and self.c.b_off and self.c.unit_off):
            raise MemoryError()
        self.c.n_units = 0
        for l in range(L + 1):
            self.c.sizes[l] = sizes[l]
            if sizes[l] < 1:
                raise ValueError("every layer needs at least one unit")
        for l in range(L):
            self.c.act[l] = activations[l]
            self.c.w_off[l] = w_offsets[l]
            self.c.b_off[l] = b_offsets[l]
            self.c.unit_off[l] = self.c.n_units
            self.c.n_units += sizes[l + 1]
            # the kernels trust these offsets: make sure every block lies inside params
            if <Py_ssize_t> sizes[l] * sizes[l + 1] > 2147483647:
                raise ValueError(f"layer {l} has over 2**31 weights")
            if (w_offsets[l] < 0 or w_offsets[l] + sizes[l] * sizes[l + 1] > n_params
                    or b_offsets[l] < -1 or b_offsets[l] + sizes[l + 1] > n_params):
                raise ValueError("parameter block outside the parameter vector")

    def __dealloc__(self):
        free(self.c.sizes)
        free(self.c.act)
        free(self.c.w_off)
        free(self.c.b_off)
        free(self.c.unit_off)

    @property
    def n_units(self):
        """Units in all layers but the input: the workspace needs m * n_units entries."""
        return self.c.n_units


cdef inline const floating* layer_input(const NetLayout* net, int l, const floating* X,
                                        const floating* acts, int m) noexcept nogil:
    return X if l == 0 else acts + m * net.unit_off[l - 1]


cdef void forward_pass(const NetLayout* net, const floating* params, const floating* X,
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


cdef double weight_penalty(const NetLayout* net, const floating* params) noexcept nogil:
    """sum_l ||W[l]||^2 (biases are not decayed)."""
    cdef double total = 0
    cdef int l, size
    for l in range(net.n_layers):  # Plan guarantees each W has < 2**31 entries
        size = net.sizes[l] * net.sizes[l + 1]
        total += dot(size, params + net.w_off[l], params + net.w_off[l])
    return total


cdef double backward_pass(const NetLayout* net, const floating* params, const floating* X,
                          const floating* Y, int m, floating weight_decay, floating* acts,
                          floating* deltas, floating* grad) noexcept nogil:
    """J = (1/m) sum_i L(y_i, a_i) + (weight_decay/2) sum_l ||W[l]||^2; with grad not NULL
    also delta[l] = dJ/dz[l] into deltas and dJ/dparams into grad:
        delta[L-1] from the loss kernel (it carries the 1/m)
        delta[l-1] = (delta[l] @ W[l].T) * f'(a[l-1])
        grad W[l] = a[l-1].T @ delta[l] + weight_decay * W[l],  grad b[l] = sum_rows delta[l]
    """
    cdef int L = net.n_layers, l = L - 1, n_in, n_out
    cdef Py_ssize_t k, size
    cdef floating* out = acts + m * net.unit_off[l]
    cdef floating* delta = deltas + m * net.unit_off[l] if grad != NULL else NULL
    cdef const floating* W
    cdef floating* grad_W
    cdef floating beta
    cdef double J
    forward_pass(net, params, X, m, acts, False)
    J = output_layer(net.loss, net.act[l], out,
                     params + net.b_off[l] if net.b_off[l] >= 0 else NULL, Y, m,
                     net.sizes[L], <floating> (1.0 / m), delta,
                     grad + net.b_off[l] if grad != NULL and net.b_off[l] >= 0 else NULL) / m
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


cdef int check(Plan plan, Py_ssize_t n_params, Py_ssize_t m, Py_ssize_t n_features,
               Py_ssize_t acts_size) except -1:
    """The boundary check that makes the unchecked passes safe."""
    if n_params != plan.c.n_params:
        raise ValueError(f"params has {n_params} entries, the network has {plan.c.n_params}")
    if m < 1:
        raise ValueError("X has no rows")
    if n_features != plan.c.sizes[0]:
        raise ValueError(f"X has {n_features} features, the network expects {plan.c.sizes[0]}")
    if acts_size < m * plan.c.n_units:
        raise ValueError(f"workspace has {acts_size} entries, {m * plan.c.n_units} needed")
    if m > 2147483647 // max(plan.c.n_units, 1):
        raise ValueError("batch too large for one call: split it")
    return 0


def forward(Plan plan, const floating[::1] params, const floating[:, ::1] X,
            floating[::1] acts):
    """Fill acts with every layer's activations for the rows of X (output block last)."""
    check(plan, params.shape[0], X.shape[0], X.shape[1], acts.shape[0])
    with nogil:
        forward_pass(&plan.c, &params[0], &X[0, 0], <int> X.shape[0], &acts[0], True)


def loss(Plan plan, const floating[::1] params, const floating[:, ::1] X,
         const floating[:, ::1] Y, floating[::1] acts, double weight_decay=0.0):
    """J for (X, Y) without gradients; acts receives the activations."""
    check(plan, params.shape[0], X.shape[0], X.shape[1], acts.shape[0])
    if Y.shape[0] != X.shape[0] or Y.shape[1] != plan.c.sizes[plan.c.n_layers]:
        raise ValueError("Y must have one row per row of X and one column per output")
    cdef double J
    with nogil:
        J = backward_pass(&plan.c, &params[0], &X[0, 0], &Y[0, 0], <int> X.shape[0],
                          <floating> weight_decay, &acts[0], <floating*> NULL, <floating*> NULL)
    return J


def backward(Plan plan, const floating[::1] params, const floating[:, ::1] X,
             const floating[:, ::1] Y, floating[::1] acts, floating[::1] deltas,
             floating[::1] grad, double weight_decay=0.0):
    """J for (X, Y); acts, deltas and grad receive activations, node deltas and dJ/dparams."""
    check(plan, params.shape[0], X.shape[0], X.shape[1], acts.shape[0])
    if Y.shape[0] != X.shape[0] or Y.shape[1] != plan.c.sizes[plan.c.n_layers]:
        raise ValueError("Y must have one row per row of X and one column per output")
    if deltas.shape[0] < X.shape[0] * plan.c.n_units:
        raise ValueError("deltas workspace too small")
    if grad.shape[0] != plan.c.n_params:
        raise ValueError(f"grad has {grad.shape[0]} entries, the network has {plan.c.n_params}")
    cdef double J
    with nogil:
        J = backward_pass(&plan.c, &params[0], &X[0, 0], &Y[0, 0], <int> X.shape[0],
                          <floating> weight_decay, &acts[0], &deltas[0], &grad[0])
    return J
