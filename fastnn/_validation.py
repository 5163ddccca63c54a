"""Checks of user input at the public boundary; the kernels trust what passes them."""
import math
import numbers

import numpy as np


def as_matrix(A, name, dtype, n_columns, allow_vector=False):
    """A as a C-contiguous 2-D array of `dtype` with `n_columns` finite columns.

    Integer and boolean data are converted; non-contiguous, Fortran-ordered and read-only
    arrays are accepted (copied only when needed). With allow_vector, a 1-D array is taken
    as one column when n_columns == 1.
    """
    if A is None:
        raise TypeError(f"{name} is None; expected a 2-D array of numbers")
    if hasattr(A, "toarray") and hasattr(A, "nnz"):
        raise TypeError(f"{name} is a sparse matrix: forward/predict and the drop-ins "
                        f"(MLPClassifier, MLPRegressor) take it as it is; here convert it with "
                        f"{name}.toarray()")
    try:
        arr = np.asarray(A)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} cannot be read as an array: {exc}") from None
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(dtype)
        except (ValueError, TypeError):
            raise TypeError(f"{name} contains non-numeric values (dtype object)") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    if arr.ndim == 1 and allow_vector and n_columns == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        hint = f" (for one sample use {name}.reshape(1, -1))" if arr.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D (n_samples, n_columns); got shape {arr.shape}{hint}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows")
    if arr.shape[1] != n_columns:
        what = "features" if name.startswith("X") else "columns"
        raise ValueError(f"{name} has {arr.shape[1]} {what}, the network expects {n_columns}")
    if arr.dtype.itemsize > np.dtype(dtype).itemsize and arr.dtype.kind == "f":
        with np.errstate(over="ignore"):  # values beyond float32 become inf, refused below
            arr = np.ascontiguousarray(arr, dtype=dtype)
    else:
        arr = np.ascontiguousarray(arr, dtype=dtype)
    if not np.isfinite(arr).all():
        too_large = " (or values too large for float32)" if arr.dtype == np.float32 else ""
        raise ValueError(f"{name} contains NaN or infinity{too_large}")
    return arr


def as_pair(X, Y, dtype, n_inputs, n_outputs, loss=None):
    """X and Y checked as by as_matrix, with the same number of rows, and Y inside the range
    of targets `loss` accepts (poisson: counts, never negative)."""
    X = as_matrix(X, "X", dtype, n_inputs)
    Y = as_matrix(Y, "Y", dtype, n_outputs, allow_vector=True)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
    check_target_range(Y, loss)
    return X, Y


def check_target_range(Y, loss, name="Y"):
    """Refuse targets outside the range the loss accepts (losses.TARGET_RANGES)."""
    from .losses import TARGET_RANGES

    low, high = TARGET_RANGES.get(loss, (None, None))
    if low is not None and (Y < low).any():
        raise ValueError(f"the {loss} loss needs {name} >= {low:g} (counts or rates); {name} has "
                         f"{int((Y < low).sum())} below (the lowest {Y.min():g})")
    if high is not None and (Y > high).any():
        raise ValueError(f"the {loss} loss needs {name} <= {high:g}; {name} has "
                         f"{int((Y > high).sum())} above (the highest {Y.max():g})")


def as_nonnegative(value, name):
    """A finite real number >= 0, as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be finite and >= 0; got {value}")
    return value
