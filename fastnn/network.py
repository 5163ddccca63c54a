"""Network: a fully connected feed-forward network with all parameters in one flat vector."""
import numbers
from dataclasses import dataclass, field

import numpy as np

from ._sparse import CSRRows, is_sparse
from ._validation import as_matrix, as_nonnegative, as_pair
from .dask_blocks import is_dask_array
from .activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from .backends import BACKENDS, make_backend
from .dropout import check_dropout
from .initializers import INITIALIZERS, as_rng
from .losses import LOSS_OUTPUTS, LOSSES

__all__ = ["Network", "Backprop", "DTYPES"]


def __dir__():  # tab completion shows the public names only
    return __all__


DTYPES = ("float32", "float64")
# predict's automatic batch: at most this many activations (all layers) per batch
AUTO_BATCH_ENTRIES = 1 << 22


@dataclass(repr=False)
class Backprop:
    """The result of one forward + backward pass (Network.backward).

    Attributes
    ----------
    loss : float
        J = (1/m) sum_i L(y_i, a_i) + (weight_decay/2) sum_l ||W[l]||^2.
    activations : list of ndarray
        a[l] of every layer (n_samples x n_units), output last.
    deltas : list of ndarray
        Node deltas dJ/dz[l] of every layer (n_samples x n_units), the 1/m included.
    grad : ndarray
        dJ/dparams, flat like Network.params.
    grad_weights, grad_biases : list of ndarray
        Views of `grad` shaped like Network.weights and Network.biases.
    """
    loss: float
    activations: list
    deltas: list
    grad: np.ndarray
    grad_weights: list = field(default_factory=list)
    grad_biases: list = field(default_factory=list)

    def __repr__(self):
        return (f"Backprop(loss={self.loss:.6g}, layers={len(self.deltas)}, "
                f"n_samples={self.deltas[0].shape[0]})")


