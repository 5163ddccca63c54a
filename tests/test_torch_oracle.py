"""Losses and gradients against PyTorch autograd (skipped when torch is not installed)."""
import numpy as np
import pytest
from scipy.special import xlogy

import fastnn as fnn
from fastnn.activations import HIDDEN_ACTIVATIONS
from fastnn.losses import LOSS_OUTPUTS

from conftest import random_problem, randomize

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH_ACTIVATIONS = {"identity": lambda z: z, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
                     "relu": torch.relu, "softmax": lambda z: torch.softmax(z, dim=1),
                     "leaky_relu": F.leaky_relu, "elu": F.elu, "softplus": F.softplus,
                     "gelu": F.gelu, "silu": F.silu}


def torch_cost(net, X, Y, weight_decay):
    """J and its gradient, written with torch ops and differentiated by autograd."""
    Ws = [torch.tensor(W, requires_grad=True) for W in net.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in net.biases]
    a, m = torch.tensor(X), X.shape[0]
    y = torch.tensor(Y)
    for l, W in enumerate(Ws):
        z = a @ W + (bs[l] if bs else 0)
        a = TORCH_ACTIVATIONS[(net.hidden_activations + [net.output])[l]](z) if l < len(Ws) - 1 else z
    if net.loss == "cross_entropy":
        J = F.cross_entropy(z, y, reduction="sum") / m
    elif net.loss == "binary_cross_entropy":
        J = F.binary_cross_entropy_with_logits(z, y, reduction="sum") / m
    elif net.loss == "poisson":  # torch drops the deviance's constant y log y - y
        J = F.poisson_nll_loss(z, y, log_input=True, full=False, reduction="sum") / m
        J = J + float((xlogy(Y, Y) - Y).sum()) / m
    elif net.loss == "mae":
        J = F.l1_loss(TORCH_ACTIVATIONS[net.output](z), y, reduction="sum") / m
    elif net.loss == "huber":
        J = F.huber_loss(TORCH_ACTIVATIONS[net.output](z), y, reduction="sum", delta=net.huber_delta) / m
    else:
        J = 0.5 * F.mse_loss(TORCH_ACTIVATIONS[net.output](z), y, reduction="sum") / m
    J = J + 0.5 * weight_decay * sum((W ** 2).sum() for W in Ws)
    J.backward()
    return J.item(), [W.grad.numpy() for W in Ws], [b.grad.numpy() for b in bs]


@pytest.mark.parametrize("hidden", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("output, loss", [(o, l) for l, outs in LOSS_OUTPUTS.items() for o in outs])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_torch_autograd(backend, hidden, output, loss, bias):
    rng = np.random.default_rng(11)
    layers = [5, 7, 4, 3]
    net = randomize(fnn.Network(layers, activation=hidden, output=output, loss=loss, bias=bias,
                                backend=backend), rng)
    X, Y = random_problem(rng, layers, loss, 9)
    bp = net.backward(X, Y, weight_decay=0.05)
    J, grad_W, grad_b = torch_cost(net, X, Y, 0.05)
    np.testing.assert_allclose(bp.loss, J, rtol=1e-12)
    for ours, theirs in zip(bp.grad_weights + bp.grad_biases, grad_W + grad_b, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("huber_delta", [0.25, 3.0])
def test_huber_threshold_and_float32_against_torch(backend, dtype, huber_delta):
    """huber_delta is honoured (residuals on both sides of it) in both dtypes, and a model
    file keeps it."""
    rng = np.random.default_rng(5)
    net = randomize(fnn.Network([4, 6, 2], activation="tanh", output="identity", loss="huber",
                                huber_delta=huber_delta, backend=backend), rng)
    X, Y = rng.standard_normal((40, 4)), 3 * rng.standard_normal((40, 2))
    J, grad_W, grad_b = torch_cost(net, X, Y, 0.0)
    net32 = net.copy(dtype=dtype)
    bp = net32.backward(X.astype(dtype), Y.astype(dtype))
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(bp.loss, J, rtol=rtol)
    for ours, theirs in zip(bp.grad_weights + bp.grad_biases, grad_W + grad_b, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=rtol * 100, atol=rtol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["gelu", "silu"])
def test_gelu_and_silu_values_and_slopes_against_torch(backend, dtype, name):
    """f(z) and f'(z) (torch's autograd of F.gelu, exact erf form, and F.silu) over a wide
    range, |z| up to 1e4, through a one-unit network: its output is f(z), and d/dz of the
    mse cost with target 0 is f(z) f'(z)."""
    z = np.concatenate([np.linspace(-12, 12, 97), [-1e4, -300.0, -40.0, 40.0, 300.0, 1e4]])
    zt = torch.tensor(z, dtype=getattr(torch, dtype), requires_grad=True)
    value = TORCH_ACTIVATIONS[name](zt)
    value.sum().backward()
    expected_value, expected_slope = value.detach().numpy(), zt.grad.numpy()
    net = fnn.Network([1, 1], output=name, loss="mse", dtype=dtype, backend=backend)
    net.weights[0][...], net.biases[0][...] = 1.0, 0.0
    X = z.astype(dtype)[:, None]
    tol = 2e-6 if dtype == "float32" else 1e-13
    a = net.predict(X)[:, 0]
    np.testing.assert_allclose(a, expected_value, rtol=tol, atol=tol)
    bp = net.backward(X, np.zeros_like(X))
    m = len(z)  # delta = a f'(z) / m; where a is 0 the slope is checked in a hidden layer
    np.testing.assert_allclose(bp.deltas[-1][:, 0] * m, expected_value * expected_slope,
                               rtol=tol * 10, atol=tol)
    hidden = fnn.Network([1, 1, 1], activation=name, output="identity", loss="mse",
                         dtype=dtype, backend=backend)
    for W, b in zip(hidden.weights, hidden.biases):  # the output is f(z)
        W[...], b[...] = 1.0, 0.0
    bp = hidden.backward(X, np.zeros_like(X) - 1)  # delta of the output: (f(z) + 1) / m
    np.testing.assert_allclose(bp.deltas[0][:, 0] * m, (expected_value + 1) * expected_slope,
                               rtol=tol * 10, atol=tol)
    assert np.isfinite(bp.grad).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gelu_silu_network_float32_against_torch(backend, dtype):
    """A gelu/silu network with a gelu output trains on the same loss and gradient as torch
    (float64 autograd as the oracle) in float32 too."""
    rng = np.random.default_rng(8)
    net = randomize(fnn.Network([4, 9, 6, 2], activation=["gelu", "silu"], output="gelu",
                                loss="mse", backend=backend), rng)
    X, Y = 2 * rng.standard_normal((40, 4)), rng.standard_normal((40, 2))
    J, grad_W, grad_b = torch_cost(net, X, Y, 0.01)
    bp = net.copy(dtype=dtype).backward(X.astype(dtype), Y.astype(dtype), 0.01)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(bp.loss, J, rtol=rtol)
    for ours, theirs in zip(bp.grad_weights + bp.grad_biases, grad_W + grad_b, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=rtol * 100, atol=rtol)


def test_huber_delta_is_saved_and_checked(tmp_path):
    net = fnn.Network([2, 1], output="identity", loss="huber", huber_delta=0.5, seed=0)
    net.save(tmp_path / "h.npz")
    assert fnn.load(tmp_path / "h.npz").huber_delta == 0.5
    with pytest.raises(ValueError, match="huber_delta must be a positive finite number"):
        fnn.Network([2, 1], output="identity", loss="huber", huber_delta=0)
