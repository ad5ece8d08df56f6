"""A batch of raw files → an Arrow table of rows, a CSV part and reject records (worker side)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import xxhash

from . import cache, neardup, schema
from .errors import Reason, Rejected
from .parse import Page, parse_page
from .pseudonym import Release
from .read import RawFile, ReadAhead, Scan, is_url, read_raw
from .rules import check_ascending, check_batch

#: Files per task: big enough that task overhead vanishes, small enough for flat memory. A task's
#: rows become one row group of corpus.parquet (~1,000 rows, ~9 MB of text on average). Tasks
#: end at content-defined points (see plan_tasks): after TASK_MIN files, at an id whose hash
#: ends in nine zero bits (1 in 512), and at TASK_MAX files or TASK_BYTES of raw files at the
#: latest. The byte cap bounds a worker's memory whatever the pages' sizes (a task's rows are
#: in memory at once, ~5x their raw bytes at the peak), and keeps the largest task of a big
#: corpus near that of a small one. It binds rarely on pages of ~10 KB (~1 task in 15): a task
#: ended by it moves when a page is added or grows, and so do the next ones until a
#: content-defined end (at 12 MiB, binding on 1 task in 3, a rebuild after adding 1% of pages
#: went from 66% to 86% of a cold build).
TASK_MIN = 512
TASK_MASK = 511
TASK_MAX = 2048
TASK_BYTES = 16 * 2**20
#: Parsed pages held as Python objects before they become Arrow columns (bounds a worker's memory).
ROWS_PER_CONVERSION = 256
#: Parquet settings of every part (and so of corpus.parquet, whose row groups are the parts').
#: Content-defined pages of 16-64 KiB (before encoding; ~22 kB compressed): an edited page is
#: rewritten and its neighbours keep their bytes, so a store that dedupes by ~64 KiB chunks (the
#: Hub's) receives about the page plus a chunk a change, against a 57 kB page plus a chunk with
#: 64-256 KiB pages. zstd level 3 wins back most of what the smaller pages lose to compression
#: (level 1: +13% file size, level 3: +6.6%) for ~30% more encoding CPU (~11 µs a page).
#: Measured on 20k pages (tests/benchmarks/dedupe.py; RESULTS.md, "Hub re-upload: page size").
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_content_defined_chunking": {"min_chunk_size": 16 * 1024, "max_chunk_size": 64 * 1024},
    # ColumnIndex and OffsetIndex: readers skip pages by id, counts (and find a row's page)
    "write_page_index": True,
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
    citations: np.ndarray  # of the rows that show a count
    with_author: int
    with_citations: int
    with_source: int
    sources: dict[str, int]
    example: dict[str, object]  # the part's first row, cut short (the card's examples)


def process_file(
    root: Path | str, f: RawFile, ahead: ReadAhead | None = None
) -> tuple[Page, tuple[int, int, int, int, int] | None]:
    """Read, hash, decode and parse one raw file → (page, read.file_stat of the file opened, if
    known); Rejected for a bad one. `ahead` reads it, when it is one of a task's files."""
    read = ahead.read(f) if ahead is not None else read_raw(root, f)
    return parse_page(read.data, page_id=f.id, sha256=read.sha256), read.stat


def pages_to_table(pages: list[Page], bodies: list[str] | None = None) -> pa.Table:
    """Build an Arrow table in the schema from parsed pages, a column at a time: each page's
    to_row(), without a dict per row. `bodies`: each page's body, when the caller has joined
    them already."""
    if bodies is None:
        bodies = [p.body for p in pages]
    paragraphs = [len(p.paragraphs) for p in pages]
    teasers = [p.teasers for p in pages]
    values: dict[str, list[Any] | pa.ChunkedArray] = {
        "id": [p.id for p in pages],
        "title": [p.title for p in pages],
        "source": [p.source for p in pages],
        "citations": [p.citations for p in pages],
        "uploader": [p.uploader for p in pages],
        "author": [p.author for p in pages],
        "body": _utf8_strings(bodies),
        "paragraph_count": paragraphs,
        "body_chars": [p.body_chars for p in pages],
        "teasers": teasers,
        "teaser_count": [len(t) for t in teasers],
        "sha256": [p.sha256 for p in pages],
    }
    columns = [
        pa.array(v, f.arrow) if isinstance(v := values[f.name], list) else v for f in schema.FIELDS
    ]
    return pa.Table.from_arrays(columns, schema=schema.arrow_schema())


