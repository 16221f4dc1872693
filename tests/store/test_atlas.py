from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import clusteratlas.store.atlas as atlas_module
from clusteratlas import schema
from clusteratlas.errors import InputError, StoreError
from clusteratlas.ingest.sample import SAMPLE_ESTABLISHMENTS
from clusteratlas.store import Atlas

CSV = ("企业代码,年份,行业代码,从业人数,经度,纬度\n"
       "E1,2022,C1,10,120.1,31.1\nE2,2022,C1,\"1,200\",120.2,31.2\nE3,2022,C1,abc,120.3,31.3\n")


@pytest.fixture
def atlas(tmp_path: Path) -> Atlas:
    store = Atlas.init(tmp_path / "proj")
    yield store
    store.close()


def _file(tmp_path: Path, text: str = CSV, name: str = "firms.csv", encoding: str = "gb18030") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_init_is_idempotent_and_open_requires_a_store(tmp_path: Path) -> None:
    Atlas.init(tmp_path / "p").close()
    again = Atlas.init(tmp_path / "p")
    assert (tmp_path / "p" / "atlas.duckdb").exists()
    assert set(schema.TABLES) | {"ledger", "loads"} <= set(again.tables())
    again.close()
    with pytest.raises(StoreError, match="no Atlas store"):
        Atlas(tmp_path / "elsewhere")


def test_load_file_and_read_back(atlas: Atlas, tmp_path: Path) -> None:
    report = atlas.load(_file(tmp_path))
    assert (report.rows_read, report.accepted, report.corrected, report.quarantined) == (3, 1, 1, 1)
    assert report.encoding == "gb18030"
    table = atlas.table("establishments")
    assert table["est_id"].tolist() == ["E1", "E2"]
    assert table["employment"].tolist() == [10.0, 1200.0]
    assert table.dtypes.astype(str).to_dict() == schema.ESTABLISHMENTS.dtypes()
    ledger = atlas.ledger()
    assert ledger.columns.tolist() == ["load_id", "table_name", "source", "row", "status", "reason",
                                       "detail", "original"]
    assert ledger["source"].unique().tolist() == ["firms.csv"]
    assert ledger["reason"].tolist() == ["thousands_separator", "unparsable_number"]
    loads = atlas.loads()
    assert loads[["rows_read", "accepted", "corrected", "quarantined"]].iloc[0].tolist() == [3, 1, 1, 1]


def test_reloading_the_same_file_replaces_it(atlas: Atlas, tmp_path: Path) -> None:
    path = _file(tmp_path)
    first = atlas.load(path)
    second = atlas.load(path)
    assert not first.replaced and second.replaced
    assert first.load_id == second.load_id
    assert len(atlas.table("establishments")) == 2
    assert len(atlas.ledger()) == 2 and len(atlas.loads()) == 1
    # the same bytes under another name are the same content
    copy = tmp_path / "copy.csv"
    copy.write_bytes(path.read_bytes())
    assert atlas.load(copy).replaced
    assert len(atlas.table("establishments")) == 2


def test_overlapping_keys_from_another_load_are_quarantined(atlas: Atlas, tmp_path: Path) -> None:
    atlas.load(_file(tmp_path))
    other = _file(tmp_path, "企业代码,年份,行业代码,从业人数\nE1,2022,C1,10\nE2,2022,C1,999\nE9,2022,C1,1\n",
                  name="more.csv")
    report = atlas.load(other)
    ledger = atlas.ledger(report.load_id).set_index("row")
    assert ledger.loc[2, "reason"] == "duplicate_conflict" and "stored row is kept" in ledger.loc[2, "detail"]
    # E1 has no lon/lat in the new file, so its values differ too
    assert ledger.loc[1, "reason"] == "duplicate_conflict"
    assert report.accepted == 1
    assert sorted(atlas.table("establishments")["est_id"]) == ["E1", "E2", "E9"]


def test_exact_repeat_from_another_load_is_an_exact_duplicate(atlas: Atlas) -> None:
    frame = pd.DataFrame({"est_id": ["A"], "year": ["2022"], "industry": ["C1"]})
    atlas.load(frame)
    report = atlas.load(pd.concat([frame, frame.assign(est_id="B")]))
    ledger = atlas.ledger(report.load_id)
    assert ledger["reason"].tolist() == ["exact_duplicate"]


