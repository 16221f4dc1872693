"""The demo economy: a seeded synthetic economy on China's real counties, with planted truth.

:func:`generate` returns a :class:`DemoEconomy` whose tables have the columns and dtypes of
:mod:`clusteratlas.schema` (``establishments``, ``innovations``, ``innovation_actors``, ``links``)
plus the ground truth (``truth``, documented as ``planted_clusters`` in the schema).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from clusteratlas import schema
from clusteratlas.demo import firms as firms_mod
from clusteratlas.demo import innovation as innov
from clusteratlas.demo import panel, places, planted
from clusteratlas.demo.industries import industries as industry_table
from clusteratlas.errors import InputError

#: Establishments alive in the latest year, by scale.
SCALES: dict[str, int] = {"small": 50_000, "default": 200_000, "large": 1_000_000}
#: Distance (sd, km) between a dispersed control and the establishment whose site it copies.
CONTROL_JITTER_KM = 0.3
#: Documents per establishment (patents, publications) in the latest-year economy.
PATENTS_PER_ESTABLISHMENT = 0.25
PUBLICATIONS_PER_ESTABLISHMENT = 0.20


@dataclass
class DemoEconomy:
    """The generated tables and how they were made.

    Attributes
    ----------
    establishments, innovations, innovation_actors, links : pandas.DataFrame
        Canonical tables (see :mod:`clusteratlas.schema`).
    truth : pandas.DataFrame
        The planted ground truth (schema table ``planted_clusters``).
    members : pandas.DataFrame
        Which establishments were planted in which component: ``est_id, cluster_id, component,
        kind`` (one row per planted establishment; the others are background). Point-level truth
        for scoring density clusters; not a canonical table.
    industries : pandas.DataFrame
        The industry classification used (:func:`clusteratlas.demo.industries.industries`).
    regions : pandas.DataFrame
        The gazetteer the economy was placed on.
    params : dict
        ``scale``, ``seed``, ``years`` and the sizes drawn.
    notes : list of str
        Caveats (e.g. a hub site missing from the gazetteer).
    """

    establishments: pd.DataFrame
    innovations: pd.DataFrame
    innovation_actors: pd.DataFrame
    links: pd.DataFrame
    truth: pd.DataFrame
    members: pd.DataFrame
    industries: pd.DataFrame
    regions: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The canonical tables by schema name (what a store loads)."""
        return {
            "establishments": self.establishments,
            "innovations": self.innovations,
            "innovation_actors": self.innovation_actors,
            "links": self.links,
            "planted_clusters": self.truth,
        }

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v):,}" for k, v in self.tables().items())
        return f"<DemoEconomy scale={self.params.get('scale')!r} seed={self.params.get('seed')}: {sizes}>"


def _conform(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Columns in schema order with schema dtypes (optional columns we do not fill are omitted)."""
    spec = schema.table(table)
    cols = [c for c in spec.names if c in frame.columns]
    return frame[cols].astype({c: spec.column(c).dtype for c in cols})


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers summing to ``total`` proportional to ``weights`` (largest remainder)."""
    exact = total * weights / weights.sum()
    base = np.floor(exact).astype(np.int64)
    rest = total - base.sum()
    base[np.argsort(-(exact - base), kind="stable")[:rest]] += 1
    return base


def _string_from_codes(labels: np.ndarray, codes: np.ndarray) -> pd.Series:
    """A pandas string Series from small label set + integer codes, without per-row Python."""
    dictionary = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)),
                                                pa.array(list(labels), type=pa.string()))
    return pd.Series(dictionary.cast(pa.string()), dtype="string")


