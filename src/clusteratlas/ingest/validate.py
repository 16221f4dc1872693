"""Validate raw text rows against a canonical table of :mod:`clusteratlas.schema`.

Every input row ends in exactly one state, so that ``accepted + corrected + quarantined`` equals
the number of rows read:

accepted
    Stored as given (after trimming surrounding white space; empty strings and the usual
    missing-value markers ``NA``, ``N/A``, ``NULL``, ``nan``, ``-``, ``--``, ``—`` count as missing).
corrected
    Stored after a change recorded in the ledger with the reason, one of
    ``full_width_digits`` (``１２０`` → 120), ``thousands_separator`` (``1,234`` → 1234),
    ``year_from_date`` (``2015-03-01`` or ``2015年`` → 2015 in an integer year column),
    ``swapped_lat_lon`` (latitude outside ±90° but a valid longitude, and longitude within ±90°:
    the two are exchanged; or, when the regions table has seat points ``lon``/``lat``, coordinates
    more than 1,000 km from their region's seat that are within 300 km of it once exchanged), ``located_approx`` (no coordinates; the centroid of the row's region or
    address from a ``locate`` step, with ``location_approx`` set).
quarantined
    Not stored; the ledger keeps the reason, a detail naming column and value, and the original
    values. Reasons, in the order they are checked (a row is counted under the first that applies;
    the detail lists all): ``malformed_row`` (the record could not be split into the header's
    fields), ``missing_required``, ``unparsable_number`` (also a non-integer in an integer column),
    ``unparsable_value`` (a boolean that is not true/false), ``negative_value`` (a count or money
    amount below zero: columns whose unit is persons, 10k CNY or share), ``incomplete_coordinates``
    (only one of lon/lat), ``coordinates_out_of_range`` (outside ±180°/±90° after the swap check, or
    the (0, 0) placeholder), ``unknown_industry`` (when a list of valid codes is given),
    ``unknown_region`` (when a regions table is given), ``unresolved_location`` (a ``locate`` step
    could not place the row), then among the remaining rows ``exact_duplicate`` (same values as an
    earlier row: the first is kept, the repeats quarantined) and ``duplicate_conflict`` (same key as
    another row but different values: every conflicting row is quarantined, since the data cannot
    say which is right).

The checks are SQL over DuckDB's vectorised engine (``TRY_CAST``, regular expressions, window and
hash aggregates), so there is no Python loop over rows; a pandas frame is registered with DuckDB
and checked by the same code as a file read straight into the store. A first pass accepts the rows
that pass every check as they are, with a few cheap tests; only the others go through the full
rules above (in real files a few percent of the rows), so the outcome is the same as checking
every row with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from clusteratlas import schema
from clusteratlas.errors import InputError
from clusteratlas.ingest.ledger import StatusCounts
from clusteratlas.ingest.mapping import resolve_columns
from clusteratlas.ingest.readers import (
    MALFORMED,
    ROW,
    RawSource,
    _frame_to_relation,
    reject_offsets,
    scalar,
)

QUARANTINE_REASONS: tuple[str, ...] = (
    "malformed_row",
    "missing_required",
    "unparsable_number",
    "unparsable_value",
    "negative_value",
    "incomplete_coordinates",
    "coordinates_out_of_range",
    "unknown_industry",
    "unknown_region",
    "unresolved_location",
    "exact_duplicate",
    "duplicate_conflict",
)
CORRECTION_REASONS: tuple[str, ...] = (
    "full_width_digits",
    "thousands_separator",
    "year_from_date",
    "swapped_lat_lon",
    "located_approx",
)
STATUSES: tuple[str, ...] = ("accepted", "corrected", "quarantined")

# Units whose values cannot be negative (counts of persons, money amounts, fractional shares).
NON_NEGATIVE_UNITS = frozenset({"persons", "10k CNY", "share"})

MISSING_MARKERS = ("", "NA", "N/A", "n/a", "na", "NULL", "null", "None", "nan", "NaN", "-", "--",
                   "—", "——", "/")
_WS = " \t\r\n\u3000\u00a0"
_FULL = ("０１２３４５６７８９．，－＋ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ"
         "ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ")
_HALF = "0123456789.,-+ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_FULL_DIGITS = "０１２３４５６７８９．，－＋"
_HALF_DIGITS = "0123456789.,-+"
_DUCK = {"string": "VARCHAR", "Int64": "BIGINT", "Float64": "DOUBLE", "boolean": "BOOLEAN"}

LEDGER_COLUMNS = ("row", "status", "reason", "detail", "original")


# In-range swapped coordinates (see _swaps_near_the_seat): farther than this from the region's
# seat point as given, and within this of it once exchanged.
SWAP_FAR_KM = 1000
SWAP_NEAR_KM = 300

# A row's position in the table of parsed rows (its rowid there), in the tables beside it.
ROWID = "_rid"

# Hash of a row's key: rows whose keys share a hash are candidates, compared by key itself
# (a collision only adds a candidate).
KEY_HASH = "_key_hash"

# A locate step takes rows without coordinates (columns _row, region_code, address) and returns
# _row, lon, lat (missing when it could not place the row), and optionally region_code (the code
# the coordinates belong to; it replaces the row's code) and note (why, for the ledger).
Locate = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass
class ValidationResult(StatusCounts):
    """Outcome of validating one input.

    Attributes
    ----------
    clean : pandas.DataFrame
        Accepted and corrected rows, canonical columns and dtypes, in input order.
    ledger : pandas.DataFrame
        One row per corrected or quarantined input row: ``row`` (1-based record number in the
        source), ``status``, ``reason``, ``detail``, ``original`` (the source values as JSON).
    counts : pandas.DataFrame
        ``status``, ``reason``, ``count`` (accepted rows have reason ``""``).
    rows_read : int
    notes : list of str
        Things the reader should know, e.g. source columns that were not used.
    """

    clean: pd.DataFrame
    ledger: pd.DataFrame
    counts: pd.DataFrame
    rows_read: int
    notes: list[str] = field(default_factory=list)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _trim_expr(x: str) -> str:
    # Trimming is needed only when the first or last character is white space; testing two code
    # points is far cheaper than trimming every value. Every character trimmed is a control
    # character (0-32), U+00A0 or U+3000; a false positive only costs a trim that changes nothing.
    # The tests are summed as integers: cheaper than an OR chain, and no IN list (DuckDB rewrites
    # longer ones into a join, which loses row order) or list_contains (whose constant lists made
    # the optimizer stall on queries that use only some of the parse's columns).
    test = " + ".join(f"(ord({x}{i}) BETWEEN 0 AND 32)::INT + (ord({x}{i}) = 160)::INT "
                      f"+ (ord({x}{i}) = 12288)::INT" for i in ("", "[-1]")) + " > 0"
    return f"CASE WHEN {test} THEN trim({x}, {_lit(_WS)}) ELSE {x} END"


# first code points of the non-empty missing-value markers: a cheap test before comparing strings
_MARKER_STARTS = "[" + ", ".join(str(c) for c in sorted({ord(m[0]) for m in MISSING_MARKERS if m})) + "]"


def _marker_expr(x: str) -> str:
    markers = " OR ".join(f"{x} = {_lit(m)}" for m in MISSING_MARKERS if m)
    return (f"CASE WHEN strlen({x}) = 0 OR (strlen({x}) <= 6 AND list_contains({_MARKER_STARTS}, ord({x})) "
            f"AND ({markers})) THEN NULL ELSE {x} END")


def _text_expr(src: str | None) -> str:
    """Trimmed text of column ``src``, missing-value markers as NULL (one expression)."""
    if src is None:
        return "NULL::VARCHAR"
    return _marker_expr(f"({_trim_expr(f'CAST({_q(src)} AS VARCHAR)')})")


def _fold(t: str, full: str = "", half: str = "") -> str:
    """Full-width to ASCII for non-ASCII values only (translate is slow; most values are ASCII)."""
    full, half = full or _FULL_DIGITS, half or _HALF_DIGITS
    return f"CASE WHEN strlen({t}) = length({t}) THEN {t} ELSE translate({t}, {_lit(full)}, {_lit(half)}) END"


@dataclass
class _Check:
    reason: str
    cond: str      # SQL boolean on the parse stage
    detail: str    # SQL string expression


class _Plan:
    """The SQL of one validation, built from the table spec and the column map."""

    def __init__(self, spec: schema.Table, colmap: Mapping[str, str], columns: list[str]) -> None:
        self.spec = spec
        self.src = {canonical: source for source, canonical in colmap.items()}
        self.colmap = dict(colmap)
        self.columns = list(columns)  # every source column, in source order
        # whether the table of parsed rows has ``_row`` and ``_malformed``: a file's first pass
        # leaves them out (a column costs ~30 ms to add to 5M rows), and they are added only
        # when the file has records that could not be split (see _parse_file)
        self.numbered = True
        # the canonical columns the table of parsed rows has: those the source fills; another
        # is added (all missing) only when a step is about to read or write it there
        self.present = set(self.src)
        # One SELECT level per stage, each adding columns computed from the previous ones:
        self.stage0: list[str] = []   # r_* raw numeric text, tt_* trimmed text
        self.stage1: list[str] = []   # t_* text (missing markers as NULL), v0_* plain casts
        self.stage2: list[str] = []   # ok0_* plain cast worked, h_* folded codes, booleans
        self.stage3: list[str] = []   # t_* of numbers (trimmed only where the cast failed)
        self.stage4: list[str] = []   # h_* numbers with full-width digits folded
        self.stage5: list[str] = []   # v1_* cast after folding
        self.stage6: list[str] = []   # fx_* the repair a number needed
        self.stage7: list[str] = []   # v_* the number after repair
        self.stage8: list[str] = []   # bad_* not a (whole) number
        self.final: dict[str, str] = {}  # canonical column -> typed value expression
        self.checks: list[_Check] = []
        self.fixes: list[_Check] = []
        self._build()

    def _build(self) -> None:
        spec = self.spec
        coords = "lon" in spec.names and "lat" in spec.names
        self.swap: str | None = None
        for col in spec.columns:
            c = col.name
            t = f"t_{c}"
            if col.dtype not in ("Float64", "Int64"):
                src = self.src.get(c)
                if src is None:
                    self.stage0.append(f"NULL::VARCHAR AS tt_{c}")
                else:
                    self.stage0.append(f"{_trim_expr(f'CAST({_q(src)} AS VARCHAR)')} AS tt_{c}")
                self.stage1.append(f"{_marker_expr(f'tt_{c}')} AS {_q(t)}")
            if col.dtype in ("Float64", "Int64"):
                self._numeric(col)
            elif col.dtype == "boolean":
                v = f"v_{c}"
                self.stage2.append(
                    f"CASE WHEN {t} = '是' OR {t} = 'Y' OR {t} = 'y' THEN true "
                    f"WHEN {t} = '否' OR {t} = 'N' OR {t} = 'n' "
                    f"THEN false ELSE TRY_CAST({t} AS BOOLEAN) END AS {v}"
                )
                self.checks.append(_Check("unparsable_value", f"({t} IS NOT NULL AND {v} IS NULL)",
                                          f"'{c}: \"' || {t} || '\" is not true/false'"))
                self.final[c] = v
            else:
                h = f"h_{c}"
                # only codes are folded (a name such as 第１分厂 keeps its spelling); the regular
                # expression picks them out before the (slow) translate runs, and a test of the
                # first character (ASCII or U+FF0D-U+FF5A) spares it most Chinese names
                self.stage2.append(
                    f"CASE WHEN strlen({t}) <> length({t}) AND (ord({t}) < 128 OR ord({t}) BETWEEN 65293 AND 65370) "
                    f"AND regexp_full_match({t}, "
                    f"'[0-9A-Za-z.\\-０-９Ａ-Ｚａ-ｚ．－]+') THEN {_fold(t, _FULL, _HALF)} ELSE {t} END AS {h}"
                )
                self.fixes.append(_Check("full_width_digits", f"({h} IS DISTINCT FROM {t})",
                                         f"'{c}: \"' || {t} || '\" -> \"' || {h} || '\" (full-width characters normalised)'"))
                self.final[c] = h
            if col.required:
                self.checks.insert(0, _Check("missing_required", f"({t} IS NULL)",
                                             f"'{c}: required value is missing'"))
        # required checks first, in schema order
        self.checks.sort(key=lambda ch: QUARANTINE_REASONS.index(ch.reason))
        if coords:
            self._coordinates()

    def _numeric(self, col: schema.Column) -> None:
        c, t = col.name, f"t_{col.name}"
        h, v0, ok0, v1, fx, v, bad = (f"{p}_{c}" for p in ("h", "v0", "ok0", "v1", "fx", "v", "bad"))
        integer = col.dtype == "Int64"
        src = self.src.get(c)
        raw = f"r_{c}"
        self.stage0.append(f"{f'CAST({_q(src)} AS VARCHAR)' if src else 'NULL::VARCHAR'} AS {raw}")
        # Fast path: most values cast as they are. Everything else (trimming, missing markers,
        # full-width digits, thousands separators, dates) runs only where that cast failed:
        # CASE is evaluated lazily, so the slow string functions see only those rows.
        # DuckDB's cast accepts 1_000 (a programming-language digit separator); data files do not
        # mean that, so such values go to the checks below and are reported
        self.stage1.append(f"CASE WHEN NOT contains({raw}, '_') THEN TRY_CAST({raw} AS DOUBLE) END AS {v0}")
        plain = f"{v0} IS NOT NULL AND isfinite({v0})"
        if integer:
            # 20150301 casts as a number but is a date
            plain += f" AND NOT ({v0} BETWEEN 18000101 AND 21001231)"
        self.stage2.append(f"coalesce({plain}, false) AS {ok0}")
        self.stage3.append(f"CASE WHEN {ok0} THEN {raw} ELSE {_text_expr(raw)} END AS {t}")
        self.stage4.append(f"CASE WHEN {ok0} OR {t} IS NULL THEN NULL ELSE {_fold(t)} END AS {h}")
        self.stage5.append(f"CASE WHEN NOT contains({h}, '_') THEN TRY_CAST({h} AS DOUBLE) END AS {v1}")
        thousands = (f"(contains({h}, ',') AND regexp_full_match({h}, "
                     f"'[+-]?[0-9]{{1,3}}(,[0-9]{{3}})+(\\.[0-9]*)?'))")
        direct = f"{v1} IS NOT NULL AND isfinite({v1})"
        whens = [f"WHEN {thousands} THEN 'thousands_separator'"]
        if integer:
            direct += f" AND NOT ({v1} BETWEEN 18000101 AND 21001231)"
            date = (f"regexp_full_match({h}, '[0-9]{{4}}\\s*年.*|[0-9]{{4}}[-/.][0-9]{{1,2}}"
                    f"([-/.][0-9]{{1,2}})?([ T].*)?|(1[89]|20)[0-9]{{2}}(0[1-9]|1[0-2])[0-3][0-9]')")
            whens.append(f"WHEN {date} THEN 'year_from_date'")
        self.stage6.append(
            f"CASE WHEN {h} IS NULL OR ({direct}) THEN NULL {' '.join(whens)} END AS {fx}")
        self.stage7.append(
            f"CASE WHEN {ok0} THEN {v0} WHEN {fx} = 'thousands_separator' "
            f"THEN TRY_CAST(replace({h}, ',', '') AS DOUBLE) WHEN {fx} = 'year_from_date' "
            f"THEN TRY_CAST(left({h}, 4) AS DOUBLE) ELSE {v1} END AS {v}")
        cond = f"{t} IS NOT NULL AND ({v} IS NULL OR NOT isfinite({v})"
        if integer:
            cond += f" OR {v} <> round({v}) OR abs({v}) > 9e15"
        self.stage8.append(f"coalesce({cond}), false) AS {bad}")
        self.fixes.append(_Check("full_width_digits", f"coalesce({h} <> {t}, false)",
                                 f"'{c}: \"' || {t} || '\" -> ' || {h} || ' (full-width digits normalised)'"))
        self.fixes.append(_Check("thousands_separator", f"{fx} = 'thousands_separator'",
                                 f"'{c}: \"' || {t} || '\" -> ' || replace({h}, ',', '') || "
                                 "' (thousands separators removed)'"))
        if integer:
            self.fixes.append(_Check("year_from_date", f"{fx} = 'year_from_date'",
                                     f"'{c}: \"' || {t} || '\" -> ' || left({h}, 4) || ' (year taken from date)'"))
        self.checks.append(_Check(
            "unparsable_number", bad,
            f"'{c}: \"' || {t} || '\" is not a" + (" whole" if integer else "") + " number'"))
        ok = f"CASE WHEN {bad} THEN NULL ELSE {v} END"
        self.final[c] = f"CAST({ok} AS BIGINT)" if integer else ok
        if col.unit in NON_NEGATIVE_UNITS:
            self.checks.append(_Check("negative_value", f"coalesce({v} < 0, false)",
                                      f"'{c}: ' || {t} || ' is negative'"))

    def _coordinates(self) -> None:
        self.swap = ("(lat IS NOT NULL AND lon IS NOT NULL AND abs(lat) > 90 "
                     "AND abs(lat) <= 180 AND abs(lon) <= 90)")
        self.fixes.append(_Check("swapped_lat_lon", "sw_coords",
                                 "'lon/lat: (' || t_lon || ', ' || t_lat || ') exchanged: latitude "
                                 "outside ±90° but a valid longitude'"))
        self.checks.append(_Check(
            "incomplete_coordinates", "((lon IS NULL) <> (lat IS NULL))",
            "'lon/lat: only one of the two is given (' || coalesce(t_lon, 'missing') || ', ' || "
            "coalesce(t_lat, 'missing') || ')'"))
        self.checks.append(_Check(
            "coordinates_out_of_range",
            "coalesce(abs(lon) > 180 OR abs(lat) > 90 OR (lon = 0 AND lat = 0), false)",
            "'lon/lat: (' || t_lon || ', ' || t_lat || ') outside ±180°/±90° or the (0, 0) "
            "placeholder'"))

    def rownum(self) -> str:
        """A parsed row's record number: rows of a file with no rejected records are numbered
        by position when a number is needed, the others carry theirs in ``_row``."""
        return f"coalesce({ROW}, rowid + 1)" if self.numbered else "rowid + 1"

    def malformed(self) -> str:
        """A parsed row's raw line when it could not be split (see :attr:`numbered`)."""
        return MALFORMED if self.numbered else "NULL::VARCHAR"

    def _text(self, column: str) -> str | None:
        """The canonical text column that source column ``column`` fills, if it is one."""
        canonical = self.colmap.get(column)
        return canonical if canonical is not None and self.spec.column(canonical).dtype == "string" else None

    def original_sql(self, parsed: bool = False) -> str:
        """JSON of a parsed row's source values (keyed by the source's column names), or of its
        raw line when it could not be split; valid before any later step changes the row.

        The source text is kept beside the typed values as one ``_o{i}`` column per source
        column, except where a source column fills a canonical text column: the first pass
        stores that text as it is, so the stored value is the source text until the verdicts
        are written back (``parsed=True``: read from the table of parsed rows)."""
        values = []
        for i, c in enumerate(self.columns):
            text = self._text(c)
            if text is None:
                values.append(f"{_lit(c)}, _o{i}")
            elif parsed:
                values.append(f"{_lit(c)}, {_q(text)}")
            else:
                values.append(f"{_lit(c)}, coalesce(_o{i}, {_q(text)})")
        obj = f"json_object({', '.join(values)})" if values else "json_object()"
        if parsed and not self.numbered:  # no row of parsed is a raw line
            return f"CAST({obj} AS VARCHAR)"
        return (f"CAST(CASE WHEN {MALFORMED} IS NOT NULL THEN json_object('_line', {MALFORMED}) "
                f"ELSE {obj} END AS VARCHAR)")

    def fast_sql(self, raw: str, underscores: bool = True, file: bool = False) -> str:
        """SQL of the first pass over the ``FROM`` item ``raw``: the columns of :meth:`parse_sql`
        (with the source text ``_o{i}`` of :meth:`original_sql` instead of ``original``),
        filled in only for the rows that pass every check as they are (status ``accepted``).

        Such a row needs none of the work that finds and explains a problem: every number casts
        as it is (and is whole, outside the date-like range, not negative where it cannot be),
        every text value has no surrounding white space, is no missing marker and needs no
        folding, no required value is missing and the coordinates are complete and in range.
        Any other row gets status NULL and all its source text, and :meth:`slow_sql` parses it
        with the full rules; the outcome is the same as parsing every row with those rules
        (a row passing these tests is accepted unchanged by them), at a fraction of the cost.
        The values of a quarantined row are never used (its ledger line is built from the source
        text), so they are left as they are. ``underscores=False`` leaves out the test for the
        digit separator ``_`` (which DuckDB's cast accepts and the rules do not): for a source
        known to hold no ``_``, or one that :meth:`underscore_sql` checks afterwards.

        Columns that are missing in every row at this stage are left out (each would cost as
        much to write as a column of values): ``reason`` and ``detail``, canonical columns
        with no source column, and, for a file (``file=True``: records are numbered and the
        unsplittable ones added later), ``_row`` and ``_malformed``. They are read as missing
        (:meth:`col`, :meth:`rownum`) and added to the table only when a step writes or reads
        them there (:meth:`ensure`, :meth:`add_numbers`).
        """
        spec = self.spec
        index = {c: i for i, c in enumerate(self.columns)}
        # each test is one WHEN of a CASE, so that it only sees the rows every earlier one passed
        casts, ends, fails = [], [], [f"{MALFORMED} IS NOT NULL"]
        typed: list[tuple[str, str]] = []
        for col in spec.columns:
            c, src = col.name, self.src.get(col.name)
            if src is None:
                if col.required:
                    fails.append("true")
                typed.append((c, f"NULL::{_DUCK[col.dtype]}"))
                continue
            o, f = f"_o{index[src]}", f"f_{c}"
            if col.dtype in ("Float64", "Int64"):
                casts.append(f"CASE WHEN NOT contains({o}, '_') THEN TRY_CAST({o} AS DOUBLE) END AS {f}"
                             if underscores else f"TRY_CAST({o} AS DOUBLE) AS {f}")
                # a missing or empty value is stored as missing, with no note
                absent = "false" if col.required else f"({o} IS NULL OR {o} = '')"
                fails.append(f"{f} IS NULL AND NOT {absent}")
                bad = f"NOT isfinite({f})"
                if col.dtype == "Int64":
                    bad += (f" OR {f} BETWEEN 18000101 AND 21001231 OR {f} <> round({f}) "
                            f"OR abs({f}) > 9e15")
                if col.unit in NON_NEGATIVE_UNITS:
                    bad += f" OR {f} < 0"
                fails.append(bad)
                typed.append((c, f"TRY_CAST({f} AS BIGINT)" if col.dtype == "Int64" else f))
            elif col.dtype == "string":
                a, z = f"a_{c}", f"z_{c}"
                ends.append(f"ord({o}) AS {a}, ord({o}[-1]) AS {z}")
                if col.required:
                    fails.append(f"{o} IS NULL")
                # white space at either end (as in _trim_expr), or empty
                fails.append(f"{a} <= 32 OR {a} = 160 OR {a} = 12288 OR {z} <= 32 OR {z} = 160 "
                             f"OR {z} = 12288")
                markers = " OR ".join(f"{o} = {_lit(m)}" for m in MISSING_MARKERS if m)
                fails.append(f"CASE WHEN strlen({o}) <= 6 AND list_contains({_MARKER_STARTS}, {a}) "
                             f"THEN {markers} ELSE false END")
                # values that might be folded (see _build) start with ASCII or a full-width form
                fails.append(f"({a} < 128 OR {a} BETWEEN 65293 AND 65370) AND strlen({o}) <> length({o})")
                typed.append((c, o))
            else:
                fails.append("true" if col.required else f"{o} IS NOT NULL")
                typed.append((c, f"NULL::{_DUCK[col.dtype]}"))
        if "lon" in spec.names and "lat" in spec.names:
            lon = "f_lon" if "lon" in self.src else "NULL::DOUBLE"
            lat = "f_lat" if "lat" in self.src else "NULL::DOUBLE"
            fails.append(f"({lon} IS NULL) <> ({lat} IS NULL)")
            fails.append(f"abs({lon}) > 180 OR abs({lat}) > 90 OR ({lon} = 0 AND {lat} = 0)")
        # a text value is stored as it is, so it is its own source text (see original_sql)
        kept = [f"_o{i}" for i, c in enumerate(self.columns) if self._text(c) is None]
        source = "".join(f", CAST({_q(c)} AS VARCHAR) AS _o{i}" for i, c in enumerate(self.columns))
        fast = "CASE " + " ".join(f"WHEN {x} THEN false" for x in fails) + " ELSE true END"
        # every row gets the values its source text has as it is: right for a clean row, and
        # for most values of the others (slow_sql writes back only what the full rules change)
        values = ", ".join(f"{e} AS {_q(c)}" for c, e in typed if c in self.src)
        # the key's hash lets the duplicate check group one integer column (see _duplicates)
        exprs = dict(typed)
        values += f", hash({', '.join(exprs[k] for k in spec.key)}) AS {KEY_HASH}"
        numbers = "" if file else f"{ROW}, {MALFORMED}, "
        return f"""
        WITH f0 AS (SELECT {ROW}, {MALFORMED}{source} FROM {raw}),
        f1 AS (SELECT *{"".join(", " + x for x in casts + ends)} FROM f0),
        f2 AS (SELECT *, {fast} AS _fast FROM f1)
        SELECT {numbers}{values}, {", ".join([*kept, ""])}
          CASE WHEN _fast THEN 'accepted' END AS status
        FROM f2
        """

    def parsed_by(self, file: bool) -> None:
        """Record what the table of parsed rows has after :meth:`fast_sql`: ``_row`` and
        ``_malformed`` unless it read a file (see :attr:`numbered`), and the canonical columns
        the source fills (see :meth:`col` and :meth:`ensure`)."""
        self.numbered = not file
        self.present = set(self.src)

    def col(self, name: str) -> str:
        """Canonical column ``name`` as read from the table of parsed rows (no alias)."""
        if name in self.present:
            return _q(name)
        return f"NULL::{_DUCK[self.spec.column(name).dtype]}"

    def cols(self, prefix: str = "") -> str:
        """``col(c) AS prefix + c`` for every canonical column."""
        return ", ".join(f"{self.col(c)} AS {_q(prefix + c)}" for c in self.spec.names)

    def ensure(self, con: duckdb.DuckDBPyConnection, parsed: str, names: Iterable[str]) -> None:
        """Add to the table of parsed rows (all missing) the canonical columns ``names`` that
        it does not have: each costs ~30 ms on 5M rows, so only a step that reads or writes
        one there adds it."""
        for name in names:
            if name not in self.present:
                dtype = _DUCK[self.spec.column(name).dtype]
                con.execute(f"ALTER TABLE {parsed} ADD COLUMN {_q(name)} {dtype}")
                self.present.add(name)

    def add_numbers(self, con: duckdb.DuckDBPyConnection, parsed: str) -> None:
        """Add ``_row`` and ``_malformed`` (missing) to a file's table of parsed rows."""
        if not self.numbered:
            con.execute(f"ALTER TABLE {parsed} ADD COLUMN {ROW} BIGINT")
            con.execute(f"ALTER TABLE {parsed} ADD COLUMN {MALFORMED} VARCHAR")
            self.numbered = True

    def underscore_sql(self, parsed: str) -> str:
        """``UPDATE`` that reopens the rows a first pass without the ``_`` test accepted although
        one of their numbers holds a ``_`` (their text values are their source text as stored)."""
        spec = self.spec
        numeric = []
        for i, c in enumerate(self.columns):
            canonical = self.colmap.get(c)
            if canonical is not None and spec.column(canonical).dtype in ("Float64", "Int64"):
                numeric.append(f"contains(_o{i}, '_')")
        if not numeric:
            return ""
        return (f"UPDATE {parsed} SET status = NULL "
                f"WHERE status = 'accepted' AND ({' OR '.join(numeric)})")

    def _was(self) -> str:
        """Prefix of the columns that carry a row's first-pass values beside its source text
        (see :meth:`slow_sql`); no source column's name starts with it."""
        prefix = "_was_"
        while any(c.startswith(prefix) for c in self.columns):
            prefix += "_"
        return prefix

    def carried(self) -> list[str]:
        """Columns that :meth:`slow_sql` carries through the full rules beside a row's values:
        its position in the table of parsed rows, then the first pass's values (the names
        start with :meth:`_was`, so no source column has one)."""
        was = self._was()
        return [was + "rid", *(was + c for c in self.spec.names)]

    def slow_sql(self, parsed: str, slow: str) -> list[str]:
        """Statements giving the rows that :meth:`fast_sql` left open their values, status,
        reason, detail and source values (``original``) by the full rules of
        :meth:`parse_sql`, in table ``slow`` (``_row`` is the record number; see
        :meth:`carried` for the rest): the table that :class:`_Touched` keeps."""
        source = "".join(f", {_q(self._text(c) or f'_o{i}')} AS {_q(c)}"
                         for i, c in enumerate(self.columns))
        # the first pass's values come along, so that the verdicts tell which columns the
        # full rules changed without another pass over the whole table
        rid = self.carried()[0]
        values = f", {self.cols(prefix=self._was())}"
        return [
            # the open rows are gathered first: parsed where they lie, a few to a vector, every
            # expression of the parse would pay its per-vector cost thousands of times over
            f"CREATE OR REPLACE TEMP TABLE {slow}_raw AS SELECT {self.rownum()} AS {ROW}, "
            f"rowid AS {_q(rid)}, {self.malformed()} AS {MALFORMED}{source}{values} "
            f"FROM {parsed} WHERE status IS NULL",
            f"CREATE OR REPLACE TEMP TABLE {slow} AS {self.parse_sql(f'{slow}_raw', self.carried())}",
        ]

    def parse_sql(self, raw: str, carry: Iterable[str] = ()) -> str:
        """SQL giving one row per input row of the ``FROM`` item ``raw``: ``_row``,
        ``_malformed``, typed canonical columns, ``status``, ``reason`` (the first that
        applies), ``detail`` (every problem or change found) and the source values as JSON
        (``original``); the columns ``carry`` of ``raw`` come along."""
        names = self.spec.names
        checks = [_Check("malformed_row", f"({MALFORMED} IS NOT NULL)",
                         "'record could not be split into the header''s fields: ' || "
                         f"left({MALFORMED}, 200)")]
        checks += self.checks
        # once a row is malformed its other checks are meaningless
        conds = [checks[0].cond] + [f"({MALFORMED} IS NULL AND {ch.cond})" for ch in checks[1:]]
        # each condition is computed once, as a column, and named by the reason and detail
        # expressions (the SQL stays small, which keeps DuckDB's planning quick)
        flags = ", ".join([f"{c} AS _q{k}" for k, c in enumerate(conds)]
                          + [f"{f.cond} AS _c{k}" for k, f in enumerate(self.fixes)])
        reason_q = "CASE " + " ".join(
            f"WHEN _q{k} THEN {_lit(ch.reason)}" for k, ch in enumerate(checks)) + " END"
        detail_q = "concat_ws('; ', " + ", ".join(
            f"CASE WHEN _q{k} THEN {ch.detail} END" for k, ch in enumerate(checks)) + ")"
        reason_c = "CASE " + " ".join(
            f"WHEN _c{k} THEN {_lit(f.reason)}" for k, f in enumerate(self.fixes)) + " END"
        detail_c = "concat_ws('; ', " + ", ".join(
            f"CASE WHEN _c{k} THEN {f.detail} END" for k, f in enumerate(self.fixes)) + ")"
        typed = ", ".join(f"{self.final[c]} AS {_q(c)}" for c in names)
        levels = [self.stage2, self.stage3, self.stage4, self.stage5, self.stage6, self.stage7,
                  self.stage8]
        stages = "\n".join(
            f"s2_{i} AS (SELECT *, {', '.join(exprs) or f'NULL AS _n{i}'} FROM "
            f"{'s1' if i == 2 else f's2_{i - 1}'}),"
            for i, exprs in enumerate(levels, start=2))
        swap = self.swap
        s4 = (f"SELECT * REPLACE (CASE WHEN sw_coords THEN lat ELSE lon END AS lon, "
              f"CASE WHEN sw_coords THEN lon ELSE lat END AS lat) FROM (SELECT *, {swap} AS sw_coords FROM s3)"
              if swap else "SELECT *, false AS sw_coords FROM s3")
        cols = ", ".join(_q(c) for c in names)
        kept = "".join(f", CAST({_q(c)} AS VARCHAR) AS _o{i}" for i, c in enumerate(self.columns))
        carried = "".join(f", {_q(c)}" for c in carry)
        return f"""
        WITH s0 AS (SELECT {ROW}, {MALFORMED}{carried}{kept}, {", ".join(self.stage0)} FROM {raw}),
        s1 AS (SELECT *, {", ".join(self.stage1)} FROM s0),
        {stages}
        s3 AS (SELECT *, {typed} FROM s2_8),
        s4 AS ({s4}),
        s5 AS (SELECT *, {reason_q} AS q_reason, {reason_c} AS c_reason,
                      {self.original_sql()} AS original
               FROM (SELECT *, {flags} FROM s4))
        SELECT {ROW}, {MALFORMED}{carried}, {cols}, original,
          hash({", ".join(_q(k) for k in self.spec.key)}) AS {KEY_HASH},
          CASE WHEN q_reason IS NOT NULL THEN 'quarantined'
               WHEN c_reason IS NOT NULL THEN 'corrected' ELSE 'accepted' END AS status,
          coalesce(q_reason, c_reason) AS reason,
          CASE WHEN q_reason IS NOT NULL THEN {detail_q}
               WHEN c_reason IS NOT NULL THEN {detail_c} END AS detail
        FROM s5
        """


