"""`fastnn train` and `fastnn predict`: a table in, a scikit-learn Pipeline of preprocessing
and a drop-in MLP trained and saved (fastnn/table_model.py), predictions out by name."""
import sys
import time
import warnings

import numpy as np

from .cli import CommandError, _check_output_path, _need_matplotlib

#: the loss may grow this many times over its best before the run is called diverging
_BLOW_UP = 100.0


def _note(text):
    print(f"note: {text}", file=sys.stderr)


def _listed(names, limit=6):
    names = [repr(n) for n in names]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


# -- train ----------------------------------------------------------------------------------

def _training_table(args, notes):
    """(frame, source): the --data table, or scikit-learn's digits."""
    from .tables import read_table

    if args.data is None:
        from sklearn.datasets import load_digits
        return load_digits(as_frame=True).frame, "digits"
    return read_table(args.data, args.delimiter, args.header, notes), args.data


def _missing(frame):
    """Missing values per column, for the columns that have any."""
    counts = frame.isna().sum()
    return counts[counts > 0]


def _refuse_missing(X, y, impute, source):
    if y.isna().any():
        raise CommandError(f"{source}: the target column {y.name!r} has {int(y.isna().sum())} "
                           "missing values; remove those rows (a target is not imputed)")
    counts = _missing(X)
    if len(counts) and impute is None:
        raise CommandError(f"{source}: {int(counts.sum())} missing values in {len(counts)} "
                           f"column(s) ({_listed(counts.index)}); fill them with --impute "
                           "mean|median|most_frequent, or remove those rows")


def _split(X, y, fraction, seed, stratify, what):
    from sklearn.model_selection import train_test_split

    if stratify:
        counts = y.value_counts()
        rare = counts[counts < 2]
        if len(rare):
            raise CommandError(f"class {rare.index[0]!r} of {y.name!r} has only one row; the "
                               f"stratified {what} split needs two per class (or --task regression)")
    try:
        return train_test_split(X, y, test_size=fraction, random_state=seed,
                                stratify=y if stratify else None)
    except ValueError as exc:
        raise CommandError(f"cannot split off the {what} rows: {exc}") from None


def _estimator(args, task):
    from .sklearn import _SKLEARN_ACTIVATIONS, MLPClassifier, MLPRegressor

    # the drop-ins know scikit-learn's four by its names (sigmoid as "logistic")
    sklearn_names = {fastnn: sklearn for sklearn, fastnn in _SKLEARN_ACTIVATIONS.items()}
    cls = MLPClassifier if task == "classification" else MLPRegressor
    estimator = cls(hidden_layer_sizes=tuple(args.hidden), activation=sklearn_names.get(args.activation, args.activation),
                    solver=args.optimizer, alpha=args.alpha, batch_size=args.batch_size or "auto",
                    learning_rate_init=args.lr or 0.001, max_iter=args.epochs,
                    random_state=args.seed)
    if args.lr is not None and _rate_rule(estimator) is None:
        raise CommandError(f"--lr does not apply to {args.optimizer}")
    return estimator


def _rate_rule(estimator):
    """The first-order update rule the estimator's learning_rate_init drives (scikit-learn's
    own for sgd and adam, AWSGD's inner step), or None for solvers without a rate."""
    from .optim import AWSGD, FirstOrder, get_optimizer

    if estimator.solver in ("sgd", "adam"):
        return estimator._make_optimizer()
    rule = None if estimator.solver == "lbfgs" else get_optimizer(estimator.solver)
    rule = rule.step if isinstance(rule, AWSGD) else rule
    return rule if isinstance(rule, FirstOrder) else None


