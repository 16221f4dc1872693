"""Related-industry clusters: validation scores by hand, IO links by hand, planted pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clusteratlas.detect.related import (
    io_similarity,
    related_clusters,
    similarity_matrices,
    validation_scores,
)
from clusteratlas.errors import InputError

# a-b 0.9, c-d 0.8, a-c 0.1, a-d 0.2, b-c 0.0, b-d 0.1
M = np.array([[np.nan, 0.9, 0.1, 0.2],
              [0.9, np.nan, 0.0, 0.1],
              [0.1, 0.0, np.nan, 0.8],
              [0.2, 0.1, 0.8, np.nan]])


def test_validation_scores_good_grouping() -> None:
    s = validation_scores(M, np.array([0, 0, 1, 1]))
    # WCR {a,b} = .9, BCR = mean(.1,.2,0,.1) = .1; WCR {c,d} = .8 > .1; every industry prefers
    # its own cluster (a: .9 vs .15; b: .9 vs .05; c: .8 vs .05; d: .8 vs .15)
    assert s["vs_cluster"] == 100 and s["vs_industry"] == 100 and s["vs"] == 100
    assert s["wcr"] == pytest.approx(0.85) and s["bcr"] == pytest.approx(0.1)


def test_validation_scores_bad_grouping() -> None:
    s = validation_scores(M, np.array([0, 1, 0, 1]))
    # {a,c}: WCR .1 < BCR mean(.9,.2,0,.8) = .475; {b,d} likewise; a: own .1 < .55 ...
    assert s["vs_cluster"] == 0 and s["vs_industry"] == 0
    assert s["bcr"] == pytest.approx(0.475)


def test_validation_scores_singletons_fail_industry_score() -> None:
    s = validation_scores(M, np.array([0, 0, 1, 2]))
    assert s["vs_cluster"] == 100  # only {a,b} has pairs, and it passes
    assert s["vs_industry"] == 50  # c and d are alone


def test_io_similarity_hand_worked() -> None:
    links = pd.DataFrame({"origin": ["a", "a", "b"], "destination": ["b", "c", "c"],
                          "weight": [10.0, 30.0, 5.0]})
    io = io_similarity(links, ["a", "b", "c"])
    # out[a,b] = 10/40, in[a,b] = 10/10 (all of b's purchases) -> 1
    assert io.loc["a", "b"] == pytest.approx(1.0)
    # out[a,c] = .75, in[a,c] = 30/35
    assert io.loc["a", "c"] == pytest.approx(30 / 35)
    assert io.loc["c", "a"] == pytest.approx(30 / 35)
    assert io.loc["b", "c"] == pytest.approx(1.0)  # all of b's sales go to c


def _planted(seed: int = 0) -> pd.DataFrame:
    # six industries, 12 regions; pairs (a,b), (c,d), (e,f) co-locate in regions 0-3, 4-7, 8-11
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(12):
        home = r // 4
        for k, ind in enumerate("abcdef"):
            emp = 20 + rng.uniform(0, 10) + (400 + rng.uniform(0, 200) if k // 2 == home else 0)
            rows.append({"region_code": f"R{r:02d}", "industry": ind, "employment": emp})
    return pd.DataFrame(rows)


def test_cor_emp_matches_pandas_corr() -> None:
    data = _planted()
    mats = similarity_matrices(data, measures=("cor_emp",))
    ref = data.pivot(index="region_code", columns="industry", values="employment").corr()
    np.testing.assert_allclose(mats["cor_emp"].loc["a", "c"], ref.loc["a", "c"], rtol=1e-12)
    assert np.isnan(mats["cor_emp"].loc["a", "a"])


def test_planted_pairs_end_in_the_same_category() -> None:
    data = _planted()
    before = data.copy()
    links = pd.DataFrame({"origin": ["a", "c", "e"], "destination": ["b", "d", "f"],
                          "kind": "supply", "weight": 1.0})
    res = related_clusters(data, links=links, ks=range(2, 6), seed=1)
    pd.testing.assert_frame_equal(data, before)
    cat = res.table.set_index("industry")["cluster"]
    assert cat["a"] == cat["b"] and cat["c"] == cat["d"] and cat["e"] == cat["f"]
    assert len(set(cat)) == 3
    assert res.params["best_k"] == 3
    best = res.candidates[res.candidates["best"]].iloc[0]
    assert best["vs_mean"] == 100
    assert set(res.matrices) == {"cor_emp", "coagg_emp", "io", "combined"}  # aggregates: no *_est
    assert res.table["fits"].all()
    res.plot()


def test_kmeans_is_reproducible_with_seed() -> None:
    data = _planted(3)
    a = related_clusters(data, methods=("kmeans",), ks=[2, 3, 4], seed=7)
    b = related_clusters(data, methods=("kmeans",), ks=[2, 3, 4], seed=7)
    pd.testing.assert_frame_equal(a.table, b.table)


def test_errors() -> None:
    with pytest.raises(InputError, match="measures"):
        similarity_matrices(_planted(), measures=("occupations",))
    with pytest.raises(InputError, match="ks"):
        related_clusters(_planted(), ks=[1, 99])


def test_records_add_establishment_matrices_and_guard_giant_categories() -> None:
    agg = _planted()
    # expand aggregates into records: one establishment per 50 workers (at least one)
    reps = np.maximum(1, (agg["employment"] // 50).astype(int))
    records = agg.loc[agg.index.repeat(reps)].assign(
        employment=lambda f: f["employment"] / np.repeat(reps.to_numpy(), reps.to_numpy()))
    records.insert(0, "est_id", [f"e{i}" for i in range(len(records))])
    mats = similarity_matrices(records)
    assert {"cor_emp", "cor_est", "coagg_emp", "coagg_est"} == set(mats)
    res = related_clusters(records, ks=[2, 3, 4], max_cluster_share=0.4)
    c = res.candidates.set_index(["method", "k"])
    assert not c.loc[("hierarchical", 2), "eligible"]  # 4 of 6 industries in one category
    assert res.table["cluster_size"].max() <= 2
