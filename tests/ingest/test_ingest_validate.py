from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clusteratlas import schema
from clusteratlas.ingest import QUARANTINE_REASONS, read_table, validate
from clusteratlas.ingest.sample import SAMPLE_ESTABLISHMENTS

GOOD = {"est_id": "E1", "year": "2022", "industry": "C3971", "region_code": "320505",
        "lon": "120.61", "lat": "31.30", "employment": "120", "output": "5000.5", "exports": "80",
        "founded": "2008"}


def frame(*rows: dict[str, str]) -> pd.DataFrame:
    """Rows that differ from GOOD only where given (each gets its own est_id unless given)."""
    out = []
    for i, row in enumerate(rows):
        out.append({**GOOD, "est_id": f"E{i + 1}", **row})
    return pd.DataFrame(out, dtype="string")


def outcome(row: dict[str, str], **kwargs) -> tuple[str, str, str]:
    result = validate(frame(row), **kwargs)
    if result.accepted:
        return "accepted", "", ""
    line = result.ledger.iloc[0]
    return line["status"], line["reason"], line["detail"]


@pytest.mark.parametrize(
    ("row", "reason", "detail"),
    [
        ({"industry": ""}, "missing_required", "industry: required value is missing"),
        ({"year": "NA"}, "missing_required", "year: required value is missing"),
        ({"employment": "abc"}, "unparsable_number", 'employment: "abc" is not a number'),
        ({"year": "2022.5"}, "unparsable_number", 'year: "2022.5" is not a whole number'),
        ({"output": "inf"}, "unparsable_number", "output"),
        ({"employment": "-3"}, "negative_value", "employment: -3 is negative"),
        ({"exports": "-0.5"}, "negative_value", "exports"),
        ({"lat": ""}, "incomplete_coordinates", "only one of the two"),
        ({"lon": "200", "lat": "31"}, "coordinates_out_of_range", "(200, 31)"),
        ({"lon": "120", "lat": "-95"}, "coordinates_out_of_range", "outside"),
        ({"lon": "0", "lat": "0"}, "coordinates_out_of_range", "placeholder"),
    ],
)
def test_each_quarantine_reason(row: dict[str, str], reason: str, detail: str) -> None:
    status, got, text = outcome(row)
    assert (status, got) == ("quarantined", reason)
    assert detail in text


def test_unknown_industry_only_when_a_list_is_given() -> None:
    assert outcome({"industry": "X999"})[0] == "accepted"
    status, reason, detail = outcome({"industry": "X999"}, valid_industries=["C3971", "C3562"])
    assert (status, reason) == ("quarantined", "unknown_industry")
    assert '"X999"' in detail
    assert outcome({}, valid_industries=["C3971"])[0] == "accepted"


def test_unknown_region_only_when_regions_are_given() -> None:
    regions = pd.DataFrame({"region_code": ["320505", "320506"], "name": ["虎丘区", "吴中区"]})
    assert outcome({"region_code": "999999"})[0] == "accepted"
    status, reason, _ = outcome({"region_code": "999999"}, regions=regions)
    assert (status, reason) == ("quarantined", "unknown_region")
    assert outcome({"region_code": ""}, regions=regions)[0] == "accepted"  # optional column


@pytest.mark.parametrize(
    ("row", "reason", "column", "value"),
    [
        ({"output": "12,345.5"}, "thousands_separator", "output", 12345.5),
        ({"employment": "１２０"}, "full_width_digits", "employment", 120.0),
        ({"founded": "2008-05-01"}, "year_from_date", "founded", 2008),
        ({"founded": "2008年"}, "year_from_date", "founded", 2008),
        ({"founded": "20080501"}, "year_from_date", "founded", 2008),
        ({"lon": "31.30", "lat": "120.61"}, "swapped_lat_lon", "lon", 120.61),
        ({"region_code": "３２０５０５"}, "full_width_digits", "region_code", "320505"),
    ],
)
def test_each_correction(row: dict[str, str], reason: str, column: str, value: object) -> None:
    result = validate(frame(row))
    assert result.corrected == 1
    assert result.ledger.iloc[0]["reason"] == reason
    assert result.clean[column].iloc[0] == value
    assert json.loads(result.ledger.iloc[0]["original"])[column] == frame(row)[column].iloc[0]


