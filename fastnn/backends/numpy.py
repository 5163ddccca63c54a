"""The NumPy reference backend: the maths of DESIGN.md written plainly, and the benchmark
baseline, so it is written as a competent NumPy programmer would (BLAS through `@`,
in-place ufuncs, no loops over samples), never slowed on purpose."""
import numpy as np

from . import no_shortcut
from .._sparse import CSRRows

from ..activations import ACTIVATIONS, FROM_Z, multiply_derivative
from ..dropout import scales
from ..losses import LOSSES


class NumpyBackend:
    name = "numpy"

    def __init__(self, network):
        self.params = network.params
        self.shapes = list(zip(network.layers[:-1], network.layers[1:]))
        self.weight_slices = network._weight_slices
        self.bias_slices = network._bias_slices
        self.activations = list(network.hidden_activations) + [network.output]
        self.dropout = list(network.dropout) + [0.0]
        self.output = network.output
        loss, huber_delta = LOSSES[network.loss], network.huber_delta
        self.loss = lambda z, y, output: loss(z, y, output, huber_delta)
        self.loss_scale = 1.0  # factor on J's data term only (scikit-learn's mse: 1 / n_outputs)
        self._last = None

    def _layers(self, params):
        """(W[l], b[l] or None) views of a flat parameter vector."""
        return [(params[ws].reshape(shape), params[bs] if bs is not None else None)
                for ws, bs, shape in zip(self.weight_slices, self.bias_slices, self.shapes)]

    def _hidden(self, X, layers, zs=None, dropout=None, kept=None):
        """Activations of every layer but the last, and the last layer's z. With a list zs,
        also each hidden layer's z where its derivative needs it (FROM_Z), else None. With
        dropout (seed, step), hidden activations are multiplied by their dropout factors,
        and the list `kept` receives (a before dropout, factors) per layer, or None."""
        activations = []
        a = X.matrix if isinstance(X, CSRRows) else X  # scipy's sparse product for sparse rows
        last = len(layers) - 1
        for l, ((W, b), f) in enumerate(zip(layers, self.activations)):
            z = a @ W
            if b is not None:
                z += b
            if zs is not None and l < last:
                zs.append(z.copy() if f in FROM_Z else None)
            a = z if l == last else ACTIVATIONS[f](z)
            if dropout is not None and l < last and self.dropout[l] > 0:
                factors = scales(*dropout, l, len(layers), a.shape, self.dropout[l], a.dtype)
                if kept is not None:
                    kept.append((a.copy(), factors))
                a *= factors
            elif kept is not None:
                kept.append(None)
            activations.append(a)
        return activations

    def forward(self, X, threads=None, out=None):
        activations = self._hidden(X, self._layers(self.params))
        output = ACTIVATIONS[self.output](activations[-1])
        if out is None:
            return output
        out[...] = output
        return out

    predict_few = staticmethod(no_shortcut)  # the reference takes the general path

    @staticmethod
    def _penalty(layers, weight_decay):
        return 0.5 * weight_decay * sum(np.dot(W.ravel(), W.ravel()) for W, _ in layers)

    def _cost(self, losses, m, layers, weight_decay, sample_weight):
        total = losses.sum() if sample_weight is None else sample_weight @ losses
        return self.loss_scale * total / m + (self._penalty(layers, weight_decay) if weight_decay else 0.0)

    def cost(self, X, Y, weight_decay, sample_weight=None, params=None, threads=None,
             dropout=None):
        layers = self._layers(self.params if params is None else params)
        losses, _, _ = self.loss(self._hidden(X, layers, dropout=dropout)[-1], Y, self.output)
        return self._cost(losses, X.shape[0], layers, weight_decay, sample_weight)

    def backward(self, X, Y, weight_decay, grad, sample_weight=None, params=None, threads=None,
                 dropout=None):
        """J and its gradient; with dropout (seed, step), of the training pass that drops
        units as fastnn.dropout draws them."""
        m = X.shape[0]
        layers = self._layers(self.params if params is None else params)
        zs, kept = [], []
        activations = self._hidden(X, layers, zs, dropout, kept)
        losses, activations[-1], delta = self.loss(activations[-1], Y, self.output)
        delta *= (1 / m) if sample_weight is None else sample_weight[:, None] / m
        deltas = [delta]
        for l in range(len(layers) - 1, -1, -1):
            W = layers[l][0]
            a_in = X if l == 0 else activations[l - 1]
            grad_W = grad[self.weight_slices[l]].reshape(W.shape)
            if isinstance(a_in, CSRRows):
                grad_W[...] = a_in.matrix.T @ delta
            else:
                np.matmul(a_in.T, delta, out=grad_W)
            if weight_decay:
                grad_W += weight_decay * W
            if self.bias_slices[l] is not None:
                grad[self.bias_slices[l]] = delta.sum(axis=0)
            if l > 0:
                a, factors = kept[l - 1] or (activations[l - 1], None)
                delta = multiply_derivative(self.activations[l - 1], zs[l - 1], a, delta @ W.T)
                if factors is not None:  # a dropped unit passes no gradient back
                    delta *= factors
                deltas.insert(0, delta)
        self._last = activations, deltas
        return self._cost(losses, m, layers, weight_decay, sample_weight)

    def layer_values(self, m):
        """Activations and deltas of the last backward pass, one array per layer."""
        return self._last
