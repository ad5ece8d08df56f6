"""A batch of raw files → an Arrow table of rows, a CSV part and reject records (worker side)."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import xxhash

from . import schema
from .errors import Reason, Rejected
from .parse import Page, parse_page
from .read import RawFile, Scan, is_url, read_raw
from .validate import check_batch, count_byte

#: Files per task: big enough that task overhead vanishes, small enough for flat memory.
BATCH_FILES = 256
#: A task is made of content-defined chunks (~32 files; the cut falls after ids whose hash ends
#: in five zero bits), so adding or changing a page changes one chunk's cache key, not all.
CHUNK_MASK = 31
CHUNK_MAX = 128
#: Cells starting with one of these are formulas to a spreadsheet (plus our own escape, ').
CSV_RISKY = r"^[=+\-@\t\r']"


@dataclass(frozen=True, slots=True)
class RejectRow:
    id: str
    path: str
    reason: Reason
    detail: str


@dataclass(slots=True)
class Part:
    """What one batch produced: rows on disk (Arrow IPC + CSV), the rest in memory (small)."""

    index: int
    rows: int
    arrow_path: str | None  # None: the rows travel inline (Dask workers on other machines)
    csv_path: str | None
    paths: list[str]  # raw path of each row, in row order
    dedup_keys: list[bytes]  # blake2b(title, body) per row, in row order
    raw_bytes: list[int]  # size of each row's raw file, in row order
    rejects: list[RejectRow] = field(default_factory=list)
    arrow_bytes: bytes | None = None
    csv_bytes: bytes | None = None
    #: bytes of each row in the CSV part, so a row can be cut out without rendering again
    csv_row_bytes: list[int] | None = None


def process_file(root: Path | str, f: RawFile) -> tuple[Page, int]:
    """Read, hash, decode and parse one raw file → (page, raw size); Rejected for a bad one."""
    data, digest, size = read_raw(root, f)
    return parse_page(data, page_id=f.id, sha256=digest), size


def pages_to_table(pages: list[Page]) -> pa.Table:
    """Build an Arrow table in the schema from parsed pages (column-wise, one pass)."""
    return rows_to_table([p.to_row() for p in pages])


def rows_to_table(rows: list[dict[str, object]]) -> pa.Table:
    """Build an Arrow table in the schema from `Page.to_row()` dicts."""
    columns = [pa.array([r[f.name] for r in rows], type=f.arrow) for f in schema.FIELDS]
    return pa.Table.from_arrays(columns, schema=schema.arrow_schema())


def dedup_key(title: str, body: str) -> bytes:
    """Return the key two pages share when they have the same title and body (128-bit xxh3)."""
    return xxhash.xxh3_128_digest(f"{title}\x00{body}".encode())


def csv_table(table: pa.Table) -> pa.Table:
    """Return the CSV view of rows: list columns as JSON arrays, formula-like cells escaped."""
    arrays = []
    for f in schema.FIELDS:
        col = table.column(f.name)
        if pa.types.is_list(f.arrow):
            col = pa.array(
                [json.dumps(v, ensure_ascii=False) for v in col.to_pylist()], pa.string()
            )
        elif pa.types.is_string(f.arrow):
            col = escape_csv_cells(col)
        arrays.append(col)
    return pa.Table.from_arrays(arrays, names=list(schema.NAMES))


def escape_csv_cells(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Prefix ' to cells starting with = + - @ tab CR or ' (undo: drop one leading ')."""
    risky = pc.match_substring_regex(col, CSV_RISKY)
    if not pc.any(risky).as_py():
        return col
    return pc.if_else(risky, pc.binary_join_element_wise("'", col, ""), col)


def unescape_csv_cell(text: str) -> str:
    """Invert escape_csv_cells for one cell read back from corpus.csv."""
    return text[1:] if text.startswith("'") else text


def write_csv(
    table: pa.Table, sink: str | Path | pa.NativeFile, *, header: bool
) -> list[int] | None:
    """Write rows as RFC 4180 CSV (strings quoted, nulls empty) in the CSV view.

    Returns the bytes each row takes (header excluded), or None if they could not be worked out.
    """
    view = csv_table(table)
    opts = pacsv.WriteOptions(include_header=header, quoting_style="needed")
    pacsv.write_csv(view, sink, write_options=opts)
    return None if header else csv_row_bytes(view)


def csv_row_bytes(view: pa.Table) -> list[int]:
    """Bytes of each CSV row as pyarrow writes it: quoted strings, '"' doubled, bare ints."""
    total = np.full(view.num_rows, view.num_columns, dtype=np.int64)  # commas and the newline
    for col in view.columns:
        if pa.types.is_string(col.type):
            quotes = count_byte(col, ord('"'))
            size = pc.fill_null(pc.binary_length(col), -2).to_numpy(zero_copy_only=False)
            total += np.where(size >= 0, size + 2 + quotes, 0)
        else:
            text = pc.utf8_length(pc.cast(col, pa.string()))
            total += pc.fill_null(text, 0).to_numpy(zero_copy_only=False)
    return total.tolist()  # type: ignore[no-any-return]


Task = list[tuple[int, int]]  # the [start, stop) positions of a task's chunks in the scan


