"""Read CSV, TSV, Excel (.xlsx) and Parquet files as raw text, decoding UTF-8, UTF-8 with BOM and
GB18030/GBK.

Everything a reader returns is text: numbers are parsed, checked and corrected later by
:mod:`clusteratlas.ingest.validate`, so that a value that cannot be parsed is quarantined with its
original spelling instead of silently becoming missing.

Delimited text is read by DuckDB's CSV reader with every column as ``VARCHAR`` and rejected records
kept (``store_rejects``), so a record with too many or too few fields is not lost: it comes back with
the raw line in ``_malformed`` and is quarantined as ``malformed_row``. GB18030 (a superset of GBK and
GB2312) is not readable by DuckDB without a downloadable extension, so such files are first
transcoded to a temporary UTF-8 file in fixed-size chunks (bounded memory); a large file in
line-aligned ranges, one process per core. The store validates a delimited file as DuckDB reads it
(:func:`open_delimited`), with no table of raw text in between.

Two bookkeeping columns are added to every raw frame or relation:

``_row``
    1-based number of the record in the source (1 = first record after the header). When a file
    has malformed records, numbers are assigned assuming one record per line.
``_malformed``
    The raw text of a record that could not be split into the header's fields, else missing.
"""

from __future__ import annotations

import codecs
import hashlib
import itertools
import mmap
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import duckdb
import numpy as np
import pandas as pd

from clusteratlas.errors import InputError
from clusteratlas.ingest import gb18030_kernel

ROW = "_row"
MALFORMED = "_malformed"

DELIMITED = {".csv", ".tsv", ".tab", ".txt"}
EXCEL = {".xlsx", ".xlsm"}
PARQUET = {".parquet", ".pq"}
SUPPORTED = sorted(DELIMITED | EXCEL | PARQUET)

# How much of a file is inspected to choose its encoding; the rest is checked while transcoding
# (GB18030) or by DuckDB's reader (UTF-8, bad records are quarantined).
_SAMPLE_BYTES = 1 << 20
_CHUNK_BYTES = 16 << 20
# DuckDB's CSV buffer. Each buffer is one batch of the order-preserving parallel write, and
# every batch boundary costs a merge of partial row groups: 32 MB buffers instead of the default
# take ~25% less CPU to read and validate a 5M-row file (5.7 vs 7.8 s) with the same result.
_CSV_BUFFER_BYTES = 32 << 20

Progress = Callable[[str, float], None]


@dataclass
class SourceInfo:
    """What was learned about a source file while reading it."""

    path: Path
    format: str
    encoding: str | None = None
    delimiter: str | None = None
    columns: list[str] = field(default_factory=list)
    sha256: str = ""


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (identifies a source for idempotent reloading)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def scan_file(path: str | os.PathLike[str]) -> tuple[str, bool]:
    """SHA-256 of a file's bytes, and whether byte 0x5F (``_``) occurs in it at all: when it
    does not, no value can hold the digit separator that DuckDB's number cast accepts (see
    :func:`clusteratlas.ingest.validate.run_validation`)."""
    digest = hashlib.sha256()
    underscore = False
    with open(path, "rb") as handle:
        while chunk := handle.read(8 << 20):
            digest.update(chunk)
            underscore = underscore or b"_" in chunk
    return digest.hexdigest(), underscore


def _check_file(path: Path) -> str:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    suffix = path.suffix.lower()
    if suffix not in DELIMITED | EXCEL | PARQUET:
        raise InputError(
            f"{path.name}: unsupported file type {suffix or '(none)'!r}; expected one of "
            f"{', '.join(SUPPORTED)}"
        )
    if path.stat().st_size == 0:
        raise InputError(f"{path.name}: file is empty (0 bytes)")
    return suffix