class _EpochReport:
    """The drop-in's epoch callback: the validation loss and score, the progress bar, and a
    warning (then a stop, when it is no longer finite) when the loss blows up."""

    def __init__(self, bar, validation, task):
        self.bar, self.validation, self.task = bar, validation, task
        self.loss, self.val_loss, self.val_score = [], [], []
        self.warned, self.diverged = False, None

    def on_epoch_end(self, epoch, logs, estimator):
        from sklearn.metrics import accuracy_score, log_loss, r2_score

        loss = logs["loss"]
        self.loss.append(loss)
        shown = {"loss": f"{loss:.4g}"}
        if self.validation is not None:  # one forward pass gives the loss and the score
            X_val, y_val = self.validation
            if self.task == "classification":
                proba = estimator.predict_proba(X_val)
                finite = np.isfinite(proba).all()
                value = log_loss(y_val, proba, labels=estimator.classes_) if finite else np.nan
                # predict's rule: the most probable class (0.5 threshold for two, ties to the first)
                score = accuracy_score(y_val, estimator.classes_[proba.argmax(axis=1)]) if finite else np.nan
            else:  # scikit-learn's squared-error loss, in the standardized target's units
                predicted = estimator.predict(X_val)
                value = 0.5 * float(np.mean((predicted - y_val) ** 2))
                score = r2_score(y_val, predicted) if np.isfinite(value) else np.nan
            self.val_loss.append(value)
            self.val_score.append(score)
            shown.update(val_loss=f"{value:.4g}", **{
                "val_acc" if self.task == "classification" else "val_r2": f"{self.val_score[-1]:.4g}"})
        self.bar.update(1)
        self.bar.set_postfix(shown, refresh=False)
        if not np.isfinite(loss):
            self.diverged = epoch + 1
            return True  # the drop-in then refuses the non-finite weights
        best = min(self.loss)
        if not self.warned and loss > _BLOW_UP * best:
            self.warned = True
            self.bar.write(f"warning: the training loss grew from {best:.4g} to {loss:.4g} by "
                           f"epoch {epoch + 1}: training is diverging (try a smaller --lr)",
                           file=sys.stderr)
        return False


