"""Related-industry cluster definitions in the way of Delgado, Porter & Stern (2016).

Delgado, M., Porter, M. E. & Stern, S. (2016). "Defining clusters of related industries."
*Journal of Economic Geography* 16(1): 1–38 (NBER WP 20375, 2014). Their algorithm:
(1) similarity matrices ``M`` between industries from co-location (correlation of employment
across regions, co-agglomeration), input–output links and occupations; (2) parameter choices;
(3) a clustering function ``C = F(M, β)`` (hierarchical and k-means over a range of cluster
numbers); (4) validation scores for every candidate set of definitions, which pick the best;
(5) review of individual clusters and outlier industries.

Here: :func:`similarity_matrices` builds the co-location (``cor_emp``, ``coagglomeration``) and,
when a links table is given, input–output (``io``) matrices; :func:`validation_scores` scores a
grouping on a matrix; :func:`related_clusters` runs steps 1–4 and returns industry → cluster
category with each industry's scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from clusteratlas.errors import InputError
from clusteratlas.measure import coagglomeration, location_quotient
from clusteratlas.result import Result

_MEASURES = ("cor_emp", "cor_est", "coagg_emp", "coagg_est", "io")


def _employment_matrix(data: pd.DataFrame, region: str, industry: str, employment: str | None,
                       level: Any) -> pd.DataFrame:
    lq = location_quotient(data, region=region, industry=industry, weight=employment, level=level)
    return lq.pivot(index="region", columns="industry", values="value").fillna(0.0)


def _is_records(data: pd.DataFrame, region: str, industry: str) -> bool:
    """Establishment records (one row per plant) rather than region × industry aggregates."""
    if "est_id" in data.columns:
        return True
    return bool(data.duplicated([region, industry]).any())


def io_similarity(links: pd.DataFrame, industries: Sequence[str], *, origin: str = "origin",
                  destination: str = "destination", weight: str = "weight") -> pd.DataFrame:
    """Input–output relatedness ``IO_ij = max(in_ij, in_ji, out_ij, out_ji)``.

    ``out_ij`` is the share of industry ``i``'s sales (to the listed industries) that go to
    ``j``; ``in_ij`` the share of ``j``'s purchases that come from ``i`` — the four shares whose
    maximum Delgado, Porter & Stern (2016, section 3.1, "input–output links") take as the IO
    link of a pair. ``links`` holds flows ``origin`` (seller) → ``destination`` (buyer).
    """
    for col in (origin, destination, weight):
        if col not in links.columns:
            raise InputError(f"links: column {col!r} is missing; columns are {list(links.columns)}")
    idx = pd.Index(industries)
    o = idx.get_indexer(links[origin].astype(str))
    d = idx.get_indexer(links[destination].astype(str))
    w = links[weight].to_numpy(dtype=np.float64, na_value=0.0)
    keep = (o >= 0) & (d >= 0) & (o != d)
    n = len(idx)
    flow = np.zeros((n, n))
    np.add.at(flow, (o[keep], d[keep]), w[keep])
    sales = flow.sum(axis=1, keepdims=True)
    purchases = flow.sum(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out_share = np.where(sales > 0, flow / sales, 0.0)  # out[i, j]
        in_share = np.where(purchases > 0, flow / purchases, 0.0)  # in[i, j]: j buys from i
    m = np.maximum.reduce([out_share, out_share.T, in_share, in_share.T])
    np.fill_diagonal(m, np.nan)
    return pd.DataFrame(m, index=idx, columns=idx)


def similarity_matrices(
    data: pd.DataFrame,
    *,
    region: str = "region_code",
    industry: str = "industry",
    employment: str | None = "employment",
    establishments: str | None = None,
    level: Any = None,
    links: pd.DataFrame | None = None,
    measures: Sequence[str] = _MEASURES,
) -> dict[str, pd.DataFrame]:
    """Industry × industry relatedness matrices (diagonal NaN), labelled by industry.

    * ``cor_emp`` / ``cor_est`` — Pearson correlation of two industries' employment /
      establishment counts across regions (DPS 2016's locational correlation of employment and
      of establishments; region × industry cells from
      :func:`clusteratlas.measure.location_quotient`);
    * ``coagg_emp`` / ``coagg_est`` — Ellison–Glaeser pairwise co-agglomeration ``γᶜ`` of
      employment / establishments (:func:`clusteratlas.measure.coagglomeration`);
    * ``io`` — input–output links from a ``links`` table of ``kind == "supply"`` (or all rows if
      it has no ``kind``) between industries, see :func:`io_similarity`; skipped without links
      or when no link joins two of the industries.

    Establishment counts are the rows of establishment records, or the ``establishments`` column
    of aggregates; with aggregates and no such column the ``*_est`` measures are skipped.
    Counts matter: one large plant dominates an employment correlation, while co-location of
    *firms* shows in the counts (DPS use both).
    """
    unknown = [m for m in measures if m not in _MEASURES]
    if unknown:
        raise InputError(f"measures: unknown {unknown}; expected some of {_MEASURES}")
    emp = _employment_matrix(data, region, industry, employment, level)
    industries = [str(c) for c in emp.columns]
    if len(industries) < 3:
        raise InputError(f"related clusters need at least 3 industries; got {len(industries)}")
    out: dict[str, pd.DataFrame] = {}
    est_weight: str | None = establishments
    has_est = establishments is not None or _is_records(data, region, industry)

    def square(m: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
        frame = pd.DataFrame(m, index=[str(i) for i in labels], columns=[str(i) for i in labels])
        frame = frame.reindex(index=industries, columns=industries)
        arr = frame.to_numpy(dtype=np.float64, copy=True)
        np.fill_diagonal(arr, np.nan)
        return pd.DataFrame(arr, index=industries, columns=industries)

    for name, weight in (("emp", employment), ("est", est_weight)):
        if name == "est" and not has_est:
            continue
        if f"cor_{name}" in measures:
            cells = emp if name == "emp" else _employment_matrix(data, region, industry, weight,
                                                                 level)
            with np.errstate(invalid="ignore", divide="ignore"):
                cor = np.corrcoef(cells.to_numpy(dtype=np.float64), rowvar=False)
            out[f"cor_{name}"] = square(cor, list(cells.columns))
        if f"coagg_{name}" in measures:
            co = coagglomeration(data, region=region, industry=industry, weight=weight,
                                 level=level).matrix
            out[f"coagg_{name}"] = square(co.to_numpy(dtype=np.float64), list(co.index))
    if "io" in measures and links is not None:
        lk = links
        if "kind" in links.columns:
            lk = links[links["kind"].astype("string") == "supply"]
        io = io_similarity(lk, industries)
        if np.nansum(io.to_numpy()) > 0:  # links between regions or firms say nothing here
            out["io"] = io
    return out


def validation_scores(matrix: pd.DataFrame | np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Delgado–Porter–Stern validation scores of a grouping on one relatedness matrix.

    Parameters
    ----------
    matrix : (n, n) array-like
        Relatedness ``M_ij`` (diagonal ignored; NaN pairs ignored).
    labels : (n,) array of int
        Cluster of each industry.

    Returns
    -------
    dict
        ``vs_cluster`` — percentage of clusters (of two or more industries) whose within-cluster
        relatedness ``WCR_c`` (mean ``M_ij`` over pairs inside ``c``) exceeds their
        between-cluster relatedness ``BCR_c`` (mean ``M_ij`` between ``c`` and all industries
        outside it); ``vs_industry`` — percentage of industries whose mean relatedness to the
        other industries of their own cluster exceeds their mean relatedness to the industries
        of every other cluster (industries alone in their cluster fail); ``vs`` — the mean of the
        two; ``wcr`` and ``bcr`` — mean ``M_ij`` over all within- and all between-cluster pairs.

    Notes
    -----
    DPS (2016, section 3.4) score a set of cluster definitions ``C`` on each matrix ``M`` by
    "VS-Cluster" (share of clusters with ``WCR > BCR``) and "VS-Industry" (share of industries
    more related to their own cluster than to any other); this follows that description. The
    averaging of the two into ``vs`` is ours, used to rank candidates; the paper's text was not
    available to check its exact aggregation in this build.
    """
    m = np.asarray(matrix, dtype=np.float64).copy()
    n = m.shape[0]
    labels = np.asarray(labels)
    if m.shape != (n, n) or labels.shape != (n,):
        raise InputError(f"validation_scores: matrix {m.shape} and labels {labels.shape} differ")
    np.fill_diagonal(m, np.nan)
    codes, _ = pd.factorize(labels)
    k = codes.max() + 1
    onehot = np.zeros((n, k))
    onehot[np.arange(n), codes] = 1.0
    valid = ~np.isnan(m)
    mz = np.where(valid, m, 0.0)
    # per industry and cluster: sum and count of relatedness to that cluster's members
    sums = mz @ onehot
    counts = valid.astype(float) @ onehot
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_to = sums / counts
    own = mean_to[np.arange(n), codes]
    other = mean_to.copy()
    other[np.arange(n), codes] = -np.inf
    other = np.where(np.isnan(other), -np.inf, other)
    best_other = other.max(axis=1)
    ind_ok = np.isfinite(own) & (own > best_other)
    # clusters
    within_sum = np.bincount(codes, weights=sums[np.arange(n), codes], minlength=k)
    within_cnt = np.bincount(codes, weights=counts[np.arange(n), codes], minlength=k)
    total_sum = np.bincount(codes, weights=sums.sum(axis=1), minlength=k)
    total_cnt = np.bincount(codes, weights=counts.sum(axis=1), minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        wcr = within_sum / within_cnt
        bcr = (total_sum - within_sum) / (total_cnt - within_cnt)
    sizes = np.bincount(codes, minlength=k)
    multi = sizes >= 2
    cl_ok = multi & (wcr > bcr)
    with np.errstate(invalid="ignore", divide="ignore"):
        all_w = within_sum.sum() / within_cnt.sum() if within_cnt.sum() else np.nan
        bc = total_cnt.sum() - within_cnt.sum()
        all_b = (total_sum.sum() - within_sum.sum()) / bc if bc else np.nan
    vs_cluster = 100.0 * cl_ok.sum() / max(multi.sum(), 1)
    vs_industry = 100.0 * ind_ok.mean()
    return {"vs_cluster": float(vs_cluster), "vs_industry": float(vs_industry),
            "vs": float((vs_cluster + vs_industry) / 2), "wcr": float(all_w), "bcr": float(all_b),
            "_industry_own": own, "_industry_best_other": best_other, "_industry_ok": ind_ok}


def _standardise(m: np.ndarray) -> np.ndarray:
    """Off-diagonal z-scores, so matrices on different scales can be averaged."""
    off = m[~np.isnan(m)]
    sd = off.std()
    z = (m - off.mean()) / (sd if sd > 0 else 1.0)
    return z


class RelatedClusters(Result):
    """Industry → cluster category with Delgado–Porter–Stern validation scores.

    Attributes
    ----------
    table : DataFrame
        One row per industry: ``industry, cluster, cluster_size``, and for the combined matrix
        ``relatedness_own`` (mean relatedness to its own cluster), ``relatedness_best_other``,
        ``fits`` (own > every other cluster).
    candidates : DataFrame
        Every candidate grouping: ``method, k`` and per matrix ``vs_cluster_<M>``,
        ``vs_industry_<M>``, ``vs_<M>``, with ``vs_mean`` (mean over matrices),
        ``wcr_combined``/``bcr_combined`` (mean within/between relatedness, combined matrix),
        ``largest_share`` (largest category / industries), ``eligible`` and ``best``.
    matrices : dict of DataFrame
        The relatedness matrices used, plus ``combined``.
    """

    candidates: pd.DataFrame
    matrices: dict[str, pd.DataFrame]

    def plot(self) -> Any:
        import plotly.express as px

        c = self.candidates
        return px.line(c, x="k", y="vs_mean", color="method", markers=True,
                       title="Validation score by number of clusters 验证得分")


def related_clusters(
    data: pd.DataFrame,
    *,
    region: str = "region_code",
    industry: str = "industry",
    employment: str | None = "employment",
    establishments: str | None = None,
    level: Any = None,
    links: pd.DataFrame | None = None,
    measures: Sequence[str] = _MEASURES,
    ks: Sequence[int] | None = None,
    max_cluster_share: float = 0.5,
    methods: Sequence[str] = ("hierarchical", "kmeans"),
    seed: int = 0,
) -> RelatedClusters:
    """Group industries into related-industry clusters and score every candidate (DPS 2016).

    Parameters
    ----------
    data : DataFrame
        Establishment records or region × industry aggregates (employment). Not modified.
    region, industry, employment, level
        As for :func:`clusteratlas.measure.location_quotient`.
    links : DataFrame, optional
        Industry-to-industry flows (``origin`` seller, ``destination`` buyer, ``weight``,
        optional ``kind`` — only ``supply`` rows are used) for the input–output matrix.
    measures : sequence of str
        Relatedness matrices to build (see :func:`similarity_matrices`).
    establishments : str, optional
        Aggregates: column of establishment counts (records are counted).
    ks : sequence of int, optional
        Numbers of clusters to try; default ``n // 20`` … ``n // 5`` for ``n`` industries (DPS
        fix the number of clusters in a narrow range as a parameter choice and compare
        candidates within it; their benchmark has 51 traded clusters of about 16 industries).
    max_cluster_share : float
        Candidates with a category holding more than this share of all industries are not
        eligible (they are still scored in ``candidates``): average-linkage chaining and
        k-means can put most industries in one category, which passes every validation score
        trivially (its industries are more related to it than to a few small outliers).
    methods : sequence of {"hierarchical", "kmeans"}
        Clustering functions: average-linkage hierarchical clustering of the combined matrix
        (distance = max − relatedness), and k-means of each industry's row of the combined
        matrix (its relatedness profile), seeded by ``seed``.
    seed : int
        Seed for k-means (``numpy.random.default_rng``-compatible integer).

    Returns
    -------
    RelatedClusters

    Notes
    -----
    The combined matrix averages the matrices after standardising each one's off-diagonal
    entries (z-scores), so that a correlation and a γᶜ weigh alike; DPS build one combined
    matrix in the same spirit before clustering. Each candidate is scored on every matrix with
    :func:`validation_scores`; the eligible one with the highest mean ``vs`` over the individual
    matrices is returned. Validation scores alone cannot tell a good grouping from a coarser one that
    merges two good clusters (both pass), so ties go to the higher within-cluster relatedness of
    the combined matrix (``wcr_combined``), then fewer clusters, then hierarchical.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform
    from sklearn.cluster import KMeans

    mats = similarity_matrices(data, region=region, industry=industry, employment=employment,
                               establishments=establishments, level=level, links=links,
                               measures=measures)
    if not mats:
        raise InputError("no relatedness matrix could be built (give links for 'io')")
    industries = list(next(iter(mats.values())).index)
    n = len(industries)
    z = [_standardise(np.where(np.isnan(m.to_numpy()), np.nan, m.to_numpy())) for m in mats.values()]
    stack = np.stack(z)
    n_valid = (~np.isnan(stack)).sum(axis=0)
    combined = np.where(n_valid > 0, np.nansum(stack, axis=0) / np.maximum(n_valid, 1), np.nan)
    combined = np.where(np.isnan(combined), np.nanmin(combined), combined)
    np.fill_diagonal(combined, np.nan)
    if ks is None:
        ks = list(range(max(2, n // 20), max(3, n // 5) + 1))
    ks = [int(k) for k in ks if 2 <= int(k) < n]
    if not ks:
        raise InputError(f"ks: expected numbers of clusters between 2 and {n - 1}")
    unknown = [m for m in methods if m not in ("hierarchical", "kmeans")]
    if unknown:
        raise InputError(f"methods: unknown {unknown}; expected 'hierarchical' or 'kmeans'")

    dist = np.nanmax(combined) - combined
    np.fill_diagonal(dist, 0.0)
    dist = (dist + dist.T) / 2
    tree = linkage(squareform(dist, checks=False), method="average")
    profile = np.where(np.isnan(combined), np.nanmax(combined), combined)

    rows = []
    labelings: dict[tuple[str, int], np.ndarray] = {}
    for method in methods:
        for k in ks:
            if method == "hierarchical":
                lab = fcluster(tree, t=k, criterion="maxclust") - 1
            else:
                lab = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(profile)
            labelings[(method, k)] = lab
            row: dict[str, Any] = {"method": method, "k": k,
                                   "n_clusters": len(np.unique(lab)),
                                   "largest_share": np.bincount(pd.factorize(lab)[0]).max() / n}
            vs = []
            for name, m in mats.items():
                s = validation_scores(m.to_numpy(), lab)
                row[f"vs_cluster_{name}"] = s["vs_cluster"]
                row[f"vs_industry_{name}"] = s["vs_industry"]
                row[f"vs_{name}"] = s["vs"]
                vs.append(s["vs"])
            row["vs_mean"] = float(np.mean(vs))
            sc = validation_scores(combined, lab)
            row["wcr_combined"], row["bcr_combined"] = sc["wcr"], sc["bcr"]
            rows.append(row)
    cand = pd.DataFrame(rows)
    cand["eligible"] = cand["largest_share"] <= max_cluster_share
    order = cand.assign(_m=(cand["method"] != "hierarchical").astype(int),
                        _e=(~cand["eligible"]).astype(int)).sort_values(
        ["_e", "vs_mean", "wcr_combined", "k", "_m"], ascending=[True, False, False, True, True],
        kind="stable")
    best = order.index[0]
    if not cand.loc[best, "eligible"]:
        notes_pre = [f"every candidate has a category holding more than {max_cluster_share:.0%} "
                     "of the industries; the best of them is returned"]
    else:
        notes_pre = []
    cand["best"] = cand.index == best
    method, k = cand.loc[best, "method"], int(cand.loc[best, "k"])
    lab = labelings[(method, k)]
    # number categories by size (largest first), then first industry
    codes, uniq = pd.factorize(lab)
    sizes = np.bincount(codes)
    rank = np.empty(len(uniq), dtype=int)
    rank[np.lexsort((np.arange(len(uniq)), -sizes))] = np.arange(len(uniq))
    cluster = rank[codes]
    s = validation_scores(combined, cluster)
    table = pd.DataFrame({
        "industry": industries,
        "cluster": cluster,
        "cluster_size": np.bincount(cluster)[cluster],
        "relatedness_own": s["_industry_own"],
        "relatedness_best_other": s["_industry_best_other"],
        "fits": s["_industry_ok"],
    }).sort_values(["cluster", "industry"], kind="stable").reset_index(drop=True)
    notes = notes_pre
    if "io" in measures and links is not None and "io" not in mats:
        notes.append("the links table has no supply flows between the industries: no "
                     "input–output matrix")
    outliers = table.loc[~table["fits"], "industry"].tolist()
    if outliers:
        notes.append(f"{len(outliers)} industries are more related to another cluster than to "
                     f"their own (DPS step 5 reviews these): {outliers[:10]}")
    matrices = dict(mats)
    matrices["combined"] = pd.DataFrame(combined, index=industries, columns=industries)
    res = RelatedClusters(
        table=table,
        params={"measures": list(mats), "ks": list(ks), "methods": list(methods), "seed": seed,
                "best_method": method, "best_k": k, "level": level},
        notes=notes, title=f"Related-industry clusters ({method}, k={k}) 关联产业集群")
    res.candidates = cand
    res.matrices = matrices
    return res