def test_failed_load_leaves_the_store_as_it_was(atlas: Atlas, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    atlas.load(_file(tmp_path))
    before = (atlas.table("establishments"), atlas.ledger(), atlas.loads())

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    # fails after the rows and the ledger lines were inserted, before the load is recorded
    monkeypatch.setattr(atlas_module, "_record_load", boom)
    other = _file(tmp_path, "企业代码,年份,行业代码\nZ1,2022,C1\nZ2,2022,x\n", name="other.csv")
    with pytest.raises(StoreError, match="rolled back: disk full"):
        atlas.load(other)
    # and a reload of the stored file that fails must not lose the earlier rows either
    with pytest.raises(StoreError, match="rolled back"):
        atlas.load(tmp_path / "firms.csv")
    after = (atlas.table("establishments"), atlas.ledger(), atlas.loads())
    for b, a in zip(before, after, strict=True):
        pd.testing.assert_frame_equal(b, a)
    assert not any(name.startswith("_") for name in atlas.tables())


def test_bad_input_leaves_the_store_as_it_was(atlas: Atlas, tmp_path: Path) -> None:
    atlas.load(_file(tmp_path))
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        atlas.load(empty)
    with pytest.raises(InputError, match="required column"):
        atlas.load(pd.DataFrame({"est_id": ["a"]}))
    with pytest.raises(InputError, match="unknown table"):
        atlas.load(pd.DataFrame({"est_id": ["a"]}), table="firms")
    assert len(atlas.table("establishments")) == 2


def test_sample_loads_with_regions_and_industries(atlas: Atlas) -> None:
    regions = pd.DataFrame({"region_code": ["320505", "320506", "320507", "320508"]})
    report = atlas.load(SAMPLE_ESTABLISHMENTS, regions=regions,
                        valid_industries=["C3971", "C3562", "C2710", "C3670"])
    counts = report.counts.set_index("reason")["count"]
    assert counts["unknown_region"] > 0 and counts["unknown_industry"] > 0
    assert report.accepted + report.corrected + report.quarantined == report.rows_read == 102


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".xlsx"])
def test_export_round_trips(atlas: Atlas, tmp_path: Path, suffix: str) -> None:
    atlas.load(SAMPLE_ESTABLISHMENTS)
    out = atlas.export("establishments", tmp_path / f"out{suffix}")
    if suffix == ".parquet":
        back = pd.read_parquet(out)
    elif suffix == ".csv":
        assert out.read_bytes()[:3] == b"\xef\xbb\xbf"
        back = pd.read_csv(out, encoding="utf-8-sig", dtype={"region_code": str})
    else:
        back = pd.read_excel(out, dtype={"region_code": str})
    stored = atlas.table("establishments")
    assert back.columns.tolist() == stored.columns.tolist()
    assert back["name"].tolist() == stored["name"].tolist()
    assert back["employment"].astype(float).tolist() == stored["employment"].astype(float).tolist()
    ledger_out = atlas.export("ledger", tmp_path / f"ledger{suffix}")
    assert ledger_out.exists()


