# Whole-network passes over a NetLayout, shared by every entry point of _kernels.pyx. For a
# batch of m rows, layer l's activations and deltas are the (m x n_l) blocks at
# m * unit_off[l] of two packed workspaces. A hidden layer whose activation needs z to give
# its derivative (gelu, silu: needs_z) also has a block D = f'(z) at m * d_off[l] of the
# activations workspace, which the training passes fill (keep_derivatives) and the backward
# pass multiplies by; the output layer's block is always the workspace's last. Callers
# guarantee every shape and offset (a Plan checks them once) and that the BLAS behind scipy
# runs one thread per call (the threads here are our own: see _team.pxd).
#
# Each phase below is one parallel loop over its pieces (`prange` with one piece per
# thread); a phase with one piece is a plain call. Products are split along the longer of
# their two output dimensions, so that the operand every thread must pack in full is the
# smaller one.
from cython cimport floating
from cython.parallel cimport prange

from _blas cimport gemm, is_small
from _activations cimport (SOFTMAX, add_bias_activate, add_bias_activate_keep, column_sums,
                           multiply_derivative, multiply_rows)
from _dropout cimport DropoutDraw, drop_block
from _losses cimport output_rows
from _team cimport ALIGN, ELEMENT_WORK, GEMM_WORK, parts_for, share_start


cdef struct NetLayout:
    int n_layers
    int loss
    int* sizes              # n_layers + 1 widths, input first
    int* act                # activation code of each layer's output
    Py_ssize_t* w_off       # start of W[l] (sizes[l] x sizes[l+1], row-major) in params
    Py_ssize_t* b_off       # start of b[l] in params, -1 without biases
    Py_ssize_t* unit_off    # units before layer l's block: it is at m * unit_off[l]
    Py_ssize_t* d_off       # units before layer l's D = f'(z) block; -1: f' comes from a
    double* drop            # dropout rate of each layer's output (0: none)
    Py_ssize_t n_params
    Py_ssize_t n_units
    double loss_scale       # J's data term is scaled by this (1; scikit-learn's mse: 1/n_out)
    double huber_delta      # the huber loss's threshold d


# Row blocks of the loss sum: a fixed split (not one per thread), so that the sum of the
# batch's losses is the same whatever the thread count; at most LOSS_BLOCKS blocks, of at
# least LOSS_BLOCK_ROWS rows.
cdef enum:
    LOSS_BLOCKS = 64
    LOSS_BLOCK_ROWS = 16


cdef inline const floating* layer_input(const NetLayout* net, int l, const floating* X,
                                        const floating* acts, int m) noexcept nogil:
    return X if l == 0 else acts + m * net.unit_off[l - 1]


cdef inline floating* derivative_block(const NetLayout* net, int l, floating* acts,
                                      int m) noexcept nogil:
    """Layer l's D = f'(z) block in the activations workspace, NULL when it has none."""
    return acts + m * net.d_off[l] if net.d_off[l] >= 0 else NULL


cdef inline const floating* bias_of(const NetLayout* net, int l, const floating* params) noexcept nogil:
    return params + net.b_off[l] if net.b_off[l] >= 0 else NULL


# -- forward ----------------------------------------------------------------------------------

cdef inline void dense_piece(const NetLayout* net, int l, const floating* params,
                             const floating* a_in, floating* out, floating* d_out,
                             bint activate, bint small, int r0, int r1, int c0,
                             int c1, const DropoutDraw* dropout) noexcept nogil:
    """Rows r0:r1, columns c0:c1 of out = f(a_in @ W[l] + b[l]) (no bias or f unless
    activate), and of d_out = f'(a_in @ W[l] + b[l]) unless d_out is NULL; with dropout,
    both times the layer's dropout factors."""
    cdef int n_in = net.sizes[l], n_out = net.sizes[l + 1]
    cdef const floating* bias = bias_of(net, l, params)
    cdef Py_ssize_t offset = <Py_ssize_t> r0 * n_out + c0
    if r1 <= r0 or c1 <= c0:
        return
    gemm(False, False, r1 - r0, c1 - c0, n_in, a_in + <Py_ssize_t> r0 * n_in, n_in,
         params + net.w_off[l] + c0, n_out, 0, out + offset, n_out, small)
    if activate and d_out != NULL:
        add_bias_activate_keep(net.act[l], out + offset, r1 - r0, c1 - c0, n_out,
                               bias + c0 if bias != NULL else NULL, d_out + offset)
    elif activate:
        add_bias_activate(net.act[l], out + offset, r1 - r0, c1 - c0, n_out,
                          bias + c0 if bias != NULL else NULL)
    if activate and dropout != NULL and net.drop[l] > 0:
        drop_block(dropout, net.drop[l], l, net.n_layers, out, d_out, r0, r1, c0, c1, n_out)


