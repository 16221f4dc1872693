"""The end-to-end demo: generate the economy, ingest it into a store, run every analysis stage,
score the results against the planted truth and summarise.

Each stage is a small function ``stage(ctx) -> None`` that reads from and writes to a
:class:`DemoRun` context; :func:`run_demo` runs them in order with a progress display. A stage that
fails is reported (its error becomes a finding) and the others still run, so one broken method does
not hide the rest.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from clusteratlas.console import console, make_progress
from clusteratlas.demo.economy import DemoEconomy, generate
from clusteratlas.errors import InputError


@dataclass
class DemoRun:
    """State shared by the stages of one demo run."""

    scale: str
    seed: int
    out: Path
    economy: DemoEconomy | None = None
    atlas: Any = None
    results: dict[str, pd.DataFrame] = field(default_factory=dict)
    scores: list[dict[str, Any]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def latest(self) -> pd.DataFrame:
        est = self.economy.establishments  # type: ignore[union-attr]
        return est.loc[est["year"] == est["year"].max()]

    def result(self, name: str, frame: pd.DataFrame) -> None:
        """Keep a result: in memory, in the store and as CSV under ``out/results``."""
        self.results[name] = frame
        if self.atlas is not None:
            self.atlas.write_result(name, _storable(frame))
        path = self.out / "results" / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, encoding="utf-8-sig")


def _storable(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding mixed Python values become text so DuckDB can store them."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].astype("string")
    return out


# --- stages ------------------------------------------------------------------------------------
def stage_generate(ctx: DemoRun) -> None:
    """Generate the demo economy and write its tables as Parquet (truth also as CSV)."""
    ctx.economy = generate(ctx.scale, ctx.seed)
    data = ctx.out / "data"
    data.mkdir(parents=True, exist_ok=True)
    for name, frame in ctx.economy.tables().items():
        frame.to_parquet(data / f"{name}.parquet", index=False)
    ctx.economy.truth.to_csv(data / "planted_clusters.csv", index=False, encoding="utf-8-sig")
    ctx.economy.members.to_parquet(data / "planted_members.parquet", index=False)
    p = ctx.economy.params
    ctx.findings.append(
        f"Generated {p['establishments_latest_year']:,} establishments in {p['years'][-1]} "
        f"({len(ctx.economy.establishments):,} establishment-years {p['years'][0]}–{p['years'][-1]}), "
        f"{p['patents']:,} patents and {p['publications']:,} publications; "
        f"{ctx.economy.truth['cluster_id'].nunique()} planted clusters.")
    from clusteratlas.demo.calibration import calibration

    cal = calibration(ctx.economy)
    path = ctx.out / "results" / "demo_calibration.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    cal.to_csv(path, index=False, encoding="utf-8-sig")
    ctx.results["demo_calibration"] = cal
    c = cal.set_index("fact")["realised"]
    ctx.findings.append(
        f"Calibration: {c['little giants per manufacturing unit'] * 1e4:.1f} little giants and "
        f"{c['single champions per manufacturing unit'] * 1e4:.2f} single champions per 10,000 "
        f"units (published 24.2 and 2.6); national clusters produce "
        f"{c['output share of the 45 national clusters']:.0%} of output (published 14.5%); "
        f"East/Central/West/Northeast {c['national clusters in the East']:.0f}/"
        f"{c['national clusters in the Central region']:.0f}/{c['national clusters in the West']:.0f}/"
        f"{c['national clusters in the Northeast']:.0f} (published 30/8/5/2); full table in "
        f"results/demo_calibration.csv.")


def stage_ingest(ctx: DemoRun) -> None:
    """Load every table through the normal ingest path into a new store under ``out/atlas``."""
    from clusteratlas.store import Atlas

    assert ctx.economy is not None
    # The demo's folder is its own: a store left by an earlier demo run (maybe another seed, whose
    # keys would collide) is replaced, not added to.
    for old in (ctx.out / "atlas").glob("atlas.duckdb*"):
        old.unlink()
    ctx.atlas = Atlas.init(ctx.out / "atlas")
    lines = []
    tables = {"regions": ctx.economy.regions, **ctx.economy.tables()}
    industries = ctx.economy.industries["industry"]
    for name, frame in tables.items():
        # Codes are checked against the gazetteer and the industry list, as a user's load would be.
        checks: dict[str, Any] = {}
        if name in ("establishments", "innovation_actors"):
            checks["regions"] = ctx.economy.regions
        if name == "establishments":
            checks["valid_industries"] = industries
        report = ctx.atlas.load(frame, table=name, source=f"demo:{name}", **checks)
        lines.append(f"{name} {report.accepted + report.corrected:,}/{report.rows_read:,}")
        if report.quarantined:
            ctx.findings.append(f"ingest quarantined {report.quarantined:,} rows of {name} "
                                "(see the store's ledger)")
    ctx.findings.append("Stored through the ingest path: " + ", ".join(lines) + " rows accepted.")



# --- truth helpers -----------------------------------------------------------------------------
PLANTED_KINDS = ("national", "sme_featured", "colocated_pair")


def _truth(ctx: DemoRun, kinds: tuple[str, ...] = PLANTED_KINDS) -> pd.DataFrame:
    truth = ctx.economy.truth  # type: ignore[union-attr]
    return truth.loc[truth["kind"].isin(kinds)]


def _prefecture_codes(codes: pd.Series) -> pd.Series:
    """Truth region codes as the prefecture codes their counties roll up to (GB/T 2260 prefixes).

    A province-level municipality (``110000``) hosts its counties under ``110100``; a county code
    rolls up to its first four digits.
    """
    text = codes.astype("string")
    pref = text.str.slice(0, 4) + "00"
    municipal = text.str.endswith("0000")
    return pref.where(~municipal, text.str.slice(0, 2) + "0100")


def _score(ctx: DemoRun, method: str, target: str, scores: Any, detail: str = "") -> None:
    """Record one precision/recall row (from a ``detect.scoring.Scores`` table or a dict)."""
    row = scores.table.iloc[0].to_dict() if hasattr(scores, "table") else dict(scores)
    ctx.scores.append({"method": method, "target": target,
                       "precision": float(row["precision"]), "recall": float(row["recall"]),
                       "n_found": int(row.get("n_found", 0)), "n_truth": int(row.get("n_truth", 0)),
                       "detail": detail})


def _precision_recall(found: set, truth: set) -> dict[str, float]:
    tp = len(found & truth)
    return {"precision": tp / len(found) if found else float("nan"),
            "recall": tp / len(truth) if truth else float("nan"),
            "n_found": len(found), "n_truth": len(truth)}


# --- analysis stages ---------------------------------------------------------------------------
def stage_specialisation(ctx: DemoRun) -> None:
    """Location quotients by prefecture × industry (latest year, employment)."""
    from clusteratlas.measure import specialisation

    res = specialisation(ctx.latest, level="prefecture")
    ctx.result("specialisation", res.table)
    nat = _truth(ctx, ("national",))
    lq = res.table.set_index([res.table["region"].astype(str), res.table["industry"].astype(str)])
    keys = zip(_prefecture_codes(nat["region_code"]), nat["industry"].astype(str), strict=True)
    hits = [lq["lq"].get(k, float("nan")) for k in keys]
    share = sum(1 for v in hits if v >= 2) / max(len(hits), 1)
    ctx.findings.append(f"Location quotients: {share:.0%} of the national clusters' host-city × "
                        f"industry cells have LQ ≥ 2.")


def stage_agglomeration(ctx: DemoRun) -> None:
    """Ellison–Glaeser γ (and Maurel–Sédillot) per industry across counties; planted industries
    should be significant."""
    from clusteratlas.measure import ellison_glaeser, maurel_sedillot

    res = ellison_glaeser(ctx.latest)
    ctx.result("ellison_glaeser", res.table)
    ctx.result("maurel_sedillot", maurel_sedillot(ctx.latest).table)
    t = res.table
    flagged = set(t.loc[t["significant"].astype(bool) & (t["gamma"] > 0), "industry"].astype(str))
    planted_inds = set(_truth(ctx)["industry"].dropna().astype(str))
    dispersed = set(_truth(ctx, ("dispersed",))["industry"].astype(str))
    _score(ctx, "Ellison–Glaeser γ (significant, > 0)", "planted industries",
           _precision_recall(flagged, planted_inds),
           f"{len(flagged & dispersed)} of {len(dispersed)} dispersed controls flagged")
    top = t.sort_values("gamma", ascending=False).head(3)
    ctx.findings.append("Most localised industries (EG γ): " + ", ".join(
        f"{i} γ={g:.3f}" for i, g in zip(top["industry"], top["gamma"], strict=True)) + ".")


def stage_coagglomeration(ctx: DemoRun) -> None:
    """EG co-agglomeration γᶜ for every pair; the planted pairs should rank near the top."""
    from clusteratlas.measure import coagglomeration

    res = coagglomeration(ctx.latest)
    t = res.table
    ctx.result("coagglomeration", t)
    rank = t["gamma_c"].rank(ascending=False, pct=True)
    pair_key = {frozenset((str(a), str(b))): r for a, b, r in
                zip(t["industry_a"], t["industry_b"], rank, strict=True)}
    # Co-located by construction: the planted pairs, and industries planted together at one site
    # of a national cluster.
    planted: set[frozenset[str]] = set()
    together = _truth(ctx, ("colocated_pair", "national"))
    for _, group in together.groupby(["cluster_id", "region_code"]):
        inds = sorted(set(group["industry"].astype(str)))
        planted.update(frozenset((a, b)) for i, a in enumerate(inds) for b in inds[i + 1:])
    k = len(planted)
    top = {key for key, r in pair_key.items() if r <= k / max(len(pair_key), 1)}
    _score(ctx, "EG co-agglomeration γᶜ (top k pairs)", "pairs planted together",
           _precision_recall(top, planted), f"k = {k} of {len(pair_key):,} pairs")


#: Largest industry (establishments, latest year) the demo's K-density stage takes, by scale, and
#: the number of counterfactuals (the paper uses 1000; the demo keeps to its time budget).
KDENSITY_MAX_N = {"small": 500, "default": 1200, "large": 2500}
KDENSITY_SIMS = 99


def _kdensity_industries(ctx: DemoRun) -> tuple[list[str], list[str]]:
    """The most strongly planted national and co-located-pair industries no larger than the
    scale's cap, and the smallest dispersed control."""
    truth = ctx.economy.truth  # type: ignore[union-attr]
    sizes = ctx.latest["industry"].astype(str).value_counts()
    small = set(sizes.index[sizes <= KDENSITY_MAX_N[ctx.scale]])

    def strongest(kind: str) -> list[str]:
        rows = truth.loc[(truth["kind"] == kind) & truth["industry"].astype(str).isin(small)]
        if rows.empty:
            return []
        order = rows.groupby("industry")["strength"].sum().sort_values(ascending=False)
        return [str(order.index[0])]

    # The control: the smallest dispersed industry, whatever its size (it must be there).
    controls = truth.loc[truth["kind"] == "dispersed", "industry"].astype(str)
    smallest = sizes.reindex(controls).sort_values().index[:1].tolist()
    return strongest("national") + strongest("colocated_pair"), smallest


