# Fused float/double wrappers of the BLAS routines we use, from scipy.linalg.cython_blas.
# Matrices are row-major (C order). Column-major BLAS sees a row-major matrix as its
# transpose, so the row-major C = op(A) @ op(B) is the column-major C^T = op(B)^T @ op(A)^T:
# the same call with the operands swapped. Callers guarantee the shapes (no checks here).
from cython cimport floating
from scipy.linalg.cython_blas cimport sgemm, dgemm, sdot, ddot


# Below this many multiply-adds a plain loop beats the BLAS call itself (argument checks,
# dispatch, packing): tiny networks then pay nanoseconds per product, not a library call.
cdef enum:
    SMALL_GEMM = 4096


cdef inline void small_gemm_loops(bint dots, int m, int n, int k, const floating* a,
                                  Py_ssize_t a_i, Py_ssize_t a_p, const floating* b,
                                  Py_ssize_t b_p, Py_ssize_t b_j, floating beta, floating* c,
                                  int ldc) noexcept nogil:
    """The loops of small_gemm; op(A)[i, p] = a[i * a_i + p * a_p], op(B)[p, j] =
    b[p * b_p + j * b_j]. Each C entry is summed over p in order, and beta * C is added last
    (as NumPy would: the product, then the rest)."""
    cdef int i, j, p
    cdef floating total, coefficient
    cdef floating* crow
    cdef const floating* row
    if dots:  # one dot product per entry of C
        for i in range(m):
            for j in range(n):
                total = 0
                for p in range(k):
                    total = total + a[i * a_i + p * a_p] * b[p * b_p + j * b_j]
                c[i * ldc + j] = total if beta == 0 else total + beta * c[i * ldc + j]
        return
    for i in range(m):  # rows of op(B) scaled and added into a row of C (beta is 0 here)
        crow = c + i * ldc
        coefficient = a[i * a_i]
        for j in range(n):  # the first term starts the sum (no separate zeroing pass)
            crow[j] = coefficient * b[j]
        for p in range(1, k):
            coefficient = a[i * a_i + p * a_p]
            row = b + p * b_p
            for j in range(n):
                crow[j] = crow[j] + coefficient * row[j]


cdef inline void small_gemm(bint trans_a, bint trans_b, int m, int n, int k,
                            const floating* a, int lda, const floating* b, int ldb,
                            floating beta, floating* c, int ldc) noexcept nogil:
    """C = op(A) @ op(B) + beta * C by loops, in the order that gives the innermost loop the
    most work: rows of op(B) scaled and added into a row of C (unit stride over C's columns)
    when op(B)'s rows are contiguous and C is at least 4 wide, else one dot product per C
    entry. The narrowest C (1 to 4 columns: small networks' outputs and layers) get the
    loops with their width as a constant, which the compiler unrolls."""
    cdef Py_ssize_t a_i = 1 if trans_a else lda, a_p = lda if trans_a else 1
    cdef Py_ssize_t b_p = 1 if trans_b else ldb, b_j = ldb if trans_b else 1
    cdef bint dots = b_j != 1 or n < 4 or beta != 0
    if n == 1:
        small_gemm_loops(True, m, 1, k, a, a_i, a_p, b, b_p, b_j, beta, c, ldc)
    elif n == 2:
        small_gemm_loops(True, m, 2, k, a, a_i, a_p, b, b_p, b_j, beta, c, ldc)
    elif n == 3:
        small_gemm_loops(True, m, 3, k, a, a_i, a_p, b, b_p, b_j, beta, c, ldc)
    elif n == 4:
        small_gemm_loops(dots, m, 4, k, a, a_i, a_p, b, b_p, b_j, beta, c, ldc)
    else:
        small_gemm_loops(dots, m, n, k, a, a_i, a_p, b, b_p, b_j, beta, c, ldc)


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k,
                      const floating* a, int lda, const floating* b, int ldb,
                      floating beta, floating* c, int ldc, bint small) noexcept nogil:
    """Row-major C (m x n) = op(A) @ op(B) + beta * C, op(A) is m x k. `small` picks the loops
    above: callers decide it once from the whole product, so that every piece of a product
    split over threads takes the same path."""
    if small:
        small_gemm(trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc)
        return
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    cdef floating one = 1
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &one, <float*> b, &ldb, <float*> a, &lda,
              &beta, c, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &one, <double*> b, &ldb, <double*> a, &lda,
              &beta, c, &ldc)


cdef inline bint is_small(long long m, long long n, long long k) noexcept nogil:
    return m * n * k <= SMALL_GEMM


cdef inline floating dot(int n, const floating* x, const floating* y) noexcept nogil:
    """sum_i x[i] * y[i] over contiguous vectors."""
    cdef int one = 1
    if floating is float:
        return sdot(&n, <float*> x, &one, <float*> y, &one)
    else:
        return ddot(&n, <double*> x, &one, <double*> y, &one)
