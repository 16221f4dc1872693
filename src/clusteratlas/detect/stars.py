"""Region × industry cluster mapping with stars and strong-cluster flags.

Two observatories turn a region × industry employment table into "clusters":

* the **European Cluster Observatory** (ECO) gives each regional cluster up to three stars — size,
  specialisation and focus — and the European Observatory for Clusters and Industrial Change
  (EOCIC) 2020 *European Panorama of Clusters and Industrial Change* adds productivity and
  dynamism;
* the **U.S. Cluster Mapping Project** (Harvard Business School; Delgado, Porter & Stern) flags
  *strong*, *strong10*, *significant* and *qualifying* clusters from location-quotient,
  employment and establishment percentiles.

:func:`cluster_stars` computes both for every region × industry cell, from establishment records
or from aggregates, and counts starred clusters by macro-region and city-size class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from clusteratlas.errors import InputError
from clusteratlas.measure import location_quotient
from clusteratlas.result import Result

#: The U.S. Cluster Mapping flags exactly as clustermapping/cmp computes them (see
#: :func:`cmp_flags`): percentile of LQ (inclusive ``>=`` or strict ``>``) and whether LQ >= 1 is
#: also required. All four also need employment and establishments strictly above their 25th
#: percentiles.
CMP_FLAGS: dict[str, tuple[float, str, bool]] = {
    "qualifying": (0.25, ">", False),
    "significant": (0.50, ">", False),
    "strong": (0.75, ">=", True),
    "strong10": (0.90, ">=", True),
}

#: Default star thresholds, with their sources (see :func:`cluster_stars`).
STAR_DEFAULTS: dict[str, float] = {
    "size_top": 0.10,          # ECO: top 10 % of regions in the category by employment
    "specialisation_lq": 2.0,  # ECO: LQ >= 2
    "focus_top": 0.10,         # ECO: top 10 % by share of the region's employment
    "productivity_top": 0.10,  # Panorama 2020 extension (see Notes of cluster_stars)
    "dynamism_top": 0.10,      # Panorama 2020 extension (see Notes of cluster_stars)
}


def d3_quantile(sorted_values: np.ndarray, p: float) -> float:
    """``d3.quantile`` of d3 v3: linear interpolation between order statistics (R type 7).

    ``H = (n - 1) p + 1``, ``h = floor(H)``, ``v = x[h-1]``, ``e = H - h``;
    result ``v + e (x[h] - v)`` (``v`` when ``e == 0``); NaN for an empty array, where d3 yields
    ``NaN`` too (``+undefined``) so every comparison with it is false.
    Source: d3 v3 ``d3.quantile`` (clustermapping/cmp, ``data/web/viz/bower_components/d3/d3.js``
    lines 105–108 at commit f1b2b674482e; cmp's processing pins ``d3 ^3.5.17``, same function).
    """
    n = sorted_values.shape[0]
    if n == 0:
        return float("nan")
    h_real = (n - 1) * p + 1
    h = int(np.floor(h_real))
    v = float(sorted_values[h - 1])
    e = h_real - h
    return v + e * (float(sorted_values[h]) - v) if e else v


def _group_quantiles(values: np.ndarray, group: np.ndarray, n_groups: int, mask: np.ndarray,
                     probs: list[float]) -> np.ndarray:
    """Type-7 quantiles of ``values[mask]`` within each group, vectorised: (n_groups, len(probs))."""
    v = values[mask]
    g = group[mask]
    order = np.lexsort((v, g))
    v, g = v[order], g[order]
    counts = np.bincount(g, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full((n_groups, len(probs)), np.nan)
    has = counts > 0
    for j, p in enumerate(probs):
        h_real = (counts[has] - 1) * p + 1
        h = np.floor(h_real).astype(np.int64)
        e = h_real - h
        lo = v[starts[has] + h - 1]
        hi_idx = np.minimum(starts[has] + h, starts[has] + counts[has] - 1)
        hi = v[hi_idx]
        out[has, j] = np.where(e > 0, lo + e * (hi - lo), lo)
    return out


def cmp_flags(frame: pd.DataFrame, *, group: str = "industry", lq: str = "lq",
              employment: str = "employment", establishments: str = "establishments"
              ) -> pd.DataFrame:
    """Strong / strong10 / significant / qualifying flags, computed as clustermapping/cmp does.

    Parameters
    ----------
    frame : DataFrame
        One row per region × industry (all regions of one level — cmp's population is the
        regions of one region type), with ``lq``, ``employment`` and ``establishments``.
    group : str
        Column of the cluster category; percentiles are taken within each.

    Returns
    -------
    DataFrame
        ``qualifying, significant, strong, strong10`` (bool), aligned with ``frame``, and the
        thresholds ``lq_p25, lq_p50, lq_p75, lq_p90, employment_p25, establishments_p25``.

    Notes
    -----
    Replicates ``data/processing/cluster_calcs_reducer.js`` of https://github.com/clustermapping/cmp
    (commit f1b2b674482e, lines 31–61):

    * the population is every region of the same region type with the same cluster code and year
      (and sub-cluster) (lines 19–27), *restricted to regions with employment > 0* (lines 35–37;
      note that the establishment and LQ lists are filtered on employment too);
    * percentiles are ``d3.quantile`` (d3 v3, R type 7 linear interpolation) of the sorted lists
      (lines 38–43): employment and establishments at 0.25, LQ at 0.25, 0.50, 0.75 and 0.90;
    * flags are then set for *every* region in the list, zero-employment ones included
      (lines 44–61):
      ``qualifying = lq > p25(lq) & emp > p25(emp) & est > p25(est)``;
      ``significant = lq > p50(lq) & emp > p25(emp) & est > p25(est)``;
      ``strong = lq >= p75(lq) & emp > p25(emp) & est > p25(est) & lq >= 1``;
      ``strong10 = lq >= p90(lq) & emp > p25(emp) & est > p25(est) & lq >= 1``;
    * an LQ that is NaN or infinite is stored as 0 before (``safeSet`` in
      ``cluster_calcs_mapper.js`` lines 36–42, 70).

    cmp flags traded clusters only (``traded_b``, line 24) and divides by *traded* (or local)
    employment in its LQ (``cluster_calcs_mapper.js`` lines 60–70); pass the LQ you want here.
    """
    for col in (group, lq, employment, establishments):
        if col not in frame.columns:
            raise InputError(f"cmp_flags: column {col!r} is missing; columns are "
                             f"{list(frame.columns)}")
    codes, uniques = pd.factorize(frame[group], sort=False)
    n_g = len(uniques)
    lqv = frame[lq].to_numpy(dtype=np.float64, na_value=np.nan)
    lqv = np.where(np.isfinite(lqv), lqv, 0.0)  # cmp's safeSet
    emp = frame[employment].to_numpy(dtype=np.float64, na_value=0.0)
    est = frame[establishments].to_numpy(dtype=np.float64, na_value=0.0)
    pos = emp > 0
    q_lq = _group_quantiles(lqv, codes, n_g, pos, [0.25, 0.50, 0.75, 0.90])[codes]
    q_emp = _group_quantiles(emp, codes, n_g, pos, [0.25])[codes, 0]
    q_est = _group_quantiles(est, codes, n_g, pos, [0.25])[codes, 0]
    base = (emp > q_emp) & (est > q_est)  # NaN thresholds (no region with employment): False
    out = pd.DataFrame(index=frame.index)
    for j, (name, (_, op, need_one)) in enumerate(CMP_FLAGS.items()):
        cut = q_lq[:, j]
        ok = (lqv > cut) if op == ">" else (lqv >= cut)
        if need_one:
            ok &= lqv >= 1
        out[name] = ok & base
    for j, p in enumerate((25, 50, 75, 90)):
        out[f"lq_p{p}"] = q_lq[:, j]
    out["employment_p25"] = q_emp
    out["establishments_p25"] = q_est
    return out


class ClusterStars(Result):
    """Stars and strong-cluster flags for every region × industry.

    Attributes
    ----------
    table : DataFrame
        One row per region × industry: ``region, industry, employment, establishments,
        region_employment, lq, focus`` (share of the region's employment), ``productivity``
        (output per worker, if output given), ``growth`` (annual employment growth over the
        panel, if years given), ``star_size, star_specialisation, star_focus, stars`` (ECO, 0–3),
        ``star_productivity, star_dynamism, stars_extended`` (with the Panorama 2020 extension),
        ``qualifying, significant, strong, strong10`` (cmp), ``rank_in_industry``,
        ``rank_in_region`` and, with a gazetteer, ``macro_region, city_size_class``.
    by_geography : DataFrame
        Starred and strong clusters counted by ``macro_region`` × ``city_size_class``.
    """

    by_geography: pd.DataFrame

    def top(self, industry: str | None = None, region: str | None = None,
            n: int = 10) -> pd.DataFrame:
        """The ranked table for one industry (by stars, then employment) or one region."""
        t = self.table
        if industry is not None:
            return t[t["industry"] == industry].sort_values("rank_in_industry").head(n)
        if region is not None:
            return t[t["region"] == region].sort_values("rank_in_region").head(n)
        return t.sort_values(["stars", "employment"], ascending=False).head(n)

    def plot(self) -> Any:
        import plotly.express as px

        g = self.by_geography
        if g.empty:
            g = pd.DataFrame({"macro_region": ["all"], "city_size_class": ["all"],
                              "n_starred": [int((self.table["stars"] > 0).sum())]})
        return px.bar(g, x="macro_region", y="n_starred", color="city_size_class",
                      title="Starred clusters by macro-region and city size 星级集群分布")


def _cell_values(data: pd.DataFrame, region: str, industry: str, weight: str | None,
                 level: Any, base: pd.DataFrame) -> np.ndarray:
    """Cell totals of another column, aligned with ``base`` (a location_quotient frame)."""
    lq = location_quotient(data, region=region, industry=industry, weight=weight, level=level)
    if len(lq) == len(base) and (lq["region"].to_numpy() == base["region"].to_numpy()).all() and \
            (lq["industry"].to_numpy() == base["industry"].to_numpy()).all():
        return lq["value"].to_numpy(dtype=np.float64)  # same cells in the same order
    s = pd.Series(lq["value"].to_numpy(), index=pd.MultiIndex.from_arrays(
        [lq["region"], lq["industry"]]))
    index = pd.MultiIndex.from_arrays([base["region"], base["industry"]])
    return s.reindex(index).fillna(0.0).to_numpy(dtype=np.float64)


def _top_share_star(values: np.ndarray, codes: np.ndarray, n_g: int, mask: np.ndarray,
                    top: float) -> np.ndarray:
    """True where a value is in the top ``top`` share of its group (>= the 1-top quantile)."""
    cut = _group_quantiles(values, codes, n_g, mask, [1.0 - top])[codes, 0]
    return mask & (values >= cut)


def cluster_stars(
    data: pd.DataFrame,
    *,
    region: str = "region_code",
    industry: str = "industry",
    employment: str = "employment",
    establishments: str | None = None,
    output: str | None = None,
    year: str | None = None,
    reference: Any = None,
    level: str | int | None = None,
    regions: pd.DataFrame | None = None,
    categories: pd.DataFrame | dict[str, str] | None = None,
    size_top: float = STAR_DEFAULTS["size_top"],
    specialisation_lq: float = STAR_DEFAULTS["specialisation_lq"],
    focus_top: float = STAR_DEFAULTS["focus_top"],
    productivity_top: float = STAR_DEFAULTS["productivity_top"],
    dynamism_top: float = STAR_DEFAULTS["dynamism_top"],
) -> ClusterStars:
    """Stars (ECO / Panorama 2020) and strong-cluster flags (U.S. Cluster Mapping) per region × industry.

    Parameters
    ----------
    data : DataFrame
        Establishment records (one row per establishment; ``establishments=None`` counts rows)
        or region × industry aggregates (then name the ``establishments`` column). Not modified.
    region, industry, employment : str
        Columns of the region code, industry (or cluster category) and employment.
    establishments : str, optional
        Column with the number of establishments of an aggregate row.
    output : str, optional
        Column with output (or value added); gives ``productivity = output / employment``.
    year : str, optional
        Column with the year. The stars are for the latest year; ``growth`` (dynamism) is the
        compound annual growth of the cell's employment from the first to the latest year.
    reference : optional
        Reference employment totals by industry for the LQ (see
        :func:`clusteratlas.measure.location_quotient`).
    level : {"province", "prefecture", "county"} or int, optional
        Roll region codes up to this level first.
    regions : DataFrame, optional
        Gazetteer (``region_code, macro_region, city_size_class``) for the geography counts;
        default the package gazetteer when available.
    categories : DataFrame (``industry, cluster``) or dict, optional
        Map industries to cluster categories first (e.g. the output of
        :func:`clusteratlas.detect.related.related_clusters`); stars are then per region ×
        category. Industries without a category keep their own code (noted).
    size_top, focus_top, productivity_top, dynamism_top : float
        Share of regions (with employment in the industry) that earn the star, by employment,
        by share of the region's employment, by output per worker and by employment growth.
    specialisation_lq : float
        Minimum LQ for the specialisation star.

    Returns
    -------
    ClusterStars

    Notes
    -----
    *ECO stars* (European Cluster Observatory, "Evaluation of regional cluster strength",
    clusterobservatory.eu, methodology pages, 2007–2011): a regional cluster gets one star for
    each of **size** — employment in the top 10 % of regions in the same cluster category;
    **specialisation** — ``LQ >= 2``; **focus** — the cluster's share of the region's total
    employment in the top 10 %. "Top 10 %" is implemented as ``value >=`` the 90th percentile
    (linear interpolation, R type 7) of the regions with employment in that category.

    *Panorama 2020 extension* (EOCIC, *European Panorama of Clusters and Industrial Change*,
    Hollanders & Merkelbach 2020): cluster strength is judged also on **productivity** and
    **dynamism**. Here they are a star each for output per worker and for annual employment
    growth in the top ``productivity_top`` / ``dynamism_top`` share of regions. The exact
    Panorama cut-offs could not be checked against the report in this build; the defaults reuse
    ECO's top-decile rule and are parameters.

    *U.S. Cluster Mapping flags*: see :func:`cmp_flags` (exact replication of clustermapping/cmp,
    with percentiles within each industry over regions with employment > 0). Here every industry
    is treated as traded.
    """
    for name, value in (("size_top", size_top), ("focus_top", focus_top),
                        ("productivity_top", productivity_top), ("dynamism_top", dynamism_top)):
        if not 0 < value <= 1:
            raise InputError(f"{name}: expected a share in (0, 1], got {value!r}")
    needed = [region, industry, employment] + [c for c in (establishments, output, year) if c]
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise InputError(f"data: missing column(s) {missing}; columns are {list(data.columns)}")
    notes: list[str] = []
    if categories is not None:
        data = _apply_categories(data, industry, categories, notes)

    current = data
    growth = None
    if year is not None:
        years = pd.to_numeric(data[year], errors="coerce")
        if years.isna().all():
            raise InputError(f"column {year!r}: no numeric year")
        last, first = int(years.max()), int(years.min())
        current = data[(years == last).to_numpy()]
        if last > first:
            growth = _panel_growth(data, years, region, industry, employment, level, first, last)
        else:
            notes.append(f"one year only ({last}): no dynamism")

    lq = location_quotient(current, region=region, industry=industry, weight=employment,
                           reference=reference, level=level)
    table = pd.DataFrame({
        "region": lq["region"].to_numpy(),
        "industry": lq["industry"].to_numpy(),
        "employment": lq["value"].to_numpy(dtype=np.float64),
        "establishments": _cell_values(current, region, industry, establishments, level, lq),
        "region_employment": lq["region_total"].to_numpy(dtype=np.float64),
        "lq": lq["lq"].to_numpy(dtype=np.float64),
    })
    if establishments is None:
        notes.append("each row is counted as one establishment")
    with np.errstate(divide="ignore", invalid="ignore"):
        table["focus"] = table["employment"] / table["region_employment"]
        if output is not None:
            out_v = _cell_values(current, region, industry, output, level, lq)
            table["productivity"] = np.where(table["employment"] > 0,
                                             out_v / table["employment"], np.nan)
        else:
            table["productivity"] = np.nan
    table["growth"] = (growth.reindex(pd.MultiIndex.from_arrays([lq["region"], lq["industry"]]))
                       .to_numpy(dtype=np.float64) if growth is not None else np.nan)

    codes, uniques = pd.factorize(table["industry"], sort=False)
    n_g = len(uniques)
    emp = table["employment"].to_numpy()
    pos = emp > 0
    table["star_size"] = _top_share_star(emp, codes, n_g, pos, size_top)
    lqv = table["lq"].to_numpy()
    table["star_specialisation"] = pos & (np.nan_to_num(lqv, nan=0.0) >= specialisation_lq)
    foc = table["focus"].to_numpy()
    table["star_focus"] = _top_share_star(np.nan_to_num(foc, nan=-np.inf), codes, n_g, pos,
                                          focus_top)
    table["stars"] = (table[["star_size", "star_specialisation", "star_focus"]].sum(axis=1)
                      .astype("int64"))
    prod = table["productivity"].to_numpy()
    ok = pos & np.isfinite(prod)
    table["star_productivity"] = (_top_share_star(np.where(ok, prod, -np.inf), codes, n_g, ok,
                                                  productivity_top) if ok.any() else False)
    gr = table["growth"].to_numpy()
    ok = pos & np.isfinite(gr)
    table["star_dynamism"] = (_top_share_star(np.where(ok, gr, -np.inf), codes, n_g, ok,
                                              dynamism_top) if ok.any() else False)
    table["stars_extended"] = (table["stars"] + table["star_productivity"].astype(int)
                               + table["star_dynamism"].astype(int)).astype("int64")
    if output is None:
        notes.append("no output column: no productivity star")

    flags = cmp_flags(table, group="industry", lq="lq", employment="employment",
                      establishments="establishments")
    for col in CMP_FLAGS:
        table[col] = flags[col].to_numpy()

    table["rank_in_industry"] = _rank(table, "industry", ["stars_extended", "employment"])
    table["rank_in_region"] = _rank(table, "region", ["stars_extended", "lq"])

    regions = _gazetteer(regions, notes)
    by_geo = pd.DataFrame()
    if regions is not None and "region_code" in regions.columns:
        cols = [c for c in ("macro_region", "city_size_class") if c in regions.columns]
        info = regions.drop_duplicates("region_code").set_index(
            regions["region_code"].drop_duplicates().astype("string"))
        codes = table["region"].astype("string")
        # a GB/T 2260 code rolled up by prefix (110100) may not be in the gazetteer when the
        # prefecture level is skipped (province-level municipalities): use the province (110000)
        known = codes.isin(info.index)
        province = codes.str.slice(0, 2) + "0000"
        codes = codes.where(known | ~province.isin(info.index), province)
        for c in cols:
            table[c] = codes.map(info[c].astype("string")).fillna("unknown").to_numpy()
        if cols:
            by_geo = _by_geography(table, cols)

    params = {"region": region, "industry": industry, "employment": employment,
              "establishments": establishments, "output": output, "year": year,
              "level": level, "reference": reference is not None,
              "categories": categories is not None, "size_top": size_top,
              "specialisation_lq": specialisation_lq, "focus_top": focus_top,
              "productivity_top": productivity_top, "dynamism_top": dynamism_top,
              "n_rows": len(data)}
    result = ClusterStars(table=table, params=params, notes=notes + list(lq.attrs.get("notes", [])),
                          title="Cluster stars and strong clusters 集群星级")
    result.by_geography = by_geo
    return result


def _apply_categories(data: pd.DataFrame, industry: str,
                      categories: pd.DataFrame | dict[str, str], notes: list[str]) -> pd.DataFrame:
    if isinstance(categories, pd.DataFrame):
        missing = [c for c in ("industry", "cluster") if c not in categories.columns]
        if missing:
            raise InputError(f"categories: missing column(s) {missing}; expected industry, cluster")
        mapping = dict(zip(categories["industry"].astype(str),
                           categories["cluster"].astype(str), strict=False))
    else:
        mapping = {str(k): str(v) for k, v in categories.items()}
    codes = data[industry].astype("string")
    mapped = codes.map(mapping)
    unmapped = mapped.isna() & codes.notna()
    if unmapped.any():
        notes.append(f"{int(unmapped.sum())} rows have an industry without a category "
                     f"(e.g. {codes[unmapped].iloc[0]!r}): kept as their own category")
    out = data.copy(deep=False)  # the caller's frame stays as it was
    out[industry] = mapped.where(~unmapped, codes)
    return out


def _panel_growth(data, years, region, industry, employment, level, first, last) -> pd.Series:
    out = {}
    for y in (first, last):
        sub = data[(years == y).to_numpy()]
        lq = location_quotient(sub, region=region, industry=industry, weight=employment,
                               level=level)
        out[y] = pd.Series(lq["value"].to_numpy(dtype=np.float64),
                           index=pd.MultiIndex.from_arrays([lq["region"], lq["industry"]]))
    a, b = out[first].align(out[last], fill_value=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(a > 0, (b / a) ** (1.0 / (last - first)) - 1.0, np.nan)
    return pd.Series(g, index=a.index)


def _rank(table: pd.DataFrame, by: str, keys: list[str]) -> np.ndarray:
    """Position within each ``by`` group when sorted by ``keys`` descending (NaN last)."""
    group, _ = pd.factorize(table[by])
    cols = [np.nan_to_num(-table[k].to_numpy(dtype=np.float64), nan=np.inf) for k in keys]
    order = np.lexsort((*reversed(cols), group))
    g_sorted = group[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g_sorted)) + 1]
    pos = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = pos + 1
    return ranks


def _gazetteer(regions: pd.DataFrame | None, notes: list[str]) -> pd.DataFrame | None:
    if regions is not None:
        return regions
    try:
        from clusteratlas.geo import regions as gazetteer  # type: ignore[attr-defined]
    except ImportError:
        notes.append("no gazetteer: starred clusters are not counted by macro-region/city size")
        return None
    return gazetteer()


def _by_geography(table: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    t = table[table["employment"] > 0]
    g = t.groupby(cols, dropna=False, observed=True)
    out = pd.DataFrame({
        "n_cells": g.size(),
        "n_regions": g["region"].nunique(),
        "n_starred": g["stars"].apply(lambda s: int((s >= 1).sum())),
        "n_two_star": g["stars"].apply(lambda s: int((s >= 2).sum())),
        "n_three_star": g["stars"].apply(lambda s: int((s >= 3).sum())),
        "n_strong": g["strong"].sum().astype(int),
    }).reset_index()
    total = max(int(out["n_starred"].sum()), 1)
    out["share_of_starred"] = out["n_starred"] / total
    return out
