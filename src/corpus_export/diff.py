"""Two exports (folders or fsspec URLs) → what changed: rows added, removed and changed (with
the fields that changed) and rejects whose reason changed, appeared or disappeared.

Both corpus.parquet files are sorted by id (every build writes them so), and so is rejects.csv:
the two sides are merged a batch at a time, never loaded, so memory stays flat however many rows
the exports hold. Two row groups stored alike (the same bytes, column chunk by column chunk, and
the same schema) hold the same rows and are passed over undecoded: a rebuild after a few edits
keeps almost all of them. In the others, every field of every row present on both sides is
compared (vectorised with pyarrow.compute), not only the raw file's `sha256`: the same page
parsed by another version of the parser may give another row.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import CorpusExportError
from .layout import CORPUS_PARQUET, MANIFEST, REJECTS_CSV, TOOL, is_our_manifest

#: Rows per batch read from each corpus.parquet (a row group, ~1,000 rows, is read at a time).
BATCH_ROWS = 256
#: Bytes compared at a time when two row groups are checked for equal bytes.
_BLOCK = 1 << 20

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
#: The sign of removals in the summary line (U+2212, as + and ~ stand for added and changed).
MINUS = "\u2212"


@dataclass(frozen=True, slots=True)
class RowChange:
    """A row of corpus.parquet added, removed or changed (then `fields` names what changed)."""

    id: str
    change: str  # ADDED, REMOVED or CHANGED
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RejectChange:
    """A file of rejects.csv whose reason changed, or that was rejected on one side only."""

    id: str
    path: str
    old_reason: str | None  # None: not rejected in the old export
    new_reason: str | None  # None: not rejected in the new export

    @property
    def change(self) -> str:
        if self.old_reason is None:
            return ADDED
        return REMOVED if self.new_reason is None else CHANGED


@dataclass(slots=True)
class Summary:
    """Counts of what changed: rows by kind, changed rows by field, rejects by (old, new) reason."""

    added: int = 0
    removed: int = 0
    changed: int = 0
    fields: Counter[str] = field(default_factory=Counter)
    rejects: Counter[tuple[str | None, str | None]] = field(default_factory=Counter)
    field_order: tuple[str, ...] = ()  # the columns compared, in the tables' order

    @property
    def equal(self) -> bool:
        return not (self.added or self.removed or self.changed or self.rejects)

    def add_row(self, change: RowChange) -> None:
        if change.change == ADDED:
            self.added += 1
        elif change.change == REMOVED:
            self.removed += 1
        else:
            self.changed += 1
            self.fields.update(change.fields)

    def add_reject(self, change: RejectChange) -> None:
        self.rejects[(change.old_reason, change.new_reason)] += 1

    def line(self) -> str:
        """One line: `+A added, -R removed, ~C changed (title 3, body 12); rejects: 2 x → y`
        (the minus sign is MINUS), or `no change`."""
        if self.equal:
            return "no change"
        text = f"+{self.added} added, {MINUS}{self.removed} removed, ~{self.changed} changed"
        if self.fields:
            text += f" ({', '.join(f'{name} {n}' for name, n in self.field_counts())})"
        if self.rejects:
            text += f"; rejects: {', '.join(_move(old, new, n) for old, new, n in self.moves())}"
        return text

    def field_counts(self) -> list[tuple[str, int]]:
        """Changed rows per field, in the tables' column order."""
        order = {name: i for i, name in enumerate(self.field_order)}
        return sorted(self.fields.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))

    def moves(self) -> list[tuple[str | None, str | None, int]]:
        """(old reason, new reason, files): most files first, then moves before rejects that
        appeared (old None) and before rejects that disappeared (new None)."""
        return sorted(
            ((old, new, n) for (old, new), n in self.rejects.items()),
            key=lambda m: (-m[2], (m[0] is None) + 2 * (m[1] is None), m[0] or "", m[1] or ""),
        )

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data (the `summary` object of `diff --format json`)."""
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "fields": dict(self.field_counts()),
            "rejects": [{"from": old, "to": new, "count": n} for old, new, n in self.moves()],
        }


def _move(old: str | None, new: str | None, n: int) -> str:
    if old is None:
        return f"+{n} {new}"
    if new is None:
        return f"{MINUS}{n} {old}"
    return f"{n} {old} → {new}"


class _Export:
    """One export's files, in a local folder or at an fsspec URL."""

    def __init__(self, location: Path | str) -> None:
        self.name = str(location)
        self._open: Callable[[str], IO[bytes]]
        if isinstance(location, str):
            from .read import _url_fs

            fs, root = _url_fs(location)
            root = root.rstrip("/")
            try:
                is_dir = fs.isdir(root)
            except OSError as exc:
                raise CorpusExportError(f"cannot open {location!r}: {exc}") from None
            self._open = lambda rel: fs.open(f"{root}/{rel}", "rb")
        else:
            is_dir = location.is_dir()
            self._open = lambda rel: (location / rel).open("rb")
        if not is_dir:
            raise CorpusExportError(
                f"export folder {self.name!r} does not exist or is not a folder"
            )
        try:
            with self._open(MANIFEST) as fh:
                manifest = json.loads(fh.read())
        except (OSError, ValueError):
            manifest = None
        if not isinstance(manifest, dict) or not is_our_manifest(manifest):
            raise CorpusExportError(
                f"{self.name!r} is not an export (no {MANIFEST} written by {TOOL})"
            )

    def open(self, rel: str) -> IO[bytes]:
        try:
            return self._open(rel)
        except OSError as exc:
            raise CorpusExportError(f"cannot read {self.name}/{rel}: {exc}") from None


