"""``clusteratlas measure specialisation|eg|coagglomeration`` over files and the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from clusteratlas.cli import app
from clusteratlas.errors import InputError
from clusteratlas.measure import coagglomeration, ellison_glaeser, specialisation

DATA = Path(__file__).parent / "data"
PLANTS = DATA / "random_plants.csv"
runner = CliRunner()


def _run(*args: str) -> None:
    result = runner.invoke(app, ["measure", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output


def test_specialisation_csv(tmp_path: Path) -> None:
    out = tmp_path / "lq.csv"
    _run("specialisation", "--input", str(PLANTS), "--out", str(out))
    table = pd.read_csv(out)
    assert list(table.columns) == ["region", "industry", "value", "share_in_region",
                                   "share_of_industry", "lq"]
    expected = specialisation(pd.read_csv(PLANTS)).table
    np.testing.assert_allclose(table["lq"], expected["lq"])
    out_ind = tmp_path / "ind.parquet"
    _run("specialisation", "--input", str(PLANTS), "--by", "industry", "--out", str(out_ind))
    assert "locational_gini" in pd.read_parquet(out_ind).columns


def test_specialisation_reference_and_level(tmp_path: Path) -> None:
    data = pd.DataFrame({"code": ["320583", "320585", "320506", "321002"],
                         "sector": ["C39", "C38", "C39", "C38"], "jobs": [10, 5, 7, 3]})
    data.to_csv(tmp_path / "agg.csv", index=False)
    pd.DataFrame({"industry": ["C38", "C39", "C40"], "value": [100, 50, 50]}).to_csv(
        tmp_path / "nation.csv", index=False)
    out = tmp_path / "lq.csv"
    _run("specialisation", "--input", str(tmp_path / "agg.csv"), "--region", "code",
         "--industry", "sector", "--weight", "jobs", "--level", "prefecture",
         "--reference", str(tmp_path / "nation.csv"), "--out", str(out))
    table = pd.read_csv(out, dtype={"region": str}).set_index(["region", "industry"])
    # 320500: C39 = 17, C38 = 5, total 22; national C39 share 50/200 → LQ = (17/22)/0.25
    assert table.loc[("320500", "C39"), "lq"] == pytest.approx((17 / 22) / 0.25)


def test_eg_and_coagglomeration(tmp_path: Path) -> None:
    plants = pd.read_csv(PLANTS)
    out = tmp_path / "eg.csv"
    _run("eg", "--input", str(PLANTS), "--out", str(out))
    table = pd.read_csv(out)
    np.testing.assert_allclose(table["gamma"], ellison_glaeser(plants).table["gamma"])
    assert {"gamma", "G", "H", "z", "p_value", "significant"} <= set(table.columns)
    _run("eg", "--input", str(PLANTS), "--ms", "--out", str(out))
    assert "gamma_ms" in pd.read_csv(out).columns
    out_c = tmp_path / "co.csv"
    _run("coagglomeration", "--input", str(PLANTS), "--industries", "A,B,E", "--out", str(out_c))
    co = pd.read_csv(out_c)
    assert len(co) == 3
    np.testing.assert_allclose(co["gamma_c"],
                               coagglomeration(plants, ["A", "B", "E"]).table["gamma_c"])


def test_errors_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="exactly one of --input"):
        _run("eg")
    with pytest.raises(InputError, match="missing column"):
        _run("eg", "--input", str(PLANTS), "--weight", "jobs")
    with pytest.raises(InputError, match=r"expected one of \.csv, \.parquet, \.xlsx"):
        _run("specialisation", "--input", str(PLANTS), "--out", str(tmp_path / "x.json"))


def test_project_store(tmp_path: Path) -> None:
    from clusteratlas.store import Atlas

    plants = pd.read_csv(PLANTS).assign(year=2023)
    with Atlas.init(tmp_path / "proj") as atlas:
        atlas.load(plants, table="establishments")
    out = tmp_path / "eg.csv"
    _run("eg", "--project", str(tmp_path / "proj"), "--out", str(out))
    np.testing.assert_allclose(pd.read_csv(out)["gamma"],
                               ellison_glaeser(plants).table["gamma"], rtol=1e-12)