def detect_encoding(path: str | os.PathLike[str]) -> str:
    """Name the text encoding of ``path``: ``utf-8``, ``utf-8-sig`` (with BOM) or ``gb18030``.

    GB18030 covers GBK and GB2312, so files saved as either decode correctly. The first megabyte
    decides; a file that is neither raises :class:`InputError` naming the likeliest encoding
    (from ``charset-normalizer``) so the user knows what to convert from.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        sample = handle.read(_SAMPLE_BYTES)
    if not sample:
        raise InputError(f"{path.name}: file is empty (0 bytes)")
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(f"{path.name}: file is UTF-16; re-save it as UTF-8 or GB18030")
    if b"\x00" in sample:
        raise InputError(f"{path.name}: contains NUL bytes; it is binary or corrupt, not a text table")
    for encoding in ("utf-8", "gb18030"):
        # an incremental decoder tolerates a multi-byte character cut at the end of the sample
        try:
            codecs.getincrementaldecoder(encoding)(errors="strict").decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    guess = _guess_encoding(sample)
    raise InputError(
        f"{path.name}: cannot decode as UTF-8 or GB18030/GBK"
        + (f" (looks like {guess})" if guess else "")
        + "; re-save the file as UTF-8"
    )


def _guess_encoding(sample: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - a declared dependency
        return None
    best = from_bytes(sample[:65536]).best()
    return best.encoding if best is not None else None


def _sniff_delimiter(header: str, suffix: str) -> str:
    if suffix in (".tsv", ".tab"):
        return "\t"
    counts = {d: header.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _compiled_gb18030_copy(path: Path, dst: BinaryIO, progress: Progress | None,
                           found: dict[str, bool | str] | None = None) -> bool:
    """Transcode GB18030 ``path`` into ``dst`` with the compiled kernel, in line-aligned chunks
    (0x0A never occurs inside a GB18030 character), each cut in two halves decoded by two
    threads (the kernel releases the GIL). False, with ``dst`` to be discarded, at the first
    sequence the kernel does not decode.

    The file is mapped into memory, not read: the kernel and the hash see its pages where the
    page cache holds them (reading it into buffers cost a copy of every byte, 0.29 CPU-s per
    435 MB). While a chunk is decoded, its bytes are hashed and the previous chunk's text is
    written from a second pair of output buffers (all three release the GIL).
    ``found["underscore"]`` tells whether the text has a ``_`` (the GB18030 bytes can have 0x5F
    inside a character, so the source file's bytes cannot tell; see ``scan_file``), and
    ``found["sha256"]`` is the SHA-256 of the source's bytes (hashed on the way, so the file
    need not be read a second time to name the load).
    """
    try:
        gb18030_kernel.prepare()  # here, not in the first two decoding threads at once
    except Exception:  # no native code generator here: Python's codec transcodes
        return False
    size = path.stat().st_size
    digest = hashlib.sha256()
    underscore = False
    # the decoded text goes to bytearrays (searched for "_" with no copy), seen through NumPy;
    # a half is at most a chunk, and its UTF-8 at most 1.5 times its bytes (see the kernel)
    raws = [[bytearray(_CHUNK_BYTES * 3 // 2 + 8) for _ in range(2)] for _ in range(2)]
    with open(path, "rb") as handle:
        try:
            mm = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # a file that cannot be mapped: the codec path reads it
            return False
    with mm, ThreadPoolExecutor(max_workers=2) as decoders, ThreadPoolExecutor(max_workers=1) as writer:
        if hasattr(mm, "madvise"):
            mm.madvise(mmap.MADV_SEQUENTIAL)
        src = np.frombuffer(mm, dtype=np.uint8)
        view = memoryview(mm)
        try:
            writing: Future[bool] | None = None
            start = 0
            for k in itertools.count():
                # whole lines only, unless a line is longer than a chunk (the kernel then stops
                # at the character it cut, and the codec path takes over)
                end = min(start + _CHUNK_BYTES, size)
                cut = (mm.rfind(b"\n", start, end) + 1 or end) if end < size else end
                mid = mm.rfind(b"\n", start, start + (cut - start) // 2) + 1 or cut
                raw = raws[k % 2]
                halves = [decoders.submit(gb18030_kernel.gb18030_to_utf8, part,
                                          np.frombuffer(r, dtype=np.uint8))
                          for part, r in zip((src[start:mid], src[mid:cut]), raw, strict=True)]
                digest.update(view[start:cut])
                results = [half.result() for half in halves]
                if writing is not None:
                    underscore |= writing.result()  # the other pair of output buffers is free again
                if any(bad >= 0 for _, bad in results):
                    return False
                writing = writer.submit(_write_parts, dst, [(r, w) for r, (w, _) in zip(raw, results, strict=True)],
                                        not underscore)
                start = cut
                if progress is not None:
                    progress("decode", start / size)
                if start >= size:
                    underscore |= writing.result()
                    if found is not None:
                        found["underscore"], found["sha256"] = underscore, digest.hexdigest()
                    return True
        finally:
            del src, view  # the map cannot close while they look into it
    raise AssertionError("unreachable")  # pragma: no cover


def _write_parts(dst: BinaryIO, parts: list[tuple[bytearray, int]], look: bool) -> bool:
    """Write the first ``n`` bytes of each buffer; whether (when ``look``) one holds a ``_``."""
    seen = False
    for raw, n in parts:
        dst.write(memoryview(raw)[:n])
        seen = seen or (look and raw.find(b"_", 0, n) >= 0)
    return seen


# A worker that transcodes one byte range of a file (run as ``python -I -S -c``: no site
# imports, so it starts in milliseconds). A decoding error is reported as "offset reason".
_TRANSCODE_WORKER = """
import codecs, sys
src, start, end, dst, encoding, chunk_bytes = sys.argv[1:]
start, end, chunk_bytes = int(start), int(end), int(chunk_bytes)
decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
with open(src, "rb") as fin, open(dst, "wb") as fout:
    fin.seek(start)
    pos = start
    while True:
        chunk = fin.read(min(chunk_bytes, end - pos))
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            sys.stderr.write(f"{pos + exc.start} {exc.reason}")
            sys.exit(3)
        fout.write(text.encode("utf-8"))
        if not chunk:
            break
        pos += len(chunk)
