"""The quarantine ledger: one line per input row that was corrected or quarantined.

Accepted rows are only counted (in the store's ``loads`` table), so the ledger stays small for
clean data, while ``accepted + corrected + quarantined == rows read`` can always be checked.

Columns of the stored ledger (table ``ledger`` of the Atlas store):

``load_id``  identifies the load (a hash of the source's content and the target table)
``table_name`` canonical table the rows were loaded into
``source``   source file name (or ``<frame>``)
``row``      1-based record number in the source (1 = first record after the header)
``status``   ``corrected`` or ``quarantined``
``reason``   the first reason that applied (see :mod:`clusteratlas.ingest.validate`)
``detail``   every problem or change found, naming column and value
``original`` the source values as JSON, keyed by the source's own column names
"""

from __future__ import annotations

import pandas as pd

LEDGER_COLUMNS: tuple[str, ...] = (
    "load_id", "table_name", "source", "row", "status", "reason", "detail", "original",
)

# ``detail`` and ``original`` are long, nearly all distinct texts (the JSON of a row's values):
# ZSTD writes them in less time than DuckDB's default dictionary/FSST analysis, at half the size
# (the 110k ledger lines of the 5M-row bench file: 0.15 vs 0.20 CPU s, 6 vs 11.5 MiB).
# LEDGER_DDL_PLAIN is for a DuckDB without ZSTD for text (before 1.2).
LEDGER_DDL_PLAIN = """CREATE TABLE IF NOT EXISTS ledger (
    load_id VARCHAR NOT NULL, table_name VARCHAR NOT NULL, source VARCHAR, "row" BIGINT,
    status VARCHAR NOT NULL, reason VARCHAR, detail VARCHAR, original VARCHAR)"""
LEDGER_DDL = LEDGER_DDL_PLAIN.replace(
    "detail VARCHAR, original VARCHAR",
    "detail VARCHAR USING COMPRESSION zstd, original VARCHAR USING COMPRESSION zstd")

LOADS_DDL = """CREATE TABLE IF NOT EXISTS loads (
    load_id VARCHAR PRIMARY KEY, table_name VARCHAR NOT NULL, source VARCHAR, sha256 VARCHAR,
    encoding VARCHAR, rows_read BIGINT, accepted BIGINT, corrected BIGINT, quarantined BIGINT,
    loaded_at TIMESTAMP, notes VARCHAR)"""


def counts_by_reason(ledger: pd.DataFrame) -> pd.DataFrame:
    """Counts of ledger rows by ``status`` and ``reason``, largest first."""
    if ledger.empty:
        return pd.DataFrame({"status": pd.Series(dtype="string"), "reason": pd.Series(dtype="string"),
                             "count": pd.Series(dtype="int64")})
    out = ledger.groupby(["status", "reason"], dropna=False).size().rename("count").reset_index()
    return out.sort_values(["status", "count"], ascending=[True, False]).reset_index(drop=True)


class StatusCounts:
    """Accepted / corrected / quarantined totals read off a ``counts`` frame
    (``status``, ``reason``, ``count``); shared by validation results and load reports."""

    counts: pd.DataFrame

    def _n(self, status: str) -> int:
        return int(self.counts.loc[self.counts["status"] == status, "count"].sum())

    @property
    def accepted(self) -> int:
        return self._n("accepted")

    @property
    def corrected(self) -> int:
        return self._n("corrected")

    @property
    def quarantined(self) -> int:
        return self._n("quarantined")
