"""Compiled kernels of the Duranton–Overman K-density (see :mod:`clusteratlas.measure.kdensity`).

One *sample* is a set of establishments given by the index of their (deduplicated) location and
their weight. Establishments that share a location are collapsed first, so the work is over pairs
of distinct locations, each carrying the number of establishment pairs it stands for (``c_a c_b``)
and their weight (``E_a E_b``); pairs inside one location are at distance 0.

Two estimators of the same quantity:

* **exact** — every pair distance, the bandwidth from exact order statistics, and the Gaussian
  kernel summed over every pair at every distance ``r`` (no truncation, no binning);
* **fast** (default) — the bandwidth is exact and the kernel sum is binned with moments:
  pairs are put on a grid of width ``δ ≤ h / 32`` with their first three moments (weight, Σu,
  Σu² of the offset ``u`` from the bin centre), and the kernel sum is a second-order Taylor
  expansion about the bin centres — error below ``(δ/h)³ · 0.03 ≈ 9e-7`` of the kernel's peak
  per pair — truncated at 8 bandwidths (``φ(8) / φ(0) ≈ 1.3e-14``). Kernel values along the
  grid come from an exact multiplicative recurrence, not one ``exp`` per term.

  *General path* (three passes, no guesses): (1) sums give the standard deviation exactly and a
  coarse histogram locates the quartiles; (2) the distances in the quartiles' histogram bins are
  kept, so the type-7 quartiles (R's ``quantile``) are exact, while the pairs are binned on a
  grid from a lower bound of ``h``; (3) only if that grid proves coarser than ``h / 32``, the
  pairs are binned again.

  *Standard-deviation path* (counterfactuals after the first 16, when those pilots all had
  ``IQR / 1.34 > 1.01 sd``, so that Silverman's minimum is the sd): one pass sums Σd, Σd²
  (exact sd), bins the moments and counts establishment pairs on the same fine grid (extended
  to the pilots' third quartile). The counts bracket each type-7 quartile within one bin of
  width ``h / 32``; if the brackets prove ``IQR / 1.34 > sd``, ``h = 0.9 sd N^(-1/5)`` exactly
  and the quartiles' values are never needed. Otherwise (or if the grid is too coarse for the
  exact ``h``) the sample is redone by the general path.

  *Single pass with quartile windows* (counterfactuals after the first 16 otherwise): windows
  around the quartiles and a bandwidth guess from those pilot samples let one pass keep the
  distances inside the windows (exact quartiles by selection), sum the standard deviation and
  bin the moments. If a quartile falls outside its window or the grid is too coarse for the
  exact ``h``, the sample is redone by the general path: the result never depends on the
  guesses.

  The passes are written so the compiler vectorises all but the histogram update: distances
  (on the sphere, in a loop of their own), sums, bin index (kept as a float) and offset run in
  branch-free loops over a chunk of a row of pairs, then a branch-free loop adds to the
  histogram (pairs beyond the grid go to a spare last bin). On the sphere, ``asin`` of the
  half chord is a 12-, 20- or 32-term Horner sum of its Maclaurin series (truncation below
  1e-17 relative, chosen from the sample's extent) instead of one libm call per pair; samples
  whose bounding box spans more than about 8,000 km call ``math.asin``.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numba
import numpy as np

from clusteratlas.geo.distance import chord_gc_km_nb, planar_nb
from clusteratlas.measure._simd import add_row4

Q_BINS = 4096  # coarse histogram for locating the quartiles
GRID_PER_H = 32.0  # fine bins per bandwidth in fast mode
TRUNC_H = 8.0  # kernel truncation in bandwidths, fast mode
# Pairs beyond the grid go to one of 8 spare bins (by column), not all to one: consecutive
# updates of a single bin wait on each other, and on a country-wide sample about half the
# pairs lie beyond the grid (a few per cent faster on the demo economy).
_SPARE = 8
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@numba.njit(cache=True, inline="always")
def _dist(cx: np.ndarray, cy: np.ndarray, cz: np.ndarray, a: int, b: int, sphere: bool,
          radius: float) -> float:
    if sphere:
        return chord_gc_km_nb(cx[a], cy[a], cz[a], cx[b], cy[b], cz[b], radius)
    return planar_nb(cx[a], cy[a], cx[b], cy[b])


@numba.njit(cache=True, inline="always")
def add_moments(mom: np.ndarray, ib: int, w: float, u: float) -> None:
    """Add a pair of weight ``w`` at offset ``u`` from the centre of bin ``ib`` to the moment
    histogram: Σw, Σwu, Σwu² (see the module docstring)."""
    mom[ib, 0] += w
    mom[ib, 1] += w * u
    mom[ib, 2] += w * u * u


@numba.njit(cache=True)
def moment_histogram(nb: int) -> np.ndarray:
    """An empty moment histogram of ``nb`` bins and the spare ones, four columns per bin (the
    fourth unused) so that :func:`add_moments4` updates a bin with one vector operation."""
    return np.zeros((nb + _SPARE, 4))


@numba.njit(cache=True, inline="always")
def add_moments4(mom: np.ndarray, ib: int, w: float, u: float) -> None:
    """:func:`add_moments` on a histogram from :func:`moment_histogram`: one 256-bit
    read-modify-write instead of three scalar ones (about half the cost per pair)."""
    add_row4(mom, ib, w, w * u, w * u * u)


@numba.njit(cache=True)
def _collapse(loc: np.ndarray, e: np.ndarray, coords: np.ndarray):
    """Distinct locations of a sample with counts, weight sums and weight sums of squares."""
    n = loc.shape[0]
    order = np.argsort(loc, kind="mergesort")
    m = 0
    prev = -1
    for t in range(n):
        if loc[order[t]] != prev:
            m += 1
            prev = loc[order[t]]
    cx = np.empty(m)
    cy = np.empty(m)
    cz = np.empty(m)
    cnt = np.zeros(m)
    ew = np.zeros(m)
    e2 = np.zeros(m)
    j = -1
    prev = -1
    for t in range(n):
        i = order[t]
        if loc[i] != prev:
            j += 1
            prev = loc[i]
            cx[j] = coords[prev, 0]
            cy[j] = coords[prev, 1]
            cz[j] = coords[prev, 2]
        cnt[j] += 1.0
        ew[j] += e[i]
        e2[j] += e[i] * e[i]
    return cx, cy, cz, cnt, ew, e2


@numba.njit(cache=True)
def _order_stat_from_sorted(ds: np.ndarray, ms: np.ndarray, start: float, j: float) -> float:
    """The j-th (0-based) order statistic, given sorted values ``ds`` with multiplicities ``ms``
    and ``start`` values below them."""
    c = start
    for t in range(ds.shape[0]):
        c += ms[t]
        if c > j:
            return ds[t]
    return ds[ds.shape[0] - 1]


@numba.njit(cache=True)
def _rule_bandwidth(sd: float, iqr: float, npairs: float, factor: float) -> float:
    """Silverman/Scott rule as R's bw.nrd0/bw.nrd: factor · min(sd, IQR/1.34) · N^(-1/5)."""
    lo = min(sd, iqr / 1.34)
    if not lo > 0.0:
        lo = sd
    if not lo > 0.0:
        return np.nan
    return factor * lo * npairs ** -0.2


@numba.njit(cache=True)
def _type7(p: float, npairs: float):
    hpos = (npairs - 1.0) * p
    k = math.floor(hpos)
    return k, hpos - k


