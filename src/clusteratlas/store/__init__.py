"""The Atlas store: an embedded DuckDB database (``atlas.duckdb``) in a project folder holding the
canonical tables, the quarantine ledger, the record of loads and analysis results.

>>> from clusteratlas.store import Atlas
>>> atlas = Atlas.init("my-project")                          # doctest: +SKIP
>>> report = atlas.load("firms.csv", table="establishments")  # doctest: +SKIP
>>> atlas.table("establishments")                             # doctest: +SKIP
"""

from __future__ import annotations

from clusteratlas.store.atlas import FILENAME, Atlas, LoadReport

__all__ = ["FILENAME", "Atlas", "LoadReport"]
