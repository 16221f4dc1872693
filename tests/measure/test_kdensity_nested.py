"""Nested counterfactuals: one ordered draw gives every industry the fast mode's estimate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_kdensity import NO_WIN, _coords, brute_force

from clusteratlas.measure import _kdensity_kernels as kern
from clusteratlas.measure import _kdensity_nested as knest
from clusteratlas.measure.kdensity import kdensity

RADIUS = 6371.0088
SIZES = np.array([60, 150, 151, 400])


def _setup(sphere: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 3000
    if sphere:
        x, y = rng.uniform(100, 120, n), rng.uniform(22, 40, n)
    else:
        x, y = rng.uniform(0, 100, n), rng.uniform(0, 100, n)
    x[-100:], y[-100:] = x[:100], y[:100]  # shared sites: zero distances
    coords, loc = _coords(x, y, sphere)
    draw = rng.choice(n, SIZES[-1], replace=False)
    return x, y, coords, loc, draw


def _run(coords, loc, draw, sphere, win, fixed_h=0.0, tile=2048, group=64):
    rs = np.linspace(0, 1000 if sphere else 60, 41)
    gen = [kern.sample_fast(loc[draw[:s]], np.ones(s), coords, sphere, RADIUS, rs, 0.9, fixed_h,
                            5000.0, NO_WIN, -1.0) for s in SIZES]
    h = [g[1] for g in gen]
    delta = 0.9 * min(h) / kern.GRID_PER_H
    nb = int((rs.max() + kern.TRUNC_H * 1.5 * max(h)) / delta) + 2
    cap = 10**6
    nterms, coefs = kern.asin_economised(coords) if sphere else (0, np.zeros(32))
    out, st, ok = knest.nested_sample(loc[draw], coords, sphere, RADIUS, SIZES, win, delta, nb,
                                      rs, 0.9, fixed_h, kern.GRID_PER_H, kern.TRUNC_H, cap, True,
                                      coefs, nterms, tile, group)
    return rs, gen, out, st, ok


def _windows(gen: list, pad: float) -> np.ndarray:
    q25 = [g[2] for g in gen]
    q75 = [g[3] for g in gen]
    one = [[min(q25) * (1 - pad), max(q25) * (1 + pad)], [min(q75) * (1 - pad), max(q75) * (1 + pad)]]
    return knest.nest_windows(np.array([one] * len(SIZES)))


# (2048, 64): the default, one tile here; the small tiles and groups cross every boundary
# (tiles, groups, industry sizes) that a large draw does
@pytest.mark.parametrize(("sphere", "tile", "group"),
                         [(False, 2048, 64), (True, 2048, 64), (False, 37, 5), (True, 64, 16)])
def test_each_prefix_is_the_fast_estimate_of_that_subset(sphere: bool, tile: int,
                                                         group: int) -> None:
    x, y, coords, loc, draw = _setup(sphere)
    rs = np.linspace(0, 1000 if sphere else 60, 41)
    gen = [kern.sample_fast(loc[draw[:s]], np.ones(s), coords, sphere, RADIUS, rs, 0.9, 0.0,
                            5000.0, NO_WIN, -1.0) for s in SIZES]
    rs, gen, out, st, ok = _run(coords, loc, draw, sphere, _windows(gen, 0.1), tile=tile,
                                group=group)
    assert ok.all()
    for k, (k_gen, h, q25, q75, sd) in enumerate(gen):
        # bandwidth, quartiles and sd exact: the same as the general path on that prefix
        assert st[k] == pytest.approx([h, q25, q75, sd], rel=1e-11)
        np.testing.assert_allclose(out[k], k_gen, rtol=0, atol=2e-7 * k_gen.max())
        ref, h_ref = brute_force(x[draw[:SIZES[k]]], y[draw[:SIZES[k]]], None, rs, sphere)
        assert h == pytest.approx(h_ref, rel=1e-12)
        np.testing.assert_allclose(out[k], ref, rtol=0, atol=1e-6 * ref.max())


def test_a_quartile_outside_its_window_is_flagged_not_guessed() -> None:
    _, _, coords, loc, draw = _setup(False)
    rs = np.linspace(0, 60, 41)
    gen = [kern.sample_fast(loc[draw[:s]], np.ones(s), coords, False, RADIUS, rs, 0.9, 0.0,
                            5000.0, NO_WIN, -1.0) for s in SIZES]
    win = _windows(gen, 0.1)
    q25_last = gen[-1][2]
    win[-1, 0] = (q25_last * 1.001, q25_last * 1.002)  # the largest prefix's window misses
    *_, ok = _run(coords, loc, draw, False, win)
    assert ok[:-1].all() and not ok[-1]
    # a fixed bandwidth needs no quartiles: every prefix is served
    *_, ok_fixed = _run(coords, loc, draw, False, win, fixed_h=4.0)
    assert ok_fixed.all()


def test_nest_windows_only_shrink() -> None:
    win = np.array([[[1.0, 5.0], [10.0, 20.0]], [[0.5, 4.0], [12.0, 25.0]], [[6.0, 7.0], [13, 14]]])
    out = knest.nest_windows(win)
    np.testing.assert_array_equal(out[1], [[1.0, 4.0], [12.0, 20.0]])
    assert out[2, 0, 0] == out[2, 0, 1]  # disjoint: a point, which any quartile misses


def test_kdensity_shared_draws_give_the_same_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    n_sites = 3000
    xy = rng.uniform(0, 100, (n_sites, 2))
    xy[:120] = rng.normal(25, 3, (120, 2))  # industry a: localised
    sector = np.array(["z"] * n_sites, dtype=object)
    sector[:200] = "a"
    sector[200:500] = "b"  # b and c: drawn at random
    sector[500:650] = "c"
    df = pd.DataFrame({"sector": sector, "x": xy[:, 0], "y": xy[:, 1]})
    kw = dict(industry="sector", x="x", y="y", planar=True, n_sims=200, seed=5,
              keep_simulations=True)
    shared = kdensity(df, ["a", "b", "c"], **kw)
    alone = kdensity(df, ["a", "b", "c"], shared_draws=False, **kw)
    assert any("shared ordered draws" in note for note in shared.notes)
    assert not any("shared ordered draws" in note for note in alone.notes)
    idx_s = shared.indices.set_index("industry")
    idx_a = alone.indices.set_index("industry")
    assert idx_s.loc["a", "localised"] and idx_a.loc["a", "localised"]
    assert idx_s.loc["a", "bandwidth"] == idx_a.loc["a", "bandwidth"]  # the observed industry
    for name in ("a", "b", "c"):
        s_sh = shared.simulations[name][1]
        s_al = alone.simulations[name][1]
        # the same null: mean counterfactual curves agree within their Monte-Carlo error
        se = np.sqrt(s_sh.var(axis=0) / len(s_sh) + s_al.var(axis=0) / len(s_al))
        assert np.all(np.abs(s_sh.mean(axis=0) - s_al.mean(axis=0)) <= 5 * se + 1e-12)


@pytest.mark.parametrize("single_pass_serves", [True, False])
def test_prefixes_that_miss_their_windows_are_redone(monkeypatch: pytest.MonkeyPatch,
                                                     single_pass_serves: bool) -> None:
    import clusteratlas.measure.kdensity as kd

    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 100, (1500, 2))
    xy[:80] = rng.normal(40, 2, (80, 2))
    sector = np.array(["z"] * 1500, dtype=object)
    sector[:150], sector[150:350] = "a", "b"  # Σ n² ≥ 1.5 max n²: draws are shared
    df = pd.DataFrame({"sector": sector, "x": xy[:, 0], "y": xy[:, 1]})
    kw = dict(industry="sector", x="x", y="y", planar=True, n_sims=40, seed=2,
              keep_simulations=True)
    good = kdensity(df, ["a", "b"], **kw)
    # windows far below every quartile: each prefix misses and goes to the per-sample kernels
    monkeypatch.setattr(kd, "_single_pass_windows",
                        lambda st, widen=0.25: (np.array([[1e-6, 2e-6], [3e-6, 4e-6]]), 1.0))
    if not single_pass_serves:  # nor the tiled single pass: the per-sample kernels
        single = kd._observed_single_pass

        def refuse(*args: object) -> tuple:
            out, st, ok = single(*args)
            return out, st, np.zeros_like(ok)

        monkeypatch.setattr(kd, "_observed_single_pass", refuse)
    redone = kdensity(df, ["a", "b"], **kw)
    note = next(n for n in redone.notes if "shared ordered draws" in n)
    assert "80 of 80 redone" in note
    for name in ("a", "b"):  # the same draws, the other path: the same estimates
        np.testing.assert_allclose(redone.simulations[name][1], good.simulations[name][1],
                                   rtol=0, atol=2e-7 * good.simulations[name][1].max())
    assert redone.indices.set_index("industry").loc["a", "localised"]


@pytest.mark.parametrize("sphere", [False, True])
def test_observed_single_pass_is_the_fast_estimate(sphere: bool) -> None:
    from clusteratlas.measure.kdensity import _observed_single_pass

    _, _, coords, loc, _ = _setup(sphere)
    rng = np.random.default_rng(5)
    samples = [loc[rng.choice(len(loc), n, replace=False)] for n in (300, 1200, 2999)]
    samples.append(samples[1].copy())
    samples[-1][:400] = samples[-1][0]  # many establishments at one site
    rs = np.linspace(0, 1000 if sphere else 60, 41)
    out, st, ok = _observed_single_pass(samples, coords, sphere, rs, 0.9, 0.0,
                                        np.random.default_rng(0))
    assert ok.all()
    for k, sample in enumerate(samples):
        k_gen, h, q25, q75, sd = kern.sample_fast(sample, np.ones(sample.size), coords, sphere,
                                                  RADIUS, rs, 0.9, 0.0, 5000.0, NO_WIN, -1.0)
        assert st[k] == pytest.approx([h, q25, q75, sd], rel=1e-11)
        np.testing.assert_allclose(out[k], k_gen, rtol=0, atol=2e-7 * k_gen.max())


def test_observed_industries_by_single_pass_or_kernels_agree(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import clusteratlas.measure.kdensity as kd

    rng = np.random.default_rng(8)
    xy = rng.uniform(0, 100, (2500, 2))
    xy[:100] = rng.normal(30, 2, (100, 2))
    sector = np.array(["z"] * 2500, dtype=object)
    sector[:300], sector[300:700] = "a", "b"
    df = pd.DataFrame({"sector": sector, "x": xy[:, 0], "y": xy[:, 1]})
    kw = dict(industry="sector", x="x", y="y", planar=True, n_sims=20, seed=4)
    by_kernels = kdensity(df, ["a", "b"], **kw)
    monkeypatch.setattr(kd, "_OBSERVED_SINGLE_MIN", 3)
    served = []
    single = kd._observed_single_pass

    def spy(*args: object) -> tuple:
        out = single(*args)
        served.append(out[2])
        return out

    monkeypatch.setattr(kd, "_observed_single_pass", spy)
    by_pass = kdensity(df, ["a", "b"], **kw)
    assert len(served) == 1 and served[0].all()  # both served by the single pass
    np.testing.assert_allclose(by_pass.table["kd"], by_kernels.table["kd"], rtol=0,
                               atol=2e-7 * by_kernels.table["kd"].max())
    pd.testing.assert_series_equal(by_pass.indices["bandwidth"], by_kernels.indices["bandwidth"],
                                   rtol=1e-11)


def _window_buffer(vals: np.ndarray, lo: float, hi: float, nchunks: int = 64) -> tuple:
    """Window 0's buffer holding ``vals`` (all inside [lo, hi]), as the pass keeps them."""
    wpar = np.zeros((2, 4))
    knest._set_window(wpar, 0, lo, hi)
    knest._set_window(wpar, 1, 0.0, 0.0)
    bufs = knest.new_buffers(nchunks)
    knest._push_listed(vals, np.ones(vals.size, dtype=np.uint8), np.arange(vals.size), vals.size,
                       wpar, *bufs)
    return wpar, bufs


