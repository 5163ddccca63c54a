"""The compiled kernels called directly through their Python twins, against the NumPy
reference registries and scipy's own functions."""
import numpy as np
import pytest
from scipy.special import expit, ndtr, softmax

import fastnn as fnn
from fastnn._dispatch import kernels
_activations = _losses = _network = kernels()
from fastnn.activations import ACTIVATION_CODES, ACTIVATIONS, DERIVATIVES, FROM_Z
from fastnn.losses import LOSS_CODES, LOSS_OUTPUTS, LOSSES

SCIPY = {"identity": lambda z: z, "sigmoid": expit, "tanh": np.tanh,
         "relu": lambda z: np.maximum(z, 0), "softmax": lambda z: softmax(z, axis=1),
         "exp": np.exp, "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
         "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
         "softplus": lambda z: np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0),
         "gelu": lambda z: z * ndtr(z), "silu": lambda z: z * expit(z)}
EXTREME = np.array([[-1e4, -50.0, -1.0, 0.0, 1e-300, 2.0, 50.0, 1e4]])


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_activation_kernel(name, dtype):
    z = np.vstack([np.random.default_rng(0).standard_normal((5, 8)) * 3, EXTREME]).astype(dtype)
    bias = np.linspace(-1, 1, 8).astype(dtype)
    with np.errstate(over="ignore"):  # exp(1e4) is inf in every implementation
        expected = SCIPY[name]((z + bias).astype(np.float64)).astype(dtype)
        reference = ACTIVATIONS[name](z + bias)
    compiled = z.copy()
    _activations.activate_(ACTIVATION_CODES[name], compiled, bias)
    tol = 1e-13 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(compiled, expected, rtol=tol, atol=tol)
    np.testing.assert_allclose(reference, expected, rtol=tol, atol=tol)
    assert np.isfinite(compiled[np.isfinite(expected)]).all()


def slope_of(name, z):
    """f'(z) written from z (scipy's ndtr for gelu's Phi)."""
    s = expit(z)
    return {"identity": np.ones_like(z), "sigmoid": s * (1 - s), "tanh": 1 - np.tanh(z) ** 2,
            "relu": (z > 0).astype(float), "leaky_relu": np.where(z > 0, 1, 0.01),
            "elu": np.where(z > 0, 1, np.exp(np.minimum(z, 0))), "softplus": s,
            "gelu": ndtr(z) + z * np.exp(-z * z / 2) / np.sqrt(2 * np.pi),
            "silu": s * (1 + z * (1 - s))}[name]


@pytest.mark.parametrize("name", DERIVATIVES)
def test_derivative_kernel_and_bias_gradient(name):
    rng = np.random.default_rng(1)
    z = rng.standard_normal((6, 4))
    a = SCIPY[name](z)
    delta = rng.standard_normal((6, 4))
    slope = slope_of(name, z)
    code = ACTIVATION_CODES[name]
    compiled, grad_bias = delta.copy(), np.full(4, np.nan)
    if name in FROM_Z:  # the kernels keep D = f'(z) from the forward pass, then multiply
        kept, activated = np.full_like(z, np.nan), z.copy()
        _activations.activate_keep_(code, activated, kept)
        np.testing.assert_allclose(activated, a, rtol=1e-14)
        compiled *= kept  # (the bias gradient is the passes' column sum: no kernel here)
        with pytest.raises(ValueError, match="needs z"):
            _activations.multiply_derivative_(code, delta.copy(), a)
    else:  # from a alone
        _activations.multiply_derivative_(code, compiled, a, grad_bias)
        with pytest.raises(ValueError, match="from a"):
            _activations.activate_keep_(code, z.copy(), np.empty_like(z))
    np.testing.assert_allclose(compiled, delta * slope, rtol=1e-14)
    argument = z if name in FROM_Z else a
    np.testing.assert_allclose(DERIVATIVES[name](argument, delta.copy()), delta * slope, rtol=1e-14)
    if name not in FROM_Z:
        np.testing.assert_allclose(grad_bias, (delta * slope).sum(axis=0), rtol=1e-13)


