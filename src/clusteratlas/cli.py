"""The ``clusteratlas`` command line: a thin Typer layer over the library.

Each pipeline stage keeps its commands in ``clusteratlas.commands.<stage>``, which exposes
``register(app)``. Errors raised on purpose (:class:`clusteratlas.errors.ClusterAtlasError`) are
shown as one clear line with exit code 2, never as a traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer

from clusteratlas import __version__
from clusteratlas.console import err_console

app = typer.Typer(
    name="clusteratlas",
    help="Cluster Atlas 集群图谱: identify, measure, evaluate and tier industrial clusters.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Stages whose commands are registered, in pipeline order.
COMMAND_MODULES: list[str] = ["project", "ingest", "geo", "measure", "detect", "demo"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"clusteratlas {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show the version and exit."),
) -> None:
    """Cluster Atlas 集群图谱."""


for _name in COMMAND_MODULES:
    importlib.import_module(f"clusteratlas.commands.{_name}").register(app)


def main() -> None:
    """Entry point: run the app, turning deliberate errors into one line and exit code 2."""
    from clusteratlas.errors import ClusterAtlasError

    try:
        app()
    except ClusterAtlasError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