@dataclass
class Outcome:
    """Where a validation left its results inside a DuckDB connection."""

    clean: str          # relation: canonical columns, accepted + corrected rows, input order
    ledger: str         # relation: row, status, reason, detail, original
    counts: pd.DataFrame
    rows_read: int
    notes: list[str]


def _codes_table(con: duckdb.DuckDBPyConnection, name: str, codes: Iterable[object]) -> None:
    values = pd.Series(list(codes), dtype="string").str.strip().dropna().drop_duplicates()
    frame = pd.DataFrame({"code": values.astype(str).to_numpy()})
    con.register(f"{name}_df", frame)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT CAST(code AS VARCHAR) AS code "
                f"FROM {name}_df")
    con.unregister(f"{name}_df")


def _region_codes(regions: pd.DataFrame | Iterable[object]) -> Iterable[object]:
    if isinstance(regions, pd.DataFrame):
        if "region_code" not in regions.columns:
            raise InputError(
                f"regions: expected a region_code column, got {', '.join(map(str, regions.columns))}")
        return regions["region_code"]
    return regions


def run_validation(
    con: duckdb.DuckDBPyConnection,
    raw: str,
    columns: list[str],
    table: str = "establishments",
    mapping: Mapping[str, str] | None = None,
    valid_industries: Iterable[object] | None = None,
    regions: pd.DataFrame | Iterable[object] | None = None,
    locate: Locate | None = None,
    existing: str | Callable[[], str | None] | None = None,
    prefix: str = "_v",
    source: RawSource | None = None,
    underscores: Callable[[], bool] | None = None,
) -> Outcome:
    """Validate the raw rows of the ``FROM`` item ``raw`` (text columns + ``_row``/``_malformed``)
    inside ``con``.

    Creates the temporary view ``{prefix}_clean`` (so that a store can insert straight from it)
    and table ``{prefix}_ledger``. ``existing``, when given,
    is a relation of rows already stored (canonical columns and ``source``): a row whose key is
    already there is quarantined as a duplicate and the stored row kept; it may be a function
    giving that relation, called once the rows are parsed. ``source``, when given,
    is the open delimited file that ``raw`` reads (see :class:`~clusteratlas.ingest.readers.RawSource`):
    its records are validated as they are read, numbered by position, and its rejected records
    are added as ``malformed_row``. ``underscores``, when given with ``source``, tells (once the
    file is read) whether byte ``_`` occurs in it: the first pass then skips that test on every
    number, and rows are reopened for it only when the file has one.
    """
    spec = schema.table(table)
    colmap = resolve_columns([c for c in columns if c not in (ROW, MALFORMED)], table, mapping)
    notes = []
    unused = [c for c in columns if c not in colmap and c not in (ROW, MALFORMED)]
    if unused:
        notes.append(f"columns not used (kept in the ledger's original values only): {', '.join(unused)}")
    renamed = [f"{s} -> {t}" for s, t in colmap.items() if s != t]
    if renamed:
        notes.append("columns mapped: " + ", ".join(renamed))
    industries = regions_rel = None
    if valid_industries is not None:
        industries = f"{prefix}_industries"
        _codes_table(con, industries, valid_industries)
    if regions is not None:
        regions_rel = f"{prefix}_regions"
        _codes_table(con, regions_rel, _region_codes(regions))
    source_cols = [c for c in columns if c not in (ROW, MALFORMED)]
    plan = _Plan(spec, colmap, source_cols)
    parsed, dups = f"{prefix}_parsed", f"{prefix}_dups"
    if source is None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {parsed} AS {plan.fast_sql(raw)}")
        plan.parsed_by(file=False)
    else:
        _parse_file(con, plan, raw, parsed, source, underscores is None)
        if underscores is not None and underscores() and (fix := plan.underscore_sql(parsed)):
            con.execute(fix)
    candidates = _KeyCandidates(con, parsed)
    for stmt in plan.slow_sql(parsed, f"{prefix}_slow"):
        con.execute(stmt)
    touched = _Touched(con, plan, parsed, f"{prefix}_slow")
    # Code lists are checked after parsing, in a join of their own. They come after the per-row
    # checks in priority, so a row already quarantined keeps its first reason.
    for column, codes, what in (("industry", industries, "the list of valid industry codes"),
                                ("region_code", regions_rel, "the regions table")):
        if codes is None or column not in spec.names:
            continue
        reason = "unknown_industry" if column == "industry" else "unknown_region"
        unknown = f"{column} IS NOT NULL AND {column} NOT IN (SELECT code FROM {codes})"
        touched.ensure([column])
        touched.take(f"SELECT rowid FROM {parsed} WHERE status = 'accepted' AND {unknown}")
        con.execute(
            f"""UPDATE {touched.name} SET status = 'quarantined', reason = {_lit(reason)},
              detail = '{column}: "' || {column} || '" is not in {what}'
                       || coalesce('; also corrected: ' || detail, '')
            WHERE status <> 'quarantined' AND {unknown}"""
        )
    if regions is not None and {"lon", "lat", "region_code"} <= set(spec.names):
        _swaps_near_the_seat(con, touched, regions, prefix)
    if locate is not None and {"lon", "lat", "location_approx"} <= set(spec.names):
        _apply_locate(con, touched, locate, spec, prefix)
    cands = candidates.register(con, f"{prefix}_slow", f"{prefix}_key_candidates")
    try:
        _duplicates(con, spec, touched.current(), dups,
                    existing() if callable(existing) else existing, cands)
    finally:
        con.unregister(cands)
    touched.take(f"SELECT {ROWID} FROM {dups}")
    con.execute(
        f"""UPDATE {touched.name} AS p SET status = 'quarantined', reason = d.reason,
          detail = d.detail || coalesce('; also corrected: ' || p.detail, '')
        FROM {dups} d WHERE d.{ROWID} = p.{_q(touched.rid)}"""
    )
    # Every verdict is written into parsed in one UPDATE (it keeps every row where it is), so
    # that the clean rows come out in input order with a plain filter, no sort.
    touched.write_back()
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {prefix}_clean AS SELECT {plan.cols()} FROM {parsed} "
        f"WHERE status <> 'quarantined'"
    )
    # a view: its readers (the store's insert, a frame) read it once each, in order of "row"
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {prefix}_ledger AS
        SELECT {ROW} AS "row", status, reason, detail, original
        FROM {touched.name} WHERE status <> 'accepted'"""
    )
    rows_read = scalar(con, f"SELECT count(*) FROM {parsed}")
    counts = con.sql(
        f"SELECT status, reason, count(*) AS count FROM {prefix}_ledger GROUP BY ALL"
    ).df()
    n_ledger = int(counts["count"].sum()) if len(counts) else 0
    accepted = pd.DataFrame({"status": ["accepted"], "reason": [""], "count": [rows_read - n_ledger]})
    counts = pd.concat([accepted, counts], ignore_index=True)
    order = {s: i for i, s in enumerate(STATUSES)}
    reasons = {r: i for i, r in enumerate(("", *CORRECTION_REASONS, *QUARANTINE_REASONS))}
    counts = counts.assign(_s=counts["status"].map(order), _r=counts["reason"].map(reasons))
    counts = counts.sort_values(["_s", "_r"]).drop(columns=["_s", "_r"]).reset_index(drop=True)
    counts["count"] = counts["count"].astype("int64")
    counts = counts[counts["count"] > 0].reset_index(drop=True)
    return Outcome(f"{prefix}_clean", f"{prefix}_ledger", counts, int(rows_read), notes)


def _parse_file(con: duckdb.DuckDBPyConnection, plan: _Plan, raw: str, parsed: str,
                source: RawSource, underscores: bool = True) -> None:
    """Validate a delimited file's records as DuckDB reads them (no table of raw text), then
    number them by position and add the records that could not be split (after the others,
    as open rows for the full rules)."""
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {parsed} AS "
                    f"{plan.fast_sql(raw, underscores, file=True)}")
    except duckdb.Error as exc:
        lines = str(exc).strip().splitlines()
        raise InputError(f"{source.info.path.name}: cannot read as a delimited table: "
                         f"{lines[0] if lines else type(exc).__name__}") from None
    plan.parsed_by(file=True)
    n_ok = int(scalar(con, f"SELECT count(*) FROM {parsed}"))  # type: ignore[call-overload]
    rej = source.rejected(con, n_ok)
    # the table keeps the records in file order, so a record's number is its position plus the
    # rejected records before it
    if not scalar(con, f"SELECT count(*) FROM {rej}"):
        return  # numbered by position where needed (_Plan.rownum)
    plan.add_numbers(con, parsed)
    con.execute(
        f"""UPDATE {parsed} AS p SET {ROW} = n.r
        FROM (SELECT g.rowid AS rid, g.rowid + 1 + coalesce(a.k, 0) AS r FROM {parsed} g
              ASOF LEFT JOIN ({reject_offsets(rej)}) a ON g.rowid >= a.good_before) n
        WHERE p.rowid = n.rid"""
    )
    # open rows (status missing): the full rules quarantine them as malformed_row
    con.execute(f"INSERT INTO {parsed} ({ROW}, {MALFORMED}) SELECT line - 1, csv_line FROM {rej}")


def _swaps_near_the_seat(con: duckdb.DuckDBPyConnection, touched: _Touched,
                         regions: pd.DataFrame | Iterable[object], prefix: str) -> None:
    """Exchange in-range coordinates that are far from their region's seat point but near it
    once exchanged (``swapped_lat_lon``; needs a regions table with ``lon``/``lat`` seats).

    Latitude outside ±90° shows a swap by itself; within ±90° only the region can: a Chinese
    firm at (39.5, 76.0) lies in the Arctic, while (76.0, 39.5) is Kashgar. Far is more than
    ``SWAP_FAR_KM`` from the seat, near is within ``SWAP_NEAR_KM`` (a county or city seat is
    rarely farther from its establishments; a correct point is never near once exchanged unless
    the region lies where latitude and longitude could be each other's).
    """
    if not isinstance(regions, pd.DataFrame) or not {"lon", "lat"} <= set(regions.columns):
        return
    seats = pd.DataFrame({
        "code": regions["region_code"].astype("string").str.strip(),
        "lon": pd.to_numeric(regions["lon"], errors="coerce").astype("Float64"),
        "lat": pd.to_numeric(regions["lat"], errors="coerce").astype("Float64"),
    }).dropna().drop_duplicates("code")
    if seats.empty:
        return
    con.register(f"{prefix}_seats_df", seats)

    def km(lon: str, lat: str) -> str:  # great-circle distance to the seat (haversine, R = 6371)
        return (f"2 * 6371.0088 * asin(sqrt(pow(sin(radians({lat} - r.lat) / 2), 2) + "
                f"cos(radians({lat})) * cos(radians(r.lat)) * pow(sin(radians({lon} - r.lon) / 2), 2)))")

    def distances(rows: str, rid: str, kept: str) -> str:
        return (f"SELECT g.{rid} AS rid, {km('g.lon', 'g.lat')} AS given, "
                f"{km('g.lat', 'g.lon')} AS swapped "
                f"FROM {rows} g JOIN {prefix}_seats_df r ON r.code = g.region_code "
                f"WHERE {kept} AND g.lon IS NOT NULL AND g.lat IS NOT NULL AND abs(g.lon) <= 90")

    swap = f"c.given > {SWAP_FAR_KM} AND c.swapped < {SWAP_NEAR_KM}"
    touched.ensure(["lon", "lat", "region_code"])
    try:
        accepted = distances(touched.parsed, "rowid", "g.status = 'accepted'")
        touched.take(f"SELECT c.rid FROM ({accepted}) c WHERE {swap}")
        con.execute(
            f"""UPDATE {touched.name} AS p SET lon = p.lat, lat = p.lon,
              status = CASE WHEN p.status = 'accepted' THEN 'corrected' ELSE p.status END,
              reason = CASE WHEN p.status = 'accepted' THEN 'swapped_lat_lon' ELSE p.reason END,
              detail = concat_ws('; ', p.detail, 'lon/lat: (' || p.lon || ', ' || p.lat
                || ') exchanged: ' || round(c.given) || ' km from the seat of region '
                || p.region_code || ', ' || round(c.swapped) || ' km once exchanged')
            FROM ({distances(touched.name, _q(touched.rid), "g.status <> 'quarantined'")}) c
            WHERE p.{_q(touched.rid)} = c.rid AND {swap}"""
        )
    finally:
        con.unregister(f"{prefix}_seats_df")


class _Touched:
    """The rows whose outcome is not "accepted as the first pass parsed them", in a table of
    their own beside the millions of rows of ``parsed``.

    A change written into ``parsed`` costs per vector and column it touches, and the rows to
    change lie a few to every vector: each step writing its verdicts there (status, reason,
    detail, values) cost about as much as the next, and the ledger read them all back. Here
    the table is the full rules' output on the open rows (:meth:`_Plan.slow_sql`); a later step
    (code lists, seat points, locate, duplicates) first brings in the accepted rows it is about
    to change (:meth:`take`), then changes this table only; :meth:`write_back` writes the
    outcome into ``parsed`` in one UPDATE at the end, and the ledger is this table's rows that
    were not accepted.

    Columns of table ``name`` used here: ``_row`` (the record number), the canonical columns
    (current values), ``_key_hash``, ``status``, ``reason``, ``detail``, ``original`` (the
    source values as JSON, taken before any step changed the row) and :meth:`_Plan.carried`
    (the row's position in ``parsed``, :attr:`rid`, and the first pass's values).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, plan: _Plan, parsed: str, name: str) -> None:
        self.con, self.plan, self.parsed, self.name = con, plan, parsed, name
        self.rid, *self._was = plan.carried()
        self._cols = ", ".join(_q(c) for c in plan.spec.names)

    def ensure(self, names: Iterable[str]) -> None:
        """Give ``parsed`` the canonical columns ``names`` before a step reads them there."""
        self.plan.ensure(self.con, self.parsed, names)

    def take(self, rows: str) -> None:
        """Bring in, as they are, the rows of ``parsed`` at the positions that the SQL ``rows``
        gives (one column) and that are not here yet."""
        new = f"{self.name}_new"
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {new} AS SELECT DISTINCT * FROM ({rows}) n(rid) "
            f"WHERE rid NOT IN (SELECT {_q(self.rid)} FROM {self.name})")
        if not scalar(self.con, f"SELECT count(*) FROM {new}"):
            return
        plan = self.plan
        was = plan.cols(prefix=plan._was())
        # fetched by position: parsed is read only where the rows lie
        self.con.execute(
            f"""INSERT INTO {self.name} BY NAME
            SELECT rowid AS {_q(self.rid)}, {plan.rownum()} AS {ROW}, {plan.cols()}, {KEY_HASH},
              status, {plan.original_sql(parsed=True)} AS original, {was}
            FROM {self.parsed} WHERE rowid IN (SELECT rid FROM {new})"""
        )

    def current(self) -> str:
        """A view of every row as it stands now (``parsed``'s own where it was not brought
        in): ``_rid`` (position in ``parsed``), ``_row``, the canonical columns, ``_key_hash``,
        ``status``."""
        view = f"{self.name}_current"
        self.con.execute(
            f"""CREATE OR REPLACE TEMP VIEW {view} AS
            SELECT {_q(self.rid)} AS {ROWID}, {ROW}, {self._cols}, {KEY_HASH}, status FROM {self.name}
            UNION ALL
            SELECT rowid, {self.plan.rownum()}, {self.plan.cols()}, {KEY_HASH}, status FROM {self.parsed}
            WHERE status = 'accepted' AND rowid NOT IN (SELECT {_q(self.rid)} FROM {self.name})"""
        )
        return view

    def write_back(self) -> None:
        """Write every row's outcome into ``parsed`` in one UPDATE: its status, and the values
        that changed for the rows that are kept (only the columns that changed anywhere)."""
        names = self.plan.spec.names
        counts = self.con.execute(
            "SELECT " + ", ".join(
                f"count(*) FILTER (WHERE {_q(w)} IS DISTINCT FROM {_q(c)})"
                for c, w in zip(names, self._was, strict=True))
            + f" FROM {self.name} WHERE status <> 'quarantined'").fetchall()[0]
        self.plan.ensure(self.con, self.parsed, [c for c, n in zip(names, counts, strict=True) if n])
        changed = "".join(
            f", {_q(c)} = CASE WHEN t.status <> 'quarantined' AND p.{_q(c)} IS DISTINCT FROM "
            f"t.{_q(c)} THEN t.{_q(c)} ELSE p.{_q(c)} END"
            for c, n in zip(names, counts, strict=True) if n)
        self.con.execute(f"UPDATE {self.parsed} AS p SET status = t.status{changed} "
                         f"FROM {self.name} t WHERE p.rowid = t.{_q(self.rid)}")


