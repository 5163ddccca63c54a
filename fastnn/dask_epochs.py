"""Epochs of a first-order rule over data held on a Dask cluster (fastnn/dask_blocks.py),
run by fastnn.training.run_first_order in place of its in-memory EpochRunner.

Full batch (batch_size None or >= n): EpochRunner's Python epochs, each step on the loss and
gradient summed over the blocks on the workers (DaskBlocks.loss_and_gradient) and the update
on the client by the compiled step: equal to the in-memory fit up to the summation order of
the blocks, bit for bit with a single block.

Mini-batches: each epoch streams the blocks to the client one at a time (the next one is
fetched while the current one trains) and trains on them with the in-memory EpochRunner.
The epoch's row order is drawn from the fit's generator: with shuffle, a permutation of the
blocks, then for each block in that order a permutation of its rows; without, the data's
order. Consecutive batches of that order are the steps, a batch spanning two blocks where a
block's rows do not fill it (the rows left over wait for the next block), so the model is
the in-memory fit's over the same row order, bit for bit (the weights; an epoch's loss, the
mean of its batches' losses, is summed block by block, to rounding). The client holds the block in
training (copied into the epoch's row order) and the next one arriving, never the data
set, so data larger than its memory train.
"""
import concurrent.futures

import numpy as np

from ._clip_average import average_weights
from .training import EpochRunner, Epochs

_NEVER = 1 << 62


def cluster_runner(net, optimizer, blocks, rows, weight_decay, **options):
    """The runner of run_first_order for DaskBlocks: full batch (rows >= n) or streamed."""
    if rows >= blocks.shape[0]:
        return ClusterFullBatch(net, optimizer, blocks, weight_decay, **options)
    return StreamedEpochs(net, optimizer, blocks, rows, weight_decay, **options)


class ClusterFullBatch(EpochRunner):
    """EpochRunner's Python epochs, each step's loss and gradient summed over the blocks on
    the workers (no dropout: fit refuses it for full batches on dask arrays)."""

    def __init__(self, net, optimizer, blocks, weight_decay, **options):
        super().__init__(net, optimizer, blocks, None, blocks.shape[0], weight_decay,
                         compiled=False, **options)

    def _batch_loss(self, batch):
        J, self.grad[...] = self.X.loss_and_gradient(self.net, self.net.params,
                                                     self.weight_decay)
        return J, self.X.shape[0]


