# Inverted dropout's masks, drawn by counter (see fastnn/dropout.py, which draws the same
# bits in NumPy): a unit's draw depends on (seed, step, layer, index) alone, so any split of
# a layer over threads gives the same masks.
from cython cimport floating


cdef struct DropoutDraw:
    unsigned long long seed      # drawn once per training run
    long long step               # the optimizer step the pass serves


cdef inline unsigned long long keep_threshold(double p) noexcept nogil:
    """The 64-bit draw a unit must reach to be kept at rate p (0 <= p < 1)."""
    return <unsigned long long> (p * 18446744073709551616.0)


cdef inline unsigned long long draw(unsigned long long seed,
                                    unsigned long long counter) noexcept nogil:
    """SplitMix64: the counter-th output of the stream `seed`."""
    cdef unsigned long long z = seed + (counter + 1) * 0x9E3779B97F4A7C15ULL
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline void drop_block(const DropoutDraw* dropout, double p, int layer, int n_layers,
                            floating* a, floating* d, int r0, int r1, int c0, int c1,
                            int n_cols) noexcept nogil:
    """Rows r0:r1, columns c0:c1 of a layer's (m x n_cols) activations a, and of its
    derivative block d (unless NULL), times s = 1 / (1 - p) for kept units and 0 for
    dropped ones (rate p)."""
    cdef unsigned long long threshold = keep_threshold(p)
    cdef unsigned long long base = (<unsigned long long> (dropout.step * n_layers + layer)) << 31
    cdef floating scale = <floating> (1 / (1 - p))
    cdef floating s
    cdef Py_ssize_t i
    cdef int r, c
    for r in range(r0, r1):
        for c in range(c0, c1):
            i = <Py_ssize_t> r * n_cols + c
            s = scale if draw(dropout.seed, base + <unsigned long long> i) >= threshold else 0
            a[i] = a[i] * s
            if d != NULL:
                d[i] = d[i] * s
