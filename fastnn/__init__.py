"""fastnn: fast multilayer perceptrons on the CPU."""
from . import optim, schedules
from .gradcheck import gradcheck
from .history import History, StopTraining, TrainingDiverged
from .network import Backprop, Network

__version__ = "0.1.0"
__all__ = ["Backprop", "History", "Network", "StopTraining", "TrainingDiverged", "gradcheck",
           "optim", "schedules", "__version__"]