def test_export_errors(atlas: Atlas, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not supported"):
        atlas.export("establishments", tmp_path / "x.json")
    with pytest.raises(StoreError, match="no table 'firms'"):
        atlas.export("firms", tmp_path / "x.csv")


def test_results_and_queries(atlas: Atlas) -> None:
    atlas.write_result("lq", pd.DataFrame({"region_code": ["a", "b"], "lq": [1.5, 0.5]}))
    atlas.write_result("lq", pd.DataFrame({"region_code": ["a"], "lq": [2.0]}))  # replaces
    assert atlas.table("lq")["lq"].tolist() == [2.0]
    assert atlas.query("select count(*) as n from lq")["n"].tolist() == [1]
    with pytest.raises(StoreError, match="reserved"):
        atlas.write_result("establishments", pd.DataFrame({"a": [1]}))
    with pytest.raises(StoreError, match="letters, digits"):
        atlas.write_result("bad name", pd.DataFrame({"a": [1]}))
    with pytest.raises(StoreError, match="query failed"):
        atlas.query("select * from nowhere")


def test_store_reopens_with_its_data(tmp_path: Path) -> None:
    with Atlas.init(tmp_path / "p") as store:
        store.load(SAMPLE_ESTABLISHMENTS)
    with Atlas(tmp_path / "p") as store:
        assert len(store.table("establishments")) == 88


@pytest.mark.slow
def test_large_file_keeps_record_order_and_numbers(tmp_path: Path) -> None:
    # big enough for DuckDB to read and validate in parallel (several row groups)
    n = 400_000
    lines = [f"E{i},2022,C1,{i % 97},120.5,31.2" for i in range(n)]
    for i in range(1000, n, 50_000):
        lines[i] = lines[i] + ",extra"  # malformed
    for i in range(2000, n, 40_000):
        lines[i] = lines[i].replace(",C1,", ",,")  # missing industry
    path = tmp_path / "big.csv"
    path.write_text("企业代码,年份,行业代码,从业人数,经度,纬度\n" + "\n".join(lines) + "\n", encoding="utf-8")
    with Atlas.init(tmp_path / "p") as atlas:
        report = atlas.load(path, valid_industries=["C1"])
        assert report.rows_read == n
        ledger = atlas.ledger()
        expected = {i + 1 for i in range(1000, n, 50_000)} | {i + 1 for i in range(2000, n, 40_000)}
        assert set(ledger["row"]) == expected
        for row, original in zip(ledger["row"], ledger["original"], strict=True):
            assert f"E{row - 1}," in original or f'"E{row - 1}"' in original
        ids = atlas.query("SELECT est_id FROM establishments ORDER BY rowid")["est_id"]
        bad = {r - 1 for r in expected}
        assert ids.tolist() == [f"E{i}" for i in range(n) if i not in bad]


def test_drop_load_then_reload_a_changed_file(atlas: Atlas, tmp_path: Path) -> None:
    first = atlas.load(_file(tmp_path))
    changed = _file(tmp_path, CSV.replace("E1,2022,C1,10", "E1,2022,C1,11"), name="firms_v2.csv")
    report = atlas.load(changed)
    assert report.counts.set_index("reason").loc["duplicate_conflict", "count"] == 1
    assert atlas.drop_load(report.load_id) == 0
    assert atlas.drop_load(first.load_id) == 2
    assert atlas.table("establishments").empty and atlas.ledger().empty and atlas.loads().empty
    atlas.load(changed)
    assert atlas.table("establishments").set_index("est_id").loc["E1", "employment"] == 11
    with pytest.raises(StoreError, match="no load"):
        atlas.drop_load("nope")


def test_gbk_text_starting_after_the_sample_is_loaded_as_gbk(atlas: Atlas, tmp_path: Path) -> None:
    # the first megabyte is ASCII, so the file looks like UTF-8 until DuckDB meets the GBK bytes
    ascii_rows = "".join(f"E{i},firm,2022,C1,5,120.1,31.1\n" for i in range(40000))
    text = ("est_id,name,year,industry,employment,lon,lat\n" + ascii_rows
            + "E99999,苏州华新电子有限公司,2022,C1,5,120.1,31.1\n")
    path = _file(tmp_path, text, name="late_gbk.csv", encoding="gbk")
    report = atlas.load(path)
    assert report.encoding == "gb18030"
    assert (report.rows_read, report.accepted) == (40001, 40001)
    stored = atlas.table("establishments")
    assert stored["name"].iloc[-1] == "苏州华新电子有限公司"
    assert atlas.ledger().empty


def test_parquet_and_frames_load_like_csv(atlas: Atlas, tmp_path: Path) -> None:
    raw = pd.DataFrame({"企业代码": ["E1", " E2", "E3", "E4"], "年份": ["2022", "2022", "２０２２", "2022"],
                        "行业代码": ["C1", "C1", "C1", ""], "从业人数": ["10", "1,200", "abc", "3"]})
    path = tmp_path / "firms.parquet"
    raw.to_parquet(path)
    from_file = atlas.load(path)
    assert from_file.counts.set_index("reason")["count"].to_dict() == {
        "": 1, "thousands_separator": 1, "unparsable_number": 1, "missing_required": 1}
    other = Atlas.init(tmp_path / "other")
    try:
        from_frame = other.load(raw)
        pd.testing.assert_frame_equal(from_frame.counts, from_file.counts)
        pd.testing.assert_frame_equal(other.table("establishments"), atlas.table("establishments"))
    finally:
        other.close()


def test_digit_separators_in_a_file_are_not_numbers(atlas: Atlas, tmp_path: Path) -> None:
    # DuckDB's cast reads 1_000 as 1000; the rules do not. The first pass skips that test when
    # the file has no "_" at all, so a file that has one must still get it right.
    text = ("企业代码,企业名称,年份,行业代码,从业人数\n"
            "E1,甲_分厂,2022,C1,10\nE2,乙,2022,C1,1_000\nE3,丙,2_022,C1,5\nE4,丁,2022,C1,7\n")
    report = atlas.load(_file(tmp_path, text, name="underscores.csv"))
    assert (report.accepted, report.quarantined) == (2, 2)
    ledger = atlas.ledger().set_index("row")
    assert ledger.loc[[2, 3], "reason"].tolist() == ["unparsable_number"] * 2
    assert '"1_000" is not a number' in ledger.loc[2, "detail"]
    assert json.loads(ledger.loc[2, "original"]) == {
        "企业代码": "E2", "企业名称": "乙", "年份": "2022", "行业代码": "C1", "从业人数": "1_000"}
    stored = atlas.table("establishments")
    assert stored["est_id"].tolist() == ["E1", "E4"] and stored["name"].iloc[0] == "甲_分厂"


def test_a_store_with_text_load_ids_is_upgraded_when_opened(tmp_path: Path) -> None:
    # stores written before the per-row load id became an integer kept it as its hex text
    with Atlas.init(tmp_path / "p") as store:
        first = store.load(_file(tmp_path))
        for name in schema.TABLES:
            store.con.execute(f"ALTER TABLE {name} ALTER COLUMN _load_id SET DATA TYPE VARCHAR "
                              f"USING printf('%016x', _load_id)")
        assert store.query("SELECT DISTINCT _load_id FROM establishments")["_load_id"].tolist() == [first.load_id]
    with Atlas(tmp_path / "p") as store:
        types = store.query("SELECT DISTINCT data_type FROM duckdb_columns() WHERE column_name = '_load_id'")
        assert types["data_type"].tolist() == ["UBIGINT"]
        key = store.query("SELECT DISTINCT printf('%016x', _load_id) AS k FROM establishments")["k"]
        assert key.tolist() == [first.load_id]
        # the upgraded rows still belong to their load: a reload replaces them, a drop removes them
        again = store.load(_file(tmp_path))
        assert again.replaced and len(store.table("establishments")) == 2
        other = store.load(_file(tmp_path, CSV.replace("E1,", "E7,"), name="other.csv"))
        assert other.counts.set_index("reason").loc["exact_duplicate", "count"] == 1  # E2
        assert f"firms.csv (load {first.load_id})" in store.ledger(other.load_id)["detail"].str.cat()
        assert store.drop_load(first.load_id) == 2
        assert store.table("establishments")["est_id"].tolist() == ["E7"]


def test_a_file_without_coordinates_is_located_into_columns_it_lacks(atlas: Atlas, tmp_path: Path) -> None:
    # lon, lat and location_approx are not in the file: the located values still reach the store
    path = _file(tmp_path, "企业代码,年份,行业代码,行政区划代码\nE1,2022,C1,320505\nE2,2022,C1,999999\nE3,2022,C1,\n",
                 encoding="utf-8")

    def locate(rows: pd.DataFrame) -> pd.DataFrame:
        hit = rows["region_code"] == "320505"
        return pd.DataFrame({"_row": rows["_row"], "lon": hit.map({True: 120.57, False: None}),
                             "lat": hit.map({True: 31.30, False: None})})

    report = atlas.load(path, locate=locate)
    assert report.counts.set_index("reason")["count"].to_dict() == {
        "": 1, "located_approx": 1, "unresolved_location": 1}
    table = atlas.table("establishments").set_index("est_id")
    assert table.loc["E1", ["lon", "lat", "location_approx"]].tolist() == [120.57, 31.30, True]
    assert pd.isna(table.loc["E3", "lon"]) and pd.isna(table.loc["E3", "location_approx"])
