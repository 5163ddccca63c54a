"""Restarts on a local Dask cluster: 2 worker processes against 1, same work, same seeds.

    python bench/dask_restarts.py

Each worker has one thread and BLAS capped at one thread (fit's `threads`, default 1 in
parallel runs), so the comparison is one core against two.
"""
import time
import warnings

import numpy as np


def main():
    import distributed
    import joblib

    import fastnn as fnn

    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 32))
    Y = np.eye(4)[(X[:, :4] ** 2).argmax(axis=1)]

    def restarts(n_jobs):
        net = fnn.Network([32, 64, 64, 4], activation="relu", output="softmax",
                          loss="cross_entropy", seed=0)
        start = time.perf_counter()
        history = net.fit(X, Y, optimizer="adam", epochs=40, batch_size=64, restarts=8, seed=1,
                          n_jobs=n_jobs, valley_tol=0.0)
        return time.perf_counter() - start, net.params.copy(), history

    results = {}
    for workers in (1, 2):
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None)
        with warnings.catch_warnings(), distributed.Client(cluster):
            warnings.simplefilter("ignore")
            with joblib.parallel_config(backend="dask"):
                restarts(-1)  # warm-up: workers import fastnn
                runs = [restarts(-1) for _ in range(3)]
                results[workers] = (min(run[0] for run in runs), runs[0][1])
        cluster.close()
    one, two = results[1][0], results[2][0]
    same = np.array_equal(results[1][1], results[2][1])
    print(f"8 restarts x 40 epochs, 4000 x 32, 32-64-64-4: 1 worker {one:.2f} s, 2 workers "
          f"{two:.2f} s, speed-up {one / two:.2f}x; same weights: {same}")


if __name__ == "__main__":
    main()
