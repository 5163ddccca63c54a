"""Workloads of ../shared/BENCHMARKING.md and the thread setting shared by the bench suites."""
import os

import numpy as np
import pytest

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
    """FASTNN_BENCH_THREADS=N pins every BLAS (numpy's and scipy's) to N threads."""
    threads = os.environ.get("FASTNN_BENCH_THREADS")
    if not threads:
        yield None
        return
    from threadpoolctl import threadpool_limits

    import scipy.linalg  # noqa: F401  (load scipy's OpenBLAS so the limit reaches it too)
    with threadpool_limits(limits=int(threads)):
        yield int(threads)