def stage_kdensity(ctx: DemoRun) -> None:
    """Duranton–Overman K-density for planted and dispersed industries, with global bands."""
    from clusteratlas.measure.kdensity import kdensity

    planted, dispersed = _kdensity_industries(ctx)
    res = kdensity(ctx.latest, planted + dispersed, n_sims=KDENSITY_SIMS, seed=ctx.seed,
                   progress=False)
    ctx.result("kdensity", res.table)
    ctx.result("kdensity_indices", res.indices)
    idx = res.indices.set_index(res.indices["industry"].astype(str))
    loc = set(idx.index[idx["localised"].astype(bool)])
    _score(ctx, "Duranton–Overman K-density (localised)", "planted vs dispersed industries",
           _precision_recall(loc, set(planted)),
           f"industries {', '.join(planted + dispersed)}; {len(loc & set(dispersed))} of "
           f"{len(dispersed)} dispersed localised; {KDENSITY_SIMS} counterfactuals")


def stage_stars(ctx: DemoRun) -> None:
    """Cluster stars and strong-cluster flags by prefecture × industry over the panel."""
    from clusteratlas.detect.scoring import score_cells
    from clusteratlas.detect.stars import cluster_stars

    economy = ctx.economy
    assert economy is not None
    res = cluster_stars(economy.establishments, year="year", output="output",
                        regions=economy.regions, level="prefecture")
    t = res.table
    ctx.result("cluster_stars", t)
    truth = _truth(ctx).assign(region_code=lambda t: _prefecture_codes(t["region_code"]))
    for flag, label in (("strong", "U.S. Cluster Mapping strong clusters"),
                        ("stars", "ECO stars (≥ 1)")):
        sc = score_cells(t, truth, flag=flag, level="prefecture")
        _score(ctx, label, "planted region × industry", sc, "prefecture level")
    three = t.loc[t["stars"] >= 3]
    if "macro_region" in t.columns and len(three):
        by = three["macro_region"].value_counts()
        ctx.findings.append("Three-star clusters by macro-region: " + ", ".join(
            f"{k} {v}" for k, v in by.items()) + ".")