class ExportDiff:
    """Compare two exports, streaming. Iterate `rows()` then `rejects()`; `summary` counts what
    they yielded (and is complete once both are exhausted; `summarize` does both)."""

    def __init__(self, old: Path | str, new: Path | str, *, batch_rows: int = BATCH_ROWS) -> None:
        self.old = _Export(old)
        self.new = _Export(new)
        self.batch_rows = batch_rows
        self.summary = Summary()

    def rows(self) -> Iterator[RowChange]:
        """Rows added, removed or changed, in id order."""
        import pyarrow.parquet as pq

        with contextlib.ExitStack() as stack:
            fa, fb, raw_a, raw_b = (
                stack.enter_context(side.open(CORPUS_PARQUET))
                for side in (self.old, self.new, self.old, self.new)
            )
            files = []
            for side, f in ((self.old, fa), (self.new, fb)):
                try:
                    # pre_buffer off: on, a whole file's column chunks can be fetched ahead
                    # (~0.5 GB held at 100k rows); off, one row group's at a time
                    files.append(pq.ParquetFile(f, pre_buffer=False))
                except (pa.ArrowException, OSError) as exc:
                    raise CorpusExportError(
                        f"cannot read {side.name}/{CORPUS_PARQUET}: {exc}"
                    ) from None
            pa_, pb = files
            names_a, names_b = pa_.schema_arrow.names, pb.schema_arrow.names
            for side, names in ((self.old, names_a), (self.new, names_b)):
                if "id" not in names:
                    raise CorpusExportError(f"{side.name}/{CORPUS_PARQUET} has no id column")
            columns = [n for n in names_a if n != "id"]
            columns += [n for n in names_b if n != "id" and n not in columns]
            self.summary.field_order = tuple(columns)
            a = _Side(pa_, raw_a, self.batch_rows, f"{self.old.name}/{CORPUS_PARQUET}")
            b = _Side(pb, raw_b, self.batch_rows, f"{self.new.name}/{CORPUS_PARQUET}")
            same_schema = pa_.schema_arrow.equals(pb.schema_arrow, check_metadata=True)
            for change in _merge(a, b, columns, same_schema):
                self.summary.add_row(change)
                yield change

    def rejects(self) -> Iterator[RejectChange]:
        """Rejected files whose reason changed, appeared or disappeared, in id order."""
        with self.old.open(REJECTS_CSV) as fa, self.new.open(REJECTS_CSV) as fb:
            ga = _reject_groups(fa, f"{self.old.name}/{REJECTS_CSV}")
            gb = _reject_groups(fb, f"{self.new.name}/{REJECTS_CSV}")
            for change in _merge_rejects(ga, gb):
                self.summary.add_reject(change)
                yield change


def summarize(old: Path | str, new: Path | str) -> Summary:
    """Return what changed from the export `old` to the export `new` (see `Summary.line`).

    Raises CorpusExportError when either is missing, not an export or cannot be read."""
    d = ExportDiff(old, new)
    for _ in d.rows():
        pass
    for _ in d.rejects():
        pass
    return d.summary


# --- rows: a merge of two sorted Parquet files -------------------------------------------------