class StreamedEpochs:
    """EpochRunner's interface (orders, run, best, best_loss) for mini-batches streamed
    from DaskBlocks; the in-memory runner trains each block's rows."""

    def __init__(self, net, optimizer, blocks, rows, weight_decay, threads=None, min_delta=0.0,
                 interruptible=False, clip_value=None, clip_norm=None, averager=None,
                 dropout_seed=None):
        self.net, self.blocks, self.rows = net, blocks, rows
        self.min_delta, self.averager, self.interruptible = min_delta, averager, interruptible
        self.best, self.best_loss = np.empty_like(net.params), float("inf")
        # its buffers sized for one batch; the epochs' best is judged here
        self.inner = EpochRunner(
            net, optimizer, np.zeros((rows, net.n_inputs), net.dtype),
            np.zeros((rows, net.n_outputs), net.dtype), rows, weight_decay, threads=threads,
            interruptible=interruptible, clip_value=clip_value, clip_norm=clip_norm,
            averager=averager, dropout_seed=dropout_seed)
        self.inner.best_loss = -float("inf")

    def orders(self, rng, count, shuffle):
        """Each epoch's (block order, each block's row order or None), drawn from rng."""
        if not shuffle:
            return [(np.arange(len(self.blocks)), None)] * count
        orders = []
        for _ in range(count):
            blocks = rng.permutation(len(self.blocks))
            orders.append((blocks, [rng.permutation(self.blocks.rows[b]) for b in blocks]))
        return orders

    def run(self, orders, lrs, interrupted=None, step_lrs=None, swa_from=0):
        """As EpochRunner.run: len(lrs) epochs, in the orders drawn by orders()."""
        interrupted = [] if interrupted is None else interrupted
        losses = np.empty(len(lrs))
        best_epoch = -1
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported, not warned
            for e, lr in enumerate(lrs):
                result = self._stream(e, orders[e], lr, losses, step_lrs, interrupted)
                if result is not None:
                    result.best_epoch = best_epoch
                    return result
                if self.averager is not None and self.averager.kind == "swa" and e >= swa_from:
                    average_weights("swa", self.averager.weights, self.net.params,
                                    self.averager.count, 0.0)
                    self.averager.count += 1
                if losses[e] < self.best_loss - self.min_delta:
                    self.best_loss, best_epoch = float(losses[e]), e
                    self.best[...] = self.net.params
                if interrupted:
                    return Epochs(e + 1, losses, interrupted=True, best_epoch=best_epoch)
        return Epochs(len(lrs), losses, best_epoch=best_epoch)

    def _stream(self, e, order, lr, losses, step_lrs, interrupted):
        """One epoch of mini-batches over the blocks in `order`; an Epochs when it stops.
        Ctrl-C stops before the next block where the in-memory compiled loop stops after its
        batch (interruptible), and at the epoch's end where it finishes the epoch."""
        block_order, row_orders = order
        rows, n = self.rows, self.blocks.shape[0]
        left_X = left_Y = None  # rows of the blocks before that did not fill a batch
        total, step = 0.0, 0
        with concurrent.futures.ThreadPoolExecutor(1) as prefetch:
            coming = prefetch.submit(self.blocks.fetch, block_order[0])
            for position in range(len(block_order)):
                last = position + 1 == len(block_order)
                block = coming.result()
                if interrupted and self.interruptible:
                    return Epochs(e, losses, interrupted=True)
                rows_order = None if row_orders is None else row_orders[position]
                X, Y = _after(left_X, block[0], rows_order), _after(left_Y, block[1], rows_order)
                del block  # the raw block goes before the next one comes
                if not last:
                    coming = prefetch.submit(self.blocks.fetch, block_order[position + 1])
                ready = len(X) if last else len(X) // rows * rows
                left_X, left_Y = X[ready:].copy(), Y[ready:].copy()  # not views: X can go
                if ready == 0:
                    continue
                steps = -(-ready // rows)
                # weights the block's last update broke meet their loss at the next block's
                # first step, as in memory; only the epoch's last block has them judged
                result = self._train_rows(X[:ready], Y[:ready], lr, step_lrs, e, step, steps,
                                          last)
                del X, Y
                if result.diverged >= 0 or result.interrupted:
                    losses[e] = result.losses[0]
                    prefetch.shutdown(cancel_futures=True)
                    return Epochs(e, losses, diverged=step + result.diverged if
                                  result.diverged >= 0 else -1, interrupted=result.interrupted)
                total += result.losses[0] * ready
                step += steps
        losses[e] = total / n
        # the last block's result: the only one whose weights were judged
        return Epochs(e + 1, losses, diverged=-2) if result.diverged == -2 else None

    def _train_rows(self, X, Y, lr, step_lrs, e, first_step, steps, check_weights):
        """The in-memory runner over X, Y in their order, as one of its epochs (it lets go
        of the rows afterwards; check_weights: see EpochRunner.run)."""
        inner = self.inner
        inner.X, inner.Y = np.ascontiguousarray(X), np.ascontiguousarray(Y)
        orders = None if len(X) <= self.rows else np.arange(len(X), dtype=np.intp)[None, :]
        rates = None if step_lrs is None else \
            np.ascontiguousarray(step_lrs[e:e + 1, first_step:first_step + steps])
        try:
            return inner.run(orders, np.array([lr]), None, rates, swa_from=_NEVER,
                             check_weights=check_weights)
        finally:
            inner.X = inner.Y = None


def _after(left, block, order):
    """block's rows (in `order`, or as they are) after the rows `left`, in one new array."""
    if left is None or len(left) == 0:
        return block if order is None else block[order]
    joined = np.empty((len(left) + len(block),) + block.shape[1:], block.dtype)
    joined[:len(left)] = left
    if order is None:
        joined[len(left):] = block
    else:
        np.take(block, order, axis=0, out=joined[len(left):])
    return joined
