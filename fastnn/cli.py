"""The `fastnn` command line.

    fastnn train    train a network on the digits set that ships with scikit-learn
"""
import argparse
import sys
import time

import numpy as np

from .activations import HIDDEN_ACTIVATIONS
from .history import TrainingDiverged
from .network import DTYPES, Network
from .optim import SGD


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text):
    value = float(text)
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
    parser = argparse.ArgumentParser(prog="fastnn", description="Fast multilayer perceptrons on the CPU.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser(
        "train", help="train on the digits data set shipped with scikit-learn",
        description="Train a softmax classifier on scikit-learn's digits (8x8 images, 10 "
                    "classes; no download) with mini-batch SGD and momentum, then print the "
                    "test accuracy and the training time.")
    train.add_argument("--hidden", type=_widths, default=[64], help="hidden widths, e.g. 64,32 (default 64)")
    train.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="relu")
    train.add_argument("--epochs", type=_positive_int, default=30)
    train.add_argument("--batch-size", type=_positive_int, default=32)
    train.add_argument("--lr", type=_positive_float, default=0.1, help="learning rate (default 0.1)")
    train.add_argument("--momentum", type=float, default=0.9)
    train.add_argument("--test-fraction", type=float, default=0.25)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--backend", choices=["auto", "cython", "numpy"], default="auto")
    train.add_argument("--dtype", choices=DTYPES, default="float64")
    train.add_argument("--no-progress", dest="progress", action="store_false",
                       help="hide the progress bar")
    return parser


def train(args):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0 < args.test_fraction < 1:
        raise ValueError(f"--test-fraction must lie in (0, 1), got {args.test_fraction}")
    if not 0 <= args.momentum < 1:
        raise ValueError(f"--momentum must lie in [0, 1), got {args.momentum}")
    digits = load_digits()
    X = (digits.data / 16.0).astype(args.dtype)
    X_train, X_test, y_train, y_test = train_test_split(
        X, digits.target, test_size=args.test_fraction, stratify=digits.target, random_state=args.seed)
    Y_train = np.eye(10, dtype=args.dtype)[y_train]
    net = Network([64, *args.hidden, 10], activation=args.activation, output="softmax",
                  loss="cross_entropy", init="he_normal" if args.activation == "relu" else "glorot_uniform",
                  dtype=args.dtype, backend=args.backend, seed=args.seed)
    print(f"digits: {len(X_train)} training and {len(X_test)} test samples; "
          f"network {'-'.join(map(str, net.layers))} {args.activation}/softmax, "
          f"{net.backend} backend, {args.dtype}")
    start = time.perf_counter()
    history = net.fit(X_train, Y_train, optimizer=SGD(lr=args.lr, momentum=args.momentum),
                      epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                      progress=args.progress)
    seconds = time.perf_counter() - start
    loss = history.loss[-1]
    train_accuracy = np.mean(net.predict(X_train).argmax(axis=1) == y_train)
    test_accuracy = np.mean(net.predict(X_test).argmax(axis=1) == y_test)
    print(f"final training loss: {loss:.4f}")
    print(f"train accuracy: {100 * train_accuracy:.2f}%")
    print(f"test accuracy: {100 * test_accuracy:.2f}%")
    print(f"training time: {seconds:.2f} s ({args.epochs} epochs)")
    return 0


def main(argv=None):
    """Entry point of the `fastnn` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return {"train": train}[args.command](args)
    except (ValueError, TypeError, OSError, ImportError, TrainingDiverged) as exc:
        print(f"fastnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fastnn {args.command}: interrupted", file=sys.stderr)
        return 130
