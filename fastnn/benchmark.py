"""`fastnn bench`: the four workloads of the benchmarking guide, every contender timed in the
same run, interleaved (A B C A B C ...) after a warm-up, medians reported.

The process is pinned to N cores (os.sched_setaffinity) and every contender gets exactly N
threads. Each contender runs in a worker process of its own, configured before its library
is imported (XLA reads its thread flags only then; OpenBLAS its thread count at load): the
BLAS libraries through OPENBLAS_NUM_THREADS and threadpoolctl, PyTorch through
torch.set_num_threads, JAX through XLA_FLAGS and the affinity mask, fastnn through threads=N.
The workers inherit the pinning. Only one runs at a time; the others wait on a pipe.

Contenders (fastnn/_contenders.py): fastnn, its NumPy backend (the baseline every ratio
refers to), and, when installed, scikit-learn's MLPClassifier, PyTorch on the CPU and JAX.
Each row reports the speed, the ratio to the NumPy backend, the arithmetic rate (GFLOP/s:
the layer products of a step, 2 flops per multiply-add) and its share of the machine's
GEMM peak (N times the single-core GEMM rate measured at the start of the run).
"""
import json
import multiprocessing
import os
import statistics
import time

from . import _contenders

WORKLOADS = {"tiny": ("float64",), "small": ("float32", "float64"),
             "medium": ("float32", "float64"), "large": ("float32",)}
DESCRIPTIONS = {"tiny": "3-4-1 sigmoid, full-batch SGD (seed 004's XOR)",
                "small": "digits 64-64-10 relu/softmax, Adam",
                "medium": "784-256-128-10 relu/softmax, Adam, one epoch",
                "large": "4096-4096-4096-10 relu/softmax, forward + backward"}
# worker process of each contender ("gemm floor": the large step's products alone)
WORKER_OF = {"fastnn": "fastnn", "gemm floor": "fastnn", "numpy": "numpy",
             "scikit-learn": "scikit-learn", "pytorch": "pytorch", "jax": "jax"}
PAUSE = 0.02  # seconds between timed calls, so a contender's idle threads stop spinning


def flops_per_sample(layers):
    """Training flops per sample: forward and weight-gradient products of every layer and the
    input-gradient product of every layer but the first, 2 flops per multiply-add."""
    products = [a * b for a, b in zip(layers[:-1], layers[1:])]
    return 2 * (2 * products[0] + 3 * sum(products[1:]))


def _layers(workload, quick):
    if workload == "tiny":
        return (3, 4, 1)
    if workload == "small":
        return (64, 64, 10)
    if workload == "large":
        return _contenders.large_layers(quick)[0]
    return _contenders.MEDIUM_LAYERS


def _work(workload, quick, batch):
    """(units of one timed call, unit name, samples through the network per call)."""
    if workload == "tiny":
        steps = _contenders.tiny_steps(quick)
        return steps, "steps", 4 * steps
    if workload == "small":
        n = 1347 * _contenders.small_epochs(quick)
        return n, "samples", n
    if workload == "large":
        rows = _contenders.large_layers(quick)[1]
        return rows, "samples", rows
    n = _contenders.medium_rows(quick)
    return n, "samples", n


def _batch(workload, batch):
    return {"tiny": 4, "small": 200, "large": None}.get(workload, batch)


# -- worker processes -------------------------------------------------------------------------

def _configure_threads(threads):
    """Thread settings that libraries read when they are first imported."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ["JAX_PLATFORMS"] = "cpu"
    # one thread: XLA's Eigen pool off; more: its pool sizes itself from the affinity mask
    os.environ["XLA_FLAGS"] = (f"--xla_cpu_multi_thread_eigen={'false' if threads == 1 else 'true'} "
                               f"intra_op_parallelism_threads={threads}")


def _floor(quick, dtype, threads):
    """The layer products of one large forward + backward pass alone, through the BLAS
    fastnn calls (scipy's)."""
    import numpy as np
    from scipy.linalg import blas

    layers, rows = _contenders.large_layers(quick)
    X, _, _ = _contenders.classification(layers, rows, dtype)
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((a, b)).astype(dtype) for a, b in zip(layers[:-1], layers[1:])]
    gemm = blas.sgemm if dtype == "float32" else blas.dgemm
    outputs = [np.empty((W.shape[1], rows), dtype, order="F") for W in weights]
    grads = [np.empty((W.shape[1], W.shape[0]), dtype, order="F") for W in weights]
    inputs = [np.empty((W.shape[0], rows), dtype, order="F") for W in weights]

    def run():
        a = X.T  # rows as Fortran columns: the row-major products without copies
        for l, W in enumerate(weights):
            gemm(1.0, W.T, a, c=outputs[l], overwrite_c=True)                        # forward
            gemm(1.0, outputs[l], a, trans_b=True, c=grads[l], overwrite_c=True)     # weight grad
            if l > 0:
                gemm(1.0, W, outputs[l], c=inputs[l], overwrite_c=True)              # input grad
            a = outputs[l]
    return run


