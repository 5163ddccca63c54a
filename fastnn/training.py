"""Network.fit: the training loop around the optimizers.

A `Session` (session.py) does the per-epoch bookkeeping every optimizer shares; the runners
below drive the first-order rules, compiled (src_pyx/_train.pyx: whole runs of epochs per
call, GIL released) or in Python for the NumPy backend. Full-batch methods
(LBFGS, BFGS, Annealing) and AWSGD run their own loops and report to the same Session.
"""
import contextlib
import copy
import dataclasses
import numbers
import signal
import threading
import time

import numpy as np

from ._sparse import CSRRows
from ._threads import numpy_guard
from ._validation import as_matrix, as_nonnegative, as_pair
from ._clip_average import Averager, average_weights, check_clip, clip_gradient
from .dask_blocks import DaskBlocks, is_dask_array
from .history import TrainingDiverged
from .optim import FirstOrder, get_optimizer
from .optim.base import check_count
from .schedules import SCHEDULES, Schedule
from .session import Session, same_valley

# the compiled loop returns to Python about this often, for progress, Ctrl-C and timing
CHUNK_SECONDS = 0.05
# below this many multiply-adds in a layer product, NumPy's BLAS threads cost more than they give
SINGLE_THREAD_GEMM = 1 << 21


def fit(net, X, Y, optimizer="sgd", epochs=100, batch_size=32, shuffle=True, weight_decay=0.0,
        validation_data=None, validation_fraction=None, early_stopping=False, patience=10,
        min_delta=0.0, restore_best_weights=True, lr_schedule=None, callbacks=None,
        progress=False, restarts=1, seed=None, threads=None, valley_tol=1e-3, resume=False,
        n_jobs=None, clip_norm=None, clip_value=None, average=None, ema_decay=0.999,
        swa_start=None):
    """Train `net` in place; see Network.fit for the parameters. Returns a History."""
    optimizer = get_optimizer(optimizer)
    on_cluster = is_dask_array(X) or is_dask_array(Y)
    if not on_cluster:
        X, Y = as_pair(X, Y, net.dtype, net.n_inputs, net.n_outputs, net.loss)
    epochs = check_count(epochs, "epochs")
    if batch_size is not None:
        batch_size = check_count(batch_size, "batch_size")
    weight_decay = as_nonnegative(weight_decay, "weight_decay")
    patience = check_count(patience, "patience", low=1)
    min_delta = as_nonnegative(min_delta, "min_delta")
    restarts = check_count(restarts, "restarts")
    if on_cluster:
        full_batch = batch_size is None or (hasattr(X, "shape") and batch_size >= X.shape[0])
        _check_dask_fit(optimizer, restarts, validation_fraction, full_batch, any(net.dropout))
    valley_tol = as_nonnegative(valley_tol, "valley_tol")
    schedule = _check_schedule(lr_schedule)
    callbacks = _check_callbacks(callbacks)
    clip_norm, clip_value = check_clip(clip_norm, "clip_norm"), check_clip(clip_value, "clip_value")
    averager = None if average is None else Averager(average, ema_decay, swa_start, epochs,
                                                     net.n_params, net.dtype)
    _check_first_order_options(optimizer, schedule, clip_norm, clip_value, averager,
                               early_stopping and restore_best_weights, any(net.dropout))
    # the averaged weights are what the network ends with, also after Ctrl-C
    restore_best_weights = restore_best_weights and averager is None
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral)
                               or n_jobs == 0):
        raise ValueError(f"n_jobs must be None or a non-zero integer (joblib's meaning); got {n_jobs!r}")
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    stored = optimizer.validation if resume and isinstance(optimizer, FirstOrder) else None
    X, Y, validation, split = _split_validation(net, X, Y, validation_data, validation_fraction,
                                                rng, stored)
    if threads is not None:
        threads = check_count(threads, "threads")
    if on_cluster:  # after every other check: this sends the blocks to the workers
        X, Y = DaskBlocks(net, X, Y), None
    options = dict(X=X, Y=Y, validation=validation, epochs=epochs, batch_size=batch_size,
                   shuffle=shuffle, weight_decay=weight_decay, early_stopping=early_stopping,
                   patience=patience, min_delta=min_delta,
                   restore_best_weights=restore_best_weights, schedule=schedule,
                   callbacks=callbacks, valley_tol=valley_tol, split=split, clip_norm=clip_norm,
                   clip_value=clip_value, averager=averager)
    rows = X.shape[0] if batch_size is None else min(batch_size, X.shape[0])
    if restarts == 1:
        with _training_threads(threads, net, rows) as count:
            return train_once(net, optimizer, rng, [], progress=progress, resume=resume,
                              threads=count, **options)

    # seed 004's "many balls": run r starts from weights drawn with its own generator (run 0
    # from the network's own), so a run's result does not depend on where it ran
    generators = rng.spawn(restarts)
    if n_jobs is None or n_jobs == 1:
        results, valleys = [], []
        with _training_threads(threads, net, rows) as count:
            for run, generator in enumerate(generators):
                candidate = net.copy()
                if run > 0:
                    candidate.initialize(generator)
                history = train_once(candidate, optimizer, generator, valleys, progress=progress,
                                     resume=resume and run == 0, threads=count, **options)
                results.append((candidate.params.copy(), history))
                valleys.append(candidate.params.copy())
                if history.stop_reason == "interrupted":
                    break
    else:
        from joblib import Parallel, delayed

        # each worker runs one training with BLAS capped (default one thread), so parallel
        # runs do not oversubscribe the cores; the valley check is made afterwards
        results = Parallel(n_jobs=n_jobs)(
            delayed(_restart_run)(net, run, generator, optimizer, threads or 1, resume, options)
            for run, generator in enumerate(generators))
        _mark_valleys(results, valley_tol)
    summaries = [{"run": run, "best_loss": history.best_loss, "epochs": history.epochs,
                  "stop_reason": history.stop_reason, "same_valley_as": history.same_valley_as}
                 for run, (_, history) in enumerate(results)]
    best = min(range(len(results)), key=lambda run: results[run][1].best_loss)
    net.params[...] = results[best][0]
    history = results[best][1]
    history.restarts = summaries
    return history


