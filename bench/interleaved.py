"""Forward + backward, compiled vs NumPy backend, interleaved in one process (A B A B ...).

    python bench/interleaved.py [--threads N] [--rounds R] [--large]

Prints the median time per pass of each backend, the ratio numpy / cython, and the GEMM
floor: the time of the pass's matrix products alone (forward, weight gradient, input
gradient of every layer but the first, through NumPy), with gemm share = floor / cython. pytest-benchmark (bench/test_*.py) runs its contenders one after the other; this
script alternates them so that drifting machine load hits both alike.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import fastnn as fnn  # noqa: E402
from conftest import WORKLOADS, batch  # noqa: E402
from fastnn.benchmark import gemm_floor  # noqa: E402


def time_call(fn, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--large", action="store_true", help="include the large workload (slow)")
    args = parser.parse_args()
    from threadpoolctl import threadpool_info, threadpool_limits

    import scipy.linalg  # noqa: F401
    with threadpool_limits(limits=args.threads):
        info = threadpool_info()
        print("BLAS:", "; ".join(f"{i['prefix']} {i['version']} {i['architecture']} "
                                 f"{i['num_threads']} threads" for i in info))
        print(f"{'workload':<14}{'dtype':<9}{'numpy':>12}{'cython':>12}{'ratio':>8}"
              f"{'gemm floor':>12}{'gemm share':>12}")
        for workload, (layers, batch_size) in WORKLOADS.items():
            if workload.startswith("large") and not args.large:
                continue
            for dtype in ("float32", "float64"):
                X, Y = batch(layers, batch_size, dtype)
                calls = {}
                for backend in ("numpy", "cython"):
                    net = fnn.Network(layers, activation="relu", output="softmax", loss="cross_entropy",
                                      init="he_normal", dtype=dtype, backend=backend, seed=0)
                    grad = np.empty_like(net.params)
                    calls[backend] = lambda b=net._backend, g=grad: b.backward(X, Y, 0.0, g)
                    calls[backend]()  # warm-up: workspaces, caches
                calls["gemm"] = gemm_floor(net.weights, X)
                once = time_call(calls["cython"], 1)
                repeats = max(1, int(0.05 / max(once, 1e-7)))
                rounds = 3 if workload.startswith("large") else args.rounds
                times = {name: [] for name in calls}
                for _ in range(rounds):
                    for name, fn in calls.items():
                        times[name].append(time_call(fn, repeats))
                numpy_t, cython_t, gemm_t = (statistics.median(times[n]) for n in ("numpy", "cython", "gemm"))
                print(f"{workload:<14}{dtype:<9}{numpy_t * 1e6:>10.0f}us{cython_t * 1e6:>10.0f}us"
                      f"{numpy_t / cython_t:>8.2f}{gemm_t * 1e6:>10.0f}us{gemm_t / cython_t:>12.2f}")


if __name__ == "__main__":
    main()
