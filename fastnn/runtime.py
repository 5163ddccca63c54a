"""What this fastnn runs on: the kernel build in use, the BLAS libraries, the threads.

>>> import fastnn as fnn
>>> sorted(fnn.config())[:3]
['blas', 'cores', 'cpu']
"""
import os
import platform

import numpy as np

__all__ = ["config", "show_config"]


def __dir__():  # tab completion shows the public names only
    return __all__


def cpu_model():
    """The processor's model name (from /proc/cpuinfo on Linux)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def config():
    """A dict: fastnn's version, the kernel variant in use and those built, OpenMP, the CPU,
    the cores this process may use, the default thread count, and every BLAS library loaded
    (threadpoolctl's view: library, version, kernel architecture, threads)."""
    from threadpoolctl import threadpool_info

    from . import __version__, _dispatch, _threads

    try:
        kernels = _dispatch.kernels()
        variant, openmp = kernels.VARIANT, kernels.OPENMP
    except ImportError:
        variant, openmp = None, False
    _threads.kernel_blas()  # loads scipy's BLAS, so it is listed
    scipy_blas = {lib.filepath for lib in _threads.kernel_blas()}
    blas = [{"library": info.get("internal_api"), "version": info.get("version"),
             "architecture": info.get("architecture"), "threads": info.get("num_threads"),
             "used_by": "fastnn kernels" if info.get("filepath") in scipy_blas else "numpy",
             "filepath": info.get("filepath")}
            for info in threadpool_info() if info.get("user_api") == "blas"]
    return {"fastnn": __version__, "numpy": np.__version__, "python": platform.python_version(),
            "kernels": variant, "kernels_built": _dispatch.built(),
            "kernels_available": _dispatch.available(), "openmp": openmp,
            "cpu": cpu_model(), "machine": platform.machine(), "cores": _threads.cores(),
            "cpu_count": os.cpu_count(), "default_threads": _threads.default_threads(),
            "blas": blas}


def show_config():
    """Print config() as a few lines; returns nothing.

    >>> import fastnn as fnn
    >>> fnn.show_config()  # doctest: +ELLIPSIS
    fastnn ...
    """
    c = config()
    print(f"fastnn {c['fastnn']} (numpy {c['numpy']}, Python {c['python']})")
    print(f"kernels: {c['kernels'] or 'not built'} (built: {', '.join(c['kernels_built']) or 'none'}; "
          f"this CPU runs: {', '.join(c['kernels_available']) or 'none'}); "
          f"OpenMP {'on' if c['openmp'] else 'off'}")
    print(f"cpu: {c['cpu']} ({c['machine']}); cores usable: {c['cores']} of {c['cpu_count']}; "
          f"default threads: {c['default_threads']}")
    for lib in c["blas"]:
        print(f"blas ({lib['used_by']}): {lib['library']} {lib['version']} {lib['architecture']}, "
              f"{lib['threads']} threads, {lib['filepath']}")
