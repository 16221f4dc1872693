"""Density clusters: hand-worked cases, identity with scikit-learn's DBSCAN, scores, stability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN

from clusteratlas.detect.density import (
    EARTH_RADIUS_KM,
    density_clusters,
    gii_scores,
    rank_stability,
    weighted_dbscan,
)
from clusteratlas.errors import InputError


# ---------------------------------------------------------------- hand-worked weighted DBSCAN
def test_toy_line_core_border_noise() -> None:
    # x (km): 0, 0 (duplicate), 1, 2.5, 10 ; weights 1, 1, 0.5, 1, 3 ; radius 1, min weight 2.5
    # neighbourhood weights: x=0 -> 1+1+0.5 = 2.5 (core, >= inclusive); x=1 -> 2.5 (core);
    # x=2.5 -> 1 (dist 1.5 to x=1: not a neighbour) -> noise; x=10 -> 3 (core, alone).
    xy = np.array([[0.0, 0], [0, 0], [1, 0], [2.5, 0], [10, 0]])
    w = np.array([1.0, 1.0, 0.5, 1.0, 3.0])
    r = weighted_dbscan(xy, w, radius_km=1.0, min_weight=2.5, metric="projected")
    assert r.labels.tolist() == [0, 0, 0, -1, 1]
    assert r.core.tolist() == [True, True, True, False, True]
    assert r.n_locations == 4


def test_radius_and_min_weight_are_inclusive() -> None:
    xy = np.array([[0.0, 0.0], [0.0, 1.0]])  # exactly 1 km apart
    r = weighted_dbscan(xy, np.array([1.0, 1.0]), radius_km=1.0, min_weight=2.0,
                        metric="projected")
    assert r.labels.tolist() == [0, 0]
    r = weighted_dbscan(xy, np.array([1.0, 1.0]), radius_km=0.999, min_weight=2.0,
                        metric="projected")
    assert r.labels.tolist() == [-1, -1]


def test_border_point_goes_to_first_discovered_cluster() -> None:
    # group B: x=2 (w 1), x=2.9 (w 4); group A: x=-0.9 (w 4), x=0 (w 1); border at x=1 (w 0.1).
    # radius 1, min weight 5: x=2 sees 1+4+0.1 (core), x=2.9 sees 4+1 (core), likewise for A;
    # x=1 sees 0.1+1+1 = 2.1 (border of both). scikit-learn discovers the cluster of the
    # lowest-index core point first (B, input row 0) and that cluster claims the border point.
    xy = np.array([[2.0, 0], [2.9, 0], [-0.9, 0], [0.0, 0], [1.0, 0]])
    w = np.array([1.0, 4.0, 4.0, 1.0, 0.1])
    r = weighted_dbscan(xy, w, radius_km=1.0, min_weight=5.0, metric="projected")
    assert r.core.tolist() == [True, True, True, True, False]
    assert r.labels.tolist() == [0, 0, 1, 1, 0]
    sk = DBSCAN(eps=1.0, min_samples=5).fit(xy, sample_weight=w)
    assert r.labels.tolist() == sk.labels_.tolist()


def test_fractional_min_weight() -> None:
    xy = np.zeros((3, 2))
    r = weighted_dbscan(xy, np.array([0.3, 0.3, 0.3]), radius_km=1.0, min_weight=0.9,
                        metric="projected")
    assert r.labels.tolist() == [0, 0, 0]
    r = weighted_dbscan(xy, np.array([1 / 3] * 3), radius_km=1.0, min_weight=1.0,
                        metric="projected")
    assert r.labels.tolist() == [0, 0, 0]  # float sum 0.999...: still core
    r = weighted_dbscan(xy, np.array([0.3, 0.3, 0.29]), radius_km=1.0, min_weight=0.9,
                        metric="projected")
    assert r.labels.tolist() == [-1, -1, -1]


def _geocoded(seed: int, n: int = 2500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.uniform([110, 22], [122, 40], (10, 2))
    pts = centres[rng.integers(0, 10, n)] + rng.normal(0, 0.06, (n, 2))
    pts[: n // 5] = rng.uniform([110, 22], [122, 40], (n // 5, 2))
    pts = np.vstack([pts, pts[rng.integers(0, n, n)]])  # shared geocodes
    pts = pts[rng.permutation(len(pts))]
    return pts, rng.integers(1, 4, len(pts)).astype(float)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_identical_to_sklearn_haversine(seed: int) -> None:
    pts, w = _geocoded(seed)
    ours = weighted_dbscan(pts, w, radius_km=4.0, min_weight=10, metric="haversine")
    sk = DBSCAN(eps=4.0 / EARTH_RADIUS_KM, min_samples=10, metric="haversine",
                algorithm="ball_tree").fit(np.radians(pts[:, ::-1]), sample_weight=w)
    core = np.zeros(len(pts), dtype=bool)
    core[sk.core_sample_indices_] = True
    assert ours.labels.max() > 3, "test data should have clusters"
    np.testing.assert_array_equal(ours.core, core)
    np.testing.assert_array_equal(ours.labels, sk.labels_)  # numbering and borders too


@pytest.mark.parametrize("seed", [3, 4])
def test_identical_to_sklearn_projected(seed: int) -> None:
    pts, w = _geocoded(seed)
    km = pts * 100.0
    ours = weighted_dbscan(km, w, radius_km=5.0, min_weight=8, metric="projected")
    sk = DBSCAN(eps=5.0, min_samples=8).fit(km, sample_weight=w)
    assert ours.labels.max() > 3
    np.testing.assert_array_equal(ours.labels, sk.labels_)


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(InputError, match="weights"):
        weighted_dbscan(np.zeros((2, 2)), np.array([1.0, -1.0]), radius_km=1, min_weight=1)
    with pytest.raises(InputError, match="radius_km"):
        weighted_dbscan(np.zeros((2, 2)), radius_km=0, min_weight=1)
    with pytest.raises(InputError, match="rows"):
        weighted_dbscan(np.array([[0.0, np.nan]]), radius_km=1, min_weight=1)
    with pytest.raises(InputError, match="lat"):
        weighted_dbscan(np.array([[0.0, 95.0]]), radius_km=1, min_weight=1)


# ---------------------------------------------------------------- GII arithmetic
def test_gii_scores_hand_worked() -> None:
    t = pd.DataFrame({"cluster_id": [0, 1, 2], "patents": [30.0, 10.0, 10.0],
                      "publications": [0.0, 50.0, 20.0], "population": [2e6, np.nan, 5e5]})
    s = gii_scores(t, totals={"patents": 100.0, "publications": 200.0}).set_index("cluster_id")
    # shares: c0 30% + 0% = 30; c1 10% + 25% = 35; c2 10% + 10% = 20
    assert s["patents_share_pct"].tolist() == [10.0, 30.0, 10.0]  # sorted by rank: 1, 0, 2
    assert s.loc[1, "score_pct"] == pytest.approx(35.0)
    assert s.loc[0, "score_pct"] == pytest.approx(30.0)
    assert s["rank"].tolist() == [1, 2, 3]
    assert s.loc[0, "intensity_per_million"] == pytest.approx(30 / 2e6 * 1e6)
    assert s.loc[2, "intensity_per_million"] == pytest.approx(30 / 5e5 * 1e6)
    assert np.isnan(s.loc[1, "intensity_per_million"])
    assert "score_pct" not in t.columns  # caller's frame untouched


def test_gii_ties_share_the_lower_rank() -> None:
    t = pd.DataFrame({"patents": [5.0, 5.0, 1.0]})
    s = gii_scores(t, totals={"patents": 10.0})
    assert s["rank"].tolist() == [1, 1, 3]


# ---------------------------------------------------------------- the whole method
def _toy_points() -> tuple[pd.DataFrame, pd.DataFrame]:
    # city A (two districts) at (116.40, 39.90)/(116.42, 39.90), city B at (121.47, 31.23),
    # a lone point far away. Shares are fractional counts.
    rows = []
    for i in range(6):
        rows.append(("p", "patent", 116.40, 39.90, "110101", 1.0 if i < 4 else 0.5))
    for _ in range(3):
        rows.append(("q", "publication", 116.42, 39.90, "110102", 2.0))
    for _ in range(4):
        rows.append(("r", "patent", 121.47, 31.23, "310101", 1.0))
    rows.append(("s", "publication", 100.0, 30.0, "510101", 1.0))
    pts = pd.DataFrame(rows, columns=["doc_id", "kind", "lon", "lat", "region_code", "share"])
    regions = pd.DataFrame({
        "region_code": ["110000", "110101", "110102", "310000", "310101", "510000", "510101"],
        "name": ["北京市", "东城区", "西城区", "上海市", "黄浦区", "四川省", "锦江区"],
        "level": ["prefecture", "county", "county", "prefecture", "county", "prefecture", "county"],
        "parent_code": [None, "110000", "110000", None, "310000", None, "510000"],
        "lon": [116.4, 116.41, 116.36, 121.47, 121.48, 104.0, 104.08],
        "lat": [39.9, 39.93, 39.91, 31.23, 31.23, 30.6, 30.65],
        "population": [21.9e6, 0.7e6, 1.1e6, 24.9e6, 0.66e6, 83.7e6, 0.9e6],
    })
    return pts, regions


def test_density_clusters_scores_names_and_geometry() -> None:
    pts, regions = _toy_points()
    before = pts.copy()
    res = density_clusters(pts, radius_km=3.0, min_weight=3.0, regions=regions)
    pd.testing.assert_frame_equal(pts, before)
    t = res.table.set_index("name")
    assert set(t.index) == {"北京市", "上海市"}
    # totals over all input points: patents 4*1 + 2*0.5 + 4 = 9, publications 3*2 + 1 = 7
    assert res.params["totals"] == {"patents": 9.0, "publications": 7.0}
    bj = t.loc["北京市"]
    assert bj["patents"] == pytest.approx(5.0) and bj["publications"] == pytest.approx(6.0)
    assert bj["score_pct"] == pytest.approx(100 * 5 / 9 + 100 * 6 / 7)
    assert bj["rank"] == 1
    assert bj["intensity_per_million"] == pytest.approx(11 / 21.9)
    assert bj["member_regions"] == "110000"
    assert bj["n_points"] == 9 and bj["n_locations"] == 2
    assert t.loc["上海市", "score_pct"] == pytest.approx(100 * 4 / 9)
    assert bj["centroid_lat"] == pytest.approx(39.90, abs=1e-6)
    assert bj["centroid_lon"] == pytest.approx((116.40 * 5 + 116.42 * 6) / 11, abs=1e-4)
    hull = shapely.from_wkt(bj["geometry_wkt"])
    assert hull.geom_type == "LineString"  # two locations: the hull is their segment
    assert res.points["cluster_id"].iloc[-1] == -1  # the lone point is noise
    assert "北京市" in res.summary()
    res.plot()


def test_density_clusters_buffer_outline_and_nearest_place_naming() -> None:
    pts, regions = _toy_points()
    pts = pts.drop(columns="region_code")
    res = density_clusters(pts, radius_km=3.0, min_weight=3.0, regions=regions,
                           outline="buffer", buffer_km=1.0)
    t = res.table.set_index("name")
    assert "北京市" in t.index  # nearest prefecture seat
    poly = shapely.from_wkt(t.loc["上海市", "geometry_wkt"])
    # one location buffered by 1 km: a disc of about 0.018 degrees of latitude in radius
    assert poly.bounds[3] - poly.bounds[1] == pytest.approx(2 / 111.19, rel=0.01)
    assert any("nearest gazetteer place" in n for n in res.notes)


def test_density_clusters_without_kind_scores_weight_share() -> None:
    pts, regions = _toy_points()
    res = density_clusters(pts.drop(columns="kind"), radius_km=3.0, min_weight=3.0,
                           regions=regions)
    assert res.table["score_pct"].sum() == pytest.approx(100 * 15 / 16)  # all but the lone 1.0


def test_hdbscan_runs_on_unique_locations() -> None:
    pts, w = _geocoded(7, n=600)
    frame = pd.DataFrame({"lon": pts[:, 0], "lat": pts[:, 1], "share": w})
    res = density_clusters(frame, method="hdbscan", radius_km=1.0, min_cluster_size=15,
                           regions=pd.DataFrame(columns=["region_code", "level"]))
    assert len(res.table) >= 5
    assert any("HDBSCAN" in n for n in res.notes)


def test_missing_column_is_named() -> None:
    with pytest.raises(InputError, match="lat"):
        density_clusters(pd.DataFrame({"lon": [1.0]}), regions=None)


# ---------------------------------------------------------------- rank stability
def test_rank_stability_tracks_merges() -> None:
    # three groups on a line (projected km): A (weight 10) at 0, B (weight 6) at 3, C (weight 8)
    # at 50. With radius 1 they are three clusters ranked A, C, B; with radius 4 A and B merge
    # (rank 1), C is rank 2.
    xs = [0.0] * 10 + [3.0] * 6 + [50.0] * 8
    pts = pd.DataFrame({"x": xs, "y": 0.0})
    res = rank_stability(pts, radii_km=[1.0, 4.0], min_weights=[5.0], reference=(1.0, 5.0),
                         metric="projected", x="x", y="y", weight=None,
                         regions=pd.DataFrame(columns=["region_code", "level"]))
    t = res.table.set_index("rank")
    assert t.loc[1, ["rank_min", "rank_median", "rank_max"]].tolist() == [1, 1, 1]
    assert t.loc[2, ["rank_min", "rank_max"]].tolist() == [2, 2]  # C
    assert t.loc[3, ["rank_min", "rank_median", "rank_max"]].tolist() == [1, 2, 3]  # B
    assert (t["n_found"] == 2).all()
    assert len(res.runs) == 6


def test_projected_metric_on_lonlat_uses_china_albers() -> None:
    pts, regions = _toy_points()
    hav = density_clusters(pts, radius_km=3.0, min_weight=3.0, regions=regions)
    proj = density_clusters(pts, radius_km=3.0, min_weight=3.0, regions=regions,
                            metric="projected")
    cols = ["name", "rank", "score_pct", "member_regions", "n_locations"]
    pd.testing.assert_frame_equal(hav.table[cols], proj.table[cols])
    np.testing.assert_allclose(proj.table["centroid_lat"], hav.table["centroid_lat"], atol=1e-9)


# ---------------------------------------------------------------- properties
@st.composite
def _weighted_points(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 60))
    grid = st.integers(0, 12)  # coarse integer grid: many ties, duplicates, exact-radius pairs
    xy = np.array([[draw(grid), draw(grid)] for _ in range(n)], dtype=float) / 4.0
    w = np.array([draw(st.integers(1, 4)) for _ in range(n)], dtype=float)
    return xy, w


@given(_weighted_points(), st.sampled_from([0.25, 0.5, 1.0]), st.integers(1, 8))
@settings(max_examples=150, deadline=None)
def test_property_identical_to_sklearn(data: tuple[np.ndarray, np.ndarray], eps: float,
                                       min_w: int) -> None:
    xy, w = data
    ours = weighted_dbscan(xy, w, radius_km=eps, min_weight=min_w, metric="projected")
    sk = DBSCAN(eps=eps, min_samples=min_w).fit(xy, sample_weight=w)
    np.testing.assert_array_equal(ours.labels, sk.labels_)


@given(_weighted_points(), st.integers(0, 2**32 - 1))
@settings(max_examples=60, deadline=None)
def test_property_splitting_a_weight_into_duplicates_changes_nothing(
        data: tuple[np.ndarray, np.ndarray], seed: int) -> None:
    xy, w = data
    rng = np.random.default_rng(seed)
    i = int(rng.integers(len(xy)))
    xy2 = np.vstack([xy, xy[i]])
    w2 = np.append(w, w[i] / 2)
    w2[i] = w[i] / 2
    a = weighted_dbscan(xy, w, radius_km=0.5, min_weight=3, metric="projected")
    b = weighted_dbscan(xy2, w2, radius_km=0.5, min_weight=3, metric="projected")
    np.testing.assert_array_equal(a.labels, b.labels[:-1])
    assert b.labels[-1] == b.labels[i]


def test_municipality_districts_name_the_municipality() -> None:
    # districts of a province-level municipality have no prefecture: the municipality names them
    pts, regions = _toy_points()
    regions = regions.copy()
    regions.loc[regions["region_code"] == "110000", "level"] = "province"
    res = density_clusters(pts, radius_km=3.0, min_weight=3.0, regions=regions)
    assert "北京市" in set(res.table["name"])
    assert res.table.set_index("name").loc["北京市", "member_regions"] == "110000"


def test_points_without_location_are_left_out_but_counted_in_world_totals() -> None:
    pts, regions = _toy_points()
    extra = pd.DataFrame([{"doc_id": "z", "kind": "patent", "lon": np.nan, "lat": np.nan,
                           "region_code": None, "share": 3.0}])
    pts2 = pd.concat([pts, extra], ignore_index=True)
    res = density_clusters(pts2, radius_km=3.0, min_weight=3.0, regions=regions)
    assert res.params["totals"]["patents"] == 12.0  # 9 located + 3 without a location
    assert pd.isna(res.points["cluster_id"].iloc[-1])
    assert res.params["n_located"] == len(pts)
    assert any("left out" in n for n in res.notes)
    bj = res.table.set_index("name").loc["北京市"]
    assert bj["patents_share_pct"] == pytest.approx(100 * 5 / 12)
