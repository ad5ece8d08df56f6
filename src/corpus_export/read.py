"""A raw folder → sorted `RawFile` entries; one entry → its bytes, id and SHA-256."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import CorpusExportError, Reason, Rejected

SUFFIXES = (".txt.gz", ".txt")
#: How a Scan spells a regular path: id + _SUFFIX_BY_CODE[code].
_SUFFIX_BY_CODE = (".txt", ".txt.gz")
#: A page larger than this (after gunzip) is refused rather than read into memory.
MAX_PAGE_BYTES = 256 * 1024 * 1024


class RawFile(NamedTuple):
    """One `*.txt` / `*.txt.gz` entry of the raw tree.

    `path` is relative to the raw folder as the OS spells it (it may hold surrogate escapes);
    `id` is its printable POSIX form without the extension. `problem` is set when the entry was
    already rejected while scanning (a link leading outside raw/, a dangling link...).

    A named tuple: a task's files are made in the parent and sent to a worker, ~1 µs a file
    each way (a frozen dataclass took ~4 to make and ~3 to send).
    """

    id: str
    path: str
    problem: tuple[Reason, str] | None = None
    # its stat when scanned (of the file a link leads to): the incremental cache's fingerprint
    size: int = 0
    changed_ns: int = 0  # status-change time (ctime): any write, chmod, rename or new link
    modified_ns: int = 0  # mtime
    device: int = 0
    inode: int = 0  # (device, inode): which file it is, whatever its name


class Scan:
    """The raw files of a folder, sorted by (id, path), stored column-wise.

    The columns are an Arrow table in memory, or, for a build, an Arrow IPC file in a scratch
    folder read a batch at a time: the build's parent
    process then holds none of the list of a million files, only the batch in use (tasks are
    sliced from it in order). `RawFile`s are made only for the task being sent to a worker.

    Columns: id; suffix, the code of the path's end (a path is almost always id + ".txt" or
    + ".txt.gz"); odd, the path's bytes where it is not (names need not be UTF-8), else null;
    size, changed (ctime, ns; 0: unknown), modified (mtime, ns), device and inode: the stat
    of the file when scanned (of a link's target).
    """

    def __init__(
        self,
        columns: pa.Table | str,
        rows: int,
        problems: dict[int, tuple[Reason, str]],
        ignored: int,
        ignored_names: list[str] | None = None,
    ) -> None:
        self._columns = columns  # a table, or the path of an IPC file of SCAN_BATCH-row batches
        self._rows = rows
        self.problems = problems  # by position; few
        self.ignored = ignored  # other files in the tree, counted in the summary
        self.ignored_names = ignored_names or []  # the first IGNORED_NAMED of them, sorted
        self._source: pa.OSFile | None = None
        self._reader: pa.ipc.RecordBatchFileReader | None = None
        self._held: tuple[int, pa.RecordBatch] | None = None  # the batch read last

    def __getstate__(self) -> dict[str, Any]:  # sent from the scanning process: no open file
        state = self.__dict__.copy()
        state["_source"] = state["_reader"] = state["_held"] = None
        return state

    def __len__(self) -> int:
        return self._rows

    def close(self) -> None:
        """Close the file the list is read from (its folder can then go, on any system)."""
        if self._source is not None:
            self._source.close()
        self._source = self._reader = self._held = None

    def _batch(self, b: int) -> pa.RecordBatch:
        if self._held is not None and self._held[0] == b:
            return self._held[1]
        if isinstance(self._columns, pa.Table):
            batch = self._columns.slice(b * SCAN_BATCH, SCAN_BATCH).combine_chunks()
            batch = batch.to_batches()[0] if batch.num_rows else None
        else:
            if self._reader is None:
                self._source = pa.OSFile(self._columns)
                self._reader = pa.ipc.open_file(self._source)
            batch = self._reader.get_batch(b)
        self._held = (b, batch)
        return batch

    def _range(self, start: int, stop: int) -> pa.Table:
        """The columns of positions [start, stop)."""
        batches = [self._batch(b) for b in range(start // SCAN_BATCH, (stop - 1) // SCAN_BATCH + 1)]
        table = pa.Table.from_batches(batches)
        return table.slice(start - (start // SCAN_BATCH) * SCAN_BATCH, stop - start)

    def slice(self, start: int, stop: int) -> list[RawFile]:
        """Return the files at positions [start, stop) as RawFile records."""
        if stop <= start:
            return []
        table = self._range(start, stop)
        ids = table.column("id").to_pylist()
        suffix = table.column("suffix").to_pylist()
        odd = table.column("odd").to_pylist()
        stats = zip(*(table.column(c).to_pylist() for c in _STAT_COLUMNS), strict=True)
        problems, ends = self.problems, _SUFFIX_BY_CODE
        return [
            RawFile(i, i + ends[x] if name is None else os.fsdecode(name), problems.get(k), *st)
            for k, i, x, name, st in zip(range(start, stop), ids, suffix, odd, stats, strict=True)
        ]

    @property
    def files(self) -> list[RawFile]:
        return self.slice(0, len(self))

    def ids_and_sizes(self) -> Iterator[tuple[str, int]]:
        """Yield each file's id and size in bytes (0 where the scan could not stat it)."""
        for start in range(0, len(self), SCAN_BATCH):
            batch = self._batch(start // SCAN_BATCH)
            yield from zip(
                batch.column("id").to_pylist(), batch.column("size").to_pylist(), strict=True
            )


#: Rows of a Scan's batches (its IPC file's record batches).
SCAN_BATCH = 1 << 16
#: files in raw/ that are not pages: how many are named (the first in sorted order); all counted
IGNORED_NAMED = 1000
#: A Scan's columns of a file's stat, in RawFile's order, and their types.
_STAT_COLUMNS = ("size", "changed", "modified", "device", "inode")
_STAT_TYPES = (np.int64, np.int64, np.int64, np.uint64, np.uint64)
_FLUSH_ROWS = 4096  # entries held as Python objects before they go into Arrow arrays


class _ScanBuilder:
    """Collects entries a folder at a time into Arrow chunks, then sorts them once."""

    def __init__(self) -> None:
        self.ids: list[pa.Array] = []
        self.suffix: list[np.ndarray] = []
        self.odd: dict[int, bytes] = {}  # paths that are not id + suffix, by entry number
        self.stats: list[list[np.ndarray]] = [[] for _ in _STAT_COLUMNS]  # chunks per column
        self.problems: dict[int, tuple[Reason, str]] = {}
        self.count = 0
        self.ignored = 0
        self.ignored_names: list[str] = []
        self._rels: list[str] = []
        self._stats: list[tuple[int, int, int, int, int]] = []

    def ignore(self, rel: str) -> None:
        """Count a file that is not a page; keep the first IGNORED_NAMED names in sorted order
        (the list never holds more than twice that)."""
        self.ignored += 1
        self.ignored_names.append(printable_path(rel))
        if len(self.ignored_names) >= 2 * IGNORED_NAMED:
            self.ignored_names.sort()
            del self.ignored_names[IGNORED_NAMED:]

    def add(
        self,
        rel: str,
        problem: tuple[Reason, str] | None,
        stat: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0),
    ) -> None:
        """Add an entry; stat is (size, ctime, mtime, device, inode), zeros when unknown."""
        if problem is not None:
            self.problems[self.count + len(self._rels)] = problem
        self._rels.append(rel)
        self._stats.append(stat)

    def flush(self) -> None:
        rels = self._rels
        if not rels:
            return
        ids = [page_id(r) for r in rels]
        suffix = np.zeros(len(rels), dtype=np.uint8)
        for k, (i, rel) in enumerate(zip(ids, rels, strict=True)):
            if rel == i + ".txt":
                continue
            if rel == i + ".txt.gz":
                suffix[k] = 1
            else:  # named otherwise (not UTF-8, or escaped in the id): spelled out
                self.odd[self.count + k] = os.fsencode(rel)
        self.ids.append(pa.array(ids, pa.string()))
        self.suffix.append(suffix)
        columns = zip(*self._stats, strict=True)
        for chunks, values, kind in zip(self.stats, columns, _STAT_TYPES, strict=True):
            chunks.append(np.array(values, kind))
        self.count += len(rels)
        self._rels, self._stats = [], []

    def finish(self, into: Path | None = None) -> Scan:
        """Sort the entries by (id, path) → a Scan, in memory or (into) in an IPC file there."""
        self.flush()
        ids = pa.chunked_array(self.ids, pa.string())
        self.ids = []
        suffix = np.concatenate(self.suffix) if self.suffix else np.zeros(0, np.uint8)
        # a path is id + suffix, and ".txt" < ".txt.gz": (id, suffix) orders as (id, path) does,
        # but among odd paths, which are reordered below
        keys = pa.table({"id": ids, "suffix": suffix})
        order = pc.sort_indices(keys, [("id", "ascending"), ("suffix", "ascending")]).to_numpy()
        del keys
        sorted_ids = ids.take(pa.array(order)).combine_chunks()
        del ids
        runs = _runs_of_equal(sorted_ids)
        for a, b in runs if self.odd else []:  # one id, several files: by their paths' bytes
            if any(int(e) in self.odd for e in order[a:b]):
                order = order if order.flags.writeable else order.copy()
                run_id = sorted_ids[a].as_py()
                order[a:b] = sorted(
                    order[a:b].tolist(),
                    key=lambda e: (
                        self.odd.get(e) or os.fsencode(run_id + _SUFFIX_BY_CODE[suffix[e]])
                    ),
                )
        position = np.empty_like(order)
        position[order] = np.arange(len(order))
        odd = {int(position[e]): p for e, p in self.odd.items()}
        problems = {int(position[e]): p for e, p in self.problems.items()}
        odd_column = pa.nulls(len(order), pa.binary())
        if odd:
            spelled: list[bytes | None] = [None] * len(order)
            for k, name in odd.items():
                spelled[k] = name
            odd_column = pa.array(spelled, pa.binary())
        table = pa.table(
            {
                "id": sorted_ids,
                "suffix": suffix[order],
                "odd": odd_column,
                **{
                    name: _joined(chunks, kind)[order]
                    for name, chunks, kind in zip(
                        _STAT_COLUMNS, self.stats, _STAT_TYPES, strict=True
                    )
                },
            }
        )
        self.suffix, self.stats = [], []
        _mark_duplicate_ids(table, runs, odd, problems)
        ignored = sorted(self.ignored_names)[:IGNORED_NAMED]
        if into is None:
            return Scan(table, self.count, problems, self.ignored, ignored)
        with pa.OSFile(str(into), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table, max_chunksize=SCAN_BATCH)
        return Scan(str(into), self.count, problems, self.ignored, ignored)


def _joined(chunks: list[np.ndarray], kind: type) -> np.ndarray:
    return np.concatenate(chunks) if chunks else np.zeros(0, kind)


def _runs_of_equal(ids: pa.Array) -> list[tuple[int, int]]:
    """The [a, b) ranges of sorted ids where two or more are equal."""
    n = len(ids)
    if n < 2:
        return []
    same = pc.equal(ids.slice(1), ids.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    runs: list[tuple[int, int]] = []
    for k in (int(x) + 1 for x in np.flatnonzero(same)):  # ids[k] == ids[k - 1]
        if runs and runs[-1][1] == k:
            runs[-1] = (runs[-1][0], k + 1)
        else:
            runs.append((k - 1, k + 1))
    return runs


def _mark_duplicate_ids(
    table: pa.Table,
    runs: list[tuple[int, int]],
    odd: dict[int, bytes],
    problems: dict[int, tuple[Reason, str]],
) -> None:
    """Reject every file whose id an earlier file (in sorted path order) already has."""
    for a, b in runs:
        first = printable_path(_path_at(table, odd, a))
        for k in range(a + 1, b):
            if k in problems:
                continue
            problems[k] = (
                Reason.DUPLICATE,
                f"same id as {first!r}, which comes first in sorted path order "
                f"(this file: {printable_path(_path_at(table, odd, k))!r})",
            )


def _path_at(table: pa.Table, odd: dict[int, bytes], k: int) -> str:
    if k in odd:
        return os.fsdecode(odd[k])
    name: str = table.column("id")[k].as_py()
    return name + _SUFFIX_BY_CODE[table.column("suffix")[k].as_py()]


def page_id(relpath: str) -> str:
    """Return the id of a raw file: POSIX relative path without its .txt / .txt.gz extension.

    Only the one extension goes (`a.txt.txt` → `a.txt`). A name that is only the extension
    (`.txt`) keeps it, its dot written %2E, so no id is empty. Bytes that are not UTF-8
    (surrogate escapes), characters that are not printable (controls such as a newline or tab,
    format and bidi controls such as U+202E, line and paragraph separators, spaces other than
    the ASCII one: whatever str.isprintable() refuses), a backslash and the % sign itself
    become %XX, one per UTF-8 byte, so an id is printable, has no backslash, and no two names
    share one: undoing every %XX gives back the name's bytes.
    """
    if (
        relpath.isascii()
        and relpath.isprintable()
        and "\\" not in relpath
        and "%" not in relpath
        and os.sep == "/"
    ):
        if relpath.endswith(".txt") and len(relpath) > 4 and relpath[-5] != "/":
            return relpath[:-4]
        if relpath.endswith(".txt.gz") and len(relpath) > 7 and relpath[-8] != "/":
            return relpath[:-7]
    posix = relpath.replace(os.sep, "/") if os.sep != "/" else relpath
    for suffix in SUFFIXES:
        if posix.endswith(suffix):
            stem = _escape_id(posix[: -len(suffix)])
            return stem if stem and not stem.endswith("/") else f"{stem}%2E{suffix[1:]}"
    return _escape_id(posix)


def _escape_id(text: str) -> str:
    try:
        text.encode("utf-8")
        if "\\" not in text and "%" not in text and text.isprintable():
            return text
    except UnicodeEncodeError:
        pass
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: one undecodable byte of the name
            out.append(f"%{code - 0xDC00:02X}")
        elif 0xD800 <= code <= 0xDFFF:  # a lone surrogate (only from a non-POSIX caller)
            out.append(f"%u{code:04X}")
        elif ch in "\\%" or not ch.isprintable():  # % too, so that no two names share an id
            out.append("".join(f"%{b:02X}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    return "".join(out)


def is_raw_name(name: str) -> bool:
    return name.endswith(SUFFIXES)


def scan_raw(raw_dir: Path, into: Path | None = None) -> Scan:
    """List every *.txt / *.txt.gz under raw_dir, recursively, sorted by (id, path), with
    their sizes (tasks are cut by bytes too) and change times (the cache's fingerprints); the
    list is kept in memory, or in an Arrow IPC file `into` (see Scan)."""
    return scan_share(raw_dir, [("", True)]).finish(into)


#: A part of a scan: a folder relative to the raw folder, and whether its subfolders are in it
#: (else only the entries that are not folders: its subfolders are parts of their own).
ScanPart = tuple[str, bool]
#: A folder is split into parts only if listing it shows fewer entries than this.
_SPLIT_ENTRIES = 4096
#: At most so many folders are listed to split a scan.
_SPLIT_LISTINGS = 64


def split_scan(raw_dir: Path, shares: int) -> list[list[ScanPart]]:
    """Split the scan of raw_dir into at most `shares` lists of parts, for processes that scan
    side by side (scan_share, then merge_scans). Together the parts hold every entry once.

    Folders are split breadth first, from raw_dir down, until there are a few whole
    subtrees per share; a folder is listed here only to find its subfolders, and a large one
    (a flat raw/ of a million pages) is not split. Whatever goes wrong listing one is left to
    the scan of its part to report.
    """
    _scan_root(raw_dir)
    whole = [""]  # subtrees, in the order found
    parts: list[ScanPart] = []
    listings = 0
    k = 0
    while shares > 1 and k < len(whole) and len(whole) < 4 * shares:
        if listings >= _SPLIT_LISTINGS:
            break
        listings += 1
        folder = whole[k]
        subfolders = _subfolders(raw_dir, folder)
        if not subfolders:
            k += 1  # a leaf, or not split: scanned whole
            continue
        del whole[k]
        parts.append((folder, False))
        whole.extend(subfolders)
    parts.extend((folder, True) for folder in whole)
    lists: list[list[ScanPart]] = [[] for _ in range(max(1, min(shares, len(parts))))]
    for n, part in enumerate(sorted(parts, key=lambda p: not p[1])):  # whole subtrees first
        lists[n % len(lists)].append(part)
    return lists


def _subfolders(raw_dir: Path, folder: str) -> list[str]:
    """The subfolders of a small folder as the scan sees them (no link followed); [] if it has
    none, is large or cannot be listed."""
    found: list[str] = []
    prefix = f"{folder}/" if folder else ""
    try:
        with os.scandir(raw_dir / folder if folder else raw_dir) as entries:
            for n, entry in enumerate(entries):
                if n >= _SPLIT_ENTRIES:
                    return []
                if entry.is_dir(follow_symlinks=False):
                    found.append(prefix + entry.name)
    except OSError:
        return []
    return found


def _scan_root(raw_dir: Path) -> Path:
    if not raw_dir.exists():
        raise CorpusExportError(f"raw folder {str(raw_dir)!r} does not exist")
    if not raw_dir.is_dir():
        raise CorpusExportError(f"raw folder {str(raw_dir)!r} is not a folder")
    return raw_dir.resolve()


def scan_share(raw_dir: Path, parts: list[ScanPart]) -> _ScanBuilder:
    """The entries of these parts of raw_dir (see split_scan), unsorted: merge_scans, then
    finish() sorts them."""
    root = _scan_root(raw_dir)
    found = _ScanBuilder()
    for start, deep in parts:
        stack = [start]
        while stack:
            rel_dir = stack.pop()
            try:
                entries = os.scandir(root / rel_dir if rel_dir else root)
            except OSError as exc:
                reason = exc.strerror or exc.__class__.__name__
                if not rel_dir:
                    raise CorpusExportError(
                        f"cannot list raw folder {str(raw_dir)!r}: {reason}"
                    ) from None
                # its pages cannot even be named: the folder is the reject, so none goes
                # unnoticed
                found.add(f"{rel_dir}/", (Reason.UNREADABLE, f"{_UNLISTABLE}: {reason}"))
                continue
            prefix = f"{rel_dir}/" if rel_dir else ""
            with entries:  # one entry at a time: a folder of a million pages is never a list
                for entry in entries:
                    name = entry.name
                    if entry.is_dir(follow_symlinks=False):
                        if deep:
                            stack.append(prefix + name)
                        continue
                    if not is_raw_name(name):
                        outside = _folder_link_outside(root, entry)
                        if outside is not None:
                            found.add(f"{prefix}{name}/", outside)
                        else:
                            found.ignore(prefix + name)
                        continue
                    problem = link_problem(root, entry.path) if entry.is_symlink() else None
                    if problem is None:
                        try:
                            st = entry.stat()  # of the file a link leads to
                            found.add(prefix + name, None, file_stat(st))
                        except OSError:
                            found.add(prefix + name, None)  # read_raw will name the problem
                    else:
                        found.add(prefix + name, problem)
                    if len(found._rels) >= _FLUSH_ROWS:
                        found.flush()
    found.flush()
    return found


def merge_scans(shares: list[_ScanBuilder]) -> _ScanBuilder:
    """One builder holding the entries of all these (each flushed)."""
    merged = _ScanBuilder()
    for share in shares:
        share.flush()
        base = merged.count
        merged.ids += share.ids
        merged.suffix += share.suffix
        merged.odd.update({base + k: name for k, name in share.odd.items()})
        merged.problems.update({base + k: p for k, p in share.problems.items()})
        for mine, theirs in zip(merged.stats, share.stats, strict=True):
            mine += theirs
        merged.count += share.count
        merged.ignored += share.ignored
        # each share keeps at least its first IGNORED_NAMED names: so do these
        merged.ignored_names = sorted(merged.ignored_names + share.ignored_names)[:IGNORED_NAMED]
    return merged


def listed_file(root: Path, rel: str, problem: tuple[Reason, str] | None = None) -> RawFile:
    """Return the RawFile of one file under root as a scan lists it (its stat, a link's
    target's), for reading it alone."""
    try:
        return RawFile(page_id(rel), rel, problem, *file_stat((root / rel).stat()))
    except (OSError, ValueError):
        return RawFile(page_id(rel), rel, problem)  # read_raw tells why


def printable_path(path: str) -> str:
    """A raw path as text: bytes of a name that are not UTF-8 written \\xNN, characters that
    are not printable (a newline, U+202E...) as Python writes them in a string (\\n, \\u202e)."""
    text = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def link_problem(root: Path, path: str | Path) -> tuple[Reason, str] | None:
    """The reject of a link named as a page under the (resolved) raw folder root that a build
    does not follow: dangling, looping, out of raw/ or not to a file; None if it is not one."""
    if not Path(path).is_symlink():
        return None
    target = _link_target(path)
    if isinstance(target, BaseException):
        return (Reason.UNREADABLE, f"symlink cannot be followed: {_link_failure(target)}")
    if not target.is_relative_to(root):
        return (Reason.OUTSIDE_RAW, "symlink resolves outside the raw folder; not followed")
    if not target.is_file():
        return (Reason.UNREADABLE, "symlink to something that is not a regular file")
    return None


_UNLISTABLE = "a folder that cannot be listed; the pages in it are not in the export"


def _folder_link_outside(root: Path, entry: os.DirEntry[str]) -> tuple[Reason, str] | None:
    """The reject of a link to a folder outside the raw folder (its pages would otherwise be
    missed without a word), or None: not such a link. A link to a folder inside raw/ is passed
    over: its pages are read where they are."""
    if not entry.is_symlink():
        return None
    target = _link_target(entry.path)  # dangling or looping: nothing to read either way
    if isinstance(target, BaseException) or not target.is_dir() or target.is_relative_to(root):
        return None
    return (
        Reason.OUTSIDE_RAW,
        "a link to a folder outside the raw folder; not followed, so the pages in it are not in"
        " the export",
    )


def _link_target(path: str | Path) -> Path | BaseException:
    """Where a link leads, or why it cannot be followed (dangling, a loop of links…)."""
    try:
        return Path(path).resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # RuntimeError: symlink loop on older Pythons
        return exc


def _link_failure(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "it points to nothing (dangling)"
    if isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP:
        return "it is part of a loop of links"
    return getattr(exc, "strerror", None) or exc.__class__.__name__


def is_url(location: str | Path) -> bool:
    """Tell whether a raw location is an fsspec URL (s3://, gs://, hf://, file://...)."""
    return isinstance(location, str) and "://" in location


def _url_fs(url: str) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError:
        raise CorpusExportError(
            f"reading {url!r} needs fsspec: in a clone of corpus-export, pip install '.[dask]'"
        ) from None
    try:
        return fsspec.core.url_to_fs(url)  # type: ignore[no-any-return]
    except (ImportError, ValueError) as exc:
        raise CorpusExportError(f"cannot open {url!r}: {exc}") from None


def scan_url(url: str, into: Path | None = None) -> Scan:
    """List every *.txt / *.txt.gz under an fsspec URL, like scan_raw does for a folder."""
    fs, root = _url_fs(url)
    root = root.rstrip("/")
    try:
        if not fs.isdir(root):
            raise CorpusExportError(f"raw folder {url!r} does not exist or is not a folder")
        found = fs.find(root, detail=True)
    except OSError as exc:
        raise CorpusExportError(f"cannot list {url!r}: {exc}") from None
    scan = _ScanBuilder()
    for path, info in found.items():
        rel = path[len(root) + 1 :] if path.startswith(root + "/") else path
        if not is_raw_name(rel.rsplit("/", 1)[-1]):
            scan.ignore(rel)
            continue
        mtime = info.get("mtime") or info.get("LastModified") or info.get("updated") or 0
        mtime_ns = (
            int(mtime.timestamp() * 1e9)
            if hasattr(mtime, "timestamp")
            else int(float(mtime) * 1e9)
            if isinstance(mtime, int | float)
            else 0
        )
        kind = info.get("type", "file")
        problem = None if kind == "file" else (Reason.UNREADABLE, f"not a regular file ({kind})")
        scan.add(rel, problem, (int(info.get("size") or 0), mtime_ns, mtime_ns, 0, 0))
        if len(scan._rels) >= _FLUSH_ROWS:
            scan.flush()
    return scan.finish(into)


def file_stat(st: os.stat_result) -> tuple[int, int, int, int, int]:
    """(size, ctime ns, mtime ns, device, inode) of a stat, as a Scan and RawFile hold them."""
    return (st.st_size, st.st_ctime_ns, st.st_mtime_ns, st.st_dev, st.st_ino)


class RawRead(NamedTuple):
    """One raw file as read: its page bytes (gunzipped if .gz), the SHA-256 and size of the file's
    bytes, and file_stat of the file opened, taken before it was read (None where that is not
    known)."""

    data: bytes
    sha256: str
    size: int
    stat: tuple[int, int, int, int, int] | None


class ReadAhead:
    """Reads a task's files, and asks the kernel for all the rest at once when reads wait on
    the disk (posix_fadvise WILLNEED).

    Files not in the page cache (a first build of freshly scraped pages, a corpus bigger than
    the cache) are otherwise read one request at a time while the parser waits: with the rest
    of the task asked for, the disk serves them side by side and the parser finds them read.
    Files already in the cache cost nothing more than a clock read: the advice, ~4 µs a file,
    is given only once two reads in a row have taken longer than a cached one can (SLOW_NS).
    One alone may be a read the scheduler paused: on a busy machine (a build's two workers and
    its parent on two cores) that happened early in nearly every task, and the whole task was
    advised for nothing.
    """

    SLOW_NS = 500_000

    def __init__(self, root: Path | str, files: list[RawFile]) -> None:
        # the raw folder, open while the files are read (-1: not open): each file is opened
        # beneath it (opening the folder again for every file took as long as the file)
        self.folder = -1
        self.root = root
        self.files = files  # the ones to be read, in order
        self.next = 0
        self.slow = 0  # reads in a row that took longer than SLOW_NS
        url = isinstance(root, str) and is_url(root)
        self.asked = not hasattr(os, "posix_fadvise") or url
        if not url:
            self.folder = _OPENAT2.open_folder(str(root))

    def read(self, f: RawFile) -> RawRead:
        if self.asked:
            return read_raw(self.root, f, self.folder)
        started = time.perf_counter_ns()
        try:
            return read_raw(self.root, f, self.folder)
        finally:
            self.next += 1
            self.slow = self.slow + 1 if time.perf_counter_ns() - started > self.SLOW_NS else 0
            if self.slow == 2:
                self.asked = True
                advise_will_need(self.root, self.files[self.next :])

    def close(self) -> None:
        """Close the raw folder (reading a file after this opens the folder for it)."""
        if self.folder >= 0:
            os.close(self.folder)
            self.folder = -1

    def __del__(self) -> None:
        self.close()


def advise_will_need(root: Path | str, files: list[RawFile]) -> None:
    """Tell the kernel these local files are to be read soon, so it starts reading them all."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    for f in files:
        if f.problem is not None:
            continue
        try:
            fd = os.open(os.path.join(root, f.path), flags)  # noqa: PTH118
        except OSError:  # read_raw tells why
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
        except OSError:  # not a regular file: read_raw says so
            pass
        finally:
            os.close(fd)


def read_raw(root: Path | str, f: RawFile, folder: int = -1) -> RawRead:
    """Read one raw file; Rejected if it cannot be read or is too large. `folder`: root opened
    by the caller (_OPENAT2.open_folder), or -1.

    No byte comes from outside raw/, even if raw/ changes while the build runs (the scan
    checked the links, but a page may be replaced by a link out of raw/ after it): see
    _open_in_raw.
    """
    if f.problem is not None:
        raise Rejected(*f.problem)
    if isinstance(root, str) and is_url(root):
        fs, base = _url_fs(root)
        try:
            data = fs.cat_file(f"{base.rstrip('/')}/{f.path}")
        except OSError as exc:
            raise Rejected(Reason.UNREADABLE, f"{exc.__class__.__name__}: {exc}") from None
        return _finish_read(data, f, None)
    try:
        fd = _open_in_raw(str(root), f.path, folder)
    except OSError as exc:
        if exc.errno in _LINK_ERRORS:  # a link where there was none a moment ago
            raise Rejected(Reason.UNREADABLE, _REPLACED) from None
        raise Rejected(Reason.UNREADABLE, f"{exc.strerror or exc.__class__.__name__}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Rejected(Reason.UNREADABLE, "not a regular file")
        # Ask for the size fstat gave (+1 to see growth): asking for the cap would allocate and
        # map 256 MB for every page, which costs more than reading it.
        want = min(st.st_size, MAX_PAGE_BYTES) + 1 if st.st_size else MAX_PAGE_BYTES + 1
        data = _read_up_to(fd, want)
        if len(data) == want and want <= MAX_PAGE_BYTES:  # it grew since fstat
            data += _read_up_to(fd, MAX_PAGE_BYTES + 1 - want)
    except OSError as exc:
        raise Rejected(Reason.UNREADABLE, f"{exc.strerror or exc.__class__.__name__}") from None
    finally:
        os.close(fd)
    return _finish_read(data, f, file_stat(st))


_REPLACED = "became a link while the build ran; not read: build again"
_LEFT_RAW = "a link that leads outside the raw folder (changed while the build ran); not followed"
#: errno of opening a link with O_NOFOLLOW (ELOOP; FreeBSD: EMLINK)
_LINK_ERRORS = {errno.ELOOP, errno.EMLINK}
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_FOLDER_FLAGS = (
    os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0) | _CLOEXEC
)
#: Can files be opened a path component at a time, no link followed (POSIX)?
_BENEATH = (
    os.open in os.supports_dir_fd and hasattr(os, "O_NOFOLLOW") and hasattr(os, "O_DIRECTORY")
)


def _read_up_to(fd: int, n: int) -> bytes:
    """Read n bytes from fd, or fewer at its end (os.read: no file object per page)."""
    data = os.read(fd, n)
    if not data or len(data) == n:
        return data
    parts = [data]
    got = len(data)
    while got < n:
        block = os.read(fd, n - got)
        if not block:
            break
        parts.append(block)
        got += len(block)
    return b"".join(parts)


def _open_in_raw(root: str, rel: str, folder: int = -1) -> int:
    """Open root/rel for reading, following no link out of root, whatever changed since the scan.

    On Linux the kernel resolves the whole path beneath root in one call (openat2 with
    RESOLVE_BENEATH: no component, link or `..` may lead out of root). Where that call is
    missing or refuses the path (a link to an absolute path, say), the path is opened one
    component at a time from root, each with O_NOFOLLOW, so what is opened is under root. A
    link on the way (a page linked to another inside raw/, which the scan accepted) is resolved
    as it is now, and followed only if it leads inside root (then opened the same way): else
    Rejected, outside_raw. O_NONBLOCK: opening a FIFO must not wait for a writer; the caller's
    fstat tells what it is. Where the system has no O_NOFOLLOW or dir_fd, the path is opened as
    it is. `folder`: root already open (or -1).
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | _CLOEXEC
    if not _BENEATH:
        return os.open(os.path.join(root, rel), flags)  # noqa: PTH118
    if _OPENAT2.usable:
        fd = _OPENAT2.open(root, rel, flags, folder)
        if fd >= 0:
            return fd
    try:
        return _open_beneath(root, rel, flags)
    except OSError as exc:
        if exc.errno not in _LINK_ERRORS:
            raise
    real_root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(root, rel))  # noqa: PTH118
    if os.path.commonpath([real_root, target]) != real_root:
        raise Rejected(Reason.OUTSIDE_RAW, _LEFT_RAW)
    return _open_beneath(real_root, os.path.relpath(target, real_root), flags)


class _OpenAt2:
    """Linux's openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, through ctypes (one
    system call a page, instead of one per path component). `usable` turns False for good when
    the system has no such call (older kernels, a sandbox that forbids it)."""

    SYS_OPENAT2 = 437  # the same number on every Linux architecture
    RESOLVE = 0x08 | 0x02  # RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS
    UNSUPPORTED = (errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.E2BIG)

    def __init__(self) -> None:
        self.usable = False
        if not sys.platform.startswith("linux"):
            return
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            call = libc.syscall
        except (OSError, AttributeError):
            return
        call.restype = ctypes.c_long
        # no argtypes: every argument is passed as a ctypes object (or bytes: a char *), which
        # is cheaper than argtypes converting each one

        class OpenHow(ctypes.Structure):
            _fields_ = [
                ("flags", ctypes.c_uint64),
                ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64),
            ]

        self._ctypes = ctypes
        self._call = call
        self._number = ctypes.c_long(self.SYS_OPENAT2)
        self._size = ctypes.c_size_t(ctypes.sizeof(OpenHow))
        self._how: dict[int, Any] = {}  # flags → a pointer to its struct open_how
        self._how_type = OpenHow
        self.usable = True

    def open_folder(self, root: str) -> int:
        """Open root for open's `folder` (the caller closes it); -1 where open will not use it."""
        if not (self.usable and _BENEATH):
            return -1
        try:
            return os.open(root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
        except OSError:
            return -1

    def open(self, root: str, rel: str, flags: int, folder: int = -1) -> int:
        """Return a descriptor of rel beneath root (`folder`, if open_folder opened it, else
        opened here), or -1: the caller opens it another way (and so reports any error as it
        always has)."""
        how = self._how.get(flags)
        if how is None:
            how = self._how[flags] = self._ctypes.pointer(self._how_type(flags, 0, self.RESOLVE))
        opened = folder < 0
        if opened:
            folder = self.open_folder(root)
            if folder < 0:
                return -1
        try:
            fd: int = self._call(
                self._number, self._ctypes.c_long(folder), os.fsencode(rel), how, self._size
            )
        finally:
            if opened:
                os.close(folder)
        if fd < 0 and self._ctypes.get_errno() in self.UNSUPPORTED:
            self.usable = False
        return fd


_OPENAT2 = _OpenAt2()


def _open_beneath(root: str, rel: str, flags: int) -> int:
    """Open rel under root a component at a time, no link followed (OSError ELOOP at one)."""
    folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    try:
        *folders, name = Path(rel).parts
        for part in folders:
            try:
                inner = os.open(part, _FOLDER_FLAGS, dir_fd=folder)
            except NotADirectoryError:  # a link (O_NOFOLLOW), or a file where a folder was
                if stat.S_ISLNK(os.stat(part, dir_fd=folder, follow_symlinks=False).st_mode):
                    raise OSError(errno.ELOOP, "a link on the way") from None
                raise
            os.close(folder)
            folder = inner
        return os.open(name, flags | os.O_NOFOLLOW, dir_fd=folder)
    finally:
        os.close(folder)


def _finish_read(data: bytes, f: RawFile, st: tuple[int, int, int, int, int] | None) -> RawRead:
    if len(data) > MAX_PAGE_BYTES:
        raise Rejected(Reason.UNREADABLE, f"larger than {MAX_PAGE_BYTES >> 20} MiB; not read")
    digest, size = hashlib.sha256(data).hexdigest(), len(data)
    if f.path.endswith(".gz"):
        data = gunzip(data)
    return RawRead(data, digest, size, st)


def gunzip(data: bytes) -> bytes:
    """Decompress a .txt.gz page, every member of it (as `cat a.gz b.gz` makes), to at most
    MAX_PAGE_BYTES in all; a broken gzip or one that expands past that is `undecodable`.

    Zero bytes between or after members are padding, as gzip(1) takes them."""
    out = bytearray()
    rest = data
    try:
        while rest:
            d = zlib.decompressobj(wbits=31)
            out += d.decompress(rest, MAX_PAGE_BYTES + 1 - len(out))  # never more than the cap
            if len(out) > MAX_PAGE_BYTES:
                raise Rejected(
                    Reason.UNDECODABLE,
                    f"gzip expands past {MAX_PAGE_BYTES >> 20} MiB (all its members together);"
                    " not read",
                )
            if not d.eof:
                raise Rejected(Reason.UNDECODABLE, "truncated gzip stream")
            rest = d.unused_data.lstrip(b"\0")
    except zlib.error as exc:
        raise Rejected(Reason.UNDECODABLE, f"not a valid gzip file: {exc}") from None
    return bytes(out)
