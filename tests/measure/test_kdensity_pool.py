"""Pool pass of the K-density: the same counterfactual estimates as the per-sample kernels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import pdist
from test_kdensity import NO_WIN, SEED, _coords, brute_force

from clusteratlas.measure import _kdensity_kernels as kern
from clusteratlas.measure import _kdensity_pool as kpool
from clusteratlas.measure.kdensity import kdensity

RADIUS = 6371.0088


def _economy(sphere: bool, sites: int = 300, shared: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    if sphere:
        x, y = rng.uniform(105, 120, sites), rng.uniform(22, 40, sites)
    else:
        x, y = rng.uniform(0, 100, sites), rng.uniform(0, 100, sites)
    # some establishments share a site: draws put up to 3 establishments on one location
    extra = rng.integers(0, sites, shared)
    return np.concatenate([x, x[extra], x[extra[:10]]]), np.concatenate([y, y[extra], y[extra[:10]]])


@pytest.mark.parametrize("sphere", [False, True])
def test_pool_moments_equal_a_histogram_of_each_draw(sphere: bool) -> None:
    x, y = _economy(sphere)
    coords, loc = _coords(x, y, sphere)
    delta = 25.0 if sphere else 1.5
    dmax = 2500.0 if sphere else 150.0
    pool = kpool.PoolPairs(coords, sphere, RADIUS, delta, dmax)
    rng = np.random.default_rng(1)
    draws = np.stack([rng.choice(len(x), 120, replace=False) for _ in range(5)])
    lanes, big = kpool.lane_counts(loc[draws], coords.shape[0])
    assert big >= 2  # shared locations are drawn more than once somewhere
    mom = kpool.pool_moments(pool.starts, pool.pi, pool.pj, pool.pu, lanes, pool.groups)
    nb = mom.shape[0]
    for k in range(5):
        # pairs of establishments at distinct locations, straight from their coordinates
        xs, ys = x[draws[k]], y[draws[k]]
        if sphere:
            from clusteratlas.geo.distance import pairwise_km
            d = pairwise_km(xs, ys)
        else:
            d = pdist(np.column_stack([xs, ys]))
        d = d[d > 0]
        ib = np.minimum((d / delta).astype(int), nb - 1)
        u = d - (ib + 0.5) * delta
        np.testing.assert_array_equal(mom[:, 0, k], np.bincount(ib, minlength=nb))
        np.testing.assert_allclose(mom[:, 1, k], np.bincount(ib, u, minlength=nb),
                                   rtol=0, atol=1e-5 * delta)
        np.testing.assert_allclose(mom[:, 2, k], np.bincount(ib, u * u, minlength=nb),
                                   rtol=0, atol=1e-5 * delta**2)
    assert (mom[:, :, 5:] == 0).all()  # unused lanes stay empty


@pytest.mark.parametrize("sphere", [False, True])
def test_pool_finish_matches_the_general_path(sphere: bool) -> None:
    x, y = _economy(sphere)
    coords, loc = _coords(x, y, sphere)
    rs = np.linspace(0, 1200 if sphere else 70, 31)
    rng = np.random.default_rng(2)
    draws = np.stack([rng.choice(len(x), 150, replace=False) for _ in range(7)])
    one = np.ones(150)
    gen = [kern.sample_fast(loc[d], one, coords, sphere, RADIUS, rs, 0.9, 0.0, 5000.0, NO_WIN,
                            -1.0) for d in draws]
    h_min = min(g[1] for g in gen)
    delta = 0.9 * h_min / kern.GRID_PER_H
    pool = kpool.PoolPairs(coords, sphere, RADIUS, delta, 5000.0 if sphere else 150.0)
    k_pool, stats, ok = pool.run(loc[draws], rs, 0.9, 0.0)
    assert ok.all()
    for k, (k_gen, h, q25, q75, sd) in enumerate(gen):
        # the bandwidth and its ingredients are exact: same as the general path
        assert stats[k] == pytest.approx([h, q25, q75, sd], rel=1e-11)
        np.testing.assert_allclose(k_pool[k], k_gen, rtol=0, atol=2e-7 * k_gen.max())
        ref, h_ref = brute_force(x[draws[k]], y[draws[k]], None, rs, sphere)
        assert h == pytest.approx(h_ref, rel=1e-12)
        np.testing.assert_allclose(k_pool[k], ref, rtol=0, atol=1e-6 * ref.max())


def test_pool_flags_draws_whose_bandwidth_is_too_small_for_its_grid() -> None:
    x, y = _economy(False)
    coords, loc = _coords(x, y, False)
    rs = np.linspace(0, 70, 11)
    draws = np.stack([np.random.default_rng(3).choice(len(x), 150, replace=False)])
    _, h, *_ = kern.sample_fast(loc[draws[0]], np.ones(150), coords, False, RADIUS, rs, 0.9,
                                0.0, 150.0, NO_WIN, -1.0)
    coarse = kpool.PoolPairs(coords, False, RADIUS, 2.0 * h / kern.GRID_PER_H, 150.0)
    k, stats, ok = coarse.run(loc[draws], rs, 0.9, 0.0)
    assert not ok[0] and np.isnan(k[0]).all()
    assert stats[0, 0] == pytest.approx(h, rel=1e-11)
    fixed = kpool.PoolPairs(coords, False, RADIUS, 0.5 / kern.GRID_PER_H, 150.0)
    k_fixed, st_fixed, ok_fixed = fixed.run(loc[draws], rs, 0.0, 0.5)  # a fixed bandwidth
    k_ref, _ = kern.sample_exact(loc[draws[0]], np.ones(150), coords, False, RADIUS, rs, 0.0, 0.5)
    assert ok_fixed[0] and st_fixed[0, 0] == 0.5
    np.testing.assert_allclose(k_fixed[0], k_ref, rtol=0, atol=1e-6 * k_ref.max())


def test_worthwhile_only_for_dense_industries_in_small_economies() -> None:
    assert kpool.worthwhile(5000, 10_000, 1, 0.5, 1414.0, 984)
    assert not kpool.worthwhile(2000, 200_000, 1, 0.5, 1414.0, 984)  # too many locations
    assert not kpool.worthwhile(500, 10_000, 1, 0.5, 1414.0, 984)  # industry too small
    assert not kpool.worthwhile(5000, 10_000, 16, 0.5, 1414.0, 984)  # counts beyond a byte product
    assert not kpool.worthwhile(5000, 10_000, 1, 0.001, 1414.0, 984)  # grid too fine
    assert not kpool.worthwhile(5000, 10_000, 1, 0.5, 1414.0, 10)  # fewer draws than lanes


@pytest.mark.parametrize(("bandwidth", "weight"), [("silverman", None), (6.0, None),
                                                  ("silverman", "emp")])
def test_kdensity_with_and_without_the_pool_pass(monkeypatch: pytest.MonkeyPatch,
                                                 bandwidth: str | float, weight: str | None) -> None:
    rng = np.random.default_rng(SEED)
    n_sites = 900
    xy = rng.uniform(0, 100, (n_sites, 2))
    xy[:150] = rng.normal(30, 4, (150, 2))  # a localised part of the industry
    xy[880:] = xy[:20]  # shared sites: zero distances, locations drawn twice
    df = pd.DataFrame({"sector": ["a"] * 400 + ["b"] * (n_sites - 400),
                       "x": xy[:, 0], "y": xy[:, 1],
                       "emp": rng.integers(1, 300, n_sites).astype(float)})
    kw = dict(industry="sector", x="x", y="y", planar=True, n_sims=100, seed=4,
              bandwidth=bandwidth, weight=weight, keep_simulations=True)
    with_pool = kdensity(df, "a", **kw)
    assert any("pool pass" in note for note in with_pool.notes)
    monkeypatch.setattr(kpool, "worthwhile", lambda *a, **k: False)
    direct = kdensity(df, "a", **kw)
    assert not any("pool pass" in note for note in direct.notes)
    s_pool, s_direct = with_pool.simulations["a"][1], direct.simulations["a"][1]
    # the same counterfactual draws, estimated two ways
    np.testing.assert_allclose(s_pool, s_direct, rtol=0, atol=2e-7 * s_direct.max())
    for col in ("localised", "dispersed"):
        assert (with_pool.table[col] == direct.table[col]).all()
    assert with_pool.indices.localised.iloc[0]
