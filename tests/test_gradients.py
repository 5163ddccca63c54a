"""Backpropagation against independent oracles: central finite differences (gradcheck)
and, for the node deltas, a from-scratch chain rule in this file."""
import zlib

import numpy as np
import pytest

import fastnn as fnn
from fastnn.activations import HIDDEN_ACTIVATIONS
from fastnn.losses import LOSS_OUTPUTS

from conftest import random_problem, randomize

PAIRS = [(output, loss) for loss, outputs in LOSS_OUTPUTS.items() for output in outputs]
GRADCHECK_TOL = {"float64": 1e-6, "float32": 2e-3}


@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output, loss", PAIRS)
def test_gradcheck_every_activation_and_loss(backend, dtype, hidden, output, loss):
    rng = np.random.default_rng(zlib.crc32(f"{hidden}{output}{loss}".encode()))
    layers = [4, 5, 3, 3]
    net = fnn.Network(layers, activation=hidden, output=output, loss=loss, dtype=dtype,
                      backend=backend)
    randomize(net, rng)
    X, Y = random_problem(rng, layers, loss, n_samples=7)
    # eps near the cube root of float64's epsilon balances the central differences'
    # truncation error against the rounding of J (at 1e-6 rounding dominates small gradients)
    assert fnn.gradcheck(net, X, Y, weight_decay=0.1, eps=1e-5) < GRADCHECK_TOL[dtype]


@pytest.mark.parametrize("layers", [[3, 1], [2, 6, 1], [5, 4, 4, 4, 2]])
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_depths_and_bias(backend, layers, bias):
    rng = np.random.default_rng(0)
    net = fnn.Network(layers, activation="tanh", output="identity", bias=bias,
                      backend=backend, seed=2)
    X, Y = random_problem(rng, layers, "mse", n_samples=5)
    assert fnn.gradcheck(net, X, Y) < 1e-6


def test_gradcheck_catches_a_wrong_gradient(backend):
    """The oracle must be able to fail: a gradient off by a factor shows up."""
    net = fnn.Network([3, 4, 2], backend=backend, seed=0)
    X, Y = random_problem(np.random.default_rng(1), [3, 4, 2], "mse", 6)
    true_loss_and_grad = net.loss_and_grad
    net.loss_and_grad = lambda *a: (lambda lg: (lg[0], lg[1] * 1.01))(true_loss_and_grad(*a))
    assert fnn.gradcheck(net, X, Y) > 1e-3


def test_gradcheck_random_subset_for_large_nets(backend):
    net = fnn.Network([30, 40, 5], activation="relu", output="softmax", loss="cross_entropy",
                      backend=backend)
    randomize(net, np.random.default_rng(3), scale=0.1)
    X, Y = random_problem(np.random.default_rng(2), [30, 40, 5], "cross_entropy", 8)
    assert net.n_params > 200
    assert fnn.gradcheck(net, X, Y, max_params=200) < 1e-6


def chain_rule_deltas(net, X, Y):
    """delta[L] = (a - y) f'(a) / m for mse; delta[l] = delta[l+1] W[l+1]^T * f'(a[l]),
    written out for sigmoid layers only, straight from seeds 000 and 002."""
    a = [np.asarray(X, float)]
    for W, b in zip(net.weights, net.biases):
        a.append(1 / (1 + np.exp(-(a[-1] @ W + b))))
    m = len(X)
    deltas = [(a[-1] - Y) * a[-1] * (1 - a[-1]) / m]
    for W, act in zip(net.weights[:0:-1], a[-2:0:-1]):
        deltas.insert(0, deltas[0] @ W.T * act * (1 - act))
    return deltas


def test_deltas_follow_the_chain_rule(backend):
    net = fnn.Network([3, 5, 4, 2], backend=backend, seed=3)
    X, Y = random_problem(np.random.default_rng(3), [3, 5, 4, 2], "mse", 6)
    bp = net.backward(X, Y)
    for ours, expected in zip(bp.deltas, chain_rule_deltas(net, X, Y), strict=True):
        np.testing.assert_allclose(ours, expected, rtol=1e-12)
    for l, W_grad in enumerate(bp.grad_weights):
        a_in = X if l == 0 else bp.activations[l - 1]
        np.testing.assert_allclose(W_grad, a_in.T @ bp.deltas[l], rtol=1e-12)
        np.testing.assert_allclose(bp.grad_biases[l], bp.deltas[l].sum(axis=0), rtol=1e-12)


def test_weight_decay_term_and_gradient(backend):
    """UFLDL (seed 001): J adds lambda/2 sum ||W||^2, grad W adds lambda W, biases untouched."""
    net = fnn.Network([3, 4, 2], backend=backend, seed=4)
    X, Y = random_problem(np.random.default_rng(4), [3, 4, 2], "mse", 5)
    plain, decayed = net.backward(X, Y), net.backward(X, Y, weight_decay=0.3)
    penalty = 0.15 * sum((W ** 2).sum() for W in net.weights)
    np.testing.assert_allclose(decayed.loss, plain.loss + penalty, rtol=1e-12)
    for W, g0, g1 in zip(net.weights, plain.grad_weights, decayed.grad_weights):
        np.testing.assert_allclose(g1, g0 + 0.3 * W, rtol=1e-12)
    for g0, g1 in zip(plain.grad_biases, decayed.grad_biases):
        np.testing.assert_array_equal(g1, g0)