"""

# Files smaller than this are transcoded in this process only (starting workers costs more).
_PARALLEL_BYTES = 32 << 20


def _split_points(path: Path, size: int, parts: int) -> list[int]:
    """Offsets that cut ``path`` into about ``parts`` ranges just after a newline byte (never
    inside a multi-byte character: in GB18030, as in UTF-8, byte 0x0A is always a newline)."""
    cuts = [0]
    with open(path, "rb") as handle:
        for k in range(1, parts):
            handle.seek(max(size * k // parts, cuts[-1]))
            block = handle.read(1 << 20)
            at = block.find(b"\n")
            if at < 0:
                break
            cut = handle.tell() - len(block) + at + 1
            if cut >= size:
                break
            cuts.append(cut)
    return [*cuts, size]


_SHM = "/dev/shm"


def _scratch_dir(size: int) -> str | None:
    """Where to write the UTF-8 copy of a ``size``-byte file: the memory-backed ``/dev/shm`` when
    it and free memory have room to spare (writing 460 MB there takes 0.2 s, to a disk file
    system's page cache 1.1 s), else the default temporary folder (``None``)."""
    need = size * 3 // 2 + (64 << 20)
    try:
        shm = os.statvfs(_SHM)
        free_memory = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None
    return _SHM if shm.f_bavail * shm.f_frsize > 2 * need and free_memory > 4 * need else None


@contextmanager
def utf8_copy(path: Path, encoding: str, progress: Progress | None = None,
              found: dict[str, bool | str] | None = None) -> Iterator[Path]:
    """Yield a UTF-8 version of ``path``: the file itself when it already is, else a temp copy.

    The copy is written chunk by chunk with an incremental decoder, so memory stays bounded
    whatever the file size; a byte sequence that is not valid in ``encoding`` raises
    :class:`InputError` with its byte offset. A large file is cut at line ends into one range per
    core; this process transcodes the first while worker processes transcode the others (the
    codec holds the GIL, so threads would not help), and their outputs are appended in order.
    The decoding is Python's own codec in every range, so the text is the same either way.
    ``found``, when given, gets ``"underscore"`` (whether the text has a ``_``) and ``"sha256"``
    (of the source's bytes) where the copy tells them (the compiled GB18030 path).
    """
    if encoding in ("utf-8", "utf-8-sig"):
        yield path
        return
    size = path.stat().st_size
    scratch = _scratch_dir(size)
    if encoding.replace("-", "").lower() == "gb18030":
        fd, tmp_name = tempfile.mkstemp(prefix="clusteratlas-", suffix=".utf8.csv", dir=scratch)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as dst:
                compiled = _compiled_gb18030_copy(path, dst, progress, found)
            if compiled:
                yield tmp
                return
        finally:
            tmp.unlink(missing_ok=True)
        # a sequence the kernel does not decode: Python's codec decides (and names a bad byte)
    parts = min(os.cpu_count() or 1, 8) if size >= _PARALLEL_BYTES else 1
    cuts = _split_points(path, size, parts)
    fd, tmp_name = tempfile.mkstemp(prefix="clusteratlas-", suffix=".utf8.csv", dir=scratch)
    tmp = Path(tmp_name)
    outputs = [tmp.with_name(f"{tmp.name}.part{k}") for k in range(1, len(cuts) - 1)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _TRANSCODE_WORKER, str(path), str(a), str(b),
             str(out), encoding, str(_CHUNK_BYTES)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for a, b, out in zip(cuts[1:-1], cuts[2:], outputs, strict=True)
    ]
    try:
        with os.fdopen(fd, "wb") as dst:
            _transcode_range(path, encoding, 0, cuts[1], dst, progress, size)
            for worker, out in zip(workers, outputs, strict=True):
                _, err = worker.communicate()
                if worker.returncode != 0:
                    offset, _, reason = err.decode(errors="replace").strip().partition(" ")
                    if not offset.isdigit():
                        raise InputError(f"{path.name}: transcoding from {encoding.upper()} failed "
                                         f"({err.decode(errors='replace').strip()[:200]})")
                    raise InputError(
                        f"{path.name}: byte {offset} is not valid {encoding.upper()} "
                        f"({reason}); the file is corrupt or mixes encodings"
                    )
                with open(out, "rb") as part:
                    shutil.copyfileobj(part, dst, 1 << 24)
                out.unlink()
        yield tmp
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        for out in outputs:
            out.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)