cdef inline void dense_layer(const NetLayout* net, int l, const floating* params,
                             const floating* a_in, int m, floating* out, floating* d_out,
                             bint activate, int threads,
                             const DropoutDraw* dropout) noexcept nogil:
    """out = f(a_in @ W[l] + b[l]) for m rows (and d_out = f'(a_in @ W[l] + b[l]) unless
    NULL); with activate false, the product alone (the loss kernel adds the bias and the
    output activation)."""
    cdef int n_in = net.sizes[l], n_out = net.sizes[l + 1], p, parts, r0, r1, c0, c1
    cdef bint small = is_small(m, n_out, n_in)
    cdef bint by_columns = n_out >= m
    cdef bint softmax = net.act[l] == SOFTMAX
    cdef const floating* bias = bias_of(net, l, params)
    parts = 1 if small else parts_for(<long long> m * n_in * n_out, GEMM_WORK,
                                      n_out if by_columns else m, ALIGN, threads)
    if parts == 1:
        dense_piece(net, l, params, a_in, out, d_out, activate and not softmax, small, 0, m, 0,
                    n_out, dropout)
    else:
        for p in prange(parts, num_threads=parts, schedule="static", chunksize=1):
            r0 = 0 if by_columns else share_start(p, parts, m, ALIGN)
            r1 = m if by_columns else share_start(p + 1, parts, m, ALIGN)
            c0 = share_start(p, parts, n_out, ALIGN) if by_columns else 0
            c1 = share_start(p + 1, parts, n_out, ALIGN) if by_columns else n_out
            dense_piece(net, l, params, a_in, out, d_out, activate and not softmax, small, r0,
                        r1, c0, c1, dropout)
    if activate and softmax:  # whole rows: a phase of its own, split by rows
        parts = parts_for(<long long> m * n_out, ELEMENT_WORK, m, 1, threads)
        if parts == 1:
            add_bias_activate(SOFTMAX, out, m, n_out, n_out, bias)
        else:
            for p in prange(parts, num_threads=parts, schedule="static", chunksize=1):
                r0 = share_start(p, parts, m, 1)
                r1 = share_start(p + 1, parts, m, 1)
                add_bias_activate(SOFTMAX, out + <Py_ssize_t> r0 * n_out, r1 - r0, n_out,
                                  n_out, bias)


# -- sparse input ------------------------------------------------------------------------------
# A CSR batch is (x_ptr, x_idx, X): row r's stored entries are X[p], in column x_idx[p], for p in
# x_ptr[r]:x_ptr[r+1] (offsets need not start at 0). Only the first layer reads the input, so
# only its product and its weight gradient differ from the dense passes.

cdef inline void sparse_rows_product(const NetLayout* net, const floating* params,
                                     const Py_ssize_t* x_ptr, const int* x_idx,
                                     const floating* X, floating* out, int r0,
                                     int r1) noexcept nogil:
    """Rows r0:r1 of out = X @ W[0]: each stored x_rj adds x_rj W[0][j, :] to row r."""
    cdef int n_out = net.sizes[1], j, r
    cdef Py_ssize_t p
    cdef const floating* W = params + net.w_off[0]
    cdef const floating* w_row
    cdef floating* o
    cdef floating v
    for r in range(r0, r1):
        o = out + <Py_ssize_t> r * n_out
        for j in range(n_out):
            o[j] = 0
        for p in range(x_ptr[r], x_ptr[r + 1]):
            v = X[p]
            w_row = W + <Py_ssize_t> x_idx[p] * n_out
            for j in range(n_out):
                o[j] += v * w_row[j]


