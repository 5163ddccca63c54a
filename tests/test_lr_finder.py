"""The learning-rate range test against a problem whose good rate is known: for least
squares, gradient descent converges fastest near 1/lambda_max of the Hessian (the inputs'
second-moment matrix, with the bias's constant column) and diverges beyond 2/lambda_max."""
import copy

import numpy as np
import pytest

import fastnn as fnn


def least_squares(seed, scale):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((512, 6)) * scale
    Y = X @ rng.standard_normal((6, 1)) + 0.1 * rng.standard_normal((512, 1))
    A = np.c_[X, np.ones(len(X))]
    return X, Y, 1 / np.linalg.eigvalsh(A.T @ A / len(A)).max()


@pytest.mark.parametrize("seed, scale", [(0, 0.3), (1, 1.0), (2, 10.0)])
def test_the_suggestion_is_near_the_known_good_rate(backend, seed, scale):
    X, Y, good = least_squares(seed, scale)
    net = fnn.Network([6, 1], output="identity", backend=backend, seed=0)
    before = net.params.copy()
    optimizer = fnn.optim.SGD(lr=0.123)
    kept = copy.deepcopy(optimizer.__dict__)
    result = fnn.lr_find(net, X, Y, optimizer=optimizer, start_lr=good * 1e-5,
                         end_lr=good * 1e3, steps=100, seed=seed)
    assert good / 10 < result.suggestion < good * 10
    assert result.diverged and len(result.lrs) < 100  # stopped once the loss blew up
    np.testing.assert_array_equal(net.params, before)  # the network is untouched
    assert optimizer.__dict__.keys() == kept.keys() and optimizer.lr == 0.123 and optimizer.state is None
    again = fnn.lr_find(net, X, Y, optimizer=optimizer, start_lr=good * 1e-5, end_lr=good * 1e3,
                        steps=100, seed=seed)
    np.testing.assert_array_equal(again.losses, result.losses)  # a seed replays the run


def test_rates_grow_geometrically_and_losses_are_the_batches():
    X, Y, _ = least_squares(3, 1.0)
    net = fnn.Network([6, 1], output="identity", seed=0)
    result = fnn.lr_find(net, X, Y, start_lr=1e-6, end_lr=1e-4, steps=21, batch_size=None)
    np.testing.assert_allclose(result.lrs, np.logspace(-6, -4, 21), rtol=1e-12)
    assert not result.diverged and len(result.losses) == 21
    # full batches and rates too small to move much: the first loss is the network's cost
    assert result.losses[0] == pytest.approx(net.cost(X, Y), rel=1e-12)


def test_bad_arguments_are_refused():
    X, Y, _ = least_squares(0, 1.0)
    net = fnn.Network([6, 1], output="identity", seed=0)
    with pytest.raises(ValueError, match="needs an optimizer with a learning rate"):
        fnn.lr_find(net, X, Y, optimizer="lbfgs")
    with pytest.raises(ValueError, match="0 < start_lr < end_lr"):
        fnn.lr_find(net, X, Y, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="steps must be an integer >= 5"):
        fnn.lr_find(net, X, Y, steps=2)
    with pytest.raises(TypeError, match="lr_find takes a Network"):
        fnn.lr_find("net", X, Y)


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    X, Y, good = least_squares(1, 1.0)
    result = fnn.lr_find(fnn.Network([6, 1], output="identity", seed=0), X, Y,
                         start_lr=good * 1e-4, end_lr=good * 1e2, seed=0)
    result.plot(tmp_path / "range.svg")
    svg = (tmp_path / "range.svg").read_text()
    for text in ("learning rate", "training loss (smoothed)", "suggested lr", "range test"):
        assert text in svg
