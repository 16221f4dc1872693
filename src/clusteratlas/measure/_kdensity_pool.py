"""Pool pass of the Duranton–Overman K-density: many counterfactuals at once for an industry
that holds a large share of the economy's locations (see :mod:`clusteratlas.measure.kdensity`).

A counterfactual puts the industry's ``n`` establishments on sites drawn without replacement
from all ``N`` establishments; its pairs are a subset of the pairs of the economy's ``U``
distinct locations. When ``n`` is a large share of ``U`` (dbmss's slowest case: 5,000 of
10,000 sites), visiting each counterfactual's ``n (n − 1) / 2`` pairs repeats work: every
location pair is visited by about ``(n / U)²`` of the counterfactuals. The pool pass instead

1. computes the ``U (U − 1) / 2`` location-pair distances **once**, bins them on the fast
   mode's grid (width ``δ``, fixed for the industry from its pilot counterfactuals) and sorts
   the pairs by bin, keeping each pair's offset ``u`` from its bin centre;
2. takes 64 counterfactuals at a time as 64 lanes of establishment counts per location
   (``c_ik``, a byte each) and, bin by bin, sums ``w = c_ik c_jk``, ``w u`` and ``w u²`` over
   the bin's pairs for all 64 lanes in one vectorised loop — the moment histogram of every
   counterfactual, without a scatter or a distance per counterfactual;
3. finishes each counterfactual as the fast mode does: the standard deviation from the
   moments (``Σd = Σ_b (c_b M0_b + M1_b)``, ``Σd² = Σ_b (c_b² M0_b + 2 c_b M1_b + M2_b)``,
   exact up to rounding), the type-7 quartiles *exactly* by selecting, inside the bin that
   holds each order statistic, the pairs of that counterfactual, and the kernel sum from the
   moments (:func:`~clusteratlas.measure._kdensity_kernels.kde_from_moments`).

The result is the fast mode's estimate (same grid rule ``δ ≤ h / GRID_PER_H``, same
second-order moment expansion); a counterfactual whose bandwidth turns out too small for the
grid is flagged and redone by the per-sample kernels. Lane sums are accumulated in single
precision over runs of at most 512 pairs (the counts exactly: integers below 2²⁴) and then in
double precision. Cost per counterfactual: ``U² / 2`` pair-lane updates (~0.2 ns each on the
bench machine) instead of ``n² / 2`` pair visits (~4 ns each), so the pass pays when ``U`` is
below about four times ``n`` and the pair table fits in memory (8 bytes per location pair).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from clusteratlas.measure import _kdensity_kernels as kern

LANES = 64  # counterfactuals per pass over the location pairs
MAX_LOCATIONS = 12_000  # 72 million location pairs, 576 MB of pair table
MAX_COUNT = 15  # establishments per location in one draw: byte products stay below 256
MAX_BINS = 1 << 16
_FLUSH = 512  # pairs summed in single precision before adding to the double-precision totals
_GROUPS = 256  # bin groups of about equal pair counts, for the parallel loop


@numba.njit(cache=True)
def pool_pairs(coords: np.ndarray, sphere: bool, radius: float, delta: float, nb: int):
    """All location pairs binned on the grid ``delta`` (``nb`` bins, the last open-ended) and
    sorted by bin: returns bin starts (``nb + 1``), the two location indices (uint16) and the
    offset from the bin centre (float32) of each pair."""
    u_n = coords.shape[0]
    cx = np.ascontiguousarray(coords[:, 0])
    cy = np.ascontiguousarray(coords[:, 1])
    cz = np.ascontiguousarray(coords[:, 2])
    nterms, coefs = kern.asin_series(cx, cy, cz, sphere)
    inv = 1.0 / delta
    last = float(nb - 1)
    drow = np.empty(u_n)
    counts = np.zeros(nb + 1, dtype=np.int64)
    for a in range(u_n - 1):
        kern._row_distances(cx, cy, cz, a, u_n, sphere, radius, coefs, nterms, drow)
        for b in range(a + 1, u_n):
            counts[int(min(drow[b] * inv, last))] += 1
    starts = np.zeros(nb + 1, dtype=np.int64)
    for t in range(nb):
        starts[t + 1] = starts[t] + counts[t]
    npairs = starts[nb]
    pi = np.empty(npairs, dtype=np.uint16)
    pj = np.empty(npairs, dtype=np.uint16)
    pu = np.empty(npairs, dtype=np.float32)
    pos = starts[:nb].copy()
    for a in range(u_n - 1):
        kern._row_distances(cx, cy, cz, a, u_n, sphere, radius, coefs, nterms, drow)
        for b in range(a + 1, u_n):
            dd = drow[b]
            ib = int(min(dd * inv, last))
            k = pos[ib]
            pos[ib] = k + 1
            pi[k] = a
            pj[k] = b
            pu[k] = dd - (ib + 0.5) * delta
    return starts, pi, pj, pu


@numba.njit(cache=True)
def bin_groups(starts: np.ndarray, ngroups: int) -> np.ndarray:
    """Boundaries of ``ngroups`` runs of consecutive bins holding about equal numbers of pairs
    (so that the threads of :func:`pool_moments` share the work evenly)."""
    nb = starts.shape[0] - 1
    total = starts[nb]
    out = np.empty(ngroups + 1, dtype=np.int64)
    out[0] = 0
    b = 0
    for g in range(1, ngroups):
        target = total * g // ngroups
        while b < nb and starts[b] < target:
            b += 1
        out[g] = b
    out[ngroups] = nb
    return out


@numba.njit(cache=True, parallel=True, fastmath=True)
def pool_moments(starts, pi, pj, pu, lanes, groups):
    """Moment histograms of ``LANES`` counterfactuals at once: ``out[b, 0..2, k]`` = Σ w, Σ w u,
    Σ w u² over the location pairs of bin ``b``, with ``w = lanes[i, k] · lanes[j, k]``."""
    nb = starts.shape[0] - 1
    out = np.zeros((nb, 3, LANES))
    for g in numba.prange(groups.shape[0] - 1):
        a0 = np.zeros(LANES, dtype=np.float32)
        a1 = np.zeros(LANES, dtype=np.float32)
        a2 = np.zeros(LANES, dtype=np.float32)
        for b in range(groups[g], groups[g + 1]):
            s = starts[b]
            e = starts[b + 1]
            while s < e:
                t = min(e, s + _FLUSH)
                for p in range(s, t):
                    xi = lanes[pi[p]]
                    xj = lanes[pj[p]]
                    u = pu[p]
                    u2 = u * u
                    for k in range(LANES):
                        w = np.float32(xi[k] * xj[k])
                        a0[k] += w
                        a1[k] += w * u
                        a2[k] += w * u2
                for k in range(LANES):
                    out[b, 0, k] += a0[k]
                    out[b, 1, k] += a1[k]
                    out[b, 2, k] += a2[k]
                    a0[k] = 0.0
                    a1[k] = 0.0
                    a2[k] = 0.0
                s = t
    return out


@numba.njit(cache=True, parallel=True, fastmath=True)
def pool_moments_weighted(starts, pi, pj, pu, lanes, wlanes, groups):
    """As :func:`pool_moments` for Kemp: ``out[b, 0..2, k]`` sums the pair counts
    ``c_ik c_jk`` (for the bandwidth, which uses the unweighted distances) and
    ``out[b, 3..5, k]`` the pair weights ``W_ik W_jk`` (for the kernel), each times 1, u, u²."""
    nb = starts.shape[0] - 1
    out = np.zeros((nb, 6, LANES))
    for g in numba.prange(groups.shape[0] - 1):
        a = np.zeros((6, LANES), dtype=np.float32)
        for b in range(groups[g], groups[g + 1]):
            s = starts[b]
            e = starts[b + 1]
            while s < e:
                t = min(e, s + _FLUSH)
                for p in range(s, t):
                    xi = lanes[pi[p]]
                    xj = lanes[pj[p]]
                    wi = wlanes[pi[p]]
                    wj = wlanes[pj[p]]
                    u = pu[p]
                    u2 = u * u
                    for k in range(LANES):
                        c = np.float32(xi[k] * xj[k])
                        w = wi[k] * wj[k]
                        a[0, k] += c
                        a[1, k] += c * u
                        a[2, k] += c * u2
                        a[3, k] += w
                        a[4, k] += w * u
                        a[5, k] += w * u2
                for r in range(6):
                    for k in range(LANES):
                        out[b, r, k] += a[r, k]
                        a[r, k] = 0.0
                s = t
    return out


@numba.njit(cache=True)
def lane_weights(locs: np.ndarray, e: np.ndarray, n_locations: int) -> np.ndarray:
    """Employment per location for each draw (rows of ``locs``; establishment ``t`` of the
    industry brings ``e[t]``) as single-precision lanes (``n_locations × LANES``)."""
    out = np.zeros((n_locations, LANES), dtype=np.float32)
    for k in range(locs.shape[0]):
        for t in range(locs.shape[1]):
            out[locs[k, t], k] += e[t]
    return out


@numba.njit(cache=True)
def lane_counts(locs: np.ndarray, n_locations: int):
    """Establishments per location for each draw (rows of ``locs``) as byte lanes
    (``n_locations × LANES``; unused lanes stay empty), and the largest count."""
    lanes = np.zeros((n_locations, LANES), dtype=np.uint8)
    big = 0
    for k in range(locs.shape[0]):
        for t in range(locs.shape[1]):
            i = locs[k, t]
            c = lanes[i, k] + 1
            if c > big:
                big = c
            lanes[i, k] = min(c, 255)
    return lanes, big


@numba.njit(cache=True)
def _order_stat_in_bin(b, k, j, start, starts, pi, pj, lanes, coords, sphere, radius, zero_pairs):
    """The j-th (0-based) smallest pair distance of lane ``k``, known to lie in bin ``b`` with
    ``start`` pairs below the bin: the lane's pairs of that bin, sorted."""
    cnt = 0
    for p in range(starts[b], starts[b + 1]):
        if lanes[pi[p], k] > 0 and lanes[pj[p], k] > 0:
            cnt += 1
    extra = 1 if (b == 0 and zero_pairs > 0.0) else 0
    ds = np.empty(cnt + extra)
    ms = np.empty(cnt + extra)
    c = 0
    for p in range(starts[b], starts[b + 1]):
        ci = lanes[pi[p], k]
        cj = lanes[pj[p], k]
        if ci > 0 and cj > 0:
            ds[c] = kern._dist(coords[:, 0], coords[:, 1], coords[:, 2], pi[p], pj[p], sphere,
                               radius)
            ms[c] = float(ci) * float(cj)
            c += 1
    if extra:
        ds[c] = 0.0
        ms[c] = zero_pairs
    o = np.argsort(ds, kind="mergesort")
    return kern._order_stat_from_sorted(ds[o], ms[o], start, j)


