"""scikit-learn drop-ins: MLPClassifier and MLPRegressor that reproduce scikit-learn's own
model (same parameters, initial weights, shuffling, validation split, loss and update
rules), trained by fastnn's compiled kernels.

Change ``from sklearn.neural_network import MLPClassifier`` to
``from fastnn import MLPClassifier`` and keep everything else. Beyond scikit-learn's solvers
(lbfgs, sgd, adam), any optimizer name of fastnn.optim is accepted, and beyond its
activations (identity, logistic, tanh, relu) fastnn's leaky_relu, elu, softplus, gelu and
silu; float32 input trains in float32 (lbfgs too).
"""
import operator
import warnings

import numpy as np
import scipy.optimize
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._sklearn_compat import (MLP_PARAMETER_CONSTRAINTS, StrOptions, _check_optimize_result,
                              _check_partial_fit_first_call, _check_sample_weight)

from ._sparse import CSRRows, is_sparse
from ._validation import check_target_range
from .activations import HIDDEN_ACTIVATIONS
from .dask_blocks import DaskBlocks, check_chunks, is_dask_array
from .network import Network
from .optim import AWSGD, OPTIMIZERS, Adam, FirstOrder, SklearnAdam, SklearnSGD, get_optimizer
from .optim.quasi_newton import scipy_objective
from .session import run_callbacks
from .training import EpochRunner, _check_callbacks

__all__ = ["MLPClassifier", "MLPRegressor"]


def __dir__():  # tab completion shows the public names only
    return __all__


# scikit-learn's activation -> fastnn's (the drop-ins also take fastnn's newer ones by their
# names); its out_activation_ -> fastnn's (output, loss)
_SKLEARN_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
_ACTIVATIONS = {**_SKLEARN_ACTIVATIONS, **{name: name for name in HIDDEN_ACTIVATIONS
                                           if name not in _SKLEARN_ACTIVATIONS.values()}}
_OUTPUTS = {"softmax": ("softmax", "cross_entropy"), "logistic": ("sigmoid", "binary_cross_entropy"),
            "identity": ("identity", "mse"), "exp": ("exp", "poisson")}
_STOCHASTIC = ("sgd", "adam")
_FULL_BATCH = ("lbfgs", "bfgs", "annealing")


def _as_rows(X, net):
    """The kernels' input: C-ordered rows in the network's dtype, or, for a scipy.sparse X,
    its CSR rows (never densified: fastnn/_sparse.py)."""
    if is_sparse(X):
        return CSRRows(X, net.dtype, net.n_inputs)
    return np.ascontiguousarray(X, dtype=net.dtype)


def _as_sklearn_loss(net):
    """scikit-learn's squared error is averaged over the outputs (its gradient is not)."""
    net._backend.loss_scale = 1.0 / net.n_outputs if net.loss == "mse" else 1.0
    return net


def _plain_network(activation, out_activation, layers, dtype, backend="auto"):
    """A Network with scikit-learn's activation names (fastnn's own loss scaling)."""
    output, loss = _OUTPUTS[out_activation]
    return Network(layers, activation=_ACTIVATIONS[activation], output=output, loss=loss,
                   dtype=dtype, backend=backend)


def _network_with(coefs, intercepts, net, build):
    """`net` holding scikit-learn's lists coefs/intercepts, or build(layers, dtype) when `net`
    is None or its layers differ; the lists are checked to be matching layers."""
    coefs = [_floats(c) for c in coefs]
    intercepts = [_floats(b).reshape(-1) for b in intercepts]
    layers = [coefs[0].shape[0]] + [c.shape[-1] for c in coefs] if coefs else []
    if (len(coefs) < 1 or len(intercepts) != len(coefs) or any(c.ndim != 2 for c in coefs)
            or any(c.shape != (n_in, n_out) for c, n_in, n_out
                   in zip(coefs, layers[:-1], layers[1:]))
            or any(b.shape != (n,) for b, n in zip(intercepts, layers[1:]))):
        raise ValueError(
            "coefs_ and intercepts_ must be lists of matching layers: W[l] of shape "
            "(n_in, n_out) and b[l] of shape (n_out,); got coefs_ shapes "
            f"{[np.shape(c) for c in coefs]} and intercepts_ shapes "
            f"{[np.shape(b) for b in intercepts]}")
    if net is None or list(net.layers) != layers:
        net = build(layers, np.float32 if all(c.dtype == np.float32 for c in coefs)
                    else np.float64)
    for view, value in zip(net.weights + net.biases, coefs + intercepts):
        view[...] = value
    return net


