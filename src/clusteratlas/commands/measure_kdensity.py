"""``clusteratlas measure kdensity``: Duranton–Overman K-density with bands, over a file or the store.

Registered on the ``measure`` sub-app by :mod:`clusteratlas.commands.measure` (``register``).
"""

from __future__ import annotations

from pathlib import Path

import typer

from clusteratlas.commands._io import load_input, parse_floats, print_notes, write_frame

_INPUT_PATH = typer.Option(None, "--input", help="Establishment records (.csv, .parquet, .xlsx).")
_PROJECT = typer.Option(None, "--project", help="Project folder: read its store's establishments.")
_INDUSTRY = typer.Option("industry", "--industry", help="Industry column.")
_ONLY = typer.Option(None, "--only", help="Comma-separated industries (default: all).")
_X = typer.Option("lon", "--x", help="Longitude or planar x column.")
_Y = typer.Option("lat", "--y", help="Latitude or planar y column.")
_PLANAR = typer.Option(False, "--planar", help="x/y are planar (Euclidean distance).")
_WEIGHT = typer.Option(None, "--weight", help="Employment column: Kemp instead of Kd.")
_R = typer.Option(None, "--r", help="Distances to report, e.g. 0,5,10,20 (default: grid to the cutoff).")
_CUTOFF = typer.Option(None, "--cutoff", help="Largest distance tested (default: median pair distance).")
_BANDWIDTH = typer.Option("silverman", "--bandwidth", help="silverman, scott or a number.")
_SIMS = typer.Option(1000, "--sims", help="Number of counterfactuals.")
_SEED = typer.Option(None, "--seed", help="Random seed (recorded).")
_EXACT = typer.Option(False, "--exact", help="Exact kernel sums (slow) instead of the fast binned path.")
_N_JOBS = typer.Option(None, "--n-jobs", help="Threads (-1: all).")
_INDEPENDENT = typer.Option(False, "--independent-draws",
                            help="Each industry draws its own counterfactuals (default: draws "
                                 "shared by all industries, each taking a prefix; much faster).")
_OUT = typer.Option(None, "--out", help="Write the industry × distance table (.csv or .parquet).")
_INDICES_OUT = typer.Option(None, "--indices-out", help="Write Γ/Ψ per industry (.csv or .parquet).")


def register(measure_app: typer.Typer) -> None:
    @measure_app.command("kdensity")
    def kdensity_cmd(
        input_path: Path = _INPUT_PATH,
        project: Path = _PROJECT,
        industry: str = _INDUSTRY,
        only: str = _ONLY,
        x: str = _X,
        y: str = _Y,
        planar: bool = _PLANAR,
        weight: str = _WEIGHT,
        r: str = _R,
        cutoff: float = _CUTOFF,
        bandwidth: str = _BANDWIDTH,
        sims: int = _SIMS,
        seed: int = _SEED,
        exact: bool = _EXACT,
        n_jobs: int = _N_JOBS,
        independent_draws: bool = _INDEPENDENT,
        out: Path = _OUT,
        indices_out: Path = _INDICES_OUT,
    ) -> None:
        """Duranton–Overman K-density Kd / Kemp with local and global bands (距离核密度)."""
        from clusteratlas.measure.kdensity import kdensity

        data = load_input(input_path, project, [industry])
        try:
            bw: str | float = float(bandwidth)
        except ValueError:
            bw = bandwidth
        chosen = [s.strip() for s in only.split(",") if s.strip()] if only else None
        res = kdensity(data, chosen, industry=industry, x=x, y=y, planar=planar, weight=weight,
                       r=parse_floats(r, "--r"), cutoff=cutoff, bandwidth=bw,  # type: ignore[arg-type]
                       n_sims=sims, seed=seed, mode="exact" if exact else "fast", n_jobs=n_jobs,
                       shared_draws=not independent_draws)
        print_notes(res.notes)
        write_frame(res.indices, indices_out, "industries")
        if out is not None:
            write_frame(res.table, out, "industry × distance rows")
