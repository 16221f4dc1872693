"""Map the column names of a user's file to the canonical names of :mod:`clusteratlas.schema`.

Three sources, in order of precedence:

1. an explicit mapping from the user (CLI ``--map employees=employment`` or a small YAML file),
2. the canonical names themselves and the Chinese names recorded in the schema
   (``description_zh``, e.g. ``营业收入/产值`` gives 营业收入 and 产值),
3. built-in aliases common in Chinese statistical and registry files (企业名称, 从业人员期末人数,
   成立时间 ...) and in English files (employees, revenue, longitude ...).

Header names are compared after normalisation: full-width characters folded to ASCII, case and
spaces/underscores/hyphens ignored, and a trailing unit in brackets dropped (``从业人数（人）`` and
``营业收入(万元)`` match). Two columns that map to the same canonical name are an error: the user
must choose with an explicit mapping.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path

import yaml

from clusteratlas import schema
from clusteratlas.errors import InputError

# Aliases beyond the schema's own names; per table, canonical name -> accepted header spellings.
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "establishments": {
        "est_id": ("id", "firm_id", "establishment_id", "企业代码", "企业id", "企业编号", "单位代码",
                   "统一社会信用代码", "组织机构代码", "法人单位代码"),
        "year": ("年份", "年度", "统计年度", "统计年份", "报告期"),
        "industry": ("industry_code", "sector", "行业代码", "国民经济行业代码", "行业类别代码",
                     "行业小类代码", "所属行业代码"),
        "region_code": ("adcode", "区划代码", "行政区划代码", "地区代码", "所在地区代码"),
        "lon": ("lng", "long", "longitude", "经度", "x坐标"),
        "lat": ("latitude", "纬度", "y坐标"),
        "employment": ("employees", "employee", "workers", "jobs", "从业人数", "从业人员",
                       "从业人员期末人数", "从业人员平均人数", "年末从业人数", "职工人数", "员工人数"),
        "output": ("revenue", "sales", "turnover", "营业收入", "主营业务收入", "营业总收入",
                   "工业总产值", "总产值", "产值"),
        "exports": ("export", "export_value", "出口交货值", "出口额", "出口值"),
        "founded": ("founded_year", "year_founded", "established", "成立年份", "成立时间", "成立日期",
                    "开业时间", "开业年份", "注册时间", "注册日期"),
        "designations": ("designation", "荣誉称号", "企业资质", "企业称号"),
        "name": ("firm_name", "company", "company_name", "企业名称", "单位名称", "公司名称",
                 "单位详细名称"),
        "address": ("addr", "place", "地址", "详细地址", "注册地址", "单位地址", "所在地", "地点"),
        "location_approx": (),
    },
    "innovations": {
        "doc_id": ("id", "专利号", "申请号", "公开号", "文献号", "论文编号"),
        "kind": ("type", "类型"),
        "year": ("年份", "申请年份", "发表年份", "公开年份"),
        "field": ("ipc", "subject", "技术领域", "学科", "ipc分类号"),
    },
    "innovation_actors": {
        "doc_id": ("专利号", "申请号", "文献号"),
        "actor_id": ("主体代码", "申请人代码", "作者代码"),
        "actor_type": ("主体类型", "申请人类型"),
        "lon": ("lng", "longitude", "经度"),
        "lat": ("latitude", "纬度"),
        "region_code": ("adcode", "行政区划代码", "区划代码"),
        "share": ("fraction", "份额", "权重"),
    },
    "regions": {
        "region_code": ("code", "adcode", "行政区划代码", "区划代码", "代码"),
        "name": ("名称", "地区名称", "区划名称"),
        "level": ("级别", "层级"),
        "parent_code": ("parent", "上级代码", "上级区划代码"),
        "lon": ("lng", "longitude", "经度"),
        "lat": ("latitude", "纬度"),
        "macro_region": ("四大区域", "区域"),
        "city_size_class": ("城市规模", "城市规模等级"),
        "population": ("pop", "人口", "常住人口"),
    },
    "links": {
        "origin": ("from", "source", "起点"),
        "destination": ("to", "target", "终点"),
        "kind": ("type", "类型", "联系类型"),
        "year": ("年份",),
        "weight": ("value", "权重"),
    },
}

_UNIT_SUFFIX = re.compile(r"[\(\[（【][^\)\]）】]*[\)\]）】]\s*$")


def normalise_header(name: str) -> str:
    """Fold a header to its comparison key (full-width→ASCII, case, separators, unit suffix)."""
    text = unicodedata.normalize("NFKC", str(name)).strip().lstrip("\ufeff")
    text = _UNIT_SUFFIX.sub("", text)
    return re.sub(r"[\s_\-]+", "", text).lower()


def _aliases(table: str) -> dict[str, str]:
    """Normalised alias -> canonical column, lowest precedence first (later entries win)."""
    spec = schema.table(table)
    out: dict[str, str] = {}
    for canonical, names in ALIASES.get(table, {}).items():
        for alias in names:
            out[normalise_header(alias)] = canonical
    for col in spec.columns:
        for part in re.split(r"[/、(（)）]", col.description_zh):
            if part.strip():
                out.setdefault(normalise_header(part), col.name)
    for col in spec.columns:
        out[normalise_header(col.name)] = col.name
    return out


def parse_map_options(items: list[str] | None) -> dict[str, str]:
    """Parse CLI ``--map SOURCE=CANONICAL`` options into a dict."""
    mapping: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise InputError(f"--map {item!r}: expected SOURCE=CANONICAL, e.g. employees=employment")
        source, target = (part.strip() for part in item.split("=", 1))
        if not source or not target:
            raise InputError(f"--map {item!r}: expected SOURCE=CANONICAL, e.g. employees=employment")
        mapping[source] = target
    return mapping


def load_mapping_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a YAML mapping: either ``{source: canonical}`` or ``{columns: {source: canonical}}``."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputError(f"{path}: mapping file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"{path.name}: not a valid UTF-8 YAML mapping ({type(exc).__name__})") from None
    if isinstance(data, dict) and isinstance(data.get("columns"), dict):
        data = data["columns"]
    if not isinstance(data, dict) or not all(
        isinstance(k, str | int) and isinstance(v, str) for k, v in data.items()
    ):
        raise InputError(f"{path.name}: expected a mapping of source column: canonical column")
    return {str(k): v for k, v in data.items()}


def resolve_columns(
    columns: list[str], table: str = "establishments", mapping: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Decide which source column feeds each canonical column.

    Parameters
    ----------
    columns : list of str
        The source file's header names.
    table : str
        Canonical table name (see :mod:`clusteratlas.schema`).
    mapping : mapping of str to str, optional
        Explicit ``source -> canonical`` choices; they win over the built-in aliases.

    Returns
    -------
    dict
        ``source column -> canonical column`` for every source column that maps; unmapped source
        columns are left out (they are kept in the ledger's original values, not stored).

    Raises
    ------
    InputError
        An explicit mapping names a column that is not in the file or a canonical name that does
        not exist; two source columns map to one canonical column; a required column is missing.
    """
    spec = schema.table(table)
    mapping = dict(mapping or {})
    chosen: dict[str, str] = {}
    for source, target in mapping.items():
        if target not in spec.names:
            raise InputError(
                f"mapping {source}={target}: {target!r} is not a column of {table}; "
                f"expected one of {', '.join(spec.names)}"
            )
        if source not in columns:
            matches = [c for c in columns if normalise_header(c) == normalise_header(source)]
            if len(matches) != 1:
                raise InputError(
                    f"mapping {source}={target}: the file has no column {source!r}; "
                    f"its columns are {', '.join(columns)}"
                )
            source = matches[0]
        chosen[source] = target
    aliases = _aliases(table)
    taken = {t: s for s, t in chosen.items()}
    for col in columns:
        if col in chosen:
            continue
        target = aliases.get(normalise_header(col))
        if target is None:
            continue
        if target in taken:
            if taken[target] in mapping or any(
                normalise_header(k) == normalise_header(taken[target]) for k in mapping
            ):
                continue  # the user chose another column for this target explicitly
            raise InputError(
                f"columns {taken[target]!r} and {col!r} both map to {table}.{target}; choose one "
                f"with --map {col}={target} (or map the other to a different column)"
            )
        chosen[col] = target
        taken[target] = col
    missing = [c for c in spec.required if c not in taken]
    if missing:
        raise InputError(
            f"{table}: required column(s) {', '.join(missing)} not found; the file has "
            f"{', '.join(columns)}; map them with --map SOURCE=CANONICAL"
        )
    return chosen
