"""Optimizers for Network.fit.

First-order rules (torch.optim's, fused kernels over the flat parameters): SGD, AdaGrad,
AdaDelta, RMSprop, Adam, AdamW, Rprop. Full batch: LBFGS, BFGS (scipy), Annealing.
Sampling: AWSGD. Any of them may be named in fit: "sgd", "adam", "lbfgs", ...
"""
from .annealing import Annealing
from .awsgd import AWSGD
from .base import Optimizer
from .first_order import SGD, AdaDelta, AdaGrad, Adam, AdamW, FirstOrder, RMSprop, Rprop
from .quasi_newton import BFGS, LBFGS
from .sklearn_rules import SklearnAdam, SklearnSGD

OPTIMIZERS = {"sgd": SGD, "adagrad": AdaGrad, "adadelta": AdaDelta, "rmsprop": RMSprop,
              "adam": Adam, "adamw": AdamW, "rprop": Rprop, "lbfgs": LBFGS, "bfgs": BFGS,
              "annealing": Annealing, "awsgd": AWSGD}


def get_optimizer(optimizer):
    """An optimizer instance from an instance or a name (with its default settings)."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in OPTIMIZERS:
        return OPTIMIZERS[optimizer.lower()]()
    raise ValueError(f"unknown optimizer {optimizer!r}; give an instance from fastnn.optim "
                     f"or one of {', '.join(OPTIMIZERS)}")


__all__ = ["AWSGD", "AdaDelta", "AdaGrad", "Adam", "AdamW", "Annealing", "BFGS", "FirstOrder",
           "LBFGS", "OPTIMIZERS", "Optimizer", "RMSprop", "Rprop", "SGD", "SklearnAdam", "SklearnSGD",
           "get_optimizer"]
