"""The compiled kernels' Python boundary: network passes, the fused optimizer step, whole
runs of training epochs, and thin twins of the element-wise kernels for the tests.

The maths lives in the .pxd files beside this one (activations, losses, optimizer rules,
passes, the thread policy); this module checks every buffer once and then calls them
without the GIL. setup.py compiles it once per instruction-set level (fastnn._kernels_*),
and fastnn/_dispatch.py loads the best one the CPU runs.

A network of L layers is described once by a Plan (sizes, activation codes, loss code and
where each W[l] and b[l] sits in the flat parameter vector). Activations and deltas of all
layers live packed in two flat workspaces owned by the caller: for a batch of m rows,
layer l's (m x n_l) block starts at m * unit_offsets[l]; a hidden gelu or silu layer's
activations are followed by its block D = f'(z) for the backward pass, and the output
layer's block is always last. Nothing is allocated per call.

`threads` is the most threads a call may use; the policy of _team.pxd decides, phase by
phase, how many it does use. Callers make the BLAS behind scipy run one thread per call.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport isfinite
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy
cimport numpy as cnp

cnp.import_array()

from _activations cimport (add_bias_activate, add_bias_activate_keep, column_sums,
                           multiply_derivative, needs_z)
from _clip_average cimport EMA, NO_AVERAGE, SWA, average_weights, clip_gradient
from _dropout cimport DropoutDraw
from _fmath cimport exp_nonpositive
from _losses cimport output_rows
from _optim cimport update
from _passes cimport NetLayout, forward_pass, backward_pass
from _team cimport ELEMENT_WORK, parts_for, share_start

cdef extern from *:
    """
    #ifndef FASTNN_VARIANT
    #define FASTNN_VARIANT "generic"
    #endif
    #ifdef _OPENMP
    #define FASTNN_OPENMP 1
    #else
    #define FASTNN_OPENMP 0
    #endif
    /* The instruction-set level this CPU runs: 3 for x86-64-v3 (AVX2, FMA, BMI2, ...),
       1 for baseline x86-64, 0 elsewhere. The checks include the OS's support for AVX. */
    static int fastnn_cpu_level(void) {
    #if defined(__x86_64__) && defined(__GNUC__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx") && __builtin_cpu_supports("avx2")
                && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi")
                && __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("f16c")
                && __builtin_cpu_supports("movbe"))
            return 3;
        return 1;
    #else
        return 0;
    #endif
    }
    """
    const char* FASTNN_VARIANT
    int FASTNN_OPENMP
    int fastnn_cpu_level() noexcept nogil


cdef extern from *:
    """
    #include <signal.h>
    #include <string.h>
    /* Ctrl-C during a compiled run: a C handler sets this flag, which the training loop reads
       between batches (a Python handler cannot run while the loop holds no GIL), then hands
       the signal on to the handler it replaced (Python's, which then runs as usual). */
    static volatile sig_atomic_t fastnn_stop = 0;
    static struct sigaction fastnn_replaced;
    static void fastnn_on_sigint(int signum) {
        fastnn_stop = 1;
        if (!(fastnn_replaced.sa_flags & SA_SIGINFO) && fastnn_replaced.sa_handler != SIG_DFL
                && fastnn_replaced.sa_handler != SIG_IGN)
            fastnn_replaced.sa_handler(signum);
    }
    static int fastnn_hook_sigint(void) {
        struct sigaction action;
        memset(&action, 0, sizeof(action));
        action.sa_handler = fastnn_on_sigint;
        sigemptyset(&action.sa_mask);
        fastnn_stop = 0;
        return sigaction(SIGINT, &action, &fastnn_replaced) == 0;
    }
    static void fastnn_unhook_sigint(void) { sigaction(SIGINT, &fastnn_replaced, NULL); }
    """
    int fastnn_stop
    int fastnn_hook_sigint() noexcept nogil
    void fastnn_unhook_sigint() noexcept nogil


cdef bint hook_interrupt() noexcept:
    """Let SIGINT stop a compiled run between batches (main thread only: that is where the
    signal goes and where Python's handler runs). Returns whether the hook is in place."""
    import threading
    if threading.current_thread() is not threading.main_thread():
        return False
    return fastnn_hook_sigint()


cdef void unhook_interrupt() noexcept:
    fastnn_unhook_sigint()

#: the instruction-set variant this module was compiled for, and whether it has OpenMP
VARIANT = FASTNN_VARIANT.decode()
OPENMP = bool(FASTNN_OPENMP)


def cpu_level():
    """3 when the CPU (and OS) run x86-64-v3 code, 1 for baseline x86-64, 0 elsewhere."""
    return fastnn_cpu_level()


cdef class Plan:
    """The C description of a network's layers; built once per Network."""
    cdef NetLayout c

    def __cinit__(self, sizes, activations, int loss, w_offsets, b_offsets, Py_ssize_t n_params,
                  double huber_delta=1.0, dropout=None):
        cdef int L = len(sizes) - 1, l
        if dropout is None:
            dropout = [0.0] * L
        if (L < 1 or len(activations) != L or len(w_offsets) != L or len(b_offsets) != L
                or len(dropout) != L or dropout[L - 1] != 0):
            raise ValueError("inconsistent layer description")
        self.c.n_layers = L
        self.c.loss = loss
        self.c.n_params = n_params
        self.c.sizes = <int*> malloc((L + 1) * sizeof(int))
        self.c.act = <int*> malloc(L * sizeof(int))
        self.c.w_off = <Py_ssize_t*> malloc(L * sizeof(Py_ssize_t))
        self.c.b_off = <Py_ssize_t*> malloc(L * sizeof(Py_ssize_t))
        self.c.unit_off = <Py_ssize_t*> malloc(L * sizeof(Py_ssize_t))
        self.c.d_off = <Py_ssize_t*> malloc(L * sizeof(Py_ssize_t))
        self.c.drop = <double*> malloc(L * sizeof(double))
        if not (self.c.sizes and self.c.act and self.c.w_off and self.c.b_off and self.c.unit_off
                and self.c.d_off and self.c.drop):
            raise MemoryError()
        self.c.n_units = 0
        self.c.loss_scale = 1.0
        self.c.huber_delta = huber_delta
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
            # a hidden layer whose f' needs z, or that drops units (D carries the dropout
            # factors), gets a D block right after its own; the output layer has none (the
            # loss kernel has z in hand), so its block stays last
            self.c.drop[l] = dropout[l]
            if not 0 <= self.c.drop[l] < 1:
                raise ValueError(f"dropout rate {dropout[l]} outside [0, 1)")
            self.c.d_off[l] = -1
            if l < L - 1 and (needs_z(activations[l]) or self.c.drop[l] > 0):
                self.c.d_off[l] = self.c.n_units
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
        free(self.c.d_off)
        free(self.c.drop)

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
        """Units in all layers but the input, D blocks included: the workspace needs
        m * n_units entries."""
        return self.c.n_units

    @property
    def unit_offsets(self):
        """Where each layer's block starts in a workspace, in units (times m for m rows)."""
        return tuple(self.c.unit_off[l] for l in range(self.c.n_layers))

    @property
    def derivative_offsets(self):
        """Where each layer's D = f'(z) block starts in the activations workspace, in units;
        -1 for the layers without one."""
        return tuple(self.c.d_off[l] for l in range(self.c.n_layers))


cdef int check(Plan plan, Py_ssize_t n_params, Py_ssize_t m, Py_ssize_t n_features,
               Py_ssize_t acts_size, int threads) except -1:
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
    if threads < 1:
        raise ValueError(f"threads must be >= 1; got {threads}")
    return 0


cdef int check_targets(Plan plan, Py_ssize_t m, Py_ssize_t y_rows, Py_ssize_t y_cols,
                       Py_ssize_t n_weights) except -1:
    if y_rows != m or y_cols != plan.c.sizes[plan.c.n_layers]:
        raise ValueError("Y must have one row per row of X and one column per output")
    if n_weights >= 0 and n_weights != m:
        raise ValueError("sample_weight must have one entry per row of X")
    return 0


def forward(Plan plan, const floating[::1] params, const floating[:, ::1] X,
            floating[::1] acts, int threads=1):
    """Fill acts with every layer's activations for the rows of X (output block last)."""
    check(plan, params.shape[0], X.shape[0], X.shape[1], acts.shape[0], threads)
    with nogil:
        forward_pass(&plan.c, &params[0], &X[0, 0], <int> X.shape[0], &acts[0], True, False,
                     threads)


cdef class Predictor:
    """Predictions for a few rows with every check done in C, for callers that predict one
    row at a time (services, the drop-ins' predict_proba): one call costs about as much as
    the products themselves.

    predictor(X, out=None) gives the output activations for X, written into `out` when it is
    given, if X is an ndarray the kernels take as it is (2-D, C-ordered, aligned, native byte
    order, the network's dtype and width, 1 to max_rows rows, every entry finite) and `out`
    (when given) is a writeable C-ordered ndarray of the network's dtype and shape
    (rows, n_outputs). Otherwise it returns None and writes nothing: the caller then takes
    the general path, which converts what it can and raises the documented errors.

    The GIL stays held (a few rows take microseconds), so one workspace serves every thread.
    """
    cdef Plan plan
    cdef object params          # keeps the parameter vector alive
    cdef object workspace       # max_rows rows of every layer
    cdef char* p_params
    cdef char* p_acts
    cdef int type_num, n_in, n_out, max_rows

    def __cinit__(self, Plan plan, cnp.ndarray params, int max_rows):
        if not (cnp.PyArray_ISCARRAY_RO(params) and cnp.PyArray_ISNOTSWAPPED(params)
                and cnp.PyArray_NDIM(params) == 1 and params.shape[0] == plan.c.n_params
                and cnp.PyArray_TYPE(params) in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64)):
            raise ValueError("params must be a C-ordered float32 or float64 vector of the "
                             "plan's size")
        if max_rows < 1:
            raise ValueError(f"max_rows must be >= 1; got {max_rows}")
        self.plan = plan
        self.params = params
        self.type_num = cnp.PyArray_TYPE(params)
        self.n_in = plan.c.sizes[0]
        self.n_out = plan.c.sizes[plan.c.n_layers]
        self.max_rows = max_rows
        self.workspace = cnp.PyArray_EMPTY(1, [max_rows * plan.c.n_units], self.type_num, 0)
        self.p_params = <char*> cnp.PyArray_DATA(params)
        self.p_acts = <char*> cnp.PyArray_DATA(<cnp.ndarray> self.workspace)

    cdef bint fits(self, object array, int columns, bint writeable) noexcept:
        """Whether `array` is an ndarray of our dtype, C-ordered and aligned (and writeable),
        2-D with `columns` columns and 1 to max_rows rows."""
        cdef cnp.ndarray a
        if not cnp.PyArray_CheckExact(array):
            return False
        a = <cnp.ndarray> array
        return (cnp.PyArray_NDIM(a) == 2 and cnp.PyArray_TYPE(a) == self.type_num
                and cnp.PyArray_ISNOTSWAPPED(a)
                and (cnp.PyArray_ISCARRAY(a) if writeable else cnp.PyArray_ISCARRAY_RO(a))
                and a.shape[1] == columns and 0 < a.shape[0] <= self.max_rows)

    def __call__(self, object X, object out=None):
        cdef cnp.npy_intp dims[2]
        cdef Py_ssize_t m, i, size
        cdef char* x
        cdef char* result
        if not self.fits(X, self.n_in, False):
            return None
        m = (<cnp.ndarray> X).shape[0]
        if out is not None and not (self.fits(out, self.n_out, True)
                                    and (<cnp.ndarray> out).shape[0] == m):
            return None
        x = <char*> cnp.PyArray_DATA(<cnp.ndarray> X)
        size = m * self.n_in
        if self.type_num == cnp.NPY_FLOAT64:
            for i in range(size):  # non-finite rows get the general path's error
                if not isfinite((<double*> x)[i]):
                    return None
        else:
            for i in range(size):
                if not isfinite((<float*> x)[i]):
                    return None
        if out is None:
            dims[0] = m
            dims[1] = self.n_out
            out = cnp.PyArray_EMPTY(2, dims, self.type_num, 0)
        result = <char*> cnp.PyArray_DATA(<cnp.ndarray> out)
        size = m * self.n_out
        if self.type_num == cnp.NPY_FLOAT64:
            forward_pass(&self.plan.c, <double*> self.p_params, <double*> x, <int> m,
                         <double*> self.p_acts, True, False, 1)
            memcpy(result, <double*> self.p_acts + m * self.plan.c.n_units - size,
                   size * sizeof(double))
        else:
            forward_pass(&self.plan.c, <float*> self.p_params, <float*> x, <int> m,
                         <float*> self.p_acts, True, False, 1)
            memcpy(result, <float*> self.p_acts + m * self.plan.c.n_units - size,
                   size * sizeof(float))
        return out


