"""``clusteratlas measure kdensity`` end to end on a small planar file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from clusteratlas.cli import app


def test_kdensity_command(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n = 300
    df = pd.DataFrame({"sector": rng.choice(["s1", "s2"], n), "x": rng.uniform(0, 50, n),
                       "y": rng.uniform(0, 50, n), "employees": rng.integers(1, 100, n)})
    df.loc[:39, "sector"] = "s3"
    df.loc[:39, ["x", "y"]] = rng.normal(20, 1, (40, 2))
    src, out = tmp_path / "plants.csv", tmp_path / "kd.csv"
    df.to_csv(src, index=False)
    res = CliRunner().invoke(app, ["measure", "kdensity", "--input", str(src), "--x", "x", "--y", "y",
                                   "--planar", "--industry", "sector", "--weight", "employees",
                                   "--r", "0,5,10,20", "--sims", "50", "--seed", "1",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    kd = pd.read_csv(out)
    assert list(kd.columns) == ["industry", "distance", "kd", "local_lo", "local_hi", "global_lo",
                                "global_hi", "localised", "dispersed"]
    assert len(kd) == 12 and set(kd.industry) == {"s1", "s2", "s3"}
    assert bool(kd.query("industry == 's3' and distance == 0").localised.iloc[0])
    bad = CliRunner().invoke(app, ["measure", "kdensity", "--input", str(src), "--industry", "sector"])
    assert bad.exit_code != 0


def test_kdensity_command_shared_and_independent_draws(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    n = 400
    df = pd.DataFrame({"sector": rng.choice(["s1", "s2"], n), "x": rng.uniform(0, 50, n),
                       "y": rng.uniform(0, 50, n)})
    df.loc[:59, "sector"] = "s3"
    df.loc[:59, ["x", "y"]] = rng.normal(20, 1, (60, 2))
    src = tmp_path / "plants.csv"
    df.to_csv(src, index=False)
    found = {}
    for flag in ([], ["--independent-draws"]):
        out = tmp_path / f"idx{len(flag)}.csv"
        res = CliRunner().invoke(app, ["measure", "kdensity", "--input", str(src), "--x", "x",
                                       "--y", "y", "--planar", "--industry", "sector", "--sims",
                                       "60", "--seed", "2", "--indices-out", str(out), *flag])
        assert res.exit_code == 0, res.output
        assert ("shared ordered draws" in res.output) == (not flag)
        found[len(flag)] = pd.read_csv(out).set_index("industry")["localised"]
    assert found[0]["s3"] and found[1]["s3"]