cdef inline void sparse_piece(const NetLayout* net, const floating* params,
                              const Py_ssize_t* x_ptr, const int* x_idx, const floating* X,
                              floating* out, floating* d_out, bint activate, int r0,
                              int r1, const DropoutDraw* dropout) noexcept nogil:
    """Rows r0:r1 of out = f(X @ W[0] + b[0]) (the product alone unless activate), and of
    d_out = f'(X @ W[0] + b[0]) unless d_out is NULL."""
    cdef int n_out = net.sizes[1]
    cdef const floating* bias = bias_of(net, 0, params)
    cdef Py_ssize_t offset = <Py_ssize_t> r0 * n_out
    if r1 <= r0:
        return
    sparse_rows_product(net, params, x_ptr, x_idx, X, out, r0, r1)
    if activate and d_out != NULL:
        add_bias_activate_keep(net.act[0], out + offset, r1 - r0, n_out, n_out, bias,
                               d_out + offset)
    elif activate:
        add_bias_activate(net.act[0], out + offset, r1 - r0, n_out, n_out, bias)
    if activate and dropout != NULL and net.drop[0] > 0:
        drop_block(dropout, net.drop[0], 0, net.n_layers, out, d_out, r0, r1, 0, n_out, n_out)


cdef inline void sparse_layer(const NetLayout* net, const floating* params,
                              const Py_ssize_t* x_ptr, const int* x_idx, const floating* X,
                              int m, floating* out, floating* d_out, bint activate,
                              int threads, const DropoutDraw* dropout) noexcept nogil:
    """out = f(X @ W[0] + b[0]) for m CSR rows (see sparse_piece), split by rows."""
    cdef int n_out = net.sizes[1], p, parts
    parts = parts_for(<long long> (x_ptr[m] - x_ptr[0] + m) * n_out, ELEMENT_WORK, m, 1, threads)
    if parts == 1:
        sparse_piece(net, params, x_ptr, x_idx, X, out, d_out, activate, 0, m, dropout)
        return
    for p in prange(parts, num_threads=parts, schedule="static", chunksize=1):
        sparse_piece(net, params, x_ptr, x_idx, X, out, d_out, activate,
                     share_start(p, parts, m, 1), share_start(p + 1, parts, m, 1), dropout)


cdef inline void sparse_gradient_columns(const NetLayout* net, const floating* params,
                                         const Py_ssize_t* x_ptr, const int* x_idx,
                                         const floating* X, int m, const floating* delta,
                                         floating* grad, floating weight_decay, int c0,
                                         int c1) noexcept nogil:
    """Columns c0:c1 of grad W[0] = X.T @ delta + weight_decay * W[0] and of grad b[0]; the
    rows' contributions are added in row order (the same sums whatever the split)."""
    cdef int n_in = net.sizes[0], n_out = net.sizes[1], i, j, r
    cdef Py_ssize_t p
    cdef const floating* W = params + net.w_off[0]
    cdef floating* gW = grad + net.w_off[0]
    cdef floating* g
    cdef const floating* d
    cdef floating v
    if c1 <= c0:
        return
    for i in range(n_in):
        for j in range(c0, c1):
            gW[<Py_ssize_t> i * n_out + j] = weight_decay * W[<Py_ssize_t> i * n_out + j]
    for r in range(m):
        d = delta + <Py_ssize_t> r * n_out
        for p in range(x_ptr[r], x_ptr[r + 1]):
            v = X[p]
            g = gW + <Py_ssize_t> x_idx[p] * n_out
            for j in range(c0, c1):
                g[j] += v * d[j]
    if net.b_off[0] >= 0:
        column_sums(delta + c0, m, c1 - c0, n_out, grad + net.b_off[0] + c0)


cdef inline void sparse_gradients(const NetLayout* net, const floating* params,
                                  const Py_ssize_t* x_ptr, const int* x_idx, const floating* X,
                                  int m, const floating* delta, floating* grad,
                                  floating weight_decay, int threads) noexcept nogil:
    """grad W[0] and grad b[0] for CSR rows, split by columns (no two threads write one
    entry)."""
    cdef int n_in = net.sizes[0], n_out = net.sizes[1], p, parts
    parts = parts_for(<long long> (x_ptr[m] - x_ptr[0]) * n_out + <long long> n_in * n_out,
                      ELEMENT_WORK, n_out, ALIGN, threads)
    if parts == 1:
        sparse_gradient_columns(net, params, x_ptr, x_idx, X, m, delta, grad, weight_decay, 0,
                                n_out)
        return
    for p in prange(parts, num_threads=parts, schedule="static", chunksize=1):
        sparse_gradient_columns(net, params, x_ptr, x_idx, X, m, delta, grad, weight_decay,
                                share_start(p, parts, n_out, ALIGN),
                                share_start(p + 1, parts, n_out, ALIGN))