cdef DropoutDraw* dropout_draw(DropoutDraw* draw, object seed, long long step) except? NULL:
    """The draw of a training pass (seed: 0 to 2**64 - 1), or NULL without a seed."""
    if seed is None:
        return NULL
    draw.seed = <unsigned long long> seed
    draw.step = step
    return draw


def loss(Plan plan, const floating[::1] params, const floating[:, ::1] X,
         const floating[:, ::1] Y, floating[::1] acts, double weight_decay=0.0,
         const floating[::1] sample_weight=None, int threads=1, dropout_seed=None,
         long long dropout_step=0):
    """J for (X, Y) without gradients; acts receives the activations. With dropout_seed,
    the pass drops units as training step dropout_step of that seed does (fastnn.dropout)."""
    check(plan, params.shape[0], X.shape[0], X.shape[1], acts.shape[0], threads)
    check_targets(plan, X.shape[0], Y.shape[0], Y.shape[1],
                  sample_weight.shape[0] if sample_weight is not None else -1)
    cdef const floating* w = &sample_weight[0] if sample_weight is not None else NULL
    cdef double J
    cdef DropoutDraw draw
    cdef const DropoutDraw* dropout = dropout_draw(&draw, dropout_seed, dropout_step)
    with nogil:
        J = backward_pass(&plan.c, &params[0], &X[0, 0], &Y[0, 0], w, <int> X.shape[0],
                          <floating> weight_decay, &acts[0], <floating*> NULL, <floating*> NULL,
                          threads, NULL, NULL, dropout)
    return J


