"""Training speed: the tiny and medium workloads of ../shared/BENCHMARKING.md through
Network.fit, compiled vs the NumPy backend, and against PyTorch and JAX when installed
(same data, sizes, dtype; BLAS threads from FASTNN_BENCH_THREADS, torch set to match).

    pytest bench/test_training.py --benchmark-only --benchmark-group-by=group
"""
import os

import numpy as np
import pytest

import fastnn as fnn

from conftest import WORKLOADS, batch

XOR_X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float64)
TINY_STEPS = 10_000
MEDIUM_ROWS = 3_200  # 100 Adam steps at batch 32: enough to time a step, short enough to repeat


def tiny_network(backend):
    return fnn.Network([3, 4, 1], bias=False, init="uniform", seed=np.random.RandomState(1),
                       backend=backend)


@pytest.mark.parametrize("backend", ["numpy", "cython"])
def test_tiny_fit(benchmark, backend):
    """Seed 004's 3-4-1 sigmoid net, full-batch gradient descent, 10,000 steps."""
    benchmark.group = "tiny: 10,000 full-batch steps"

    def run():
        net = tiny_network(backend)
        net.fit(XOR_X, XOR_Y, optimizer=fnn.optim.SGD(lr=4.0), epochs=TINY_STEPS, batch_size=None)
        return net

    net = benchmark.pedantic(run, rounds=5 if backend == "cython" else 2, warmup_rounds=1)
    assert np.mean(np.abs(net.forward(XOR_X) - XOR_Y)) < 0.01


def test_tiny_torch(benchmark):
    torch = pytest.importorskip("torch")
    benchmark.group = "tiny: 10,000 full-batch steps"
    torch.set_num_threads(int(os.environ.get("FASTNN_BENCH_THREADS", torch.get_num_threads())))
    X, Y = torch.tensor(XOR_X), torch.tensor(XOR_Y)

    def run():
        net = tiny_network("numpy")
        W0 = torch.tensor(net.weights[0], requires_grad=True)
        W1 = torch.tensor(net.weights[1], requires_grad=True)
        opt = torch.optim.SGD([W0, W1], lr=4.0)
        for _ in range(TINY_STEPS):
            opt.zero_grad()
            out = torch.sigmoid(torch.sigmoid(X @ W0) @ W1)
            (0.5 * ((out - Y) ** 2).sum() / 4).backward()
            opt.step()
        return out

    benchmark.pedantic(run, rounds=2, warmup_rounds=0)


def test_tiny_jax(benchmark):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    benchmark.group = "tiny: 10,000 full-batch steps"
    X, Y = jnp.asarray(XOR_X), jnp.asarray(XOR_Y)

    def loss(weights):
        W0, W1 = weights
        out = jax.nn.sigmoid(jax.nn.sigmoid(X @ W0) @ W1)
        return 0.5 * jnp.sum((out - Y) ** 2) / 4

    grad = jax.grad(loss)

    @jax.jit
    def train(weights):
        def step(_, w):
            g = grad(w)
            return (w[0] - 4.0 * g[0], w[1] - 4.0 * g[1])
        return jax.lax.fori_loop(0, TINY_STEPS, step, weights)

    net = tiny_network("numpy")
    start = (jnp.asarray(net.weights[0]), jnp.asarray(net.weights[1]))
    train(start)[0].block_until_ready()  # compile outside the timing
    benchmark.pedantic(lambda: train(start)[0].block_until_ready(), rounds=5, warmup_rounds=1)


@pytest.mark.parametrize("backend", ["numpy", "cython"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_small_adam_fit(benchmark, backend, dtype):
    """digits-sized 64-64-10 relu/softmax, Adam, batch 200, 20 epochs over 1,347 rows."""
    from sklearn.datasets import load_digits

    benchmark.group = f"small: Adam batch 200, 20 epochs, {dtype}"
    X, y = load_digits(return_X_y=True)
    X, Y = (X[:1347] / 16).astype(dtype), np.eye(10, dtype=dtype)[y[:1347]]

    def run():
        net = fnn.Network([64, 64, 10], activation="relu", output="softmax", loss="cross_entropy",
                          dtype=dtype, backend=backend, seed=0)
        net.fit(X, Y, optimizer=fnn.optim.Adam(lr=1e-3), epochs=20, batch_size=200, seed=0)

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)


@pytest.mark.parametrize("backend", ["numpy", "cython"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_medium_adam_fit(benchmark, backend, dtype):
    """784-256-128-10 relu/softmax, Adam, batch 32: 100 steps per round."""
    benchmark.group = f"medium: Adam batch 32, 100 steps, {dtype}"
    layers, _ = WORKLOADS["medium-b32"]
    X, Y = batch(layers, MEDIUM_ROWS, dtype)
    threads = int(os.environ.get("FASTNN_BENCH_THREADS", 0)) or None

    def run():
        net = fnn.Network(layers, activation="relu", output="softmax", loss="cross_entropy",
                          init="he_normal", dtype=dtype, backend=backend, seed=0)
        net.fit(X, Y, optimizer=fnn.optim.Adam(lr=1e-3), epochs=1, batch_size=32, seed=0,
                threads=threads)

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_medium_adam_torch(benchmark, dtype):
    torch = pytest.importorskip("torch")
    benchmark.group = f"medium: Adam batch 32, 100 steps, {dtype}"
    threads = int(os.environ.get("FASTNN_BENCH_THREADS", 0)) or torch.get_num_threads()
    torch.set_num_threads(threads)
    layers, _ = WORKLOADS["medium-b32"]
    X, Y = batch(layers, MEDIUM_ROWS, dtype)
    X, labels = torch.tensor(X), torch.tensor(Y.argmax(axis=1))
    order = torch.tensor(np.random.default_rng(0).permutation(MEDIUM_ROWS))
    torch_dtype = getattr(torch, dtype)

    def run():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                    torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                    torch.nn.Linear(128, 10)).to(torch_dtype)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for start in range(0, MEDIUM_ROWS, 32):
            rows = order[start:start + 32]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(X[rows]), labels[rows]).backward()
            opt.step()

    benchmark.pedantic(run, rounds=5, warmup_rounds=1)
