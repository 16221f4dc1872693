"""The Atlas store: canonical tables, the quarantine ledger and analysis results in one embedded
DuckDB database (``atlas.duckdb``) inside a project folder.

Loads are atomic and idempotent:

* A load validates first (nothing stored yet), then deletes any earlier load of the same content
  into the same table and inserts the new rows, ledger lines and load record inside one
  transaction; any failure rolls the store back to where it was.
* A load is identified by the SHA-256 of the source file's bytes (or of a frame's values) and the
  target table, so re-loading the same file replaces its rows instead of adding them again.
* A row whose key (``schema`` ``Table.key``) is already stored by a *different* load is
  quarantined as ``exact_duplicate`` or ``duplicate_conflict``; the stored row is kept.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from clusteratlas import schema
from clusteratlas.errors import ClusterAtlasError, InputError, StoreError
from clusteratlas.ingest.ledger import (
    LEDGER_COLUMNS,
    LEDGER_DDL,
    LEDGER_DDL_PLAIN,
    LOADS_DDL,
    StatusCounts,
)
from clusteratlas.ingest.readers import (
    DELIMITED,
    MALFORMED,
    ROW,
    SourceInfo,
    _frame_to_relation,
    choose_encoding,
    file_sha256,
    gb18030_after_all,
    load_raw,
    open_delimited,
    scalar,
    scan_file,
)
from clusteratlas.ingest.validate import (
    Locate,
    Outcome,
    ledger_frame,
    run_validation,
    to_canonical,
)

FILENAME = "atlas.duckdb"
LOAD_ID = "_load_id"
RESERVED = frozenset({"ledger", "loads"})
EXPORT_FORMATS = (".parquet", ".csv", ".xlsx")
_EXCEL_MAX_ROWS = 1_048_575

_DUCK_TYPES = {"string": "VARCHAR", "Int64": "BIGINT", "Float64": "DOUBLE", "boolean": "BOOLEAN"}

Progress = Callable[[str, float], None]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def table_ddl(spec: schema.Table, compression: bool = True) -> str:
    """``CREATE TABLE`` statement of a canonical table (plus the ``_load_id`` bookkeeping column).

    Identifier columns (text named ``*_id``) are stored with ZSTD: their values are nearly all
    distinct, where DuckDB's default dictionary/FSST analysis finds little to share, so ZSTD
    writes them in half the time and about a third of the space (est_id of the 1M-row bench
    file: 0.10 vs 0.21 CPU s, 9 vs 25 blocks), and reads them as fast.
    """
    def col(c: schema.Column) -> str:
        zstd = compression and c.dtype == "string" and c.name.endswith("_id")
        return f"{_q(c.name)} {_DUCK_TYPES[c.dtype]}" + (" USING COMPRESSION zstd" if zstd else "")
    cols = ", ".join(col(c) for c in spec.columns)
    return f"CREATE TABLE IF NOT EXISTS {_q(spec.name)} ({cols}, {LOAD_ID} UBIGINT NOT NULL)"


def _load_key(load_id: str) -> str:
    """SQL literal of the ``_load_id`` that a load's rows carry: its 16 hex digits as an
    integer. Every stored row carries one, and a constant integer column costs DuckDB less to
    write than a constant text (5M rows: 0.08 vs 0.25 CPU-s)."""
    return f"{int(load_id, 16)}::UBIGINT"


# the load id of a stored row, as the loads table and the ledger spell it
_LOAD_HEX = "printf('%016x', {})"


@dataclass
class LoadReport(StatusCounts):
    """What one load did.

    Attributes
    ----------
    load_id, table, source : str
    rows_read : int
    counts : pandas.DataFrame
        ``status``, ``reason``, ``count``; the counts sum to ``rows_read``.
    replaced : bool
        True when an earlier load of the same content was replaced.
    notes : list of str
    """

    load_id: str
    table: str
    source: str
    rows_read: int
    counts: pd.DataFrame
    replaced: bool = False
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.source} -> {self.table} (load {self.load_id}"
                 + (", replaced the earlier load of the same content" if self.replaced else "") + ")",
                 f"rows read {self.rows_read}: accepted {self.accepted}, corrected {self.corrected}, "
                 f"quarantined {self.quarantined}"]
        lines += [f"  {r.status:<12} {r.reason or '-':<26} {r.count}" for r in self.counts.itertuples()]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _db_path(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    return path if path.suffix == ".duckdb" else path / FILENAME


def _connect(db: Path) -> duckdb.DuckDBPyConnection:
    tmp = db.parent / ".atlas-tmp"
    # A 5M-row load holds ~1.7 GB of temporary tables; at a 2 GB limit DuckDB starts evicting and
    # spilling blocks (slower by ~1.5 s), while 3 GB keeps the whole load under 4 GiB of RSS.
    # CLUSTERATLAS_MEMORY_LIMIT lowers it on small machines (larger loads then spill to disk).
    config = {
        "memory_limit": os.environ.get("CLUSTERATLAS_MEMORY_LIMIT", "3GB"),
        "temp_directory": str(tmp),
    }
    try:
        return duckdb.connect(str(db), config=config)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise StoreError(f"{db}: the store is in use by another process") from None
        raise StoreError(f"{db}: cannot open the store ({text.splitlines()[0]})") from None
    except duckdb.Error as exc:
        raise StoreError(f"{db}: not a readable Atlas store ({str(exc).splitlines()[0]})") from None


class Atlas:
    """A project's store (``atlas.duckdb`` in a project folder).

    Parameters
    ----------
    path : path-like
        The project folder (or the ``.duckdb`` file itself). Use :meth:`Atlas.init` to create one.

    Raises
    ------
    StoreError
        No store at ``path``, or it is locked by another process.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.db_path = _db_path(path)
        self.path = self.db_path.parent
        if not self.db_path.exists():
            raise StoreError(
                f"no Atlas store at {self.path} (expected {self.db_path.name}); "
                f"create one with `clusteratlas init {self.path}`"
            )
        self._con: duckdb.DuckDBPyConnection | None = None
        self._ensure_tables()

    # -- lifecycle ------------------------------------------------------------------------------
    @classmethod
    def init(cls, path: str | os.PathLike[str]) -> Atlas:
        """Create the project folder and its store, with every canonical table (idempotent)."""
        db = _db_path(path)
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create project folder {db.parent}: {exc.strerror}") from None
        con = _connect(db)
        con.close()
        return cls(db)

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = _connect(self.db_path)
        return self._con

    def close(self) -> None:
        """Release the database file (other processes can then open it)."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> Atlas:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Atlas({str(self.path)!r})"

    def _ensure_tables(self) -> None:
        con = self.con
        for spec in schema.TABLES.values():
            try:
                con.execute(table_ddl(spec))
            except duckdb.Error:
                # a DuckDB without ZSTD for text (before 1.2) uses its default compression
                con.execute(table_ddl(spec, compression=False))
        _upgrade_load_ids(con)
        try:
            con.execute(LEDGER_DDL)
        except duckdb.Error:
            con.execute(LEDGER_DDL_PLAIN)
        con.execute(LOADS_DDL)

    # -- loading --------------------------------------------------------------------------------
    def load(
        self,
        frame_or_path: pd.DataFrame | str | os.PathLike[str],
        table: str = "establishments",
        mapping: Mapping[str, str] | None = None,
        source: str | None = None,
        valid_industries: Iterable[object] | None = None,
        regions: pd.DataFrame | Iterable[object] | None = None,
        locate: Locate | None = None,
        encoding: str | None = None,
        progress: Progress | None = None,
    ) -> LoadReport:
        """Validate a file or frame and store it atomically (see the module docstring).

        Parameters
        ----------
        frame_or_path : DataFrame or path-like
            A frame of raw values or a ``.csv/.tsv/.xlsx/.parquet`` file.
        table : str
            Canonical table to load into.
        mapping : mapping, optional
            Explicit ``source column -> canonical column`` choices.
        source : str, optional
            Name recorded in the ledger (default: the file name, or ``<frame>``).
        valid_industries, regions, locate :
            As in :func:`clusteratlas.ingest.validate`.
        encoding : str, optional
            Override the detected text encoding.
        progress : callable(stage, fraction), optional
            Called as the load advances (stages: hash, decode, read, validate, store).

        Returns
        -------
        LoadReport
        """
        try:
            spec = schema.table(table)
        except KeyError as exc:
            raise InputError(str(exc.args[0])) from None
        step = progress or (lambda stage, fraction: None)
        try:
            return self._load(frame_or_path, spec, mapping, source, valid_industries, regions,
                              locate, encoding, step)
        finally:
            # temporary tables can hold millions of rows; free them whether the load worked or not
            _drop_temp(self.con)

    def _load(self, frame_or_path: pd.DataFrame | str | os.PathLike[str], spec: schema.Table,
              mapping: Mapping[str, str] | None, source: str | None,
              valid_industries: Iterable[object] | None,
              regions: pd.DataFrame | Iterable[object] | None, locate: Locate | None,
              encoding: str | None, step: Progress) -> LoadReport:
        con = self.con
        info: SourceInfo | None = None
        if isinstance(frame_or_path, pd.DataFrame):
            frame = frame_or_path
            digest = _frame_sha256(frame)
            source = source or "<frame>"
            _frame_to_relation(con, frame, "_raw")
            columns = [str(c) for c in frame.columns if c not in (ROW, MALFORMED)]
            step("validate", 0.0)
            out = run_validation(con, '"_raw"', columns, spec.name, mapping, valid_industries,
                                 regions, locate,
                                 existing=self._existing(spec, _load_id(spec, digest)), prefix="_v")
        else:
            path = Path(frame_or_path)
            with ThreadPoolExecutor(max_workers=1) as pool:
                scan = _SourceScan(path, pool)

                def others() -> str | None:
                    step("hash", 1.0)
                    step("validate", 0.5)  # read and parsed; duplicates and ledger to come
                    return self._existing(spec, _load_id(spec, scan.sha256()))

                info, out = self._validate_file(path, spec, mapping, valid_industries, regions,
                                                locate, encoding, others, scan, step)
            digest = scan.sha256()
            source = source or path.name
        load_id = _load_id(spec, digest)
        step("store", 0.0)
        replaced = bool(scalar(con, f"SELECT count(*) FROM loads WHERE load_id = {_lit(load_id)}"))
        notes = list(out.notes)
        self._commit(spec, load_id, source, digest, info, out.clean, out.ledger, out.counts,
                     out.rows_read, notes)
        step("done", 1.0)
        return LoadReport(load_id=load_id, table=spec.name, source=source, rows_read=out.rows_read,
                          counts=out.counts, replaced=replaced,
                          encoding=info.encoding if info else None, notes=notes)

    def _existing(self, spec: schema.Table, load_id: str) -> str | None:
        """A view of the rows other loads stored in ``spec``'s table (``None`` if there are none)."""
        con = self.con
        key = _load_key(load_id)
        if not scalar(con, f"SELECT count(*) FROM {_q(spec.name)} WHERE {LOAD_ID} <> {key}"):
            return None
        # the key is computed on the loads' side of the join, not for each stored row
        hex_id = f"coalesce(l.load_id, {_LOAD_HEX.format(f't.{LOAD_ID}')})"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _existing AS SELECT t.*, "
            f"coalesce(l.source, {hex_id}) || ' (load ' || {hex_id} || ')' AS source "
            f"FROM {_q(spec.name)} t LEFT JOIN "
            f"(SELECT load_id, source, TRY_CAST('0x' || load_id AS UBIGINT) AS k FROM loads) l "
            f"ON l.k = t.{LOAD_ID} WHERE t.{LOAD_ID} <> {key}"
        )
        return "_existing"

    def _validate_file(self, path: Path, spec: schema.Table, mapping: Mapping[str, str] | None,
                       valid_industries: Iterable[object] | None,
                       regions: pd.DataFrame | Iterable[object] | None, locate: Locate | None,
                       encoding: str | None, existing: Callable[[], str | None],
                       scan: _SourceScan, step: Progress) -> tuple[SourceInfo, Outcome]:
        """Read and validate a file; a delimited one is validated as DuckDB reads it."""
        con = self.con
        if path.suffix.lower() not in DELIMITED:
            scan.start()
            info = load_raw(con, path, "_raw", encoding=encoding, progress=step)
            step("validate", 0.0)
            return info, run_validation(con, '"_raw"', info.columns, spec.name, mapping,
                                        valid_industries, regions, locate, existing=existing,
                                        prefix="_v")

        def attempt(enc: str) -> tuple[SourceInfo, Outcome, bool]:
            if enc.replace("-", "").lower() != "gb18030":
                scan.start()  # the GB18030 copy reads every byte anyway, and hashes them
            with open_delimited(con, path, "_raw", enc, progress=step) as src:
                scan.provide(src.sha256)
                # a "_" among the source's bytes may be part of a GB18030 character: the text
                # DuckDB reads tells, where its copy was searched
                out = run_validation(con, src.sql, src.info.columns, spec.name, mapping,
                                     valid_industries, regions, locate, existing=existing,
                                     prefix="_v", source=src,
                                     underscores=lambda: (scan.underscore() if src.underscore is None
                                                          else src.underscore))
            return src.info, out, gb18030_after_all(con, src)

        chosen, may_retry = choose_encoding(path, encoding)
        info, out, undecodable = attempt(chosen)
        if may_retry and undecodable:
            # The first megabyte was plain ASCII, so it looked like UTF-8, but later bytes are
            # not: a GBK/GB18030 file whose Chinese text starts late. Read it again as GB18030
            # if the whole file decodes as that; otherwise keep the UTF-8 reading, whose
            # undecodable records are quarantined as malformed.
            try:
                info, out, _ = attempt("gb18030")
            except InputError:
                info, out, _ = attempt(chosen)
        return info, out

    def _commit(self, spec: schema.Table, load_id: str, source: str, digest: str,
                info: SourceInfo | None, clean: str, ledger: str, counts: pd.DataFrame,
                rows_read: int, notes: list[str]) -> None:
        con = self.con
        names = ", ".join(_q(c) for c in spec.names)
        n = {s: int(counts.loc[counts["status"] == s, "count"].sum())
             for s in ("accepted", "corrected", "quarantined")}
        con.execute("BEGIN TRANSACTION")
        try:
            for stmt in (
                f"DELETE FROM {_q(spec.name)} WHERE {LOAD_ID} = {_load_key(load_id)}",
                f"DELETE FROM ledger WHERE load_id = {_lit(load_id)}",
                f"DELETE FROM loads WHERE load_id = {_lit(load_id)}",
                f"INSERT INTO {_q(spec.name)} ({names}, {LOAD_ID}) "
                f"SELECT {names}, {_load_key(load_id)} FROM {clean}",
                f"INSERT INTO ledger SELECT {_lit(load_id)}, {_lit(spec.name)}, {_lit(source)}, "
                f'"row", status, reason, detail, original FROM {ledger} ORDER BY "row"',
            ):
                con.execute(stmt)
            _record_load(con, load_id, spec.name, source, digest,
                         info.encoding if info else None, rows_read, n, notes)
            con.execute("COMMIT")
        except BaseException as exc:
            con.execute("ROLLBACK")
            if isinstance(exc, ClusterAtlasError | KeyboardInterrupt):
                raise
            raise StoreError(f"load of {source} into {spec.name} failed and was rolled back: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc

    # -- reading --------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        """Names of the tables in the store (canonical, ledger, loads and results)."""
        rows = self.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY table_name"
        ).fetchall()
        return [r[0] for r in rows]

    def _check_table(self, name: str) -> None:
        if name not in self.tables():
            raise StoreError(f"no table {name!r} in the store; tables: {', '.join(self.tables())}")

    def table(self, name: str) -> pd.DataFrame:
        """A stored table as a frame; canonical tables come with canonical columns and dtypes."""
        self._check_table(name)
        if name in schema.TABLES:
            frame = self.con.execute(
                f"SELECT * EXCLUDE ({LOAD_ID}) FROM {_q(name)} ORDER BY rowid").df()
            return to_canonical(frame, name)
        if name == "ledger":
            return self.ledger()
        return self.con.execute(f"SELECT * FROM {_q(name)}").df()

    def query(self, sql: str) -> pd.DataFrame:
        """Run a SQL query on the store and return the result as a frame."""
        try:
            return self.con.execute(sql).df()
        except duckdb.Error as exc:
            raise StoreError(f"query failed: {str(exc).splitlines()[0]}") from None

    def ledger(self, load_id: str | None = None) -> pd.DataFrame:
        """The quarantine ledger (corrected and quarantined rows of every load, or of one)."""
        where = f"WHERE load_id = {_lit(load_id)}" if load_id else ""
        frame = self.con.execute(
            f"SELECT {', '.join(_q(c) for c in LEDGER_COLUMNS)} FROM ledger {where} "
            f'ORDER BY load_id, "row"').df()
        return ledger_frame(frame)

    def loads(self) -> pd.DataFrame:
        """One row per load: source, hash, counts by status, time."""
        return self.con.execute("SELECT * FROM loads ORDER BY loaded_at").df()

    def drop_load(self, load_id: str) -> int:
        """Remove one load: its rows, its ledger lines and its record (atomically).

        Use it to replace a file whose values changed: rows of a new file whose key is already
        stored by another load are quarantined, so drop the old load first.

        Returns
        -------
        int
            The number of stored rows removed.
        """
        found = self.con.execute("SELECT table_name FROM loads WHERE load_id = ?", [load_id]).fetchall()
        if not found:
            raise StoreError(f"no load {load_id!r}; see Atlas.loads() or `clusteratlas loads`")
        table = found[0][0]
        con = self.con
        key = _load_key(load_id)
        n = int(scalar(con, f"SELECT count(*) FROM {_q(table)} WHERE {LOAD_ID} = {key}"))  # type: ignore[call-overload]
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"DELETE FROM {_q(table)} WHERE {LOAD_ID} = {key}")
            con.execute("DELETE FROM ledger WHERE load_id = ?", [load_id])
            con.execute("DELETE FROM loads WHERE load_id = ?", [load_id])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return n

    # -- writing --------------------------------------------------------------------------------
    def write_result(self, name: str, frame: pd.DataFrame) -> None:
        """Store an analysis output as table ``name``, replacing an earlier one of that name."""
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise StoreError(f"result name {name!r}: use letters, digits and underscores")
        if name in schema.TABLES or name in RESERVED:
            raise StoreError(f"result name {name!r} is reserved for the store's own tables")
        if not isinstance(frame, pd.DataFrame):
            raise StoreError(f"write_result: expected a DataFrame, got {type(frame).__name__}")
        con = self.con
        con.register("_result_df", frame)
        try:
            con.execute(f"CREATE OR REPLACE TABLE {_q(name)} AS SELECT * FROM _result_df")
        finally:
            con.unregister("_result_df")

    def export(self, name: str, out: str | os.PathLike[str]) -> Path:
        """Write table ``name`` to ``.parquet``, ``.csv`` (UTF-8 with BOM, for Excel) or ``.xlsx``."""
        out = Path(out)
        suffix = out.suffix.lower()
        if suffix not in EXPORT_FORMATS:
            raise StoreError(f"{out.name}: export format {suffix or '(none)'!r} not supported; "
                             f"use one of {', '.join(EXPORT_FORMATS)}")
        self._check_table(name)
        out.parent.mkdir(parents=True, exist_ok=True)
        select = (f"SELECT * EXCLUDE ({LOAD_ID}) FROM {_q(name)}" if name in schema.TABLES
                  else f"SELECT * FROM {_q(name)}")
        if suffix == ".parquet":
            self.con.execute(f"COPY ({select}) TO {_lit(str(out))} (FORMAT parquet)")
        elif suffix == ".csv":
            frame_rows = scalar(self.con, f"SELECT count(*) FROM ({select})")
            tmp = out.with_suffix(".csv.part")
            self.con.execute(f"COPY ({select}) TO {_lit(str(tmp))} (FORMAT csv, HEADER true)")
            # a BOM lets Excel open Chinese text correctly; streamed so memory stays flat
            with open(out, "wb") as dst, open(tmp, "rb") as src:
                dst.write(b"\xef\xbb\xbf")
                while chunk := src.read(1 << 24):
                    dst.write(chunk)
            tmp.unlink()
            del frame_rows
        else:
            n = scalar(self.con, f"SELECT count(*) FROM ({select})")
            if int(n) > _EXCEL_MAX_ROWS:  # type: ignore[call-overload]
                raise StoreError(f"{name} has {n} rows, more than an Excel sheet holds "
                                 f"({_EXCEL_MAX_ROWS}); export to .parquet or .csv")
            frame = self.table(name) if name in schema.TABLES or name == "ledger" \
                else self.con.execute(select).df()
            frame.to_excel(out, index=False, sheet_name=name[:31])
        return out