def _transcode_range(path: Path, encoding: str, start: int, end: int, dst: BinaryIO,
                     progress: Progress | None, size: int) -> None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    done = start
    with open(path, "rb") as src:
        src.seek(start)
        while True:
            chunk = src.read(min(_CHUNK_BYTES, end - done))
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path.name}: byte {done + exc.start} is not valid {encoding.upper()} "
                    f"({exc.reason}); the file is corrupt or mixes encodings"
                ) from None
            dst.write(text.encode("utf-8"))
            if not chunk:
                break
            done += len(chunk)
            if progress is not None:
                progress("decode", done / size)


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    """The single value of a one-row, one-column query (fetching the result to its end)."""
    return con.execute(sql).fetchall()[0][0]


def _qi(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_reject_counter = iter(range(1, 1 << 62))


def load_raw(
    con: duckdb.DuckDBPyConnection,
    path: str | os.PathLike[str],
    relation: str,
    encoding: str | None = None,
    progress: Progress | None = None,
) -> SourceInfo:
    """Read ``path`` into the temporary table ``relation`` of ``con``: all columns as text plus
    ``_row`` and ``_malformed`` (see the module docstring).

    Raises
    ------
    InputError
        Missing, empty, unsupported, undecodable or corrupt file; a file with no records.
    """
    path = Path(path)
    suffix = _check_file(path)
    if suffix in DELIMITED:
        info = _load_delimited(con, path, relation, suffix, encoding, progress)
    elif suffix in PARQUET:
        info = _load_parquet(con, path, relation)
    else:
        frame = _read_excel(path)
        info = SourceInfo(path=path, format="xlsx", columns=[str(c) for c in frame.columns])
        _frame_to_relation(con, frame, relation)
    n = scalar(con, f'SELECT count(*) FROM "{relation}"')
    if n == 0:
        raise InputError(f"{path.name}: has a header but no data rows")
    return info


def _load_delimited(con: duckdb.DuckDBPyConnection, path: Path, relation: str, suffix: str,
                    encoding: str | None, progress: Progress | None) -> SourceInfo:
    if encoding is not None:
        return _read_delimited(con, path, relation, suffix, encoding, progress)
    encoding = detect_encoding(path)
    info = _read_delimited(con, path, relation, suffix, encoding, progress)
    if encoding == "utf-8" and _sample_is_ascii(path) and _has_invalid_utf8(con, relation):
        # The first megabyte was plain ASCII, so it looked like UTF-8, but later bytes are not:
        # a GBK/GB18030 file whose Chinese text starts late. Read it again as GB18030 if the
        # whole file decodes as that; otherwise keep the UTF-8 reading, whose undecodable
        # records are quarantined as malformed.
        try:
            info = _read_delimited(con, path, relation, suffix, "gb18030", progress)
        except InputError:
            info = _read_delimited(con, path, relation, suffix, encoding, progress)
    return info


def choose_encoding(path: str | os.PathLike[str], encoding: str | None = None) -> tuple[str, bool]:
    """The encoding to read a delimited file in, and whether a GB18030 reading should be tried
    when that one finds undecodable records (the detected UTF-8 rests on an all-ASCII sample;
    see :func:`gb18030_after_all`)."""
    path = Path(path)
    _check_file(path)
    if encoding is not None:
        return encoding, False
    encoding = detect_encoding(path)
    return encoding, encoding == "utf-8" and _sample_is_ascii(path)


def gb18030_after_all(con: duckdb.DuckDBPyConnection, source: RawSource) -> bool:
    """True when a file read as UTF-8 had records that are not UTF-8 (read after
    :meth:`RawSource.rejected`)."""
    return _has_invalid_utf8(con, source.relation)


def _sample_is_ascii(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(_SAMPLE_BYTES).isascii()


def _has_invalid_utf8(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    sql = f"SELECT count(*) FROM \"{relation}_rej\" WHERE bad_encoding"
    return bool(scalar(con, sql))


@dataclass
class RawSource:
    """A delimited file opened for one pass of DuckDB's CSV reader, not yet read.

    ``sql`` is a ``FROM`` item giving ``_row`` and ``_malformed`` (both missing: a record's number
    is its position, known only once the records are stored) and every source column as text.
    Reading it fills the table ``rejects`` with the records that could not be split; call
    :meth:`rejected` after the read.
    """

    info: SourceInfo
    sql: str
    rejects: str
    relation: str
    # whether the text DuckDB reads has a "_" (None: not known; then the source's bytes tell)
    underscore: bool | None = None
    # SHA-256 of the source's bytes, when the transcoding copy computed it on its way ("": not)
    sha256: str = ""

    def rejected(self, con: duckdb.DuckDBPyConnection, n_ok: int) -> str:
        """After the read: the table of rejected records (``line``, ``csv_line``,
        ``bad_encoding``), one row per record, by line; checks that the file had records."""
        path, columns = self.info.path, self.info.columns
        rej = f'"{self.relation}_rej"'
        # one rejected record may produce several errors; keep one row per line
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {rej} AS "
            f"SELECT line, any_value(csv_line) AS csv_line, "
            f"bool_or(error_type = 'INVALID ENCODING') AS bad_encoding "
            f'FROM "{self.rejects}" GROUP BY line ORDER BY line'
        )
        n_rej = scalar(con, f"SELECT count(*) FROM {rej}")
        if n_ok == 0 and n_rej == 0:
            raise InputError(f"{path.name}: has a header but no data rows")
        if n_ok == 0:
            raise InputError(
                f"{path.name}: no record matches the header's {len(columns)} fields "
                f"(delimiter {self.info.delimiter!r}); is this a delimited table?"
            )
        return rej


@contextmanager
def open_delimited(con: duckdb.DuckDBPyConnection, path: str | os.PathLike[str], relation: str,
                   encoding: str, progress: Progress | None = None) -> Iterator[RawSource]:
    """Open a delimited file in ``encoding`` for one read by DuckDB (see :class:`RawSource`).

    The source stays readable until the block ends (a GB18030 file is read from a UTF-8 copy
    that is deleted then), so the caller reads it straight into whatever it builds, with no
    table of raw text in between.
    """
    path = Path(path)
    suffix = _check_file(path)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}") from None
    with open(path, "rb") as handle:
        head = handle.read(65536)
    try:
        first_line = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head)
    except UnicodeDecodeError:  # pragma: no cover - errors="replace" does not raise
        first_line = ""
    first_line = first_line.lstrip("\ufeff").split("\n", 1)[0]
    if not first_line.strip():
        raise InputError(f"{path.name}: the first line is empty; expected a header row")
    delimiter = _sniff_delimiter(first_line, suffix)
    info = SourceInfo(path=path, format=suffix.lstrip("."), encoding=encoding, delimiter=delimiter)
    n = next(_reject_counter)
    rej, scan = f"_rejects_{n}", f"_reject_scans_{n}"
    found: dict[str, bool | str] = {}
    with utf8_copy(path, encoding, progress, found) as utf8:
        if progress is not None:
            progress("read", 0.0)
        reader = (f"read_csv({_sql_str(str(utf8))}, all_varchar=true, header=true, "
                  f"delim={_sql_str(delimiter)}, quote='\"', escape='\"', "
                  f"store_rejects=true, rejects_table='{rej}', rejects_scan='{scan}', "
                  f"strict_mode=true, null_padding=false, buffer_size={_CSV_BUFFER_BYTES})")
        try:
            names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
        except duckdb.Error as exc:
            raise InputError(f"{path.name}: cannot read as a delimited table: {_first_line(exc)}") from None
        columns = _unreserved(names)
        _check_header(path, columns)
        info.columns = columns
        select = ", ".join(f"{_qi(a)} AS {_qi(b)}" for a, b in zip(names, columns, strict=True))
        sql = (f"(SELECT NULL::BIGINT AS {ROW}, NULL::VARCHAR AS {MALFORMED}, {select} "
               f"FROM {reader})")
        yield RawSource(info=info, sql=sql, rejects=rej, relation=relation,
                        underscore=None if "underscore" not in found else bool(found["underscore"]),
                        sha256=str(found.get("sha256", "")))