cdef inline void forward_pass(const NetLayout* net, const floating* params, const floating* X,
                              int m, floating* acts, bint activate_output, bint keep_derivatives,
                              int threads, const Py_ssize_t* x_ptr=NULL,
                              const int* x_idx=NULL,
                              const DropoutDraw* dropout=NULL) noexcept nogil:
    """a[l] = f(a[l-1] @ W[l] + b[l]) for every layer; the last layer keeps its GEMM
    output (no bias, no activation) when activate_output is false, for the loss kernel.
    With keep_derivatives (for a backward pass), the layers with a D block (d_off) also get
    D = f'(z) there. With dropout (training), each layer with a dropout rate has its
    activations and D multiplied by its dropout factors (_dropout.pxd). With x_ptr, X holds
    the values of m CSR rows (see above)."""
    cdef int l
    cdef bint activate
    cdef floating* d_out
    for l in range(net.n_layers):
        activate = l < net.n_layers - 1 or activate_output
        d_out = derivative_block(net, l, acts, m) if keep_derivatives and activate else NULL
        if l == 0 and x_ptr != NULL:
            sparse_layer(net, params, x_ptr, x_idx, X, m, acts, d_out, activate, threads,
                         dropout)
        else:
            dense_layer(net, l, params, layer_input(net, l, X, acts, m), m,
                        acts + m * net.unit_off[l], d_out, activate, threads, dropout)


# -- loss ---------------------------------------------------------------------------------------

cdef inline void loss_blocks(const NetLayout* net, floating* z, const floating* bias,
                             const floating* Y, const floating* sample_weight, int m, int n,
                             floating scale, floating* delta, int blocks, int b0, int b1,
                             double* partial) noexcept nogil:
    cdef int b, r0, r1, L = net.n_layers
    for b in range(b0, b1):
        r0 = share_start(b, blocks, m, 1)
        r1 = share_start(b + 1, blocks, m, 1)
        partial[b] = output_rows(net.loss, net.act[L - 1], z + <Py_ssize_t> r0 * n, bias,
                                 Y + <Py_ssize_t> r0 * n,
                                 sample_weight + r0 if sample_weight != NULL else NULL,
                                 r1 - r0, n, scale,
                                 delta + <Py_ssize_t> r0 * n if delta != NULL else NULL,
                                 <floating> net.huber_delta)


cdef inline double output_loss(const NetLayout* net, const floating* params, const floating* Y,
                               const floating* sample_weight, int m, floating* z,
                               floating* delta, int threads) noexcept nogil:
    """sum_i w_i L_i over the batch (see output_rows): rows in LOSS_BLOCKS fixed blocks, each
    summed in order, the block sums added in order."""
    cdef int L = net.n_layers, n = net.sizes[L]
    cdef int blocks = (m + LOSS_BLOCK_ROWS - 1) // LOSS_BLOCK_ROWS
    cdef int p, parts, b, b0, b1, r0, r1
    cdef double partial[LOSS_BLOCKS]
    cdef double total = 0
    cdef const floating* bias = bias_of(net, L - 1, params)
    cdef floating scale = <floating> (1.0 / m)
    if blocks > LOSS_BLOCKS:
        blocks = LOSS_BLOCKS
    parts = parts_for(<long long> m * n, ELEMENT_WORK, blocks, 1, threads)
    if parts == 1:
        for b in range(blocks):
            r0 = share_start(b, blocks, m, 1)
            r1 = share_start(b + 1, blocks, m, 1)
            partial[b] = output_rows(net.loss, net.act[L - 1], z + <Py_ssize_t> r0 * n, bias,
                                     Y + <Py_ssize_t> r0 * n,
                                     sample_weight + r0 if sample_weight != NULL else NULL,
                                     r1 - r0, n, scale,
                                     delta + <Py_ssize_t> r0 * n if delta != NULL else NULL,
                                 <floating> net.huber_delta)
    else:
        for p in prange(parts, num_threads=parts, schedule="static", chunksize=1):
            b0 = share_start(p, parts, blocks, 1)
            b1 = share_start(p + 1, parts, blocks, 1)
            loss_blocks(net, z, bias, Y, sample_weight, m, n, scale, delta, blocks, b0, b1,
                        partial)
    for b in range(blocks):
        total += partial[b]
    return total


cdef inline double sum_squares(const floating* x, Py_ssize_t n) noexcept nogil:
    """sum_i x_i^2 in double, four running sums (so the loop pipelines) added in a fixed order."""
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef Py_ssize_t i, stop = n - n % 4
    for i in range(0, stop, 4):
        s0 += <double> x[i] * x[i]
        s1 += <double> x[i + 1] * x[i + 1]
        s2 += <double> x[i + 2] * x[i + 2]
        s3 += <double> x[i + 3] * x[i + 3]
    for i in range(stop, n):
        s0 += <double> x[i] * x[i]
    return (s0 + s1) + (s2 + s3)


