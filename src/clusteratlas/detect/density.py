"""Density clusters of weighted points, ranked the way WIPO's Global Innovation Index ranks S&T clusters.

The Global Innovation Index (GII) finds science-and-technology clusters by geocoding inventors'
and authors' addresses, running DBSCAN over them, and scoring each dense area by its share of the
world's PCT filings plus its share of the world's scientific articles (fractional counts)
(WIPO, *Global Innovation Index 2023*, "Science and technology cluster ranking: methodology";
Bergquist, Fink & Raffo 2018, "Identifying and ranking the world's largest clusters of inventive
activity", WIPO Economic Research Working Paper 34). This module makes the method open:

* :func:`weighted_dbscan` — DBSCAN with a minimum *weight* (not count) for a core point, on
  great-circle or projected distance, identical locations merged with summed weights first. Its
  labels equal scikit-learn's ``DBSCAN(metric="haversine", algorithm="ball_tree")`` with
  ``sample_weight`` on the same points, label numbers and border points included (see
  :mod:`clusteratlas.detect._grid`); it stores no neighbour lists, so it runs where scikit-learn
  runs out of memory.
* :func:`gii_scores` — the GII arithmetic: shares of the world totals, total score, rank,
  intensity per million inhabitants.
* :func:`density_clusters` — the whole method on a table of points: clusters, names after their
  largest places, member regions, centroid, outline, scores.
* :func:`rank_stability` — re-run over a grid of radius / minimum weight, match clusters across
  settings by the overlap of their member points, report each cluster's min/median/max rank.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clusteratlas.detect._grid import grid_dbscan
from clusteratlas.errors import InputError
from clusteratlas.geo.distance import EARTH_RADIUS_KM, project, unit_xyz
from clusteratlas.result import Result

__all__ = ["EARTH_RADIUS_KM", "DBSCANLabels", "DensityClusters", "RankStability",
           "density_clusters", "gii_scores", "rank_stability", "weighted_dbscan"]

_METRICS = ("haversine", "projected")
_METHODS = ("dbscan", "hdbscan")


# --------------------------------------------------------------------------------------------
# geometry helpers (great circle <-> 3-D chord)
# --------------------------------------------------------------------------------------------
def _unit_xyz_km(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Points on the sphere in Cartesian km (:func:`clusteratlas.geo.distance.unit_xyz` × R).

    The straight-line (chord) distance between two such points is ``2 R sin(d / 2R)`` for
    great-circle distance ``d``: a monotone function, so "great-circle distance <= eps" is exactly
    "chord <= 2 R sin(eps / 2R)" and a Euclidean grid on these coordinates finds the haversine
    neighbourhoods.
    """
    return unit_xyz(lon, lat) * EARTH_RADIUS_KM


def _chord_km(radius_km: float) -> float:
    return 2.0 * EARTH_RADIUS_KM * np.sin(min(radius_km / (2.0 * EARTH_RADIUS_KM), np.pi / 2))


def _xyz_to_lonlat(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    lon = np.degrees(np.arctan2(y, x))
    lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return lon, lat


# --------------------------------------------------------------------------------------------
# weighted DBSCAN
# --------------------------------------------------------------------------------------------
@dataclass
class DBSCANLabels:
    """Per-point output of :func:`weighted_dbscan`.

    Attributes
    ----------
    labels : ndarray of int64
        Cluster of each input point, ``-1`` for noise (scikit-learn's convention and numbering).
    core : ndarray of bool
        Whether each point is a core point (weight within the radius >= ``min_weight``).
    location : ndarray of int64
        Index of each point's unique location (points at identical coordinates share one).
    n_locations : int
        Number of unique locations the clustering ran on.
    """

    labels: np.ndarray
    core: np.ndarray
    location: np.ndarray
    n_locations: int
    location_weight: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    location_coords: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 2)))


