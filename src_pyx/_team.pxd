# The thread policy: how many threads one phase of a pass gets, and which share each takes.
#
# A pass runs as a sequence of phases (a layer's product with its activation, the loss rows,
# a layer's gradients, the optimizer update); each phase is split into `parts` pieces that
# never write the same memory, so no piece waits for another and no sum depends on which
# thread ran it. A piece's extent is a function of (part, parts) alone: for a fixed thread
# count every run computes every number the same way. A phase gets a second thread only when
# each piece keeps enough work to pay for the fork and join and for the smaller products
# BLAS then runs less efficiently, so more threads never make a phase slower; a phase with
# one part runs on the calling thread, with no OpenMP at all.

# Least work per piece: multiply-adds of a product (about 10 us on one core; at a quarter of
# this, the digits network at batch 200 trained 25% slower on 2 threads than on 1), entries
# of an element-wise pass.
cdef enum:
    GEMM_WORK = 524288
    ELEMENT_WORK = 16384
    # pieces of a product split along a dimension hold whole multiples of this many rows or
    # columns, so that BLAS's register tiles (up to 16 floats wide) are never cut
    ALIGN = 16


cdef inline int parts_for(long long work, long long per_part, long long extent, int align,
                          int threads) noexcept nogil:
    """Pieces for a phase of `work` units over `extent` rows (or columns): at most `threads`,
    each with at least `per_part` units and `align` rows."""
    cdef long long parts = threads
    if work // per_part < parts:
        parts = work // per_part
    if extent // align < parts:
        parts = extent // align
    return <int> parts if parts > 1 else 1


cdef inline int share_start(int part, int parts, int extent, int align) noexcept nogil:
    """Start of piece `part` of `parts` over [0, extent): pieces differ by at most `align`,
    and every boundary but the last is a multiple of `align`."""
    if parts == 1:  # no division for the common single piece
        return 0 if part == 0 else extent
    cdef long long blocks = (extent + align - 1) // align
    cdef long long start = (blocks * part // parts) * align
    return <int> (start if start < extent else extent)
