"""The contenders of `fastnn bench`: for each workload, the same training written the way each
library's users write it. Each function runs inside that contender's own worker process
(see fastnn.benchmark) and returns a callable doing one timed unit of work.

    fastnn        Network.fit, compiled kernels, threads=N
    numpy         Network.fit on the NumPy backend (the baseline: the same maths in NumPy)
    scikit-learn  sklearn.neural_network.MLPClassifier (small, medium)
    pytorch       torch.nn.Sequential + torch.optim, a Python loop over batches
    jax           a jitted train step (value_and_grad + Adam) in a Python loop over batches;
                  tiny: the whole run as one jitted fori_loop, JAX's fastest form

Every contender of a workload gets the same data (same seed), sizes, dtype and initial
weights where the library lets us set them (tiny: seed 004's).
"""
import numpy as np

MEDIUM_LAYERS = (784, 256, 128, 10)
XOR_X = [[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]]
XOR_Y = [[0], [1], [1], [0]]


def tiny_steps(quick):
    return 2_000 if quick else 10_000


def small_epochs(quick):
    return 5 if quick else 20


def medium_rows(quick):
    return 3_200 if quick else 60_000


def large_layers(quick):
    width = 2048 if quick else 4096
    return (width, width, width, 10), (512 if quick else 1024)


def seed_004_weights():
    """iamtrask's starting weights: np.random.seed(1), then syn0 (3 x 4) and syn1 (4 x 1)."""
    rs = np.random.RandomState(1)
    return 2 * rs.random_sample((3, 4)) - 1, 2 * rs.random_sample((4, 1)) - 1