def _restart_run(net, run, generator, optimizer, threads, resume, options):
    """One restart, for a joblib worker: (final parameters, History)."""
    net = net.copy()
    if run > 0:
        net.initialize(generator)
    rows = options["X"].shape[0] if options["batch_size"] is None else \
        min(options["batch_size"], options["X"].shape[0])
    with _training_threads(threads, net, rows) as count:
        history = train_once(net, copy.deepcopy(optimizer), generator, [], progress=False,
                             resume=resume and run == 0, threads=count, **options)
    return net.params.copy(), history


def _mark_valleys(results, valley_tol):
    """After parallel restarts: a run ending at an earlier run's point is marked as such."""
    for run in range(1, len(results)):
        params, history = results[run]
        history.same_valley_as = same_valley(params, [p for p, _ in results[:run]], valley_tol)


def train_once(net, optimizer, rng, valleys, X, Y, validation, epochs, batch_size, shuffle,
               weight_decay, early_stopping, patience, min_delta, restore_best_weights, schedule,
               callbacks, valley_tol, progress, resume, threads=None, split=None,
               clip_norm=None, clip_value=None, averager=None):
    """One training run of `net` in place; returns its History. With resume, a first-order
    optimizer's state and the schedule's state go on from where they were. With an
    averager, the network ends with the averaged weights (History.raw_params the others)."""
    if schedule is not None and not resume:
        schedule.start()
    if averager is not None:
        averager.reset()
    session = Session(net, validation, early_stopping, patience, min_delta, schedule, callbacks,
                      progress, valleys, valley_tol, epochs)
    rules = dict(clip_norm=clip_norm, clip_value=clip_value, averager=averager)
    try:
        _dispatch(net, optimizer, X, Y, session, epochs, batch_size, shuffle, weight_decay,
                  schedule, rng, resume, threads, split, rules)
        session.close(restore_best=early_stopping and restore_best_weights)
    except KeyboardInterrupt:
        session.history.stop_reason = "interrupted"
        session.close(restore_best=restore_best_weights)
    except TrainingDiverged as exc:
        session.history.stop_reason = "diverged"
        session.close(restore_best=False)
        exc.history = session.history
        raise
    if averager is not None:
        averager.apply(net, session.history)
    return session.history


