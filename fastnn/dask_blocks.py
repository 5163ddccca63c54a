"""Training data held on a Dask cluster: full-batch loss and gradient summed over its blocks.

Network.fit(X, Y, optimizer="lbfgs" or "bfgs") with X and Y dask arrays (chunked by rows
only, the same row chunks) trains one network on data spread over a running
`distributed.Client`'s workers, as Spark MLlib's multilayer perceptron does:

- the blocks are checked and persisted on the workers once (row block b holds X_b, Y_b);
- each evaluation broadcasts the parameters to every worker once (not once per block);
- each worker runs the compiled backward pass over its blocks and returns, per block, the
  sums  S_b = sum_(i in b) L_i  and  G_b = grad S_b  (no weight decay);
- the client adds them in block order 0, 1, 2, ... whichever worker answered first, so the
  result does not depend on the cluster's timing, and forms the full-batch objective

      J = (S_0 + S_1 + ...) / n + (weight_decay / 2) sum_l ||W_l||^2,
      grad J = (G_0 + G_1 + ...) / n + weight_decay W,

  the same J as the in-memory fit, summed in another order (rows within a block, then
  blocks): equal to it up to rounding, about 1e-16 relative per evaluation in float64.

A worker lost mid-fit is replaced by the cluster; its blocks are recomputed from the arrays'
graph and the evaluation in progress completes (distributed retries the tasks).
"""
import itertools

import numpy as np

from ._validation import as_pair

_evaluations = itertools.count()


def is_dask_array(X):
    return type(X).__module__.startswith("dask.") and hasattr(X, "map_blocks")


def _client():
    try:
        from distributed import get_client
    except ImportError:
        raise ImportError("training on dask arrays needs the dask extra (dask[array], "
                          "distributed)") from None
    try:
        return get_client()
    except ValueError:
        raise RuntimeError("training on dask arrays needs a running distributed.Client "
                           "(distributed.Client(...) or a LocalCluster)") from None


def check_chunks(X, Y):
    """Refuse, before any work is sent, arrays that are not split into the same row blocks."""
    if not is_dask_array(X) or not is_dask_array(Y):
        raise TypeError("X and Y must both be dask arrays (or both in memory); got "
                        f"{type(X).__name__} and {type(Y).__name__}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (rows x features); got a {X.ndim}-D dask array")
    if Y.ndim not in (1, 2):
        raise ValueError(f"Y must be 1-D or 2-D; got a {Y.ndim}-D dask array")
    for name, array in (("X", X), ("Y", Y)):
        if any(np.isnan(size) for sizes in array.chunks for size in sizes):
            raise ValueError(f"{name}'s chunk sizes are unknown: call {name}.compute_chunk_sizes() "
                             f"first")
    if len(X.chunks[1]) != 1:
        raise ValueError(f"X must be chunked by rows only (one block spans all {X.shape[1]} "
                         f"columns); its columns are split {X.chunks[1]}: use "
                         f"X.rechunk({{1: -1}})")
    if Y.ndim == 2 and len(Y.chunks[1]) != 1:
        raise ValueError(f"Y must be chunked by rows only; its columns are split {Y.chunks[1]}: "
                         f"use Y.rechunk({{1: -1}})")
    if X.chunks[0] != Y.chunks[0]:
        raise ValueError(f"X and Y must have the same row chunks; X has {X.chunks[0]}, Y has "
                         f"{Y.chunks[0]}: rechunk one like the other "
                         f"(Y.rechunk({{0: X.chunks[0]}}))")


def _checked_block(X, Y, dtype, n_inputs, n_outputs, loss):
    """One row block as the in-memory fit would check and convert it (on a worker)."""
    return as_pair(X, Y, dtype, n_inputs, n_outputs, loss)


def _received(block):
    return None


def _block_sums(net, block, params):
    """(S_b, G_b): the sum over the block's rows of the loss, and its gradient (float64)."""
    X, Y = block
    grad = np.empty(net.n_params, net.dtype)
    J = net._backend.backward(X, Y, 0.0, grad, None, params=params, threads=1)
    m = X.shape[0]
    return J * m, grad.astype(np.float64) * m


class DaskBlocks:
    """A fit's training data, checked and persisted on the cluster's workers as row blocks;
    `objective` gives scipy's fun(x) -> (J, grad) summed over them. The workers free the
    blocks when this object goes (distributed releases a future's data with its last
    reference), at the end of the fit."""

    def __init__(self, net, X, Y):
        check_chunks(X, Y)
        if X.shape[1] != net.n_inputs:
            raise ValueError(f"X has {X.shape[1]} columns but the network takes {net.n_inputs} "
                             f"inputs")
        self.client = _client()
        self.shape = (X.shape[0], X.shape[1])
        import dask

        check = dask.delayed(_checked_block, pure=True)
        blocks = [check(x, y, net.dtype, net.n_inputs, net.n_outputs, net.loss)
                  for x, y in zip(X.to_delayed().ravel(), Y.to_delayed().ravel())]
        self.blocks = self.client.compute(blocks)
        self.client.gather(self.client.map(_received, self.blocks))  # a block's error, now
        self.net = self.client.scatter(net.copy(), broadcast=True)

    def objective(self, net, weight_decay):
        """fun(x) -> (J, grad) for scipy.optimize.minimize(jac=True): float64 x, J and grad."""
        n = self.shape[0]

        def fun(x):
            params = self.client.scatter(np.asarray(x, dtype=net.dtype), broadcast=True)
            key = f"fastnn-block-sums-{next(_evaluations)}"
            parts = self.client.gather(self.client.map(
                _block_sums, [self.net] * len(self.blocks), self.blocks, [params] * len(self.blocks),
                key=[f"{key}-{b}" for b in range(len(self.blocks))]))
            total, grad = 0.0, np.zeros(net.n_params)
            for S, G in parts:  # block order, whoever answered first
                total += S
                grad += G
            total, grad = total / n, grad / n
            if weight_decay:  # biases are not decayed
                x = np.asarray(x, dtype=np.float64)
                for where in net._weight_slices:
                    total += 0.5 * weight_decay * np.dot(x[where], x[where])
                    grad[where] += weight_decay * x[where]
            return total, grad
        return fun