@numba.njit(cache=True, parallel=True)
def pool_finish(mom_all, lanes, wlanes, wsq, nlanes, n, starts, pi, pj, coords, sphere, radius,
                delta, rs, rule_factor, fixed_h, grid_per_h):
    """K of each lane from its moment histogram: bandwidth (exact sd from the moments, exact
    type-7 quartiles by selection in their bins), then the kernel sum. Returns K
    (``nlanes × len(rs)``), stats (h, q25, q75, sd) and whether the grid was fine enough,
    ``delta ≤ h / grid_per_h`` (if not, the lane must be redone by the per-sample kernels).
    With weight lanes (Kemp: ``mom_all`` has six rows, see :func:`pool_moments_weighted`;
    ``wsq`` is the sum of the squared weights) the kernel sums the weighted moments; without
    (Kd: pass an empty ``wlanes``) every pair weighs its count. The grid rule is an argument,
    not the kernels' global: a cached compiled function keeps the globals of its own module."""
    nb = mom_all.shape[0]
    out = np.full((nlanes, rs.shape[0]), np.nan)
    stats = np.full((nlanes, 4), np.nan)
    ok = np.zeros(nlanes, dtype=np.bool_)
    npairs = 0.5 * n * (n - 1.0)
    coordsc = np.ascontiguousarray(coords)
    weighted = wlanes.shape[0] > 0
    for k in numba.prange(nlanes):
        mom = np.ascontiguousarray(mom_all[:, 0:3, k])
        zero_pairs = 0.0
        zero_w = 0.0
        wsum = 0.0
        for i in range(lanes.shape[0]):
            c = float(lanes[i, k])
            zero_pairs += 0.5 * c * (c - 1.0)
            if weighted:
                wi = float(wlanes[i, k])
                zero_w += 0.5 * wi * wi
                wsum += wi
        u0 = -0.5 * delta
        kern.add_moments(mom, 0, zero_pairs, u0)
        momw = mom
        wtot = npairs
        if weighted:
            # pairs inside one location weigh (W² − Σ e²) / 2 in all; Σ e² is the industry's
            momw = np.ascontiguousarray(mom_all[:, 3:6, k])
            zero_w -= 0.5 * wsq
            kern.add_moments(momw, 0, zero_w, u0)
            wtot = 0.5 * (wsum * wsum - wsq)
        s1 = 0.0
        s2 = 0.0
        for b in range(nb):
            cb = (b + 0.5) * delta
            s1 += cb * mom[b, 0] + mom[b, 1]
            s2 += cb * cb * mom[b, 0] + 2.0 * cb * mom[b, 1] + mom[b, 2]
        mean = s1 / npairs
        sd = math.sqrt(max((s2 - s1 * mean) / (npairs - 1.0), 0.0))
        stats[k, 3] = sd
        if fixed_h > 0.0:
            h = fixed_h
        else:
            cum = np.cumsum(mom[:, 0])
            q = np.empty(2)
            for t, p in enumerate((0.25, 0.75)):
                kk, frac = kern._type7(p, npairs)
                vals = np.empty(2)
                for v in range(2):
                    j = min(kk + v, npairs - 1.0)
                    b = np.searchsorted(cum, j, side="right")
                    if b >= nb:
                        b = nb - 1
                    start = cum[b - 1] if b > 0 else 0.0
                    vals[v] = _order_stat_in_bin(b, k, j, start, starts, pi, pj, lanes, coordsc,
                                                 sphere, radius, zero_pairs)
                q[t] = vals[0] + frac * (vals[1] - vals[0])
            stats[k, 1] = q[0]
            stats[k, 2] = q[1]
            h = kern._rule_bandwidth(sd, q[1] - q[0], npairs, rule_factor)
        stats[k, 0] = h
        if h > 0.0 and delta <= h / grid_per_h * (1.0 + 1e-9):
            out[k, :] = kern.kde_from_moments(momw, delta, h, rs, wtot)
            ok[k] = True
    return out, stats, ok