def _fit(estimator, X, y, report):
    """Fit with the report; (stopped by Ctrl-C, reached the epoch limit)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, y, callbacks=report)
    interrupted = limit = False
    for warning in caught:
        message = str(warning.message)
        if message.startswith("Training interrupted by user"):
            interrupted = True
        elif issubclass(warning.category, ConvergenceWarning):
            limit = True
        else:
            print(f"warning: {message}", file=sys.stderr)
    return interrupted, limit


def _find_rate(args, estimator, X, y, classes):
    """--lr-find: the range test on the estimator's network (same layers, activations,
    initial-weight seed and update rule), its suggestion becoming learning_rate_init."""
    from sklearn.preprocessing import LabelBinarizer

    from .lr_finder import lr_find
    from .sklearn import _as_sklearn_loss, _plain_network

    if args.lr is not None:
        raise CommandError("--lr-find chooses the learning rate: leave out --lr")
    rule = _rate_rule(estimator)
    if rule is None:
        raise CommandError(f"--lr-find needs an optimizer with a learning rate, not {args.optimizer}")
    X = X.toarray() if hasattr(X, "toarray") else X
    Y = (LabelBinarizer().fit_transform(y) if classes else y.reshape(-1, 1)).astype(X.dtype)
    out = "identity" if not classes else "softmax" if Y.shape[1] > 1 else "logistic"
    net = _as_sklearn_loss(_plain_network(estimator.activation, out,
                                          [X.shape[1], *args.hidden, Y.shape[1]], X.dtype))
    net.initialize(args.seed)
    result = lr_find(net, X, Y, optimizer=rule, batch_size=estimator._batch_size(len(X)),
                     seed=args.seed)
    if result.suggestion is None:
        print("learning-rate range test: the loss never fell; keeping lr "
              f"{estimator.learning_rate_init:g}")
        return
    estimator.learning_rate_init = result.suggestion
    print(f"learning-rate range test: {len(result.lrs)} batches from lr {result.lrs[0]:.3g} to "
          f"{result.lrs[-1]:.3g}{' (stopped: the loss diverged)' if result.diverged else ''}; "
          f"suggested lr {result.suggestion:.3g}, used")


def _score_text(task, score):
    return f"{100 * score:.2f}%" if task == "classification" else f"{score:.4f}"


def train(args):
    """`fastnn train`: returns the exit status (130 when Ctrl-C stopped the training)."""
    from sklearn.preprocessing import StandardScaler
    from tqdm.auto import tqdm

    from .table_model import (assemble, column_kinds, decide_task, holds_numbers, make_columns,
                              preprocessor, save_table_model)

    for path in (args.save, args.plot):  # before any work: nothing is lost to a bad path
        if path:
            _check_output_path(path)
    if args.plot:
        _need_matplotlib()
    notes = []
    frame, source = _training_table(args, notes)
    for line in notes:
        _note(line)
    target = args.target if args.target is not None else frame.columns[-1]
    if target not in frame.columns:
        raise CommandError(f"{source}: no column {target!r}; columns are {_listed(frame.columns, 12)}")
    X, y = frame.drop(columns=[target]), frame[target]
    if X.shape[1] == 0:
        raise CommandError(f"{source}: no columns to learn from besides the target {target!r}")
    if len(frame) < 4:
        raise CommandError(f"{source}: {len(frame)} rows; training and testing need at least 4")
    _refuse_missing(X, y, args.impute, source)
    if args.task == "auto":
        task, why = decide_task(y)
    else:
        task, why = args.task, "--task"
    if task == "regression" and not holds_numbers(y):
        raise CommandError(f"{source}: the target {target!r} holds {y.dtype} values, not numbers; "
                           "regression needs numbers (--task classification)")
    classes = task == "classification"
    X_train, X_test, y_train, y_test = _split(X, y, args.test_fraction, args.seed, classes, "test")
    X_val = y_val = None
    if args.validation_fraction:
        X_train, X_val, y_train, y_val = _split(X_train, y_train, args.validation_fraction,
                                                args.seed, classes, "validation")
    numeric, categorical = column_kinds(X)
    estimator = _estimator(args, task)

    started = time.perf_counter()
    columns = make_columns(numeric, categorical, args.impute).fit(X_train)
    features = preprocessor(columns, args.dtype).transform  # the network's input, as the model makes it
    target_scaler = None
    if not classes:  # the network learns the standardized target
        target_scaler = StandardScaler().fit(y_train.to_numpy(np.float64).reshape(-1, 1))

    def targets(part):
        if target_scaler is None:
            return part.to_numpy()
        return target_scaler.transform(part.to_numpy(np.float64).reshape(-1, 1)).ravel()

    y_fit = targets(y_train)
    validation = None if X_val is None else (features(X_val), targets(y_val))
    X_fit = features(X_train)
    widths = "-".join(map(str, [X_fit.shape[1], *args.hidden,
                                y.nunique() if classes and y.nunique() > 2 else 1]))
    encoded = X_fit.shape[1] - len(numeric)
    print(f"{source}: {len(X_train)} training{f', {len(X_val)} validation' if X_val is not None else ''} "
          f"and {len(X_test)} test rows; {len(numeric)} numeric columns (standardized)"
          f"{f', {len(categorical)} categorical ({encoded} one-hot features)' if categorical else ''}; "
          f"{task} of {target!r} ({why})")
    if args.lr_find:
        _find_rate(args, estimator, X_fit, y_fit, classes)
    print(f"network {widths} {args.activation}/{'identity' if not classes else 'softmax' if y.nunique() > 2 else 'logistic'}, "
          f"{args.optimizer}"
          f"{'' if args.optimizer == 'lbfgs' else f' lr {estimator.learning_rate_init:g}'}, "
          f"{'batch ' + str(estimator._batch_size(len(X_train))) + ', ' if args.optimizer != 'lbfgs' else ''}"
          f"at most {args.epochs} epochs, {args.dtype}")
    with tqdm(total=args.epochs, desc="training", unit="epoch", disable=not args.progress,
              file=sys.stderr) as bar:
        report = _EpochReport(bar, validation, task)
        try:
            interrupted, limit = _fit(estimator, X_fit, y_fit, report)
        except ValueError:
            if not report.warned and not report.diverged:
                raise
            report.diverged = report.diverged or len(report.loss)
    seconds = time.perf_counter() - started
    if report.diverged or (report.loss and report.loss[-1] > _BLOW_UP * min(report.loss)):
        raise CommandError(f"training diverged: the loss went from {min(report.loss):.4g} to "
                           f"{report.loss[-1]:.4g} by epoch {len(report.loss)}; nothing was "
                           "saved (try a smaller --lr)")
    model = assemble(columns, estimator, target_scaler, args.dtype)
    how = ("stopped by Ctrl-C" if interrupted else
           "reached --epochs before converging" if limit else
           f"of at most {args.epochs}: converged" if args.optimizer == "lbfgs" else
           f"of at most {args.epochs}: the loss improved by less than {estimator.tol:g} "
           f"for {estimator.n_iter_no_change} epochs")
    print(f"epochs: {estimator.n_iter_} ({how})")
    print(f"training loss: {estimator.loss_:.4g}")
    metric = "accuracy" if classes else "R^2"
    if report.val_loss:
        best = int(np.nanargmax(report.val_score)) if np.isfinite(report.val_score).any() else 0
        print(f"validation loss: {report.val_loss[-1]:.4g}, validation {metric}: "
              f"{_score_text(task, report.val_score[-1])} (best {_score_text(task, report.val_score[best])} "
              f"at epoch {best + 1})")
    for name, X_part, y_part in (("train", X_train, y_train), ("test", X_test, y_test)):
        print(f"{name} {metric}: {_score_text(task, model.score(X_part, y_part))}")
    print(f"training time: {seconds:.2f} s")
    if interrupted:
        print("training interrupted: the model is the one reached at that point", file=sys.stderr)
    if args.save:
        save_table_model(model, args.save, target)
        print(f"model written to {args.save}")
    if args.plot:
        _plot_curves(args.plot, report, task, f"{source}: {widths} {args.activation}, {args.optimizer}")
        print(f"curves written to {args.plot}")
    return 130 if interrupted else 0


def _plot_curves(path, report, task, title):
    from matplotlib.ticker import MaxNLocator

    from ._plotting import pyplot, save

    plt = pyplot()

    epochs = np.arange(1, len(report.loss) + 1)
    with_validation = bool(report.val_loss)
    figure, axes = plt.subplots(1, 2 if with_validation else 1, figsize=(11 if with_validation else 6, 4),
                                squeeze=False)
    loss_axes = axes[0, 0]
    loss_axes.plot(epochs, report.loss, label="training loss")
    if with_validation:
        loss_axes.plot(epochs, report.val_loss, label="validation loss")
        score_axes = axes[0, 1]
        score_axes.plot(epochs, report.val_score, color="C2",
                        label="validation accuracy" if task == "classification" else "validation R^2")
        score_axes.set_title("validation score")
        score_axes.set_xlabel("epoch")
        score_axes.set_ylabel("accuracy" if task == "classification" else "R^2")
        score_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        score_axes.legend()
    loss_axes.set_title("loss per epoch")
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("log loss" if task == "classification" else "squared error / 2 (standardized)")
    values = [v for v in report.loss + report.val_loss if np.isfinite(v)]
    if values and min(values) > 0 and max(values) > 10 * min(values):  # decades apart
        loss_axes.set_yscale("log")
    loss_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss_axes.legend()
    figure.suptitle(f"fastnn train: {title}")
    figure.tight_layout()
    save(figure, path)
    plt.close(figure)


# -- predict --------------------------------------------------------------------------------

def _matched(frame, features, target, source):
    """The model's columns of `frame` in the model's order: by name, or for a table without
    names (headerless text, NumPy) of the model's width, by position."""
    missing = [name for name in features if name not in frame.columns]
    unnamed = all(str(c).startswith("column_") for c in frame.columns) or \
        list(frame.columns) == [f"x{j}" for j in range(frame.shape[1])]
    if missing and unnamed and frame.shape[1] == len(features):
        _note(f"{source}: the columns have no names; read in the model's order "
              f"({_listed(features, 4)})")
        return frame.set_axis(features, axis=1)
    if missing:
        raise CommandError(f"{source}: missing column(s) {_listed(missing)}; the model reads "
                           f"{len(features)} columns: {_listed(features)}")
    ignored = [c for c in frame.columns if c not in features and c != target]
    if ignored:
        _note(f"{source}: ignored column(s) the model does not read: {_listed(ignored)}")
    return frame[features]


