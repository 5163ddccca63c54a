"""Training checkpoints: the network, its first-order optimizer's state (with the run's epoch
count and validation split), the History, the random generator and the learning-rate
schedule's state, in one pickle-free .npz written atomically, so that training can stop and
resume in another process bit for bit:

    history = net.fit(X, Y, optimizer=opt, epochs=5, seed=rng, lr_schedule=schedule)
    fnn.save_checkpoint("run.npz", net, opt, history, rng, lr_schedule=schedule)
    ...                                              # later, in a new process
    state = fnn.load_checkpoint("run.npz")
    state.network.fit(X, Y, optimizer=state.optimizer, epochs=5, seed=state.rng,
                      lr_schedule=state.lr_schedule, resume=True)

Everything read back is checked before it is used: the archive's members against the header
(fastnn/_archive.py), the generator state's arrays (unsigned integers, a few hundred at
most) before any is built, the History's fields by type.
"""
import dataclasses
import json
import numbers

import numpy as np

from . import schedules as _schedules
from .history import History
from .io import (MALFORMED, ModelFileError, _model_header, _network_from, _read,
                 _write_atomically, check_finite, model_shape)
from .optim import FirstOrder, SklearnAdam, SklearnSGD
from .optim import OPTIMIZERS as _NAMED

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint"]


def __dir__():  # tab completion shows the public names only
    return __all__


_RULES = {cls.__name__: cls for cls in list(_NAMED.values()) + [SklearnSGD, SklearnAdam]
          if issubclass(cls, FirstOrder)}
_SCHEDULES = {cls.__name__: cls for cls in _schedules.SCHEDULES.values()}
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
# a generator state's arrays: unsigned words, at most this many (MT19937 has 624)
_STATE_WORDS = 1024


def _to_json(value):
    """A generator state as JSON: arrays become {"ndarray": [...], "dtype": ...}."""
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": value.dtype.name}
    if isinstance(value, np.integer):
        return int(value)
    return value


def _state_from_json(path, value, depth=0):
    """A generator state from JSON, its arrays checked before they are built."""
    if depth > 4:
        raise ModelFileError(f"{path}: the generator state nests too deeply")
    if isinstance(value, dict):
        if set(value) == {"ndarray", "dtype"}:
            words = value["ndarray"]
            if value["dtype"] not in ("uint32", "uint64") or not isinstance(words, list) \
                    or len(words) > _STATE_WORDS \
                    or not all(isinstance(w, int) and not isinstance(w, bool) for w in words):
                raise ModelFileError(f"{path}: the generator state holds an array that is not "
                                     f"up to {_STATE_WORDS} unsigned integers")
            return np.array(words, dtype=value["dtype"])
        return {key: _state_from_json(path, item, depth + 1) for key, item in value.items()}
    if isinstance(value, (str, bool, int, float)) or value is None:  # float: a cached gaussian
        return value
    raise ModelFileError(f"{path}: the generator state holds a {type(value).__name__}")


def _generator_from(path, state):
    if state is None:
        return None
    if not isinstance(state, dict) or state.get("bit_generator") not in _BIT_GENERATORS:
        name = state.get("bit_generator") if isinstance(state, dict) else state
        raise ModelFileError(f"{path}: unknown bit generator {name!r}")
    state = _state_from_json(path, state)
    rng = np.random.Generator(getattr(np.random, state["bit_generator"])())
    try:
        rng.bit_generator.state = state
    except (TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
        raise ModelFileError(f"{path}: not a valid {state['bit_generator']} state ({exc})") from None
    return rng


def _numbers(value):
    return isinstance(value, list) and all(
        isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)


_HISTORY_CHECKS = {
    "loss": _numbers, "val_loss": _numbers, "val_metric": _numbers, "lr": _numbers,
    "time": _numbers,
    "metric": lambda v: v is None or v in ("accuracy", "r2"),
    "stop_reason": lambda v: v in History.STOP_REASONS,
    "best_epoch": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0),
    "best_loss": lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool),
    "restarts": lambda v: isinstance(v, list) and all(isinstance(r, dict) for r in v),
    "same_valley_as": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
}


def _history_from(path, fields):
    if fields is None:
        return History()
    if not isinstance(fields, dict) or set(fields) - set(History.FIELDS):
        raise ModelFileError(f"{path}: the saved History has unknown fields")
    for name, check in _HISTORY_CHECKS.items():
        if name in fields and not check(fields[name]):
            raise ModelFileError(f"{path}: History.{name} holds {fields[name]!r:.60}, which is "
                                 "not what a History holds there")
    return History(**fields)


def _schedule_to(schedule):
    """A schedule as JSON: its class, constructor arguments (a schedule it wraps nested the
    same way) and state."""
    parameters = {key: _schedule_to(value) if isinstance(value, _schedules.Schedule) else value
                  for key, value in schedule.parameters().items()}
    return {"class": type(schedule).__name__, "parameters": parameters,
            "state": schedule.state_dict()}


def _schedule_from(path, saved, depth=0):
    if saved is None:
        return None
    if not isinstance(saved, dict) or saved.get("class") not in _SCHEDULES \
            or not isinstance(saved.get("parameters"), dict) or depth > 2:
        raise ModelFileError(f"{path}: unknown learning-rate schedule {saved!r:.60}")
    parameters = {key: _schedule_from(path, value, depth + 1)
                  if isinstance(value, dict) and "class" in value else value
                  for key, value in saved["parameters"].items()}
    schedule = _SCHEDULES[saved["class"]](**parameters)
    schedule.load_state_dict(saved["state"])
    return schedule


