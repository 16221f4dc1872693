"""Agglomeration beyond chance: Ellison–Glaeser, Maurel–Sédillot and EG co-agglomeration.

Notation (Ellison & Glaeser 1997, "Geographic concentration in U.S. manufacturing industries: a
dartboard approach", *Journal of Political Economy* 105(5): 889–927):

* ``x_i`` — region ``i``'s share of aggregate activity (all industries; or supplied region totals);
* ``s_i`` — region ``i``'s share of industry ``k``'s activity;
* ``z_j`` — plant ``j``'s share of industry ``k``'s activity, ``H = Σ_j z_j²`` the plant Herfindahl;
* raw geographic concentration ``G = Σ_i (s_i − x_i)²``.

Under EG's null of no spillovers and no natural advantage ("dartboard": each plant picks region
``i`` independently with probability ``x_i``) ``E[G] = (1 − Σ x_i²) H`` (their Proposition 1 with
γ = 0), which is why the index subtracts ``H``:

``γ = [G / (1 − Σ x_i²) − H] / (1 − H)``  — EG 1997, the index built on their
Proposition 1 (often written ``γ ≡ (G − (1 − Σx²)H) / ((1 − Σx²)(1 − H))``); unbiased:
``E[γ] = 0`` under the null.

The variance of ``G`` under the null (given by EG 1997 for testing γ = 0; REAT's ``ellison.a``
implements the same) is

``Var(G) = 2 { H² [Σx² − 2Σx³ + (Σx²)²] − Σ_j z_j⁴ [Σx² − 4Σx³ + 3(Σx²)²] }``

so ``z = (G − E[G]) / sqrt(Var G)`` gives a (normal-approximation) test of localisation beyond
chance. All industries are computed at once from the region × industry matrix and the plant size
power sums; no loop runs over plants or industries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from clusteratlas.errors import InputError
from clusteratlas.measure._prepare import Kind, Prepared, prepare
from clusteratlas.result import Result

HHIOption = Literal["equal"] | Mapping[str, float] | pd.Series | None

#: EG (1997) call γ < 0.02 "not very localised" and γ > 0.05 "highly localised".
EG_LOW, EG_HIGH = 0.02, 0.05


def _region_shares(prep: Prepared, region_totals: Any) -> tuple[np.ndarray, np.ndarray]:
    """The region × industry matrix and ``x_i``.

    ``x_i`` comes from supplied region totals when given (EG use total manufacturing employment),
    from the data's region totals otherwise. Regions of the supplied totals with no plant in the
    data still count (EG's sums run over all regions): they are added as zero rows.
    """
    if region_totals is None:
        totals = prep.matrix.sum(axis=1)
        return prep.matrix, totals / totals.sum()
    if isinstance(region_totals, Mapping):
        region_totals = pd.Series(region_totals)
    if isinstance(region_totals, pd.DataFrame):
        cols = list(region_totals.columns)
        if "region" not in cols or "value" not in cols:
            raise InputError(f"region_totals must have columns 'region' and 'value'; got {cols}")
        region_totals = pd.Series(pd.to_numeric(region_totals["value"], errors="coerce")
                                  .to_numpy(dtype=float),
                                  index=region_totals["region"].astype("string"))
    if not isinstance(region_totals, pd.Series):
        raise InputError("region_totals must be a DataFrame (region, value), a Series or a dict; "
                         f"got {type(region_totals).__name__}")
    series = pd.Series(region_totals.to_numpy(dtype=float),
                       index=pd.Index(region_totals.index.astype(str), dtype="string"))
    series = series.groupby(level=0).sum()
    missing = prep.regions.difference(series.index)
    if len(missing):
        raise InputError(f"region_totals has no value for regions {list(missing[:10])}")
    if (series < 0).any() or not np.isfinite(series.to_numpy()).all():
        raise InputError("region_totals must be finite and non-negative")
    matrix = np.zeros((len(series), prep.matrix.shape[1]))
    matrix[series.index.get_indexer(prep.regions)] = prep.matrix
    return matrix, series.to_numpy() / float(series.sum())


def _plant_moments(prep: Prepared, hhi: HHIOption,
                   notes: list[str]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``H = Σz²`` and, when known, ``Σz³`` and ``Σz⁴`` per industry."""
    n_k = len(prep.industries)
    if prep.kind == "records" and hhi is None:
        return prep.plant_moment(2), prep.plant_moment(3), prep.plant_moment(4)
    if isinstance(hhi, str):
        if hhi != "equal":
            raise InputError(f"hhi must be 'equal', a mapping industry → H or None; got {hhi!r}")
        if prep.n_plants is None:
            raise InputError("hhi='equal' needs the number of establishments per industry: pass "
                             "n_plants= (a column of the aggregates) or give establishment records")
        n = prep.n_plants
        notes.append("Plant Herfindahl taken as H = 1/N (plants of equal size): exact when the "
                     "weight counts establishments, otherwise a lower bound on H that biases γ "
                     "upwards.")
        with np.errstate(divide="ignore"):
            return 1.0 / n, 1.0 / n**2, 1.0 / n**3
    if hhi is not None:
        series = pd.Series(hhi) if isinstance(hhi, Mapping) else hhi
        if not isinstance(series, pd.Series):
            raise InputError(f"hhi must be 'equal', a mapping industry → H or a Series; "
                             f"got {type(hhi).__name__}")
        series.index = pd.Index(series.index.astype(str), dtype="string")
        missing = prep.industries.difference(series.index)
        if len(missing):
            raise InputError(f"hhi has no plant Herfindahl for industries {list(missing[:10])}")
        h = series.reindex(prep.industries).to_numpy(dtype=float)
        if ((h <= 0) | (h > 1)).any():
            raise InputError("plant Herfindahl values must lie in (0, 1]")
        notes.append("Plant Herfindahl H supplied by the caller; without the plant sizes Σz⁴ is "
                     "unknown, so the null variance of G and the z-scores are not reported.")
        return h, None, None
    raise InputError(
        "the plant Herfindahl H of each industry is unknown: the input is region × industry "
        f"aggregates ({n_k} industries) without plant sizes. Give establishment records (with "
        "kind='records' if each row is one establishment but no est_id column says so), or "
        "hhi={industry: H} from a census, or n_plants=<column of establishment counts> with "
        "hhi='equal'. γ cannot be separated from plant lumpiness without H."
    )


def _null_variance(h: np.ndarray, z3: np.ndarray | None, z4: np.ndarray | None,
                   s2: float, s3: float, ms: bool) -> np.ndarray:
    """Variance under the dartboard null of EG's ``G`` or, with ``ms``, MS's ``Σs² − Σx²``.

    EG (1997): ``Var(G) = 2{H²[S2 − 2S3 + S2²] − Σz⁴[S2 − 4S3 + 3S2²]}``. For Maurel–Sédillot,
    ``Σs² − Σx² = G + 2L`` with ``L = Σ_j z_j (x_{loc(j)} − S2)``; by the same independence argument
    ``Var(L) = H (S3 − S2²)`` and ``Cov(G, L) = 2 Σz³ (S2² − S3)``, so
    ``Var = Var(G) + 4H(S3 − S2²) + 8Σz³(S2² − S3)`` (derived here; checked by simulation in the
    tests).
    """
    if z4 is None or z3 is None:
        return np.full_like(h, np.nan)
    var = 2.0 * (h**2 * (s2 - 2 * s3 + s2**2) - z4 * (s2 - 4 * s3 + 3 * s2**2))
    if ms:
        var = var + 4.0 * h * (s3 - s2**2) + 8.0 * z3 * (s2**2 - s3)
    return np.maximum(var, 0.0)


def _select(prep: Prepared, industries: Sequence[str] | None) -> np.ndarray:
    if industries is None:
        return np.arange(len(prep.industries))
    wanted = pd.Index([str(i) for i in industries], dtype="string")
    missing = wanted.difference(prep.industries)
    if len(missing):
        raise InputError(f"industries {list(missing[:10])} are not in the data; known industries "
                         f"include {list(prep.industries[:10])}")
    return prep.industries.get_indexer(wanted)


@dataclass(repr=False)
class AgglomerationResult(Result):
    """Per-industry agglomeration indices; ``index`` names the column plotted."""

    index: str = "gamma"

    def plot(self, max_industries: int = 60) -> Any:
        """Bars of γ per industry, coloured by significance, with the ±1.96 sd null band."""
        import plotly.graph_objects as go

        table = self.table.dropna(subset=[self.index])
        table = table.reindex(table[self.index].abs().sort_values(ascending=False).index)
        table = table.head(max_industries).sort_values(self.index, ascending=False)
        colours = np.where(table["significant"].fillna(False).to_numpy(dtype=bool),
                           "#c0392b", "#95a5a6")
        fig = go.Figure()
        sd = table.get("gamma_sd_null")
        fig.add_bar(x=table["industry"].astype(str), y=table[self.index], marker_color=colours,
                    name=self.index,
                    error_y={"type": "data", "array": 1.96 * sd, "visible": True}
                    if sd is not None and sd.notna().any() else None)
        fig.add_hline(y=EG_HIGH, line_dash="dot", annotation_text="highly localised (EG 0.05)")
        fig.add_hline(y=EG_LOW, line_dash="dot", annotation_text="EG 0.02")
        fig.update_layout(
            title=f"{self.title}: red = significant at {self.params.get('alpha', 0.05)}; "
                  "bars ±1.96 sd of the dartboard null",
            xaxis_title="Industry 行业", yaxis_title=f"{self.index} 集聚指数")
        return fig


def _inference(g_dev: np.ndarray, var: np.ndarray, scale: np.ndarray,
               alpha: float) -> dict[str, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        sd = np.sqrt(var)
        z = np.where(sd > 0, g_dev / sd, np.nan)
        p = stats.norm.sf(z)
        sd_gamma = np.where(scale > 0, sd / scale, np.nan)
    return {
        "gamma_sd_null": sd_gamma,
        "z": z,
        "p_value": p,
        "significant": pd.array(np.where(np.isnan(p), None, p < alpha), dtype="boolean"),
    }


def _agglomeration(
    data: pd.DataFrame, region: str, industry: str, weight: str | None, level: Any, kind: Kind,
    hhi: HHIOption, n_plants: str | None, region_totals: Any, industries: Sequence[str] | None,
    alpha: float, ms: bool,
) -> AgglomerationResult:
    if not 0 < alpha < 1:
        raise InputError(f"alpha must lie in (0, 1); got {alpha}")
    prep = prepare(data, region, industry, weight, level=level, kind=kind, n_plants=n_plants)
    notes = list(prep.notes)
    full, x = _region_shares(prep, region_totals)
    s2, s3 = float((x**2).sum()), float((x**3).sum())
    cols = _select(prep, industries)
    mat = full[:, cols]
    totals = mat.sum(axis=0)
    h, z3, z4 = _plant_moments(prep, hhi, notes)
    h, z3, z4 = h[cols], (z3[cols] if z3 is not None else None), (z4[cols] if z4 is not None else None)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = mat / totals[None, :]
        sum_s2 = (s**2).sum(axis=0)
        g = sum_s2 - 2.0 * (x @ s) + s2           # Σ(s − x)² without an R × K temporary
        g = np.maximum(g, 0.0)
        if ms:
            raw = sum_s2 - s2                      # MS 1999: Σs² − Σx²
            gamma = (raw / (1.0 - s2) - h) / (1.0 - h)
        else:
            raw = g
            gamma = (g / (1.0 - s2) - h) / (1.0 - h)
    single = h >= 1.0  # one plant: G is all lumpiness, γ is not identified
    gamma = np.where(single, np.nan, gamma)
    expected = (1.0 - s2) * h
    var = np.where(single, np.nan, _null_variance(h, z3, z4, s2, s3, ms))
    infer = _inference(raw - expected, var, (1.0 - s2) * (1.0 - h), alpha)
    name = "gamma_ms" if ms else "gamma"
    table = pd.DataFrame({
        "industry": prep.industries.take(cols),
        "total": totals,
        "n_plants": prep.n_plants[cols] if prep.n_plants is not None else np.nan,
        "n_regions": (mat > 0).sum(axis=0),
        "G": g,
        "H": h,
        name: gamma,
    })
    if ms:
        table.insert(table.columns.get_loc("H"), "G_ms", raw)
    table["expected_G"] = expected
    table["var_G"] = var
    for key, values in infer.items():
        table[key] = values
    table["localisation"] = pd.Series(
        np.select([gamma > EG_HIGH, gamma >= EG_LOW], ["high", "moderate"], "low"),
        dtype="string", index=table.index).where(~np.isnan(gamma), pd.NA)

    if single.any():
        notes.append(f"{int(single.sum())} industries have a single plant (H = 1); "
                     f"{name} is undefined for them.")
    if (prep.n_plants is not None) and (np.nan_to_num(prep.n_plants[cols]) < 10).any():
        few = int((np.nan_to_num(prep.n_plants[cols]) < 10).sum())
        notes.append(f"{few} industries have fewer than 10 plants; the normal approximation "
                     "behind z and p_value is rough for them (G is skewed).")
    notes.append(f"x_i (regions' shares of aggregate activity) from "
                 f"{'the supplied region totals' if region_totals is not None else 'all industries in the data'}"
                 f"; Σx² = {s2:.4f}.")
    notes.append("p_value is one-sided (localisation beyond the dartboard null), from the "
                 "normal approximation to G; EG (1997) call γ > 0.05 highly and γ < 0.02 not "
                 "very localised.")
    params = dict(prep.info)
    params.pop("reference", None)
    params.update({"alpha": alpha, "hhi": "from plant records" if (prep.kind == "records"
                                                                  and hhi is None) else
                   (hhi if isinstance(hhi, str) else ("supplied" if hhi is not None else None)),
                   "region_totals": "supplied" if region_totals is not None else "data",
                   "industries": "all" if industries is None else len(cols)})
    title = ("Maurel–Sédillot index 集聚指数 (MS 1999)" if ms
             else "Ellison–Glaeser index 集聚指数 (EG 1997)")
    return AgglomerationResult(table=table, params=params, notes=notes, title=title, index=name)


def ellison_glaeser(
    data: pd.DataFrame,
    region: str = "region_code",
    industry: str = "industry",
    weight: str | None = "employment",
    *,
    level: str | int | None = None,
    kind: Kind = "auto",
    hhi: HHIOption = None,
    n_plants: str | None = None,
    region_totals: Any = None,
    industries: Sequence[str] | None = None,
    alpha: float = 0.05,
) -> AgglomerationResult:
    """Ellison & Glaeser (1997) index of geographic concentration γ for every industry.

    ``γ = [G / (1 − Σx²) − H] / (1 − H)``, ``G = Σ_i (s_i − x_i)²``, ``H = Σ_j z_j²``
    (EG 1997; see the module docstring for the notation). With the null moments
    ``E[G] = (1 − Σx²) H`` and EG's ``Var(G)``, each industry gets a z-score and a one-sided
    p-value for localisation beyond the dartboard.

    Parameters
    ----------
    data : pandas.DataFrame
        Establishment records (plant sizes known: ``H``, ``Σz³``, ``Σz⁴`` computed) or region ×
        industry aggregates (then supply ``hhi``). Not modified.
    region, industry, weight : str
        Columns; ``weight=None`` counts plants (then ``z_j = 1/N`` and ``H = 1/N``).
    level : {"province", "prefecture", "county"} or int, optional
        Roll GB/T 2260 region codes up by prefix first.
    kind : {"auto", "records", "aggregates"}
        What ``data`` is.
    hhi : {"equal"}, mapping or Series industry → H, optional
        For aggregates only: the plant Herfindahl per industry (e.g. from a census), or
        ``"equal"`` to take ``H = 1/N`` from ``n_plants`` (exact when the weight counts plants).
        Without either, aggregates are refused: γ cannot be identified without ``H``.
    n_plants : str, optional
        Column of the aggregates with the number of establishments per cell.
    region_totals : DataFrame (``region``, ``value``), Series or dict, optional
        Aggregate activity per region defining ``x_i`` (EG use total manufacturing employment);
        default: the sum over all industries in ``data``.
    industries : sequence of str, optional
        Report only these industries (``x_i`` still comes from all of them).
    alpha : float
        Level of the ``significant`` flag.

    Returns
    -------
    AgglomerationResult
        ``.table`` has one row per industry: ``industry``, ``total``, ``n_plants``,
        ``n_regions``, ``G``, ``H``, ``gamma``, ``expected_G``, ``var_G``, ``gamma_sd_null``
        (sd of γ under the null, whose mean is 0), ``z``, ``p_value``, ``significant``,
        ``localisation`` (EG's low < 0.02 ≤ moderate ≤ 0.05 < high).

    Examples
    --------
    The worked example of Farhauer & Kröll (2014) as given in REAT's ``ellison.a`` help (three
    regions with 500 000, 400 000 and 100 000 employees; ten plants of one industry):

    >>> import pandas as pd
    >>> plants = pd.DataFrame({
    ...     "region_code": ["Wien"] * 5 + ["Linz"] * 4 + ["Graz"],
    ...     "industry": "i",
    ...     "employment": [200, 650, 12000, 100, 50, 16000, 13000, 1500, 1500, 25000]})
    >>> totals = {"Wien": 500000, "Linz": 400000, "Graz": 100000}
    >>> res = ellison_glaeser(plants, kind="records", region_totals=totals)
    >>> round(float(res.table["gamma"].iloc[0]), 8)  # REAT prints 0.05990628
    0.05990628
    """
    return _agglomeration(data, region, industry, weight, level, kind, hhi, n_plants,
                          region_totals, industries, alpha, ms=False)


def maurel_sedillot(
    data: pd.DataFrame,
    region: str = "region_code",
    industry: str = "industry",
    weight: str | None = "employment",
    *,
    level: str | int | None = None,
    kind: Kind = "auto",
    hhi: HHIOption = None,
    n_plants: str | None = None,
    region_totals: Any = None,
    industries: Sequence[str] | None = None,
    alpha: float = 0.05,
) -> AgglomerationResult:
    """Maurel & Sédillot (1999) index of geographic concentration for every industry.

    ``γ_MS = [(Σ_i s_i² − Σ_i x_i²) / (1 − Σ_i x_i²) − H] / (1 − H)`` (Maurel & Sédillot 1999, "A
    measure of the geographic concentration in French manufacturing industries", *Regional Science
    and Urban Economics* 29(5): 575–604, their estimator of the spillover parameter γ from the
    probability that two plants of the industry share a region). Like EG's γ it is unbiased
    (``E[Σs²] = Σx² + (1 − Σx²)H`` under the dartboard null) and uses the same ``H``.

    The null variance of ``Σs² − Σx²`` is not given by MS; it is derived here with EG's argument
    (see :func:`_null_variance`) and checked by simulation in the tests. Parameters and output
    as :func:`ellison_glaeser`, with ``gamma_ms`` in place of ``gamma`` and ``G_ms = Σs² − Σx²``.
    """
    return _agglomeration(data, region, industry, weight, level, kind, hhi, n_plants,
                          region_totals, industries, alpha, ms=True)


@dataclass(repr=False)
class CoagglomerationResult(Result):
    """Pairwise EG co-agglomeration; ``.matrix`` is the square industry × industry frame."""

    matrix: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self, max_rows: int = 20) -> str:
        """The usual summary, then the most co-agglomerated pairs."""
        top = self.table.nlargest(max_rows, "gamma_c")
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            return (super().summary(max_rows) + "\n\nMost co-agglomerated pairs:\n"
                    + top.to_string(index=False))

    def plot(self, max_industries: int = 60) -> Any:
        """Heat map of γ^c for up to ``max_industries`` industries (largest first)."""
        import plotly.graph_objects as go

        mat = self.matrix.iloc[:max_industries, :max_industries]
        fig = go.Figure(go.Heatmap(
            z=mat.to_numpy(), x=[str(c) for c in mat.columns], y=[str(i) for i in mat.index],
            colorscale="RdBu", reversescale=True, zmid=0, colorbar={"title": "γᶜ"},
            hovertemplate="%{y} × %{x}<br>γᶜ %{z:.4f}<extra></extra>"))
        fig.update_layout(title="Ellison–Glaeser co-agglomeration 协同集聚 γᶜ",
                          xaxis_title="Industry 行业", yaxis_title="Industry 行业")
        return fig


def coagglomeration(
    data: pd.DataFrame,
    industries: Sequence[str] | None = None,
    region: str = "region_code",
    industry: str = "industry",
    weight: str | None = "employment",
    *,
    level: str | int | None = None,
    kind: Kind = "auto",
    region_totals: Any = None,
    min_total: float = 0.0,
    hhi: HHIOption = None,
    n_plants: str | None = None,
    alpha: float = 0.05,
) -> CoagglomerationResult:
    """Ellison–Glaeser co-agglomeration γᶜ for every pair of industries, by matrix algebra.

    For two industries ``k`` and ``l``:

    ``γᶜ_kl = Σ_i (s_ik − x_i)(s_il − x_i) / (1 − Σ_i x_i²)``

    (Ellison, Glaeser & Kerr 2010, "What causes industry agglomeration? Evidence from
    coagglomeration patterns", *American Economic Review* 100(3): 1195–1213). It is
    EG (1997)'s co-agglomeration index for a group of industries,
    ``γᶜ = [G/(1 − Σx²) − H − Σ_k γ_k w_k² (1 − H_k)] / (1 − Σ_k w_k²)``, specialised to a pair:
    substituting ``G = w_k²G_k + w_l²G_l + 2w_kw_l Σ(s_k − x)(s_l − x)`` and EG's γ_k, γ_l, every
    plant-Herfindahl term cancels, so no plant sizes are needed. With ``D = S − x1ᵀ`` (regions ×
    industries) all pairs are ``DᵀD / (1 − Σx²)`` in one matrix product.

    Significance (when plant sizes are known): EG and EGK give no null distribution for γᶜ. Under
    the dartboard null for both industries (independent plants, each in region ``i`` with
    probability ``x_i``) ``d_k = s_k − x`` has mean 0 and covariance ``H_k (diag x − x xᵀ)``, so
    ``C = d_kᵀ d_l`` has ``E[C] = 0`` and ``Var(C) = H_k H_l (Σx² − 2Σx³ + (Σx²)²)`` (derived here
    with EG's argument for ``Var(G)``; checked by simulation in the tests). ``z = C / sd(C)``
    and a one-sided ``p_value`` for co-location beyond chance follow, by the normal
    approximation. The null is that *both* industries are thrown by the dartboard; pairs with an
    industry that is itself localised violate it whatever their co-location, so the flag is a
    screen rather than a test of co-location alone.

    Parameters
    ----------
    data : pandas.DataFrame
        Records or aggregates (plant sizes are not needed). Not modified.
    industries : sequence of str, optional
        Pairs among these industries only (``x_i`` still from all industries).
    region, industry, weight, level, kind, region_totals
        As for :func:`ellison_glaeser`.
    min_total : float
        Leave out industries whose total activity is below this.
    hhi, n_plants
        For aggregates: plant Herfindahls, as for :func:`ellison_glaeser`; only needed for the
        significance columns.
    alpha : float
        Level of the ``significant`` flag.

    Returns
    -------
    CoagglomerationResult
        ``.table``: one row per unordered pair ``industry_a < industry_b`` with ``gamma_c``,
        ``total_a``, ``total_b`` and, when plant sizes are known, ``gamma_c_sd_null``, ``z``,
        ``p_value``, ``significant``; ``.matrix``: the symmetric matrix, whose diagonal is
        ``G_k/(1 − Σx²)`` (= ``H_k + (1 − H_k)γ_k``, the pair of an industry with itself).
    """
    if not 0 < alpha < 1:
        raise InputError(f"alpha must lie in (0, 1); got {alpha}")
    prep = prepare(data, region, industry, weight, level=level, kind=kind, n_plants=n_plants)
    notes = list(prep.notes)
    full, x = _region_shares(prep, region_totals)
    s2, s3 = float((x**2).sum()), float((x**3).sum())
    h_all = None
    if prep.kind == "records" or hhi is not None:
        h_all = _plant_moments(prep, hhi, notes)[0]
    cols = np.sort(_select(prep, industries))  # pairs come out with industry_a < industry_b
    mat = full[:, cols]
    totals = mat.sum(axis=0)
    keep = totals > min_total
    if not keep.all():
        notes.append(f"{int((~keep).sum())} industries with total ≤ {min_total} left out.")
    cols, mat, totals = cols[keep], mat[:, keep], totals[keep]
    if len(cols) < 2:
        raise InputError("co-agglomeration needs at least two industries with activity")
    dev = mat / totals[None, :] - x[:, None]
    gamma_c = (dev.T @ dev) / (1.0 - s2)
    labels = prep.industries.take(cols)
    a, b = np.triu_indices(len(cols), k=1)
    table = pd.DataFrame({
        "industry_a": labels.take(a),
        "industry_b": labels.take(b),
        "gamma_c": gamma_c[a, b],
        "total_a": totals[a],
        "total_b": totals[b],
    })
    if h_all is not None:
        h = h_all[cols]
        var_c = h[a] * h[b] * (s2 - 2.0 * s3 + s2**2)
        infer = _inference(gamma_c[a, b] * (1.0 - s2), var_c,
                           np.full(len(a), 1.0 - s2), alpha)
        table["gamma_c_sd_null"] = infer["gamma_sd_null"]
        for key in ("z", "p_value", "significant"):
            table[key] = infer[key]
        notes.append("z and p_value (one-sided) test γᶜ = 0 under the dartboard null for both "
                     "industries, with Var(C) = H_k H_l (Σx² − 2Σx³ + (Σx²)²) derived in the "
                     "docstring (EG and EGK give none). An industry that is itself localised "
                     "(significant γ) already violates that null, so for its pairs z mixes its own "
                     "localisation with co-location: read it as a screen, not as a test of "
                     "co-location alone.")
    else:
        notes.append("Plant sizes unknown: no significance for γᶜ (give records, or hhi=).")
    notes.append("γᶜ > 0: the pair co-locates more than the dartboard predicts.")
    order = np.argsort(-totals, kind="stable")
    matrix = pd.DataFrame(gamma_c[np.ix_(order, order)], index=labels.take(order),
                          columns=labels.take(order))
    params = dict(prep.info)
    params.pop("reference", None)
    params.update({"region_totals": "supplied" if region_totals is not None else "data",
                   "n_pairs": len(table), "min_total": min_total, "alpha": alpha})
    return CoagglomerationResult(table=table, params=params, notes=notes,
                                 title="Ellison–Glaeser co-agglomeration 协同集聚 (EG 1997; EGK 2010)",
                                 matrix=matrix)
