from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

import pandas as pd
import pytest

from clusteratlas.errors import InputError
from clusteratlas.ingest import detect_encoding, read_table, readers
from clusteratlas.ingest.readers import read_raw

from .conftest import HEADER_ZH, ROWS_ZH

TEXT = HEADER_ZH + ROWS_ZH


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030"), ("gbk", "gb18030"),
     ("gb2312", "gb18030")],
)
def test_each_encoding_is_detected_and_decoded(write, encoding: str, expected: str) -> None:
    path = write(f"firms_{encoding}.csv", TEXT, encoding)
    assert detect_encoding(path) == expected
    frame = read_table(path)
    assert frame["name"].tolist() == ["苏州华新电子有限公司", "苏州瑞达机械有限公司"]
    assert frame["est_id"].tolist() == ["E1", "E2"]
    # the BOM does not leak into the first header
    assert "企业代码" not in frame.columns and "\ufeff企业代码" not in frame.columns


def test_gb18030_only_characters_survive(write) -> None:
    # 𠀀 (U+20000) exists in GB18030 but not in GBK: four-byte sequences must decode
    path = write("rare.csv", "企业代码,企业名称,年份,行业代码\nE1,𠀀记,2022,C1\n", "gb18030")
    assert read_table(path)["name"].tolist() == ["𠀀记"]


def test_values_stay_text_and_rows_are_numbered(write) -> None:
    frame = read_table(write("f.csv", TEXT))
    assert str(frame["employment"].dtype) == "string"
    assert frame["employment"].tolist() == ["120", "35"]
    assert frame["_row"].tolist() == [1, 2]
    assert frame["_malformed"].isna().all()


def test_tsv_and_semicolon_delimiters(write) -> None:
    tsv = write("f.tsv", TEXT.replace(",", "\t"))
    semi = write("f.csv", TEXT.replace(",", ";"))
    for path in (tsv, semi):
        assert read_table(path)["lat"].tolist() == ["31.30", "31.27"]


def test_excel_input_with_chinese_headers(tmp_path: Path) -> None:
    path = tmp_path / "firms.xlsx"
    pd.DataFrame({"企业代码": ["E1", "E2"], "年份": [2022, 2022], "行业代码": ["C3971", "C3562"],
                  "从业人数（人）": [120, 35.5], "成立时间": [pd.Timestamp("2011-05-03"), None]}
                 ).to_excel(path, index=False)
    frame = read_table(path)
    assert frame["est_id"].tolist() == ["E1", "E2"]
    assert frame["employment"].tolist() == ["120", "35.5"]
    assert frame["founded"].iloc[0].startswith("2011-05-03")
    assert pd.isna(frame["founded"].iloc[1])


def test_parquet_input_is_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "firms.parquet"
    pd.DataFrame({"est_id": ["E1"], "year": [2022], "industry": ["C1"], "lon": [120.5]}).to_parquet(path)
    frame = read_table(path)
    assert frame[["year", "lon"]].iloc[0].tolist() == ["2022", "120.5"]


def test_malformed_records_are_kept_with_their_line(write) -> None:
    text = HEADER_ZH + "E1,甲,2022,C1,5,120.1,31.1\nE2,乙,2022,C1,5,120.1\nE3,丙,2022,C1,5,120.1,31.1,多\nE4,丁,2022,C1,5,120.1,31.1\n"
    frame, _ = read_raw(write("m.csv", text, "gb18030"))
    assert frame["_row"].tolist() == [1, 2, 3, 4]
    assert frame["_malformed"].notna().tolist() == [False, True, True, False]
    assert frame.loc[frame["_row"] == 2, "_malformed"].item() == "E2,乙,2022,C1,5,120.1"
    assert frame.loc[frame["_row"] == 4, "企业代码"].item() == "E4"


def test_empty_file_is_a_clear_error(write) -> None:
    with pytest.raises(InputError, match="empty"):
        read_table(write("empty.csv", ""))


def test_header_only_file_is_a_clear_error(write) -> None:
    with pytest.raises(InputError, match="no data rows"):
        read_table(write("header.csv", HEADER_ZH))


def test_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.csv"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(InputError, match="binary or corrupt"):
        read_table(path)


def test_unknown_encoding_is_a_clear_error(write) -> None:
    # Latin-1 text: invalid as UTF-8 and as GB18030
    path = write("latin.csv", "est_id,year,industry,name\nE1,2022,C1,Caf\xe9 du March\xe9\n", "latin-1")
    with pytest.raises(InputError, match="cannot decode as UTF-8 or GB18030"):
        read_table(path)


