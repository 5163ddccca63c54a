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


class _Guard:
    """A thread count held on some BLAS libraries while any caller needs it: the first
    caller in saves the libraries' settings and sets its count, later ones (from any Python
    thread) share it, the last one out restores what the first one found."""

    def __init__(self, settings):
        self.settings, self.lock, self.depth, self.saved = settings, threading.Lock(), 0, []

    def current(self):
        """The libraries' counts as they were before any holder changed them."""
        with self.lock:
            if self.depth:
                return [count for _, count in self.saved]
            return [setting.get() for setting in self.settings]

    @contextlib.contextmanager
    def hold(self, count):
        with self.lock:
            if self.depth == 0:
                self.saved = [(setting, setting.get()) for setting in self.settings]
                for setting, previous in self.saved:
                    if previous != count:
                        setting.set(count)
            self.depth += 1
        try:
            yield
        finally:
            with self.lock:
                self.depth -= 1
                if self.depth == 0:
                    for setting, previous in self.saved:
                        setting.set(previous)
                    self.saved = []


@functools.lru_cache(maxsize=1)
def _kernel_guard():
    return _Guard([_Setting(lib) for lib in kernel_blas()])


@functools.lru_cache(maxsize=1)
def numpy_guard():
    """The guard of the BLAS NumPy calls (the NumPy backend's): every BLAS loaded but the
    one fastnn's kernels call, or that one too when NumPy and scipy share it."""
    from threadpoolctl import ThreadpoolController

    kernels = {lib.filepath for lib in kernel_blas()}
    libraries = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    return _Guard([_Setting(lib) for lib in libraries if lib.filepath not in kernels]
                  or [_Setting(lib) for lib in libraries])


def default_threads():
    """Threads a call with threads=None uses: the BLAS library's limit, at most cores()."""
    return max(1, min(cores(), max(_kernel_guard().current(), default=1)))


def kernel_threads(threads, work):
    """Context for one compiled call whose largest product has `work` multiply-adds: yields
    the thread count to pass (threads, or the default), with scipy's BLAS on one thread
    meanwhile when the products are large enough for BLAS to thread them itself. Small calls
    (a few rows to predict) get a plain nullcontext: nothing to hold, and no generator to run."""
    if work <= BLAS_SINGLE_THREAD_WORK:
        return contextlib.nullcontext(threads or 1)
    return _blas_held(threads)


@contextlib.contextmanager
def _blas_held(threads):
    count = threads or default_threads()
    with _kernel_guard().hold(1):
        yield count
