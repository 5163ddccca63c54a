"""ONNX export: a Network or a fitted drop-in as a standard ONNX graph, for ONNX Runtime and
every other ONNX consumer.

Each layer is one Gemm node, z = a @ W + b (MatMul without biases), followed by its activation
op (Relu, Sigmoid, Tanh, Exp, Softmax over the last axis; none for identity), or nodes of
elementary operators for the others (leaky_relu, elu, softplus, gelu, silu). The graph's
input is "X" of shape (N, n_inputs). A Network's graph has one output, "output" (N, n_outputs).
The drop-ins' graphs follow scikit-learn's converters (skl2onnx with zipmap=False):

- MLPClassifier: "label" (N,) of the classes' type (int64, string, bool or double) and
  "probabilities" (N, n_classes); for multi-label targets "label" is the (N, n_labels)
  int64 indicator.
- MLPRegressor: "variable" (N, n_outputs).

Needs the `onnx` package (`pip install onnx`, or the project's `onnx` extra); fastnn itself
never imports it elsewhere.
"""
import functools

import numpy as np

from ._files import write_atomically

__all__ = ["export", "OPSET", "ACTIVATION_NODES"]


def __dir__():  # tab completion shows the public names only
    return __all__


#: the ONNX operator set the graphs use (ONNX Runtime has run it since 1.12)
OPSET = 17


def _unary(op):
    def node(helper, x, y):
        return [helper.make_node(op, [x], [y])]
    return node


def _composite(helper, x, y, steps):
    """Nodes for y = f(x) from elementary operators, which ONNX Runtime runs in float64 too
    (its Elu, LeakyRelu and Softplus kernels are float32 only). Each step is (operator,
    inputs, output): inputs name "x", an earlier output, a number or a float array (a
    constant of x's type: a double Constant, then CastLike) or a tuple of ints (an int64
    constant, for axes); output "y" is the result. Steps may pass attributes as a fourth
    item, a dict."""
    from onnx import TensorProto

    names, nodes = {"x": x, "y": y}, []
    for k, (op, inputs, output, *attributes) in enumerate(steps):
        wired = []
        for j, item in enumerate(inputs):
            constant = f"{y}_c{k}_{j}"
            if isinstance(item, tuple):
                nodes.append(helper.make_node("Constant", [], [constant], value=helper.make_tensor(
                    constant + "_v", TensorProto.INT64, [len(item)], list(item))))
                wired.append(constant)
            elif isinstance(item, (float, np.ndarray)):
                values = np.asarray(item, np.float64)
                nodes.append(helper.make_node("Constant", [], [constant + "_d"], value=helper.make_tensor(
                    constant + "_v", TensorProto.DOUBLE, values.shape, values.ravel().tolist())))
                nodes.append(helper.make_node("CastLike", [constant + "_d", x], [constant]))
                wired.append(constant)
            else:
                wired.append(names[item])
        names.setdefault(output, f"{y}_{output}")
        nodes.append(helper.make_node(op, wired, [names[output]], **(attributes[0] if attributes else {})))
    return nodes


#: erfcx(x) = e^(x^2) erfc(x) for x >= 0 is t h(u), t = 1 / (1 + x / _ERFCX_SCALE) in (0, 1],
#: u = 2t - 1, h a polynomial of degree _ERFCX_DEGREE: relative error about 5e-15 for every
#: x >= 0 in float64 (tests/test_onnx.py checks the graph against scipy's erfc)
_ERFCX_SCALE, _ERFCX_DEGREE = 4.0, 20


@functools.lru_cache(maxsize=None)
def _erfcx_series():
    """h's coefficients (of u^0 .. u^degree): h interpolated at the Chebyshev nodes, which
    is within rounding of the best polynomial, then written in powers of u (they stay below
    0.3 in size: the power sum does not cancel)."""
    from numpy.polynomial import chebyshev
    from scipy.special import erfcx

    u = np.cos(np.pi * (np.arange(200) + 0.5) / 200)
    t = (u + 1) / 2
    series = chebyshev.chebfit(u, erfcx(_ERFCX_SCALE * (1 - t) / t) / t, _ERFCX_DEGREE)
    return chebyshev.cheb2poly(series)


