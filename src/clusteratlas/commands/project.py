"""Project-wide commands: ``schema`` prints the canonical tables."""

from __future__ import annotations

import typer
from rich.table import Table as RichTable

from clusteratlas import schema
from clusteratlas.console import console


def register(app: typer.Typer) -> None:
    @app.command("schema")
    def schema_cmd(
        table: str = typer.Argument(None, help="One table (default: all)."),
    ) -> None:
        """Print the canonical tables: columns, dtypes, units, meaning (规范数据表)."""
        names = [table] if table else list(schema.TABLES)
        for name in names:
            spec = schema.table(name)
            rich_table = RichTable(title=f"{spec.name} — {spec.description}")
            for header in ("column", "dtype", "unit", "required", "description", "说明"):
                rich_table.add_column(header)
            for col in spec.columns:
                rich_table.add_row(col.name, col.dtype, col.unit, "yes" if col.required else "",
                                   col.description, col.description_zh)
            console.print(rich_table)
