"""What every optimizer shares: hyper-parameter checks and the state-dict protocol."""
import math
import numbers


def check_real(value, name, low=None, high=None, low_open=False, high_open=False):
    """value as a float inside the given bounds, else a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number; got {value!r}")
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}; got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}; got {value}")
    return value


def check_count(value, name, low=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
    return int(value)


class Optimizer:
    """Base of all optimizers. Subclasses set `defaults` (hyper-parameter names in order)."""

    defaults = ()

    def hyper_parameters(self):
        return {name: getattr(self, name) for name in self.defaults}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyper_parameters().items())
        return f"{type(self).__name__}({args})"

    def state_dict(self):
        """Hyper-parameters and state, as plain values and arrays (copies)."""
        return {"hyper": self.hyper_parameters(), "state": {}}

    def load_state_dict(self, state):
        for name, value in state["hyper"].items():
            setattr(self, name, value)