def plan_tasks(scan: Scan) -> list[Task]:
    """Group the sorted files into tasks of ~BATCH_FILES files made of content-defined chunks."""
    tasks: list[Task] = []
    task: Task = []
    start = in_task = 0
    for pos, page in enumerate(scan.iter_ids()):
        size = pos + 1 - start
        if size >= CHUNK_MAX or zlib.crc32(page.encode("utf-8", "surrogatepass")) & CHUNK_MASK == 0:
            task.append((start, pos + 1))
            in_task += size
            start = pos + 1
            if in_task >= BATCH_FILES:
                tasks.append(task)
                task, in_task = [], 0
    if start < len(scan):
        task.append((start, len(scan)))
    if task:
        tasks.append(task)
    return tasks


def task_files(scan: Scan, task: Task) -> list[list[RawFile]]:
    """Return a task's chunks as RawFile records, ready to send to a worker."""
    return [scan.slice(a, b) for a, b in task]


@dataclass(slots=True)
class ChunkResult:
    """What one chunk produced besides its rows; with `arrow`, what the cache stores."""

    paths: list[str]
    dedup_keys: list[bytes]
    raw_bytes: list[int]
    rejects: list[RejectRow]
    arrow: bytes = b""  # the chunk's rows as an Arrow IPC stream (cache entries only)


def parse_chunk(
    base: Path | str, files: list[RawFile]
) -> tuple[list[dict[str, object]], ChunkResult]:
    """Read and parse the files of one chunk → (table rows, everything else it produced)."""
    rows: list[dict[str, object]] = []
    res = ChunkResult([], [], [], [])
    for f in files:
        try:
            page, size = process_file(base, f)
        except Rejected as rej:
            res.rejects.append(RejectRow(f.id, f.path, rej.reason, rej.detail))
            continue
        row = page.to_row()  # joins the body once; the key below reuses it
        rows.append(row)
        res.paths.append(f.path)
        res.raw_bytes.append(size)
        res.dedup_keys.append(dedup_key(page.title, row["body"]))  # type: ignore[arg-type]
    return rows, res


def _ipc_stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]


def process_batch(
    root: str,
    chunks: list[list[RawFile]],
    part_dir: str | None,
    index: int,
    cache_dir: str | None = None,
) -> Part:
    """Parse one task's chunks; write its rows as part-N.arrow and part-N.csv in part_dir.

    With part_dir None the Arrow IPC and CSV bytes are returned inside the Part instead. With a
    cache_dir, unchanged chunks are taken from the cache instead of being read and parsed.
    Conversions (Arrow, CSV, validation) run once per task, not per chunk: each costs a fixed
    overhead per call.
    """
    from . import cache

    base: Path | str = root if is_url(root) else Path(root)
    results: list[ChunkResult] = []
    cached: list[pa.Table | None] = []
    new_rows: list[dict[str, object]] = []
    new_counts: list[int] = []
    for chunk in chunks:
        hit = cache.load(Path(cache_dir), chunk) if cache_dir else None
        if hit is not None:
            results.append(hit)
            cached.append(pa.ipc.open_stream(pa.py_buffer(hit.arrow)).read_all())
            continue
        rows, res = parse_chunk(base, chunk)
        results.append(res)
        cached.append(None)
        new_rows.extend(rows)
        new_counts.append(len(rows))
    new_table = rows_to_table(new_rows)
    tables: list[pa.Table] = []
    offset = 0
    counts = iter(new_counts)
    for chunk, res, table in zip(chunks, results, cached, strict=True):
        if table is None:
            n = next(counts)
            table = new_table.slice(offset, n)
            offset += n
            if cache_dir:
                res.arrow = _ipc_stream(table)
                cache.store(Path(cache_dir), chunk, res)
        tables.append(table)
    table = pa.concat_tables(tables) if tables else schema.arrow_schema().empty_table()
    check_batch(table)
    part = Part(
        index=index,
        rows=table.num_rows,
        arrow_path=None,
        csv_path=None,
        paths=[p for r in results for p in r.paths],
        dedup_keys=[k for r in results for k in r.dedup_keys],
        raw_bytes=[n for r in results for n in r.raw_bytes],
        rejects=[j for r in results for j in r.rejects],
    )
    if part_dir is None:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table)
        part.arrow_bytes = sink.getvalue().to_pybytes()
        csv_sink = pa.BufferOutputStream()
        part.csv_row_bytes = write_csv(table, csv_sink, header=False)
        part.csv_bytes = csv_sink.getvalue().to_pybytes()
        return _checked_row_bytes(part, len(part.csv_bytes))
    part.arrow_path = str(Path(part_dir) / f"part-{index:07d}.arrow")
    part.csv_path = str(Path(part_dir) / f"part-{index:07d}.csv")
    with pa.OSFile(part.arrow_path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    part.csv_row_bytes = write_csv(table, part.csv_path, header=False)
    return _checked_row_bytes(part, Path(part.csv_path).stat().st_size)


def _checked_row_bytes(part: Part, size: int) -> Part:
    """Keep the row sizes only if they add up to the CSV part: else rows are rendered again."""
    if part.csv_row_bytes is not None and sum(part.csv_row_bytes) != size:
        part.csv_row_bytes = None
    return part
