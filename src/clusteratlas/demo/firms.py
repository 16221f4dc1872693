"""Firm attributes of the demo economy: size, output, exports, founding year and designations.

All draws are vectorised over establishments and take a ``numpy.random.Generator``.

Calibration (sources in ``demo/README.md``):

- Employment follows a shifted Pareto (Lomax) law, ``P(S > s) = (1 + (s - 1)/s0)^(-alpha)``, with
  tail exponent ``alpha = 1.2``: China Industrial Enterprises Database estimates put the density
  exponent at 2.0–2.5 (Heinrich & Dai 2016), i.e. a tail exponent of 1.0–1.5; Zipf's ``alpha = 1``
  is the usual benchmark (Axtell 2001). ``s0 = 7`` gives a mean of 31.4 persons, close to the mean size of
  a Chinese manufacturing legal unit in the 2018 economic census (104.7 million persons in 3.27
  million units). A demo economy is a scale model of that: :func:`size_law` caps plant size so the
  largest plant's share of employment is China's, and re-solves ``s0`` so the mean stays 32.0.
- Designations are drawn as exact counts at national rates per manufacturing unit: specialised,
  refined, distinctive and innovative "little giants" 8,997 (four MIIT batches to September 2022),
  of which about 88 % are manufacturers; manufacturing single champions 848 (September 2022); both over
  3.27 million manufacturing units. The 45 national advanced manufacturing clusters host 2,200+ of
  the little giants and 170+ of the champions, so those shares of the designations are placed in
  planted national clusters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Tail exponent of the firm-size distribution (P(S > s) ~ s^-alpha).
SIZE_ALPHA = 1.2
#: Scale of the Lomax law; gives a mean of 31.4 persons with SIZE_ALPHA = 1.2 and SIZE_CAP.
SIZE_S0 = 7.0
#: Largest plant (persons); the largest Chinese manufacturing plants employ a few hundred thousand.
SIZE_CAP = 300_000.0

#: Mean persons per manufacturing unit, 2018 census: 104.713 million / 3.270 million.
CENSUS_MEAN_EMPLOYMENT = 104.713e6 / 3.270e6
#: Share of manufacturing employment in the largest plant (a few hundred thousand persons of
#: 104.7 million); a scaled-down demo economy keeps this share, not the absolute size.
LARGEST_PLANT_SHARE = SIZE_CAP / 104.713e6

#: Designations per manufacturing unit (see module docstring).
LITTLE_GIANT_RATE = 8_997 * 0.88 / 3_270_000
SINGLE_CHAMPION_RATE = 848 / 3_270_000
#: Share of manufacturing units that are certified high-tech enterprises (our estimate, README).
HIGH_TECH_RATE = 0.06
#: Share of the designations held in the 45 national clusters: 2,200 / 8,997 and 170 / 848.
LITTLE_GIANT_IN_CLUSTERS = 2_200 / 8_997
SINGLE_CHAMPION_IN_CLUSTERS = 170 / 848

_DESIGNATION_NAMES = ("little_giant", "single_champion", "high_tech")


@dataclass(frozen=True)
class SizeLaw:
    """The firm-size law: ``P(S > s) = (1 + (s - 1)/(s0 * scale))^-alpha``, floored, capped."""

    s0: float = SIZE_S0
    cap: float = SIZE_CAP
    alpha: float = SIZE_ALPHA

    def draw(self, rng: np.random.Generator, size_scale: np.ndarray) -> np.ndarray:
        """Persons employed, one draw per establishment (whole numbers in [1, cap])."""
        u = rng.random(size_scale.shape[0])
        draw = 1.0 + self.s0 * size_scale * ((1.0 - u) ** (-1.0 / self.alpha) - 1.0)
        return np.minimum(np.floor(draw), self.cap)

    def expected(self, size_scale: np.ndarray | float) -> np.ndarray:
        """Mean of :meth:`draw` for each size scale, exactly.

        ``E[X] = sum_{k>=1} P(X >= k) = 1 + sum_{k=2}^{cap} (1 + (k - 1)/(s0 scale))^-alpha``: the
        floor and the cap make the mean grow less than proportionally with the scale.
        """
        scales = np.atleast_1d(np.asarray(size_scale, dtype=float))
        uniq, inverse = np.unique(scales, return_inverse=True)
        k = np.arange(2, int(self.cap) + 1, dtype=float)
        means = np.array([1.0 + np.sum((1.0 + (k - 1.0) / (self.s0 * u)) ** -self.alpha)
                          for u in uniq])
        return means[inverse].reshape(scales.shape)


def size_law(n_establishments: int) -> SizeLaw:
    """The size law of an economy of ``n_establishments``, scaled down from China's.

    A demo economy is a scale model: with 50,000 plants a 300,000-person plant would employ a fifth
    of everyone. The cap keeps the largest plant's share of employment as in the whole country
    (``LARGEST_PLANT_SHARE``), and ``s0`` is then solved so the mean stays at the census mean of
    32.0 persons. The tail exponent is unchanged.
    """
    cap = float(max(1_000, round(LARGEST_PLANT_SHARE * CENSUS_MEAN_EMPLOYMENT * n_establishments)))
    lo, hi = 1.0, 50.0
    for _ in range(40):  # bisection on a monotone closed form
        mid = 0.5 * (lo + hi)
        if SizeLaw(mid, cap).expected(1.0)[0] < CENSUS_MEAN_EMPLOYMENT:
            lo = mid
        else:
            hi = mid
    return SizeLaw(0.5 * (lo + hi), cap)


def draw_employment(rng: np.random.Generator, size_scale: np.ndarray,
                    law: SizeLaw | None = None) -> np.ndarray:
    """Persons employed, one draw per establishment, from ``law`` (default: China's, uncapped
    below 300,000) scaled by ``size_scale`` (division profile times cluster boost)."""
    return (law or SizeLaw()).draw(rng, size_scale)


def expected_employment(size_scale: np.ndarray | float, law: SizeLaw | None = None) -> np.ndarray:
    """Mean of :func:`draw_employment` for each size scale (see :meth:`SizeLaw.expected`)."""
    return (law or SizeLaw()).expected(size_scale)


def draw_output(rng: np.random.Generator, employment: np.ndarray, productivity: np.ndarray,
                sigma: float = 0.6) -> np.ndarray:
    """Output (10k CNY): employment times labour productivity with lognormal firm dispersion.

    The lognormal factor has mean 1, so ``productivity`` is the expected output per worker;
    ``sigma = 0.6`` is a within-industry productivity dispersion of the order reported for Chinese
    manufacturing (Hsieh & Klenow 2009 find log-TFPR standard deviations of 0.6–0.7).
    """
    factor = rng.lognormal(-0.5 * sigma**2, sigma, employment.shape[0])
    return np.round(employment * productivity * factor, 1)


def draw_exports(rng: np.random.Generator, output: np.ndarray, export_rate: np.ndarray,
                 export_intensity: np.ndarray) -> np.ndarray:
    """Export delivery value (10k CNY): zero for non-exporters, a Beta share of output otherwise.

    The probability of exporting rises with size (larger plants export more often, a standard
    finding since Bernard & Jensen 1999); the share exported has mean ``export_intensity``.
    """
    n = output.shape[0]
    size_tilt = np.clip(np.log10(np.maximum(output, 1.0)) / 3.0, 0.3, 2.0)
    exporter = rng.random(n) < np.clip(export_rate * size_tilt, 0.0, 0.95)
    concentration = 4.0
    share = rng.beta(export_intensity * concentration, (1.0 - export_intensity) * concentration)
    return np.where(exporter, np.round(output * share, 1), 0.0)


def draw_founded(rng: np.random.Generator, employment: np.ndarray, year: int,
                 latest: int | None = None) -> np.ndarray:
    """Founding year: young firms dominate, larger firms are older.

    Age is exponential with a mean of 9 years for a one-person firm, rising with log size, so the
    median manufacturing firm is young (most Chinese legal units were set up after 2010: the count of
    legal units doubled between the 2013 and 2018 censuses). Years run from 1949 to ``latest``.
    """
    latest = year if latest is None else latest
    mean_age = 9.0 * (1.0 + 0.25 * np.log1p(employment))
    age = rng.exponential(mean_age)
    return np.clip(np.floor(year - age), 1949, latest).astype(np.int64)


def _top_k_weighted(rng: np.random.Generator, log_weight: np.ndarray, eligible: np.ndarray,
                    k: int) -> np.ndarray:
    """Indices of ``k`` eligible items sampled without replacement with probability ~ weight.

    Gumbel-top-k: adding Gumbel noise to log-weights and keeping the k largest is equivalent to
    successive weighted sampling without replacement (Vieira 2014; Kool et al. 2019).
    """
    idx = np.flatnonzero(eligible)
    k = int(min(max(k, 0), idx.size))
    if k == 0:
        return idx[:0]
    keys = log_weight[idx] + rng.gumbel(size=idx.size)
    return idx[np.argpartition(-keys, k - 1)[:k]]


def draw_designations(rng: np.random.Generator, employment: np.ndarray, tech: np.ndarray,
                      in_national_cluster: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flags (little_giant, single_champion, high_tech), exact counts at the national rates.

    Little giants are SMEs (20–1,000 persons here) chosen with weight rising in technology intensity;
    single champions are larger firms (>= 100 persons) chosen with weight rising in size; the shares
    of both designations placed in the national clusters are the published ones. High-tech
    enterprises are chosen with weight rising in technology intensity and size; every little giant and
    champion with technology intensity above 0.3 is also high-tech.
    """
    n = employment.shape[0]
    log_emp = np.log(employment)
    inside = in_national_cluster.astype(bool)

    def split(rate: float, share_in: float, log_w: np.ndarray, eligible: np.ndarray) -> np.ndarray:
        total = round(rate * n)
        k_in = round(share_in * total)
        flag = np.zeros(n, dtype=bool)
        flag[_top_k_weighted(rng, log_w, eligible & inside, k_in)] = True
        flag[_top_k_weighted(rng, log_w, eligible & ~inside, total - k_in)] = True
        return flag

    sme = (employment >= 20) & (employment <= 1000)
    little_giant = split(LITTLE_GIANT_RATE, LITTLE_GIANT_IN_CLUSTERS, 4.0 * tech + 0.5 * log_emp, sme)
    big = employment >= 100
    champion = split(SINGLE_CHAMPION_RATE, SINGLE_CHAMPION_IN_CLUSTERS, 1.0 * log_emp + 2.0 * tech,
                     big & ~little_giant)
    already = (little_giant | champion) & (tech > 0.3)
    n_high = max(round(HIGH_TECH_RATE * n) - int(already.sum()), 0)
    high_tech = already.copy()
    high_tech[_top_k_weighted(rng, 5.0 * tech + 0.4 * log_emp, ~already, n_high)] = True
    return little_giant, champion, high_tech


def designation_codes(little_giant: np.ndarray, champion: np.ndarray,
                      high_tech: np.ndarray) -> np.ndarray:
    """The three flags packed into one small integer per establishment (index of DESIGNATION_LABELS)."""
    return (little_giant.astype(np.int8) | champion.astype(np.int8) << 1
            | high_tech.astype(np.int8) << 2)


#: Designation text of each packed code: semicolon-separated names in a fixed order, '' for none.
DESIGNATION_LABELS: tuple[str, ...] = tuple(
    ";".join(name for bit, name in enumerate(_DESIGNATION_NAMES) if code >> bit & 1)
    for code in range(8)
)


def designation_strings(little_giant: np.ndarray, champion: np.ndarray,
                        high_tech: np.ndarray) -> np.ndarray:
    """Semicolon-separated designation text per establishment ('' when none), as in the schema."""
    labels = np.asarray(DESIGNATION_LABELS, dtype=object)
    return labels[designation_codes(little_giant, champion, high_tech)]
