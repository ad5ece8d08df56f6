"""The export's bytes: a file hashed as it is written, rejects.csv, and the Hub shards.

The rows themselves are encoded by the workers (process.py) and spliced by the assembler
(assemble.py) through a HashedFile; the Hub shards are cut from the finished corpus.parquet's
own bytes (parquet_split.py).
"""

from __future__ import annotations

import errno
import hashlib
import math
import os
import queue
import shutil
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from . import schema
from .digest import remember_digest
from .engine import worker_result
from .parquet_split import write_row_groups
from .process import encode_parquet, escape_csv_cells

#: Hub shard limit, as `push_to_hub(max_shard_size=...)`: in-memory Arrow bytes per shard.
DEFAULT_SHARD_BYTES = 500 * 1000 * 1000


class HashedFile:
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


def empty_parquet(drop: tuple[str, ...] = ()) -> bytes:
    """Return a Parquet file of no rows in the contract's schema, without the dropped columns
    (the spliced footer's model)."""
    sink = pa.BufferOutputStream()
    encode_parquet(schema.arrow_schema(drop).empty_table(), sink)
    return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]


def write_rejects_csv(table: pa.Table, path: Path) -> None:
    """Write rejects.csv (id, path, reason, detail), formula-like cells escaped as in corpus.csv."""
    escaped = pa.table({name: escape_csv_cells(table.column(name)) for name in table.column_names})
    pacsv.write_csv(escaped, path, write_options=pacsv.WriteOptions(quoting_style="needed"))


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
class ShardReuse:
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
    reuse: ShardReuse | None = None,
) -> list[tuple[str, int, int]]:
    """Write the Hub shards from the finished corpus.parquet's own bytes → (name, first row
    group, last + 1) of each.

    Several shards are written side by side by the pool's workers (idle by now), each hashed as
    it is written for the manifest. A shard of the same row groups as one of the previous
    export is that file, linked (a shard's bytes depend on its row groups' bytes alone).
    """
    hf_data.mkdir(parents=True, exist_ok=True)
    plan = shard_plan(group_bytes, shard_bytes)
    names = [shard_name(i, len(plan)) for i in range(len(plan))]
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
        digests = [worker_result(f) for f in futures]
    for (name, _), digest in zip(jobs, digests, strict=True):
        remember_digest(hf_data / name, digest)
    return shards


def write_shard(src: str, dst: str, first: int, last: int) -> str:
    """Write one Hub shard: row groups [first, last) of src → its SHA-256."""
    return write_row_groups(Path(src), Path(dst), first, last)


def shard_name(i: int, n: int) -> str:
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