def _dispatch(net, optimizer, X, Y, session, epochs, batch_size, shuffle, weight_decay, schedule,
              rng, resume, threads, split=None, rules=None):
    if isinstance(optimizer, FirstOrder):
        if not resume:
            optimizer.reset(net.n_params, net.dtype)
        optimizer.validation = split
        run_first_order(net, optimizer, X, Y, session, epochs, batch_size, shuffle, weight_decay,
                        schedule, rng, threads, **(rules or {}))
    else:
        optimizer.train(net, X, Y, session, epochs=epochs, batch_size=batch_size, shuffle=shuffle,
                        weight_decay=weight_decay, schedule=schedule, rng=rng, threads=threads)


def row_orders(rng, n, n_epochs, shuffle):
    """Each epoch's row order: a fresh permutation from rng when shuffling."""
    if shuffle:
        return np.stack([rng.permutation(n) for _ in range(n_epochs)]).astype(np.intp, copy=False)
    return np.broadcast_to(np.arange(n, dtype=np.intp), (n_epochs, n)).copy()


@dataclasses.dataclass
class Epochs:
    """What one EpochRunner.run did: epochs completed, the per-epoch losses, the step that
    diverged (-1: none; -2: the last update left NaN or infinity in the weights), whether
    Ctrl-C stopped it, and the epoch (of this run) whose loss set a new best, or -1."""
    done: int
    losses: np.ndarray
    diverged: int = -1
    interrupted: bool = False
    best_epoch: int = -1


