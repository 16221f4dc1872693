"""Duranton–Overman K-density: localisation of an industry at every distance, beyond chance.

:func:`kdensity` estimates, for one industry, a list or all of them, the density of bilateral
distances between the industry's establishments (``Kd``) or between its employees (``Kemp``,
establishment pairs weighted by the product of their employment), and compares it with
counterfactuals in which the industry's establishments are put on sites drawn at random, without
replacement, from the sites of all establishments of the economy (Duranton & Overman 2005, §3–4).

Definitions (Duranton & Overman 2005)
-------------------------------------
* Kd, eq. (1): ``K(d) = 1 / (N h) Σ_{i<j} f((d − d_ij) / h)`` with a Gaussian kernel ``f``,
  bandwidth ``h`` from Silverman's (1986, eq. 3.31) rule of thumb, and reflection of the density
  at zero (Silverman 1986, §2.10): ``f((d − d_ij)/h) + f((d + d_ij)/h)``. ``N`` is the number of
  pairs ``n (n − 1) / 2`` so that K integrates to 1 over [0, ∞). (The paper's eq. (1) prints
  ``n (n − 1)`` with the sum over ``i < j``, which would integrate to 1/2; we normalise by the
  number of pairs, as dbmss does.)
* Kemp, eq. (5): pairs weighted by ``e_i e_j``, normalised by ``Σ_{i<j} e_i e_j``. Its
  counterfactuals keep the industry's employment sizes and draw sites at random.
* Bandwidth: ``h = 0.9 · min(sd, IQR / 1.34) · N^(-1/5)`` over the N pair distances (R's
  ``bw.nrd0``; quartiles of type 7), recomputed for every counterfactual as for the observed
  industry (as dbmss does). For Kemp the rule is applied to the unweighted pair distances (as
  dbmss does). ``bandwidth="scott"`` uses 1.06 (R's ``bw.nrd``); a number fixes ``h`` in the
  distance unit for the industry and all its counterfactuals.
* Local bands: the ``alpha`` and ``1 − alpha`` quantiles of the counterfactuals at each distance.
* Global bands, §4.1: the upper band is the same local rank at every distance, the tightest
  such that at most ``alpha`` of the counterfactuals exceed it anywhere on [0, cutoff] (likewise
  below for the lower band). DO interpolate between the two ranks around ``alpha``; we keep the
  rank, because any band between them is crossed by more than ``alpha`` (see
  :func:`_global_band`).
* Localisation, eq. (6)–(7): ``Γ = Σ_d max(K(d) − K̄(d), 0) · Δd`` over the grid on
  [0, cutoff]; dispersion ``Ψ = Σ_d max(K̲(d) − K(d), 0) · Δd`` when ``Γ = 0`` (else 0). With
  a 1-km grid, ``Δd = 1`` and these are the paper's sums.
* Cutoff: the median distance between all pairs of establishments of the economy (the paper's
  180 km is the median for UK manufacturing).

Speed
-----
Establishments sharing a location are collapsed, and each sample is processed by the compiled
kernels of :mod:`clusteratlas.measure._kdensity_kernels`, in parallel over counterfactuals.
``mode="fast"`` (default) computes the bandwidth exactly and bins pairs with their first moments
on a grid of at most ``h/32``, for an error below about 1e-6 of the density's scale (measured
≤ 1e-7 in tests and bench/kdensity.py); counterfactuals after the first 16 take one pass over
their pairs — when those pilots' bandwidths all come from the standard deviation, a lean pass
that proves it from a count histogram and needs no quartile values (about 4 ns per pair on
one core of the bench machine), else a pass that keeps the distances near the pilots'
quartiles (about 8–10 ns per pair). When the industry is a large share of the economy's
distinct locations (``U`` below about ``4 n``, at most 12,000 locations), the
counterfactuals go instead through the *pool pass* of
:mod:`clusteratlas.measure._kdensity_pool`: the ``U (U − 1) / 2`` location pairs are binned
once and 64 counterfactuals are summed per pass over them (~0.2 ns per location pair and
counterfactual), with the same grid, the same exact bandwidth and quartiles. ``mode="exact"``
sums the kernel over every pair at every distance (agrees with a brute-force implementation to
1e-12) and is as slow as that implementation.

With several industries (Kd, fast mode, ``shared_draws=True``) the counterfactuals are
*nested* (:mod:`clusteratlas.measure._kdensity_nested`): each counterfactual is one ordered
draw of as many establishments as the largest industry has, and every industry takes the
draw's first ``n`` establishments — a uniformly random ``n``-subset, as the null requires. The
pairs are visited once per draw, adding establishments in draw order, and each industry's
estimate is read off when the prefix reaches its size: ``max n² / 2`` pair visits per draw
instead of ``Σ n² / 2`` (11× fewer for the ``large`` demo economy). Draws stay independent
within an industry and are shared across industries (a statement about several industries at
once should not treat their tests as independent). The pairs are visited in cache-sized
tiles, with ``asin`` as a Chebyshev-economised polynomial (about 3 ns per pair on one core for
the ``large`` demo's draws across China; every industry with 1000 counterfactuals and bands in
16.5 minutes on 2 cores, bench/kdensity_demo.py). The quartile windows come from the spread of 16
pilot draws' quartiles (estimated from random pairs); the observed industries of 3,000 or more
establishments, and any prefix whose quartile misses its window, take the same tiled pass with
windows from a million random pairs of their own (binomial bounds at 7 standard deviations),
and only a miss of those goes to the per-sample kernels. Otherwise each counterfactual visits
all its ``n (n − 1) / 2`` location pairs: the cost grows with the square of the industry's size.

References
----------
Duranton, G., & Overman, H. G. (2005). Testing for localization using micro-geographic data.
*Review of Economic Studies*, 72(4), 1077–1106.
Silverman, B. W. (1986). *Density Estimation for Statistics and Data Analysis*. Chapman & Hall.
Marcon, E., Traissac, S., Puech, F., & Lang, G. (2015). Tools to characterize point patterns:
dbmss for R. *Journal of Statistical Software*, 67(3).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import numba
import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist

from clusteratlas.console import make_progress
from clusteratlas.errors import InputError
from clusteratlas.geo.distance import EARTH_RADIUS_KM, unit_xyz
from clusteratlas.measure import _kdensity_kernels as kern
from clusteratlas.measure import _kdensity_nested as knest
from clusteratlas.measure import _kdensity_pool as kpool
from clusteratlas.result import Result

TABLE_COLUMNS = ["industry", "distance", "kd", "local_lo", "local_hi", "global_lo", "global_hi",
                 "localised", "dispersed"]
INDEX_COLUMNS = ["industry", "n", "bandwidth", "gamma", "psi", "localised", "dispersed",
                 "localised_at"]
_RULES = {"silverman": 0.9, "scott": 1.06}
_EXACT_MEDIAN_MAX_PAIRS = 5_000_000
_MEDIAN_SAMPLE_PAIRS = 2_000_000
_SAMPLE_BLOCK = 5_000_000  # establishment indices held at once for counterfactual draws
_PILOT = 16  # counterfactuals that set the single-pass windows
_NO_WINDOW = np.zeros((2, 2))
_NESTED_PAIRS = 2_000_000  # random pairs for the economy's quartiles (pilot windows)
_NESTED_WIDEN = 0.75  # nested windows: the pilots' spread widened by this on each side
_PILOT_PAIRS = 200_000  # at most this many random pairs per pilot prefix (nested draws)
_OBSERVED_PAIRS = 1_000_000  # random pairs of an observed industry (its quartile windows)
_OBSERVED_SINGLE_MIN = 3000  # observed industries this large go to the tiled single pass
_NESTED_DRAWS = 8  # ordered draws per thread and compiled call
_NESTED_MEMORY = 2.5e9  # bytes of quartile buffers the nested pass may hold


@dataclass(repr=False)
class KDensityResult(Result):
    """K-densities with local and global bands, and the localisation / dispersion indices.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per industry × distance: ``industry, distance, kd, local_lo, local_hi,
        global_lo, global_hi, localised, dispersed`` (``localised``: ``kd > global_hi``;
        ``dispersed``: ``kd < global_lo``).
    indices : pandas.DataFrame
        One row per industry: ``industry, n, bandwidth, gamma, psi, localised, dispersed,
        localised_at`` (distance ranges where ``kd`` is above the global band).
    simulations : dict
        ``{industry: (distances, array n_sims × n_distances)}`` if ``keep_simulations``.
    """

    indices: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=INDEX_COLUMNS))
    simulations: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    curves: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self, max_rows: int = 30) -> str:
        """Parameters, the per-industry indices Γ and Ψ, and the notes."""
        lines = [self.title, "=" * len(self.title)]
        for key, value in self.params.items():
            lines.append(f"{key:>24}: {value}")
        lines.append("")
        shown = self.indices.head(max_rows)
        with pd.option_context("display.width", 140, "display.max_columns", 20,
                               "display.max_colwidth", 50):
            lines.append(shown.to_string(index=False))
        if len(self.indices) > max_rows:
            lines.append(f"... {len(self.indices) - max_rows} more industries")
        if self.notes:
            lines.append("")
            lines.append("Notes:")
            lines.extend(f"[{i}] {note}" for i, note in enumerate(self.notes, start=1))
        return "\n".join(lines)

    def plot(self, industry: str | None = None) -> Any:
        """Plotly figure of K(d) with the local (shaded) and global (dashed) bands."""
        import plotly.graph_objects as go

        curves = self.curves if len(self.curves) else self.table
        if industry is None:
            industry = str(curves["industry"].iloc[0])
        df = curves[curves["industry"] == industry]
        if df.empty:
            raise KeyError(f"industry {industry!r} is not in the result; "
                           f"industries: {sorted(curves['industry'].unique())[:20]}")
        label = "Kemp" if self.params.get("weight") else "Kd"
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=df["distance"], y=df["local_hi"], mode="lines",
                                 line={"width": 0}, showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=df["distance"], y=df["local_lo"], mode="lines",
                                 line={"width": 0}, fill="tonexty",
                                 fillcolor="rgba(120,120,120,0.25)",
                                 name="local 5–95% band 局部置信带"))
        fig.add_trace(go.Scatter(x=df["distance"], y=df["global_hi"], mode="lines",
                                 line={"dash": "dash", "color": "firebrick"},
                                 name="global band 全局置信带"))
        fig.add_trace(go.Scatter(x=df["distance"], y=df["global_lo"], mode="lines",
                                 line={"dash": "dash", "color": "royalblue"}, showlegend=False))
        fig.add_trace(go.Scatter(x=df["distance"], y=df["kd"], mode="lines",
                                 line={"color": "black", "width": 2}, name=f"{label} 核密度"))
        unit = "km" if not self.params.get("planar") else "distance unit"
        fig.update_layout(
            title=f"{label} — {industry} (Duranton–Overman K-density 距离核密度)",
            xaxis_title=f"distance 距离 ({unit})", yaxis_title="density 密度",
            template="plotly_white")
        return fig


@contextmanager
def _threads(n_jobs: int | None):
    if n_jobs is None:
        yield
        return
    old = numba.get_num_threads()
    n = numba.config.NUMBA_NUM_THREADS if n_jobs < 0 else max(1, min(int(n_jobs),
                                                                        numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(old)


def _prepare(df: pd.DataFrame, industry: str, x: str, y: str, weight: str | None,
             planar: bool) -> tuple[pd.Series, np.ndarray, np.ndarray, np.ndarray | None]:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"establishments: expected a pandas DataFrame, got {type(df).__name__}")
    need = [industry, x, y] + ([weight] if weight else [])
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputError(f"establishments: missing column(s) {missing}; columns are {list(df.columns)}")
    if len(df) < 2:
        raise InputError(f"establishments: need at least 2 rows, got {len(df)}")
    arrays = {}
    for col in [x, y] + ([weight] if weight else []):
        vals = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(~np.isfinite(vals))
        if bad.size:
            raise InputError(f"{col!r}, rows {df.index[bad[:10]].tolist()}"
                             f"{' …' if bad.size > 10 else ''}: missing or not a number "
                             f"({bad.size} rows); expected finite numbers")
        arrays[col] = vals
    if not planar:
        lat, lon = arrays[y], arrays[x]
        bad = np.flatnonzero((np.abs(lat) > 90) | (np.abs(lon) > 360))
        if bad.size:
            raise InputError(f"{x!r}/{y!r}, rows {df.index[bad[:10]].tolist()}: not longitude/"
                             "latitude in degrees (|lat| ≤ 90); pass planar=True for x/y")
    w = None
    if weight:
        w = arrays[weight]
        bad = np.flatnonzero(w < 0)
        if bad.size:
            raise InputError(f"{weight!r}, rows {df.index[bad[:10]].tolist()}: negative weight; "
                             "expected employment ≥ 0")
    ind = df[industry]
    if ind.isna().any():
        bad = np.flatnonzero(ind.isna().to_numpy())
        raise InputError(f"{industry!r}, rows {df.index[bad[:10]].tolist()}: missing industry")
    return ind.astype(str).reset_index(drop=True), arrays[x], arrays[y], w


def _median_distance(coords: np.ndarray, loc: np.ndarray, sphere: bool,
                     rng: np.random.Generator) -> tuple[float, str]:
    """Median distance between all pairs of establishments: exact (over distinct locations,
    each pair counted ``c_a c_b`` times, pairs within a location at 0) when there are at most
    5 million location pairs, else estimated from 2 million random establishment pairs."""
    counts = np.bincount(loc, minlength=coords.shape[0]).astype(np.float64)
    u = coords.shape[0]
    n = loc.shape[0]
    if u * (u - 1) / 2 <= _EXACT_MEDIAN_MAX_PAIRS:
        if sphere:
            chord = pdist(coords)
            d = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.minimum(chord / 2.0, 1.0))
        else:
            d = pdist(coords[:, :2])
        i, j = np.triu_indices(u, 1)
        mult = counts[i] * counts[j]
        d = np.concatenate([[0.0], d])
        mult = np.concatenate([[0.5 * float((counts * (counts - 1.0)).sum())], mult])
        order = np.argsort(d, kind="stable")
        cum = np.cumsum(mult[order])
        total = n * (n - 1) / 2
        lo = d[order][np.searchsorted(cum, np.floor((total - 1) / 2), side="right")]
        hi = d[order][np.searchsorted(cum, np.ceil((total - 1) / 2), side="right")]
        return float(0.5 * (lo + hi)), "exact"
    d = _random_pair_distances(coords, loc, sphere, rng, _MEDIAN_SAMPLE_PAIRS)
    return float(np.median(d)), f"estimated from {_MEDIAN_SAMPLE_PAIRS:,} random pairs"


def _random_pair_distances(coords: np.ndarray, loc: np.ndarray, sphere: bool,
                           rng: np.random.Generator, m: int) -> np.ndarray:
    """Distances of ``m`` random pairs of distinct establishments (with replacement)."""
    n = loc.shape[0]
    i = rng.integers(0, n, m)
    j = rng.integers(0, n - 1, m)
    j = j + (j >= i)
    return kern.pair_distances(coords, loc[i], loc[j], sphere, EARTH_RADIUS_KM)


def _global_band(sims: np.ndarray, on: np.ndarray, alpha: float, upper: bool) -> np.ndarray:
    """Duranton–Overman global band: the same local rank at every distance, the tightest one
    that at most ``alpha`` of the counterfactuals exceed anywhere on the points ``on``.

    For rank ``j`` (the j-th largest counterfactual at each distance) the share of
    counterfactuals strictly above it somewhere is ``F(j) = #{k : min_d c_k(d) < j} / S`` where
    ``c_k(d)`` counts the counterfactuals at or above ``k`` at ``d``. The band is at the largest
    ``j`` with ``F(j) ≤ alpha``. DO (2005, §4.1) interpolate between the two ranks around the
    target; any band strictly between them is exceeded by ``F(j + 1) > alpha`` of the
    counterfactuals (the share jumps as several curves reach their best rank together), so we
    keep the rank that honours "at most ``alpha`` cross"; ``F(j)`` is at most one rank step
    from ``alpha``.
    """
    v = sims if upper else -sims
    s = v.shape[0]
    asc = np.sort(v, axis=0)
    sub = v[:, on]
    c = s - np.stack([np.searchsorted(asc[:, t], sub[:, i], side="left")
                      for i, t in enumerate(np.flatnonzero(on))], axis=1)
    mk = c.min(axis=1)  # best rank of each counterfactual over [0, cutoff]
    counts = np.bincount(mk, minlength=s + 2)
    fj = np.concatenate([[0.0], np.cumsum(counts)[: s + 1] / s])  # fj[j] = F(j)
    js = np.arange(1, s + 1)
    j = int(js[fj[js] <= alpha + 1e-12].max())
    band = asc[s - j].copy()  # the j-th largest
    return band if upper else -band


def _sd_rules(stats: np.ndarray, margin: float = 1.01) -> bool:
    """Whether the pilots' bandwidths all came from the standard deviation with room to
    spare (``IQR / 1.34 > margin · sd``): then the later counterfactuals try the kernels'
    standard-deviation path, which needs no quartile values (and verifies the premise)."""
    _h, q25, q75, sd = stats.T
    return bool(np.all(np.isfinite(stats)) and np.all((q75 - q25) / 1.34 > margin * sd))


def _single_pass_windows(stats: np.ndarray, widen: float = 0.25) -> tuple[np.ndarray, float]:
    """Quartile windows and a bandwidth guess for the kernels' single pass, from pilot samples
    (rows: h, q25, q75, sd): each window spans the pilots' quartiles widened by ``widen``
    times their spread on each side; the guess is 0.9 × the smallest pilot bandwidth. Zeros:
    the general path."""
    h, q25, q75, _sd = stats.T
    if not (np.all(np.isfinite(stats)) and np.all(h > 0)):
        return np.zeros((2, 2)), -1.0
    win = np.empty((2, 2))
    for t, q in enumerate((q25, q75)):
        pad = widen * (q.max() - q.min()) + 1e-9 * max(abs(q.max()), 1.0)
        win[t] = (max(q.min() - pad, 0.0), q.max() + pad)
    return win, float(0.9 * h.min())


def _ranges(d: np.ndarray, flag: np.ndarray) -> str:
    if not flag.any():
        return ""
    out = []
    start = None
    for k in range(len(d)):
        if flag[k] and start is None:
            start = d[k]
        if start is not None and (not flag[k] or k == len(d) - 1):
            end = d[k] if flag[k] else d[k - 1]
            out.append(f"{start:g}–{end:g}")
            start = None
    return ", ".join(out)


def _prefixes(draws: np.ndarray, sizes: np.ndarray, which: np.ndarray, coords: np.ndarray,
              sphere: bool, evals: np.ndarray, rule_factor: float, fixed_h: float,
              dmax: float) -> tuple[np.ndarray, np.ndarray]:
    """K and stats of the prefixes ``draws[p, :sizes[k]]`` for the rows ``(p, k)`` of
    ``which``, by the per-sample kernels' general path, in parallel over prefixes."""
    parts = [draws[p, :sizes[k]] for p, k in which]
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in parts])]).astype(np.int64)
    flat = np.concatenate(parts)
    return kern.run_ragged(flat, offsets, np.ones(flat.size), coords, sphere, EARTH_RADIUS_KM,
                           evals, rule_factor, fixed_h, dmax, False)