# ---------------------------------------------------------------------------------------------
# exact mode
# ---------------------------------------------------------------------------------------------

@numba.njit(cache=True)
def sample_exact(loc, e, coords, sphere, radius, rs, rule_factor, fixed_h):
    """Exact K at distances ``rs`` and the bandwidth of one sample (see module docstring)."""
    cx, cy, cz, cnt, ew, e2 = _collapse(loc, e, coords)
    m = cx.shape[0]
    npp = m * (m - 1) // 2
    d = np.empty(npp + 1)
    mult = np.empty(npp + 1)
    w = np.empty(npp + 1)
    k = 0
    for a in range(m - 1):
        for b in range(a + 1, m):
            d[k] = _dist(cx, cy, cz, a, b, sphere, radius)
            mult[k] = cnt[a] * cnt[b]
            w[k] = ew[a] * ew[b]
            k += 1
    d[k] = 0.0
    mult[k] = 0.0
    w[k] = 0.0
    for a in range(m):
        mult[k] += 0.5 * cnt[a] * (cnt[a] - 1.0)
        w[k] += 0.5 * (ew[a] * ew[a] - e2[a])
    n = loc.shape[0]
    npairs = 0.5 * n * (n - 1.0)
    if fixed_h > 0.0:
        h = fixed_h
    else:
        order = np.argsort(d, kind="mergesort")
        ds = d[order]
        ms = mult[order]
        mean = np.sum(mult * d) / npairs
        var = np.sum(mult * (d - mean) ** 2) / (npairs - 1.0)
        q = np.empty(2)
        for t, p in enumerate((0.25, 0.75)):
            kk, frac = _type7(p, npairs)
            lo = _order_stat_from_sorted(ds, ms, 0.0, kk)
            hi = _order_stat_from_sorted(ds, ms, 0.0, min(kk + 1.0, npairs - 1.0))
            q[t] = lo + frac * (hi - lo)
        h = _rule_bandwidth(math.sqrt(var), q[1] - q[0], npairs, rule_factor)
    wtot = np.sum(w)
    out = np.zeros(rs.shape[0])
    for ri in range(rs.shape[0]):
        r = rs[ri]
        acc = 0.0
        for t in range(k + 1):
            z1 = (r - d[t]) / h
            z2 = (r + d[t]) / h
            acc += w[t] * (math.exp(-0.5 * z1 * z1) + math.exp(-0.5 * z2 * z2))
        out[ri] = acc * _INV_SQRT_2PI / (h * wtot)
    return out, h


# ---------------------------------------------------------------------------------------------
# fast mode
# ---------------------------------------------------------------------------------------------

@numba.njit(cache=True)
def _pass_moments(cx, cy, cz, cnt, ew, e2, sphere, radius, delta, nb, collect, qbins_sel,
                  invq, dbuf, mbuf):
    """Fine moment histogram (count, Σu, Σu² weighted) and, if ``collect``, the distances
    falling in the selected coarse bins (for exact quartiles)."""
    m = cx.shape[0]
    mom = moment_histogram(nb)
    fnb = float(nb)
    inv_delta = 1.0 / delta
    nbuf = 0
    nsel = qbins_sel.shape[0]
    nterms, coefs = asin_series(cx, cy, cz, sphere)
    drow = np.empty(m)
    for a in range(m - 1):
        wa = ew[a]
        ca = cnt[a]
        # the same distances as pass 1 of the general path (same function), so that a
        # quartile's coarse bin holds the same pairs in both passes
        _row_distances(cx, cy, cz, a, m, sphere, radius, coefs, nterms, drow)
        dr = drow[a + 1:m]  # slices indexed from 0: no negative-index wraparound
        ws = ew[a + 1:m]
        cn = cnt[a + 1:m]
        for j in range(m - a - 1):
            dd = dr[j]
            # no branch: pairs beyond the grid go to the spare bins (half of a country-wide
            # sample's pairs, at random: a branch on them would be mispredicted)
            fb = math.floor(min(dd * inv_delta, fnb + (j & (_SPARE - 1))))
            ib = int(fb)
            u = dd - (fb + 0.5) * delta
            add_moments4(mom, ib, wa * ws[j], u)
            if collect:
                qb = int(dd * invq)
                if qb >= Q_BINS:
                    qb = Q_BINS - 1
                for s in range(nsel):
                    if qb == qbins_sel[s]:
                        dbuf[nbuf] = dd
                        mbuf[nbuf] = ca * cn[j]
                        nbuf += 1
                        break
    # pairs inside one location: distance 0, bin 0, offset -δ/2
    w0 = 0.0
    for a in range(m):
        w0 += 0.5 * (ew[a] * ew[a] - e2[a])
    u0 = -0.5 * delta
    add_moments(mom, 0, w0, u0)
    return mom[:nb], nbuf


@numba.njit(cache=True, inline="always")
def _bin_sum(mom, ib, z, inv_h, half_inv_h2):
    """φ(z) · [M0 − M1 z/h + M2 (z² − 1)/(2h²)] (without φ and 1/(√(2π) h))."""
    return mom[ib, 0] - mom[ib, 1] * z * inv_h + mom[ib, 2] * (z * z - 1.0) * half_inv_h2


@numba.njit(cache=True)
def kde_from_moments(mom, delta, h, rs, wtot):
    """Reflected Gaussian KDE at ``rs`` from a moment histogram (second-order Taylor)."""
    nb = mom.shape[0]
    s = delta / h
    inv_h = 1.0 / h
    half_inv_h2 = 0.5 / (h * h)
    es2 = math.exp(-s * s)
    ehalf = math.exp(-0.5 * s * s)
    width = int(TRUNC_H / s) + 1
    out = np.zeros(rs.shape[0])
    for ri in range(rs.shape[0]):
        r = rs[ri]
        # direct term φ_h(d - r): start at the bin nearest r and walk both ways at once (two
        # independent recurrences, so their multiplications overlap)
        b0 = math.floor(r / delta)
        if b0 > nb - 1:
            b0 = nb - 1
        if b0 < 0:
            b0 = 0
        z0 = ((b0 + 0.5) * delta - r) / h
        phi0 = math.exp(-0.5 * z0 * z0)
        acc = phi0 * _bin_sum(mom, b0, z0, inv_h, half_inv_h2)
        acc_dn = 0.0
        # upward: φ(z + s) = φ(z) e^{-zs} e^{-s²/2}; downward: φ(z - s) = φ(z) e^{zs} e^{-s²/2}
        phi_up = phi0
        q_up = math.exp(-z0 * s)
        z_up = z0
        phi_dn = phi0
        q_dn = math.exp(z0 * s)
        z_dn = z0
        n_up = min(nb - 1, b0 + width) - b0
        n_dn = b0 - max(0, b0 - width)
        for k in range(1, max(n_up, n_dn) + 1):
            if k <= n_up:
                phi_up = phi_up * q_up * ehalf
                q_up = q_up * es2
                z_up = z_up + s
                acc += phi_up * _bin_sum(mom, b0 + k, z_up, inv_h, half_inv_h2)
            if k <= n_dn:
                phi_dn = phi_dn * q_dn * ehalf
                q_dn = q_dn * es2
                z_dn = z_dn - s
                acc_dn += phi_dn * _bin_sum(mom, b0 - k, z_dn, inv_h, half_inv_h2)
        acc += acc_dn
        # reflected term φ_h(d + r), only bins with d + r within the truncation
        z = (0.5 * delta + r) / h
        if z <= TRUNC_H + s:
            phi = math.exp(-0.5 * z * z)
            q = math.exp(-z * s)
            for ib in range(0, nb):
                if ib > 0:
                    phi = phi * q * ehalf
                    q = q * es2
                    z = z + s
                if z > TRUNC_H + s:
                    break
                acc += phi * _bin_sum(mom, ib, z, inv_h, half_inv_h2)
        out[ri] = acc * _INV_SQRT_2PI / (h * wtot)
    return out