def test_names_with_full_width_digits_keep_their_spelling() -> None:
    result = validate(frame({"name": "第１分厂"}))
    assert result.accepted == 1
    assert result.clean["name"].iloc[0] == "第１分厂"


def test_whitespace_and_missing_markers_are_not_corrections() -> None:
    result = validate(frame({"employment": " 120 ", "exports": "-", "output": "NULL",
                             "industry": "\u3000C3971 "}))
    assert result.accepted == 1
    clean = result.clean.iloc[0]
    assert clean["employment"] == 120 and clean["industry"] == "C3971"
    assert pd.isna(clean["exports"]) and pd.isna(clean["output"])


def test_exact_duplicates_keep_the_first() -> None:
    result = validate(frame({"est_id": "A"}, {"est_id": "A"}, {"est_id": "A"}, {"est_id": "B"}))
    assert (result.accepted, result.quarantined) == (2, 2)
    assert result.ledger["reason"].tolist() == ["exact_duplicate"] * 2
    assert result.ledger["row"].tolist() == [2, 3]
    assert "same values as row 1" in result.ledger["detail"].iloc[0]


def test_exact_duplicate_after_normalisation() -> None:
    result = validate(frame({"est_id": "A", "output": "1,000"}, {"est_id": "A", "output": "1000"}))
    assert result.corrected == 1 and result.quarantined == 1
    assert result.ledger.set_index("row").loc[2, "reason"] == "exact_duplicate"


def test_duplicates_among_rows_parsed_by_either_pass() -> None:
    # the first pass accepts rows as they are; padded ids, thousands separators and bad numbers
    # go through the full rules: duplicates are found across both kinds of rows
    result = validate(frame(
        {"est_id": "A"}, {"est_id": " A"},                      # first pass + full rules, exact
        {"est_id": " B ", "output": "1,000"}, {"est_id": "B", "output": "1,000"},  # both full
        {"est_id": "C", "employment": "x"}, {"est_id": "C"},   # one quarantined first: no dup
        {"est_id": "D"}, {"est_id": "D", "employment": "7"},   # first pass, conflicting
    ))
    by_row = result.ledger.set_index("row")["reason"].to_dict()
    assert by_row == {2: "exact_duplicate", 3: "thousands_separator", 4: "exact_duplicate",
                      5: "unparsable_number", 7: "duplicate_conflict", 8: "duplicate_conflict"}
    assert result.clean["est_id"].tolist() == ["A", "B", "C"]


def test_steps_after_parsing_compose_on_the_rows_they_change() -> None:
    # Rows the first pass accepted as they are, changed by a later step: each step sees what the
    # steps before it did, and the ledger keeps every row's source values (worked by hand)
    def locate(rows: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"_row": rows["_row"], "lon": 120.5, "lat": 31.25, "note": "seat"})

    result = validate(frame(
        {"est_id": "A", "industry": "X999"},                            # 1 unknown industry
        {"est_id": "A", "industry": "X999"},                            # 2 the same: no duplicate,
                                                                        #   both already quarantined
        {"est_id": "B", "lon": "", "lat": ""},                          # 3 located
        {"est_id": "B", "lon": "", "lat": ""},                          # 4 located, then a duplicate
        {"est_id": "C", "lon": "", "lat": "", "employment": "1,200"},   # 5 full rules, then located
    ), valid_industries=["C3971"], locate=locate)
    ledger = result.ledger.set_index("row")
    located = "lon/lat: none given; approximate location (location_approx): seat"
    assert ledger[["status", "reason", "detail"]].to_dict("index") == {
        1: {"status": "quarantined", "reason": "unknown_industry",
            "detail": 'industry: "X999" is not in the list of valid industry codes'},
        2: {"status": "quarantined", "reason": "unknown_industry",
            "detail": 'industry: "X999" is not in the list of valid industry codes'},
        3: {"status": "corrected", "reason": "located_approx", "detail": located},
        4: {"status": "quarantined", "reason": "exact_duplicate",
            "detail": f"same values as row 3; the first is kept; also corrected: {located}"},
        5: {"status": "corrected", "reason": "thousands_separator",
            "detail": f'employment: "1,200" -> 1200 (thousands separators removed); {located}'},
    }
    original = json.loads(ledger.loc[4, "original"])
    assert (original["est_id"], original["lon"], original["lat"]) == ("B", "", "")
    assert json.loads(ledger.loc[5, "original"])["employment"] == "1,200"
    assert result.clean["est_id"].tolist() == ["B", "C"]
    assert result.clean["lon"].tolist() == [120.5, 120.5]
    assert result.clean["employment"].tolist() == [120.0, 1200.0]
    assert result.clean["location_approx"].tolist() == [True, True]


