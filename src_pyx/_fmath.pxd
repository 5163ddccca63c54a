# libm for the fused float/double type: the float kernels call expf & co., so float32
# arithmetic stays float32 end to end. Plus exp_nonpositive, the exponential the activations
# and losses need (always of a number <= 0), written so that loops calling it vectorize.
from cython cimport floating
from libc.math cimport erfc, erfcf, exp, expf, log, logf, log1p, log1pf, sqrt, sqrtf
from libc.string cimport memcpy


cdef inline floating fexp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating flog(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)


cdef inline floating flog1p(floating x) noexcept nogil:
    if floating is float:
        return log1pf(x)
    else:
        return log1p(x)


cdef inline floating ferfc(floating x) noexcept nogil:
    if floating is float:
        return erfcf(x)
    else:
        return erfc(x)


cdef inline floating fsqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating exp_nonpositive(floating x) noexcept nogil:
    """e^x for x <= 0 (NaN gives NaN), within about one unit in the last place, with no
    branch and no call, so that a loop of them compiles to vector instructions (libm's exp
    is a call per element).

    x = k ln2 + r with k = round(x / ln2) and |r| <= ln2/2 (Cody-Waite: ln2 in two parts, so
    r is exact); e^r by its Taylor series to the first term below half an ulp (degree 13 in
    double, 7 in float), by Estrin's scheme; then 2^k by writing k into a float's exponent
    field. The scale goes in two factors, 2^(k + s) then 2^-s, so that results below the
    smallest normal number round once, like libm's. k comes from the rounding trick
    t = x/ln2 + 1.5 * 2^52 (2^23 in float): t's low bits hold k."""
    cdef double d, dt, dr, dr2, dr4, dp, dscale
    cdef float f, ft, fr, fr2, fp, fscale
    cdef long long dbits, dshift
    cdef int fbits, fshift
    if floating is double:
        d = -746.0 if x < -746.0 else x  # e^-746 rounds to 0; NaN passes (NaN < c is false)
        dt = d * 1.4426950408889634 + 6755399441055744.0
        dr = dt - 6755399441055744.0
        dr = (d - dr * 6.93147180369123816490e-01) - dr * 1.90821492927058770002e-10
        # e^r = 1 + (r + r^2 q(r)): q by Estrin's scheme (terms in pairs, then fours and
        # eights: a short chain of dependent operations, for the exponential often sits on a
        # step's critical path), and the two leading terms added last, for accuracy
        dr2 = dr * dr
        dr4 = dr2 * dr2
        dp = ((0.5 + dr * (1.0 / 6.0)) + (1.0 / 24.0 + dr * (1.0 / 120.0)) * dr2) \
            + ((1.0 / 720.0 + dr * (1.0 / 5040.0)) + (1.0 / 40320.0 + dr * (1.0 / 362880.0)) * dr2) * dr4 \
            + ((1.0 / 3628800.0 + dr * (1.0 / 39916800.0))
               + (1.0 / 479001600.0 + dr * (1.0 / 6227020800.0)) * dr2) * (dr4 * dr4)
        dp = 1.0 + (dr + dr2 * dp)
        memcpy(&dbits, &dt, 8)
        dshift = 0x4338000000000000  # the bits of 1.5 * 2^52
        dbits = (dbits - dshift + (1023 + 54)) << 52
        memcpy(&dscale, &dbits, 8)
        return dp * dscale * 5.551115123125783e-17  # 2^-54
    else:
        f = -104.0 if x < -104.0 else x  # e^-104 rounds to 0 in float
        ft = f * <float> 1.44269504 + <float> 12582912.0
        fr = ft - <float> 12582912.0
        fr = (f - fr * <float> 0.693359375) - fr * <float> -2.12194440e-4
        fr2 = fr * fr
        fp = ((<float> 0.5 + fr * <float> (1.0 / 6.0))
              + (<float> (1.0 / 24.0) + fr * <float> (1.0 / 120.0)) * fr2) \
            + (<float> (1.0 / 720.0) + fr * <float> (1.0 / 5040.0)) * (fr2 * fr2)
        fp = <float> 1.0 + (fr + fr2 * fp)
        memcpy(&fbits, &ft, 4)
        fshift = 0x4b400000  # the bits of 1.5 * 2^23
        fbits = (fbits - fshift + (127 + 24)) << 23
        memcpy(&fscale, &fbits, 4)
        return fp * fscale * <float> 5.9604644775390625e-08  # 2^-24


cdef inline floating expm1_nonpositive(floating x) noexcept nogil:
    """e^x - 1 for x <= 0, without a call (loops of it vectorize): near 0, where e^x - 1
    would cancel, its Taylor series by Horner's rule (|x| < 1/32: degree 8 in double, 5 in
    float, both below half an ulp); elsewhere exp_nonpositive(x) - 1, whose absolute error
    is an ulp of 1. A select, not a branch."""
    cdef floating series
    if floating is double:
        series = x * (1 + x / 2 * (1 + x / 3 * (1 + x / 4 * (1 + x / 5 * (
            1 + x / 6 * (1 + x / 7 * (1 + x / 8)))))))
    else:
        series = x * (1 + x / 2 * (1 + x / 3 * (1 + x / 4 * (1 + x / 5))))
    return series if x > <floating> -0.03125 else exp_nonpositive(x) - 1


cdef inline floating log1p_unit(floating t) noexcept nogil:
    """log(1 + t) for 0 <= t <= 1, without a call: 2 atanh(s) with s = t / (2 + t) <= 1/3,
    by its series 2 s sum_k s^2k / (2k + 1), cut where the terms fall below half an ulp (17
    terms in double, 8 in float)."""
    cdef floating s = t / (2 + t)
    cdef floating q = s * s
    cdef floating series
    if floating is double:
        series = 1.0 / 33
        series = 1.0 / 31 + q * series
        series = 1.0 / 29 + q * series
        series = 1.0 / 27 + q * series
        series = 1.0 / 25 + q * series
        series = 1.0 / 23 + q * series
        series = 1.0 / 21 + q * series
        series = 1.0 / 19 + q * series
        series = 1.0 / 17 + q * series
        series = 1.0 / 15 + q * series
        series = 1.0 / 13 + q * series
        series = 1.0 / 11 + q * series
        series = 1.0 / 9 + q * series
        series = 1.0 / 7 + q * series
        series = 1.0 / 5 + q * series
        series = 1.0 / 3 + q * series
    else:
        series = <float> (1.0 / 15)
        series = <float> (1.0 / 13) + q * series
        series = <float> (1.0 / 11) + q * series
        series = <float> (1.0 / 9) + q * series
        series = <float> (1.0 / 7) + q * series
        series = <float> (1.0 / 5) + q * series
        series = <float> (1.0 / 3) + q * series
    return 2 * s * (1 + q * series)
