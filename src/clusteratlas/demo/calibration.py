"""How close a generated demo economy comes to the published facts it is calibrated to.

:func:`calibration` returns one row per fact: the published or target value, the value realised in
the generated economy (latest year), and the source. The demo README states the same facts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from clusteratlas.demo import firms, planted
from clusteratlas.demo.places import MACRO_TARGET

if TYPE_CHECKING:
    from clusteratlas.demo.economy import DemoEconomy

_CENSUS = "4th national economic census 2018 (NBS): 3.270 million manufacturing units, 104.713 million persons"
_MIIT_2022 = "MIIT, 2022 national SRDI SME conference: 8,997 little giants, 848 single champions"
_CLUSTERS = "MIIT/People's Daily 2022-12: 45 clusters hold 2,200+ little giants and 170+ champions"


def hill_tail_exponent(values: np.ndarray, top: float = 0.01) -> float:
    """Hill (1975) estimator of the Pareto tail exponent from the largest ``top`` share of values."""
    x = np.sort(np.asarray(values, dtype=float))
    k = max(int(len(x) * top), 10)
    tail = x[-k:]
    return float(1.0 / np.mean(np.log(tail / tail[0])))


def calibration(economy: DemoEconomy) -> pd.DataFrame:
    """Published facts beside their realised values in ``economy`` (latest year).

    Returns
    -------
    pandas.DataFrame
        ``fact``, ``target``, ``realised``, ``source``.
    """
    est = economy.establishments
    latest = est.loc[est["year"] == est["year"].max()]
    emp = latest["employment"].to_numpy(dtype=float)
    out = latest["output"].to_numpy(dtype=float)
    exports = latest["exports"].to_numpy(dtype=float)
    designations = latest["designations"].fillna("")
    lg = designations.str.contains("little_giant").to_numpy(dtype=bool)
    ch = designations.str.contains("single_champion").to_numpy(dtype=bool)
    ht = designations.str.contains("high_tech").to_numpy(dtype=bool)
    truth = economy.truth
    n = len(latest)

    nat = truth.loc[truth["kind"] == "national"]
    in_nat = _membership(latest, economy.members, "national")
    in_sme = _membership(latest, economy.members, "sme_featured")

    county_macro = _county_macro(economy.regions)
    east_share = float((latest["region_code"].map(county_macro) == "East").mean())
    nat_macro = nat.groupby("cluster_id")["macro_region"].agg(lambda s: s.mode().iloc[0])
    split = nat_macro.value_counts().reindex(["East", "Central", "West", "Northeast"]).fillna(0)

    sme_years = est.loc[est["est_id"].isin(latest.loc[in_sme, "est_id"])]
    by_year = sme_years.groupby("year")["exports"].sum()
    sme_export_growth = (float((by_year.iloc[-1] / by_year.iloc[0]) ** (1 / (len(by_year) - 1)) - 1)
                         if len(by_year) > 1 and by_year.iloc[0] > 0 else np.nan)

    actors = economy.innovation_actors
    hubs = truth.loc[truth["kind"] == "innovation_hub"]
    hub_share = {}
    for kind in ("patent", "publication"):
        docs = economy.innovations.loc[economy.innovations["kind"] == kind, "doc_id"]
        a = actors.loc[actors["doc_id"].isin(docs)]
        pref = a["region_code"].map(_county_prefecture(economy.regions))
        in_hub = pref.isin(set(hubs["region_code"])) | a["region_code"].isin(set(hubs["region_code"]))
        hub_share[kind] = float(a.loc[in_hub.to_numpy(dtype=bool), "share"].sum() / a["share"].sum())

    rows = [
        ("mean employment per manufacturing unit", 104.713e6 / 3.270e6, emp.mean(), _CENSUS),
        ("tail exponent of firm size (Hill, top 1%)", firms.SIZE_ALPHA, hill_tail_exponent(emp),
         "Heinrich & Dai 2016 (density exponent 2.0-2.5, i.e. tail 1.0-1.5); Axtell 2001 (1.06)"),
        ("little giants per manufacturing unit", firms.LITTLE_GIANT_RATE, lg.mean(), _MIIT_2022),
        ("single champions per manufacturing unit", firms.SINGLE_CHAMPION_RATE, ch.mean(), _MIIT_2022),
        ("share of little giants in national clusters", firms.LITTLE_GIANT_IN_CLUSTERS,
         lg[in_nat].sum() / max(lg.sum(), 1), _CLUSTERS),
        ("share of single champions in national clusters", firms.SINGLE_CHAMPION_IN_CLUSTERS,
         ch[in_nat].sum() / max(ch.sum(), 1), _CLUSTERS),
        ("high-tech enterprise share", firms.HIGH_TECH_RATE, ht.mean(),
         "MOST: ~400,000 high-tech enterprises in 2022; manufacturing share assumed (README)"),
        ("output share of the 45 national clusters", planted.NATIONAL_OUTPUT_SHARE,
         out[in_nat].sum() / out.sum(), "20 of 137.9 trillion yuan, 2022 (MIIT; NBS)"),
        ("output share of SME featured clusters", planted.SME_OUTPUT_SHARE,
         out[in_sme].sum() / out.sum(), "2.5 of 137.9 trillion yuan (MIIT; NBS)"),
        ("SME featured cluster export growth per year", planted.SME_EXPORT_GROWTH,
         sme_export_growth, "MIIT: exports of the 100 SME featured clusters grow ~30% a year"),
        ("national clusters in the East", 30, split["East"], "MIIT 2022 list"),
        ("national clusters in the Central region", 8, split["Central"], "MIIT 2022 list"),
        ("national clusters in the West", 5, split["West"], "MIIT 2022 list"),
        ("national clusters in the Northeast", 2, split["Northeast"], "MIIT 2022 list"),
        ("share of establishments in the East", MACRO_TARGET["East"], east_share,
         "our calibration (2018 census: 58.8% of all legal units in the East)"),
        ("export share of output", np.nan, exports.sum() / out.sum(), "not calibrated (reported)"),
        ("share of patents in innovation hubs", planted.HUB_PATENT_SHARE, hub_share["patent"],
         "our assumption (GII 2023 hubs hold most Chinese PCT filings)"),
        ("share of publications in innovation hubs", planted.HUB_PUBLICATION_SHARE,
         hub_share["publication"], "our assumption"),
        ("establishments, latest year", np.nan, n, "scale"),
    ]
    return pd.DataFrame(rows, columns=["fact", "target", "realised", "source"])


def _membership(latest: pd.DataFrame, members: pd.DataFrame, kind: str) -> np.ndarray:
    """Whether each latest-year establishment was planted in a component of ``kind``."""
    ids = members.loc[members["kind"] == kind, "est_id"]
    return latest["est_id"].isin(ids).to_numpy(dtype=bool)


def _county_prefecture(regions: pd.DataFrame) -> pd.Series:
    from clusteratlas.demo.places import county_table

    counties = county_table(regions)
    return pd.Series(counties["prefecture_code"].to_numpy(dtype=object),
                     index=counties["region_code"].to_numpy(dtype=object))


def _county_macro(regions: pd.DataFrame) -> pd.Series:
    from clusteratlas.demo.places import county_table

    counties = county_table(regions)
    return pd.Series(counties["macro_region"].to_numpy(dtype=object),
                     index=counties["region_code"].to_numpy(dtype=object))