def backward(Plan plan, const floating[::1] params, const floating[:, ::1] X,
             const floating[:, ::1] Y, floating[::1] acts, floating[::1] deltas,
             floating[::1] grad, double weight_decay=0.0, const floating[::1] sample_weight=None,
             int threads=1, dropout_seed=None, long long dropout_step=0):
    """J for (X, Y); acts, deltas and grad receive activations, node deltas and dJ/dparams.
    With sample_weight, J = (1/m) sum_i w_i L_i (+ the decay term). With dropout_seed, the
    training pass of fastnn.dropout (see loss)."""
    check(plan, params.shape[0], X.shape[0], X.shape[1], acts.shape[0], threads)
    check_targets(plan, X.shape[0], Y.shape[0], Y.shape[1],
                  sample_weight.shape[0] if sample_weight is not None else -1)
    if deltas.shape[0] < X.shape[0] * plan.c.n_units:
        raise ValueError("deltas workspace too small")
    if grad.shape[0] != plan.c.n_params:
        raise ValueError(f"grad has {grad.shape[0]} entries, the network has {plan.c.n_params}")
    cdef const floating* w = &sample_weight[0] if sample_weight is not None else NULL
    cdef double J
    cdef DropoutDraw draw
    cdef const DropoutDraw* dropout = dropout_draw(&draw, dropout_seed, dropout_step)
    with nogil:
        J = backward_pass(&plan.c, &params[0], &X[0, 0], &Y[0, 0], w, <int> X.shape[0],
                          <floating> weight_decay, &acts[0], &deltas[0], &grad[0], threads,
                          NULL, NULL, dropout)
    return J


