"""Threads and kernel variants: every variant this CPU runs gives the NumPy backend's numbers,
threaded passes give the single-threaded ones (to rounding), a fixed thread count gives the
same bits run after run and process after process, and threads change no error."""
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import fastnn as fnn
from fastnn import _dispatch, _threads
from fastnn.activations import HIDDEN_ACTIVATIONS
from fastnn.losses import LOSS_OUTPUTS

from conftest import random_problem, rtol_for

PAIRS = [(output, loss) for loss, outputs in LOSS_OUTPUTS.items() for output in outputs]
# wide enough that every phase splits over 3 threads (see src_pyx/_team.pxd)
LAYERS = [96, 160, 144, 20]


@pytest.fixture(params=_dispatch.available())
def variant(request):
    with _dispatch.using(request.param):
        yield request.param


def test_the_best_variant_this_cpu_runs_is_loaded():
    available = _dispatch.available()
    assert available and set(available) <= set(_dispatch.built())
    assert fnn.Network([2, 1])._backend.kernels is _dispatch.kernels(available[0]) \
        or os.environ.get("FASTNN_KERNELS")
    assert fnn.config()["kernels"] in available
    with pytest.raises(ValueError, match="unknown kernel variant"):
        _dispatch.kernels("avx9000")


@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output, loss", PAIRS)
@pytest.mark.parametrize("threads", [1, 3])
def test_every_variant_and_thread_count_agrees_with_numpy(variant, dtype, hidden, output, loss,
                                                          threads):
    reference = fnn.Network(LAYERS, activation=hidden, output=output, loss=loss, dtype=dtype,
                            backend="numpy", seed=3)
    compiled = reference.copy(backend="cython")
    assert compiled._backend.kernels.VARIANT == variant
    X, Y = random_problem(np.random.default_rng(4), LAYERS, loss, 200)
    rtol = rtol_for(dtype)
    expected_output = reference.forward(X)  # sums of 96-160 terms: errors scale with the largest
    np.testing.assert_allclose(compiled.forward(X, threads=threads), expected_output,
                               rtol=rtol, atol=rtol * np.abs(expected_output).max())
    expected = reference.backward(X, Y, 0.01)
    got = compiled._backend.backward(X.astype(dtype), Y.astype(dtype), 0.01,
                                     np.empty_like(compiled.params), threads=threads)
    np.testing.assert_allclose(got, expected.loss, rtol=rtol)
    grad = np.empty_like(compiled.params)
    compiled._backend.backward(X.astype(dtype), Y.astype(dtype), 0.01, grad, threads=threads)
    np.testing.assert_allclose(grad, expected.grad, rtol=rtol,
                               atol=rtol * np.abs(expected.grad).max())


def test_variants_give_the_same_bits(dtype):
    """No contraction into fused multiply-adds: wider vectors, the same rounding."""
    results = []
    X, Y = random_problem(np.random.default_rng(0), LAYERS, "cross_entropy", 300)
    for name in _dispatch.available():
        with _dispatch.using(name):
            net = fnn.Network(LAYERS, activation="sigmoid", output="softmax",
                              loss="cross_entropy", dtype=dtype, seed=0)
            net.fit(X, Y, optimizer="adam", epochs=2, batch_size=64, seed=0, threads=2)
            results.append(net.params.copy())
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


def train(dtype, threads, optimizer="adam", weight_decay=1e-3):
    X, Y = random_problem(np.random.default_rng(1), LAYERS, "cross_entropy", 700)
    net = fnn.Network(LAYERS, activation="relu", output="softmax", loss="cross_entropy",
                      dtype=dtype, seed=2)
    history = net.fit(X, Y, optimizer=optimizer, epochs=3, batch_size=128, seed=5,
                      weight_decay=weight_decay, threads=threads)
    return net, history


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_a_fixed_thread_count_gives_the_same_bits_every_run(dtype, threads):
    first, first_history = train(dtype, threads)
    second, second_history = train(dtype, threads)
    np.testing.assert_array_equal(second.params, first.params)
    assert second_history.loss == first_history.loss


def test_threaded_training_follows_the_single_threaded_curve(dtype):
    single, single_history = train(dtype, 1)
    for threads in (2, 3, 8):
        net, history = train(dtype, threads)
        np.testing.assert_allclose(history.loss, single_history.loss,
                                   rtol=1e-12 if dtype == "float64" else 1e-4)
        np.testing.assert_allclose(net.params, single.params,
                                   rtol=0, atol=1e-10 if dtype == "float64" else 1e-3)


def test_the_same_bits_in_another_process():
    script = (
        "import sys, numpy as np; sys.path.insert(0, sys.argv[1]); "
        "from test_threads import train; net, _ = train('float32', 2); "
        "sys.stdout.write(net.params.tobytes().hex())")
    root = str(Path(fnn.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    # cwd=root: `python -c` puts the working directory first on sys.path, and from a source
    # checkout without built kernels that would shadow the installed package.
    done = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent)],
                          capture_output=True, text=True, env=env, timeout=120, cwd=root)
    assert done.returncode == 0, done.stderr
    here, _ = train("float32", 2)
    assert done.stdout == here.params.tobytes().hex()


@pytest.mark.parametrize("threads", [1, 4])
def test_threads_change_no_error(threads):
    net = fnn.Network(LAYERS, activation="relu", output="softmax", loss="cross_entropy", seed=0)
    before = net.params.copy()
    X, Y = random_problem(np.random.default_rng(0), LAYERS, "cross_entropy", 50)
    bad = X.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        net.fit(bad, Y, epochs=1, threads=threads)
    with pytest.raises(ValueError, match="X has 95 features, the network expects 96"):
        net.predict(X[:, 1:], threads=threads)
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        net.predict(X, threads=0)
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        net.fit(X, Y, threads=-2)
    np.testing.assert_array_equal(net.params, before)


def test_predict_splits_over_threads_with_the_same_result():
    net = fnn.Network(LAYERS, activation="tanh", output="softmax", loss="cross_entropy", seed=0)
    X = np.random.default_rng(0).standard_normal((5000, LAYERS[0]))
    np.testing.assert_array_equal(net.predict(X, threads=3), net.predict(X, threads=1))


def _blas_threads():
    return sorted((info["filepath"], info["num_threads"]) for info in threadpool_info()
                  if info["user_api"] == "blas")


def test_training_restores_the_blas_thread_settings_even_when_fits_overlap():
    """The kernels keep scipy's BLAS on one thread while they run; overlapping fits in two
    Python threads share that setting, and the last one out restores what it found."""
    _threads.kernel_blas()
    before = _blas_threads()
    errors = []

    def fit():
        try:
            train("float64", 2)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    workers = [threading.Thread(target=fit) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    assert _blas_threads() == before


def test_default_threads_follow_the_blas_limit():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        assert _threads.default_threads() == 1
    assert 1 <= _threads.default_threads() <= _threads.cores()
