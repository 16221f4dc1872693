"""Precision/recall scorers on hand-worked detections and truths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clusteratlas.detect.scoring import score_cells, score_pairs, score_sites
from clusteratlas.errors import InputError


def test_score_sites_hand_worked() -> None:
    # truth: hub H1 with two sites (Beijing, Tianjin), hub H2 (Shanghai), hub H3 (Chengdu)
    truth = pd.DataFrame({"cluster_id": ["H1", "H1", "H2", "H3"],
                          "kind": "innovation_hub",
                          "lon": [116.40, 117.20, 121.47, 104.07],
                          "lat": [39.90, 39.13, 31.23, 30.67]})
    # found: near Tianjin (matches H1), near Shanghai (H2), Wuhan (nothing), ranked 1..3
    found = pd.DataFrame({"rank": [1, 2, 3], "centroid_lon": [117.25, 121.50, 114.30],
                          "centroid_lat": [39.10, 31.20, 30.59]})
    s = score_sites(found, truth, match_km=30, kind="innovation_hub")
    row = s.table.iloc[0]
    assert row["precision"] == pytest.approx(2 / 3)
    assert row["recall"] == pytest.approx(2 / 3)
    assert row["f1"] == pytest.approx(2 / 3)
    assert s.matches["truth_cluster_id"].tolist()[:2] == ["H1", "H2"]
    top1 = score_sites(found, truth, match_km=30, top=1).table.iloc[0]
    assert top1["precision"] == 1.0 and top1["recall"] == pytest.approx(1 / 3)


def test_score_cells_with_level_roll_up() -> None:
    truth = pd.DataFrame({"cluster_id": ["A", "B"], "region_code": ["320500", "440300"],
                          "industry": ["3971", "3981"]})
    found = pd.DataFrame({"region": ["320583", "320505", "110101", "440305"],
                          "industry": ["3971", "3971", "3971", "3990"],
                          "strong": [True, True, True, False]})
    s = score_cells(found, truth, flag="strong", level="prefecture")
    row = s.table.iloc[0]
    # flagged cells roll up to (320500, 3971) twice and (110100, 3971): 2 distinct, 1 true
    assert row["n_found"] == 2 and row["precision"] == 0.5
    assert row["recall"] == 0.5  # B's cell is not flagged


def test_score_pairs_hand_worked() -> None:
    truth = pd.DataFrame({"cluster_id": ["P1", "P1", "P2", "P2"], "kind": "colocated_pair",
                          "industry": ["a", "b", "c", "d"]})
    cats = pd.DataFrame({"industry": list("abcdxy"), "cluster": [0, 0, 0, 1, 0, 2]})
    s = score_pairs(cats, truth)
    row = s.table.iloc[0]
    # planted pairs (a,b), (c,d); among planted industries a, b, c, d the pairs sharing a
    # category are (a,b), (a,c), (b,c); x is not judged
    assert row["recall"] == 0.5 and row["precision"] == pytest.approx(1 / 3)


def test_missing_truth_columns() -> None:
    with pytest.raises(InputError, match="lon"):
        score_sites(pd.DataFrame({"centroid_lon": [1.0], "centroid_lat": [1.0]}),
                    pd.DataFrame({"cluster_id": ["x"]}))
    assert np.isnan(score_sites(pd.DataFrame({"centroid_lon": [], "centroid_lat": []}),
                                pd.DataFrame({"cluster_id": [], "lon": [], "lat": []}))
                    .table.iloc[0]["precision"])


def _mini_economy() -> dict[str, pd.DataFrame]:
    """A hand-built economy: two innovation hubs, one national cluster (industry N in city
    310100), one co-located pair (A, B in county 320101), background industries X, Y, Z."""
    rng = np.random.default_rng(5)
    counties = [f"{p}{c:02d}" for p in ("1101", "3101", "3201", "4401", "5101") for c in (1, 2, 3)]
    rows = []
    for cty in counties:
        for ind in "XYZNAB":
            n = 4
            if ind == "N" and cty.startswith("3101"):
                n = 40
            if ind in "AB" and cty == "320101":
                n = 40
            for _ in range(n):
                rows.append({"region_code": cty, "industry": ind, "year": 2022,
                             "employment": float(rng.integers(5, 50))})
    est = pd.DataFrame(rows)
    est.insert(0, "est_id", [f"e{i}" for i in range(len(est))])
    hubs = np.array([[116.40, 39.90], [121.47, 31.23]])
    pts = np.vstack([h + rng.normal(0, 0.02, (150, 2)) for h in hubs]
                    + [np.column_stack([rng.uniform(100, 120, 60), rng.uniform(25, 40, 60)])])
    actors = pd.DataFrame({"doc_id": [f"d{i}" for i in range(len(pts))], "actor_id": "a",
                           "actor_type": "firm", "lon": pts[:, 0], "lat": pts[:, 1],
                           "share": 1.0})
    innovations = pd.DataFrame({"doc_id": actors["doc_id"],
                                "kind": np.where(np.arange(len(pts)) % 3, "patent", "publication")})
    truth = pd.DataFrame([
        {"cluster_id": "HUB-01", "component": 0, "kind": "innovation_hub", "lon": 116.40,
         "lat": 39.90},
        {"cluster_id": "HUB-02", "component": 0, "kind": "innovation_hub", "lon": 121.47,
         "lat": 31.23},
        {"cluster_id": "NAMC-01", "component": 0, "kind": "national", "industry": "N",
         "region_code": "310100"},
        {"cluster_id": "PAIR-01", "component": 0, "kind": "colocated_pair", "industry": "A",
         "region_code": "320101"},
        {"cluster_id": "PAIR-01", "component": 1, "kind": "colocated_pair", "industry": "B",
         "region_code": "320101"},
    ])
    return {"establishments": est, "innovations": innovations, "innovation_actors": actors,
            "planted_clusters": truth}


def test_score_methods_on_a_hand_built_economy() -> None:
    from clusteratlas.detect.scoring import score_methods

    res = score_methods(_mini_economy(), regions=pd.DataFrame({"region_code": []}),
                        radius_km=10, min_weight=20, ks=range(2, 5))
    t = res.table.set_index("method")
    assert t.loc["density", "recall"] == 1.0 and t.loc["density", "precision"] == 1.0
    assert t.loc["strong", "recall"] == 1.0  # (310100, N) is a strong cluster
    assert t.loc["related", "recall"] == 1.0  # A and B share a category
    assert set(t.index) == {"density", "strong", "two_stars", "related"}
