"""Seed 000: Heaton's 2-2-1 network (../shared/reference/heaton.md).

Heaton's node delta is -dE/dz and his gradient -dE/dw (E = 1/2 (actual - ideal)^2), so the
published numbers are compared with -bp.deltas and -bp.grad_* (m = 1 sample)."""
import numpy as np
import pytest

import fastnn as fnn

BOOK = dict(W0=[[-0.07, 0.95], [0.22, 0.46]], b0=[-0.46, 0.10], W1=[[-0.22], [0.58]], b1=[0.78])
ONLINE = dict(W0=[[-0.06782947598673161, 0.9487814395569221],
                  [0.22341077197888182, 0.46158711646254]],
              b0=[-0.4635107399577998, 0.09750161997450091],
              W1=[[-0.22791948943117624], [0.581714099641357]],
              b1=[0.7792991203673414])


def heaton_network(backend, weights):
    net = fnn.Network([2, 2, 1], activation="sigmoid", output="sigmoid", loss="mse",
                      backend=backend)
    net.weights[0][...] = weights["W0"]
    net.biases[0][...] = weights["b0"]
    net.weights[1][...] = weights["W1"]
    net.biases[1][...] = weights["b1"]
    return net


def heaton_quantities(bp):
    """(o1 delta, h1 delta, h2 delta, grad h1->o1, grad h2->o1, grad b2->o1) in his sign."""
    return np.array([-bp.deltas[1][0, 0], -bp.deltas[0][0, 0], -bp.deltas[0][0, 1],
                     -bp.grad_weights[1][0, 0], -bp.grad_weights[1][1, 0], -bp.grad_biases[1][0]])


PUBLISHED = [0.04518482993361776, -0.0023181625149143255, 0.005031782661407674,
             0.01674174257328656, 0.033471787838638474, 0.04518482993361776]
EXACT = [0.045165623207517394, -0.002317516201188757, 0.005030362827888578,
         0.016734626156902556, 0.033457559978047856, 0.045165623207517394]


def test_published_numbers(backend):
    bp = heaton_network(backend, BOOK).backward([[1.0, 0.0]], [[1.0]])
    # the book rounded its intermediates, so it agrees with exact arithmetic to ~4e-4
    np.testing.assert_allclose(heaton_quantities(bp), PUBLISHED, rtol=1e-3)


def test_exact_values(backend):
    net = heaton_network(backend, BOOK)
    bp = net.backward([[1.0, 0.0]], [[1.0]])
    np.testing.assert_allclose(net.forward([[1.0, 0.0]])[0, 0], 0.7554946898889571, rtol=1e-12)
    np.testing.assert_allclose(heaton_quantities(bp), EXACT, rtol=1e-12)


@pytest.mark.parametrize("x, ideal, output, o1, h1, h2", [
    ([0, 0], 0, 0.7303329742286414, -0.143836684500084, 0.007770890822508151, -0.020868321034070613),
    ([1, 0], 1, 0.7549937892853826, 0.04532079986594939, -0.002408353357272021, 0.005071619394242543),
    ([0, 1], 1, 0.7405954365271326, 0.04983520574452712, -0.00279906931208374, 0.006709357064362473),
    ([1, 1], 0, 0.761155240253965, -0.13837645506973884, 0.007700680091276262, -0.0119456501031773),
])
def test_online_example_per_pattern(backend, x, ideal, output, o1, h1, h2):
    net = heaton_network(backend, ONLINE)
    bp = net.backward([x], [[ideal]])
    np.testing.assert_allclose(bp.activations[-1][0, 0], output, rtol=1e-12)
    np.testing.assert_allclose([-bp.deltas[1][0, 0], -bp.deltas[0][0, 0], -bp.deltas[0][0, 1]],
                               [o1, h1, h2], rtol=1e-12)


def test_online_example_error_before_training(backend):
    X = [[0, 0], [1, 0], [0, 1], [1, 1]]
    Y = np.array([[0], [1], [1], [0]])
    # mean of (y - yhat)^2 = 2 J for J = (1/m) sum 1/2 (yhat - y)^2
    net = heaton_network(backend, ONLINE)
    np.testing.assert_allclose(np.mean((net.forward(X) - Y) ** 2), 0.31001558096275217, rtol=1e-12)
    np.testing.assert_allclose(2 * net.cost(X, Y), 0.31001558096275217, rtol=1e-12)
