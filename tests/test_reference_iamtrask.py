"""Seed 004: iamtrask's XOR networks (../shared/reference/iamtrask.md).

His update is syn -= alpha * (gradient of 1/2 sum (l2 - y)^2); fastnn's J averages over the
m = 4 samples, so the same trajectory is gradient descent with learning rate 4 * alpha."""
import numpy as np
import pytest

import fastnn as fnn

X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
Y_XOR = np.array([[0], [1], [1], [0]], dtype=float)

HIDDEN_4 = {
    0.001: [0.496410031903, 0.495164025493, 0.493596043188, 0.491606358559, 0.489100166544, 0.485977857846],
    0.01: [0.496410031903, 0.457431074442, 0.359097202563, 0.239358137159, 0.143070659013, 0.0985964298089],
    0.1: [0.496410031903, 0.0428880170001, 0.0240989942285, 0.0181106521468, 0.0149876162722, 0.0130144905381],
    1: [0.496410031903, 0.00858452565325, 0.00578945986251, 0.00462917677677, 0.00395876528027, 0.00351012256786],
    10: [0.496410031903, 0.00312938876301, 0.00214459557985, 0.00172397549956, 0.00147821451229, 0.00131274062834],
}
HIDDEN_32 = {
    0.001: [0.496439922501, 0.491049468129, 0.484976307027, 0.477830678793, 0.46903846539, 0.458029258565],
    0.1: [0.496439922501, 0.0305404908386, 0.0190638725334, 0.0147643907296, 0.0123892429905, 0.0108421669738],
    1: [0.496439922501, 0.00736052234249, 0.00497251705039, 0.00396863978159, 0.00338641021983, 0.00299625684932],
}


def blog_weights(hidden):
    """The blog's own draws: np.random.seed(1); syn0, then syn1."""
    np.random.seed(1)
    syn0 = 2 * np.random.random((3, hidden)) - 1
    syn1 = 2 * np.random.random((hidden, 1)) - 1
    return syn0, syn1


def test_uniform_init_replays_the_blog_stream():
    net = fnn.Network([3, 4, 1], bias=False, init="uniform", seed=np.random.RandomState(1))
    syn0, syn1 = blog_weights(4)
    np.testing.assert_array_equal(net.weights[0], syn0)
    np.testing.assert_array_equal(net.weights[1], syn1)


@pytest.mark.parametrize("hidden, alpha, published",
                         [(4, a, e) for a, e in HIDDEN_4.items()] + [(32, a, e) for a, e in HIDDEN_32.items()])
def test_published_error_columns(backend, hidden, alpha, published):
    net = fnn.Network([3, hidden, 1], bias=False, backend=backend)
    syn0, syn1 = blog_weights(hidden)
    net.weights[0][...] = syn0
    net.weights[1][...] = syn1
    errors = []
    for step in range(50001):
        loss, grad = net.loss_and_grad(X, Y_XOR)
        if step % 10000 == 0:  # printed before that step's update
            errors.append(np.mean(np.abs(net.forward(X) - Y_XOR)))
        net.params -= 4 * alpha * grad
    np.testing.assert_allclose(errors, published, rtol=1e-6)


def test_part_one_two_layer_network(backend):
    y = np.array([[0], [0], [1], [1]], dtype=float)
    net = fnn.Network([3, 1], bias=False, backend=backend)
    np.random.seed(1)
    net.weights[0][...] = 2 * np.random.random((3, 1)) - 1
    for _ in range(9999):
        net.params -= 4 * net.loss_and_grad(X, y)[1]
    # the blog prints l1 of its last iteration, i.e. before the 10,000th update
    np.testing.assert_allclose(net.forward(X).ravel(),
                               [0.00966449, 0.00786506, 0.99358898, 0.99211957], atol=1e-8)
