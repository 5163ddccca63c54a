"""Backends compute a network's passes; both take the same checked inputs and give the same numbers.

- ``numpy``: readable NumPy, the reference and the baseline of every benchmark.
- ``cython`` (``auto``): the compiled kernels of src_pyx/.

A backend is built for one Network and holds views of its parameters. Its methods trust
their inputs: 2-D C-contiguous arrays of the network's dtype with the right widths.

    forward(X, threads=None, out=None) -> output activations (a new array, or written into
        out: an ndarray of the output's shape and the network's dtype)
    predict_few(X, out=None) -> forward(X) for a few rows that need no conversion or checks
        in Python, or None when X (or out) is anything else (see _kernels.Predictor)
    cost(X, Y, weight_decay, sample_weight=None, params=None, threads=None) -> J
    backward(X, Y, weight_decay, grad, sample_weight=None, params=None, threads=None) -> J,
        with dJ/dparams written into grad. With sample_weight (one weight per row, the
        network's dtype), J = (1/m) sum_i w_i L_i + decay; with params (a flat vector like
        the network's), the pass is evaluated there instead of at the network's own
        parameters. threads: the most threads the compiled kernels use (None: the default
        of fastnn._threads); the NumPy backend leaves threading to NumPy's BLAS.
    layer_values(m) -> (activations, deltas) of the last backward pass over m rows: lists
        with one (m x n_units) array per layer, which the backend may reuse on its next call
"""

BACKENDS = ("auto", "cython", "numpy")
#: the most rows predict_few takes, and the most multiply-adds it may do holding the GIL
FEW_ROWS = 64
FEW_WORK = 1 << 22


def no_shortcut(X, out=None):
    """predict_few of a backend (or network) without one: every input takes the general path."""
    return None


def make_backend(name, network):
    """The backend called `name` for `network`."""
    if name == "numpy":
        from .numpy import NumpyBackend
        return NumpyBackend(network)
    if name in ("auto", "cython"):
        from .cython import CythonBackend
        return CythonBackend(network)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
