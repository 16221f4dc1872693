"""Weighted DBSCAN on a uniform grid: the compiled kernel behind :mod:`clusteratlas.detect.density`.

Points are first merged by location (identical coordinates share one neighbourhood, so their
weights can be summed without changing any core/border/noise decision). The unique locations are
bucketed into cubic cells of side ``eps``; every neighbour within ``eps`` of a point then lies in
the point's own cell or one of the 3**d cells around it. Three passes, none of which stores the
neighbour lists (which is what makes scikit-learn's DBSCAN run out of memory on dense data):

1. the weighted size of every neighbourhood (parallel over points) -> core flags;
2. union-find over core-core pairs -> connected components of core points;
3. each non-core point within ``eps`` of a core point takes the smallest label among its core
   neighbours (parallel).

Labels are numbered in the order in which scikit-learn's ``dbscan_inner`` would discover them
(by the smallest input index among a component's core points), and a border point reachable from
several clusters gets the one discovered first — exactly scikit-learn's rule, because its
expansion labels one whole cluster before it starts the next.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_MAX_CELLS_PER_AXIS = 1 << 20  # 21 bits per axis -> the 3-D key fits in a signed int64


@njit(cache=True)
def _cell_keys(coords: np.ndarray, origin: np.ndarray, cell: float) -> np.ndarray:
    n, d = coords.shape
    keys = np.empty(n, dtype=np.int64)
    for i in range(n):
        key = np.int64(0)
        for k in range(d):
            c = np.int64(np.floor((coords[i, k] - origin[k]) / cell)) + 1  # +1: room for c-1
            key = (key << np.int64(21)) | c
        keys[i] = key
    return keys


@njit(cache=True)
def _neighbour_offsets(d: int) -> np.ndarray:
    m = 3**d
    out = np.empty(m, dtype=np.int64)
    for j in range(m):
        rem = j
        key = np.int64(0)
        for _k in range(d):
            off = np.int64(rem % 3) - 1
            rem //= 3
            key = (key << np.int64(21)) + off
        out[j] = key
    return out


@njit(parallel=True, cache=True)
def _neighbourhood_weight(coords, weights, keys, cell_keys, cell_start, offsets, eps2):
    n, d = coords.shape
    out = np.zeros(n, dtype=np.float64)
    ncell = cell_keys.shape[0]
    for i in prange(n):
        total = 0.0
        for o in range(offsets.shape[0]):
            target = keys[i] + offsets[o]
            c = np.searchsorted(cell_keys, target)
            if c >= ncell or cell_keys[c] != target:
                continue
            for j in range(cell_start[c], cell_start[c + 1]):
                s = 0.0
                for k in range(d):
                    diff = coords[i, k] - coords[j, k]
                    s += diff * diff
                if s <= eps2:
                    total += weights[j]
        out[i] = total
    return out


@njit(cache=True)
def _find(parent, i):
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@njit(cache=True)
def _union_core(coords, core, keys, cell_keys, cell_start, offsets, eps2):
    n, d = coords.shape
    parent = np.arange(n)
    ncell = cell_keys.shape[0]
    for i in range(n):
        if not core[i]:
            continue
        for o in range(offsets.shape[0]):
            target = keys[i] + offsets[o]
            c = np.searchsorted(cell_keys, target)
            if c >= ncell or cell_keys[c] != target:
                continue
            for j in range(cell_start[c], cell_start[c + 1]):
                if j <= i or not core[j]:
                    continue
                s = 0.0
                for k in range(d):
                    diff = coords[i, k] - coords[j, k]
                    s += diff * diff
                if s <= eps2:
                    ri = _find(parent, i)
                    rj = _find(parent, j)
                    if ri != rj:
                        parent[max(ri, rj)] = min(ri, rj)
    for i in range(n):
        parent[i] = _find(parent, i)
    return parent


@njit(parallel=True, cache=True)
def _border_labels(coords, core, labels, keys, cell_keys, cell_start, offsets, eps2):
    n, d = coords.shape
    out = labels.copy()
    ncell = cell_keys.shape[0]
    for i in prange(n):
        if core[i]:
            continue
        best = -1
        for o in range(offsets.shape[0]):
            target = keys[i] + offsets[o]
            c = np.searchsorted(cell_keys, target)
            if c >= ncell or cell_keys[c] != target:
                continue
            for j in range(cell_start[c], cell_start[c + 1]):
                if not core[j]:
                    continue
                lab = labels[j]
                if best != -1 and lab >= best:
                    continue
                s = 0.0
                for k in range(d):
                    diff = coords[i, k] - coords[j, k]
                    s += diff * diff
                if s <= eps2:
                    best = lab
        out[i] = best
    return out


def grid_dbscan(
    coords: np.ndarray, weights: np.ndarray, order: np.ndarray, eps: float, min_weight: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted DBSCAN of unique locations in Euclidean space (2-D or 3-D).

    Parameters
    ----------
    coords : (n, d) float array
        Unique locations (d = 2 or 3), in the same unit as ``eps``.
    weights : (n,) float array
        Summed weight of each location.
    order : (n,) int array
        Discovery order of each location (the smallest input index among the points merged into
        it); decides label numbering and border ties as scikit-learn does.
    eps : float
        Neighbourhood radius (inclusive, as in scikit-learn).
    min_weight : float
        A location is core when the weight within ``eps`` (itself included) is >= ``min_weight``
        (up to a relative 1e-9, so that fractional counts summing to it in exact arithmetic do).

    Returns
    -------
    labels : (n,) int64, -1 for noise
    core : (n,) bool
    neighbourhood_weight : (n,) float64
    """
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    n, d = coords.shape
    if n == 0:
        return np.empty(0, np.int64), np.empty(0, bool), np.empty(0, np.float64)
    origin = coords.min(axis=0)
    span = coords.max(axis=0) - origin
    cell = float(eps) * (1.0 + 1e-9)  # a hair wider, so rounding never hides a neighbour
    if np.any(span / cell + 3 >= _MAX_CELLS_PER_AXIS):
        # Too many cells for a 21-bit axis key: coarser cells stay correct (the 3**d stencil
        # still covers eps), they only make each cell hold more points.
        cell = float(np.max(span) / (_MAX_CELLS_PER_AXIS - 4))
    keys = _cell_keys(coords, origin, cell)
    perm = np.argsort(keys, kind="stable")
    keys_s = keys[perm]
    coords_s = coords[perm]
    weights_s = np.ascontiguousarray(weights, dtype=np.float64)[perm]
    cell_keys, cell_start = np.unique(keys_s, return_index=True)
    cell_start = np.append(cell_start, n).astype(np.int64)
    offsets = _neighbour_offsets(d)
    eps2 = float(eps) ** 2

    nweight = _neighbourhood_weight(coords_s, weights_s, keys_s, cell_keys, cell_start, offsets, eps2)
    # fractional counts (1/3 + 1/3 + 1/3) must reach 1: allow a relative 1e-9 of float
    # summation error. With integer weights the sums are exact, so this never changes a result
    # that scikit-learn (integer min_samples) could produce.
    core = nweight >= min_weight * (1.0 - 1e-9)
    roots = _union_core(coords_s, core, keys_s, cell_keys, cell_start, offsets, eps2)

    labels_s = np.full(n, -1, dtype=np.int64)
    if core.any():
        order_s = np.asarray(order)[perm]
        core_idx = np.flatnonzero(core)
        comp = roots[core_idx]
        # first discovery of each component = min order over its core members
        uniq_comp, inv = np.unique(comp, return_inverse=True)
        first = np.full(uniq_comp.shape[0], np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, inv, order_s[core_idx])
        rank = np.empty(uniq_comp.shape[0], dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(uniq_comp.shape[0])
        labels_s[core_idx] = rank[inv]
        labels_s = _border_labels(coords_s, core, labels_s, keys_s, cell_keys, cell_start,
                                  offsets, eps2)

    labels = np.empty(n, dtype=np.int64)
    labels[perm] = labels_s
    core_out = np.empty(n, dtype=bool)
    core_out[perm] = core
    nw = np.empty(n, dtype=np.float64)
    nw[perm] = nweight
    return labels, core_out, nw
