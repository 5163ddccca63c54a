"""Training speed: the tiny, small and medium workloads of ../shared/BENCHMARKING.md, each
contender written as its users write it (fastnn/_contenders.py: fastnn, its NumPy backend,
scikit-learn, PyTorch, JAX, each skipped when not installed), on the same data and sizes.

    FASTNN_BENCH_THREADS=1 pytest bench/test_training.py --benchmark-only --benchmark-group-by=group

pytest-benchmark runs contenders one after the other; `fastnn bench` interleaves them in
worker processes (use it for the figures you report).
"""
import importlib.util

import pytest

from fastnn import _contenders

from conftest import THREADS

CONTENDERS = ["fastnn", "numpy", "scikit-learn", "pytorch", "jax"]


def contender(name, workload, dtype, batch):
    if importlib.util.find_spec(_contenders.NEEDS[name]) is None:
        pytest.skip(f"{name} is not installed")
    run = _contenders.CONTENDERS[name](workload, dtype, batch, True, THREADS)
    if run is None:
        pytest.skip(f"{name} has no {workload} workload")
    return run


@pytest.mark.parametrize("name", CONTENDERS)
def test_tiny(benchmark, name):
    """Seed 004's 3-4-1 sigmoid net, full-batch gradient descent (2,000 steps)."""
    benchmark.group = "tiny: 2,000 full-batch steps"
    benchmark.pedantic(contender(name, "tiny", "float64", None), rounds=5, warmup_rounds=1)


@pytest.mark.parametrize("name", CONTENDERS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_small(benchmark, name, dtype):
    """digits 64-64-10 relu/softmax, Adam, batch 200, 5 epochs over 1,347 rows."""
    benchmark.group = f"small: Adam batch 200, 5 epochs, {dtype}"
    benchmark.pedantic(contender(name, "small", dtype, 200), rounds=5, warmup_rounds=1)


@pytest.mark.parametrize("name", CONTENDERS)
@pytest.mark.parametrize("batch", [32, 256])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_medium(benchmark, name, batch, dtype):
    """784-256-128-10 relu/softmax, Adam, one epoch over 3,200 rows."""
    benchmark.group = f"medium: Adam batch {batch}, 3,200 rows, {dtype}"
    benchmark.pedantic(contender(name, "medium", dtype, batch), rounds=5, warmup_rounds=1)
