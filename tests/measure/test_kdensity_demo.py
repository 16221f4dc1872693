"""K-density on the demo economy's planted truth (slow: every industry of one year)."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_planted_clusters_localised_dispersed_industries_dispersed() -> None:
    from clusteratlas.demo.economy import generate
    from clusteratlas.measure.kdensity import kdensity

    eco = generate("small", seed=0)
    est = eco.establishments[eco.establishments.year == 2022]
    res = kdensity(est, n_sims=199, seed=1)
    idx = res.indices.set_index("industry")
    truth = eco.truth
    dispersed = set(truth[truth.kind == "dispersed"].industry.astype(str))
    clustered = set(truth[truth.kind != "dispersed"].industry.astype(str)) - dispersed
    others = set(idx.index) - dispersed - clustered
    short = idx.localised_at.fillna("").str.startswith("0–")
    # every planted dispersed industry is dispersed, none localised
    assert idx.loc[sorted(dispersed), "dispersed"].all()
    assert not idx.loc[sorted(dispersed), "localised"].any()
    # planted clusters: localised from distance 0 for most (small SME clusters may be missed)
    assert short[sorted(clustered)].mean() >= 0.75
    # industries without planted structure are never localised at short distances
    assert not short[sorted(others)].any()