def stage_related(ctx: DemoRun) -> None:
    """Related-industry cluster definitions (Delgado–Porter–Stern) from co-location."""
    from clusteratlas.detect.related import related_clusters
    from clusteratlas.detect.scoring import score_pairs

    res = related_clusters(ctx.latest, level="prefecture", seed=ctx.seed)
    ctx.result("related_clusters", res.table)
    sc = score_pairs(res.table, ctx.economy.truth)  # type: ignore[union-attr]
    _score(ctx, "Related-industry categories (DPS 2016)", "planted co-located pairs", sc)


def stage_density(ctx: DemoRun) -> None:
    """GII-style density clusters of inventors and authors; the planted hubs should lead."""
    from clusteratlas.detect.density import density_clusters
    from clusteratlas.detect.scoring import score_sites

    economy = ctx.economy
    assert economy is not None
    points = economy.innovation_actors.merge(economy.innovations[["doc_id", "kind"]], on="doc_id")
    total = float(points["share"].sum())
    res = density_clusters(points, radius_km=15.0, min_weight=max(total * 0.0005, 5.0),
                           regions=economy.regions)
    ctx.result("density_clusters", res.table.drop(columns=["geometry_wkt"], errors="ignore"))
    hubs = economy.truth.loc[economy.truth["kind"] == "innovation_hub"]
    n_hubs = hubs["cluster_id"].nunique()
    # A hub planted at several cities (Shenzhen and Guangzhou, 100 km apart) may rightly come out
    # as several clusters, so the top N scored is the number of planted sites.
    sc = score_sites(res.table, hubs, top=len(hubs), match_km=40.0)
    _score(ctx, "GII density clusters (top N)", f"{n_hubs} planted innovation hubs", sc,
           f"DBSCAN 15 km, fractional counts; top {len(hubs)} = planted sites")
    top = res.table.sort_values("rank").head(3)
    ctx.findings.append("Top innovation clusters: " + ", ".join(
        f"{n} ({s:.1f}%)" for n, s in zip(top["name"], top["score_pct"], strict=True)) + ".")


