"""Threads, memory and batched prediction."""
import gc
import threading
import tracemalloc

import numpy as np
import pytest

import fastnn as fnn


def test_predict_from_eight_threads_matches_serial(backend):
    net = fnn.Network([20, 64, 32, 5], activation="tanh", output="softmax", loss="cross_entropy",
                      backend=backend, seed=0)
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((int(n), 20)) for n in rng.integers(1, 300, 64)]
    expected = [net.predict(X) for X in inputs]
    results = [None] * len(inputs)

    def work(k):
        for i in range(k, len(inputs), 8):
            for _ in range(5):
                results[i] = net.predict(inputs[i])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_fit_in_one_thread_while_others_predict():
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((400, 10)), rng.standard_normal((400, 2))
    trained = fnn.Network([10, 32, 2], output="identity", seed=0)
    reference = trained.copy()
    reference.fit(X, Y, optimizer="adam", epochs=20, seed=3)
    others = [fnn.Network([10, 16, 2], seed=s) for s in range(4)]
    expected = [n.predict(X) for n in others]
    errors = []

    def predict_loop(n, want):
        for _ in range(50):
            if not np.array_equal(n.predict(X), want):
                errors.append("prediction changed")

    threads = [threading.Thread(target=predict_loop, args=pair) for pair in zip(others, expected)]
    for thread in threads:
        thread.start()
    trained.fit(X, Y, optimizer="adam", epochs=20, seed=3)
    for thread in threads:
        thread.join()
    assert not errors
    np.testing.assert_array_equal(trained.params, reference.params)


def test_predict_in_batches_equals_all_at_once(backend):
    net = fnn.Network([6, 12, 3], backend=backend, seed=0)
    X = np.random.default_rng(2).standard_normal((1000, 6))
    whole = net.predict(X, batch_size=None)
    for batch_size in (1, 7, 999, 1000, 5000):
        np.testing.assert_allclose(net.predict(X, batch_size=batch_size), whole, rtol=1e-13)
    with pytest.raises(ValueError, match="batch_size"):
        net.predict(X, batch_size=0)


def test_batched_predict_keeps_the_workspace_small():
    net = fnn.Network([8, 256, 1], seed=0)
    X = np.zeros((50_000, 8))
    tracemalloc.start()
    net.predict(X, batch_size=1000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # output (400 kB) plus one batch's activations (~2 MB); all rows at once would be ~100 MB
    assert peak < 8_000_000


def test_repeated_fit_and_predict_do_not_grow_memory():
    import resource

    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((64, 5)), rng.standard_normal((64, 1))

    def cycle():
        net = fnn.Network([5, 16, 1], output="identity", seed=0)
        net.fit(X, Y, optimizer="adam", epochs=2, batch_size=16, seed=0)
        net.predict(X)

    for _ in range(50):  # warm-up: caches, first allocations
        cycle()
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(1000):
        cycle()
    gc.collect()
    growth = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    rss_growth_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_start
    assert growth < 200_000, f"Python heap grew by {growth} bytes over 1,000 cycles"
    assert rss_growth_kb < 50_000, f"RSS grew by {rss_growth_kb} kB over 1,000 cycles"