def _worker(connection, worker, threads):
    """A contender's process: set threads, then build and time callables on request."""
    _configure_threads(threads)
    from threadpoolctl import threadpool_limits

    import numpy  # noqa: F401  (load the BLAS libraries so the limits reach them)
    import scipy.linalg  # noqa: F401
    limits = threadpool_limits(limits=threads)  # noqa: F841  (kept for the process's life)
    if worker == "pytorch":
        import torch
        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
    run = None
    while True:
        message = connection.recv()
        if message[0] == "stop":
            break
        if message[0] == "setup":
            _, name, workload, dtype, batch, quick = message
            try:
                run = (_floor(quick, dtype, threads) if name == "gemm floor" else
                       _contenders.CONTENDERS[name](workload, dtype, batch, quick, threads))
                if run is None:
                    connection.send(("skip", "not part of this workload"))
                    continue
                run()  # warm-up: compilation, workspaces, caches
                connection.send(("ready",))
            except Exception as exc:  # reported in the table's notes, the run goes on
                run = None
                connection.send(("error", f"{type(exc).__name__}: {exc}"))
        elif message[0] == "run":
            start = time.perf_counter()
            run()
            connection.send(("time", time.perf_counter() - start))


class _Workers:
    """One worker process per contender library, started with the spawn method (a fresh
    interpreter: nothing imported before its thread settings)."""

    def __init__(self, names, threads, log):
        context = multiprocessing.get_context("spawn")
        self.processes, self.connections = {}, {}
        for worker in sorted({WORKER_OF[name] for name in names}):
            parent, child = context.Pipe()
            process = context.Process(target=_worker, args=(child, worker, threads), daemon=True)
            process.start()
            self.processes[worker], self.connections[worker] = process, parent
        self.log = log

    def ask(self, name, *message):
        connection = self.connections[WORKER_OF[name]]
        connection.send(message)
        return connection.recv()

    def close(self):
        for worker, connection in self.connections.items():
            try:
                connection.send(("stop",))
            except OSError:
                pass
        for process in self.processes.values():
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


def installed(name):
    """Whether a contender's library can be imported (without importing it)."""
    import importlib.util
    return importlib.util.find_spec(_contenders.NEEDS.get(name, "fastnn")) is not None


def gemm_rates(dtypes):
    """Single-core GEMM rate (GFLOP/s) per dtype: the best of a few 1024^3 products through
    the BLAS fastnn calls, on one thread."""
    import numpy as np
    from scipy.linalg import blas
    from threadpoolctl import threadpool_limits

    rates = {}
    with threadpool_limits(limits=1):
        for dtype in dtypes:
            A = np.asfortranarray(np.random.default_rng(0).standard_normal((1024, 1024)), dtype)
            gemm = blas.sgemm if dtype == "float32" else blas.dgemm
            gemm(1.0, A, A)
            best = min(_timed(lambda: gemm(1.0, A, A)) for _ in range(5))
            rates[dtype] = 2 * 1024 ** 3 / best / 1e9
    return rates