def generate(scale: str = "small", seed: int = 0, regions: pd.DataFrame | None = None,
             resolve: Any = None) -> DemoEconomy:
    """Generate the demo economy.

    Parameters
    ----------
    scale : {"small", "default", "large"}
        About 50,000, 200,000 or 1,000,000 establishments in the latest year (plus the earlier
        years of the panel and the firms that exit).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed (and gazetteer) gives identical tables.
    regions, resolve : optional
        The gazetteer frame and name resolver; by default :func:`clusteratlas.geo.regions` and
        :func:`clusteratlas.geo.resolve`.

    Returns
    -------
    DemoEconomy
    """
    if scale not in SCALES:
        raise InputError(f"scale: expected one of {sorted(SCALES)}, got {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed: expected a non-negative integer, got {seed!r}")
    if regions is None or resolve is None:
        from clusteratlas import geo

        regions = geo.regions() if regions is None else regions
        resolve = geo.resolve if resolve is None else resolve
    rng = np.random.default_rng(int(seed))
    years = panel.YEARS
    n_alive = SCALES[scale]
    # Draw enough firms that about n_alive survive to the latest year.
    n_gen = round(n_alive / (1.0 - panel.EXIT_RATE) ** (len(years) - 1))

    ind = industry_table()
    counties = places.county_table(regions)
    counts = pd.Series(_allocate(n_gen, ind["weight"].to_numpy()), index=ind["industry"])
    plan = planted.plan(regions, counties, ind, counts, scale, rng, resolve)
    comp = plan.components

    # Establishments per planted component, capped per industry.
    bearing = comp["kind"].isin(["national", "sme_featured", "colocated_pair"]).to_numpy()
    n_ind = counts.reindex(comp["industry"]).to_numpy(dtype=float)
    want = np.where(bearing, comp["strength"].fillna(0.0).to_numpy() * np.nan_to_num(n_ind), 0.0)
    per_ind = pd.Series(want).groupby(comp["industry"].to_numpy()).transform("sum").to_numpy()
    cap = planted.MAX_PLANTED_SHARE * np.nan_to_num(n_ind)
    want = np.where(per_ind > cap, want * cap / np.maximum(per_ind, 1e-12), want)
    n_comp = np.floor(want + rng.random(want.size)).astype(np.int64)  # unbiased rounding

    ind_index = pd.Series(np.arange(len(ind)), index=ind["industry"])
    comp_ind = ind_index.reindex(comp["industry"]).fillna(-1).to_numpy(dtype=np.int64)
    planted_per_ind = np.bincount(comp_ind[bearing], weights=n_comp[bearing], minlength=len(ind))
    n_bg = counts.to_numpy() - planted_per_ind.astype(np.int64)

    # Background establishments (every industry, dispersed controls included): counties by
    # population tilted by macro-region.
    bg_ind = np.repeat(np.arange(len(ind)), n_bg)
    bg_county = rng.choice(len(counties), bg_ind.size, p=places.background_weights(counties))
    c_lon = counties["lon"].to_numpy(dtype=float)
    c_lat = counties["lat"].to_numpy(dtype=float)
    c_spread = counties["spread_km"].to_numpy(dtype=float)
    bg_lon, bg_lat = places.scatter(rng, c_lon[bg_county], c_lat[bg_county], c_spread[bg_county])

    # Planted establishments: Gaussian around the component's centre, in one of its counties.
    pl_comp = np.repeat(np.arange(len(comp)), n_comp)
    pl_ind = comp_ind[pl_comp]
    pl_lon, pl_lat = places.scatter(
        rng, comp["lon"].to_numpy(dtype=float)[pl_comp], comp["lat"].to_numpy(dtype=float)[pl_comp],
        comp["radius_km"].to_numpy(dtype=float)[pl_comp])
    pl_county = np.empty(pl_comp.size, dtype=np.int64)
    bounds = np.concatenate([[0], np.cumsum(n_comp)])
    for c in np.flatnonzero(n_comp):  # one nearest-county query per component (a few hundred)
        sl = slice(bounds[c], bounds[c + 1])
        sites = plan.sites[c]
        pl_county[sl] = sites[places.nearest(pl_lon[sl], pl_lat[sl], c_lon[sites], c_lat[sites])]

    # All firms together, in a random order so identifiers reveal nothing.
    firm_ind = np.concatenate([bg_ind, pl_ind])
    firm_comp = np.concatenate([np.full(bg_ind.size, -1), pl_comp])
    firm_county = np.concatenate([bg_county, pl_county])
    firm_lon = np.concatenate([bg_lon, pl_lon])
    firm_lat = np.concatenate([bg_lat, pl_lat])
    perm = rng.permutation(firm_ind.size)
    firm_ind, firm_comp, firm_county = firm_ind[perm], firm_comp[perm], firm_county[perm]
    firm_lon, firm_lat = firm_lon[perm], firm_lat[perm]
    n_firms = firm_ind.size
    has_comp = firm_comp >= 0
    safe_comp = np.where(has_comp, firm_comp, 0)

    def comp_value(column: str, default: float) -> np.ndarray:
        values = comp[column].astype(float).to_numpy() if column in comp else np.full(len(comp), np.nan)
        v = np.where(has_comp, values[safe_comp], np.nan)
        return np.where(np.isnan(v), default, v)

    size_scale = ind["size_scale"].to_numpy()[firm_ind] * comp_value("size_boost", 1.0)
    employment = firms_mod.size_law(n_gen).draw(rng, size_scale)
    productivity = ind["productivity"].to_numpy()[firm_ind] * comp_value("productivity_boost", 1.0)
    output = firms_mod.draw_output(rng, employment, productivity)
    exports = firms_mod.draw_exports(rng, output, ind["export_rate"].to_numpy()[firm_ind],
                                     ind["export_intensity"].to_numpy()[firm_ind])
    # Dispersed controls take the location of a randomly drawn other establishment (plus a few
    # hundred metres): exactly the null of the K-density (sites of all establishments) and, up to
    # plant sizes, of the EG index, so they have no concentration of their own.
    control = ~has_comp & np.isin(firm_ind, np.flatnonzero(
        ind["industry"].isin(planted.DISPERSED_INDUSTRIES).to_numpy()))
    donors = rng.choice(np.flatnonzero(~control), int(control.sum()))
    firm_county[control] = firm_county[donors]
    firm_lon[control], firm_lat[control] = places.scatter(
        rng, firm_lon[donors], firm_lat[donors], np.full(donors.size, CONTROL_JITTER_KM))
    founded = firms_mod.draw_founded(rng, employment, years[-1])
    tech = ind["tech"].to_numpy()[firm_ind]
    kind = comp["kind"].to_numpy(dtype=object)
    in_national = has_comp & (kind[safe_comp] == "national")
    little_giant, champion, high_tech = firms_mod.draw_designations(rng, employment, tech,
                                                                    in_national)
    designation_code = firms_mod.designation_codes(little_giant, champion, high_tech)
    designation_labels = np.asarray(firms_mod.DESIGNATION_LABELS, dtype=object)

    # Panel: exits, then back-cast earlier years.
    last = panel.last_years(rng, n_firms, founded, years)
    growth = comp_value("growth", panel.BASE_GROWTH)
    export_growth = comp_value("export_growth", np.nan)
    rows = panel.expand(rng, founded, last, employment, output, exports, growth, export_growth,
                        years)
    f = rows["firm"]
    est_ids = pd.Series(innov.ids("E", np.arange(1, n_firms + 1), 7), dtype="string")
    county_codes = counties["region_code"].to_numpy(dtype=object)
    establishments = pd.DataFrame({
        "est_id": est_ids.take(f).reset_index(drop=True),
        "year": rows["year"],
        "industry": _string_from_codes(ind["industry"].to_numpy(dtype=object), firm_ind[f]),
        "region_code": _string_from_codes(county_codes, firm_county[f]),
        "lon": firm_lon[f], "lat": firm_lat[f],
        "employment": rows["employment"], "output": rows["output"], "exports": rows["exports"],
        "founded": founded[f],
        "designations": _string_from_codes(designation_labels, designation_code[f]),
        "location_approx": np.zeros(f.size, dtype=bool),
    })
    establishments = _conform(establishments, "establishments")

    # Innovation: actors are firms alive in the latest year, universities and institutes.
    alive = last == years[-1]
    alive_idx = np.flatnonzero(alive)
    firm_frame = pd.DataFrame({
        "est_id": est_ids.to_numpy(dtype=object)[alive_idx], "county": firm_county[alive_idx],
        "lon": firm_lon[alive_idx], "lat": firm_lat[alive_idx],
        "region_code": county_codes[firm_county[alive_idx]],
        "industry": ind["industry"].to_numpy(dtype=object)[firm_ind[alive_idx]],
        "high_tech": high_tech[alive_idx], "tech": tech[alive_idx],
    })
    hub_rows = np.flatnonzero((comp["kind"] == "innovation_hub").to_numpy())
    n_alive_drawn = int(alive.sum())
    innovations, actors = innov.generate_innovations(
        rng, counties, comp.iloc[hub_rows], [plan.sites[i] for i in hub_rows], firm_frame,
        round(PATENTS_PER_ESTABLISHMENT * n_alive_drawn),
        round(PUBLICATIONS_PER_ESTABLISHMENT * n_alive_drawn), years,
        planted.HUB_PATENT_SHARE, planted.HUB_PUBLICATION_SHARE)
    county_to_pref = pd.Series(counties["prefecture_code"].to_numpy(dtype=object),
                               index=counties["region_code"].to_numpy(dtype=object))
    links = pd.concat([innov.co_patent_links(innovations, actors, county_to_pref),
                       investment_links(rng, comp)], ignore_index=True)

    alive_per_ind = pd.Series(np.bincount(firm_ind[alive], minlength=len(ind)),
                              index=ind["industry"].to_numpy(dtype=object))
    truth = _truth(comp, firm_comp, alive, employment, output, alive_per_ind)
    planted_idx = np.flatnonzero(has_comp)
    members = pd.DataFrame({
        "est_id": est_ids.take(planted_idx).reset_index(drop=True),
        "cluster_id": pd.Series(comp["cluster_id"].to_numpy(dtype=object)[firm_comp[planted_idx]],
                                dtype="string"),
        "component": pd.Series(comp["component"].to_numpy()[firm_comp[planted_idx]], dtype="Int64"),
        "kind": pd.Series(kind[firm_comp[planted_idx]], dtype="string"),
    })
    params = {"scale": scale, "seed": int(seed), "years": years,
              "establishments_latest_year": n_alive_drawn, "firms_drawn": n_firms,
              "patents": int((innovations["kind"] == "patent").sum()),
              "publications": int((innovations["kind"] == "publication").sum())}
    return DemoEconomy(
        establishments=establishments,
        innovations=_conform(innovations, "innovations"),
        innovation_actors=_conform(actors, "innovation_actors"),
        links=_conform(links, "links"),
        truth=_conform(truth, "planted_clusters"),
        members=members,
        industries=ind, regions=regions, params=params, notes=list(plan.notes),
    )


