"""The ground truth planted in the demo economy.

Five kinds of planted structure, each a set of *components* (one industry at one site):

``national``
    The 45 national advanced manufacturing clusters (MIIT, 2022; ``data/national_advanced_
    manufacturing_clusters.csv``), each at its real host city or cities, resolved through the
    gazetteer. Their industries are GB/T 4754-2017 groups chosen by us from the cluster's name
    (``data/national_cluster_industries.csv``). Together they hold the share of national output the
    45 clusters really produced (over 20 trillion yuan in 2022, against 137.9 trillion yuan of operating
    revenue of industrial enterprises above designated size: ``NATIONAL_OUTPUT_SHARE``).
``sme_featured``
    SME featured clusters (中小企业特色产业集群): one light or specialised industry in one county of a
    small or medium city. Their sites are drawn at random (seeded); their total output is the
    published 2.5 trillion yuan of the 100 clusters (``SME_OUTPUT_SHARE``), their exports grow ~30 %
    a year.
``colocated_pair``
    Two industries (supplier and user) planted together at the same three county sites.
``innovation_hub``
    The Chinese science-and-technology clusters of the GII 2023 top list (Shenzhen–Hong Kong–
    Guangzhou, Beijing, Shanghai–Suzhou, Nanjing, Wuhan, Hangzhou, Xi'an, Qingdao, Chengdu), which
    receive most patents and publications, in proportion to their published PCT filings and articles.
``dispersed``
    Controls with no planted concentration: market-oriented industries (concrete products,
    printing, soft drinks, bakeries — among the least localised industries in Ellison & Glaeser
    1997 and Duranton & Overman 2005) whose establishments copy the sites of randomly drawn other
    establishments, so that neither an index relative to aggregate manufacturing (EG) nor a test
    against all sites (K-density) should flag them beyond its nominal false-positive rate.

Every industry not named in the truth follows the same common background (population tilted by
macro-region to manufacturing's real geography), so it has no industry-specific concentration
either; the dispersed rows name the controls explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clusteratlas.demo import firms
from clusteratlas.demo.industries import read_data
from clusteratlas.demo.places import haversine_km
from clusteratlas.errors import ClusterAtlasError

#: Share of total output planted in the 45 national clusters: 20 / 137.9 trillion yuan (2022).
NATIONAL_OUTPUT_SHARE = 20.0 / 137.9
#: Share of total output planted in SME featured clusters: 2.5 / 137.9 trillion yuan.
SME_OUTPUT_SHARE = 2.5 / 137.9
#: Size and productivity boosts of planted national-cluster establishments (our assumption: cluster
#: firms are larger and more productive, the agglomeration premium).
NATIONAL_SIZE_BOOST = 1.5
NATIONAL_PRODUCTIVITY_BOOST = 1.3
#: Size scale of SME featured cluster plants (our assumption: small and medium enterprises).
SME_SIZE_BOOST = 0.6
#: Most of an industry that may be planted in clusters; the rest is background.
MAX_PLANTED_SHARE = 0.6
#: Spread (sd, km) of a planted national cluster around its host city; a multi-city cluster's sites
#: are each a little tighter. SME clusters and co-located pairs sit in one county.
NATIONAL_RADIUS_KM = 12.0
NATIONAL_MULTI_RADIUS_KM = 9.0
COUNTY_RADIUS_KM = 4.0
#: Share of an industry's establishments at each site of a co-located pair.
PAIR_SITE_SHARE = 0.10
#: SME export growth per year ("exports growing ~30 % a year").
SME_EXPORT_GROWTH = 0.30

#: Market-oriented industries planted as dispersed controls.
DISPERSED_INDUSTRIES = ("131", "135", "141", "152", "231", "302")
#: Supplier-user pairs planted together.
COLOCATED_PAIRS = (("191", "195"), ("222", "223"), ("292", "245"), ("201", "202"), ("304", "305"),
                   ("321", "325"))
#: Industries typical of SME featured clusters (light and specialised manufacturing).
SME_INDUSTRIES = ("137", "146", "151", "153", "172", "174", "176", "182", "183", "192", "204", "241",
                  "242", "243", "244", "332", "338", "344", "345", "348", "357", "376", "386", "387")
#: Number of SME featured clusters by scale (MIIT named 100 in 2022; the small economy is too small
#: to give each of 100 a detectable number of firms).
SME_COUNT = {"small": 40, "default": 100, "large": 100}
#: Share of patents / publications whose lead actor is in an innovation hub (our assumption; WIPO's
#: top Chinese clusters hold most of China's PCT filings).
HUB_PATENT_SHARE = 0.65
HUB_PUBLICATION_SHARE = 0.70

KINDS = ("national", "sme_featured", "colocated_pair", "innovation_hub", "dispersed")

Resolver = Callable[..., Any]


class GazetteerError(ValueError):
    """A planted site could not be found in the gazetteer."""


@dataclass
class Plan:
    """The planted structure before establishments are drawn.

    ``components`` has the truth columns plus generator-only ones (``size_boost``,
    ``productivity_boost``, ``export_growth``); ``sites`` lists, per component, the indices of the
    counties (rows of the county table) its establishments may belong to.
    """

    components: pd.DataFrame
    sites: list[np.ndarray]
    notes: list[str] = field(default_factory=list)


def _first_code(result: object) -> object:
    """The region code of the first name in a resolver's answer (frame, series or list)."""
    if isinstance(result, pd.DataFrame):
        return result["region_code"].iloc[0] if len(result) else None
    if isinstance(result, pd.Series):
        return result.iloc[0] if len(result) else None
    items = list(result)  # type: ignore[call-overload]
    return items[0] if items else None


