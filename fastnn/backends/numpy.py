"""The NumPy reference backend: the maths of DESIGN.md written plainly, and the benchmark
baseline, so it is written as a competent NumPy programmer would (BLAS through `@`,
in-place ufuncs, no loops over samples), never slowed on purpose."""
import numpy as np

from ..activations import ACTIVATIONS, DERIVATIVES
from ..losses import LOSSES


class NumpyBackend:
    name = "numpy"

    def __init__(self, network):
        self.weights = network.weights
        self.biases = network.biases if network.bias else [None] * len(self.weights)
        self.activations = list(network.hidden_activations) + [network.output]
        self.output = network.output
        self.loss = LOSSES[network.loss]
        self.weight_slices = network._weight_slices
        self.bias_slices = network._bias_slices
        self._last = None

    def _hidden(self, X):
        """Activations of every layer but the last, and the last layer's z."""
        activations = []
        a = X
        last = len(self.weights) - 1
        for l, (W, b, f) in enumerate(zip(self.weights, self.biases, self.activations)):
            z = a @ W
            if b is not None:
                z += b
            a = z if l == last else ACTIVATIONS[f](z)
            activations.append(a)
        return activations

    def forward(self, X):
        activations = self._hidden(X)
        return ACTIVATIONS[self.output](activations[-1])

    def _penalty(self, weight_decay):
        return 0.5 * weight_decay * sum(np.dot(W.ravel(), W.ravel()) for W in self.weights)

    def cost(self, X, Y, weight_decay):
        z = self._hidden(X)[-1]
        total, _, _ = self.loss(z, Y, self.output)
        return total / X.shape[0] + (self._penalty(weight_decay) if weight_decay else 0.0)

    def backward(self, X, Y, weight_decay, grad):
        m = X.shape[0]
        activations = self._hidden(X)
        total, activations[-1], delta = self.loss(activations[-1], Y, self.output)
        delta /= m
        deltas = [delta]
        for l in range(len(self.weights) - 1, -1, -1):
            a_in = X if l == 0 else activations[l - 1]
            grad_W = grad[self.weight_slices[l]].reshape(self.weights[l].shape)
            np.matmul(a_in.T, delta, out=grad_W)
            if weight_decay:
                grad_W += weight_decay * self.weights[l]
            if self.biases[l] is not None:
                grad[self.bias_slices[l]] = delta.sum(axis=0)
            if l > 0:
                delta = DERIVATIVES[self.activations[l - 1]](activations[l - 1],
                                                             delta @ self.weights[l].T)
                deltas.insert(0, delta)
        self._last = activations, deltas
        return total / m + (self._penalty(weight_decay) if weight_decay else 0.0)

    def layer_values(self, m):
        """Activations and deltas of the last backward pass, one array per layer."""
        return self._last