def _check_values(model, X, source):
    """Missing values (when the model imputes none) and text in numeric columns, named."""
    from .table_model import holds_numbers, parts

    columns = parts(model)[0]
    for name, part, names in columns.transformers_:
        if name not in ("numeric", "categorical"):
            continue
        counts = _missing(X[names])
        if len(counts) and "impute" not in part.named_steps:
            raise CommandError(f"{source}: {int(counts.sum())} missing values in column(s) "
                               f"{_listed(counts.index)}; the model was trained without --impute")
        if name == "numeric":
            for column in names:
                if not holds_numbers(X[column]):
                    raise CommandError(f"{source}: column {column!r} holds {X[column].dtype} "
                                       "values; the model reads numbers there")


def predict(args):
    """`fastnn predict`: returns the exit status."""
    from .io import load_with_header
    from .tables import output_format, read_table

    model, header = load_with_header(args.model)
    if args.output != "-":
        output_format(args.output)
        _check_output_path(args.output)
    notes = []
    frame = read_table(args.data, args.delimiter, args.header, notes)
    for line in notes:
        _note(line)
    if "table" not in header:
        return _predict_arrays(model, frame, args)
    from .table_model import feature_names

    target = header["table"]["target"]["name"]
    classes = getattr(model, "classes_", None)
    if args.proba and classes is None:
        raise CommandError(f"--proba needs a classifier; {args.model} predicts {target!r} by regression")
    X = _matched(frame, feature_names(model), target, args.data)
    _check_values(model, X, args.data)
    _write_predictions(model, X, target, args)
    return 0


