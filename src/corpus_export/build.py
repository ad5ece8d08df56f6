"""raw/ → parsed batches (local processes or Dask) → one validated, all-or-nothing export."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import multiprocessing as mp
import os
import re
import shutil
import signal
import sys
import tempfile
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import __version__, cache, schema
from .errors import CorpusExportError, Reason, ValidationError
from .process import (
    Parsed,
    Part,
    PartStats,
    RejectRow,
    Task,
    csv_header_line,
    encode_parquet,
    encode_task,
    parse_task,
    plan_tasks,
    rebuild_task,
    task_files,
)
from .read import RawFile, Scan, is_url, printable_path, scan_raw, scan_url
from .validate import check_order

CORPUS_PARQUET = "corpus.parquet"
CORPUS_CSV = "corpus.csv"
REJECTS_CSV = "rejects.csv"
MANIFEST = "manifest.json"
HF_DIR = "hf"
PART_DIR = ".parts"  # inside the stage: workers' encoded parts until they are spliced
#: Hub shard limit, as `push_to_hub(max_shard_size=...)`: in-memory Arrow bytes per shard.
DEFAULT_SHARD_BYTES = 500 * 1000 * 1000

Progress = Callable[[int], None]
Decide = Callable[[Parsed], bytes | None]  # a parsed task → its keep mask (None: keep all)


class IntDistribution:
    """Non-negative integers (one per row) kept as counts per value, not one by one: the build's
    memory stays flat however many rows there are. Values from HISTOGRAM_LIMIT up are few and
    kept as they come."""

    HISTOGRAM_LIMIT = 1 << 20

    def __init__(self) -> None:
        self.counts = np.zeros(0, dtype=np.int64)
        self.large: list[np.ndarray] = []

    def add(self, values: np.ndarray) -> None:
        small = values < self.HISTOGRAM_LIMIT
        if not small.all():
            self.large.append(values[~small].copy())
            values = values[small]
        if not len(values):
            return
        counts = np.bincount(values)
        if len(counts) > len(self.counts):
            counts[: len(self.counts)] += self.counts
            self.counts = counts
        else:
            self.counts[: len(counts)] += counts

    def summary(self) -> dict[str, float | int]:
        """min, quartiles (NumPy's default, linear interpolation), max, mean and total of the
        values added, from the counts: no array of every value is made ({} if none)."""
        large = np.sort(np.concatenate(self.large)) if self.large else np.zeros(0, np.int64)
        ends = np.cumsum(self.counts)  # ends[v]: how many values are <= v
        small = int(ends[-1]) if len(ends) else 0
        n = small + len(large)
        if not n:
            return {}

        def at(rank: int) -> int:  # the value at this rank of the sorted values
            if rank < small:
                return int(np.searchsorted(ends, rank, side="right"))
            return int(large[rank - small])

        def quantile(q: float) -> float:
            index = q * (n - 1)
            lo = int(index)
            a, b, t = float(at(lo)), float(at(min(lo + 1, n - 1))), index - lo
            return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t  # as NumPy does

        total = int(np.dot(np.arange(len(self.counts), dtype=np.int64), self.counts))
        total += int(large.sum())
        return {
            "min": at(0),
            "p25": quantile(0.25),
            "median": quantile(0.5),
            "p75": quantile(0.75),
            "max": at(n - 1),
            "mean": round(total / n, 1),
            "total": total,
        }


@dataclass(slots=True)
class Stats:
    """Statistics of the accepted rows, built incrementally (a histogram per column)."""

    body_chars: IntDistribution = field(default_factory=IntDistribution)
    paragraph_count: IntDistribution = field(default_factory=IntDistribution)
    teaser_count: IntDistribution = field(default_factory=IntDistribution)
    sources: Counter[str] = field(default_factory=Counter)
    with_author: int = 0
    with_citations: int = 0
    with_source: int = 0
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, part: PartStats) -> None:
        if not len(part.body_chars):
            return
        self.body_chars.add(part.body_chars)
        self.paragraph_count.add(part.paragraph_count)
        self.teaser_count.add(part.teaser_count)
        self.with_author += part.with_author
        self.with_citations += part.with_citations
        self.with_source += part.with_source
        self.sources.update(part.sources)
        if not self.examples:
            self.examples = {k: str(v) for k, v in part.example.items()}

    def summary(self) -> dict[str, Any]:
        """Return the statistics as plain JSON-able values."""

        return {
            "body_chars": self.body_chars.summary(),
            "paragraph_count": self.paragraph_count.summary(),
            "teaser_count": self.teaser_count.summary(),
            "top_sources": sorted(self.sources.items(), key=lambda kv: (-kv[1], kv[0]))[:10],
            "distinct_sources": len(self.sources),
            "with_author": self.with_author,
            "with_citations": self.with_citations,
            "with_source": self.with_source,
        }


@dataclass(slots=True)
class BuildResult:
    """What a build produced: counts, rejects by reason, statistics and the written files."""

    out_dir: Path | str  # a str when it is a URL
    files_seen: int
    rows: int
    rejects_by_reason: dict[str, int]
    ignored_files: int
    stats: dict[str, Any]
    examples: dict[str, str]
    shards: list[str]
    shard_groups: list[tuple[int, int]] = field(default_factory=list)  # row groups of each shard
    arrow_bytes: int = 0  # in-memory Arrow size of the rows, summed as they were written
    shard_bytes: int = DEFAULT_SHARD_BYTES  # the --shard-size the Hub folder was cut with
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # relative path → sha256, bytes
    unchanged: bool = False  # nothing to do: the export in out_dir was already this build's
    sent: Any = None  # remote.Sent, when out_dir is a URL the export was sent to
    warnings: list[str] = field(default_factory=list)  # for the user; the export is written

    @property
    def rejects(self) -> int:
        return sum(self.rejects_by_reason.values())

    def summary(self) -> str:
        """One line: pages seen, rows, rejects by reason."""
        by = ", ".join(f"{n} {r}" for r, n in sorted(self.rejects_by_reason.items()))
        line = f"{self.files_seen} pages: {self.rows} rows, {self.rejects} rejects"
        if by:
            line += f" ({by})"
        if self.ignored_files:
            line += f"; {self.ignored_files} other files ignored"
        return line


class SeenTable:
    """Open-addressing hash table: 64-bit page key → global row position.

    12 bytes a slot, at most three quarters full: ~16 bytes a page, sized once from the number
    of files (the kept pages, the only ones added, are never more).
    """

    def __init__(self, expected: int) -> None:
        size = max(1024, max(expected, 1) * 4 // 3 + 1)
        self.keys = np.zeros(size, dtype=np.uint64)
        self.pos = np.zeros(size, dtype=np.int32 if size <= 2**31 else np.int64)
        self.size = size
        self.count = 0

    def add(self, key: bytes, pos: int) -> int | None:
        """Remember key at pos; return the earlier position if the key was already there."""
        k = int.from_bytes(key[:8], "little") | 1  # 0 marks an empty slot
        size = self.size
        i = k % size
        keys = self.keys
        while True:
            slot = int(keys[i])
            if slot == 0:
                keys[i] = k
                self.pos[i] = pos
                self.count += 1
                if self.count * 4 > size * 3:
                    self._grow()
                return None
            if slot == k:
                return int(self.pos[i])
            i = i + 1 if i + 1 < size else 0

    def _grow(self) -> None:
        old_keys, old_pos = self.keys, self.pos
        self.__init__(2 * len(old_keys))  # type: ignore[misc]
        for k, p in zip(old_keys[old_keys != 0], old_pos[old_keys != 0], strict=True):
            i = int(k) % self.size
            while self.keys[i] != 0:
                i = i + 1 if i + 1 < self.size else 0
            self.keys[i] = k
            self.pos[i] = p
            self.count += 1


class Assembler:
    """Consumes parts in id order; splices their encoded rows into the export, in the stage.

    Workers encode every row: a part is one Parquet row group and a CSV fragment. The parent
    finds duplicates across tasks from their keys before they are encoded (`decide`), checks
    the id order, copies the encoded bytes (hashing them on the way for the manifest) and keeps
    a few numbers per row for the statistics.
    """

    def __init__(
        self,
        stage: Path,
        n_files: int,
        shard_bytes: int,
        incremental: Incremental | None = None,
    ) -> None:
        from .parquet_split import Concat

        self.stage = stage
        self.parquet = _HashedFile(stage / CORPUS_PARQUET)
        self.concat = Concat(self.parquet.write, self.parquet.copy)
        self.csv = _HashedFile(stage / CORPUS_CSV)
        self.csv.write(csv_header_line())
        self.seen = SeenTable(n_files)
        self.rows = 0
        self.planned = 0  # rows kept so far by decide()
        self.last_id: str | None = None
        self.arrow_bytes = 0
        self.rejects: list[RejectRow | tuple[RejectRow, int]] = []
        self.stats = Stats()
        self.shard_bytes = shard_bytes
        self.group_bytes: list[int] = []  # Arrow bytes of each row group written
        self.origins: list[int | None] = []  # per row group: its number in the previous export
        self.incremental = incremental
        self.noting: dict[int, tuple[Parsed, bytes | None]] = {}  # task → its note's makings

    def decide(self, parsed: Parsed) -> bytes | None:
        """Take a parsed task's rejects and find its duplicate rows → the keep mask (None: all).

        A row whose title and body equal an earlier row's (in id order) is a duplicate; the
        first one, the smaller id, is kept. Called in task order, before the task is encoded.
        """
        keep: np.ndarray | None = None
        dup_rejects: list[tuple[RejectRow, int]] = []
        first_kept: str | None = None
        for i, key in enumerate(parsed.dedup_keys):
            earlier = self.seen.add(key, self.planned)
            if earlier is None:
                self.planned += 1
                first_kept = parsed.ids[i] if first_kept is None else first_kept
                continue
            if keep is None:
                keep = np.ones(len(parsed.dedup_keys), dtype=np.bool_)
            keep[i] = False
            dup_rejects.append(
                (RejectRow(parsed.ids[i], parsed.paths[i], Reason.DUPLICATE, ""), earlier)
            )
        if first_kept is not None:
            check_order(self.last_id, first_kept)
            self.last_id = parsed.ids[-1] if keep is None else parsed.ids[np.flatnonzero(keep)[-1]]
        merged: list[RejectRow | tuple[RejectRow, int]] = [*parsed.rejects, *dup_rejects]
        merged.sort(key=lambda r: _reject_key(r))
        self.rejects.extend(merged)
        mask = None if keep is None else keep.tobytes()
        if self.incremental is not None and parsed.cache_key is not None:
            self.noting[parsed.index] = (parsed, mask)
        return mask

    def add(self, part: Part) -> None:
        """Splice an encoded part (one row group, one CSV fragment) after the previous ones."""
        group, csv_at = self.concat.groups.count, self.csv.size
        if part.rows:  # bytes inline (Dask), or files copied a block at a time (flat memory)
            if part.parquet_bytes is not None:
                self.concat.append(part.parquet_bytes)
            else:
                assert part.parquet_path is not None
                self.concat.append(Path(part.parquet_path), part.group)
            if part.csv_bytes is not None:
                self.csv.write(part.csv_bytes)
            else:
                assert part.csv_path is not None
                path = Path(part.csv_path)
                offset, length = part.csv_range or (0, path.stat().st_size)
                self.csv.copy(path, offset, length)
            self.stats.add(part.stats)
            self.rows += part.rows
            self.arrow_bytes += part.nbytes
            self.group_bytes.append(part.nbytes)
            self.origins.append(part.group)  # only a reused part names a group
        for p in (part.parquet_path, part.csv_path):
            if p is not None and Path(p).parent == self.stage / PART_DIR:  # not the cache's
                Path(p).unlink(missing_ok=True)
        noting = self.noting.pop(part.index, None)
        if noting is not None and self.incremental is not None:
            parsed, keep = noting
            assert parsed.cache_key is not None
            note = cache.TaskNote(
                export=self.incremental.export,
                paths=parsed.file_paths,
                prints=parsed.prints,
                outcomes=parsed.outcomes,
                dedup_keys=parsed.dedup_keys,
                keep=keep,
                group=group if part.rows else -1,
                csv=(csv_at, self.csv.size - csv_at),
                rows=part.rows,
                nbytes=part.nbytes,
                stats=part.stats,
            )
            self.incremental.notes.add(parsed.cache_key, note)

    def finish(
        self, pool: ProcessPoolExecutor | None = None
    ) -> tuple[int, dict[str, int], dict[str, Any], dict[str, str], list[tuple[str, int, int]]]:
        # The footer's template comes from a worker, which has pyarrow.compute loaded already
        # (in this process, the first use of it costs ~40 MB, so it waits for the workers' end).
        template = _worker_result(pool.submit(empty_parquet)) if pool else empty_parquet()
        self.concat.close(template)
        self.parquet.close()
        self.csv.close()
        previous = self.incremental.previous if self.incremental else None
        shards = write_hf_shards(
            self.stage / CORPUS_PARQUET,
            self.stage / HF_DIR / "data",
            self.group_bytes,
            self.shard_bytes,
            pool,
            reuse=_ShardReuse(self.origins, previous.shards) if previous else None,
        )
        if pool is not None:
            pool.shutdown(wait=True)  # idle now: their memory goes before the rejects and card
        by_reason = self._write_rejects()
        return self.rows, by_reason, self.stats.summary(), self.stats.examples, shards

    def _write_rejects(self) -> dict[str, int]:
        kept_ids: pa.ChunkedArray | None = None
        if any(isinstance(r, tuple) for r in self.rejects):
            # ParquetFile, not read_table: that one loads pyarrow.dataset (and pandas), ~0.25 s
            kept_ids = pq.ParquetFile(self.stage / CORPUS_PARQUET).read(columns=["id"]).column("id")
        rows: list[RejectRow] = []
        for r in self.rejects:
            if isinstance(r, tuple):
                rej, pos = r
                assert kept_ids is not None
                kept = kept_ids[pos].as_py()
                r = RejectRow(
                    rej.id,
                    rej.path,
                    rej.reason,
                    f"same title and body as {kept!r} (kept: the smaller id)",
                )
            rows.append(r)
        table = pa.table(
            {
                "id": pa.array([r.id for r in rows], pa.string()),
                # the file's own name (an id can stand for .txt or .txt.gz), printable
                "path": pa.array([printable_path(r.path) for r in rows], pa.string()),
                "reason": pa.array([str(r.reason) for r in rows], pa.string()),
                "detail": pa.array([r.detail for r in rows], pa.string()),
            }
        )
        write_rejects_csv(table, self.stage / REJECTS_CSV)
        return dict(sorted(Counter(str(r.reason) for r in rows).items()))

    def abort(self) -> None:
        for f in (self.parquet, self.csv):
            with contextlib.suppress(OSError):  # the build's own error is the one to tell
                f.close()


class _HashedFile:
    """A file written front to back whose SHA-256 is computed as it is written.

    Byte ranges of other files are copied by the kernel (copy_file_range: no trip through this
    process), and the hashing runs in a thread of its own (hashlib lets go of the GIL on large
    blocks), reading copied ranges back from the file being written, where they are in the page
    cache. So copying, hashing and the other file's hashing overlap: in a rebuild that splices
    mostly reused bytes, they are most of the parent's work.
    """

    QUEUED = 16  # writes waiting to be hashed (of up to 1 MB each, or ranges): bounded memory
    BLOCK = 1 << 20

    def __init__(self, path: Path) -> None:
        import hashlib
        import queue
        import threading

        self.path = path
        self.fh = path.open("wb", buffering=0)  # unbuffered: copies go where writes left off
        self.hash = hashlib.sha256()
        self.size = 0
        self._kernel_copy = hasattr(os, "copy_file_range")
        self._todo: queue.Queue[bytes | memoryview | tuple[int, int] | None] = queue.Queue(
            self.QUEUED
        )
        self._error: BaseException | None = None
        self._source: tuple[Path, int] | None = None  # the file copies last came from
        self._hasher = threading.Thread(target=self._hash_all, daemon=True)
        self._hasher.start()

    def _hash_all(self) -> None:
        back = None
        while (item := self._todo.get()) is not None:  # drained to the end, whatever happens
            if self._error is not None:
                continue
            try:
                if not isinstance(item, tuple):
                    self.hash.update(item)
                    continue
                back = back or self.path.open("rb", buffering=0)
                self._hash_range(back.fileno(), *item)  # copied into this file: read it back
            except BaseException as exc:  # told at close(); the writer must never wait on us
                self._error = exc
        if back is not None:
            back.close()

    def _hash_range(self, fd: int, offset: int, length: int) -> None:
        while length > 0:
            block = os.pread(fd, min(length, self.BLOCK), offset)
            if not block:
                raise OSError(errno.EIO, "the file is shorter than written", str(self.path))
            self.hash.update(block)
            offset += len(block)
            length -= len(block)

    def write(self, data: bytes | memoryview) -> None:
        self._write_all(data)
        self._todo.put(data)  # the caller never changes a block it has written
        self.size += len(data)

    def _write_all(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:  # a raw file may take less than asked
            view = view[self.fh.write(view) :]

    def copy(self, source: Path, offset: int, length: int) -> None:
        """Append length bytes of source from offset."""
        at = self.size
        src = self._open_source(source)
        done = 0
        if self._kernel_copy:
            try:
                while done < length:
                    n = os.copy_file_range(src, self.fh.fileno(), length - done, offset + done)
                    if not n:
                        break
                    done += n
            except OSError as exc:  # not between these file systems: copy by hand
                if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                self._kernel_copy = False
        while done < length:
            block = os.pread(src, min(length - done, self.BLOCK), offset + done)
            if not block:
                raise OSError(errno.EIO, "the file ends before the bytes to copy", str(source))
            self._write_all(block)
            done += len(block)
        self._todo.put((at, length))
        self.size += length

    def _open_source(self, source: Path) -> int:
        """Return a descriptor of source, kept open while copies come from the same file (a
        rebuild copies from the previous export's two files, range after range)."""
        if self._source is not None and self._source[0] == source:
            return self._source[1]
        self._close_source()
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._source = (source, fd)
        return fd

    def _close_source(self) -> None:
        if self._source is not None:
            os.close(self._source[1])
            self._source = None

    def close(self) -> None:
        if self.fh.closed:
            return
        try:
            self._close_source()
            self.fh.close()
        finally:  # the hasher ends whatever happens
            self._todo.put(None)
            self._hasher.join()
        if self._error is not None:
            raise self._error
        remember_digest(self.path, self.hash.hexdigest())


def empty_parquet() -> bytes:
    """Return a Parquet file of no rows in the contract's schema (the spliced footer's model)."""
    sink = pa.BufferOutputStream()
    encode_parquet(schema.arrow_schema().empty_table(), sink)
    return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]


def write_rejects_csv(table: pa.Table, path: Path) -> None:
    """Write rejects.csv (id, path, reason, detail), formula-like cells escaped as in corpus.csv."""
    import pyarrow.csv as pacsv

    from .process import escape_csv_cells

    escaped = pa.table({name: escape_csv_cells(table.column(name)) for name in table.column_names})
    pacsv.write_csv(escaped, path, write_options=pacsv.WriteOptions(quoting_style="needed"))


def _reject_key(r: RejectRow | tuple[RejectRow, int]) -> tuple[str, str]:
    rej = r[0] if isinstance(r, tuple) else r
    return (rej.id, rej.path)


def shard_plan(group_bytes: list[int], shard_bytes: int) -> list[tuple[int, int]]:
    """Split row groups into contiguous shards of about shard_bytes (Arrow bytes) each.

    Returns [first, last) row-group ranges; like push_to_hub, the count is total / limit rounded
    up, and a row group goes to the shard its middle byte falls in (empty shards are dropped).
    """
    total = sum(group_bytes)
    if not group_bytes or shard_bytes <= 0 or total <= shard_bytes:
        return [(0, len(group_bytes))]
    n = math.ceil(total / shard_bytes)
    sizes = np.asarray(group_bytes, dtype=np.int64)
    starts = np.cumsum(sizes) - sizes
    shard_of = (2 * starts + sizes) * n // (2 * total)
    return [
        (int(np.searchsorted(shard_of, s, "left")), int(np.searchsorted(shard_of, s, "right")))
        for s in np.unique(shard_of)
    ]


@dataclass(slots=True)
class _ShardReuse:
    """Where this build's row groups were in the previous export, and that export's shards."""

    origins: list[int | None]  # per row group: its number in the previous export, if copied
    previous: dict[tuple[int, int], tuple[str, str]]  # (first, last) → (path, SHA-256)

    def find(self, first: int, last: int) -> tuple[str, str] | None:
        """Return (path, SHA-256) of a previous shard of the same row groups, in order."""
        start = self.origins[first]
        if start is None:
            return None
        if self.origins[first:last] != list(range(start, start + last - first)):
            return None
        return self.previous.get((start, start + last - first))


def write_hf_shards(
    corpus: Path,
    hf_data: Path,
    group_bytes: list[int],
    shard_bytes: int,
    pool: ProcessPoolExecutor | None = None,
    reuse: _ShardReuse | None = None,
) -> list[tuple[str, int, int]]:
    """Write the Hub shards from the finished corpus.parquet's own bytes → (name, first row
    group, last + 1) of each.

    Several shards are written side by side by the pool's workers (idle by now), each hashed as
    it is written for the manifest. A shard of the same row groups as one of the previous
    export is that file, linked (a shard's bytes depend on its row groups' bytes alone).
    """
    hf_data.mkdir(parents=True, exist_ok=True)
    plan = shard_plan(group_bytes, shard_bytes)
    names = [_shard_name(i, len(plan)) for i in range(len(plan))]
    shards = [(name, a, b) for name, (a, b) in zip(names, plan, strict=True)]
    if len(plan) == 1:
        _link_or_copy(corpus, hf_data / names[0])  # one shard: the very same file
        return shards
    jobs = []
    for name, a, b in shards:
        found = reuse.find(a, b) if reuse else None
        if found is not None and _link(Path(found[0]), hf_data / name):
            remember_digest(hf_data / name, found[1])
        else:
            jobs.append((name, (str(corpus), str(hf_data / name), a, b)))
    if pool is None:
        digests = [write_shard(*job) for _, job in jobs]
    else:
        futures = [pool.submit(write_shard, *job) for _, job in jobs]
        digests = [_worker_result(f) for f in futures]
    for (name, _), digest in zip(jobs, digests, strict=True):
        remember_digest(hf_data / name, digest)
    return shards


def write_shard(src: str, dst: str, first: int, last: int) -> str:
    """Write one Hub shard: row groups [first, last) of src → its SHA-256."""
    from .parquet_split import write_row_groups

    return write_row_groups(Path(src), Path(dst), first, last)


def _shard_name(i: int, n: int) -> str:
    return f"train-{i:05d}-of-{n:05d}.parquet"


def _link_or_copy(src: Path, dst: Path) -> None:
    if not _link(src, dst):
        shutil.copyfile(src, dst)


def _link(src: Path, dst: Path) -> bool:
    try:
        os.link(src, dst)
    except OSError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# engines: produce Parts in id order


def _init_worker() -> None:
    # Ctrl-C is the parent's to handle: it stops the pool and cleans up in one place.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pyarrow_without_pandas()


class _NoPandas:
    """An import hook under which `import pandas` fails."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def pyarrow_without_pandas() -> None:
    """Tell this process's pyarrow that pandas is not installed (for processes that never
    convert to pandas: the workers, and the command line's build).

    pyarrow imports pandas the first time it converts a Python list, to ask whether it is a
    pandas object: 0.15 s and ~48 MB in each worker, which never holds one. pyarrow tries that
    import once; it is made to fail here, once (pandas itself stays importable). Skipped if
    pandas is already loaded or pyarrow's internals are not as expected.
    """
    shim = getattr(pa.lib, "_pandas_api", None)
    if "pandas" in sys.modules or shim is None:
        return
    hook = _NoPandas()
    sys.meta_path.insert(0, hook)  # type: ignore[arg-type]
    try:
        shim.have_pandas  # noqa: B018 (the one attempt, which now fails)
        pa.array(["x"])  # and the converter's own, in Arrow's C++ (for pd.NA and NaT)
    except Exception:  # an internal API: never let it break a build
        pass
    finally:
        sys.meta_path.remove(hook)  # type: ignore[arg-type]


def start_pool(workers: int) -> ProcessPoolExecutor | None:
    """Start `workers` worker processes now (None for one: parse in this process).

    Called before the raw folder is scanned, so the forked workers do not inherit (and, once
    their garbage collector touches it, copy) the parent's list of every file. Fork where there
    is one: no re-import of __main__ in the workers, so the library works from a notebook,
    stdin or an unguarded script.
    """
    if workers <= 1:
        return None
    method = "fork" if "fork" in mp.get_all_start_methods() else None
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context(method), initializer=_init_worker)
    pool.submit(int).result()  # with fork, every worker starts on the first task
    return pool


def run_local(
    root: Path | str,
    tasks: Iterable[list[RawFile]],
    part_dir: Path,
    pool: ProcessPoolExecutor | None,
    progress: Progress,
    decide: Decide,
    incremental: Incremental | None = None,
) -> Generator[Part, None, None]:
    """Yield the encoded Parts of all tasks in order, made by the pool's workers (or in-process).

    Each task goes through a worker twice: parse (rows wait in part_dir as Arrow IPC), then,
    once `decide` has marked its duplicates in task order, encode. Both stages stay in flight
    together, so the workers never wait for the parent. With `incremental`, a task whose files
    and duplicates are unchanged is not encoded: its part is the previous export's.
    """
    base, parts = str(root), str(part_dir)
    prev = incremental.previous if incremental else None
    caching = incremental is not None

    def next_stage(
        parsed: Parsed, files: list[RawFile]
    ) -> tuple[Part | None, Any, tuple[Any, ...]]:
        """Decide a parsed task's duplicates → (its part if reused as is, else how to make it)."""
        keep = decide(parsed)
        note = parsed.reused
        if note is None:
            assert parsed.arrow_path
            return None, encode_task, (parsed.arrow_path, keep, parsed.index, parts)
        assert prev is not None
        if keep == note.keep:  # same files, same duplicates: the previous bytes as they are
            reused = Part(parsed.index, note.rows, note.nbytes, note.stats, prev.parquet, prev.csv)
            reused.group = note.group if note.rows else None
            reused.csv_range = note.csv
            return reused, None, ()
        # its duplicates changed (rare): parse it again, as a cold build would
        return None, rebuild_task, (base, files, keep, parsed.index, parts)

    if pool is None:
        for i, task in enumerate(tasks):
            parsed = parse_task(base, task, parts, i, prev, caching)
            part, make, args = next_stage(parsed, task)
            progress(len(task))
            yield part if part is not None else make(*args)
        return
    workers = len(getattr(pool, "_processes", None) or {}) or 2
    try:
        parsing: deque[tuple[list[RawFile], Future[Parsed]]] = deque()
        encoding: deque[Future[Part]] = deque()
        todo = iter(enumerate(tasks))

        def submit_next() -> None:
            for i, task in todo:
                future = pool.submit(parse_task, base, task, parts, i, prev, caching)
                parsing.append((task, future))
                return

        for _ in range(2 * workers + 1):
            submit_next()
        while parsing or encoding:
            if encoding and (encoding[0].done() or not parsing or len(encoding) > workers):
                yield _worker_result(encoding.popleft())
                continue
            task, future = parsing.popleft()
            part, make, args = next_stage(_worker_result(future), task)
            if part is not None:
                done: Future[Part] = Future()
                done.set_result(part)
                encoding.append(done)
            else:
                encoding.append(pool.submit(make, *args))
            submit_next()
            progress(len(task))
    except BaseException:  # failed or interrupted: stop now (else the caller does, when done)
        _stop_pool(pool)
        raise


@dataclass(slots=True)
class Incremental:
    """The incremental cache of one build: where it is, and the previous export if usable."""

    cache_dir: Path
    previous: cache.Previous | None
    export: str = field(default_factory=cache.new_export_id)  # this build's export id
    notes: cache.NoteWriter = field(init=False)  # this build's task notes

    def __post_init__(self) -> None:
        self.notes = cache.NoteWriter(self.cache_dir, self.export)


def _worker_result(future: Future[Any]) -> Any:
    try:
        return future.result()
    except BrokenProcessPool:
        raise CorpusExportError(
            "a worker process died (out of memory, or killed?); no export written. "
            "Try --workers 1 to see the failing page."
        ) from None


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now: cancel queued tasks and end the running ones."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public handle
    results = getattr(pool, "_result_queue", None)  # shutdown() drops it
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    for proc in processes:
        proc.join(timeout=5)
    # A worker ended while sending a result leaves half a message in the result pipe, and the
    # pool's manager thread waits for the rest forever (so would interpreter exit, joining it).
    # With every worker gone, closing this process's write end turns that wait into an EOF,
    # which the thread handles as a broken pool and exits.
    writer = getattr(results, "_writer", None)
    if writer is not None and not any(proc.is_alive() for proc in processes):
        writer.close()


# ---------------------------------------------------------------------------------------------
# the build


def build(
    raw_dir: Path | str = "raw",
    out_dir: Path | str = "dist",
    *,
    card_path: Path | str | None = None,
    workers: int | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    cache_dir: Path | str | None = None,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> BuildResult:
    """Parse raw_dir, validate every row and write every export to out_dir, all or nothing.

    The export is written into a temporary folder beside out_dir and swapped in only when every
    file is complete; CARD.md (default: beside out_dir) is replaced in the same step. With a
    cache_dir (local engine), rows of unchanged raw files are taken from the previous export
    instead of parsed again (see cache.py).
    """
    raw: Path | str = raw_dir if is_url(raw_dir) else Path(raw_dir)
    if engine not in ("local", "dask"):
        raise CorpusExportError(f"unknown engine {engine!r}: use 'local' or 'dask'")
    if scheduler and engine != "dask":
        raise CorpusExportError("--scheduler names a Dask cluster: it needs --engine dask")
    if scheduler and workers:
        raise CorpusExportError(
            "--workers sets the local worker processes, or a LocalCluster's (--engine dask "
            "without --scheduler); a cluster at --scheduler has the workers it has"
        )
    options: dict[str, Any] = {
        "workers": workers,
        "engine": engine,
        "scheduler": scheduler,
        "shard_bytes": shard_bytes,
        "cache_dir": cache_dir,
        "progress": progress,
        "on_total": on_total,
    }
    if isinstance(out_dir, str) and is_url(out_dir):
        local_out = _file_url_path(out_dir)
        if local_out is None:
            return _build_for_url(raw, out_dir, card_path, **options)
        out_dir = local_out
    if isinstance(card_path, str) and is_url(card_path):
        card_path = _file_url_path(card_path) or card_path
    if isinstance(card_path, str) and is_url(card_path):
        raise CorpusExportError(f"the card {card_path!r} may be a URL only when --out is one")
    out_dir = Path(out_dir)
    card = Path(card_path) if card_path is not None else out_dir.parent / "CARD.md"
    check_places(raw, out_dir, card, cache_dir if engine == "local" else None)
    # `--out .` has no name to put the stage beside; a link to a folder (on a bigger disk, say)
    # stays a link: the folder it names is the one replaced
    out_dir = out_dir.resolve() if out_dir.is_symlink() else out_dir.absolute()
    with _only_build_into(out_dir):
        return _build_local(raw, out_dir, card, **options)


@contextlib.contextmanager
def _only_build_into(out_dir: Path) -> Generator[None, None, None]:
    """Refuse to build into an out folder another build on this machine is writing.

    Two builds into one folder would both say they wrote it, and one export would silently
    replace the other (or a build would take another's swap for a dead one's). The lock is an
    flock on a file in the system's temp folder named by the out folder's path; it goes with
    the process, however that ends, and the file with the build that made it.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    key = hashlib.sha256(os.fsencode(str(out_dir))).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"{_SCRATCH}out-{key}.lock"
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError:  # no temp folder to lock in: the build's own checks will tell
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CorpusExportError(
                f"another corpus-export build is writing {str(out_dir)!r}; wait for it to end, "
                "or build into another folder"
            ) from None
        except OSError:  # a file system without locks
            os.close(fd)
            yield
            return
        try:  # still the file of that name? (its last holder removes it before letting go)
            if path.stat().st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def _build_local(
    raw: Path | str,
    out_dir: Path,
    card: Path,
    *,
    workers: int | None,
    engine: str,
    scheduler: str | None,
    shard_bytes: int,
    cache_dir: Path | str | None,
    progress: Callable[[int], None] | None,
    on_total: Callable[[int], None] | None,
) -> BuildResult:
    """build(), once the places are checked and the out folder is this build's alone."""
    recover_interrupted_swap(out_dir)
    # pyarrow's default allocator keeps freed memory for reuse: ~100 MB more at peak here.
    # The system allocator gives it back; the forked workers inherit the choice.
    arrow_pool = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    pool = start_pool(workers or os.cpu_count() or 1) if engine == "local" else None
    scratch: Path | None = None
    scan: Scan | None = None
    held = contextlib.ExitStack()  # Ctrl-C, from the swap on
    try:
        incremental = None
        source = str(raw) if isinstance(raw, str) else str(raw.resolve())
        if cache_dir is not None and engine == "local":
            names = (CORPUS_PARQUET, CORPUS_CSV)
            incremental = Incremental(
                Path(cache_dir), cache.previous_export(Path(cache_dir), out_dir, names, source)
            )
        # the sorted list of files waits on disk, in the system's temp folder, read as it is used
        scratch = _make_scratch()
        listing = scratch / "files.arrow"
        scan = scan_url(raw, listing) if isinstance(raw, str) else scan_apart(raw, listing)
        if not len(scan):
            raise CorpusExportError(
                f"no *.txt or *.txt.gz files under {str(raw)!r}"
                + (f" ({scan.ignored} other files ignored)" if scan.ignored else "")
            )
        if on_total:
            on_total(len(scan))
        tasks = plan_tasks(scan)
        if incremental is not None:
            # everything else the export shows: other files counted in the summary and card
            settings = cache.build_digest(shard_bytes, card.name, scan.ignored)
            if incremental.previous is not None:
                done = _unchanged(
                    scan, tasks, out_dir, source, card, incremental.cache_dir, settings
                )
                if done is not None:
                    return done
        stage = _make_stage(out_dir)
        try:
            result = _build_into(
                stage,
                raw,
                scan,
                tasks,
                pool=pool,
                engine=engine,
                scheduler=scheduler,
                shard_bytes=shard_bytes,
                incremental=incremental,
                progress=progress or (lambda n: None),
                workers=workers,
            )
            card_text = _publish(stage, result)
            write_manifest(stage, result)
            noted = False
            if incremental is not None:
                cache.forget_export(incremental.cache_dir)
                noted = incremental.notes.close()
            held.enter_context(_interrupts_held())
            _swap_in(stage, out_dir, card, card_text)
            if incremental is not None and noted:
                cache.store_export(
                    incremental.cache_dir,
                    incremental.export,
                    out_dir,
                    source,
                    card,
                    len(incremental.notes.index),
                    settings,
                    [
                        (a, b, name, result.files[f"{HF_DIR}/data/{name}"]["sha256"])
                        for name, (a, b) in zip(result.shards, result.shard_groups, strict=True)
                    ],
                )
            if incremental is not None:
                cache.prune(incremental.cache_dir, incremental.export if noted else "")
            if incremental is not None and incremental.notes.error is not None:
                result.warnings.append(
                    f"the cache folder {str(incremental.cache_dir)!r} cannot be written "
                    f"({incremental.notes.error}): the next build parses every page again"
                )
            if not result.rows:
                result.warnings.append(
                    f"every page was rejected: the export has no rows (see {REJECTS_CSV})"
                )
        except BaseException as exc:
            shutil.rmtree(stage, ignore_errors=True)
            if incremental is not None:
                incremental.notes.abort()
            if isinstance(exc, OSError):  # disk full, read-only or vanished folder...
                where = f" ({exc.filename})" if exc.filename else ""
                raise CorpusExportError(
                    f"writing the export failed: {exc.strerror or exc}{where}; "
                    f"the previous {out_dir}/ is untouched"
                ) from exc
            raise
    finally:
        if pool is not None:
            _stop_pool(pool)
        if scan is not None:
            scan.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        pa.set_memory_pool(arrow_pool)
        held.close()
    result.out_dir = out_dir
    return result


@contextlib.contextmanager
def _interrupts_held() -> Generator[None, None, None]:
    """Hold Ctrl-C (SIGINT) back: from the swap on, the new export replaces the previous one,
    and the build has succeeded; a Ctrl-C then must neither cut the swap in half nor make the
    build look failed (exit 130, "the previous export is untouched"). Only the main thread
    can set a handler; in another one, this holds nothing."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _build_for_url(
    raw: Path | str,
    url: str,
    card_path: Path | str | None,
    cache_dir: Path | str | None = None,
    **options: Any,
) -> BuildResult:
    """Build into a local folder, then send the export to url (see remote.py).

    The card goes beside the out folder there (or to card_path, a path or URL). With a
    cache_dir, the local folder is a copy of the export kept in it (one per URL), built
    incrementally like any other; else a temporary folder, built cold.
    """
    from . import remote

    if url.startswith("hf://"):
        raise CorpusExportError(
            "--out hf://… would make a commit per file; push the Hub folder in one commit with "
            "`corpus-export push REPO_ID` instead"
        )
    if isinstance(raw, str) and remote.urls_overlap(raw, url):
        raise CorpusExportError(
            f"the out folder {url!r} and the raw folder {raw!r} overlap; keep them apart"
        )
    card_url: str | None = None
    if card_path is None:
        card_url = remote.card_beside(url)
        if card_url is None:
            raise CorpusExportError(
                f"the out folder {url!r} has no folder above it for CARD.md; say where the card "
                "goes (--card, or card_path)"
            )
    elif isinstance(card_path, str) and is_url(card_path):
        card_url = card_path
    if card_url is not None:
        if remote.urls_overlap(card_url, url):
            raise CorpusExportError(
                f"the card {card_url!r} is inside the out folder {url!r}; write it beside it"
            )
        if isinstance(raw, str) and remote.urls_overlap(card_url, raw):
            raise CorpusExportError(f"the card {card_url!r} is inside the raw folder {raw!r}")
        problem = remote.card_problem(card_url)
        if problem is not None:
            raise CorpusExportError(f"the card {card_url!r} {problem}; it is left untouched")
    else:
        assert card_path is not None
        check_card(Path(card_path), raw)
    remote.check_destination(url)
    if (
        cache_dir is not None
        and isinstance(raw, Path)
        and Path(cache_dir).absolute().resolve().is_relative_to(raw.resolve())
    ):
        raise CorpusExportError(
            f"the cache folder {str(cache_dir)!r} is inside the raw folder {str(raw)!r}: run "
            "from another folder, or pass --cache-dir or --no-cache"
        )
    with contextlib.ExitStack() as stack:
        if cache_dir is None:
            here = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="corpus-export-")))
        else:  # the copy sent last time: rebuilt incrementally, then only what changed is sent
            cache.claim(Path(cache_dir))  # the cache's folder alone, before anything goes in
            here = Path(cache_dir) / "sent" / hashlib.sha256(url.encode()).hexdigest()[:16]
            here.mkdir(parents=True, exist_ok=True)
        local, local_card = here / "dist", here / "CARD.md"
        result = build(raw, local, card_path=local_card, cache_dir=cache_dir, **options)
        result.sent = remote.send_export(local, local_card, url, card_url)
        if card_url is None and local_card.exists():  # a local card for a remote export
            assert card_path is not None
            card = Path(card_path)
            spare = card.with_name(f".{card.name}.tmp-{os.getpid()}")
            try:
                shutil.copyfile(local_card, spare)
                spare.replace(card)
            except OSError as exc:
                spare.unlink(missing_ok=True)
                raise CorpusExportError(
                    f"the export was sent, but the card {str(card)!r} could not be written: "
                    f"{exc.strerror or exc}"
                ) from None
    result.out_dir = url
    return result


def check_places(
    raw: Path | str, out_dir: Path, card: Path, cache_dir: Path | str | None = None
) -> None:
    """Refuse an out folder whose replacement would take other files with it.

    Every build replaces the out folder whole, so it must not be or hold the raw folder (nor
    sit inside it), must not hold the card or the cache, and must be new, empty or an earlier
    export. The cache must not be inside the raw folder either (its files would be counted).
    """
    out = out_dir.resolve()
    local = raw if isinstance(raw, Path) else _file_url_path(raw)
    src = local.resolve() if local is not None else None
    if src is not None and (out == src or src.is_relative_to(out) or out.is_relative_to(src)):
        raise CorpusExportError(
            f"the out folder {str(out_dir)!r} and the raw folder {str(raw)!r} overlap; "
            "a build replaces the out folder whole, so keep them apart (e.g. raw/ and dist/)"
        )
    if cache_dir is not None:
        at = Path(cache_dir).absolute().resolve()
        for folder, what in ((out, "out folder"), (src, "raw folder")):
            if folder is not None and at.is_relative_to(folder):
                named = out_dir if folder == out else raw
                raise CorpusExportError(
                    f"the cache folder {str(cache_dir)!r} is inside the {what} {str(named)!r}; "
                    "keep the cache apart (the default is .cache/corpus-export/ beside the out "
                    "folder), or pass --no-cache"
                )
    # the card may be a link into the out folder: the swap replaces the link, not its target
    card_at = card.absolute().parent.resolve() / card.name
    if card_at.is_relative_to(out):
        raise CorpusExportError(
            f"the card {str(card)!r} is inside the out folder {str(out_dir)!r}, which a build "
            "replaces whole; write it beside the out folder (the default) or elsewhere"
        )
    check_card(card, raw)
    if out.is_dir() and any(out.iterdir()) and not is_export(out):
        raise CorpusExportError(
            f"the out folder {str(out_dir)!r} is not empty and holds no corpus-export export "
            "(no manifest.json of ours); a build replaces the out folder whole, so it is left "
            "untouched: choose a new or empty folder"
        )


def _file_url_path(url: str) -> Path | None:
    """Return the local path of a file:// URL (None for any other URL)."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    if parsed.netloc not in ("", "localhost") or not parsed.path:
        raise CorpusExportError(
            f"{url!r} is not a file URL of an absolute path: write file:///abs/path, or a plain "
            "path (relative paths are fine without file://)"
        )
    return Path(unquote(parsed.path))


def is_card(path: Path) -> bool:
    """Tell whether a file is a dataset card written by corpus-export (so a build may replace
    it)."""
    try:
        with path.open("rb") as fh:
            return looks_like_card(fh.read(1 << 20).decode("utf-8", "replace"))
    except OSError:
        return False


def looks_like_card(text: str) -> bool:
    """Tell whether text opens a card of ours: YAML front matter, and the card's own line naming
    the version that wrote it."""
    return text.startswith("---\n") and "corpus-export (version" in text


def check_card(card: Path, raw: Path | str) -> None:
    """Refuse a local card path whose writing would lose something (see check_places)."""
    local = raw if isinstance(raw, Path) else _file_url_path(raw)
    card_at = card.absolute().parent.resolve() / card.name
    if local is not None and card_at.is_relative_to(local.resolve()):
        raise CorpusExportError(
            f"the card {str(card)!r} is inside the raw folder {str(raw)!r}; write it elsewhere "
            "(the default is CARD.md beside the out folder)"
        )
    if card.is_dir():
        raise CorpusExportError(f"the card {str(card)!r} is a folder; give a file path")
    if card.exists() and not is_card(card):
        raise CorpusExportError(
            f"the card {str(card)!r} exists and was not written by corpus-export; it is left "
            "untouched: move it, or choose another path with --card"
        )


def is_export(folder: Path) -> bool:
    """Tell whether a folder holds an export written by corpus-export (its manifest says so)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and str(manifest.get("generator", "")).startswith(
        "corpus-export"
    )


def scan_apart(raw: Path, into: Path) -> Scan:
    """scan_raw in a short-lived forked process, where there is fork.

    The sorted list goes to the Arrow IPC file `into`, which the parent reads a batch at a
    time: it holds neither the list nor what making it left behind (a million files'
    temporary Python strings cost ~130 MB at the scan's peak, and left ~40 MB of fragmented
    heap for the rest of the build). Costs a fork.
    """
    if "fork" not in mp.get_all_start_methods():
        return scan_raw(raw, into)
    ex = ProcessPoolExecutor(1, mp_context=mp.get_context("fork"), initializer=_init_worker)
    try:
        return ex.submit(scan_raw, raw, into).result()
    except BrokenProcessPool:
        raise CorpusExportError(
            f"the process listing {str(raw)!r} died (out of memory, or killed?); nothing written"
        ) from None
    finally:
        _stop_pool(ex)


def _unchanged(
    scan: Scan,
    tasks: list[Task],
    out_dir: Path,
    source: str,
    card: Path,
    cache_dir: Path,
    settings: str,
) -> BuildResult | None:
    """Return the result of the export in out_dir if building again would write it byte for
    byte (nothing changed in raw/, the export, the card, the settings or the code), else None."""
    now = cache.now_ns()
    notes = (  # one task's file records at a time
        (cache.task_key(files), [f.path for f in files], [cache.fingerprint(f, now) for f in files])
        for files in (task_files(scan, t) for t in tasks)
    )
    if not cache.unchanged_export(cache_dir, out_dir, source, card, settings, notes, len(tasks)):
        return None
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        counts = manifest["counts"]
        return BuildResult(
            out_dir=out_dir,
            files_seen=counts["files_seen"],
            rows=counts["rows"],
            rejects_by_reason=manifest["rejects_by_reason"],
            ignored_files=counts["ignored_files"],
            stats={},
            examples={},
            shards=manifest["hf_shards"],
            shard_bytes=manifest["settings"]["shard_bytes"],
            files=manifest["files"],
            unchanged=True,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _build_into(
    stage: Path,
    raw_dir: Path | str,
    scan: Scan,
    tasks: list[Task],
    *,
    pool: ProcessPoolExecutor | None,
    engine: str,
    scheduler: str | None,
    shard_bytes: int,
    incremental: Incremental | None,
    progress: Progress,
    workers: int | None = None,
) -> BuildResult:
    root = raw_dir if isinstance(raw_dir, str) else raw_dir.resolve()
    materialised = (task_files(scan, t) for t in tasks)  # one task's records at a time
    part_dir = stage / PART_DIR
    part_dir.mkdir()
    asm = Assembler(stage, len(scan), shard_bytes, incremental)
    parts: Generator[Part, None, None]
    try:
        if engine == "dask":
            from .distributed import run_dask

            parts = run_dask(
                root,
                materialised,
                scheduler=scheduler,
                progress=progress,
                decide=asm.decide,
                workers=workers,
            )
        else:
            parts = run_local(root, materialised, part_dir, pool, progress, asm.decide, incremental)
        try:
            for part in parts:
                asm.add(part)
        finally:
            parts.close()  # stop the worker pool or cluster now, not at interpreter exit
        rows, by_reason, stats, examples, shards = asm.finish(pool if engine == "local" else None)
    except BaseException:
        asm.abort()
        raise
    shutil.rmtree(part_dir)
    if rows + sum(by_reason.values()) != len(scan):
        raise ValidationError(
            f"lost pages (a bug in corpus_export): {len(scan)} files seen but {rows} rows + "
            f"{sum(by_reason.values())} rejects"
        )
    return BuildResult(
        out_dir=stage,
        files_seen=len(scan),
        rows=rows,
        rejects_by_reason=by_reason,
        ignored_files=scan.ignored,
        stats=stats,
        examples=examples,
        shards=[name for name, _, _ in shards],
        shard_groups=[(a, b) for _, a, b in shards],
        arrow_bytes=asm.arrow_bytes,
        shard_bytes=shard_bytes,
    )


def _publish(stage: Path, result: BuildResult) -> str | None:
    """Write the card, the Hub folder's README and the metadata files; return the card text."""
    try:
        from .publish import write_publication
    except ImportError:
        return None
    return write_publication(stage, result)


def write_manifest(stage: Path, result: BuildResult) -> None:
    """Write manifest.json: counts, rejects by reason, schema, version, every file's SHA-256."""
    files = {rel: info for rel, info in sorted(file_digests(stage).items()) if rel != MANIFEST}
    result.files = files
    manifest = {
        "name": "corpus_export",
        "generator": f"corpus-export {__version__}",
        "counts": {
            "files_seen": result.files_seen,
            "rows": result.rows,
            "rejects": result.rejects,
            "ignored_files": result.ignored_files,
        },
        "rejects_by_reason": result.rejects_by_reason,
        "schema": [
            {"name": f.name, "type": schema.type_name(f), "nullable": f.nullable}
            for f in schema.FIELDS
        ],
        "hf_shards": result.shards,
        "settings": {"shard_bytes": result.shard_bytes},
        "files": files,
    }
    (stage / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )


_DIGESTS: dict[tuple[int, int, int, int], str] = {}


def _stat_key(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def remember_digest(path: Path, digest: str) -> None:
    """Record the SHA-256 of a file just written (hashed on the way), so it is not read again."""
    if len(_DIGESTS) > 10_000:
        _DIGESTS.clear()
    _DIGESTS[_stat_key(path)] = digest


def sha256_file(path: Path) -> tuple[str, int]:
    """Return (SHA-256 hex, size) of a file; a file (or hard link) is read once per build."""
    import hashlib

    key = _stat_key(path)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        remember_digest(path, h.hexdigest())
    return _DIGESTS[key], key[2]


def file_digests(folder: Path, rels: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Return {relative POSIX path: {sha256, bytes}} of the given (default: all) files."""
    if rels is None:
        rels = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    out: dict[str, dict[str, Any]] = {}
    for rel in rels:
        digest, size = sha256_file(folder / rel)
        out[rel] = {"sha256": digest, "bytes": size}
    return out


# ---------------------------------------------------------------------------------------------
# all-or-nothing: stage beside out_dir, then swap


def _make_stage(out_dir: Path) -> Path:
    parent = out_dir.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f"{out_dir.name}.tmp-{os.getpid()}-", dir=parent))
        umask = os.umask(0o022)
        os.umask(umask)
        stage.chmod(0o777 & ~umask)  # mkdtemp makes 0700; the export is an ordinary folder
        return stage
    except OSError as exc:
        raise CorpusExportError(
            f"cannot write beside the out folder {str(out_dir)!r}: {exc.strerror or exc}"
        ) from None


def _swap_in(stage: Path, out_dir: Path, card: Path, card_text: str | None) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise CorpusExportError(f"out folder {str(out_dir)!r} exists and is not a folder")
    card_tmp: Path | None = None
    if card_text is not None:
        card_tmp = card.with_name(f".{card.name}.tmp-{os.getpid()}")
        try:
            card_tmp.write_text(card_text, encoding="utf-8")
        except OSError as exc:
            raise CorpusExportError(f"cannot write {str(card)!r}: {exc.strerror}") from None
    old = out_dir.with_name(f"{out_dir.name}.old-{os.getpid()}")
    swapped = False
    try:
        if out_dir.exists():
            out_dir.rename(old)
        stage.rename(out_dir)
        swapped = True
        if card_tmp is not None:
            card_tmp.replace(card)
    except OSError as exc:
        if card_tmp is not None:
            card_tmp.unlink(missing_ok=True)
        if swapped:  # the card could not be replaced: the new export goes back to its stage
            out_dir.rename(stage)
        if old.exists() and not out_dir.exists():
            old.rename(out_dir)
        what = card if swapped else out_dir
        raise CorpusExportError(f"cannot replace {str(what)!r}: {exc.strerror}") from None
    shutil.rmtree(old, ignore_errors=True)


def recover_interrupted_swap(out_dir: Path) -> None:
    """Put back the previous export if a build died between its two renames; drop stale stages.

    Only folders named exactly as a build names them (`<out>.old-<pid>`, `<out>.tmp-<pid>-<8>`)
    whose process is gone are touched, so a user's own `dist.old-backup` is left alone.
    """
    parent = out_dir.absolute().parent
    if not parent.is_dir():
        return
    name = re.escape(out_dir.name)
    old_re = re.compile(rf"{name}\.old-(\d+)")
    tmp_re = re.compile(rf"{name}\.tmp-(\d+)-[A-Za-z0-9_]{{8}}")
    olds = sorted(_leftovers(parent, old_re))
    stages = _leftovers(parent, tmp_re)
    if olds and not out_dir.exists() and (olds[-1] / MANIFEST).is_file():
        olds[-1].rename(out_dir)
        olds = olds[:-1]
    for leftover in [*olds, *stages]:
        shutil.rmtree(leftover, ignore_errors=True)


def _leftovers(folder: Path, pattern: re.Pattern[str]) -> list[Path]:
    """The folders in folder named by pattern (its group 1: the pid of the build that made
    them) whose build is gone: real folders only, never a link."""
    found = []
    for entry in folder.iterdir():
        m = pattern.fullmatch(entry.name)
        if m and entry.is_dir() and not entry.is_symlink() and not _alive(int(m.group(1))):
            found.append(entry)
    return found


def _alive(pid: int) -> bool:
    """Tell whether another process with this pid is running (our own pid: not a leftover)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


_SCRATCH = "corpus-export-"


def _make_scratch() -> Path:
    """Make a folder in the system's temp folder (TMPDIR) for the build's file list, after
    removing those that builds killed before their end left there."""
    temp = Path(tempfile.gettempdir())
    # not this process's own (_alive says our pid is gone): another thread may be building
    left = re.compile(rf"{_SCRATCH}(?!{os.getpid()}-)(\d+)-[A-Za-z0-9_]{{8}}")
    try:
        for leftover in _leftovers(temp, left):
            shutil.rmtree(leftover, ignore_errors=True)
    except OSError:
        pass  # an unlistable temp folder: nothing swept
    try:
        return Path(tempfile.mkdtemp(prefix=f"{_SCRATCH}{os.getpid()}-"))
    except OSError as exc:
        raise CorpusExportError(
            f"cannot write in the temp folder {str(temp)!r} (set TMPDIR): {exc.strerror or exc}"
        ) from None
