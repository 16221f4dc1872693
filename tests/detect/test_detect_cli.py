"""``clusteratlas detect density|stars|related`` over files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from clusteratlas.cli import app
from clusteratlas.detect.stars import cluster_stars
from clusteratlas.errors import InputError

runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, ["detect", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def _aggregates(path: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = [{"county": f"{r:06d}", "ind": f"I{k}", "emp": float(rng.integers(0, 200)),
             "n_est": float(rng.integers(1, 20))} for r in range(30) for k in range(5)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_stars_cli_csv(tmp_path: Path) -> None:
    src = _aggregates(tmp_path / "agg.csv")
    out = tmp_path / "stars.csv"
    _run("stars", "--input", str(src), "--region", "county", "--industry", "ind",
         "--employment", "emp", "--establishments", "n_est", "--out", str(out))
    got = pd.read_csv(out, dtype={"region": str})
    for col in ("lq", "strong", "strong10", "significant", "qualifying", "stars",
                "star_size", "star_specialisation", "star_focus"):
        assert col in got.columns
    ref = cluster_stars(pd.read_csv(src, dtype={"county": "string"}), region="county",
                        industry="ind", employment="emp", establishments="n_est",
                        regions=pd.DataFrame({"region_code": []})).table
    assert len(got) == 150
    np.testing.assert_array_equal(got["strong"].to_numpy(), ref["strong"].to_numpy())
    np.testing.assert_allclose(got["lq"], ref["lq"])


def test_density_cli_parquet_with_truth(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    centres = np.array([[116.4, 39.9], [121.47, 31.23]])
    pts = np.vstack([c + rng.normal(0, 0.02, (200, 2)) for c in centres])
    frame = pd.DataFrame({"lon": pts[:, 0], "lat": pts[:, 1], "share": 0.5,
                          "kind": np.where(np.arange(400) % 2, "patent", "publication")})
    src = tmp_path / "actors.parquet"
    frame.to_parquet(src)
    truth = tmp_path / "truth.csv"
    pd.DataFrame({"cluster_id": ["BJ", "SH"], "lon": [116.4, 121.47],
                  "lat": [39.9, 31.23]}).to_csv(truth, index=False)
    out = tmp_path / "clusters.parquet"
    text = _run("density", "--input", str(src), "--radius-km", "5", "--min-weight", "5",
                "--stability-radii", "3,5,8", "--truth", str(truth), "--out", str(out))
    got = pd.read_parquet(out)
    assert len(got) == 2 and {"score_pct", "rank_min", "rank_max"} <= set(got.columns)
    assert got["score_pct"].sum() == pytest.approx(200, abs=5)  # ~all patents and publications
    assert "1.0" in text  # precision and recall 1.0 printed
    out2 = tmp_path / "world.csv"
    _run("density", "--input", str(src), "--radius-km", "5", "--min-weight", "5",
         "--world-patents", "1000", "--world-publications", "2000", "--out", str(out2))
    world = pd.read_csv(out2)
    assert world["patents_share_pct"].sum() == pytest.approx(100 * 100 / 1000)  # 200 x 0.5
    assert world["publications_share_pct"].sum() == pytest.approx(100 * 100 / 2000)


def test_related_cli(tmp_path: Path) -> None:
    src = _aggregates(tmp_path / "agg.csv")
    out = tmp_path / "rel.csv"
    _run("related", "--input", str(src), "--region", "county", "--industry", "ind",
         "--employment", "emp", "--k-max", "4", "--out", str(out))
    got = pd.read_csv(out)
    assert list(got.columns[:3]) == ["industry", "cluster", "cluster_size"]
    assert len(got) == 5


def test_needs_exactly_one_source() -> None:
    with pytest.raises(InputError, match="exactly one"):
        _run("stars")


def test_project_store(tmp_path: Path) -> None:
    from clusteratlas.store import Atlas

    rng = np.random.default_rng(3)
    n = 600
    est = pd.DataFrame({
        "est_id": [f"e{i}" for i in range(n)], "year": 2023,
        "industry": rng.choice(["C131", "C132", "C391"], n),
        "region_code": rng.choice(["110101", "110102", "310101", "440305", "510104"], n),
        "employment": rng.integers(1, 100, n).astype(float),
    })
    pts = np.vstack([c + rng.normal(0, 0.02, (100, 2)) for c in ([116.4, 39.9], [121.5, 31.2])])
    actors = pd.DataFrame({"doc_id": [f"d{i}" for i in range(200)], "actor_id": "a1",
                           "actor_type": "firm", "lon": pts[:, 0], "lat": pts[:, 1],
                           "share": 1.0})
    docs = pd.DataFrame({"doc_id": actors["doc_id"], "kind": "patent", "year": 2022})
    with Atlas.init(tmp_path / "proj") as atlas:
        atlas.load(est, table="establishments")
        atlas.load(docs, table="innovations")
        atlas.load(actors, table="innovation_actors")
    out = tmp_path / "stars.csv"
    _run("stars", "--project", str(tmp_path / "proj"), "--out", str(out))
    got = pd.read_csv(out, dtype={"region": str})
    ref = cluster_stars(est, regions=pd.DataFrame({"region_code": []})).table
    np.testing.assert_allclose(got["lq"], ref["lq"])
    assert got["strong"].tolist() == ref["strong"].tolist()
    out = tmp_path / "dens.csv"
    _run("density", "--project", str(tmp_path / "proj"), "--radius-km", "5", "--min-weight",
         "10", "--out", str(out))
    dens = pd.read_csv(out)
    assert len(dens) == 2
    assert dens["patents_share_pct"].sum() == pytest.approx(100.0)
