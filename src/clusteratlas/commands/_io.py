"""Reading inputs and writing outputs for every analysis command, in one place.

Commands read a table from ``--input FILE`` (CSV/TSV in UTF-8 or GB18030, Parquet, Excel) or from a
project's store (``--project DIR``), and write results to ``--out`` as CSV (UTF-8 with a BOM, so
Excel shows Chinese labels), Parquet or Excel, or print them when no file is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from rich.table import Table as RichTable

from clusteratlas.console import console, err_console
from clusteratlas.errors import InputError

OUTPUT_SUFFIXES = (".csv", ".parquet", ".xlsx")


def read_frame(path: Path, text_columns: Sequence[str] = ()) -> pd.DataFrame:
    """A table from csv / tsv / parquet / xlsx; label columns read as text so codes keep
    their leading zeros."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    dtype = {c: "string" for c in text_columns}
    if suffix in (".csv", ".txt", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return pd.read_csv(path, sep=sep, encoding=encoding, dtype=dtype)
            except UnicodeDecodeError:
                continue
        raise InputError(f"{path}: neither UTF-8 nor GB18030 text")
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in (".xlsx", ".xlsm"):
        return pd.read_excel(path, dtype=dtype)
    raise InputError(f"{path}: unsupported file type {suffix!r}; expected .csv, .tsv, .parquet "
                     "or .xlsx")


def load_input(input_path: Path | None, project: Path | None, text_columns: Sequence[str] = (),
               table: str = "establishments") -> pd.DataFrame:
    """The analysis input: exactly one of a file or a project's stored ``table``."""
    if (input_path is None) == (project is None):
        raise InputError("give exactly one of --input FILE or --project DIR")
    if input_path is not None:
        return read_frame(input_path, text_columns)
    from clusteratlas.store import Atlas

    with Atlas(project) as atlas:
        return atlas.table(table)


def show_frame(frame: pd.DataFrame, title: str | None = None, limit: int = 30) -> None:
    """Print the head of ``frame`` as a Rich table, saying how many rows were left out."""
    table = RichTable(title=title)
    for col in frame.columns:
        table.add_column(str(col))
    for row in frame.head(limit).itertuples(index=False):
        table.add_row(*("" if _missing(v) else str(v) for v in row))
    console.print(table)
    if len(frame) > limit:
        console.print(f"… {len(frame) - limit:,} more rows (use --out FILE to write them all)")


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and arrays are values, not missing
        return False


def write_frame(frame: pd.DataFrame, out: Path | None, what: str = "rows",
                title: str | None = None) -> None:
    """Write ``frame`` to ``out`` (.csv, .parquet or .xlsx), or print its head when ``out`` is
    None."""
    if out is None:
        show_frame(frame, title=title or what)
        return
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"--out {out}: unsupported file type {suffix!r}; expected one of "
                         f"{', '.join(OUTPUT_SUFFIXES)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(out, index=False, encoding="utf-8-sig")
    elif suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_excel(out, index=False)
    err_console.print(f"wrote {len(frame):,} {what} to {out}", highlight=False)


def print_notes(notes: Sequence[str]) -> None:
    """The result's caveats, numbered, on stderr."""
    for i, note in enumerate(notes, start=1):
        err_console.print(f"[dim][{i}] {note}[/]", highlight=False)


def parse_floats(text: str | None, option: str) -> list[float] | None:
    """``"0,5,10"`` → ``[0.0, 5.0, 10.0]``; None or empty → None; a clear error otherwise."""
    if not text:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{option}: expected comma-separated numbers, got {text!r}") from None
