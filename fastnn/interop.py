"""Weights in and out: fitted scikit-learn MLPs and torch.nn.Sequential stacks to and from a
Network (Network.from_sklearn / to_sklearn / from_torch / to_torch call these).

Both libraries compute z = a @ W + b per layer as fastnn does; scikit-learn stores W as
(n_in, n_out) like fastnn, torch.nn.Linear as (n_out, n_in), so torch weights are transposed
on the way. Converted models predict the same to rounding. scikit-learn and torch are
imported only here, and only when called.
"""
import numpy as np

from .network import Network

__all__ = ["from_sklearn", "to_sklearn", "from_torch", "to_torch", "TORCH_MODULES"]


def __dir__():  # tab completion shows the public names only
    return __all__


# fastnn activation -> the torch.nn module class that computes it (and its arguments)
TORCH_MODULES = {"relu": ("ReLU", {}), "sigmoid": ("Sigmoid", {}), "tanh": ("Tanh", {}),
                 "leaky_relu": ("LeakyReLU", {"negative_slope": 0.01}),
                 "elu": ("ELU", {"alpha": 1.0}),
                 # beta 1; past threshold torch returns z itself, within rounding of log1p(e^z)
                 "softplus": ("Softplus", {"beta": 1.0, "threshold": 20.0}),
                 "gelu": ("GELU", {"approximate": "none"}),  # the exact erf form, not tanh's
                 "silu": ("SiLU", {}),
                 "softmax": ("Softmax", {"dim": -1})}
# fastnn output -> the loss a network built from torch gets unless told otherwise
_LOSS_FOR_OUTPUT = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}  # else mse


# -- scikit-learn ---------------------------------------------------------------------------

def from_sklearn(estimator, backend="auto"):
    """A Network with the weights of a fitted MLPClassifier/MLPRegressor (scikit-learn's or
    fastnn's drop-ins): its predict gives the estimator's output activations (predict_proba
    for several classes; the positive class's probability for two; predict's values for a
    regressor, as columns)."""
    from sklearn.utils.validation import check_is_fitted

    from sklearn.neural_network import MLPClassifier, MLPRegressor

    from . import sklearn as drop_ins

    if not isinstance(estimator, (MLPClassifier, MLPRegressor, drop_ins.MLPClassifier,
                                  drop_ins.MLPRegressor)):
        raise TypeError(f"from_sklearn takes a fitted MLPClassifier or MLPRegressor; got "
                        f"{type(estimator).__name__}")
    check_is_fitted(estimator)
    return drop_ins._network_with(
        estimator.coefs_, estimator.intercepts_, None,
        lambda layers, dtype: drop_ins._plain_network(estimator.activation,
                                                     estimator.out_activation_, layers, dtype,
                                                     backend))


