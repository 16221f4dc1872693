"""``clusteratlas geo …``: resolve place names and addresses, list the regions table."""

from __future__ import annotations

from pathlib import Path

import typer

from clusteratlas.commands._io import show_frame, write_frame
from clusteratlas.console import err_console
from clusteratlas.errors import InputError

geo_app = typer.Typer(
    name="geo",
    help="Gazetteer: resolve place names and addresses, list regions 地名解析与行政区划.",
    no_args_is_help=True,
)

_OUT = typer.Option(None, "--out", help="Write the table here (.csv, .parquet or .xlsx) "
                    "instead of printing it.")
_NAMES = typer.Argument(None, help="Place names or addresses.")
_FILE = typer.Option(None, "--file", help="A table of names (.csv, .xlsx, .parquet; UTF-8 or "
                     "GB18030).")


def register(app: typer.Typer) -> None:
    @geo_app.command("resolve")
    def resolve_cmd(
        names: list[str] = _NAMES,
        file: Path = _FILE,
        column: str = typer.Option(None, "--column", help="Column of --file holding the names "
                                   "(default: the first column)."),
        hint: str = typer.Option(None, "--hint", help="Province or city narrowing ambiguous "
                                 "names, e.g. 北京."),
        out: Path = _OUT,
    ) -> None:
        """Resolve names or addresses to current GB/T 2260 codes (地名/地址→行政区划代码).

        Each input gets one row: region_code (empty when unresolved or ambiguous), level,
        matched_name, method (exact, alias, history, address-parse, fuzzy), confidence and, when
        ambiguous, the candidates.
        """
        from clusteratlas.geo import resolve

        if (file is None) == (not names):
            raise InputError("give names as arguments or --file FILE, not both and not neither")
        if file is not None:
            from clusteratlas.ingest.readers import read_raw

            frame, _info = read_raw(file)
            data_cols = [c for c in frame.columns if not str(c).startswith("_")]
            col = column or (data_cols[0] if data_cols else None)
            if col is None or col not in frame.columns:
                raise InputError(f"{file}: no column {col!r}; columns are {data_cols}")
            result = resolve(frame[col].reset_index(drop=True), hint=hint)
        else:
            result = resolve(list(names), hint=hint)
        n_ok = int(result["region_code"].notna().sum())
        n_amb = int((result["region_code"].isna() & result["candidates"].notna()).sum())
        err_console.print(f"resolved {n_ok:,} of {len(result):,}; ambiguous {n_amb:,}; "
                          f"unresolved {len(result) - n_ok - n_amb:,}")
        if out is not None:
            write_frame(result, out, "resolved names")
        else:
            show_frame(result, "resolve 地名解析", limit=200)

    @geo_app.command("regions")
    def regions_cmd(
        level: str = typer.Option(None, "--level", help="province, prefecture or county "
                                  "(default: all)."),
        detail: bool = typer.Option(False, "--detail", help="Also the type, coordinate source, "
                                    "urban population and the basis of the city-size class."),
        out: Path = _OUT,
    ) -> None:
        """The regions table: codes, names, parents, seat lon/lat (WGS-84), macro-region,
        city-size class, 2020 population (行政区划表)."""
        from clusteratlas.geo import regions

        frame = regions(level, detail=detail)
        if out is not None:
            write_frame(frame, out, "regions")
        else:
            show_frame(frame, f"regions 行政区划 ({len(frame):,})", limit=200)

    app.add_typer(geo_app)
