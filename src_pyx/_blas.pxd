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


cdef inline void small_gemm(bint trans_a, bint trans_b, int m, int n, int k,
                            floating alpha, const floating* a, int lda,
                            const floating* b, int ldb,
                            floating beta, floating* c, int ldc) noexcept nogil:
    """The same product as gemm, by loops. Each C entry sums in a register: accumulating
    into C in memory would chain every multiply-add through a store and a reload."""
    cdef int i, j, p
    cdef floating total
    # op(A)[i, p] = a[i * a_i + p * a_p], op(B)[p, j] = b[p * b_p + j * b_j]
    cdef int a_i = 1 if trans_a else lda, a_p = lda if trans_a else 1
    cdef int b_p = 1 if trans_b else ldb, b_j = ldb if trans_b else 1
    for i in range(m):
        for j in range(n):
            total = 0
            for p in range(k):
                total = total + a[i * a_i + p * a_p] * b[p * b_p + j * b_j]
            if beta == 0:
                c[i * ldc + j] = alpha * total
            else:
                c[i * ldc + j] = alpha * total + beta * c[i * ldc + j]


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k,
                      floating alpha, const floating* a, int lda,
                      const floating* b, int ldb,
                      floating beta, floating* c, int ldc) noexcept nogil:
    """Row-major C (m x n) = alpha * op(A) @ op(B) + beta * C, op(A) is m x k."""
    if <long long> m * n * k <= SMALL_GEMM:
        small_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*> b, &ldb, <float*> a, &lda,
              &beta, c, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*> b, &ldb, <double*> a, &lda,
              &beta, c, &ldc)


cdef inline floating dot(int n, const floating* x, const floating* y) noexcept nogil:
    """sum_i x[i] * y[i] over contiguous vectors."""
    cdef int one = 1
    if floating is float:
        return sdot(&n, <float*> x, &one, <float*> y, &one)
    else:
        return ddot(&n, <double*> x, &one, <double*> y, &one)