class _KeyCandidates:
    """The key hashes that two or more kept rows may share, for :func:`_duplicates`.

    Grouping the hashes of millions of rows is most of the duplicate check's cost, and it can
    start before the rows the first pass left open are parsed: the first-pass hashes of the
    accepted rows are sorted in a thread (NumPy releases the GIL) while DuckDB parses the
    others. The candidates are then the hashes repeated among those rows, plus the hashes of
    the kept open rows that meet one of them or each other. A row kept at the end is one of
    these (later steps only quarantine rows, and change no key), so every hash shared by kept
    rows is a candidate; a candidate shared by fewer is harmless (it only adds a group of one).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, parsed: str) -> None:
        hashes = con.execute(
            f"SELECT {KEY_HASH} FROM {parsed} WHERE status = 'accepted'").fetchnumpy()[KEY_HASH]
        pool = ThreadPoolExecutor(max_workers=1)
        self._sorted: Future[np.ndarray] = pool.submit(np.sort, np.asarray(hashes, dtype=np.uint64))
        pool.shutdown(wait=False)  # its thread ends with the sort

    def register(self, con: duckdb.DuckDBPyConnection, slow: str, name: str) -> str:
        """Register the candidates as relation ``name`` (column ``_key_hash``); ``slow`` holds
        the open rows' verdicts and hashes."""
        fast = self._sorted.result()
        opened = con.execute(f"SELECT {KEY_HASH} FROM {slow} WHERE status <> 'quarantined'"
                             ).fetchnumpy()[KEY_HASH]
        opened = np.sort(np.asarray(opened, dtype=np.uint64))
        parts = [fast[1:][fast[1:] == fast[:-1]], opened[1:][opened[1:] == opened[:-1]]]
        if len(fast) and len(opened):
            at = np.minimum(np.searchsorted(fast, opened), len(fast) - 1)
            parts.append(opened[fast[at] == opened])
        con.register(name, pd.DataFrame({KEY_HASH: np.unique(np.concatenate(parts))}))
        return name


