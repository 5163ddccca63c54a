"""The first-order rules: fused kernel against the NumPy rule, both against torch.optim,
and every optimizer against the problems of the seeds."""
import numpy as np
import pytest

import fastnn as fnn
from fastnn import optim

# every rule with the options that change its code path
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("AdaGrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
    ("AdaDelta", dict(lr=1.0, rho=0.9, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.5))),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CONFIGS)]


def quadratic(seed=0, n=40):
    """f(p) = 1/2 ||A p - b||^2: a gradient that depends on where the rule has moved p."""
    rng = np.random.default_rng(seed)
    A, b = rng.standard_normal((60, n)), rng.standard_normal(60)
    return rng.standard_normal(n), lambda p: A.T @ (A @ p - b)


@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=IDS)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_fused_rule_matches_numpy_rule(name, kwargs, dtype, rtol):
    p0, gradient = quadratic()
    fused, reference = getattr(optim, name)(**kwargs), getattr(optim, name)(**kwargs)
    p_fused, p_ref = p0.astype(dtype), p0.astype(dtype)
    for _ in range(30):
        fused.step(p_fused, gradient(p_fused).astype(dtype), compiled=True)
        reference.step(p_ref, gradient(p_ref).astype(dtype), compiled=False)
        np.testing.assert_allclose(p_fused, p_ref, rtol=rtol, atol=rtol * 1e-3)
    assert p_fused.dtype == dtype and fused.state.dtype == dtype
    np.testing.assert_allclose(fused.state, reference.state, rtol=rtol, atol=rtol * 1e-3)


@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=IDS)
def test_rule_matches_torch_optim(name, kwargs):
    torch = pytest.importorskip("torch")
    p0, gradient = quadratic(seed=1)
    ours = getattr(optim, name)(**kwargs)
    torch_name = {"AdaGrad": "Adagrad", "AdaDelta": "Adadelta"}.get(name, name)
    tensor = torch.tensor(p0.copy(), requires_grad=True)
    theirs = getattr(torch.optim, torch_name)([tensor], **kwargs)
    p = p0.copy()
    for _ in range(25):
        ours.step(p, gradient(p))
        tensor.grad = torch.tensor(gradient(tensor.detach().numpy()))
        theirs.step()
    np.testing.assert_allclose(p, tensor.detach().numpy(), rtol=1e-10, atol=1e-12)


XOR_X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=float)



def every_optimizer(sgd_lr):
    return [
        optim.SGD(lr=sgd_lr, momentum=0.9), optim.AdaGrad(lr=0.3), optim.AdaDelta(lr=10.0),
        optim.RMSprop(lr=0.01), optim.Adam(lr=0.05), optim.AdamW(lr=0.05), optim.Rprop(lr=0.05),
        optim.LBFGS(), optim.BFGS(), optim.Annealing(cycles=50, step=0.5),
        optim.AWSGD(step=optim.Adam(lr=0.1)),
    ]


@pytest.mark.parametrize("optimizer", every_optimizer(sgd_lr=1.0), ids=lambda o: type(o).__name__)
def test_every_optimizer_learns_xor(backend, optimizer):
    """Seed 004's set: each optimizer lowers the cost well below its start."""
    net = fnn.Network([3, 6, 1], backend=backend, seed=3)
    start = net.cost(XOR_X, XOR_Y)
    history = net.fit(XOR_X, XOR_Y, optimizer=optimizer, epochs=150, batch_size=None, seed=0)
    assert net.cost(XOR_X, XOR_Y) < 0.5 * start
    assert history.epochs >= 1 and np.isfinite(history.loss).all()


@pytest.mark.parametrize("optimizer", every_optimizer(sgd_lr=0.3), ids=lambda o: type(o).__name__)
def test_every_optimizer_fits_a_regression(optimizer):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (80, 2))
    Y = (np.sin(2 * X[:, :1]) + 0.5 * X[:, 1:] ** 2)
    net = fnn.Network([2, 8, 1], activation="tanh", output="identity", seed=1)
    start = net.cost(X, Y)
    net.fit(X, Y, optimizer=optimizer, epochs=150, batch_size=20, seed=0)
    assert net.cost(X, Y) < 0.5 * start


@pytest.mark.parametrize("factory, message", [
    (lambda: optim.SGD(lr=-0.1), "lr must be >= 0"),
    (lambda: optim.SGD(lr=0.1, nesterov=True), "nesterov needs momentum"),
    (lambda: optim.SGD(lr=0.1, momentum=-1), "momentum"),
    (lambda: optim.Adam(betas=(1.0, 0.999)), "beta1 must be < 1"),
    (lambda: optim.Adam(betas=(0.9, -0.1)), "beta2 must be >= 0"),
    (lambda: optim.Adam(betas=0.9), "pair"),
    (lambda: optim.Adam(eps=-1e-8), "eps"),
    (lambda: optim.AdamW(weight_decay=float("nan")), "weight_decay"),
    (lambda: optim.RMSprop(alpha=1.5), "alpha"),
    (lambda: optim.AdaDelta(rho=2), "rho"),
    (lambda: optim.Rprop(etas=(1.5, 1.2)), "etaminus"),
    (lambda: optim.Rprop(etas=(0.5, 0.9)), "etaplus"),
    (lambda: optim.LBFGS(max_iter=0), "max_iter"),
    (lambda: optim.Annealing(start_temperature=1, stop_temperature=2), "stop_temperature"),
    (lambda: optim.AWSGD(step=optim.LBFGS()), "first-order"),
    (lambda: optim.get_optimizer("newton"), "unknown optimizer"),
])
def test_bad_hyper_parameters(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


def test_state_dict_resumes_exactly():
    p0, gradient = quadratic(seed=2)
    straight, first = optim.Adam(lr=0.01, amsgrad=True), optim.Adam(lr=0.01, amsgrad=True)
    p_straight, p_split = p0.copy(), p0.copy()
    for _ in range(10):
        straight.step(p_straight, gradient(p_straight))
    for _ in range(5):
        first.step(p_split, gradient(p_split))
    resumed = optim.Adam()
    resumed.load_state_dict(first.state_dict())
    for _ in range(5):
        resumed.step(p_split, gradient(p_split))
    np.testing.assert_array_equal(p_split, p_straight)
    assert resumed.hyper_parameters() == straight.hyper_parameters()


def test_optimizer_names_give_default_instances():
    for name, cls in optim.OPTIMIZERS.items():
        assert type(optim.get_optimizer(name)) is cls
    assert "lr=0.001" in repr(optim.get_optimizer("adam"))
