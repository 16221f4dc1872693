"""Specialisation indices: hand-worked cases, invariances, EconGeo and PySAL references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clusteratlas.errors import InputError
from clusteratlas.measure import location_quotient, specialisation

DATA = Path(__file__).parent / "data"


def _frame(matrix: np.ndarray, regions: list[str], industries: list[str]) -> pd.DataFrame:
    rows = [(r, k, float(matrix[i, j])) for i, r in enumerate(regions)
            for j, k in enumerate(industries)]
    return pd.DataFrame(rows, columns=["region_code", "industry", "employment"])


# A toy economy of three regions and two industries, worked by hand below.
#            x     y   | total
#   A       30    10   |  40
#   B       10    30   |  40
#   C        0    20   |  20
#   total   40    60   | 100
TOY = _frame(np.array([[30, 10], [10, 30], [0, 20]]), ["A", "B", "C"], ["x", "y"])


def test_lq_hand_worked() -> None:
    lq = location_quotient(TOY).set_index(["region", "industry"])["lq"]
    # LQ = (E_rk / E_r) / (E_k / E)
    assert lq[("A", "x")] == pytest.approx((30 / 40) / (40 / 100))  # 1.875
    assert lq[("A", "y")] == pytest.approx((10 / 40) / (60 / 100))  # 0.41667
    assert lq[("B", "x")] == pytest.approx((10 / 40) / (40 / 100))  # 0.625
    assert lq[("C", "x")] == 0.0
    assert lq[("C", "y")] == pytest.approx((20 / 20) / (60 / 100))  # 1.6667
    table = location_quotient(TOY)
    assert list(table.columns) == ["region", "industry", "value", "region_total",
                                   "industry_total", "total", "lq"]
    assert len(table) == 6


def test_hoover_krugman_gini_hand_worked() -> None:
    res = specialisation(TOY)
    ind = res.by_industry.set_index("industry")
    # x_r = (0.4, 0.4, 0.2); industry x: s = (0.75, 0.25, 0); y: s = (1/6, 1/2, 1/3)
    # Hoover x = 0.5(|0.75-0.4| + |0.25-0.4| + |0-0.2|) = 0.5(0.35+0.15+0.2) = 0.35
    assert ind.loc["x", "hoover"] == pytest.approx(0.35)
    # Hoover y = 0.5(|1/6-0.4| + |0.5-0.4| + |1/3-0.2|) = 0.5(0.23333+0.1+0.13333) = 0.23333
    assert ind.loc["y", "hoover"] == pytest.approx(0.5 * (0.4 - 1 / 6 + 0.1 + 1 / 3 - 0.2))
    # Locational Gini x: order by s/x: C (0), B (0.625), A (1.875).
    # Cumulative (X, S): (0.2, 0), (0.6, 0.25), (1, 1).
    # Area under curve = 0.2*(0+0)/2 + 0.4*(0+0.25)/2 + 0.4*(0.25+1)/2 = 0 + 0.05 + 0.25 = 0.3
    # LG = 0.5 - 0.3 = 0.2
    assert ind.loc["x", "locational_gini"] == pytest.approx(0.2)
    # HHI of regional shares for x: 0.75² + 0.25² = 0.625
    assert ind.loc["x", "hhi_regions"] == pytest.approx(0.625)
    reg = res.by_region.set_index("region")
    # Krugman A: |0.75-0.4| + |0.25-0.6| = 0.7 ; C: |0-0.4| + |1-0.6| = 0.8
    assert reg.loc["A", "krugman"] == pytest.approx(0.7)
    assert reg.loc["C", "krugman"] == pytest.approx(0.8)
    assert reg.loc["A", "top_industry"] == "x"
    assert reg.loc["A", "share"] == pytest.approx(0.4)


def test_reference_totals_hand_worked() -> None:
    # National totals: x 1000, y 3000, z (absent from the data) 1000 -> N = 5000.
    ref = pd.DataFrame({"industry": ["x", "y", "z"], "value": [1000.0, 3000.0, 1000.0]})
    lq = location_quotient(TOY, reference=ref).set_index(["region", "industry"])
    # LQ A,x = (30/40) / (1000/5000) = 0.75 / 0.2 = 3.75
    assert lq.loc[("A", "x"), "lq"] == pytest.approx(3.75)
    assert lq.loc[("A", "x"), "industry_total"] == 1000.0
    assert lq.loc[("A", "x"), "total"] == 5000.0
    res = specialisation(TOY, reference=ref)
    # Krugman A vs national: |0.75-0.2| + |0.25-0.6| + |0-0.2| = 0.55+0.35+0.2 = 1.1
    assert res.by_region.set_index("region").loc["A", "krugman"] == pytest.approx(1.1)
    with pytest.raises(InputError, match="no total for industries"):
        location_quotient(TOY, reference={"x": 10.0})


def _r_reference(dataset: str, measure: str) -> pd.Series:
    """Values computed by EconGeo / REAT in R (make_reference.R; see data/README.md)."""
    ref = pd.read_csv(DATA / "r_reference.csv", dtype={"key": str})
    sel = ref[(ref["dataset"] == dataset) & (ref["measure"] == measure)]
    assert len(sel), (dataset, measure)
    return sel.set_index("key")["value"]


ECONGEO_MAT = np.array([[100, 0, 0, 0, 0], [0, 15, 5, 70, 10], [0, 20, 10, 20, 50],
                        [0, 25, 30, 5, 40], [0, 40, 55, 5, 0]], dtype=float)


def _inputs() -> dict[str, pd.DataFrame]:
    return {
        "econgeo_example": _frame(ECONGEO_MAT, [f"R{i}" for i in range(1, 6)],
                                  [f"I{i}" for i in range(1, 6)]),
        "random_plants": pd.read_csv(DATA / "random_plants.csv"),
    }


@pytest.mark.parametrize("dataset", ["econgeo_example", "random_plants"])
def test_against_econgeo(dataset: str) -> None:
    # Reference: EconGeo's locational.Gini, Hoover.index (pop = region totals; percent, rounded
    # to 2 decimals by EconGeo), Krugman.index, location.quotient, run in R 4.2.2 on the same data.
    res = specialisation(_inputs()[dataset])
    ind = res.by_industry.set_index("industry")
    gini = _r_reference(dataset, "locational_gini")
    np.testing.assert_allclose(ind.loc[gini.index, "locational_gini"], gini, rtol=0, atol=1e-12)
    hoover = _r_reference(dataset, "hoover_percent")
    np.testing.assert_allclose(np.round(100 * ind.loc[hoover.index, "hoover"], 2), hoover,
                               atol=1e-9)
    krugman = _r_reference(dataset, "krugman")
    reg = res.by_region.set_index("region")
    np.testing.assert_allclose(reg.loc[krugman.index, "krugman"], krugman, atol=1e-12)
    lq = _r_reference(dataset, "lq")
    ours = res.table.assign(key=res.table["region"] + "|" + res.table["industry"])
    np.testing.assert_allclose(ours.set_index("key").loc[lq.index, "lq"], lq, atol=1e-12)


def test_locational_gini_equals_pysal_gini_for_equal_regions() -> None:
    # With regions of equal total size the locational Lorenz curve is the ordinary Lorenz curve
    # of the industry's regional values, whose Gini PySAL computes as Σ|a-b| / (2 n² mean);
    # Krugman's locational Gini is half of it (area between curve and diagonal).
    from inequality.gini import Gini

    rng = np.random.default_rng(7)
    n_r, n_k = 12, 4
    mat = rng.integers(0, 50, size=(n_r, n_k)).astype(float)
    mat[:, -1] = 200 - mat[:, :-1].sum(axis=1)  # every region totals 200
    frame = _frame(mat, [f"r{i:02d}" for i in range(n_r)], [f"k{j}" for j in range(n_k)])
    ind = specialisation(frame).by_industry.set_index("industry")
    for j in range(n_k):
        assert 2 * ind.loc[f"k{j}", "locational_gini"] == pytest.approx(Gini(mat[:, j]).g,
                                                                         abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    cells=st.lists(st.integers(min_value=0, max_value=1000), min_size=12, max_size=12),
    scale=st.floats(min_value=1e-3, max_value=1e6),
)
def test_invariances(cells: list[int], scale: float) -> None:
    mat = np.array(cells, dtype=float).reshape(4, 3)
    mat[:, 0] += 1  # no empty region or industry
    mat[0, :] += 1
    frame = _frame(mat, ["a", "b", "c", "d"], ["p", "q", "r"])
    lq = location_quotient(frame)
    # The whole economy as one region has LQ 1 in every industry: Σ_r E_r LQ_rk / E = 1.
    whole = (lq["region_total"] * lq["lq"]).groupby(lq["industry"]).sum() / lq["total"].iloc[0]
    np.testing.assert_allclose(whole, 1.0, rtol=1e-12)
    # Scaling every value leaves every index unchanged.
    base = specialisation(frame)
    scaled = specialisation(frame.assign(employment=frame["employment"] * scale))
    np.testing.assert_allclose(scaled.table["lq"], base.table["lq"], rtol=1e-9)
    for col in ("hoover", "locational_gini", "hhi_regions"):
        np.testing.assert_allclose(scaled.by_industry[col], base.by_industry[col], rtol=1e-9,
                                   atol=1e-12)
    np.testing.assert_allclose(scaled.by_region["krugman"], base.by_region["krugman"], rtol=1e-9,
                               atol=1e-12)
    # Row order does not matter.
    shuffled = specialisation(frame.iloc[::-1])
    pd.testing.assert_frame_equal(shuffled.by_industry, base.by_industry)


def test_single_region_has_lq_one() -> None:
    frame = pd.DataFrame({"region_code": ["A", "A", "A"], "industry": ["x", "y", "z"],
                          "employment": [5.0, 7.0, 11.0]})
    assert np.allclose(location_quotient(frame)["lq"], 1.0)


def test_records_equal_aggregates_and_plant_hhi() -> None:
    plants = pd.read_csv(DATA / "random_plants.csv")
    agg = plants.groupby(["region_code", "industry"], as_index=False)["employment"].sum()
    rec = specialisation(plants)
    ag = specialisation(agg)
    assert rec.params["input_kind"] == "records" and ag.params["input_kind"] == "aggregates"
    pd.testing.assert_frame_equal(rec.table, ag.table)
    # Plant Herfindahl by hand: Σ (w_j / W)² per industry.
    expected = plants.groupby("industry")["employment"].apply(lambda w: ((w / w.sum())**2).sum())
    got = rec.by_industry.set_index("industry")["plant_hhi"]
    np.testing.assert_allclose(got.loc[expected.index], expected, rtol=1e-12)
    assert "plant_hhi" not in ag.by_industry


def test_level_roll_up_by_code_prefix() -> None:
    frame = pd.DataFrame({
        "region_code": ["320583", "320585", "320506", "321002", "110105"],
        "industry": ["C39", "C39", "C38", "C39", "C38"],
        "employment": [10.0, 5.0, 7.0, 3.0, 9.0],
    })
    pref = location_quotient(frame, level="prefecture")
    assert sorted(pref["region"].unique()) == ["110100", "320500", "321000"]
    cell = pref.set_index(["region", "industry"])["value"]
    assert cell[("320500", "C39")] == 15.0 and cell[("320500", "C38")] == 7.0
    prov = location_quotient(frame, level="province")
    assert sorted(prov["region"].unique()) == ["110000", "320000"]
    assert prov.set_index(["region", "industry"])["value"][("320000", "C39")] == 18.0
    assert sorted(location_quotient(frame, level=3)["region"].unique()) == ["110", "320", "321"]
    with pytest.raises(InputError, match="level"):
        location_quotient(frame, level="township")


def test_input_not_modified_and_errors() -> None:
    frame = TOY.copy()
    before = frame.copy()
    specialisation(frame)
    pd.testing.assert_frame_equal(frame, before)
    with pytest.raises(InputError, match="missing column"):
        specialisation(frame, weight="jobs")
    bad = frame.assign(employment=[1.0, -2.0, 3.0, 4.0, 5.0, 6.0])
    with pytest.raises(InputError, match=r"'employment', rows 1: negative"):
        specialisation(bad)
    text = frame.assign(employment=["1", "x", "3", "4", "5", "6"])
    with pytest.raises(InputError, match="expected a number"):
        specialisation(text)


def test_missing_values_are_left_out_with_a_note() -> None:
    frame = pd.concat([TOY, pd.DataFrame({"region_code": [None], "industry": ["x"],
                                          "employment": [5.0]})], ignore_index=True)
    res = specialisation(frame)
    assert res.params["n_rows"] == 7 and res.params["n_rows_used"] == 6
    assert any("1 of 7 rows left out" in n for n in res.notes)
    pd.testing.assert_frame_equal(res.table, specialisation(TOY).table)


def test_summary_and_plot() -> None:
    res = specialisation(pd.read_csv(DATA / "random_plants.csv"))
    text = res.summary()
    assert "Most localised industries" in text and "krugman" in text
    fig = res.plot()
    assert fig.data[0].type == "heatmap"
    assert len(fig.data[0].y) == 5


def test_docstring_examples_run() -> None:
    import doctest
    import importlib

    # By module path: the package rebinds the name ``specialisation`` to the function.
    for name in ("specialisation", "agglomeration"):
        module = importlib.import_module(f"clusteratlas.measure.{name}")
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0, name
