"""L-BFGS on data spread over a local Dask cluster against the in-memory fit.

    python bench/dask_lbfgs.py [--rows 1000000] [--iterations 5] [--workers 1 2]

A 100-32-1 tanh regression network, float32, rows x 100 standard normal inputs generated on
the workers (blocks of 50,000 rows); the in-memory fit runs on the same rows gathered to
this process, with one thread. Each worker has one thread; a fit's time includes its setup
(checking the persisted blocks), spread over its iterations. Prints the seconds per L-BFGS
iteration of each and the speed-up from the first worker count to the others; then one epoch
of Adam on mini-batches of 256 rows streamed block by block from the last cluster, against
the same epoch in memory (one thread each; the updates run in this process).
"""
import argparse
import os
import time

import numpy as np


def per_iteration(fit, iterations):
    start = time.perf_counter()
    history = fit(iterations)
    return (time.perf_counter() - start) / history.epochs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import dask.array as da
    import distributed

    import fastnn as fnn

    chunk = min(50_000, args.rows)
    X = da.random.default_rng(0).standard_normal((args.rows, 100), chunks=(chunk, 100),
                                                 dtype=np.float32)
    Y = da.sin(X[:, :1]) + X[:, 1:2] * X[:, 2:3]

    def network():
        return fnn.Network([100, 32, 1], activation="tanh", output="identity", loss="mse",
                           dtype="float32", seed=0)

    X_memory, Y_memory = da.compute(X, Y, scheduler="threads")
    in_memory = per_iteration(lambda k: network().fit(X_memory, Y_memory, optimizer="lbfgs",
                                                      epochs=k, threads=1), args.iterations)
    print(f"{args.rows:,} x 100 float32, 100-32-1 tanh, L-BFGS, {args.iterations} iterations")
    print(f"  in memory, 1 thread:     {in_memory:.3f} s per iteration")
    times = {}
    for workers in args.workers:
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            X_cluster, Y_cluster = client.persist([X, Y])  # generated on the workers, once
            network().fit(X_cluster, Y_cluster, optimizer="lbfgs", epochs=1)  # warm: imports
            times[workers] = per_iteration(lambda k: network().fit(
                X_cluster, Y_cluster, optimizer="lbfgs", epochs=k), args.iterations)
            if workers == args.workers[-1]:
                streamed = per_iteration(lambda k: network().fit(
                    X_cluster, Y_cluster, optimizer="adam", epochs=k, batch_size=256, seed=0,
                    threads=1), 1)
        print(f"  dask, {workers} worker(s):     {times[workers]:.3f} s per iteration "
              f"({in_memory / times[workers]:.2f}x the in-memory fit)")
    epoch = per_iteration(lambda k: network().fit(X_memory, Y_memory, optimizer="adam", epochs=k,
                                                  batch_size=256, seed=0, threads=1), 1)
    print(f"  Adam, batch 256, one epoch: in memory {epoch:.2f} s, streamed from "
          f"{args.workers[-1]} worker(s) {streamed:.2f} s ({epoch / streamed:.2f}x)")
    first = args.workers[0]
    for workers in args.workers[1:]:
        print(f"  {first} -> {workers} workers: {times[first] / times[workers]:.2f}x")


if __name__ == "__main__":
    main()
