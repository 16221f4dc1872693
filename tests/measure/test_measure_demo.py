"""The demo economy's ground truth through the indices: planted clusters come out localised and
significant, the dispersed controls do not, planted supplier–user pairs co-agglomerate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clusteratlas.measure import coagglomeration, ellison_glaeser


@pytest.fixture(scope="module")
def demo() -> tuple[pd.DataFrame, pd.DataFrame]:
    from clusteratlas.demo.economy import generate

    eco = generate("small", seed=1)
    est = eco.establishments
    return est[est["year"] == est["year"].max()], eco.truth


def _industries(truth: pd.DataFrame, kind: str) -> list[str]:
    return sorted(set(truth.loc[truth["kind"] == kind, "industry"].astype(str)))


def test_planted_localised_and_dispersed_not(demo: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    plants, truth = demo
    table = ellison_glaeser(plants, level="prefecture").table.set_index("industry")
    dispersed = table.loc[_industries(truth, "dispersed")]
    # EG (1997) call γ < 0.02 "not very localised"; six controls at the 5% level may give one
    # false alarm by chance (probability ≈ 0.26), two would be unusual (≈ 0.03).
    assert (dispersed["gamma"].abs() < 0.02).all()
    assert dispersed["significant"].astype(bool).sum() <= 1
    for kind in ("sme_featured", "colocated_pair"):
        planted = table.loc[_industries(truth, kind)]
        assert planted["gamma"].median() > 0.01, kind
        assert planted["significant"].astype(bool).mean() >= 2 / 3, kind
    assert table.loc[_industries(truth, "national"), "gamma"].median() > dispersed["gamma"].median()


def test_planted_pairs_coagglomerate(demo: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    plants, truth = demo
    pairs = truth.loc[truth["kind"] == "colocated_pair"]
    co = coagglomeration(plants, level="prefecture").table
    key = co.set_index(["industry_a", "industry_b"])["gamma_c"]
    planted = []
    for _, group in pairs.groupby("cluster_id"):
        inds = sorted(set(group["industry"].astype(str)))
        if len(inds) == 2:
            planted.append(float(key.loc[tuple(inds)]))
    assert len(planted) >= 3
    # Most planted pairs sit in the top decile of all pairs.
    assert np.median(planted) > co["gamma_c"].quantile(0.9)
