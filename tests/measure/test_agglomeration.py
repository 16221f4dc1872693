"""Ellison–Glaeser, Maurel–Sédillot and co-agglomeration: hand-worked cases, exact null moments by
enumeration, the dartboard null by simulation, and REAT's values on the same data."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clusteratlas.errors import InputError
from clusteratlas.measure import coagglomeration, ellison_glaeser, maurel_sedillot

DATA = Path(__file__).parent / "data"


def _r_reference(dataset: str, measure: str) -> pd.Series:
    """Values computed by REAT in R (make_reference.R; see data/README.md)."""
    ref = pd.read_csv(DATA / "r_reference.csv", dtype={"key": str})
    sel = ref[(ref["dataset"] == dataset) & (ref["measure"] == measure)]
    assert len(sel), (dataset, measure)
    return sel.set_index("key")["value"]


def test_eg_hand_worked_two_regions() -> None:
    # Two regions of equal size (x = 0.5, 0.5); one industry with plants of 1 and 3 employees,
    # both in region a: s = (1, 0), G = 0.5² + 0.5² = 0.5, Σx² = 0.5, H = 0.25² + 0.75² = 0.625.
    # γ = (G / (1 − Σx²) − H) / (1 − H) = (1 − 0.625) / 0.375 = 1.
    # E[G] = (1 − Σx²) H = 0.3125.
    # Var(G) = 2{H²[Σx² − 2Σx³ + (Σx²)²] − Σz⁴[Σx² − 4Σx³ + 3(Σx²)²]}
    #        = 2{0.390625 · 0.25 − 0.3203125 · 0.25} = 0.03515625.
    plants = pd.DataFrame({"region_code": ["a", "a"], "industry": ["k", "k"],
                           "employment": [1.0, 3.0]})
    res = ellison_glaeser(plants, kind="records", region_totals={"a": 1.0, "b": 1.0})
    row = res.table.iloc[0]
    assert row["G"] == pytest.approx(0.5)
    assert row["H"] == pytest.approx(0.625)
    assert row["gamma"] == pytest.approx(1.0)
    assert row["expected_G"] == pytest.approx(0.3125)
    assert row["var_G"] == pytest.approx(0.03515625)
    ms = maurel_sedillot(plants, kind="records", region_totals={"a": 1.0, "b": 1.0}).table.iloc[0]
    # MS: (Σs² − Σx²)/(1 − Σx²) = (1 − 0.5)/0.5 = 1; γ_MS = (1 − 0.625)/0.375 = 1.
    assert ms["G_ms"] == pytest.approx(0.5)
    assert ms["gamma_ms"] == pytest.approx(1.0)


def test_null_moments_exact_by_enumeration() -> None:
    # Three plants (sizes 1, 2, 5) in three regions with x = (0.5, 0.3, 0.2): enumerate all
    # 27 placements with their dartboard probabilities and compare E and Var of G (EG) and of
    # Σs² − Σx² (MS) with the closed forms.
    x = np.array([0.5, 0.3, 0.2])
    sizes = np.array([1.0, 2.0, 5.0])
    z = sizes / sizes.sum()
    values_g, values_ms, probs = [], [], []
    for placement in itertools.product(range(3), repeat=3):
        s = np.bincount(placement, weights=z, minlength=3)
        values_g.append(((s - x) ** 2).sum())
        values_ms.append((s**2).sum() - (x**2).sum())
        probs.append(np.prod(x[list(placement)]))
    probs_a = np.array(probs)
    plants = pd.DataFrame({"region_code": ["a", "b", "c"], "industry": "k", "employment": sizes})
    totals = {"a": 5.0, "b": 3.0, "c": 2.0}
    for values, fn in ((values_g, ellison_glaeser), (values_ms, maurel_sedillot)):
        v = np.array(values)
        mean = (probs_a * v).sum()
        var = (probs_a * (v - mean) ** 2).sum()
        row = fn(plants, kind="records", region_totals=totals).table.iloc[0]
        assert row["expected_G"] == pytest.approx(mean, rel=1e-12)
        assert row["var_G"] == pytest.approx(var, rel=1e-12)


def test_reat_documented_example() -> None:
    # REAT's ellison.a help: Farhauer/Kröll (2014), printed result 0.05990628.
    plants = pd.DataFrame({
        "region_code": ["Wien"] * 5 + ["Linz"] * 4 + ["Graz"],
        "industry": "i",
        "employment": [200, 650, 12000, 100, 50, 16000, 13000, 1500, 1500, 25000],
    })
    res = ellison_glaeser(plants, kind="records",
                          region_totals={"Wien": 500000, "Linz": 400000, "Graz": 100000})
    row = res.table.iloc[0]
    assert row["gamma"] == pytest.approx(0.05990628, abs=5e-9)
    for measure in ("gamma", "G", "z", "H"):
        assert row[measure] == pytest.approx(_r_reference("reat_ellison_a_example", measure)["i"],
                                             rel=1e-10)


@pytest.mark.parametrize(("dataset", "region", "weight"), [
    ("fk2014_egc", "region", "emp_firm"),
    ("random_plants", "region_code", "employment"),
])
def test_against_reat_ellison_a2(dataset: str, region: str, weight: str) -> None:
    # REAT::ellison.a2 on the same plants (x_i from all industries of the data).
    path = DATA / ("fk2014_egc.csv" if dataset == "fk2014_egc" else "random_plants.csv")
    plants = pd.read_csv(path, dtype={region: str})
    table = ellison_glaeser(plants, region, "industry", weight,
                            kind="records").table.set_index("industry")
    for measure in ("gamma", "G", "z", "H"):
        ref = _r_reference(dataset, measure)
        np.testing.assert_allclose(table.loc[ref.index, measure], ref, rtol=1e-9, atol=1e-12)


def test_planted_localisation_is_significant() -> None:
    plants = pd.read_csv(DATA / "random_plants.csv")
    table = ellison_glaeser(plants).table.set_index("industry")
    assert table.loc["A", "significant"] and table.loc["E", "significant"]
    assert not table.loc["B", "significant"] and not table.loc["C", "significant"]
    assert table.loc["E", "localisation"] == "high"


def _dartboard(n_industries: int, n_plants: int, x: np.ndarray, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_industries * n_plants
    return pd.DataFrame({
        "region_code": np.char.add("r", rng.choice(len(x), size=n, p=x).astype(str)),
        "industry": np.char.add("k", np.repeat(np.arange(n_industries), n_plants).astype(str)),
        "employment": np.round(rng.lognormal(2.0, 1.0, size=n)) + 1,
    })


def test_dartboard_null_by_simulation() -> None:
    # 1500 industries of 40 plants (log-normal sizes) thrown at 15 regions with fixed shares x:
    # the null of EG (1997). Industries are independent draws, so by the CLT the mean of γ is
    # within 4 standard errors of 0 (false alarm ≈ 6e-5; the seed is fixed anyway), and the
    # standardised G, z = (G − E[G]) / sd(G), has mean 0 and variance 1 within 4 standard errors
    # (the SE of a sample variance estimated from the fourth moment of the draws).
    x = np.linspace(1, 3, 15)
    x = x / x.sum()
    plants = _dartboard(1500, 40, x, seed=11)
    totals = {f"r{i}": float(v) for i, v in enumerate(x)}
    for fn, name in ((ellison_glaeser, "gamma"), (maurel_sedillot, "gamma_ms")):
        table = fn(plants, kind="records", region_totals=totals).table
        gamma = table[name].to_numpy()
        se = gamma.std(ddof=1) / np.sqrt(len(gamma))
        assert abs(gamma.mean()) < 4 * se, (name, gamma.mean(), se)
        z = table["z"].to_numpy()
        assert abs(z.mean()) < 4 / np.sqrt(len(z))
        dev2 = (z - z.mean()) ** 2
        se_var = dev2.std(ddof=1) / np.sqrt(len(z))
        assert abs(dev2.mean() - 1.0) < 4 * se_var, (name, dev2.mean(), se_var)
        # The one-sided test at 5% rejects about 5% of null industries (normal approximation).
        assert 0.02 < table["significant"].astype(bool).mean() < 0.09


def test_aggregates_need_h() -> None:
    plants = pd.read_csv(DATA / "random_plants.csv")
    counts = plants.groupby(["region_code", "industry"], as_index=False).size()
    with pytest.raises(InputError, match="plant Herfindahl H of each industry is unknown"):
        ellison_glaeser(counts, weight="size")
    # Counts of plants as the weight with H = 1/N are exact: equal to records with weight=None.
    agg = ellison_glaeser(counts, weight="size", n_plants="size", hhi="equal").table
    rec = ellison_glaeser(plants, weight=None).table
    for col in ("G", "H", "gamma", "var_G", "z"):
        np.testing.assert_allclose(agg[col], rec[col], rtol=1e-12)
    # A supplied H gives γ but no null variance (Σz⁴ unknown).
    emp = plants.groupby(["region_code", "industry"], as_index=False)["employment"].sum()
    h = ellison_glaeser(plants).table.set_index("industry")["H"]
    res = ellison_glaeser(emp, hhi=h.to_dict())
    np.testing.assert_allclose(res.table["gamma"], ellison_glaeser(plants).table["gamma"],
                               rtol=1e-12)
    assert res.table["var_G"].isna().all()
    assert any("Σz⁴ is unknown" in n for n in res.notes)


def test_coagglomeration_hand_worked() -> None:
    # Regions a, b with x = (0.5, 0.5) from all activity; industry p all in a, q all in b, r
    # split 1:1. s_p − x = (0.5, −0.5), s_q − x = (−0.5, 0.5), s_r − x = (0, 0).
    # γᶜ_pq = [0.5·(−0.5) + (−0.5)·0.5] / (1 − 0.5) = −0.5/0.5 = −1; γᶜ_pr = 0.
    frame = pd.DataFrame({"region_code": ["a", "b", "a", "b"], "industry": ["p", "q", "r", "r"],
                          "employment": [10.0, 10.0, 5.0, 5.0]})
    res = coagglomeration(frame)
    pairs = res.table.set_index(["industry_a", "industry_b"])["gamma_c"]
    assert pairs[("p", "q")] == pytest.approx(-1.0)
    assert pairs[("p", "r")] == pytest.approx(0.0)
    assert len(res.table) == 3
    assert res.matrix.loc["p", "p"] == pytest.approx(1.0)  # G_p / (1 − Σx²) = 0.5 / 0.5


def test_coagglomeration_equals_eg_group_formula() -> None:
    # EG (1997) group index for U = {k, l} with employment weights w:
    # γᶜ = [G/(1 − Σx²) − H − Σ_u γ_u w_u² (1 − H_u)] / (1 − Σ_u w_u²), with G and H of the
    # pooled group (H = Σ_u w_u² H_u). It must equal the pairwise form for every pair.
    plants = pd.read_csv(DATA / "random_plants.csv")
    eg = ellison_glaeser(plants).table.set_index("industry")
    co = coagglomeration(plants).table
    region_tot = plants.groupby("region_code")["employment"].sum()
    x = region_tot / region_tot.sum()
    s2 = float((x**2).sum())
    for _, row in co.iterrows():
        u = [row["industry_a"], row["industry_b"]]
        group = plants[plants["industry"].isin(u)]
        s = group.groupby("region_code")["employment"].sum().reindex(x.index, fill_value=0)
        s = s / s.sum()
        g = float(((s - x) ** 2).sum())
        w = eg.loc[u, "total"] / eg.loc[u, "total"].sum()
        h = float((w**2 * eg.loc[u, "H"]).sum())
        corr = float((eg.loc[u, "gamma"] * w**2 * (1 - eg.loc[u, "H"])).sum())
        expected = (g / (1 - s2) - h - corr) / (1 - float((w**2).sum()))
        assert row["gamma_c"] == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_coagglomeration_subset_and_plot() -> None:
    plants = pd.read_csv(DATA / "random_plants.csv")
    full = coagglomeration(plants).table.set_index(["industry_a", "industry_b"])
    sub = coagglomeration(plants, industries=["E", "A", "C"])
    assert len(sub.table) == 3
    for _, row in sub.table.iterrows():
        assert row["gamma_c"] == pytest.approx(full.loc[(row["industry_a"], row["industry_b"]),
                                                        "gamma_c"])
    with pytest.raises(InputError, match="not in the data"):
        coagglomeration(plants, industries=["A", "Z"])
    assert sub.plot().data[0].type == "heatmap"
    assert "Most co-agglomerated pairs" in sub.summary()


def test_eg_summary_plot_and_params() -> None:
    plants = pd.read_csv(DATA / "random_plants.csv")
    before = plants.copy()
    res = ellison_glaeser(plants, alpha=0.01)
    pd.testing.assert_frame_equal(plants, before)
    assert res.params["alpha"] == 0.01 and res.params["hhi"] == "from plant records"
    assert "Ellison–Glaeser" in res.summary()
    fig = res.plot()
    assert fig.data[0].type == "bar" and len(fig.data[0].x) == 5
    with pytest.raises(InputError, match="alpha"):
        ellison_glaeser(plants, alpha=1.5)


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(min_value=1e-3, max_value=1e6), seed=st.integers(0, 2**16))
def test_eg_invariant_to_scale_and_labels(scale: float, seed: int) -> None:
    # γ, G, H and z depend on shares only: scaling every plant, or renaming the regions, changes
    # nothing.
    plants = _dartboard(6, 12, np.array([0.4, 0.3, 0.2, 0.1]), seed=seed)
    base = ellison_glaeser(plants, kind="records").table
    scaled = ellison_glaeser(plants.assign(employment=plants["employment"] * scale),
                             kind="records").table
    renamed = ellison_glaeser(plants.assign(region_code="z" + plants["region_code"]),
                              kind="records").table
    for other in (scaled, renamed):
        for col in ("G", "H", "gamma", "z"):
            np.testing.assert_allclose(other[col], base[col], rtol=1e-9, atol=1e-12)


def _pysal_reference(dataset: str, measure: str) -> pd.Series:
    """Values of PySAL inequality 1.0.1 (make_pysal_reference.py; see data/README.md)."""
    ref = pd.read_csv(DATA / "pysal_reference.csv", dtype={"key": str})
    sel = ref[(ref["dataset"] == dataset) & (ref["measure"] == measure)]
    assert len(sel), (dataset, measure)
    return sel.set_index("key")["value"]


@pytest.mark.parametrize(("dataset", "region", "weight"), [
    ("fk2014_egc", "region", "emp_firm"),
    ("random_plants", "region_code", "employment"),
])
def test_against_pysal_inequality_101(dataset: str, region: str, weight: str) -> None:
    # inequality 1.0.1's ellison_glaeser_egg / maurel_sedillot_msg run on the region × industry
    # matrix of the same plants, with hs = plant Herfindahls computed by plain pandas.
    path = DATA / ("fk2014_egc.csv" if dataset == "fk2014_egc" else "random_plants.csv")
    plants = pd.read_csv(path, dtype={region: str})
    for fn, name in ((ellison_glaeser, "gamma"), (maurel_sedillot, "gamma_ms")):
        ours = fn(plants, region, "industry", weight, kind="records").table.set_index("industry")
        ref = _pysal_reference(dataset, name)
        np.testing.assert_allclose(ours.loc[ref.index, name], ref, rtol=1e-10, atol=1e-13)


def test_pysal_inequality_101_documented_examples() -> None:
    # The doctest matrix of inequality 1.0.1 (_indices.py, ellison_glaeser_egg and
    # maurel_sedillot_msg): 3 areas × 4 industries; hs=None there means every worker is a plant,
    # H_k = 1 / P_k — our hhi="equal" with the employment itself as the plant count.
    z = np.array([[10, 13, 13, 49], [19, 29, 31, 46], [33, 16, 34, 34]], dtype=float)
    agg = pd.DataFrame([(f"a{i}", f"k{j}", z[i, j]) for i in range(3) for j in range(4)],
                       columns=["region_code", "industry", "employment"])
    eg = ellison_glaeser(agg, n_plants="employment", hhi="equal").table["gamma"]
    np.testing.assert_allclose(eg, [0.054499, 0.016242, 0.010141, 0.028803], atol=5e-7)
    ms = maurel_sedillot(agg, n_plants="employment", hhi="equal").table["gamma_ms"]
    np.testing.assert_allclose(ms, [0.078583, 0.035977, 0.039374, -0.009049], atol=5e-7)
    # With given Herfindahls hs = (0.549, 0.715, 0.603, 0.545):
    hs = {"k0": 0.549, "k1": 0.715, "k2": 0.603, "k3": 0.545}
    eg = ellison_glaeser(agg, hhi=hs).table["gamma"]
    np.testing.assert_allclose(eg, [-1.06264, -2.39227, -1.461383, -1.117953], atol=5e-7)
    ms = maurel_sedillot(agg, hhi=hs).table["gamma_ms"]
    np.testing.assert_allclose(ms, [-1.010102, -2.324216, -1.38869, -1.200499], atol=5e-7)


def test_degenerate_industries() -> None:
    # y has zero activity (left out, with a note); z has a single plant (H = 1): γ undefined.
    plants = pd.DataFrame({"est_id": range(5), "region_code": ["a", "a", "b", "b", "c"],
                           "industry": ["x", "y", "x", "z", "z"],
                           "employment": [3.0, 0.0, 4.0, 5.0, 0.0]})
    res = ellison_glaeser(plants)
    table = res.table.set_index("industry")
    assert list(table.index) == ["x", "z"]
    assert np.isnan(table.loc["z", "gamma"]) and pd.isna(table.loc["z", "significant"])
    assert np.isfinite(table.loc["x", "gamma"])
    assert any("zero total activity left out: y" in n for n in res.notes)
    assert any("single plant" in n for n in res.notes)
    res.plot()


def test_coagglomeration_null_variance_exact_by_enumeration() -> None:
    # Industry k: plants of 1 and 3; industry l: plants of 2 and 2; regions with x = (0.5, 0.3,
    # 0.2) fixed by region totals. Enumerate all 3⁴ placements under the dartboard null and
    # compare E[C] = 0 and Var(C), C = Σ(s_k − x)(s_l − x), with the closed form.
    x = np.array([0.5, 0.3, 0.2])
    zk, zl = np.array([0.25, 0.75]), np.array([0.5, 0.5])
    values, probs = [], []
    for placement in itertools.product(range(3), repeat=4):
        sk = np.bincount(placement[:2], weights=zk, minlength=3)
        sl = np.bincount(placement[2:], weights=zl, minlength=3)
        values.append(((sk - x) * (sl - x)).sum())
        probs.append(np.prod(x[list(placement)]))
    v, p = np.array(values), np.array(probs)
    assert (p * v).sum() == pytest.approx(0.0, abs=1e-15)
    var = (p * v**2).sum()
    plants = pd.DataFrame({"region_code": ["a", "b", "a", "c"], "industry": ["k", "k", "l", "l"],
                           "employment": [1.0, 3.0, 2.0, 2.0]})
    row = coagglomeration(plants, kind="records",
                          region_totals={"a": 5.0, "b": 3.0, "c": 2.0}).table.iloc[0]
    s2 = (x**2).sum()
    assert row["gamma_c_sd_null"] == pytest.approx(np.sqrt(var) / (1 - s2), rel=1e-12)


def test_coagglomeration_null_by_simulation() -> None:
    # 1000 dartboard industries of 30 plants; the 500 disjoint pairs (k0, k1), (k2, k3), … are
    # independent draws of the null. z has mean 0 and variance 1: tolerances are 4 standard
    # errors (1/√500 for the mean, √(2/500) for the variance of a normal sample).
    x = np.linspace(1, 3, 15)
    x = x / x.sum()
    plants = _dartboard(1000, 30, x, seed=5)
    totals = {f"r{i}": float(v) for i, v in enumerate(x)}
    table = coagglomeration(plants, region_totals=totals).table
    ia = table["industry_a"].str.slice(1).astype(int)
    ib = table["industry_b"].str.slice(1).astype(int)
    z = table.loc[(ia % 2 == 0) & (ib == ia + 1), "z"].to_numpy()
    assert len(z) == 500
    assert abs(z.mean()) < 4 / np.sqrt(500)
    assert abs(z.var() - 1.0) < 4 * np.sqrt(2 / 500)
    # Without plant sizes there is no significance, and a note says so.
    agg = plants.groupby(["region_code", "industry"], as_index=False)["employment"].sum()
    res = coagglomeration(agg)
    assert "z" not in res.table and any("no significance" in n for n in res.notes)
