"""Benchmark: density clustering and cluster stars at scale, each beside a named baseline.

1. Density clusters of 2 million weighted points with many shared locations (as geocoded data
   has: a campus, a city-centre geocode), ours (:func:`clusteratlas.detect.density.weighted_dbscan`)
   against ``sklearn.cluster.DBSCAN(metric="haversine", algorithm="ball_tree")`` with
   ``sample_weight`` on the same points. Each side runs in its own forked process so that its
   peak resident memory can be reported; both sides' labels must be identical (core points,
   border points and label numbers).
2. Stars and strong-cluster flags for every county × industry of 5 million establishments,
   ours (:func:`clusteratlas.detect.stars.cluster_stars`) beside the straightforward pandas
   version (``groupby`` sums, then a Python loop over industries with ``numpy.quantile``); the
   strong/strong10/significant/qualifying flags must agree.

    .venv/bin/python bench/detect.py                      # full size
    .venv/bin/python bench/detect.py --points 200000 --establishments 500000   # quick
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def geocoded_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points on ~n/13 distinct geocodes around n/2500 cities plus background; dyadic weights.

    The number of cities grows with ``n`` so that the points per city (and so the neighbourhood
    sizes scikit-learn must hold in memory) stay those of a real geocoded country. Weights are
    fractional counts 1, 1/2, 1/4, 1/8 (exact in binary, so both sides sum them without
    rounding and the identity check is exact).
    """
    rng = np.random.default_rng(seed)
    n_loc = max(n // 13, 100)
    n_city = max(n // 2500, 10)
    cities = np.column_stack([rng.uniform(100, 122, n_city), rng.uniform(22, 42, n_city)])
    city_w = rng.lognormal(0, 1.0, n_city)
    c = rng.choice(n_city, size=n_loc, p=city_w / city_w.sum())
    sd_deg = rng.uniform(0.03, 0.12, n_city)[c]  # 3-13 km
    locs = cities[c] + rng.normal(0, 1, (n_loc, 2)) * sd_deg[:, None]
    bg = rng.random(n_loc) < 0.15
    locs[bg] = np.column_stack([rng.uniform(90, 125, bg.sum()), rng.uniform(20, 45, bg.sum())])
    pop = rng.lognormal(0, 1.0, n_loc)
    which = rng.choice(n_loc, size=n, p=pop / pop.sum())
    pts = np.round(locs[which], 5)  # geocodes to 5 decimals (about 1 m)
    w = 1.0 / rng.choice([1, 2, 4, 8], size=n, p=[0.4, 0.3, 0.2, 0.1])
    return pts, w


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_side(side: str, pts: np.ndarray, w: np.ndarray, radius_km: float, min_weight: int,
              out: str, queue: mp.Queue) -> None:
    start_mib = _peak_mib()
    t0 = time.perf_counter()
    if side == "ours":
        from clusteratlas.detect.density import weighted_dbscan

        labels = weighted_dbscan(pts, w, radius_km=radius_km, min_weight=min_weight).labels
    else:
        from sklearn.cluster import DBSCAN

        from clusteratlas.geo.distance import EARTH_RADIUS_KM

        labels = DBSCAN(eps=radius_km / EARTH_RADIUS_KM, min_samples=min_weight,
                        metric="haversine", algorithm="ball_tree", n_jobs=-1).fit(
            np.radians(pts[:, ::-1]), sample_weight=w).labels_
    seconds = time.perf_counter() - t0
    np.save(out, labels)
    queue.put((side, seconds, _peak_mib(), start_mib))


def bench_density(n: int, radius_km: float, min_weight: int, seed: int) -> None:
    from clusteratlas.detect.density import weighted_dbscan

    pts, w = geocoded_points(n, seed)
    n_unique = len(np.unique(pts[:, 0] + 1j * pts[:, 1]))
    # compile the numba kernels (cached on disk after the first run) outside the timing
    weighted_dbscan(pts[:1000], w[:1000], radius_km=radius_km, min_weight=min_weight)
    print(f"\n== Density clusters: {n:,} weighted points on {n_unique:,} distinct locations, "
          f"radius {radius_km} km, min weight {min_weight} ==")
    ctx = mp.get_context("fork")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for side in ("ours", "sklearn"):
            q: mp.Queue = ctx.Queue()
            path = str(Path(tmp) / f"{side}.npy")
            p = ctx.Process(target=_run_side, args=(side, pts, w, radius_km, min_weight, path, q))
            p.start()
            got = q.get()
            p.join()
            results[side] = (*got[1:], np.load(path))
        (t_o, peak_o, base_o, lab_o), (t_s, peak_s, base_s, lab_s) = results["ours"], results["sklearn"]
    same = np.array_equal(lab_o, lab_s)
    print(f"{'':34}{'seconds':>10}{'peak RSS MiB':>15}{'RSS growth MiB':>16}")
    print(f"{'ours (grid, merged locations)':34}{t_o:10.2f}{peak_o:15.0f}{peak_o - base_o:16.0f}")
    print(f"{'sklearn DBSCAN haversine ball_tree':34}{t_s:10.2f}{peak_s:15.0f}"
          f"{peak_s - base_s:16.0f}")
    print(f"speed-up: {t_s / t_o:.1f}x; clusters: ours {lab_o.max() + 1}, sklearn "
          f"{lab_s.max() + 1}; labels identical (core, border, numbering): {same}")
    if not same:
        diff = np.flatnonzero(lab_o != lab_s)
        print(f"  {len(diff)} points differ, first {diff[:10].tolist()}")


def establishments(n: int, n_counties: int, n_industries: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    provinces = rng.choice(np.arange(11, 66), size=n_counties)
    counties = pd.Index([f"{p:02d}{(i // 20) % 100:02d}{i % 100:02d}"
                         for i, p in enumerate(provinces)]).unique()
    county_p = rng.lognormal(0, 1.2, len(counties))
    ind_p = 1.0 / np.arange(1, n_industries + 1) ** 0.8
    county = rng.choice(len(counties), size=n, p=county_p / county_p.sum())
    industry = rng.choice(n_industries, size=n, p=ind_p / ind_p.sum())
    localised = rng.random(n_industries) < 0.2
    homes = rng.integers(0, len(counties), size=(n_industries, 5))
    move = localised[industry] & (rng.random(n) < 0.5)
    county[move] = homes[industry[move], rng.integers(0, 5, size=int(move.sum()))]
    emp = np.round(rng.lognormal(2.5, 1.2, n)) + 1
    return pd.DataFrame({
        "est_id": np.arange(n),
        "region_code": counties.take(county),
        "industry": pd.Index([f"C{k:03d}" for k in range(n_industries)]).take(industry),
        "employment": emp,
        "output": emp * rng.lognormal(3, 0.5, n),
    })


def pandas_baseline(data: pd.DataFrame) -> pd.DataFrame:
    """cmp's flags the straightforward way: groupby sums, LQ, a loop over industries."""
    cell = data.groupby(["region_code", "industry"], observed=True).agg(
        employment=("employment", "sum"), establishments=("est_id", "size")).reset_index()
    full = pd.MultiIndex.from_product([cell["region_code"].unique(), cell["industry"].unique()],
                                      names=["region_code", "industry"])
    cell = cell.set_index(["region_code", "industry"]).reindex(full, fill_value=0).reset_index()
    reg = cell.groupby("region_code")["employment"].transform("sum")
    ind = cell.groupby("industry")["employment"].transform("sum")
    cell["lq"] = (cell["employment"] / reg) / (ind / cell["employment"].sum())
    cell["lq"] = cell["lq"].replace([np.inf, -np.inf], np.nan).fillna(0.0)
    parts = []
    for _, g in cell.groupby("industry"):
        pos = g[g["employment"] > 0]
        q_lq = np.quantile(pos["lq"], [0.25, 0.5, 0.75, 0.9])
        base = ((g["employment"] > np.quantile(pos["employment"], 0.25))
                & (g["establishments"] > np.quantile(pos["establishments"], 0.25)))
        parts.append(pd.DataFrame({
            "qualifying": base & (g["lq"] > q_lq[0]),
            "significant": base & (g["lq"] > q_lq[1]),
            "strong": base & (g["lq"] >= q_lq[2]) & (g["lq"] >= 1),
            "strong10": base & (g["lq"] >= q_lq[3]) & (g["lq"] >= 1),
        }, index=g.index))
    flags = pd.concat(parts)
    return cell.join(flags)


def bench_stars(n: int, seed: int) -> None:
    from clusteratlas.detect.stars import cluster_stars

    data = establishments(n, 2800, 200, seed)
    print(f"\n== Stars and strong clusters: {n:,} establishments, "
          f"{data['region_code'].nunique():,} counties × {data['industry'].nunique()} industries ==")
    t0 = time.perf_counter()
    ours = cluster_stars(data, output="output", regions=pd.DataFrame({"region_code": []}))
    t_o = time.perf_counter() - t0
    t0 = time.perf_counter()
    base = pandas_baseline(data)
    t_b = time.perf_counter() - t0
    a = ours.table.set_index(["region", "industry"])
    b = base.set_index(["region_code", "industry"]).reindex(a.index)
    agree = {f: bool((a[f].to_numpy() == b[f].fillna(False).to_numpy(dtype=bool)).all())
             for f in ("qualifying", "significant", "strong", "strong10")}
    print(f"{'':44}{'seconds':>10}")
    print(f"{'ours (cluster_stars: stars, Panorama, cmp)':44}{t_o:10.2f}")
    print(f"{'pandas groupby + loop over industries (cmp)':44}{t_b:10.2f}")
    print(f"cells: {len(a):,}; strong clusters: {int(a['strong'].sum()):,}; flags agree: {agree}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--radius-km", type=float, default=1.0)
    parser.add_argument("--min-weight", type=int, default=50)
    parser.add_argument("--establishments", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--only", choices=("density", "stars"), default=None)
    args = parser.parse_args()
    if args.only in (None, "density"):
        bench_density(args.points, args.radius_km, args.min_weight, args.seed)
    if args.only in (None, "stars"):
        bench_stars(args.establishments, args.seed)


if __name__ == "__main__":
    main()
