"""The compiled backend: whole-network passes in src_pyx/_kernels.pyx, one call each, GIL
released. Activations and deltas live in two flat workspaces per thread that grow to the
largest batch seen and are then reused, so a pass allocates nothing in steady state and
threads never share scratch memory (predicting from many threads at once is safe).

Every pass takes `threads` (None: the default of fastnn._threads): the kernels split each
phase over up to that many threads where the phase is large enough to gain from it."""
import threading

import numpy as np

from . import FEW_ROWS, FEW_WORK, no_shortcut
from .._dispatch import kernels
from .._sparse import CSRRows
from .._threads import kernel_threads
from ..activations import ACTIVATION_CODES
from ..losses import LOSS_CODES


class CythonBackend:
    name = "cython"

    def __init__(self, network):
        activations = list(network.hidden_activations) + [network.output]
        self.kernels = kernels()
        self.params = network.params
        self.sizes = network.layers
        self.dtype = network.dtype
        self.plan = self.kernels.Plan(
            list(self.sizes), [ACTIVATION_CODES[f] for f in activations],
            LOSS_CODES[network.loss],
            [s.start for s in network._weight_slices],
            [s.start if s is not None else -1 for s in network._bias_slices],
            network.n_params, network.huber_delta, list(network.dropout) + [0.0])
        self.largest_layer = max(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))
        # a few rows with the GIL held, as long as that stays well under a millisecond
        rows = min(FEW_ROWS, FEW_WORK // network.n_params)
        self.predict_few = (self.kernels.Predictor(self.plan, network.params, rows) if rows
                            else no_shortcut)
        self._local = threading.local()

    @property
    def loss_scale(self):
        """Factor on J's data term only (scikit-learn's mse: 1 / n_outputs)."""
        return self.plan.loss_scale

    @loss_scale.setter
    def loss_scale(self, value):
        self.plan.loss_scale = value

    def threads(self, m, threads):
        """Context for a call over m rows: yields the thread count to pass the kernels."""
        return kernel_threads(threads, m * self.largest_layer)

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
        """Per-layer (m x n_l) views of a packed workspace (the plan's unit offsets: a gelu
        or silu layer's block is followed by its derivative block)."""
        return [buffer[m * start:m * (start + n)].reshape(m, n)
                for start, n in zip(self.plan.unit_offsets, self.sizes[1:])]

    def forward(self, X, threads=None, out=None):
        m = X.shape[0]
        acts = self._workspace(m)
        with self.threads(m, threads) as count:
            if isinstance(X, CSRRows):
                self.kernels.forward_csr(self.plan, self.params, X.ptr, X.idx, X.val, acts, count)
            else:
                self.kernels.forward(self.plan, self.params, X, acts, count)
        n_out = self.sizes[-1]
        end = m * self.plan.n_units
        output = acts[end - m * n_out:end].reshape(m, n_out)
        if out is None:
            return output.copy()
        out[...] = output
        return out

    def cost(self, X, Y, weight_decay, sample_weight=None, params=None, threads=None,
             dropout=None):
        return self._pass(X, Y, weight_decay, None, sample_weight, params, threads, dropout)

    def backward(self, X, Y, weight_decay, grad, sample_weight=None, params=None, threads=None,
                 dropout=None):
        return self._pass(X, Y, weight_decay, grad, sample_weight, params, threads, dropout)

    def _pass(self, X, Y, weight_decay, grad, sample_weight, params, threads, dropout):
        """J, and with grad its gradient; dropout (seed, step) makes it a training pass."""
        m = X.shape[0]
        params = self.params if params is None else params
        seed, step = dropout if dropout is not None else (None, 0)
        acts = self._workspace(m)
        deltas = self._workspace(m, deltas=True) if grad is not None else None
        with self.threads(m, threads) as count:
            if isinstance(X, CSRRows):
                return self.kernels.backward_csr(self.plan, params, X.ptr, X.idx, X.val, Y, acts,
                                                 deltas, grad, weight_decay, sample_weight,
                                                 count, seed, step)
            if grad is None:
                return self.kernels.loss(self.plan, params, X, Y, acts, weight_decay,
                                         sample_weight, count, seed, step)
            return self.kernels.backward(self.plan, params, X, Y, acts, deltas, grad,
                                         weight_decay, sample_weight, count, seed, step)

    def layer_values(self, m):
        """Activations and deltas of this thread's last backward pass over m rows."""
        return self._layers(self._workspace(m), m), self._layers(self._workspace(m, True), m)