_CHUNK = 1024  # columns of a row of pairs processed at once
ASIN_TERMS = (12, 20, 32)  # unrolled series lengths; more terms needed: math.asin per pair


@numba.njit(cache=True)
def _asin_terms(xmax: float) -> int:
    """Terms of the Maclaurin series of asin needed on [0, xmax] for a relative truncation
    error below 1e-17."""
    if xmax >= 0.9:
        return 1000
    x2 = xmax * xmax
    c = 1.0  # c_k = (2k)! / (4^k (k!)^2 (2k + 1)), the k-th coefficient
    k = 0
    p = 1.0
    while True:
        k += 1
        c = c * (2.0 * k - 1.0) * (2.0 * k - 1.0) / ((2.0 * k) * (2.0 * k + 1.0))
        p *= x2
        if c * p / (1.0 - x2) < 1e-17 or k >= 1000:
            return k


@numba.njit(cache=True)
def _asin_coefs(nterms: int) -> np.ndarray:
    out = np.zeros(max(nterms, 32))
    c = 1.0
    out[0] = 1.0
    for k in range(1, nterms):
        c = c * (2.0 * k - 1.0) * (2.0 * k - 1.0) / ((2.0 * k) * (2.0 * k + 1.0))
        out[k] = c
    return out


@numba.njit(cache=True)
def half_chord_bound(cx: np.ndarray, cy: np.ndarray, cz: np.ndarray) -> float:
    """An upper bound on the half chord between any two of the unit vectors: the largest
    chord from their mean direction (any chord is at most twice that, by the triangle
    inequality), or half the diagonal of their 3-D bounding box, whichever is smaller; at
    most 1."""
    n = cx.shape[0]
    if n == 0:
        return 0.0
    mx = cx.mean()
    my = cy.mean()
    mz = cz.mean()
    norm = math.sqrt(mx * mx + my * my + mz * mz)
    if norm > 0.0:
        mx /= norm
        my /= norm
        mz /= norm
    r2 = 0.0
    for i in range(n):
        d = (cx[i] - mx) ** 2 + (cy[i] - my) ** 2 + (cz[i] - mz) ** 2
        r2 = max(r2, d)
    ext = (cx.max() - cx.min()) ** 2 + (cy.max() - cy.min()) ** 2 + (cz.max() - cz.min()) ** 2
    return min(math.sqrt(r2), 0.5 * math.sqrt(ext), 1.0)