def _binarized(labels, binarizer, dtype):
    """A block of labels as the classifier's 0/1 target columns (on a dask worker)."""
    return binarizer.transform(labels).astype(dtype)


def _floats(values):
    values = np.asarray(values)
    return values if values.dtype in (np.float32, np.float64) else values.astype(np.float64)


def _are_views(values, views):
    """Whether a coefs_/intercepts_ list still holds the network's own views."""
    return (isinstance(values, list) and len(values) == len(views)
            and all(map(operator.is_, values, views)))


class _BaseMLP(BaseEstimator):
    """The shared maths of both estimators (scikit-learn's BaseMultilayerPerceptron)."""

    _parameter_constraints = {
        **MLP_PARAMETER_CONSTRAINTS,
        "solver": [StrOptions({"lbfgs", "sgd", "adam", *OPTIMIZERS})],
        "activation": [StrOptions(set(_ACTIVATIONS))],
    }

    def __init__(self, hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
                 learning_rate_init, power_t, max_iter, loss, shuffle, random_state, tol,
                 verbose, warm_start, momentum, nesterovs_momentum, early_stopping,
                 validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun):
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    # -- fitted parameters ------------------------------------------------------------------
    # coefs_ and intercepts_ are plain lists, as in scikit-learn, of views into the network's
    # one flat parameter vector. A list or an element assigned by hand (scikit-learn's own
    # tests set weights that way, even before the first partial_fit) is taken in by
    # _network() before the next fit or prediction.

    def _network(self):
        """The network, holding any coefs_/intercepts_ assigned since it last ran."""
        net = self.__dict__.get("_net")
        coefs, intercepts = self.__dict__.get("coefs_"), self.__dict__.get("intercepts_")
        if net is not None and _are_views(coefs, net._weights) and _are_views(intercepts, net._biases):
            return net
        net = _network_with(coefs, intercepts, net, self._build_network)
        self._adopt(net)
        return net

    def _adopt(self, net):
        self._net = net
        self.coefs_, self.intercepts_ = net.weights, net.biases
        self.n_layers_ = len(net.layers)
        self.n_outputs_ = net.n_outputs

    def _build_network(self, layers, dtype):
        if getattr(self, "out_activation_", None) is None:
            self.out_activation_ = self._output()
        return _as_sklearn_loss(_plain_network(self.activation, self.out_activation_, layers,
                                              dtype))

    def save(self, path):
        """Write the fitted estimator to `path` (.npz) atomically, without pickle: the
        parameters, classes_, feature_names_in_, the fitted attributes and the optimizer
        state, so that fastnn.load(path) predicts identically and partial_fit or a
        warm-started fit goes on bit for bit."""
        from ._estimator_files import save_estimator

        save_estimator(self, path)

    def __getstate__(self):
        # the lists are views of the network's vector: pickled once, with the network
        state = super().__getstate__()
        net = state.get("_net")
        if (net is not None and _are_views(state.get("coefs_"), net.weights)
                and _are_views(state.get("intercepts_"), net.biases)):
            state = {k: v for k, v in state.items() if k not in ("coefs_", "intercepts_")}
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "_net" in self.__dict__ and "coefs_" not in self.__dict__:
            self.coefs_, self.intercepts_ = self._net.weights, self._net.biases

    def _packing(self):
        """Indices into the network's params in scikit-learn's packed order (every W[l]
        flattened row by row, then every b[l])."""
        net = self._network()
        index = np.arange(net.n_params)
        return np.concatenate([W.ravel() for W in net._views(index, "weights")]
                              + list(net._views(index, "biases")))

    def _loss_grad_lbfgs(self, packed_coef_inter, X, y, sample_weight, activations=None,
                         deltas=None, coef_grads=None, intercept_grads=None):
        """scikit-learn's hook: (J, dJ/dtheta) at packed parameters theta, in its packed
        order, J = loss + alpha/2 ||W||^2 / sum(sample_weight) as its L-BFGS minimises it.
        The network takes theta (as scikit-learn's estimator does); the work buffers
        scikit-learn passes are not needed."""
        net, order = self._network(), self._packing()
        net.params[order] = packed_coef_inter
        X = _as_rows(X, net)
        Y = np.ascontiguousarray(np.reshape(y, (X.shape[0], -1)), dtype=net.dtype)
        J, grad = self._objective(X, Y, sample_weight)(net.params)
        return J, grad[order]

    def _objective(self, X, Y, sample_weight):
        """scipy's fun(theta) -> (J, grad) over the network's own parameter order."""
        if isinstance(X, DaskBlocks):  # Y and the sample weights are in its blocks
            return X.objective(self._net, self.alpha / X.weight_sum)
        n = X.shape[0]
        weight_sum = n if sample_weight is None else float(np.sum(sample_weight))
        weights = None if sample_weight is None else (
            np.ascontiguousarray(sample_weight, dtype=self._net.dtype) * (n / weight_sum))
        return scipy_objective(self._net, X, Y, self.alpha / weight_sum, weights)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- fitting ----------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None, *, callbacks=None):
        """Fit the model to X and y (see scikit-learn's MLP estimators); sample_weight
        weighs each row's loss as scikit-learn does (solvers sgd, adam and lbfgs).

        callbacks (a fastnn addition; a callable, an object with on_epoch_end, or a list of
        them) are called as on_epoch_end(epoch, logs, estimator) after each epoch (each
        L-BFGS iteration), epoch counted from 0 and logs holding "loss" (and
        "validation_score" with early_stopping); returning True or raising
        fastnn.StopTraining stops the fit there, the weights as they are. In a Pipeline,
        pass them as ``pipeline.fit(X, y, mlp__callbacks=...)``.

        Returns
        -------
        self
        """
        self._validate_params()
        return self._fit(X, y, sample_weight, incremental=False,
                         callbacks=_check_callbacks(callbacks))

    def _check_solver(self):
        """partial_fit means one pass: only for the stochastic solvers."""
        if self.solver in _FULL_BATCH:
            raise AttributeError(f"partial_fit is only available for stochastic optimizers. "
                                 f"{self.solver} is not stochastic.")
        return True

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _output(self):
        raise NotImplementedError

    def _fit(self, X, y, sample_weight, incremental, callbacks=()):
        if is_dask_array(X) or is_dask_array(y):
            if incremental:
                raise TypeError("partial_fit takes in-memory arrays; for dask arrays use fit "
                                "with solver='lbfgs', or dask-ml's Incremental")
            return self._fit_on_cluster(X, y, sample_weight, callbacks)
        hidden = self._hidden_sizes()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
            if self.solver not in _STOCHASTIC + ("lbfgs",):
                raise ValueError(f"sample_weight is supported with solvers sgd, adam and lbfgs, "
                                 f"not {self.solver!r}")
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(X, y, [X.shape[1]] + hidden + [y.shape[1]])
        else:
            self._network()
        # the kernels take C-ordered (or CSR) rows in the model's dtype (kept across warm starts)
        X = _as_rows(X, self._net)
        Y = np.ascontiguousarray(y, dtype=self._net.dtype)
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(sample_weight, dtype=self._net.dtype)
        if self.solver in _STOCHASTIC:
            self._fit_stochastic(X, Y, sample_weight, incremental, callbacks)
        elif self.solver == "lbfgs":
            self._fit_lbfgs(X, Y, sample_weight, callbacks)
        else:
            self._fit_fastnn(X, Y, incremental, callbacks)
        return self._check_finite_weights()

    def _check_finite_weights(self):
        """self, after a fit, unless the weights went non-finite (scikit-learn's error)."""
        if not np.isfinite(self._net.params).all():
            raise ValueError("Solver produced non-finite parameter weights. The input data may"
                             " contain large values and need to be preprocessed.")
        return self

    def _fit_on_cluster(self, X, y, sample_weight, callbacks=()):
        """fit on dask arrays (solver lbfgs, a running distributed.Client): X, y and the
        sample weights are checked and persisted on the workers as row blocks, and each
        L-BFGS evaluation sums the blocks' loss and gradient there (fastnn/dask_blocks.py),
        so the weights are the in-memory fit's up to the summation order. The targets are
        encoded on the workers, with the classes found in one pass over y."""
        if self.solver != "lbfgs":
            raise ValueError(f"dask arrays train with solver='lbfgs' (loss and gradient summed "
                             f"over the blocks on the workers); got solver={self.solver!r}")
        hidden = self._hidden_sizes()
        check_chunks(X, y)
        if sample_weight is not None and not is_dask_array(sample_weight):
            import dask.array as da

            # in memory: scikit-learn's checks, then X's row blocks (DaskBlocks checks a dask one)
            sample_weight = da.from_array(_check_sample_weight(sample_weight, X),
                                          chunks=(X.chunks[0],))
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X must hold real numbers; got dtype {X.dtype}")
        dtype = np.dtype(np.float32 if X.dtype == np.float32 else np.float64)
        first_pass = not hasattr(self, "coefs_") or not self.warm_start
        if not first_pass and X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected. Please "
                          "change the shape of y to (n_samples, ), for example using ravel().",
                          DataConversionWarning, stacklevel=3)
            y = y[:, 0]
        before = dict(self.__dict__)
        try:  # a block the workers refuse leaves the estimator as it was
            if first_pass:
                self.n_features_in_ = X.shape[1]
                self.__dict__.pop("feature_names_in_", None)
            Y = self._cluster_targets(y, first_pass, dtype)
            self._random_state = check_random_state(self.random_state)
            if first_pass:
                self._initialize(np.empty((0, X.shape[1]), dtype), None,
                                 [X.shape[1]] + hidden + [1 if Y.ndim == 1 else Y.shape[1]])
            else:
                self._network()
            blocks = DaskBlocks(self._net, X, Y, sample_weight)
        except Exception:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
        self._fit_lbfgs(blocks, None, None, callbacks)
        return self._check_finite_weights()

    def _initialize(self, X, y, layer_units):
        self.n_iter_ = 0
        self.t_ = 0
        self.out_activation_ = self._output()
        net = self._build_network(layer_units, X.dtype)
        # Glorot-uniform draws in scikit-learn's order: per layer, W then b
        factor = 2.0 if self.activation == "logistic" else 6.0
        for W, b in zip(net.weights, net.biases):
            bound = np.sqrt(factor / (W.shape[0] + W.shape[1]))
            W[...] = self._random_state.uniform(-bound, bound, W.shape)
            b[...] = self._random_state.uniform(-bound, bound, b.shape[0])
        self._adopt(net)
        self._optimizer = None
        if self.solver != "lbfgs":
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _fit_lbfgs(self, X, Y, sample_weight, callbacks=()):
        fun = self._objective(X, Y, sample_weight)
        iterations, stopped = 0, False

        def epoch_end(intermediate_result):  # scipy stops at StopIteration
            nonlocal iterations, stopped
            iterations += 1
            if run_callbacks(callbacks, iterations - 1, {"loss": float(intermediate_result.fun)},
                             self):
                stopped = True
                raise StopIteration

        iprint = 1 if self.verbose is True or self.verbose >= 1 else -1
        options = {"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol}
        if iprint > 0:
            options["iprint"] = iprint
        result = scipy.optimize.minimize(fun, self._net.params.astype(np.float64), jac=True,
                                         method="L-BFGS-B", options=options,
                                         callback=epoch_end if callbacks else None)
        self.n_iter_ = (int(result.nit) if stopped  # a callback's stop is no failure to converge
                        else _check_optimize_result("lbfgs", result, self.max_iter))
        self.loss_ = float(result.fun)
        self._net.params[...] = result.x

    def _make_optimizer(self):
        if self.solver == "sgd":
            return SklearnSGD(lr=self.learning_rate_init, momentum=self.momentum,
                              nesterov=self.nesterovs_momentum)
        return SklearnAdam(lr=self.learning_rate_init, beta_1=self.beta_1, beta_2=self.beta_2,
                           epsilon=self.epsilon)

    def _split(self, X, Y, sample_weight):
        should_stratify = isinstance(self, ClassifierMixin) and self.n_outputs_ == 1
        if isinstance(X, CSRRows):
            X = X.matrix
        arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
        parts = train_test_split(*arrays, random_state=self._random_state,
                                 test_size=self.validation_fraction,
                                 stratify=Y.astype(bool) if should_stratify else None)
        X_train, X_val, Y_train, Y_val = parts[:4]
        w_train, w_val = parts[4:] if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' "
                             "or the size of your dataset.")
        # both parts converted once (the validation rows are scored every epoch)
        return (_as_rows(X_train, self._net), np.ascontiguousarray(Y_train),
                _as_rows(X_val, self._net), Y_val,
                None if w_train is None else np.ascontiguousarray(w_train), w_val)

    def _batch_size(self, n):
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going "
                          "to be clipped")
        return int(np.clip(self.batch_size, 1, n))

    def _fit_stochastic(self, X, Y, sample_weight, incremental, callbacks=()):
        if getattr(self, "_optimizer", None) is None or not incremental:
            self._optimizer = self._make_optimizer()
            self._optimizer.reset(self._net.n_params, self._net.dtype)
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        early_stopping = self.early_stopping
        X_val = Y_val = w_val = None
        if early_stopping:
            X, Y, X_val, Y_val, sample_weight, w_val = self._split(X, Y, sample_weight)
            self._best_params = self._net.params.copy()
        n = X.shape[0]
        rows = self._batch_size(n)
        runner = EpochRunner(self._net, self._optimizer, X, Y, rows, self.alpha, decay_per_row=True,
                             sample_weight=sample_weight, stop_on_divergence=False)
        sample_idx = np.arange(n, dtype=np.intp)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:  # sklearn.utils.shuffle's draw, without its per-call checks
                    permutation = np.arange(n)
                    self._random_state.shuffle(permutation)
                    sample_idx = sample_idx[permutation]
                order = sample_idx.reshape(1, -1) if rows < n else None
                result = runner.run(order, np.array([self._optimizer.lr]))
                losses = result.losses
                self.n_iter_ += 1
                self.loss_ = float(losses[0])
                self.t_ += n
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                self._update_no_improvement_count(early_stopping, X_val, Y_val, w_val)
                if callbacks and run_callbacks(callbacks, self.n_iter_ - 1, {
                        "loss": self.loss_, **({"validation_score": self.validation_scores_[-1]}
                                               if early_stopping else {})}, self):
                    break
                if self.solver == "sgd" and self.learning_rate == "invscaling":
                    self._optimizer.lr = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
                if self._no_improvement_count > self.n_iter_no_change:
                    what = ("Validation score did not improve more than tol=%f for %d consecutive "
                            "epochs." if early_stopping else
                            "Training loss did not improve more than tol=%f for %d consecutive epochs.")
                    if self._trigger_stopping(what % (self.tol, self.n_iter_no_change)):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the "
                                  "optimization hasn't converged yet." % self.max_iter,
                                  ConvergenceWarning)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        if early_stopping:
            self._net.params[...] = self._best_params

    def _trigger_stopping(self, message):
        """scikit-learn's rule: 'adaptive' SGD divides the rate by 5 instead of stopping,
        until it is at most 1e-6."""
        if self.solver != "sgd" or self.learning_rate != "adaptive":
            if self.verbose:
                print(message + " Stopping.")
            return True
        if self._optimizer.lr <= 1e-6:
            if self.verbose:
                print(message + " Learning rate too small. Stopping.")
            return True
        self._optimizer.lr /= 5.0
        if self.verbose:
            print(message + " Setting learning rate to %f" % self._optimizer.lr)
        return False

    def _update_no_improvement_count(self, early_stopping, X_val, Y_val, w_val):
        if early_stopping:
            score = self._validation_score(X_val, self._decode(Y_val), w_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params[...] = self._net.params
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _fit_fastnn(self, X, Y, incremental, callbacks=()):
        """Any other fastnn.optim solver, through Network.fit (one epoch for partial_fit;
        sparse X densified there)."""
        if isinstance(X, CSRRows):
            X = X.matrix.toarray()
        optimizer = get_optimizer(self.solver)
        if isinstance(optimizer, FirstOrder):
            optimizer.lr = self.learning_rate_init
        elif isinstance(optimizer, AWSGD):  # its step follows the estimator's default, adam
            optimizer = AWSGD(step=Adam(lr=self.learning_rate_init, betas=(self.beta_1, self.beta_2),
                                        eps=self.epsilon))
        def epoch_end(epoch, logs, net):  # Network.fit's logs in the estimator's terms
            scores = [v for k, v in logs.items() if k.startswith("val_") and k != "val_loss"]
            return run_callbacks(callbacks, epoch, {"loss": logs["loss"], **(
                {"validation_score": scores[0]} if scores else {})}, self)

        history = self._net.fit(
            X, Y, optimizer=optimizer, epochs=1 if incremental else self.max_iter,
            batch_size=None if self.solver in _FULL_BATCH else self._batch_size(X.shape[0]),
            shuffle=self.shuffle, weight_decay=self.alpha / X.shape[0],
            validation_fraction=self.validation_fraction if self.early_stopping else None,
            early_stopping=self.early_stopping or self.n_iter_no_change < self.max_iter,
            patience=min(self.n_iter_no_change, self.max_iter), min_delta=self.tol,
            seed=self._random_state.randint(np.iinfo(np.int32).max),
            callbacks=[epoch_end] if callbacks else None)
        self.n_iter_ = history.epochs
        self.t_ += history.epochs * X.shape[0]
        self.loss_ = history.loss[-1]
        self.loss_curve_ = list(getattr(self, "loss_curve_", [])) + history.loss
        self.best_loss_ = min(self.loss_curve_)
        if self.early_stopping:
            self.validation_scores_ = history.val_metric
            self.best_validation_score_ = max(history.val_metric)

    # -- prediction -------------------------------------------------------------------------

    def _forward(self, X):
        net = self.__dict__.get("_net")
        if (net is not None and "feature_names_in_" not in self.__dict__
                and _are_views(self.coefs_, net._weights)
                and _are_views(self.intercepts_, net._biases)):
            # a few rows that scikit-learn's checks would pass unchanged: straight to the kernel
            output = net._predict_few(X)
            if output is not None:
                return output
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                          dtype=(np.float64, np.float32))
        return self._network().forward(X if is_sparse(X) else X.astype(self._net.dtype, copy=False))

    def _validation_score(self, X, y, sample_weight):
        """The early-stopping score of the held-out rows, which are already validated (no
        second check, which would warn about feature names): NaN where the model's outputs
        are not finite, as scikit-learn records them."""
        y_pred = self._predictions(self._net.forward(X))
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return float(self._score_function(y, y_pred, sample_weight=sample_weight))


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's MLPClassifier, trained by fastnn.

    The parameters, defaults, fitted attributes and methods are scikit-learn's (see
    sklearn.neural_network.MLPClassifier); with the same random_state, sgd, adam and lbfgs
    retrace scikit-learn's model. `solver` also takes any fastnn.optim name.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastnn import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=100,
    ...                     random_state=0).fit(X / 16, y)
    >>> bool(clf.score(X / 16, y) > 0.95)
    True
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000):
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, activation=activation,
                         solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate=learning_rate, learning_rate_init=learning_rate_init,
                         power_t=power_t, max_iter=max_iter, loss="log_loss", shuffle=shuffle,
                         random_state=random_state, tol=tol, verbose=verbose,
                         warm_start=warm_start, momentum=momentum,
                         nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun)

    def _output(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                self._check_same_classes(classes)
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has "
                                 f"{self.classes_}. 'y' has {classes}.")
        return X, self._label_binarizer.transform(y).astype(bool)

    def _check_same_classes(self, classes):
        if set(classes) != set(self.classes_):
            raise ValueError("warm_start can only be used where `y` has the same classes as in "
                             f"the previous call to fit. Previously got {self.classes_}, `y` has "
                             f"{classes}")

    def _cluster_targets(self, y, first_pass, dtype):
        """y (a 1-D dask array of labels) encoded as the in-memory fit encodes it, block by
        block on the workers."""
        import dask.array as da

        if y.ndim != 1:
            raise ValueError("on dask arrays MLPClassifier takes one label per row (a 1-D y); "
                             "multilabel indicator targets train in memory")
        classes = da.unique(y).compute()
        if first_pass:
            self._label_binarizer = LabelBinarizer().fit(classes)
            self.classes_ = self._label_binarizer.classes_
        else:
            self._check_same_classes(classes)
        binarizer = self._label_binarizer
        columns = len(binarizer.classes_) if binarizer.y_type_ == "multiclass" else 1
        return y.map_blocks(_binarized, binarizer, dtype, new_axis=1,
                            chunks=(y.chunks[0], (columns,)), dtype=dtype)

    def _decode(self, Y):
        return self._label_binarizer.inverse_transform(Y)

    _score_function = staticmethod(accuracy_score)

    def _predictions(self, outputs):
        # LabelBinarizer.inverse_transform's rules (argmax; a 0.5 threshold for two classes),
        # without its input checks, which cost more than a small network's forward pass
        kind, classes = self._label_binarizer.y_type_, self.classes_
        if kind == "multiclass":
            return classes.take(outputs.argmax(axis=1), mode="clip")
        if kind == "binary" and len(classes) == 2:
            return classes.take((outputs.ravel() > 0.5).astype(np.intp))
        if self.n_outputs_ == 1:
            outputs = outputs.ravel()
        return self._label_binarizer.inverse_transform(outputs)

    def predict(self, X):
        """Predicted classes (or label indicators for multi-label targets)."""
        return self._predictions(self._forward(X))

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes)."""
        y_pred = self._forward(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def predict_log_proba(self, X):
        """Logarithm of predict_proba."""
        return np.log(self.predict_proba(X))

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One pass over (X, y); `classes` is required on the first call."""
        self._validate_params()
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's MLPRegressor, trained by fastnn.

    The parameters, defaults, fitted attributes and methods are scikit-learn's (see
    sklearn.neural_network.MLPRegressor; loss 'squared_error', or 'poisson': half the Poisson
    deviance sum_k (y_k log(y_k / a_k) - y_k + a_k) of the exp output a = e^z, for counts);
    with the same random_state,
    sgd, adam and lbfgs retrace scikit-learn's model. `solver` also takes any fastnn.optim name.

    Examples
    --------
    >>> import numpy as np
    >>> from fastnn import MLPRegressor
    >>> X = np.linspace(-1, 1, 200).reshape(-1, 1)
    >>> reg = MLPRegressor(hidden_layer_sizes=(16,), solver="lbfgs", random_state=0).fit(X, X.ravel() ** 2)
    >>> bool(reg.score(X, X.ravel() ** 2) > 0.95)
    True
    """

    _parameter_constraints = {**_BaseMLP._parameter_constraints,
                              "loss": [StrOptions({"squared_error", "poisson"})]}

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000):
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, activation=activation,
                         solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate=learning_rate, learning_rate_init=learning_rate_init,
                         power_t=power_t, max_iter=max_iter, loss=loss, shuffle=shuffle,
                         random_state=random_state, tol=tol, verbose=verbose,
                         warm_start=warm_start, momentum=momentum,
                         nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun)

    def _output(self):
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_target_range(y, self.loss, "y")
        return X, y

    def _cluster_targets(self, y, first_pass, dtype):
        """y (a dask array of numbers) as it is: the workers convert and check its blocks."""
        if y.dtype.kind not in "biuf":
            raise ValueError(f"y must hold numbers (a regressor's targets); got dtype {y.dtype}")
        return y

    def _decode(self, Y):
        return Y.ravel() if Y.shape[1] == 1 else Y

    _score_function = staticmethod(r2_score)

    def _predictions(self, outputs):
        return outputs.ravel() if self.n_outputs_ == 1 else outputs

    def predict(self, X):
        """Predicted values, shape (n_samples,) or (n_samples, n_outputs)."""
        return self._predictions(self._forward(X))

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, sample_weight=None):
        """One pass over (X, y)."""
        self._validate_params()
        return self._fit(X, y, sample_weight, incremental=True)

