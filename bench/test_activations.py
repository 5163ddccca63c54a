"""What each hidden activation costs in the medium workload (784-256-128-10, softmax output,
Adam, batch 32, one epoch over 3,200 rows), fastnn's compiled kernels on THREADS threads:
compare each group's rows with relu's.

    FASTNN_BENCH_THREADS=1 pytest bench/test_activations.py --benchmark-only --benchmark-group-by=group

pytest-benchmark times one activation after another, so drifting load on a shared machine
shows up as a difference between them; run as a script, the activations take turns round by
round instead (each round in a rotated order), and the ratios to relu come from the medians:

    FASTNN_BENCH_THREADS=1 python bench/test_activations.py [--rounds 15] [--batch 32 256]
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fastnn as fnn
from fastnn.activations import HIDDEN_ACTIVATIONS

sys.path.insert(0, str(Path(__file__).parent))
from conftest import THREADS  # noqa: E402


def medium(activation, dtype, n_rows=3200):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_rows, 784)).astype(dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, len(X))]
    net = fnn.Network([784, 256, 128, 10], activation=activation, output="softmax",
                      loss="cross_entropy", dtype=dtype, seed=0)
    return net, X, Y


@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_medium_epoch_per_activation(benchmark, activation, dtype):
    benchmark.group = f"medium, one epoch, batch 32, {dtype}: per hidden activation"
    net, X, Y = medium(activation, dtype)

    def epoch():
        net.fit(X, Y, optimizer=fnn.optim.Adam(lr=1e-3), epochs=1, batch_size=32,
                threads=THREADS, seed=0)

    benchmark.pedantic(epoch, rounds=7, warmup_rounds=1)


def interleaved(rounds, batch_sizes):
    """Median epoch time of each activation, the activations taking turns round by round."""
    for dtype in ("float32", "float64"):
        for batch_size in batch_sizes:
            runs = {name: medium(name, dtype) for name in HIDDEN_ACTIVATIONS}
            times = {name: [] for name in HIDDEN_ACTIVATIONS}
            for r in range(rounds + 1):  # round 0 warms up
                order = HIDDEN_ACTIVATIONS[r % len(HIDDEN_ACTIVATIONS):] \
                    + HIDDEN_ACTIVATIONS[:r % len(HIDDEN_ACTIVATIONS)]
                for name in order:
                    net, X, Y = runs[name]
                    start = time.perf_counter()
                    net.fit(X, Y, optimizer=fnn.optim.Adam(lr=1e-3), epochs=1,
                            batch_size=batch_size, threads=THREADS, seed=0)
                    if r:
                        times[name].append(time.perf_counter() - start)
            relu = statistics.median(times["relu"])
            print(f"{dtype}, batch {batch_size}, {THREADS or 'default'} thread(s), "
                  f"{rounds} rounds: median ms per epoch (ratio to relu)")
            for name in HIDDEN_ACTIVATIONS:
                median = statistics.median(times[name])
                print(f"  {name:<11} {median * 1e3:8.1f}  ({median / relu:.2f}x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, nargs="+", default=[32, 256])
    args = parser.parse_args()
    interleaved(args.rounds, args.batch)