def test_utf16_is_named(write) -> None:
    with pytest.raises(InputError, match="UTF-16"):
        read_table(write("u16.csv", TEXT, "utf-16"))


def test_corruption_beyond_the_sample_names_the_byte(tmp_path: Path) -> None:
    body = ("E1,苏州华新电子有限公司,2022,C3971,120,120.61,31.30\n" * 30000).encode("gb18030")
    path = tmp_path / "late.csv"
    path.write_bytes(HEADER_ZH.encode("gb18030") + body + b"E9,\x81\x20,2022,C1,1,1,1\n")
    assert len(body) > 1 << 20  # past the sample that chose the encoding
    with pytest.raises(InputError, match=r"byte \d+ is not valid GB18030"):
        read_table(path)


def test_corrupt_excel_and_parquet(tmp_path: Path) -> None:
    for name in ("broken.xlsx", "broken.parquet"):
        path = tmp_path / name
        path.write_bytes(b"PK\x03\x04 this is not really a zip or parquet file" * 10)
        with pytest.raises(InputError, match="not a readable"):
            read_table(path)


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{}")
    with pytest.raises(InputError, match="unsupported file type"):
        read_table(tmp_path / "a.json")
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "nope.csv")


def test_encoding_override(write) -> None:
    path = write("f.csv", TEXT, "gbk")
    assert read_table(path, encoding="gbk")["name"].iloc[0] == "苏州华新电子有限公司"
    assert codecs.lookup("gbk")


def test_utf8_file_with_a_bad_byte_quarantines_that_record(tmp_path: Path) -> None:
    # a stray byte deep inside a UTF-8 file costs that record, not the file
    head = (HEADER_ZH + ROWS_ZH * 40000).encode("utf-8")
    path = tmp_path / "stray.csv"
    path.write_bytes(head + b"E9,bad\xff,2022,C1,1,120.1,31.1\nE10,ok,2022,C1,1,120.1,31.1\n")
    frame, _ = read_raw(path)
    assert len(frame) == 80002
    bad = frame[frame["_malformed"].notna()]
    assert bad["_row"].tolist() == [80001]
    assert frame.loc[frame["_row"] == 80002, "企业代码"].item() == "E10"


@pytest.mark.parametrize("pattern", ["GBBGG", "BBBBG", "GBGBGB", "GGGGB", "BGGGBBG"])
def test_record_numbers_around_malformed_records(write, pattern: str) -> None:
    lines = [f"E{i},n,2022,C1,5,120.1,31.1" + (",extra" if kind == "B" else "")
             for i, kind in enumerate(pattern, start=1)]
    frame, _ = read_raw(write("p.csv", HEADER_ZH + "\n".join(lines) + "\n"))
    frame = frame.sort_values("_row")
    assert frame["_row"].tolist() == list(range(1, len(pattern) + 1))
    assert "".join("B" if m else "G" for m in frame["_malformed"].notna()) == pattern
    good = frame[frame["_malformed"].isna()]
    assert good["企业代码"].tolist() == [f"E{r}" for r in good["_row"]]


def test_a_source_column_called_rowid_does_not_shadow_record_numbers(write) -> None:
    frame, info = read_raw(write("r.csv", "rowid,est_id,year,industry\n9,E1,2022,C1\n7,E2,2022,C1\n"))
    assert frame["_row"].tolist() == [1, 2]
    assert frame["rowid_source"].tolist() == ["9", "7"]
    assert "rowid_source" in info.columns


def test_gbk_text_that_starts_after_the_sample_is_still_read_as_gbk(tmp_path: Path) -> None:
    ascii_rows = "".join(f"E{i},firm,2022,C1,5,120.1,31.1\n" for i in range(40000))
    assert len(ascii_rows) > 1 << 20  # the sample that chooses the encoding is all ASCII
    text = "est_id,name,year,industry,employment,lon,lat\n" + ascii_rows + "E99999,苏州华新电子有限公司,2022,C1,5,120.1,31.1\n"
    path = tmp_path / "late_gbk.csv"
    path.write_bytes(text.encode("gbk"))
    assert len(text.encode("gbk")) > 1 << 20
    frame, info = read_raw(path)
    assert info.encoding == "gb18030"
    assert frame["_malformed"].isna().all()
    assert frame["name"].iloc[-1] == "苏州华新电子有限公司"


