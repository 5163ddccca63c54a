# libm for the fused float/double type: the float kernels call expf & co., so float32
# arithmetic stays float32 end to end. Plus exp_nonpositive, the exponential the activations
# and losses need (always of a number <= 0), written so that loops calling it vectorize.
from cython cimport floating
from libc.math cimport exp, expf, fabs, fabsf, log, logf, log1p, log1pf, sqrt, sqrtf
from libc.string cimport memcpy


cdef inline floating fabsolute(floating x) noexcept nogil:
    """|x| in x's own type (libm's fabs would turn a float into a double, and with it every
    fused call it feeds: float32 kernels must not compute in double)."""
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


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
        series = x * (<float> 1 + x * <float> 0.5 * (<float> 1 + x * <float> (1.0 / 3) * (
            <float> 1 + x * <float> 0.25 * (<float> 1 + x * <float> 0.2))))
    return series if x > <floating> -0.03125 else exp_nonpositive(x) - <floating> 1


cdef inline floating log1p_unit(floating t) noexcept nogil:
    """log(1 + t) for 0 <= t <= 1, without a call: 2 atanh(s) with s = t / (2 + t) <= 1/3,
    by its series 2 s sum_k s^2k / (2k + 1), cut where the terms fall below half an ulp (17
    terms in double, 8 in float)."""
    cdef floating s = t / (<floating> 2 + t)
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
    return <floating> 2 * s * (<floating> 1 + q * series)


cdef inline floating normal_cdf(floating z, floating* density) noexcept nogil:
    """Phi(z), the standard normal distribution function (gelu(z) = z Phi(z)), and, into
    density, phi(z) = e^(-z^2/2) / sqrt(2 pi): within about 2 ulp, with no branch and no call
    (a loop of them vectorizes; libm's erfc is a call per element).

    |z| <= 1: Phi(z) = 1/2 + z P(z^2). |z| > 1, t = |z|: Phi(-t) = e^(-t^2/2) Q(y) / (t + K)
    with y = (t - K) / (t + K), and Phi(t) = 1 - Phi(-t); far below 0 Phi keeps its relative
    accuracy (Phi(-10) is 7.6e-24), where 1 + erf(z / sqrt 2) would round to 0. P and Q are
    Chebyshev interpolants (tools/fit_normal_cdf.py). t^2/2 is split as th^2/2 + low, with
    th^2 exact (th: t's leading half of the bits) and low = (t - th)(t + th)/2 small (below
    1.2e-5; 0.06 in float), for a rounded t^2 would put t^2 ulp into the exponential:
    e^(-t^2/2) = e^(-th^2/2) e^(-low), the second factor by its series to low^4. Both
    branches are computed and one selected. t is capped where e^(-t^2/2) underflows (40; 15
    in float), so infinities give 0 and 1."""
    cdef floating t = fabsolute(z)
    cdef floating high, low, w, w2, w4, centre, e, r, y, y2, y4, y8, q, tail
    if floating is double:
        t = 40.0 if t > 40.0 else t  # NaN passes
        high = t * 134217729.0  # Dekker's split by 2^27 + 1
        high = high - (high - t)
        low = 0.5 * (t - high) * (t + high)
        e = exp_nonpositive(-0.5 * high * high) * (1 + low * (-1 + low * (0.5 + low * (
            -1.0 / 6 + low * (1.0 / 24)))))
        r = 1 / (t + 6.3245553203367587)
        y = (t - 6.3245553203367587) * r
        # Q(y) and P(w) by Estrin's scheme (pairs, then fours, eights, sixteens): a short
        # chain of dependent operations; Horner's 18 steps made the loop wait on latency
        y2 = y * y
        y4 = y2 * y2
        y8 = y4 * y4
        q = (((7.792733803225334e-1 + y * -7.0962105810402296e-1)
              + (5.8757739220985363e-1 + y * -4.4102428507403616e-1) * y2)
             + ((2.9853611655838704e-1 + y * -1.808169307039329e-1)
                + (9.6810200863279664e-2 + y * -4.4939452460311203e-2) * y2) * y4) \
            + (((1.7485789102245415e-2 + y * -5.318834378155768e-3)
                + (1.028291706359038e-3 + y * 2.288702407560609e-5) * y2)
               + ((-1.0178662321696398e-4 + y * 3.3306110839450099e-5)
                  + (-2.0847982747321937e-7 + y * -3.5140337106928065e-6) * y2) * y4) * y8 \
            + ((9.0866823256207525e-7 + y * 1.91848732963832e-7)
               + -1.1456261856711845e-7 * y2) * (y8 * y8)
        w = z * z
        w = 1.0 if w > 1.0 else w
        w2 = w * w
        w4 = w2 * w2
        centre = (((3.9894228040143267e-1 + w * -6.6490380066903859e-2)
                   + (9.9735570099833826e-3 + w * -1.1873282148079405e-3) * w2)
                  + ((1.1543468323083615e-4 + w * -9.4446398086767738e-6)
                     + (6.6593169040810419e-7 + w * -4.1173089319651836e-8) * w2) * w4) \
            + (2.2270765391721187e-9 + w * -9.0261099045655837e-11) * (w4 * w4)
        density[0] = e * 0.3989422804014327
    else:
        t = <float> 15.0 if t > <float> 15.0 else t
        high = t * <float> 4097.0  # 2^12 + 1
        high = high - (high - t)
        low = <float> 0.5 * (t - high) * (t + high)
        e = exp_nonpositive(<float> -0.5 * high * high) * (<float> 1 + low * (<float> -1 + low * (
            <float> 0.5 + low * (<float> (-1.0 / 6) + low * <float> (1.0 / 24)))))
        r = <float> 1 / (t + <float> 3.8729833462074169)
        y = (t - <float> 3.8729833462074169) * r
        y2 = y * y
        q = ((<float> 7.5284893169817213e-1 + y * <float> -5.9821881234526414e-1)
             + (<float> 3.7016870625274691e-1 + y * <float> -1.6883571207682769e-1) * y2) \
            + ((<float> 4.8413235861554945e-2 + y * <float> -2.6789600505519217e-3)
               + (<float> -3.8398561177536361e-3 + y * <float> 1.0240205259653065e-3) * y2) \
            * (y2 * y2)
        w = z * z
        w = <float> 1.0 if w > <float> 1.0 else w
        w2 = w * w
        centre = ((<float> 3.9894226490241641e-1 + w * <float> -6.6489603999776876e-2)
                  + (<float> 9.9673015175148009e-3 + w * <float> -1.1695192741286922e-3) * w2) \
            + <float> 9.4317371744626868e-5 * (w2 * w2)
        density[0] = e * <float> 0.3989422804014327
    tail = e * q * r
    tail = tail if z < 0 else <floating> 1 - tail
    return <floating> 0.5 + z * centre if t <= 1 else tail
