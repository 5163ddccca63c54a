# Fused float/double wrappers of the BLAS routines we use, from scipy.linalg.cython_blas.
# Matrices are row-major (C order). Column-major BLAS sees a row-major matrix as its
# transpose, so the row-major C = op(A) @ op(B) is the column-major C^T = op(B)^T @ op(A)^T:
# the same call with the operands swapped. Callers guarantee the shapes (no checks here).
from cython cimport floating
from scipy.linalg.cython_blas cimport sgemm, dgemm, sdot, ddot


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k,
                      floating alpha, const floating* a, int lda,
                      const floating* b, int ldb,
                      floating beta, floating* c, int ldc) noexcept nogil:
    """Row-major C (m x n) = alpha * op(A) @ op(B) + beta * C, op(A) is m x k."""
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