def test_conflicting_duplicates_are_all_quarantined() -> None:
    result = validate(frame({"est_id": "A", "employment": "5"}, {"est_id": "A", "employment": "6"},
                            {"est_id": "A", "year": "2021"}))
    assert result.accepted == 1  # 2021 is another key
    assert result.ledger["reason"].tolist() == ["duplicate_conflict"] * 2
    assert "differ in: employment" in result.ledger["detail"].iloc[0]
    assert "rows 1, 2" in result.ledger["detail"].iloc[0]


def test_first_reason_counts_and_detail_lists_all() -> None:
    _, reason, detail = outcome({"industry": "", "employment": "x", "lon": "500"})
    assert reason == "missing_required"
    assert "employment" in detail and "outside" in detail


def test_malformed_rows_are_quarantined() -> None:
    raw = frame({}, {})
    raw["_malformed"] = pd.array([None, "E2,oops"], dtype="string")
    result = validate(raw)
    assert result.ledger["reason"].tolist() == ["malformed_row"]
    assert json.loads(result.ledger["original"].iloc[0]) == {"_line": "E2,oops"}


def test_clean_has_canonical_columns_and_dtypes() -> None:
    result = validate(frame({}))
    assert list(result.clean.columns) == schema.ESTABLISHMENTS.names
    assert result.clean.dtypes.astype(str).to_dict() == schema.ESTABLISHMENTS.dtypes()


def test_caller_frame_is_not_modified() -> None:
    raw = frame({"output": "1,000"}, {"employment": "-1"})
    before = raw.copy()
    validate(raw)
    pd.testing.assert_frame_equal(raw, before)


def test_non_text_frames_are_accepted() -> None:
    raw = pd.DataFrame({"est_id": ["a", "b"], "year": [2022, 2022], "industry": ["C1", "C1"],
                        "employment": [3.0, float("nan")]})
    result = validate(raw)
    assert result.accepted == 2
    assert result.clean["employment"].isna().tolist() == [False, True]


def test_sample_file_reports_what_its_readme_says() -> None:
    result = validate(read_table(SAMPLE_ESTABLISHMENTS))
    by_reason = result.ledger.groupby("reason")["row"].apply(list).to_dict()
    assert by_reason == {
        "thousands_separator": [4, 19, 43], "full_width_digits": [9, 57],
        "swapped_lat_lon": [14, 62, 80], "year_from_date": [23, 91],
        "missing_required": [27, 73], "unparsable_number": [32, 66], "negative_value": [37, 84],
        "coordinates_out_of_range": [46, 49], "incomplete_coordinates": [54],
        "duplicate_conflict": [59, 60], "exact_duplicate": [12, 69], "malformed_row": [95],
    }
    assert (result.rows_read, result.accepted) == (102, 78)


def test_locate_step_fills_centroids_and_quarantines_the_unresolved() -> None:
    centroids = {"320505": (120.57, 31.30)}

    def locate(rows: pd.DataFrame) -> pd.DataFrame:
        found = rows["region_code"].map(centroids)
        return pd.DataFrame({"_row": rows["_row"], "lon": [f[0] if isinstance(f, tuple) else None for f in found],
                             "lat": [f[1] if isinstance(f, tuple) else None for f in found]})

    raw = frame({"lon": "", "lat": ""}, {"lon": "", "lat": "", "region_code": "999999"}, {},
                {"lon": "", "lat": "", "region_code": ""})
    result = validate(raw, locate=locate)
    ledger = result.ledger.set_index("row")
    assert ledger.loc[1, "reason"] == "located_approx" and ledger.loc[1, "status"] == "corrected"
    assert ledger.loc[2, "reason"] == "unresolved_location"
    assert 4 not in ledger.index  # nothing to locate from: kept without a location
    located = result.clean.iloc[0]
    assert (located["lon"], located["lat"], located["location_approx"]) == (120.57, 31.30, True)
    assert pd.isna(result.clean.iloc[1]["location_approx"])