class _SourceScan:
    """A source file's SHA-256 (it names the load) and whether byte ``_`` occurs in it (see
    :func:`~clusteratlas.ingest.readers.scan_file`).

    The file is scanned in a thread while DuckDB reads it (both release the GIL): the hash is
    needed only by the duplicate check after the read. A file that the compiled GB18030 copy
    transcodes is not read a second time: the copy hashes the bytes as it reads them
    (:meth:`provide`; 1.41 against 1.56 CPU-s for the copy of 435 MB, medians).
    """

    def __init__(self, path: Path, pool: ThreadPoolExecutor) -> None:
        self.path = path
        self._pool = pool
        self._scan: Future[tuple[str, bool]] | None = None
        self._sha256 = ""

    def start(self) -> None:
        """Start the scan in the thread (once), unless the hash is already known."""
        if self._scan is None and not self._sha256 and self.path.is_file():
            self._scan = self._pool.submit(scan_file, self.path)

    def provide(self, sha256: str) -> None:
        """The hash as a transcoding copy computed it (``""``: it did not)."""
        if sha256:
            self._sha256 = sha256

    def sha256(self) -> str:
        if self._sha256:
            return self._sha256
        self.start()
        return self._scan.result()[0] if self._scan is not None else file_sha256(self.path)

    def underscore(self) -> bool:
        """Whether byte ``_`` occurs in the file (True when it cannot be scanned)."""
        self.start()
        return self._scan.result()[1] if self._scan is not None else True


