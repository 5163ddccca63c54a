"""The `fastnn` command line.

    fastnn train     train a network (digits shipped with scikit-learn, or a CSV/NPZ file)
    fastnn predict   write a saved model's predictions for a data file
    fastnn bench     time fastnn against the NumPy baseline and the usual alternatives

Errors print one line and exit with status 2.
"""
import argparse
import sys
import time


class CommandError(Exception):
    """A problem the user can fix: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (the usage block is one --help away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text):
    import numpy as np

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _widths(text):
    try:
        widths = [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected widths like 64 or 64,32, got {text!r}") from None
    if any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"widths must be positive, got {text!r}")
    return widths


def build_parser():
    from .activations import HIDDEN_ACTIVATIONS
    from .network import DTYPES
    from .optim import OPTIMIZERS

    from . import __version__

    parser = _Parser(prog="fastnn", description="Fast multilayer perceptrons on the CPU.")
    parser.add_argument("--version", action="version", version=f"fastnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train", help="train a network and report its scores",
        description="Train a network on scikit-learn's digits (8x8 images, 10 classes; no "
                    "download) or on a CSV/NPZ file, then print train and test scores (accuracy "
                    "for classes, R^2 for numbers) and the training time.")
    train.add_argument("--data", help="CSV (header row, numeric columns) or NPZ (arrays X and y)")
    train.add_argument("--target", help="CSV column to predict (default: the last)")
    train.add_argument("--task", choices=["auto", "classification", "regression"], default="auto",
                       help="auto: classification when the target holds at most 20 integer values")
    train.add_argument("--hidden", type=_widths, default=[64], help="hidden widths, e.g. 64,32 (default 64)")
    train.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="relu")
    train.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="sgd",
                       help="default sgd with momentum 0.9")
    train.add_argument("--lr", type=_positive_float, default=None,
                       help="learning rate (default 0.1 for sgd, else the optimizer's own)")
    train.add_argument("--epochs", type=_positive_int, default=30)
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument("--test-fraction", type=float, default=0.25)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--backend", choices=["auto", "cython", "numpy"], default="auto")
    train.add_argument("--dtype", choices=DTYPES, default="float64")
    train.add_argument("--save", metavar="PATH", help="write the trained model (.npz)")
    train.add_argument("--plot", metavar="PATH", help="write the loss curve (PNG; needs matplotlib)")
    train.add_argument("--no-progress", dest="progress", action="store_false",
                       help="hide the progress bar")

    predict = commands.add_parser("predict", help="predict with a saved model",
                                  description="Write MODEL's outputs for the rows of DATA.")
    predict.add_argument("model", help="a model written by `fastnn train --save`")
    predict.add_argument("data", help="CSV (header row, the model's input columns) or NPY/NPZ")
    predict.add_argument("--output", "-o", default="-",
                         help="CSV or .npy file (default: CSV on standard output)")

    bench = commands.add_parser(
        "bench", help="time fastnn against the NumPy baseline and the alternatives",
        description="Run the tiny, small, medium and large workloads, every contender in a "
                    "worker process of its own, interleaved after a warm-up, with the process "
                    "pinned to --cores cores and every contender given that many threads; "
                    "print one table.")
    bench.add_argument("--quick", action="store_true", help="smaller sizes: under a minute on 2 cores")
    bench.add_argument("--cores", "--threads", dest="cores", type=_positive_int, default=None,
                       help="pin to this many cores and give every contender as many threads "
                            "(default: every core this process may use)")
    bench.add_argument("--workloads", default="tiny,small,medium,large",
                       help="comma-separated subset of tiny,small,medium,large")
    bench.add_argument("--batches", default="32", help="medium's batch sizes, e.g. 32,256")
    bench.add_argument("--rounds", type=_positive_int, default=None,
                       help="timed rounds per contender (default 5, --quick 3)")
    bench.add_argument("--json", metavar="PATH", help="write every figure with the machine and versions")
    bench.add_argument("--plot", metavar="PATH", help="bar chart of the speed-ups (PNG; needs matplotlib)")
    return parser


# -- data -----------------------------------------------------------------------------------

def _read_csv(path, target=None, has_target=True):
    """(X, y) from a CSV with a header row: y is the `target` column (default the last), or
    None without a target."""
    import numpy as np

    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # a BOM is no name
            header = [name.strip() for name in handle.readline().strip().split(",")]
            data = np.loadtxt(handle, delimiter=",", ndmin=2)
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CommandError(f"{path}: cannot parse as numeric CSV ({exc})") from None
    if data.shape[0] == 0:
        raise CommandError(f"{path}: no data rows")
    if data.shape[1] != len(header):
        raise CommandError(f"{path}: {data.shape[1]} columns of data but {len(header)} names in the header")
    if not has_target:
        return data, None
    if target is not None and target not in header:
        raise CommandError(f"{path}: no column {target!r}; columns are {', '.join(header)}")
    column = header.index(target) if target is not None else len(header) - 1
    return np.delete(data, column, axis=1), data[:, column]


def _load_training_data(args):
    """(X, y, source) from the digits set, an NPZ (arrays X and y) or a CSV."""
    import numpy as np

    if args.data is None:
        from sklearn.datasets import load_digits
        digits = load_digits()
        return digits.data / 16.0, digits.target, "digits"
    if args.data.endswith(".npz"):
        arrays = _read_arrays(args.data, ("X", "y"))
        return arrays["X"], arrays["y"], args.data
    X, y = _read_csv(args.data, args.target)
    return X, y, args.data


def _read_arrays(path, names):
    """The arrays `names` of an .npz file (or the one array of an .npy, as names[0]); any
    fault of the file is a one-line CommandError."""
    import zipfile

    import numpy as np

    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            return {names[0]: data}
        with data:
            missing = [name for name in names if name not in data.files]
            if missing:
                raise CommandError(f"{path}: an NPZ needs arrays {', '.join(map(repr, names))}; "
                                   f"it has {', '.join(map(repr, data.files)) or 'none'}")
            return {name: data[name] for name in names}
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except EOFError:
        raise CommandError(f"{path}: the file is empty or cut short") from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise CommandError(f"{path}: cannot read it as NumPy data ({exc})") from None


def _task(args, y):
    import numpy as np

    if args.task != "auto":
        return args.task
    integral = np.all(np.mod(y, 1) == 0)
    return "classification" if integral and np.unique(y).size <= 20 else "regression"


# -- commands -------------------------------------------------------------------------------

def train(args):
    import numpy as np
    from sklearn.model_selection import train_test_split

    from .network import Network
    from .optim import AWSGD, SGD, FirstOrder, get_optimizer

    if not 0 < args.test_fraction < 1:
        raise CommandError(f"--test-fraction must lie in (0, 1), got {args.test_fraction}")
    for path in (args.save, args.plot):  # before any training: nothing is lost to a bad path
        if path:
            _check_output_path(path)
    if args.plot:
        _need_matplotlib()
    X, y, source = _load_training_data(args)
    X = np.asarray(X, dtype=args.dtype)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[0] < 2:
        raise CommandError(f"{source}: X must be a table of at least 2 rows; got shape {X.shape}")
    if y.ndim != 1 or len(y) != len(X):
        raise CommandError(f"{source}: expected one target value per row")
    task = _task(args, y)
    classes = None
    if task == "classification":
        classes, labels = np.unique(y, return_inverse=True)
        Y = np.eye(len(classes), dtype=args.dtype)[labels]
    else:
        Y = y.astype(args.dtype).reshape(-1, 1)
    X_train, X_test, Y_train, Y_test = train_test_split(
        X, Y, test_size=args.test_fraction, random_state=args.seed,
        stratify=Y.argmax(axis=1) if task == "classification" else None)
    output, loss = ("softmax", "cross_entropy") if task == "classification" else ("identity", "mse")
    net = Network([X.shape[1], *args.hidden, Y.shape[1]], activation=args.activation, output=output,
                  loss=loss, init="he_normal" if args.activation == "relu" else "glorot_uniform",
                  dtype=args.dtype, backend=args.backend, seed=args.seed)
    if args.optimizer == "sgd":
        optimizer = SGD(lr=args.lr or 0.1, momentum=0.9)
    else:
        optimizer = get_optimizer(args.optimizer)
        if args.lr is not None:
            rule = optimizer.step if isinstance(optimizer, AWSGD) else optimizer
            if not isinstance(rule, FirstOrder):
                raise CommandError(f"--lr does not apply to {args.optimizer}")
            rule.lr = args.lr
    print(f"{source}: {len(X_train)} training and {len(X_test)} test samples, {task}; network "
          f"{'-'.join(map(str, net.layers))} {args.activation}/{output}, {args.optimizer}, "
          f"{net.backend} backend, {args.dtype}")
    start = time.perf_counter()
    history = net.fit(X_train, Y_train, optimizer=optimizer, epochs=args.epochs,
                      batch_size=args.batch_size, seed=args.seed, progress=args.progress)
    seconds = time.perf_counter() - start
    if not history.loss:
        raise KeyboardInterrupt
    print(f"final training loss: {history.loss[-1]:.4f}")
    for name, X_part, Y_part in (("train", X_train, Y_train), ("test", X_test, Y_test)):
        if task == "classification":
            score = np.mean(net.predict(X_part).argmax(axis=1) == Y_part.argmax(axis=1))
            print(f"{name} accuracy: {100 * score:.2f}%")
        else:
            residual = ((Y_part - net.predict(X_part)) ** 2).sum()
            print(f"{name} R^2: {1 - residual / max(((Y_part - Y_part.mean()) ** 2).sum(), 1e-300):.4f}")
    print(f"training time: {seconds:.2f} s ({history.epochs} epochs)")
    if history.stop_reason == "interrupted":
        print("training interrupted: the scores are those of the best weights seen", file=sys.stderr)
    if args.save:
        net.save(args.save)
        print(f"model written to {args.save}")
    if args.plot:
        _plot_loss(args.plot, history)
        print(f"loss curve written to {args.plot}")
    return 130 if history.stop_reason == "interrupted" else 0


def _plot_loss(path, history):
    import numpy as np

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CommandError('--plot needs matplotlib: pip install ".[plot]" from the fastnn '
                           "checkout, or pip install matplotlib") from None
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(np.arange(1, history.epochs + 1), history.loss, label="training loss")
    axes.set_xlabel("epoch")
    axes.set_ylabel("J")
    axes.set_yscale("log")
    axes.legend()
    figure.tight_layout()
    from ._files import write_atomically
    write_atomically(path, lambda handle: figure.savefig(handle, format=_image_format(path)))
    plt.close(figure)


def predict(args):
    import numpy as np

    from .io import load

    net = load(args.model)
    if args.data.endswith((".npy", ".npz")):
        X = _read_arrays(args.data, ("X",))["X"]
    else:
        X, _ = _read_csv(args.data, has_target=False)
    if X.ndim == 1:
        raise CommandError(f"{args.data}: a 1-D array of {X.shape[0]} values; predict needs rows "
                           f"of {net.n_inputs} features, shape (n_rows, {net.n_inputs}) (one row: "
                           f"(1, {net.n_inputs}))")
    if X.ndim != 2 or X.shape[1] != net.n_inputs:
        raise CommandError(f"{args.data}: {X.shape[-1] if X.ndim else 0} columns, the model expects "
                           f"{net.n_inputs}")
    outputs = net.predict(X)
    if args.output.endswith(".npy"):
        np.save(args.output, outputs)
    else:
        target = sys.stdout if args.output == "-" else open(args.output, "w")
        try:
            np.savetxt(target, outputs, delimiter=",", fmt="%.10g",
                       header=",".join(f"output_{k}" for k in range(outputs.shape[1])), comments="")
        finally:
            if target is not sys.stdout:
                target.close()
    return 0


def bench(args):
    from . import benchmark

    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = sorted(set(workloads) - set(benchmark.WORKLOADS))
    if unknown or not workloads:
        raise CommandError(f"unknown workload {', '.join(unknown) or repr(args.workloads)}; "
                           "choose from tiny, small, medium, large")
    try:
        batches = [int(b) for b in args.batches.split(",") if b.strip()]
    except ValueError:
        batches = []
    if not batches or min(batches) < 1:
        raise CommandError(f"--batches takes positive integers like 32,256; got {args.batches!r}")
    for path in (args.json, args.plot):
        if path:
            _check_output_path(path)
    if args.plot:
        _need_matplotlib()
    rows, environment = benchmark.run(quick=args.quick, cores=args.cores, workloads=workloads,
                                      batches=batches, rounds=args.rounds,
                                      log=lambda line: print(line, file=sys.stderr))
    blas = "; ".join(f"{b['library']} {b['version']} {b['architecture']} ({b['used_by']})"
                     for b in environment["blas"])
    print(f"fastnn bench{' --quick' if args.quick else ''}: {environment['cpu']}, "
          f"{environment['threads']} of {environment['cpu_count']} cores pinned "
          f"({environment['threads']} threads per contender), kernels {environment['kernels']}; "
          f"BLAS {blas}")
    print(benchmark.table(rows, environment))
    if args.json:
        benchmark.write_json(args.json, rows, environment, args.quick)
        print(f"figures written to {args.json}")
    if args.plot:
        benchmark.plot(args.plot, rows, environment)
        print(f"chart written to {args.plot}")
    return 0


def _need_matplotlib():
    import importlib.util
    if importlib.util.find_spec("matplotlib") is None:
        raise CommandError('--plot needs matplotlib: pip install ".[plot]" from the fastnn '
                           "checkout, or pip install matplotlib")


def _image_format(path):
    """The image format a chart's file name asks for (png when it names none)."""
    import os
    return os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"


def _check_output_path(path):
    """Refuse, before any work, a path that cannot be written as a regular file (a FIFO, a
    device, a directory, a missing or read-only folder)."""
    from ._files import target_of

    try:
        target_of(path)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def main(argv=None):
    """Entry point of the `fastnn` console script; returns the exit status: 0, 2 for an
    error (one line on standard error), 130 when Ctrl-C stopped it (at any point: a training
    so stopped keeps, and saves with --save, its best weights first)."""
    command = "fastnn"
    try:
        args = build_parser().parse_args(argv)
        command = f"fastnn {args.command}"
        return {"train": train, "predict": predict, "bench": bench}[args.command](args)
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except (CommandError, ValueError, TypeError, OSError, ImportError, MemoryError,
            RecursionError, OverflowError, IndexError, KeyError, RuntimeError) as exc:
        print(f"{command}: error: {exc}", file=sys.stderr)
        return 2