# -- the ledger always adds up ------------------------------------------------------------------
VALUES = {
    "est_id": st.sampled_from(["A", "B", "C", "", "Ｄ"]),
    "year": st.sampled_from(["2021", "2022", "", "20２2", "2022年", "x", "2022.0", "2022.5"]),
    "industry": st.sampled_from(["C1", "C2", "", "X", " C1 ", "Z"]),
    "lon": st.sampled_from(["120.5", "31.2", "", "0", "200", "-181", "１２０", "abc"]),
    "lat": st.sampled_from(["31.2", "120.5", "", "0", "95", "NA"]),
    "employment": st.sampled_from(["5", "-1", "1,200", "", "五", "1e3", "nan", "inf"]),
    "output": st.sampled_from(["10.5", "-", "12,345.6", "1,2", ""]),
}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.fixed_dictionaries(VALUES), min_size=1, max_size=25),
       repeat=st.lists(st.integers(0, 24), max_size=5), malformed=st.lists(st.booleans(), max_size=25))
def test_ledger_counts_add_up(rows: list[dict[str, str]], repeat: list[int],
                              malformed: list[bool]) -> None:
    rows = rows + [rows[i % len(rows)] for i in repeat]
    raw = pd.DataFrame(rows, dtype="string")
    flags = (malformed + [False] * len(raw))[: len(raw)]
    raw["_malformed"] = pd.array([("line" if f else None) for f in flags], dtype="string")
    result = validate(raw, valid_industries=["C1", "C2", "X"])
    n = len(raw)
    # an independent, row-by-row Python statement of the same rules gives the same verdicts
    expected = reference_verdicts(raw, valid_industries={"C1", "C2", "X"})
    got = {int(r.row): (r.status, r.reason, _fixes_in(r.detail) if r.status == "corrected" else set())
           for r in result.ledger.itertuples()}
    assert {i: v for i, v in expected.items() if v[0] != "accepted"} == got
    assert result.accepted + result.corrected + result.quarantined == n == result.rows_read
    assert len(result.clean) == result.accepted + result.corrected
    assert len(result.ledger) == result.corrected + result.quarantined
    assert result.ledger["row"].is_unique and result.ledger["row"].between(1, n).all()
    assert set(result.ledger["reason"]) <= set(QUARANTINE_REASONS) | {
        "full_width_digits", "thousands_separator", "year_from_date", "swapped_lat_lon"}
    # what is stored obeys the rules the ledger enforces
    clean = result.clean
    assert clean["est_id"].notna().all() and clean["industry"].notna().all()
    assert not clean.duplicated(["est_id", "year"]).any()
    assert (clean["employment"].dropna() >= 0).all()
    assert clean["lat"].dropna().abs().le(90).all() and clean["lon"].dropna().abs().le(180).all()


NEAR_CLEAN = {"est_id": "A", "year": "2022", "industry": "C1", "lon": "120.5", "lat": "31.2",
              "employment": "5", "output": "10.5"}


@st.composite
def _near_clean_row(draw: st.DrawFn) -> dict[str, str]:
    """A clean row, or one with a single value (maybe padded with white space) from VALUES:
    most rows pass the cheap first pass, and the others sit right at its edge."""
    row = {**NEAR_CLEAN, "est_id": draw(st.sampled_from(["A", "B", "C", "D", "E", "F"]))}
    column = draw(st.sampled_from([None, None, *VALUES]))
    if column is not None:
        pad = st.sampled_from(["", "", " ", "\t", "\u3000", "\u00a0"])
        row[column] = draw(pad) + draw(VALUES[column]) + draw(pad)
    return row


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_near_clean_row(), min_size=1, max_size=30))
def test_nearly_clean_rows_get_the_verdicts_of_the_rules(rows: list[dict[str, str]]) -> None:
    raw = pd.DataFrame(rows, dtype="string")
    result = validate(raw, valid_industries=["C1", "C2", "X"])
    expected = reference_verdicts(raw, valid_industries={"C1", "C2", "X"})
    got = {int(r.row): (r.status, r.reason, _fixes_in(r.detail) if r.status == "corrected" else set())
           for r in result.ledger.itertuples()}
    assert {i: v for i, v in expected.items() if v[0] != "accepted"} == got
    assert result.accepted + result.corrected + result.quarantined == len(raw)


