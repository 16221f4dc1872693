from __future__ import annotations

from pathlib import Path

import pytest

from clusteratlas.errors import InputError
from clusteratlas.ingest import load_mapping_file, parse_map_options, resolve_columns
from clusteratlas.ingest.mapping import normalise_header


def test_chinese_headers_map_to_canonical_names() -> None:
    cols = ["企业名称", "统一社会信用代码", "年份", "行业代码", "从业人数", "经度", "纬度", "营业收入",
            "出口交货值", "成立时间", "地址", "行政区划代码"]
    assert resolve_columns(cols) == {
        "企业名称": "name", "统一社会信用代码": "est_id", "年份": "year", "行业代码": "industry",
        "从业人数": "employment", "经度": "lon", "纬度": "lat", "营业收入": "output",
        "出口交货值": "exports", "成立时间": "founded", "地址": "address", "行政区划代码": "region_code",
    }


@pytest.mark.parametrize(
    ("header", "key"),
    [("从业人数（人）", "从业人数"), ("营业收入(万元)", "营业收入"), ("Employment ", "employment"),
     ("EST_ID", "estid"), ("ｅｓｔ＿ｉｄ", "estid"), ("\ufeff企业代码", "企业代码")],
)
def test_header_normalisation(header: str, key: str) -> None:
    assert normalise_header(header) == key


def test_explicit_mapping_wins_over_aliases() -> None:
    cols = ["firm", "yr", "sector", "employees", "从业人数"]
    got = resolve_columns(cols, mapping={"firm": "est_id", "yr": "year", "sector": "industry",
                                         "从业人数": "employment"})
    assert got["从业人数"] == "employment"
    assert "employees" not in got  # the explicit choice leaves the alias unused


def test_two_columns_for_one_target_is_an_error() -> None:
    with pytest.raises(InputError, match=r"both map to establishments.output"):
        resolve_columns(["est_id", "year", "industry", "营业收入", "主营业务收入"])


def test_missing_required_column_is_an_error_naming_it() -> None:
    with pytest.raises(InputError, match=r"required column\(s\) industry not found"):
        resolve_columns(["est_id", "year", "employment"])


def test_mapping_to_an_unknown_column_is_an_error() -> None:
    with pytest.raises(InputError, match="'staff' is not a column of establishments"):
        resolve_columns(["est_id", "year", "industry", "x"], mapping={"x": "staff"})
    with pytest.raises(InputError, match="the file has no column 'nope'"):
        resolve_columns(["est_id", "year", "industry"], mapping={"nope": "employment"})


def test_parse_map_options() -> None:
    assert parse_map_options(["employees=employment", " 单位 = name "]) == {
        "employees": "employment", "单位": "name"}
    with pytest.raises(InputError, match="SOURCE=CANONICAL"):
        parse_map_options(["employees"])


def test_yaml_mapping_file_both_forms(tmp_path: Path) -> None:
    flat = tmp_path / "flat.yaml"
    flat.write_text("employees: employment\n企业: name\n", encoding="utf-8")
    nested = tmp_path / "nested.yaml"
    nested.write_text("columns:\n  employees: employment\n", encoding="utf-8")
    assert load_mapping_file(flat) == {"employees": "employment", "企业": "name"}
    assert load_mapping_file(nested) == {"employees": "employment"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(InputError, match="expected a mapping"):
        load_mapping_file(bad)
    with pytest.raises(InputError, match="not found"):
        load_mapping_file(tmp_path / "missing.yaml")
