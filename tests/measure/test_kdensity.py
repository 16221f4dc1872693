"""Duranton–Overman K-density: brute-force reference, invariants, bands, inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist

from clusteratlas.errors import InputError
from clusteratlas.geo.distance import pairwise_km
from clusteratlas.measure import _kdensity_kernels as kern
from clusteratlas.measure.kdensity import _global_band, kdensity

SEED = 20261128
RADIUS_KM = 6371.0088
NO_WIN = np.zeros((2, 2))


def brute_force(x: np.ndarray, y: np.ndarray, e: np.ndarray | None, rs: np.ndarray,
                sphere: bool) -> tuple[np.ndarray, float]:
    """DO (2005) eq. (1)/(5) written out over every establishment pair, in plain NumPy."""
    d = pairwise_km(x, y) if sphere else pdist(np.column_stack([x, y]))
    n = len(x)
    i, j = np.triu_indices(n, 1)
    w = np.ones_like(d) if e is None else e[i] * e[j]
    q75, q25 = np.percentile(d, [75, 25])  # type 7, as R
    h = 0.9 * min(d.std(ddof=1), (q75 - q25) / 1.34) * len(d) ** -0.2
    z1 = (rs[:, None] - d[None, :]) / h
    z2 = (rs[:, None] + d[None, :]) / h
    k = (w * (np.exp(-z1**2 / 2) + np.exp(-z2**2 / 2))).sum(1) / (np.sqrt(2 * np.pi) * h * w.sum())
    return k, h


def _sample(sphere: bool, n: int = 90, sites: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    if sphere:
        sx, sy = rng.uniform(110, 122, sites), rng.uniform(22, 40, sites)
    else:
        sx, sy = rng.uniform(0, 100, sites), rng.uniform(0, 100, sites)
    pick = rng.integers(0, sites, n)  # many establishments share a site
    return sx[pick], sy[pick], rng.uniform(1, 80, n)


def _coords(x: np.ndarray, y: np.ndarray, sphere: bool) -> tuple[np.ndarray, np.ndarray]:
    from clusteratlas.geo.distance import unit_xyz

    pts, loc = np.unique(np.column_stack([x, y]), axis=0, return_inverse=True)
    c = unit_xyz(pts[:, 0], pts[:, 1]) if sphere else np.column_stack([pts, np.zeros(len(pts))])
    return np.ascontiguousarray(c), loc.ravel().astype(np.int64)


@pytest.mark.parametrize("sphere", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_exact_and_fast_match_brute_force(sphere: bool, weighted: bool) -> None:
    x, y, e = _sample(sphere)
    rs = np.linspace(0, 1500 if sphere else 90, 37)
    ref, h_ref = brute_force(x, y, e if weighted else None, rs, sphere)
    coords, loc = _coords(x, y, sphere)
    ew = e if weighted else np.ones(len(x))
    k_exact, h_exact = kern.sample_exact(loc, ew, coords, sphere, 6371.0088, rs, 0.9, 0.0)
    k_fast, h_fast, *_ = kern.sample_fast(loc, ew, coords, sphere, 6371.0088, rs, 0.9, 0.0, 5000.0,
                                          NO_WIN, -1.0)
    assert h_exact == pytest.approx(h_ref, rel=1e-12)
    assert h_fast == pytest.approx(h_ref, rel=1e-12)  # the fast path's bandwidth is exact too
    np.testing.assert_allclose(k_exact, ref, rtol=1e-9, atol=1e-12 * ref.max())
    np.testing.assert_allclose(k_fast, ref, rtol=0, atol=1e-6 * ref.max())


def test_integrates_to_one() -> None:
    x, y, e = _sample(False)
    coords, loc = _coords(x, y, False)
    rs = np.linspace(0, 400, 8001)
    for ew in (np.ones(len(x)), e):
        for fn in (kern.sample_exact, kern.sample_fast):
            args = (loc, ew, coords, False, 6371.0088, rs, 0.9, 0.0)
            k = fn(*args)[0] if fn is kern.sample_exact else fn(*args, 500.0, NO_WIN, -1.0)[0]
            assert np.trapezoid(k, rs) == pytest.approx(1.0, abs=1e-6)


def test_reflection_has_zero_slope_at_zero() -> None:
    x, y, _ = _sample(False)
    coords, loc = _coords(x, y, False)
    k, _ = kern.sample_exact(loc, np.ones(len(x)), coords, False, 1.0, np.array([0.0, 1e-6]), 0.9, 0.0)
    assert abs(k[1] - k[0]) < 1e-9 * k[0]


def test_global_band_crossing_share() -> None:
    rng = np.random.default_rng(SEED)
    sims = rng.normal(size=(400, 60)) + rng.normal(size=(400, 1))
    on = np.ones(60, dtype=bool)
    hi = _global_band(sims, on, 0.05, upper=True)
    lo = _global_band(sims, on, 0.05, upper=False)
    # at most 5 % of the counterfactuals cross; one rank lower, more than 5 % would
    asc = np.sort(sims, axis=0)
    assert np.mean((sims > hi).any(axis=1)) <= 0.05
    assert np.mean((sims < lo).any(axis=1)) <= 0.05
    j = int(np.flatnonzero(np.all(asc == hi, axis=1))[0])
    assert np.mean((sims > asc[j - 1]).any(axis=1)) > 0.05
    jl = int(np.flatnonzero(np.all(asc == lo, axis=1))[0])
    assert np.mean((sims < asc[jl + 1]).any(axis=1)) > 0.05
    # wider than the local 95 % band, inside the range of the counterfactuals
    assert np.all(hi >= np.quantile(sims, 0.95, axis=0) - 1e-12)
    assert np.all(hi <= sims.max(axis=0) + 1e-12)
    assert np.all(lo <= np.quantile(sims, 0.05, axis=0) + 1e-12)


def _economy(n_clustered: int = 40, n_random: int = 60, n_other: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    xy = rng.uniform(0, 100, (n_clustered + n_random + n_other, 2))
    xy[:n_clustered] = rng.normal(30, 2, (n_clustered, 2))
    ind = ["clustered"] * n_clustered + ["random"] * n_random + ["other"] * n_other
    return pd.DataFrame({"sector": ind, "x": xy[:, 0], "y": xy[:, 1],
                         "emp": rng.integers(1, 200, len(ind)).astype(float)})


def test_planted_cluster_is_localised_random_is_not() -> None:
    df = _economy()
    before = df.copy()
    res = kdensity(df, ["clustered", "random"], industry="sector", x="x", y="y", planar=True,
                   n_sims=99, seed=1)
    pd.testing.assert_frame_equal(df, before)  # caller's frame untouched
    idx = res.indices.set_index("industry")
    assert bool(idx.loc["clustered", "localised"]) and idx.loc["clustered", "gamma"] > 0
    assert not bool(idx.loc["random", "localised"])
    assert idx.loc["clustered", "localised_at"].startswith("0–")
    assert list(res.table.columns) == ["industry", "distance", "kd", "local_lo", "local_hi",
                                       "global_lo", "global_hi", "localised", "dispersed"]
    t = res.table
    assert (t.local_lo <= t.local_hi).all() and (t.global_lo <= t.local_lo + 1e-12).all()
    assert (t.global_hi >= t.local_hi - 1e-12).all()
    assert res.params["seed"] == 1 and res.params["n_sims"] == 99
    assert "clustered" in res.summary()
    fig = res.plot("clustered")
    assert len(fig.data) == 5


def test_seed_reproduces_and_threads_do_not_matter() -> None:
    df = _economy()
    kw = dict(industry="sector", x="x", y="y", planar=True, n_sims=40, r=[0, 5, 10, 20],
              weight="emp")
    a = kdensity(df, "random", seed=7, n_jobs=1, **kw)
    b = kdensity(df, "random", seed=7, n_jobs=2, **kw)
    c = kdensity(df, "random", seed=8, **kw)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert not np.allclose(a.table.local_hi, c.table.local_hi)
    assert a.params["measure"] == "Kemp"
    assert list(a.table.distance) == [0, 5, 10, 20]


def test_fast_mode_matches_exact_mode_with_bands() -> None:
    df = _economy()
    kw = dict(industry="sector", x="x", y="y", planar=True, n_sims=40, seed=3)
    fast = kdensity(df, ["clustered", "random"], **kw)
    exact = kdensity(df, ["clustered", "random"], mode="exact", **kw)
    for col in ("kd", "local_lo", "local_hi", "global_lo", "global_hi"):
        scale = exact.table.groupby("industry")[col].transform("max")
        assert (np.abs(fast.table[col] - exact.table[col]) <= 1e-6 * scale).all(), col
    assert (fast.table.localised == exact.table.localised).all()
    assert (fast.table.dispersed == exact.table.dispersed).all()


def test_lonlat_input_and_default_cutoff() -> None:
    rng = np.random.default_rng(SEED)
    n = 300
    df = pd.DataFrame({"industry": rng.choice(["a", "b", "c"], n),
                       "lon": rng.uniform(113, 115, n), "lat": rng.uniform(22, 24, n)})
    res = kdensity(df, n_sims=20, seed=2, n_grid=11)
    d = pairwise_km(df.lon, df.lat)
    assert res.params["cutoff"] == pytest.approx(float(np.median(d)), rel=1e-12)
    assert set(res.indices.industry) == {"a", "b", "c"}
    assert len(res.table) == 33


def test_bandwidth_options_recorded() -> None:
    df = _economy()
    kw = dict(industry="sector", x="x", y="y", planar=True, n_sims=20, seed=1, n_grid=5)
    fixed = kdensity(df, "random", bandwidth=2.5, **kw)
    assert fixed.params["bandwidth"] == 2.5
    assert fixed.indices.bandwidth.iloc[0] == 2.5
    silver = kdensity(df, "random", **kw).indices.bandwidth.iloc[0]
    scott = kdensity(df, "random", bandwidth="scott", **kw).indices.bandwidth.iloc[0]
    assert scott == pytest.approx(silver * 1.06 / 0.9, rel=1e-12)


def test_bad_input_is_named() -> None:
    df = _economy()
    with pytest.raises(InputError, match="'lon'"):
        kdensity(df, industry="sector")
    bad = df.copy()
    bad.loc[3, "x"] = np.nan
    with pytest.raises(InputError, match=r"'x', rows \[3\]"):
        kdensity(bad, industry="sector", x="x", y="y", planar=True)
    neg = df.copy()
    neg.loc[5, "emp"] = -1
    with pytest.raises(InputError, match=r"'emp', rows \[5\]"):
        kdensity(neg, industry="sector", x="x", y="y", planar=True, weight="emp")
    with pytest.raises(InputError, match="not found"):
        kdensity(df, "nope", industry="sector", x="x", y="y", planar=True)
    with pytest.raises(ValueError, match="n_sims"):
        kdensity(df, industry="sector", x="x", y="y", planar=True, n_sims=5)
    with pytest.raises(ValueError, match="bandwidth"):
        kdensity(df, industry="sector", x="x", y="y", planar=True, bandwidth="sj")  # type: ignore[arg-type]


def test_tiny_industry_is_skipped_with_a_note() -> None:
    df = _economy()
    df.loc[0:1, "sector"] = "pair"
    res = kdensity(df, "pair", industry="sector", x="x", y="y", planar=True, n_sims=20, seed=1)
    assert res.table.empty and any("pair" in n and "at least 3" in n for n in res.notes)


def test_single_pass_path_agrees_and_falls_back() -> None:
    rng = np.random.default_rng(SEED)
    x, y = rng.uniform(0, 100, 150), rng.uniform(0, 100, 150)
    x[:20], y[:20] = x[20:40], y[20:40]  # shared sites: zero distances
    coords, loc = _coords(x, y, False)
    rs = np.linspace(0, 60, 25)
    args = (loc, np.ones(150), coords, False, 1.0, rs, 0.9, 0.0, 200.0)
    k_gen, h_gen, q25, q75, _ = kern.sample_fast(*args, NO_WIN, -1.0)
    good = np.array([[q25 - 2.0, q25 + 1.0], [q75 - 1.0, q75 + 3.0]])
    k1, h1, q1, q3, _ = kern.sample_fast(*args, good, 0.9 * h_gen)
    assert (q1, q3, h1) == pytest.approx((q25, q75, h_gen), rel=1e-12)
    np.testing.assert_allclose(k1, k_gen, rtol=0, atol=1e-7 * k_gen.max())
    low = np.array([[0.0, q25 + 1.0], [q75 - 1.0, q75 + 3.0]])  # window from 0
    assert kern.sample_fast(*args, low, 0.9 * h_gen)[1] == pytest.approx(h_gen, rel=1e-12)
    for win, guess in ((np.array([[q25 + 0.5, q25 + 1.0], [q75 - 1.0, q75 + 3.0]]), 0.9),
                       (np.array([[q25 - 2.0, q25 + 1.0], [q75 - 3.0, q75 - 1.0]]), 0.9),
                       (good, 1.5)):  # quartile outside a window; grid guess too coarse
        k2, h2, *_ = kern.sample_fast(*args, win, guess * h_gen)
        assert h2 == pytest.approx(h_gen, rel=1e-12)
        np.testing.assert_allclose(k2, k_gen, rtol=0, atol=1e-7 * k_gen.max())


def test_default_cutoff_counts_shared_sites() -> None:
    # 4 establishments: two share a site at (0, 0), one at (3, 4), one at (6, 8).
    # Pair distances: 0, 5, 5, 10, 10, 5 → median 5; with a third at (0, 0): 0,0,0,5,5,5,10,10,10,5
    df = pd.DataFrame({"industry": ["a", "a", "b", "b"], "x": [0.0, 0.0, 3.0, 6.0],
                       "y": [0.0, 0.0, 4.0, 8.0]})
    res = kdensity(df, "a", x="x", y="y", planar=True, n_sims=20, seed=1)
    assert res.params["cutoff"] == 5.0
    df2 = pd.concat([df, pd.DataFrame({"industry": ["b"], "x": [0.0], "y": [0.0]})])
    res2 = kdensity(df2, "b", x="x", y="y", planar=True, n_sims=20, seed=1)
    assert res2.params["cutoff"] == 5.0


def test_docstring_examples() -> None:
    import doctest

    import clusteratlas.measure.kdensity as kd

    result = doctest.testmod(kd)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("sphere", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_sd_path_agrees_with_general_path(sphere: bool, weighted: bool) -> None:
    rng = np.random.default_rng(SEED)
    n = 160
    if sphere:
        x, y = rng.uniform(105, 120, n), rng.uniform(22, 40, n)
    else:
        x, y = rng.uniform(0, 100, n), rng.uniform(0, 100, n)
    x[:15], y[:15] = x[15:30], y[15:30]  # shared sites: zero distances
    coords, loc = _coords(x, y, sphere)
    e = rng.uniform(1, 50, n) if weighted else np.ones(n)
    rs = np.linspace(0, 900 if sphere else 60, 25)
    args = (loc, e, coords, sphere, 6371.0088, rs, 0.9)
    k_gen, h_gen, q25, q75, sd = kern.sample_fast(*args, 0.0, 5000.0, NO_WIN, -1.0)
    assert (q75 - q25) / 1.34 > sd  # uniform points: the sd sets the bandwidth
    k_sd, h_sd, *_ = kern.sample_fast_sd(*args, 5000.0, 0.9 * h_gen)
    assert h_sd == pytest.approx(h_gen, rel=1e-12)
    np.testing.assert_allclose(k_sd, k_gen, rtol=0, atol=1e-7 * k_gen.max())
    ref, _ = brute_force(x, y, e if weighted else None, rs, sphere)
    np.testing.assert_allclose(k_sd, ref, rtol=0, atol=1e-6 * ref.max())
    # a guess so coarse the grid cannot serve the exact h: the general path answers
    k_bad, h_bad, *_ = kern.sample_fast_sd(*args, 5000.0, 3.0 * h_gen)
    assert h_bad == pytest.approx(h_gen, rel=1e-12)
    np.testing.assert_allclose(k_bad, k_gen, rtol=0, atol=1e-12 * k_gen.max())


def test_sd_path_falls_back_when_the_iqr_rules() -> None:
    rng = np.random.default_rng(SEED)
    # a tight cluster plus far outliers: heavy-tailed distances, IQR / 1.34 < sd
    xy = np.vstack([rng.normal(0, 1, (120, 2)), rng.uniform(200, 300, (8, 2))])
    coords, loc = _coords(xy[:, 0], xy[:, 1], False)
    rs = np.linspace(0, 10, 21)
    args = (loc, np.ones(len(xy)), coords, False, 1.0, rs, 0.9)
    k_gen, h_gen, q25, q75, sd = kern.sample_fast(*args, 0.0, 500.0, NO_WIN, -1.0)
    assert (q75 - q25) / 1.34 < sd
    k_sd, h_sd, *_ = kern.sample_fast_sd(*args, 500.0, 0.9 * h_gen)
    assert h_sd == pytest.approx(h_gen, rel=1e-12)
    np.testing.assert_allclose(k_sd, k_gen, rtol=0, atol=1e-12 * k_gen.max())


def test_asin_series_matches_libm() -> None:
    x = np.linspace(0.0, 0.58, 2001)
    for xmax in (0.05, 0.15, 0.3, 0.5, 0.58):
        nt = kern._asin_terms(xmax)
        c = kern._asin_coefs(min(nt, kern.ASIN_TERMS[-1]))
        xs = x[x <= xmax]
        series = xs * np.polyval(c[:nt][::-1], xs * xs)
        if nt <= kern.ASIN_TERMS[-1]:
            np.testing.assert_allclose(series, np.arcsin(xs), rtol=2e-15, atol=0)
    assert kern._asin_terms(0.95) > kern.ASIN_TERMS[-1]  # wide samples call math.asin


@pytest.mark.parametrize(("lon_span", "lat_span", "terms"),
                         [((100, 101), (30, 31), 12), ((73, 135), (18, 54), 16),
                          ((-180, 180), (-60, 60), 1000)])  # 1000: math.asin
def test_economised_asin_matches_libm(lon_span: tuple, lat_span: tuple, terms: int) -> None:
    rng = np.random.default_rng(SEED)
    coords, _ = _coords(rng.uniform(*lon_span, 3000), rng.uniform(*lat_span, 3000), True)
    # the bound holds: no two points are farther apart than it allows
    i, j = rng.integers(0, 3000, (2, 200_000))
    half = 0.5 * np.linalg.norm(coords[i] - coords[j], axis=1)
    c = coords.T.copy()
    assert half.max() <= kern.half_chord_bound(c[0], c[1], c[2])
    # the gridded bound holds against every pair, and is the tighter one
    farthest = 0.5 * pdist(coords).max()
    tight = kern.half_chord_bound_gridded(c[0], c[1], c[2])
    assert farthest <= tight <= kern.half_chord_bound(c[0], c[1], c[2])
    if terms < 1000:
        assert tight <= farthest * 1.05  # cubes of a 64th of the extent: a few per cent
    nterms, coefs = kern.asin_economised(coords)
    # 12 terms for a county, 16 for China's bounding box (Maclaurin: 12 and 32); the large demo
    # economy's sites, China's own shape, take 12
    assert nterms <= terms
    out = np.empty(3000)
    for a in (0, 1234, 2998):
        kern.row_distances_to(*coords[a], c[0], c[1], c[2], 0, 3000, True, RADIUS_KM, coefs,
                              nterms, out)
        ref = 2 * RADIUS_KM * np.arcsin(np.minimum(
            0.5 * np.linalg.norm(coords - coords[a], axis=1), 1.0))
        np.testing.assert_allclose(out, ref, rtol=1e-14, atol=1e-12)


def test_gridded_half_chord_bound_small_sets() -> None:
    # two points a quarter circle apart: half chord √2 / 2; one point (repeated): 0
    a = np.array([1.0, 0.0])
    b = np.array([0.0, 1.0])
    z = np.zeros(2)
    bound = kern.half_chord_bound_gridded(a, b, z)
    assert math.sqrt(0.5) <= bound <= math.sqrt(0.5) * 1.05
    one = np.ones(3) / math.sqrt(3.0)
    assert kern.half_chord_bound_gridded(one, one, one) == 0.0
    # many points in a few far-apart clumps: few occupied cubes, still a bound
    rng = np.random.default_rng(SEED)
    pts = np.repeat(rng.normal(size=(5, 3)), 400, axis=0) + rng.normal(0, 1e-4, (2000, 3))
    pts /= np.linalg.norm(pts, axis=1)[:, None]
    c = pts.T.copy()
    assert 0.5 * pdist(pts).max() <= kern.half_chord_bound_gridded(c[0], c[1], c[2])


def test_single_pass_with_distinct_sites_keeps_exact_quartiles() -> None:
    rng = np.random.default_rng(SEED + 1)
    x, y = rng.uniform(0, 100, 150), rng.uniform(0, 100, 150)  # every site distinct
    coords, loc = _coords(x, y, False)
    rs = np.linspace(0, 60, 25)
    args = (loc, np.ones(150), coords, False, 1.0, rs, 0.9, 0.0, 200.0)
    k_gen, h_gen, q25, q75, _ = kern.sample_fast(*args, NO_WIN, -1.0)
    # overlapping windows: a distance inside both is kept for both
    for win in (np.array([[q25 - 2.0, q25 + 1.0], [q75 - 1.0, q75 + 3.0]]),
                np.array([[q25 - 2.0, q75 + 1.0], [q25 - 1.0, q75 + 3.0]])):
        k1, h1, q1, q3, _ = kern.sample_fast(*args, win, 0.9 * h_gen)
        assert (q1, q3, h1) == pytest.approx((q25, q75, h_gen), rel=1e-12)
        np.testing.assert_allclose(k1, k_gen, rtol=0, atol=1e-7 * k_gen.max())