def test_numbers_agree_with_pandas_to_numeric() -> None:
    # an independent parser: every value pandas reads as a finite number we read the same
    import numpy as np

    rng = np.random.default_rng(3)
    values = rng.lognormal(5, 3, 300)
    texts = [f"{v:.6g}" if i % 3 == 0 else f"{v:.3f}" if i % 3 == 1 else f"{v:e}"
             for i, v in enumerate(values)]
    texts += ["+12", "12.", ".5", "1E3", "00042", " 7 ", "0x10", "1_000", "12abc", "∞", "1e400"]
    raw = frame(*({"output": t} for t in texts))
    result = validate(raw)
    ours = result.ledger.set_index("row")
    expected = pd.to_numeric(pd.Series(texts).str.strip(), errors="coerce")
    ok = expected.notna() & np.isfinite(expected)
    clean_rows = [r for r in range(1, len(texts) + 1) if r not in ours.index]
    assert np.allclose(result.clean["output"].to_numpy(dtype=float), expected[[r - 1 for r in clean_rows]],
                       rtol=1e-12)
    assert set(clean_rows) == {i + 1 for i in np.flatnonzero(ok.to_numpy())}


# -- a plain-Python reference of the rules, for the property test --------------------------------
_WS = " \t\r\n\u3000\u00a0"
_MARKERS = {"", "NA", "N/A", "n/a", "na", "NULL", "null", "None", "nan", "NaN", "-", "--", "—",
            "——", "/"}
_DIGITS = str.maketrans("０１２３４５６７８９．，－＋", "0123456789.,-+")
_CODE = str.maketrans("０１２３４５６７８９．，－＋ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ"
                      "ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ",
                      "0123456789.,-+ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_THOUSANDS = re.compile(r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?")
_DATE = re.compile(r"[0-9]{4}\s*年.*|[0-9]{4}[-/.][0-9]{1,2}([-/.][0-9]{1,2})?([ T].*)?"
                   r"|(1[89]|20)[0-9]{2}(0[1-9]|1[0-2])[0-3][0-9]")


def _text(value: object) -> str | None:
    if value is None or value is pd.NA:
        return None
    text = str(value).strip(_WS)
    return None if text in _MARKERS else text


def _number(value: object, integer: bool) -> tuple[float | None, bool, list[str]]:
    """(value, bad, fixes) as the rules read one numeric cell."""
    text = _text(value)
    if text is None:
        return None, False, []
    folded = text.translate(_DIGITS)
    fixes = ["full_width_digits"] if folded != text else []
    number = None
    if "_" not in folded:
        try:
            number = float(folded)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        if _THOUSANDS.fullmatch(folded):
            number, fixes = float(folded.replace(",", "")), [*fixes, "thousands_separator"]
        elif integer and _DATE.fullmatch(folded):
            number, fixes = float(folded[:4]), [*fixes, "year_from_date"]
    bad = number is None or not math.isfinite(number) or (integer and number != round(number))
    return (None if bad else number), bad, fixes


def _fixes_in(detail: str) -> set[str]:
    """The corrections a ledger detail reports."""
    phrases = {"full-width": "full_width_digits", "thousands separators": "thousands_separator",
               "year taken from date": "year_from_date", "exchanged": "swapped_lat_lon"}
    return {reason for phrase, reason in phrases.items() if phrase in detail}


