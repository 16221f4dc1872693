"""Benchmark: generating the demo economy (target: `large`, ~1M establishments, under 60 s).

Prints, measured in this run:

* ours — :func:`clusteratlas.demo.economy.generate` at the chosen scale: wall time and peak
  resident memory (each scale in a fresh process, so peaks do not mix);
* baseline — the straightforward way to write such a generator, one Python loop iteration per
  establishment with the ``random`` module (industry, county, location, Lomax employment, lognormal
  output, exports, founding year), timed on ``--baseline-n`` establishments beside the same draws
  done the demo's vectorised way (the full ``generate`` does much more: panel, innovation, truth,
  so it is not compared with the loop).

Usage::

    python bench/demo.py                 # large
    python bench/demo.py --scale small   # during development on a shared machine
"""

from __future__ import annotations

import argparse
import itertools
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
    codes = ind["industry"].tolist()
    ind_cum = list(itertools.accumulate(ind["weight"].tolist()))
    prod = dict(zip(codes, ind["productivity"], strict=True))
    exp_rate = dict(zip(codes, ind["export_rate"], strict=True))
    pop_cum = list(itertools.accumulate(counties["population"].tolist()))
    county_ids = list(range(len(pop_cum)))
    lon, lat = counties["lon"].tolist(), counties["lat"].tolist()
    spread = counties["spread_km"].tolist()
    rnd = random.Random(seed)
    t0 = time.perf_counter()
    rows = []
    for i in range(n):
        industry = rnd.choices(codes, cum_weights=ind_cum)[0]  # bisect on cumulative weights
        c = rnd.choices(county_ids, cum_weights=pop_cum)[0]
        x = lon[c] + rnd.gauss(0, spread[c]) / (111.2 * math.cos(math.radians(lat[c])))
        y = lat[c] + rnd.gauss(0, spread[c]) / 111.2
        emp = min(math.floor(1 + SIZE_S0 * ((1 - rnd.random()) ** (-1 / SIZE_ALPHA) - 1)), SIZE_CAP)
        out = emp * prod[industry] * rnd.lognormvariate(-0.18, 0.6)
        exports = out * rnd.betavariate(1.2, 2.8) if rnd.random() < exp_rate[industry] else 0.0
        founded = max(1949, math.floor(2022 - rnd.expovariate(1 / 12)))
        rows.append((f"E{i:07d}", industry, c, x, y, emp, out, exports, founded))
    return time.perf_counter() - t0


def ours_core(n: int, seed: int = 0) -> float:
    """Seconds for the same firm attributes as :func:`baseline`, drawn the demo's vectorised way."""
    import numpy as np

    from clusteratlas.demo import firms, places
    from clusteratlas.demo.industries import industries
    from clusteratlas.geo import regions

    ind = industries()
    counties = places.county_table(regions())
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    w = ind["weight"].to_numpy()
    i = rng.choice(len(ind), n, p=w / w.sum())
    pop = counties["population"].to_numpy()
    c = rng.choice(len(counties), n, p=pop / pop.sum())
    places.scatter(rng, counties["lon"].to_numpy()[c], counties["lat"].to_numpy()[c],
                   counties["spread_km"].to_numpy()[c])
    emp = firms.draw_employment(rng, np.ones(n))
    out = firms.draw_output(rng, emp, ind["productivity"].to_numpy()[i])
    firms.draw_exports(rng, out, ind["export_rate"].to_numpy()[i],
                       ind["export_intensity"].to_numpy()[i])
    firms.draw_founded(rng, emp, 2022)
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
    t_core = ours_core(args.baseline_n, args.seed)
    n = ours["establishments_latest"]
    per_ours = ours["generate_s"] / n * 1e6
    print(f"demo economy, scale={args.scale} seed={args.seed}: {n:,} establishments in the latest year")
    print("  rows: " + ", ".join(f"{k} {v:,}" for k, v in ours["rows"].items()))
    print(f"  gazetteer load        {ours['gazetteer_s']:8.2f} s")
    print(f"  ours: generate        {ours['generate_s']:8.2f} s   peak RSS {ours['peak_mb']:,.0f} MB   "
          f"({per_ours:.2f} µs per establishment: every table, 3-year panel, innovation, truth)")
    print(f"  same work, {args.baseline_n:,} firms' attributes (industry, county, location, size, "
          "output, exports, founding year):")
    print(f"    baseline: Python loop (random module) {t_base:8.3f} s")
    print(f"    ours: vectorised NumPy                {t_core:8.3f} s   "
          f"({t_base / t_core:.0f}x faster)")
    print(f"  target: large under 60 s -> {'met' if ours['generate_s'] < 60 else 'NOT met'}"
          if args.scale == "large" else "")


if __name__ == "__main__":
    main()
