"""Precision and recall of detected clusters against a ground-truth table.

The truth is any frame that lists planted clusters — the demo economy's ``planted_clusters``
table (:data:`clusteratlas.schema.PLANTED_CLUSTERS`) or a user's list of known clusters. Three
scorers, one per detection method:

* :func:`score_sites` — density clusters (points on a map) against planted sites
  (``cluster_id, lon, lat``): a planted cluster is recovered when a detected cluster's centroid
  lies within ``match_km`` of one of its sites;
* :func:`score_cells` — flagged region × industry cells (stars, strong clusters) against planted
  (``cluster_id, region_code, industry``) components;
* :func:`score_pairs` — industry → category definitions against planted co-located pairs
  (``cluster_id, industry``, two or more industries per cluster_id).

Each returns a :class:`Scores` result whose table has one row with ``n_found, n_truth,
true_positives_found, true_positives_truth, precision, recall, f1``; ``.matches`` lists what matched
what.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from clusteratlas.errors import InputError
from clusteratlas.geo.distance import haversine_km
from clusteratlas.result import Result


class Scores(Result):
    """Precision, recall and F1 of one method against a truth table; ``.matches`` the detail."""

    matches: pd.DataFrame

    def plot(self) -> Any:
        import plotly.graph_objects as go

        row = self.table.iloc[0]
        fig = go.Figure(go.Bar(x=["precision", "recall", "F1"],
                               y=[row["precision"], row["recall"], row["f1"]]))
        fig.update_layout(title=f"{self.title} 精确率/召回率", yaxis_range=[0, 1])
        return fig


def _require(frame: pd.DataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise InputError(f"{what}: missing column(s) {missing}; columns are {list(frame.columns)}")


def _scores(n_found: int, tp_found: int, n_truth: int, tp_truth: int) -> pd.DataFrame:
    precision = tp_found / n_found if n_found else np.nan
    recall = tp_truth / n_truth if n_truth else np.nan
    f1 = (2 * precision * recall / (precision + recall)
          if n_found and n_truth and (precision + recall) > 0 else 0.0)
    return pd.DataFrame([{"n_found": n_found, "n_truth": n_truth,
                          "true_positives_found": tp_found, "true_positives_truth": tp_truth,
                          "precision": precision, "recall": recall, "f1": f1}])


def score_sites(
    found: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    match_km: float = 30.0,
    top: int | None = None,
    kind: str | None = None,
    lon: str = "centroid_lon",
    lat: str = "centroid_lat",
) -> Scores:
    """Score density clusters against planted sites.

    Parameters
    ----------
    found : DataFrame
        Detected clusters with centroid columns (``DensityClusters.table``) and, to use ``top``,
        ``rank``.
    truth : DataFrame
        Planted clusters, one row per site: ``cluster_id, lon, lat`` (a cluster with several
        sites has several rows), optionally ``kind``.
    match_km : float
        A detected cluster matches a planted cluster when its centroid lies within this
        great-circle distance of any of its sites.
    top : int, optional
        Score only the ``top`` detected clusters by rank (GII publishes a top 100).
    kind : str, optional
        Keep only truth rows of this ``kind`` (e.g. ``"innovation_hub"``).

    Returns
    -------
    Scores
        precision = detected clusters that match some planted cluster / detected clusters;
        recall = planted clusters matched by some detected cluster / planted clusters.
    """
    _require(found, [lon, lat], "found")
    _require(truth, ["cluster_id", "lon", "lat"], "truth")
    t = truth if kind is None else truth[truth["kind"].astype("string") == kind]
    t = t.dropna(subset=["lon", "lat"])
    f = found
    if top is not None:
        _require(found, ["rank"], "found")
        f = found.sort_values("rank", kind="stable").head(top)
    f = f.dropna(subset=[lon, lat])
    ids = t["cluster_id"].astype("string").to_numpy()
    if len(f) and len(t):
        d = haversine_km(f[lon].to_numpy(float)[:, None], f[lat].to_numpy(float)[:, None],
                         t["lon"].to_numpy(float)[None, :], t["lat"].to_numpy(float)[None, :])
        hit = d <= match_km
    else:
        d = np.zeros((len(f), len(t)))
        hit = d.astype(bool)
    found_ok = hit.any(axis=1)
    truth_ids = pd.unique(ids)
    matched_ids = set(ids[hit.any(axis=0)])
    rows = []
    for i in range(len(f)):
        j = int(np.argmin(d[i])) if d.shape[1] else -1
        rows.append({"found_index": f.index[i],
                     "truth_cluster_id": ids[j] if j >= 0 and hit[i, j] else pd.NA,
                     "distance_km": float(d[i, j]) if j >= 0 else np.nan})
    res = Scores(table=_scores(len(f), int(found_ok.sum()), len(truth_ids), len(matched_ids)),
                 params={"match_km": match_km, "top": top, "kind": kind},
                 title="Density clusters vs planted sites")
    res.matches = pd.DataFrame(rows)
    missed = [c for c in truth_ids if c not in matched_ids]
    if missed:
        res.notes.append(f"planted clusters not recovered: {missed[:10]}")
    return res


def score_cells(
    found: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    flag: str | None = "strong",
    region: str = "region",
    industry: str = "industry",
    kind: str | None = None,
    level: str | int | None = None,
) -> Scores:
    """Score flagged region × industry cells (stars, strong clusters) against planted components.

    Parameters
    ----------
    found : DataFrame
        Region × industry cells (``ClusterStars.table``); the cells where column ``flag`` is true
        (or > 0 for star counts) are the detections. ``flag=None``: every row is a detection.
    truth : DataFrame
        ``cluster_id, region_code, industry`` per planted component; optionally ``kind``.
    level : {"province", "prefecture", "county"} or int, optional
        Roll both sides' region codes up to this level before matching (see
        :func:`clusteratlas.measure._prepare.roll_up`), e.g. when the truth names a city and the
        cells are counties.

    Returns
    -------
    Scores
        precision = flagged cells that are a planted component / flagged cells; recall = planted
        components (distinct region × industry) that are flagged / planted components.
    """
    from clusteratlas.measure._prepare import roll_up

    _require(found, [region, industry] + ([flag] if flag else []), "found")
    _require(truth, ["cluster_id", "region_code", "industry"], "truth")
    t = truth if kind is None else truth[truth["kind"].astype("string") == kind]
    t = t.dropna(subset=["region_code", "industry"])
    f = found
    if flag is not None:
        v = found[flag]
        f = found[(v > 0).fillna(False).to_numpy() if v.dtype != bool else v.to_numpy()]

    def keys(codes: pd.Series, inds: pd.Series) -> pd.Index:
        c = pd.Index(codes.astype("string"))
        if level is not None:
            c = roll_up(c, level)
        return pd.MultiIndex.from_arrays([c.astype("string"), pd.Index(inds.astype("string"))])

    fk = keys(f[region], f[industry]).unique()
    tk = keys(t["region_code"], t["industry"]).unique()
    found_ok = fk.isin(tk)
    truth_ok = tk.isin(fk)
    res = Scores(table=_scores(len(fk), int(found_ok.sum()), len(tk), int(truth_ok.sum())),
                 params={"flag": flag, "kind": kind, "level": level},
                 title=f"Region × industry cells ({flag}) vs planted components")
    res.matches = pd.DataFrame({"region": tk.get_level_values(0), "industry":
                                tk.get_level_values(1), "found": truth_ok})
    return res


def score_pairs(
    categories: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    kind: str | None = "colocated_pair",
    industry: str = "industry",
    cluster: str = "cluster",
) -> Scores:
    """Score industry → category definitions against planted groups of related industries.

    Parameters
    ----------
    categories : DataFrame
        ``industry, cluster`` (``RelatedClusters.table``).
    truth : DataFrame
        ``cluster_id, industry``: industries sharing a ``cluster_id`` belong together; with
        ``kind`` only rows of that kind are used.

    Returns
    -------
    Scores
        Over unordered industry pairs: recall = planted pairs put in one category / planted pairs
        (among industries present in ``categories``); precision = planted pairs in one category /
        all pairs of *planted* industries that share a category (pairs with an industry that is
        planted in no group are not judged: the truth says nothing about them).
    """
    _require(categories, [industry, cluster], "categories")
    _require(truth, ["cluster_id", "industry"], "truth")
    t = truth if kind is None or "kind" not in truth.columns else truth[
        truth["kind"].astype("string") == kind]
    t = t.dropna(subset=["industry"])
    cat = dict(zip(categories[industry].astype(str), categories[cluster], strict=False))
    planted: set[tuple[str, str]] = set()
    for _, g in t.groupby("cluster_id"):
        inds = sorted({str(i) for i in g["industry"]} & set(cat))
        planted.update(combinations(inds, 2))
    planted_inds = sorted({i for p in planted for i in p})
    together = {p for p in combinations(planted_inds, 2) if cat[p[0]] == cat[p[1]]}
    tp = planted & together
    res = Scores(table=_scores(len(together), len(tp), len(planted), len(tp)),
                 params={"kind": kind}, title="Related-industry categories vs planted pairs")
    res.matches = pd.DataFrame(
        [{"industry_a": a, "industry_b": b, "planted": (a, b) in planted,
          "same_category": (a, b) in together} for a, b in sorted(planted | together)])
    return res


def score_methods(
    tables: dict[str, pd.DataFrame],
    *,
    regions: pd.DataFrame | None = None,
    radius_km: float = 10.0,
    min_weight: float | None = None,
    top: int | None = None,
    match_km: float = 30.0,
    level: str | int | None = "prefecture",
    ks: Any = None,
    seed: int = 0,
) -> Scores:
    """Run the three detection methods on canonical tables and score each against the truth.

    Parameters
    ----------
    tables : dict of DataFrame
        Canonical tables by name: ``establishments``, ``innovations``, ``innovation_actors``,
        ``links`` (optional) and the truth ``planted_clusters`` (schema ``PLANTED_CLUSTERS``) —
        what ``clusteratlas.demo``'s ``DemoEconomy.tables()`` returns.
    regions : DataFrame, optional
        Gazetteer for naming density clusters and the geography of stars.
    radius_km, min_weight : float
        DBSCAN settings for the innovation actors; ``min_weight`` defaults to 0.5 % of the total
        fractional count.
    top : int, optional
        Density clusters scored: the top ``top`` by GII score (default the number of planted
        hub sites: a hub planted in two cities may come out as one cluster or as two).
    level : str or int
        Region level at which stars and strong clusters are computed and matched to the truth's
        host regions (national clusters are planted in cities, i.e. prefectures).
    ks, seed
        Passed to :func:`clusteratlas.detect.related.related_clusters` (latest year only).

    Returns
    -------
    Scores
        One row per method: ``method`` (``density`` vs ``innovation_hub``; ``strong`` and
        ``stars`` (>= 2 stars) vs ``national`` components; ``related`` vs ``colocated_pair``)
        with ``n_found, n_truth, precision, recall, f1``. ``.matches`` is empty;
        ``.details`` holds each method's own :class:`Scores`.
    """
    from clusteratlas.detect.density import density_clusters
    from clusteratlas.detect.related import related_clusters
    from clusteratlas.detect.stars import cluster_stars

    truth = tables.get("planted_clusters")
    if truth is None:
        raise InputError("tables: no 'planted_clusters' (the ground truth) to score against")
    kinds = truth["kind"].astype("string")
    rows, details = [], {}
    if "innovation_actors" in tables and (kinds == "innovation_hub").any():
        actors = tables["innovation_actors"]
        if "kind" not in actors.columns and "innovations" in tables:
            actors = actors.merge(tables["innovations"][["doc_id", "kind"]], on="doc_id",
                                  how="left")
        actors = actors.dropna(subset=["lon", "lat"])
        mw = min_weight if min_weight is not None else 0.005 * float(actors["share"].sum())
        found = density_clusters(actors, radius_km=radius_km, min_weight=mw, regions=regions)
        n_sites = int((kinds == "innovation_hub").sum())
        s = score_sites(found.table, truth, kind="innovation_hub", match_km=match_km,
                        top=top if top is not None else n_sites)
        details["density"] = s
        rows.append(s.table.assign(method="density", truth_kind="innovation_hub"))
    est = tables.get("establishments")
    if est is not None:
        latest = est
        if "year" in est.columns and est["year"].notna().any():
            latest = est[(est["year"] == est["year"].max()).fillna(False).to_numpy()]
        if (kinds == "national").any():
            st = cluster_stars(est, year="year" if "year" in est.columns else None,
                               output="output" if "output" in est.columns else None,
                               level=level, regions=regions)
            cells = st.table.assign(two_stars=st.table["stars"] >= 2)
            for flag in ("strong", "two_stars"):
                s = score_cells(cells, truth, flag=flag, kind="national", level=level)
                details[flag] = s
                rows.append(s.table.assign(method=flag, truth_kind="national"))
        if (kinds == "colocated_pair").any():
            # co-location is read across the establishments' own regions (pairs are planted
            # in counties), not rolled up
            rel = related_clusters(latest, links=tables.get("links"), ks=ks, seed=seed)
            s = score_pairs(rel.table, truth)
            details["related"] = s
            rows.append(s.table.assign(method="related", truth_kind="colocated_pair"))
    table = (pd.concat(rows, ignore_index=True) if rows else _scores(0, 0, 0, 0).iloc[:0])
    table = table[["method", "truth_kind"] + [c for c in table.columns
                                              if c not in ("method", "truth_kind")]]
    res = Scores(table=table,
                 params={"radius_km": radius_km, "min_weight": min_weight, "top": top,
                         "match_km": match_km, "level": level, "seed": seed},
                 notes=["precision of strong / starred cells is low by design: the flags mark "
                        "every specialised cell, planted or not"],
                 title="Detection methods vs planted truth")
    res.matches = pd.DataFrame()
    res.details = details  # type: ignore[attr-defined]
    return res