class _Side:
    """A sorted corpus.parquet read a row group at a time, in batches. `rest` is what is not yet
    merged of the batch read last (None: the next batch is not read yet)."""

    def __init__(self, pf: Any, raw: IO[bytes], batch_rows: int, name: str) -> None:
        self.pf, self.raw, self.batch_rows, self.name = pf, raw, batch_rows, name
        self.group = 0  # the next row group to start
        self.left = 0  # rows of the current row group not read yet
        self._batches: Iterator[pa.RecordBatch] = iter(())
        self.rest: pa.Table | None = None
        self._last: str | None = None

    @property
    def at_group_end(self) -> bool:
        return self.rest is None and self.left == 0

    def fill(self) -> None:
        """Read the next batch into `rest` if it is empty (it stays None at the file's end)."""
        if self.rest is not None:
            return
        try:
            while self.left == 0:
                if self.group == self.pf.num_row_groups:
                    return
                self.left = self.pf.metadata.row_group(self.group).num_rows
                self._batches = self.pf.iter_batches(
                    self.batch_rows, row_groups=[self.group], use_threads=False
                )
                self.group += 1
            batch = next(self._batches)
        except (pa.ArrowException, OSError, StopIteration) as exc:
            raise CorpusExportError(f"cannot read {self.name}: {exc!r}") from None
        self.left -= batch.num_rows
        if batch.num_rows:
            self.rest = pa.Table.from_batches([batch])
            self._check_order(self.rest.column("id"))

    def _check_order(self, ids: pa.ChunkedArray) -> None:
        n = len(ids)
        ascending = pc.all(pc.less(ids.slice(0, n - 1), ids.slice(1))).as_py() is not False
        first = ids[0].as_py()
        if not ascending or (self._last is not None and not self._last < first):
            raise CorpusExportError(
                f"{self.name}: ids are not unique and ascending (not written by a build?)"
            )
        self._last = ids[n - 1].as_py()

    def take(self, n: int) -> pa.Table:
        """The next n rows of `rest` (n <= its length)."""
        assert self.rest is not None
        head, self.rest = self.rest.slice(0, n), self.rest.slice(n)
        if self.rest.num_rows == 0:
            self.rest = None
        return head

    def chunks(self, group: int) -> list[tuple[int, int]]:
        """(offset, bytes) of each column chunk of a row group, as stored (compressed)."""
        rg = self.pf.metadata.row_group(group)
        out = []
        for j in range(rg.num_columns):
            c = rg.column(j)
            starts = [c.data_page_offset]
            if c.has_dictionary_page and c.dictionary_page_offset:
                starts.append(c.dictionary_page_offset)
            out.append((min(starts), c.total_compressed_size))
        return out

    def skip_group(self) -> None:
        """Pass over the next row group unread (it equals the other side's byte for byte)."""
        stats = self.pf.metadata.row_group(self.group).column(0).statistics
        self._last = stats.max if stats is not None and stats.has_min_max else None
        self.group += 1


def _same_group(a: _Side, b: _Side) -> bool:
    """Tell whether the next row groups of a and b hold the same bytes (then the same rows)."""
    if a.group == a.pf.num_row_groups or b.group == b.pf.num_row_groups:
        return False
    if a.pf.metadata.row_group(a.group).num_rows != b.pf.metadata.row_group(b.group).num_rows:
        return False
    ca, cb = a.chunks(a.group), b.chunks(b.group)
    if [n for _, n in ca] != [n for _, n in cb]:
        return False
    try:
        for (at_a, n), (at_b, _) in zip(ca, cb, strict=True):
            a.raw.seek(at_a)
            b.raw.seek(at_b)
            while n > 0:
                block = min(n, _BLOCK)
                if a.raw.read(block) != b.raw.read(block):
                    return False
                n -= block
    except OSError as exc:
        raise CorpusExportError(f"cannot read {a.name} or {b.name}: {exc}") from None
    return True


def _merge(a: _Side, b: _Side, columns: list[str], same_schema: bool) -> Iterator[RowChange]:
    while True:
        # rows stored alike are the same rows: equal row groups are passed over undecoded (the
        # usual case, a rebuild after a few edits; the other rows are compared field by field)
        while same_schema and a.at_group_end and b.at_group_end and _same_group(a, b):
            a.skip_group()
            b.skip_group()
        a.fill()
        b.fill()
        if a.rest is None or b.rest is None:
            break
        ids_a, ids_b = a.rest.column("id"), b.rest.column("id")
        # every id up to the smaller of the two batches' last ids is in these batches
        limit = min(ids_a[-1].as_py(), ids_b[-1].as_py())
        na = pc.sum(pc.less_equal(ids_a, limit)).as_py() or 0
        nb = pc.sum(pc.less_equal(ids_b, limit)).as_py() or 0
        yield from _compare(a.take(na), b.take(nb), columns)
    for side, change in ((a, REMOVED), (b, ADDED)):
        side.fill()
        while side.rest is not None:
            for rid in side.take(side.rest.num_rows).column("id").to_pylist():
                yield RowChange(rid, change)
            side.fill()


