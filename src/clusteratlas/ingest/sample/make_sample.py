"""Regenerate ``establishments_sample.csv`` (synthetic; see README.md): ``python make_sample.py``.

Plants one known set of problems, so that the ingest's report on this file can be checked
record by record against the README's table.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

DISTRICTS = {"320505": ("虎丘区", 120.57, 31.30), "320506": ("吴中区", 120.63, 31.26),
             "320507": ("相城区", 120.64, 31.37), "320508": ("姑苏区", 120.62, 31.31),
             "320509": ("吴江区", 120.65, 31.14)}
INDUSTRIES = ["C3971", "C3562", "C2710", "C3670", "C3982"]
WORDS = ["华", "瑞", "创", "新", "恒", "联", "达", "盛", "嘉", "博"]
KINDS = ["电子", "机械", "医药", "汽车部件", "材料"]
HEADER = ["企业代码", "企业名称", "年份", "行业代码", "行政区划代码", "地址", "经度", "纬度",
          "从业人数（人）", "营业收入（万元）", "出口交货值", "成立年份"]
IND, ADDR, LON, LAT, EMP, OUT, FOUNDED = 3, 5, 6, 7, 8, 9, 11
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def make_rows() -> list[list[str]]:
    rng = np.random.default_rng(7)
    rows = []
    for i in range(100):
        code = list(DISTRICTS)[i % 5]
        district, lon, lat = DISTRICTS[code]
        rows.append([
            f"SZ{i + 1:05d}",
            f"苏州{WORDS[i % 10]}{WORDS[(i // 10) % 10]}{KINDS[(i * 7) % 5]}有限公司",
            "2022", INDUSTRIES[(i * 7) % 5], code,
            f"江苏省苏州市{district}{['科技', '工业', '创新', '金山', '滨湖'][i % 5]}路{i + 1}号",
            f"{lon + rng.normal(0, 0.03):.5f}", f"{lat + rng.normal(0, 0.02):.5f}",
            str(int(rng.lognormal(4, 1)) + 1), f"{rng.lognormal(8, 1.2):.1f}",
            "" if rng.random() < 0.6 else f"{rng.lognormal(6, 1):.1f}",
            str(int(rng.integers(1985, 2021))),
        ])
    # corrected
    for i in (3, 17, 41):
        rows[i][OUT] = f"{float(rows[i][OUT]) + 10000:,.1f}"
    for i in (8, 55):
        rows[i][EMP] = rows[i][EMP].translate(FULL_WIDTH)
    for i in (12, 60, 77):
        rows[i][LON], rows[i][LAT] = rows[i][LAT], rows[i][LON]
    for i in (21, 88):
        rows[i][FOUNDED] += "年"
    # quarantined
    for i in (25, 70):
        rows[i][IND] = ""
    for i in (30, 64):
        rows[i][EMP] = "约" + rows[i][EMP]
    for i in (35, 81):
        rows[i][OUT] = "-" + rows[i][OUT]
    rows[44][LON] = rows[44][LAT] = "0"
    rows[47][LON], rows[47][LAT] = "220.6", "131.2"
    rows[52][LAT] = ""
    rows[58] = list(rows[57])
    rows[58][EMP] = str(int(rows[57][EMP]) + 7)
    return rows


def write(path: Path) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for i, row in enumerate(make_rows()):
        if i == 92:  # an unquoted comma inside the address: one field too many
            fields = [*row[:ADDR], row[ADDR].replace("路", "路,", 1), *row[ADDR + 1:]]
            out.write(",".join(fields) + "\n")
            continue
        writer.writerow(row)
        if i in (10, 66):  # verbatim repeats
            writer.writerow(row)
    path.write_bytes(out.getvalue().encode("gb18030"))


if __name__ == "__main__":
    write(Path(__file__).with_name("establishments_sample.csv"))
