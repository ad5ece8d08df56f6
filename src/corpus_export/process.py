"""A batch of raw files → an Arrow table of rows, a CSV part and reject records (worker side)."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import xxhash

from . import schema
from .errors import Reason, Rejected
from .parse import Page, parse_page
from .read import RawFile, Scan, is_url, read_raw
from .validate import check_batch

#: Files per task: big enough that task overhead vanishes, small enough for flat memory. A task's
#: rows become one row group of corpus.parquet (~1,000 rows, ~9 MB of text).
BATCH_FILES = 1024
#: A task is made of content-defined chunks (~32 files; the cut falls after ids whose hash ends
#: in five zero bits), so adding or changing a page changes one chunk's cache key, not all.
CHUNK_MASK = 31
CHUNK_MAX = 128
#: Parquet settings of every part (and so of corpus.parquet, whose row groups are the parts').
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    # Dictionaries only where values repeat; long unique text would waste a failed attempt.
    "use_dictionary": ["source", "uploader", "author", "citations"],
    "write_statistics": [
        "id",
        "source",
        "citations",
        "uploader",
        "paragraph_count",
        "body_chars",
        "teaser_count",
    ],
}
#: Cells starting with one of these are formulas to a spreadsheet (plus our own escape, ').
CSV_RISKY = r"^[=+\-@\t\r']"


@dataclass(frozen=True, slots=True)
class RejectRow:
    id: str
    path: str
    reason: Reason
    detail: str


@dataclass(slots=True)
class PartStats:
    """What the statistics need from a part's rows (a few numbers per row, no text)."""

    body_chars: np.ndarray
    paragraph_count: np.ndarray
    teaser_count: np.ndarray
    with_author: int
    with_citations: int
    with_source: int
    sources: dict[str, int]
    example: dict[str, object]  # the part's first row, cut short (the card's examples)


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


def write_csv(table: pa.Table, sink: str | Path | pa.NativeFile, *, header: bool) -> None:
    """Write rows as RFC 4180 CSV (strings quoted where needed, nulls empty) in the CSV view."""
    opts = pacsv.WriteOptions(include_header=header, quoting_style="needed")
    pacsv.write_csv(csv_table(table), sink, write_options=opts)


def encode_parquet(table: pa.Table, sink: str | Path | pa.NativeFile) -> None:
    """Write rows as a standalone Parquet file of one row group (the build splices these)."""
    pq.write_table(table, sink, row_group_size=max(1, table.num_rows), **PARQUET_OPTIONS)


def arrow_nbytes(table: pa.Table) -> int:
    """Return the in-memory Arrow size of rows held as one batch, whatever their chunking.

    Table.nbytes varies with how columns happen to be chunked and whether an all-valid column
    carries a validity bitmap; the Hub shard plan needs the same number on every build.
    """

    def size(col: pa.ChunkedArray | pa.Array, rows: int) -> int:
        bitmap = (rows + 7) // 8 if col.null_count else 0
        if pa.types.is_list(col.type):
            flat = pc.list_flatten(col)
            return bitmap + 4 * (rows + 1) + size(flat, len(flat))
        if pa.types.is_string(col.type):
            return bitmap + 4 * (rows + 1) + (pc.sum(pc.binary_length(col)).as_py() or 0)
        return bitmap + rows * col.type.bit_width // 8

    return sum(size(col, table.num_rows) for col in table.columns)


def table_stats(table: pa.Table) -> PartStats:
    """Return the per-row numbers and counts the card's statistics are made of."""
    counts = pc.value_counts(table.column("source").drop_null())
    example: dict[str, object] = {}
    if table.num_rows:
        example = {k: _example(v) for k, v in table.slice(0, 1).to_pylist()[0].items()}
    return PartStats(
        body_chars=table.column("body_chars").to_numpy(),
        paragraph_count=table.column("paragraph_count").to_numpy(),
        teaser_count=table.column("teaser_count").to_numpy(),
        with_author=table.num_rows - table.column("author").null_count,
        with_citations=table.num_rows - table.column("citations").null_count,
        with_source=table.num_rows - table.column("source").null_count,
        sources=dict(
            zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
        ),
        example=example,
    )


def _example(value: object) -> str:
    if isinstance(value, list):
        value = json.dumps(value[:1], ensure_ascii=False) if value else "[]"
    text = "" if value is None else str(value)
    return text if len(text) <= 40 else text[:40] + "…"


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
class Parsed:
    """What parsing one task produced, besides the rows themselves (which stay with the worker).

    The parent needs only this to decide which rows are duplicates of earlier ones; the rows
    are encoded afterwards, without those, by `encode_task`.
    """

    index: int
    ids: list[str]  # of the rows, in order, like paths and dedup_keys
    paths: list[str]
    dedup_keys: list[bytes]  # xxh3-128 of (title, body) per row
    rejects: list[RejectRow]
    arrow_path: str | None = None  # the rows as an Arrow IPC file (local engine)