#: The most bytes of text a chunk of a string column holds (32-bit offsets): pa.array starts a
#: new chunk where the next string would pass it, and so does _utf8_strings.
CHUNK_BYTES = 2**31 - 2


def _utf8_strings(texts: list[str]) -> pa.ChunkedArray:
    """The texts as a string column: their UTF-8 bytes joined once, viewed with their offsets
    (pa.array grows its buffer copy after copy as the strings come: ~4x slower for bodies of
    a few kB). In more than one chunk past CHUNK_BYTES bytes, as pa.array splits them."""
    encoded = [t.encode() for t in texts]
    ends = np.cumsum(np.fromiter(map(len, encoded), np.int64, len(encoded)))
    chunks: list[pa.Array] = []
    start = 0
    while start < len(encoded) or not chunks:
        base = int(ends[start - 1]) if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + CHUNK_BYTES, side="right")))
        stop = min(stop, len(encoded))
        offsets = np.zeros(stop - start + 1, np.int32)
        offsets[1:] = ends[start:stop] - base
        data = pa.py_buffer(b"".join(encoded[start:stop]))
        chunks.append(pa.StringArray.from_buffers(stop - start, pa.py_buffer(offsets), data))
        start = stop
    return pa.chunked_array(chunks, pa.string())


def dedup_key(title: str, body: str) -> bytes:
    """Return the key two pages share when they have the same title and body (128-bit xxh3)."""
    return xxhash.xxh3_128_digest(f"{title}\x00{body}".encode())


def dedup_keys(table: pa.Table) -> list[bytes]:
    """Return dedup_key of every row, hashing the UTF-8 bytes the rows' Arrow columns already
    hold (encoding the text again cost more than the hash)."""
    return [
        xxhash.xxh3_128_digest(b"".join((title, b"\x00", body)))
        for title, body in zip(
            _utf8_cells(table.column("title")), _utf8_cells(table.column("body")), strict=True
        )
    ]


def _utf8_cells(col: pa.ChunkedArray) -> Iterator[memoryview]:
    """The UTF-8 bytes of each cell of a string column without nulls, as views (no copy)."""
    for chunk in col.chunks:
        if not len(chunk):
            continue
        _, offsets, data = chunk.buffers()
        ends = np.frombuffer(offsets, np.int32)[chunk.offset : chunk.offset + len(chunk) + 1]
        view = memoryview(data) if data is not None else memoryview(b"")
        bounds = ends.tolist()
        for a, b in pairwise(bounds):
            yield view[a:b]