def _read_delimited(con: duckdb.DuckDBPyConnection, path: Path, relation: str, suffix: str,
                    encoding: str, progress: Progress | None) -> SourceInfo:
    del suffix  # checked again by open_delimited
    with open_delimited(con, path, relation, encoding, progress) as source:
        try:
            con.execute(f'CREATE OR REPLACE TEMP TABLE "{relation}_0" AS '
                        f"SELECT * EXCLUDE ({ROW}, {MALFORMED}) FROM {source.sql}")
        except duckdb.Error as exc:
            raise InputError(f"{path.name}: cannot read as a delimited table: {_first_line(exc)}") from None
        n_ok = int(scalar(con, f'SELECT count(*) FROM "{relation}_0"'))  # type: ignore[call-overload]
        rej = source.rejected(con, n_ok)
    info, columns = source.info, source.info.columns
    n_rej = scalar(con, f"SELECT count(*) FROM {rej}")
    cols = ", ".join(_qi(c) for c in columns)
    nulls = ", ".join(f"NULL::VARCHAR AS {_qi(c)}" for c in columns)
    if n_rej == 0:
        con.execute(
            f'CREATE OR REPLACE TEMP VIEW "{relation}" AS SELECT rowid + 1 AS {ROW}, '
            f'NULL::VARCHAR AS {MALFORMED}, {cols} FROM "{relation}_0"'
        )
    else:
        con.execute(
            f'CREATE OR REPLACE TEMP VIEW "{relation}" AS '
            f"SELECT g.rowid + 1 + coalesce(a.k, 0) AS {ROW}, NULL::VARCHAR AS {MALFORMED}, "
            + ", ".join(f"g.{_qi(c)}" for c in columns)
            + f' FROM "{relation}_0" g ASOF LEFT JOIN ({reject_offsets(rej)}) a '
            f"ON g.rowid >= a.good_before "
            f"UNION ALL SELECT line - 1 AS {ROW}, csv_line AS {MALFORMED}, {nulls} "
            f"FROM {rej} ORDER BY {ROW}"
        )
    return info


