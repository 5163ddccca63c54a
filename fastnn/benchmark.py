"""`fastnn bench`: the four workloads of the benchmarking guide, every contender timed in
one process, interleaved (A B C A B C ...) after a warm-up, medians reported.

Contenders: fastnn (compiled), the NumPy backend (the baseline every ratio refers to), and,
when installed, scikit-learn's MLPClassifier, PyTorch on the CPU and JAX (jit). All get the
same data, sizes, dtype and BLAS thread count (threadpoolctl; torch.set_num_threads).
"""
import json
import os
import platform
import statistics
import time

import numpy as np

from .network import Network
from .optim import SGD, Adam


def _median_times(contenders, rounds):
    """Median seconds of each callable, run interleaved after one warm-up call each."""
    for run in contenders.values():
        run()
    times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def _optional(name):
    try:
        return __import__(name)
    except ImportError:
        return None


# -- workloads: each returns {contender: callable} and the units of work one call does ------

def _tiny(quick, dtype):
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=dtype)
    Y = np.array([[0], [1], [1], [0]], dtype=dtype)
    steps = 2_000 if quick else 10_000

    def fastnn_run(backend):
        def run():
            net = Network([3, 4, 1], bias=False, init="uniform", seed=np.random.RandomState(1),
                          dtype=dtype, backend=backend)
            net.fit(X, Y, optimizer=SGD(lr=4.0), epochs=steps, batch_size=None, threads=1)
        return run

    contenders = {"fastnn": fastnn_run("cython"), "numpy": fastnn_run("numpy")}
    start_weights = [W.astype(dtype) for W in _seed_004_weights()]
    torch = _optional("torch")
    if torch is not None:
        Xt, Yt = torch.tensor(X), torch.tensor(Y)

        def torch_run():
            W0, W1 = (torch.tensor(W, requires_grad=True) for W in start_weights)
            opt = torch.optim.SGD([W0, W1], lr=4.0)
            for _ in range(steps):
                opt.zero_grad()
                (0.5 * ((torch.sigmoid(torch.sigmoid(Xt @ W0) @ W1) - Yt) ** 2).sum() / 4).backward()
                opt.step()
        contenders["pytorch"] = torch_run
    jax = _optional("jax")
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
        jnp = jax.numpy
        Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

        def loss(w):
            return 0.5 * jnp.sum((jax.nn.sigmoid(jax.nn.sigmoid(Xj @ w[0]) @ w[1]) - Yj) ** 2) / 4

        grad = jax.grad(loss)
        train = jax.jit(lambda w: jax.lax.fori_loop(
            0, steps, lambda _, w: tuple(a - 4.0 * b for a, b in zip(w, grad(w))), w))
        start = tuple(jnp.asarray(W) for W in start_weights)
        contenders["jax"] = lambda: train(start)[0].block_until_ready()
    return contenders, steps, "steps"


def _seed_004_weights():
    """iamtrask's starting weights: np.random.seed(1), then syn0 (3 x 4) and syn1 (4 x 1)."""
    rs = np.random.RandomState(1)
    return 2 * rs.random_sample((3, 4)) - 1, 2 * rs.random_sample((4, 1)) - 1


def _classification(layers, rows, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, layers[0])).astype(dtype)
    y = rng.integers(0, layers[-1], rows)
    return X, y, np.eye(layers[-1], dtype=dtype)[y]


def _training_contenders(X, y, Y, layers, batch_size, epochs, dtype):
    def fastnn_run(backend):
        def run():
            net = Network(layers, activation="relu", output="softmax", loss="cross_entropy",
                          dtype=dtype, backend=backend, seed=0)
            net.fit(X, Y, optimizer=Adam(lr=1e-3), epochs=epochs, batch_size=batch_size, seed=0)
        return run

    contenders = {"fastnn": fastnn_run("cython"), "numpy": fastnn_run("numpy")}
    if _optional("sklearn") is not None:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        def sklearn_run():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                MLPClassifier(hidden_layer_sizes=layers[1:-1], batch_size=batch_size, max_iter=epochs,
                              tol=0.0, n_iter_no_change=10 ** 9, random_state=0).fit(X, y)
        contenders["scikit-learn"] = sklearn_run
    torch = _optional("torch")
    if torch is not None:
        Xt, yt = torch.tensor(X), torch.tensor(y)

        def torch_run():
            torch.manual_seed(0)
            modules = []
            for n_in, n_out in zip(layers[:-1], layers[1:]):
                modules += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
            model = torch.nn.Sequential(*modules[:-1]).to(getattr(torch, dtype))
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            for _ in range(epochs):
                order = torch.randperm(len(Xt))
                for start in range(0, len(Xt), batch_size):
                    rows = order[start:start + batch_size]
                    opt.zero_grad()
                    torch.nn.functional.cross_entropy(model(Xt[rows]), yt[rows]).backward()
                    opt.step()
        contenders["pytorch"] = torch_run
    return contenders


def _small(quick, dtype):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = (X[:1347] / 16).astype(dtype), y[:1347]
    epochs = 5 if quick else 20
    return (_training_contenders(X, y, np.eye(10, dtype=dtype)[y], [64, 64, 10], 200, epochs, dtype),
            epochs * len(X), "samples")


def _medium(quick, dtype, batch_size=32):
    layers = [784, 256, 128, 10]
    rows = 3_200 if quick else 60_000
    X, y, Y = _classification(layers, rows, dtype)
    return _training_contenders(X, y, Y, layers, batch_size, 1, dtype), rows, "samples"