def to_sklearn(net, classes=None):
    """scikit-learn's own fitted MLPClassifier or MLPRegressor computing what `net` does.

    The output picks the estimator: softmax gives a classifier over len(classes) classes
    (default 0 .. n_outputs-1); one sigmoid unit a binary classifier (classes default
    [0, 1], the unit being the second class's probability); several sigmoid units a
    multi-label classifier; identity a regressor; exp a Poisson regressor. scikit-learn has
    one hidden activation for all layers (identity, logistic, tanh or relu) and always has
    biases (zeros here when the network has none). The estimator predicts at once, and a
    fit with warm_start=True goes on from these weights."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.preprocessing import LabelBinarizer

    from .sklearn import _SKLEARN_ACTIVATIONS

    if not isinstance(net, Network):
        raise TypeError(f"to_sklearn takes a Network; got {type(net).__name__}")
    hidden = set(net.hidden_activations) or {"identity"}
    to_sklearn_name = {ours: theirs for theirs, ours in _SKLEARN_ACTIVATIONS.items()}
    if len(hidden) > 1 or not hidden <= set(to_sklearn_name):
        raise ValueError(f"scikit-learn's MLPs use one hidden activation of "
                         f"{', '.join(sorted(to_sklearn_name))}; this network has "
                         f"{list(net.hidden_activations)}")
    n_out = net.n_outputs
    common = dict(hidden_layer_sizes=tuple(net.layers[1:-1]),
                  activation=to_sklearn_name[hidden.pop()])
    if net.output in ("softmax", "sigmoid"):
        model = MLPClassifier(**common)
        multilabel = net.output == "sigmoid" and n_out > 1
        if net.output == "softmax" and n_out < 2:
            raise ValueError("a softmax over one output is constant: no classifier to make")
        if multilabel:
            if classes is not None:
                raise ValueError("a multi-label classifier's classes are its output columns "
                                 "0 .. n_outputs-1: leave classes=None")
            model._label_binarizer = LabelBinarizer().fit(np.eye(n_out, dtype=int))
        else:
            wanted = 2 if n_out == 1 else n_out
            classes = np.arange(wanted) if classes is None else np.asarray(classes)
            if classes.ndim != 1 or len(classes) != wanted or len(np.unique(classes)) != wanted:
                raise ValueError(f"classes must be {wanted} distinct labels for this network's "
                                 f"{n_out} {net.output} output{'s' if n_out > 1 else ''}")
            model._label_binarizer = LabelBinarizer().fit(classes)
        model.classes_ = model._label_binarizer.classes_
        model.out_activation_ = "softmax" if net.output == "softmax" else "logistic"
    elif net.output in ("identity", "exp"):
        if classes is not None:
            raise ValueError(f"a network with a {net.output} output is a regressor: no classes")
        model = MLPRegressor(loss="poisson" if net.output == "exp" else "squared_error", **common)
        model.out_activation_ = net.output
    else:
        raise ValueError(f"scikit-learn's MLPs end in softmax, logistic, identity or exp; this "
                         f"network's output is {net.output!r}")
    model.coefs_ = [W.copy() for W in net.weights]
    model.intercepts_ = ([b.copy() for b in net.biases] if net.bias
                         else [np.zeros(W.shape[1], net.dtype) for W in net.weights])
    # what scikit-learn's _initialize sets, so that predict works and warm_start goes on
    model.n_features_in_ = net.n_inputs
    model.n_outputs_ = n_out
    model.n_layers_ = len(net.layers)
    model.n_iter_ = model.t_ = 0
    model.loss_curve_ = []
    model._no_improvement_count = 0
    model.best_loss_ = np.inf
    return model


# -- PyTorch ----------------------------------------------------------------------------------

def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("from_torch/to_torch need PyTorch: pip install torch") from None
    return torch


def _flat_modules(module, torch):
    """The leaf modules of a (possibly nested) Sequential, in order."""
    if isinstance(module, torch.nn.Sequential):
        return [leaf for child in module for leaf in _flat_modules(child, torch)]
    return [module]


def from_torch(sequential, loss=None, backend="auto"):
    """A Network with the weights of a torch.nn.Sequential of Linear layers, each followed by
    at most one activation (ReLU, Sigmoid, Tanh, LeakyReLU, ELU, Softplus, GELU, SiLU with
    torch's default arguments, which are checked: GELU(approximate="tanh") is refused;
    Softmax(dim=-1) after the last; Identity and Dropout, which is inert at inference, are
    skipped). The weights' dtype (float32 or
    float64) becomes the network's; `loss` defaults to the one that goes with the output
    (cross_entropy for softmax, binary_cross_entropy for sigmoid, else mse)."""
    torch = _torch()
    if not isinstance(sequential, torch.nn.Sequential):
        raise TypeError(f"from_torch takes a torch.nn.Sequential; got {type(sequential).__name__}")
    names = {getattr(torch.nn, cls): ours for ours, (cls, _) in TORCH_MODULES.items()}
    linears, activations = [], []
    for position, module in enumerate(_flat_modules(sequential, torch)):
        kind = type(module)
        if kind is torch.nn.Linear:
            if len(activations) < len(linears):
                activations.append("identity")
            linears.append(module)
        elif kind in (torch.nn.Identity, torch.nn.Dropout):
            continue
        elif kind in names:
            if not linears or len(activations) == len(linears):
                raise ValueError(f"layer {position} ({module}) must follow a Linear layer")
            if kind is torch.nn.Softmax and module.dim not in (-1, 1):
                raise ValueError(f"layer {position} ({module}): only a softmax over the "
                                 f"features (dim=-1) has a fastnn counterpart")
            arguments = TORCH_MODULES[names[kind]][1]
            if kind is not torch.nn.Softmax and any(
                    getattr(module, k) != v for k, v in arguments.items() if k != "threshold"):
                raise ValueError(f"layer {position} ({module}): fastnn's {names[kind]} has "
                                 f"{', '.join(f'{k}={v!r}' for k, v in arguments.items())}")
            activations.append(names[kind])
        else:
            raise ValueError(f"layer {position} ({module}) has no fastnn counterpart; "
                             f"supported: Linear, {', '.join(c for c, _ in TORCH_MODULES.values())}, "
                             f"Identity, Dropout")
    if not linears:
        raise ValueError("the Sequential has no Linear layer")
    if len(activations) < len(linears):
        activations.append("identity")
    if "softmax" in activations[:-1]:
        raise ValueError("Softmax is only supported after the last Linear layer")
    layers = [linears[0].in_features]
    for position, linear in enumerate(linears):
        if linear.in_features != layers[-1]:
            raise ValueError(f"Linear layer {position} takes {linear.in_features} features but "
                             f"the layer before gives {layers[-1]}")
        layers.append(linear.out_features)
    biased = {linear.bias is not None for linear in linears}
    if len(biased) > 1:
        raise ValueError("some Linear layers have biases and some not: fastnn networks have "
                         "biases in every layer or in none")
    dtypes = {linear.weight.dtype for linear in linears}
    if len(dtypes) > 1 or dtypes.pop() not in (torch.float32, torch.float64):
        raise ValueError(f"the Linear layers' weights must all be float32 or all float64; got "
                         f"{sorted(str(linear.weight.dtype) for linear in linears)}")
    dtype = "float64" if linears[0].weight.dtype == torch.float64 else "float32"
    output = activations[-1]
    net = Network(layers, activation=activations[:-1], output=output,
                  loss=_LOSS_FOR_OUTPUT.get(output, "mse") if loss is None else loss, bias=biased.pop(),
                  dtype=dtype, backend=backend)
    for l, linear in enumerate(linears):
        net.weights[l][...] = linear.weight.detach().cpu().numpy().T
        if net.bias:
            net.biases[l][...] = linear.bias.detach().cpu().numpy()
    return net


def to_torch(net):
    """A torch.nn.Sequential computing what `net` computes: Linear layers (weights of the
    network's dtype) with the matching activation modules, Softmax(dim=-1) for a softmax
    output, nothing after an identity output."""
    torch = _torch()
    if not isinstance(net, Network):
        raise TypeError(f"to_torch takes a Network; got {type(net).__name__}")
    dtype = torch.float64 if net.dtype == np.float64 else torch.float32
    modules = []
    activations = list(net.hidden_activations) + [net.output]
    for l, (W, f) in enumerate(zip(net.weights, activations)):
        linear = torch.nn.Linear(W.shape[0], W.shape[1], bias=net.bias, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W.T)))
            if net.bias:
                linear.bias.copy_(torch.from_numpy(net.biases[l].copy()))
        modules.append(linear)
        if f == "identity":
            continue
        if f not in TORCH_MODULES:
            raise ValueError(f"activation {f!r} (layer {l}) has no torch.nn module")
        cls, kwargs = TORCH_MODULES[f]
        modules.append(getattr(torch.nn, cls)(**kwargs))
    return torch.nn.Sequential(*modules)