def _timed(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def pin(cores):
    """Pin this process to `cores` of the cores it may use (the first ones); returns the
    previous affinity and the cores chosen."""
    available = sorted(os.sched_getaffinity(0))
    if cores is None:
        cores = len(available)
    if not 1 <= cores <= len(available):
        raise ValueError(f"--cores must lie in 1..{len(available)} (the cores this process may "
                         f"use); got {cores}")
    chosen = available[:cores]
    os.sched_setaffinity(0, chosen)
    return set(available), chosen


def run(quick=False, cores=None, workloads=None, batches=(32,), rounds=None, log=print):
    """Time every workload with the process pinned to `cores` cores (default: all it may use)
    and every contender on that many threads. Returns (result rows, environment)."""
    workloads = list(workloads or WORKLOADS)
    previous, chosen = pin(cores)
    threads = len(chosen)
    rounds = rounds or (3 if quick else 5)
    try:
        names = [n for n in ("fastnn", "numpy", "scikit-learn", "pytorch", "jax") if installed(n)]
        missing = [n for n in ("scikit-learn", "pytorch", "jax") if n not in names]
        if "large" in workloads:
            names.append("gemm floor")
        environment = environment_info(threads, chosen)
        environment["missing"] = missing
        environment["gemm_rate_gflops"] = gemm_rates(sorted({d for w in workloads for d in WORKLOADS[w]}))
        log("single-core GEMM rate: " + ", ".join(f"{d} {r:.1f} GFLOP/s"
                                                   for d, r in environment["gemm_rate_gflops"].items()))
        workers = _Workers(names, threads, log)
        try:
            rows = []
            for workload in workloads:
                for dtype in WORKLOADS[workload]:
                    for batch in (batches if workload == "medium" else (None,)):
                        rows += _time_workload(workers, names, workload, dtype, batch, quick,
                                               rounds, threads, environment, log)
        finally:
            workers.close()
    finally:
        os.sched_setaffinity(0, previous)
    return rows, environment


def _time_workload(workers, names, workload, dtype, batch, quick, rounds, threads, environment, log):
    batch = _batch(workload, batch)
    ready, notes, skipped = [], {}, []
    for name in names:
        if name == "gemm floor" and workload != "large":
            continue
        reply = workers.ask(name, "setup", name, workload, dtype, batch, quick)
        if reply[0] == "ready":
            ready.append(name)
        elif reply[0] == "error":
            notes[name] = reply[1]
        elif name != "gemm floor":
            skipped.append(name)
    label = f"{workload} {dtype}" + (f" batch {batch}" if workload == "medium" else "")
    log(f"  {label}: {', '.join(ready)}" + "".join(f"; {n} failed: {m}" for n, m in notes.items()))
    times = {name: [] for name in ready}
    for _ in range(rounds):
        for name in ready:
            time.sleep(PAUSE)
            times[name].append(workers.ask(name, "run")[1])
    medians = {name: statistics.median(values) for name, values in times.items()}
    units, unit, samples = _work(workload, quick, batch)
    flops = flops_per_sample(_layers(workload, quick)) * samples
    peak = threads * environment["gemm_rate_gflops"][dtype]
    rows = []
    for name, seconds in medians.items():
        row = {"workload": workload, "dtype": dtype, "batch": batch, "contender": name,
               "seconds": seconds, "rounds": rounds,
               "speedup_vs_numpy": medians["numpy"] / seconds if "numpy" in medians else None,
               "gflops": flops / seconds / 1e9}
        row["share_of_peak"] = row["gflops"] / peak
        if unit == "steps":
            row["us_per_step"] = seconds / units * 1e6
        else:
            row["samples_per_s"] = units / seconds
        if workload == "large" and name == "fastnn" and "gemm floor" in medians:
            row["gemm_share"] = medians["gemm floor"] / seconds
        rows.append(row)
    for name, message in notes.items():
        rows.append({"workload": workload, "dtype": dtype, "batch": batch, "contender": name,
                     "error": message})
    for name in skipped:
        rows.append({"workload": workload, "dtype": dtype, "batch": batch, "contender": name,
                     "skipped": "this workload is not written for that library"})
    return rows


def _not_run(rows):
    """'scikit-learn on tiny, large; jax on large': the contenders a workload has no code for."""
    where = {}
    for row in rows:
        if "skipped" in row and row["workload"] not in where.setdefault(row["contender"], []):
            where[row["contender"]].append(row["workload"])
    if not where:
        return ""
    return ("not run (those workloads are not written for that library, see "
            "fastnn/_contenders.py): " + "; ".join(f"{c} on {', '.join(w)}" for c, w in where.items()))


def environment_info(threads, cores):
    """Machine, library versions, kernel build, BLAS and the thread settings of the run."""
    import platform

    from .runtime import config
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for distribution in ("scipy", "scikit-learn", "threadpoolctl", "torch", "jax", "jaxlib"):
        try:
            versions[distribution] = version(distribution)
        except PackageNotFoundError:
            pass
    info = config()
    info.update(threads=threads, pinned_cores=list(cores), versions=versions,
                date=time.strftime("%Y-%m-%d"), platform=platform.platform())
    return info


# -- reports ----------------------------------------------------------------------------------

def _speed(row):
    if "us_per_step" in row:
        return f"{row['us_per_step']:.3f} us/step"
    value = row["samples_per_s"]
    return f"{value / 1e6:.2f} M samples/s" if value >= 1e6 else f"{value / 1e3:.1f} k samples/s"


def table(rows, environment=None):
    """The results as one text table, with what the columns mean underneath."""
    lines = [f"{'workload':<9}{'dtype':<9}{'batch':>6}  {'contender':<14}{'speed':>20}{'vs numpy':>10}"
             f"{'GFLOP/s':>9}{'of peak':>9}"]
    for row in rows:
        batch = "" if row["batch"] is None else str(row["batch"])
        if "skipped" in row:
            continue
        if "error" in row:
            lines.append(f"{row['workload']:<9}{row['dtype']:<9}{batch:>6}  {row['contender']:<14}"
                         f"  failed: {row['error']}")
            continue
        ratio = f"{row['speedup_vs_numpy']:.2f}x" if row["speedup_vs_numpy"] else ""
        extra = f"  GEMM share {row['gemm_share']:.2f}" if "gemm_share" in row else ""
        lines.append(f"{row['workload']:<9}{row['dtype']:<9}{batch:>6}  {row['contender']:<14}"
                     f"{_speed(row):>20}{ratio:>10}{row['gflops']:>9.1f}{row['share_of_peak']:>8.0%}"
                     f"{extra}")
    lines.append("vs numpy: speed over fastnn's NumPy backend (the same maths in plain NumPy) in "
                 "this run; GFLOP/s: the step's layer products (2 flops per multiply-add) per "
                 "second; of peak: share of the cores' GEMM rate (threads x the single-core "
                 "rate); GEMM share: the large step's products alone / the whole step.")
    if _not_run(rows):
        lines.append(_not_run(rows))
    if environment and environment.get("missing"):
        lines.append(f"not installed, so not timed: {', '.join(environment['missing'])}")
    return "\n".join(lines)


def write_json(path, rows, environment, quick):
    """Every figure with the machine, versions, kernel build, BLAS and thread settings."""
    document = {"environment": environment, "quick": quick, "results": rows}
    from .io import write_text_atomically
    write_text_atomically(path, json.dumps(document, indent=2, default=str))


def plot(path, rows, environment):
    """A bar chart of each contender's speed-up over the NumPy backend, one group per row of
    the table, values on the bars; the title names the machine, threads and date."""
    from ._plotting import pyplot, save

    plt = pyplot()
    timed = [r for r in rows if "error" not in r and "skipped" not in r
             and r["contender"] not in ("numpy", "gemm floor")]
    groups = []
    for r in timed:
        key = (r["workload"], r["dtype"], r["batch"])
        if key not in groups:
            groups.append(key)
    contenders = [c for c in ("fastnn", "scikit-learn", "pytorch", "jax")
                  if any(r["contender"] == c for r in timed)]
    figure, axes = plt.subplots(figsize=(max(7, 1.4 * len(groups) + 2), 4.5))
    width = 0.8 / max(len(contenders), 1)
    for k, contender in enumerate(contenders):
        label = contender
        for g, key in enumerate(groups):
            row = next((r for r in timed if (r["workload"], r["dtype"], r["batch"]) == key
                        and r["contender"] == contender), None)
            if row is None or not row["speedup_vs_numpy"]:
                continue
            x = g + (k - (len(contenders) - 1) / 2) * width
            axes.bar(x, row["speedup_vs_numpy"], width, color=f"C{k}", label=label)
            label = None  # one legend entry per contender
            axes.annotate(f"{row['speedup_vs_numpy']:.2g}x", (x, row["speedup_vs_numpy"]),
                          ha="center", va="bottom", fontsize=7)
    axes.set_xticks(range(len(groups)),
                    [f"{w}\n{d}" + (f"\nbatch {b}" if w == "medium" else "") for w, d, b in groups])
    axes.axhline(1.0, color="gray", linewidth=0.8)
    axes.set_ylabel("speed-up over the NumPy backend (1 = NumPy)")
    axes.set_yscale("log")
    axes.legend(fontsize=8)
    env = environment or {}
    axes.set_title(f"fastnn bench: {env.get('cpu', '?')}, {env.get('threads', '?')} thread(s), "
                   f"{env.get('date', '')}", fontsize=9)
    footnotes = [_not_run(rows)] + ([f"not installed, not timed: {', '.join(env['missing'])}"]
                                    if env.get("missing") else [])
    footnotes = [note for note in footnotes if note]
    figure.tight_layout(rect=(0, 0.025 * len(footnotes), 1, 1))
    for k, note in enumerate(footnotes):
        figure.text(0.01, 0.005 + 0.025 * k, note, fontsize=7)
    save(figure, path)
    plt.close(figure)


def gemm_floor(weights, X):
    """A callable doing only the layer GEMMs of one forward + backward pass over X: forward,
    weight gradient, and input gradient of every layer but the first (NumPy's BLAS)."""
    import numpy as np

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
