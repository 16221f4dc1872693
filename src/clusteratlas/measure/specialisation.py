"""Specialisation and concentration indices for every region × industry at once.

Notation (one matrix, :class:`clusteratlas.measure._prepare.Prepared`): ``E[r, k]`` is the activity
(employment, establishments, output) of industry ``k`` in region ``r``; ``E_r = Σ_k E[r, k]`` the
region's total, ``E_k = Σ_r E[r, k]`` the industry's total, ``E = Σ E[r, k]``. With a *reference*
(e.g. national totals by industry ``N_k``, grand total ``N``) the benchmark industry structure is
``N_k / N`` instead of ``E_k / E``.

* region's industry share ``a[r, k] = E[r, k] / E_r``; benchmark ``b_k = E_k / E`` (or ``N_k / N``);
* industry's regional share ``s[r, k] = E[r, k] / E_k``; region's share of all activity
  ``x_r = E_r / E``.

Every index is computed for all regions and industries with whole-array NumPy operations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clusteratlas.measure._prepare import Kind, Prepared, prepare
from clusteratlas.result import Result


def _long(prep: Prepared, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """A region × industry long frame (region-major) from full matrices."""
    n_r, n_k = prep.matrix.shape
    frame = {
        "region": prep.regions.take(np.repeat(np.arange(n_r), n_k)),
        "industry": prep.industries.take(np.tile(np.arange(n_k), n_r)),
    }
    frame.update({name: np.asarray(values, dtype=float).ravel() for name, values in columns.items()})
    return pd.DataFrame(frame)


def _lq_parts(prep: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Cell values, region totals, industry benchmark totals and the benchmark grand total."""
    mat = prep.matrix
    region_total = mat.sum(axis=1)
    if prep.reference is not None:
        return mat, region_total, prep.reference, float(prep.reference_total)
    return mat, region_total, mat.sum(axis=0), float(mat.sum())


def lq_matrix(prep: Prepared) -> np.ndarray:
    """Location quotients ``LQ[r, k] = (E[r, k] / E_r) / (E_k / E)`` as a matrix (see
    :func:`location_quotient`); ``NaN`` for a region whose total is zero."""
    mat, region_total, industry_total, total = _lq_parts(prep)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (mat / region_total[:, None]) / (industry_total / total)[None, :]


def location_quotient(
    data: pd.DataFrame,
    region: str = "region_code",
    industry: str = "industry",
    weight: str | None = "employment",
    reference: Any = None,
    level: str | int | None = None,
    kind: Kind = "auto",
) -> pd.DataFrame:
    """Location quotient of every industry in every region.

    ``LQ[r, k] = (E[r, k] / E_r) / (E_k / E)``: the industry's share of the region's activity over
    its share of the benchmark economy's (the standard location quotient of regional analysis, as
    computed by EconGeo's ``location_quotient`` and REAT's ``locq``). ``LQ > 1`` means the region is specialised in ``k``.
    With ``reference`` the denominator is ``N_k / N`` from the reference totals, so the counties of
    one province can be measured against the nation.

    Parameters
    ----------
    data : pandas.DataFrame
        Establishment records or region × industry aggregates (see
        :func:`clusteratlas.measure._prepare.prepare`). Not modified.
    region, industry, weight : str
        Columns of the region label, industry code and activity (``weight=None`` counts records).
    reference : DataFrame with columns ``industry``, ``value``; Series or dict, optional
        Reference totals by industry. The grand total ``N`` is their sum over *all* reference
        industries, so the reference must cover the same universe of activity as the data's
        region totals (e.g. all manufacturing in both).
    level : {"province", "prefecture", "county"} or int, optional
        Roll GB/T 2260 region codes up by prefix first.
    kind : {"auto", "records", "aggregates"}
        What ``data`` is.

    Returns
    -------
    pandas.DataFrame
        One row per region × industry (zero cells included) with columns ``region``,
        ``industry``, ``value`` (``E[r, k]``), ``region_total`` (``E_r``), ``industry_total``
        (``E_k``, or ``N_k`` with a reference), ``total`` (``E`` or ``N``) and ``lq``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"region_code": ["A", "A", "B", "B"], "industry": ["x", "y", "x", "y"],
    ...                    "employment": [30.0, 10.0, 10.0, 50.0]})
    >>> location_quotient(df)["lq"].round(4).tolist()  # (30/40)/(40/100) = 1.875
    [1.875, 0.4167, 0.4167, 1.3889]
    """
    prep = prepare(data, region, industry, weight, reference=reference, level=level, kind=kind)
    mat, region_total, industry_total, total = _lq_parts(prep)
    n_r, n_k = mat.shape
    return _long(prep, {
        "value": mat,
        "region_total": np.repeat(region_total, n_k),
        "industry_total": np.tile(industry_total, n_r),
        "total": np.full(n_r * n_k, total),
        "lq": lq_matrix(prep),
    })


