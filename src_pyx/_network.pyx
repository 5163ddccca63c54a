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

from cpython.pycapsule cimport PyCapsule_New

from _passes cimport NetLayout, forward_pass, backward_pass


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
        self.c.loss_scale = 1.0
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

    def capsule(self):
        """A capsule holding this Plan's NetLayout* for the other compiled modules; valid
        while the Plan lives (callers pass the Plan along to keep it alive)."""
        return PyCapsule_New(&self.c, b"fastnn.NetLayout", NULL)

    @property
    def loss_scale(self):
        """Factor on J's data term only (the gradient is not scaled): scikit-learn reports
        its squared error averaged over the outputs while its gradient sums them."""
        return self.c.loss_scale

    @loss_scale.setter
    def loss_scale(self, double value):
        self.c.loss_scale = value

    @property
    def n_units(self):
        """Units in all layers but the input: the workspace needs m * n_units entries."""
        return self.c.n_units


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


cdef int check_targets(Plan plan, Py_ssize_t m, Py_ssize_t y_rows, Py_ssize_t y_cols,
                       Py_ssize_t n_weights) except -1:
    if y_rows != m or y_cols != plan.c.sizes[plan.c.n_layers]:
        raise ValueError("Y must have one row per row of X and one column per output")
    if n_weights >= 0 and n_weights != m:
        raise ValueError("sample_weight must have one entry per row of X")
    return 0


def loss(Plan plan, const floating[::1] params, const floating[:, ::1] X,
         const floating[:, ::1] Y, floating[::1] acts, double weight_decay=0.0,
         const floating[::1] sample_weight=None):
    """J for (X, Y) without gradients; acts receives the activations."""
    check(plan, params.shape[0], X.shape[0], X.shape[1], acts.shape[0])
    check_targets(plan, X.shape[0], Y.shape[0], Y.shape[1],
                  sample_weight.shape[0] if sample_weight is not None else -1)
    cdef const floating* w = &sample_weight[0] if sample_weight is not None else NULL
    cdef double J
    with nogil:
        J = backward_pass(&plan.c, &params[0], &X[0, 0], &Y[0, 0], w, <int> X.shape[0],
                          <floating> weight_decay, &acts[0], <floating*> NULL, <floating*> NULL)
    return J


def backward(Plan plan, const floating[::1] params, const floating[:, ::1] X,
             const floating[:, ::1] Y, floating[::1] acts, floating[::1] deltas,
             floating[::1] grad, double weight_decay=0.0, const floating[::1] sample_weight=None):
    """J for (X, Y); acts, deltas and grad receive activations, node deltas and dJ/dparams.
    With sample_weight, J = (1/m) sum_i w_i L_i (+ the decay term)."""
    check(plan, params.shape[0], X.shape[0], X.shape[1], acts.shape[0])
    check_targets(plan, X.shape[0], Y.shape[0], Y.shape[1],
                  sample_weight.shape[0] if sample_weight is not None else -1)
    if deltas.shape[0] < X.shape[0] * plan.c.n_units:
        raise ValueError("deltas workspace too small")
    if grad.shape[0] != plan.c.n_params:
        raise ValueError(f"grad has {grad.shape[0]} entries, the network has {plan.c.n_params}")
    cdef const floating* w = &sample_weight[0] if sample_weight is not None else NULL
    cdef double J
    with nogil:
        J = backward_pass(&plan.c, &params[0], &X[0, 0], &Y[0, 0], w, <int> X.shape[0],
                          <floating> weight_decay, &acts[0], &deltas[0], &grad[0])
    return J
