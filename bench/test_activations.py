"""What each hidden activation costs in the medium workload (784-256-128-10, softmax output,
Adam, batch 32, one epoch over 3,200 rows), fastnn's compiled kernels on THREADS threads:
compare each group's rows with relu's.

    FASTNN_BENCH_THREADS=1 pytest bench/test_activations.py --benchmark-only --benchmark-group-by=group
"""
import numpy as np
import pytest

import fastnn as fnn
from fastnn.activations import HIDDEN_ACTIVATIONS

from conftest import THREADS


@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_medium_epoch_per_activation(benchmark, activation, dtype):
    benchmark.group = f"medium, one epoch, batch 32, {dtype}: per hidden activation"
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3200, 784)).astype(dtype)
    Y = np.eye(10, dtype=dtype)[rng.integers(0, 10, len(X))]
    net = fnn.Network([784, 256, 128, 10], activation=activation, output="softmax",
                      loss="cross_entropy", dtype=dtype, seed=0)

    def epoch():
        net.fit(X, Y, optimizer=fnn.optim.Adam(lr=1e-3), epochs=1, batch_size=32,
                threads=THREADS, seed=0)

    benchmark.pedantic(epoch, rounds=7, warmup_rounds=1)