def hoover_coefficients(prep: Prepared) -> np.ndarray:
    """Hoover (1936) coefficient of localisation of every industry.

    ``HC_k = ½ Σ_r |s[r, k] − x_r|`` with ``s[r, k] = E[r, k] / E_k`` and ``x_r = E_r / E``
    (Hoover 1936, "The measurement of industrial localization", *Review of Economics and
    Statistics* 18(4): 162–171). 0 when the industry is spread like all activity; it approaches 1
    when it sits where little else does. EconGeo's ``Hoover.index`` reports the same in percent.
    """
    mat = prep.matrix
    s = mat / mat.sum(axis=0)[None, :]
    x = mat.sum(axis=1) / mat.sum()
    return 0.5 * np.abs(s - x[:, None]).sum(axis=0)


def locational_gini(prep: Prepared) -> np.ndarray:
    """Locational Gini of every industry, in Krugman's (1991) convention (maximum 0.5).

    Regions are ordered by ``s[r, k] / x_r`` (the location quotient) ascending; the locational
    Lorenz curve plots the cumulative share of all activity ``Σ x_r`` (horizontal) against the
    cumulative share of industry ``k`` ``Σ s[r, k]`` (vertical). The locational Gini is the area
    between this curve and the diagonal:

    ``LG_k = ½ − Σ_r (X_r − X_{r−1}) (S_r + S_{r−1}) / 2``

    with ``X``, ``S`` the cumulative sums (Krugman 1991, *Geography and Trade*, MIT Press, ch. 2,
    p. 56, as cited by EconGeo; used by Audretsch & Feldman 1996, *AER* 86(3): 630–640). This equals half the
    usual Gini coefficient of the curve (area between curve and diagonal over the area under
    the diagonal, ½), which is why its upper limit is 0.5, as in EconGeo's ``locational_gini``.
    """
    mat = prep.matrix
    s = mat / mat.sum(axis=0)[None, :]
    x = mat.sum(axis=1) / mat.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(x[:, None] > 0, s / x[:, None], 0.0)
    order = np.argsort(ratio, axis=0, kind="stable")
    s_sorted = np.take_along_axis(s, order, axis=0)
    x_sorted = x[order]
    cum_s = np.cumsum(s_sorted, axis=0)
    prev_s = np.vstack([np.zeros((1, mat.shape[1])), cum_s[:-1]])
    area_under = (x_sorted * (cum_s + prev_s) / 2).sum(axis=0)
    return 0.5 - area_under


def krugman_specialisation(prep: Prepared) -> np.ndarray:
    """Krugman (1991) index of regional specialisation for every region.

    ``K_r = Σ_k |a[r, k] − b_k|`` with ``a[r, k] = E[r, k] / E_r`` and ``b_k = E_k / E`` (or
    ``N_k / N`` with a reference): Krugman's (1991, *Geography and Trade*, MIT Press) index of
    the difference between two regions' industrial structures, here each region against the
    benchmark, as EconGeo's ``Krugman.index`` computes it. 0 for a region with the benchmark's structure, 2 at
    most. With a reference, industries of the reference absent from the data count with
    ``a[r, k] = 0``.
    """
    mat, region_total, industry_total, total = _lq_parts(prep)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = mat / region_total[:, None]
    b = industry_total / total
    k = np.abs(a - b[None, :]).sum(axis=1)
    if prep.reference is not None:
        k = k + max(0.0, 1.0 - float(b.sum()))
    return k


@dataclass(repr=False)
class SpecialisationResult(Result):
    """Specialisation and concentration of every region × industry.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per region × industry: ``region``, ``industry``, ``value``, ``share_in_region``
        (``E[r,k]/E_r``), ``share_of_industry`` (``E[r,k]/E_k``), ``lq``.
    by_industry : pandas.DataFrame
        One row per industry: ``industry``, ``total``, ``n_regions`` (regions with activity),
        ``hoover``, ``locational_gini``, ``hhi_regions`` (``Σ_r s[r,k]²``), and for records
        ``n_plants`` and ``plant_hhi`` (``Σ_j z_j²``, the plant Herfindahl).
    by_region : pandas.DataFrame
        One row per region: ``region``, ``total``, ``share`` (``E_r/E``), ``n_industries``,
        ``krugman`` (specialisation against the benchmark), ``hhi_industries``
        (``Σ_k a[r,k]²``), ``top_industry`` and ``top_lq`` (the industry of highest LQ).
    """

    by_industry: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_region: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self, max_rows: int = 20) -> str:
        text = super().summary(max_rows)
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            ind = self.by_industry.sort_values("locational_gini", ascending=False)
            extra = ["", "Most localised industries (by locational Gini):",
                     ind.head(max_rows).to_string(index=False),
                     "", "Most specialised regions (by Krugman index):",
                     self.by_region.sort_values("krugman", ascending=False)
                     .head(max_rows).to_string(index=False)]
        return text + "\n" + "\n".join(extra)

    def plot(self, max_regions: int = 40, max_industries: int = 30) -> Any:
        """Heat map of log2(LQ) for the largest regions and the most localised industries."""
        import plotly.graph_objects as go

        regions = self.by_region.nlargest(max_regions, "total")["region"]
        industries = self.by_industry.nlargest(max_industries, "locational_gini")["industry"]
        sub = self.table[self.table["region"].isin(regions) & self.table["industry"].isin(industries)]
        grid = sub.pivot(index="industry", columns="region", values="lq")
        grid = grid.reindex(index=list(industries), columns=list(regions))
        with np.errstate(divide="ignore"):
            z = np.log2(grid.to_numpy(dtype=float))
        z = np.clip(z, -4, 4)
        fig = go.Figure(go.Heatmap(
            z=z, x=[str(c) for c in grid.columns], y=[str(i) for i in grid.index],
            colorscale="RdBu", reversescale=True, zmid=0,
            customdata=grid.to_numpy(dtype=float),
            hovertemplate="region %{x}<br>industry %{y}<br>LQ %{customdata:.3f}<extra></extra>",
            colorbar={"title": "log2 LQ"},
        ))
        fig.update_layout(title="Location quotients 区位商 (log2; red = specialised)",
                          xaxis_title="Region 地区", yaxis_title="Industry 行业")
        return fig