# -- sparse (CSR) input -------------------------------------------------------------------------

cdef int check_csr(Plan plan, const Py_ssize_t[::1] x_ptr, const int[::1] x_idx,
                   Py_ssize_t n_values) except -1:
    """CSR rows the passes may trust: offsets that never decrease and stay inside the index
    and value arrays, and column indices inside the first layer."""
    cdef Py_ssize_t r, p, m = x_ptr.shape[0] - 1
    cdef int n_in = plan.c.sizes[0]
    if m < 1:
        raise ValueError("X has no rows")
    if x_ptr[0] < 0 or x_ptr[m] > x_idx.shape[0] or x_ptr[m] > n_values:
        raise ValueError("CSR offsets outside the index and value arrays")
    for r in range(m):
        if x_ptr[r + 1] < x_ptr[r]:
            raise ValueError("CSR offsets must not decrease")
    for p in range(x_ptr[0], x_ptr[m]):
        if not 0 <= x_idx[p] < n_in:
            raise ValueError(f"CSR column index {x_idx[p]} outside [0, {n_in})")
    return 0


def forward_csr(Plan plan, const floating[::1] params, const Py_ssize_t[::1] x_ptr,
                const int[::1] x_idx, const floating[::1] x_val, floating[::1] acts,
                int threads=1):
    """forward for CSR rows (offsets x_ptr, column indices x_idx, values x_val)."""
    cdef Py_ssize_t m = x_ptr.shape[0] - 1
    check(plan, params.shape[0], m, plan.c.sizes[0], acts.shape[0], threads)
    check_csr(plan, x_ptr, x_idx, x_val.shape[0])
    with nogil:
        forward_pass(&plan.c, &params[0], &x_val[0] if x_val.shape[0] else NULL, <int> m,
                     &acts[0], True, False, threads, &x_ptr[0],
                     &x_idx[0] if x_idx.shape[0] else NULL)


def backward_csr(Plan plan, const floating[::1] params, const Py_ssize_t[::1] x_ptr,
                 const int[::1] x_idx, const floating[::1] x_val, const floating[:, ::1] Y,
                 floating[::1] acts, floating[::1] deltas, floating[::1] grad,
                 double weight_decay=0.0, const floating[::1] sample_weight=None, int threads=1,
                 dropout_seed=None, long long dropout_step=0):
    """backward (or, with grad None, loss) for CSR rows; see backward."""
    cdef Py_ssize_t m = x_ptr.shape[0] - 1
    check(plan, params.shape[0], m, plan.c.sizes[0], acts.shape[0], threads)
    check_csr(plan, x_ptr, x_idx, x_val.shape[0])
    check_targets(plan, m, Y.shape[0], Y.shape[1],
                  sample_weight.shape[0] if sample_weight is not None else -1)
    if grad is not None and (deltas is None or deltas.shape[0] < m * plan.c.n_units
                             or grad.shape[0] != plan.c.n_params):
        raise ValueError("deltas or grad do not match the network")
    cdef const floating* w = &sample_weight[0] if sample_weight is not None else NULL
    cdef floating* g = &grad[0] if grad is not None else NULL
    cdef floating* d = &deltas[0] if grad is not None else NULL
    cdef double J
    cdef DropoutDraw draw
    cdef const DropoutDraw* dropout = dropout_draw(&draw, dropout_seed, dropout_step)
    with nogil:
        J = backward_pass(&plan.c, &params[0], &x_val[0] if x_val.shape[0] else NULL, &Y[0, 0],
                          w, <int> m, <floating> weight_decay, &acts[0], d, g, threads,
                          &x_ptr[0], &x_idx[0] if x_idx.shape[0] else NULL, dropout)
    return J


