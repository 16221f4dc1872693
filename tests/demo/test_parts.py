"""Pieces of the generator that need no gazetteer: weighted choice within groups, panel back-cast."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from clusteratlas.demo import panel
from clusteratlas.demo.economy import _allocate
from clusteratlas.demo.innovation import _gravity_destinations, choose_within, ids


def test_choose_within_picks_an_item_of_the_group_by_weight() -> None:
    rng = np.random.default_rng(0)
    item_group = np.array([2, 0, 2, 0, 0, 3])
    weight = np.array([1.0, 1.0, 3.0, 0.0, 2.0, 5.0])
    groups = np.repeat(np.array([0, 1, 2, 3]), 40_000)
    pick = choose_within(rng, groups, item_group, weight)
    assert (pick[groups == 1] == -1).all()  # group 1 has no items
    assert (pick[groups == 3] == 5).all()
    g0 = pick[groups == 0]
    assert set(np.unique(g0)) == {1, 4}  # item 3 has weight 0
    assert abs((g0 == 4).mean() - 2 / 3) < 0.01
    g2 = pick[groups == 2]
    assert abs((g2 == 2).mean() - 3 / 4) < 0.01


def test_gravity_never_returns_the_origin_and_prefers_near_mass() -> None:
    rng = np.random.default_rng(1)
    lon = np.array([100.0, 100.1, 110.0, 120.0])
    lat = np.array([30.0, 30.0, 30.0, 30.0])
    mass = np.array([1.0, 1.0, 1.0, 1.0])
    origin = np.zeros(30_000, dtype=np.int64)
    dest = _gravity_destinations(rng, origin, mass, lon, lat)
    assert (dest != 0).all() and dest.max() <= 3
    counts = np.bincount(dest, minlength=4)
    assert counts[1] > counts[2] > counts[3]


def test_ids_are_zero_padded() -> None:
    assert ids("E", np.array([1, 42]), 7).to_pylist() == ["E0000001", "E0000042"]


def test_panel_backcast_and_entry_exit() -> None:
    rng = np.random.default_rng(2)
    founded = np.array([2000, 2021, 2000, 2000])
    last = np.array([2022, 2022, 2021, 2022])
    emp = np.array([100.0, 10.0, 50.0, 20.0])
    out = emp * 100
    exports = np.array([0.0, 0.0, 0.0, 1000.0])
    growth = np.array([0.0, 0.0, 0.0, 0.0])
    export_growth = np.array([np.nan, np.nan, np.nan, 0.30])
    rows = panel.expand(rng, founded, last, emp, out, exports, growth, export_growth,
                        (2020, 2021, 2022))
    years_of = {f: sorted(rows["year"][rows["firm"] == f].tolist()) for f in range(4)}
    assert years_of == {0: [2020, 2021, 2022], 1: [2021, 2022], 2: [2020, 2021], 3: [2020, 2021, 2022]}
    latest = (rows["year"] == 2022) & (rows["firm"] == 0)
    assert rows["employment"][latest][0] == 100.0
    exiter_last = (rows["year"] == 2021) & (rows["firm"] == 2)
    assert rows["employment"][exiter_last][0] == 50.0  # an exiter's drawn values are its last year's
    # SME exports grow 30 % a year whatever happens to output.
    f3 = rows["firm"] == 3
    ex = dict(zip(rows["year"][f3].tolist(), rows["exports"][f3].tolist(), strict=True))
    assert abs(ex[2022] / ex[2021] - 1.3) < 0.01 and abs(ex[2021] / ex[2020] - 1.3) < 0.01


def test_exit_rate_gives_the_expected_survivors() -> None:
    rng = np.random.default_rng(3)
    n = 200_000
    last = panel.last_years(rng, n, np.full(n, 1990), (2020, 2021, 2022), 0.05)
    assert abs((last == 2022).mean() - 0.95**2) < 0.005


@settings(max_examples=200, deadline=None)
@given(total=st.integers(0, 10_000),
       weights=st.lists(st.floats(0.01, 100.0), min_size=1, max_size=30))
def test_allocation_sums_to_the_total_and_stays_within_one_of_proportional(
        total: int, weights: list[float]) -> None:
    w = np.asarray(weights)
    counts = _allocate(total, w)
    assert counts.sum() == total and (counts >= 0).all()
    assert np.all(np.abs(counts - total * w / w.sum()) < 1.0 + 1e-9)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_groups=st.integers(1, 6), n_items=st.integers(1, 40))
def test_choose_within_never_leaves_the_group(seed: int, n_groups: int, n_items: int) -> None:
    rng = np.random.default_rng(seed)
    item_group = rng.integers(0, n_groups, n_items)
    weight = rng.random(n_items) + 0.01
    groups = rng.integers(0, n_groups, 500)
    pick = choose_within(rng, groups, item_group, weight)
    has_items = np.isin(groups, item_group)
    assert (pick[~has_items] == -1).all()
    assert (item_group[pick[has_items]] == groups[has_items]).all()