class EpochRunner:
    """Epochs of a first-order rule over fixed training data, compiled (one call for a whole
    run of epochs, buffers allocated here once) or in Python on the NumPy backend.

    rows is the batch size (rows >= n: full batch, X and Y used in place). With
    decay_per_row, a batch of m rows uses weight_decay / m (scikit-learn's alpha). With
    sample_weight, a batch's cost is sum w_i L_i / sum w_i, and the per-row decay divides
    by sum w_i instead of m (scikit-learn's weighting). threads: the most threads the
    compiled kernels use (None: fastnn._threads' default).

    On a non-finite loss, and when the last update leaves NaN or infinity in the weights,
    the network gets back the last weights whose loss was finite. `best` holds the weights
    after the epoch with the lowest loss so far (by more than min_delta), `best_loss` that
    loss. With interruptible, Ctrl-C stops a compiled run after the batch in progress.
    Without stop_on_divergence, a non-finite loss is recorded and training goes on, non-finite
    weights too (scikit-learn's rule, for the drop-ins: they judge the weights at the end).
    clip_value, clip_norm and averager: see fastnn/_clip_average.py. compiled=False runs the
    Python epochs on a compiled network too (a subclass's _batch_loss supplies each step).
    """

    def __init__(self, net, optimizer, X, Y, rows, weight_decay, decay_per_row=False,
                 sample_weight=None, threads=None, min_delta=0.0, interruptible=False,
                 stop_on_divergence=True, clip_value=None, clip_norm=None, averager=None,
                 dropout_seed=None, compiled=None):
        self.net, self.optimizer, self.X, self.Y = net, optimizer, X, Y
        self.dropout_seed = dropout_seed
        self.clip_value, self.clip_norm, self.averager = clip_value or 0.0, clip_norm or 0.0, averager
        self.stop_on_divergence = stop_on_divergence
        self.threads, self.min_delta, self.interruptible = threads, min_delta, interruptible
        self.sample_weight = sample_weight
        self.rows = min(rows, X.shape[0])
        self.weight_batch = None if sample_weight is None else np.empty(self.rows, net.dtype)
        self.weight_decay, self.decay_per_row = weight_decay, decay_per_row
        self.grad = np.empty_like(net.params)
        self.previous = np.empty_like(net.params)  # the last weights whose loss was finite
        self.has_previous = False
        self.best, self.best_loss = np.empty_like(net.params), float("inf")
        self.compiled = net.backend == "cython" if compiled is None else compiled
        if self.compiled:
            units = net._backend.plan.n_units
            self.acts = np.empty(self.rows * units, net.dtype)
            self.deltas = np.empty(self.rows * units, net.dtype)
            self.Y_batch = np.empty((self.rows, Y.shape[1]), net.dtype)
            self.csr = {}
            if isinstance(X, CSRRows):  # sparse rows: batches gathered as CSR, never dense
                self.X_batch = np.empty((1, 1), net.dtype)
                self.csr = {"x_ptr": X.ptr, "x_idx": X.idx, "x_val": X.val,
                            "batch_ptr": np.empty(self.rows + 1, np.intp),
                            "batch_idx": np.empty_like(X.idx), "batch_val": np.empty_like(X.val)}
            else:
                self.X_batch = np.empty((self.rows, X.shape[1]), net.dtype)

    def orders(self, rng, count, shuffle):
        """The row orders of `count` epochs (for run)."""
        return row_orders(rng, self.X.shape[0], count, shuffle)

    def run(self, orders, lrs, interrupted=None, step_lrs=None, swa_from=0, check_weights=True):
        """Train len(lrs) epochs with row orders `orders` (None for full batches); returns
        Epochs. `interrupted` (a list that Ctrl-C makes truthy) stops the Python loop.
        step_lrs[e, s] (per-batch schedules) is the rate of epoch e's step s, in place of
        lrs[e]; SWA averages the weights after this call's epochs from swa_from on. Without
        check_weights, non-finite weights left by the last update are not reported (-2)
        here: the caller's next step meets their loss."""
        opt = self.optimizer
        opt._ready(self.net.params)
        losses = np.empty(len(lrs))
        averager = self.averager
        rules = dict(step_lrs=step_lrs, clip_value=self.clip_value, clip_norm=self.clip_norm,
                     dropout_seed=self.dropout_seed, check_weights=check_weights)
        if averager is not None:
            rules.update(average=averager.code, averaged=averager.weights,
                         n_averaged=averager.count, ema_decay=averager.ema_decay,
                         swa_from=swa_from)
        if self.compiled:
            backend = self.net._backend
            with backend.threads(self.rows, self.threads) as threads:
                (done, opt.t, diverged, stopped, best_epoch, self.best_loss,
                 self.has_previous, n_averaged) = backend.kernels.run_epochs(
                    backend.plan, self.net.params, None if self.csr else self.X, self.Y,
                    orders, self.rows,
                    opt.kind, opt.hyper_array(), opt.state, opt.t, lrs, self.weight_decay,
                    self.grad, self.acts, self.deltas, self.X_batch, self.Y_batch, self.previous,
                    self.has_previous, self.best, self.best_loss, self.min_delta, losses,
                    self.decay_per_row, self.sample_weight, self.weight_batch, threads,
                    self.interruptible, self.stop_on_divergence, **self.csr, **rules)
            if averager is not None:
                averager.count = n_averaged
            return Epochs(done, losses, diverged, stopped, best_epoch)
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported, not warned
            return self._python_epochs(orders, lrs, losses, interrupted or [], step_lrs, swa_from,
                                       check_weights)

    def _batch_loss(self, batch):
        """(J, m): the loss of the m rows `batch` (a slice or row indices) at the current
        weights, its gradient written to self.grad (the Python epochs' one pass per step)."""
        X = self.X.matrix if isinstance(self.X, CSRRows) else self.X
        X_batch, Y_batch = X[batch], self.Y[batch]
        m = X_batch.shape[0]
        weights, weight_sum = None, m
        if self.sample_weight is not None:
            weights = self.sample_weight[batch]
            weight_sum = weights.sum()
            weights = (weights * m / weight_sum).astype(self.net.dtype)
        decay = self.weight_decay / weight_sum if self.decay_per_row else self.weight_decay
        J = self.net._backend.backward(
            X_batch, Y_batch, decay, self.grad, sample_weight=weights,
            dropout=None if self.dropout_seed is None else (self.dropout_seed,
                                                            self.optimizer.t + 1))
        return J, m

    def _python_epochs(self, orders, lrs, losses, interrupted, step_lrs=None, swa_from=0,
                       check_weights=True):
        """The same epochs as the compiled run_epochs, in Python over the backend (the
        reference), each step's loss and gradient from _batch_loss."""
        averager = self.averager
        rows, params, n = self.rows, self.net.params, self.X.shape[0]
        result = Epochs(len(lrs), losses)
        for e, lr in enumerate(lrs):
            total = 0.0
            for step, start in enumerate(range(0, n, rows)):
                J, m = self._batch_loss(slice(None) if rows >= n else orders[e, start:start + rows])
                if self.stop_on_divergence and not np.isfinite(J):
                    losses[e] = J
                    result.done, result.diverged = e, step
                    break
                self.previous[...] = params
                self.has_previous = True
                clip_gradient(self.grad, self.clip_value, self.clip_norm)
                self.optimizer.step(params, self.grad, compiled=self.net.backend == "cython",
                                    lr=lr if step_lrs is None else step_lrs[e, step])
                if averager is not None and averager.kind == "ema":
                    average_weights("ema", averager.weights, params, averager.count,
                                    averager.ema_decay)
                    averager.count += 1
                total += J * m
                if interrupted:
                    result.done, result.interrupted = e, True
                    break
            if result.diverged >= 0 or result.interrupted:
                break
            losses[e] = total / n
            if averager is not None and averager.kind == "swa" and e >= swa_from:
                average_weights("swa", averager.weights, params, averager.count, 0.0)
                averager.count += 1
            if losses[e] < self.best_loss - self.min_delta:
                self.best_loss, result.best_epoch = float(losses[e]), e
                self.best[...] = params
        if (self.stop_on_divergence and check_weights and result.diverged < 0
                and not np.isfinite(params).all()):
            result.diverged = -2
        if result.diverged != -1 and self.has_previous:
            params[...] = self.previous
        return result


