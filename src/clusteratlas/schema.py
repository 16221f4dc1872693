"""Canonical tables of Cluster Atlas: column names, dtypes, units, required/optional and meaning.

This is the one place these are defined. Ingest validates against it, the store creates its tables
from it, and the docs print it (``clusteratlas schema``). Tables are long and tidy.

Dtypes are pandas extension dtype names (nullable), so missing values stay missing rather than
turning integers into floats.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    dtype: str
    required: bool
    description: str
    description_zh: str = ""
    unit: str = ""


@dataclass(frozen=True)
class Table:
    """A canonical table: ordered columns and the key that identifies a row."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}; columns are {self.names}")

    def dtypes(self) -> dict[str, str]:
        return {c.name: c.dtype for c in self.columns}

    def empty_frame(self) -> pd.DataFrame:
        """A zero-row frame with this table's columns and dtypes."""
        return pd.DataFrame({c.name: pd.Series(dtype=c.dtype) for c in self.columns})

    def describe(self) -> pd.DataFrame:
        """The table's documentation as a frame (name, dtype, unit, required, meaning)."""
        return pd.DataFrame(
            [
                {
                    "column": c.name,
                    "dtype": c.dtype,
                    "unit": c.unit,
                    "required": c.required,
                    "description": c.description,
                    "description_zh": c.description_zh,
                }
                for c in self.columns
            ]
        )


ESTABLISHMENTS = Table(
    name="establishments",
    key=("est_id", "year"),
    description="Firms or plants, one row per establishment and year.",
    columns=(
        Column("est_id", "string", True, "Establishment identifier, unique within a year", "企业/单位标识"),
        Column("year", "Int64", True, "Reference year of the record", "年份", "year"),
        Column("industry", "string", True, "Industry code (e.g. GB/T 4754-2017 group)", "行业代码"),
        Column("region_code", "string", False, "Region code (GB/T 2260 for China)", "行政区划代码"),
        Column("lon", "Float64", False, "Longitude, WGS-84", "经度", "degree"),
        Column("lat", "Float64", False, "Latitude, WGS-84", "纬度", "degree"),
        Column("employment", "Float64", False, "Persons employed (headcount)", "从业人数", "persons"),
        Column("output", "Float64", False, "Gross output or operating revenue", "营业收入/产值", "10k CNY"),
        Column("exports", "Float64", False, "Export delivery value", "出口交货值", "10k CNY"),
        Column("founded", "Int64", False, "Year of founding", "成立年份", "year"),
        Column(
            "designations",
            "string",
            False,
            "Semicolon-separated designations: little_giant, single_champion, high_tech",
            "荣誉称号(专精特新小巨人、单项冠军、高新技术企业)",
        ),
        Column("name", "string", False, "Establishment name", "企业名称"),
        Column("address", "string", False, "Address or place name, resolved by the gazetteer", "地址"),
        Column(
            "location_approx",
            "boolean",
            False,
            "True when lon/lat are a region centroid, not the establishment's own location",
            "坐标为区划中心点(近似)",
        ),
    ),
)

INNOVATIONS = Table(
    name="innovations",
    key=("doc_id",),
    description="Patents and publications, one row per document.",
    columns=(
        Column("doc_id", "string", True, "Document identifier", "文献/专利号"),
        Column("kind", "string", True, "patent or publication", "类型(专利/论文)"),
        Column("year", "Int64", True, "Filing or publication year", "年份", "year"),
        Column("field", "string", False, "Technology or science field", "技术/学科领域"),
    ),
)

INNOVATION_ACTORS = Table(
    name="innovation_actors",
    key=("doc_id", "actor_id"),
    description="Actors of each document with fractional shares that sum to 1 per document.",
    columns=(
        Column("doc_id", "string", True, "Document identifier (innovations.doc_id)", "文献/专利号"),
        Column("actor_id", "string", True, "Actor identifier", "主体标识"),
        Column("actor_type", "string", True, "firm, university, institute or person", "主体类型"),
        Column("lon", "Float64", False, "Longitude, WGS-84", "经度", "degree"),
        Column("lat", "Float64", False, "Latitude, WGS-84", "纬度", "degree"),
        Column("region_code", "string", False, "Region code", "行政区划代码"),
        Column("share", "Float64", True, "Fractional count of the document", "分数计数份额", "share"),
    ),
)

