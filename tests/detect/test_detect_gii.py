"""The GII scoring arithmetic against WIPO's published GII 2023 S&T cluster table.

Reference: tests/detect/data/gii2023_top_st_clusters.csv (see README there). Published shares are
rounded to one decimal and the world totals are given only approximately (about 1.26 million PCT
filings, 7.5 million articles), so we check (a) the ranks, (b) shares within rounding plus the
approximation of the totals, and (c) that some pair of totals near the stated ones reproduces every
published one-decimal share exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clusteratlas.detect.density import gii_scores

DATA = Path(__file__).parent / "data" / "gii2023_top_st_clusters.csv"
PCT_TOTAL, ARTICLES_TOTAL = 1.26e6, 7.5e6  # README of the reference data


@pytest.fixture(scope="module")
def gii() -> pd.DataFrame:
    return pd.read_csv(DATA)


def _score(gii: pd.DataFrame, pct: float, art: float) -> pd.DataFrame:
    t = gii.rename(columns={"pct_filings": "patents", "scientific_articles": "publications"})
    return gii_scores(t, totals={"patents": pct, "publications": art}, population=None)


def test_ranks_of_all_35_are_reproduced(gii: pd.DataFrame) -> None:
    s = _score(gii, PCT_TOTAL, ARTICLES_TOTAL)
    assert s["cluster"].tolist() == gii.sort_values("rank")["cluster"].tolist()
    assert (s["rank"].astype(int).to_numpy() == np.arange(1, 36)).all()


def test_published_shares_within_rounding(gii: pd.DataFrame) -> None:
    s = _score(gii, PCT_TOTAL, ARTICLES_TOTAL).head(6)
    pub = gii.sort_values("rank").head(6)
    # 0.05 for the one-decimal rounding, plus the error from totals given to 2 significant
    # digits (at most 0.4% of a share of 11%, i.e. 0.05)
    np.testing.assert_allclose(s["patents_share_pct"], pub["pct_share_pct"], atol=0.1)
    np.testing.assert_allclose(s["publications_share_pct"], pub["articles_share_pct"], atol=0.1)
    np.testing.assert_allclose(s["score_pct"], pub["total_share_pct"], atol=0.1)


def test_some_totals_near_the_stated_ones_reproduce_every_share_exactly(gii: pd.DataFrame) -> None:
    top = gii.sort_values("rank").head(6)

    def interval(counts: pd.Series, shares: pd.Series) -> tuple[float, float]:
        # round(100 c / T, 1) == s  <=>  T in (100 c / (s + .05), 100 c / (s - .05)]
        lo = (100 * counts / (shares + 0.05)).max()
        hi = (100 * counts / (shares - 0.05)).min()
        return lo, hi

    p_lo, p_hi = interval(top["pct_filings"], top["pct_share_pct"])
    a_lo, a_hi = interval(top["scientific_articles"], top["articles_share_pct"])
    assert p_lo < p_hi and a_lo < a_hi, "no pair of totals reproduces the published shares"
    assert abs(p_lo / PCT_TOTAL - 1) < 0.01 and abs(a_lo / ARTICLES_TOTAL - 1) < 0.01
    hits = 0
    for pct in np.linspace(p_lo, p_hi, 25)[1:]:
        for art in np.linspace(a_lo, a_hi, 25)[1:]:
            s = _score(gii, pct, art).head(6)
            ok = (np.round(s["patents_share_pct"].to_numpy(), 1) == top["pct_share_pct"].to_numpy()).all()
            ok &= (np.round(s["publications_share_pct"].to_numpy(), 1)
                   == top["articles_share_pct"].to_numpy()).all()
            ok &= (np.round(s["score_pct"].to_numpy() + 1e-9, 1)
                   == top["total_share_pct"].to_numpy()).all()
            hits += bool(ok)
    assert hits > 0
