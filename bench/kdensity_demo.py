"""Benchmark: Duranton–Overman K-density with bands for every industry of the demo economy.

Issue 6's target: every industry of the ``large`` demo economy (about 1M establishments, 105
industries) with 1000 counterfactuals and bands in under 20 minutes on 2 cores.

Run:  .venv/bin/python bench/kdensity_demo.py                 # large, 1000 counterfactuals
      .venv/bin/python bench/kdensity_demo.py --sims 40        # and extrapolate to 1000
      .venv/bin/python bench/kdensity_demo.py --scale small

Every industry is measured in one call (lon/lat great-circle distances, the cutoff at the
median distance of the whole economy, global bands), as a user would. With ``--sims`` below
1000 the run is repeated with half as many counterfactuals and the time for 1000 is
extrapolated from the two (the work grows linearly in the number of counterfactuals; the
observed industries, pilots and set-up are the intercept). The printout says which.

Baseline, in the same run: the same call with ``shared_draws=False`` (each industry draws its
own counterfactuals, visiting ``Σ n²/2`` pairs per set of draws instead of ``max n²/2``) on
``--baseline`` industries of median size, extrapolated to all of them by ``n²``.
"""

from __future__ import annotations

import argparse
import os
import time

import numba

from clusteratlas.demo import generate
from clusteratlas.measure.kdensity import kdensity

TARGET_S = 20 * 60


def _timed(latest, industries, sims, cutoff, **kw):
    """Wall-clock seconds, CPU seconds of this process (all threads) and the result."""
    t0 = time.perf_counter()
    c0 = time.process_time()
    res = kdensity(latest, industries, n_sims=sims, seed=1, cutoff=cutoff, progress=False, **kw)
    return time.perf_counter() - t0, time.process_time() - c0, res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="large", choices=["small", "default", "large"])
    ap.add_argument("--sims", type=int, default=1000)
    ap.add_argument("--baseline", type=int, default=3,
                    help="industries of median size timed with independent draws")
    args = ap.parse_args()

    t0 = time.perf_counter()
    eco = generate(args.scale, seed=0)
    est = eco.establishments
    latest = est.loc[est["year"] == est["year"].max(), ["industry", "lon", "lat"]].copy()
    latest["industry"] = latest["industry"].astype(str)
    sizes = latest["industry"].value_counts().sort_values()
    n = sizes.to_numpy(dtype=float)
    print(f"{args.scale} demo: {len(latest):,} establishments, {len(sizes)} industries "
          f"(sizes {int(n.min()):,}–{int(n.max()):,}); pairs per set of draws: Σ n²/2 = "
          f"{(n**2 / 2).sum():.3g} independent, max n²/2 = {n.max() ** 2 / 2:.3g} shared; "
          f"generated in {time.perf_counter() - t0:.1f} s")
    # compile, and fix the cutoff of the whole economy
    warm = kdensity(latest, list(sizes.index[:2]), n_sims=20, seed=1, progress=False)
    cutoff = warm.params["cutoff"]
    industries = list(sizes.index)

    t_all, c_all, res = _timed(latest, industries, args.sims, cutoff)
    shared_note = next((x for x in res.notes if "shared ordered draws" in x), "no shared draws")
    print(f"ours, every industry, {args.sims} counterfactuals: {t_all:,.1f} s "
          f"({c_all:,.1f} CPU-s); {int(res.indices.localised.sum())} of {len(res.indices)} "
          "localised")
    print(f"  {shared_note[:160]}")
    if args.sims < 1000:
        half = max(20, args.sims // 2)
        t_half, c_half, _ = _timed(latest, industries, half, cutoff)
        per_draw = (t_all - t_half) / (args.sims - half)
        total = t_half + per_draw * (1000 - half)
        cpu = c_half + (c_all - c_half) / (args.sims - half) * (1000 - half)
        how = (f"extrapolated from {half} ({t_half:,.1f} s) and {args.sims} counterfactuals: "
               f"{per_draw:.2f} s per counterfactual of every industry")
    else:
        total, cpu, how = t_all, c_all, "measured"
    threads = numba.get_num_threads()
    print(f"every industry, 1000 counterfactuals with bands: {total:,.0f} s = {total / 60:.1f} min"
          f" ({how})")
    # the CPU time does not depend on what else the machine runs: divided by the threads, it is
    # the wall-clock time on otherwise idle cores (the work is parallel but for set-up)
    print(f"  CPU time: {cpu:,.0f} CPU-s → {cpu / threads / 60:.1f} min on {threads} idle cores "
          f"(load average at the end: {os.getloadavg()[0]:.2f})")

    # industries around the median size (the smallest would overstate the baseline: fixed
    # costs per sample dominate there)
    k = min(args.baseline, len(industries))
    mid = len(industries) // 2
    picked = list(range(max(0, mid - k // 2), max(0, mid - k // 2) + k))
    t_ind, _, _ = _timed(latest, [industries[i] for i in picked], args.sims, cutoff,
                         shared_draws=False)
    scale = (n**2).sum() / (n[picked] ** 2).sum()
    t_ind_all = t_ind * scale * (1000 / args.sims)
    print(f"baseline, independent draws per industry: {t_ind:,.1f} s for {k} of median size "
          f"({args.sims} counterfactuals) → ≈ {t_ind_all:,.0f} s = {t_ind_all / 3600:.1f} h for "
          f"every industry with 1000 (by n²; speed-up ≈ {t_ind_all / total:.0f}×)")
    if args.scale == "large":
        print(f"target: under {TARGET_S // 60} min → {'met' if total < TARGET_S else 'NOT met'} "
              "(wall clock)")


if __name__ == "__main__":
    main()