def _dedupe(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique rows of an (n, 2) array, the inverse index and each unique row's first index."""
    c = np.ascontiguousarray(coords, dtype=np.float64)
    # a complex view sorts lexicographically (real, then imaginary): one 1-D unique, not axis=0
    z = c[:, 0] + 1j * c[:, 1]
    order = np.argsort(z, kind="stable")
    zs = z[order]
    new = np.empty(zs.shape[0], dtype=bool)
    if zs.shape[0]:
        new[0] = True
        new[1:] = zs[1:] != zs[:-1]
    group = np.cumsum(new) - 1
    inverse = np.empty(c.shape[0], dtype=np.int64)
    inverse[order] = group
    first_pos = np.flatnonzero(new)
    first_index = order[first_pos]  # stable sort: the first occurrence comes first in its run
    return c[first_index], inverse, first_index


def weighted_dbscan(
    coords: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    radius_km: float,
    min_weight: float,
    metric: str = "haversine",
) -> DBSCANLabels:
    """DBSCAN with a minimum weight per core point, on merged identical locations.

    Parameters
    ----------
    coords : (n, 2) array
        ``lon, lat`` in degrees (WGS-84) for ``metric="haversine"``; ``x, y`` in km for
        ``metric="projected"``.
    weights : (n,) array, optional
        Non-negative weight of each point (e.g. fractional patent counts); 1 each if omitted.
    radius_km : float
        Neighbourhood radius in km (inclusive: a neighbour at exactly the radius counts, as in
        scikit-learn). Great-circle distance on a sphere of radius :data:`EARTH_RADIUS_KM` for
        ``"haversine"``.
    min_weight : float
        A point is core when the total weight within ``radius_km`` (itself and every duplicate
        included) is at least ``min_weight``.
    metric : {"haversine", "projected"}

    Returns
    -------
    DBSCANLabels

    Notes
    -----
    Ester, Kriegel, Sander & Xu (1996), with scikit-learn's weighted core condition
    (``sample_weight``: core iff the weighted neighbourhood size >= ``min_samples``). Points with
    identical coordinates have identical neighbourhoods, hence identical core status and cluster;
    they are merged and their weights summed before the neighbour search, which is why repeated
    geocodes (a campus, a city centroid) cost nothing. The result equals
    ``sklearn.cluster.DBSCAN(eps=radius_km / EARTH_RADIUS_KM, min_samples=min_weight,
    metric="haversine").fit(np.radians(coords[:, ::-1]), sample_weight=weights)`` whenever
    ``min_weight`` is an integer (scikit-learn requires one) — labels, numbering and border
    points alike (tested).

    Examples
    --------
    >>> import numpy as np
    >>> xy = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [5.0, 0.0]])
    >>> weighted_dbscan(xy, np.array([1.0, 1.0, 0.5, 3.0]), radius_km=1.0, min_weight=2.5,
    ...                 metric="projected").labels.tolist()
    [0, 0, 0, 1]
    """
    coords = np.asarray(coords, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise InputError(f"coords: expected an (n, 2) array, got shape {coords.shape}")
    n = coords.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise InputError(f"weights: expected {n} values, got shape {w.shape}")
    _check_positive("radius_km", radius_km)
    _check_positive("min_weight", min_weight)
    if metric not in _METRICS:
        raise InputError(f"metric: expected one of {_METRICS}, got {metric!r}")
    bad = ~np.isfinite(coords).all(axis=1)
    if bad.any():
        raise InputError(f"coords: {int(bad.sum())} rows are missing or not finite "
                         f"(first rows {np.flatnonzero(bad)[:5].tolist()})")
    if (~np.isfinite(w) | (w < 0)).any():
        rows = np.flatnonzero(~np.isfinite(w) | (w < 0))
        raise InputError(f"weights: expected finite values >= 0, rows {rows[:5].tolist()} are not")
    if metric == "haversine":
        lat_bad = np.abs(coords[:, 1]) > 90
        if lat_bad.any():
            raise InputError(f"lat: expected degrees in [-90, 90], rows "
                             f"{np.flatnonzero(lat_bad)[:5].tolist()} are outside")

    uniq, inverse, first = _dedupe(coords)
    loc_w = np.bincount(inverse, weights=w, minlength=uniq.shape[0])
    if metric == "haversine":
        space = _unit_xyz_km(uniq[:, 0], uniq[:, 1])
        eps = _chord_km(radius_km)
    else:
        space, eps = uniq, float(radius_km)
    loc_labels, loc_core, _ = grid_dbscan(space, loc_w, first, eps, float(min_weight))
    return DBSCANLabels(labels=loc_labels[inverse], core=loc_core[inverse], location=inverse,
                        n_locations=uniq.shape[0], location_weight=loc_w, location_coords=uniq)


def _hdbscan_labels(coords: np.ndarray, metric: str, min_cluster_size: int,
                    min_samples: int | None, radius_km: float) -> DBSCANLabels:
    """HDBSCAN (Campello, Moulavi & Sander 2013) on unique locations via scikit-learn.

    scikit-learn's HDBSCAN takes no sample weights, so here density is counted in unique
    locations; weights still drive the scores. ``radius_km`` is passed as
    ``cluster_selection_epsilon`` (clusters closer than it are merged).
    """
    from sklearn.cluster import HDBSCAN

    uniq, inverse, _first = _dedupe(coords)
    if metric == "haversine":
        space = _unit_xyz_km(uniq[:, 0], uniq[:, 1])
        eps = _chord_km(radius_km)
    else:
        space, eps = uniq, float(radius_km)
    if uniq.shape[0] < max(2, min_cluster_size):
        labels = np.full(uniq.shape[0], -1, dtype=np.int64)
    else:
        model = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples,
                        cluster_selection_epsilon=eps, metric="euclidean", copy=True)
        labels = model.fit_predict(space).astype(np.int64)
    core = np.zeros(coords.shape[0], dtype=bool)
    return DBSCANLabels(labels=labels[inverse], core=core, location=inverse,
                        n_locations=uniq.shape[0], location_coords=uniq)


def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float | np.integer | np.floating) and np.isfinite(value)
            and value > 0):
        raise InputError(f"{name}: expected a number > 0, got {value!r}")


