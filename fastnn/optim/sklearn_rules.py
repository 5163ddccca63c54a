"""scikit-learn's own SGD and Adam rules, for the drop-in estimators (fastnn.sklearn), so
that they retrace scikit-learn's MLP. They differ from torch's in rounding and, for Adam,
in where eps enters:

SklearnSGD:   v <- momentum v - lr g;   p <- p + momentum v - lr g  (nesterov)  or  p <- p + v
SklearnAdam:  m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2
              p <- p - lr sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)
"""
import math

import numpy as np

from .base import check_real
from .first_order import FirstOrder

SKLEARN_SGD_KIND, SKLEARN_ADAM_KIND = 6, 7


class SklearnSGD(FirstOrder):
    kind = SKLEARN_SGD_KIND
    defaults = ("lr", "momentum", "nesterov")

    def __init__(self, lr=0.001, momentum=0.9, nesterov=True):
        super().__init__(lr)
        self.momentum = check_real(momentum, "momentum", low=0, high=1)
        self.nesterov = bool(nesterov)

    def _hyper(self):
        return self.momentum, float(self.nesterov)

    @property
    def learning_rate(self):
        """The rate of the next step (scikit-learn's SGDOptimizer.learning_rate)."""
        return self.lr

    def _numpy_step(self, p, g, lr):
        v = self.state[0]
        v[...] = self.momentum * v - lr * g
        p += self.momentum * v - lr * g if self.nesterov else v


class SklearnAdam(FirstOrder):
    kind = SKLEARN_ADAM_KIND
    defaults = ("lr", "beta_1", "beta_2", "epsilon")

    def __init__(self, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        super().__init__(lr)
        self.beta_1 = check_real(beta_1, "beta_1", low=0, high=1, high_open=True)
        self.beta_2 = check_real(beta_2, "beta_2", low=0, high=1, high_open=True)
        self.epsilon = check_real(epsilon, "epsilon", low=0, low_open=True)

    def _hyper(self):
        return self.beta_1, self.beta_2, self.epsilon

    @property
    def learning_rate(self):
        """The bias-corrected rate of the last step, lr sqrt(1 - beta2^t) / (1 - beta1^t)
        (scikit-learn's AdamOptimizer.learning_rate; lr before the first step)."""
        if self.t == 0:
            return self.lr
        return self.lr * math.sqrt(1 - self.beta_2 ** self.t) / (1 - self.beta_1 ** self.t)

    def _numpy_step(self, p, g, lr):
        m, v = self.state[0], self.state[1]
        m[...] = self.beta_1 * m + (1 - self.beta_1) * g
        v[...] = self.beta_2 * v + (1 - self.beta_2) * (g * g)
        step = lr * math.sqrt(1 - self.beta_2 ** self.t) / (1 - self.beta_1 ** self.t)
        p += -step * m / (np.sqrt(v) + self.epsilon)
