"""Training data held on a Dask cluster, as row blocks on the workers.

Network.fit(X, Y, ...) with X and Y dask arrays (chunked by rows only, the same row chunks)
trains one network on data spread over a running `distributed.Client`'s workers. The blocks
are checked and persisted on the workers once (block b holds X_b, Y_b and, for the
drop-ins, the sample weights w_b). Two ways to train on them:

Full batch (lbfgs, bfgs, or a first-order rule with batch_size=None), as Spark MLlib's
multilayer perceptron: each evaluation broadcasts the parameters to every worker once (not
once per block); each worker runs the compiled backward pass over its blocks and returns,
per block of m_b rows, the block's mean loss J_b and gradient g_b; the client adds

    J = sum_b (m_b / n) J_b,    grad J = sum_b (m_b / n) g_b

in block order 0, 1, 2, ... whichever worker answered first, so the result does not depend
on the cluster's timing. Weight decay is carried by block 0 at weight_decay * n / m_0, so
its share (m_0 / n) adds (weight_decay / 2) sum_l ||W_l||^2 and weight_decay * W once (to
rounding; exactly with one block). This is the in-memory J summed in another order (rows within a block, then blocks):
equal to it up to rounding, and bit for bit with a single block (its factor is 1).

Mini-batches (a first-order rule with batch_size set): see fastnn/dask_epochs.py; the
blocks come to the client one at a time (`fetch`).

A worker lost mid-fit is replaced by the cluster; its blocks are recomputed from the arrays'
graph and the evaluation in progress completes (distributed retries the tasks).
"""
import itertools
import uuid

import numpy as np

from ._validation import as_pair

_evaluations = itertools.count()
_PROCESS = uuid.uuid4().hex  # task keys unique across the processes sharing a scheduler


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


def check_chunks(X, Y, sample_weight=None):
    """Refuse, before any work is sent, arrays that are not split into the same row blocks."""
    if not is_dask_array(X) or not is_dask_array(Y):
        raise TypeError("X and Y must both be dask arrays (or both in memory); got "
                        f"{type(X).__name__} and {type(Y).__name__}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (rows x features); got a {X.ndim}-D dask array")
    if Y.ndim not in (1, 2):
        raise ValueError(f"Y must be 1-D or 2-D; got a {Y.ndim}-D dask array")
    named = [("X", X), ("Y", Y)] + ([] if sample_weight is None else
                                    [("sample_weight", sample_weight)])
    for name, array in named:
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
    for name, array in named[1:]:
        if X.chunks[0] != array.chunks[0]:
            raise ValueError(f"X and {name} must have the same row chunks; X has {X.chunks[0]}, "
                             f"{name} has {array.chunks[0]}: rechunk one like the other "
                             f"({name}.rechunk({{0: X.chunks[0]}}))")
    if sample_weight is not None and sample_weight.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D; got a {sample_weight.ndim}-D dask array")


def _checked_block(X, Y, w, weight_scale, dtype, n_inputs, n_outputs, loss):
    """One row block as the in-memory fit would check and convert it (on a worker), its
    sample weights w times weight_scale."""
    X, Y = as_pair(X, Y, dtype, n_inputs, n_outputs, loss)
    if w is not None:
        w = np.ascontiguousarray(w, dtype=dtype) * weight_scale
    return X, Y, w


def _received(block):
    return None


def _block_loss(net, block, params, weight_decay):
    """(J_b, g_b): the block's mean loss and its gradient, in the network's dtype."""
    X, Y, w = block
    grad = np.empty(net.n_params, net.dtype)
    J = net._backend.backward(X, Y, weight_decay, grad, w, params=params, threads=1)
    return J, grad


