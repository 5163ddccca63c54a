"""The compiled backend: whole-network passes in src_pyx/_network.pyx, one call each, GIL
released. Activations and deltas live in two flat workspaces per thread that grow to the
largest batch seen and are then reused, so a pass allocates nothing in steady state and
threads never share scratch memory (predicting from many threads at once is safe)."""
import threading

import numpy as np

from .. import _network
from ..activations import ACTIVATION_CODES
from ..losses import LOSS_CODES


class CythonBackend:
    name = "cython"

    def __init__(self, network):
        activations = list(network.hidden_activations) + [network.output]
        self.params = network.params
        self.sizes = network.layers
        self.dtype = network.dtype
        self.plan = _network.Plan(
            list(self.sizes), [ACTIVATION_CODES[f] for f in activations],
            LOSS_CODES[network.loss],
            [s.start for s in network._weight_slices],
            [s.start if s is not None else -1 for s in network._bias_slices],
            network.n_params)
        self._local = threading.local()

    @property
    def loss_scale(self):
        """Factor on J's data term only (scikit-learn's mse: 1 / n_outputs)."""
        return self.plan.loss_scale

    @loss_scale.setter
    def loss_scale(self, value):
        self.plan.loss_scale = value

    def _workspace(self, m, deltas=False):
        """This thread's activations (or deltas) buffer, grown to hold m rows of every layer."""
        local = self._local
        name = "deltas" if deltas else "acts"
        buffer = getattr(local, name, None)
        needed = m * self.plan.n_units
        if buffer is None or buffer.size < needed:
            buffer = np.empty(needed, self.dtype)
            setattr(local, name, buffer)
        return buffer

    def _layers(self, buffer, m):
        """Per-layer (m x n_l) views of a packed workspace."""
        views, start = [], 0
        for n in self.sizes[1:]:
            views.append(buffer[start:start + m * n].reshape(m, n))
            start += m * n
        return views

    def forward(self, X):
        m = X.shape[0]
        acts = self._workspace(m)
        _network.forward(self.plan, self.params, X, acts)
        n_out = self.sizes[-1]
        end = m * self.plan.n_units
        return acts[end - m * n_out:end].reshape(m, n_out).copy()

    def cost(self, X, Y, weight_decay, sample_weight=None, params=None):
        return _network.loss(self.plan, self.params if params is None else params, X, Y,
                             self._workspace(X.shape[0]), weight_decay, sample_weight)

    def backward(self, X, Y, weight_decay, grad, sample_weight=None, params=None):
        m = X.shape[0]
        return _network.backward(self.plan, self.params if params is None else params, X, Y,
                                 self._workspace(m), self._workspace(m, deltas=True), grad,
                                 weight_decay, sample_weight)

    def layer_values(self, m):
        """Activations and deltas of this thread's last backward pass over m rows."""
        return self._layers(self._workspace(m), m), self._layers(self._workspace(m, True), m)