REGIONS = Table(
    name="regions",
    key=("region_code",),
    description="The gazetteer's regions: one row per region at every level (swappable per country).",
    columns=(
        Column("region_code", "string", True, "Region code (GB/T 2260 for China)", "行政区划代码"),
        Column("name", "string", True, "Official name", "名称"),
        Column("level", "string", True, "province, prefecture or county", "层级"),
        Column("parent_code", "string", False, "Code of the enclosing region", "上级代码"),
        Column("lon", "Float64", False, "Centroid or seat longitude, WGS-84", "经度", "degree"),
        Column("lat", "Float64", False, "Centroid or seat latitude, WGS-84", "纬度", "degree"),
        Column("macro_region", "string", False, "East, Central, West or Northeast (NBS)", "四大区域"),
        Column("city_size_class", "string", False, "City-size class, State Council 2014", "城市规模等级"),
        Column("population", "Float64", False, "Resident population (2020 census)", "常住人口", "persons"),
    ),
)

LINKS = Table(
    name="links",
    key=("origin", "destination", "kind"),
    description="Directed or undirected links between regions or actors.",
    columns=(
        Column("origin", "string", True, "Origin region or actor", "起点"),
        Column("destination", "string", True, "Destination region or actor", "终点"),
        Column("kind", "string", True, "co_patent, investment or supply", "联系类型"),
        Column("year", "Int64", False, "Year", "年份", "year"),
        Column("weight", "Float64", False, "Strength of the link", "权重"),
    ),
)

PLANTED_CLUSTERS = Table(
    name="planted_clusters",
    key=("cluster_id", "component"),
    description=(
        "Ground truth planted in the demo economy (clusteratlas.demo), one row per component: one "
        "industry at one site of a planted cluster. Methods are scored against it (precision and "
        "recall). kind: national (the 45 national advanced manufacturing clusters at their real host "
        "cities), sme_featured (SME featured clusters in small and medium cities), colocated_pair "
        "(two industries planted at the same sites; both rows share cluster_id), innovation_hub "
        "(GII 2023 Chinese S&T clusters; industry empty, they hold patents and publications), "
        "dispersed (control industries on sites copied from random establishments; no site). "
        "Industries not listed follow the common background and are not clustered either."
    ),
    columns=(
        Column("cluster_id", "string", True,
               "Planted cluster: NAMC-01..45, SME-001.., PAIR-01.., HUB-nn (nn = GII 2023 rank), DISP-01..", "集群标识"),
        Column("component", "Int64", True, "Number of the component within the cluster (0, 1, ...)",
               "组成部分序号"),
        Column("kind", "string", True,
               "national, sme_featured, colocated_pair, innovation_hub or dispersed", "类型"),
        Column("name_zh", "string", False, "Cluster name in Chinese", "集群名称"),
        Column("name_en", "string", False, "Cluster name in English", "集群英文名称"),
        Column("industry", "string", False,
               "Industry planted (establishments.industry); empty for innovation hubs", "行业代码"),
        Column("region_code", "string", False,
               "Host region: a city (prefecture or municipality) for national clusters and hubs, a "
               "county for SME clusters and pairs; empty for dispersed industries", "所在区划代码"),
        Column("host_name", "string", False, "Name of the host region in the gazetteer", "所在地名称"),
        Column("lon", "Float64", False, "Longitude of the planted centre, WGS-84", "中心经度", "degree"),
        Column("lat", "Float64", False, "Latitude of the planted centre, WGS-84", "中心纬度", "degree"),
        Column("radius_km", "Float64", False,
               "Spread of the planted points: sd of the Gaussian around the centre (about 95% lie "
               "within 2.45 radius_km)", "分布半径(标准差)", "km"),
        Column("macro_region", "string", False, "Macro-region of the host (NBS)", "四大区域"),
        Column("city_size_class", "string", False, "City-size class of the host", "城市规模等级"),
        Column("field", "string", False, "MIIT field of a national cluster, or theme", "领域"),
        Column("n_establishments", "Int64", False,
               "Establishments planted in this component alive in the latest year", "植入企业数"),
        Column("employment", "Float64", False, "Their employment, latest year", "从业人数", "persons"),
        Column("output", "Float64", False, "Their output, latest year", "产值", "10k CNY"),
        Column("strength", "Float64", False,
               "Establishment components: share of the industry's establishments (latest year) "
               "planted here; hubs: expected share of patents plus share of publications (GII-style "
               "score); dispersed: 0", "集聚强度"),
        Column("growth", "Float64", False, "Planted expected log growth of employment per year",
               "设定增长率", "1/year"),
        Column("rank", "Int64", False, "Planted rank of an innovation hub (1 = largest)", "设定排名"),
        Column("source", "string", False, "Where the cluster comes from (published list or synthetic)",
               "来源"),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (ESTABLISHMENTS, INNOVATIONS, INNOVATION_ACTORS, REGIONS, LINKS, PLANTED_CLUSTERS)
}


def table(name: str) -> Table:
    """The canonical table called ``name``; a clear error names the known tables otherwise."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known tables: {sorted(TABLES)}") from None
