"""The panel dimension of the demo economy: a few years, with entry, exit and growth.

Firms are drawn for the latest year (``YEARS[-1]``); earlier years are back-cast. Each firm grows
at its industry's (or planted cluster's) rate plus firm-level noise, so that dynamism measured over
the panel recovers the planted growth. Firms founded after a year are absent from it; a share of
firms exits before the latest year (``EXIT_RATE`` a year), so the panel is unbalanced as real
registers are.
"""

from __future__ import annotations

import numpy as np

#: Years of the panel; the latest is the calibration year of the published facts (2022).
YEARS: tuple[int, ...] = (2020, 2021, 2022)
#: Annual exit rate of firms (our assumption; Chinese manufacturing exit rates are 5–10 % a year).
EXIT_RATE = 0.05
#: Baseline real employment growth of an establishment per year, and its firm-level noise (sd).
BASE_GROWTH = 0.02
GROWTH_NOISE = 0.10
#: Labour-productivity growth per year (output grows by employment growth plus this).
PRODUCTIVITY_GROWTH = 0.03


def last_years(rng: np.random.Generator, n: int, founded: np.ndarray,
               years: tuple[int, ...] = YEARS, exit_rate: float = EXIT_RATE) -> np.ndarray:
    """The last year each firm is observed: the latest year, or earlier for firms that exit.

    A firm exits after year ``y`` with probability ``exit_rate`` for each year before the latest, so
    the number of firms alive in the latest year is about ``n * (1 - exit_rate) ** (len(years) - 1)``.
    A firm is never made to exit before it was founded.
    """
    last = np.full(n, years[-1], dtype=np.int64)
    for y in years[:-1]:  # a few panel years, not records
        leaves = (rng.random(n) < exit_rate) & (last == years[-1]) & (founded <= y)
        last[leaves] = y
    return last


def expand(
    rng: np.random.Generator,
    founded: np.ndarray,
    last: np.ndarray,
    employment: np.ndarray,
    output: np.ndarray,
    exports: np.ndarray,
    growth: np.ndarray,
    export_growth: np.ndarray,
    years: tuple[int, ...] = YEARS,
) -> dict[str, np.ndarray]:
    """Rows for every (firm, year) the firm exists, with back-cast employment, output and exports.

    ``employment``, ``output`` and ``exports`` are the values in the firm's last year; for an earlier
    year ``y`` they are divided by the growth accumulated from ``y`` to the last year. ``growth`` is
    the expected log growth per year of each firm; ``export_growth`` (NaN for none) overrides the
    growth of exports (the SME featured clusters' ~30 % a year).

    Returns
    -------
    dict of ndarray
        ``firm`` (index of the firm), ``year``, ``employment``, ``output``, ``exports``.
    """
    n = founded.shape[0]
    # Cumulative log growth from year y to the firm's last year, built backwards one year at a time.
    cum = np.zeros(n)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("firm", "year", "employment", "output",
                                                          "exports")}
    exp_g = np.where(np.isnan(export_growth), np.nan, np.log1p(export_growth))
    for y in sorted(years, reverse=True):
        if y < years[-1]:
            step = growth + GROWTH_NOISE * rng.standard_normal(n)
            cum = cum + np.where(last > y, step, 0.0)
        alive = (founded <= y) & (last >= y)
        idx = np.flatnonzero(alive)
        years_back = np.maximum(last[idx] - y, 0)
        emp = np.maximum(np.round(employment[idx] * np.exp(-cum[idx])), 1.0)
        ratio = emp / employment[idx]
        out = np.round(output[idx] * ratio * np.exp(-PRODUCTIVITY_GROWTH * years_back), 1)
        eg = exp_g[idx]
        exp_default = exports[idx] * np.where(output[idx] > 0, out / np.maximum(output[idx], 1e-9),
                                              0.0)
        exp_sme = exports[idx] * np.exp(-np.nan_to_num(eg) * years_back)
        exp_y = np.round(np.minimum(np.where(np.isnan(eg), exp_default, exp_sme), out), 1)
        parts["firm"].append(idx)
        parts["year"].append(np.full(idx.size, y, dtype=np.int64))
        parts["employment"].append(emp)
        parts["output"].append(out)
        parts["exports"].append(exp_y)
    return {k: np.concatenate(v[::-1]) for k, v in parts.items()}
