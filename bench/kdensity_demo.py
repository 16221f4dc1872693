"""Benchmark: Duranton–Overman K-density with bands for every industry of the demo economy.

Issue 6's target: every industry of the ``large`` demo economy (about 1M establishments, 105
industries) with 1000 counterfactuals and bands in under 20 minutes on 2 cores.

Run:  .venv/bin/python bench/kdensity_demo.py                  # large, sampled industries
      .venv/bin/python bench/kdensity_demo.py --all            # every industry (hours)
      .venv/bin/python bench/kdensity_demo.py --scale small --all

Without ``--all`` the industries at the 0th, 10th, 25th and 50th percentiles of size are run
in full (1000 counterfactuals, global bands, lon/lat great-circle distances, the cutoff at the
median distance of the whole economy) until ``--budget`` seconds are spent, and the time of
the others is extrapolated from the measured ones with ``t = a + b · n²`` (least squares; the
work of one counterfactual is its ``n (n − 1) / 2`` location pairs). The printout says which
industries were measured and which extrapolated. The baseline is the same method with the
per-sample kernels only — the cost model is printed, not a second run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from clusteratlas.demo import generate
from clusteratlas.measure.kdensity import kdensity

TARGET_S = 20 * 60


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="large", choices=["small", "default", "large"])
    ap.add_argument("--sims", type=int, default=1000)
    ap.add_argument("--budget", type=float, default=600.0, help="seconds for measured industries")
    ap.add_argument("--all", action="store_true", help="run every industry")
    args = ap.parse_args()

    t0 = time.perf_counter()
    eco = generate(args.scale, seed=0)
    est = eco.establishments
    latest = est.loc[est["year"] == est["year"].max(), ["industry", "lon", "lat"]].copy()
    latest["industry"] = latest["industry"].astype(str)
    sizes = latest["industry"].value_counts().sort_values()
    print(f"{args.scale} demo: {len(latest):,} establishments, {len(sizes)} industries "
          f"(sizes {sizes.min():,}–{sizes.max():,}; Σ n²/2 = {(sizes.astype(float) ** 2 / 2).sum():.3g}"
          f" pairs per set of draws); generated in {time.perf_counter() - t0:.1f} s")

    # compile once and fix the cutoff of the whole economy
    warm = kdensity(latest, [sizes.index[0]], n_sims=20, seed=1, progress=False)
    cutoff = warm.params["cutoff"]
    if args.all:
        chosen = list(sizes.index)
    else:
        qs = [0.0, 0.10, 0.25, 0.50]
        chosen = list(dict.fromkeys(sizes.index[int(q * (len(sizes) - 1))] for q in qs))
    measured: dict[str, float] = {}
    spent = 0.0
    for name in chosen:
        if not args.all and spent > args.budget:
            break
        t1 = time.perf_counter()
        res = kdensity(latest, [name], n_sims=args.sims, seed=1, cutoff=cutoff, progress=False)
        dt = time.perf_counter() - t1
        spent += dt
        measured[name] = dt
        row = res.indices.iloc[0]
        path = next((n.split(": ", 1)[1] for n in res.notes if n.startswith(f"industry {name}:")),
                    "")
        print(f"  industry {name}: n = {sizes[name]:>6,}  {dt:8.1f} s  Γ = {row.gamma:.3g}"
              f"{'  localised' if row.localised else ''}  [{path[:70]}]")
    n = sizes.astype(float)
    if len(measured) == len(sizes):
        total = spent
        how = "measured"
    else:
        xs = np.array([n[k] ** 2 / 2 for k in measured])
        ys = np.array(list(measured.values()))
        if len(xs) >= 2:
            b, a = np.polyfit(xs, ys, 1)
        else:
            a, b = 0.0, ys[0] / xs[0]
        rest = [k for k in sizes.index if k not in measured]
        total = spent + float(sum(a + b * n[k] ** 2 / 2 for k in rest))
        how = (f"{len(measured)} measured ({spent:.0f} s), {len(rest)} extrapolated with "
               f"t = {a:.2f} s + {b * 1e9:.2f} ns × n²/2")
    print(f"every industry, {args.sims} counterfactuals with bands: {total:,.0f} s "
          f"= {total / 60:.1f} min ({how})")
    if args.scale == "large":
        print(f"target: under {TARGET_S // 60} min → {'met' if total < TARGET_S else 'NOT met'}")


if __name__ == "__main__":
    main()
