"""Which build of the compiled kernels this process uses.

setup.py compiles src_pyx/_kernels.pyx once per instruction-set level (fastnn._kernels_x86_64,
fastnn._kernels_x86_64_v3, fastnn._kernels_native with FASTNN_NATIVE=1, or
fastnn._kernels_generic off x86-64). At first use the best one this CPU runs is loaded:
native, then x86-64-v3 where the CPU has AVX2 and FMA, then the baseline. The environment
variable FASTNN_KERNELS=<variant> (x86-64, x86-64-v3, native, generic) picks one by name.
"""
import contextlib
import functools
import importlib
import os

# best first
ORDER = ("native", "x86-64-v3", "x86-64", "generic")
# the CPU level (see _kernels.cpu_level) each variant needs; native loads only on its machine
NEEDS = {"native": 0, "x86-64-v3": 3, "x86-64": 1, "generic": 0}


def _module_name(variant):
    return "fastnn._kernels_" + variant.replace("-", "_")


@functools.lru_cache(maxsize=None)
def _try_import(variant):
    try:
        return importlib.import_module(_module_name(variant))
    except ImportError:
        return None


@functools.lru_cache(maxsize=1)
def _cpu_level():
    for variant in ("x86-64", "generic"):
        module = _try_import(variant)
        if module is not None:
            return module.cpu_level()
    return 0


def built():
    """The variants compiled into this installation, best first."""
    return [variant for variant in ORDER if _try_import(variant) is not None]


def available():
    """The built variants this CPU runs, best first. A native build is only trusted on the
    machine that built it: it is listed when it imports (and FASTNN_KERNELS may name it)."""
    return [variant for variant in built() if _cpu_level() >= NEEDS[variant]]


_override = []


@contextlib.contextmanager
def using(variant):
    """Within the block, networks (and optimizer steps) built use `variant`'s kernels: for
    tests, which check every variant this CPU runs against the NumPy backend."""
    module = kernels(variant)
    _override.append(module)
    try:
        yield module
    finally:
        _override.pop()


def kernels(variant=None):
    """The kernels module of `variant` (default: FASTNN_KERNELS, else the best available)."""
    if variant is None:
        if _override:
            return _override[-1]
        variant = os.environ.get("FASTNN_KERNELS", "").strip() or None
    return _load(variant)


@functools.lru_cache(maxsize=None)
def _load(variant):
    if variant is not None:
        if variant not in ORDER:
            raise ValueError(f"unknown kernel variant {variant!r}; choose one of {', '.join(ORDER)}")
        if variant not in available():
            raise ImportError(f"kernel variant {variant!r} is not built or this CPU does not run "
                              f"it (available: {', '.join(available()) or 'none'})")
        return _try_import(variant)
    choices = available()
    if not choices:
        raise ImportError("fastnn's compiled kernels are not built or do not load; install with "
                          "`pip install .` or use backend='numpy'")
    return _try_import(choices[0])
