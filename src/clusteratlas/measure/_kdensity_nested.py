"""Nested counterfactuals of the Duranton–Overman K-density: one draw serves every industry.

A counterfactual of an industry of ``n`` establishments is a uniformly random ``n``-subset of
the economy's establishments. The first ``n`` establishments of a uniformly random *ordered*
draw of ``n_max`` establishments are such a subset for every ``n ≤ n_max``. So one ordered
draw gives a counterfactual to every industry at once: its pairs are visited once, adding the
establishments in draw order, and each industry's counterfactual is read off when the prefix
reaches that industry's size. The pair work of a set of counterfactuals falls from
``Σ_k n_k² / 2`` (each industry on its own) to ``n_max² / 2``; for the ``large`` demo economy
(105 industries, 1,176 to 35,093 establishments) that is 11 times fewer pair visits.

Each industry's counterfactuals stay independent of each other (one ordered draw each); those
of different industries share draws, which no single industry's test depends on (a statement
across industries — say, the share localised — should not treat them as independent).

What is read off at a prefix is the fast mode's estimate, as in the per-sample kernels of
:mod:`clusteratlas.measure._kdensity_kernels`: exact Σd and Σd² (the standard deviation), the
moment histogram on a grid of width ``δ ≤ h / GRID_PER_H`` shared by all industries, and the
type-7 quartiles selected exactly from the distances kept inside windows around them (one
pair of windows per industry, nested, from the spread of pilot draws' quartiles; the buffer is
trimmed when the windows have narrowed by 40%, and running counts of the kept distances by
sub-bin let a read-off gather only the values around each order statistic). A prefix whose
quartile falls outside its window, or whose bandwidth is too small for the grid, is flagged
and redone (see :func:`clusteratlas.measure.kdensity._nested_counterfactuals`).

Speed: the pairs are visited in tiles (a group of establishments against a block of earlier
ones whose coordinates stay in cache) and ``asin`` is a Chebyshev-economised polynomial fixed
once for the economy's extent; on the ``large`` demo economy's draws (35,093 establishments
across China) one draw costs about 5 ns per pair on one core, against 17 ns row by row with
the 32-term Maclaurin series and a full buffer scan at every read-off.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from clusteratlas.measure import _kdensity_kernels as kern

_SPARE = 8
_TILE = 2048  # earlier establishments paired at once (coordinates: 48 kB)
_GROUP = 64  # establishments paired with each tile
_TRIM_RATIO = 0.6  # the quartile buffer is trimmed when the windows narrow by this much
_NSUB = 4096  # sub-bins of the running counts of a window's kept distances


@numba.njit(cache=True)
def _trim(buf, k, new_lo, new_hi):
    """Keep the first ``k`` buffered distances that lie inside [new_lo, new_hi] (a sub-window
    of the one they were kept for); return how many are kept and how many fell below
    ``new_lo``."""
    kept = 0
    below = 0.0
    for v in range(k):
        d = buf[v]
        if d < new_lo:
            below += 1.0
        elif d <= new_hi:
            buf[kept] = d
            kept += 1
    return kept, below


@numba.njit(cache=True)
def _trim_top(buf, k1, new_lo, new_hi):
    """:func:`_trim` for the top stack of ``buf`` (entries ``k1 + 1 ..`` to the end): returns
    the new free slot below it and how many fell below ``new_lo``."""
    j = buf.shape[0] - 1
    below = 0.0
    for v in range(buf.shape[0] - 1, k1, -1):
        d = buf[v]
        if d < new_lo:
            below += 1.0
        elif d <= new_hi:
            buf[j] = d
            j -= 1
    return j, below


@numba.njit(cache=True)
def _coarsen(mom, f, delta):
    """The moment histogram (bins of width ``delta``) on bins ``f`` times as wide, whole ones
    only: exact, each bin's Σw u and Σw u² moved to the wider bin's centre (``u' = u + o``,
    so Σw u' = Σw u + o Σw and Σw u'² = Σw u² + 2 o Σw u + o² Σw). An industry whose bandwidth
    is many times the shared grid's is then evaluated on a grid of about ``h / 32``: fewer
    bins under its kernel, the same error bound."""
    nc = mom.shape[0] // f
    out = np.zeros((nc, 3))
    for b in range(nc * f):
        c = b // f
        o = ((b % f) + 0.5 - 0.5 * f) * delta  # old centre minus new centre
        w = mom[b, 0]
        wu = mom[b, 1]
        out[c, 0] += w
        out[c, 1] += wu + o * w
        out[c, 2] += mom[b, 2] + 2.0 * o * wu + o * o * w
    return out


@numba.njit(cache=True)
def _recount(hist, vals, lo, inv_w):
    """The running count histogram of a window, from its kept values."""
    nsub = hist.shape[0] - 1
    hist[:] = 0.0
    for v in range(vals.shape[0]):
        hist[min(int((vals[v] - lo) * inv_w), nsub)] += 1.0


@numba.njit(cache=True)
def _select_counted(vals, nval, lo, hi, inv_w, hist, below, j0, j1, ones):
    """:func:`kern._select_in_window` for values that each stand for one pair and whose
    sub-bins ``int((v - lo) · inv_w)`` were counted in ``hist`` as they were kept: the running
    counts give the sub-bins holding the j0-th and j1-th order statistics, so one scan gathers
    their values (no histogram pass per read-off). If the values gathered are not as many as
    counted (a value binned differently), :func:`kern._select_in_window` decides."""
    out = np.full(2, np.nan)
    if j0 < below:
        return out
    nsub = hist.shape[0] - 1
    c = below
    b0 = -1
    b1 = -1
    base = 0.0
    for ib in range(nsub + 1):
        if b0 < 0 and c + hist[ib] > j0:
            b0 = ib
            base = c
        if c + hist[ib] > j1:
            b1 = ib
            break
        c += hist[ib]
    if b0 < 0 or b1 < 0:
        return kern._select_in_window(vals, ones, nval, lo, hi, below, j0, j1)
    want = 0
    for ib in range(b0, b1 + 1):
        want += int(hist[ib])
    ds = np.empty(want)
    m = 0
    # the sub-bins' value range, tested with one comparison per value (this scan is the
    # read-off's cost; ``a <= x and x < b`` compiles to two branches, the first a coin toss):
    # a value within rounding of an edge may fall on the other side than its count did, and
    # then the numbers disagree and the full selection decides
    w = 1.0 / inv_w if inv_w > 0.0 else 0.0
    v_lo = lo + b0 * w
    v_hi = lo + (b1 + 1) * w if b1 < nsub else hi
    mid = 0.5 * (v_lo + v_hi)
    half = 0.5 * (v_hi - v_lo)
    if b1 >= nsub:
        half = half * (1.0 + 1e-12) + 1e-300  # the last sub-bin holds the window's top
    for v in range(nval):
        x = vals[v]
        if abs(x - mid) < half:
            if m < want:
                ds[m] = x
            m += 1
    if m != want:
        return kern._select_in_window(vals, ones, nval, lo, hi, below, j0, j1)
    ds.sort()
    out[0] = ds[int(j0 - base)]
    out[1] = ds[int(j1 - base)]
    return out


@numba.njit(cache=True)
def _read_off(s, s1, s2, buf0, k0, lo0, hi0, below0, buf1, k1, lo1, hi1, below1, ones,
              overflow, mom, delta, nb, rs, rmax, rule_factor, fixed_h, grid_per_h, trunc_h,
              moments, hist0, iw0, hist1, iw1):
    """K, stats (h, q25, q75, sd) and success of the prefix of ``s`` establishments."""
    out = np.full(rs.shape[0], np.nan)
    stats = np.full(4, np.nan)
    npairs = 0.5 * s * (s - 1.0)
    mean = s1 / npairs
    sd = math.sqrt(max((s2 - s1 * mean) / (npairs - 1.0), 0.0))
    stats[3] = sd
    h = fixed_h if fixed_h > 0.0 else np.nan
    have_h = fixed_h > 0.0  # a flag, not NaN: see below
    k25, f25 = kern._type7(0.25, npairs)
    k75, f75 = kern._type7(0.75, npairs)
    j25 = min(k25 + 1.0, npairs - 1.0)
    j75 = min(k75 + 1.0, npairs - 1.0)
    # both order statistics of each quartile among the pairs kept in its window (counted,
    # not tested for NaN: the caller's fastmath may assume there are none)
    inside = (below0 <= k25 and below0 + k0 > j25 and below1 <= k75 and below1 + k1 > j75)
    if fixed_h <= 0.0 and not overflow and inside:
        v = _select_counted(buf0, k0, lo0, hi0, iw0, hist0, below0, k25, j25, ones)
        w = _select_counted(buf1, k1, lo1, hi1, iw1, hist1, below1, k75, j75, ones)
        q25 = v[0] + f25 * (v[1] - v[0])
        q75 = w[0] + f75 * (w[1] - w[0])
        stats[1] = q25
        stats[2] = q75
        h = kern._rule_bandwidth(sd, q75 - q25, npairs, rule_factor)
        have_h = sd > 0.0 or q75 > q25
    stats[0] = h
    ok = False
    if have_h and h > 0.0:
        if not moments:
            ok = True
        elif delta <= h / grid_per_h * (1.0 + 1e-9) and rmax + trunc_h * h <= (nb - 1) * delta:
            f = int(h / (grid_per_h * delta))
            if f >= 2 and rmax + trunc_h * h <= (nb // f - 1) * f * delta:
                out[:] = kern.kde_from_moments(_coarsen(mom[:nb], f, delta), f * delta, h, rs,
                                               npairs)
            else:
                out[:] = kern.kde_from_moments(mom[:nb], delta, h, rs, npairs)
            ok = True
    return out, stats, ok


@numba.njit(cache=True, fastmath=True, inline="always")
def _visit(cx, cy, cz, t, lo, hi, sphere, radius, coefs, nterms, drow, irow, urow, wf, inv,
           spare, delta, lo0, hi0, lo1, hi1, mom, buf, k0, k1, moments, hist0, iw0, hist1, iw1):
    """Pairs of establishment ``t`` with establishments ``lo .. hi-1``: their Σd, Σd², counts
    below the two windows, moments, and the distances inside the windows pushed on the two
    stacks of ``buf``. Returns (Σd, Σd², below first, below second, k0, k1)."""
    m = hi - lo
    kern.row_distances_to(cx[t], cy[t], cz[t], cx, cy, cz, lo, hi, sphere, radius, coefs,
                          nterms, drow)
    r1 = 0.0
    r2 = 0.0
    b0 = 0.0
    b1 = 0.0
    # branch-free (vectorised): sums, counts below the windows, bin and offset, and a flag
    # per pair: 1 inside the first quartile's window, 2 inside the third's (disjoint windows)
    for j in range(m):
        dd = drow[j]
        r1 += dd
        r2 += dd * dd
        # if-converted to one masked add (``1.0 * (dd < lo0)`` compiles to four instructions)
        if dd < lo0:
            b0 += 1.0
        if dd < lo1:
            b1 += 1.0
        if moments:  # loop-invariant: the compiler splits the loop on it
            fb = math.floor(min(dd * inv, spare[j]))
            irow[j] = np.int32(fb)
            urow[j] = dd - (fb + 0.5) * delta
        wf[j] = np.uint8(((dd >= lo0) & (dd <= hi0)) | (((dd >= lo1) & (dd <= hi1)) << 1))
    # the histogram update, and a distance inside a window pushed on the bottom (first
    # quartile) or top (third) stack of ``buf``: a branch on the flag, rarely taken
    for j in range(m):
        if moments:
            kern.add_moments4(mom, irow[j], 1.0, urow[j])
        f = wf[j]
        if f:
            dd = drow[j]
            if f == 1:
                buf[k0] = dd
                k0 += 1
                hist0[min(int((dd - lo0) * iw0), _NSUB)] += 1.0
            else:
                buf[k1] = dd
                k1 -= 1
                hist1[min(int((dd - lo1) * iw1), _NSUB)] += 1.0
    return r1, r2, b0, b1, k0, k1


@numba.njit(cache=True, fastmath=True)
def nested_sample(draw, coords, sphere, radius, sizes, win, delta, nb, rs, rule_factor, fixed_h,
                  grid_per_h, trunc_h, cap, moments, ones, coefs, nterms, tile, group):
    """Counterfactuals of every industry from one ordered draw of establishments.

    ``draw``: location index of each drawn establishment, in draw order; ``sizes``: the
    industries' sizes, ascending, the last equal to ``len(draw)``; ``win[k]``: windows
    (2 × 2: lo, hi) around the quartiles for industry ``k``, each inside the previous one.
    Returns K (industries × ``len(rs)``, only with ``moments``), stats (h, q25, q75, sd) and
    a success flag per industry. The two windows of an industry must not overlap. ``ones``:
    at least ``2 · cap`` ones (the kept distances' multiplicities). ``coefs``, ``nterms``:
    the asin polynomial for the economy's extent (:func:`kern.asin_economised`).

    The pairs are visited in tiles: a group of up to ``group`` establishments (never past an
    industry's size) against ``tile`` earlier ones at a time, so that the earlier ones'
    coordinates are read from cache once per group rather than from memory once per
    establishment (a draw of 35,000 holds 0.8 MB of coordinates; 2.6 times faster per pair
    on the large demo economy than row by row).
    """
    n_max = draw.shape[0]
    n_ind = sizes.shape[0]
    out = np.full((n_ind, rs.shape[0]), np.nan)
    stats = np.full((n_ind, 4), np.nan)
    ok = np.zeros(n_ind, dtype=np.bool_)
    cx = np.empty(n_max)
    cy = np.empty(n_max)
    cz = np.empty(n_max)
    for t in range(n_max):
        i = draw[t]
        cx[t] = coords[i, 0]
        cy[t] = coords[i, 1]
        cz[t] = coords[i, 2]
    mom = kern.moment_histogram(nb)
    drow = np.empty(tile)
    irow = np.empty(tile, dtype=np.int32)
    urow = np.empty(tile)
    wf = np.empty(tile, dtype=np.uint8)
    buf = np.empty(2 * cap)
    top = 2 * cap - 1
    k0 = 0  # next free slot of the bottom stack (first quartile's window)
    k1 = top  # next free slot of the top stack (third quartile's window)
    below0 = 0.0
    below1 = 0.0
    s1 = 0.0
    s2 = 0.0
    overflow = False
    inv = 1.0 / delta
    # the spare bin of each column, fnb + (j mod _SPARE), read from memory: computed in the
    # vector loop it costs four vector instructions per eight pairs
    spare = np.empty(tile)
    for j in range(tile):
        spare[j] = float(nb + (j & (_SPARE - 1)))
    rmax = 0.0
    for ri in range(rs.shape[0]):
        rmax = max(rmax, rs[ri])
    kind = 0
    lo0 = win[0, 0, 0]
    hi0 = win[0, 0, 1]
    lo1 = win[0, 1, 0]
    hi1 = win[0, 1, 1]
    # running counts of the kept distances by sub-bin of their window (see _select_counted)
    hist0 = np.zeros(_NSUB + 1)
    hist1 = np.zeros(_NSUB + 1)
    iw0 = _NSUB / (hi0 - lo0) if hi0 > lo0 else 0.0
    iw1 = _NSUB / (hi1 - lo1) if hi1 > lo1 else 0.0
    g0 = 1  # establishments 0 .. g0-1 have been paired with each other
    while kind < n_ind:
        if sizes[kind] <= g0:  # a size below 2: nothing to read off (stays not ok)
            kind += 1
            continue
        g1 = min(g0 + group, sizes[kind])
        for c0 in range(0, g0, tile):
            c1 = min(c0 + tile, g0)
            for t in range(g0, g1):
                if k1 - k0 < 2 * tile:
                    overflow = True  # quartiles of the remaining industries: per-sample kernels
                    k0 = 0
                    k1 = top
                    hist0[:] = 0.0
                    hist1[:] = 0.0
                if moments:  # a constant inside: the compiler keeps the loops branch-free
                    r1, r2, b0, b1, k0, k1 = _visit(
                        cx, cy, cz, t, c0, c1, sphere, radius, coefs, nterms, drow, irow, urow,
                        wf, inv, spare, delta, lo0, hi0, lo1, hi1, mom, buf, k0, k1, True, hist0,
                        iw0, hist1, iw1)
                else:
                    r1, r2, b0, b1, k0, k1 = _visit(
                        cx, cy, cz, t, c0, c1, sphere, radius, coefs, nterms, drow, irow, urow,
                        wf, inv, spare, delta, lo0, hi0, lo1, hi1, mom, buf, k0, k1, False, hist0,
                        iw0, hist1, iw1)
                s1 += r1
                s2 += r2
                below0 += b0
                below1 += b1
        for t in range(g0 + 1, g1):  # the group's own pairs
            if k1 - k0 < 2 * tile:
                overflow = True
                k0 = 0
                k1 = top
                hist0[:] = 0.0
                hist1[:] = 0.0
            r1, r2, b0, b1, k0, k1 = _visit(
                cx, cy, cz, t, g0, t, sphere, radius, coefs, nterms, drow, irow, urow, wf, inv,
                spare, delta, lo0, hi0, lo1, hi1, mom, buf, k0, k1, moments, hist0, iw0, hist1, iw1)
            s1 += r1
            s2 += r2
            below0 += b0
            below1 += b1
        g0 = g1
        while kind < n_ind and sizes[kind] == g0:
            out[kind], stats[kind], ok[kind] = _read_off(
                g0, s1, s2, buf[:k0], k0, lo0, hi0, below0, buf[k1 + 1:], top - k1, lo1, hi1,
                below1, ones, overflow, mom, delta, nb, rs, rmax, rule_factor, fixed_h,
                grid_per_h, trunc_h, moments, hist0, iw0, hist1, iw1)
            kind += 1
            # the buffer keeps the windows it was last trimmed to (they hold the next
            # industry's) until the next industry's are narrower by _TRIM_RATIO: trimming at
            # every read-off would scan the buffer once more per industry
            if kind < n_ind and not overflow:
                if win[kind, 0, 1] - win[kind, 0, 0] < _TRIM_RATIO * (hi0 - lo0):
                    k0, c0_ = _trim(buf, k0, win[kind, 0, 0], win[kind, 0, 1])
                    below0 += c0_
                    lo0 = win[kind, 0, 0]
                    hi0 = win[kind, 0, 1]
                    iw0 = _NSUB / (hi0 - lo0) if hi0 > lo0 else 0.0
                    _recount(hist0, buf[:k0], lo0, iw0)
                if win[kind, 1, 1] - win[kind, 1, 0] < _TRIM_RATIO * (hi1 - lo1):
                    k1, c1_ = _trim_top(buf, k1, win[kind, 1, 0], win[kind, 1, 1])
                    below1 += c1_
                    lo1 = win[kind, 1, 0]
                    hi1 = win[kind, 1, 1]
                    iw1 = _NSUB / (hi1 - lo1) if hi1 > lo1 else 0.0
                    _recount(hist1, buf[k1 + 1:], lo1, iw1)
    return out, stats, ok


@numba.njit(cache=True, parallel=True)
def nested_block(draws, coords, sphere, radius, sizes, win, delta, nb, rs, rule_factor,
                 fixed_h, grid_per_h, trunc_h, cap, moments, coefs, nterms):
    """:func:`nested_sample` for many ordered draws (rows of ``draws``), in parallel."""
    nd = draws.shape[0]
    ones = np.ones(2 * cap)  # the two windows share a buffer of 2 · cap
    out = np.full((nd, sizes.shape[0], rs.shape[0]), np.nan)
    stats = np.full((nd, sizes.shape[0], 4), np.nan)
    ok = np.zeros((nd, sizes.shape[0]), dtype=np.bool_)
    for p in numba.prange(nd):
        o, st, fine = nested_sample(draws[p], coords, sphere, radius, sizes, win, delta, nb, rs,
                                    rule_factor, fixed_h, grid_per_h, trunc_h, cap, moments,
                                    ones, coefs, nterms, _TILE, _GROUP)
        out[p] = o
        stats[p] = st
        ok[p] = fine
    return out, stats, ok


@numba.njit(cache=True, parallel=True)
def single_block(flat, offsets, coords, sphere, radius, win, delta, nb, rs, rule_factor, fixed_h,
                 grid_per_h, trunc_h, cap, coefs, nterms):
    """:func:`nested_sample` for separate samples (``flat[offsets[p]:offsets[p+1]]``, each its
    own single industry, with its own windows ``win[p]``, grid ``delta[p], nb[p]`` and buffer
    ``cap[p]``), in parallel: the tiled single pass for the observed industries."""
    n_s = offsets.shape[0] - 1
    out = np.full((n_s, rs.shape[0]), np.nan)
    stats = np.full((n_s, 4), np.nan)
    ok = np.zeros(n_s, dtype=np.bool_)
    for p in numba.prange(n_s):
        draw = flat[offsets[p]:offsets[p + 1]]
        size = np.full(1, draw.shape[0], dtype=np.int64)
        o, st, fine = nested_sample(draw, coords, sphere, radius, size, win[p:p + 1], delta[p],
                                    nb[p], rs, rule_factor, fixed_h, grid_per_h, trunc_h, cap[p],
                                    True, np.ones(2 * cap[p]), coefs, nterms, _TILE, _GROUP)
        out[p] = o[0]
        stats[p] = st[0]
        ok[p] = fine[0]
    return out, stats, ok


def nest_windows(win: np.ndarray) -> np.ndarray:
    """Each industry's windows clipped to the previous (smaller) industry's, so that the
    buffer can only shrink; a window left empty becomes a point (its quartile then misses it
    and the prefix goes to the per-sample kernels)."""
    out = win.copy()
    for k in range(1, len(out)):
        for t in range(2):
            lo = max(out[k, t, 0], out[k - 1, t, 0])
            hi = min(out[k, t, 1], out[k - 1, t, 1])
            out[k, t] = (lo, max(hi, lo))
    return out


def buffer_cap(win: np.ndarray, sizes: np.ndarray, q_density: float) -> int:
    """Room for the distances kept in the windows: at most about ``n² / 2`` pairs times the
    share inside the windows of the next industry (``2 · half-width · density`` at the
    quartile), with a factor 4 of room; a buffer that overflows sends the remaining
    industries of that draw to the per-sample kernels."""
    need = 0.0
    for k, n in enumerate(sizes):
        width = max(win[k, 0, 1] - win[k, 0, 0], win[k, 1, 1] - win[k, 1, 0])
        need = max(need, 0.5 * n * (n - 1.0) * min(1.0, width * q_density))
    return int(4.0 * need + 4 * int(sizes[-1]) + 1024)
