"""One forward + backward pass (loss, node deltas, flat gradient): compiled vs NumPy backend.

Both backends are called below the public boundary (inputs already checked, gradient buffer
reused), as a training loop calls them. Run: pytest bench/ --benchmark-only
"""
import numpy as np
import pytest

import fastnn as fnn

from conftest import WORKLOADS, batch


@pytest.mark.parametrize("backend", ["numpy", "cython"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_forward_backward(benchmark, workload, dtype, backend):
    layers, batch_size = WORKLOADS[workload]
    benchmark.group = f"forward+backward {workload} {dtype}"
    net = fnn.Network(layers, activation="relu", output="softmax", loss="cross_entropy",
                      init="he_normal", dtype=dtype, backend=backend, seed=0)
    X, Y = batch(layers, batch_size, dtype)
    grad = np.empty_like(net.params)
    if workload.startswith("large"):
        benchmark.pedantic(net._backend.backward, args=(X, Y, 0.0, grad), rounds=3, warmup_rounds=1)
    else:
        benchmark(net._backend.backward, X, Y, 0.0, grad)
    assert np.isfinite(grad).all()


@pytest.mark.parametrize("backend", ["numpy", "cython"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_forward_medium(benchmark, dtype, backend):
    layers, batch_size = WORKLOADS["medium-b128"]
    benchmark.group = f"forward medium-b128 {dtype}"
    net = fnn.Network(layers, activation="relu", output="softmax", loss="cross_entropy",
                      dtype=dtype, backend=backend, seed=0)
    X, _ = batch(layers, batch_size, dtype)
    benchmark(net._backend.forward, X)
