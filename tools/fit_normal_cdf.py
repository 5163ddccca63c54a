"""Derive the polynomial coefficients of normal_cdf in src_pyx/_fmath.pxd (gelu's Phi).

    python tools/fit_normal_cdf.py        (needs mpmath; a development tool, not a dependency)

Two polynomials per precision, each the Chebyshev interpolant of a smooth function computed
in 50-digit arithmetic, then written in the power basis for Horner's rule:

  centre, |z| <= 1:  Phi(z) = 1/2 + z P(z^2)                 (P: degree 9 double, 4 float)
  tail,   t = |z| >= 1:  Phi(-t) = e^(-t^2/2) Q(y) / (t + K),  y = (t - K) / (t + K)
                                                              (Q: degree 18 double, 7 float)

Q is (t + K) e^(t^2/2) Phi(-t), which tends to 1/sqrt(2 pi) as t grows (a function of t alone,
1/t, would cancel in Horner's sum). K = sqrt(t_max) makes y's range symmetric, [-h, h], for
t in [1, t_max]; t_max is where e^(-t^2/2) underflows (40 in double, 15 in float). The script
prints the coefficients and the largest error in units of the last place, Horner's rule run
in the target precision against mpmath on 3,000 points per piece: about 2 ulp in both.
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 50
PIECES = {"double": (np.float64, 9, 18, 40), "float": (np.float32, 4, 7, 15)}


def chebyshev_power(f, degree, lo, hi):
    """Power-basis coefficients in x of the Chebyshev interpolant of f on [lo, hi]."""
    n = degree + 1
    nodes = [mp.cos(mp.pi * (k + mp.mpf(1) / 2) / n) for k in range(n)]
    values = [f((hi - lo) / 2 * u + (hi + lo) / 2) for u in nodes]
    cheb = [2 * mp.fsum(values[k] * mp.cos(j * mp.pi * (k + mp.mpf(1) / 2) / n)
                        for k in range(n)) / n for j in range(n)]
    cheb[0] /= 2
    # T_j(u) in powers of u (T_j = 2u T_(j-1) - T_(j-2)), then u = (2x - lo - hi) / (hi - lo)
    # expanded in powers of x
    powers = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]
    while len(powers) < n:
        twice = [mp.mpf(0)] + [2 * v for v in powers[-1]]
        powers.append([a - b for a, b in zip(twice, powers[-2] + [mp.mpf(0)] * 2)])
    in_u = [mp.mpf(0)] * n
    for j in range(n):
        for i, v in enumerate(powers[j]):
            in_u[i] += cheb[j] * v
    scale, shift = 2 / (hi - lo), -(hi + lo) / (hi - lo)
    in_x = [mp.mpf(0)] * n
    for i, c in enumerate(in_u):
        for k in range(i + 1):
            in_x[k] += c * mp.binomial(i, k) * scale ** k * shift ** (i - k)
    return in_x


def horner(coefficients, x, dtype):
    result = dtype(coefficients[-1])
    for c in reversed(coefficients[:-1]):
        result = dtype(dtype(c) + result * x)
    return result


def main():
    for name, (dtype, centre_degree, tail_degree, t_max) in PIECES.items():
        eps = np.finfo(dtype).eps
        centre = chebyshev_power(
            lambda w: (mp.ncdf(mp.sqrt(w)) - mp.mpf(1) / 2) / mp.sqrt(w) if w > 0
            else 1 / mp.sqrt(2 * mp.pi), centre_degree, mp.mpf(0), mp.mpf(1))
        worst = max(abs(mp.mpf(float(dtype(0.5) + z * horner(centre, dtype(z * z), dtype)))
                        / mp.ncdf(mp.mpf(float(z))) - 1)
                    for z in np.linspace(-1, 1, 3000).astype(dtype))
        print(f"{name} centre, {float(worst) / eps:.1f} ulp:")
        print(",\n".join(mp.nstr(c, 17, min_fixed=0, max_fixed=0) for c in centre))

        k = mp.sqrt(t_max)
        h = (t_max - k) / (t_max + k)

        def tail(y):
            t = k * (1 + y) / (1 - y)
            return (t + k) * mp.ncdf(-t) * mp.e ** (t * t / 2)

        coefficients = chebyshev_power(tail, tail_degree, -h, h)
        worst = 0
        for t in np.linspace(1, t_max, 3000).astype(dtype):
            y = dtype((t - dtype(k)) / (t + dtype(k)))
            exact = tail(mp.mpf(float(y)))  # the error of Q alone, at the y the code computes
            worst = max(worst, abs(mp.mpf(float(horner(coefficients, y, dtype))) / exact - 1))
        print(f"{name} tail, K = {mp.nstr(k, 17)}, {float(worst) / eps:.1f} ulp:")
        print(",\n".join(mp.nstr(c, 17, min_fixed=0, max_fixed=0) for c in coefficients))


if __name__ == "__main__":
    main()