def reject_offsets(rejects: str) -> str:
    """SQL giving ``good_before``, ``k``: with ``k`` records rejected before it, a good record
    whose position among the good ones (0-based) is at least ``good_before`` sits ``k`` records
    later in the file (use with an ASOF join on the position)."""
    # Good record g (0-based) sits at data index g + (number of rejected records before it).
    # With rejected data indices r_j sorted, "good records before reject j" is r_j - j, so an
    # ASOF join on that quantity counts the rejects preceding each good record (consecutive
    # rejects share a value; the largest count wins).
    return (f"SELECT good_before, max(k) AS k "
            f"FROM (SELECT (line - 2) - (row_number() OVER (ORDER BY line) - 1) AS good_before, "
            f"row_number() OVER (ORDER BY line) AS k FROM {rejects}) GROUP BY good_before")


def _unreserved(columns: list[str]) -> list[str]:
    """Source column names, renamed where they would shadow DuckDB's ``rowid`` or our
    bookkeeping columns."""
    return [f"{c}_source" if c.lower() in ("rowid", ROW, MALFORMED) else c for c in columns]


def _rename_reserved(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Rename source columns that would shadow DuckDB's ``rowid`` or our bookkeeping columns."""
    columns = [r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()]
    for i, c in enumerate(columns):
        if c.lower() in ("rowid", ROW, MALFORMED):
            new = f"{c}_source"
            con.execute(f'ALTER TABLE "{table}" RENAME COLUMN {_qi(c)} TO {_qi(new)}')
            columns[i] = new
    return columns


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _check_header(path: Path, columns: list[str]) -> None:
    if not columns:
        raise InputError(f"{path.name}: no columns found in the header")
    auto = [c for c in columns if re.fullmatch(r"column\d+", c)]
    if len(auto) == len(columns) and len(columns) > 1:
        raise InputError(f"{path.name}: the header row is empty")


def _load_parquet(con: duckdb.DuckDBPyConnection, path: Path, relation: str) -> SourceInfo:
    try:
        columns = [r[0] for r in con.sql(
            f"DESCRIBE SELECT * FROM read_parquet({_sql_str(str(path))})").fetchall()]
        casts = ", ".join(f"CAST({_qi(c)} AS VARCHAR) AS {_qi(c)}" for c in columns)
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{relation}_0" AS SELECT {casts} '
            f"FROM read_parquet({_sql_str(str(path))})"
        )
    except duckdb.Error as exc:
        raise InputError(f"{path.name}: not a readable Parquet file: {_first_line(exc)}") from None
    columns = _rename_reserved(con, f"{relation}_0")
    con.execute(
        f'CREATE OR REPLACE TEMP VIEW "{relation}" AS SELECT rowid + 1 AS {ROW}, '
        f'NULL::VARCHAR AS {MALFORMED}, * FROM "{relation}_0"'
    )
    return SourceInfo(path=path, format="parquet", columns=columns)


