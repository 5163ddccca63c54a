"""Dropout masks, drawn the same way by the compiled kernels (src_pyx/_dropout.pxd) and the
NumPy reference, so both backends train on the same masks bit for bit.

Inverted dropout (Srivastava et al., 2014) on hidden layer l with rate p: during training,
a <- a * s with s = 1 / (1 - p) for a kept unit and 0 for a dropped one, so E[a * s] = a
and prediction needs no rescaling; backpropagation multiplies the layer's deltas by the
same s. Predict and forward never drop.

Each decision is a counter-based draw (SplitMix64, Steele et al. 2014): unit i (row-major
index in the layer's batch block) of layer l at training step t keeps its value when
    mix(seed + (c + 1) * 0x9E3779B97F4A7C15) >= p * 2^64,   c = ((t L + l) << 31) + i,
with L the number of weight layers and mix SplitMix64's finalizer, all in wrapping 64-bit
arithmetic. A draw depends on (seed, t, l, i) alone, never on which thread computes it, so
training is bit-reproducible for a seed at any thread count. fit draws `seed` from its
seeded generator once per run; t counts the optimizer's steps.
"""
import numbers

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def keep_threshold(p):
    """The 64-bit draw a unit must reach to be kept at rate p (0 <= p < 1)."""
    return int(p * 2.0 ** 64)


def scales(seed, step, layer, n_layers, shape, p, dtype):
    """The factors s (0 or 1 / (1 - p)) of a layer's (rows x units) block at one step."""
    count = int(np.prod(shape))
    with np.errstate(over="ignore"):
        c = (np.uint64((step * n_layers + layer) % 2 ** 33) << np.uint64(31)) \
            + np.arange(count, dtype=np.uint64)
        z = np.uint64(seed) + (c + np.uint64(1)) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        z ^= z >> np.uint64(31)
    keep = z >= np.uint64(keep_threshold(p))
    return np.where(keep, dtype.type(1 / (1 - p)), dtype.type(0)).reshape(shape)


def check_dropout(dropout, n_hidden):
    """One rate in [0, 1) per hidden layer, from a float or a sequence of them."""
    if isinstance(dropout, numbers.Real) and not isinstance(dropout, bool):
        rates = [dropout] * n_hidden
    elif isinstance(dropout, (list, tuple)):
        rates = list(dropout)
        if len(rates) != n_hidden:
            raise ValueError(f"dropout has {len(rates)} rates for {n_hidden} hidden layers")
    else:
        raise TypeError(f"dropout must be a float or one float per hidden layer; got {dropout!r}")
    for p in rates:
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < 1:
            raise ValueError(f"dropout rates must lie in [0, 1); got {p!r}")
    return tuple(float(p) for p in rates)