cdef inline void gather_csr_rows(const Py_ssize_t* x_ptr, const int* x_idx,
                                 const floating* x_val, const floating* Y,
                                 const Py_ssize_t* rows, int m, Py_ssize_t n_out,
                                 Py_ssize_t* batch_ptr, int* batch_idx, floating* batch_val,
                                 floating* Y_batch) noexcept nogil:
    """The CSR rows `rows` of X, packed into batch_ptr/idx/val, and Y's rows into Y_batch."""
    cdef int r
    cdef Py_ssize_t start, count, k = 0
    batch_ptr[0] = 0
    for r in range(m):
        start = x_ptr[rows[r]]
        count = x_ptr[rows[r] + 1] - start
        memcpy(batch_idx + k, x_idx + start, count * sizeof(int))
        memcpy(batch_val + k, x_val + start, count * sizeof(floating))
        k += count
        batch_ptr[r + 1] = k
        memcpy(Y_batch + r * n_out, Y + rows[r] * n_out, n_out * sizeof(floating))


# -- optimizer steps ----------------------------------------------------------------------------

# pieces of the flat parameter vector start on whole cache lines
cdef enum:
    UPDATE_ALIGN = 64


cdef inline void update_all(int kind, const double* hyper, const floating* params,
                            floating* updated, const floating* grad, floating* state,
                            Py_ssize_t n, long t, double lr, int threads) noexcept nogil:
    """One update of every parameter (into `updated`, which may be `params`), the vector
    split into contiguous pieces."""
    cdef int p, parts = parts_for(n, ELEMENT_WORK, n, UPDATE_ALIGN, threads)
    cdef Py_ssize_t lo, hi
    if parts == 1:
        update(kind, hyper, params, updated, grad, state, n, n, t, lr)
        return
    for p in prange(parts, num_threads=parts, schedule="static", chunksize=1):
        lo = piece_start(p, parts, n)
        hi = piece_start(p + 1, parts, n)
        update(kind, hyper, params + lo, updated + lo, grad + lo, state + lo, n, hi - lo, t, lr)


