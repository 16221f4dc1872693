"""The end-to-end demo: store contents, outputs, CLI; the full run and its scores are slow tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from clusteratlas.cli import app
from clusteratlas.demo.run import STAGES, run_demo
from clusteratlas.errors import InputError


def test_generate_and_ingest_fill_the_store_and_a_rerun_replaces_it(tmp_path: Path) -> None:
    from clusteratlas.store import Atlas

    run_demo("small", tmp_path, seed=1, show_progress=False, stages=[])
    ctx = run_demo("small", tmp_path, seed=3, show_progress=False, stages=[])
    assert not ctx.errors
    with Atlas(tmp_path / "atlas") as atlas:
        for name, frame in ctx.economy.tables().items():
            stored = atlas.table(name)
            assert len(stored) == len(frame), name
        # Nothing quarantined: the second run's keys did not collide with the first run's.
        assert len(atlas.ledger()) == 0
        truth = atlas.table("planted_clusters")
    assert set(truth["kind"]) == {"national", "sme_featured", "colocated_pair", "innovation_hub",
                                  "dispersed"}
    assert (tmp_path / "data" / "planted_clusters.csv").exists()
    assert pd.read_parquet(tmp_path / "data" / "establishments.parquet").shape[0] == len(
        ctx.economy.establishments)


def test_unknown_stage_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown"):
        run_demo("small", tmp_path, stages=["measure: nonsense"])


def test_cli_rejects_a_bad_scale(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--scale", "tiny", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "scale" in str(result.exception) or "scale" in result.output


@pytest.mark.slow
def test_full_demo_scores_the_planted_truth(tmp_path: Path) -> None:
    """The whole small demo via the CLI; every stage runs and recovers what was planted.

    Thresholds: the hub ranking and the K-density contrast are sharp by construction (planted
    hubs hold 65-70% of documents; planted industries have 10-60% of plants within ~12 km);
    region x industry flags also fire on background noise cells, so only their recall is held to
    a high bar.
    """
    result = CliRunner().invoke(app, ["demo", "--scale", "small", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(tmp_path / "results" / "demo_scores.csv").set_index("method")
    assert len(scores) >= len(STAGES) - 3
    assert not (tmp_path / "errors.log").exists()
    assert scores.loc["GII density clusters (top N)", "recall"] >= 0.7
    assert scores.loc["Duranton–Overman K-density (localised)", "recall"] == 1.0
    assert scores.loc["Ellison–Glaeser γ (significant, > 0)", "precision"] >= 0.8
    assert scores.loc["U.S. Cluster Mapping strong clusters", "recall"] >= 0.6
    plants = scores.loc["Density clusters of establishments (per industry)"]
    assert plants["precision"] >= 0.8 and plants["recall"] >= 0.7