class DaskBlocks:
    """A fit's training data, checked and persisted on the cluster's workers as row blocks.
    `loss_and_gradient` sums the full-batch loss over them, `objective` wraps it for scipy,
    `fetch` brings one block to the client. sample_weight (a dask array with X's row chunks,
    for the drop-ins) is scaled to mean 1 on the workers, w_i n / sum_j w_j with `weight_sum`
    = sum_j w_j (n without weights), so that the blocks' J is (1 / sum w) sum_i w_i L_i, as
    the drop-ins weigh rows in memory. The workers free the blocks when this object goes
    (distributed releases a future's data with its last reference)."""

    def __init__(self, net, X, Y, sample_weight=None):
        check_chunks(X, Y, sample_weight)
        if X.shape[1] != net.n_inputs:
            raise ValueError(f"X has {X.shape[1]} columns but the network takes {net.n_inputs} "
                             f"inputs")
        self.shape = (X.shape[0], X.shape[1])
        self.rows = np.asarray(X.chunks[0], dtype=np.intp)
        self.weight_sum, weights = float(self.shape[0]), [None] * len(self.rows)
        if sample_weight is not None:
            if sample_weight.dtype.kind not in "biuf":
                raise TypeError(f"sample_weight must hold real numbers; got dtype "
                                f"{sample_weight.dtype}")
            self.weight_sum = float(sample_weight.astype(net.dtype).sum().compute())
            if not np.isfinite(self.weight_sum) or self.weight_sum <= 0:
                raise ValueError(f"sample_weight must be finite with a positive sum; its sum "
                                 f"is {self.weight_sum}")
            weights = sample_weight.to_delayed().ravel()
        self.client = _client()
        import dask

        check = dask.delayed(_checked_block, pure=True)
        scale = self.shape[0] / self.weight_sum
        blocks = [check(x, y, w, scale, net.dtype, net.n_inputs, net.n_outputs, net.loss)
                  for x, y, w in zip(X.to_delayed().ravel(), Y.to_delayed().ravel(), weights)]
        self.blocks = self.client.compute(blocks)
        self.client.gather(self.client.map(_received, self.blocks))  # a block's error, now
        self.net = self._broadcast(net.copy(), net.params.nbytes)

    def __len__(self):
        return len(self.blocks)

    def fetch(self, b):
        """Block b's (X_b, Y_b, w_b) on the client."""
        return self.blocks[b].result()

    def _broadcast(self, data, nbytes, attempts=3):
        """data (about nbytes) scattered to every worker. A worker dying during the
        broadcast makes the scheduler fail it (KeyError, CommClosedError) or wait on the
        dead worker: each try has a time limit (10 s, and a second per 10 MB), and the last
        one sends data to one worker, from which the others fetch it with their tasks."""
        from distributed.comm import CommClosedError

        limit = 10 + nbytes / 1e7
        for attempt in range(attempts + 1):
            try:
                return self.client.scatter(data, broadcast=attempt < attempts, timeout=limit)
            except (KeyError, CommClosedError, TimeoutError):
                if attempt == attempts:
                    raise TimeoutError(f"no worker of the cluster took the training data's "
                                       f"parameters in {attempts + 1} tries of {limit:.0f} s"
                                       ) from None

    def loss_and_gradient(self, net, params, weight_decay):
        """(J, grad) at `params` over all the blocks, J a float and grad float64, in block
        order (see the module's docstring)."""
        n, shares = self.shape[0], self.rows / self.shape[0]
        params = np.asarray(params, dtype=net.dtype)
        params = self._broadcast(params, params.nbytes)
        decays = [weight_decay * (n / self.rows[0])] + [0.0] * (len(self) - 1)
        key = f"fastnn-block-loss-{_PROCESS}-{next(_evaluations)}"
        parts = self.client.gather(self.client.map(
            _block_loss, [self.net] * len(self), self.blocks, [params] * len(self), decays,
            key=[f"{key}-{b}" for b in range(len(self))]))
        total, grad = 0.0, np.zeros(net.n_params)
        for share, (J, g) in zip(shares, parts):  # block order, whoever answered first
            total += share * J
            grad += share * g.astype(np.float64)
        return total, grad

    def objective(self, net, weight_decay):
        """fun(x) -> (J, grad) for scipy.optimize.minimize(jac=True): float64 x, J and grad."""
        return lambda x: self.loss_and_gradient(net, x, weight_decay)
