from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from clusteratlas.cli import app
from clusteratlas.ingest.sample import SAMPLE_ESTABLISHMENTS
from clusteratlas.store import Atlas

runner = CliRunner()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point (``python -m clusteratlas``), as a user runs it."""
    env = {**os.environ, "COLUMNS": "200", "CLUSTERATLAS_PROGRESS": "0"}
    return subprocess.run([sys.executable, "-m", "clusteratlas", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_init_ingest_quarantine_export(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    result = runner.invoke(app, ["init", str(proj)])
    assert result.exit_code == 0, result.output
    assert (proj / "atlas.duckdb").exists()

    mapping = tmp_path / "map.yaml"
    mapping.write_text("columns:\n  出口交货值: exports\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(SAMPLE_ESTABLISHMENTS), "--table", "establishments",
                                 "--project", str(proj), "--mapping-file", str(mapping),
                                 "--map", "企业名称=name"])
    assert result.exit_code == 0, result.output
    assert "duplicate_conflict" in result.output and "thousands_separator" in result.output
    assert "accepted 78" in result.output and "quarantined 14" in result.output

    result = runner.invoke(app, ["quarantine", "--project", str(proj)])
    assert result.exit_code == 0, result.output
    assert "malformed_row" in result.output and "14 rows" in result.output

    ledger = tmp_path / "ledger.xlsx"
    result = runner.invoke(app, ["quarantine", "--project", str(proj), "--export", str(ledger)])
    assert result.exit_code == 0, result.output
    assert len(pd.read_excel(ledger)) == 24  # 10 corrected + 14 quarantined

    out = tmp_path / "est.parquet"
    result = runner.invoke(app, ["export", "establishments", "--out", str(out), "--project", str(proj)])
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(out)) == 88

    # idempotent through the CLI too
    result = runner.invoke(app, ["ingest", str(SAMPLE_ESTABLISHMENTS), "--project", str(proj)])
    assert "replaced" in result.output
    with Atlas(proj) as atlas:
        assert len(atlas.table("establishments")) == 88


def test_industries_and_regions_files(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    runner.invoke(app, ["init", str(proj)])
    industries = tmp_path / "industries.txt"
    industries.write_text("C3971\nC3562\nC2710\nC3670\nC3982\n", encoding="utf-8")
    regions = tmp_path / "regions.csv"
    regions.write_text("region_code,name\n320505,虎丘区\n320506,吴中区\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(SAMPLE_ESTABLISHMENTS), "-p", str(proj),
                                 "--industries", str(industries), "--regions", str(regions)])
    assert result.exit_code == 0, result.output
    assert "unknown_region" in result.output and "unknown_industry" not in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "file is empty"),
     (bytes(range(256)) * 8, "binary or corrupt"),
     ("name,city\nCaf\xe9,Z\xfcrich\n".encode("latin-1"), "cannot decode as UTF-8 or GB18030")],
)
def test_unreadable_files_give_one_clear_line(tmp_path: Path, content: bytes, message: str) -> None:
    Atlas.init(tmp_path / "p").close()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    result = run("ingest", str(bad), "--project", str(tmp_path / "p"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:") and message in lines[0]


def test_missing_store_and_bad_mapping_are_clear_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", str(SAMPLE_ESTABLISHMENTS), "-p", str(tmp_path / "none")])
    assert result.exit_code != 0
    assert "no Atlas store" in str(result.exception)
    runner.invoke(app, ["init", str(tmp_path / "p")])
    result = runner.invoke(app, ["ingest", str(SAMPLE_ESTABLISHMENTS), "-p", str(tmp_path / "p"),
                                 "--map", "企业名称"])
    assert "SOURCE=CANONICAL" in str(result.exception)


def test_rows_without_coordinates_are_located_from_the_gazetteer(tmp_path: Path) -> None:
    from clusteratlas.geo import regions

    proj = tmp_path / "proj"
    runner.invoke(app, ["init", str(proj)])
    firms = tmp_path / "firms.csv"
    firms.write_text(
        "企业代码,年份,行业代码,行政区划代码,地址,经度,纬度\n"
        "A,2022,C1,320505,,,\n"                        # code -> its seat point
        "B,2022,C1,,江苏省苏州市吴中区科技路5号,,\n"     # address -> 吴中区
        "C,2022,C1,320982,,,\n"                        # former code (大丰市) -> 大丰区
        "D,2022,C1,,火星基地,,\n"                       # not a place
        "E,2022,C1,,朝阳区,,\n"                         # ambiguous (Beijing or Changchun)
        "F,2022,C1,320505,,120.6,31.3\n",              # has coordinates: untouched
        encoding="utf-8")
    result = runner.invoke(app, ["ingest", str(firms), "-p", str(proj)])
    assert result.exit_code == 0, result.output
    seats = regions().set_index("region_code")
    with Atlas(proj) as atlas:
        table = atlas.table("establishments").set_index("est_id")
        ledger = atlas.ledger().set_index("row")
    assert list(table.index) == ["A", "B", "C", "F"]
    for est, code in (("A", "320505"), ("B", "320506"), ("C", "320904")):
        assert (table.loc[est, "lon"], table.loc[est, "lat"]) == (seats.loc[code, "lon"], seats.loc[code, "lat"])
        assert table.loc[est, "location_approx"]
    assert table.loc["C", "region_code"] == "320904"  # former code mapped forward, with a note
    assert "320982" in ledger.loc[3, "detail"] and "320904" in ledger.loc[3, "detail"]
    assert ledger.loc[1, "reason"] == "located_approx" and ledger.loc[1, "status"] == "corrected"
    assert ledger.loc[4, "reason"] == ledger.loc[5, "reason"] == "unresolved_location"
    assert "ambiguous" in ledger.loc[5, "detail"]
    # the ledger keeps the source's values: B had no region code (the one found is in the table)
    assert json.loads(ledger.loc[2, "original"])["行政区划代码"] is None
    assert json.loads(ledger.loc[3, "original"])["行政区划代码"] == "320982"
    assert pd.isna(table.loc["F", "location_approx"]) and table.loc["F", "lon"] == 120.6

    result = runner.invoke(app, ["ingest", str(firms), "-p", str(proj), "--no-locate"])
    assert "accepted 6" in result.output


def test_loads_list_and_drop(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    runner.invoke(app, ["init", str(proj)])
    runner.invoke(app, ["ingest", str(SAMPLE_ESTABLISHMENTS), "-p", str(proj)])
    with Atlas(proj) as atlas:
        load_id = atlas.loads()["load_id"].item()
    result = runner.invoke(app, ["loads", "-p", str(proj)])
    assert result.exit_code == 0 and load_id in result.output
    result = runner.invoke(app, ["loads", "-p", str(proj), "--drop", load_id])
    assert result.exit_code == 0 and "88 rows removed" in result.output
