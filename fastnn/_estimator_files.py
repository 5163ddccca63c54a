"""Fitted drop-in estimators (MLPClassifier, MLPRegressor) in fastnn's model file: no pickle.

The file is a network's model file (fastnn/io.py: JSON header, `params`) whose header also
holds an "estimator" part: the class, its get_params(), the fitted attributes, classes_ (ints,
floats, booleans or strings), feature_names_in_ and the optimizer's hyper-parameters and step
count; its moment buffers are the `optimizer_buffers` member. That is everything predict,
partial_fit and a warm-started fit read, so a loaded estimator predicts identically and goes
on training bit for bit. Every part is checked against the network before it is used.
"""
import json
import numbers

import numpy as np

from .checkpoint import _state_from_json, _to_json, optimizer_from, optimizer_part
from .io import ModelFileError, _model_header, _write_atomically, check_finite

#: fitted attribute -> the JSON types it may take
_FITTED = {"n_iter_": (int,), "t_": (int,), "n_outputs_": (int,), "n_layers_": (int,),
           "out_activation_": (str,), "n_features_in_": (int,), "loss_": (numbers.Real,),
           "loss_curve_": (list,), "best_loss_": (numbers.Real, type(None)),
           "_no_improvement_count": (int,), "validation_scores_": (list, type(None)),
           "best_validation_score_": (numbers.Real, type(None))}
_LABEL_TYPES = ("binary", "multiclass", "multilabel-indicator")


def _classes_to_json(classes):
    kind = classes.dtype.kind
    values = classes.tolist()
    if kind in "biuf":
        return {"kind": classes.dtype.str, "values": values}
    if kind in "UO" and all(isinstance(value, str) for value in values):
        return {"kind": "object" if kind == "O" else "str", "values": values}
    raise ValueError(f"classes_ of dtype {classes.dtype} cannot be saved: fastnn's model files "
                     "hold integer, float, boolean or string labels")


def _random_state_to_json(random_state):
    if random_state is None or isinstance(random_state, numbers.Integral):
        return None if random_state is None else int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return {"RandomState": _to_json(random_state.get_state(legacy=False))}
    raise ValueError(f"random_state {random_state!r} cannot be saved")


def _header_and_buffers(estimator, net):
    """The model header of a fitted drop-in, with its "estimator" part, and its optimizer's
    buffers (empty without an optimizer)."""
    params = estimator.get_params(deep=False)
    sizes = params["hidden_layer_sizes"]
    params["hidden_layer_sizes"] = [int(s) for s in sizes] if hasattr(sizes, "__iter__") else int(sizes)
    params["random_state"] = _random_state_to_json(params["random_state"])
    params = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in params.items()}
    fitted = {name: getattr(estimator, name) for name in _FITTED if hasattr(estimator, name)}
    fitted = {k: ([float(x) for x in v] if isinstance(v, list) else
                  v.item() if isinstance(v, np.generic) else v) for k, v in fitted.items()}
    part = {"class": type(estimator).__name__, "params": params, "fitted": fitted,
            "feature_names_in": (None if not hasattr(estimator, "feature_names_in_")
                                 else [str(name) for name in estimator.feature_names_in_]),
            "classes": None, "label_type": None, "optimizer": None}
    if hasattr(estimator, "_label_binarizer"):
        part["classes"] = _classes_to_json(estimator.classes_)
        part["label_type"] = estimator._label_binarizer.y_type_
    buffers = np.zeros((3, 0), net.dtype)
    if getattr(estimator, "_optimizer", None) is not None:
        part["optimizer"], buffers = optimizer_part(estimator._optimizer, net.dtype)
    return {**_model_header(net), "estimator": part}, buffers