def _compare(x: pa.Table, y: pa.Table, columns: list[str]) -> Iterator[RowChange]:
    """The changes between two runs of rows covering the same ids, in id order."""
    ids_x, ids_y = x.column("id"), y.column("id")
    out: list[RowChange] = []
    if not ids_x.equals(ids_y):  # rows added or removed here: pair the ids both runs have
        at = pc.index_in(ids_x, value_set=ids_y)  # each old row's place among the new, or null
        found = pc.is_in(ids_y, value_set=ids_x)
        out += [RowChange(rid, REMOVED) for rid in pc.filter(ids_x, pc.is_null(at)).to_pylist()]
        out += [RowChange(rid, ADDED) for rid in pc.filter(ids_y, pc.invert(found)).to_pylist()]
        matched = pc.indices_nonzero(pc.is_valid(at))
        x, y = x.take(matched), y.take(pc.take(at, matched))
    if x.num_rows:
        differ = {name: _differs(_column(x, name), _column(y, name)) for name in columns}
        rows = np.zeros(x.num_rows, dtype=np.bool_)
        for d in differ.values():
            rows |= d
        ids = x.column("id")
        for i in np.flatnonzero(rows):
            fields = tuple(name for name in columns if differ[name][i])
            out.append(RowChange(ids[int(i)].as_py(), CHANGED, fields))
    out.sort(key=lambda c: c.id)
    yield from out


def _column(t: pa.Table, name: str) -> pa.Array:
    """A column as one array; a column the table lacks reads as nulls (of the other's type)."""
    if name not in t.column_names:
        return pa.nulls(t.num_rows)
    col = t.column(name)
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


def _differs(a: pa.Array, b: pa.Array) -> np.ndarray:
    """Per position: do the two values differ? (null equals null only)."""
    if a.type != b.type:
        if pa.types.is_null(a.type) or pa.types.is_null(b.type):  # a column on one side only
            return np.asarray(pc.xor(a.is_null(), b.is_null()).to_numpy(zero_copy_only=False))
        try:
            b = b.cast(a.type)
        except (pa.ArrowException, ValueError):
            return np.asarray(
                pc.invert(pc.and_(a.is_null(), b.is_null())).to_numpy(zero_copy_only=False)
            )
    if pa.types.is_list(a.type) or pa.types.is_large_list(a.type):
        differ = _differs(pc.list_value_length(a), pc.list_value_length(b))
        same_length = np.flatnonzero(~differ & a.is_valid().to_numpy(zero_copy_only=False))
        if same_length.size:  # equal lengths: compare the items, aligned one for one
            la, lb = a.take(pa.array(same_length)), b.take(pa.array(same_length))
            items = _differs(pc.list_flatten(la), pc.list_flatten(lb))
            parents = pc.list_parent_indices(la).to_numpy(zero_copy_only=False)
            differ[same_length[np.unique(parents[items])]] = True
        return differ
    ne = pc.fill_null(pc.not_equal(a, b), True)
    both_null = pc.and_(a.is_null(), b.is_null())
    return np.asarray(pc.and_not(ne, both_null).to_numpy(zero_copy_only=False))


# --- rejects: a merge of two rejects.csv sorted by id ------------------------------------------

_Group = tuple[str, dict[str, str]]  # an id and its rejected files: path → reason


def _reject_groups(fh: IO[bytes], name: str) -> Iterator[_Group]:
    """The files of rejects.csv grouped by id (one id may stand for a.txt and a.txt.gz)."""
    from .process import unescape_csv_cell

    text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
    try:
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None or not {"id", "path", "reason"} <= set(header):
            raise CorpusExportError(f"{name}: no id, path and reason columns")
        at = [header.index(c) for c in ("id", "path", "reason")]
        current: _Group | None = None
        for record in reader:
            if len(record) != len(header):
                raise CorpusExportError(f"{name}: line {reader.line_num} has the wrong cells")
            rid, path, reason = (unescape_csv_cell(record[i]) for i in at)
            if current is not None and rid == current[0]:
                current[1][path] = reason
                continue
            if current is not None:
                if not current[0] < rid:
                    raise CorpusExportError(f"{name}: ids are not in ascending order")
                yield current
            current = (rid, {path: reason})
        if current is not None:
            yield current
    except (csv.Error, UnicodeDecodeError) as exc:
        raise CorpusExportError(f"cannot read {name}: {exc}") from None
    finally:
        text.detach()


def _merge_rejects(ga: Iterator[_Group], gb: Iterator[_Group]) -> Iterator[RejectChange]:
    a, b = next(ga, None), next(gb, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            assert a is not None
            old, new, rid = a[1], {}, a[0]
            a = next(ga, None)
        elif a is None or b[0] < a[0]:
            old, new, rid = {}, b[1], b[0]
            b = next(gb, None)
        else:
            old, new, rid = a[1], b[1], a[0]
            a, b = next(ga, None), next(gb, None)
        for path in sorted(old.keys() | new.keys()):
            if old.get(path) != new.get(path):
                yield RejectChange(rid, path, old.get(path), new.get(path))
