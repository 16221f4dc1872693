"""The demo economy's industries: GB/T 4754-2017 manufacturing groups (中类) under their divisions (大类).

The labels (codes, Chinese names) are those of the national standard GB/T 4754-2017 *Industrial
classification for national economic activities* (国民经济行业分类); the English renderings are ours.
105 groups are used: most of the manufacturing section C, plus two groups of division 65 (software
and IT services), because two of the 45 national advanced manufacturing clusters are software
clusters (Nanjing, Chengdu). The shipped table is ``data/industries.csv`` (see ``data/README.md``).

Each division carries a profile that the firm generator uses: a size scale (multiplies the firm-size
distribution), labour productivity, export behaviour and technology intensity. These profiles are
illustrative orders of magnitude (heavier, more capital-intensive divisions have larger, more
productive plants; apparel, footwear, toys and electronics export more), not estimates.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd

#: MIIT's six fields of the national advanced manufacturing clusters (新一代信息技术 etc.).
FIELDS = (
    "new-generation IT",
    "high-end equipment",
    "new materials",
    "biomedicine and medical devices",
    "consumer goods",
    "NEV and ICV",
)

# division -> (size_scale, productivity in 10k CNY of output per worker, share of firms exporting,
# export share of output among exporters, technology intensity 0..1)
_DIVISION_PROFILE: dict[str, tuple[float, float, float, float, float]] = {
    "13": (0.9, 160.0, 0.10, 0.15, 0.10),
    "14": (0.9, 110.0, 0.10, 0.15, 0.15),
    "15": (1.0, 110.0, 0.05, 0.10, 0.10),
    "17": (1.1, 70.0, 0.30, 0.30, 0.15),
    "18": (1.3, 40.0, 0.40, 0.45, 0.05),
    "19": (1.3, 45.0, 0.40, 0.45, 0.05),
    "20": (0.8, 80.0, 0.15, 0.25, 0.05),
    "21": (1.0, 50.0, 0.30, 0.35, 0.10),
    "22": (1.0, 90.0, 0.10, 0.10, 0.15),
    "23": (0.7, 50.0, 0.05, 0.10, 0.10),
    "24": (1.0, 50.0, 0.40, 0.45, 0.10),
    "25": (1.8, 450.0, 0.05, 0.05, 0.20),
    "26": (1.0, 180.0, 0.15, 0.15, 0.40),
    "27": (1.3, 120.0, 0.15, 0.15, 0.80),
    "28": (1.5, 220.0, 0.15, 0.10, 0.35),
    "29": (0.9, 75.0, 0.20, 0.25, 0.25),
    "30": (0.8, 70.0, 0.08, 0.10, 0.20),
    "31": (2.0, 300.0, 0.08, 0.05, 0.20),
    "32": (1.5, 350.0, 0.10, 0.08, 0.30),
    "33": (0.8, 75.0, 0.20, 0.20, 0.25),
    "34": (0.9, 80.0, 0.20, 0.15, 0.50),
    "35": (0.9, 85.0, 0.20, 0.15, 0.55),
    "36": (1.6, 160.0, 0.15, 0.08, 0.50),
    "37": (1.5, 100.0, 0.20, 0.20, 0.60),
    "38": (1.1, 110.0, 0.25, 0.20, 0.55),
    "39": (1.6, 110.0, 0.35, 0.45, 0.80),
    "40": (0.9, 70.0, 0.20, 0.15, 0.75),
    "65": (0.8, 60.0, 0.05, 0.10, 0.90),
}


@cache
def _read_csv(name: str) -> pd.DataFrame:
    with resources.files("clusteratlas.demo").joinpath("data", name).open("rb") as fh:
        return pd.read_csv(fh, dtype=str, keep_default_na=False)


def read_data(name: str) -> pd.DataFrame:
    """A copy of one of the CSV files shipped in ``clusteratlas/demo/data`` (all columns as text)."""
    return _read_csv(name).copy()


def industries() -> pd.DataFrame:
    """The demo's industry table, one row per GB/T 4754-2017 group.

    Returns
    -------
    pandas.DataFrame
        ``industry`` (3-digit group code, as used in ``establishments.industry``), ``division``
        (2-digit code), ``division_zh``, ``division_en``, ``name_zh``, ``name_en``, ``weight``
        (relative number of establishments, illustrative), ``size_scale``, ``productivity``
        (10k CNY of output per worker), ``export_rate`` (share of firms that export),
        ``export_intensity`` (export share of an exporter's output) and ``tech`` (technology
        intensity in [0, 1], drives high-tech designation and patenting).
    """
    frame = read_data("industries.csv").rename(columns={"code": "industry"})
    frame["weight"] = frame["weight"].astype(float)
    profile = pd.DataFrame.from_dict(
        _DIVISION_PROFILE, orient="index",
        columns=["size_scale", "productivity", "export_rate", "export_intensity", "tech"],
    )
    missing = sorted(set(frame["division"]) - set(profile.index))
    if missing:  # a data-file edit that forgot the profile would silently give NaN attributes
        raise ValueError(f"industries.csv: divisions {missing} have no profile in industries.py")
    frame = frame.join(profile, on="division")
    return frame.reset_index(drop=True)
