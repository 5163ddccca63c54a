"""Bad input at the public boundary: a clear error, and the network unchanged."""
import numpy as np
import pytest

import fastnn as fnn

GOOD_X = np.arange(12, dtype=float).reshape(4, 3) / 10
GOOD_Y = np.array([[0.0], [1.0], [1.0], [0.0]])


@pytest.fixture
def net(backend):
    return fnn.Network([3, 4, 1], backend=backend, seed=0)


BAD_X = [
    (np.ones((4, 5)), ValueError, "X has 5 features, the network expects 3"),
    (np.ones(3), ValueError, "must be 2-D"),
    (np.ones((2, 2, 3)), ValueError, "must be 2-D"),
    (np.ones((0, 3)), ValueError, "empty"),
    (np.array([[1.0, np.nan, 0.0]]), ValueError, "NaN or infinity"),
    (np.array([[1.0, np.inf, 0.0]]), ValueError, "NaN or infinity"),
    (np.array([["a", "b", "c"]]), TypeError, "real numbers"),
    (np.array([[1, "b", None]], dtype=object), TypeError, "non-numeric"),
    (np.array([[1 + 1j, 0, 0]]), TypeError, "real numbers"),
    ([[1.0, 2.0], [1.0]], ValueError, "cannot be read as an array"),
    (None, TypeError, "None"),
]


@pytest.mark.parametrize("X, error, message", BAD_X)
def test_bad_X_everywhere(net, X, error, message):
    before = net.params.copy()
    for call in (lambda: net.forward(X), lambda: net.predict(X), lambda: net.backward(X, GOOD_Y[:1]),
                 lambda: net.loss_and_grad(X, GOOD_Y[:1]), lambda: net.cost(X, GOOD_Y[:1])):
        with pytest.raises(error, match=message):
            call()
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize("Y, error, message", [
    (np.ones((3, 1)), ValueError, "X has 4 rows but Y has 3"),
    (np.ones((4, 2)), ValueError, "Y has 2 columns, the network expects 1"),
    (np.array([[0.0], [np.nan], [1.0], [0.0]]), ValueError, "Y contains NaN"),
    (np.array([["x"]] * 4), TypeError, "real numbers"),
])
def test_bad_Y(net, Y, error, message):
    before = net.params.copy()
    for call in (net.backward, net.loss_and_grad, net.cost):
        with pytest.raises(error, match=message):
            call(GOOD_X, Y)
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize("value, error", [(-0.1, ValueError), (np.nan, ValueError),
                                          ("0.1", TypeError), (None, TypeError)])
def test_bad_weight_decay(net, value, error):
    with pytest.raises(error, match="weight_decay"):
        net.backward(GOOD_X, GOOD_Y, weight_decay=value)


def test_float32_overflow_is_refused():
    net = fnn.Network([3, 1], dtype="float32")
    with pytest.raises(ValueError, match="too large for float32"):
        net.forward([[1e39, 0, 0]])


def test_awkward_but_valid_layouts(net):
    expected = net.forward(GOOD_X)
    expected_grad = net.loss_and_grad(GOOD_X, GOOD_Y)[1]
    wide = np.zeros((4, 7))
    wide[:, ::2][:, :3] = GOOD_X
    readonly = GOOD_X.copy()
    readonly.flags.writeable = False
    variants = {
        "fortran": np.asfortranarray(GOOD_X),
        "strided": wide[:, ::2][:, :3],
        "reversed": GOOD_X[::-1][::-1],
        "read-only": readonly,
        "list": GOOD_X.tolist(),
    }
    for name, X in variants.items():
        np.testing.assert_allclose(net.forward(X), expected, rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(net.loss_and_grad(X, GOOD_Y)[1], expected_grad, rtol=1e-12, err_msg=name)
    np.testing.assert_array_equal(net.forward((GOOD_X * 10).astype(int)), net.forward(GOOD_X * 10))
    X32 = GOOD_X.astype(np.float32)
    np.testing.assert_array_equal(net.forward(X32), net.forward(X32.astype(np.float64)))
    np.testing.assert_array_equal(net.forward(GOOD_X > 0.5), net.forward((GOOD_X > 0.5) * 1.0))


def test_one_dimensional_targets_for_one_output(net):
    np.testing.assert_array_equal(net.loss_and_grad(GOOD_X, GOOD_Y.ravel())[1],
                                  net.loss_and_grad(GOOD_X, GOOD_Y)[1])


def test_sparse_input_is_predicted_and_refused_elsewhere_with_a_hint(net):
    sparse = pytest.importorskip("scipy.sparse")
    np.testing.assert_allclose(net.forward(sparse.csr_matrix(GOOD_X)), net.forward(GOOD_X),
                               rtol=1e-12)
    for call in (lambda X: net.fit(X, GOOD_Y, epochs=1), lambda X: net.backward(X, GOOD_Y),
                 lambda X: net.cost(X, GOOD_Y)):
        with pytest.raises(TypeError, match="toarray"):
            call(sparse.csr_matrix(GOOD_X))
