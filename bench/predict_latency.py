"""Prediction as a service sees it: one call on a few rows, and one call on many, for the
digits-sized 64-64-10 relu/softmax network, every contender holding the same weights,
interleaved in one process (A B C ... A B C ...), pinned to one core and one thread.

    python bench/predict_latency.py [--dtype float32] [--rounds 7] [--threads 4]

Contenders: fastnn's Network.predict (and with out=), its bare compiled forward call (no
checks: the floor of what predict can cost), hand-written NumPy, PyTorch under no_grad,
ONNX Runtime on fastnn's own export, scikit-learn's predict_proba (net.to_sklearn()); the
ones not installed are left out and named. Prints a markdown table of the median time per
call and each contender's time over fastnn's; for 10,000 rows also the GEMM floor (the two
products alone, through NumPy) and fastnn's share of it. --threads N also times N Python
threads predicting 10,000-row blocks on one shared network (the GIL is released in the
kernels), against one thread.
"""
import argparse
import importlib.util
import os
import statistics
import tempfile
import threading
import time

import numpy as np
from threadpoolctl import threadpool_limits

import fastnn as fnn
from fastnn.benchmark import pin


def installed(module):
    return importlib.util.find_spec(module) is not None


def contenders(net, dtype, rows):
    """name -> a call predicting `rows` rows, each returning the output probabilities."""
    X = np.random.default_rng(0).random((rows, 64)).astype(dtype)
    out = np.empty((rows, 10), dtype)
    W0, W1 = (W.copy() for W in net.weights)
    b0, b1 = (b.copy() for b in net.biases)
    backend = net._backend
    workspace = backend._workspace(rows)

    def numpy_forward():
        h = X @ W0
        h += b0
        np.maximum(h, 0, out=h)
        z = h @ W1
        z += b1
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    calls = {"fastnn predict": lambda: net.predict(X),
             "fastnn predict(out=)": lambda: net.predict(X, out=out),
             "fastnn bare kernel": lambda: backend.kernels.forward(backend.plan, backend.params, X,
                                                                   workspace, 1),
             "NumPy": numpy_forward}
    if installed("torch"):
        import torch

        torch.set_num_threads(1)
        model, tX = net.to_torch().eval(), torch.from_numpy(X)

        def torch_forward():
            with torch.no_grad():
                return model(tX)
        calls["PyTorch no_grad"] = torch_forward
    if installed("onnxruntime") and installed("onnx"):
        import onnxruntime

        import fastnn.onnx

        path = os.path.join(tempfile.mkdtemp(), "net.onnx")
        fastnn.onnx.export(net, path)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        calls["ONNX Runtime"] = lambda: session.run(None, {"X": X})
    sk = net.to_sklearn()
    calls["scikit-learn predict_proba"] = lambda: sk.predict_proba(X)
    if rows >= 1000:
        h, z = np.empty((rows, 64), dtype), np.empty((rows, 10), dtype)
        calls["GEMM floor"] = lambda: (np.matmul(X, W0, out=h), np.matmul(h, W1, out=z))
    return calls


def median_times(calls, rounds, budget=0.05):
    """Median seconds per call of each contender, rounds interleaved."""
    repeats = {}
    for name, call in calls.items():
        call()
        start = time.perf_counter()
        count = 0
        while time.perf_counter() - start < budget / 5:
            call()
            count += 1
        repeats[name] = max(1, int(count * 5))
    times = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(repeats[name]):
                call()
            times[name].append((time.perf_counter() - start) / repeats[name])
    return {name: statistics.median(values) for name, values in times.items()}


def threaded_rows_per_second(net, dtype, threads, seconds=1.0):
    X = np.random.default_rng(0).random((10000, 64)).astype(dtype)
    done = [0] * threads
    stop = time.perf_counter() + seconds

    def work(k):
        while time.perf_counter() < stop:
            net.predict(X, threads=1)
            done[k] += X.shape[0]

    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(done) / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    pin(max(1, args.threads))
    net = fnn.Network([64, 64, 10], activation="relu", output="softmax", loss="cross_entropy",
                      init="he_normal", dtype=args.dtype, seed=0)
    missing = [name for name in ("torch", "onnxruntime", "onnx") if not installed(name)]
    print(f"64-64-10 relu/softmax, {args.dtype}, 1 thread on {max(1, args.threads)} core(s); median of {args.rounds} "
          f"interleaved rounds" + (f"; not installed: {', '.join(missing)}" if missing else ""))
    with threadpool_limits(1):
        results = {rows: median_times(contenders(net, args.dtype, rows), args.rounds)
                   for rows in (1, 8, 64, 10000)}
    names = list(results[10000])
    print("\n| contender | " + " | ".join(f"{r:,} row{'s' if r > 1 else ''}" for r in results) + " |")
    print("| --- |" + " --- |" * len(results))
    for name in names:
        cells = []
        for rows, timing in results.items():
            if name not in timing:
                cells.append("")
                continue
            value, ratio = timing[name], timing[name] / timing["fastnn predict"]
            shown = f"{value * 1e6:.2f} us" if value < 1e-3 else f"{value * 1e3:.3f} ms"
            cells.append(f"{shown} ({ratio:.2f}x)")
        print(f"| {name} | " + " | ".join(cells) + " |")
    big = results[10000]
    print(f"\n10,000 rows: fastnn predict at {big['GEMM floor'] / big['fastnn predict']:.0%} of the "
          f"GEMM floor's speed; {big['fastnn predict'] / big['scikit-learn predict_proba']:.2f}x "
          f"scikit-learn's time. 1 row: predict {results[1]['fastnn predict'] / results[1]['fastnn bare kernel']:.2f}x "
          f"the bare kernel call.")
    if args.threads:
        with threadpool_limits(1):
            one = threaded_rows_per_second(net, args.dtype, 1)
            many = threaded_rows_per_second(net, args.dtype, args.threads)
        print(f"{args.threads} threads predicting 10,000-row blocks on one network: "
              f"{many / one:.2f}x the rows per second of one thread ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
