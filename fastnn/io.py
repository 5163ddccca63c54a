"""Model files: one .npz of plain arrays (no pickle) with a JSON header.

The header names the format version, the layer sizes, activations, output, loss, dtype and
the fastnn version; `params` holds the flat parameter vector. Files are written atomically
and never over anything but a regular file (fastnn/_files.py), and read without trusting
them (fastnn/_archive.py): every member is checked against the header before it is inflated,
and everything before a network is built; any fault raises ModelFileError.
"""
import json
import os
import zipfile

import numpy as np

from . import _archive
from ._files import write_atomically

__all__ = ["ModelFileError", "save", "load"]


def __dir__():  # tab completion shows the public names only
    return __all__


FORMAT = "fastnn-model"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file is missing, truncated, corrupted or not a fastnn model."""


#: what building objects from a malformed (but size-checked) header part raises
MALFORMED = (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError,
             IndexError)


def _write_atomically(path, **arrays):
    """np.savez of `arrays` to `path`, atomically (see fastnn/_files.py)."""
    write_atomically(path, lambda handle: np.savez(handle, **arrays))


def write_text_atomically(path, text):
    """Write `text` to `path`, atomically (see fastnn/_files.py)."""
    write_atomically(path, lambda handle: handle.write(text), binary=False)


def _model_header(net):
    from . import __version__

    return {"format": FORMAT, "format_version": FORMAT_VERSION, "fastnn_version": __version__,
            "layers": list(net.layers), "activation": net.hidden_activations,
            "output": net.output, "loss": net.loss, "bias": net.bias, "init": net.init,
            "dtype": net.dtype.name, "n_params": int(net.n_params),
            **({"huber_delta": net.huber_delta} if net.loss == "huber" else {}),
            **({"dropout": net.dropout} if any(net.dropout) else {})}


def check_finite(params, path):
    """Refuse to save parameters that load would refuse."""
    if not np.isfinite(params).all():
        raise ValueError(f"cannot save {os.fspath(path)}: the parameters contain NaN or "
                         "infinity (a load would refuse the file)")


def save(net, path):
    """Write `net` (a Network, or a fitted MLPClassifier/MLPRegressor drop-in) to `path`
    (.npz) atomically.

    >>> import os, tempfile, fastnn as fnn
    >>> net = fnn.Network([2, 3, 1], seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> fnn.save(net, path); bool((fnn.load(path).params == net.params).all())
    True
    """
    from .network import Network

    if not isinstance(net, Network):
        if hasattr(net, "_network") and hasattr(net, "_adopt"):  # fastnn's drop-ins
            from ._estimator_files import save_estimator
            return save_estimator(net, path)
        from .table_model import save_table_model  # a Pipeline made by `fastnn train`, or else TypeError
        return save_table_model(net, path)
    check_finite(net.params, path)
    _write_atomically(path, header=np.array(json.dumps(_model_header(net))), params=net.params)


def _read(path, names, expected, optional=()):
    """(header, arrays) of the archive at `path` (see fastnn/_archive.py), or ModelFileError.
    expected(header) validates the header and gives each array's dtype and allowed shapes;
    the arrays named in `optional` may be absent (files of earlier versions)."""
    def checked(header):
        try:
            return expected(header)
        except ModelFileError as exc:
            raise _archive.ArchiveError(str(exc).removeprefix(f"{path}: ")) from None

    try:
        return _archive.read(os.fspath(path), names, checked, optional)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except _archive.ArchiveError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError,
            TypeError, RecursionError, OverflowError, MemoryError) as exc:
        raise ModelFileError(f"{path}: not a readable fastnn model file ({exc})") from None


def load(path, backend="auto"):
    """The network, fitted drop-in estimator or table model (the scikit-learn Pipeline
    `fastnn train` makes) saved at `path`; ModelFileError if the file is not a sound fastnn
    model."""
    return load_with_header(path, backend)[0]


def load_with_header(path, backend="auto"):
    """(what load returns, the file's checked JSON header)."""
    def shapes(header):
        dtype, params = model_shape(path, header)
        return {"params": (dtype, params),
                # a drop-in's optimizer moments (fastnn/_estimator_files.py)
                "optimizer_buffers": (dtype, [(3, params[0][0]), (3, 0)])}

    header, arrays = _read(path, ("params", "optimizer_buffers"), shapes,
                           optional=("optimizer_buffers",))
    net = _network_from(path, header, arrays["params"], backend)
    if "estimator" not in header:
        return net, header
    from ._estimator_files import estimator_from
    from .table_model import model_from

    try:
        model = estimator_from(path, header, net, arrays.get("optimizer_buffers",
                                                             np.zeros((3, 0), net.dtype)))
        if "table" in header:
            model = model_from(path, header["table"], model)
    except ModelFileError:
        raise
    except MALFORMED as exc:
        raise ModelFileError(f"{path}: not a sound fastnn estimator file ({exc})") from None
    return model, header


def model_shape(path, header):
    """(dtype, [shape]) of the params a model header describes, after checking the header."""
    _check_header(path, header)
    widths = header["layers"]
    if len(widths) < 2 or not all(isinstance(w, int) and not isinstance(w, bool) and w >= 1
                                  for w in widths):
        raise ModelFileError(f"{path}: layers must be two or more positive integers; got {widths}")
    expected = sum(a * b + (b if header["bias"] else 0) for a, b in zip(widths[:-1], widths[1:]))
    if expected != header["n_params"]:  # checked before anything is allocated for the network
        raise ModelFileError(f"{path}: {header['n_params']} parameters for a network of {expected}")
    return header["dtype"], [(expected,)]


def _network_from(path, header, params, backend):
    """The network a checked header and its checked parameters describe."""
    from .network import Network

    if not np.isfinite(params).all():
        raise ModelFileError(f"{path}: params contain NaN or infinity")
    try:
        net = Network(header["layers"], activation=header["activation"], output=header["output"],
                      loss=header["loss"], init=header["init"], bias=header["bias"],
                      dtype=header["dtype"], backend=backend,
                      huber_delta=header.get("huber_delta", 1.0),
                      dropout=header.get("dropout", 0.0))
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
