"""The command line never shows a traceback: damaged inputs, odd paths, Ctrl-C at any time."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fastnn as fnn

ROOT = str(Path(fnn.__file__).resolve().parents[1])
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
# `python -m` puts the working directory first on sys.path: from a source checkout without built
# kernels that would shadow the package under test, so children start in its parent folder.
SPAWN = {"env": ENV, "cwd": ROOT}


def run(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "fastnn", *args], capture_output=True, text=True,
                          timeout=120, **{**SPAWN, **kwargs})


def one_line_error(result, message):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize("name, content", [
    ("empty.npy", b""), ("cut.npy", None), ("empty.npz", b""), ("cut.npz", None)])
def test_empty_or_truncated_numpy_inputs_give_one_line(tmp_path, name, content):
    message = "empty or cut short" if content == b"" else "cannot read it as NumPy data"
    path = tmp_path / name
    if content is None:
        X = np.random.default_rng(0).standard_normal((50, 3))
        (np.save if name.endswith(".npy") else lambda p, a: np.savez(p, X=a, y=a[:, 0]))(path, X)
        path.write_bytes(path.read_bytes()[:60])
    else:
        path.write_bytes(content)
    model = tmp_path / "model.npz"
    fnn.Network([3, 2, 1], seed=0).save(model)
    one_line_error(run("predict", str(model), str(path)), message)
    if name.endswith(".npz"):
        one_line_error(run("train", "--data", str(path), "--no-progress"), message)


def test_a_one_dimensional_row_says_what_is_wrong(tmp_path):
    model = tmp_path / "model.npz"
    fnn.Network([3, 2, 1], seed=0).save(model)
    np.save(tmp_path / "row.npy", np.array([1.0, 2.0, 3.0]))
    one_line_error(run("predict", str(model), str(tmp_path / "row.npy")),
                   "a 1-D array of 3 values; a table needs rows of features")


def test_a_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    rows = np.random.default_rng(0).standard_normal((40, 3))
    text = "a,b,c\n" + "\n".join(",".join(f"{v:.6f}" for v in row) for row in rows)
    (tmp_path / "bom.csv").write_bytes("\ufeff".encode() + text.encode())
    result = run("train", "--data", str(tmp_path / "bom.csv"), "--target", "a", "--task",
                 "regression", "--epochs", "2", "--no-progress")
    assert result.returncode == 0, result.stderr


def test_an_empty_workload_list_is_refused():
    one_line_error(run("bench", "--workloads", ""), "unknown workload")


@pytest.mark.parametrize("option", ["--save", "--plot"])
def test_save_and_plot_paths_are_checked_before_training(tmp_path, option):
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    started = time.perf_counter()
    one_line_error(run("train", option, str(fifo), "--no-progress"), "it is a named pipe")
    assert time.perf_counter() - started < 30 and fifo.is_fifo()
    one_line_error(run("train", option, str(tmp_path / "no" / "such" / "model.npz"),
                       "--no-progress"), "no folder")


def test_ctrl_c_during_start_up_prints_one_line():
    for delay in (0.2, 0.5):
        child = subprocess.Popen([sys.executable, "-m", "fastnn", "train", "--no-progress"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **SPAWN)
        time.sleep(delay)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=60)
        assert child.returncode == 130 and "Traceback" not in stderr, stderr
        assert stderr.strip().splitlines()[-1].endswith("interrupted")


def test_an_interrupted_training_saves_its_weights_and_exits_130(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 50))
    # random labels: the loss keeps falling (memorising) long past the Ctrl-C, so the
    # tol rule never ends the run first
    np.savez(tmp_path / "data.npz", X=X, y=rng.integers(0, 10, len(X)))
    child = subprocess.Popen([sys.executable, "-m", "fastnn", "train", "--data",
                              str(tmp_path / "data.npz"), "--hidden", "256,256", "--epochs",
                              "1000", "--no-progress", "--save", str(tmp_path / "model.npz")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **SPAWN)
    time.sleep(6)
    child.send_signal(signal.SIGINT)
    stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == 130, stderr
    assert "Traceback" not in stderr and "model written to" in stdout
    network = fnn.load(tmp_path / "model.npz").named_steps["mlp"]
    assert 0 < network.n_iter_ < 1000 and "stopped by Ctrl-C" in stdout


def test_version():
    import fastnn

    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"fastnn {fastnn.__version__}"


@pytest.mark.parametrize("args, message", [
    ((), "fastnn: error: the following arguments are required: command"),
    (("fly",), "fastnn: error: argument command: invalid choice: 'fly'"),
    (("train", "--epochs", "x"), "fastnn train: error: argument --epochs: must be a positive integer"),
    (("train", "--optimizer", "magic"), "fastnn train: error: argument --optimizer: invalid choice"),
    (("predict",), "fastnn predict: error: the following arguments are required: model, data"),
    (("bench", "--cores", "0"), "fastnn bench: error: argument --cores"),
])
def test_usage_errors_are_one_line_with_a_hint(args, message):
    result = run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), result.stderr
    assert lines[0].endswith(f"(see: {message.split(': error')[0]} --help)")


def test_a_ctrl_c_that_surfaces_as_another_error_still_exits_130(monkeypatch, capsys):
    """A SIGINT that lands inside C code (an import, a warning being issued) can come out as
    a TypeError ("expected a message argument"); the command line still says interrupted."""
    from fastnn import _table_commands
    from fastnn.cli import main

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is ignored in this process (started in the background)")

    def train(args):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler raises here
        except KeyboardInterrupt:
            raise TypeError("expected a message argument") from None
        return 0

    monkeypatch.setattr(_table_commands, "train", train)
    assert main(["train"]) == 130
    assert capsys.readouterr().err.strip() == "fastnn train: interrupted"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    monkeypatch.setattr(_table_commands, "train", lambda args: (_ for _ in ()).throw(TypeError("bad")))
    assert main(["train"]) == 2  # without a Ctrl-C an error stays an error
