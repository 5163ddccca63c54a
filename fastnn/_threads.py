"""Threads of the compiled kernels: how many a call may use, and BLAS kept on one thread
while the kernels run their own.

The kernels split each phase of a pass over their own OpenMP threads and call BLAS from
each of them, so the BLAS library behind scipy (which the kernels call) must run every
product on the calling thread meanwhile. `kernel_threads` sets that library to one thread
for the duration of a call and restores it afterwards; overlapping calls from several
Python threads share one reference count, so the last one out restores the setting the
first one found. NumPy's own BLAS (a separate library in the wheels) is left alone. While
a long call runs, other code in the process that uses scipy's BLAS runs it on one thread.

The default thread count (threads=None) is what that BLAS library is allowed
(OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, threadpoolctl limits), at most the cores this
process may run on.
"""
import contextlib
import functools
import os
import threading
from pathlib import Path

# OpenBLAS runs a product of at most this many multiply-adds on the calling thread anyway
# (SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD in its interface/gemm.c)
BLAS_SINGLE_THREAD_WORK = 65536 * 4

_lock = threading.Lock()
_depth = 0
_saved = []


def cores():
    """The number of cores this process may run on (its affinity mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@functools.lru_cache(maxsize=1)
def kernel_blas():
    """threadpoolctl's controllers of the BLAS library scipy.linalg.cython_blas calls: the one
    shipped in scipy's wheel, or every BLAS loaded when scipy uses a shared system library."""
    import scipy
    import scipy.linalg.cython_blas  # noqa: F401  (loads scipy's BLAS)
    from threadpoolctl import ThreadpoolController

    libraries = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    scipy_folder = Path(scipy.__file__).resolve().parent
    own = [lib for lib in libraries
           if Path(lib.filepath).resolve().parent.name in ("scipy.libs", ".dylibs")
           or scipy_folder in Path(lib.filepath).resolve().parents]
    return own or libraries


def default_threads():
    """Threads a call with threads=None uses: the BLAS library's limit, at most cores()."""
    with _lock:
        counts = [count for _, count in _saved] if _depth else \
            [lib.get_num_threads() for lib in kernel_blas()]
    return max(1, min(cores(), max(counts, default=1)))


@contextlib.contextmanager
def kernel_threads(threads, work):
    """Context for one compiled call whose largest product has `work` multiply-adds: yields
    the thread count to pass (threads, or the default), with scipy's BLAS on one thread
    meanwhile when the products are large enough for BLAS to thread them itself."""
    global _depth, _saved
    if work <= BLAS_SINGLE_THREAD_WORK:
        yield threads or 1
        return
    count = threads or default_threads()
    with _lock:
        if _depth == 0:
            _saved = [(lib, lib.get_num_threads()) for lib in kernel_blas()]
            for lib, previous in _saved:
                if previous != 1:
                    lib.set_num_threads(1)
        _depth += 1
    try:
        yield count
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for lib, previous in _saved:
                    if previous != 1:
                        lib.set_num_threads(previous)
                _saved = []
