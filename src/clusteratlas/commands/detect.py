"""``clusteratlas detect …``: density clusters, stars and strong clusters, related-industry
clusters, over a file or the store, written to CSV or Parquet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from clusteratlas.commands._io import parse_floats, print_notes, read_frame, write_frame
from clusteratlas.commands.measure import _level, _reference
from clusteratlas.errors import InputError

detect_app = typer.Typer(
    name="detect",
    help="Detect clusters: density, stars, related industries 识别集群.",
    no_args_is_help=True,
)

_INPUT = typer.Option(None, "--input", help="Input table (.csv, .parquet, .xlsx).")
_PROJECT = typer.Option(None, "--project", help="Project folder: read its store.")
_OUT = typer.Option(None, "--out", help="Write the table here (.csv, .parquet or .xlsx).")
_LEVEL = typer.Option(None, "--level", help="Roll region codes up: province, prefecture, county, "
                      "or a number of leading code characters.")
_TRUTH = typer.Option(None, "--truth", help="Planted/known clusters (cluster_id, "
                      "lon, lat[, kind]) to score precision and recall.")
_POINTS_OUT = typer.Option(None, "--points-out", help="Write each point's cluster_id here.")
_REFERENCE = typer.Option(None, "--reference", help="Reference totals by industry "
                          "(columns industry, value) for the LQ.")
_GEOGRAPHY_OUT = typer.Option(None, "--geography-out", help="Write the counts by "
                              "macro-region and city size here.")
_CATEGORIES = typer.Option(None, "--categories", help="Industry → cluster category table "
                           "(columns industry, cluster), e.g. from 'detect related'.")
_LINKS = typer.Option(None, "--links", help="Industry flows (origin, destination, "
                      "weight[, kind=supply]) for input–output relatedness.")
_CANDIDATES_OUT = typer.Option(None, "--candidates-out",
                               help="Write every candidate's validation scores here.")


def _store_tables(project: Path, names: list[str]) -> dict[str, pd.DataFrame]:
    from clusteratlas.store import Atlas

    out: dict[str, pd.DataFrame] = {}
    with Atlas(project) as atlas:
        have = set(atlas.tables())
        for name in names:
            if name in have:
                frame = atlas.table(name)
                if len(frame):  # every canonical table exists; an empty one is no data
                    out[name] = frame
    return out


def _one_source(input_path: Path | None, project: Path | None) -> None:
    if (input_path is None) == (project is None):
        raise InputError("give exactly one of --input FILE or --project DIR")


def register(app: typer.Typer) -> None:
    app.add_typer(detect_app, name="detect")


@detect_app.command("density")
def density_cmd(
    input_path: Path = _INPUT,
    project: Path = _PROJECT,
    lon: str = typer.Option("lon", "--lon", help="Longitude column (degrees)."),
    lat: str = typer.Option("lat", "--lat", help="Latitude column (degrees)."),
    x: str = typer.Option(None, "--x", help="Projected x column (km), with --metric projected."),
    y: str = typer.Option(None, "--y", help="Projected y column (km), with --metric projected."),
    weight: str = typer.Option("share", "--weight",
                               help="Weight column (fractional count); 'count' for 1 per row."),
    kind: str = typer.Option("kind", "--kind", help="Column patent/publication (scored apart)."),
    region: str = typer.Option("region_code", "--region", help="Region column of the points."),
    radius_km: float = typer.Option(10.0, "--radius-km", help="DBSCAN radius, km."),
    min_weight: float = typer.Option(10.0, "--min-weight", help="Minimum weight of a core point."),
    method: str = typer.Option("dbscan", "--method", help="dbscan or hdbscan."),
    metric: str = typer.Option("haversine", "--metric", help="haversine or projected."),
    outline: str = typer.Option("hull", "--outline", help="hull or buffer."),
    radii: str = typer.Option(None, "--stability-radii",
                              help="Comma-separated radii (km) for rank stability."),
    min_weights: str = typer.Option(None, "--stability-min-weights",
                                    help="Comma-separated minimum weights for rank stability."),
    truth: Path = _TRUTH,
    match_km: float = typer.Option(30.0, "--match-km", help="Distance for a match with --truth."),
    out: Path = _OUT,
    points_out: Path = _POINTS_OUT,
    table_name: str = typer.Option("innovation_actors", "--table",
                                   help="With --project: innovation_actors or establishments."),
    world_patents: float = typer.Option(None, "--world-patents",
                                        help="World total of patents for the shares "
                                             "(default: the input's total)."),
    world_publications: float = typer.Option(None, "--world-publications",
                                             help="World total of publications for the shares "
                                                  "(default: the input's total)."),
) -> None:
    """Density clusters ranked the GII way (密度集群, GII 排名)."""
    from clusteratlas.detect.density import density_clusters, rank_stability

    _one_source(input_path, project)
    regions = None
    if input_path is not None:
        points = read_frame(input_path, [region, kind])
    else:
        if table_name not in ("innovation_actors", "establishments"):
            raise InputError(f"--table: expected innovation_actors or establishments, got "
                             f"{table_name!r}")
        t = _store_tables(project, [table_name, "innovations", "regions"])
        if table_name not in t:
            raise InputError(f"{project}: the store has no {table_name} table")
        points = t[table_name]
        if table_name == "establishments" and weight == "share":
            weight = "employment"
        if table_name == "innovation_actors" and "innovations" in t and \
                "kind" not in points.columns:
            points = points.merge(t["innovations"][["doc_id", "kind"]], on="doc_id", how="left")
        regions = t.get("regions")
    w = None if weight.lower() in ("count", "none", "") else weight
    kwargs = {"method": method, "metric": metric, "lon": lon, "lat": lat, "x": x, "y": y,
              "kind": kind, "region": region, "regions": regions, "outline": outline}
    if world_patents is not None or world_publications is not None:
        if world_patents is None or world_publications is None:
            raise InputError("give both --world-patents and --world-publications")
        kwargs["totals"] = {"patents": world_patents, "publications": world_publications}
    if radii or min_weights:
        res = rank_stability(points, radii_km=parse_floats(radii, "--stability-radii") or [radius_km],
                             min_weights=parse_floats(min_weights, "--stability-min-weights") or [min_weight],
                             reference=(radius_km, min_weight), weight=w, **kwargs)
        table = res.reference.table.merge(
            res.table[["cluster_id", "rank_min", "rank_median", "rank_max", "n_found"]],
            on="cluster_id", how="left")
        ref = res.reference
        notes = ref.notes + res.notes
    else:
        ref = density_clusters(points, radius_km=radius_km, min_weight=min_weight, weight=w,
                               **kwargs)
        table, notes = ref.table, ref.notes
    write_frame(table, out, "density clusters")
    if points_out is not None:
        write_frame(ref.points.reset_index(names="row"), points_out, "point labels")
    if truth is not None:
        from clusteratlas.detect.scoring import score_sites

        s = score_sites(table, read_frame(truth, ["cluster_id", "kind"]), match_km=match_km)
        typer.echo(s.table.to_string(index=False))
    print_notes(notes)


@detect_app.command("stars")
def stars_cmd(
    input_path: Path = _INPUT,
    project: Path = _PROJECT,
    region: str = typer.Option("region_code", "--region", help="Region column."),
    industry: str = typer.Option("industry", "--industry", help="Industry column."),
    employment: str = typer.Option("employment", "--employment", help="Employment column."),
    establishments: str = typer.Option(None, "--establishments", help="Aggregates: column with "
                                       "establishment counts (default: one per row)."),
    output: str = typer.Option(None, "--output-col", help="Output column (productivity star)."),
    year: str = typer.Option(None, "--year", help="Year column (latest year; growth = dynamism)."),
    reference: Path = _REFERENCE,
    level: str = _LEVEL,
    out: Path = _OUT,
    geography_out: Path = _GEOGRAPHY_OUT,
    categories: Path = _CATEGORIES,
) -> None:
    """Stars (ECO / Panorama) and strong clusters (U.S. Cluster Mapping) (星级集群与强集群)."""
    from clusteratlas.detect.stars import cluster_stars

    _one_source(input_path, project)
    regions = None
    if input_path is not None:
        data = read_frame(input_path, [region, industry])
    else:
        t = _store_tables(project, ["establishments", "regions"])
        if "establishments" not in t:
            raise InputError(f"{project}: the store has no establishments table")
        data, regions = t["establishments"], t.get("regions")
        if year is None and "year" in data.columns:
            year = "year"
        if output is None and "output" in data.columns and data["output"].notna().any():
            output = "output"
    res = cluster_stars(data, region=region, industry=industry, employment=employment,
                        establishments=establishments, output=output, year=year,
                        reference=_reference(reference, industry), level=_level(level),
                        regions=regions,
                        categories=None if categories is None else read_frame(
                            categories, ["industry", "cluster"]))
    write_frame(res.table, out, "region × industry cells")
    if geography_out is not None:
        write_frame(res.by_geography, geography_out, "counts by geography")
    elif not res.by_geography.empty:
        typer.echo(res.by_geography.to_string(index=False))
    print_notes(res.notes)


@detect_app.command("related")
def related_cmd(
    input_path: Path = _INPUT,
    project: Path = _PROJECT,
    region: str = typer.Option("region_code", "--region", help="Region column."),
    industry: str = typer.Option("industry", "--industry", help="Industry column."),
    employment: str = typer.Option("employment", "--employment", help="Employment column."),
    links: Path = _LINKS,
    k_min: int = typer.Option(2, "--k-min", help="Fewest clusters to try."),
    k_max: int = typer.Option(30, "--k-max", help="Most clusters to try."),
    seed: int = typer.Option(0, "--seed", help="Seed for k-means."),
    level: str = _LEVEL,
    out: Path = _OUT,
    candidates_out: Path = _CANDIDATES_OUT,
) -> None:
    """Related-industry cluster definitions (Delgado–Porter–Stern) (关联产业集群定义)."""
    from clusteratlas.detect.related import related_clusters

    _one_source(input_path, project)
    link_frame = None
    if input_path is not None:
        data = read_frame(input_path, [region, industry])
    else:
        t = _store_tables(project, ["establishments", "links"])
        if "establishments" not in t:
            raise InputError(f"{project}: the store has no establishments table")
        data = t["establishments"]
        if "year" in data.columns and data["year"].notna().any():
            data = data[data["year"] == data["year"].max()]
        link_frame = t.get("links")
    if links is not None:
        link_frame = read_frame(links, ["origin", "destination", "kind"])
    res = related_clusters(data, region=region, industry=industry, employment=employment,
                           level=_level(level), links=link_frame,
                           ks=range(k_min, k_max + 1), seed=seed)
    write_frame(res.table, out, "industry categories")
    if candidates_out is not None:
        write_frame(res.candidates, candidates_out, "candidate scores")
    print_notes(res.notes)