def _resolve_one(resolve: Resolver, name: str, hint: str | None) -> str | None:
    """The gazetteer code of ``name`` (also tried with 市 appended), or None."""
    for candidate in (name, name if name.endswith("市") else name + "市"):
        try:
            code = _first_code(resolve([candidate], hint=hint))
        except (ClusterAtlasError, KeyError, ValueError, LookupError):
            code = None  # an unresolvable name is reported by the caller
        if code is not None and not pd.isna(code) and str(code) != "":
            return str(code)
    return None


def _host_counties(counties: pd.DataFrame, code: str) -> np.ndarray:
    mask = ((counties["region_code"] == code) | (counties["prefecture_code"] == code)
            | (counties["province_code"] == code))
    return np.flatnonzero(mask.to_numpy(dtype=bool))


def _site(regions: pd.DataFrame, counties: pd.DataFrame, code: str) -> dict:
    row = regions.loc[regions["region_code"] == code].iloc[0]
    idx = _host_counties(counties, code)
    lon, lat = row["lon"], row["lat"]
    if pd.isna(lon) or pd.isna(lat):
        lon, lat = counties["lon"].iloc[idx].mean(), counties["lat"].iloc[idx].mean()
    macro = row["macro_region"]
    size = row["city_size_class"]
    if len(idx):
        if pd.isna(macro):
            macro = counties["macro_region"].iloc[idx].mode().iloc[0]
        if pd.isna(size):
            size = counties["city_size_class"].iloc[idx].mode().iloc[0] if \
                counties["city_size_class"].iloc[idx].notna().any() else pd.NA
    return {"region_code": code, "host_name": row["name"], "lon": float(lon), "lat": float(lat),
            "macro_region": macro, "city_size_class": size, "counties": idx}


def _small_or_medium(counties: pd.DataFrame) -> np.ndarray:
    """Counties in small or medium cities (2014 city-size classes), by the gazetteer's labels."""
    label = counties["city_size_class"].astype("string").str.lower().fillna("")
    mask = label.str.contains("small|medium|小|中等", regex=True).to_numpy(dtype=bool)
    if not mask.any():  # gazetteer without classes: the less populous half of counties
        pop = counties["population"].to_numpy(dtype=float)
        mask = pop <= np.median(pop)
    return mask