class PoolPairs:
    """The economy's location pairs binned for one industry's grid ``delta``."""

    def __init__(self, coords: np.ndarray, sphere: bool, radius: float, delta: float,
                 dmax: float) -> None:
        self.coords = coords
        self.sphere = sphere
        self.radius = radius
        self.delta = delta
        nb = int(dmax / delta) + 2
        self.starts, self.pi, self.pj, self.pu = pool_pairs(coords, sphere, radius, delta, nb)
        self.groups = bin_groups(self.starts, _GROUPS)

    def run(self, locs: np.ndarray, rs: np.ndarray, rule_factor: float, fixed_h: float,
            weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """K, stats and success flags of the draws ``locs`` (at most ``LANES`` rows of location
        indices, one per establishment of the industry); ``weights``: the industry's
        employment, in the same order (Kemp), or None (Kd)."""
        u_n = self.coords.shape[0]
        lanes, _big = lane_counts(locs, u_n)
        if weights is None:
            mom = pool_moments(self.starts, self.pi, self.pj, self.pu, lanes, self.groups)
            wlanes = np.zeros((0, LANES), dtype=np.float32)
            wsq = 0.0
        else:
            wlanes = lane_weights(locs, weights, u_n)
            mom = pool_moments_weighted(self.starts, self.pi, self.pj, self.pu, lanes, wlanes,
                                        self.groups)
            wsq = float(np.sum(weights * weights))
        return pool_finish(mom, lanes, wlanes, wsq, locs.shape[0], float(locs.shape[1]),
                           self.starts, self.pi, self.pj, self.coords, self.sphere, self.radius,
                           self.delta, rs, rule_factor, fixed_h, kern.GRID_PER_H)


def worthwhile(n: int, n_locations: int, max_count: int, delta: float, dmax: float,
               n_draws: int, weighted: bool = False) -> bool:
    """Whether the pool pass is expected to beat the per-sample kernels for an industry of
    ``n`` establishments: few enough locations (memory), byte-sized counts, a grid of at most
    ``MAX_BINS`` bins, and ``U² / 2 · 0.2 ns`` per draw (plus building the pair table, ~20 ns
    per location pair) below ``n² / 2 · 4 ns``, the measured costs on the bench machine
    (Kemp's lanes carry weights too: twice the pool's cost per lane)."""
    if n_locations > MAX_LOCATIONS or max_count > MAX_COUNT or n_draws < LANES:
        return False
    if not delta > 0.0 or dmax / delta + 2 > MAX_BINS:
        return False
    loc_pairs = 0.5 * n_locations * (n_locations - 1.0)
    pool_cost = loc_pairs * ((0.4 if weighted else 0.2) * n_draws + 20.0)
    direct_cost = 0.5 * n * (n - 1.0) * 4.0 * n_draws
    return pool_cost < direct_cost