@dataclasses.dataclass
class Checkpoint:
    network: object
    optimizer: FirstOrder
    history: History
    rng: np.random.Generator
    lr_schedule: object = None


def save_checkpoint(path, network, optimizer, history=None, rng=None, lr_schedule=None):
    """Write network, optimizer state, History, generator state and schedule state to `path`
    (.npz), atomically."""
    if type(optimizer).__name__ not in _RULES:
        raise ValueError(f"checkpoints hold first-order optimizers; got {optimizer!r}")
    if lr_schedule is not None and type(lr_schedule).__name__ not in _SCHEDULES:
        raise ValueError(f"checkpoints hold fastnn.schedules schedules; got {lr_schedule!r}")
    check_finite(network.params, path)
    part, buffers = optimizer_part(optimizer, network.dtype)
    validation = optimizer.state_dict()["state"].get("validation")
    header = {"model": _model_header(network), "optimizer": part,
              "history": history.to_dict() if history is not None else None,
              "rng": _to_json(rng.bit_generator.state) if rng is not None else None,
              "schedule": None if lr_schedule is None else _schedule_to(lr_schedule)}
    rows = np.zeros(0, np.int64) if validation is None else np.asarray(validation["rows"], np.int64)
    _write_atomically(path, header=np.array(json.dumps(header)), params=network.params,
                      buffers=buffers, validation=rows)


def optimizer_part(optimizer, dtype):
    """A first-order optimizer as a file keeps it: the JSON part (class, hyper-parameters,
    step and epoch counts, the validation split's size) and the buffers array beside it."""
    state = optimizer.state_dict()
    buffers, validation = state["state"]["buffers"], state["state"].get("validation")
    part = {"class": type(optimizer).__name__, "hyper": state["hyper"], "t": state["state"]["t"],
            "epochs": state["state"].get("epochs", 0),
            "validation": None if validation is None else
            {"fraction": validation["fraction"], "n": validation["n"]}}
    return part, np.zeros((3, 0), dtype) if buffers is None else buffers


def optimizer_from(path, part, buffers, what, validation=None, classes=None):
    """The optimizer a file's part and buffers describe (with the validation split given),
    or ModelFileError naming the file as a `what`. `classes` limits the allowed classes."""
    name = part.get("class") if isinstance(part, dict) else None
    if name not in _RULES or (classes is not None and name not in classes) \
            or not isinstance(part.get("hyper"), dict):
        raise ModelFileError(f"{path}: not a sound fastnn {what} (optimizer {name!r:.40})")
    t, epochs = part.get("t"), part.get("epochs", 0)
    for count_name, count in (("step count", t), ("epoch count", epochs)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ModelFileError(f"{path}: optimizer {count_name} {count!r:.40} is not a count")
    try:
        optimizer = _RULES[name](**part["hyper"])
        optimizer.load_state_dict({"hyper": part["hyper"],
                                   "state": {"t": t, "epochs": epochs, "validation": validation,
                                             "buffers": buffers if buffers.size else None}})
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a sound fastnn {what} (optimizer: {exc})") from None
    if optimizer.state is not None and not np.isfinite(optimizer.state).all():
        raise ModelFileError(f"{path}: the optimizer state contains NaN or infinity")
    return optimizer


def _shapes(path, header):
    """Check a checkpoint header's parts and give its arrays' dtypes and allowed shapes."""
    if not isinstance(header, dict) or not {"model", "optimizer", "history", "rng"} <= set(header):
        raise ModelFileError(f"{path}: not a fastnn checkpoint (its header lacks a part)")
    dtype, (params,) = model_shape(path, header["model"])
    opt = header["optimizer"]
    if not isinstance(opt, dict):
        raise ModelFileError(f"{path}: the optimizer part is not a JSON object")
    validation = opt.get("validation")
    n_validation = 0
    if validation is not None:
        if not (isinstance(validation, dict) and isinstance(validation.get("n"), int)
                and isinstance(validation.get("fraction"), numbers.Real)
                and 0 < validation["fraction"] < 1 and 0 < validation["n"] < 2 ** 40):
            raise ModelFileError(f"{path}: the validation split is not described properly")
        n_validation = int(round(validation["fraction"] * validation["n"]))
    return {"params": (dtype, [params]), "buffers": (dtype, [(3, params[0]), (3, 0)]),
            "validation": ("int64", [(n_validation,)])}


def load_checkpoint(path, backend="auto"):
    """A Checkpoint (network, optimizer, history, rng, lr_schedule); ModelFileError if
    anything is off."""
    header, arrays = _read(path, ("params", "buffers", "validation"),
                           lambda h: _shapes(path, h), optional=("validation",))
    try:
        opt = header["optimizer"]
        network = _network_from(path, header["model"], arrays["params"], backend)
        rows = arrays.get("validation", np.zeros(0, np.int64))
        validation = None
        if opt.get("validation") is not None:
            n = opt["validation"]["n"]
            if rows.size and (rows.min() < 0 or rows.max() >= n or np.unique(rows).size != rows.size):
                raise ModelFileError(f"{path}: the validation rows are not distinct rows of {n}")
            validation = {"fraction": float(opt["validation"]["fraction"]), "n": n, "rows": rows}
        optimizer = optimizer_from(path, opt, arrays["buffers"], "checkpoint", validation)
        history = _history_from(path, header["history"])
        rng = _generator_from(path, header["rng"])
        schedule = _schedule_from(path, header.get("schedule"))
    except ModelFileError:
        raise
    except MALFORMED as exc:
        raise ModelFileError(f"{path}: not a sound fastnn checkpoint ({exc})") from None
    return Checkpoint(network, optimizer, history, rng, schedule)
