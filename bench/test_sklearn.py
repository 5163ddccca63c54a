"""The drop-in estimators against scikit-learn's on the same data, parameters and threads.

    FASTNN_BENCH_THREADS=1 pytest bench/test_sklearn.py --benchmark-only --benchmark-group-by=group
"""
import warnings

import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkClassifier

import fastnn as fnn

from conftest import WORKLOADS, batch

CONTENDERS = {"fastnn": fnn.MLPClassifier, "sklearn": SkClassifier}


def fit_quietly(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


@pytest.mark.parametrize("contender", list(CONTENDERS))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_small_to_convergence(benchmark, contender, dtype):
    """digits (1,347 training rows of 1,797), hidden (64,), adam, batch 200, default tol."""
    benchmark.group = f"small: digits to convergence, {dtype}"
    X, y = load_digits(return_X_y=True)
    X = (X[:1347] / 16).astype(dtype)
    y = y[:1347]
    make = CONTENDERS[contender]
    model = benchmark.pedantic(
        lambda: fit_quietly(make(hidden_layer_sizes=(64,), batch_size=200, random_state=0), X, y),
        rounds=3, warmup_rounds=1)
    assert model.score(X, y) > 0.95


@pytest.mark.parametrize("contender", list(CONTENDERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_medium_three_epochs(benchmark, contender, dtype):
    """784-256-128-10, adam, batch 128, 3 epochs over 6,000 synthetic rows."""
    benchmark.group = f"medium: 3 epochs at batch 128, {dtype}"
    layers, _ = WORKLOADS["medium-b128"]
    X, Y = batch(layers, 6000, dtype)
    y = Y.argmax(axis=1)
    make = CONTENDERS[contender]
    benchmark.pedantic(
        lambda: fit_quietly(make(hidden_layer_sizes=(256, 128), batch_size=128, max_iter=3,
                                 random_state=0), X, y),
        rounds=3, warmup_rounds=1)