# --------------------------------------------------------------------------------------------
# GII scoring
# --------------------------------------------------------------------------------------------
def gii_scores(
    clusters: pd.DataFrame,
    *,
    totals: dict[str, float],
    population: str | None = "population",
) -> pd.DataFrame:
    """Shares of world totals, total score, rank and intensity, as in the GII cluster ranking.

    Parameters
    ----------
    clusters : DataFrame
        One row per cluster with one column per output counted (e.g. ``patents``,
        ``publications``: fractional counts attributed to the cluster) and optionally
        ``population`` (inhabitants).
    totals : dict
        ``{column: world total}`` for every counted column, e.g.
        ``{"patents": 1.26e6, "publications": 7.5e6}``.
    population : str or None
        Column with inhabitants; ``None`` or a missing column leaves intensity empty.

    Returns
    -------
    DataFrame
        ``clusters`` with ``<column>_share_pct`` for each counted column (percent of the world
        total), ``score_pct`` (their sum), ``rank`` (1 = highest score; ties share the lower rank,
        ``method="min"``) and ``intensity_per_million`` (sum of the counts per million
        inhabitants), sorted by rank.

    Notes
    -----
    GII 2023, S&T cluster methodology: a cluster's score is its share of world PCT filings plus
    its share of world scientific articles; clusters are ranked by that sum. The "S&T intensity"
    ranking divides filings plus articles by the cluster's population.

    Examples
    --------
    >>> t = pd.DataFrame({"patents": [127418.0], "publications": [115020.0]})
    >>> s = gii_scores(t, totals={"patents": 1.26e6, "publications": 7.5e6})
    >>> round(float(s.loc[0, "patents_share_pct"]), 1), round(float(s.loc[0, "score_pct"]), 1)
    (10.1, 11.6)
    """
    out = clusters.copy()
    if not totals:
        raise InputError("totals: expected at least one {column: world total}")
    score = np.zeros(len(out))
    counts = np.zeros(len(out))
    for col, total in totals.items():
        if col not in out.columns:
            raise InputError(f"clusters: column {col!r} (named in totals) is missing; "
                             f"columns are {list(out.columns)}")
        if not (np.isfinite(total) and total > 0):
            raise InputError(f"totals[{col!r}]: expected a number > 0, got {total!r}")
        values = out[col].to_numpy(dtype=np.float64, na_value=0.0)
        share = 100.0 * values / float(total)
        out[f"{col}_share_pct"] = share
        score += share
        counts += values
    out["score_pct"] = score
    out["rank"] = pd.Series(score, index=out.index).rank(ascending=False, method="min").astype("Int64")
    if population is not None and population in out.columns:
        pop = out[population].to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["intensity_per_million"] = np.where(pop > 0, counts / pop * 1e6, np.nan)
    else:
        out["intensity_per_million"] = np.nan
    return out.sort_values(["rank", *list(totals)], ascending=[True] + [False] * len(totals),
                           kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# the whole method on a table of points
# --------------------------------------------------------------------------------------------
class DensityClusters(Result):
    """Density clusters with GII-style scores.

    Attributes
    ----------
    table : DataFrame
        One row per cluster, ranked: ``cluster_id, rank, name, n_points, n_locations, weight``,
        one count column per kind (``patents``, ``publications`` — or ``weight`` alone when the
        points have no kind), their ``*_share_pct``, ``score_pct``, ``population``,
        ``intensity_per_million``, ``centroid_lon, centroid_lat`` (or ``centroid_x/_y``),
        ``member_regions`` (``;``-separated codes), ``geometry_wkt`` (outline) and ``core_weight``.
    points : DataFrame
        One row per input point (same index as the input): ``cluster_id`` (-1 noise, ``<NA>``
        for a point left out for a missing location or weight), ``core``.
    """

    points: pd.DataFrame

    def summary(self, max_rows: int = 20) -> str:
        """Plain-text summary without the long outline and member-region columns."""
        short = self.table.drop(columns=["geometry_wkt", "member_regions"], errors="ignore")
        return Result(table=short, params=self.params, notes=self.notes,
                      title=self.title).summary(max_rows)

    def plot(self) -> Any:
        import plotly.graph_objects as go

        t = self.table
        geo = "centroid_lon" in t.columns
        hover = t["name"].astype(str) + " (rank " + t["rank"].astype(str) + ")"
        if geo:
            fig = go.Figure(go.Scattergeo(lon=t["centroid_lon"], lat=t["centroid_lat"],
                                          text=hover, mode="markers",
                                          marker={"size": 6 + 30 * np.sqrt(
                                              t["score_pct"] / max(t["score_pct"].max(), 1e-12))}))
            fig.update_geos(fitbounds="locations")
        else:
            fig = go.Figure(go.Scatter(x=t["centroid_x"], y=t["centroid_y"], text=hover,
                                       mode="markers"))
        fig.update_layout(title=f"{self.title} 密度集群")
        return fig


_KIND_COLUMN = {"patent": "patents", "publication": "publications"}


def density_clusters(
    points: pd.DataFrame,
    *,
    radius_km: float = 10.0,
    min_weight: float = 10.0,
    method: str = "dbscan",
    metric: str = "haversine",
    lon: str = "lon",
    lat: str = "lat",
    x: str | None = None,
    y: str | None = None,
    weight: str | None = "share",
    kind: str | None = "kind",
    region: str | None = "region_code",
    regions: pd.DataFrame | None = None,
    name_level: str | None = "prefecture",
    totals: dict[str, float] | None = None,
    outline: str = "hull",
    buffer_km: float | None = None,
    min_cluster_size: int = 5,
    min_samples: int | None = None,
    name_min_share: float = 0.15,
    crs: str = "china-albers",
) -> DensityClusters:
    """Find density clusters of weighted points and score them the GII way.

    Parameters
    ----------
    points : DataFrame
        One row per point (an innovation actor's share of a document, an establishment).
        Columns: ``lon``/``lat`` (degrees) or ``x``/``y`` (km, with ``metric="projected"``);
        ``weight`` (fractional count or employment; 1 per row if ``None`` or absent);
        optional ``kind`` (``patent``/``publication``: scored separately and summed, as GII
        does); optional ``region`` (region code of the point, used for member regions, names and
        population).
    radius_km, min_weight : float
        DBSCAN radius (km) and minimum weight within it for a core point.
    method : {"dbscan", "hdbscan"}
        HDBSCAN uses ``min_cluster_size``/``min_samples`` (in unique locations: scikit-learn's
        HDBSCAN takes no weights) and ``radius_km`` as ``cluster_selection_epsilon``.
    metric : {"haversine", "projected"}
        Great-circle distance on lon/lat, or Euclidean km on ``x``/``y`` — or, when ``x``/``y``
        are not given, on lon/lat projected with ``crs`` by
        :func:`clusteratlas.geo.distance.project`.
    regions : DataFrame, optional
        Gazetteer (``region_code, name, level, parent_code, lon, lat, population``). Default: the
        package gazetteer when available. Used to name clusters after their largest places, to
        list member regions and to sum population.
    name_level : str or None
        Gazetteer level whose places name the clusters and count as member regions (points in
        finer regions are lifted to it through ``parent_code``); ``None``: the points' own regions.
    totals : dict, optional
        World totals per count column (``{"patents": ..., "publications": ...}``); default: the
        totals of the input points (noise included).
    outline : {"hull", "buffer"}
        Convex hull of the member locations, or their union buffered by ``buffer_km``
        (default ``radius_km / 2``).
    name_min_share : float
        Besides the largest place, a place enters a cluster's name when it holds at least this
        share of the cluster's weight (at most three names, joined by "–" as GII does).
    crs : {"china-albers", "aeqd"}
        Projection for ``metric="projected"`` on lon/lat.

    Returns
    -------
    DensityClusters
    """
    if method not in _METHODS:
        raise InputError(f"method: expected one of {_METHODS}, got {method!r}")
    if metric not in _METRICS:
        raise InputError(f"metric: expected one of {_METRICS}, got {metric!r}")
    if outline not in ("hull", "buffer"):
        raise InputError(f"outline: expected 'hull' or 'buffer', got {outline!r}")
    use_xy = metric == "projected" and x is not None and y is not None
    cx, cy = (x, y) if use_xy else (lon, lat)
    missing = [c for c in (cx, cy) if c not in points.columns]
    if missing:
        raise InputError(f"points: missing column(s) {missing}; columns are {list(points.columns)}")
    coords = np.column_stack([points[cx].to_numpy(dtype=np.float64, na_value=np.nan),
                              points[cy].to_numpy(dtype=np.float64, na_value=np.nan)])
    if weight is not None and weight in points.columns:
        w = points[weight].to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        w = np.ones(len(points))
    notes: list[str] = []
    all_points = points
    keep = np.isfinite(coords).all(axis=1) & np.isfinite(w)
    # world totals count every document share, located or not (GII: shares of *world* totals)
    default_totals = _kind_totals(points, kind, w, keep | (~np.isfinite(coords).all(axis=1)
                                                          & np.isfinite(w)))
    if not keep.all():
        dropped = np.flatnonzero(~keep)
        notes.append(f"{dropped.size} of {len(points)} points left out: missing or non-finite "
                     f"{cx}/{cy} or {weight} (rows {points.index[dropped[:5]].tolist()}"
                     f"{' …' if dropped.size > 5 else ''}); they still count in the world totals")
        points = points.loc[keep]
        coords, w = coords[keep], w[keep]
    lonlat = coords
    if metric == "projected" and not use_xy:
        try:
            coords = np.column_stack(project(coords[:, 0], coords[:, 1], crs))  # type: ignore[arg-type]
        except ValueError as exc:
            raise InputError(str(exc)) from None
    if method == "dbscan":
        res = weighted_dbscan(coords, w, radius_km=radius_km, min_weight=min_weight, metric=metric)
    else:
        _check_positive("radius_km", radius_km)
        res = _hdbscan_labels(coords, metric, min_cluster_size, min_samples, radius_km)

    # --- counts per kind -------------------------------------------------------------------
    labels = res.labels
    has_kind = kind is not None and kind in points.columns
    count_cols: dict[str, np.ndarray] = {}
    if has_kind:
        k = points[kind].astype("string").str.strip().str.lower()
        unknown = sorted(set(k.dropna().unique()) - set(_KIND_COLUMN))
        if unknown:
            notes.append(f"kind values {unknown} are neither patent nor publication: "
                         "counted in weight only, not in the score")
        for value, col in _KIND_COLUMN.items():
            count_cols[col] = np.where((k == value).fillna(False).to_numpy(), w, 0.0)
    else:
        count_cols["weight"] = w
    if totals is None:
        totals = default_totals
    n_clusters = int(labels.max()) + 1 if labels.size else 0
    in_cl = labels >= 0
    lab = labels[in_cl]

    def per_cluster(values: np.ndarray) -> np.ndarray:
        return np.bincount(lab, weights=values[in_cl], minlength=n_clusters)

    table = pd.DataFrame({
        "cluster_id": np.arange(n_clusters, dtype=np.int64),
        "n_points": np.bincount(lab, minlength=n_clusters),
        "n_locations": _count_unique_per_cluster(lab, res.location[in_cl], n_clusters),
        "weight": per_cluster(w),
        "core_weight": per_cluster(np.where(res.core, w, 0.0)),
    })
    for col, values in count_cols.items():
        if col != "weight":
            table[col] = per_cluster(values)

    # --- places: member regions, names, population --------------------------------------------
    regions = _default_regions(regions, notes)
    places = _point_places(points, region, regions, name_level, lonlat,
                           "projected" if use_xy else "haversine", in_cl, notes)
    names, members, population = _cluster_places(places, lab, w[in_cl], n_clusters, regions,
                                                 name_min_share)
    table.insert(1, "name", names)
    table["member_regions"] = members
    table["population"] = population

    # --- centroid and outline ---------------------------------------------------------------------
    geo_metric = "projected" if use_xy else "haversine"
    if metric == "projected" and not use_xy:  # outlines and centroids in lon/lat, not Albers km
        rep = np.empty(res.n_locations, dtype=np.int64)
        rep[res.location] = np.arange(len(points))  # any point of each location represents it
        res.location_coords = lonlat[rep]
    cen_a, cen_b, wkt = _geometry(res, w, n_clusters, geo_metric, outline,
                                  buffer_km if buffer_km is not None else radius_km / 2)
    if geo_metric == "haversine":
        table["centroid_lon"], table["centroid_lat"] = cen_a, cen_b
    else:
        table["centroid_x"], table["centroid_y"] = cen_a, cen_b
    table["geometry_wkt"] = wkt

    scored = gii_scores(table, totals={c: t for c, t in totals.items() if c in table.columns},
                        population="population") if n_clusters else _empty_scores(table, totals)
    front = ["cluster_id", "rank", "name"]
    scored = scored[front + [c for c in scored.columns if c not in front]]
    if n_clusters == 0:
        notes.append("no cluster found: no point has the minimum weight within the radius")

    point_frame = pd.DataFrame({"cluster_id": pd.array(labels, dtype="Int64"),
                                "core": pd.array(res.core, dtype="boolean")}, index=points.index)
    if len(point_frame) != len(all_points):
        point_frame = point_frame.reindex(all_points.index)  # left-out points: <NA>
    params = {"method": method, "metric": metric, "radius_km": radius_km,
              "min_weight": min_weight, "n_points": len(all_points),
              "n_located": len(points), "n_locations": res.n_locations,
              "totals": totals, "outline": outline, "name_level": name_level}
    if method == "hdbscan":
        params.update(min_cluster_size=min_cluster_size, min_samples=min_samples)
        notes.append("HDBSCAN counts unique locations, not weights (scikit-learn's HDBSCAN has "
                     "no sample_weight); weights enter the scores only")
    out = DensityClusters(table=scored, params=params, notes=notes,
                          title=f"Density clusters ({method}, {radius_km:g} km, "
                                f"min weight {min_weight:g})")
    out.points = point_frame
    return out


def _kind_totals(points: pd.DataFrame, kind: str | None, w: np.ndarray,
                 use: np.ndarray) -> dict[str, float]:
    """Totals of the weight per count column (patents, publications, or weight) over ``use``."""
    ww = np.where(use, np.nan_to_num(w), 0.0)
    if kind is not None and kind in points.columns:
        k = points[kind].astype("string").str.strip().str.lower()
        out = {}
        for value, col in _KIND_COLUMN.items():
            total = float(ww[(k == value).fillna(False).to_numpy()].sum())
            if total > 0:
                out[col] = total
        return out
    total = float(ww.sum())
    return {"weight": total} if total > 0 else {}


def _empty_scores(table: pd.DataFrame, totals: dict[str, float]) -> pd.DataFrame:
    out = table.copy()
    for col in totals:
        out[f"{col}_share_pct"] = pd.Series(dtype="float64")
    out["score_pct"] = pd.Series(dtype="float64")
    out["rank"] = pd.Series(dtype="Int64")
    out["intensity_per_million"] = pd.Series(dtype="float64")
    return out


def _count_unique_per_cluster(lab: np.ndarray, loc: np.ndarray, n: int) -> np.ndarray:
    if lab.size == 0:
        return np.zeros(n, dtype=np.int64)
    pairs = np.unique(lab.astype(np.int64) * (loc.max() + 1) + loc)
    return np.bincount(pairs // (loc.max() + 1), minlength=n)


def _default_regions(regions: pd.DataFrame | None, notes: list[str]) -> pd.DataFrame | None:
    if regions is not None:
        return regions
    try:
        from clusteratlas.geo import regions as gazetteer  # type: ignore[attr-defined]
    except ImportError:
        notes.append("no gazetteer available: clusters are not named after places")
        return None
    return gazetteer()


_LEVEL_RANK = {"county": 0, "prefecture": 1, "province": 2}


def _lift(codes: pd.Series, regions: pd.DataFrame, level: str | None) -> pd.Series:
    """Map region codes to their ancestor at ``level`` through ``parent_code``.

    Where the chain skips the level — the districts of a province-level municipality such as
    北京市 have no prefecture — the first coarser ancestor stands in (the municipality itself).
    """
    if level is None:
        return codes
    info = regions.drop_duplicates("region_code")
    info = info.set_index(info["region_code"].astype("string"))
    lvl = info["level"].astype("string").to_dict()
    parent = info["parent_code"].astype("string").to_dict() if "parent_code" in info else {}
    target = _LEVEL_RANK.get(level)
    mapping: dict[str, Any] = {}
    for code in pd.unique(codes.dropna()):
        cur, seen, found = code, 0, pd.NA
        while cur is not None and seen < 10:
            here = lvl.get(cur)
            if here == level or (target is not None and _LEVEL_RANK.get(here, -1) > target):
                found = cur
                break
            nxt = parent.get(cur)
            cur = None if nxt is None or pd.isna(nxt) else nxt
            seen += 1
        mapping[code] = found
    return codes.map(mapping).astype("string")


def _point_places(points, region, regions, name_level, coords, metric, in_cl, notes):
    """Region code (at ``name_level``) of each clustered point, or None if unknowable."""
    if region is not None and region in points.columns:
        codes = points[region].astype("string")[in_cl]
        if regions is not None:
            codes = _lift(codes, regions, name_level)
        return codes.to_numpy(dtype=object, na_value=None)
    if regions is None or metric != "haversine":
        return None
    if not {"region_code", "lon", "lat"} <= set(regions.columns):
        notes.append("gazetteer has no region_code/lon/lat: clusters are not named after places")
        return None
    cand = regions
    if name_level is not None and "level" in regions.columns:
        cand = regions[regions["level"].astype("string") == name_level]
    cand = cand.dropna(subset=["lon", "lat"])
    if cand.empty:
        notes.append(f"gazetteer has no located places at level {name_level!r}")
        return None
    from scipy.spatial import cKDTree

    tree = cKDTree(_unit_xyz_km(cand["lon"].to_numpy(float), cand["lat"].to_numpy(float)))
    sub = coords[in_cl]
    _, idx = tree.query(_unit_xyz_km(sub[:, 0], sub[:, 1]))
    notes.append("points carry no region code: each is assigned its nearest gazetteer place")
    return cand["region_code"].astype("string").to_numpy(dtype=object)[idx]


def _cluster_places(places, lab, w, n, regions, name_min_share):
    names = [f"cluster {i}" for i in range(n)]
    members = [""] * n
    population = np.full(n, np.nan)
    if places is None or n == 0:
        return names, members, population
    frame = pd.DataFrame({"c": lab, "p": places, "w": w}).dropna(subset=["p"])
    agg = frame.groupby(["c", "p"], sort=False)["w"].sum().reset_index()
    agg = agg.sort_values(["c", "w", "p"], ascending=[True, False, True], kind="stable")
    info_name: dict[str, str] = {}
    info_pop: dict[str, float] = {}
    if regions is not None:
        r = regions.drop_duplicates("region_code").set_index(regions["region_code"].drop_duplicates().astype("string"))
        if "name" in r.columns:
            info_name = r["name"].astype("string").to_dict()
        if "population" in r.columns:
            info_pop = pd.to_numeric(r["population"], errors="coerce").to_dict()
    totals = agg.groupby("c")["w"].sum()
    for c, grp in agg.groupby("c", sort=False):
        codes = grp["p"].tolist()
        shares = (grp["w"] / max(totals[c], 1e-300)).to_numpy()
        picked = [codes[0]] + [p for p, s in zip(codes[1:3], shares[1:3], strict=False)
                               if s >= name_min_share]
        names[c] = "–".join(str(info_name.get(p, p)) for p in picked)
        members[c] = ";".join(sorted(str(p) for p in codes))
        pops = [info_pop.get(p, np.nan) for p in codes]
        if pops and not all(pd.isna(v) for v in pops):
            population[c] = float(np.nansum(pops))
    return names, members, population


def _geometry(res: DBSCANLabels, w, n, metric, outline, buffer_km):
    import shapely

    cen_a = np.full(n, np.nan)
    cen_b = np.full(n, np.nan)
    wkt = [""] * n
    if n == 0:
        return cen_a, cen_b, wkt
    in_cl = res.labels >= 0
    lab = res.labels[in_cl]
    loc = res.location[in_cl]
    uc = res.location_coords
    if metric == "haversine":
        xyz = _unit_xyz_km(uc[loc, 0], uc[loc, 1])
        sums = np.column_stack([np.bincount(lab, weights=xyz[:, k] * w[in_cl], minlength=n)
                                for k in range(3)])
        cen_a, cen_b = _xyz_to_lonlat(sums)
    else:
        tw = np.bincount(lab, weights=w[in_cl], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            cen_a = np.bincount(lab, weights=uc[loc, 0] * w[in_cl], minlength=n) / tw
            cen_b = np.bincount(lab, weights=uc[loc, 1] * w[in_cl], minlength=n) / tw
    pairs = np.unique(np.column_stack([lab, loc]), axis=0)
    starts = np.searchsorted(pairs[:, 0], np.arange(n + 1))
    for c in range(n):
        pts = uc[pairs[starts[c]:starts[c + 1], 1]]
        if outline == "hull":
            geom = shapely.convex_hull(shapely.multipoints(pts))
        elif metric == "projected":
            geom = shapely.union_all(shapely.buffer(shapely.points(pts), buffer_km))
        else:
            # buffer in a local equirectangular plane (km) around the centroid, then back to
            # degrees; adequate for outlines of city-sized clusters away from the poles
            lon0, lat0 = cen_a[c], cen_b[c]
            kx = np.pi / 180 * EARTH_RADIUS_KM * np.cos(np.radians(lat0))
            ky = np.pi / 180 * EARTH_RADIUS_KM
            local = np.column_stack([(pts[:, 0] - lon0) * kx, (pts[:, 1] - lat0) * ky])
            g = shapely.union_all(shapely.buffer(shapely.points(local), buffer_km, quad_segs=8))
            geom = shapely.transform(g, lambda a, lon0=lon0, lat0=lat0, kx=kx, ky=ky:
                                     np.column_stack([a[:, 0] / kx + lon0, a[:, 1] / ky + lat0]))
        wkt[c] = shapely.to_wkt(geom, rounding_precision=6)
    return cen_a, cen_b, wkt


# --------------------------------------------------------------------------------------------
# rank stability
# --------------------------------------------------------------------------------------------
class RankStability(Result):
    """How each cluster's rank moves across clustering settings.

    Attributes
    ----------
    table : DataFrame
        One row per cluster of the reference run: ``cluster_id, name, rank`` (reference),
        ``rank_min, rank_median, rank_max`` (over the settings where it was found),
        ``n_settings`` (settings run), ``n_found`` (settings in which a cluster matched it).
    runs : DataFrame
        Long form: ``radius_km, min_weight, cluster_id`` (reference cluster), ``matched_id``,
        ``overlap`` (weighted Jaccard of member points), ``rank``.
    reference : DensityClusters
        The reference run.
    """

    runs: pd.DataFrame
    reference: DensityClusters

    def plot(self) -> Any:
        import plotly.graph_objects as go

        t = self.table.sort_values("rank")
        fig = go.Figure(go.Scatter(
            x=t["rank"], y=t["name"], mode="markers",
            error_x={"type": "data", "symmetric": False,
                     "array": t["rank_max"] - t["rank"], "arrayminus": t["rank"] - t["rank_min"]}))
        fig.update_layout(title="Rank across settings 排名稳定性", xaxis_title="rank",
                          yaxis={"autorange": "reversed"})
        return fig


def rank_stability(
    points: pd.DataFrame,
    *,
    radii_km: list[float],
    min_weights: list[float],
    reference: tuple[float, float] | None = None,
    min_overlap: float = 0.3,
    weight: str | None = "share",
    **kwargs: Any,
) -> RankStability:
    """Re-run :func:`density_clusters` over a grid of settings and report each cluster's rank range.

    Parameters
    ----------
    points : DataFrame
        As for :func:`density_clusters`.
    radii_km, min_weights : list of float
        The grid: every radius is combined with every minimum weight.
    reference : (radius_km, min_weight), optional
        The run whose clusters are followed; default the middle radius and middle minimum weight.
    min_overlap : float
        A reference cluster is found in another run when the best-matching cluster's weighted
        Jaccard overlap of member points (weight in both / weight in either) is at least this.
    weight : str or None
        Weight column, as for :func:`density_clusters`.
    **kwargs
        Passed to :func:`density_clusters` (``metric``, ``kind``, ``regions``...).

    Returns
    -------
    RankStability

    Notes
    -----
    A cluster that splits in another setting takes the rank of the piece that overlaps it most;
    two clusters that merge both take the rank of the merged cluster. Ranks are by total score.
    """
    if not radii_km or not min_weights:
        raise InputError("radii_km and min_weights: expected at least one value each")
    if reference is None:
        reference = (sorted(radii_km)[len(radii_km) // 2], sorted(min_weights)[len(min_weights) // 2])
    w = (np.nan_to_num(points[weight].to_numpy(dtype=np.float64, na_value=np.nan))
         if weight is not None and weight in points.columns else np.ones(len(points)))
    ref = density_clusters(points, radius_km=reference[0], min_weight=reference[1],
                           weight=weight, **kwargs)
    ref_lab = ref.points["cluster_id"].to_numpy(dtype=np.int64, na_value=-1)
    ref_rank = ref.table.set_index("cluster_id")["rank"]
    n_ref = len(ref.table)
    rows = []
    from clusteratlas.console import track

    settings = [(r, m) for r in radii_km for m in min_weights]
    for r, m in track(settings, "rank stability"):
        run = ref if (r, m) == tuple(reference) else density_clusters(
            points, radius_km=r, min_weight=m, weight=weight, **kwargs)
        lab = run.points["cluster_id"].to_numpy(dtype=np.int64, na_value=-1)
        ranks = run.table.set_index("cluster_id")["rank"]
        matched, overlap = _match(ref_lab, lab, w, n_ref, len(run.table))
        for c in range(n_ref):
            ok = matched[c] >= 0 and overlap[c] >= min_overlap
            rows.append({"radius_km": r, "min_weight": m, "cluster_id": c,
                         "matched_id": int(matched[c]) if ok else -1,
                         "overlap": float(overlap[c]),
                         "rank": ranks.get(int(matched[c]), pd.NA) if ok else pd.NA})
    runs = pd.DataFrame(rows, columns=["radius_km", "min_weight", "cluster_id", "matched_id",
                                       "overlap", "rank"])
    runs["rank"] = runs["rank"].astype("Int64")
    g = runs.dropna(subset=["rank"]).groupby("cluster_id")["rank"]
    table = pd.DataFrame({"cluster_id": np.arange(n_ref)})
    table["name"] = ref.table.set_index("cluster_id")["name"].reindex(table["cluster_id"]).to_numpy()
    table["rank"] = ref_rank.reindex(table["cluster_id"]).to_numpy()
    for stat, fn in (("rank_min", "min"), ("rank_median", "median"), ("rank_max", "max")):
        table[stat] = g.agg(fn).reindex(table["cluster_id"]).to_numpy()
    table["n_settings"] = len(settings)
    table["n_found"] = g.size().reindex(table["cluster_id"]).fillna(0).astype(int).to_numpy()
    table = table.sort_values("rank", kind="stable").reset_index(drop=True)
    notes = []
    lost = table.loc[table["n_found"] < len(settings), "name"].tolist()
    if lost:
        notes.append(f"{len(lost)} clusters are missing from some settings (no match with overlap "
                     f">= {min_overlap}): {lost[:5]}")
    out = RankStability(table=table,
                        params={"radii_km": list(radii_km), "min_weights": list(min_weights),
                                "reference": tuple(reference), "min_overlap": min_overlap,
                                **{k: v for k, v in kwargs.items() if k != "regions"}},
                        notes=notes, title="Rank stability of density clusters")
    out.runs = runs
    out.reference = ref
    return out


def _match(a: np.ndarray, b: np.ndarray, w: np.ndarray, na: int, nb: int):
    """Best match in ``b`` for each cluster of ``a`` by weighted Jaccard overlap of points."""
    best = np.full(na, -1, dtype=np.int64)
    score = np.zeros(na)
    if na == 0 or nb == 0:
        return best, score
    both = (a >= 0) & (b >= 0)
    inter = np.bincount(a[both] * nb + b[both], weights=w[both], minlength=na * nb).reshape(na, nb)
    wa = np.bincount(a[a >= 0], weights=w[a >= 0], minlength=na)
    wb = np.bincount(b[b >= 0], weights=w[b >= 0], minlength=nb)
    union = wa[:, None] + wb[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        jac = np.where(union > 0, inter / union, 0.0)
    best = jac.argmax(axis=1)
    score = jac[np.arange(na), best]
    best = np.where(score > 0, best, -1)
    return best, score
