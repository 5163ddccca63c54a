"""Training checkpoints: the network, its first-order optimizer's state, the History and the
random generator, in one pickle-free .npz written atomically, so that training can stop and
resume in another process bit for bit:

    history = net.fit(X, Y, optimizer=opt, epochs=5, seed=rng)
    fnn.save_checkpoint("run.npz", net, opt, history, rng)
    ...                                              # later, in a new process
    state = fnn.load_checkpoint("run.npz")
    state.network.fit(X, Y, optimizer=state.optimizer, epochs=5, seed=state.rng, resume=True)
"""
import dataclasses
import json

import numpy as np

from .history import History
from .io import ModelFileError, _model_header, _network_from, _read, _write_atomically
from .optim import FirstOrder, SklearnAdam, SklearnSGD
from .optim import OPTIMIZERS as _NAMED

_RULES = {cls.__name__: cls for cls in list(_NAMED.values()) + [SklearnSGD, SklearnAdam]
          if issubclass(cls, FirstOrder)}


_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_LIST_FIELDS = ("loss", "val_loss", "val_metric", "lr", "time", "restarts")


def _to_json(value):
    """A generator state as JSON: arrays become {"ndarray": [...], "dtype": ...}."""
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": value.dtype.name}
    if isinstance(value, np.integer):
        return int(value)
    return value


def _from_json(value):
    if isinstance(value, dict):
        if set(value) == {"ndarray", "dtype"}:
            return np.array(value["ndarray"], dtype=np.dtype(value["dtype"]))
        return {key: _from_json(item) for key, item in value.items()}
    return value


def _history_from(path, fields):
    if fields is None:
        return History()
    if not isinstance(fields, dict) or set(fields) - set(History.FIELDS):
        raise ModelFileError(f"{path}: the saved History has unknown fields")
    for name in _LIST_FIELDS:
        if not isinstance(fields.get(name, []), list):
            raise ModelFileError(f"{path}: History.{name} should be a list")
    return History(**fields)


@dataclasses.dataclass
class Checkpoint:
    network: object
    optimizer: FirstOrder
    history: History
    rng: np.random.Generator


def save_checkpoint(path, network, optimizer, history=None, rng=None):
    """Write network, optimizer state, History and generator state to `path` (.npz)."""
    if type(optimizer).__name__ not in _RULES:
        raise ValueError(f"checkpoints hold first-order optimizers; got {optimizer!r}")
    state = optimizer.state_dict()
    buffers = state["state"]["buffers"]
    header = {"model": _model_header(network),
              "optimizer": {"class": type(optimizer).__name__, "hyper": state["hyper"],
                            "t": state["state"]["t"]},
              "history": history.to_dict() if history is not None else None,
              "rng": _to_json(rng.bit_generator.state) if rng is not None else None}
    _write_atomically(path, header=np.array(json.dumps(header)), params=network.params,
                      buffers=np.zeros((3, 0), network.dtype) if buffers is None else buffers)


def load_checkpoint(path, backend="auto"):
    """A Checkpoint (network, optimizer, history, rng); ModelFileError if anything is off."""
    arrays = _read(path, ("header", "params", "buffers"))
    header = arrays["header"]
    try:
        model, opt, history, rng_state = (header["model"], header["optimizer"], header["history"],
                                          header["rng"])
        network = _network_from(path, model, arrays["params"], backend)
        optimizer = _RULES[opt["class"]](**opt["hyper"])
        buffers = arrays["buffers"]
        if buffers.size and buffers.shape != (3, network.n_params) or buffers.dtype != network.dtype:
            raise ModelFileError(f"{path}: optimizer state of shape {buffers.shape} does not fit")
        t = opt["t"]
        if isinstance(t, bool) or not isinstance(t, int) or t < 0:
            raise ModelFileError(f"{path}: optimizer step count {t!r} is not a count")
        optimizer.load_state_dict({"hyper": opt["hyper"],
                                   "state": {"t": t,
                                             "buffers": buffers if buffers.size else None}})
        history = _history_from(path, history)
        rng = None
        if rng_state is not None:
            rng_state = _from_json(rng_state)
            if rng_state["bit_generator"] not in _BIT_GENERATORS:
                raise ModelFileError(f"{path}: unknown bit generator {rng_state['bit_generator']!r}")
            rng = np.random.Generator(getattr(np.random, rng_state["bit_generator"])())
            rng.bit_generator.state = rng_state
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
        raise ModelFileError(f"{path}: not a sound fastnn checkpoint ({exc})") from None
    return Checkpoint(network, optimizer, history, rng)
