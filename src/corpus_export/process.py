"""A batch of raw files → an Arrow table of rows, a CSV part and reject records (worker side)."""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from . import schema
from .errors import Reason, Rejected
from .parse import Page, parse_page
from .read import RawFile, is_url, read_raw
from .validate import check_batch

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


def process_file(root: Path | str, f: RawFile) -> tuple[Page, int]:
    """Read, hash, decode and parse one raw file → (page, raw size); Rejected for a bad one."""
    data, digest, size = read_raw(root, f)
    return parse_page(data, page_id=f.id, sha256=digest), size


def pages_to_table(pages: list[Page]) -> pa.Table:
    """Build an Arrow table in the schema from parsed pages (column-wise, one pass)."""
    rows = [p.to_row() for p in pages]
    columns = [
        pa.array([r[f.name] for r in rows], type=f.arrow) for f in schema.FIELDS
    ]
    return pa.Table.from_arrays(columns, schema=schema.arrow_schema())


def dedup_key(title: str, body: str) -> bytes:
    """Return the key two pages share when they have the same title and body."""
    return hashlib.blake2b(f"{title}\x00{body}".encode(), digest_size=16).digest()


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
    """Write rows as RFC 4180 CSV (strings quoted, nulls empty) in the CSV view."""
    opts = pacsv.WriteOptions(include_header=header, quoting_style="needed")
    pacsv.write_csv(csv_table(table), sink, write_options=opts)


def plan_tasks(files: list[RawFile]) -> list[list[list[RawFile]]]:
    """Group sorted files into tasks of ~BATCH_FILES files made of content-defined chunks."""
    tasks: list[list[list[RawFile]]] = []
    task: list[list[RawFile]] = []
    chunk: list[RawFile] = []
    in_task = 0
    for f in files:
        chunk.append(f)
        if len(chunk) >= CHUNK_MAX or zlib.crc32(f.id.encode("utf-8", "surrogatepass")) \
                & CHUNK_MASK == 0:
            task.append(chunk)
            in_task += len(chunk)
            chunk = []
            if in_task >= BATCH_FILES:
                tasks.append(task)
                task, in_task = [], 0
    if chunk:
        task.append(chunk)
    if task:
        tasks.append(task)
    return tasks


@dataclass(slots=True)
class ChunkResult:
    """Everything parsing one chunk produced; what the incremental cache stores."""

    arrow: bytes
    csv: bytes
    paths: list[str]
    dedup_keys: list[bytes]
    raw_bytes: list[int]
    rejects: list[RejectRow]


def process_chunk(base: Path | str, files: list[RawFile]) -> ChunkResult:
    """Read and parse the files of one chunk."""
    pages: list[Page] = []
    sizes: list[int] = []
    paths: list[str] = []
    rejects: list[RejectRow] = []
    for f in files:
        try:
            page, size = process_file(base, f)
        except Rejected as rej:
            rejects.append(RejectRow(f.id, f.path, rej.reason, rej.detail))
            continue
        pages.append(page)
        paths.append(f.path)
        sizes.append(size)
    table = pages_to_table(pages)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    csv_sink = pa.BufferOutputStream()
    write_csv(table, csv_sink, header=False)
    return ChunkResult(
        arrow=sink.getvalue().to_pybytes(),
        csv=csv_sink.getvalue().to_pybytes(),
        paths=paths,
        dedup_keys=[dedup_key(p.title, p.body) for p in pages],
        raw_bytes=sizes,
        rejects=rejects,
    )


def process_batch(root: str, chunks: list[list[RawFile]], part_dir: str | None, index: int,
                  cache_dir: str | None = None) -> Part:
    """Parse one task's chunks; write its rows as part-N.arrow and part-N.csv in part_dir.

    With part_dir None the Arrow IPC and CSV bytes are returned inside the Part instead. With a
    cache_dir, unchanged chunks are taken from the cache instead of being read and parsed.
    """
    from . import cache

    base: Path | str = root if is_url(root) else Path(root)
    results: list[ChunkResult] = []
    for chunk in chunks:
        res = cache.load(Path(cache_dir), chunk) if cache_dir else None
        if res is None:
            res = process_chunk(base, chunk)
            if cache_dir:
                cache.store(Path(cache_dir), chunk, res)
        results.append(res)
    tables = [pa.ipc.open_stream(pa.py_buffer(r.arrow)).read_all() for r in results]
    table = pa.concat_tables(tables) if tables else schema.arrow_schema().empty_table()
    check_batch(table)
    csv_bytes = b"".join(r.csv for r in results)
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
        part.csv_bytes = csv_bytes
        return part
    part.arrow_path = str(Path(part_dir) / f"part-{index:07d}.arrow")
    part.csv_path = str(Path(part_dir) / f"part-{index:07d}.csv")
    with pa.OSFile(part.arrow_path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    Path(part.csv_path).write_bytes(csv_bytes)
    return part