def _economy_asin(coords: np.ndarray, sphere: bool) -> tuple[int, np.ndarray]:
    """The asin polynomial for every sample of the economy's sites (fixed once per run: the
    bound on their extent scans all of them)."""
    return kern.asin_economised(coords) if sphere else (0, np.zeros(32))


def _observed_single_pass(samples: list[np.ndarray], coords: np.ndarray, sphere: bool,
                          evals: np.ndarray, rule_factor: float, fixed_h: float,
                          rng: np.random.Generator, asin: tuple[int, np.ndarray] | None = None,
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """K and stats (h, q25, q75, sd) of unweighted samples (location index per establishment)
    by the tiled single pass of :mod:`clusteratlas.measure._kdensity_nested`, in parallel;
    ``ok`` is False where a sample needs the per-sample kernels instead.

    Windows around each sample's quartiles come from ``m`` random pairs of it: the quartile
    ``q_p`` of all ``N`` pairs lies between the random pairs' order statistics at ranks
    ``m (p ± z √(p(1-p)/m))`` unless the binomial count of random pairs below it is ``z = 7``
    standard deviations from its mean (probability below 1e-11); then the pass would flag the
    miss and the sample is redone by the kernels, so the result never depends on the window.
    The grid is fixed from a lower bound of the bandwidth: the windows bound the IQR from
    below, and the random pairs' sd (times 0.9) stands in for the sd, checked by the pass."""
    m = _OBSERVED_PAIRS
    z = 7.0
    n_s = len(samples)
    win = np.zeros((n_s, 2, 2))
    delta = np.ones(n_s)
    nb = np.ones(n_s, dtype=np.int64)
    cap = np.ones(n_s, dtype=np.int64)
    rmax = float(evals.max())
    for k, sample in enumerate(samples):
        n = sample.size
        d = np.sort(_random_pair_distances(coords, sample, sphere, rng, m))
        npairs = 0.5 * n * (n - 1.0)
        share = 0.0
        for t, p in enumerate((0.25, 0.75)):
            half = z * np.sqrt(p * (1.0 - p) / m)
            lo = d[max(int(np.floor(m * (p - half))) - 1, 0)]
            hi = d[min(int(np.ceil(m * (p + half))), m - 1)]
            win[k, t] = (lo, hi)
            share += 2.0 * half
        if fixed_h > 0.0:
            h_lo = fixed_h
        else:
            iqr_lo = max(win[k, 1, 0] - win[k, 0, 1], 0.0)
            h_lo = kern._rule_bandwidth(0.9 * float(np.std(d)), iqr_lo, npairs, rule_factor)
        h_hi = kern._rule_bandwidth(1.1 * float(np.std(d)), float(win[k, 1, 1] - win[k, 0, 0]),
                                    npairs, rule_factor)
        if not (h_lo > 0.0 and win[k, 0, 1] < win[k, 1, 0]):
            win[k] = 0.0  # no usable windows: the kernels decide
            continue
        delta[k] = h_lo / kern.GRID_PER_H
        nb[k] = int((rmax + kern.TRUNC_H * max(h_hi, h_lo)) / delta[k]) + 2
        cap[k] = int(4.0 * share * npairs) + 4 * n + 1024
    flat = np.concatenate(samples)
    offsets = np.concatenate([[0], np.cumsum([x.size for x in samples])]).astype(np.int64)
    nterms, coefs = asin if asin is not None else _economy_asin(coords, sphere)
    return knest.single_block(flat, offsets, coords, sphere, EARTH_RADIUS_KM, win, delta, nb,
                              evals, rule_factor, fixed_h, kern.GRID_PER_H, kern.TRUNC_H, cap,
                              coefs, nterms)


def _nested_counterfactuals(prepared: list[tuple[str, np.ndarray]], n_all: int, loc: np.ndarray,
                            coords: np.ndarray, sphere: bool, evals: np.ndarray,
                            rule_factor: float, fixed_h: float, dmax: float, n_sims: int,
                            rng: np.random.Generator, advance: Any,
                            notes: list[str], asin: tuple[int, np.ndarray],
                            ) -> dict[str, np.ndarray]:
    """Counterfactual K of several industries from shared ordered draws (see
    :mod:`clusteratlas.measure._kdensity_nested`): ``{industry: n_sims × len(evals)}``, or an
    empty dict when the pass cannot serve them (then each industry draws its own)."""
    names = [name for name, _ in prepared]
    sizes = np.array([members.size for _, members in prepared], dtype=np.int64)
    order = np.argsort(sizes, kind="stable")
    names = [names[i] for i in order]
    sizes = sizes[order]
    n_ind, n_max = len(sizes), int(sizes[-1])
    # the pair density at the economy's quartiles (the buffer's size)
    d = _random_pair_distances(coords, loc, sphere, rng, _NESTED_PAIRS)
    q25, q75 = np.quantile(d, [0.25, 0.75])
    iqr = q75 - q25
    if not iqr > 0:
        return {}
    band = 0.05 * iqr
    density = max(np.mean(np.abs(d - q25) < band), np.mean(np.abs(d - q75) < band)) / (2 * band)
    threads = numba.get_num_threads()
    # pilots: how far the quartiles and bandwidth of each industry's prefix vary from draw to
    # draw, estimated from random pairs of each prefix of _PILOT ordered draws (the pairs'
    # own sampling error only widens the spread, and so the windows)
    pilots = loc[np.stack([rng.choice(n_all, n_max, replace=False) for _ in range(_PILOT)])]
    st = np.empty((_PILOT, n_ind, 4))
    for p in range(_PILOT):
        for k, n in enumerate(sizes):
            # the sampling error of a quartile from m pairs is about √(1.9 n / m) times its
            # spread from draw to draw (Hoeffding): m = 4n keeps it below that spread
            m = int(min(max(4 * n, 5_000), _PILOT_PAIRS))
            dp = _random_pair_distances(coords, pilots[p, :n], sphere, rng, m)
            a, b = np.quantile(dp, [0.25, 0.75])
            sd = float(np.std(dp, ddof=1))
            h = (fixed_h if fixed_h > 0.0 else
                 kern._rule_bandwidth(sd, b - a, 0.5 * n * (n - 1.0), rule_factor))
            st[p, k] = (h, a, b, sd)
    h = st[:, :, 0]
    if not np.all(np.isfinite(h)) or not np.all(h > 0):
        return {}
    if fixed_h > 0.0:  # no quartiles needed: windows no distance falls in
        win = np.full((n_ind, 2, 2), -1.0)
    else:
        # wider than the kernels' (a miss costs a whole prefix; a wider window, a little
        # more buffer)
        win = np.stack([_single_pass_windows(st[:, k, :], _NESTED_WIDEN)[0]
                        for k in range(n_ind)])
        win = knest.nest_windows(win)
        if np.any(win[:, 0, 1] >= win[:, 1, 0]):  # quartile windows overlap: not for this pass
            return {}
    delta = 0.9 * float(h.min()) / kern.GRID_PER_H
    nb = int((float(evals.max()) + kern.TRUNC_H * 1.5 * float(h.max())) / delta) + 2
    cap = min(knest.buffer_cap(win, sizes, density), int(_NESTED_MEMORY / (32.0 * threads)))
    if nb > 1 << 22:
        return {}
    nterms, coefs = asin
    aux = rng.spawn(1)[0]  # the redone prefixes' random pairs: the draws never depend on them
    sims = np.empty((n_ind, n_sims, evals.size))
    redone = 0
    block = _NESTED_DRAWS * threads
    for start in range(0, n_sims, block):
        stop = min(n_sims, start + block)
        draws = loc[np.stack([rng.choice(n_all, n_max, replace=False)
                              for _ in range(stop - start)])]
        out, _, ok = knest.nested_block(draws, coords, sphere, EARTH_RADIUS_KM, sizes, win, delta,
                                        nb, evals, rule_factor, fixed_h, kern.GRID_PER_H,
                                        kern.TRUNC_H, cap, True, coefs, nterms, threads)
        miss = np.argwhere(~ok)
        if len(miss):
            # the tiled single pass with each prefix's own windows, then the kernels
            k_m, _, ok_m = _observed_single_pass([draws[p, :sizes[k]] for p, k in miss], coords,
                                                 sphere, evals, rule_factor, fixed_h, aux,
                                                 asin)
            out[miss[ok_m, 0], miss[ok_m, 1]] = k_m[ok_m]
            miss = miss[~ok_m]
            if len(miss):
                out[miss[:, 0], miss[:, 1]] = _prefixes(draws, sizes, miss, coords, sphere,
                                                        evals, rule_factor, fixed_h, dmax)[0]
            redone += int((~ok).sum())
        sims[:, start:stop] = out.transpose(1, 0, 2)
        advance((stop - start) * n_ind)
    notes.append(f"industries {', '.join(names[:10])}{' …' if n_ind > 10 else ''}: counterfactuals "
                 f"from {n_sims} shared ordered draws of {n_max:,} establishments (each industry's "
                 f"counterfactual is a prefix of the draw: independent across draws, shared across "
                 f"industries); {redone} of {n_sims * n_ind} redone by the per-sample kernels")
    return {names[k]: sims[k] for k in range(n_ind)}


def kdensity(
    establishments: pd.DataFrame,
    industries: str | Sequence[str] | None = None,
    *,
    industry: str = "industry",
    x: str = "lon",
    y: str = "lat",
    planar: bool = False,
    weight: str | None = None,
    r: Sequence[float] | np.ndarray | None = None,
    cutoff: float | None = None,
    bandwidth: Literal["silverman", "scott"] | float = "silverman",
    n_sims: int = 1000,
    alpha: float = 0.05,
    seed: int | None = None,
    mode: Literal["fast", "exact"] = "fast",
    n_grid: int = 201,
    n_jobs: int | None = None,
    progress: bool | None = None,
    keep_simulations: bool = False,
    shared_draws: bool = True,
) -> KDensityResult:
    """Duranton–Overman K-density (Kd, or Kemp with ``weight``) with local and global bands.

    Parameters
    ----------
    establishments : pandas.DataFrame
        One row per establishment of the *whole economy* (the counterfactual sites): columns
        ``industry``, ``x``, ``y`` and optionally ``weight``. Not modified.
    industries : str or sequence of str, optional
        Industries to measure (default: all, in sorted order).
    industry, x, y : str
        Column names. ``x``/``y`` are longitude/latitude in degrees (great-circle km), or planar
        coordinates with ``planar=True`` (Euclidean distance in their unit).
    weight : str, optional
        Employment column: gives Kemp (pairs weighted by ``e_i e_j``) instead of Kd.
    r : sequence of float, optional
        Distances at which to report (default: ``n_grid`` points on [0, cutoff]). Γ, Ψ and the
        global bands always use the grid on [0, cutoff].
    cutoff : float, optional
        Upper end of the distances tested (default: median distance between all pairs of
        establishments; exact up to 5 million pairs of distinct locations, else estimated from
        2 million random pairs, as the notes say).
    bandwidth : {"silverman", "scott"} or float
        Bandwidth rule (per sample) or a fixed value in the distance unit.
    n_sims : int
        Number of counterfactuals (≥ 20; DO use 1000).
    alpha : float
        Tail share of each band (local quantiles ``alpha``/``1 − alpha``; each global band is
        crossed by ``alpha`` of the counterfactuals).
    seed : int, optional
        Seed of :func:`numpy.random.default_rng`; recorded in ``.params``.
    mode : {"fast", "exact"}
        Fast binned kernel sums (error ≲ 1e-6 of the peak) or exact sums over all pairs.
    n_grid : int
        Points of the grid on [0, cutoff].
    n_jobs : int, optional
        Threads for the counterfactuals (default: Numba's; -1: all).
    progress : bool, optional
        Show a progress bar over the samples of all industries, with the time remaining
        (default: when stderr is a terminal).
    keep_simulations : bool
        Keep every counterfactual curve in ``.simulations``.
    shared_draws : bool
        With several industries (Kd, fast mode), draw each counterfactual once for all of them
        and give each industry a prefix of the draw (nested counterfactuals, see
        :mod:`clusteratlas.measure._kdensity_nested`): the same null for every industry, far
        less work when many industries are measured. ``False``: independent draws per
        industry.

    Returns
    -------
    KDensityResult
        ``.table`` (industry × distance), ``.indices`` (industry: Γ, Ψ, …), ``.params``,
        ``.notes``, ``.summary()``, ``.plot(industry)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> xy = rng.uniform(0, 100, (400, 2))
    >>> df = pd.DataFrame({"industry": ["a"] * 40 + ["b"] * 360, "x": xy[:, 0], "y": xy[:, 1]})
    >>> df.loc[:39, ["x", "y"]] = rng.normal(50, 2, (40, 2))  # industry a is clustered
    >>> res = kdensity(df, "a", x="x", y="y", planar=True, n_sims=99, seed=1)
    >>> bool(res.indices.loc[0, "localised"])
    True
    """
    if mode not in ("fast", "exact"):
        raise ValueError(f"mode: expected 'fast' or 'exact', got {mode!r}")
    if isinstance(bandwidth, str):
        if bandwidth not in _RULES:
            raise ValueError(f"bandwidth: expected 'silverman', 'scott' or a positive number, got {bandwidth!r}")
        rule_factor, fixed_h = _RULES[bandwidth], 0.0
    else:
        fixed_h = float(bandwidth)
        if not fixed_h > 0:
            raise ValueError(f"bandwidth: expected a positive number, got {bandwidth!r}")
        rule_factor = 0.0
    if int(n_sims) < 20:
        raise ValueError(f"n_sims: expected at least 20 counterfactuals, got {n_sims}")
    if not 0 < alpha < 0.5:
        raise ValueError(f"alpha: expected 0 < alpha < 0.5, got {alpha}")
    if int(n_grid) < 2:
        raise ValueError(f"n_grid: expected at least 2, got {n_grid}")
    n_sims, n_grid = int(n_sims), int(n_grid)

    ind, xs, ys, w = _prepare(establishments, industry, x, y, weight, planar)
    n_all = len(ind)
    pts, loc = np.unique(np.column_stack([xs, ys]), axis=0, return_inverse=True)
    loc = loc.ravel().astype(np.int64)
    sphere = not planar
    if sphere:
        coords = unit_xyz(pts[:, 0], pts[:, 1])
        diag = float(np.sqrt(((coords.max(0) - coords.min(0)) ** 2).sum()))
        dmax = 2.0 * EARTH_RADIUS_KM * math.asin(min(diag / 2.0, 1.0))
    else:
        coords = np.ascontiguousarray(np.column_stack([pts, np.zeros(len(pts))]))
        dmax = float(np.hypot(*(pts.max(0) - pts.min(0))))
    dmax = max(dmax, 1e-12)

    root = np.random.default_rng(seed)
    cut_rng, sim_rng = root.spawn(2)
    notes: list[str] = []
    if cutoff is None:
        cutoff, how = _median_distance(coords, loc, sphere, cut_rng)
        notes.append(f"cutoff = median distance between all pairs of establishments ({how}): "
                     f"{cutoff:.6g}")
    cutoff = float(cutoff)
    if not cutoff > 0:
        raise ValueError(f"cutoff: expected a positive distance, got {cutoff}")
    grid = np.linspace(0.0, cutoff, n_grid)
    r_out = grid if r is None else np.asarray(r, dtype=np.float64).ravel()
    if r is not None and (r_out.size == 0 or np.any(r_out < 0) or not np.all(np.isfinite(r_out))):
        raise ValueError(f"r: expected non-negative distances, got {list(r_out)[:10]}")
    evals = np.unique(np.concatenate([grid, r_out]))
    on_grid = np.isin(evals, grid)
    pos_out = np.searchsorted(evals, r_out)

    all_inds = sorted(ind.unique())
    if industries is None:
        chosen = all_inds
    else:
        chosen = [industries] if isinstance(industries, str) else [str(i) for i in industries]
        unknown = [i for i in chosen if i not in set(all_inds)]
        if unknown:
            raise InputError(f"{industry!r}: industries {unknown[:10]} not found; "
                             f"known: {all_inds[:20]}{' …' if len(all_inds) > 20 else ''}")
    codes = ind.to_numpy()
    max_count = int(np.bincount(loc).max())
    step = grid[1] - grid[0]
    rows: list[pd.DataFrame] = []
    curves: list[pd.DataFrame] = []
    index_rows: list[dict[str, Any]] = []
    sims_kept: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    exact = mode == "exact"
    # progress in samples (the observed one and the counterfactuals of every industry), so
    # that a single large industry shows its own progress and time remaining
    with _threads(n_jobs), make_progress(progress) as bar:
        task = bar.add_task("K-density 核密度", total=len(chosen) * (n_sims + 1))
        prepared: list[tuple[str, np.ndarray]] = []
        for name in chosen:
            members = np.flatnonzero(codes == name)
            n = members.size
            skip = ""
            if n < 3:
                skip = f"{n} establishment(s); at least 3 are needed, skipped"
            elif n >= n_all:
                skip = "holds every establishment; no counterfactual can differ, skipped"
            elif w is not None and not (w[members].sum() ** 2 - (w[members] ** 2).sum()) > 0:
                skip = f"fewer than two establishments with positive {weight!r}; skipped"
            if skip:
                notes.append(f"industry {name}: {skip}")
                bar.advance(task, n_sims + 1)
            else:
                prepared.append((name, members))
        shared: dict[str, np.ndarray] = {}
        asin = _economy_asin(coords, sphere) if not exact and w is None else (0, np.zeros(32))
        sizes = np.array([len(m) for _, m in prepared], dtype=float)
        if (shared_draws and not exact and w is None and len(prepared) >= 2
                and (sizes**2).sum() >= 1.5 * sizes.max() ** 2):
            bar.update(task, description="K-density 核密度 (shared draws)")
            shared = _nested_counterfactuals(
                prepared, n_all, loc, coords, sphere, evals, rule_factor, fixed_h, dmax, n_sims,
                sim_rng, lambda k: bar.advance(task, k), notes, asin)
        # the observed industries, all at once (in parallel over industries, in an order
        # that mixes sizes so that the threads' shares of the work are alike)
        mix = np.random.default_rng(0).permutation(len(prepared))
        flat = np.concatenate([loc[prepared[i][1]] for i in mix] or [np.zeros(0, np.int64)])
        e_flat = (np.concatenate([w[prepared[i][1]] for i in mix]) if w is not None and len(mix)
                  else np.ones(flat.size))
        offsets = np.concatenate([[0], np.cumsum([prepared[i][1].size for i in mix])])
        observed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if not exact and w is None:
            # large industries: the tiled single pass (one pass, coordinates from cache)
            big = [i for i in mix if prepared[i][1].size >= _OBSERVED_SINGLE_MIN]
            if big:
                k_big, st_big, ok_big = _observed_single_pass(
                    [loc[prepared[i][1]] for i in big], coords, sphere, evals, rule_factor,
                    fixed_h, np.random.default_rng(1), asin)
                for t, i in enumerate(big):
                    if ok_big[t]:
                        observed[prepared[i][0]] = (k_big[t:t + 1], st_big[t:t + 1])
            mix = np.array([i for i in mix if prepared[i][0] not in observed], dtype=np.int64)
            flat = np.concatenate([loc[prepared[i][1]] for i in mix] or [np.zeros(0, np.int64)])
            e_flat = np.ones(flat.size)
            offsets = np.concatenate([[0], np.cumsum([prepared[i][1].size for i in mix])])
        obs_all, obs_stats_all = kern.run_ragged(flat, offsets.astype(np.int64), e_flat, coords,
                                                 sphere, EARTH_RADIUS_KM, evals, rule_factor,
                                                 fixed_h, dmax, exact)
        observed.update({prepared[i][0]: (obs_all[t:t + 1], obs_stats_all[t:t + 1])
                         for t, i in enumerate(mix)})
        bar.advance(task, len(prepared))
        for name, members in prepared:
            bar.update(task, description=f"K-density 核密度 {name}")
            n = members.size
            e = w[members] if w is not None else np.ones(n)
            obs, obs_stats = observed[name]
            h_obs = obs_stats[:, 0]
            sims = shared.get(name, np.empty((n_sims, evals.size)))
            # blocks of counterfactuals per compiled call: bounded in memory, and about 20
            # per industry so that the progress bar moves
            block = max(2 * numba.get_num_threads(),
                        min(_SAMPLE_BLOCK // n, -(-n_sims // 20)))
            win, h_guess, sd_path = _NO_WINDOW, -1.0, False
            pool: kpool.PoolPairs | None = None
            redone = 0
            start = n_sims if name in shared else 0
            while start < n_sims:
                # the first _PILOT counterfactuals go alone: their quartiles and bandwidths
                # let the rest try the single-pass path (which verifies them, see kernels)
                # or the pool pass
                stop = min(n_sims, start + (_PILOT if start == 0 else
                                            kpool.LANES if pool is not None else block))
                draws = np.stack([sim_rng.choice(n_all, n, replace=False)
                                  for _ in range(stop - start)])
                if pool is not None:
                    k_pool, st, ok = pool.run(loc[draws], evals, rule_factor, fixed_h,
                                              None if w is None else e)
                    if not ok.all():  # bandwidth too small for the pool's grid: redo
                        redone += int((~ok).sum())
                        k_pool[~ok], st[~ok] = kern.run_samples(
                            loc[draws[~ok]], e, coords, sphere, EARTH_RADIUS_KM, evals,
                            rule_factor, fixed_h, dmax, exact, _NO_WINDOW, -1.0)
                    sims[start:stop] = k_pool
                    bar.advance(task, stop - start)
                    start = stop
                    continue
                sims[start:stop], st = kern.run_samples(loc[draws], e, coords, sphere,
                                                        EARTH_RADIUS_KM, evals, rule_factor,
                                                        fixed_h, dmax, exact, win, h_guess,
                                                        sd_path)
                if start == 0 and not exact:
                    if fixed_h == 0.0:
                        win, h_guess = _single_pass_windows(st)
                        sd_path = h_guess > 0 and _sd_rules(st)
                    pool_delta = (fixed_h if fixed_h > 0.0 else h_guess) / kern.GRID_PER_H
                    if kpool.worthwhile(n, len(pts), max_count, pool_delta, dmax,
                                        n_sims - stop, weighted=w is not None):
                        pool = kpool.PoolPairs(coords, sphere, EARTH_RADIUS_KM, pool_delta,
                                               dmax)
                        sd_path = False
                elif sd_path:
                    redone += int(np.isfinite(st[:, 1]).sum())  # quartiles: general path
                bar.advance(task, stop - start)
                start = stop
            if pool is not None:
                notes.append(f"industry {name}: counterfactuals after the first {_PILOT} by the "
                             f"pool pass over all {len(pts):,} locations' pairs; {redone} of "
                             f"{n_sims - _PILOT} redone by the per-sample kernels")
                del pool
            if sd_path:
                notes.append(f"industry {name}: bandwidths from the sd (IQR / 1.34 > sd proved "
                             f"by a count histogram); {redone} of {n_sims - _PILOT} "
                             "counterfactuals needed the general path")
            kd = obs[0]
            bad = ~np.all(np.isfinite(sims), axis=1)
            if bad.any():
                notes.append(f"industry {name}: {int(bad.sum())} counterfactual(s) had no "
                             "bandwidth (all pairs at one distance) and were dropped")
                sims = sims[~bad]
            if not np.all(np.isfinite(kd)) or sims.shape[0] < 20:
                notes.append(f"industry {name}: K-density undefined (all pairs at one distance)")
                continue
            loc_lo, loc_hi = np.quantile(sims, [alpha, 1.0 - alpha], axis=0)
            g_hi = _global_band(sims, on_grid, alpha, upper=True)
            g_lo = _global_band(sims, on_grid, alpha, upper=False)
            above = np.maximum(kd - g_hi, 0.0)[on_grid]
            below = np.maximum(g_lo - kd, 0.0)[on_grid]
            gamma = float(above.sum() * step)
            psi = float(below.sum() * step) if gamma == 0.0 else 0.0
            full = pd.DataFrame({
                "industry": name, "distance": evals, "kd": kd, "local_lo": loc_lo,
                "local_hi": loc_hi, "global_lo": g_lo, "global_hi": g_hi,
                "localised": kd > g_hi, "dispersed": kd < g_lo})
            rows.append(full.iloc[pos_out].reset_index(drop=True))
            curves.append(full[on_grid].reset_index(drop=True))
            index_rows.append({
                "industry": name, "n": int(n), "bandwidth": float(h_obs[0]), "gamma": gamma,
                "psi": psi, "localised": gamma > 0, "dispersed": psi > 0,
                "localised_at": _ranges(grid, (kd > g_hi)[on_grid])})
            if n < 10:
                notes.append(f"industry {name}: only {n} establishments; bands are wide")
            if keep_simulations:
                sims_kept[name] = (evals, sims)

    table = (pd.concat(rows, ignore_index=True) if rows
             else pd.DataFrame(columns=TABLE_COLUMNS))
    indices = pd.DataFrame(index_rows, columns=INDEX_COLUMNS)
    params = {
        "measure": "Kemp" if weight else "Kd", "industry": industry, "x": x, "y": y,
        "planar": planar, "weight": weight, "n_establishments": n_all,
        "n_locations": len(pts), "industries": len(chosen), "cutoff": cutoff,
        "n_grid": n_grid, "r": None if r is None else r_out.tolist(),
        "bandwidth": bandwidth, "kernel": "gaussian, reflected at 0", "n_sims": n_sims,
        "alpha": alpha, "seed": seed, "mode": mode,
        "null": "industry sites drawn without replacement from all establishments' sites",
    }
    title = f"Duranton–Overman {'Kemp' if weight else 'Kd'} K-density 距离核密度"
    return KDensityResult(table=table, params=params, notes=notes, title=title, indices=indices,
                          simulations=sims_kept, curves=pd.concat(curves, ignore_index=True)
                          if curves else pd.DataFrame(columns=TABLE_COLUMNS))


__all__ = ["KDensityResult", "kdensity"]
