"""fastnn: fast multilayer perceptrons on the CPU."""
from .gradcheck import gradcheck
from .network import Backprop, Network

__version__ = "0.1.0"
__all__ = ["Backprop", "Network", "gradcheck", "__version__"]