cdef inline double weight_penalty(const NetLayout* net, const floating* params) noexcept nogil:
    """sum_l ||W[l]||^2 (biases are not decayed), in double."""
    cdef double total = 0
    cdef int l
    for l in range(net.n_layers):
        total += sum_squares(params + net.w_off[l], <Py_ssize_t> net.sizes[l] * net.sizes[l + 1])
    return total


# -- backward -----------------------------------------------------------------------------------

cdef inline void weight_gradient_piece(const floating* a_in, const floating* delta,
                                       const floating* W, floating* grad_W, int m, int n_in,
                                       int n_out, floating weight_decay, bint small, int r0,
                                       int r1, int c0, int c1) noexcept nogil:
    """Rows r0:r1, columns c0:c1 of grad W = a_in.T @ delta + weight_decay * W."""
    cdef int i, j
    cdef floating beta = 0
    if r1 <= r0 or c1 <= c0:
        return
    if weight_decay != 0:
        for i in range(r0, r1):
            for j in range(c0, c1):
                grad_W[<Py_ssize_t> i * n_out + j] = weight_decay * W[<Py_ssize_t> i * n_out + j]
        beta = 1
    gemm(True, False, r1 - r0, c1 - c0, m, a_in + r0, n_in, delta + c0, n_out, beta,
         grad_W + <Py_ssize_t> r0 * n_out + c0, n_out, small)


cdef inline void input_gradient_piece(const floating* delta, const floating* W,
                                      floating* delta_in, const floating* a_prev,
                                      const floating* d_prev, int act_prev, int m, int n_in,
                                      int n_out, bint small, int r0, int r1, int c0,
                                      int c1) noexcept nogil:
    """Rows r0:r1, columns c0:c1 of delta[l-1] = (delta @ W.T) * f'(z[l-1]), f'(z[l-1])
    being the kept D block d_prev where the layer has one, else f'(a[l-1])."""
    cdef Py_ssize_t offset = <Py_ssize_t> r0 * n_in + c0
    if r1 <= r0 or c1 <= c0:
        return
    gemm(False, True, r1 - r0, c1 - c0, n_out, delta + <Py_ssize_t> r0 * n_out, n_out,
         W + <Py_ssize_t> c0 * n_out, n_out, 0, delta_in + offset, n_in, small)
    if d_prev != NULL:
        multiply_rows(delta_in + offset, d_prev + offset, r1 - r0, c1 - c0, n_in)
    else:
        multiply_derivative(act_prev, delta_in + offset, a_prev + offset, r1 - r0, c1 - c0,
                            n_in)


cdef inline void gradient_piece(const NetLayout* net, int l, const floating* params,
                                const floating* a_in, int m, const floating* delta,
                                floating* delta_in, const floating* a_prev,
                                const floating* d_prev, floating* grad, floating weight_decay,
                                int p, int wg_parts, int bias_parts, int ig_parts) noexcept nogil:
    """Piece p of layer l's gradients: its share of grad W[l], of grad b[l] and of delta[l-1]
    (the three read delta[l] and the old W[l] and write disjoint memory)."""
    cdef int n_in = net.sizes[l], n_out = net.sizes[l + 1], lo, hi
    cdef bint wg_rows = n_in >= n_out, ig_columns = n_in >= m
    cdef const floating* W = params + net.w_off[l]
    if p < wg_parts:
        lo = share_start(p, wg_parts, n_in if wg_rows else n_out, ALIGN)
        hi = share_start(p + 1, wg_parts, n_in if wg_rows else n_out, ALIGN)
        weight_gradient_piece(a_in, delta, W, grad + net.w_off[l], m, n_in, n_out, weight_decay,
                              is_small(n_in, n_out, m), lo if wg_rows else 0,
                              hi if wg_rows else n_in, 0 if wg_rows else lo,
                              n_out if wg_rows else hi)
    if p < bias_parts and net.b_off[l] >= 0:
        lo = share_start(p, bias_parts, n_out, ALIGN)
        hi = share_start(p + 1, bias_parts, n_out, ALIGN)
        if hi > lo:
            column_sums(delta + lo, m, hi - lo, n_out, grad + net.b_off[l] + lo)
    if p < ig_parts and delta_in != NULL:
        lo = share_start(p, ig_parts, n_in if ig_columns else m, ALIGN)
        hi = share_start(p + 1, ig_parts, n_in if ig_columns else m, ALIGN)
        input_gradient_piece(delta, W, delta_in, a_prev, d_prev, net.act[l - 1], m, n_in, n_out,
                             is_small(m, n_in, n_out), 0 if ig_columns else lo,
                             m if ig_columns else hi, lo if ig_columns else 0,
                             hi if ig_columns else n_in)


