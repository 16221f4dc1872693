"""Benchmark: generating the demo economy (target: `large`, ~1M establishments, under 60 s).

Prints, measured in this run:

* ours — :func:`clusteratlas.demo.economy.generate` at the chosen scale: wall time and peak
  resident memory (each scale in a fresh process, so peaks do not mix);
* baseline — the straightforward way to write such a generator, one Python loop iteration per
  establishment with the ``random`` module (drawing the same firm attributes: industry, county,
  location, Lomax employment, lognormal output, exports, founding year), timed on ``--baseline-n``
  establishments; its time per establishment is printed beside ours.

Usage::

    python bench/demo.py                 # large
    python bench/demo.py --scale small   # during development on a shared machine
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import subprocess
import sys
import time


def _child(scale: str, seed: int) -> None:
    from clusteratlas.geo import regions, resolve

    t0 = time.perf_counter()
    reg = regions()
    t_geo = time.perf_counter() - t0
    from clusteratlas.demo.economy import generate

    t0 = time.perf_counter()
    economy = generate(scale, seed, regions=reg, resolve=resolve)
    t_gen = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({
        "gazetteer_s": t_geo, "generate_s": t_gen, "peak_mb": peak_mb,
        "establishments_latest": economy.params["establishments_latest_year"],
        "rows": {k: len(v) for k, v in economy.tables().items()},
    }))


def baseline(n: int, seed: int = 0) -> float:
    """Seconds for a per-record Python loop drawing the same attributes for ``n`` firms."""
    from clusteratlas.demo.firms import SIZE_ALPHA, SIZE_CAP, SIZE_S0
    from clusteratlas.demo.industries import industries
    from clusteratlas.demo.places import county_table
    from clusteratlas.geo import regions

    ind = industries()
    counties = county_table(regions())
    weights = ind["weight"].tolist()
    codes = ind["industry"].tolist()
    prod = dict(zip(codes, ind["productivity"], strict=True))
    exp_rate = dict(zip(codes, ind["export_rate"], strict=True))
    pop = counties["population"].tolist()
    lon, lat = counties["lon"].tolist(), counties["lat"].tolist()
    spread = counties["spread_km"].tolist()
    rnd = random.Random(seed)
    t0 = time.perf_counter()
    rows = []
    for i in range(n):
        industry = rnd.choices(codes, weights)[0]
        c = rnd.choices(range(len(pop)), pop)[0]
        x = lon[c] + rnd.gauss(0, spread[c]) / (111.2 * math.cos(math.radians(lat[c])))
        y = lat[c] + rnd.gauss(0, spread[c]) / 111.2
        emp = min(math.floor(1 + SIZE_S0 * ((1 - rnd.random()) ** (-1 / SIZE_ALPHA) - 1)), SIZE_CAP)
        out = emp * prod[industry] * rnd.lognormvariate(-0.18, 0.6)
        exports = out * rnd.betavariate(1.2, 2.8) if rnd.random() < exp_rate[industry] else 0.0
        founded = max(1949, math.floor(2022 - rnd.expovariate(1 / 12)))
        rows.append((f"E{i:07d}", industry, c, x, y, emp, out, exports, founded))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="large", choices=["small", "default", "large"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-n", type=int, default=50_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.scale, args.seed)
        return
    proc = subprocess.run([sys.executable, __file__, "--child", "--scale", args.scale,
                           "--seed", str(args.seed)], capture_output=True, text=True, check=True)
    ours = json.loads(proc.stdout.strip().splitlines()[-1])
    t_base = baseline(args.baseline_n, args.seed)
    n = ours["establishments_latest"]
    per_ours = ours["generate_s"] / n * 1e6
    per_base = t_base / args.baseline_n * 1e6
    print(f"demo economy, scale={args.scale} seed={args.seed}: {n:,} establishments in the latest year")
    print("  rows: " + ", ".join(f"{k} {v:,}" for k, v in ours["rows"].items()))
    print(f"  gazetteer load        {ours['gazetteer_s']:8.2f} s")
    print(f"  ours: generate        {ours['generate_s']:8.2f} s   peak RSS {ours['peak_mb']:,.0f} MB   "
          f"({per_ours:.2f} µs per establishment, all tables, panel and innovation included)")
    print(f"  baseline: Python loop {t_base:8.2f} s for {args.baseline_n:,} establishments "
          f"({per_base:.2f} µs per establishment, firm attributes only)")
    print(f"  baseline extrapolated to {n:,}: {per_base * n / 1e6:.1f} s; ours is "
          f"{per_base / per_ours:.1f}x faster per establishment")
    print(f"  target: large under 60 s -> {'met' if ours['generate_s'] < 60 else 'NOT met'}"
          if args.scale == "large" else "")


if __name__ == "__main__":
    main()
