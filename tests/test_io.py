"""Model files: round trips, atomic writes, and refusal of anything that is not a sound model."""
import json
import os

import numpy as np
import pytest

import fastnn as fnn


@pytest.fixture
def net(backend, dtype):
    return fnn.Network([4, 6, 3], activation=["tanh"], output="softmax", loss="cross_entropy",
                       dtype=dtype, backend=backend, seed=0)


def test_round_trip(net, tmp_path):
    path = tmp_path / "model.npz"
    net.save(path)
    loaded = fnn.load(path, backend=net.backend)
    np.testing.assert_array_equal(loaded.params, net.params)
    assert repr(loaded) == repr(net)
    X = np.random.default_rng(0).standard_normal((5, 4))
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    first = fnn.Network([2, 1], seed=0)
    first.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        fnn.Network([2, 1], seed=1).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


def write_npz(path, **arrays):
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_bytes(os.urandom(300)), "not a readable"),
    (lambda p: p.write_bytes(b""), "not a readable"),
    (lambda p: write_npz(p, params=np.zeros(3)), "expected arrays"),
    (lambda p: write_npz(p, header=np.array("not json"), params=np.zeros(3)), "not JSON"),
    (lambda p: write_npz(p, header=np.array([object()], dtype=object), params=np.zeros(3)),
     "not a readable"),
])
def test_broken_files_are_refused(tmp_path, make, message):
    path = tmp_path / "model.npz"
    make(path)
    with pytest.raises(fnn.ModelFileError, match=message):
        fnn.load(path)


@pytest.mark.parametrize("edit, message", [
    (lambda h, p: h.update(format="other"), "not a fastnn model"),
    (lambda h, p: h.update(format_version=99), "format version 99"),
    (lambda h, p: h.pop("layers"), "lacks 'layers'"),
    (lambda h, p: h.update(layers="3,1"), "should be a list"),
    (lambda h, p: h.update(dtype="float16"), "float16"),
    (lambda h, p: h.update(output="swish"), "no valid network"),
    (lambda h, p: h.update(n_params=99), "99 parameters for a network of 3"),
    (lambda h, p: p.__setitem__(0, np.nan), "NaN"),
    (lambda h, p: h.update(layers=[2, 2]), "parameters for a network"),
])
def test_hand_edited_files_are_refused(tmp_path, edit, message):
    path = tmp_path / "model.npz"
    fnn.Network([2, 1], seed=0).save(path)
    with np.load(path) as archive:
        header, params = json.loads(str(archive["header"][()])), archive["params"].copy()
    edit(header, params)
    write_npz(path, header=np.array(json.dumps(header)), params=params)
    with pytest.raises(fnn.ModelFileError, match=message):
        fnn.load(path)


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "model.npz"
    fnn.Network([20, 30, 5], seed=0).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(fnn.ModelFileError):
        fnn.load(path)


RESUME_SCRIPT = """
import sys, numpy as np, fastnn as fnn
state = fnn.load_checkpoint(sys.argv[1])
X, Y = np.load(sys.argv[2])["X"], np.load(sys.argv[2])["Y"]
state.network.fit(X, Y, optimizer=state.optimizer, epochs=5, batch_size=8, seed=state.rng, resume=True)
state.network.save(sys.argv[3])
"""


@pytest.mark.parametrize("optimizer", [lambda: fnn.optim.Adam(lr=0.01, amsgrad=True),
                                       lambda: fnn.optim.SGD(lr=0.1, momentum=0.9, nesterov=True),
                                       lambda: fnn.optim.Rprop()])