def json_lists(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Return each list of strings as json.dumps(list, ensure_ascii=False) writes it, computed
    with pyarrow.compute (no Python object per cell); a chunk holding a string JSON escapes
    goes through json.dumps itself."""
    out = []
    for chunk in col.chunks:
        flat = chunk.flatten()
        if chunk.null_count or flat.null_count or _json_escapes(flat):
            texts = [json.dumps(v, ensure_ascii=False) for v in chunk.to_pylist()]
            out.append(pa.array(texts, pa.string()))
            continue
        # t1", "t2", "t3 in one pass, then [" and "] around (just [ and ] around no string)
        offsets = pc.subtract(chunk.offsets, chunk.offsets[0])
        joined = pc.binary_join(pa.ListArray.from_arrays(offsets, flat), '", "')
        empty = pc.equal(pc.list_value_length(chunk), 0)
        out.append(
            pc.binary_join_element_wise(
                pc.if_else(empty, "[", '["'), joined, pc.if_else(empty, "]", '"]'), ""
            )
        )
    return pa.chunked_array(out, pa.string())


def _json_escapes(strings: pa.Array) -> bool:
    """Whether a string holds a character a JSON string escapes (json.dumps: \" \\ and the
    control characters), read from the UTF-8 bytes at once (every byte of a multi-byte
    character is 0x80 or more): a regex over them cost half the CSV's teasers column."""
    if not pa.types.is_string(strings.type):  # (64-bit offsets: json.dumps decides)
        return True
    _, offsets, data = strings.buffers()
    if not len(strings) or data is None:
        return False
    ends = np.frombuffer(offsets, np.int32)[strings.offset : strings.offset + len(strings) + 1]
    text = np.frombuffer(data, np.uint8)[ends[0] : ends[-1]]
    if len(text) and text.min() < 0x20:
        return True
    held = text.tobytes()  # (bytes.find: memchr, faster than comparing every byte in NumPy)
    return b'"' in held or b"\\" in held


def csv_table(table: pa.Table) -> pa.Table:
    """Return the CSV view of rows: list columns as JSON arrays, formula-like cells escaped."""
    arrays = []
    fields = schema.kept(schema.dropped(table.column_names))
    for f in fields:
        col = table.column(f.name)
        if pa.types.is_list(f.arrow):
            col = json_lists(col)
        elif pa.types.is_string(f.arrow):
            col = escape_csv_cells(col)
        arrays.append(col)
    return pa.Table.from_arrays(arrays, names=[f.name for f in fields])


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


def csv_header_line(drop: tuple[str, ...] = ()) -> bytes:
    """Return corpus.csv's header line as write_csv(..., header=True) writes it (names quoted),
    without touching pyarrow.compute: its first use costs a process ~40 MB of memory, which the
    parent, splicing bytes, does without until the build's end."""
    return ("".join(f'"{name}",' for name in schema.csv_header(drop))[:-1] + "\n").encode()


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
            chars: int = pc.sum(pc.binary_length(col)).as_py() or 0
            return bitmap + 4 * (rows + 1) + chars
        width: int = col.type.bit_width
        return bitmap + rows * width // 8

    return sum(size(col, table.num_rows) for col in table.columns)


def table_stats(table: pa.Table) -> PartStats:
    """Return the per-row numbers and counts the card's statistics are made of (of a dropped
    column: none)."""
    empty = pa.nulls(0, pa.int32())

    def column(name: str) -> pa.ChunkedArray:
        if name in table.column_names:
            return table.column(name)
        return pa.chunked_array([pa.nulls(table.num_rows, pa.string())])

    def given(name: str) -> int:
        return int(table.num_rows - column(name).null_count)

    counts = pc.value_counts(column("source").drop_null())
    example: dict[str, object] = {}
    if table.num_rows:
        example = {k: _example(v) for k, v in table.slice(0, 1).to_pylist()[0].items()}

    def numbers(name: str) -> np.ndarray:
        col = table.column(name) if name in table.column_names else pa.chunked_array([empty])
        return _int32(col.drop_null())

    return PartStats(
        # copies (not views of the rows, which may be a memory-mapped file), 4 bytes a number
        body_chars=numbers("body_chars"),
        paragraph_count=numbers("paragraph_count"),
        teaser_count=numbers("teaser_count"),
        citations=numbers("citations"),
        with_author=given("author"),
        with_citations=given("citations"),
        with_source=given("source"),
        sources=dict(
            zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
        ),
        example=example,
    )


def _int32(col: pa.ChunkedArray) -> np.ndarray:
    values: np.ndarray = col.to_numpy()
    return values.astype(np.int32) if values.max(initial=0) < 2**31 else values.copy()


def _example(value: object) -> str:
    if isinstance(value, list):
        value = json.dumps(value[:1], ensure_ascii=False) if value else "[]"
    text = "" if value is None else str(value)
    return text if len(text) <= 40 else text[:40] + "…"


Task = tuple[int, int]  # the [start, stop) positions of a task's files in the scan


def plan_tasks(scan: Scan) -> list[Task]:
    """Cut the sorted files into tasks of TASK_MIN..TASK_MAX files at content-defined points.

    A task ends after a file whose id hashes to TASK_MASK zero bits (once it has TASK_MIN
    files), so adding or removing a page moves the boundaries of its own task only and every
    other task keeps its files, and with them its cache entries. A task also ends once its
    files reach TASK_BYTES (as the scan sized them; a file that grows past that can move the
    end of its task, and the next task's start, until the next content-defined point).
    """
    tasks: list[Task] = []
    start = 0
    nbytes = 0
    for pos, (page, file_bytes) in enumerate(scan.ids_and_sizes()):
        size = pos + 1 - start
        nbytes += file_bytes
        if (
            size >= TASK_MAX
            or nbytes >= TASK_BYTES
            or (
                size >= TASK_MIN
                and zlib.crc32(page.encode("utf-8", "surrogatepass")) & TASK_MASK == 0
            )
        ):
            tasks.append((start, pos + 1))
            start = pos + 1
            nbytes = 0
    if start < len(scan):
        tasks.append((start, len(scan)))
    return tasks


def task_files(scan: Scan, task: Task) -> list[RawFile]:
    """Return a task's files as RawFile records, ready to send to a worker."""
    return scan.slice(*task)


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
    signatures: np.ndarray = field(  # MinHash of the body per row (neardup.py)
        default_factory=lambda: neardup.stack([])
    )
    arrow_path: str | None = None  # the rows as an Arrow IPC file (local engine)
    # with the incremental cache on:
    cache_key: str | None = None  # the task's note
    file_paths: list[str] = field(default_factory=list)  # per file (the note lists them)
    prints: list[cache.Fingerprint] = field(default_factory=list)  # per file
    outcomes: list[cache.Outcome] = field(default_factory=list)  # per file: row number or reject
    reused: cache.TaskNote | None = None  # every row is the previous export's (no arrow_path)


@dataclass(slots=True)
class Part:
    """One task's rows encoded: one Parquet row group and a CSV fragment, plus their statistics.

    The bytes are in files (parquet_path, csv_path) for the local engine, or inline
    (parquet_bytes, csv_bytes) when they come back from Dask workers on other machines. A part
    taken from the previous export names its row group there and its CSV byte range instead.
    """

    index: int
    rows: int
    nbytes: int  # in-memory Arrow size of the rows (the Hub shard plan counts these)
    stats: PartStats
    parquet_path: str | None = None
    csv_path: str | None = None
    parquet_bytes: bytes | None = None
    csv_bytes: bytes | None = None
    group: int | None = None  # the row group of parquet_path (None: its only one)
    csv_range: tuple[int, int] | None = None  # (offset, length) in csv_path (None: all of it)


def parse_batch(
    root: str, files: list[RawFile], index: int, release: Release | None = None
) -> tuple[Parsed, pa.Table]:
    """Read, parse and validate one task's files → (what the parent needs, the rows)."""
    parsed, table = _parse(root, files, index, None, caching=False, release=release)
    assert table is not None
    return parsed, table


def _parse(
    root: str,
    files: list[RawFile],
    index: int,
    prev: cache.Previous | None,
    *,
    caching: bool,
    release: Release | None = None,
) -> tuple[Parsed, pa.Table | None]:
    """parse_batch, reusing the previous export's rows where a file is unchanged (they were made
    with the same release: the build keeps no previous export made otherwise).

    When every file of the task is unchanged no row is read: the rows are returned as None and
    `parsed.reused` is the task's note (its row group and CSV bytes in the previous export).
    """
    base: Path | str = root if is_url(root) else Path(root)
    parsed = Parsed(index, [], [], [], [])
    note: cache.TaskNote | None = None
    now = cache.now_ns()
    if caching:
        parsed.cache_key = cache.task_key(files)
        parsed.file_paths = [f.path for f in files]
        parsed.prints = [cache.fingerprint(f, now) for f in files]
        if prev is not None:
            note = cache.load_task(prev.cache_dir, prev.export, parsed.cache_key)
    signatures: list[np.ndarray] = []  # per row, like parsed.dedup_keys
    unsigned: list[int] = []  # the rows of `pages`, signed when they are converted
    pages: list[Page] = []  # parsed, not yet converted to Arrow
    new_tables: list[pa.Table] = []

    def convert() -> None:
        """Convert the pages parsed to Arrow rows, with their keys and signatures."""
        bodies = [p.body for p in pages]  # joined once
        new_tables.append(pages_to_table(pages, bodies))
        pages.clear()
        signed = neardup.signatures(bodies)
        keys = dedup_keys(new_tables[-1])
        for at, sig, key in zip(unsigned, signed, keys, strict=True):
            signatures[at] = sig
            parsed.dedup_keys[at] = key
        unsigned.clear()

    kept_at: list[int] = []  # a parsed row's position in the previous row group (-1: dropped)
    at: list[int | None] = [None] * len(files)  # each file's place in the note (None: not in it)
    if note is not None:
        keep = np.ones(len(note.dedup_keys), np.bool_)
        if note.keep is not None:
            keep = np.frombuffer(note.keep, dtype=np.bool_)
        kept_at = np.where(keep, np.cumsum(keep) - 1, -1).tolist()
        where = {path: j for j, path in enumerate(note.paths)}  # pages may have come or gone
        at = [where.get(f.path) for f in files]

    # a file's earlier result holds if the note lists it with the same fingerprint; its row can
    # be taken from the previous export if, besides, the export kept it
    same = [False] * len(files)
    reuse = [False] * len(files)
    if note is not None:
        for i, (j, p) in enumerate(zip(at, parsed.prints, strict=True)):
            if j is not None and p is not None and p == note.prints[j]:
                o = note.outcomes[j]
                same[i] = True
                reuse[i] = not isinstance(o, int) or kept_at[o] >= 0
    if note is not None and files and all(same) and at == list(range(len(note.paths))):
        for f, outcome in zip(files, note.outcomes, strict=True):
            if isinstance(outcome, int):
                parsed.ids.append(f.id)
                parsed.paths.append(f.path)
            else:
                parsed.rejects.append(outcome)
        parsed.dedup_keys = note.dedup_keys
        parsed.signatures = note.signatures
        parsed.outcomes = note.outcomes
        parsed.reused = note
        return parsed, None

    take: list[int] = []  # row order: positions in [previous rows..., new rows...]
    local = not is_url(root)
    n_old = note.rows if note is not None else 0  # new rows come after the previous group's
    took_old = False
    n_new = 0
    ahead = ReadAhead(base, [f for f, r in zip(files, reuse, strict=True) if not r])
    try:
        for i, f in enumerate(files):
            # not stat-ed by the scan (the stat failed): the file opened tells
            unstatted = caching and local and f.changed_ns == 0 and f.problem is None
            if reuse[i]:
                j = at[i]
                assert note is not None
                assert j is not None
                outcome = note.outcomes[j]
                if not isinstance(outcome, int):
                    parsed.outcomes.append(outcome)
                    parsed.rejects.append(outcome)
                    continue
                take.append(kept_at[outcome])
                took_old = True
                parsed.dedup_keys.append(note.dedup_keys[outcome])
                signatures.append(note.signatures[outcome])
            else:
                try:
                    page, seen = process_file(base, f, ahead)
                except Rejected as rej:
                    reject = RejectRow(f.id, f.path, rej.reason, rej.detail)
                    parsed.outcomes.append(reject)
                    parsed.rejects.append(reject)
                    if unstatted:
                        parsed.prints[i] = cache.fingerprint_file(base, f, now)
                    continue
                if caching and seen is not None:  # the file read (the scan's stat may be older)
                    parsed.prints[i] = cache.fingerprint_stat(seen, now)
                take.append(n_old + n_new)
                n_new += 1
                pages.append(page)
                unsigned.append(len(signatures))
                parsed.dedup_keys.append(b"")  # (made with its signature, from the Arrow rows)
                signatures.append(_UNSIGNED)
                if len(pages) >= ROWS_PER_CONVERSION:  # few Python objects alive at once
                    convert()
            parsed.outcomes.append(len(parsed.ids))
            parsed.ids.append(f.id)
            parsed.paths.append(f.path)
    finally:  # (a parse that raises, too: the task's frames may be held a while)
        ahead.close()
    convert()
    parsed.signatures = neardup.stack(signatures)
    new_table = pa.concat_tables(new_tables)
    check_batch(new_table)  # rows from the previous export were checked when it was built
    if release is not None:  # where rows are made: every file written from them agrees
        new_table = release.apply(new_table)
    if took_old:
        assert note is not None
        assert prev is not None
        old = pq.ParquetFile(prev.parquet).read_row_group(note.group)
        table = pa.concat_tables([old, new_table]).take(pa.array(take, pa.int64()))
        check_ascending(table)
        # chunked as a cold parse chunks them (slices: no copy), so the encoded bytes match
        table = pa.Table.from_batches(table.to_batches(ROWS_PER_CONVERSION), table.schema)
    else:
        table = new_table
    return parsed, table


_UNSIGNED = np.zeros(0, np.uint32)  # a new row's place in the signatures, until it is signed


def encode_batch(table: pa.Table, keep: bytes | None, index: int, part_dir: str | None) -> Part:
    """Encode a task's rows, without those keep marks 0, as part-N.parquet and part-N.csv.

    With part_dir None the encoded bytes are returned inside the Part instead.
    """
    # The contract's schema exactly (rows read back from Parquet carry its metadata too). The
    # rows come chunked ROWS_PER_CONVERSION at a time however they were made (Parquet page
    # boundaries follow the input's chunks, and the bytes must not depend on the cache).
    drop = schema.dropped(table.column_names)
    table = pa.Table.from_arrays(table.columns, schema=schema.arrow_schema(drop))
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
    root: str,
    files: list[RawFile],
    part_dir: str,
    index: int,
    prev: cache.Previous | None = None,
    caching: bool = False,
    release: Release | None = None,
) -> Parsed:
    """parse_batch in a local worker: the rows wait in part_dir as part-N.arrow (Arrow IPC)."""
    parsed, table = _parse(root, files, index, prev, caching=caching, release=release)
    if table is None:  # every row is in the previous export, as it was
        return parsed
    parsed.arrow_path = str(Path(part_dir) / f"part-{index:07d}.arrow")
    with pa.OSFile(parsed.arrow_path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    return parsed


def rebuild_task(
    root: str,
    files: list[RawFile],
    keep: bytes | None,
    index: int,
    part_dir: str,
    release: Release | None = None,
) -> Part:
    """Parse and encode a task from its raw files alone (its files are unchanged but its
    duplicates are not, so its rows are needed in a cold build's order and chunks)."""
    _, table = _parse(root, files, index, None, caching=False, release=release)
    assert table is not None
    return encode_batch(table, keep, index, part_dir)


def encode_task(source: str, keep: bytes | None, index: int, part_dir: str) -> Part:
    """encode_batch in a local worker, from the rows parse_task left in part_dir (an Arrow IPC
    file, deleted once read)."""
    with pa.memory_map(source, "r") as mapped:
        table = pa.ipc.open_file(mapped).read_all()
        part = encode_batch(table, keep, index, part_dir)
    Path(source).unlink(missing_ok=True)
    return part