def _read_excel(path: Path) -> pd.DataFrame:
    import zipfile

    try:
        frame = pd.read_excel(path, sheet_name=0, dtype=str, engine="openpyxl")
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputError(f"{path.name}: not a readable .xlsx workbook ({_first_line(exc)})") from None
    except Exception as exc:  # openpyxl raises its own InvalidFileException and friends
        raise InputError(f"{path.name}: not a readable .xlsx workbook ({_first_line(exc)})") from None
    if frame.shape[1] == 0:
        raise InputError(f"{path.name}: the first sheet is empty")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _frame_to_relation(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, relation: str) -> None:
    """Register a frame of text as ``relation`` with ``_row``/``_malformed`` added if absent."""
    text = pd.DataFrame(
        {str(c): frame[c].astype("string") for c in frame.columns if c not in (ROW, MALFORMED)}
    )
    if ROW in frame.columns:
        text.insert(0, ROW, pd.array(frame[ROW], dtype="Int64"))
    else:
        text.insert(0, ROW, pd.array(range(1, len(frame) + 1), dtype="Int64"))
    if MALFORMED in frame.columns:
        text.insert(1, MALFORMED, frame[MALFORMED].astype("string"))
    else:
        text.insert(1, MALFORMED, pd.array([None] * len(frame), dtype="string"))
    con.register(f"{relation}_df", text)
    con.execute(f'CREATE OR REPLACE TEMP TABLE "{relation}" AS SELECT * FROM "{relation}_df"')
    con.unregister(f"{relation}_df")