def run_first_order(net, optimizer, X, Y, session, epochs, batch_size, shuffle, weight_decay,
                    schedule, rng, threads=None, clip_norm=None, clip_value=None, averager=None):
    """Epochs of mini-batch (or full-batch) first-order training. A learning-rate schedule
    counts epochs (and steps) from the optimizer's epoch count (so a resumed run goes on
    where it was)."""
    n = X.shape[0]
    full = batch_size is None or batch_size >= n
    steps = 1 if full else -(-n // batch_size)
    lr0 = optimizer.lr
    total_steps = (optimizer.epochs + epochs) * steps  # the run's length, for per-batch schedules
    if schedule is not None and schedule.per_batch:
        schedule.check_steps(total_steps)
    # dropout masks: one seed per run from the fit's generator (drawn only with dropout, so
    # runs without it keep their row orders)
    dropout_seed = int(rng.integers(0, 2 ** 64, dtype=np.uint64)) if any(net.dropout) else None
    options = dict(threads=threads, min_delta=session.min_delta,
                   interruptible=not session.per_epoch_python, clip_value=clip_value,
                   clip_norm=clip_norm, averager=averager, dropout_seed=dropout_seed)
    if isinstance(X, DaskBlocks):
        from .dask_epochs import cluster_runner

        runner = cluster_runner(net, optimizer, X, n if full else batch_size, weight_decay,
                                **options)
    else:
        runner = EpochRunner(net, optimizer, X, Y, n if full else batch_size, weight_decay,
                             **options)
    runner.best_loss = session.history.best_loss
    epoch, chunk = 0, _first_chunk(net, n, steps)
    while epoch < epochs:
        count = 1 if session.per_epoch_python else min(chunk, epochs - epoch)
        lrs, step_lrs = _rates(schedule, lr0, optimizer.epochs, count, steps, total_steps, n)
        orders = None if full else runner.orders(rng, count, shuffle)
        started = time.perf_counter()
        with _deferred_interrupt() as interrupted:  # record the run's epochs before stopping
            result = runner.run(orders, lrs, interrupted, step_lrs,
                                averager.swa_start - epoch if averager is not None else 0)
        elapsed = time.perf_counter() - started
        done = result.done
        optimizer.epochs += done
        if session.per_epoch_python:
            if done and session.end_epoch(result.losses[0], lrs[0]):
                return
        elif done:
            session.end_chunk(result.losses[:done], lrs[:done], elapsed,
                              result.best_epoch, runner.best_loss, runner.best)
        if result.diverged >= 0:
            raise TrainingDiverged(epoch + done, result.diverged, float(result.losses[done]))
        if result.diverged == -2:
            raise TrainingDiverged(epoch + done - 1, None, float("nan"))
        if interrupted or result.interrupted:
            raise KeyboardInterrupt
        epoch += done
        if not session.per_epoch_python:  # aim each compiled call at CHUNK_SECONDS
            chunk = int(min(max(1, chunk * min(4.0, CHUNK_SECONDS / max(elapsed, 1e-6))), 1 << 20))


def _rates(schedule, lr0, offset, count, steps, total_steps, n):
    """(rate of each of `count` epochs from epoch `offset`, rate of each of their steps or
    None): a per-batch schedule gives every step of a run of total_steps its rate, the
    epoch's being its first."""
    if schedule is None:
        return np.full(count, lr0), None
    if not schedule.per_batch:
        return np.array([schedule.lr(offset + i, lr0, n) for i in range(count)]), None
    indices = np.arange(offset * steps, (offset + count) * steps).reshape(count, steps)
    step_lrs = np.ascontiguousarray(
        schedule.lr_at(indices, lr0, steps, total_steps, n), dtype=float)
    return step_lrs[:, 0].copy(), step_lrs


def _first_chunk(net, n, steps):
    """Epochs in the first compiled call: about a quarter of CHUNK_SECONDS by a pessimistic
    estimate (1 us per step, 5 G multiply-adds per second), so a tiny network's short run is
    one call, not a ladder of growing ones; later calls are sized by measured time."""
    multiply_adds = 3 * n * sum(a * b for a, b in zip(net.layers[:-1], net.layers[1:]))
    seconds = steps * 1e-6 + multiply_adds / 5e9
    return int(min(max(1, CHUNK_SECONDS / 4 / seconds), 1 << 20))


def _split_validation(net, X, Y, validation_data, validation_fraction, rng, stored=None):
    """(X_train, Y_train, (X_val, Y_val) or None, split). A fraction sets aside rows drawn
    at random from rng, both parts kept in the data's order; split (fraction, n, rows) lets a
    resumed run set aside the same rows without a draw (`stored`, from the optimizer)."""
    if validation_data is not None and validation_fraction is not None:
        raise ValueError("give validation_data or validation_fraction, not both")
    if validation_data is not None:
        try:
            X_val, Y_val = validation_data
        except (TypeError, ValueError):
            raise ValueError("validation_data must be a pair (X_val, Y_val)") from None
        if is_dask_array(X_val) or is_dask_array(Y_val):  # scored on the client, each epoch
            X_val, Y_val = np.asarray(X_val), np.asarray(Y_val)
        X_val = as_matrix(X_val, "X_val", net.dtype, net.n_inputs)
        Y_val = as_matrix(Y_val, "Y_val", net.dtype, net.n_outputs, allow_vector=True)
        if X_val.shape[0] != Y_val.shape[0]:
            raise ValueError(f"X_val has {X_val.shape[0]} rows but Y_val has {Y_val.shape[0]}")
        return X, Y, (X_val, Y_val), None
    if validation_fraction is None:
        return X, Y, None, None
    if isinstance(validation_fraction, bool) or not isinstance(validation_fraction, numbers.Real) \
            or not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must lie in (0, 1); got {validation_fraction!r}")
    n = X.shape[0]
    n_val = int(round(validation_fraction * n))
    if not 1 <= n_val < n:
        raise ValueError(f"validation_fraction={validation_fraction} leaves {n_val} of "
                         f"{n} rows for validation; need at least one on each side")
    if stored is not None and stored["fraction"] == validation_fraction and stored["n"] == n:
        val = np.asarray(stored["rows"], dtype=np.intp)
    else:
        val = np.sort(rng.permutation(n)[:n_val])
    keep = np.ones(n, bool)
    keep[val] = False
    split = {"fraction": float(validation_fraction), "n": n, "rows": val}
    return X[keep], Y[keep], (X[val], Y[val]), split


def _check_dask_fit(optimizer, restarts, validation_fraction, full_batch, dropout):
    """What a fit on dask arrays does not take (refused before any work is sent)."""
    from .optim.quasi_newton import _ScipyMinimizer

    if not isinstance(optimizer, (_ScipyMinimizer, FirstOrder)):
        raise ValueError(f"dask arrays train with 'lbfgs', 'bfgs' (full batch: loss and gradient "
                         f"summed over the blocks on the workers) or a first-order rule such as "
                         f"'sgd' or 'adam' (full batch, or mini-batches streamed from the "
                         f"blocks); got {type(optimizer).__name__}")
    if restarts != 1:
        raise ValueError("restarts > 1 is not supported on dask arrays: run the restarts "
                         "one after the other")
    if validation_fraction is not None:
        raise ValueError("validation_fraction is not supported on dask arrays: pass "
                         "validation_data=(X_val, Y_val)")
    if dropout and (full_batch or not isinstance(optimizer, FirstOrder)):
        # a mask is drawn per entry of the batch's block of rows: the workers' blocks would
        # draw other masks than the whole batch
        raise ValueError("a network with dropout trains on dask arrays with mini-batches "
                         "(a first-order rule and batch_size below the rows), not full batches")


def _check_first_order_options(optimizer, schedule, clip_norm, clip_value, averager,
                               restores_best, dropout):
    """Errors for options only the mini-batch loop honours, before any training."""
    asked = [name for name, value in (("clip_norm", clip_norm), ("clip_value", clip_value),
                                      ("average", averager)) if value is not None]
    if dropout:
        asked.append("a network with dropout")
    if schedule is not None and schedule.per_batch:
        asked.append(f"lr_schedule={type(schedule).__name__} (per batch)")
    if asked and not isinstance(optimizer, FirstOrder):
        raise ValueError(f"{', '.join(asked)}: only the first-order optimizers (sgd, adam, ...) "
                         f"take this; {type(optimizer).__name__} does not")
    if averager is not None and restores_best:
        raise ValueError("average= and early stopping's restore_best_weights both choose the "
                         "weights the network ends with: pass restore_best_weights=False")


def _check_schedule(schedule):
    if schedule is None or isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, str) and schedule in SCHEDULES:
        raise ValueError(f"lr_schedule {schedule!r} needs its parameters: pass an object, "
                         f"e.g. fastnn.schedules.{SCHEDULES[schedule].__name__}(...)")
    raise TypeError(f"lr_schedule must be a fastnn.schedules.Schedule; got {schedule!r}")