def test_awkward_header_names(write) -> None:
    text = 'est_id,year,industry,"say ""hi""",a b\nE1,2022,C1,x,y\nE2,2022,C1,x,y,z\n'
    frame, info = read_raw(write("q.csv", text))
    assert info.columns == ["est_id", "year", "industry", 'say "hi"', "a b"]
    assert frame['say "hi"'].tolist()[0] == "x"
    assert frame["_malformed"].notna().tolist() == [False, True]


def test_large_gb18030_files_are_transcoded_in_ranges_by_several_processes(tmp_path: Path,
                                                                          monkeypatch) -> None:
    # the codec path (taken when the compiled kernel meets a sequence it does not decode)
    monkeypatch.setattr(readers, "_compiled_gb18030_copy", lambda *args: False)
    monkeypatch.setattr(readers, "_PARALLEL_BYTES", 0)
    monkeypatch.setattr(readers.os, "cpu_count", lambda: 3)
    rows = "".join(f"E{i},苏州华新电子有限公司𠀀,2022,C3971,{i},120.61,31.30\n" for i in range(5000))
    text = HEADER_ZH + rows
    path = tmp_path / "big_gb.csv"
    path.write_bytes(text.encode("gb18030"))
    assert len(readers._split_points(path, path.stat().st_size, 3)) == 4
    with readers.utf8_copy(path, "gb18030") as utf8:
        assert utf8.read_bytes() == text.encode("utf-8")
    assert not utf8.exists()
    frame, info = read_raw(path)
    assert info.encoding == "gb18030" and len(frame) == 5000
    assert frame["企业名称"].iloc[-1] == "苏州华新电子有限公司𠀀"