def national_clusters(regions: pd.DataFrame, counties: pd.DataFrame,
                      resolve: Resolver) -> list[dict]:
    """The 45 national clusters as components located at their host cities."""
    spec = read_data("national_advanced_manufacturing_clusters.csv")
    inds = read_data("national_cluster_industries.csv").set_index("id")
    rows: list[dict] = []
    unresolved: list[str] = []
    for rec in spec.itertuples(index=False):
        provinces = rec.provinces.split(";")
        cities = rec.host_cities.split(";")
        sites = []
        for city in cities:
            hint = provinces[0] if len(provinces) == 1 else None
            code = _resolve_one(resolve, city, hint)
            if code is None and len(provinces) > 1:
                for province in provinces:
                    code = _resolve_one(resolve, city, province)
                    if code is not None:
                        break
            if code is None or not (regions["region_code"] == code).any():
                unresolved.append(f"{rec.name_zh}: {city}")
                continue
            sites.append(_site(regions, counties, code))
        industries = inds.loc[rec.id, "industries"].split(";")
        growth = float(inds.loc[rec.id, "growth"])
        radius = NATIONAL_RADIUS_KM if len(sites) == 1 else NATIONAL_MULTI_RADIUS_KM
        for site in sites:
            for industry in industries:
                rows.append({
                    "cluster_id": f"NAMC-{int(rec.id):02d}", "kind": "national",
                    "name_zh": rec.name_zh, "name_en": rec.name_en, "industry": industry,
                    "field": rec.field_en, "radius_km": radius, "growth": growth,
                    "source": "MIIT national advanced manufacturing clusters, 2022", **site,
                })
    if unresolved:
        raise GazetteerError(
            "host cities of national clusters not found in the gazetteer: " + "; ".join(unresolved))
    return rows


def innovation_hubs(regions: pd.DataFrame, counties: pd.DataFrame, resolve: Resolver,
                    notes: list[str]) -> list[dict]:
    """The Chinese GII 2023 top S&T clusters as hub sites, weighted by published counts.

    ``cluster_id`` carries the GII 2023 rank (``HUB-04`` is Beijing, rank 4 worldwide).
    """
    gii = read_data("gii2023_top_st_clusters.csv")
    gii = gii.loc[gii["economy"].isin(["CN", "CN/HK"])]
    rows: list[dict] = []
    for rec in gii.itertuples(index=False):
        sites = []
        for name in rec.name_zh.split("—"):
            code = _resolve_one(resolve, name, None)
            if code is None or not (regions["region_code"] == code).any():
                notes.append(f"innovation hub {rec.cluster}: site {name} is not in the gazetteer; "
                             "the hub is planted at its other sites")
                continue
            site = _site(regions, counties, code)
            if len(site["counties"]) == 0:
                notes.append(f"innovation hub {rec.cluster}: site {name} has no counties; skipped")
                continue
            sites.append(site)
        if not sites:
            continue
        pop = np.array([counties["population"].iloc[s["counties"]].sum() for s in sites])
        split = pop / pop.sum()
        for site, part in zip(sites, split, strict=True):
            rows.append({
                "cluster_id": f"HUB-{int(rec.rank):02d}", "kind": "innovation_hub", "name_zh": rec.name_zh,
                "name_en": rec.cluster, "industry": pd.NA, "field": "science and technology",
                "radius_km": NATIONAL_RADIUS_KM, "growth": np.nan,
                "source": "WIPO Global Innovation Index 2023, top S&T clusters",
                "pct_weight": float(rec.pct_filings) * part,
                "article_weight": float(rec.scientific_articles) * part, **site,
            })
    return rows