def read_raw(path: str | os.PathLike[str], encoding: str | None = None) -> tuple[pd.DataFrame, SourceInfo]:
    """Read a file as a frame of text with its source header names, ``_row`` and ``_malformed``."""
    con = duckdb.connect()
    try:
        info = load_raw(con, path, "raw", encoding=encoding)
        frame = con.sql("SELECT * FROM raw ORDER BY _row").df()
    finally:
        con.close()
    for c in frame.columns:
        if c != ROW:
            frame[c] = frame[c].astype("string")
    frame[ROW] = frame[ROW].astype("Int64")
    return frame, info


def read_table(
    path: str | os.PathLike[str],
    table: str = "establishments",
    mapping: dict[str, str] | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """Read a CSV/TSV/Excel/Parquet file as text with its columns mapped to canonical names.

    Parameters
    ----------
    path : path-like
        ``.csv``, ``.tsv``/``.tab``/``.txt`` (delimiter sniffed from the header among comma, tab,
        semicolon and bar), ``.xlsx`` (the first sheet; its first row is the header) or
        ``.parquet``.
    table : str
        Canonical table the file holds (see :mod:`clusteratlas.schema`).
    mapping : dict, optional
        Explicit ``source column -> canonical column`` choices; built-in aliases do the rest.
    encoding : str, optional
        Override the detected text encoding.

    Returns
    -------
    pandas.DataFrame
        Every value as text (``string`` dtype, missing cells ``<NA>``); mapped columns carry their
        canonical names, other columns keep theirs; plus ``_row`` and ``_malformed`` (see the
        module docstring). ``attrs`` records ``source``, ``encoding`` and ``column_map``.

    Raises
    ------
    InputError
        Unreadable, empty, undecodable file, or required columns that cannot be mapped.
    """
    from clusteratlas.ingest.mapping import resolve_columns

    frame, info = read_raw(path, encoding)
    colmap = resolve_columns(info.columns, table, mapping)
    frame = frame.rename(columns=colmap)
    frame.attrs.update(source=str(path), encoding=info.encoding, column_map=colmap)
    return frame