cdef inline void layer_gradients(const NetLayout* net, int l, const floating* params,
                                 const floating* a_in, int m, const floating* delta,
                                 floating* delta_in, const floating* a_prev,
                                 const floating* d_prev, floating* grad, floating weight_decay,
                                 int threads) noexcept nogil:
    """grad W[l], grad b[l] and (for l > 0) delta[l-1], as one phase."""
    cdef int n_in = net.sizes[l], n_out = net.sizes[l + 1], p, parts, wg_parts, bias_parts
    cdef int ig_parts = 0
    wg_parts = 1 if is_small(n_in, n_out, m) else parts_for(
        <long long> m * n_in * n_out, GEMM_WORK, n_in if n_in >= n_out else n_out, ALIGN, threads)
    bias_parts = parts_for(<long long> m * n_out, ELEMENT_WORK, n_out, ALIGN, threads)
    if delta_in != NULL:
        ig_parts = 1 if is_small(m, n_in, n_out) else parts_for(
            <long long> m * n_in * n_out, GEMM_WORK, n_in if n_in >= m else m, ALIGN, threads)
    parts = wg_parts if wg_parts > bias_parts else bias_parts
    parts = parts if parts > ig_parts else ig_parts
    if parts == 1:
        gradient_piece(net, l, params, a_in, m, delta, delta_in, a_prev, d_prev, grad,
                       weight_decay, 0, 1, 1, 1)
        return
    for p in prange(parts, num_threads=parts, schedule="static", chunksize=1):
        gradient_piece(net, l, params, a_in, m, delta, delta_in, a_prev, d_prev, grad,
                       weight_decay, p, wg_parts, bias_parts, ig_parts)


cdef inline double backward_pass(const NetLayout* net, const floating* params, const floating* X,
                                 const floating* Y, const floating* sample_weight, int m,
                                 floating weight_decay, floating* acts, floating* deltas,
                                 floating* grad, int threads, const Py_ssize_t* x_ptr=NULL,
                                 const int* x_idx=NULL,
                                 const DropoutDraw* dropout=NULL) noexcept nogil:
    """J = (1/m) sum_i w_i L(y_i, a_i) + (weight_decay/2) sum_l ||W[l]||^2 (w_i = 1 when
    sample_weight is NULL); with grad not NULL also delta[l] = dJ/dz[l] into deltas and
    dJ/dparams into grad:
        delta[L-1] from the loss kernel (it carries w_i / m)
        delta[l-1] = (delta[l] @ W[l].T) * f'(z[l-1])  (from D[l-1] or a[l-1]: see above)
        grad W[l] = a[l-1].T @ delta[l] + weight_decay * W[l],  grad b[l] = sum_rows delta[l]
    With x_ptr, X holds the values of m CSR rows (see sparse input above). With dropout, the
    pass trains: a[l] and f'(z[l]) carry the dropout factors of layer l.
    """
    cdef int L = net.n_layers, l = L - 1
    cdef double J
    forward_pass(net, params, X, m, acts, False, grad != NULL, threads, x_ptr, x_idx, dropout)
    J = output_loss(net, params, Y, sample_weight, m, acts + m * net.unit_off[l],
                    deltas + m * net.unit_off[l] if grad != NULL else NULL, threads) \
        * net.loss_scale / m
    if weight_decay != 0:
        J += 0.5 * weight_decay * weight_penalty(net, params)
    if grad == NULL:
        return J
    for l in range(L - 1, -1, -1):
        if l == 0 and x_ptr != NULL:
            sparse_gradients(net, params, x_ptr, x_idx, X, m, deltas, grad, weight_decay, threads)
            break
        layer_gradients(net, l, params, layer_input(net, l, X, acts, m), m,
                        deltas + m * net.unit_off[l],
                        deltas + m * net.unit_off[l - 1] if l > 0 else NULL,
                        acts + m * net.unit_off[l - 1] if l > 0 else NULL,
                        derivative_block(net, l - 1, acts, m) if l > 0 else NULL, grad,
                        weight_decay, threads)
    return J