class Network:
    """A multilayer perceptron: z[l] = a[l-1] @ W[l] + b[l], a[l] = f(z[l]), a[0] = X.

    Parameters
    ----------
    layers : sequence of int
        Widths [n_in, hidden..., n_out]; no hidden layer ([n_in, n_out]) is allowed.
    activation : str or sequence of str, default "sigmoid"
        Hidden activation: one of identity, sigmoid, tanh, relu, leaky_relu (slope 0.01), elu
        (alpha 1), softplus, gelu (exact, z Phi(z)) or silu (z sigmoid(z)); or one name per
        hidden layer.
    output : str, default "sigmoid"
        Output activation: identity, sigmoid, tanh, relu, leaky_relu, elu, softplus, gelu,
        silu (with mse, mae or huber), softmax or exp.
    loss : str, default "mse"
        mse (1/2 squared error; output identity, sigmoid, tanh or relu), mae (absolute
        error) or huber (squared near 0, absolute beyond huber_delta) with the same outputs,
        cross_entropy (softmax output), binary_cross_entropy (sigmoid output) or poisson
        (half the Poisson deviance, exp output, targets >= 0). See fastnn.losses.
    huber_delta : float, default 1.0
        The huber loss's threshold d: r^2 / 2 for |r| <= d, else d (|r| - d/2).
    init : str, default "glorot_uniform"
        glorot_uniform, he_normal, he_uniform, lecun_normal, orthogonal, normal or
        uniform. See fastnn.initializers.
    bias : bool, default True
        False drops every bias (seed 004's network: a constant input column plays the bias).
    dtype : {"float64", "float32"}
        The dtype of the parameters and of all arithmetic.
    backend : {"auto", "cython", "numpy"}
        "auto" is the compiled kernels; "numpy" the readable reference.
    seed : None, int, numpy Generator or RandomState
        Source of the initial weights.
    dropout : float or sequence of float, default 0.0
        Inverted dropout rate p of each hidden layer (one for all, or one per hidden
        layer): during fit, each hidden unit's activation is zeroed with probability p and
        the others scaled by 1 / (1 - p), with masks drawn from the fit's seeded generator;
        predict and forward never drop. See fastnn.dropout.

    Attributes
    ----------
    params : ndarray
        All parameters in one flat vector: W[0], b[0], W[1], b[1], ...
    weights, biases : list of ndarray
        W[l] (n_in x n_out) and b[l] (n_out,), views into params (biases is empty
        without biases).

    Examples
    --------
    >>> import fastnn as fnn
    >>> net = fnn.Network([2, 3, 1], seed=0)
    >>> net.n_params
    13
    >>> net.forward([[0.0, 1.0]]).shape
    (1, 1)
    """

    def __init__(self, layers, activation="sigmoid", output="sigmoid", loss="mse",
                 init="glorot_uniform", bias=True, dtype="float64", backend="auto", seed=None,
                 huber_delta=1.0, dropout=0.0):
        layers = _check_layers(layers)
        hidden = _check_hidden(activation, len(layers) - 2)
        _check_choice(output, "output", ACTIVATIONS)
        _check_choice(loss, "loss", LOSSES)
        if output not in LOSS_OUTPUTS[loss]:
            fits = [name for name, outputs in LOSS_OUTPUTS.items() if output in outputs]
            raise ValueError(f"loss {loss!r} needs output {' or '.join(LOSS_OUTPUTS[loss])}, "
                             f"not {output!r} (output {output!r} goes with loss={fits[0]!r})")
        _check_choice(init, "init", INITIALIZERS)
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"bias must be True or False; got {bias!r}")
        _check_choice(backend, "backend", BACKENDS)
        self._config = dict(layers=layers, activation=hidden, output=output, loss=loss,
                            init=init, bias=bool(bias), dtype=_check_dtype(dtype),
                            backend=backend, huber_delta=_check_huber_delta(huber_delta),
                            dropout=check_dropout(dropout, len(layers) - 2))
        self._allocate()
        self.initialize(seed)

    def initialize(self, seed=None):
        """Draw fresh initial weights with the network's init scheme (in place).

        >>> import fastnn as fnn
        >>> net = fnn.Network([2, 1], seed=0); first = net.params.copy()
        >>> bool((net.initialize(seed=0).params == first).all())
        True
        """
        rng = as_rng(seed)
        for W, b in zip(self._weights, self._biases or [None] * len(self._weights)):
            W_init, b_init = INITIALIZERS[self.init](rng, W.shape[0], W.shape[1], b is not None)
            W[...] = W_init
            if b is not None:
                b[...] = b_init
        return self

    def _allocate(self):
        """Lay out the flat parameter vector, its views and the backend."""
        layers, dtype = self._config["layers"], self._config["dtype"]
        self._weight_slices, self._bias_slices, start = [], [], 0
        for n_in, n_out in zip(layers[:-1], layers[1:]):
            self._weight_slices.append(slice(start, start + n_in * n_out))
            start += n_in * n_out
            if self._config["bias"]:
                self._bias_slices.append(slice(start, start + n_out))
                start += n_out
            else:
                self._bias_slices.append(None)
        self._params = np.zeros(start, dtype)
        self._weights = self._views(self._params, "weights")
        self._biases = self._views(self._params, "biases")
        self._backend = make_backend(self._config["backend"], self)
        self._predict_few = self._backend.predict_few

    def _views(self, flat, kind):
        """Per-layer views of a flat vector laid out like params: W[l] or b[l]."""
        if kind == "biases":
            if not self.bias:
                return ()
            return tuple(flat[s] for s in self._bias_slices)
        return tuple(flat[s].reshape(n_in, n_out) for s, n_in, n_out
                     in zip(self._weight_slices, self.layers[:-1], self.layers[1:]))

    # -- description ---------------------------------------------------------------------

    layers = property(lambda self: self._config["layers"], doc="Widths [n_in, ..., n_out].")
    hidden_activations = property(lambda self: list(self._config["activation"]),
                                  doc="Activation of each hidden layer.")
    output = property(lambda self: self._config["output"], doc="Output activation.")
    loss = property(lambda self: self._config["loss"], doc="Loss name.")
    huber_delta = property(lambda self: self._config["huber_delta"],
                           doc="The huber loss's threshold (read by no other loss).")
    init = property(lambda self: self._config["init"], doc="Initializer name.")
    dropout = property(lambda self: list(self._config["dropout"]),
                       doc="Dropout rate of each hidden layer (applied during fit only).")
    bias = property(lambda self: self._config["bias"], doc="Whether layers have biases.")
    dtype = property(lambda self: self._config["dtype"], doc="numpy dtype of all arithmetic.")
    backend = property(lambda self: self._backend.name, doc="Name of the backend in use.")
    n_layers = property(lambda self: len(self.layers) - 1, doc="Number of weight layers.")
    n_inputs = property(lambda self: self.layers[0], doc="Number of input features.")
    n_outputs = property(lambda self: self.layers[-1], doc="Number of outputs.")
    n_params = property(lambda self: self._params.size, doc="Number of parameters.")
    weights = property(lambda self: list(self._weights), doc="W[l], views into params.")
    biases = property(lambda self: list(self._biases), doc="b[l], views into params.")

    @property
    def params(self):
        """All parameters in one flat vector; weights and biases are views into it."""
        return self._params

    @params.setter
    def params(self, values):
        values = np.asarray(values)
        if values.shape != self._params.shape:
            raise ValueError(f"params must have shape {self._params.shape}; got {values.shape}")
        if values.dtype.kind not in "biuf" or not np.isfinite(values).all():
            raise ValueError("params must be finite real numbers")
        self._params[...] = values

    def __repr__(self):
        c = self._config
        hidden = c["activation"][0] if len(set(c["activation"])) == 1 else c["activation"]
        dropout = c["dropout"][0] if len(set(c["dropout"])) == 1 else list(c["dropout"])
        return (f"Network({list(c['layers'])}, activation={hidden!r}, output={c['output']!r}, "
                f"loss={c['loss']!r}, bias={c['bias']}, dtype={c['dtype'].name!r}, "
                f"backend={self.backend!r}{f', dropout={dropout!r}' if any(c['dropout']) else ''})")

    # -- copies and pickling: every copy owns its flat vector, with views into it ---------

    def __getstate__(self):
        return {"config": self._config, "params": self._params}

    def __setstate__(self, state):
        # pickles from before huber_delta and dropout
        self._config = {"huber_delta": 1.0, "dropout": (0.0,) * (len(state["config"]["layers"]) - 2),
                        **state["config"]}
        self._allocate()
        self._params[...] = state["params"]

    def copy(self, dtype=None, backend=None):
        """An independent copy, optionally with another dtype or backend.

        >>> import fastnn as fnn
        >>> fnn.Network([2, 1], seed=0).copy(dtype="float32").dtype
        dtype('float32')
        """
        state = {"config": dict(self._config), "params": self._params}
        if dtype is not None:
            state["config"]["dtype"] = _check_dtype(dtype)
            largest = float(np.abs(self._params).max(initial=0.0))
            if largest > float(np.finfo(state["config"]["dtype"]).max):
                raise ValueError(f"the weights reach {largest:.3g}, beyond what "
                                 f"{state['config']['dtype'].name} holds")
        if backend is not None:
            _check_choice(backend, "backend", BACKENDS)
            state["config"]["backend"] = backend
        clone = Network.__new__(Network)
        clone.__setstate__(state)
        return clone

    # -- other libraries ----------------------------------------------------------------

    @classmethod
    def from_sklearn(cls, estimator, backend="auto"):
        """The network of a fitted scikit-learn (or fastnn) MLPClassifier/MLPRegressor, with
        its weights: predict gives the estimator's output activations. See fastnn.interop.

        >>> import numpy as np, fastnn as fnn
        >>> from sklearn.neural_network import MLPRegressor
        >>> X = np.random.default_rng(0).random((20, 3))
        >>> reg = MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs").fit(X, X.sum(axis=1))
        >>> net = fnn.Network.from_sklearn(reg)
        >>> bool(np.allclose(net.predict(X).ravel(), reg.predict(X), rtol=1e-12))
        True
        """
        from .interop import from_sklearn
        return from_sklearn(estimator, backend)

    def to_sklearn(self, classes=None):
        """scikit-learn's own fitted MLPClassifier (softmax or sigmoid output) or MLPRegressor
        (identity or exp output) computing what this network does. See fastnn.interop."""
        from .interop import to_sklearn
        return to_sklearn(self, classes)

    @classmethod
    def from_torch(cls, sequential, loss=None, backend="auto"):
        """The network of a torch.nn.Sequential of Linear layers and activations, with its
        weights. See fastnn.interop."""
        from .interop import from_torch
        return from_torch(sequential, loss, backend)

    def to_torch(self):
        """A torch.nn.Sequential (Linear layers and activation modules) computing what this
        network does. See fastnn.interop."""
        from .interop import to_torch
        return to_torch(self)

    # -- passes --------------------------------------------------------------------------

    def forward(self, X, batch_size="auto", threads=None, out=None):
        """Output activations a[L] for the rows of X, shape (n_samples, n_outputs); `predict`
        is the same method.

        X is taken `batch_size` rows at a time (None: all at once; "auto": up to 4096 rows,
        fewer for wide networks, so that every layer's activations for a batch take at most
        4 M entries), so a large X never needs every layer's activations for all its rows.
        With `out` (a writeable ndarray of shape (n_samples, n_outputs) and the network's
        dtype) the output is written there and `out` is returned; nothing is written when X
        is refused. Safe to call from many threads at once; large calls release the GIL.
        A scipy.sparse X is never densified (the first layer's product runs over its stored
        entries). A dask array gives a dask array, computed lazily block by block of rows.
        `threads`: the most threads the compiled kernels use (None: as many as scipy's BLAS
        may use).

        A few rows (at most 64) given as a finite, C-ordered ndarray of the network's dtype
        and width go straight to the compiled kernel, checked in C: about a microsecond for
        one row of a 64-64-10 network. Every other X is converted and checked in full.

        >>> import fastnn as fnn
        >>> net = fnn.Network([2, 1], output="identity", init="uniform", seed=0)
        >>> net.weights[0][:] = [[1.0], [2.0]]; net.biases[0][:] = 0.5
        >>> net.forward([[1.0, 1.0]])
        array([[3.5]])
        """
        if threads is None and type(batch_size) is str and batch_size == "auto":
            result = self._predict_few(X, out)
            if result is not None:
                return result
        if is_dask_array(X):
            if out is not None:
                raise TypeError("out= takes ndarrays; a dask X gives a lazy dask array")
            return self._forward_dask(X, batch_size)
        if is_sparse(X):  # scipy.sparse rows: products over the stored entries, never densified
            X = CSRRows(X, self.dtype, self.n_inputs)
        elif not isinstance(X, CSRRows):  # (CSRRows: sparse rows fastnn has checked already)
            X = as_matrix(X, "X", self.dtype, self.n_inputs)
        if batch_size is not None and batch_size != "auto":
            batch_size = _check_batch_size(batch_size)
        threads = _check_threads(threads)
        if out is not None:
            _check_out(out, (X.shape[0], self.n_outputs), self.dtype)
        if isinstance(batch_size, str) and batch_size == "auto":
            batch_size = max(1, min(4096, AUTO_BATCH_ENTRIES // sum(self.layers[1:])))
        if batch_size is None or X.shape[0] <= batch_size:
            return self._backend.forward(X, threads, out)
        if out is None:
            out = np.empty((X.shape[0], self.n_outputs), self.dtype)
        for start in range(0, X.shape[0], batch_size):
            stop = min(start + batch_size, X.shape[0])
            rows = X.view(start, stop) if isinstance(X, CSRRows) else X[start:stop]
            self._backend.forward(rows, threads, out[start:stop])
        return out

    predict = forward
    __call__ = forward  # net(X), as a torch module is called

    def summary(self, file=None):
        """Print (to `file`, default standard output; file=False prints nothing) and return
        a Keras-style table of the layers: units, activation, weights, biases and parameters
        per layer, the total and the memory the parameters take.

        >>> import fastnn as fnn
        >>> text = fnn.Network([4, 8, 3], activation="relu", output="softmax",
        ...                    loss="cross_entropy").summary(file=False)
        >>> print(text.splitlines()[-1])
        total: 67 parameters, 0.5 KiB in float64
        """
        rows = [("layer", "units", "activation", "weights", "biases", "parameters"),
                ("input", f"{self.layers[0]:,}", "", "", "", "")]
        for l, (n_in, n_out) in enumerate(zip(self.layers[:-1], self.layers[1:])):
            weights, biases = n_in * n_out, n_out if self.bias else 0
            activation = (self.hidden_activations + [self.output])[l]
            if l < len(self.dropout) and self.dropout[l]:
                activation += f", dropout {self.dropout[l]:g}"
            rows.append((f"dense_{l + 1}", f"{n_out:,}", activation, f"{weights:,}",
                         f"{biases:,}", f"{weights + biases:,}"))
        widths = [max(len(row[k]) for row in rows) for k in range(6)]
        lines = ["  ".join(cell.ljust(w) if k in (0, 2) else cell.rjust(w)
                           for k, (cell, w) in enumerate(zip(row, widths))).rstrip()
                 for row in rows]
        rule = "-" * max(map(len, lines))
        kib = self.n_params * self.dtype.itemsize / 1024
        text = "\n".join([f"Network {'-'.join(map(str, self.layers))}, loss {self.loss}, "
                          f"{self.backend} backend", rule, lines[0], rule, *lines[1:], rule,
                          f"total: {self.n_params:,} parameters, {kib:.1f} KiB in {self.dtype.name}",
                          ""])
        if file is not False:
            print(text, end="", file=file)
        return text

    def _forward_dask(self, X, batch_size):
        """A lazy dask array: forward over each block of rows (the columns in one block)."""
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"X has shape {X.shape}; the network expects (n_samples, {self.n_inputs})")
        if len(X.chunks[1]) > 1:
            X = X.rechunk({1: -1})
        return X.map_blocks(lambda block: self.forward(block, batch_size), dtype=self.dtype,
                            chunks=(X.chunks[0], (self.n_outputs,)))

    def cost(self, X, Y, weight_decay=0.0, training=False, dropout_seed=0):
        """J = (1/m) sum_i L(y_i, a_i) + (weight_decay/2) sum_l ||W[l]||^2, biases not
        decayed; with training, of the pass that drops units (see backward)."""
        X, Y = as_pair(X, Y, self.dtype, self.n_inputs, self.n_outputs, self.loss)
        weight_decay = as_nonnegative(weight_decay, "weight_decay")
        return float(self._backend.cost(X, Y, weight_decay,
                                        dropout=_training_pass(training, dropout_seed)))

    def backward(self, X, Y, weight_decay=0.0, training=False, dropout_seed=0):
        """One forward and backward pass: J, activations, node deltas and gradients.

        delta[L] = dJ/dz[L] comes from the loss (with the 1/m), then
        delta[l] = (delta[l+1] @ W[l+1].T) * f'(z[l]) (from a[l], or z[l] for gelu and silu),
        grad W[l] = a[l-1].T @ delta[l] + weight_decay * W[l], grad b[l] = sum_rows delta[l].

        With training=True and dropout, the pass fit trains on: a[l] and f'(z[l]) of each
        hidden layer are multiplied by its dropout factors s (0, or 1 / (1 - p)), the masks
        of step 1 of a fit whose dropout seed is `dropout_seed`. cost(..., training=True)
        with the same seed is the J of the same masks (for finite differences).

        >>> import fastnn as fnn
        >>> net = fnn.Network([2, 2, 1], seed=0)
        >>> bp = net.backward([[1.0, 0.0]], [[1.0]])
        >>> [d.shape for d in bp.deltas], bp.grad.shape
        ([(1, 2), (1, 1)], (9,))
        """
        X, Y = as_pair(X, Y, self.dtype, self.n_inputs, self.n_outputs, self.loss)
        weight_decay = as_nonnegative(weight_decay, "weight_decay")
        grad = np.empty_like(self._params)
        J = self._backend.backward(X, Y, weight_decay, grad,
                                   dropout=_training_pass(training, dropout_seed))
        activations, deltas = self._backend.layer_values(X.shape[0])
        return Backprop(loss=float(J), activations=[a.copy() for a in activations],
                        deltas=[d.copy() for d in deltas], grad=grad,
                        grad_weights=list(self._views(grad, "weights")),
                        grad_biases=list(self._views(grad, "biases")))

    def loss_and_grad(self, X, Y, weight_decay=0.0):
        """(J, dJ/dparams) with the gradient flat like params: what optimizers need.

        >>> import fastnn as fnn
        >>> loss, grad = fnn.Network([2, 1], seed=0).loss_and_grad([[1.0, 0.0]], [[1.0]])
        >>> grad.shape
        (3,)
        """
        X, Y = as_pair(X, Y, self.dtype, self.n_inputs, self.n_outputs, self.loss)
        weight_decay = as_nonnegative(weight_decay, "weight_decay")
        grad = np.empty_like(self._params)
        return float(self._backend.backward(X, Y, weight_decay, grad)), grad

    def save(self, path):
        """Write the network to `path` (.npz, no pickle, atomic); see fastnn.load."""
        from .io import save
        save(self, path)

    def fit(self, X, Y, optimizer="sgd", epochs=100, batch_size=32, shuffle=True,
            weight_decay=0.0, validation_data=None, validation_fraction=None,
            early_stopping=False, patience=10, min_delta=0.0, restore_best_weights=True,
            lr_schedule=None, callbacks=None, progress=False, restarts=1, seed=None,
            threads=None, valley_tol=1e-3, resume=False, n_jobs=None, clip_norm=None,
            clip_value=None, average=None, ema_decay=0.999, swa_start=None):
        """Train the network in place and return its History.

        Parameters
        ----------
        X, Y : array-like
            Training inputs (n_samples, n_inputs) and targets (n_samples, n_outputs).
            Dask arrays chunked by rows (the same row chunks), with a running
            distributed.Client, train on the cluster: lbfgs, bfgs and first-order rules
            with batch_size=None on the loss and gradient summed over the blocks on the
            workers; first-order rules with batch_size set on mini-batches streamed block
            by block to this process (docs/scaling.md).
        optimizer : str or fastnn.optim optimizer
            An instance, or a name with default settings: sgd, adagrad, adadelta, rmsprop,
            adam, adamw, rprop, lbfgs, bfgs, annealing, awsgd.
        epochs : int
            Passes over the data (iterations for lbfgs/bfgs, temperatures for annealing).
        batch_size : int or None
            Rows per step; None (or >= n_samples) trains full batch.
        shuffle : bool
            A fresh row order every epoch, drawn from the seeded generator.
        weight_decay : float
            The L2 term of J (biases excluded), as in backward.
        validation_data : (X_val, Y_val), or validation_fraction : float in (0, 1)
            Data scored after every epoch (val_loss and the metric: accuracy or R^2);
            a fraction is split off the training rows at random.
        early_stopping, patience, min_delta, restore_best_weights
            Stop once the monitored loss (val_loss if any, else loss) has not improved by
            more than min_delta for `patience` epochs, and go back to the best weights.
        lr_schedule : fastnn.schedules.Schedule
            Learning rate per epoch, from the optimizer's lr, or per mini-batch step for
            OneCycleLR, CosineAnnealingWarmRestarts and LinearWarmup (History.lr then holds
            each epoch's first rate).
        callbacks : callable, object with on_epoch_end, or a list of them
            Called as on_epoch_end(epoch, logs, network) after each epoch; returning True
            or raising fastnn.StopTraining stops training.
        progress : bool
            A tqdm progress bar.
        restarts : int
            Train this many times from fresh initial weights (seed 004's "many balls") and
            keep the best; a run that reaches an earlier run's point (relative distance
            below valley_tol) stops early and is reported in History.restarts.
        seed : int, Generator or None
            Source of shuffling, validation split, restarts and stochastic optimizers:
            the same seed (and thread count) gives bit-identical weights.
        threads : int or None
            The most threads training uses (None: as many as scipy's BLAS may use, at most
            the cores this process may run on). The compiled kernels split every phase of a
            step (products, activations, loss, gradients, the optimizer update, the batch
            gather) over their own threads where the phase is large enough to gain from it;
            a fixed thread count gives bit-identical results run to run.
        n_jobs : int or None
            With restarts > 1, run the trainings in parallel through joblib (None or 1: one
            after the other; -1: all cores; under ``joblib.parallel_config(backend="dask")``
            on a Dask cluster). Each parallel run caps BLAS at `threads` (default 1) threads.
        resume : bool
            Keep the first-order optimizer's state (step count, moments) from an earlier fit
            or a checkpoint instead of starting it afresh (see fastnn.load_checkpoint).
        clip_norm, clip_value : float or None
            Clip each step's gradient g = dJ/dparams (weight decay's term included) before
            the update: clip_value clamps every entry into [-clip_value, clip_value] (as
            torch.nn.utils.clip_grad_value_); clip_norm scales g by
            min(1, clip_norm / (||g||_2 + 1e-6)), the norm over all parameters (as
            clip_grad_norm_). Given both, the entries are clamped first.
        average : None, "ema" or "swa"
            Weight averaging, as torch.optim.swa_utils.AveragedModel: "ema" folds the
            weights after every step into avg <- avg + (1 - ema_decay)(w - avg); "swa"
            averages the weights at the end of every epoch after the first `swa_start`
            (None: three quarters of `epochs`) with equal weights. The network ends with
            the average; the trained weights themselves are History.raw_params, and
            callbacks see them during training. First-order optimizers only; a new fit
            starts a new average.

        Ctrl-C stops training cleanly: the best weights seen are restored and the History
        is returned (stop_reason "interrupted"). A NaN or infinite loss raises
        fastnn.TrainingDiverged; the network keeps the weights from the start of that epoch.

        Examples
        --------
        >>> import numpy as np, fastnn as fnn
        >>> X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
        >>> Y = np.array([[0], [1], [1], [0]], dtype=float)
        >>> net = fnn.Network([3, 8, 1], seed=0)
        >>> history = net.fit(X, Y, optimizer=fnn.optim.Adam(lr=0.05), epochs=500, batch_size=None)
        >>> bool(history.loss[-1] < 0.01), history.epochs
        (True, 500)
        """
        from .training import fit
        return fit(self, X, Y, optimizer=optimizer, epochs=epochs, batch_size=batch_size,
                   shuffle=shuffle, weight_decay=weight_decay, validation_data=validation_data,
                   validation_fraction=validation_fraction, early_stopping=early_stopping,
                   patience=patience, min_delta=min_delta,
                   restore_best_weights=restore_best_weights, lr_schedule=lr_schedule,
                   callbacks=callbacks, progress=progress, restarts=restarts, seed=seed,
                   threads=threads, valley_tol=valley_tol, resume=resume, n_jobs=n_jobs,
                   clip_norm=clip_norm, clip_value=clip_value, average=average,
                   ema_decay=ema_decay, swa_start=swa_start)


def _training_pass(training, dropout_seed):
    """The (seed, step) of a training pass's dropout masks, or None for no dropout."""
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training must be True or False; got {training!r}")
    if isinstance(dropout_seed, bool) or not isinstance(dropout_seed, numbers.Integral) \
            or not 0 <= dropout_seed < 2 ** 64:
        raise ValueError(f"dropout_seed must be an integer in [0, 2**64); got {dropout_seed!r}")
    return (int(dropout_seed), 1) if training else None


def _check_threads(threads):
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None; got {threads!r}")
    return int(threads)


def _check_out(out, shape, dtype):
    """A buffer predict can write its output into as it is (no conversion, no copy back)."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array; got {type(out).__name__}")
    if out.shape != shape or out.dtype != dtype:
        raise ValueError(f"out must have shape {shape} and dtype {dtype}; "
                         f"got shape {out.shape} and dtype {out.dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")


def _check_huber_delta(value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) \
            or not np.isfinite(value) or value <= 0:
        raise ValueError(f"huber_delta must be a positive finite number; got {value!r}")
    return float(value)


def _check_batch_size(batch_size):
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, 'auto' or None; got {batch_size!r}")
    return int(batch_size)


def _check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")


def _check_layers(layers):
    try:
        layers = list(layers)
    except TypeError:
        raise TypeError(f"layers must be a sequence of widths like [4, 8, 1]; got {layers!r}") from None
    if len(layers) < 2:
        raise ValueError(f"layers needs at least an input and an output width; got {layers}")
    for n in layers:
        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"layer widths must be integers; got {n!r} in {layers}")
        if n < 1:
            raise ValueError(f"every layer needs at least one unit; got {layers}")
    return tuple(int(n) for n in layers)


def _check_hidden(activation, n_hidden):
    if isinstance(activation, str):
        names = [activation] * n_hidden
    else:
        try:
            names = list(activation)
        except TypeError:
            raise TypeError(f"activation must be a name or a list of names; got {activation!r}") from None
    if len(names) != n_hidden:
        raise ValueError(f"activation lists {len(names)} names for {n_hidden} hidden layers")
    for name in names:
        if name == "softmax":
            raise ValueError("softmax is an output activation only; use output='softmax'")
        _check_choice(name, "activation", HIDDEN_ACTIVATIONS)
    return tuple(names)


def _check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in DTYPES:
        raise ValueError(f"dtype must be float32 or float64; got {dtype!r}")
    return dt