def save_estimator(estimator, path, extra=None):
    """Write a fitted drop-in to `path` (.npz), atomically; `extra` adds parts to the header
    (a table model's "table": fastnn/table_model.py)."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    net = estimator._network()
    check_finite(net.params, path)
    header, buffers = _header_and_buffers(estimator, net)
    _write_atomically(path, header=np.array(json.dumps({**header, **(extra or {})})),
                      params=net.params, optimizer_buffers=buffers)


def _fail(path, what):
    raise ModelFileError(f"{path}: not a sound fastnn estimator file ({what})")


def _classes_from(path, saved):
    if not isinstance(saved, dict) or not isinstance(saved.get("values"), list):
        _fail(path, "classes")
    kind, values = saved.get("kind"), saved["values"]
    if kind in ("str", "object"):
        if not all(isinstance(value, str) for value in values):
            _fail(path, "string classes that are not strings")
        return np.array(values, dtype=object if kind == "object" else str)
    if not isinstance(kind, str) or len(kind) > 4 or kind[1:2] not in tuple("biuf") \
            or not all(isinstance(v, (int, float)) for v in values):
        _fail(path, f"classes of kind {kind!r:.20}")
    dtype = np.dtype(kind)
    if dtype.itemsize > 8:
        _fail(path, f"classes of kind {kind!r}")
    return np.array(values, dtype=dtype)


def estimator_from(path, header, net, buffers):
    """The fitted drop-in a checked model header's "estimator" part describes, around `net`
    (already built from the checked parameters)."""
    from sklearn.preprocessing import LabelBinarizer

    from .sklearn import _ACTIVATIONS, _OUTPUTS, MLPClassifier, MLPRegressor, _as_sklearn_loss

    part = header["estimator"]
    if not isinstance(part, dict):
        _fail(path, "the estimator part is not a JSON object")
    cls = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}.get(part.get("class"))
    params, fitted = part.get("params"), part.get("fitted")
    if cls is None or not isinstance(params, dict) or not isinstance(fitted, dict):
        _fail(path, f"estimator class {part.get('class')!r:.40}")
    params = dict(params)
    if isinstance(params.get("hidden_layer_sizes"), list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    state = params.get("random_state")
    if isinstance(state, dict):
        if set(state) != {"RandomState"} or not isinstance(state["RandomState"], dict) \
                or state["RandomState"].get("bit_generator") != "MT19937":
            _fail(path, "random_state")
        params["random_state"] = np.random.RandomState()
        params["random_state"].set_state(_state_from_json(path, state["RandomState"]))
    try:
        estimator = cls(**params)
        estimator._validate_params()
    except (TypeError, ValueError) as exc:
        _fail(path, f"parameters: {exc}")
    for name, value in fitted.items():
        if name not in _FITTED or not isinstance(value, _FITTED[name]) or isinstance(value, bool):
            _fail(path, f"fitted attribute {name!r:.40}")
        if isinstance(value, list) and not all(isinstance(v, numbers.Real) for v in value):
            _fail(path, f"{name} holds a value that is not a number")
    missing = {"n_iter_", "t_", "n_outputs_", "n_layers_", "out_activation_",
               "n_features_in_"} - set(fitted)
    if missing:
        _fail(path, f"missing fitted attributes {sorted(missing)}")
    hidden = estimator._hidden_sizes()
    if (list(net.layers) != [fitted["n_features_in_"], *hidden, fitted["n_outputs_"]]
            or fitted["n_layers_"] != len(net.layers)
            or _OUTPUTS.get(fitted["out_activation_"], (None,))[0] != net.output
            or net.hidden_activations != [_ACTIVATIONS[estimator.activation]] * len(hidden)):
        _fail(path, "the estimator's shape, activations or output do not match its network")
    for name, value in fitted.items():
        setattr(estimator, name, list(value) if isinstance(value, list) else value)
    names = part.get("feature_names_in")
    if names is not None:
        if not isinstance(names, list) or len(names) != net.n_inputs \
                or not all(isinstance(n, str) for n in names):
            _fail(path, "feature names")
        estimator.feature_names_in_ = np.array(names, dtype=object)
    if cls is MLPClassifier:
        classes, kind = _classes_from(path, part.get("classes")), part.get("label_type")
        outputs = net.n_outputs
        if kind not in _LABEL_TYPES or len(classes) != len(np.unique(classes)) or not (
                (kind == "binary" and outputs == 1 and 1 <= len(classes) <= 2)
                or (kind != "binary" and len(classes) == outputs)):
            _fail(path, f"{len(classes)} classes ({kind!r:.30}) for {outputs} outputs")
        binarizer = LabelBinarizer()
        binarizer.classes_, binarizer.y_type_, binarizer.sparse_input_ = classes, kind, False
        estimator._label_binarizer, estimator.classes_ = binarizer, classes
    estimator._adopt(_as_sklearn_loss(net))
    estimator._optimizer = None
    saved = part.get("optimizer")
    if saved is not None:
        estimator._optimizer = optimizer_from(path, saved, buffers, "estimator file",
                                              classes=("SklearnSGD", "SklearnAdam"))
    return estimator
