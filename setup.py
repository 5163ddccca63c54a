"""Build the compiled kernels: every src_pyx/<name>.pyx becomes the extension fastnn.<name>.

Environment switches (read at build time):
  FASTNN_NATIVE=1  add -march=native (faster here, but the build then runs only on CPUs like this one)
  FASTNN_DEBUG=1   bounds, wraparound and initialization checks on, -O0 -g: for fuzzing, not for speed
"""
import os
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup


def _flag(name):
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


debug = _flag("FASTNN_DEBUG")
# no errno from sqrt and friends (never read), so their loops vectorize
compile_args = ["-O0", "-g"] if debug else ["-O3", "-fno-math-errno"]
if _flag("FASTNN_NATIVE"):
    compile_args.append("-march=native")

directives = {
    "language_level": 3,
    "boundscheck": debug,
    "wraparound": debug,
    "initializedcheck": debug,
    "cdivision": not debug,
    "embedsignature": True,
}

extensions = [
    Extension(
        f"fastnn.{pyx.stem}",
        [str(pyx)],
        extra_compile_args=compile_args,
    )
    for pyx in sorted(Path("src_pyx").glob("*.pyx"))
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        include_path=["src_pyx"],
        # one folder per mode, so switching FASTNN_DEBUG regenerates the C code
        build_dir="build/cython-debug" if debug else "build/cython",
        annotate=_flag("FASTNN_ANNOTATE"),
    ),
)