def stage_rank_stability(ctx: DemoRun) -> None:
    """How the GII-style ranking moves over radius × minimum-weight settings (3 × 3 runs)."""
    from clusteratlas.detect.density import rank_stability

    economy = ctx.economy
    assert economy is not None
    points = economy.innovation_actors.merge(economy.innovations[["doc_id", "kind"]], on="doc_id")
    base = max(float(points["share"].sum()) * 0.0005, 5.0)
    res = rank_stability(points, radii_km=[10.0, 15.0, 20.0],
                         min_weights=[base / 2, base, base * 2], reference=(15.0, base),
                         regions=economy.regions)
    t = res.table.sort_values("rank")
    ctx.result("density_rank_stability", t)
    top = t.head(5)
    ctx.findings.append("GII-style rank over 9 settings (min–max): " + ", ".join(
        f"{n} {int(lo)}–{int(hi)}" for n, lo, hi in
        zip(top["name"], top["rank_min"], top["rank_max"], strict=True)) + ".")


#: Density clusters of establishments: DBSCAN radius, and the minimum number of establishments
#: within it as a share of the industry's (planted components hold 5-15 % of an industry's plants;
#: counts, not employment, because one very large plant would otherwise be a "cluster").
PLANT_RADIUS_KM = 10.0
PLANT_MIN_SHARE = 0.02


def stage_density_plants(ctx: DemoRun) -> None:
    """Density clusters of each industry's establishments (DBSCAN on counts), scored industry by
    industry against the planted sites of that industry."""
    from clusteratlas.detect.density import density_clusters
    from clusteratlas.detect.scoring import score_sites

    economy = ctx.economy
    assert economy is not None
    latest = ctx.latest
    truth = _truth(ctx)
    tables, totals = [], {"found": 0, "tp_found": 0, "truth": 0, "tp_truth": 0}
    for industry, plants in latest.groupby("industry", sort=True):
        res = density_clusters(plants, radius_km=PLANT_RADIUS_KM,
                               min_weight=max(5.0, PLANT_MIN_SHARE * len(plants)), weight=None,
                               kind=None, regions=economy.regions)
        table = res.table.drop(columns=["geometry_wkt"], errors="ignore").assign(
            industry=str(industry))
        tables.append(table)
        sites = truth.loc[truth["industry"].astype(str) == str(industry)]
        if len(sites) == 0:
            totals["found"] += len(table)  # any cluster of an unplanted industry is a false find
            continue
        row = score_sites(res.table, sites, match_km=30.0).table.iloc[0]
        totals["found"] += int(row["n_found"])
        totals["tp_found"] += int(row["true_positives_found"])
        totals["truth"] += int(row["n_truth"])
        totals["tp_truth"] += int(row["true_positives_truth"])
    found = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    ctx.result("density_plants", found)
    _score(ctx, "Density clusters of establishments (per industry)",
           "planted clusters, same industry",
           {"precision": totals["tp_found"] / totals["found"] if totals["found"] else float("nan"),
            "recall": totals["tp_truth"] / totals["truth"] if totals["truth"] else float("nan"),
            "n_found": totals["found"], "n_truth": totals["truth"]},
           f"DBSCAN {PLANT_RADIUS_KM:g} km, core: {PLANT_MIN_SHARE:.0%} of the industry's plants")