def investment_links(rng: np.random.Generator, comp: pd.DataFrame) -> pd.DataFrame:
    """Investment from innovation hubs into national-cluster host cities elsewhere (gravity).

    Each national-cluster site outside the hubs receives investment from two hub sites, drawn with
    probability ~ hub weight / (1 + distance / 300 km); the weight is lognormal (100 million CNY).
    """
    hubs = comp.loc[comp["kind"] == "innovation_hub"].drop_duplicates("region_code")
    nat = comp.loc[comp["kind"] == "national"].drop_duplicates("region_code")
    nat = nat.loc[~nat["region_code"].isin(hubs["region_code"])]
    if hubs.empty or nat.empty:
        return pd.DataFrame(columns=["origin", "destination", "kind", "year", "weight"])
    d = places.haversine_km(nat["lon"].to_numpy(float)[:, None], nat["lat"].to_numpy(float)[:, None],
                            hubs["lon"].to_numpy(float)[None, :], hubs["lat"].to_numpy(float)[None, :])
    mass = (hubs["pct_weight"] + hubs["article_weight"]).to_numpy(float)
    w = mass[None, :] / (1.0 + d / innov.GRAVITY_KM)
    # Two distinct hubs per destination via Gumbel-top-2 on log-weights (vectorised over sites).
    keys = np.log(w) + rng.gumbel(size=w.shape)
    top = np.argsort(-keys, axis=1)[:, :2]
    dest = np.repeat(nat["region_code"].to_numpy(dtype=object), top.shape[1])
    origin = hubs["region_code"].to_numpy(dtype=object)[top.ravel()]
    weight = np.round(rng.lognormal(3.0, 1.0, dest.size), 2)
    out = pd.DataFrame({"origin": origin, "destination": dest, "kind": "investment",
                        "year": pd.NA, "weight": weight})
    return out.groupby(["origin", "destination", "kind"], as_index=False, sort=True).agg(
        year=("year", "first"), weight=("weight", "sum"))


