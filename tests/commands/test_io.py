from pathlib import Path

import pandas as pd
import pytest

from clusteratlas.commands._io import load_input, parse_floats, read_frame, write_frame
from clusteratlas.errors import InputError


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_written_tables_read_back_with_codes_as_text(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame({"region": ["010100", "320904"], "名称": ["甲", "大丰区"], "lq": [1.5, 0.25]})
    out = tmp_path / f"out{suffix}"
    write_frame(frame, out, "cells")
    back = read_frame(out, ["region"])
    assert back["region"].tolist() == ["010100", "320904"]  # leading zero kept
    assert back["名称"].tolist() == ["甲", "大丰区"]
    assert back["lq"].tolist() == [1.5, 0.25]


def test_gb18030_csv_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("地区,从业人数\n盐城市,12\n".encode("gb18030"))
    assert read_frame(path).columns.tolist() == ["地区", "从业人数"]


def test_unknown_output_type_and_bad_numbers_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\.json.*expected one of \.csv, \.parquet, \.xlsx"):
        write_frame(pd.DataFrame({"a": [1]}), tmp_path / "x.json")
    with pytest.raises(InputError, match="--r: expected comma-separated numbers, got '0,five'"):
        parse_floats("0,five", "--r")
    assert parse_floats("0, 5,10", "--r") == [0.0, 5.0, 10.0]
    assert parse_floats(None, "--r") is None


def test_exactly_one_source(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="exactly one of --input FILE or --project DIR"):
        load_input(None, None)
    with pytest.raises(InputError, match="no such file"):
        load_input(tmp_path / "missing.csv", None)