STAGES: list[tuple[str, Callable[[DemoRun], None]]] = [
    ("generate the demo economy", stage_generate),
    ("ingest into the store", stage_ingest),
    ("measure: location quotients", stage_specialisation),
    ("measure: Ellison–Glaeser", stage_agglomeration),
    ("measure: co-agglomeration", stage_coagglomeration),
    ("measure: K-density", stage_kdensity),
    ("detect: cluster stars", stage_stars),
    ("detect: related industries", stage_related),
    ("detect: GII density clusters", stage_density),
    ("detect: GII rank stability", stage_rank_stability),
    ("detect: density clusters of establishments", stage_density_plants),
]


def run_demo(scale: str = "small", out: str | Path = "clusteratlas-demo", seed: int = 0,
             show_progress: bool | None = None, stages: list[str] | None = None) -> DemoRun:
    """Run the whole demo and return its context (results, scores, findings, timings).

    Parameters
    ----------
    scale : {"small", "default", "large"}
    out : path
        Output folder: ``atlas/`` (the store, replaced on every run), ``data/`` (generated tables),
        ``results/`` (CSV), ``errors.log`` (tracebacks of failed stages, if any).
    seed : int
    show_progress : bool, optional
        Force the progress display on or off (default: when stderr is a terminal).
    stages : list of str, optional
        Run only these stages (names as in :data:`STAGES`); generation and ingest always run.
    """
    chosen = [(name, fn) for name, fn in STAGES
              if stages is None or name in stages or fn in (stage_generate, stage_ingest)]
    unknown = sorted(set(stages or []) - {name for name, _ in STAGES})
    if unknown:
        raise InputError(f"stages: unknown {unknown}; known: {[name for name, _ in STAGES]}")
    ctx = DemoRun(scale=scale, seed=seed, out=Path(out))
    ctx.out.mkdir(parents=True, exist_ok=True)
    (ctx.out / "errors.log").unlink(missing_ok=True)
    with make_progress(show_progress) as progress:
        task = progress.add_task("demo", total=len(chosen))
        for name, stage in chosen:
            progress.update(task, description=name)
            start = time.perf_counter()
            try:
                stage(ctx)
            except Exception as exc:  # a failing stage is reported, the demo goes on
                if stage in (stage_generate, stage_ingest):
                    raise
                ctx.errors[name] = f"{type(exc).__name__}: {exc}"
                ctx.findings.append(f"{name}: failed ({type(exc).__name__}: {exc})")
                (ctx.out / "errors.log").open("a", encoding="utf-8").write(
                    f"== {name}\n{traceback.format_exc()}\n")
            ctx.timings[name] = time.perf_counter() - start
            progress.advance(task)
    if ctx.atlas is not None:
        scores = pd.DataFrame(ctx.scores)
        if len(scores):
            ctx.result("demo_scores", scores)
        ctx.atlas.close()
    return ctx


def print_summary(ctx: DemoRun) -> None:
    """The findings, the scores against the planted truth and where the outputs are (Rich)."""
    from rich.table import Table

    console.rule("[bold]Cluster Atlas demo 集群图谱演示")
    for line in ctx.findings:
        console.print(f"• {line}", highlight=False)
    if ctx.scores:
        table = Table(title="Scored against the planted truth 与植入真值比对")
        for col in ("method", "target", "precision", "recall", "detail"):
            table.add_column(col)
        for s in ctx.scores:
            table.add_row(s["method"], s["target"], _fmt(s.get("precision")),
                          _fmt(s.get("recall")), str(s.get("detail", "")))
        console.print(table)
    total = sum(ctx.timings.values())
    console.print("Stages: " + ", ".join(f"{k} {v:.1f}s" for k, v in ctx.timings.items())
                  + f"; total {total:.1f}s", highlight=False)
    console.print(f"Outputs: store [bold]{ctx.out / 'atlas' / 'atlas.duckdb'}[/], generated tables "
                  f"in {ctx.out / 'data'}, results in {ctx.out / 'results'}", highlight=False)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    return f"{value:.2f}"
