"""The `fastnn` command line.

    fastnn train     train a network on a table (CSV and the like, Parquet, NPZ) or digits
    fastnn predict   write a saved model's predictions for a table, matched by column name
    fastnn bench     time fastnn against the NumPy baseline and the usual alternatives

Errors print one line and exit with status 2.
"""
import argparse
import contextlib
import math
import sys


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


def _number(what, accept):
    """An argparse type: a finite number for which accept(value) holds, else 'must be <what>'."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not accept(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value
    return parse


_positive_float = _number("a positive number", lambda value: value > 0)
_non_negative_float = _number("a number >= 0", lambda value: value >= 0)
_fraction = _number("a number in (0, 1)", lambda value: 0 < value < 1)


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
    from .table_model import IMPUTE

    from . import __version__

    parser = _Parser(prog="fastnn", description="Fast multilayer perceptrons on the CPU.")
    parser.add_argument("--version", action="version", version=f"fastnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train", help="train a network on a table and report its scores",
        description="Train a network on a table (CSV, TSV or other delimited text, compressed "
                    "or not, Parquet, or NPZ with arrays X and y) or, without --data, on "
                    "scikit-learn's digits (no download). Numeric columns are standardized, "
                    "text columns one-hot encoded, class labels kept; the defaults are "
                    "scikit-learn's MLP's. Prints train and test scores (accuracy for "
                    "classes, R^2 for numbers) and the training time.")
    data = train.add_argument_group("data")
    data.add_argument("--data", metavar="FILE", help=".csv .tsv .txt (.gz .bz2 .xz .zip), "
                      ".parquet (needs pyarrow) or .npz (arrays X and y)")
    data.add_argument("--target", help="the column to predict (default: the last)")
    data.add_argument("--task", choices=["auto", "classification", "regression"], default="auto",
                      help="auto: as scikit-learn's type_of_target, except whole numbers with "
                           "many distinct values on few rows each, which are a quantity")
    data.add_argument("--delimiter", help="field delimiter (default: sniffed among , ; tab |)")
    header = data.add_mutually_exclusive_group()
    header.add_argument("--header", dest="header", action="store_const", const=True,
                        default=None, help="the first row names the columns")
    header.add_argument("--no-header", dest="header", action="store_const", const=False,
                        help="the first row is data (columns become column_1, column_2, ...)")
    data.add_argument("--impute", choices=IMPUTE,
                      help="fill missing values (numeric columns by this; categorical by the "
                           "most frequent); without it missing values are refused")
    data.add_argument("--test-fraction", type=_fraction, default=0.25,
                      help="rows held out for the test score (default 0.25)")
    data.add_argument("--validation-fraction", type=_fraction, default=None,
                      help="rows of the training part scored after every epoch (shown in the "
                           "progress bar, the summary and --plot)")
    model = train.add_argument_group("network and training (scikit-learn's MLP defaults)")
    model.add_argument("--hidden", type=_widths, default=[100], help="hidden widths, e.g. 64,32 (default 100)")
    # fastnn's names, and scikit-learn's "logistic" for sigmoid
    model.add_argument("--activation", choices=sorted({*HIDDEN_ACTIVATIONS, "logistic"}),
                       default="relu")
    model.add_argument("--optimizer", choices=sorted({"lbfgs", "sgd", "adam", *OPTIMIZERS}),
                       default="adam")
    model.add_argument("--lr", type=_positive_float, default=None,
                       help="initial learning rate (default 0.001)")
    model.add_argument("--lr-find", action="store_true",
                       help="run the learning-rate range test first (fastnn.lr_find) and train "
                            "with the rate it suggests")
    model.add_argument("--alpha", type=_non_negative_float, default=1e-4,
                       help="L2 penalty (default 0.0001)")
    model.add_argument("--epochs", type=_positive_int, default=200,
                       help="at most this many epochs (default 200; training stops earlier "
                            "when the loss improves by less than 1e-4 for 10 epochs)")
    model.add_argument("--batch-size", type=_positive_int, default=None,
                       help="rows per step (default min(200, rows))")
    model.add_argument("--seed", type=int, default=0)
    model.add_argument("--dtype", choices=DTYPES, default="float64")
    out = train.add_argument_group("output")
    out.add_argument("--save", metavar="PATH", help="write the model: preprocessing, network, "
                     "column names and class labels (.npz, no pickle)")
    out.add_argument("--plot", metavar="PATH", help="draw the training (and validation) curves "
                     "(PNG, SVG or PDF; needs matplotlib)")
    out.add_argument("--no-progress", dest="progress", action="store_false",
                     help="hide the progress bar")

    predict = commands.add_parser(
        "predict", help="predict with a saved model",
        description="Write MODEL's predictions for the rows of DATA: the predicted labels (or "
                    "values) in a column named after the target, and with --proba one "
                    "probability column per class. Columns are matched by name.")
    predict.add_argument("model", help="a model written by `fastnn train --save`")
    predict.add_argument("data", help="a table as for train --data, or .npy")
    predict.add_argument("--output", "-o", default="-",
                         help=".csv .tsv .parquet .npy or .json (default: CSV on standard output)")
    predict.add_argument("--proba", action="store_true", help="also write class probabilities")
    predict.add_argument("--delimiter", help="field delimiter (default: sniffed)")
    header = predict.add_mutually_exclusive_group()
    header.add_argument("--header", dest="header", action="store_const", const=True, default=None)
    header.add_argument("--no-header", dest="header", action="store_const", const=False)

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


# -- commands -------------------------------------------------------------------------------

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
    """Refuse --plot before any work when matplotlib is missing."""
    import importlib.util

    from ._plotting import MISSING

    if importlib.util.find_spec("matplotlib") is None:
        raise CommandError(f"--plot: {MISSING}")


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
    with _noting_ctrl_c() as ctrl_c:
        try:
            args = build_parser().parse_args(argv)
            command = f"fastnn {args.command}"
            if args.command == "bench":
                return bench(args)
            from . import _table_commands
            return getattr(_table_commands, args.command)(args)
        except KeyboardInterrupt:
            print(f"{command}: interrupted", file=sys.stderr)
            return 130
        except (CommandError, ValueError, TypeError, OSError, ImportError, MemoryError,
                RecursionError, OverflowError, IndexError, KeyError, RuntimeError) as exc:
            if ctrl_c:  # a Ctrl-C inside C code (an import, a warning) can surface as another error
                print(f"{command}: interrupted", file=sys.stderr)
                return 130
            print(f"{command}: error: {exc}", file=sys.stderr)
            return 2


@contextlib.contextmanager
def _noting_ctrl_c():
    """Yield a list that becomes non-empty once SIGINT arrives (which still raises
    KeyboardInterrupt, as Python's own handler does); the previous handler is put back after.
    Only where Python's handler is in place (main thread, SIGINT not ignored)."""
    import signal
    import threading

    seen = []
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield seen
        return

    def note(signum, frame):
        seen.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, note)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
