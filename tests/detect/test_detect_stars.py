"""Stars and U.S. Cluster Mapping flags on hand-worked economies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clusteratlas.detect.stars import cluster_stars, cmp_flags, d3_quantile
from clusteratlas.errors import InputError


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40), st.floats(0, 1))
@settings(max_examples=60, deadline=None)
def test_d3_quantile_is_type_7(values: list[float], p: float) -> None:
    x = np.sort(np.array(values))
    assert d3_quantile(x, p) == pytest.approx(np.quantile(x, p, method="linear"), rel=1e-9,
                                              abs=1e-6)


def test_d3_quantile_empty_is_nan() -> None:
    assert np.isnan(d3_quantile(np.array([]), 0.25))


def test_cmp_flags_boundaries() -> None:
    # LQ [0.5, 0.8, 1.0, 1.5, 3.0], employment 10..50, establishments 1..5 (+ one empty region).
    # Over the five regions with employment: p25(lq)=0.8, p50=1.0, p75=1.5, p90=1.5+0.6*1.5=2.4;
    # p25(emp)=20, p25(est)=2. Qualifying and significant use '>', strong and strong10 '>='.
    f = pd.DataFrame({
        "industry": ["x"] * 6,
        "lq": [0.5, 0.8, 1.0, 1.5, 3.0, np.inf],
        "employment": [10.0, 20, 30, 40, 50, 0],
        "establishments": [1.0, 2, 3, 4, 5, 0],
    })
    out = cmp_flags(f)
    assert out["lq_p75"].iloc[0] == pytest.approx(1.5)
    assert out["lq_p90"].iloc[0] == pytest.approx(2.4)
    assert out["qualifying"].tolist() == [False, False, True, True, True, False]
    assert out["significant"].tolist() == [False, False, False, True, True, False]
    assert out["strong"].tolist() == [False, False, False, True, True, False]
    assert out["strong10"].tolist() == [False, False, False, False, True, False]


def test_strong_needs_lq_at_least_one() -> None:
    f = pd.DataFrame({"industry": "x", "lq": [0.1, 0.2, 0.3, 0.9],
                      "employment": [10.0, 20, 30, 40], "establishments": [1.0, 2, 3, 4]})
    out = cmp_flags(f)
    assert not out["strong"].any()  # 0.9 >= p75 but < 1
    assert out["significant"].tolist() == [False, False, True, True]


def _toy() -> pd.DataFrame:
    # four regions of 100 workers each; industry x: 60/30/10/0, y: 40/70/90/100
    return pd.DataFrame({
        "region_code": list("ABCD") * 2,
        "industry": ["x"] * 4 + ["y"] * 4,
        "employment": [60.0, 30, 10, 0, 40, 70, 90, 100],
        "n_est": [6.0, 3, 1, 0, 4, 7, 9, 10],
    })


def test_cluster_stars_hand_worked() -> None:
    data = _toy()
    before = data.copy()
    gaz = pd.DataFrame({"region_code": list("ABCD"),
                        "macro_region": ["East", "East", "West", "West"],
                        "city_size_class": ["megacity", "large", "large", "small"]})
    res = cluster_stars(data, establishments="n_est", regions=gaz)
    pd.testing.assert_frame_equal(data, before)
    t = res.table.set_index(["region", "industry"])
    # LQ x: A (60/100)/(100/400) = 2.4, B 1.2, C 0.4; y: D (100/100)/(300/400) = 4/3
    assert t.loc[("A", "x"), "lq"] == pytest.approx(2.4)
    assert t.loc[("D", "y"), "lq"] == pytest.approx(4 / 3)
    assert t.loc[("B", "x"), "focus"] == pytest.approx(0.3)
    # ECO stars. x over A, B, C: p90(emp) = 30 + 0.8 * 30 = 54 -> A; LQ >= 2 -> A;
    # p90(focus) = 0.54 -> A. y: p90(emp) = 97 -> D; no LQ >= 2; p90(focus) = 0.97 -> D.
    assert t.loc[("A", "x"), "stars"] == 3
    assert t.loc[("B", "x"), "stars"] == 0
    assert t.loc[("D", "y"), "stars"] == 2
    assert t.loc[("D", "x"), "stars"] == 0  # no employment, no star
    # cmp for x: p25(emp)=20, p25(est)=2, lq p25=.8, p50=1.2, p75=1.8, p90=2.16
    assert t.loc[("A", "x"), ["qualifying", "significant", "strong", "strong10"]].tolist() == \
        [True, True, True, True]
    assert t.loc[("B", "x"), ["qualifying", "significant", "strong"]].tolist() == \
        [True, False, False]
    assert not t.loc[("C", "x"), "qualifying"]
    # cmp for y: p25(emp)=62.5, p25(est)=6.25; lq p50=1.0667, p75=1.2333, p90=1.2933
    assert t.loc[("B", "y"), ["qualifying", "significant"]].tolist() == [True, False]
    assert t.loc[("C", "y"), ["significant", "strong"]].tolist() == [True, False]
    assert t.loc[("D", "y"), ["strong", "strong10"]].tolist() == [True, True]
    assert not t.loc[("A", "y"), "qualifying"]  # 40 workers: below p25
    # rankings and geography
    assert t.loc[("A", "x"), "rank_in_industry"] == 1
    assert t.loc[("D", "y"), "rank_in_region"] == 1
    g = res.by_geography.set_index(["macro_region", "city_size_class"])
    assert g.loc[("East", "megacity"), "n_starred"] == 1  # A-x
    assert g.loc[("West", "small"), "n_starred"] == 1  # D-y
    assert g.loc[("West", "small"), "n_strong"] == 1
    assert res.top(industry="x").iloc[0]["region"] == "A"
    res.plot()


def test_records_count_establishments_and_panel_growth() -> None:
    # records: one row per establishment, two years; A-x grows 10 -> 40 workers over 2 years
    rows = []
    for yr, emp_a in ((2020, 10.0), (2022, 40.0)):
        rows += [{"est_id": f"a{yr}", "year": yr, "region_code": "A", "industry": "x",
                  "employment": emp_a, "output": 2 * emp_a}]
        rows += [{"est_id": f"b{yr}{i}", "year": yr, "region_code": "B", "industry": "x",
                  "employment": 10.0, "output": 10.0} for i in range(2)]
        rows += [{"est_id": f"c{yr}", "year": yr, "region_code": "B", "industry": "y",
                  "employment": 20.0, "output": 20.0}]
    res = cluster_stars(pd.DataFrame(rows), year="year", output="output",
                        regions=pd.DataFrame({"region_code": []}))
    t = res.table.set_index(["region", "industry"])
    assert t.loc[("B", "x"), "establishments"] == 2
    assert t.loc[("A", "x"), "employment"] == 40
    assert t.loc[("A", "x"), "growth"] == pytest.approx(1.0)  # (40/10)^(1/2) - 1
    assert t.loc[("B", "x"), "growth"] == pytest.approx(0.0)
    assert t.loc[("A", "x"), "productivity"] == pytest.approx(2.0)
    assert t.loc[("A", "x"), "star_dynamism"] and not t.loc[("B", "x"), "star_dynamism"]
    assert t.loc[("A", "x"), "star_productivity"]
    assert t.loc[("A", "x"), "stars_extended"] == t.loc[("A", "x"), "stars"] + 2


def test_bad_threshold_and_missing_column() -> None:
    with pytest.raises(InputError, match="size_top"):
        cluster_stars(_toy(), establishments="n_est", size_top=0)
    with pytest.raises(InputError, match="wages"):
        cluster_stars(_toy(), employment="wages")


def test_categories_aggregate_industries_first() -> None:
    data = _toy()
    data = pd.concat([data, data.assign(industry=data["industry"] + "2")], ignore_index=True)
    before = data.copy()
    res = cluster_stars(data, establishments="n_est", categories={"x": "X", "x2": "X"},
                        regions=pd.DataFrame({"region_code": []}))
    pd.testing.assert_frame_equal(data, before)
    t = res.table.set_index(["region", "industry"])
    assert t.loc[("A", "X"), "employment"] == 120  # x and x2 summed
    assert t.loc[("A", "X"), "lq"] == pytest.approx(2.4)  # doubling everything keeps the LQ
    assert ("A", "y2") in t.index  # unmapped industries keep their code
    assert any("without a category" in n for n in res.notes)


def test_municipality_codes_fall_back_to_the_province_row() -> None:
    data = pd.DataFrame({"region_code": ["110101", "110102", "320583", "320583"],
                         "industry": ["x", "y", "x", "y"], "employment": [10.0, 5, 5, 10],
                         "n_est": [1.0, 1, 1, 1]})
    gaz = pd.DataFrame({"region_code": ["110000", "320500"], "macro_region": ["East", "East"],
                        "city_size_class": ["super-large", "large I"]})
    res = cluster_stars(data, establishments="n_est", level="prefecture", regions=gaz)
    t = res.table.set_index("region")
    assert t.loc["110100", "city_size_class"].iloc[0] == "super-large"
    assert t.loc["320500", "city_size_class"].iloc[0] == "large I"


def test_cmp_flags_match_cmps_own_code() -> None:
    # flags computed by clustermapping/cmp's cluster_calcs_reducer.js under Node (see
    # tests/detect/data/README.md): 160 cells with ties on the percentiles and empty regions
    from pathlib import Path

    ref = pd.read_csv(Path(__file__).parent / "data" / "cmp_reference_flags.csv")
    ours = cmp_flags(ref)
    for flag in ("qualifying", "significant", "strong", "strong10"):
        np.testing.assert_array_equal(ours[flag].to_numpy(), ref[flag].to_numpy(), err_msg=flag)
    assert ref["strong"].sum() == 15 and ref["strong10"].sum() == 5  # the fixture is not trivial


def test_reference_totals_for_the_lq() -> None:
    ref = pd.DataFrame({"industry": ["x", "y"], "value": [100.0, 900.0]})
    res = cluster_stars(_toy(), establishments="n_est", reference=ref,
                        regions=pd.DataFrame({"region_code": []}))
    t = res.table.set_index(["region", "industry"])
    assert t.loc[("A", "x"), "lq"] == pytest.approx((60 / 100) / (100 / 1000))
    assert t.loc[("D", "y"), "lq"] == pytest.approx((100 / 100) / (900 / 1000))
    assert res.params["reference"] is True
