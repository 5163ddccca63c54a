"""fastnn: fast multilayer perceptrons on the CPU.

The public names load on first use (PEP 562), so `import fastnn` and the command line start
without importing NumPy, scipy or scikit-learn until they are needed.
"""
import importlib

__version__ = "0.1.0"

# public name -> the module that defines it
_NAMES = {"Network": "network", "Backprop": "network",
          "History": "history", "StopTraining": "history", "TrainingDiverged": "history",
          "Checkpoint": "checkpoint", "load_checkpoint": "checkpoint",
          "save_checkpoint": "checkpoint",
          "ModelFileError": "io", "load": "io", "save": "io",
          "gradcheck": "gradient_check", "config": "runtime", "show_config": "runtime",
          "lr_find": "lr_finder", "LRFinderResult": "lr_finder",
          "MLPClassifier": "sklearn", "MLPRegressor": "sklearn"}
_MODULES = ("onnx", "optim", "schedules")

__all__ = sorted([*_NAMES, *_MODULES, "__version__"])


def __getattr__(name):
    if name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    elif name in _MODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'fastnn' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
