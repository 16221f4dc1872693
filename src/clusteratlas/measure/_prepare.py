"""Shared input helper of the index measures: records or aggregates → a dense region × industry matrix.

Every index in :mod:`clusteratlas.measure.specialisation` and :mod:`clusteratlas.measure.agglomeration`
starts from the same thing: a matrix ``X`` with one row per region and one column per industry whose
cell ``X[r, k]`` is the activity (employment, establishments, output) of industry ``k`` in region ``r``.
This module builds it once, with the region and industry labels, from either

* **establishment records** — one row per plant; plant sizes are then known and the plant
  Herfindahl ``H_k = Σ_j z_j²`` of each industry (and the higher power sums the null variance of
  Ellison & Glaeser's ``G`` needs) is computed on the way; or
* **region × industry aggregates** — one row per cell, the form statistical yearbooks and County
  Business Patterns publish; plant sizes are then unknown.

The work is a factorisation of the two label columns and one :func:`numpy.bincount`, so five million
records take a second or two; no Python loop runs over records. The caller's frame is never modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from clusteratlas.errors import InputError

Kind = Literal["auto", "records", "aggregates"]

#: Region levels of GB/T 2260 codes and the number of leading digits that identify them.
LEVEL_DIGITS: dict[str, int] = {"province": 2, "prefecture": 4, "county": 6}


@dataclass
class Prepared:
    """A region × industry matrix with its labels and, for records, the plant size moments.

    Attributes
    ----------
    matrix : ndarray, shape (n_regions, n_industries)
        Activity of each industry in each region (sum of ``weight``; establishment counts when
        ``weight`` is None).
    regions, industries : pandas.Index
        Labels of the rows and columns of ``matrix`` (strings, sorted).
    kind : {"records", "aggregates"}
        What the input was.
    n_plants : ndarray of shape (n_industries,) or None
        Establishments with positive weight per industry (records only, or supplied for aggregates).
    plant_power_sums : ndarray of shape (4, n_industries) or None
        ``Σ_j w_j^p`` over the plants of each industry for p = 1..4 (records only). Divided by
        ``total_k^p`` they give ``Σ z_j^p``; ``p = 2`` is the plant Herfindahl.
    reference : ndarray of shape (n_industries,) or None
        Reference (e.g. national) totals by industry, aligned with ``industries``.
    reference_total : float or None
        Sum of the reference over all of its industries (including any not in the data).
    notes : list of str
        What was dropped or assumed on the way, for the result's notes.
    info : dict
        Row counts and options, for the result's params.
    """

    matrix: np.ndarray
    regions: pd.Index
    industries: pd.Index
    kind: str
    n_plants: np.ndarray | None = None
    plant_power_sums: np.ndarray | None = None
    reference: np.ndarray | None = None
    reference_total: float | None = None
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def industry_totals(self) -> np.ndarray:
        return self.matrix.sum(axis=0)

    @property
    def region_totals(self) -> np.ndarray:
        return self.matrix.sum(axis=1)

    def plant_moment(self, power: int) -> np.ndarray:
        """``Σ_j z_j^power`` per industry, ``z_j`` the plant's share of its industry (records only)."""
        if self.plant_power_sums is None:
            raise ValueError("plant sizes are unknown for aggregate input")
        totals = self.plant_power_sums[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.plant_power_sums[power - 1] / totals**power


def _rows_text(index: pd.Index, mask: np.ndarray, limit: int = 5) -> str:
    rows = list(index[mask][:limit])
    more = int(mask.sum()) - len(rows)
    text = ", ".join(str(r) for r in rows)
    return text + (f" and {more} more" if more > 0 else "")


def _require_columns(data: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise InputError(
            f"missing column(s) {missing}; the input has columns {list(data.columns)}. "
            "Name the right ones with region=, industry= and weight= (CLI: --region, --industry, "
            "--weight)."
        )


def _labels(values: pd.Series) -> pd.Series:
    """Labels as strings; integer-like floats (a region code read as a number) lose their '.0'."""
    if pd.api.types.is_float_dtype(values.dtype):
        finite = values.dropna()
        if len(finite) and np.all(np.mod(finite.to_numpy(dtype=float), 1) == 0):
            values = values.astype("Int64")
    return values.astype("string")


def roll_up(labels: pd.Index, level: str | int | None) -> pd.Index:
    """Region codes of a lower level mapped to the enclosing level by code prefix.

    GB/T 2260 codes carry their parents in their leading digits: the first 2 digits name the
    province, the first 4 the prefecture, all 6 the county. ``level="province"`` maps ``"320583"``
    to ``"320000"``, ``"prefecture"`` to ``"320500"``; an integer ``n`` keeps the first ``n``
    characters as they are (any coding scheme with hierarchical prefixes).
    """
    if level is None:
        return labels
    if isinstance(level, str):
        if level not in LEVEL_DIGITS:
            raise InputError(
                f"level={level!r} is not a known region level; expected one of "
                f"{sorted(LEVEL_DIGITS)} or a number of leading code characters"
            )
        digits = LEVEL_DIGITS[level]
        text = pd.Series(labels, dtype="string")
        short = text.str.len() < digits
        if short.any():
            raise InputError(
                f"level={level!r} needs region codes of at least {digits} digits; "
                f"got {_rows_text(pd.Index(text), short.to_numpy())}"
            )
        return pd.Index(text.str.slice(0, digits).str.pad(6, side="right", fillchar="0"))
    if isinstance(level, int | np.integer) and level > 0:
        return pd.Index(pd.Series(labels, dtype="string").str.slice(0, int(level)))
    raise InputError(f"level must be a region level name or a positive integer; got {level!r}")


def _reference_totals(reference: Any, industries: pd.Index,
                      industry: str) -> tuple[np.ndarray, float]:
    """Reference totals aligned to ``industries``; the grand total spans every reference industry."""
    if isinstance(reference, Mapping):
        reference = pd.Series(reference)
    if isinstance(reference, pd.DataFrame):
        ind_col = "industry" if "industry" in reference.columns else industry
        if ind_col not in reference.columns or "value" not in reference.columns:
            raise InputError(
                "reference must have columns 'industry' (or the data's industry column "
                f"{industry!r}) and 'value'; got {list(reference.columns)}"
            )
        values = pd.to_numeric(reference["value"], errors="coerce")
        series = pd.Series(values.to_numpy(dtype=float), index=_labels(reference[ind_col]))
        series = series.groupby(level=0).sum()
    elif isinstance(reference, pd.Series):
        series = pd.Series(pd.to_numeric(reference, errors="coerce").to_numpy(dtype=float),
                           index=_labels(pd.Series(reference.index))).groupby(level=0).sum()
    else:
        raise InputError(f"reference must be a DataFrame (industry, value), a Series or a dict; "
                         f"got {type(reference).__name__}")
    bad = ~np.isfinite(series.to_numpy()) | (series.to_numpy() < 0)
    if bad.any():
        raise InputError(f"reference 'value' must be finite and non-negative; "
                         f"industries {_rows_text(series.index, bad)} are not")
    missing = industries.difference(series.index)
    if len(missing):
        raise InputError(
            f"reference has no total for industries {list(missing[:10])}"
            f"{' …' if len(missing) > 10 else ''}; every industry of the data needs one"
        )
    aligned = series.reindex(industries).to_numpy(dtype=float)
    if np.any(aligned == 0):
        zero = industries[aligned == 0]
        raise InputError(f"reference total is zero for industries {list(zero[:10])}, "
                         "which are present in the data")
    return aligned, float(series.sum())


def prepare(
    data: pd.DataFrame,
    region: str = "region_code",
    industry: str = "industry",
    weight: str | None = "employment",
    reference: Any = None,
    level: str | int | None = None,
    kind: Kind = "auto",
    n_plants: str | None = None,
) -> Prepared:
    """Build the region × industry matrix from records or aggregates.

    Parameters
    ----------
    data : pandas.DataFrame
        Establishment records (one row per plant) or region × industry aggregates (one row per
        cell). Not modified.
    region, industry : str
        Columns holding the region label (any grouping: a GB/T 2260 code, a name, a user's zone)
        and the industry code.
    weight : str or None
        Column holding the activity (employment, output, establishments); ``None`` counts rows,
        which only makes sense for records.
    reference : DataFrame (``industry``, ``value``), Series or dict, optional
        Reference totals by industry (e.g. national), against which location quotients and
        specialisation are measured. Its grand total is the sum over all its industries.
    level : {"province", "prefecture", "county"} or int, optional
        Roll region codes up to this level by code prefix (see :func:`roll_up`).
    kind : {"auto", "records", "aggregates"}
        What ``data`` is. ``"auto"`` takes records when the frame has an ``est_id`` column or a
        (region, industry) pair repeats, aggregates otherwise.
    n_plants : str, optional
        For aggregates: a column with the number of establishments in each cell.

    Returns
    -------
    Prepared

    Raises
    ------
    InputError
        Missing columns, negative or non-numeric weights, an empty input, or a reference that
        lacks an industry of the data.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data must be a pandas DataFrame; got {type(data).__name__}")
    if kind not in ("auto", "records", "aggregates"):
        raise InputError(f"kind must be 'auto', 'records' or 'aggregates'; got {kind!r}")
    needed = [region, industry] + ([weight] if weight is not None else [])
    if n_plants is not None:
        needed.append(n_plants)
    _require_columns(data, needed)
    n_rows = len(data)
    if n_rows == 0:
        raise InputError("the input has no rows")

    notes: list[str] = []
    index = data.index
    region_codes, region_labels = pd.factorize(data[region], sort=True, use_na_sentinel=True)
    industry_codes, industry_labels = pd.factorize(data[industry], sort=True, use_na_sentinel=True)

    if weight is None:
        w = np.ones(n_rows)
    else:
        col = data[weight]
        if not pd.api.types.is_numeric_dtype(col.dtype):
            converted = pd.to_numeric(col, errors="coerce")
            bad = (converted.isna() & col.notna()).to_numpy()
            if bad.any():
                raise InputError(f"column {weight!r}, rows {_rows_text(index, bad)}: expected a "
                                 f"number, got e.g. {col[bad].iloc[0]!r}")
            col = converted
        w = col.to_numpy(dtype=float, na_value=np.nan)
        negative = w < 0
        if negative.any():
            raise InputError(f"column {weight!r}, rows {_rows_text(index, negative)}: negative "
                             "values; expected non-negative activity")
        infinite = np.isinf(w)
        if infinite.any():
            raise InputError(f"column {weight!r}, rows {_rows_text(index, infinite)}: infinite")

    missing = (region_codes < 0) | (industry_codes < 0) | np.isnan(w)
    n_dropped = int(missing.sum())
    if n_dropped:
        which = []
        for name, mask in ((region, region_codes < 0), (industry, industry_codes < 0),
                           (weight, np.isnan(w))):
            if mask.any():
                which.append(f"{name!r} missing in {int(mask.sum())}")
        notes.append(f"{n_dropped} of {n_rows} rows left out because a value is missing "
                     f"({'; '.join(which)}); rows {_rows_text(index, missing)}.")
    keep: np.ndarray | slice = ~missing
    if n_dropped == n_rows:
        raise InputError("no row has a region, an industry and a weight")
    if n_dropped == 0:
        keep = slice(None)  # a view: no copy of millions of values

    regions = pd.Index(_labels(pd.Series(np.asarray(region_labels, dtype=object))))
    if level is not None:
        rolled = roll_up(regions, level)
        region_codes_k, regions = pd.factorize(rolled, sort=True)
        regions = pd.Index(regions, dtype="string")
        rcode = region_codes_k[region_codes[keep]]
    else:
        rcode = region_codes[keep]
    industries = pd.Index(_labels(pd.Series(np.asarray(industry_labels, dtype=object))))
    kcode = industry_codes[keep]
    wk = w[keep]

    # Labels that only occurred in dropped rows would give empty rows/columns; compact them away.
    r_used = np.bincount(rcode, minlength=len(regions)) > 0
    k_used = np.bincount(kcode, minlength=len(industries)) > 0
    if not r_used.all():
        remap = np.cumsum(r_used) - 1
        rcode, regions = remap[rcode], regions[r_used]
    if not k_used.all():
        remap = np.cumsum(k_used) - 1
        kcode, industries = remap[kcode], industries[k_used]
    n_r, n_k = len(regions), len(industries)

    cell = rcode.astype(np.int64) * n_k + kcode
    if kind == "auto":
        has_id = "est_id" in data.columns
        # A repeated (region, industry) pair means one row per plant; bincount is O(n), unlike
        # np.unique's hashing of millions of cells.
        repeats = has_id or bool(np.bincount(cell, minlength=n_r * n_k).max() > 1)
        kind = "records" if repeats else "aggregates"
        if kind == "aggregates":
            notes.append("Input read as region × industry aggregates (no est_id column and no "
                         "repeated region–industry pair); plant sizes are unknown. Pass "
                         "kind='records' if each row is one establishment.")
    matrix = np.bincount(cell, weights=wk, minlength=n_r * n_k).reshape(n_r, n_k)

    plants = None
    powers = None
    if kind == "records":
        positive = wk > 0
        plants = np.bincount(kcode[positive], minlength=n_k).astype(float)
        w2 = wk * wk
        powers = np.vstack([np.bincount(kcode, weights=v, minlength=n_k)
                            for v in (wk, w2, w2 * wk, w2 * w2)])
    elif n_plants is not None:
        counts = pd.to_numeric(data[n_plants], errors="coerce").to_numpy(dtype=float)[keep]
        if np.isnan(counts).any() or (counts < 0).any():
            raise InputError(f"column {n_plants!r} must hold non-negative establishment counts")
        plants = np.bincount(kcode, weights=counts, minlength=n_k)
    elif weight is None:
        raise InputError("weight=None counts rows as establishments, which needs establishment "
                         "records; for aggregates name the column holding the activity")

    # An industry or region whose activity sums to zero has no shares: leave it out, say so.
    k_zero = matrix.sum(axis=0) == 0
    r_zero = matrix.sum(axis=1) == 0
    if k_zero.all():
        raise InputError(f"column {weight!r} sums to zero: there is no activity to measure")
    if k_zero.any():
        notes.append(f"{int(k_zero.sum())} industries with zero total activity left out: "
                     f"{', '.join(map(str, industries[k_zero][:10]))}"
                     f"{' …' if k_zero.sum() > 10 else ''}.")
        matrix, industries = matrix[:, ~k_zero], industries[~k_zero]
        plants = plants[~k_zero] if plants is not None else None
        powers = powers[:, ~k_zero] if powers is not None else None
    if r_zero.any():
        notes.append(f"{int(r_zero.sum())} regions with zero total activity left out: "
                     f"{', '.join(map(str, regions[r_zero][:10]))}"
                     f"{' …' if r_zero.sum() > 10 else ''}.")
        matrix, regions = matrix[~r_zero], regions[~r_zero]
    n_r, n_k = matrix.shape

    ref = ref_total = None
    if reference is not None:
        ref, ref_total = _reference_totals(reference, industries, industry)

    info = {
        "region": region,
        "industry": industry,
        "weight": weight if weight is not None else "(establishment count)",
        "input_kind": kind,
        "level": level,
        "n_rows": n_rows,
        "n_rows_used": n_rows - n_dropped,
        "n_regions": n_r,
        "n_industries": n_k,
        "reference": "supplied" if reference is not None else "the data itself",
    }
    return Prepared(matrix=matrix, regions=regions, industries=industries, kind=kind,
                    n_plants=plants, plant_power_sums=powers, reference=ref,
                    reference_total=ref_total, notes=notes, info=info)
