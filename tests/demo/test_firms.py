"""Firm attributes: the size law, designation counts, and determinism."""

import numpy as np
import pandas as pd
import pytest

from clusteratlas.demo import firms
from clusteratlas.demo.industries import FIELDS, industries, read_data


def test_industries_are_gbt4754_groups_under_their_divisions() -> None:
    ind = industries()
    assert 95 <= len(ind) <= 110
    assert ind["industry"].is_unique
    assert (ind["industry"].str.len() == 3).all()
    assert (ind["industry"].str[:2] == ind["division"]).all()
    assert ind[["size_scale", "productivity", "export_rate", "tech"]].notna().all().all()
    assert (ind["name_zh"] != "").all() and (ind["name_en"] != "").all()
    # Spot checks against GB/T 4754-2017 (国民经济行业分类).
    names = ind.set_index("industry")["name_zh"]
    assert names["396"] == "智能消费设备制造"
    assert names["144"] == "乳制品制造"
    assert names["384"] == "电池制造"


def test_every_planted_national_industry_exists() -> None:
    codes = set(industries()["industry"])
    mapping = read_data("national_cluster_industries.csv")
    assert len(mapping) == 45
    for text in mapping["industries"]:
        assert set(text.split(";")) <= codes
    spec = read_data("national_advanced_manufacturing_clusters.csv")
    assert set(spec["field_en"]) <= set(FIELDS)


def test_employment_follows_the_calibrated_heavy_tail() -> None:
    rng = np.random.default_rng(1)
    emp = firms.draw_employment(rng, np.ones(400_000))
    assert emp.min() >= 1 and emp.max() <= firms.SIZE_CAP
    assert np.all(emp == np.floor(emp))
    # Expected mean: E[X] = sum_k P(X >= k) = 1 + sum_{k=2}^{cap} (1 + (k - 1)/s0)^-alpha = 31.37
    # (census: 32.0 persons per manufacturing unit); the sample mean of a tail this heavy
    # converges slowly, hence the wide tolerance.
    k = np.arange(2, int(firms.SIZE_CAP) + 1)
    expected = 1 + np.sum((1 + (k - 1) / firms.SIZE_S0) ** -firms.SIZE_ALPHA)
    assert abs(expected - 31.37) < 0.01
    assert abs(emp.mean() - expected) / expected < 0.2
    # Median of the Lomax law: 1 + s0 (2^(1/alpha) - 1) = 6.8, floored to 6.
    assert np.median(emp) == 6
    # Hill estimator of the tail exponent on the top 2% recovers alpha = 1.2.
    top = np.sort(emp)[-8000:]
    hill = 1.0 / np.mean(np.log(top / top[0]))
    assert 1.05 < hill < 1.35


def test_designations_have_exact_national_counts_and_cluster_shares() -> None:
    rng = np.random.default_rng(2)
    n = 200_000
    emp = firms.draw_employment(rng, np.ones(n))
    tech = rng.random(n)
    inside = rng.random(n) < 0.1
    lg, ch, ht = firms.draw_designations(rng, emp, tech, inside)
    assert lg.sum() == round(firms.LITTLE_GIANT_RATE * n)
    assert ch.sum() == round(firms.SINGLE_CHAMPION_RATE * n)
    assert ht.sum() == round(firms.HIGH_TECH_RATE * n)
    assert not (lg & ch).any()
    assert ((emp[lg] >= 20) & (emp[lg] <= 1000)).all()
    assert (emp[ch] >= 100).all()
    assert lg[inside].sum() == round(firms.LITTLE_GIANT_IN_CLUSTERS * lg.sum())
    assert ch[inside].sum() == round(firms.SINGLE_CHAMPION_IN_CLUSTERS * ch.sum())
    # Technology intensity raises the chance of being a little giant.
    assert tech[lg].mean() > tech.mean() + 0.1


def test_designation_strings() -> None:
    lg = np.array([True, False, False, True])
    ch = np.array([False, True, False, False])
    ht = np.array([True, True, False, False])
    out = firms.designation_strings(lg, ch, ht)
    assert list(out) == ["little_giant;high_tech", "single_champion;high_tech", "", "little_giant"]


def test_exports_are_bounded_by_output() -> None:
    rng = np.random.default_rng(3)
    n = 50_000
    output = rng.lognormal(6, 1.5, n)
    exports = firms.draw_exports(rng, output, np.full(n, 0.3), np.full(n, 0.4))
    assert (exports >= 0).all() and (exports <= output + 0.1).all()
    share_exporting = (exports > 0).mean()
    assert 0.15 < share_exporting < 0.6


@pytest.mark.parametrize("seed", [0, 7])
def test_same_seed_same_draws(seed: int) -> None:
    def draw(s: int) -> pd.DataFrame:
        rng = np.random.default_rng(s)
        emp = firms.draw_employment(rng, np.ones(1000))
        out = firms.draw_output(rng, emp, np.full(1000, 100.0))
        return pd.DataFrame({"emp": emp, "out": out, "founded": firms.draw_founded(rng, emp, 2022)})

    pd.testing.assert_frame_equal(draw(seed), draw(seed))
    assert not draw(seed).equals(draw(seed + 1))


def test_founding_years_are_plausible() -> None:
    rng = np.random.default_rng(4)
    emp = firms.draw_employment(rng, np.ones(100_000))
    founded = firms.draw_founded(rng, emp, 2022)
    assert founded.min() >= 1949 and founded.max() <= 2022
    assert np.median(2022 - founded) < 12
    big, small = emp >= 1000, emp <= 5
    assert (2022 - founded[big]).mean() > (2022 - founded[small]).mean()


@pytest.mark.parametrize("n", [50_000, 1_000_000])
def test_scaled_size_law_keeps_the_census_mean_and_the_largest_plant_share(n: int) -> None:
    law = firms.size_law(n)
    assert law.expected(1.0)[0] == pytest.approx(firms.CENSUS_MEAN_EMPLOYMENT, rel=1e-6)
    # The largest plant's share of all employment is China's (300,000 of 104.7 million).
    share = law.cap / (n * firms.CENSUS_MEAN_EMPLOYMENT)
    assert share == pytest.approx(300_000 / 104.713e6, rel=0.01)
    # The exact mean agrees with a simulation of the same law.
    rng = np.random.default_rng(5)
    emp = law.draw(rng, np.ones(300_000))
    assert emp.max() <= law.cap
    assert abs(emp.mean() - law.expected(1.0)[0]) / law.expected(1.0)[0] < 0.1
