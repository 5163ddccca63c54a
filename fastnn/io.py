"""Model files: one .npz of plain arrays (no pickle) with a JSON header.

The header names the format version, the layer sizes, activations, output, loss, dtype and
the fastnn version; `params` holds the flat parameter vector. Files are written atomically
(a temporary file in the same folder, flushed and fsynced, then renamed over the target), so
a crash mid-save leaves any previous file intact. `load` reads with allow_pickle=False and
checks everything before it builds a network; any fault raises ModelFileError.
"""
import contextlib
import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT = "fastnn-model"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file is missing, truncated, corrupted or not a fastnn model."""


def _write_atomically(path, **arrays):
    """np.savez to a temporary file beside `path`, fsync, then rename over `path`."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=".fastnn-", suffix=".npz", dir=folder)
    try:
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; a saved model is a normal file
        with os.fdopen(descriptor, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_text_atomically(path, text):
    """Write `text` to `path` through a temporary file beside it, renamed over it."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(prefix=".fastnn-", suffix=".tmp", dir=folder)
    try:
        os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _model_header(net):
    from . import __version__

    return {"format": FORMAT, "format_version": FORMAT_VERSION, "fastnn_version": __version__,
            "layers": list(net.layers), "activation": net.hidden_activations,
            "output": net.output, "loss": net.loss, "bias": net.bias, "init": net.init,
            "dtype": net.dtype.name, "n_params": int(net.n_params)}


def save(net, path):
    """Write `net` to `path` (.npz) atomically.

    >>> import os, tempfile, fastnn as fnn
    >>> net = fnn.Network([2, 3, 1], seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> fnn.save(net, path); bool((fnn.load(path).params == net.params).all())
    True
    """
    _write_atomically(path, header=np.array(json.dumps(_model_header(net))), params=net.params)


def _read(path, names):
    """The arrays `names` of an .npz (header parsed from JSON), or ModelFileError."""
    try:
        with np.load(os.fspath(path), allow_pickle=False) as archive:
            if set(archive.files) != set(names):
                raise ModelFileError(f"{path}: expected arrays {sorted(names)}, found {archive.files}")
            arrays = {name: archive[name] for name in names}
            arrays["header"] = json.loads(str(arrays["header"][()]))
            return arrays
    except ModelFileError:
        raise
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError,
            UnicodeDecodeError, TypeError, RecursionError, OverflowError) as exc:
        raise ModelFileError(f"{path}: not a readable fastnn model file ({exc})") from None


def load(path, backend="auto"):
    """The network saved at `path`; ModelFileError if the file is not a sound fastnn model."""
    arrays = _read(path, ("header", "params"))
    return _network_from(path, arrays["header"], arrays["params"], backend)


def _network_from(path, header, params, backend):
    from .network import Network

    _check_header(path, header)
    if params.dtype.name != header["dtype"] or params.shape != (header["n_params"],):
        raise ModelFileError(f"{path}: params has dtype {params.dtype} and shape {params.shape}, "
                             f"the header says {header['dtype']} and ({header['n_params']},)")
    if not np.isfinite(params).all():
        raise ModelFileError(f"{path}: params contain NaN or infinity")
    widths = header["layers"]
    if len(widths) < 2 or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1
                                  for w in widths):
        raise ModelFileError(f"{path}: layers must be two or more positive integers; got {widths}")
    expected = sum(a * b + (b if header["bias"] else 0) for a, b in zip(widths[:-1], widths[1:]))
    if expected != params.size:  # checked before anything is allocated for the network
        raise ModelFileError(f"{path}: {params.size} parameters for a network of {expected}")
    try:
        net = Network(header["layers"], activation=header["activation"], output=header["output"],
                      loss=header["loss"], init=header["init"], bias=header["bias"],
                      dtype=header["dtype"], backend=backend)
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{path}: the header describes no valid network ({exc})") from None
    net.params[...] = params
    return net


_HEADER_TYPES = {"format": str, "format_version": int, "fastnn_version": str, "layers": list,
                 "activation": list, "output": str, "loss": str, "bias": bool, "init": str,
                 "dtype": str, "n_params": int}


def _check_header(path, header):
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: the header is not a JSON object")
    for key, kind in _HEADER_TYPES.items():
        if key not in header:
            raise ModelFileError(f"{path}: the header lacks {key!r}")
        if not isinstance(header[key], kind) or (kind is int and isinstance(header[key], bool)):
            raise ModelFileError(f"{path}: header field {key!r} should be a {kind.__name__}")
    if header["format"] != FORMAT:
        raise ModelFileError(f"{path}: not a fastnn model (format {header['format']!r})")
    if header["format_version"] != FORMAT_VERSION:
        raise ModelFileError(f"{path}: format version {header['format_version']} is not "
                             f"supported (this fastnn reads version {FORMAT_VERSION})")
    if header["dtype"] not in ("float32", "float64"):
        raise ModelFileError(f"{path}: dtype {header['dtype']!r} is not float32 or float64")
