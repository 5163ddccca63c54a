"""First-order optimizers: PyTorch's update rules over the flat parameter vector.

Each rule is written twice: the fused Cython kernel (src_pyx/_optim.pxd, one pass over
memory, in place) and the NumPy reference below, operation by operation as torch.optim's
single-tensor code evaluates it, so float64 trajectories agree with PyTorch to rounding.
Names and defaults are torch's. Ordered by increasing complexity: SGD, AdaGrad, AdaDelta,
RMSprop, Adam, AdamW, Rprop. Notation: p parameters, g gradient, t step (from 1), lr the
learning rate (a schedule may change it between epochs).
"""
import math

import numpy as np

from .base import Optimizer, check_real

# codes of src_pyx/_optim.pxd
SGD_KIND, ADAGRAD_KIND, ADADELTA_KIND, ADAM_KIND, RMSPROP_KIND, RPROP_KIND = range(6)


def _lerp(start, end, weight):
    """torch.lerp in torch's evaluation order."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


class FirstOrder(Optimizer):
    """An elementwise rule over the flat parameters: `step(params, grad)` updates in place.

    State lives in a (3, n_params) array of the network's dtype, allocated by `reset`, with
    the step count t. It also carries what Network.fit(resume=True) needs to go on exactly
    where a run stopped: the epochs trained (a learning-rate schedule's position) and the
    rows a validation_fraction set aside (`validation`: fraction, n and rows, or None).
    """

    kind = None
    state = None
    t = 0
    epochs = 0
    validation = None

    def __init__(self, lr):
        self.lr = check_real(lr, "lr", low=0)

    def _hyper(self):
        """The six doubles the kernel reads, in its order."""
        raise NotImplementedError

    def reset(self, n_params, dtype):
        """Fresh state for a parameter vector of n_params entries of dtype."""
        self.state = np.zeros((3, n_params), dtype=dtype)
        self.t = 0
        self.epochs = 0
        self.validation = None

    def _ready(self, params):
        if self.state is None or self.state.shape[1] != params.size or self.state.dtype != params.dtype:
            self.reset(params.size, params.dtype)

    def step(self, params, grad, compiled=True, lr=None, threads=1):
        """One update of `params` (flat, in place) from `grad`; lr overrides self.lr. The
        compiled kernel splits a long vector over up to `threads` threads."""
        self._ready(params)
        self.t += 1
        lr = self.lr if lr is None else lr
        if compiled:
            from .._dispatch import kernels
            kernels().step(self.kind, self.hyper_array(), params, grad, self.state, self.t, lr,
                           threads)
        else:
            self._numpy_step(params, grad, lr)

    def hyper_array(self):
        values = list(self._hyper())
        return np.array(values + [0.0] * (6 - len(values)), dtype=np.float64)

    def _decayed(self, p, g, weight_decay):
        return g + weight_decay * p if weight_decay != 0 else g

    def state_dict(self):
        validation = None if self.validation is None else {
            **self.validation, "rows": np.array(self.validation["rows"])}
        return {"hyper": self.hyper_parameters(),
                "state": {"t": self.t, "epochs": self.epochs, "validation": validation,
                          "buffers": None if self.state is None else self.state.copy()}}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.t = int(state["state"]["t"])
        self.epochs = int(state["state"].get("epochs", 0))
        self.validation = state["state"].get("validation")
        buffers = state["state"]["buffers"]
        self.state = None if buffers is None else np.array(buffers)


class SGD(FirstOrder):
    """Stochastic gradient descent with momentum, dampening and Nesterov (torch.optim.SGD).

        g <- g + weight_decay * p
        b <- g                                  (t = 1)
        b <- momentum * b + (1 - dampening) g   (t > 1)
        g <- g + momentum * b  (nesterov)   or   g <- b   (momentum > 0)
        p <- p - lr * g

    >>> import numpy as np, fastnn as fnn
    >>> p = np.array([1.0, -2.0]); fnn.optim.SGD(lr=0.5).step(p, np.array([1.0, 1.0])); p
    array([ 0.5, -2.5])
    """

    kind = SGD_KIND
    defaults = ("lr", "momentum", "dampening", "weight_decay", "nesterov")

    def __init__(self, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(lr)
        self.momentum = check_real(momentum, "momentum", low=0)
        self.dampening = check_real(dampening, "dampening", low=0, high=1)
        self.weight_decay = check_real(weight_decay, "weight_decay", low=0)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov needs momentum > 0 and dampening = 0")

    def _hyper(self):
        return self.momentum, self.dampening, self.weight_decay, float(self.nesterov)

    def _numpy_step(self, p, g, lr):
        g = self._decayed(p, g, self.weight_decay)
        if self.momentum != 0:
            b = self.state[0]
            if self.t == 1:
                b[...] = g
            else:
                b *= self.momentum
                b += (1 - self.dampening) * g
            g = g + self.momentum * b if self.nesterov else b
        p += -lr * g


class AdaGrad(FirstOrder):
    """Adaptive gradient (torch.optim.Adagrad).

        g <- g + weight_decay * p
        s <- s + g^2                      (s starts at initial_accumulator_value)
        p <- p - lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps)
    """

    kind = ADAGRAD_KIND
    defaults = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def __init__(self, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10):
        super().__init__(lr)
        self.lr_decay = check_real(lr_decay, "lr_decay", low=0)
        self.weight_decay = check_real(weight_decay, "weight_decay", low=0)
        self.initial_accumulator_value = check_real(initial_accumulator_value,
                                                    "initial_accumulator_value", low=0)
        self.eps = check_real(eps, "eps", low=0)

    def reset(self, n_params, dtype):
        super().reset(n_params, dtype)
        self.state[0] = self.initial_accumulator_value

    def _hyper(self):
        return self.lr_decay, self.weight_decay, self.eps

    def _numpy_step(self, p, g, lr):
        g = self._decayed(p, g, self.weight_decay)
        clr = lr / (1 + (self.t - 1) * self.lr_decay)
        s = self.state[0]
        s += g * g
        p += -clr * g / (np.sqrt(s) + self.eps)


class AdaDelta(FirstOrder):
    """AdaDelta (torch.optim.Adadelta).

        g <- g + weight_decay * p
        v <- rho v + (1 - rho) g^2
        d <- sqrt(u + eps) / sqrt(v + eps) * g
        u <- rho u + (1 - rho) d^2
        p <- p - lr * d
    """

    kind = ADADELTA_KIND
    defaults = ("lr", "rho", "eps", "weight_decay")

    def __init__(self, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__(lr)
        self.rho = check_real(rho, "rho", low=0, high=1)
        self.eps = check_real(eps, "eps", low=0)
        self.weight_decay = check_real(weight_decay, "weight_decay", low=0)

    def _hyper(self):
        return self.rho, self.eps, self.weight_decay

    def _numpy_step(self, p, g, lr):
        g = self._decayed(p, g, self.weight_decay)
        v, u = self.state[0], self.state[1]
        rest = p.dtype.type(1 - self.rho)
        v *= self.rho
        v += rest * g * g
        d = np.sqrt(u + self.eps) / np.sqrt(v + self.eps) * g
        u *= self.rho
        u += rest * d * d
        p += -lr * d


class RMSprop(FirstOrder):
    """RMSprop, optionally centered and with momentum (torch.optim.RMSprop).

        g <- g + weight_decay * p
        v <- alpha v + (1 - alpha) g^2
        c <- lerp(c, g, 1 - alpha);  avg = sqrt(v - c^2) + eps     (centered)
        avg = sqrt(v) + eps                                        (otherwise)
        b <- momentum b + g / avg;  p <- p - lr * b                (momentum > 0)
        p <- p - lr * g / avg                                      (otherwise)
    """

    kind = RMSPROP_KIND
    defaults = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        super().__init__(lr)
        self.alpha = check_real(alpha, "alpha", low=0, high=1)
        self.eps = check_real(eps, "eps", low=0)
        self.weight_decay = check_real(weight_decay, "weight_decay", low=0)
        self.momentum = check_real(momentum, "momentum", low=0)
        self.centered = bool(centered)

    def _hyper(self):
        return self.alpha, self.eps, self.weight_decay, self.momentum, float(self.centered)

    def _numpy_step(self, p, g, lr):
        g = self._decayed(p, g, self.weight_decay)
        v, c, b = self.state
        rest = p.dtype.type(1 - self.alpha)
        v *= self.alpha
        v += rest * g * g
        if self.centered:
            c[...] = _lerp(c, g, rest)
            avg = np.sqrt(v + -1 * c * c) + self.eps
        else:
            avg = np.sqrt(v) + self.eps
        if self.momentum > 0:
            b *= self.momentum
            b += g / avg
            p += -lr * b
        else:
            p += -lr * g / avg


class Adam(FirstOrder):
    """Adam, optionally AMSGrad (torch.optim.Adam); weight decay enters the gradient.

        g <- g + weight_decay * p
        m <- lerp(m, g, 1 - beta1);   v <- beta2 v + (1 - beta2) g^2
        v_max <- max(v_max, v) and use v_max below                   (amsgrad)
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) * (1 / sqrt(1 - beta2^t)) + eps)
    """

    kind = ADAM_KIND
    defaults = ("lr", "betas", "eps", "weight_decay", "amsgrad")
    decoupled = False

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(lr)
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair (beta1, beta2); got {betas!r}") from None
        self.betas = (check_real(beta1, "beta1", low=0, high=1, high_open=True),
                      check_real(beta2, "beta2", low=0, high=1, high_open=True))
        self.eps = check_real(eps, "eps", low=0)
        self.weight_decay = check_real(weight_decay, "weight_decay", low=0)
        self.amsgrad = bool(amsgrad)

    def _hyper(self):
        return (*self.betas, self.eps, self.weight_decay, float(self.amsgrad), float(self.decoupled))

    def _numpy_step(self, p, g, lr):
        beta1, beta2 = self.betas
        if self.weight_decay != 0:
            if self.decoupled:
                p *= 1 - lr * self.weight_decay
            else:
                g = g + self.weight_decay * p
        m, v, v_max = self.state
        m[...] = _lerp(m, g, p.dtype.type(1 - beta1))
        v *= beta2
        v += p.dtype.type(1 - beta2) * g * g
        if self.amsgrad:
            np.maximum(v_max, v, out=v_max)
            v = v_max
        step_size = lr / (1 - beta1 ** self.t)
        # torch divides by sqrt(1 - beta2^t); multiplying by its reciprocal saves the fused
        # kernel a division per parameter and changes the denominator by at most an ulp
        denom = np.sqrt(v) * p.dtype.type(1 / math.sqrt(1 - beta2 ** self.t)) + self.eps
        p += -step_size * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (torch.optim.AdamW): p <- p (1 - lr weight_decay)
    before the Adam step, instead of adding weight_decay * p to the gradient."""

    decoupled = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(lr, betas, eps, weight_decay, amsgrad)