def test_checkpoint_resumes_bit_for_bit_in_a_new_process(tmp_path, optimizer):
    import subprocess
    import sys
    import tempfile

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((50, 4)), rng.standard_normal((50, 2))
    np.savez(tmp_path / "data.npz", X=X, Y=Y)
    straight = fnn.Network([4, 8, 2], output="identity", seed=1)
    straight.fit(X, Y, optimizer=optimizer(), epochs=10, batch_size=8, seed=np.random.default_rng(7))

    half = fnn.Network([4, 8, 2], output="identity", seed=1)
    opt, generator = optimizer(), np.random.default_rng(7)
    history = half.fit(X, Y, optimizer=opt, epochs=5, batch_size=8, seed=generator)
    fnn.save_checkpoint(tmp_path / "run.npz", half, opt, history, generator)
    restored = fnn.load_checkpoint(tmp_path / "run.npz")
    assert restored.history.loss == history.loss and restored.optimizer.t == opt.t
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(fnn.__file__))}
    result = subprocess.run([sys.executable, "-c", RESUME_SCRIPT, str(tmp_path / "run.npz"),
                             str(tmp_path / "data.npz"), str(tmp_path / "resumed.npz")],
                            capture_output=True, text=True, cwd=tempfile.gettempdir(), env=env)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(fnn.load(tmp_path / "resumed.npz").params, straight.params)


def test_damaged_checkpoints_are_refused(tmp_path):
    net, opt = fnn.Network([2, 1], seed=0), fnn.optim.Adam()
    net.fit([[0.0, 1.0]], [[1.0]], optimizer=opt, epochs=2)
    fnn.save_checkpoint(tmp_path / "run.npz", net, opt)
    with np.load(tmp_path / "run.npz") as archive:
        arrays = dict(archive)
    header = json.loads(str(arrays["header"][()]))
    header["optimizer"]["class"] = "os.system"
    arrays["header"] = np.array(json.dumps(header))
    write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(fnn.ModelFileError, match="checkpoint"):
        fnn.load_checkpoint(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="first-order"):
        fnn.save_checkpoint(tmp_path / "x.npz", net, fnn.optim.LBFGS())


def test_pathological_headers_are_refused_before_allocating(tmp_path):
    path = tmp_path / "model.npz"
    deep = "[" * 100_000 + "]" * 100_000
    write_npz(path, header=np.array(deep), params=np.zeros(3))
    with pytest.raises(fnn.ModelFileError):
        fnn.load(path)
    fnn.Network([2, 1], seed=0).save(path)
    with np.load(path) as archive:
        header, params = json.loads(str(archive["header"][()])), archive["params"].copy()
    header.update(layers=[10**6, 10**6, 1], n_params=3)
    write_npz(path, header=np.array(json.dumps(header)), params=params)
    with pytest.raises(fnn.ModelFileError, match="parameters for a network"):
        fnn.load(path)


def test_saved_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        fnn.Network([2, 1], seed=0).save(tmp_path / "model.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "model.npz").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("bit_generator", ["PCG64", "MT19937", "Philox", "SFC64"])
def test_checkpoints_hold_any_numpy_generator(tmp_path, bit_generator):
    rng = np.random.Generator(getattr(np.random, bit_generator)(5))
    net, opt = fnn.Network([2, 1], seed=0), fnn.optim.SGD(lr=0.1)
    fnn.save_checkpoint(tmp_path / "run.npz", net, opt, rng=rng)
    restored = fnn.load_checkpoint(tmp_path / "run.npz").rng
    np.testing.assert_array_equal(restored.random(5), rng.random(5))


@pytest.mark.parametrize("edit", [lambda h: h["optimizer"].update(t=float("inf")),
                                  lambda h: h["optimizer"].update(t=-5),
                                  lambda h: h.update(history={"loss": 5}),
                                  lambda h: h.update(rng={"bit_generator": "os"})])
def test_checkpoint_fields_are_checked(tmp_path, edit):
    net, opt = fnn.Network([2, 1], seed=0), fnn.optim.SGD(lr=0.1)
    fnn.save_checkpoint(tmp_path / "run.npz", net, opt, fnn.History(), np.random.default_rng(0))
    with np.load(tmp_path / "run.npz") as archive:
        arrays = dict(archive)
    header = json.loads(str(arrays["header"][()]))
    edit(header)
    arrays["header"] = np.array(json.dumps(header))
    write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(fnn.ModelFileError):
        fnn.load_checkpoint(tmp_path / "bad.npz")