def _truth(comp: pd.DataFrame, firm_comp: np.ndarray, alive: np.ndarray, employment: np.ndarray,
           output: np.ndarray, alive_per_ind: pd.Series) -> pd.DataFrame:
    """The planted-clusters table: what was planted where, with realised sizes in the latest year."""
    n_c = len(comp)
    sel = alive & (firm_comp >= 0)
    n_est = np.bincount(firm_comp[sel], minlength=n_c)
    emp = np.bincount(firm_comp[sel], weights=employment[sel], minlength=n_c)
    out = np.bincount(firm_comp[sel], weights=output[sel], minlength=n_c)
    truth = comp.copy()
    bearing = truth["kind"].isin(["national", "sme_featured", "colocated_pair"]).to_numpy()
    truth["n_establishments"] = pd.array(np.where(bearing, n_est, 0), dtype="Int64")
    truth.loc[~bearing, "n_establishments"] = pd.NA
    truth["employment"] = np.where(bearing, emp, np.nan)
    truth["output"] = np.where(bearing, out, np.nan)
    # Strength of an establishment-bearing component: its share of the industry's establishments
    # (alive, latest year); of a hub: its expected GII-style score (patent share + article share).
    ind_alive = alive_per_ind.reindex(truth["industry"]).to_numpy(dtype=float)
    realised = n_est / np.where(ind_alive > 0, ind_alive, np.nan)
    truth["strength"] = np.where(bearing, np.round(realised, 6), truth["strength"].astype(float))
    if "rank" not in truth:
        truth["rank"] = np.nan
    return truth