def _gelu_nodes(helper, x, y):
    """y = x Phi(x). ONNX Runtime has no float64 Erf kernel (nor Gelu, which opset 20 adds
    and which expands to Erf), so Phi is built from elementary operators that it runs in
    both dtypes: Phi(-|x|) = erfc(v) / 2 = e^(-v^2) t h(u) / 2 with v = |x| / sqrt 2 (see
    _erfcx_series), h(u) = [u^0 .. u^degree] @ coefficients; Phi(x) = 1 - Phi(-|x|) for
    x >= 0. Accurate far below 0 too, where 1 + erf(x / sqrt 2) would cancel."""
    return _composite(helper, x, y, [
        ("Abs", ["x"], "size"), ("Mul", ["size", 0.7071067811865476], "v"),
        ("Mul", ["v", 1 / _ERFCX_SCALE], "scaled"), ("Add", ["scaled", 1.0], "denominator"),
        ("Reciprocal", ["denominator"], "t"), ("Mul", ["t", 2.0], "twice"),
        ("Sub", ["twice", 1.0], "u"), ("Unsqueeze", ["u", (-1,)], "column"),
        ("Pow", ["column", np.arange(_ERFCX_DEGREE + 1.0)], "powers"),
        ("MatMul", ["powers", _erfcx_series()], "h"),
        ("Mul", ["v", "v"], "square"), ("Neg", ["square"], "minus"), ("Exp", ["minus"], "gauss"),
        ("Mul", ["t", "h"], "erfcx"), ("Mul", ["erfcx", "gauss"], "erfc"),
        ("Mul", ["erfc", 0.5], "tail"), ("Sub", [1.0, "tail"], "upper"),
        ("Less", ["x", 0.0], "negative"), ("Where", ["negative", "tail", "upper"], "cdf"),
        ("Mul", ["x", "cdf"], "y")])


# fastnn activation -> the nodes computing y = f(x) (None: y is x)
ACTIVATION_NODES = {
    "identity": None,
    "sigmoid": _unary("Sigmoid"),
    "tanh": _unary("Tanh"),
    "relu": _unary("Relu"),
    "leaky_relu": lambda helper, x, y: _composite(helper, x, y, [
        ("Mul", ["x", 0.01], "scaled"), ("Max", ["x", "scaled"], "y")]),
    "elu": lambda helper, x, y: _composite(helper, x, y, [
        ("Min", ["x", 0.0], "negative"), ("Exp", ["negative"], "e"), ("Sub", ["e", 1.0], "em1"),
        ("Greater", ["x", 0.0], "positive"), ("Where", ["positive", "x", "em1"], "y")]),
    "softplus": lambda helper, x, y: _composite(helper, x, y, [  # max(x, 0) + log(1 + e^-|x|)
        ("Abs", ["x"], "size"), ("Neg", ["size"], "minus"), ("Exp", ["minus"], "e"),
        ("Add", ["e", 1.0], "sum"), ("Log", ["sum"], "log"), ("Max", ["x", 0.0], "relu"),
        ("Add", ["relu", "log"], "y")]),
    "gelu": _gelu_nodes,
    "silu": lambda helper, x, y: _composite(helper, x, y, [
        ("Sigmoid", ["x"], "s"), ("Mul", ["x", "s"], "y")]),
    "exp": _unary("Exp"),
    "softmax": lambda helper, x, y: [helper.make_node("Softmax", [x], [y], axis=-1)],
}


def export(model, path, dtype=None, opset=OPSET):
    """Write `model` (a Network, or a fitted fastnn MLPClassifier/MLPRegressor) to `path` as
    an ONNX graph, atomically; returns the onnx.ModelProto.

    dtype: "float32" or "float64" for the graph's input, weights and outputs (None: the
    model's own). The graph computes a[l] = f_l(a[l-1] @ W[l] + b[l]) as fastnn does, so
    ONNX Runtime reproduces fastnn's outputs to rounding (about 1e-6 relative in float32,
    1e-15 in float64).

    >>> import os, tempfile, fastnn as fnn
    >>> import fastnn.onnx
    >>> net = fnn.Network([4, 8, 3], activation="relu", output="softmax",
    ...                   loss="cross_entropy", seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "net.onnx")
    >>> graph = fastnn.onnx.export(net, path, dtype="float32")
    >>> [node.op_type for node in graph.graph.node]
    ['Gemm', 'Relu', 'Gemm', 'Softmax', 'Identity']
    """
    onnx = _onnx()
    from onnx import TensorProto, helper, numpy_helper

    net, kind = _network_of(model)
    if not np.isfinite(net.params).all():
        raise ValueError("the model's parameters are not all finite: nothing to export")
    if dtype is not None:  # copy checks the dtype and that the weights fit in it
        net = net.copy(dtype=dtype)
    dtype = net.dtype
    elem = TensorProto.FLOAT if dtype == np.float32 else TensorProto.DOUBLE

    nodes, initializers = [], []
    activations = list(net.hidden_activations) + [net.output]
    a = "X"
    biases = net.biases if net.bias else [None] * len(net.weights)
    for l, (W, b, f) in enumerate(zip(net.weights, biases, activations)):
        initializers.append(numpy_helper.from_array(W, f"W{l}"))
        z = f"z{l}"
        if b is None:
            nodes.append(helper.make_node("MatMul", [a, f"W{l}"], [z]))
        else:
            initializers.append(numpy_helper.from_array(b, f"b{l}"))
            nodes.append(helper.make_node("Gemm", [a, f"W{l}", f"b{l}"], [z]))
        a = f"a{l}"
        if f not in ACTIVATION_NODES:
            raise ValueError(f"activation {f!r} has no ONNX form here")
        if ACTIVATION_NODES[f] is None:
            nodes.append(helper.make_node("Identity", [z], [a]))
        else:
            nodes.extend(ACTIVATION_NODES[f](helper, z, a))

    rows = "N"
    if kind == "network":
        nodes.append(helper.make_node("Identity", [a], ["output"]))
        outputs = [helper.make_tensor_value_info("output", elem, [rows, net.n_outputs])]
    elif kind == "regressor":
        nodes.append(helper.make_node("Identity", [a], ["variable"]))
        outputs = [helper.make_tensor_value_info("variable", elem, [rows, net.n_outputs])]
    else:
        more_nodes, more_inits, outputs = _classifier_outputs(model, a, elem, dtype, rows,
                                                              helper, numpy_helper, TensorProto)
        nodes += more_nodes
        initializers += more_inits

    graph = helper.make_graph(
        nodes, f"fastnn_{type(model).__name__}", [helper.make_tensor_value_info(
            "X", elem, [rows, net.n_inputs])], outputs, initializers)
    from . import __version__
    proto = helper.make_model(graph, producer_name="fastnn", producer_version=__version__,
                              opset_imports=[helper.make_opsetid("", opset)],
                              doc_string=repr(net))
    proto.ir_version = min(proto.ir_version, _IR_FOR_OPSET.get(opset, proto.ir_version))
    onnx.checker.check_model(proto, full_check=True)
    write_atomically(path, lambda handle: handle.write(proto.SerializeToString()))
    return proto


