"""Give establishments a current region code and coordinates, from codes, names or addresses.

Each row ends in exactly one of three states, and the counts add up:

- **accepted**: it already had a current region code (and keeps its own lon/lat if it had them);
- **corrected**: its code was a former one (mapped forward, e.g. 320982 -> 320904) or it had no
  code and its ``address`` resolved; the note says which;
- **quarantined**: no usable code and an address that is empty, unresolvable or ambiguous; the
  reason names the candidates when ambiguous. Quarantined rows are returned, never dropped.

Rows that get a code but have no coordinates get the region's seat point and
``location_approx = True`` (schema ``establishments.location_approx``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from clusteratlas.errors import InputError
from clusteratlas.geo.gazetteer import Gazetteer, china
from clusteratlas.result import Result


@dataclass(repr=False)
class LocateResult(Result):
    """``table``: rows with a region code (accepted or corrected), with ``locate_status`` and
    ``locate_note``; ``quarantine``: the other rows with ``reason``."""

    quarantine: pd.DataFrame = field(default_factory=pd.DataFrame)


def locate(frame: pd.DataFrame, *, address: str = "address", code: str = "region_code",
           hint: str | None = None, table: Gazetteer | None = None) -> LocateResult:
    """Resolve each establishment's region and fill centroid coordinates where missing.

    Parameters
    ----------
    frame : DataFrame
        Establishments; uses ``region_code`` (optional), ``address`` (optional, names or
        addresses), ``lon``, ``lat`` (optional). At least one of ``code`` or ``address`` must be a
        column. Not modified.
    address, code : str
        Column names of the address text and of the region code.
    hint : str, optional
        Column holding a province or city per row, used to settle ambiguous names.
    table : Gazetteer, optional
        Another country's gazetteer (default China).

    Returns
    -------
    LocateResult
        ``.table`` (accepted and corrected rows, ``region_code`` current, ``lon``/``lat`` filled,
        ``location_approx``, ``locate_status``, ``locate_note``), ``.quarantine`` (rows with
        ``reason``), ``.notes`` with the counts; ``.params`` the column names.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"locate: expected a DataFrame; got {type(frame).__name__}")
    if code not in frame.columns and address not in frame.columns:
        raise InputError(f"locate: need a {code!r} or an {address!r} column; got "
                         f"{list(frame.columns)}")
    if hint is not None and hint not in frame.columns:
        raise InputError(f"locate: hint column {hint!r} not found; got {list(frame.columns)}")
    gaz = table if table is not None else china()
    out = frame.copy()
    n = len(out)
    for col in ("lon", "lat"):
        if col not in out.columns:
            out[col] = pd.array([pd.NA] * n, dtype="Float64")
    known = set(gaz.detail["region_code"])
    status = np.full(n, "", dtype=object)
    note = np.full(n, "", dtype=object)
    reason = np.full(n, "", dtype=object)
    final = pd.Series(pd.NA, index=out.index, dtype="string")

    codes = (out[code].astype("string").str.strip() if code in out.columns
             else pd.Series(pd.NA, index=out.index, dtype="string"))
    has_code = codes.notna() & (codes != "")
    current = has_code & codes.isin(known)
    final[current] = codes[current]
    status[current.to_numpy()] = "accepted"

    old = has_code & ~current
    if old.any():
        res = gaz.resolve(codes[old].reset_index(drop=True))
        ok = res["region_code"].notna().to_numpy()
        idx = out.index[old.to_numpy()]
        final[idx[ok]] = res.loc[ok, "region_code"].to_numpy()
        status[np.flatnonzero(old.to_numpy())[ok]] = "corrected"
        note[np.flatnonzero(old.to_numpy())[ok]] = [
            f"former code {c} -> {r} {m}" for c, r, m in
            zip(codes[old].to_numpy()[ok], res.loc[ok, "region_code"], res.loc[ok, "matched_name"],
                strict=True)]
        bad = np.flatnonzero(old.to_numpy())[~ok]
        reason[bad] = [f"{code} {c!r} is not a current or former code" for c in
                       codes[old].to_numpy()[~ok]]

    need = final.isna() & (reason == "")
    if address in out.columns and need.any():
        texts = out.loc[need, address].astype("string").reset_index(drop=True)
        hints = out.loc[need, hint].reset_index(drop=True) if hint is not None else None
        res = gaz.resolve(texts, hint=hints)
        rows = np.flatnonzero(need.to_numpy())
        ok = res["region_code"].notna().to_numpy()
        final[out.index[rows[ok]]] = res.loc[ok, "region_code"].to_numpy()
        status[rows[ok]] = "corrected"
        note[rows[ok]] = [f"{address} resolved ({m}, confidence {c:.2f}) to {r} {nm}" for m, c, r, nm
                          in zip(res.loc[ok, "method"], res.loc[ok, "confidence"],
                                 res.loc[ok, "region_code"], res.loc[ok, "matched_name"],
                                 strict=True)]
        miss = ~ok
        reason[rows[miss]] = [
            f"{address} empty" if (t is pd.NA or not str(t).strip()) else
            f"{address} ambiguous: {cand}" if isinstance(cand, str) else
            f"{address} has no known place name: {t!r}"
            for t, cand in zip(texts[miss], res.loc[miss, "candidates"].astype(object), strict=True)]
    still = (final.isna() & (reason == "")).to_numpy()
    reason[still] = f"no {code} and no {address}"

    located = final.notna().to_numpy()
    out[code] = final
    seat = gaz.detail.set_index("region_code")[["lon", "lat"]]
    approx = located & (out["lon"].isna() | out["lat"].isna()).to_numpy()
    fill = seat.reindex(final[approx].to_numpy())
    out.loc[approx, "lon"] = fill["lon"].to_numpy()
    out.loc[approx, "lat"] = fill["lat"].to_numpy()
    prior = (out["location_approx"].astype("boolean") if "location_approx" in out.columns
             else pd.Series(False, index=out.index, dtype="boolean"))
    out["location_approx"] = prior.fillna(False) | pd.array(approx, dtype="boolean")
    out["locate_status"] = pd.array(status, dtype="string")
    out["locate_note"] = pd.array(np.where(note == "", None, note), dtype="string")

    kept = out[located].reset_index(drop=True)
    quarantine = frame[~located].copy()
    quarantine["reason"] = pd.array(reason[~located], dtype="string")
    counts = {s: int((status == s).sum()) for s in ("accepted", "corrected")}
    counts["quarantined"] = int((~located).sum())
    notes = [f"{n:,} rows: {counts['accepted']:,} accepted, {counts['corrected']:,} corrected, "
             f"{counts['quarantined']:,} quarantined",
             f"{int(approx.sum()):,} rows got their region's seat point (location_approx)"]
    return LocateResult(table=kept, params={"address": address, "code": code, "hint": hint,
                                            "gazetteer": gaz.name, **counts},
                        notes=notes, title="Locate establishments", quarantine=quarantine)