def _record_load(con: duckdb.DuckDBPyConnection, load_id: str, table: str, source: str,
                 digest: str, encoding: str | None, rows_read: int, n: dict[str, int],
                 notes: list[str]) -> None:
    con.execute(
        "INSERT INTO loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [load_id, table, source, digest, encoding, rows_read, n["accepted"], n["corrected"],
         n["quarantined"], datetime.now(UTC).replace(tzinfo=None), "\n".join(notes)],
    )


def _upgrade_load_ids(con: duckdb.DuckDBPyConnection) -> None:
    """Stores written before ``_load_id`` became an integer (see :func:`_load_key`) have it as
    the hex text; convert it in place, once."""
    old = con.execute(
        "SELECT table_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND column_name = ? AND data_type = 'VARCHAR' "
        "AND table_name IN (SELECT unnest(?))",
        [LOAD_ID, list(schema.TABLES)]).fetchall()
    for (name,) in old:
        con.execute(f"ALTER TABLE {_q(name)} ALTER COLUMN {LOAD_ID} SET DATA TYPE UBIGINT "
                    f"USING ('0x' || {LOAD_ID})::UBIGINT")


def _load_id(spec: schema.Table, digest: str) -> str:
    return hashlib.sha256(f"{spec.name}:{digest}".encode()).hexdigest()[:16]


def _frame_sha256(frame: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame.astype("string"), index=False).to_numpy().tobytes())
    return h.hexdigest()


def _drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    """Free the temporary tables and views a load created (they can hold millions of rows)."""
    rows = con.execute(
        "SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE temporary "
        "UNION ALL SELECT view_name, 'VIEW' FROM duckdb_views() WHERE temporary AND NOT internal"
    ).fetchall()
    for name, kind in sorted(rows, key=lambda r: r[1] == "TABLE"):
        con.execute(f"DROP {kind} IF EXISTS {_q(name)}")
