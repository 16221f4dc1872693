"""The generated economy on the real gazetteer: determinism, schema, planted truth where it belongs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clusteratlas import schema
from clusteratlas.demo.calibration import calibration
from clusteratlas.demo.economy import DemoEconomy, generate
from clusteratlas.demo.industries import read_data
from clusteratlas.demo.places import county_table
from clusteratlas.errors import InputError
from clusteratlas.geo import regions, resolve


@pytest.fixture(scope="module")
def economy() -> DemoEconomy:
    return generate("small", seed=0)


@pytest.fixture(scope="module")
def counties() -> pd.DataFrame:
    return county_table(regions())


def test_same_seed_gives_identical_tables(economy: DemoEconomy) -> None:
    again = generate("small", seed=0)
    for name, frame in economy.tables().items():
        pd.testing.assert_frame_equal(frame, again.tables()[name], obj=name)
    pd.testing.assert_frame_equal(economy.members, again.members)
    other = generate("small", seed=1)
    assert not other.establishments["employment"].equals(economy.establishments["employment"])


def test_tables_follow_the_schema(economy: DemoEconomy) -> None:
    for name, frame in economy.tables().items():
        spec = schema.table(name)
        assert set(spec.required) <= set(frame.columns), name
        for col in frame.columns:
            assert str(frame[col].dtype) == spec.column(col).dtype, (name, col)
        assert not frame.duplicated(list(spec.key)).any(), f"{name}: key {spec.key} not unique"
        assert frame[spec.required].notna().all().all(), name


def test_scale_and_panel(economy: DemoEconomy) -> None:
    est = economy.establishments
    assert sorted(est["year"].unique()) == [2020, 2021, 2022]
    latest = est.loc[est["year"] == 2022]
    assert abs(len(latest) - 50_000) / 50_000 < 0.03
    assert (est["founded"] <= est["year"]).all()
    assert est["industry"].nunique() >= 100
    # Every establishment lies in a leaf region of the gazetteer: a county, or a prefecture-level
    # city without counties (东莞市, 中山市 ...).
    reg = regions().set_index("region_code")
    assert est["region_code"].isin(reg.index).all()
    levels = reg.loc[est["region_code"].unique(), "level"]
    assert set(levels) <= {"county", "prefecture"}
    leaf_prefectures = levels.index[levels == "prefecture"]
    assert not reg["parent_code"].isin(leaf_prefectures).any()


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(InputError, match="scale"):
        generate("huge")
    with pytest.raises(InputError, match="seed"):
        generate("small", seed=-1)


def test_national_clusters_sit_at_their_real_host_cities(economy: DemoEconomy,
                                                         counties: pd.DataFrame) -> None:
    truth = economy.truth
    nat = truth.loc[truth["kind"] == "national"]
    spec = read_data("national_advanced_manufacturing_clusters.csv")
    assert nat["cluster_id"].nunique() == 45
    reg = regions().set_index("region_code")
    for rec in spec.itertuples(index=False):
        rows = nat.loc[nat["cluster_id"] == f"NAMC-{int(rec.id):02d}"]
        hosts = set(rows["region_code"])
        expected = set()
        for city in rec.host_cities.split(";"):
            expected.add(str(resolve([city])["region_code"].iloc[0]))
        assert hosts == expected, rec.name_zh
        for r in rows.itertuples(index=False):
            assert r.lon == pytest.approx(float(reg.loc[r.region_code, "lon"]))
            assert r.lat == pytest.approx(float(reg.loc[r.region_code, "lat"]))
    # Planted establishments of national clusters belong to counties of their host city.
    members = economy.members.loc[economy.members["kind"] == "national"]
    est = economy.establishments.loc[economy.establishments["year"] == 2022]
    placed = members.merge(est[["est_id", "region_code"]], on="est_id").merge(
        nat[["cluster_id", "component", "region_code"]], on=["cluster_id", "component"],
        suffixes=("", "_host"))
    c = counties.set_index("region_code")
    host_ok = (c.loc[placed["region_code"], "prefecture_code"].to_numpy() == placed["region_code_host"]
               ) | (c.loc[placed["region_code"], "province_code"].to_numpy()
                    == placed["region_code_host"])
    assert host_ok.all()


def test_national_clusters_split_by_macro_region_as_published(economy: DemoEconomy) -> None:
    nat = economy.truth.loc[economy.truth["kind"] == "national"]
    macro = regions().set_index("region_code")["macro_region"]
    per_cluster = nat.groupby("cluster_id")["region_code"].agg(
        lambda codes: set(macro.reindex(codes).astype(str)))
    assert all(len(m) == 1 for m in per_cluster), "a cluster spans two macro-regions"
    counts = per_cluster.map(lambda m: next(iter(m))).value_counts().to_dict()
    assert counts == {"East": 30, "Central": 8, "West": 5, "Northeast": 2}


def test_sme_clusters_are_in_small_or_medium_cities(economy: DemoEconomy) -> None:
    sme = economy.truth.loc[economy.truth["kind"] == "sme_featured"]
    assert len(sme) == 40
    assert sme["city_size_class"].astype(str).str.contains("small|medium").all()
    assert sme["region_code"].is_unique


def test_planted_establishments_concentrate_around_their_sites(economy: DemoEconomy) -> None:
    from clusteratlas.geo.distance import haversine_km

    est = economy.establishments.loc[economy.establishments["year"] == 2022]
    m = economy.members.merge(est[["est_id", "lon", "lat"]], on="est_id").merge(
        economy.truth[["cluster_id", "component", "lon", "lat", "radius_km"]],
        on=["cluster_id", "component"], suffixes=("", "_c"))
    d = haversine_km(m["lon"].to_numpy(float), m["lat"].to_numpy(float),
                     m["lon_c"].to_numpy(float), m["lat_c"].to_numpy(float))
    # Gaussian with sd r per axis: distance is Rayleigh, P(d <= 2.45 r) = 0.95.
    inside = d <= 2.45 * m["radius_km"].to_numpy(float)
    assert 0.93 < inside.mean() < 0.97
    truth = economy.truth
    bearing = truth["kind"].isin(["national", "sme_featured", "colocated_pair"])
    assert truth.loc[bearing, "n_establishments"].sum() == len(m)
    assert (truth.loc[truth["kind"] == "dispersed", "strength"] == 0).all()


def test_innovation_records(economy: DemoEconomy, counties: pd.DataFrame) -> None:
    actors = economy.innovation_actors
    totals = actors.groupby("doc_id")["share"].sum()
    np.testing.assert_allclose(totals.to_numpy(dtype=float), 1.0, rtol=0, atol=1e-12)
    assert set(totals.index) == set(economy.innovations["doc_id"])
    assert set(actors["actor_type"]) == {"firm", "university", "institute"}
    firms = actors.loc[actors["actor_type"] == "firm", "actor_id"]
    assert firms.isin(economy.establishments["est_id"]).all()
    # Cross-region co-invention: documents with actors in two or more prefectures.
    pref = actors["region_code"].map(counties.set_index("region_code")["prefecture_code"])
    spread = pref.groupby(actors["doc_id"]).nunique()
    assert 0.1 < (spread > 1).mean() < 0.6
    co = economy.links.loc[economy.links["kind"] == "co_patent"]
    assert len(co) > 50 and (co["origin"] < co["destination"]).all()
    assert (economy.links["kind"] == "investment").any()


def test_innovation_concentrates_in_planted_hubs(economy: DemoEconomy,
                                                 counties: pd.DataFrame) -> None:
    hubs = economy.truth.loc[economy.truth["kind"] == "innovation_hub"]
    assert {"HUB-02", "HUB-04", "HUB-05"} <= set(hubs["cluster_id"])  # SZ-HK-GZ, Beijing, SH-SZ
    c = counties.set_index("region_code")
    actors = economy.innovation_actors
    pref = actors["region_code"].map(c["prefecture_code"])
    prov = actors["region_code"].map(c["province_code"])
    in_hub = pref.isin(hubs["region_code"]) | prov.isin(hubs["region_code"])
    assert actors.loc[in_hub, "share"].sum() / actors["share"].sum() > 0.6
    # The planted ranking follows the published GII counts: Beijing's hub outweighs Nanjing's.
    score = hubs.groupby("cluster_id")["strength"].sum()
    assert score["HUB-04"] > score["HUB-11"]


def test_calibration_meets_the_published_facts(economy: DemoEconomy) -> None:
    cal = calibration(economy).set_index("fact")
    for fact in ("little giants per manufacturing unit", "single champions per manufacturing unit",
                 "high-tech enterprise share"):
        target, realised = cal.loc[fact, ["target", "realised"]]
        assert abs(realised - target) / target < 0.25, fact  # exact counts among ~1.05 N firms
    for region, n in (("East", 30), ("Central region", 8), ("West", 5), ("Northeast", 2)):
        assert cal.loc[f"national clusters in the {region}", "realised"] == n
    share = cal.loc["output share of the 45 national clusters", "realised"]
    assert 0.08 < share < 0.25  # target 0.145; one very large plant moves it at this scale
    growth = cal.loc["SME featured cluster export growth per year", "realised"]
    assert 0.2 < growth < 0.4
