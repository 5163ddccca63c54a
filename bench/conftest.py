"""Workloads of ../shared/BENCHMARKING.md and the thread setting shared by the bench suites.

FASTNN_BENCH_THREADS=N pins this process to N cores and gives every contender N threads: it
is read here, at collection, before NumPy's BLAS, PyTorch or JAX are imported by a test
(XLA and OpenBLAS read their thread settings once, at load).
"""
import os

import numpy as np
import pytest

THREADS = int(os.environ.get("FASTNN_BENCH_THREADS", "0")) or None
if THREADS:
    from fastnn.benchmark import _configure_threads, pin

    _configure_threads(THREADS)
    pin(THREADS)

#: name -> (layers, batch size); relu hidden layers, softmax output, cross-entropy
WORKLOADS = {
    "medium-b32": ([784, 256, 128, 10], 32),
    "medium-b128": ([784, 256, 128, 10], 128),
    "medium-b512": ([784, 256, 128, 10], 512),
    "large-b1024": ([4096, 4096, 4096, 10], 1024),
}


def batch(layers, n_samples, dtype, seed=0):
    """A synthetic batch: standard normal inputs, one-hot targets."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, layers[0])).astype(dtype)
    Y = np.eye(layers[-1], dtype=dtype)[rng.integers(0, layers[-1], n_samples)]
    return X, Y


@pytest.fixture(scope="session", autouse=True)
def blas_threads():
    """Every BLAS (numpy's and scipy's) and PyTorch on THREADS threads, when it is set."""
    if not THREADS:
        yield None
        return
    from threadpoolctl import threadpool_limits

    import scipy.linalg  # noqa: F401  (load scipy's OpenBLAS so the limit reaches it too)
    try:
        import torch
        torch.set_num_threads(THREADS)
    except ImportError:
        pass
    with threadpool_limits(limits=THREADS):
        yield THREADS
