"""Sparse input: rows of a scipy.sparse matrix (CSR or CSC) as the compiled kernels take them.

Only the first layer reads the input, so a sparse X is never densified: its product with
W[0] adds, for every stored x_rj, x_rj W[0][j, :] to row r, and grad W[0] = X.T @ delta is
scattered the same way (src_pyx/_passes.pxd). Batches are gathered row by row from the CSR
arrays. The NumPy backend computes the same with scipy.sparse products (the reference).
"""
import numpy as np


def is_sparse(X):
    """Whether X is a scipy.sparse matrix or array (without importing scipy.sparse)."""
    return getattr(X, "format", None) in ("csr", "csc", "coo", "bsr", "lil", "dok", "dia") \
        and hasattr(X, "tocsr")


class CSRRows:
    """The rows of a sparse X: offsets `ptr` (intp, n + 1), column indices `idx` (int32) and
    values `val` (the network's dtype), each at least one entry long (the kernels take
    pointers to them), and `matrix`, the CSR matrix itself."""

    def __init__(self, X, dtype, n_features):
        X = X.tocsr()
        if X.ndim != 2 or X.shape[1] != n_features:
            raise ValueError(f"X has {X.shape[1]} features, the network expects {n_features}")
        if X.shape[0] < 1:
            raise ValueError("X is empty: it has no rows")
        if not np.isfinite(X.data).all():
            raise ValueError("X contains NaN or infinity")
        self._matrix = X
        self.shape = X.shape
        end = int(X.indptr[-1])
        self.ptr = np.ascontiguousarray(X.indptr, dtype=np.intp)
        # copied only where the dtype differs; an all-zero X gets one unused entry
        self.idx = np.ascontiguousarray(X.indices[:end], np.int32) if end else np.zeros(1, np.int32)
        self.val = np.ascontiguousarray(X.data[:end], dtype) if end else np.zeros(1, dtype)

    def view(self, start, stop):
        """Rows start:stop, sharing the entries (only the offsets are sliced)."""
        view = CSRRows.__new__(CSRRows)
        view.ptr, view.idx, view.val = self.ptr[start:stop + 1], self.idx, self.val
        view.shape = (stop - start, self.shape[1])
        view._source, view._start, view._stop = self, start, stop
        return view

    @property
    def matrix(self):
        """The rows as a scipy CSR matrix (for the NumPy backend)."""
        if "_source" in self.__dict__:
            return self._source.matrix[self._start:self._stop]
        return self._matrix