def specialisation(
    data: pd.DataFrame,
    region: str = "region_code",
    industry: str = "industry",
    weight: str | None = "employment",
    reference: Any = None,
    level: str | int | None = None,
    kind: Kind = "auto",
) -> SpecialisationResult:
    """Location quotients, Hoover, Krugman, locational Gini and Herfindahl indices in one pass.

    Parameters are those of :func:`location_quotient`. The reference (if given) sets the
    benchmark industry structure of the location quotients and of the Krugman index; Hoover,
    locational Gini and the Herfindahls describe the distribution across the regions in the data.

    Returns
    -------
    SpecialisationResult
        ``.table`` (region × industry), ``.by_industry`` and ``.by_region``; see the class.

    Notes
    -----
    * LQ: the standard location quotient; see :func:`location_quotient`.
    * Hoover coefficient of localisation: Hoover (1936); :func:`hoover_coefficients`.
    * Locational Gini: Krugman (1991), maximum 0.5; :func:`locational_gini`.
    * Krugman specialisation index: Krugman (1991), range [0, 2]; :func:`krugman_specialisation`.
    * ``hhi_regions = Σ_r s[r,k]²`` (Herfindahl of the industry's regional shares);
      ``plant_hhi = Σ_j z_j²`` with ``z_j`` a plant's share of its industry (Ellison & Glaeser
      1997's ``H``), only when plant records are given.
    """
    prep = prepare(data, region, industry, weight, reference=reference, level=level, kind=kind)
    mat = prep.matrix
    n_r = mat.shape[0]
    region_total = mat.sum(axis=1)
    industry_total = mat.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share_in_region = mat / region_total[:, None]
        share_of_industry = mat / industry_total[None, :]
    lq = lq_matrix(prep)
    table = _long(prep, {"value": mat, "share_in_region": share_in_region,
                         "share_of_industry": share_of_industry, "lq": lq})

    by_industry = pd.DataFrame({
        "industry": prep.industries,
        "total": industry_total,
        "n_regions": (mat > 0).sum(axis=0),
        "hoover": hoover_coefficients(prep),
        "locational_gini": locational_gini(prep),
        "hhi_regions": np.nansum(share_of_industry**2, axis=0),
    })
    if prep.kind == "records":
        by_industry["n_plants"] = prep.n_plants.astype(np.int64)
        by_industry["plant_hhi"] = prep.plant_moment(2)

    lq_for_top = np.where(np.isfinite(lq), lq, -np.inf)
    top = np.argmax(lq_for_top, axis=1)
    by_region = pd.DataFrame({
        "region": prep.regions,
        "total": region_total,
        "share": region_total / mat.sum(),
        "n_industries": (mat > 0).sum(axis=1),
        "krugman": krugman_specialisation(prep),
        "hhi_industries": np.nansum(share_in_region**2, axis=1),
        "top_industry": prep.industries.take(top),
        "top_lq": lq[np.arange(n_r), top],
    })

    notes = list(prep.notes)
    if prep.reference is not None:
        notes.append("LQ and Krugman index measured against the supplied reference totals; the "
                     "LQ of the data's own total is then not 1 unless the data are the reference.")
    if prep.kind != "records":
        notes.append("Plant Herfindahl not reported: plant sizes are unknown for aggregates.")
    zero_regions = int((region_total == 0).sum())
    if zero_regions:
        notes.append(f"{zero_regions} regions have zero total activity; their LQs are undefined.")
    params = dict(prep.info)
    return SpecialisationResult(table=table, params=params, notes=notes,
                                title="Specialisation and concentration 专业化与集中度",
                                by_industry=by_industry, by_region=by_region)
