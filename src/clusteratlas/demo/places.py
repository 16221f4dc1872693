"""Where the demo economy's establishments are: counties of the real gazetteer, scattered points.

Background establishments are allocated to counties in proportion to resident population (2020
census, from the gazetteer), tilted by macro-region so that manufacturing is as concentrated in the
East as it really is (see ``MACRO_TARGET``), and placed around the county's centroid with a Gaussian
spread proportional to the distance to the nearest other county centroid (a proxy for the county's
size: dense eastern districts are a few km across, western counties a hundred).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from clusteratlas.geo.distance import EARTH_RADIUS_KM, haversine_km, unit_xyz

__all__ = ["chord_to_km", "county_table", "haversine_km", "nearest", "scatter"]

KM_PER_DEGREE = np.pi * EARTH_RADIUS_KM / 180.0

#: Target shares of manufacturing establishments by NBS macro-region (our calibration; the 2018
#: economic census put 58.8 % of all legal units in the East under the three-way grouping, and the
#: East's share of manufacturing is higher than its share of services).
MACRO_TARGET = {"East": 0.60, "Central": 0.21, "West": 0.14, "Northeast": 0.05}

#: Spread of a county's establishments, as a share of the distance to its nearest neighbour county.
SPREAD_SHARE = 0.35
SPREAD_MIN_KM, SPREAD_MAX_KM = 1.5, 25.0


def chord_to_km(chord: np.ndarray) -> np.ndarray:
    """Great-circle distance (km) from the chord length between unit vectors."""
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))


def _ancestor_at(regions: pd.DataFrame, codes: pd.Series, level: str) -> pd.Series:
    """The code of each region's ancestor at ``level`` (itself if it is at that level), else NA."""
    parent = dict(zip(regions["region_code"], regions["parent_code"], strict=True))
    lvl = dict(zip(regions["region_code"], regions["level"], strict=True))
    out = []
    for code in codes:  # one pass per county over at most three levels; counties number ~2,800
        cur = code
        while cur is not None and not pd.isna(cur) and lvl.get(cur) != level:
            cur = parent.get(cur)
        out.append(cur if cur is not None and not pd.isna(cur) and lvl.get(cur) == level else None)
    return pd.Series(out, index=codes.index, dtype="string")


def county_table(regions: pd.DataFrame) -> pd.DataFrame:
    """Counties (leaf regions) usable for placing establishments, with prefecture and province.

    Parameters
    ----------
    regions : pandas.DataFrame
        The gazetteer (``clusteratlas.geo.regions()``): ``region_code, name, level, parent_code,
        lon, lat, macro_region, city_size_class, population``.

    Returns
    -------
    pandas.DataFrame
        One row per county with coordinates: ``region_code, name, lon, lat, population,
        prefecture_code, province_code, macro_region, city_size_class, spread_km``. A county whose
        prefecture is a province-level municipality gets the municipality as ``prefecture_code``.
        Missing population is filled with the median of the county's province (so it still draws
        establishments); missing macro-region / city-size class are inherited from the prefecture or
        province.
    """
    # Leaf units: counties, plus prefecture-level cities that have no counties (东莞, 中山, 儋州 …
    # whose towns report to the city directly). Province-level units without counties (Hong Kong,
    # Macao, Taiwan) stay out: the statistics the demo is calibrated to cover the mainland.
    has_child = regions["region_code"].isin(regions["parent_code"].dropna())
    leaf = (regions["level"] == "county") | ((regions["level"] == "prefecture") & ~has_child)
    counties = regions.loc[leaf.to_numpy(dtype=bool)].copy()
    counties = counties.loc[counties["lon"].notna() & counties["lat"].notna()]
    if counties.empty:
        raise ValueError("the gazetteer has no counties with coordinates; cannot place establishments")
    counties["province_code"] = _ancestor_at(regions, counties["region_code"], "province")
    prefecture = _ancestor_at(regions, counties["region_code"], "prefecture")
    counties["prefecture_code"] = prefecture.fillna(counties["province_code"])
    by_code = regions.set_index("region_code")
    for column in ("macro_region", "city_size_class"):
        for up in ("prefecture_code", "province_code"):
            missing = counties[column].isna()
            if not missing.any():
                break
            counties.loc[missing, column] = counties.loc[missing, up].map(by_code[column]).to_numpy()
    pop = counties["population"].astype("Float64")
    pop = pop.fillna(pop.groupby(counties["province_code"]).transform("median")).fillna(pop.median())
    counties["population"] = pop.astype(float)
    lon = counties["lon"].to_numpy(dtype=float)
    lat = counties["lat"].to_numpy(dtype=float)
    xyz = unit_xyz(lon, lat)
    dist, _ = cKDTree(xyz).query(xyz, k=2)
    nn_km = chord_to_km(dist[:, 1])
    counties["spread_km"] = np.clip(SPREAD_SHARE * nn_km, SPREAD_MIN_KM, SPREAD_MAX_KM)
    counties["lon"], counties["lat"] = lon, lat
    cols = ["region_code", "name", "lon", "lat", "population", "prefecture_code", "province_code",
            "macro_region", "city_size_class", "spread_km"]
    return counties[cols].reset_index(drop=True)


def background_weights(counties: pd.DataFrame, follow_population_only: bool = False) -> np.ndarray:
    """Probability of each county receiving a background establishment.

    Population re-weighted by macro-region to ``MACRO_TARGET``; ``follow_population_only`` gives
    weights proportional to population alone.
    """
    pop = counties["population"].to_numpy(dtype=float)
    w = pop / pop.sum()
    if follow_population_only:
        return w
    macro = counties["macro_region"].astype("string").fillna("").to_numpy(dtype=object)
    out = w.copy()
    for name, target in MACRO_TARGET.items():
        mask = macro == name
        share = w[mask].sum()
        if share > 0:
            out[mask] = w[mask] * target / share
    return out / out.sum()


def scatter(rng: np.random.Generator, lon: np.ndarray, lat: np.ndarray,
            sigma_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points drawn from an isotropic Gaussian (sd ``sigma_km`` in each axis) around each centre."""
    n = lon.shape[0]
    dx = rng.standard_normal(n) * sigma_km
    dy = rng.standard_normal(n) * sigma_km
    new_lat = lat + dy / KM_PER_DEGREE
    new_lon = lon + dx / (KM_PER_DEGREE * np.cos(np.radians(lat)))
    return np.round(new_lon, 6), np.round(np.clip(new_lat, -89.9, 89.9), 6)


def nearest(lon: np.ndarray, lat: np.ndarray, ref_lon: np.ndarray,
            ref_lat: np.ndarray) -> np.ndarray:
    """Index of the nearest reference point (great-circle) for every point."""
    tree = cKDTree(unit_xyz(ref_lon, ref_lat))
    _, idx = tree.query(unit_xyz(lon, lat))
    return idx