@pytest.mark.parametrize("name", sorted(FROM_Z))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kept_derivative_kernel_at_extremes(name, dtype):
    """gelu and silu and their derivatives for |z| up to 1e4 (and the dtype's largest): finite,
    with the right limits (f(z) -> z and f' -> 1 above, f -> 0 and f' -> 0 below), and a
    bias added first."""
    big = np.finfo(dtype).max
    z = np.array([[-big, -1e4, -200.0, -40.0, -8.0, -1.0, 0.0, 1e-30, 1.0, 8.0, 40.0, 200.0,
                   1e4, big]], dtype)
    bias = np.full(z.shape[1], 0.5, dtype)
    shifted = (z.astype(np.float64) + 0.5).clip(-big, big)
    with np.errstate(over="ignore", invalid="ignore"):
        expected_a = np.where(np.abs(shifted) > 1e300, np.where(shifted > 0, shifted, 0.0),
                              SCIPY[name](shifted))
        expected_d = np.where(np.abs(shifted) > 1e300, (shifted > 0).astype(float),
                              slope_of(name, shifted))
    a, d = z.copy(), np.full_like(z, np.nan)
    _activations.activate_keep_(ACTIVATION_CODES[name], a, d, bias)
    tol = 1e-13 if dtype == np.float64 else 1e-6
    assert np.isfinite(a).all() and np.isfinite(d).all()
    np.testing.assert_allclose(a, expected_a.astype(dtype), rtol=tol, atol=1e-300)
    np.testing.assert_allclose(d, expected_d.astype(dtype), rtol=tol, atol=tol)
    assert (a[0, :2] == 0).all() and (d[0, :2] == 0).all()  # far below: exactly 0
    assert (a[0, -3:] == z[0, -3:] + bias[-3:]).all() and (d[0, -3:] == 1).all()  # far above
    plain = z.copy()
    _activations.activate_(ACTIVATION_CODES[name], plain, bias)  # prediction's kernel
    np.testing.assert_array_equal(plain, a)
    for f in (ACTIVATIONS[name], lambda v: DERIVATIVES[name](v, np.ones_like(v))):  # reference
        with np.errstate(over="ignore"):
            value = f((z + bias).astype(dtype))
        assert np.isfinite(value).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gelu_kernel_accuracy_in_ulp(dtype):
    """gelu = z Phi(z) and gelu' = Phi(z) + z phi(z) (the kernels' own erfc-free Phi) against
    mpmath's 30-digit values on a dense grid down to where Phi underflows: gelu within 8 units
    in the last place where it is a normal number, gelu' within 4 ulp of max(|gelu'|, 1) (it
    crosses 0 near z = -0.75, where any formula's relative error is unbounded). scipy's ndtr
    is no oracle here: its erfc(-z / sqrt 2) is off by z^2 ulp far below 0."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 30
    low = -37.5 if dtype == np.float64 else -13.0
    z = np.concatenate([np.linspace(low, 10, 3001), np.linspace(-1.1, 1.1, 441)]).astype(dtype)
    a, d = z[None].copy(), np.empty((1, len(z)), dtype)
    _activations.activate_keep_(ACTIVATION_CODES["gelu"], a, d)
    exact = [(x * mp.ncdf(x), mp.ncdf(x) + x * mp.npdf(x)) for x in map(mp.mpf, z.tolist())]
    value = np.array([float(v) for v, _ in exact])
    slope = np.array([float(s) for _, s in exact])
    eps, normal = np.finfo(dtype).eps, np.abs(value) >= np.finfo(dtype).tiny
    ulp_value = np.abs(a[0] - value)[normal] / np.abs(value[normal]) / eps
    ulp_slope = np.abs(d[0] - slope) / np.maximum(np.abs(slope), 1) / eps
    assert ulp_value.max() <= 8 and ulp_slope.max() <= 4, (ulp_value.max(), ulp_slope.max())


@pytest.mark.parametrize("loss, output", [(l, o) for l, outs in LOSS_OUTPUTS.items() for o in outs])
def test_output_layer_kernel(loss, output):
    rng = np.random.default_rng(2)
    # e^z of the exp output overflows past z = 709 in any implementation: keep that finite
    z = np.vstack([rng.standard_normal((4, 8)), EXTREME.clip(None, 700 if output == "exp" else None)])
    y = rng.random(z.shape)
    if loss == "cross_entropy":
        y /= y.sum(axis=1, keepdims=True)
    total, a, dz = LOSSES[loss](z.copy(), y, output)
    compiled_a, delta, grad_bias = z.copy(), np.empty_like(z), np.empty(8)
    compiled_total = _losses.output_layer_(LOSS_CODES[loss], ACTIVATION_CODES[output], compiled_a,
                                           y, delta, None, grad_bias)
    np.testing.assert_allclose(compiled_total, total.sum(), rtol=1e-13)
    np.testing.assert_allclose(compiled_a, a, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(delta, dz / len(z), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(grad_bias, delta.sum(axis=0), rtol=1e-12)
    assert np.isfinite(compiled_total) and np.isfinite(delta).all()


def test_twins_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match="bias"):
        _activations.activate_(1, np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        _losses.output_layer_(0, 1, np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises((TypeError, ValueError), match="dtype|signature"):
        _activations.activate_(1, np.zeros((2, 3), dtype=np.float32), np.zeros(3))


def test_network_passes_check_every_buffer_against_the_plan():
    """The unchecked passes are only reachable through these checks."""
    net = fnn.Network([3, 4, 2], seed=0)
    plan, X, Y = net._backend.plan, np.ones((5, 3)), np.ones((5, 2))
    acts, deltas, grad = np.empty(5 * 6), np.empty(5 * 6), np.empty(net.n_params)
    _network.backward(plan, net.params, X, Y, acts, deltas, grad)  # the right sizes pass
    bad_calls = {
        "params has": lambda: _network.forward(plan, net.params[:-1], X, acts),
        "X has 2 features": lambda: _network.forward(plan, net.params, np.ones((5, 2)), acts),
        "workspace": lambda: _network.forward(plan, net.params, X, acts[:-1]),
        "no rows": lambda: _network.forward(plan, net.params, X[:0], acts),
        "Y must": lambda: _network.loss(plan, net.params, X, np.ones((5, 1)), acts),
        "deltas": lambda: _network.backward(plan, net.params, X, Y, acts, deltas[:-1], grad),
        "grad has": lambda: _network.backward(plan, net.params, X, Y, acts, deltas, grad[:-1]),
    }
    for message, call in bad_calls.items():
        with pytest.raises(ValueError, match=message):
            call()