def _large(quick, dtype):
    width, batch = (2048, 512) if quick else (4096, 1024)
    layers = [width, width, width, 10]
    X, y, Y = _classification(layers, batch, dtype)
    nets = {name: Network(layers, activation="relu", output="softmax", loss="cross_entropy",
                          dtype=dtype, backend=backend, seed=0)
            for name, backend in (("fastnn", "cython"), ("numpy", "numpy"))}
    grads = {name: np.empty_like(net.params) for name, net in nets.items()}
    contenders = {name: (lambda n=net, g=grads[name]: n._backend.backward(X, Y, 0.0, g))
                  for name, net in nets.items()}
    torch = _optional("torch")
    if torch is not None:
        modules = []
        for n_in, n_out in zip(layers[:-1], layers[1:]):
            modules += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
        model = torch.nn.Sequential(*modules[:-1]).to(getattr(torch, dtype))
        Xt, yt = torch.tensor(X), torch.tensor(y)

        def torch_run():
            model.zero_grad()
            torch.nn.functional.cross_entropy(model(Xt), yt).backward()
        contenders["pytorch"] = torch_run
    contenders["gemm floor"] = gemm_floor(nets["numpy"].weights, X)
    return contenders, batch, "samples"


def gemm_floor(weights, X):
    """A callable doing only the layer GEMMs of one forward + backward pass over X: forward,
    weight gradient, and input gradient of every layer but the first."""
    weights = [np.ascontiguousarray(W) for W in weights]
    outputs = [np.empty((X.shape[0], W.shape[1]), X.dtype) for W in weights]

    def run():
        a = X
        for l, W in enumerate(weights):
            np.matmul(a, W, out=outputs[l])
            a.T @ outputs[l]
            if l > 0:
                outputs[l] @ W.T
            a = outputs[l]
    return run


WORKLOADS = {"tiny": (_tiny, ("float64",)), "small": (_small, ("float32", "float64")),
             "medium": (_medium, ("float32", "float64")), "large": (_large, ("float32",))}


def environment(threads):
    """Machine, library versions and BLAS as threadpoolctl sees them."""
    import scipy.linalg  # noqa: F401  (so scipy's BLAS is listed too)
    from threadpoolctl import threadpool_info, threadpool_limits

    from . import __version__
    with threadpool_limits(limits=threads):  # report the thread counts the run uses
        blas = [info for info in threadpool_info() if info.get("user_api") == "blas"]
    versions = {"fastnn": __version__, "numpy": np.__version__}
    for name in ("scipy", "sklearn", "torch", "jax"):
        module = _optional(name)
        if module is not None:
            versions[name] = module.__version__
    return {"machine": platform.machine(), "processor": platform.processor() or platform.platform(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "versions": versions, "threads": threads,
            "blas": [{k: info.get(k) for k in ("internal_api", "version", "architecture",
                                                 "num_threads", "filepath")}
                     for info in blas]}


def run(quick=False, threads=None, workloads=None, log=print):
    """Time every workload; returns a list of result rows (dicts)."""
    import scipy.linalg  # noqa: F401  (load scipy's BLAS so the thread limit reaches it)
    from threadpoolctl import threadpool_limits

    torch = _optional("torch")
    rounds = 3 if quick else 5
    rows = []
    with threadpool_limits(limits=threads):
        if torch is not None and threads is not None:
            torch.set_num_threads(threads)
        for name in workloads or WORKLOADS:
            build, dtypes = WORKLOADS[name]
            for dtype in dtypes:
                contenders, work, unit = build(quick, dtype)
                log(f"  {name} {dtype}: {', '.join(contenders)}")
                times = _median_times(contenders, rounds)
                baseline = times["numpy"]
                for contender, seconds in times.items():
                    if contender == "gemm floor":
                        continue
                    row = {"workload": name, "dtype": dtype, "contender": contender,
                           "seconds": seconds, "speedup_vs_numpy": baseline / seconds}
                    if name == "tiny":
                        row["us_per_step"] = seconds / work * 1e6
                    else:
                        row["samples_per_s"] = work / seconds
                    if name == "large" and contender == "fastnn":
                        row["gemm_share"] = times["gemm floor"] / seconds
                    rows.append(row)
    return rows


def table(rows):
    """The results as one text table."""
    lines = [f"{'workload':<9}{'dtype':<9}{'contender':<14}{'speed':>16}{'vs numpy':>10}{'GEMM share':>12}"]
    for row in rows:
        speed = (f"{row['us_per_step']:.3f} us/step" if "us_per_step" in row
                 else f"{row['samples_per_s']:,.0f} /s")
        share = f"{row['gemm_share']:.2f}" if "gemm_share" in row else ""
        lines.append(f"{row['workload']:<9}{row['dtype']:<9}{row['contender']:<14}{speed:>16}"
                     f"{row['speedup_vs_numpy']:>9.2f}x{share:>12}")
    return "\n".join(lines)


def write_json(path, rows, threads, quick):
    document = {"environment": environment(threads), "quick": quick, "results": rows}
    with open(path, "w") as handle:
        json.dump(document, handle, indent=2)


def plot(path, rows):
    """A bar chart of each contender's speed-up over the NumPy backend."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("--plot needs matplotlib: pip install 'fastnn[plot]'") from None
    groups = sorted({(r["workload"], r["dtype"]) for r in rows},
                    key=lambda group: (list(WORKLOADS).index(group[0]), group[1]))
    contenders = sorted({r["contender"] for r in rows})
    figure, axes = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(contenders)
    for k, contender in enumerate(contenders):
        values = [next((r["speedup_vs_numpy"] for r in rows if (r["workload"], r["dtype"]) == g
                        and r["contender"] == contender), 0) for g in groups]
        axes.bar(np.arange(len(groups)) + k * width, values, width, label=contender)
    axes.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, [f"{w}\n{d}" for w, d in groups])
    axes.set_ylabel("speed-up over the NumPy backend")
    axes.set_yscale("log")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
