"""Threads of the compiled kernels: how many a call may use, and BLAS kept on one thread
while the kernels run their own.

The kernels split each phase of a pass over their own OpenMP threads and call BLAS from
each of them, so the BLAS library behind scipy (which the kernels call) must run every
product on the calling thread meanwhile. `kernel_threads` sets that library to one thread
for the duration of a call and restores it afterwards; overlapping calls from several
Python threads share one reference count, so the last one out restores the setting the
first one found. NumPy's own BLAS (a separate library in the wheels) is left alone. While
a long call runs, other code in the process that uses scipy's BLAS runs it on one thread.

A pthreads OpenBLAS has one process-wide setting, which threadpoolctl lets only the first
Python thread that changed it change again (its "controlling thread"); the calls here go to
the library directly, under their own lock, so that a fit in any thread pins it.

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


class _Setting:
    """Get and set one BLAS library's thread count: a pthreads OpenBLAS through its own
    functions (process-wide), anything else through threadpoolctl."""

    def __init__(self, lib):
        self.lib, self.get_function, self.set_function = lib, None, None
        if lib.internal_api == "openblas" and getattr(lib, "threading_layer", "") != "openmp":
            import ctypes

            library = ctypes.CDLL(lib.filepath)  # already loaded: the same handle
            prefix = getattr(lib, "prefix", "openblas").replace("lib", "", 1)
            for stem in dict.fromkeys((prefix, "openblas", "scipy_openblas")):
                for suffix in ("", "64_"):
                    getter = getattr(library, f"{stem}_get_num_threads{suffix}", None)
                    setter = getattr(library, f"{stem}_set_num_threads{suffix}", None)
                    if getter is not None and setter is not None and self.get_function is None:
                        getter.restype = ctypes.c_int
                        setter.argtypes = [ctypes.c_int]
                        self.get_function, self.set_function = getter, setter

    def get(self):
        return self.get_function() if self.get_function else self.lib.get_num_threads()

    def set(self, count):
        if self.set_function:
            self.set_function(count)
        else:
            self.lib.set_num_threads(count)


@functools.lru_cache(maxsize=1)
def _settings():
    return [_Setting(lib) for lib in kernel_blas()]


def default_threads():
    """Threads a call with threads=None uses: the BLAS library's limit, at most cores()."""
    with _lock:
        counts = [count for _, count in _saved] if _depth else [s.get() for s in _settings()]
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
            _saved = [(setting, setting.get()) for setting in _settings()]
            for setting, previous in _saved:
                if previous != 1:
                    setting.set(1)
        _depth += 1
    try:
        yield count
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for setting, previous in _saved:
                    if previous != 1:
                        setting.set(previous)
                _saved = []