def classification(layers, rows, dtype, seed=0):
    """Standard normal inputs, uniform class labels and their one-hot rows."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, layers[0])).astype(dtype)
    y = rng.integers(0, layers[-1], rows)
    return X, y, np.eye(layers[-1], dtype=dtype)[y]


def digits(dtype):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = (X[:1347] / 16).astype(dtype), y[:1347]
    return X, y, np.eye(10, dtype=dtype)[y]


def problem(workload, dtype, quick):
    """(X, y, Y, layers, work units per call, unit) of a training workload."""
    if workload == "small":
        X, y, Y = digits(dtype)
        return X, y, Y, (64, 64, 10), small_epochs(quick) * len(X), "samples"
    X, y, Y = classification(MEDIUM_LAYERS, medium_rows(quick), dtype)
    return X, y, Y, MEDIUM_LAYERS, len(X), "samples"


def epochs_of(workload, quick):
    return small_epochs(quick) if workload == "small" else 1


# -- fastnn and its NumPy backend ------------------------------------------------------------

def fastnn(workload, dtype, batch, quick, threads, backend="cython"):
    import fastnn as fnn

    if workload == "tiny":
        X, Y = np.array(XOR_X, dtype), np.array(XOR_Y, dtype)
        steps = tiny_steps(quick)
        start = seed_004_weights()

        def run():
            net = fnn.Network([3, 4, 1], bias=False, dtype=dtype, backend=backend)
            for W, W0 in zip(net.weights, start):
                W[...] = W0
            net.fit(X, Y, optimizer=fnn.optim.SGD(lr=4.0), epochs=steps, batch_size=None,
                    threads=threads)
        return run
    if workload == "large":
        layers, rows = large_layers(quick)
        X, _, Y = classification(layers, rows, dtype)
        net = fnn.Network(layers, activation="relu", output="softmax", loss="cross_entropy",
                          dtype=dtype, backend=backend, seed=0)
        grad = np.empty_like(net.params)
        return lambda: net._backend.backward(X, Y, 0.0, grad, threads=threads)
    X, _, Y, layers, _, _ = problem(workload, dtype, quick)
    epochs = epochs_of(workload, quick)

    def run():
        net = fnn.Network(list(layers), activation="relu", output="softmax", loss="cross_entropy",
                          dtype=dtype, backend=backend, seed=0)
        net.fit(X, Y, optimizer=fnn.optim.Adam(lr=1e-3), epochs=epochs, batch_size=batch, seed=0,
                threads=threads)
    return run


def numpy(workload, dtype, batch, quick, threads):
    return fastnn(workload, dtype, batch, quick, threads, backend="numpy")


# -- scikit-learn ----------------------------------------------------------------------------

def scikit_learn(workload, dtype, batch, quick, threads):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    if workload not in ("small", "medium"):
        return None
    X, y, _, layers, _, _ = problem(workload, dtype, quick)
    epochs = epochs_of(workload, quick)

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            MLPClassifier(hidden_layer_sizes=layers[1:-1], batch_size=batch, max_iter=epochs,
                          tol=0.0, n_iter_no_change=10 ** 9, random_state=0).fit(X, y)
    return run


# -- PyTorch ---------------------------------------------------------------------------------

def pytorch(workload, dtype, batch, quick, threads):
    import torch

    torch_dtype = getattr(torch, dtype)
    if workload == "tiny":
        X, Y = torch.tensor(XOR_X, dtype=torch_dtype), torch.tensor(XOR_Y, dtype=torch_dtype)
        start = [W.astype(dtype) for W in seed_004_weights()]
        steps = tiny_steps(quick)

        def run():
            W0, W1 = (torch.tensor(W, requires_grad=True) for W in start)
            opt = torch.optim.SGD([W0, W1], lr=4.0)
            for _ in range(steps):
                opt.zero_grad()
                (0.5 * ((torch.sigmoid(torch.sigmoid(X @ W0) @ W1) - Y) ** 2).sum() / 4).backward()
                opt.step()
        return run

    def model(layers):
        modules = []
        for n_in, n_out in zip(layers[:-1], layers[1:]):
            modules += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
        return torch.nn.Sequential(*modules[:-1]).to(torch_dtype)

    if workload == "large":
        layers, rows = large_layers(quick)
        X, y, _ = classification(layers, rows, dtype)
        net, Xt, yt = model(layers), torch.tensor(X), torch.tensor(y)

        def run():
            net.zero_grad()
            torch.nn.functional.cross_entropy(net(Xt), yt).backward()
        return run
    X, y, _, layers, _, _ = problem(workload, dtype, quick)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    epochs = epochs_of(workload, quick)

    def run():
        torch.manual_seed(0)
        net = model(layers)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        for _ in range(epochs):
            order = torch.randperm(len(Xt))
            for start in range(0, len(Xt), batch):
                rows = order[start:start + batch]
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(Xt[rows]), yt[rows]).backward()
                opt.step()
    return run


# -- JAX -------------------------------------------------------------------------------------

def jax(workload, dtype, batch, quick, threads):
    import jax
    import jax.numpy as jnp

    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    if workload == "tiny":
        X, Y = jnp.asarray(XOR_X, dtype), jnp.asarray(XOR_Y, dtype)
        steps = tiny_steps(quick)

        def loss(w):
            return 0.5 * jnp.sum((jax.nn.sigmoid(jax.nn.sigmoid(X @ w[0]) @ w[1]) - Y) ** 2) / 4

        grad = jax.grad(loss)
        train = jax.jit(lambda w: jax.lax.fori_loop(
            0, steps, lambda _, w: tuple(a - 4.0 * b for a, b in zip(w, grad(w))), w))
        start = tuple(jnp.asarray(W.astype(dtype)) for W in seed_004_weights())
        return lambda: train(start)[0].block_until_ready()
    if workload == "large":
        return None
    X, y, _, layers, _, _ = problem(workload, dtype, quick)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    epochs = epochs_of(workload, quick)

    def init(key):
        params = []
        for n_in, n_out in zip(layers[:-1], layers[1:]):
            key, sub = jax.random.split(key)
            limit = (6.0 / (n_in + n_out)) ** 0.5
            params.append((jax.random.uniform(sub, (n_in, n_out), dtype, -limit, limit),
                           jnp.zeros(n_out, dtype)))
        return params

    def loss(params, x, labels):
        a = x
        for W, b in params[:-1]:
            a = jax.nn.relu(a @ W + b)
        W, b = params[-1]
        log_p = jax.nn.log_softmax(a @ W + b)
        return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None], axis=1))

    def step(params, m, v, t, rows):
        value, g = jax.value_and_grad(loss)(params, Xj[rows], yj[rows])
        t = t + 1
        m = jax.tree.map(lambda m, g: 0.9 * m + 0.1 * g, m, g)
        v = jax.tree.map(lambda v, g: 0.999 * v + 0.001 * g * g, v, g)
        c1, c2 = 1 - 0.9 ** t, 1 - 0.999 ** t
        params = jax.tree.map(lambda p, m, v: p - 1e-3 * (m / c1) / (jnp.sqrt(v / c2) + 1e-8),
                              params, m, v)
        return params, m, v, t, value

    step = jax.jit(step, donate_argnums=(0, 1, 2))
    n = len(X)

    def run():
        params = init(jax.random.PRNGKey(0))
        m = jax.tree.map(jnp.zeros_like, params)
        v = jax.tree.map(jnp.zeros_like, params)
        t = jnp.asarray(0, dtype)
        rng = np.random.default_rng(0)
        for _ in range(epochs):
            order = rng.permutation(n)
            for start in range(0, n, batch):  # a short last batch compiles once more
                params, m, v, t, _ = step(params, m, v, t, jnp.asarray(order[start:start + batch]))
        jax.block_until_ready(params)
    return run


CONTENDERS = {"fastnn": fastnn, "numpy": numpy, "scikit-learn": scikit_learn,
              "pytorch": pytorch, "jax": jax}
#: the module each contender needs, to say which are not installed
NEEDS = {"fastnn": "fastnn", "numpy": "numpy", "scikit-learn": "sklearn", "pytorch": "torch",
         "jax": "jax"}