def _group_sum(keys: pd.Series, values: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over rows sharing a key, broadcast back to the rows."""
    return pd.Series(values).groupby(keys.to_numpy()).transform("sum").to_numpy(dtype=float)


def _group_any(keys: pd.Series, flags: np.ndarray) -> np.ndarray:
    """Whether any row sharing a key is flagged, broadcast back to the rows."""
    return pd.Series(flags).groupby(keys.to_numpy()).transform("any").to_numpy(dtype=bool)


def plan(regions: pd.DataFrame, counties: pd.DataFrame, industries: pd.DataFrame,
         industry_counts: pd.Series, scale: str, rng: np.random.Generator,
         resolve: Resolver) -> Plan:
    """Lay out every planted component and how many establishments it receives.

    Parameters
    ----------
    regions, counties : pandas.DataFrame
        The gazetteer and its county table (:func:`clusteratlas.demo.places.county_table`).
    industries : pandas.DataFrame
        :func:`clusteratlas.demo.industries.industries`.
    industry_counts : pandas.Series
        Establishments per industry (index ``industry``) in the reference year.
    scale : str
        ``small``, ``default`` or ``large`` (sets the number of SME clusters).
    rng : numpy.random.Generator
    resolve : callable
        ``resolve(names, hint=None)`` of the gazetteer.
    """
    notes: list[str] = []
    total = float(industry_counts.sum())
    law = firms.size_law(int(total))
    # Expected output per establishment: mean size (exact for the size law and the division's size
    # scale, times a size boost) times productivity (times a productivity boost).
    by_ind = industries.set_index("industry")

    def expected_output(inds: object, size_boost: float = 1.0, prod_boost: float = 1.0) -> np.ndarray:
        rows = by_ind.reindex(inds)
        size = law.expected(rows["size_scale"].to_numpy(dtype=float) * size_boost)
        return size * rows["productivity"].to_numpy(dtype=float) * prod_boost

    mean_output = np.average(expected_output(industry_counts.index),
                             weights=industry_counts.to_numpy())
    rows = national_clusters(regions, counties, resolve)
    used_prefectures = {r["region_code"] for r in rows}
    used_counties: set[int] = set()

    # National strengths: random relative weights, scaled so the planted establishments carry
    # NATIONAL_OUTPUT_SHARE of output given their size and productivity boosts.
    nat = pd.DataFrame(rows)
    raw = rng.uniform(0.6, 1.4, len(nat))
    # Component c gets n_c = K raw_c establishments, each expected to produce o_c; K is set so that
    # sum_c n_c o_c is the target share of the economy's expected output (total * mean_output).
    o_c = expected_output(nat["industry"], NATIONAL_SIZE_BOOST, NATIONAL_PRODUCTIVITY_BOOST)
    n_i = industry_counts.reindex(nat["industry"]).to_numpy(dtype=float)
    target = NATIONAL_OUTPUT_SHARE * total * mean_output
    # No industry may have more than MAX_PLANTED_SHARE of its establishments planted; the output a
    # capped industry cannot take is spread over the others (a few rounds of water-filling).
    weight = raw.copy()
    capped = np.zeros(len(nat), dtype=bool)
    for _ in range(10):  # rounds over components, not establishments
        free = ~capped
        fixed = np.sum((n_i * MAX_PLANTED_SHARE * weight / _group_sum(nat["industry"], weight))
                       [capped] * o_c[capped]) if capped.any() else 0.0
        k = (target - fixed) / np.sum(weight[free] * o_c[free])
        strength = np.where(capped, 0.0, k * weight / n_i)
        share = _group_sum(nat["industry"], np.where(capped, 0.0, strength))
        newly = free & (share > MAX_PLANTED_SHARE)
        if not newly.any():
            break
        capped |= _group_any(nat["industry"], newly)
    cap_strength = MAX_PLANTED_SHARE * weight / _group_sum(nat["industry"], weight)
    nat["strength"] = np.where(capped, cap_strength, strength)
    if capped.any():
        notes.append(f"{int(capped.sum())} national components in industries too small for their "
                     f"share hold {MAX_PLANTED_SHARE:.0%} of the industry; the rest of the output "
                     "target went to the other components")
    nat["size_boost"] = NATIONAL_SIZE_BOOST
    nat["productivity_boost"] = NATIONAL_PRODUCTIVITY_BOOST
    nat["export_growth"] = np.nan
    frames = [nat]

    # SME featured clusters: distinct counties of small/medium cities outside national hosts.
    eligible = _small_or_medium(counties) & ~counties["prefecture_code"].isin(used_prefectures) \
        .to_numpy(dtype=bool)
    n_sme = SME_COUNT[scale]
    pool = np.flatnonzero(eligible)
    w = counties["population"].to_numpy(dtype=float)[pool]
    chosen = rng.choice(pool, size=min(n_sme, pool.size), replace=False, p=w / w.sum())
    sme_ind = rng.choice(np.array(SME_INDUSTRIES, dtype=object), size=chosen.size)
    sme_counts = industry_counts.reindex(sme_ind).to_numpy(dtype=float)
    raw = rng.uniform(0.6, 1.4, chosen.size)
    # SME clusters are clusters of small and medium enterprises: smaller plants, ordinary
    # productivity.
    o_sme = expected_output(sme_ind, SME_SIZE_BOOST)
    count_target = SME_OUTPUT_SHARE * total * mean_output * raw / np.sum(raw * o_sme)
    sme_rows = []
    for k, (ci, ind) in enumerate(zip(chosen, sme_ind, strict=True), start=1):
        county = counties.iloc[ci]
        used_counties.add(int(ci))
        info = industries.set_index("industry").loc[ind]
        sme_rows.append({
            "cluster_id": f"SME-{k:03d}", "kind": "sme_featured",
            "name_zh": f"{county['name']}{info['name_zh']}特色产业集群",
            "name_en": f"{county['name']} {info['name_en']} SME featured cluster (synthetic)",
            "industry": ind, "field": "consumer goods", "region_code": county["region_code"],
            "host_name": county["name"], "lon": county["lon"], "lat": county["lat"],
            "macro_region": county["macro_region"], "city_size_class": county["city_size_class"],
            "counties": np.array([ci]), "radius_km": COUNTY_RADIUS_KM, "growth": 0.08,
            "source": "synthetic (site drawn at random among small and medium cities)",
        })
    sme = pd.DataFrame(sme_rows)
    if len(sme):
        sme["strength"] = count_target / sme_counts
        sme["size_boost"] = SME_SIZE_BOOST
        sme["productivity_boost"] = 1.0
        sme["export_growth"] = SME_EXPORT_GROWTH
        frames.append(sme)
    if chosen.size < n_sme:
        notes.append(f"only {chosen.size} counties eligible for SME featured clusters")

    # Co-located pairs: three shared county sites per pair, away from other planted sites.
    free = np.ones(len(counties), dtype=bool)
    free[list(used_counties)] = False
    free &= ~counties["prefecture_code"].isin(used_prefectures).to_numpy(dtype=bool)
    pair_rows = []
    for k, (a, b) in enumerate(COLOCATED_PAIRS, start=1):
        pool = np.flatnonzero(free)
        w = counties["population"].to_numpy(dtype=float)[pool]
        sites = rng.choice(pool, size=3, replace=False, p=w / w.sum())
        free[sites] = False
        names = industries.set_index("industry").loc[[a, b]]
        for ci in sites:
            county = counties.iloc[ci]
            for ind in (a, b):
                pair_rows.append({
                    "cluster_id": f"PAIR-{k:02d}", "kind": "colocated_pair",
                    "name_zh": f"{names.loc[a, 'name_zh']}—{names.loc[b, 'name_zh']}共同集聚",
                    "name_en": f"{names.loc[a, 'name_en']} with {names.loc[b, 'name_en']}",
                    "industry": ind, "field": pd.NA, "region_code": county["region_code"],
                    "host_name": county["name"], "lon": county["lon"], "lat": county["lat"],
                    "macro_region": county["macro_region"],
                    "city_size_class": county["city_size_class"], "counties": np.array([ci]),
                    "radius_km": COUNTY_RADIUS_KM, "growth": np.nan, "strength": PAIR_SITE_SHARE,
                    "size_boost": 1.0, "productivity_boost": 1.0, "export_growth": np.nan,
                    "source": "synthetic (sites drawn at random, population-weighted)",
                })
    frames.append(pd.DataFrame(pair_rows))

    hubs = pd.DataFrame(innovation_hubs(regions, counties, resolve, notes))
    if len(hubs):
        hubs["strength"] = (HUB_PATENT_SHARE * hubs["pct_weight"] / hubs["pct_weight"].sum()
                            + HUB_PUBLICATION_SHARE * hubs["article_weight"]
                            / hubs["article_weight"].sum())
        score = hubs.groupby("cluster_id")["strength"].sum()
        hubs["rank"] = hubs["cluster_id"].map(score.rank(method="min", ascending=False)).astype(int)
        hubs["size_boost"] = np.nan
        hubs["productivity_boost"] = np.nan
        hubs["export_growth"] = np.nan
        frames.append(hubs)

    disp = industries.set_index("industry").loc[list(DISPERSED_INDUSTRIES)]
    frames.append(pd.DataFrame({
        "cluster_id": [f"DISP-{k:02d}" for k in range(1, len(disp) + 1)], "kind": "dispersed",
        "name_zh": disp["name_zh"].to_numpy() + "(分散)",
        "name_en": disp["name_en"].to_numpy() + " (dispersed)", "industry": disp.index.to_numpy(),
        "strength": 0.0, "source": "synthetic control: sites copied from random establishments",
        "counties": [np.array([], dtype=np.int64)] * len(disp),
    }))

    comp = pd.concat(frames, ignore_index=True)
    comp["component"] = comp.groupby("cluster_id").cumcount()
    sites = [np.asarray(c, dtype=np.int64) for c in comp.pop("counties")]
    return Plan(components=comp, sites=sites, notes=notes)


def distance_to_site_km(comp: pd.DataFrame, lon: np.ndarray, lat: np.ndarray,
                        index: np.ndarray) -> np.ndarray:
    """Distance (km) of points to the centre of the component they were planted in."""
    return haversine_km(lon, lat, comp["lon"].to_numpy(dtype=float)[index],
                        comp["lat"].to_numpy(dtype=float)[index])
