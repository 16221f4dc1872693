"""Ingest: read CSV/TSV/Excel/Parquet (UTF-8, UTF-8 with BOM, GB18030/GBK), map column names to the
canonical schema, and validate every row into accepted, corrected or quarantined.

>>> from clusteratlas.ingest import read_table, validate
>>> raw = read_table("firms.csv")                      # doctest: +SKIP
>>> result = validate(raw)                             # doctest: +SKIP
>>> result.counts, result.clean, result.ledger         # doctest: +SKIP
"""

from __future__ import annotations

from clusteratlas.ingest.ledger import LEDGER_COLUMNS
from clusteratlas.ingest.mapping import load_mapping_file, parse_map_options, resolve_columns
from clusteratlas.ingest.readers import detect_encoding, read_table
from clusteratlas.ingest.validate import (
    CORRECTION_REASONS,
    QUARANTINE_REASONS,
    ValidationResult,
    validate,
)

__all__ = [
    "CORRECTION_REASONS",
    "LEDGER_COLUMNS",
    "QUARANTINE_REASONS",
    "ValidationResult",
    "detect_encoding",
    "load_mapping_file",
    "parse_map_options",
    "read_table",
    "resolve_columns",
    "validate",
]
