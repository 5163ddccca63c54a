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
    """The same product as gemm, by loops; the innermost runs over contiguous memory."""
    cdef int i, j, p
    cdef floating aip, total
    cdef floating* crow
    for i in range(m):
        crow = c + <Py_ssize_t> i * ldc
        if trans_b:  # C[i, j] = sum_p A(i, p) * B[j, p]: a dot product per entry
            for j in range(n):
                total = 0
                for p in range(k):
                    total = total + (a[p * lda + i] if trans_a else a[i * lda + p]) * b[j * ldb + p]
                crow[j] = alpha * total + (beta * crow[j] if beta != 0 else 0)
        else:  # row i of C accumulates A(i, p) times row p of B
            for j in range(n):
                crow[j] = beta * crow[j] if beta != 0 else 0
            for p in range(k):
                aip = alpha * (a[p * lda + i] if trans_a else a[i * lda + p])
                for j in range(n):
                    crow[j] = crow[j] + aip * b[p * ldb + j]


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