def test_select_by_running_counts_matches_sorting() -> None:
    rng = np.random.default_rng(12)
    vals = rng.uniform(10.0, 20.0, 5000)
    vals[:50] = 15.0  # ties
    below = 700.0
    wpar, (pool, head, fill, chain, _free, meta, hist) = _window_buffer(vals, 10.0, 20.0)
    assert meta[0, 1] == vals.size and hist[0].sum() == vals.size
    ref = np.sort(vals)

    def select(j0: float, hist_: np.ndarray = hist) -> np.ndarray:
        return knest._select_counted(0, below, j0, j0 + 1, wpar, pool, head, fill, chain, meta,
                                     hist_)

    for j0 in (700.0, 701.0, 2500.0, 3100.0, 5698.0):
        np.testing.assert_array_equal(select(j0), ref[[int(j0 - below), int(j0 - below) + 1]])
    assert np.isnan(select(600.0)).all()  # below the window: not known
    # a value counted one sub-bin too low (as a rounding difference would): the gathered
    # values disagree with the counts, and the full selection decides, rightly
    wrong = hist.copy()
    b = knest._sub_bin(ref[1800], wpar[0, 0], wpar[0, 1])
    wrong[0, b] -= 1.0
    wrong[0, b - 1] += 1.0
    np.testing.assert_array_equal(select(2500.0, wrong), ref[[1800, 1801]])