class Rprop(FirstOrder):
    """Resilient backpropagation, iRprop- (torch.optim.Rprop; FANN's default rule).

    Per parameter, with the previous gradient g' and a step size s starting at lr:
        s <- min(s * etaplus, step_max)    if g g' > 0
        s <- max(s * etaminus, step_min)   if g g' < 0, and then g <- 0 (no step, no memory)
        p <- p - sign(g) * s;  g' <- g
    """

    kind = RPROP_KIND
    defaults = ("lr", "etas", "step_sizes")

    def __init__(self, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0)):
        super().__init__(lr)
        etaminus, etaplus = etas
        self.etas = (check_real(etaminus, "etaminus", low=0, high=1, low_open=True, high_open=True),
                     check_real(etaplus, "etaplus", low=1, low_open=True))
        step_min, step_max = step_sizes
        self.step_sizes = (check_real(step_min, "step_sizes[0]", low=0),
                           check_real(step_max, "step_sizes[1]", low=step_min))

    def reset(self, n_params, dtype):
        super().reset(n_params, dtype)
        self.state[1] = self.lr

    def _hyper(self):
        return (*self.etas, *self.step_sizes)

    def _numpy_step(self, p, g, lr):
        etaminus, etaplus = (p.dtype.type(e) for e in self.etas)
        prev, step = self.state[0], self.state[1]
        product = g * prev
        factor = np.where(product > 0, etaplus, np.where(product < 0, etaminus, p.dtype.type(1)))
        step *= factor
        np.clip(step, *self.step_sizes, out=step)
        g = np.where(factor == etaminus, 0, g)
        p += -1 * np.sign(g) * step
        prev[...] = g
