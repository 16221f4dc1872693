"""``clusteratlas measure …``: specialisation, Ellison–Glaeser and co-agglomeration over a file or
the store, written to CSV or Parquet with plainly named columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from clusteratlas.commands._io import load_input, print_notes, read_frame, write_frame
from clusteratlas.errors import InputError

measure_app = typer.Typer(
    name="measure",
    help="Measure specialisation and agglomeration 测度专业化与集聚.",
    no_args_is_help=True,
)

_INPUT = typer.Option(None, "--input", help="Establishment records or region × industry "
                      "aggregates (.csv, .parquet, .xlsx).")
_PROJECT = typer.Option(None, "--project", help="Project folder: read its store's establishments.")
_REGION = typer.Option("region_code", "--region", help="Region column.")
_INDUSTRY = typer.Option("industry", "--industry", help="Industry column.")
_WEIGHT = typer.Option("employment", "--weight",
                       help="Activity column; 'count' counts establishment records.")
_LEVEL = typer.Option(None, "--level", help="Roll region codes up: province, prefecture, county, "
                      "or a number of leading code characters.")
_KIND = typer.Option("auto", "--kind", help="auto, records or aggregates.")
_OUT = typer.Option(None, "--out", help="Write the table here (.csv, .parquet or .xlsx).")
_REGION_TOTALS = typer.Option(None, "--region-totals", help="Aggregate activity per region "
                              "(columns region, value) defining x_i; default: all industries.")


_REFERENCE = typer.Option(None, "--reference", help="Reference totals by industry (columns "
                          "industry, value), e.g. national.")
_BY = typer.Option("cell", "--by", help="cell (region × industry), industry or region.")
_N_PLANTS = typer.Option(None, "--n-plants",
                         help="Aggregates: column of establishment counts per cell.")
_EQUAL_PLANTS = typer.Option(False, "--equal-plants",
                             help="Aggregates: take H = 1/N (plants of equal size).")
_MS = typer.Option(False, "--ms", help="Maurel–Sédillot (1999) index instead of EG.")
_ALPHA = typer.Option(0.05, "--alpha", help="Significance level.")
_INDUSTRIES = typer.Option(None, "--industries", help="Comma-separated industries (default: all).")


def _weight(weight: str) -> str | None:
    return None if weight.lower() in ("count", "none", "") else weight


def _level(level: str | None) -> str | int | None:
    if level is None:
        return None
    return int(level) if level.isdigit() else level


def _reference(path: Path | None, industry: str) -> pd.DataFrame | None:
    if path is None:
        return None
    ref = read_frame(path, ["industry", industry])
    if "industry" not in ref.columns and industry in ref.columns:
        ref = ref.rename(columns={industry: "industry"})
    return ref


def _region_totals(path: Path | None) -> pd.DataFrame | None:
    return None if path is None else read_frame(path, ["region"])


@measure_app.command("specialisation")
def specialisation_cmd(
    input_path: Path = _INPUT, project: Path = _PROJECT, region: str = _REGION,
    industry: str = _INDUSTRY, weight: str = _WEIGHT, level: str = _LEVEL, kind: str = _KIND,
    reference: Path = _REFERENCE,
    by: str = _BY,
    out: Path = _OUT,
) -> None:
    """Location quotients, Hoover, Krugman, locational Gini, HHI (区位商与专业化指数)."""
    from clusteratlas.measure import specialisation

    data = load_input(input_path, project, [region, industry])
    res = specialisation(data, region, industry, _weight(weight),
                         reference=_reference(reference, industry), level=_level(level),
                         kind=kind)  # type: ignore[arg-type]
    tables = {"cell": res.table, "industry": res.by_industry, "region": res.by_region}
    if by not in tables:
        raise InputError(f"--by must be one of {sorted(tables)}; got {by!r}")
    print_notes(res.notes)
    write_frame(tables[by], out, f"specialisation by {by}")


def _eg_common(ms: bool, input_path: Path | None, project: Path | None, region: str,
               industry: str, weight: str, level: str | None, kind: str, n_plants: str | None,
               equal_plants: bool, alpha: float, region_totals: Path | None,
               out: Path | None) -> None:
    from clusteratlas.measure import ellison_glaeser, maurel_sedillot

    data = load_input(input_path, project, [region, industry])
    fn = maurel_sedillot if ms else ellison_glaeser
    res = fn(data, region, industry, _weight(weight), level=_level(level),
             kind=kind,  # type: ignore[arg-type]
             hhi="equal" if equal_plants else None, n_plants=n_plants, alpha=alpha,
             region_totals=_region_totals(region_totals))
    print_notes(res.notes)
    write_frame(res.table, out, "Maurel–Sédillot indices" if ms else "Ellison–Glaeser indices")


@measure_app.command("eg")
def eg_cmd(
    input_path: Path = _INPUT, project: Path = _PROJECT, region: str = _REGION,
    industry: str = _INDUSTRY, weight: str = _WEIGHT, level: str = _LEVEL, kind: str = _KIND,
    n_plants: str = _N_PLANTS,
    equal_plants: bool = _EQUAL_PLANTS,
    ms: bool = _MS,
    alpha: float = _ALPHA,
    region_totals: Path = _REGION_TOTALS, out: Path = _OUT,
) -> None:
    """Ellison–Glaeser γ per industry with its null test (EG 集聚指数)."""
    _eg_common(ms, input_path, project, region, industry, weight, level, kind, n_plants,
               equal_plants, alpha, region_totals, out)


@measure_app.command("coagglomeration")
def coagglomeration_cmd(
    input_path: Path = _INPUT, project: Path = _PROJECT, region: str = _REGION,
    industry: str = _INDUSTRY, weight: str = _WEIGHT, level: str = _LEVEL, kind: str = _KIND,
    industries: str = _INDUSTRIES, alpha: float = _ALPHA,
    region_totals: Path = _REGION_TOTALS, out: Path = _OUT,
) -> None:
    """Ellison–Glaeser co-agglomeration γᶜ for every pair of industries (协同集聚)."""
    from clusteratlas.measure import coagglomeration

    data = load_input(input_path, project, [region, industry])
    chosen = [s.strip() for s in industries.split(",")] if industries else None
    res = coagglomeration(data, chosen, region, industry, _weight(weight), level=_level(level),
                          kind=kind,  # type: ignore[arg-type]
                          region_totals=_region_totals(region_totals), alpha=alpha)
    print_notes(res.notes)
    write_frame(res.table, out, "co-agglomeration pairs")


def register(app: typer.Typer) -> None:
    app.add_typer(measure_app, name="measure")


from clusteratlas.commands import measure_kdensity  # noqa: E402  (kdensity command, its own module)

measure_kdensity.register(measure_app)