def test_narrowing_a_window_moves_counts_not_distances() -> None:
    rng = np.random.default_rng(13)
    vals = rng.uniform(10.0, 20.0, 20_000)
    below = 300.0
    wpar, bufs = _window_buffer(vals, 10.0, 20.0, nchunks=200)
    pool, head, fill, chain, _free, meta, hist = bufs
    used = meta[0, 0]
    # narrowed to [12.5, 13.7]: the sub-bins covering it stay, those below move to the
    # count below, and buckets wholly outside give their chunks back
    gone = knest._narrow(0, 12.5, 13.7, wpar, *bufs)
    s_lo, s_hi = int(wpar[0, 2]), int(wpar[0, 3])
    sub = np.array([knest._sub_bin(d, wpar[0, 0], wpar[0, 1]) for d in vals])
    assert gone == (sub < s_lo).sum()
    assert meta[0, 1] == ((sub >= s_lo) & (sub <= s_hi)).sum() == hist[0].sum()
    # the kept sub-bins cover the new window
    assert wpar[0, 0] + s_lo / wpar[0, 1] <= 12.5 and wpar[0, 0] + (s_hi + 1) / wpar[0, 1] >= 13.7
    assert meta[0, 2] > 0 and meta[0, 0] == used  # chunks given back, none taken
    ref = np.sort(vals)
    j0 = below + gone + 100.0
    got = knest._select_counted(0, below + gone, j0, j0 + 1, wpar, pool, head, fill, chain,
                                meta, hist)
    np.testing.assert_array_equal(got, ref[[int(j0 - below), int(j0 - below) + 1]])
    # narrowed to a few sub-bins: binned afresh on the new window, the same order statistics
    gone2 = knest._narrow(0, 13.0, 13.001, wpar, *bufs)
    assert wpar[0, 0] == 13.0 and wpar[0, 3] == knest._NSUB
    inside = (vals >= 13.0) & (vals < 13.001)
    k = int((vals < 13.0).sum() + below)
    assert gone + gone2 + below <= k <= gone + gone2 + below + 2  # the edges' own rounding
    got = knest._select_counted(0, below + gone + gone2, float(k), float(k + 1), wpar, pool,
                                head, fill, chain, meta, hist)
    if inside.sum() >= 2:
        np.testing.assert_array_equal(got, ref[[k - int(below), k - int(below) + 1]])
    # narrowed to nothing: every pair counts as below, no quartile is found there
    knest._narrow(0, 14.0, 14.0, wpar, *bufs)
    assert meta[0, 1] == 0 and hist[0].sum() == 0


