"""City-size classes of the State Council's 2014 standard (国发〔2014〕51号).

《国务院关于调整城市规模划分标准的通知》(State Council, 2014, No. 51) classifies cities by the resident
population of their urban area proper (城区常住人口):

=================  ==============  ===================
class              中文            城区常住人口
=================  ==============  ===================
super-large        超大城市        ≥ 10 million
very large         特大城市        5 – 10 million
large I            Ⅰ型大城市       3 – 5 million
large II           Ⅱ型大城市       1 – 3 million
medium             中等城市        0.5 – 1 million
small I            Ⅰ型小城市       0.2 – 0.5 million
small II           Ⅱ型小城市       < 0.2 million
=================  ==============  ===================

The notice reads "X以上Y以下" with 以上 inclusive and 以下 exclusive, so each lower bound belongs to
its class (exactly 10,000,000 is super-large).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: (class, Chinese name, lower bound of 城区常住人口 in persons), largest first.
CITY_SIZE_CLASSES: tuple[tuple[str, str, float], ...] = (
    ("super-large", "超大城市", 10_000_000),
    ("very large", "特大城市", 5_000_000),
    ("large I", "Ⅰ型大城市", 3_000_000),
    ("large II", "Ⅱ型大城市", 1_000_000),
    ("medium", "中等城市", 500_000),
    ("small I", "Ⅰ型小城市", 200_000),
    ("small II", "Ⅱ型小城市", 0),
)

CLASS_ZH: dict[str, str] = {c: zh for c, zh, _ in CITY_SIZE_CLASSES}


def city_size_class(urban_population: pd.Series | np.ndarray | list[float]) -> pd.Series:
    """Class of each urban-area population (persons) by 国发〔2014〕51号; NA stays NA.

    Examples
    --------
    >>> city_size_class([10_000_000, 9_999_999, 200_000, 199_999, None]).tolist()
    ['super-large', 'very large', 'small I', 'small II', <NA>]
    """
    values = pd.to_numeric(pd.Series(urban_population, dtype="Float64"), errors="coerce")
    out = pd.Series(pd.NA, index=values.index, dtype="string")
    arr = values.to_numpy(dtype=float, na_value=np.nan)
    if np.any(arr < 0):
        bad = np.flatnonzero(arr < 0)[:5].tolist()
        raise ValueError(f"urban_population must be >= 0 persons; rows {bad} are negative")
    assigned = np.zeros(len(arr), dtype=bool)
    for name, _zh, lower in CITY_SIZE_CLASSES:
        hit = ~assigned & (arr >= lower)
        out[hit] = name
        assigned |= hit
    return out
