"""Build the compiled kernels: src_pyx/_kernels.pyx (with the .pxd files it cimports) becomes
one extension per instruction-set level, fastnn._kernels_<level>; fastnn/_dispatch.py loads
the best one the CPU runs, so a wheel built here runs on any x86-64 and still uses AVX2 and
FMA where the CPU has them.

Levels: x86_64 (baseline, runs everywhere) and x86_64_v3 (AVX2, FMA, BMI2: Intel since
Haswell, AMD since Zen) on x86-64; one generic build elsewhere. Extensions compile in
parallel (one per core).

Environment switches (read at build time):
  FASTNN_NATIVE=1   add a third variant compiled with -march=native, preferred where it loads
                    (it runs only on CPUs like the build machine)
  FASTNN_DEBUG=1    bounds, wraparound and initialization checks on, -O0 -g: for fuzzing,
                    not for speed
  FASTNN_ANNOTATE=1 write `cython -a` HTML next to the generated C in build/
"""
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _flag(name):
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _variants():
    """{module suffix: (variant name, -march flags)}: what this build compiles."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        variants = {"generic": ("generic", [])}
    else:
        variants = {"x86_64": ("x86-64", ["-march=x86-64", "-mtune=generic"]),
                    "x86_64_v3": ("x86-64-v3", ["-march=x86-64-v3", "-mtune=generic"])}
    if _flag("FASTNN_NATIVE"):
        variants["native"] = ("native", ["-march=native"])
    return variants


def _compiler_takes(flags, source="int main(void) { return 0; }\n"):
    """Whether the C compiler builds and links `source` with these flags."""
    compiler = os.environ.get("CC", "cc").split()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "check.c")
        path.write_text(source)
        try:
            done = subprocess.run([*compiler, *flags, str(path), "-o", str(Path(folder, "check"))],
                                  capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0


debug = _flag("FASTNN_DEBUG")
# No errno from sqrt and friends and no floating-point traps (neither is ever read), so loops
# with calls and selects vectorize; no contraction of a * b + c into one fused multiply-add,
# so that every variant rounds every element as the baseline (and NumPy) does: the
# variants differ in vector width, not in results.
compile_args = ["-O0", "-g"] if debug else ["-O3", "-fno-math-errno", "-fno-trapping-math",
                                            "-ffp-contract=off"]
# A training step is a chain of small inline functions (passes, products, activation and
# loss loops): gcc's default budgets for `inline` stop short of putting them into the
# training loop, where a tiny network then pays calls and argument shuffling for every
# product (3-4-1, full batch: about 3,340 instructions per step with the defaults, 2,640
# with these; the module grows from about 4.5 to 7.9 MB)
inlining = ["--param=max-inline-insns-single=2000", "--param=inline-unit-growth=300",
            "--param=large-function-growth=300"]
if not debug and _compiler_takes(inlining):
    compile_args += inlining
# OpenMP runs the kernels' phases on several threads; without it they run on one
openmp = ["-fopenmp"] if sys.platform.startswith("linux") and _compiler_takes(
    ["-fopenmp"], "#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n") else []

directives = {
    "language_level": 3,
    "boundscheck": debug,
    "wraparound": debug,
    "initializedcheck": debug,
    "cdivision": not debug,
    "embedsignature": True,
}

def _digest():
    """What the generated C depends on, by content: our .pyx/.pxd files, the Cython, NumPy and
    scipy versions (their .pxd files) and the directives. pip builds in a fresh environment each
    time, whose .pxd files are always newer than our C, so timestamps would regenerate (and
    recompile) everything on every install."""
    import Cython
    import scipy

    digest = hashlib.sha256()
    for path in sorted(Path("src_pyx").glob("*.p*")):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(repr((Cython.__version__, numpy.__version__, scipy.__version__,
                        sorted(directives.items()))).encode())
    return digest.hexdigest()


def _mode_marker():
    """A file rewritten whenever the build mode (debug or not, the variants, the compiler
    flags) changes: every extension depends on it, so switching modes recompiles, and
    nothing else does."""
    marker = Path("build", "kernels-mode.txt")
    mode = repr((debug, sorted(_variants().items()), compile_args))
    if not marker.exists() or marker.read_text() != mode:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(mode)
    return str(marker)


extensions = []
inputs, marker = _digest(), _mode_marker()
for suffix, (variant, march) in _variants().items():
    # one folder per variant and mode: each variant is its own module, and switching
    # FASTNN_DEBUG regenerates the C code
    build_dir = Path(f"build/cython{'-debug' if debug else ''}/{suffix}")
    generated, stamp = build_dir / "src_pyx" / "_kernels.c", build_dir / "inputs.sha256"
    name = f"fastnn._kernels_{suffix}"
    if generated.exists() and stamp.exists() and stamp.read_text() == inputs \
            and not _flag("FASTNN_ANNOTATE"):
        extension = Extension(name, [str(generated)])  # the C is current: no Cython run
    else:
        (extension,) = cythonize([Extension(name, ["src_pyx/_kernels.pyx"])], force=True,
                                 compiler_directives=directives, include_path=["src_pyx"],
                                 build_dir=str(build_dir), annotate=_flag("FASTNN_ANNOTATE"),
                                 quiet=True)
        stamp.write_text(inputs)
    # set after cythonize, which merges the options of extensions built from the same file
    extension.depends = [marker]
    extension.extra_compile_args = compile_args + march + openmp
    extension.extra_link_args = list(openmp)
    # link libm by name, so exp & co. bind to the current versions (an unversioned reference
    # binds to glibc's old compatibility wrappers, which also set errno)
    extension.libraries = ["m"] if sys.platform.startswith("linux") else []
    extension.define_macros = [("FASTNN_VARIANT", f'"{variant}"'),
                               ("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
    extension.include_dirs = [numpy.get_include()]  # the few-row predictor's array checks
    extensions.append(extension)


class ParallelBuildExt(build_ext):
    """Compile the extensions in parallel, one per core (pip never passes --parallel)."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1


setup(ext_modules=extensions, cmdclass={"build_ext": ParallelBuildExt})