def _write_predictions(model, X, name, args):
    """The predicted labels (or values) in a column `name`; with --proba one probability
    column per class, named by its label (a .npy file then holds the probabilities)."""
    import pandas as pd

    from .tables import write_table

    predictions = model.predict(X)
    out = pd.DataFrame({name: list(predictions) if predictions.ndim > 1 else predictions})
    proba = None
    if args.proba:
        proba = model.predict_proba(X)
        for k, label in enumerate(model.classes_):
            out[str(label)] = proba[:, k]
    write_table(out, args.output, array=predictions if proba is None else proba)


def _predict_arrays(model, frame, args):
    """A network or drop-in file (no table part): the rows are numbers in the model's order."""
    import pandas as pd

    from .network import Network
    from .tables import write_table

    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        raise CommandError(f"{args.data}: column {text[0]!r} is not numeric; this model reads "
                           "numbers only (a model saved by `fastnn train` reads tables)")
    X = frame.to_numpy(dtype=np.float64)
    width = model.n_inputs if isinstance(model, Network) else model.n_features_in_
    if X.shape[1] != width:
        raise CommandError(f"{args.data}: {X.shape[1]} columns, the model expects {width}")
    if isinstance(model, Network):
        if args.proba:
            raise CommandError("--proba needs a classifier; this file holds a bare network")
        outputs = model.predict(X)
        write_table(pd.DataFrame(outputs, columns=[f"output_{k}" for k in range(outputs.shape[1])]),
                    args.output, array=outputs)
        return 0
    if args.proba and not hasattr(model, "predict_proba"):
        raise CommandError("--proba needs a classifier; this file holds a regressor")
    _write_predictions(model, X, "prediction", args)
    return 0
