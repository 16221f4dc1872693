"""Innovation records of the demo economy: patents and publications with their actors.

Each document has a lead actor in a *home* prefecture. Homes are drawn so that ``HUB_PATENT_SHARE``
of patents and ``HUB_PUBLICATION_SHARE`` of publications start in the planted innovation hubs, split
between hubs in proportion to their published GII 2023 PCT filings and article counts; the rest
follow establishments (patents) or population (publications). Co-actors are in the same prefecture
with probability ``LOCAL_COACTOR``; otherwise they are drawn by a gravity model (destination mass
over distance), which produces the cross-region co-inventions a cooperation network is built from.

Actors are firms (real establishments of the economy, high-tech ones more likely), universities
and research institutes (synthetic organisations placed in each prefecture, many more in hubs).
Each document's fractional shares are equal and sum to 1 (WIPO's fractional counting).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from clusteratlas.demo.places import haversine_km, scatter

#: Probability that a co-actor is in the lead actor's prefecture.
LOCAL_COACTOR = 0.7
#: Actor-type mix (firm, university, institute) by document kind.
ACTOR_MIX = {"patent": (0.75, 0.15, 0.10), "publication": (0.10, 0.70, 0.20)}
#: Mean number of co-actors beyond the lead (Poisson), by kind; at most MAX_ACTORS actors.
EXTRA_ACTORS = {"patent": 0.8, "publication": 1.6}
MAX_ACTORS = 8
#: Science fields of publications and their weights (illustrative).
SCIENCE_FIELDS = ("engineering", "materials science", "chemistry", "life sciences", "medicine",
                  "physics", "computer science", "earth sciences")
SCIENCE_WEIGHTS = (0.22, 0.14, 0.14, 0.13, 0.13, 0.10, 0.09, 0.05)
#: Distance scale (km) of the gravity model for cross-region co-actors.
GRAVITY_KM = 300.0


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Identifiers like ``P0000042`` as an Arrow string array (fast for millions)."""
    text = pc.utf8_lpad(pa.array(numbers, type=pa.int64()).cast(pa.string()), width, padding="0")
    return pc.binary_join_element_wise(pa.scalar(prefix), text, "")


def choose_within(rng: np.random.Generator, groups: np.ndarray, item_group: np.ndarray,
                  item_weight: np.ndarray) -> np.ndarray:
    """For each draw, an item of its group chosen with probability ~ weight (-1 if none).

    Items need not be sorted; the work is a sort of the items and a binary search per draw.
    """
    order = np.argsort(item_group, kind="stable")
    g_sorted = item_group[order]
    cw = np.cumsum(item_weight[order].astype(np.float64))
    n_groups = int(max(groups.max(initial=-1), item_group.max(initial=-1))) + 1
    start = np.searchsorted(g_sorted, np.arange(n_groups), side="left")
    end = np.searchsorted(g_sorted, np.arange(n_groups), side="right")
    lo = np.where(start > 0, cw[np.maximum(start - 1, 0)], 0.0)
    hi = np.where(end > 0, cw[np.maximum(end - 1, 0)], 0.0)
    s, e = start[groups], end[groups]
    u = lo[groups] + rng.random(groups.shape[0]) * (hi[groups] - lo[groups])
    pos = np.clip(np.searchsorted(cw, u, side="right"), s, np.maximum(e - 1, s))
    return np.where(e > s, order[np.minimum(pos, order.size - 1)], -1)