def _duplicates(con: duckdb.DuckDBPyConnection, spec: schema.Table, current: str, dups: str,
                existing: str | None, candidates: str) -> None:
    """Table ``dups`` (``_rid``, ``_row``, ``reason``, ``detail``): the rows of ``current`` (see
    :meth:`_Touched.current`) to quarantine as exact or conflicting duplicates."""
    key = ", ".join(_q(k) for k in spec.key)
    allc = ", ".join(_q(c) for c in spec.names)
    key_text = " || ', ' || ".join(f"'{k}=' || CAST(e.{_q(k)} AS VARCHAR)" for k in spec.key)
    differs = "concat_ws(', ', " + ", ".join(
        f"CASE WHEN count(DISTINCT {_q(c)}) + CAST(count({_q(c)}) BETWEEN 1 AND count(*) - 1 AS INT) > 1 "
        f"THEN '{c}' END" for c in spec.names if c not in spec.key) + ")"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {dups} AS
        WITH d AS (SELECT p.{ROWID}, p.{ROW}, {allc} FROM {current} p
              SEMI JOIN {candidates} k USING ({KEY_HASH})
              WHERE p.status <> 'quarantined'),
        e AS (SELECT *, row_number() OVER (PARTITION BY {allc} ORDER BY {ROW}) AS rn,
                 min({ROW}) OVER (PARTITION BY {allc}) AS first_row FROM d),
        g AS (SELECT {key}, count(*) AS n_distinct,
                 string_agg(CAST({ROW} AS VARCHAR), ', ' ORDER BY {ROW}) AS rows_k,
                 {differs} AS differs
              FROM e WHERE rn = 1 GROUP BY ALL)
        SELECT e.{ROWID}, e.{ROW},
          CASE WHEN e.rn > 1 THEN 'exact_duplicate' ELSE 'duplicate_conflict' END AS reason,
          CASE WHEN e.rn > 1 THEN 'same values as row ' || e.first_row || '; the first is kept'
               ELSE 'key (' || {key_text}
                    || ') has conflicting values in rows ' || g.rows_k || ' (differ in: '
                    || g.differs || '); all are quarantined' END AS detail
        FROM e JOIN g USING ({key})
        WHERE e.rn > 1 OR g.n_distinct > 1"""
    )
    if existing is None:
        return
    same = " AND ".join(f"p.{_q(c)} IS NOT DISTINCT FROM x.{_q(c)}" for c in spec.names)
    on = " AND ".join(f"p.{_q(k)} = x.{_q(k)}" for k in spec.key)
    key_p = " || ', ' || ".join(f"'{k}=' || CAST(p.{_q(k)} AS VARCHAR)" for k in spec.key)
    con.execute(
        f"""INSERT INTO {dups} ({ROWID}, {ROW}, reason, detail)
        SELECT p.{ROWID}, p.{ROW},
          CASE WHEN {same} THEN 'exact_duplicate' ELSE 'duplicate_conflict' END,
          CASE WHEN {same} THEN 'same values already stored from ' || x.source
               ELSE 'key (' || {key_p} || ') already stored from ' || x.source
                    || ' with different values; the stored row is kept' END
        FROM {current} p JOIN {existing} x ON {on}
        WHERE p.status <> 'quarantined'
          AND NOT EXISTS (SELECT 1 FROM {dups} d WHERE d.{ROW} = p.{ROW})"""
    )


def _apply_locate(con: duckdb.DuckDBPyConnection, touched: _Touched, locate: Locate,
                  spec: schema.Table, prefix: str) -> None:
    """Give rows without coordinates the centroid of their region or address (see ``Locate``)."""
    has_addr = "address" in spec.names
    addr = "address" if has_addr else "NULL::VARCHAR AS address"
    unplaced = ("lon IS NULL AND lat IS NULL AND (region_code IS NOT NULL"
                + (" OR address IS NOT NULL)" if has_addr else ")"))
    touched.ensure(["lon", "lat", "region_code", *(["address"] if has_addr else [])])
    touched.take(f"SELECT rowid FROM {touched.parsed} WHERE status = 'accepted' AND {unplaced}")
    need = con.sql(
        f"SELECT {ROW}, region_code, {addr} FROM {touched.name} "
        f"WHERE status <> 'quarantined' AND {unplaced} ORDER BY {ROW}"
    ).df()
    if need.empty:
        return
    found = locate(need.copy())
    missing = {ROW, "lon", "lat"} - set(found.columns)
    if missing:
        raise InputError(f"locate step returned no {', '.join(sorted(missing))} column(s)")
    out = pd.DataFrame({
        ROW: pd.array(found[ROW], dtype="Int64"),
        "lon": pd.array(found["lon"], dtype="Float64"),
        "lat": pd.array(found["lat"], dtype="Float64"),
        "region_code": (found["region_code"].astype("string") if "region_code" in found
                        else pd.array([None] * len(found), dtype="string")),
        "note": (found["note"].astype("string") if "note" in found
                 else pd.array([None] * len(found), dtype="string")),
    })
    # rows the step did not return are unresolved too
    out = need[[ROW]].astype({ROW: "Int64"}).merge(out, on=ROW, how="left")
    con.register(f"{prefix}_located_df", out)
    con.execute(
        f"""UPDATE {touched.name} AS p SET
          lon = CASE WHEN o.lon IS NOT NULL AND o.lat IS NOT NULL THEN o.lon END,
          lat = CASE WHEN o.lon IS NOT NULL AND o.lat IS NOT NULL THEN o.lat END,
          location_approx = CASE WHEN o.lon IS NOT NULL AND o.lat IS NOT NULL THEN true
                                 ELSE p.location_approx END,
          region_code = CASE WHEN o.lon IS NOT NULL AND o.lat IS NOT NULL
                             THEN coalesce(o.region_code, p.region_code) ELSE p.region_code END,
          status = CASE WHEN o.lon IS NOT NULL AND o.lat IS NOT NULL THEN 'corrected' ELSE 'quarantined' END,
          reason = CASE WHEN o.lon IS NULL OR o.lat IS NULL THEN 'unresolved_location'
                        WHEN p.status = 'corrected' THEN p.reason ELSE 'located_approx' END,
          detail = CASE WHEN o.lon IS NULL OR o.lat IS NULL
                        THEN 'no lon/lat, and the row could not be located from region_code/address'
                             || coalesce(': ' || o.note, '')
                        ELSE concat_ws('; ', p.detail, 'lon/lat: none given; approximate location '
                             || '(location_approx)' || coalesce(': ' || o.note, '')) END
        FROM {prefix}_located_df o WHERE o.{ROW} = p.{ROW}"""
    )
    con.unregister(f"{prefix}_located_df")


def validate(
    frame: pd.DataFrame,
    table: str = "establishments",
    valid_industries: Iterable[object] | None = None,
    regions: pd.DataFrame | Iterable[object] | None = None,
    mapping: Mapping[str, str] | None = None,
    locate: Locate | None = None,
) -> ValidationResult:
    """Check a frame of raw values against the canonical table ``table``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Raw values, as from :func:`clusteratlas.ingest.read_table` (text, canonical or aliased
        column names, optional ``_row``/``_malformed``). Other dtypes are turned into text first.
        The frame is not modified.
    table : str
        Canonical table name.
    valid_industries : iterable of str, optional
        Valid industry codes; other codes are quarantined as ``unknown_industry``.
    regions : DataFrame with ``region_code``, or iterable of codes, optional
        Known regions; other codes are quarantined as ``unknown_region``.
    mapping : mapping, optional
        Explicit ``source column -> canonical column`` choices.
    locate : callable, optional
        Places rows without coordinates (see ``Locate``).

    Returns
    -------
    ValidationResult
    """
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"validate: expected a pandas DataFrame, got {type(frame).__name__}")
    con = duckdb.connect()
    try:
        _frame_to_relation(con, frame, "raw")
        columns = [c for c in (str(c) for c in frame.columns) if c not in (ROW, MALFORMED)]
        out = run_validation(con, '"raw"', columns, table, mapping, valid_industries, regions,
                             locate)
        clean = con.sql(f"SELECT * FROM {out.clean}").df()
        ledger = con.sql(f'SELECT * FROM {out.ledger} ORDER BY "row"').df()
    finally:
        con.close()
    return ValidationResult(
        clean=to_canonical(clean, table), ledger=ledger_frame(ledger), counts=out.counts,
        rows_read=out.rows_read, notes=out.notes,
    )


def to_canonical(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Give a frame fetched from DuckDB the canonical column order and nullable dtypes."""
    spec = schema.table(table)
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for col in spec.columns:
        if col.name in frame.columns:
            out[col.name] = frame[col.name].astype(col.dtype).array
        else:
            out[col.name] = pd.array([None] * len(frame), dtype=col.dtype)
    return out


def ledger_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Ledger rows with stable dtypes (row Int64, text as string)."""
    out = frame.copy()
    if "row" in out.columns:
        out["row"] = out["row"].astype("Int64")
    for c in out.columns:
        if c != "row" and (out[c].dtype == object or str(out[c].dtype) in ("str", "string")):
            out[c] = out[c].astype("string")
    return out