def _check_callbacks(callbacks):
    if callbacks is None:
        return []
    if callable(callbacks) or hasattr(callbacks, "on_epoch_end"):
        callbacks = [callbacks]
    callbacks = list(callbacks)
    for callback in callbacks:
        if not (callable(callback) or callable(getattr(callback, "on_epoch_end", None))):
            raise TypeError(f"a callback must be callable or have on_epoch_end; got {callback!r}")
    return callbacks


@contextlib.contextmanager
def _deferred_interrupt():
    """While a compiled call runs, Ctrl-C only sets a flag (the list yielded becomes truthy),
    so the caller can record what the call trained before stopping."""
    flag = []
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:  # someone else handles Ctrl-C: leave it
        yield flag
        return
    signal.signal(signal.SIGINT, lambda signum, frame: flag.append(signum))
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _training_threads(threads, net, rows):
    """The thread count a training run passes its compiled calls. The compiled backend runs
    its own threads (fastnn._threads), with scipy's BLAS on one thread meanwhile; for the
    NumPy backend threads=N pins NumPy's BLAS to N threads, and None runs small products on
    one thread, where waking BLAS workers costs more than they save."""
    if net.backend == "cython":
        with net._backend.threads(rows, threads) as count:
            yield count
        return
    if threads is None:
        largest = max(rows * a * b for a, b in zip(net.layers[:-1], net.layers[1:]))
        threads = 1 if largest < SINGLE_THREAD_GEMM else None
    if threads is None:
        yield None
        return
    with numpy_guard().hold(threads):  # shared by overlapping fits, restored by the last
        yield threads