def _gravity_destinations(rng: np.random.Generator, origin: np.ndarray, mass: np.ndarray,
                          lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """A destination other than the origin for each draw, ~ mass / (1 + distance / GRAVITY_KM)."""
    n = mass.shape[0]
    dist = haversine_km(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
    w = mass[None, :] / (1.0 + dist / GRAVITY_KM)
    np.fill_diagonal(w, 0.0)
    cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    cum[:, -1] = 1.0
    # One sorted vector: row o occupies (o, o + 1]; a draw for origin o searches o + u.
    flat = (cum + np.arange(n)[:, None]).ravel()
    pos = np.searchsorted(flat, origin + rng.random(origin.shape[0]), side="right")
    return np.minimum(pos - origin * n, n - 1)


def generate_innovations(
    rng: np.random.Generator,
    counties: pd.DataFrame,
    hubs: pd.DataFrame,
    hub_sites: list[np.ndarray],
    firms: pd.DataFrame,
    n_patents: int,
    n_publications: int,
    years: tuple[int, ...],
    hub_patent_share: float,
    hub_publication_share: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw the innovations and innovation_actors tables.

    Parameters
    ----------
    counties : pandas.DataFrame
        :func:`clusteratlas.demo.places.county_table`.
    hubs : pandas.DataFrame
        Innovation-hub components of the plan (``pct_weight``, ``article_weight``).
    hub_sites : list of ndarray
        County indices of each hub component.
    firms : pandas.DataFrame
        Establishments of the latest year: ``est_id, county`` (index into ``counties``), ``lon, lat,
        region_code, industry, high_tech`` (bool), ``tech``.
    n_patents, n_publications : int
    years : tuple of int
        Years the documents are spread over (later years slightly more).
    hub_patent_share, hub_publication_share : float
        Share of documents whose lead actor is in a hub.

    Returns
    -------
    innovations, innovation_actors : pandas.DataFrame
        As in :mod:`clusteratlas.schema`.
    """
    pref_codes, county_pref = np.unique(counties["prefecture_code"].to_numpy(dtype=object),
                                        return_inverse=True)
    n_pref = pref_codes.size
    pop = counties["population"].to_numpy(dtype=float)
    pref_pop = np.bincount(county_pref, weights=pop, minlength=n_pref)
    c_lon, c_lat = counties["lon"].to_numpy(dtype=float), counties["lat"].to_numpy(dtype=float)
    pref_lon = np.bincount(county_pref, weights=pop * c_lon, minlength=n_pref) / pref_pop
    pref_lat = np.bincount(county_pref, weights=pop * c_lat, minlength=n_pref) / pref_pop
    firm_pref = county_pref[firms["county"].to_numpy()]
    firm_count = np.bincount(firm_pref, minlength=n_pref).astype(float)

    def hub_weights(column: str) -> np.ndarray:
        w = np.zeros(n_pref)
        if len(hubs) == 0:
            return w
        total = hubs[column].sum()
        for weight, sites in zip(hubs[column].to_numpy(dtype=float), hub_sites, strict=True):
            part = pop[sites] / pop[sites].sum() * weight / total
            np.add.at(w, county_pref[sites], part)
        return w

    def home_probability(hub_col: str, hub_share: float, background: np.ndarray) -> np.ndarray:
        hub = hub_weights(hub_col)
        share = hub_share if hub.sum() > 0 else 0.0
        p = share * hub + (1.0 - share) * background / background.sum()
        return p / p.sum()

    p_patent = home_probability("pct_weight", hub_patent_share, firm_count)
    p_pub = home_probability("article_weight", hub_publication_share, pref_pop)

    # Organisations: universities and institutes, more where publications concentrate.
    n_univ = 1 + np.floor(300.0 * p_pub).astype(np.int64)
    n_inst = 1 + np.floor(150.0 * (p_pub + p_patent) / 2.0).astype(np.int64)
    org_pref = np.concatenate([np.repeat(np.arange(n_pref), n_univ),
                               np.repeat(np.arange(n_pref), n_inst)])
    org_type = np.concatenate([np.full(n_univ.sum(), 1), np.full(n_inst.sum(), 2)])
    org_county = choose_within(rng, org_pref, county_pref, pop)
    org_lon, org_lat = scatter(rng, c_lon[org_county], c_lat[org_county],
                               np.full(org_county.size, 3.0))
    org_num = np.arange(org_pref.size)
    org_ids = np.where(org_type == 1, "U", "I").astype(object) + pd.Series(org_num).map(
        "{:05d}".format).to_numpy(dtype=object)

    kinds = np.concatenate([np.zeros(n_patents, np.int8), np.ones(n_publications, np.int8)])
    n_docs = kinds.size
    home = np.concatenate([rng.choice(n_pref, n_patents, p=p_patent),
                           rng.choice(n_pref, n_publications, p=p_pub)])
    extra = np.where(kinds == 0, EXTRA_ACTORS["patent"], EXTRA_ACTORS["publication"])
    n_act = np.minimum(1 + rng.poisson(extra), MAX_ACTORS)
    doc_of = np.repeat(np.arange(n_docs), n_act)
    first = np.zeros(doc_of.size, dtype=bool)
    first[np.cumsum(n_act) - n_act] = True
    kind_a = kinds[doc_of]

    # Where each actor is: lead at home; co-actors local or elsewhere by gravity.
    pref_a = home[doc_of].copy()
    away = ~first & (rng.random(doc_of.size) >= LOCAL_COACTOR)
    mass = (p_patent + p_pub) / 2.0
    pref_a[away] = _gravity_destinations(rng, pref_a[away], mass, pref_lon, pref_lat)

    # What each actor is.
    u = rng.random(doc_of.size)
    mix = np.array([ACTOR_MIX["patent"], ACTOR_MIX["publication"]])
    cum = np.cumsum(mix, axis=1)[kind_a]
    a_type = (u[:, None] >= cum[:, :2]).sum(axis=1)  # 0 firm, 1 university, 2 institute

    firm_w = 1.0 + 9.0 * firms["high_tech"].to_numpy(dtype=bool) + 4.0 * firms["tech"].to_numpy()
    pick_firm = choose_within(rng, pref_a, firm_pref, firm_w)
    is_firm = (a_type == 0) & (pick_firm >= 0)
    a_type = np.where((a_type == 0) & ~is_firm, 2, a_type)  # no firm in that prefecture: institute
    org_w = np.ones(org_pref.size)
    key = pref_a * 3 + a_type  # pick an organisation of the right type in the prefecture
    pick_org = choose_within(rng, np.where(is_firm, 0, key), org_pref * 3 + org_type, org_w)

    f_idx = np.where(is_firm, pick_firm, 0)
    o_idx = np.where(is_firm, 0, pick_org)
    actor_id = np.where(is_firm, firms["est_id"].to_numpy(dtype=object)[f_idx], org_ids[o_idx])
    lon = np.where(is_firm, firms["lon"].to_numpy(dtype=float)[f_idx], org_lon[o_idx])
    lat = np.where(is_firm, firms["lat"].to_numpy(dtype=float)[f_idx], org_lat[o_idx])
    region = np.where(is_firm, firms["region_code"].to_numpy(dtype=object)[f_idx],
                      counties["region_code"].to_numpy(dtype=object)[org_county[o_idx]])

    # The same firm or organisation drawn twice for one document is one actor with both shares.
    actor_key = np.where(is_firm, f_idx, len(firms) + o_idx).astype(np.int64)
    combined = doc_of.astype(np.int64) * (len(firms) + org_pref.size) + actor_key
    order = np.argsort(combined, kind="stable")
    keep = np.ones(order.size, dtype=bool)
    keep[1:] = combined[order][1:] != combined[order][:-1]
    starts = np.flatnonzero(keep)
    rows = order[starts]
    share = np.add.reduceat((1.0 / n_act[doc_of])[order], starts)
    type_names = np.array(["firm", "university", "institute"], dtype=object)
    doc_ids = np.asarray(ids("D", np.arange(1, n_docs + 1), 8).to_pylist(), dtype=object)
    actors = pd.DataFrame({
        "doc_id": doc_ids[doc_of[rows]], "actor_id": actor_id[rows],
        "actor_type": type_names[a_type[rows]], "lon": lon[rows], "lat": lat[rows],
        "region_code": region[rows], "share": share,
    })

    year_w = np.linspace(1.0, 1.0 + 0.1 * (len(years) - 1), len(years))
    year = rng.choice(np.asarray(years), n_docs, p=year_w / year_w.sum())
    # Patent field: the GB/T 4754 group of the lead firm (or the first firm actor); publications:
    # a science field.
    firm_industry = firms["industry"].to_numpy(dtype=object)
    patent_field = np.full(n_docs, None, dtype=object)
    has_firm = is_firm & (kind_a == 0)
    doc_first_firm = pd.Series(pick_firm[has_firm]).groupby(doc_of[has_firm]).first()
    patent_field[doc_first_firm.index.to_numpy()] = firm_industry[doc_first_firm.to_numpy()]
    science = rng.choice(np.asarray(SCIENCE_FIELDS, dtype=object), n_docs,
                         p=np.asarray(SCIENCE_WEIGHTS))
    field = np.where(kinds == 0, patent_field, science)
    innovations = pd.DataFrame({
        "doc_id": doc_ids, "kind": np.where(kinds == 0, "patent", "publication"),
        "year": year, "field": field,
    })
    return innovations, actors


def co_patent_links(innovations: pd.DataFrame, actors: pd.DataFrame,
                    county_to_prefecture: pd.Series) -> pd.DataFrame:
    """Undirected prefecture-to-prefecture co-patenting counts (origin < destination).

    ``weight`` is the number of patents with actors in both prefectures, all years together.
    """
    patents = innovations.loc[innovations["kind"] == "patent", ["doc_id"]]
    a = actors.merge(patents, on="doc_id")[["doc_id", "region_code"]]
    a["pref"] = a["region_code"].map(county_to_prefecture)
    a = a[["doc_id", "pref"]].dropna().drop_duplicates()
    multi = a["doc_id"].duplicated(keep=False)
    a = a.loc[multi]
    pairs = a.merge(a, on="doc_id", suffixes=("_o", "_d"))
    pairs = pairs.loc[pairs["pref_o"] < pairs["pref_d"]]
    out = pairs.groupby(["pref_o", "pref_d"], as_index=False).size()
    return pd.DataFrame({"origin": out["pref_o"], "destination": out["pref_d"],
                         "kind": "co_patent", "year": pd.NA, "weight": out["size"].astype(float)})