@numba.njit(cache=True)
def _max_chord(px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> float:
    """The largest distance between two of the points (all pairs)."""
    best = 0.0
    for a in range(px.shape[0]):
        xs = px[a + 1:]
        ys = py[a + 1:]
        zs = pz[a + 1:]
        row = 0.0
        for b in range(xs.shape[0]):
            dx = xs[b] - px[a]
            dy = ys[b] - py[a]
            dz = zs[b] - pz[a]
            row = max(row, dx * dx + dy * dy + dz * dz)
        best = max(best, row)
    return math.sqrt(best)


def half_chord_bound_gridded(cx: np.ndarray, cy: np.ndarray, cz: np.ndarray,
                             max_cells: int = 6000) -> float:
    """A tighter upper bound than :func:`half_chord_bound` for a large set fixed once (the
    economy's sites): the points are put in cubes of side ``ε``, and no two points are
    farther apart than the farthest two occupied cubes' centres plus ``√3 ε`` (each point is
    within ``√3 ε / 2`` of its cube's centre). ``ε`` starts at a 64th of the cheap bound and
    doubles until at most ``max_cells`` cubes are occupied; the pairs of cubes are all
    compared. For the ``large`` demo economy (China) 0.386 against the cheap bound's 0.485
    (the farthest pair: 0.382), which lets a 12-term asin polynomial serve instead of 16."""
    cheap = half_chord_bound(cx, cy, cz)
    if cx.shape[0] < 2 or cheap <= 0.0:
        return cheap
    eps = cheap / 64.0
    while True:
        # cube indices relative to the lowest, as one int64 key (each below about 130)
        ix, iy, iz = (np.floor(v / eps) for v in (cx, cy, cz))
        lo = np.array([ix.min(), iy.min(), iz.min()])
        ix, iy, iz = ((v - m).astype(np.int64) for v, m in zip((ix, iy, iz), lo, strict=True))
        ny = int(iy.max()) + 1
        nz = int(iz.max()) + 1
        key = np.unique((ix * ny + iy) * nz + iz)
        if key.shape[0] <= max_cells:
            break
        eps *= 2.0
    cube = np.stack([key // (ny * nz), (key // nz) % ny, key % nz], axis=1) + lo
    centre = (cube + 0.5) * eps
    span = _max_chord(np.ascontiguousarray(centre[:, 0]), np.ascontiguousarray(centre[:, 1]),
                      np.ascontiguousarray(centre[:, 2]))
    # the cube centres' coordinates carry rounding of about 1e-16 · |key| · ε; a relative
    # margin of 1e-12 covers it
    return min(cheap, 0.5 * (span + math.sqrt(3.0) * eps) * (1.0 + 1e-12))


@numba.njit(cache=True)
def asin_series(cx: np.ndarray, cy: np.ndarray, cz: np.ndarray, sphere: bool):
    """Terms and coefficients of the asin series that :func:`_row_distances` needs for the
    locations ``cx, cy, cz`` (unit vectors; the half chord is bounded by
    :func:`half_chord_bound`). Planar: no terms."""
    nterms = 0
    if sphere:
        nterms = _asin_terms(half_chord_bound(cx, cy, cz))
    return nterms, _asin_coefs(min(nterms, ASIN_TERMS[2]))


def _economised(t_max: Fraction, nterms: int) -> tuple[list[float], float]:
    """Chebyshev economisation (Lanczos 1938; Press et al. 2007, §5.11) of the Maclaurin series
    of ``f(t) = asin(√t) / √t`` on ``[0, t_max]`` to a polynomial in ``t`` of ``nterms``
    terms. Exact rational arithmetic: the series to ``degree`` terms is rewritten in the shifted
    Chebyshev basis of ``[0, t_max]``, cut after ``nterms`` terms and rewritten in powers of
    ``t``. Returns the coefficients (rounded to double) and a bound on the cut's error: the sum
    of the dropped Chebyshev coefficients' magnitudes (|T_k| ≤ 1), plus the Maclaurin tail
    beyond ``degree`` terms, which is below ``t_max^degree / (1 - t_max)``."""
    # enough series terms that the tail is far below the cut
    tail = math.log(1e-20 * (1 - float(t_max))) / math.log(float(t_max))
    degree = max(nterms + 8, math.ceil(tail))
    half = t_max / 2
    mac = [Fraction(1)]
    for k in range(1, degree):
        mac.append(mac[-1] * (2 * k - 1) ** 2 / ((2 * k) * (2 * k + 1)))
    # powers of s = 2t / t_max - 1: t^k = (half (s + 1))^k
    ps = [Fraction(0)] * degree
    for k, ck in enumerate(mac):
        hk = ck * half**k
        for j in range(k + 1):
            ps[j] += hk * math.comb(k, j)
    cheb = [[Fraction(1)], [Fraction(0), Fraction(1)]]  # T_n in powers of s
    for _ in range(2, degree):
        a = [Fraction(0)] + [2 * x for x in cheb[-1]]
        b = cheb[-2] + [Fraction(0)] * (len(a) - len(cheb[-2]))
        cheb.append([x - y for x, y in zip(a, b, strict=True)])
    coef = [Fraction(0)] * degree
    for n in range(degree - 1, -1, -1):
        coef[n] = ps[n] / cheb[n][n]
        for j in range(n + 1):
            ps[j] -= coef[n] * cheb[n][j]
    err = float(sum(abs(x) for x in coef[nterms:])) + float(t_max) ** degree / (1 - float(t_max))
    in_s = [Fraction(0)] * nterms
    for n in range(nterms):
        for j in range(n + 1):
            in_s[j] += coef[n] * cheb[n][j]
    in_t = [Fraction(0)] * nterms
    for j, pj in enumerate(in_s):
        for i in range(j + 1):
            in_t[i] += pj * math.comb(j, i) * (2 / t_max) ** i * (-1) ** (j - i)
    return [float(x) for x in in_t], err


@functools.lru_cache(maxsize=64)
def _economised_rung(rung: int) -> tuple[int, tuple[float, ...]]:
    """The shortest economised polynomial (12, 16 or 20 terms) on ``[0, 2^(-rung/4)]`` whose
    error is below 1e-17 (``f ≥ 1``, so that is relative), or (0, ()) if none is enough."""
    t_max = Fraction(2) ** Fraction(-rung, 4) if rung % 4 == 0 else None
    if t_max is None:  # 2^(-rung/4) rounded up to a rational a little above it
        t_max = Fraction(2.0 ** (-rung / 4.0)).limit_denominator(1 << 20) * Fraction(1000001,
                                                                                      1000000)
    for nterms in (12, 16, 20):
        coefs, err = _economised(t_max, nterms)
        if err < 1e-17:
            return nterms, tuple(coefs)
    return 0, ()


def asin_economised(coords: np.ndarray) -> tuple[int, np.ndarray]:
    """Terms and coefficients of the asin polynomial for every sample of the unit vectors
    ``coords`` (n × 3): as :func:`asin_series`, but the Chebyshev-economised polynomial on the
    set's extent (12 terms instead of 20–32 Maclaurin terms for a country the size of China),
    for callers that fix it once for many samples. Falls back to :func:`asin_series`' choice
    when no economised polynomial is short enough."""
    if coords.shape[0] == 0:
        return 0, _asin_coefs(0)
    c = np.ascontiguousarray(coords, dtype=np.float64)
    cx, cy, cz = c[:, 0].copy(), c[:, 1].copy(), c[:, 2].copy()
    t_need = half_chord_bound_gridded(cx, cy, cz) ** 2
    rung = 0
    while rung < 80 and 2.0 ** (-(rung + 1) / 4.0) >= t_need:
        rung += 1
    nterms, coefs = _economised_rung(rung) if t_need < 0.7 else (0, ())
    if nterms == 0:
        return asin_series(cx, cy, cz, True)
    out = np.zeros(ASIN_TERMS[2])
    out[:nterms] = coefs
    return nterms, out


@numba.njit(cache=True, fastmath=True)
def _row_arc12(xa, ya, za, cx, cy, cz, two_r, c, out):
    for b in range(cx.shape[0]):
        dx = cx[b] - xa
        dy = cy[b] - ya
        dz = cz[b] - za
        x2 = 0.25 * (dx * dx + dy * dy + dz * dz)
        p = (((((((((((c[11] * x2 + c[10]) * x2 + c[9]) * x2 + c[8]) * x2 + c[7]) * x2 + c[6])
                   * x2 + c[5]) * x2 + c[4]) * x2 + c[3]) * x2 + c[2]) * x2 + c[1]) * x2 + c[0])
        out[b] = two_r * p * math.sqrt(x2)


@numba.njit(cache=True, fastmath=True)
def _row_arc16(xa, ya, za, cx, cy, cz, two_r, c, out):
    for b in range(cx.shape[0]):
        dx = cx[b] - xa
        dy = cy[b] - ya
        dz = cz[b] - za
        x2 = 0.25 * (dx * dx + dy * dy + dz * dz)
        p = ((((((c[15] * x2 + c[14]) * x2 + c[13]) * x2 + c[12]) * x2 + c[11]) * x2 + c[10])
             * x2 + c[9])
        p = (((((((((p * x2 + c[8]) * x2 + c[7]) * x2 + c[6]) * x2 + c[5]) * x2 + c[4]) * x2
                 + c[3]) * x2 + c[2]) * x2 + c[1]) * x2 + c[0])
        out[b] = two_r * p * math.sqrt(x2)


@numba.njit(cache=True, fastmath=True)
def _row_arc20(xa, ya, za, cx, cy, cz, two_r, c, out):
    for b in range(cx.shape[0]):
        dx = cx[b] - xa
        dy = cy[b] - ya
        dz = cz[b] - za
        x2 = 0.25 * (dx * dx + dy * dy + dz * dz)
        p = (((((((((c[19] * x2 + c[18]) * x2 + c[17]) * x2 + c[16]) * x2 + c[15]) * x2 + c[14])
                 * x2 + c[13]) * x2 + c[12]) * x2 + c[11]) * x2 + c[10])
        p = ((((((((((p * x2 + c[9]) * x2 + c[8]) * x2 + c[7]) * x2 + c[6]) * x2 + c[5])
                   * x2 + c[4]) * x2 + c[3]) * x2 + c[2]) * x2 + c[1]) * x2 + c[0])
        out[b] = two_r * p * math.sqrt(x2)


@numba.njit(cache=True, fastmath=True)
def _row_arc32(xa, ya, za, cx, cy, cz, two_r, c, out):
    for b in range(cx.shape[0]):
        dx = cx[b] - xa
        dy = cy[b] - ya
        dz = cz[b] - za
        x2 = 0.25 * (dx * dx + dy * dy + dz * dz)
        p = c[31] * x2 + c[30]
        p = p * x2 + c[29]
        p = p * x2 + c[28]
        p = p * x2 + c[27]
        p = p * x2 + c[26]
        p = p * x2 + c[25]
        p = p * x2 + c[24]
        p = p * x2 + c[23]
        p = p * x2 + c[22]
        p = p * x2 + c[21]
        p = p * x2 + c[20]
        p = p * x2 + c[19]
        p = p * x2 + c[18]
        p = p * x2 + c[17]
        p = p * x2 + c[16]
        p = p * x2 + c[15]
        p = p * x2 + c[14]
        p = p * x2 + c[13]
        p = p * x2 + c[12]
        p = p * x2 + c[11]
        p = p * x2 + c[10]
        p = p * x2 + c[9]
        p = p * x2 + c[8]
        p = p * x2 + c[7]
        p = p * x2 + c[6]
        p = p * x2 + c[5]
        p = p * x2 + c[4]
        p = p * x2 + c[3]
        p = p * x2 + c[2]
        p = p * x2 + c[1]
        p = p * x2 + c[0]
        out[b] = two_r * p * math.sqrt(x2)


@numba.njit(cache=True, fastmath=True)
def _row_distances(cx, cy, cz, a, m, sphere, radius, coefs, nterms, drow):
    """Distances from location ``a`` to locations ``a+1 .. m-1`` into ``drow[a+1 .. m-1]``
    (see :func:`row_distances_to`)."""
    row_distances_to(cx[a], cy[a], cz[a], cx, cy, cz, a + 1, m, sphere, radius, coefs, nterms,
                     drow[a + 1:])


@numba.njit(cache=True, fastmath=True)
def row_distances_to(xa, ya, za, cx, cy, cz, lo, hi, sphere, radius, coefs, nterms, out):
    """Distances from the point ``(xa, ya, za)`` to locations ``lo .. hi-1`` into
    ``out[0 .. hi-lo-1]``, in loops the compiler vectorises. On the sphere, ``asin`` of the
    half chord ``x`` is the Horner sum of a polynomial in ``x²`` (12, 20 or 32 terms, whichever
    ``nterms`` — from :func:`asin_series` over the sample's extent — allows: truncation below
    1e-17 relative) instead of one libm call per pair; wider samples call ``math.asin``."""
    # slices indexed from 0: an index the compiler knows is not negative needs no wraparound
    # select, which would keep these loops from vectorising (2.5-3.8 ns against 0.9 ns per
    # pair, measured)
    xs = cx[lo:hi]
    ys = cy[lo:hi]
    if not sphere:
        for b in range(xs.shape[0]):
            dx = xs[b] - xa
            dy = ys[b] - ya
            out[b] = math.sqrt(dx * dx + dy * dy)
        return
    zs = cz[lo:hi]
    two_r = 2.0 * radius
    if nterms <= ASIN_TERMS[0]:
        _row_arc12(xa, ya, za, xs, ys, zs, two_r, coefs, out)
    elif nterms <= 16:  # economised polynomials only (asin_economised)
        _row_arc16(xa, ya, za, xs, ys, zs, two_r, coefs, out)
    elif nterms <= ASIN_TERMS[1]:
        _row_arc20(xa, ya, za, xs, ys, zs, two_r, coefs, out)
    elif nterms <= ASIN_TERMS[2]:
        _row_arc32(xa, ya, za, xs, ys, zs, two_r, coefs, out)
    else:
        for b in range(xs.shape[0]):
            out[b] = chord_gc_km_nb(xa, ya, za, xs[b], ys[b], zs[b], radius)


@numba.njit(cache=True, fastmath=True)
def _pass_single(cx, cy, cz, cnt, ew, e2, sphere, radius, delta, nb, win, buf, bufm):
    """One pass: exact Σd and Σd² (standard deviation), for each quartile window
    ``win[t] = (lo, hi)`` the establishment pairs below ``lo`` and the distances inside it
    (kept in ``buf[t]`` with multiplicities ``bufm[t]``), and the moment histogram on the grid
    ``delta``. Returns the histogram, the sums, the counts below and kept per window, and
    whether a buffer overflowed.

    Per row of pairs, the distances, sums, window counts, bin indices and offsets run in
    branch-free loops the compiler vectorises; the histogram loop has no branch either
    (distances beyond the grid go to a spare last bin) and keeps the window distances by
    branch-free compaction (write always, advance the count only inside the window).
    """
    m = cx.shape[0]
    mom = moment_histogram(nb)
    inv_delta = 1.0 / delta
    fnb = float(nb)
    s1 = 0.0
    s2 = 0.0
    below = np.zeros(2)
    kept = np.zeros(2, dtype=np.int64)
    cap = buf.shape[1]
    overflow = False
    lo0 = win[0, 0]
    hi0 = win[0, 1]
    lo1 = win[1, 0]
    hi1 = win[1, 1]
    drow = np.empty(m)
    urow = np.empty(m)
    irow = np.empty(m, dtype=np.int32)
    nterms, coefs = asin_series(cx, cy, cz, sphere)
    k0 = 0
    k1 = 0
    buf0 = buf[0]
    buf1 = buf[1]
    bm0 = bufm[0]
    bm1 = bufm[1]
    distinct = True
    ones = True  # and every weight is 1 (Kd)
    for a in range(m):
        if cnt[a] != 1.0:
            distinct = False
            break
        if ew[a] != 1.0:
            ones = False
    for a in range(m - 1):
        _row_distances(cx, cy, cz, a, m, sphere, radius, coefs, nterms, drow)
        ca = cnt[a]
        r1 = 0.0
        r2 = 0.0
        b0 = 0.0
        b1 = 0.0
        # the row's arrays as slices indexed from 0: no negative-index wraparound, so the
        # first loop vectorises
        dr = drow[a + 1:m]
        ir = irow[a + 1:m]
        ur = urow[a + 1:m]
        cn = cnt[a + 1:m]
        ws = ew[a + 1:m]
        for j in range(m - a - 1):
            dd = dr[j]
            mab = ca * cn[j]
            r1 += mab * dd
            r2 += mab * dd * dd
            b0 += mab * (dd < lo0)
            b1 += mab * (dd < lo1)
            fb = math.floor(min(dd * inv_delta, fnb + (j & (_SPARE - 1))))
            ir[j] = np.int32(fb)
            ur[j] = dd - (fb + 0.5) * delta
        s1 += r1
        s2 += r2
        below[0] += b0
        below[1] += b1
        wa = ew[a]
        if k0 + m > cap or k1 + m > cap:
            overflow = True
            k0 = 0
            k1 = 0
        if distinct:
            # every location holds one establishment: one branch-free compaction into a
            # shared buffer (write always, advance inside either window), split below
            if ones:
                for j in range(m - a - 1):
                    add_moments4(mom, ir[j], 1.0, ur[j])
                    dd = dr[j]
                    buf0[k0] = dd
                    k0 += ((dd >= lo0) & (dd <= hi0)) | ((dd >= lo1) & (dd <= hi1))
                continue
            for j in range(m - a - 1):
                add_moments4(mom, ir[j], wa * ws[j], ur[j])
                dd = dr[j]
                buf0[k0] = dd
                k0 += ((dd >= lo0) & (dd <= hi0)) | ((dd >= lo1) & (dd <= hi1))
            continue
        for j in range(m - a - 1):
            add_moments4(mom, ir[j], wa * ws[j], ur[j])
            dd = dr[j]
            if dd >= lo0 and dd <= hi0:
                buf0[k0] = dd
                bm0[k0] = ca * cn[j]
                k0 += 1
            if dd >= lo1 and dd <= hi1:
                buf1[k1] = dd
                bm1[k1] = ca * cn[j]
                k1 += 1
    if distinct:
        # split the shared buffer by window (in place for the first: it only shrinks)
        k = k0
        k0 = 0
        for v in range(k):
            dd = buf0[v]
            if dd >= lo1 and dd <= hi1:
                buf1[k1] = dd
                bm1[k1] = 1.0
                k1 += 1
            if dd >= lo0 and dd <= hi0:
                buf0[k0] = dd
                bm0[k0] = 1.0
                k0 += 1
    kept[0] = k0
    kept[1] = k1
    w0 = 0.0
    m0 = 0.0
    for a in range(m):
        w0 += 0.5 * (ew[a] * ew[a] - e2[a])
        m0 += 0.5 * cnt[a] * (cnt[a] - 1.0)
    u0 = -0.5 * delta
    add_moments(mom, 0, w0, u0)
    # pairs inside one location are at distance 0
    for t in range(2):
        if win[t, 0] > 0.0:
            below[t] += m0
        elif m0 > 0.0:
            if kept[t] < cap:
                buf[t, kept[t]] = 0.0
                bufm[t, kept[t]] = m0
                kept[t] += 1
            else:
                overflow = True
    return mom[:nb], s1, s2, below, kept, overflow


@numba.njit(cache=True)
def _select_in_window(vals, mults, nval, lo, hi, start, j0, j1):
    """The j0-th and j1-th (0-based, ``j0 ≤ j1``) order statistics among all pairs, given the
    ``nval`` kept values of the window [lo, hi] and ``start`` pairs below it: one
    sub-histogram finds the sub-bins holding them, and only those are sorted. NaN for an order
    statistic that is not inside the window."""
    out = np.full(2, np.nan)
    if j0 < start:
        return out
    nsub = 1024
    width = (hi - lo) / nsub
    if not width > 0.0:
        width = 1.0
    inv_w = 1.0 / width  # the same sub-bin formula in both passes: any rounding is shared
    sub = np.zeros(nsub + 1)  # pairs (multiplicities) per sub-bin
    entries = np.zeros(nsub + 1, dtype=np.int64)  # kept values per sub-bin
    for v in range(nval):
        ib = min(int((vals[v] - lo) * inv_w), nsub)
        sub[ib] += mults[v]
        entries[ib] += 1
    # the sub-bins of j0 and j1, and the pairs below the first of them
    js = np.empty(2)
    js[0] = j0
    js[1] = j1
    bins = np.full(2, -1)
    c = start
    below = 0.0
    for ib in range(nsub + 1):
        for t in range(2):
            if bins[t] < 0 and c + sub[ib] > js[t]:
                bins[t] = ib
                if t == 0:
                    below = c
        c += sub[ib]
    if bins[0] < 0:
        return out
    last = bins[1] if bins[1] >= 0 else bins[0]
    cnt = entries[bins[0]:last + 1].sum()
    ds = np.empty(cnt)
    ms = np.empty(cnt)
    k = 0
    for v in range(nval):
        ib = min(int((vals[v] - lo) * inv_w), nsub)
        if ib >= bins[0] and ib <= last:
            ds[k] = vals[v]
            ms[k] = mults[v]
            k += 1
    o = np.argsort(ds, kind="mergesort")
    ds = ds[o]
    ms = ms[o]
    out[0] = _order_stat_from_sorted(ds, ms, below, j0)
    if bins[1] >= 0:
        out[1] = _order_stat_from_sorted(ds, ms, below, j1)
    return out


@numba.njit(cache=True)
def sample_fast(loc, e, coords, sphere, radius, rs, rule_factor, fixed_h, dmax, win, h_guess):
    """Fast K at distances ``rs`` of one sample; returns (K, h, q25, q75, sd).

    With quartile windows ``win`` (2 × 2: lo, hi) and a bandwidth guess ``h_guess`` from pilot
    samples, a single pass is tried: the quartiles are selected exactly among the distances
    kept inside the windows, and the grid ``h_guess / 32`` is used if it is fine enough for the
    exact ``h``. If a quartile falls outside its window or the grid is too coarse, the sample is
    redone by the general path, so the result never depends on the guesses. Pass
    ``win = zeros((2, 2))`` to use the general path directly.
    """
    cx, cy, cz, cnt, ew, e2 = _collapse(loc, e, coords)
    m = cx.shape[0]
    n = loc.shape[0]
    npairs = 0.5 * n * (n - 1.0)
    wsum = 0.0
    wsq = 0.0
    for i in range(n):
        wsum += e[i]
        wsq += e[i] * e[i]
    wtot = 0.5 * (wsum * wsum - wsq)
    rmax = 0.0
    for ri in range(rs.shape[0]):
        rmax = max(rmax, rs[ri])
    dummy = np.empty(0)
    nosel = np.empty(0, dtype=np.int64)
    if fixed_h > 0.0:
        h = fixed_h
        delta = h / GRID_PER_H
        nb = int((rmax + TRUNC_H * h) / delta) + 2
        mom, _ = _pass_moments(cx, cy, cz, cnt, ew, e2, sphere, radius, delta, nb, False,
                               nosel, 0.0, dummy, dummy)
        return kde_from_moments(mom, delta, h, rs, wtot), h, np.nan, np.nan, np.nan
    if win[0, 1] > win[0, 0] and win[1, 1] > win[1, 0] and h_guess > 0.0 and npairs > 1.0:
        delta = h_guess / GRID_PER_H
        nb = int((rmax + TRUNC_H * 1.5 * h_guess) / delta) + 2
        if nb <= 1 << 22:
            cap = max(1024, int(0.1 * m * (m - 1) / 2) + 1)
            buf = np.empty((2, cap))
            bufm = np.empty((2, cap))
            mom, s1, s2, below, kept, overflow = _pass_single(
                cx, cy, cz, cnt, ew, e2, sphere, radius, delta, nb, win, buf, bufm)
            mean = s1 / npairs
            sd = math.sqrt(max((s2 - s1 * mean) / (npairs - 1.0), 0.0))
            q = np.full(2, np.nan)
            if not overflow:
                for t, p in enumerate((0.25, 0.75)):
                    kk, frac = _type7(p, npairs)
                    v = _select_in_window(buf[t], bufm[t], kept[t], win[t, 0], win[t, 1],
                                          below[t], kk, min(kk + 1.0, npairs - 1.0))
                    q[t] = v[0] + frac * (v[1] - v[0])
            if np.all(np.isfinite(q)):
                h = _rule_bandwidth(sd, q[1] - q[0], npairs, rule_factor)
                if (h > 0.0 and delta <= h / GRID_PER_H * (1.0 + 1e-9)
                        and rmax + TRUNC_H * h <= (nb - 1) * delta):
                    return kde_from_moments(mom, delta, h, rs, wtot), h, q[0], q[1], sd
        # a guess failed (quartile outside its window, grid too coarse): general path

    # pass 1: exact sums for the standard deviation, coarse histogram for the quartiles
    invq = Q_BINS / (dmax * (1.0 + 1e-9) + 1e-300)
    hq = np.zeros(Q_BINS)  # establishment pairs per coarse bin
    s1 = 0.0
    s2 = 0.0
    nterms, coefs = asin_series(cx, cy, cz, sphere)
    drow = np.empty(m)
    for a in range(m - 1):
        ca = cnt[a]
        _row_distances(cx, cy, cz, a, m, sphere, radius, coefs, nterms, drow)
        dr = drow[a + 1:m]  # slices indexed from 0: no negative-index wraparound
        cn = cnt[a + 1:m]
        for j in range(m - a - 1):
            dd = dr[j]
            mab = ca * cn[j]
            s1 += mab * dd
            s2 += mab * dd * dd
            qb = int(dd * invq)
            if qb >= Q_BINS:
                qb = Q_BINS - 1
            hq[qb] += mab
    m0 = 0.0
    for a in range(m):
        m0 += 0.5 * cnt[a] * (cnt[a] - 1.0)
    hq[0] += m0
    mean = s1 / npairs
    var = max((s2 - s1 * mean) / (npairs - 1.0), 0.0)
    sd = math.sqrt(var)
    cum = np.cumsum(hq)
    # order statistics needed by the type-7 quartiles and their coarse bins
    js = np.empty(4)
    fr = np.empty(2)
    for t, p in enumerate((0.25, 0.75)):
        kk, frac = _type7(p, npairs)
        js[2 * t] = kk
        js[2 * t + 1] = min(kk + 1.0, npairs - 1.0)
        fr[t] = frac
    jb = np.empty(4, dtype=np.int64)
    for t in range(4):
        jb[t] = np.searchsorted(cum, js[t], side="right")
    sel = np.unique(jb)
    cap = 0  # establishment pairs bound the location pairs of a bin
    for t in range(sel.shape[0]):
        cap += int(hq[sel[t]]) + 1
    qwidth = 1.0 / invq
    iqr_lo = max(jb[2] * qwidth - (jb[1] + 1) * qwidth, 0.0)
    h_hi = _rule_bandwidth(sd, 1e300, npairs, rule_factor)
    h_lo = rule_factor * min(sd, iqr_lo / 1.34) * npairs ** -0.2
    if not h_hi > 0.0:
        return np.full(rs.shape[0], np.nan), np.nan, np.nan, np.nan, sd
    guess = h_lo if h_lo > 0.0 else h_hi
    delta = guess / GRID_PER_H
    nb = int((rmax + TRUNC_H * h_hi) / delta) + 2
    do_mom = nb <= 1 << 22
    if not do_mom:
        nb = 1
    dbuf = np.empty(cap)
    mbuf = np.empty(cap)
    # pass 2: keep distances in the quartile bins (and bin moments if the grid is affordable)
    mom, nbuf = _pass_moments(cx, cy, cz, cnt, ew, e2, sphere, radius, delta, nb, True, sel,
                              invq, dbuf, mbuf)
    q = np.empty(2)
    for t in range(2):
        vals = np.empty(2)
        for u in range(2):
            j = js[2 * t + u]
            b = jb[2 * t + u]
            start = cum[b - 1] if b > 0 else 0.0
            # distances of this coarse bin (zero-distance pairs live in bin 0)
            cntb = 0
            for v in range(nbuf):
                if min(int(dbuf[v] * invq), Q_BINS - 1) == b:
                    cntb += 1
            extra = 1 if (b == 0 and m0 > 0.0) else 0
            dsel = np.empty(cntb + extra)
            msel = np.empty(cntb + extra)
            c = 0
            for v in range(nbuf):
                if min(int(dbuf[v] * invq), Q_BINS - 1) == b:
                    dsel[c] = dbuf[v]
                    msel[c] = mbuf[v]
                    c += 1
            if extra:
                dsel[c] = 0.0
                msel[c] = m0
            o = np.argsort(dsel, kind="mergesort")
            vals[u] = _order_stat_from_sorted(dsel[o], msel[o], start, j)
        q[t] = vals[0] + fr[t] * (vals[1] - vals[0])
    h = _rule_bandwidth(sd, q[1] - q[0], npairs, rule_factor)
    if not h > 0.0:
        return np.full(rs.shape[0], np.nan), np.nan, q[0], q[1], sd
    if (not do_mom) or delta > h / GRID_PER_H * (1.0 + 1e-9):
        # the grid guessed before the bandwidth was known is too coarse: bin again
        delta = h / GRID_PER_H
        nb = int((rmax + TRUNC_H * h) / delta) + 2
        mom, _ = _pass_moments(cx, cy, cz, cnt, ew, e2, sphere, radius, delta, nb, False,
                               nosel, 0.0, dummy, dummy)
    return kde_from_moments(mom, delta, h, rs, wtot), h, q[0], q[1], sd


@numba.njit(cache=True, fastmath=True)
def _pass_sd(cx, cy, cz, cnt, ew, sphere, radius, delta, nb, unit):
    """One pass for the standard-deviation path: exact Σd and Σd² over establishment pairs,
    the moment histogram on the grid ``delta`` and a count histogram of establishment pairs
    on the same grid (its last bin holds every pair beyond it), which brackets each quartile
    within one bin. With ``unit`` (weights are the location counts, as in Kd) the moment
    histogram's weights are those counts and no separate count is kept."""
    m = cx.shape[0]
    mom = moment_histogram(nb)
    hc = np.zeros(nb + _SPARE)
    inv_delta = 1.0 / delta
    fnb = float(nb)
    s1 = 0.0
    s2 = 0.0
    drow = np.empty(m)
    urow = np.empty(m)
    irow = np.empty(m, dtype=np.int32)
    nterms, coefs = asin_series(cx, cy, cz, sphere)
    distinct = unit
    for a in range(m):
        if cnt[a] != 1.0:
            distinct = False
            break
    for a in range(m - 1):
        ca = cnt[a]
        wa = ew[a]
        if sphere:
            # a separate vector loop for the great-circle distances of the row: measured
            # faster than fusing the series into the loop below
            _row_distances(cx, cy, cz, a, m, sphere, radius, coefs, nterms, drow)
        # columns in chunks, so the row buffers stay in the L1 cache; each chunk's arrays
        # are slices indexed from 0 (no negative-index wraparound: the loops vectorise)
        for lo in range(a + 1, m, _CHUNK):
            hi = min(lo + _CHUNK, m)
            dr = drow[lo:hi]
            ir = irow[lo:hi]
            ur = urow[lo:hi]
            cn = cnt[lo:hi]
            r1 = 0.0
            r2 = 0.0
            if sphere:
                for j in range(hi - lo):
                    dd = dr[j]
                    mab = ca * cn[j]
                    r1 += mab * dd
                    r2 += mab * dd * dd
                    # bin index as int32: converts in the vector loop (int64 would not)
                    fb = math.floor(min(dd * inv_delta, fnb + (j & (_SPARE - 1))))
                    ir[j] = np.int32(fb)
                    ur[j] = dd - (fb + 0.5) * delta
            else:
                xa = cx[a]
                ya = cy[a]
                xs = cx[lo:hi]
                ys = cy[lo:hi]
                for j in range(hi - lo):
                    dx = xs[j] - xa
                    dy = ys[j] - ya
                    dd = math.sqrt(dx * dx + dy * dy)
                    mab = ca * cn[j]
                    r1 += mab * dd
                    r2 += mab * dd * dd
                    fb = math.floor(min(dd * inv_delta, fnb + (j & (_SPARE - 1))))
                    ir[j] = np.int32(fb)
                    ur[j] = dd - (fb + 0.5) * delta
            s1 += r1
            s2 += r2
            if distinct:
                # one establishment per location (Kd): every pair weighs 1, no loads of weights
                for j in range(hi - lo):
                    add_moments4(mom, ir[j], 1.0, ur[j])
            elif unit:
                ws = ew[lo:hi]
                for j in range(hi - lo):
                    add_moments4(mom, ir[j], wa * ws[j], ur[j])
            else:
                ws = ew[lo:hi]
                for j in range(hi - lo):
                    ib = ir[j]
                    add_moments4(mom, ib, wa * ws[j], ur[j])
                    hc[ib] += ca * cn[j]
    if unit:
        hc[:] = mom[:, 0]
    return mom, hc, s1, s2


@numba.njit(cache=True)
def sample_fast_sd(loc, e, coords, sphere, radius, rs, rule_factor, dmax, h_guess, dcount=0.0):
    """Fast K of one sample in one pass when the rule's minimum is the standard deviation.

    Silverman's rule takes ``min(sd, IQR / 1.34)``: the quartiles matter only if the IQR is
    the smaller. One pass gives the exact sd and a count histogram on the fine grid
    ``h_guess / 32``, which brackets the type-7 quartiles within a bin each; if the bracket
    proves ``IQR / 1.34 > sd``, the bandwidth is ``rule · sd · N^(-1/5)`` exactly, without the
    quartiles' values (returned as NaN). If it cannot (IQR close to or below 1.34 sd), or the
    grid is too coarse for the exact ``h``, the sample is redone by the general path of
    :func:`sample_fast`, so the result never depends on the guess. The grid extends to at
    least ``dcount`` (an upper guess of the third quartile), so that the bracket of the third
    quartile is one bin wide.
    """
    cx, cy, cz, cnt, ew, e2 = _collapse(loc, e, coords)
    m = cx.shape[0]
    n = loc.shape[0]
    npairs = 0.5 * n * (n - 1.0)
    wsum = 0.0
    wsq = 0.0
    for i in range(n):
        wsum += e[i]
        wsq += e[i] * e[i]
    wtot = 0.5 * (wsum * wsum - wsq)
    rmax = 0.0
    for ri in range(rs.shape[0]):
        rmax = max(rmax, rs[ri])
    delta = h_guess / GRID_PER_H
    nb = int((max(rmax + TRUNC_H * 1.5 * h_guess, dcount)) / delta) + 2
    if h_guess > 0.0 and npairs > 1.0 and nb <= 1 << 22:
        unit = True
        for a in range(m):
            if ew[a] != cnt[a]:
                unit = False
                break
        mom, hc, s1, s2 = _pass_sd(cx, cy, cz, cnt, ew, sphere, radius, delta, nb, unit)
        w0 = 0.0
        m0 = 0.0
        for a in range(m):
            w0 += 0.5 * (ew[a] * ew[a] - e2[a])
            m0 += 0.5 * cnt[a] * (cnt[a] - 1.0)
        # pairs inside one location: distance 0, bin 0, offset -δ/2
        u0 = -0.5 * delta
        add_moments(mom, 0, w0, u0)
        hc[0] += m0
        mean = s1 / npairs
        sd = math.sqrt(max((s2 - s1 * mean) / (npairs - 1.0), 0.0))
        cum = np.cumsum(hc)
        k25, _ = _type7(0.25, npairs)
        k75, _ = _type7(0.75, npairs)
        # q25 ≤ upper edge of the bin of order statistic k25 + 1; q75 ≥ lower edge of the bin
        # of order statistic k75 (bins are [iδ, (i+1)δ); those from nb on hold every pair beyond)
        b25 = np.searchsorted(cum, min(k25 + 1.0, npairs - 1.0), side="right")
        b75 = np.searchsorted(cum, k75, side="right")
        slack = 1e-9 * (nb * delta)  # rounding of the bin index near an edge
        q25_hi = (b25 + 1) * delta + slack if b25 < nb else np.inf
        q75_lo = min(b75, nb) * delta - slack
        if sd > 0.0 and (q75_lo - q25_hi) / 1.34 > sd:
            h = rule_factor * sd * npairs ** -0.2
            if (delta <= h / GRID_PER_H * (1.0 + 1e-9)
                    and rmax + TRUNC_H * h <= (nb - 1) * delta):
                return kde_from_moments(mom[:nb], delta, h, rs, wtot), h, np.nan, np.nan, sd
    return sample_fast(loc, e, coords, sphere, radius, rs, rule_factor, 0.0, dmax,
                       np.zeros((2, 2)), -1.0)


@numba.njit(cache=True, parallel=True)
def pair_distances(coords, li, lj, sphere, radius):
    """Distances of the location pairs ``(li[p], lj[p])``, in parallel (random pairs for
    quartile windows and pilots: tens of millions per analysis)."""
    out = np.empty(li.shape[0])
    for p in numba.prange(li.shape[0]):
        a = li[p]
        b = lj[p]
        if sphere:
            out[p] = chord_gc_km_nb(coords[a, 0], coords[a, 1], coords[a, 2], coords[b, 0],
                                    coords[b, 1], coords[b, 2], radius)
        else:
            out[p] = planar_nb(coords[a, 0], coords[a, 1], coords[b, 0], coords[b, 1])
    return out


@numba.njit(cache=True, parallel=True)
def run_samples(locs, e, coords, sphere, radius, rs, rule_factor, fixed_h, dmax, exact, win,
                h_guess, sd_path=False):
    """K for many samples (rows of ``locs``), in parallel over samples.

    Returns K (samples × distances) and per sample: bandwidth, quartiles (NaN when not needed)
    and standard deviation of the pair distances (NaN in exact mode).
    """
    ns = locs.shape[0]
    out = np.empty((ns, rs.shape[0]))
    stats = np.full((ns, 4), np.nan)
    for k in numba.prange(ns):
        if exact:
            kk, h = sample_exact(locs[k], e, coords, sphere, radius, rs, rule_factor, fixed_h)
            stats[k, 0] = h
        elif sd_path and fixed_h == 0.0:
            kk, h, q25, q75, sd = sample_fast_sd(locs[k], e, coords, sphere, radius, rs,
                                                 rule_factor, dmax, h_guess, win[1, 1])
            stats[k, 0] = h
            stats[k, 1] = q25
            stats[k, 2] = q75
            stats[k, 3] = sd
        else:
            kk, h, q25, q75, sd = sample_fast(locs[k], e, coords, sphere, radius, rs, rule_factor,
                                              fixed_h, dmax, win, h_guess)
            stats[k, 0] = h
            stats[k, 1] = q25
            stats[k, 2] = q75
            stats[k, 3] = sd
        out[k, :] = kk
    return out, stats


@numba.njit(cache=True, parallel=True)
def run_ragged(flat, offsets, e_flat, coords, sphere, radius, rs, rule_factor, fixed_h, dmax,
               exact):
    """K of samples of different sizes (sample ``t`` is ``flat[offsets[t]:offsets[t + 1]]``
    with weights ``e_flat`` alike), by the general path or exact mode, in parallel over
    samples: the observed industries of one analysis. Returns K and stats as
    :func:`run_samples`."""
    ns = offsets.shape[0] - 1
    out = np.empty((ns, rs.shape[0]))
    stats = np.full((ns, 4), np.nan)
    for t in numba.prange(ns):
        loc = flat[offsets[t]:offsets[t + 1]]
        e = e_flat[offsets[t]:offsets[t + 1]]
        if exact:
            kk, h = sample_exact(loc, e, coords, sphere, radius, rs, rule_factor, fixed_h)
            stats[t, 0] = h
        else:
            kk, h, q25, q75, sd = sample_fast(loc, e, coords, sphere, radius, rs, rule_factor,
                                              fixed_h, dmax, np.zeros((2, 2)), -1.0)
            stats[t, 0] = h
            stats[t, 1] = q25
            stats[t, 2] = q75
            stats[t, 3] = sd
        out[t, :] = kk
    return out, stats