def test_corruption_in_a_later_range_names_its_byte(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(readers, "_PARALLEL_BYTES", 0)
    monkeypatch.setattr(readers.os, "cpu_count", lambda: 2)
    head = (HEADER_ZH + ROWS_ZH * 2000).encode("gb18030")
    path = tmp_path / "late_bad.csv"
    path.write_bytes(head + b"E9,\x81\x20,2022,C1,1,1,1\n")
    offset = len(head) + 3
    with pytest.raises(InputError, match=rf"byte {offset} is not valid GB18030"):
        read_raw(path, encoding="gb18030")


def _every_gb18030_sequence() -> list[bytes]:
    seqs = [bytes((a, b)) for a in range(0x81, 0xFF) for b in range(0x40, 0xFF) if b != 0x7F]
    seqs += [bytes((a, b, c, d)) for a in range(0x81, 0x85) for b in range(0x30, 0x3A)
             for c in range(0x81, 0xFF) for d in range(0x30, 0x3A)]
    seqs += [bytes((a, b, c, d)) for a in range(0x90, 0xE4) for b in range(0x30, 0x3A)
             for c in range(0x81, 0xFF, 5) for d in range(0x30, 0x3A)]
    valid = []
    for seq in seqs:
        try:
            seq.decode("gb18030")
        except UnicodeDecodeError:
            continue
        valid.append(seq)
    return valid


def test_compiled_gb18030_kernel_decodes_as_pythons_codec(tmp_path: Path, monkeypatch) -> None:
    valid = _every_gb18030_sequence()
    assert len(valid) > 60000
    data = b"id,text\n" + b"".join(b"%d,%s\n" % (i, seq) for i, seq in enumerate(valid))
    path = tmp_path / "every.csv"
    path.write_bytes(data)
    used = []
    kernel = readers._compiled_gb18030_copy
    monkeypatch.setattr(readers, "_compiled_gb18030_copy", lambda *a: used.append(kernel(*a)) or used[-1])
    monkeypatch.setattr(readers, "_CHUNK_BYTES", 1 << 16)  # many chunks, cut at line ends
    with readers.utf8_copy(path, "gb18030") as utf8:
        assert utf8.read_bytes() == data.decode("gb18030").encode("utf-8")
    assert used == [True]


@pytest.mark.parametrize("tail", [b"\x81\x20", b"\x80", b"\xff", b"\x84\x31\xa5\x30", b"\x85\x30\x81\x30",
                                  b"\xe3\x32\x9a\x36", b"\x81"])
def test_sequences_the_kernel_does_not_decode_go_to_the_codec(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(HEADER_ZH.encode("gb18030") + b"E9," + tail + b",2022,C1,1,1,1\n")
    with pytest.raises(InputError, match=r"byte 5\d is not valid GB18030"):
        read_raw(path, encoding="gb18030")


def test_the_utf8_copy_goes_to_memory_when_there_is_room_else_to_the_temp_folder(
        tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "gb.csv"
    path.write_bytes(TEXT.encode("gb18030"))
    monkeypatch.setattr(readers, "_SHM", str(tmp_path))  # a folder with room, standing in
    with readers.utf8_copy(path, "gb18030") as utf8:
        assert utf8.parent == tmp_path and utf8.read_text("utf-8") == TEXT
    assert not utf8.exists()
    monkeypatch.setattr(readers, "_SHM", str(tmp_path / "missing"))
    assert readers._scratch_dir(1000) is None
    with readers.utf8_copy(path, "gb18030") as utf8:
        assert utf8.parent != tmp_path and utf8.read_text("utf-8") == TEXT
    assert not utf8.exists()


@pytest.mark.parametrize(("extra", "expected"), [("", False), ("E9,1_000,2022,C1,1,1,1\n", True)])
def test_the_gb18030_copy_tells_whether_its_text_has_an_underscore(
        tmp_path: Path, monkeypatch, extra: str, expected: bool) -> None:
    # 乢 is 0x81 0x5F in GB18030: the source's bytes hold "_" where the text has none
    text = HEADER_ZH + "".join(f"E{i},乢华新,2022,C3971,120,120.61,31.30\n" for i in range(3000)) + extra
    path = tmp_path / "gb.csv"
    path.write_bytes(text.encode("gb18030"))
    assert b"_" in path.read_bytes()
    monkeypatch.setattr(readers, "_CHUNK_BYTES", 1 << 12)  # many chunks
    found: dict[str, bool | str] = {}
    with readers.utf8_copy(path, "gb18030", found=found) as utf8:
        assert utf8.read_text("utf-8") == text
    # the source's bytes are hashed on the way, across the many chunks and their carried tails
    assert found == {"underscore": expected, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


@pytest.mark.parametrize("cut", [0, 1])
def test_a_line_longer_than_a_chunk_is_transcoded_whole(tmp_path: Path, monkeypatch, cut: int) -> None:
    # the chunk ends inside the long line: between two characters (the kernel goes on) or
    # inside one (the kernel stops there and Python's codec transcodes the file)
    long_name = "x" * cut + "苏州华新电子有限公司" * 400
    text = HEADER_ZH + "E1,短,2022,C1,1,1,1\n" + f"E2,{long_name},2022,C1,1,1,1\n" + "E3,短,2022,C1,1,1,1\n"
    path = tmp_path / "long.csv"
    path.write_bytes(text.encode("gb18030"))
    monkeypatch.setattr(readers, "_CHUNK_BYTES", 1 << 12)
    used: list[bool] = []
    kernel = readers._compiled_gb18030_copy
    monkeypatch.setattr(readers, "_compiled_gb18030_copy", lambda *a: used.append(kernel(*a)) or used[-1])
    with readers.utf8_copy(path, "gb18030") as utf8:
        assert utf8.read_text("utf-8") == text
    # the first chunk ends after the first line, the second 4096 bytes into the long line
    between = (4096 - len("E2,") - cut) % 2 == 0  # the long name's characters take two bytes each
    assert used == [between]


def test_a_file_that_cannot_be_mapped_is_transcoded_by_the_codec(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "gb.csv"
    path.write_bytes(TEXT.encode("gb18030"))

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("mmap not supported here")

    monkeypatch.setattr(readers.mmap, "mmap", refuse)
    found: dict[str, bool | str] = {}
    with readers.utf8_copy(path, "gb18030", found=found) as utf8:
        assert utf8.read_text("utf-8") == TEXT
    assert "sha256" not in found  # the store then hashes the file itself


def test_without_the_compiled_kernel_the_codec_transcodes(tmp_path: Path, monkeypatch) -> None:
    # llvmlite failing to compile (say, an unknown CPU) must not stop a GB18030 load
    from clusteratlas.ingest import gb18030_kernel

    def fail() -> None:
        raise RuntimeError("no target for this CPU")

    monkeypatch.setattr(gb18030_kernel, "prepare", fail)
    path = tmp_path / "gb.csv"
    path.write_bytes(TEXT.encode("gb18030"))
    with readers.utf8_copy(path, "gb18030") as utf8:
        assert utf8.read_text("utf-8") == TEXT
