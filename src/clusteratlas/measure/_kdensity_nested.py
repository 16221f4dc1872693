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
pair of windows per industry, nested, from the spread of pilot draws' quartiles; the kept
distances are stored by bucket of sub-bins with running counts per sub-bin, so that a read-off
scans only the buckets around each order statistic and narrowing the windows moves counts,
not distances). A prefix whose
quartile falls outside its window, or whose bandwidth is too small for the grid, is flagged
and redone (see :func:`clusteratlas.measure.kdensity._nested_counterfactuals`).

Speed: the pairs are visited in tiles (a group of establishments against a block of earlier
ones whose coordinates stay in cache) and ``asin`` is a Chebyshev-economised polynomial fixed
once for the economy's extent; on the ``large`` demo economy's draws (35,093 establishments
across China) one draw costs about 3 ns per pair on one core, against 17 ns row by row with
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
_NSUB = 16384  # sub-bins of a window (fixed for a draw) for the running counts
_SUB_PER_BUCKET = 256  # sub-bins per bucket of the window buffers (a power of 2)
_BUCKET_SHIFT = 8  # log2(_SUB_PER_BUCKET)
_NBUCKET = _NSUB // _SUB_PER_BUCKET + 1  # the last holds sub-bin _NSUB (the window's top)
_CHUNK = 1024  # distances per chunk of a window buffer
_REORIGIN = _NSUB // 16  # a window narrowed to fewer sub-bins is binned afresh

# The distances kept inside the two windows (w = 0: the first quartile's, 1: the third's).
# A window's sub-bins are fixed for the draw: t = (d - L) · I with origin L and scale I
# (``wpar[w] = (L, I, s_lo, s_hi)``), sub-bin int(t); the window is sub-bins s_lo .. s_hi,
# narrowed at each read-off to the next industry's window by moving the counts of the
# sub-bins below it to the pairs counted below, and dropping those above. No distance is
# scanned for that, nor for a read-off: they are stored by bucket (a run of _SUB_PER_BUCKET
# sub-bins), each bucket a chain of chunks of one pool, and a read-off scans only the buckets
# around its order statistics (scanning every kept distance at each of the large demo's 105
# read-offs, and at each trim, cost a sixth of a draw). Per window: ``pool[w]`` the chunks,
# ``head[w, b]`` the chunk being filled of bucket b (-1: none), ``fill[w, b]`` how full it is,
# ``chain[w, c]`` the bucket's previous chunk, ``free[w]`` chunks given back (a stack),
# ``meta[w] = (chunks handed out, distances counted in the window, free chunks)`` and
# ``hist[w, s]`` the distances kept by sub-bin.


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
def new_buffers(nchunks):
    """Empty window buffers of ``nchunks`` chunks each: (pool, head, fill, chain, free, meta,
    hist)."""
    return (np.empty((2, nchunks * _CHUNK)), np.full((2, _NBUCKET), -1, dtype=np.int64),
            np.zeros((2, _NBUCKET), dtype=np.int64), np.full((2, nchunks), -1, dtype=np.int64),
            np.zeros((2, nchunks), dtype=np.int64), np.zeros((2, 3), dtype=np.int64),
            np.zeros((2, _NSUB + 1)))


