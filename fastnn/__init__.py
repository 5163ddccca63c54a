"""fastnn: fast multilayer perceptrons on the CPU."""
from . import optim, schedules
from .gradcheck import gradcheck
from .history import History, StopTraining, TrainingDiverged
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .config import config, show_config
from .io import ModelFileError, load, save
from .network import Backprop, Network

__version__ = "0.1.0"


def __getattr__(name):
    """The scikit-learn drop-ins load scikit-learn only when first used."""
    if name in ("MLPClassifier", "MLPRegressor"):
        from . import sklearn as _sklearn
        return getattr(_sklearn, name)
    raise AttributeError(f"module 'fastnn' has no attribute {name!r}")
__all__ = ["Backprop", "Checkpoint", "History", "MLPClassifier", "MLPRegressor", "ModelFileError", "Network", "StopTraining", "TrainingDiverged", "gradcheck",
           "config", "load", "load_checkpoint", "optim", "save", "save_checkpoint", "schedules",
           "show_config",
           "__version__"]