# the newest IR version each opset's ONNX release wrote (older runtimes refuse newer IRs)
_IR_FOR_OPSET = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs the onnx package: pip install onnx (or, from "
                          "fastnn's source folder, pip install '.[onnx]')") from None
    return onnx


def _network_of(model):
    """(Network, "network" | "classifier" | "regressor") of what export was given."""
    from .network import Network
    from .sklearn import MLPClassifier, MLPRegressor

    if isinstance(model, Network):
        return model, "network"
    if isinstance(model, (MLPClassifier, MLPRegressor)):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(model)
        return (model._network(),
                "classifier" if isinstance(model, MLPClassifier) else "regressor")
    raise TypeError(f"export takes a fastnn Network or a fitted fastnn MLPClassifier/"
                    f"MLPRegressor; got {type(model).__name__}")


def _classes_tensor(classes, numpy_helper):
    """classes_ as a constant the label can be gathered from (int64, string, bool, double)."""
    kind = classes.dtype.kind
    if kind in "iu":
        return numpy_helper.from_array(classes.astype(np.int64), "classes")
    if kind == "b":
        return numpy_helper.from_array(classes.astype(bool), "classes")
    if kind == "f":
        return numpy_helper.from_array(classes.astype(np.float64), "classes")
    if kind in "UO" and all(isinstance(c, str) for c in classes):
        return numpy_helper.from_array(np.array(classes, dtype=object), "classes")
    raise ValueError(f"classes of dtype {classes.dtype} have no ONNX tensor type here")


def _classifier_outputs(model, a, elem, dtype, rows, helper, numpy_helper, TensorProto):
    """Nodes from the output activations `a` to "label" and "probabilities", by the rules of
    the drop-in's predict and predict_proba."""
    kind = model._label_binarizer.y_type_
    nodes, inits = [], []
    half = numpy_helper.from_array(np.array(0.5, dtype), "half")
    if kind == "multilabel-indicator":
        inits.append(half)
        nodes += [helper.make_node("Identity", [a], ["probabilities"]),
                  helper.make_node("Greater", [a, "half"], ["above"]),
                  helper.make_node("Cast", ["above"], ["label"], to=TensorProto.INT64)]
        n = len(model.classes_)
        return nodes, inits, [helper.make_tensor_value_info("label", TensorProto.INT64, [rows, n]),
                              helper.make_tensor_value_info("probabilities", elem, [rows, n])]
    classes = _classes_tensor(np.asarray(model.classes_), numpy_helper)
    inits.append(classes)
    if len(model.classes_) == 2 and model.n_outputs_ == 1:  # one logistic unit: p(second)
        inits += [half, numpy_helper.from_array(np.array([1.0], dtype), "one")]
        nodes += [helper.make_node("Sub", ["one", a], ["p_first"]),
                  helper.make_node("Concat", ["p_first", a], ["probabilities"], axis=1),
                  helper.make_node("Greater", [a, "half"], ["above"]),
                  helper.make_node("Cast", ["above"], ["index_column"], to=TensorProto.INT64),
                  helper.make_node("Squeeze", ["index_column", "axis_one"], ["index"])]
        inits.append(numpy_helper.from_array(np.array([1], np.int64), "axis_one"))
    else:  # softmax over the classes: the first largest probability
        nodes += [helper.make_node("Identity", [a], ["probabilities"]),
                  helper.make_node("ArgMax", [a], ["index"], axis=1, keepdims=0)]
    nodes.append(helper.make_node("Gather", ["classes", "index"], ["label"], axis=0))
    label_type = classes.data_type
    return nodes, inits, [
        helper.make_tensor_value_info("label", label_type, [rows]),
        helper.make_tensor_value_info("probabilities", elem, [rows, len(model.classes_)])]