@numba.njit(cache=True)
def buffers_for(cap, tile):
    """Window buffers with room for ``cap`` distances each, for tiles of ``tile``."""
    return new_buffers(cap // _CHUNK + 2 * _NBUCKET + tile // _CHUNK + 2)


@numba.njit(cache=True)
def _reset(w, head, fill, meta, hist):
    """Window ``w``'s buffer emptied."""
    head[w, :] = -1
    fill[w, :] = 0
    meta[w, :] = 0
    hist[w, :] = 0.0


@numba.njit(cache=True)
def _set_window(wpar, w, lo, hi):
    """Window ``w``'s sub-bins: [lo, hi] in _NSUB of them (an empty window: every distance
    counts as below it, so its quartile is never found there)."""
    wpar[w, 0] = lo
    if hi > lo:
        wpar[w, 1] = _NSUB / (hi - lo)
        wpar[w, 2] = 0.0
        wpar[w, 3] = _NSUB
    else:
        wpar[w, 1] = 0.0
        wpar[w, 2] = 1.0
        wpar[w, 3] = 0.0


@numba.njit(cache=True, inline="always")
def _sub_bin(d, origin, scale):
    return min(max(int((d - origin) * scale), 0), _NSUB)


@numba.njit(cache=True, inline="always")
def _push_listed(vals, flags, idx, n, wpar, pool, head, fill, chain, free, meta, hist):
    """Keep ``vals[j]`` for ``j`` in ``idx[:n]``, each in window ``flags[j] >> 1`` (flag 1:
    the first window, 2: the second), by its sub-bin there; the caller has made sure the
    chunks are free (:func:`_make_room`). One call per list, not per distance: a function
    taking arrays costs about 40 ns per call (their reference counts), written-out code 10."""
    for q in range(n):
        j = idx[q]
        w = flags[j] >> 1
        d = vals[j]
        sub = _sub_bin(d, wpar[w, 0], wpar[w, 1])
        hist[w, sub] += 1.0
        meta[w, 1] += 1
        b = sub >> _BUCKET_SHIFT
        c = head[w, b]
        f = fill[w, b]
        if c < 0 or f == _CHUNK:
            if meta[w, 2] > 0:  # a chunk given back
                meta[w, 2] -= 1
                c = free[w, meta[w, 2]]
            else:
                c = meta[w, 0]
                meta[w, 0] += 1
            chain[w, c] = head[w, b]
            head[w, b] = c
            f = 0
        pool[w, c * _CHUNK + f] = d
        fill[w, b] = f + 1


@numba.njit(cache=True)
def _make_room(m, head, fill, chain, meta, hist):
    """Whether both window buffers can take ``m`` more distances (at worst every bucket
    starts a chunk); if not, both are emptied (an overflow: the quartiles of the remaining
    industries come from the per-sample kernels)."""
    need = m // _CHUNK + _NBUCKET + 1
    nchunks = chain.shape[1]
    if (nchunks - meta[0, 0] + meta[0, 2] >= need
            and nchunks - meta[1, 0] + meta[1, 2] >= need):
        return True
    _reset(0, head, fill, meta, hist)
    _reset(1, head, fill, meta, hist)
    return False


@numba.njit(cache=True)
def _gather(w, s_lo, s_hi, wpar, pool, head, fill, chain, out):
    """The distances of window ``w`` whose sub-bin is within ``s_lo .. s_hi`` (computed as
    when they were kept), written to ``out`` (as many as fit); returns how many there are."""
    m = 0
    origin = wpar[w, 0]
    scale = wpar[w, 1]
    span = np.uint64(s_hi - s_lo)
    for b in range(s_lo >> _BUCKET_SHIFT, (s_hi >> _BUCKET_SHIFT) + 1):
        c = head[w, b]
        n_in = fill[w, b]
        while c >= 0:
            seg = pool[w, c * _CHUNK:c * _CHUNK + n_in]
            for v in range(seg.shape[0]):
                x = seg[v]
                # s_lo <= sub <= s_hi in one unsigned comparison (two would branch)
                if np.uint64(_sub_bin(x, origin, scale) - s_lo) <= span:
                    if m < out.shape[0]:
                        out[m] = x
                    m += 1
            c = chain[w, c]
            n_in = _CHUNK
    return m


@numba.njit(cache=True)
def _free_bucket(w, b, head, fill, chain, free, meta):
    c = head[w, b]
    while c >= 0:
        free[w, meta[w, 2]] = c
        meta[w, 2] += 1
        c = chain[w, c]
    head[w, b] = -1
    fill[w, b] = 0


@numba.njit(cache=True)
def _narrow(w, new_lo, new_hi, wpar, pool, head, fill, chain, free, meta, hist):
    """Window ``w`` narrowed to the sub-bins covering [new_lo, new_hi] (within the current
    window): the counts below move to the pairs counted below (returned), those above are
    dropped, and buckets left wholly outside give their chunks back; a window narrowed to
    fewer than _REORIGIN sub-bins is binned afresh on [new_lo, new_hi] (its distances kept
    again). No distance is read unless binned afresh."""
    origin = wpar[w, 0]
    scale = wpar[w, 1]
    s_lo = int(wpar[w, 2])
    s_hi = int(wpar[w, 3])
    if scale > 0.0 and new_hi > new_lo:
        n_lo = max(s_lo, min(int(np.floor((new_lo - origin) * scale)), _NSUB))
        n_hi = min(s_hi, max(int(np.floor((new_hi - origin) * scale)), 0))
    else:
        n_lo = s_hi + 1
        n_hi = s_hi
    if n_hi < n_lo:  # empty: every pair counts as below (the quartile is not found here)
        n_lo = _NSUB + 1
        n_hi = _NSUB
    gone = 0.0
    for s in range(0, n_lo):
        gone += hist[w, s]
        hist[w, s] = 0.0
    for s in range(n_hi + 1, _NSUB + 1):
        hist[w, s] = 0.0
    kept = 0.0
    for s in range(n_lo, n_hi + 1):
        kept += hist[w, s]
    meta[w, 1] = int(kept)
    for b in range(_NBUCKET):
        if (b + 1) * _SUB_PER_BUCKET <= n_lo or b * _SUB_PER_BUCKET > n_hi:
            _free_bucket(w, b, head, fill, chain, free, meta)
    wpar[w, 2] = n_lo
    wpar[w, 3] = n_hi
    if n_hi >= n_lo and n_hi - n_lo < _REORIGIN and new_hi > new_lo:
        vals = np.empty(meta[w, 1])
        n = _gather(w, n_lo, n_hi, wpar, pool, head, fill, chain, vals)
        _reset(w, head, fill, meta, hist)
        _set_window(wpar, w, new_lo, new_hi)
        keep = np.empty(n, dtype=np.int64)
        k = 0
        for v in range(min(n, vals.shape[0])):
            t = (vals[v] - wpar[w, 0]) * wpar[w, 1]
            if t < wpar[w, 2]:
                gone += 1.0
            elif t < wpar[w, 3] + 1.0:
                keep[k] = v
                k += 1
        _push_listed(vals, np.full(vals.shape[0], w + 1, dtype=np.uint8), keep, k, wpar, pool,
                     head, fill, chain, free, meta, hist)
    return gone


@numba.njit(cache=True)
def _select_counted(w, below, j0, j1, wpar, pool, head, fill, chain, meta, hist):
    """The j0-th and j1-th smallest of all pairs' distances (0-based; ``below`` of them
    below window ``w``), from its buffer: the running counts give the sub-bins holding
    them, and only their buckets are scanned. NaN if they are not inside the window. If the
    distances found there are not as many as counted (a sub-bin computed differently), every
    kept distance goes to :func:`kern._select_in_window`."""
    out = np.full(2, np.nan)
    if j0 < below:
        return out
    h = hist[w]
    c = below
    b0 = -1
    b1 = -1
    base = 0.0
    for ib in range(_NSUB + 1):
        if b0 < 0 and c + h[ib] > j0:
            b0 = ib
            base = c
        if c + h[ib] > j1:
            b1 = ib
            break
        c += h[ib]
    want = 0
    if b0 >= 0 and b1 >= 0:
        for ib in range(b0, b1 + 1):
            want += int(h[ib])
    ds = np.empty(want)
    if b0 < 0 or b1 < 0 or _gather(w, b0, b1, wpar, pool, head, fill, chain, ds) != want:
        vals = np.empty(meta[w, 1])
        n = _gather(w, int(wpar[w, 2]), int(wpar[w, 3]), wpar, pool, head, fill, chain, vals)
        n = min(n, vals.shape[0])
        if n == 0:
            return out
        return kern._select_in_window(vals, np.ones(n), n, vals[:n].min(), vals[:n].max(),
                                      below, j0, j1)
    ds.sort()
    out[0] = ds[int(j0 - base)]
    out[1] = ds[int(j1 - base)]
    return out


@numba.njit(cache=True)
def _read_off(s, s1, s2, below0, below1, overflow, mom, delta, nb, rs, rmax, rule_factor,
              fixed_h, grid_per_h, trunc_h, moments, wpar, pool, head, fill, chain, meta, hist):
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
    inside = (below0 <= k25 and below0 + meta[0, 1] > j25 and below1 <= k75
              and below1 + meta[1, 1] > j75)
    if fixed_h <= 0.0 and not overflow and inside:
        v = _select_counted(0, below0, k25, j25, wpar, pool, head, fill, chain, meta, hist)
        w = _select_counted(1, below1, k75, j75, wpar, pool, head, fill, chain, meta, hist)
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
def _visit(cx, cy, cz, t, lo, hi, sphere, radius, coefs, nterms, drow, irow, urow, wf, idx,
           inv, spare, delta, mom, moments, wpar, pool, head, fill, chain, free, meta, hist):
    """Pairs of establishment ``t`` with establishments ``lo .. hi-1``: their Σd, Σd², the
    pairs below the two windows, moments, and the distances inside the windows kept in their
    buffers. Returns (Σd, Σd², below first, below second)."""
    m = hi - lo
    kern.row_distances_to(cx[t], cy[t], cz[t], cx, cy, cz, lo, hi, sphere, radius, coefs,
                          nterms, drow)
    o0 = wpar[0, 0]
    sc0 = wpar[0, 1]
    a0 = wpar[0, 2]
    z0 = wpar[0, 3] + 1.0
    o1 = wpar[1, 0]
    sc1 = wpar[1, 1]
    a1 = wpar[1, 2]
    z1 = wpar[1, 3] + 1.0
    r1 = 0.0
    r2 = 0.0
    b0 = 0.0
    b1 = 0.0
    # branch-free (vectorised): sums, pairs below the windows, bin and offset, and a flag per
    # pair: 1 inside the first quartile's window, 2 inside the third's (disjoint windows),
    # by the windows' sub-bin coordinate t (the same as the buffers bin by)
    for j in range(m):
        dd = drow[j]
        r1 += dd
        r2 += dd * dd
        t0 = (dd - o0) * sc0
        t1 = (dd - o1) * sc1
        # if-converted to one masked add (``1.0 * (t0 < a0)`` compiles to four instructions)
        if t0 < a0:
            b0 += 1.0
        if t1 < a1:
            b1 += 1.0
        if moments:  # loop-invariant: the compiler splits the loop on it
            fb = math.floor(min(dd * inv, spare[j]))
            irow[j] = np.int32(fb)
            urow[j] = dd - (fb + 0.5) * delta
        wf[j] = np.uint8(((t0 >= a0) & (t0 < z0)) | (((t1 >= a1) & (t1 < z1)) << 1))
    # the histogram update, and the pairs inside a window listed (a rarely taken branch;
    # keeping them right here would make this loop's body too large to stay lean)
    npush = 0
    for j in range(m):
        if moments:
            kern.add_moments4(mom, irow[j], 1.0, urow[j])
        if wf[j]:
            idx[npush] = j
            npush += 1
    _push_listed(drow, wf, idx, npush, wpar, pool, head, fill, chain, free, meta, hist)
    return r1, r2, b0, b1


@numba.njit(cache=True, fastmath=True)
def nested_sample(draw, coords, sphere, radius, sizes, win, delta, nb, rs, rule_factor, fixed_h,
                  grid_per_h, trunc_h, cap, moments, coefs, nterms, tile, group, bufs=None):
    """Counterfactuals of every industry from one ordered draw of establishments.

    ``draw``: location index of each drawn establishment, in draw order; ``sizes``: the
    industries' sizes, ascending, the last equal to ``len(draw)``; ``win[k]``: windows
    (2 × 2: lo, hi) around the quartiles for industry ``k``, each inside the previous one.
    Returns K (industries × ``len(rs)``, only with ``moments``), stats (h, q25, q75, sd) and
    a success flag per industry. The two windows of an industry must not overlap. ``cap``:
    room for the distances kept in each window, or ``bufs``: window buffers from
    :func:`buffers_for` to reuse (a fresh buffer's pages are mapped as they are first
    written, which costs about as much again as the writing). ``coefs``, ``nterms``: the
    asin polynomial for the economy's extent (:func:`kern.asin_economised`).

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
    idx = np.empty(tile, dtype=np.int64)
    if bufs is None:
        pool, head, fill, chain, free, meta, hist = buffers_for(cap, tile)
    else:
        pool, head, fill, chain, free, meta, hist = bufs
        _reset(0, head, fill, meta, hist)
        _reset(1, head, fill, meta, hist)
    below0 = 0.0
    below1 = 0.0
    s1 = 0.0
    s2 = 0.0
    overflow = False
    inv = 1.0 / delta
    # the spare bin of each column, nb + (j mod _SPARE), read from memory: computed in the
    # vector loop it costs four vector instructions per eight pairs
    spare = np.empty(tile)
    for j in range(tile):
        spare[j] = float(nb + (j & (_SPARE - 1)))
    rmax = 0.0
    for ri in range(rs.shape[0]):
        rmax = max(rmax, rs[ri])
    kind = 0
    wpar = np.empty((2, 4))  # per window: origin, scale, first and last sub-bin
    _set_window(wpar, 0, win[0, 0, 0], win[0, 0, 1])
    _set_window(wpar, 1, win[0, 1, 0], win[0, 1, 1])
    g0 = 1  # establishments 0 .. g0-1 have been paired with each other
    while kind < n_ind:
        if sizes[kind] <= g0:  # a size below 2: nothing to read off (stays not ok)
            kind += 1
            continue
        g1 = min(g0 + group, sizes[kind])
        for c0 in range(0, g0, tile):
            c1 = min(c0 + tile, g0)
            for t in range(g0, g1):
                if not _make_room(c1 - c0, head, fill, chain, meta, hist):
                    overflow = True  # quartiles of the remaining industries: per-sample kernels
                if moments:  # a constant inside: the compiler keeps the loops branch-free
                    r1, r2, b0, b1 = _visit(
                        cx, cy, cz, t, c0, c1, sphere, radius, coefs, nterms, drow, irow, urow,
                        wf, idx, inv, spare, delta, mom, True, wpar, pool, head, fill, chain,
                        free, meta, hist)
                else:
                    r1, r2, b0, b1 = _visit(
                        cx, cy, cz, t, c0, c1, sphere, radius, coefs, nterms, drow, irow, urow,
                        wf, idx, inv, spare, delta, mom, False, wpar, pool, head, fill, chain,
                        free, meta, hist)
                s1 += r1
                s2 += r2
                below0 += b0
                below1 += b1
        for t in range(g0 + 1, g1):  # the group's own pairs
            if not _make_room(t - g0, head, fill, chain, meta, hist):
                overflow = True
            r1, r2, b0, b1 = _visit(
                cx, cy, cz, t, g0, t, sphere, radius, coefs, nterms, drow, irow, urow, wf, idx,
                inv, spare, delta, mom, moments, wpar, pool, head, fill, chain, free, meta, hist)
            s1 += r1
            s2 += r2
            below0 += b0
            below1 += b1
        g0 = g1
        while kind < n_ind and sizes[kind] == g0:
            out[kind], stats[kind], ok[kind] = _read_off(
                g0, s1, s2, below0, below1, overflow, mom, delta, nb, rs, rmax, rule_factor,
                fixed_h, grid_per_h, trunc_h, moments, wpar, pool, head, fill, chain, meta, hist)
            kind += 1
            if kind < n_ind and not overflow:  # on to the next industry's windows
                below0 += _narrow(0, win[kind, 0, 0], win[kind, 0, 1], wpar, pool, head, fill,
                                  chain, free, meta, hist)
                below1 += _narrow(1, win[kind, 1, 0], win[kind, 1, 1], wpar, pool, head, fill,
                                  chain, free, meta, hist)
    return out, stats, ok


@numba.njit(cache=True, parallel=True)
def nested_block(draws, coords, sphere, radius, sizes, win, delta, nb, rs, rule_factor,
                 fixed_h, grid_per_h, trunc_h, cap, moments, coefs, nterms, workers):
    """:func:`nested_sample` for many ordered draws (rows of ``draws``), in parallel on
    ``workers`` threads."""
    nd = draws.shape[0]
    out = np.full((nd, sizes.shape[0], rs.shape[0]), np.nan)
    stats = np.full((nd, sizes.shape[0], 4), np.nan)
    ok = np.zeros((nd, sizes.shape[0]), dtype=np.bool_)
    # one set of window buffers per worker, reused from draw to draw (draws cost alike, so
    # dealing them out in turn balances the work)
    workers = max(1, min(workers, nd))
    for th in numba.prange(workers):
        bufs = buffers_for(cap, _TILE)
        for p in range(th, nd, workers):
            o, st, fine = nested_sample(draws[p], coords, sphere, radius, sizes, win, delta, nb,
                                        rs, rule_factor, fixed_h, grid_per_h, trunc_h, cap,
                                        moments, coefs, nterms, _TILE, _GROUP, bufs)
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
                                    True, coefs, nterms, _TILE, _GROUP)
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
