"""``clusteratlas geo resolve`` and ``geo regions``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from clusteratlas.cli import app

runner = CliRunner()


def test_resolve_names_to_csv(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["geo", "resolve", "江苏省大丰市新丰镇", "镇沅", "佛学", "--out", str(out)])
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
    assert frame["region_code"].tolist()[:2] == ["320904", "530825"]
    assert pd.isna(frame["region_code"].iloc[2])


def test_resolve_file_gb18030_with_column_and_hint(tmp_path: Path) -> None:
    src = tmp_path / "names.csv"
    src.write_bytes("id,地名\n1,朝阳区\n2,错那县\n".encode("gb18030"))
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["geo", "resolve", "--file", str(src), "--column", "地名",
                              "--hint", "北京", "--out", str(out)])
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
    assert frame["region_code"].tolist() == ["110105", "540581"]


def test_resolve_errors_are_one_line(tmp_path: Path) -> None:
    res = runner.invoke(app, ["geo", "resolve"])
    assert res.exit_code != 0
    src = tmp_path / "names.csv"
    src.write_text("name\n镇沅\n", encoding="utf-8")
    res = runner.invoke(app, ["geo", "resolve", "--file", str(src), "--column", "nope"])
    assert res.exit_code != 0 and "no column 'nope'" in str(res.exception)


def test_regions_level(tmp_path: Path) -> None:
    out = tmp_path / "prov.csv"
    res = runner.invoke(app, ["geo", "regions", "--level", "province", "--out", str(out)])
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(out, dtype={"region_code": str}, encoding="utf-8-sig")
    assert len(frame) == 34 and frame["macro_region"].notna().sum() == 31