cdef inline Py_ssize_t piece_start(int part, int parts, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t blocks = (n + UPDATE_ALIGN - 1) // UPDATE_ALIGN
    cdef Py_ssize_t start = blocks * part // parts * UPDATE_ALIGN
    return start if start < n else n


def step(int kind, const double[::1] hyper, floating[::1] params, const floating[::1] grad,
         floating[:, ::1] state, long t, double lr, int threads=1):
    """params <- one update of rule `kind` (fastnn.optim's codes) at step t (1-based)."""
    cdef Py_ssize_t n = params.shape[0]
    if grad.shape[0] != n or state.shape[1] != n or state.shape[0] < 3 or hyper.shape[0] < 6:
        raise ValueError("grad must match params; state must be (3, n_params); hyper has 6 entries")
    if t < 1:
        raise ValueError("t counts steps from 1")
    if threads < 1:
        raise ValueError(f"threads must be >= 1; got {threads}")
    if n == 0:
        return
    with nogil:
        update_all(kind, &hyper[0], &params[0], &params[0], &grad[0], &state[0, 0], n, t, lr,
                   threads)


# -- training: whole runs of epochs per call ----------------------------------------------------

cdef inline void gather_rows(const floating* X, const floating* Y, const Py_ssize_t* rows,
                             int m, Py_ssize_t n_in, Py_ssize_t n_out, floating* X_batch,
                             floating* Y_batch, int threads) noexcept nogil:
    """X_batch[r] = X[rows[r]], Y_batch[r] = Y[rows[r]] for r < m."""
    cdef int p, r, r0, r1, parts = parts_for(m * (n_in + n_out), ELEMENT_WORK, m, 1, threads)
    if parts == 1:
        copy_rows(X, Y, rows, 0, m, n_in, n_out, X_batch, Y_batch)
        return
    for p in prange(parts, num_threads=parts, schedule="static", chunksize=1):
        r0 = share_start(p, parts, m, 1)
        r1 = share_start(p + 1, parts, m, 1)
        copy_rows(X, Y, rows, r0, r1, n_in, n_out, X_batch, Y_batch)


cdef inline void copy_rows(const floating* X, const floating* Y, const Py_ssize_t* rows, int r0,
                           int r1, Py_ssize_t n_in, Py_ssize_t n_out, floating* X_batch,
                           floating* Y_batch) noexcept nogil:
    cdef int r
    for r in range(r0, r1):
        memcpy(X_batch + r * n_in, X + rows[r] * n_in, n_in * sizeof(floating))
        memcpy(Y_batch + r * n_out, Y + rows[r] * n_out, n_out * sizeof(floating))


cdef inline bint all_finite(const floating* x, Py_ssize_t n) noexcept nogil:
    """Whether x holds no NaN or infinity (x - x is 0 for every finite x, NaN otherwise)."""
    cdef Py_ssize_t i
    cdef floating total = 0
    for i in range(n):
        total = total + (x[i] - x[i])
    return total == 0


def run_epochs(Plan plan, floating[::1] params, const floating[:, ::1] X,
               const floating[:, ::1] Y, const Py_ssize_t[:, ::1] order, int batch_size,
               int kind, const double[::1] hyper, floating[:, ::1] state, long t,
               const double[::1] lrs, double weight_decay, floating[::1] grad,
               floating[::1] acts, floating[::1] deltas, floating[:, ::1] X_batch,
               floating[:, ::1] Y_batch, floating[::1] previous, bint has_previous,
               floating[::1] best, double best_loss, double min_delta, double[::1] losses,
               bint decay_per_row=False, const floating[::1] sample_weight=None,
               floating[::1] weight_batch=None, int threads=1, bint interruptible=False,
               bint stop_on_divergence=True, const Py_ssize_t[::1] x_ptr=None,
               const int[::1] x_idx=None, const floating[::1] x_val=None,
               Py_ssize_t[::1] batch_ptr=None, int[::1] batch_idx=None,
               floating[::1] batch_val=None, const double[:, ::1] step_lrs=None,
               double clip_value=0, double clip_norm=0, int average=NO_AVERAGE,
               floating[::1] averaged=None, long n_averaged=0, double ema_decay=0,
               Py_ssize_t swa_from=0, dropout_seed=None, bint check_weights=True):
    """Train len(lrs) epochs. order[e] is epoch e's row order (ignored for full batches,
    batch_size >= n, which use X and Y in place). losses[e] receives the epoch's mean batch
    loss (weighted by batch length), each batch's loss taken before its update.

    With decay_per_row, each batch of m rows uses weight_decay / m (scikit-learn's alpha).
    With sample_weight (one per row), a batch's cost is sum_i w_i L_i / sum_i w_i (and its
    decay, with decay_per_row, weight_decay / sum_i w_i), as scikit-learn weighs samples;
    weight_batch is the scratch row for a batch's weights.

    The caller (fastnn/training.py) decides the epochs' row orders (from its seeded NumPy
    Generator) and learning rates, so the compiled and the Python loop see the same draws.

    Every update writes the new parameters into the buffer that held the ones before the
    last update, so the last weights whose loss was computed (and finite) are always at
    hand without a copy per step: on a non-finite loss, or when the last update leaves a
    NaN or infinity in the weights, `params` gets them back. `previous` (with has_previous)
    carries them from call to call. Whenever an epoch's loss improves on best_loss by more
    than min_delta, `best` receives the weights after that epoch. With interruptible, a
    SIGINT (Ctrl-C) stops the run after the batch in progress (see hook_interrupt). Without
    stop_on_divergence a non-finite loss is recorded and training goes on, weights too
    (scikit-learn's rule: its caller judges the weights when the fit ends).

    With x_ptr (X None), the rows are CSR (offsets x_ptr, column indices x_idx, values
    x_val) and batch_ptr/idx/val receive each batch's rows (room for all of X's entries).

    step_lrs[e, s], when given, is the rate of epoch e's step s (per-batch schedules), in
    place of lrs[e]. Before each update the gradient is clipped (clip_value, clip_norm: see
    _clip_average.pxd; 0 leaves it). With average EMA, `averaged` takes in the weights after
    every update; with SWA, after every epoch from this call's epoch swa_from on. n_averaged
    counts the weights averaged so far. With dropout_seed, each step t trains on the dropout
    masks of (dropout_seed, t) (fastnn.dropout). Without check_weights, the weights the last
    update left are not judged at the end of the call (a caller that goes on training them,
    as the streamed epochs of fastnn/dask_epochs.py do, meets their loss at its next step).

    Returns (epochs done, t, diverged step or -1 (-2: the last update made the weights
    non-finite), interrupted, best epoch in this call or -1, best_loss, has_previous,
    n_averaged).
    """
    cdef const NetLayout* net = &plan.c
    cdef bint csr = x_ptr is not None
    if csr:
        if X is not None or x_idx is None or x_val is None or x_ptr.shape[0] != Y.shape[0] + 1:
            raise ValueError("run_epochs: CSR rows come as x_ptr (one more than Y's rows), "
                             "x_idx and x_val, with X None")
        check_csr(plan, x_ptr, x_idx, x_val.shape[0])
        if batch_size < Y.shape[0] and (batch_ptr is None or batch_idx is None or batch_val is None
                                        or batch_ptr.shape[0] < batch_size + 1
                                        or batch_idx.shape[0] < x_ptr[Y.shape[0]] - x_ptr[0]
                                        or batch_val.shape[0] < x_ptr[Y.shape[0]] - x_ptr[0]):
            raise ValueError("run_epochs: CSR batch buffers too small")
    elif X is None:
        raise ValueError("run_epochs: X is None without CSR rows")
    cdef Py_ssize_t n = Y.shape[0], n_in = X.shape[1] if not csr else net.sizes[0]
    cdef Py_ssize_t n_out = Y.shape[1]
    cdef const Py_ssize_t* rows_ptr = NULL
    cdef const int* rows_idx = NULL
    cdef const floating* values = NULL
    cdef Py_ssize_t n_params = params.shape[0], n_epochs = lrs.shape[0]
    cdef bint full = batch_size >= n
    cdef Py_ssize_t e, i, start, stop, r, step, diverged = -1, done = n_epochs, best_epoch = -1
    cdef double J, total, weight_sum
    cdef int m
    cdef bint interrupted = False
    cdef const floating* w = NULL
    cdef const floating* x_rows
    cdef const floating* y_rows
    cdef floating* current
    cdef floating* spare
    cdef floating* swap
    cdef int rows = <int> (n if full else batch_size)
    # the passes trust these sizes: check every buffer once
    if (net.n_params != n_params or net.sizes[0] != n_in or net.sizes[net.n_layers] != n_out
            or (not csr and X.shape[0] != n) or n < 1 or batch_size < 1 or grad.shape[0] != n_params
            or previous.shape[0] != n_params or best.shape[0] != n_params
            or state.shape[1] != n_params or state.shape[0] < 3
            or hyper.shape[0] < 6 or losses.shape[0] < n_epochs
            or acts.shape[0] < rows * net.n_units or deltas.shape[0] < rows * net.n_units
            or rows > 2147483647 // max(net.n_units, 1) or threads < 1):
        raise ValueError("run_epochs: buffers do not match the network")
    if not full and ((not csr and (X_batch.shape[0] < batch_size or X_batch.shape[1] != n_in))
                     or Y_batch.shape[0] < batch_size or Y_batch.shape[1] != n_out
                     or order.shape[0] < n_epochs or order.shape[1] != n):
        raise ValueError("run_epochs: batch buffers or row orders do not match")
    cdef bint weighted = sample_weight is not None
    if weighted and (sample_weight.shape[0] != n or weight_batch is None
                     or weight_batch.shape[0] < rows):
        raise ValueError("run_epochs: sample_weight must have one entry per row, weight_batch "
                         "one per batch row")
    cdef Py_ssize_t steps = 1 if full else (n + batch_size - 1) // batch_size
    cdef double lr
    if step_lrs is not None and (step_lrs.shape[0] < n_epochs or step_lrs.shape[1] != steps):
        raise ValueError(f"run_epochs: step_lrs must have {steps} steps for each epoch")
    if average != NO_AVERAGE and (averaged is None or averaged.shape[0] != n_params
                                  or n_averaged < 0):
        raise ValueError("run_epochs: averaged must match params")
    if not full:
        for e in range(n_epochs):
            for i in range(n):
                if not 0 <= order[e, i] < n:
                    raise IndexError(f"row order {order[e, i]} outside [0, {n})")
    cdef DropoutDraw draw
    cdef DropoutDraw* dropout = dropout_draw(&draw, dropout_seed, 0)
    if interruptible:
        interruptible = hook_interrupt()
    current, spare = &params[0], &previous[0]
    with nogil:
        for e in range(n_epochs):
            total = 0
            start = 0
            step = 0
            while start < n:
                if csr:
                    if full:
                        m = <int> n
                        rows_ptr, rows_idx, values, y_rows = &x_ptr[0], &x_idx[0], &x_val[0], &Y[0, 0]
                    else:
                        stop = start + batch_size if start + batch_size < n else n
                        m = <int> (stop - start)
                        gather_csr_rows(&x_ptr[0], &x_idx[0], &x_val[0], &Y[0, 0],
                                        &order[e, start], m, n_out, &batch_ptr[0],
                                        &batch_idx[0], &batch_val[0], &Y_batch[0, 0])
                        rows_ptr, rows_idx, values = &batch_ptr[0], &batch_idx[0], &batch_val[0]
                        y_rows = &Y_batch[0, 0]
                    x_rows = values
                elif full:
                    m = <int> n
                    x_rows, y_rows = &X[0, 0], &Y[0, 0]
                else:
                    stop = start + batch_size if start + batch_size < n else n
                    m = <int> (stop - start)
                    gather_rows(&X[0, 0], &Y[0, 0], &order[e, start], m, n_in, n_out,
                                &X_batch[0, 0], &Y_batch[0, 0], threads)
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
                if dropout != NULL:
                    dropout.step = t + 1  # the step this gradient serves
                J = backward_pass(net, current, x_rows, y_rows, w, m,
                                  <floating> (weight_decay / weight_sum if decay_per_row else weight_decay),
                                  &acts[0], &deltas[0], &grad[0], threads, rows_ptr, rows_idx,
                                  dropout)
                if stop_on_divergence and not isfinite(J):
                    losses[e] = J
                    diverged = step
                    break
                # the loss at `current` is finite: the step writes the new weights over the
                # older ones, and `current` becomes the last weights with a finite loss
                t += 1
                lr = step_lrs[e, step] if step_lrs is not None else lrs[e]
                if clip_value > 0 or clip_norm > 0:
                    clip_gradient(&grad[0], n_params, clip_value, clip_norm)
                update_all(kind, &hyper[0], current, spare, &grad[0], &state[0, 0], n_params, t,
                           lr, threads)
                swap = current
                current = spare
                spare = swap
                has_previous = True
                if average == EMA:
                    average_weights(average, &averaged[0], current, n_params, n_averaged,
                                    ema_decay)
                    n_averaged += 1
                total += J * m
                start += m
                step += 1
                if interruptible and fastnn_stop:
                    interrupted = True
                    break
            if diverged >= 0 or interrupted:
                done = e
                break
            losses[e] = total / n
            if average == SWA and e >= swa_from:
                average_weights(SWA, &averaged[0], current, n_params, n_averaged, ema_decay)
                n_averaged += 1
            if losses[e] < best_loss - min_delta:
                best_loss = losses[e]
                best_epoch = e
                memcpy(&best[0], current, n_params * sizeof(floating))
        if stop_on_divergence and check_weights and diverged < 0 and not all_finite(current, n_params):
            diverged = -2  # the last update made the weights non-finite
        if diverged != -1:
            # back to the last weights whose loss was finite (spare, after the last step), or
            # where the call started if its very first loss was not finite
            if has_previous:
                current = spare
            done = e if diverged >= 0 else n_epochs
        # the network's own buffer holds the result, `previous` the weights before it
        if current != &params[0]:
            memcpy(&grad[0], &params[0], n_params * sizeof(floating))
            memcpy(&params[0], current, n_params * sizeof(floating))
            memcpy(&previous[0], &grad[0], n_params * sizeof(floating))
    if interruptible:
        unhook_interrupt()
    return done, t, diverged, interrupted, best_epoch, best_loss, has_previous, n_averaged


# -- twins of the element-wise kernels, so tests can call them directly ----------------------

def exp_nonpositive_(floating[::1] x):
    """In place: x <- e^x for x <= 0 (the activations' and losses' exponential)."""
    cdef Py_ssize_t i
    with nogil:
        for i in range(x.shape[0]):
            x[i] = exp_nonpositive(x[i])


def activate_(int act, floating[:, ::1] z, const floating[::1] bias=None):
    """In place: z <- f(z + bias) for the activation code `act` (see fastnn.activations)."""
    if bias is not None and bias.shape[0] != z.shape[1]:
        raise ValueError(f"bias has {bias.shape[0]} entries, z has {z.shape[1]} columns")
    if z.shape[0] == 0 or z.shape[1] == 0:
        return
    cdef const floating* b = &bias[0] if bias is not None else NULL
    with nogil:
        add_bias_activate(act, &z[0, 0], <int> z.shape[0], <int> z.shape[1], <int> z.shape[1], b)


def activate_keep_(int act, floating[:, ::1] z, floating[:, ::1] d,
                   const floating[::1] bias=None):
    """In place, for an activation that needs z (gelu, silu): d <- f'(z + bias),
    z <- f(z + bias)."""
    if not needs_z(act):
        raise ValueError(f"activation code {act} takes its derivative from a: use activate_")
    if d.shape[0] != z.shape[0] or d.shape[1] != z.shape[1]:
        raise ValueError("d and z must have the same shape")
    if bias is not None and bias.shape[0] != z.shape[1]:
        raise ValueError(f"bias has {bias.shape[0]} entries, z has {z.shape[1]} columns")
    if z.shape[0] == 0 or z.shape[1] == 0:
        return
    cdef const floating* b = &bias[0] if bias is not None else NULL
    cdef int n = <int> z.shape[1]
    with nogil:
        add_bias_activate_keep(act, &z[0, 0], <int> z.shape[0], n, n, b, &d[0, 0])


def multiply_derivative_(int act, floating[:, ::1] delta, const floating[:, ::1] a,
                         floating[::1] grad_bias=None):
    """In place: delta <- delta * f'(a); grad_bias <- delta.sum(axis=0) if given."""
    if needs_z(act):
        raise ValueError(f"activation code {act} needs z for its derivative: use activate_keep_")
    if a.shape[0] != delta.shape[0] or a.shape[1] != delta.shape[1]:
        raise ValueError("delta and a must have the same shape")
    if grad_bias is not None and grad_bias.shape[0] != delta.shape[1]:
        raise ValueError("grad_bias must have one entry per column of delta")
    if delta.shape[0] == 0 or delta.shape[1] == 0:
        return
    cdef int m = <int> delta.shape[0], n = <int> delta.shape[1]
    with nogil:
        multiply_derivative(act, &delta[0, 0], &a[0, 0], m, n, n)
        if grad_bias is not None:
            column_sums(&delta[0, 0], m, n, n, &grad_bias[0])


def output_layer_(int loss, int act, floating[:, ::1] z, const floating[:, ::1] y,
                  floating[:, ::1] delta=None, const floating[::1] bias=None,
                  floating[::1] grad_bias=None, double huber_delta=1.0):
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
    cdef double total
    with nogil:
        total = output_rows(loss, act, &z[0, 0], b, &y[0, 0], NULL, m, n, <floating> (1.0 / m), d,
                            <floating> huber_delta)
        if grad_bias is not None:
            column_sums(d, m, n, n, &grad_bias[0])
    return total
