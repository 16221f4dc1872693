"""Commands of the ingest and store stage: ``init``, ``ingest``, ``quarantine`` and ``export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table as RichTable

from clusteratlas.console import console, make_progress
from clusteratlas.errors import InputError
from clusteratlas.ingest.mapping import load_mapping_file, parse_map_options
from clusteratlas.store import Atlas

_STAGES = {"hash": "hashing", "decode": "decoding GB18030", "read": "reading",
           "validate": "validating", "store": "storing", "done": "done"}
_WEIGHT = {"decode": 0.25, "read": 0.25, "hash": 0.05, "validate": 0.35, "store": 0.1}
_START = {"decode": 0.0, "read": 0.25, "hash": 0.5, "validate": 0.55, "store": 0.9, "done": 1.0}

PROJECT_HELP = "Project folder holding atlas.duckdb (default: the current folder)."


def _codes_file(path: Path | None) -> list[str] | None:
    """Codes from a text file (one per line) or the first column of a CSV/Excel file."""
    if path is None:
        return None
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() in (".csv", ".tsv", ".xlsx", ".parquet"):
        from clusteratlas.ingest.readers import read_raw

        frame, _ = read_raw(path)
        cols = [c for c in frame.columns if c not in ("_row", "_malformed")]
        col = next((c for c in cols if c in ("region_code", "industry", "code")), cols[0])
        return frame[col].dropna().astype(str).tolist()
    return [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]


def gazetteer_locate(rows: pd.DataFrame) -> pd.DataFrame:
    """A ``locate`` step (see :data:`clusteratlas.ingest.validate.Locate`) backed by
    :func:`clusteratlas.geo.locate`.

    A row's ``region_code`` is taken if current, mapped forward if former (320982 -> 320904), or,
    without a code, its ``address`` is resolved; the row then gets its region's seat point. Rows
    geo cannot place get no coordinates and geo's reason as the note. It lives in the command layer
    because ingest and store come before geo in the pipeline and may not import it.

    Parameters
    ----------
    rows : DataFrame
        ``_row``, ``region_code``, ``address`` (text, either may be missing).

    Returns
    -------
    DataFrame
        ``_row``, ``lon``, ``lat``, ``region_code`` (current code), ``note``.
    """
    from clusteratlas.geo import locate

    result = locate(rows[["_row", "region_code", "address"]])
    found = result.table
    placed = pd.DataFrame({
        "_row": found["_row"].to_numpy(),
        "lon": pd.array(found["lon"], dtype="Float64"),
        "lat": pd.array(found["lat"], dtype="Float64"),
        "region_code": pd.array(found["region_code"], dtype="string"),
        "note": pd.array(found["locate_note"].fillna("current code " + found["region_code"]),
                         dtype="string"),
    })
    missed = result.quarantine
    unplaced = pd.DataFrame({
        "_row": missed["_row"].to_numpy(),
        "lon": pd.array([None] * len(missed), dtype="Float64"),
        "lat": pd.array([None] * len(missed), dtype="Float64"),
        "region_code": pd.array([None] * len(missed), dtype="string"),
        "note": pd.array(missed["reason"], dtype="string"),
    })
    return pd.concat([placed, unplaced], ignore_index=True)


def _counts_table(title: str, counts: pd.DataFrame) -> RichTable:
    table = RichTable(title=title)
    for header in ("status 状态", "reason 原因", "rows 行数"):
        table.add_column(header, justify="right" if header.startswith("rows") else "left")
    style = {"accepted": "green", "corrected": "yellow", "quarantined": "red"}
    for row in counts.itertuples():
        table.add_row(f"[{style.get(row.status, '')}]{row.status}[/]", row.reason or "-",
                      f"{row.count:,}")
    return table


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init_cmd(
        project: Annotated[Path, typer.Argument(help="Project folder to create.")] = Path("."),
    ) -> None:
        """Create a project folder with an empty store, atlas.duckdb (初始化项目)."""
        atlas = Atlas.init(project)
        atlas.close()
        console.print(f"Atlas store ready: {atlas.db_path}")

    @app.command("ingest")
    def ingest_cmd(
        file: Annotated[Path, typer.Argument(help="CSV, TSV, Excel (.xlsx) or Parquet file.")],
        table: Annotated[str, typer.Option("--table", "-t", help="Canonical table.")] = "establishments",
        map_: Annotated[list[str] | None, typer.Option("--map", "-m", help="SOURCE=CANONICAL column mapping (repeatable).")] = None,
        mapping_file: Annotated[Path | None, typer.Option("--mapping-file", help="YAML column mapping.")] = None,
        project: Annotated[Path, typer.Option("--project", "-p", help=PROJECT_HELP)] = Path("."),
        industries: Annotated[Path | None, typer.Option("--industries", help="Valid industry codes (text, one per line, or CSV).")] = None,
        regions: Annotated[Path | None, typer.Option("--regions", help="Known regions (CSV with region_code, or codes file).")] = None,
        encoding: Annotated[str | None, typer.Option("--encoding", help="Override encoding detection.")] = None,
        progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="Show progress.")] = None,
        locate: Annotated[bool, typer.Option("--locate/--no-locate", help="Give rows without lon/lat their region's seat point (location_approx) from region_code or address.")] = True,
    ) -> None:
        """Validate a file and load it into the store; print counts by reason (导入并校验)."""
        mapping: dict[str, str] = {}
        if mapping_file is not None:
            mapping.update(load_mapping_file(mapping_file))
        mapping.update(parse_map_options(map_))
        valid = _codes_file(industries)
        region_codes = _codes_file(regions)
        atlas = Atlas(project)
        try:
            size = file.stat().st_size if file.is_file() else 0
            show = progress if progress is not None else (None if size > 20_000_000 else False)
            with make_progress(show) as bar:
                task = bar.add_task("loading", total=100)

                def step(stage: str, fraction: float) -> None:
                    done = _START.get(stage, 0.0) + _WEIGHT.get(stage, 0.0) * fraction
                    bar.update(task, completed=round(100 * done),
                               description=_STAGES.get(stage, stage))

                report = atlas.load(file, table=table, mapping=mapping or None,
                                    valid_industries=valid, regions=region_codes,
                                    encoding=encoding, progress=step,
                                    locate=gazetteer_locate if locate else None)
        finally:
            atlas.close()
        title = (f"{file.name} → {report.table}: {report.rows_read:,} rows"
                 + (f" ({report.encoding})" if report.encoding else ""))
        console.print(_counts_table(title, report.counts))
        console.print(f"accepted {report.accepted:,} · corrected {report.corrected:,} · "
                      f"quarantined {report.quarantined:,}  (load {report.load_id}"
                      + (", replaced the earlier load of this file" if report.replaced else "") + ")")
        for note in report.notes:
            console.print(f"[dim]note: {note}[/]", highlight=False)
        if report.quarantined:
            console.print("[dim]see the rows with `clusteratlas quarantine`[/]")

    @app.command("quarantine")
    def quarantine_cmd(
        project: Annotated[Path, typer.Option("--project", "-p", help=PROJECT_HELP)] = Path("."),
        export: Annotated[Path | None, typer.Option("--export", "-o", help="Write the whole ledger to .csv/.xlsx/.parquet.")] = None,
        load: Annotated[str | None, typer.Option("--load", help="Only this load id.")] = None,
        reason: Annotated[str | None, typer.Option("--reason", help="Only this reason.")] = None,
        limit: Annotated[int, typer.Option("--limit", "-n", help="Rows to show.")] = 20,
        all_: Annotated[bool, typer.Option("--all", help="Show corrected rows too.")] = False,
    ) -> None:
        """Show the quarantine ledger (or export it) (隔离台账)."""
        with Atlas(project) as atlas:
            if export is not None:
                out = atlas.export("ledger", export)
                console.print(f"ledger written to {out}")
                return
            ledger = atlas.ledger(load)
        if reason:
            ledger = ledger[ledger["reason"] == reason]
        counts = ledger.groupby(["status", "reason"]).size().rename("count").reset_index()
        console.print(_counts_table("quarantine ledger 隔离台账", counts))
        shown = ledger if all_ else ledger[ledger["status"] == "quarantined"]
        if shown.empty:
            console.print("no quarantined rows")
            return
        rows = RichTable(title=f"first {min(limit, len(shown))} of {len(shown):,} rows")
        for header in ("source", "row", "reason", "detail"):
            rows.add_column(header, overflow="fold")
        for r in shown.head(limit).itertuples():
            rows.add_row(str(r.source), str(r.row), str(r.reason), str(r.detail))
        console.print(rows)

    @app.command("loads")
    def loads_cmd(
        project: Annotated[Path, typer.Option("--project", "-p", help=PROJECT_HELP)] = Path("."),
        drop: Annotated[str | None, typer.Option("--drop", help="Remove this load (rows, ledger lines, record).")] = None,
    ) -> None:
        """List the loads in the store, or drop one (导入记录)."""
        with Atlas(project) as atlas:
            if drop is not None:
                n = atlas.drop_load(drop)
                console.print(f"load {drop} dropped: {n:,} rows removed")
                return
            loads = atlas.loads()
        table = RichTable(title="loads 导入记录")
        table.add_column("load", no_wrap=True, min_width=16)
        for header in ("table", "source", "rows", "accepted", "corrected", "quarantined",
                       "loaded (UTC)"):
            table.add_column(header, overflow="fold")
        for r in loads.itertuples():
            table.add_row(r.load_id, r.table_name, r.source, f"{r.rows_read:,}", f"{r.accepted:,}",
                          f"{r.corrected:,}", f"{r.quarantined:,}", str(r.loaded_at)[:19])
        console.print(table)

    @app.command("export")
    def export_cmd(
        table: Annotated[str, typer.Argument(help="Table to export (e.g. establishments, ledger).")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Output file: .parquet, .csv or .xlsx.")],
        project: Annotated[Path, typer.Option("--project", "-p", help=PROJECT_HELP)] = Path("."),
    ) -> None:
        """Export a stored table to Parquet, CSV or Excel (导出)."""
        with Atlas(project) as atlas:
            path = atlas.export(table, out)
        console.print(f"{table} written to {path}")