def reference_verdicts(raw: pd.DataFrame,
                       valid_industries: set[str]) -> dict[int, tuple[str, str, set[str]]]:
    """(status, reason, corrections) of every row, by the rules stated row by row."""
    verdicts: dict[int, tuple[str, str, set[str]]] = {}
    survivors: list[tuple[int, tuple[object, ...]]] = []
    for i, rec in enumerate(raw.to_dict("records"), start=1):
        if rec.get("_malformed") is not None and rec.get("_malformed") is not pd.NA:
            verdicts[i] = ("quarantined", "malformed_row", set())
            continue
        est_id, industry = _text(rec["est_id"]), _text(rec["industry"])
        fixes: list[str] = []
        if est_id is not None and not est_id.isascii() and re.fullmatch(
                r"[0-9A-Za-z.\-０-９Ａ-Ｚａ-ｚ．－]+", est_id):
            est_id, fixes = est_id.translate(_CODE), ["full_width_digits"]
        year, bad_year, f = _number(rec["year"], True)
        fixes += f
        cols = {}
        bad = {}
        for name in ("lon", "lat", "employment", "output"):
            cols[name], bad[name], f = _number(rec[name], False)
            fixes += f
        lon, lat = cols["lon"], cols["lat"]
        if lon is not None and lat is not None and 90 < abs(lat) <= 180 and abs(lon) <= 90:
            lon, lat = lat, lon
            fixes.append("swapped_lat_lon")
        if est_id is None or _text(rec["year"]) is None or industry is None:
            reason = "missing_required"
        elif bad_year or any(bad.values()):
            reason = "unparsable_number"
        elif any(cols[c] is not None and cols[c] < 0 for c in ("employment", "output")):
            reason = "negative_value"
        elif (lon is None) != (lat is None):
            reason = "incomplete_coordinates"
        elif lon is not None and (abs(lon) > 180 or abs(lat) > 90 or (lon == 0 and lat == 0)):
            reason = "coordinates_out_of_range"
        elif industry not in valid_industries:
            reason = "unknown_industry"
        else:
            reason = None
        if reason is not None:
            verdicts[i] = ("quarantined", reason, set())
            continue
        verdicts[i] = ("corrected", fixes[0], set(fixes)) if fixes else ("accepted", "", set())
        survivors.append((i, (est_id, year, industry, lon, lat, cols["employment"], cols["output"])))
    first_of: dict[tuple[object, ...], int] = {}
    by_key: dict[tuple[object, ...], list[int]] = {}
    for i, values in survivors:
        if values in first_of:
            verdicts[i] = ("quarantined", "exact_duplicate", set())
            continue
        first_of[values] = i
        by_key.setdefault(values[:2], []).append(i)
    for rows in by_key.values():
        if len(rows) > 1:
            for i in rows:
                verdicts[i] = ("quarantined", "duplicate_conflict", set())
    return verdicts


# Kashgar (653101) and Huqiu (320505) with their seat points (GB/T 2260 codes, WGS-84)
SEATS = pd.DataFrame({"region_code": ["653101", "320505"], "lon": [75.99, 120.57],
                      "lat": [39.47, 31.30]})


def test_in_range_swaps_are_found_from_the_region_seat() -> None:
    rows = frame({"region_code": "653101", "lon": "39.50", "lat": "76.02"},   # Arctic as given
                 {"region_code": "653101", "lon": "76.02", "lat": "39.50"},   # right as given
                 {"region_code": "653101", "lon": "10.0", "lat": "10.0"},     # far either way
                 {"region_code": "653101", "lon": "39.50", "lat": "76.02", "output": "1,000"},
                 {"region_code": "653101", "lon": "39.50", "lat": "76.02", "employment": "-1"})
    result = validate(rows, regions=SEATS)
    ledger = result.ledger.set_index("row")
    assert ledger.loc[1, ["status", "reason"]].tolist() == ["corrected", "swapped_lat_lon"]
    assert "km from the seat of region 653101" in ledger.loc[1, "detail"]
    assert json.loads(ledger.loc[1, "original"])["lon"] == "39.50"
    assert 2 not in ledger.index and 3 not in ledger.index
    # a row corrected for another reason keeps that reason and notes the exchange too
    assert ledger.loc[4, "reason"] == "thousands_separator" and "exchanged" in ledger.loc[4, "detail"]
    assert ledger.loc[5, "reason"] == "negative_value"  # quarantined rows are left as they are
    clean = result.clean.set_index("est_id")
    assert clean.loc["E1", ["lon", "lat"]].tolist() == [76.02, 39.5]
    assert clean.loc["E3", ["lon", "lat"]].tolist() == [10.0, 10.0]
    # without seat points (codes only) nothing is exchanged
    assert validate(rows, regions=SEATS[["region_code"]]).clean["lon"].iloc[0] == 39.5