def test_coarsened_moments_give_the_same_density() -> None:
    rng = np.random.default_rng(21)
    d = rng.gamma(4.0, 10.0, 20_000)
    h, delta, f = 6.0, 6.0 / 32 / 7, 7  # a bandwidth 7 times the grid's h/32
    nb = int((60.0 + 8 * h) / delta) + 2
    mom = np.zeros((nb, 3))
    ib = np.floor(d / delta).astype(int)
    keep = ib < nb
    u = d - (ib + 0.5) * delta
    np.add.at(mom, (ib[keep], 0), 1.0)
    np.add.at(mom, (ib[keep], 1), u[keep])
    np.add.at(mom, (ib[keep], 2), u[keep] ** 2)
    rs = np.linspace(0, 60, 31)
    coarse = knest._coarsen(mom, f, delta)
    assert coarse[:, 0].sum() == mom[: (nb // f) * f, 0].sum()
    k_coarse = kern.kde_from_moments(coarse, f * delta, h, rs, float(d.size))
    z = (rs[:, None] - d[None, :]) / h
    zr = (rs[:, None] + d[None, :]) / h
    ref = (np.exp(-0.5 * z**2) + np.exp(-0.5 * zr**2)).sum(axis=1) / (np.sqrt(2 * np.pi) * h
                                                                      * d.size)
    np.testing.assert_allclose(k_coarse, ref, rtol=0, atol=1e-7 * ref.max())
