"""Model and checkpoint files as a hostile party would craft them, and saves onto paths that
are not regular files: refused cheaply, and nothing at the path destroyed."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import fastnn as fnn
from fastnn._files import target_of

ROOT = str(Path(fnn.__file__).resolve().parents[1])


def model_header(net):
    from fastnn.io import _model_header
    return _model_header(net)


def npy_header(dtype, shape):
    buffer = __import__("io").BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def header_member(header):
    buffer = __import__("io").BytesIO()
    np.save(buffer, np.array(json.dumps(header)))
    return buffer.getvalue()


def params_member(params):
    buffer = __import__("io").BytesIO()
    np.save(buffer, params)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """A 2-1 network's file whose params member inflates to 400 MB from under 1 MB."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.npz"
    net = fnn.Network([2, 1], seed=0)
    rows = 50_000_000
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("header.npy", header_member(model_header(net)))
        with archive.open("params.npy", "w", force_zip64=True) as handle:
            handle.write(npy_header("float64", (rows,)))
            chunk = bytes(1 << 24)
            for _ in range(rows * 8 // len(chunk)):
                handle.write(chunk)
    assert path.stat().st_size < 2_000_000
    return path


def test_a_zip_bomb_is_refused_in_milliseconds_without_the_memory(bomb):
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(fnn.ModelFileError, match=r"params holds \d{9} bytes"):
        fnn.load(bomb)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 0.5 and peak < 20_000_000


def test_a_params_header_claiming_a_trillion_floats_is_a_model_file_error(tmp_path):
    net = fnn.Network([2, 1], seed=0)
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("header.npy", header_member(model_header(net)))
        archive.writestr("params.npy", npy_header("float64", (10 ** 12,)) + bytes(24))
    with pytest.raises(fnn.ModelFileError, match="params is a float64 array of shape"):
        fnn.load(path)
    header = dict(model_header(net), layers=[10 ** 6, 10 ** 6], n_params=10 ** 12 + 10 ** 6)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("header.npy", header_member(header))
        archive.writestr("params.npy", npy_header("float64", (10 ** 12 + 10 ** 6,)) + bytes(24))
    with pytest.raises(fnn.ModelFileError, match="holds .* bytes; the header's network needs"):
        fnn.load(path)


def test_duplicate_members_are_refused(tmp_path):
    net = fnn.Network([2, 1], seed=0)
    path = tmp_path / "twice.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("header.npy", header_member(model_header(net)))
        archive.writestr("params.npy", params_member(net.params))
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("params.npy", params_member(net.params * 0))
    with pytest.raises(fnn.ModelFileError, match="two members of the same name"):
        fnn.load(path)


def checkpoint_arrays(tmp_path):
    net, opt = fnn.Network([2, 1], seed=0), fnn.optim.SGD(lr=0.1)
    fnn.save_checkpoint(tmp_path / "run.npz", net, opt, fnn.History(loss=[0.5]),
                        np.random.default_rng(0))
    with np.load(tmp_path / "run.npz") as archive:
        arrays = dict(archive)
    return json.loads(str(arrays.pop("header")[()])), arrays


def rewrite(path, header, arrays):
    with open(path, "wb") as handle:
        np.savez(handle, header=np.array(json.dumps(header)), **arrays)


@pytest.mark.parametrize("edit, message", [
    (lambda h: h["rng"]["state"].update(state={"ndarray": ["x"], "dtype": "U300000000"}),
     "unsigned integers"),
    (lambda h: h["rng"].update(state=[1, 2]), "generator state holds a list"),
    (lambda h: h["rng"].update(state="seed"), "not a valid PCG64 state"),
    (lambda h: h.update(rng={"bit_generator": "MT19937",
                             "state": {"key": {"ndarray": [1], "dtype": "uint32"}, "pos": 0}}),
     "not a valid MT19937 state"),
    (lambda h: h["history"].update(loss=[None]), "History.loss"),
    (lambda h: h["history"].update(stop_reason=5), "History.stop_reason"),
    (lambda h: h["history"].update(best_epoch="3"), "History.best_epoch"),
    (lambda h: h["optimizer"].update(epochs=-1), "epoch count"),
])
def test_crafted_checkpoint_fields_are_refused_cheaply(tmp_path, edit, message):
    header, arrays = checkpoint_arrays(tmp_path)
    edit(header)
    rewrite(tmp_path / "bad.npz", header, arrays)
    tracemalloc.start()
    with pytest.raises(fnn.ModelFileError, match=message):
        fnn.load_checkpoint(tmp_path / "bad.npz")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20_000_000


# -- saving never destroys what is at the path ------------------------------------------------

def test_saving_through_a_symlink_writes_its_target_and_keeps_the_link(tmp_path):
    target = tmp_path / "models" / "model.npz"
    target.parent.mkdir()
    fnn.Network([2, 1], seed=0).save(target)
    link = tmp_path / "current.npz"
    link.symlink_to(target)
    net = fnn.Network([2, 1], seed=1)
    net.save(link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    np.testing.assert_array_equal(fnn.load(target).params, net.params)
    assert sorted(os.listdir(target.parent)) == ["model.npz"]


def make_socket(path):
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    return server


@pytest.mark.parametrize("kind, make", [
    ("named pipe", lambda p: os.mkfifo(p)),
    ("directory", lambda p: p.mkdir()),
    ("socket", make_socket),
])
def test_saving_onto_a_fifo_socket_or_directory_is_refused(tmp_path, kind, make):
    path = tmp_path / "model.npz"
    keep = make(path)
    before = os.stat(path).st_mode
    with pytest.raises(ValueError, match=f"it is a {kind}"):
        fnn.Network([2, 1], seed=0).save(path)
    with pytest.raises(ValueError, match=f"it is a {kind}"):
        fnn.save_checkpoint(path, fnn.Network([2, 1]), fnn.optim.SGD(lr=0.1))
    assert os.stat(path).st_mode == before and os.listdir(tmp_path) == ["model.npz"]
    if keep is not None:
        keep.close()


def test_a_device_is_never_a_save_target():
    with pytest.raises(ValueError, match="it is a character device"):
        target_of("/dev/null")


def test_a_network_with_nan_weights_is_not_saved(tmp_path):
    net = fnn.Network([2, 1], seed=0)
    net.weights[0][0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        net.save(tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


def test_errors_name_the_target_not_the_temporary_file(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(OSError, match=r"cannot write .*model\.npz: No space left") as caught:
        fnn.Network([2, 1], seed=0).save(tmp_path / "model.npz")
    assert ".tmp" not in str(caught.value) and os.listdir(tmp_path) == []


SAVER = """
import sys, numpy as np
sys.path.insert(0, sys.argv[2])
import fastnn as fnn
net = fnn.Network([1000, 2000, 10], seed=0)
print("ready", flush=True)
while True:
    net.save(sys.argv[1])
"""


def saver(path):
    child = subprocess.Popen([sys.executable, "-c", SAVER, str(path), ROOT],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    return child


def interrupted_savers(path, seed, interrupt, times=4):
    """`times` saving children, each interrupted by interrupt(child) at a random moment."""
    rng = np.random.default_rng(seed)
    for _ in range(times):
        child = saver(path)
        time.sleep(rng.uniform(0.05, 0.3))
        interrupt(child)
        yield child


def temporaries(folder):
    return [name for name in os.listdir(folder) if name.startswith(".fastnn-")]


def test_sigterm_mid_save_removes_the_temporary_file(tmp_path):
    path = tmp_path / "model.npz"
    for child in interrupted_savers(path, 0, lambda child: child.send_signal(signal.SIGTERM)):
        assert child.wait(timeout=20) == -signal.SIGTERM
        assert temporaries(tmp_path) == []
        if path.exists():
            assert fnn.load(path).n_params == 1000 * 2000 + 2000 + 2000 * 10 + 10


def test_files_left_by_sigkill_are_removed_by_the_next_save(tmp_path):
    path = tmp_path / "model.npz"
    for child in interrupted_savers(path, 1, lambda child: child.kill()):
        child.wait(timeout=20)
    stray = tmp_path / f".fastnn-model.npz.{2 ** 22 + 12345}.abc.tmp"  # a process long gone
    stray.write_bytes(b"partial")
    (tmp_path / ".fastnn-other.npz.1.abc.tmp").write_bytes(b"another target's")
    fnn.Network([2, 1], seed=0).save(path)
    assert temporaries(tmp_path) == [".fastnn-other.npz.1.abc.tmp"]
    assert fnn.load(path).n_params == 3