@dataclass(slots=True)
class Part:
    """One task's rows encoded: one Parquet row group and a CSV fragment, plus their statistics.

    The bytes are on disk (parquet_path, csv_path) for the local engine, or inline
    (parquet_bytes, csv_bytes) when they come back from Dask workers on other machines.
    """

    index: int
    rows: int
    nbytes: int  # in-memory Arrow size of the rows (the Hub shard plan counts these)
    stats: PartStats
    parquet_path: str | None = None
    csv_path: str | None = None
    parquet_bytes: bytes | None = None
    csv_bytes: bytes | None = None


@dataclass(slots=True)
class ChunkResult:
    """What one chunk produced besides its rows; with `arrow`, what the cache stores."""

    paths: list[str]
    dedup_keys: list[bytes]
    rejects: list[RejectRow]
    arrow: bytes = b""  # the chunk's rows as an Arrow IPC stream (cache entries only)


def parse_chunk(
    base: Path | str, files: list[RawFile]
) -> tuple[list[dict[str, object]], ChunkResult]:
    """Read and parse the files of one chunk → (table rows, everything else it produced)."""
    rows: list[dict[str, object]] = []
    res = ChunkResult([], [], [])
    for f in files:
        try:
            page, _ = process_file(base, f)
        except Rejected as rej:
            res.rejects.append(RejectRow(f.id, f.path, rej.reason, rej.detail))
            continue
        row = page.to_row()  # joins the body once; the key below reuses it
        rows.append(row)
        res.paths.append(f.path)
        res.dedup_keys.append(dedup_key(page.title, row["body"]))  # type: ignore[arg-type]
    return rows, res


def _ipc_stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]


def parse_batch(
    root: str, chunks: list[list[RawFile]], index: int, cache_dir: str | None = None
) -> tuple[Parsed, pa.Table]:
    """Read, parse and validate one task's chunks → (what the parent needs, the rows).

    With a cache_dir, unchanged chunks are taken from the cache instead of being read and
    parsed. Conversions run once per task, not per chunk: each call costs a fixed overhead.
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
    del new_rows
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
    parsed = Parsed(
        index=index,
        ids=table.column("id").to_pylist(),
        paths=[p for r in results for p in r.paths],
        dedup_keys=[k for r in results for k in r.dedup_keys],
        rejects=[j for r in results for j in r.rejects],
    )
    return parsed, table


def encode_batch(table: pa.Table, keep: bytes | None, index: int, part_dir: str | None) -> Part:
    """Encode a task's rows, without those keep marks 0, as part-N.parquet and part-N.csv.

    With part_dir None the encoded bytes are returned inside the Part instead.
    """
    if keep is not None:
        table = table.filter(pa.array(np.frombuffer(keep, dtype=np.bool_)))
    part = Part(
        index=index, rows=table.num_rows, nbytes=arrow_nbytes(table), stats=table_stats(table)
    )
    if not table.num_rows:
        return part
    if part_dir is None:
        sink = pa.BufferOutputStream()
        encode_parquet(table, sink)
        part.parquet_bytes = sink.getvalue().to_pybytes()
        sink = pa.BufferOutputStream()
        write_csv(table, sink, header=False)
        part.csv_bytes = sink.getvalue().to_pybytes()
        return part
    part.parquet_path = str(Path(part_dir) / f"part-{index:07d}.parquet")
    part.csv_path = str(Path(part_dir) / f"part-{index:07d}.csv")
    encode_parquet(table, part.parquet_path)
    write_csv(table, part.csv_path, header=False)
    return part


def parse_task(
    root: str, chunks: list[list[RawFile]], part_dir: str, index: int, cache_dir: str | None
) -> Parsed:
    """parse_batch in a local worker: the rows wait in part_dir as part-N.arrow (Arrow IPC)."""
    parsed, table = parse_batch(root, chunks, index, cache_dir)
    parsed.arrow_path = str(Path(part_dir) / f"part-{index:07d}.arrow")
    with pa.OSFile(parsed.arrow_path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    return parsed


def encode_task(arrow_path: str, keep: bytes | None, index: int, part_dir: str) -> Part:
    """encode_batch in a local worker, from the rows parse_task left in part_dir."""
    with pa.memory_map(arrow_path, "r") as source:
        table = pa.ipc.open_file(source).read_all()
        part = encode_batch(table, keep, index, part_dir)
    Path(arrow_path).unlink(missing_ok=True)
    return part
