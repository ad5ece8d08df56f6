"""A finished Parquet file → standalone files of contiguous row-group ranges, bytes copied as is.

The Hub folder's shards hold the same rows as corpus.parquet. Encoding them a second time would
double the most expensive step of a build, so a shard is made from the file's own bytes instead:
"PAR1", the byte range of its row groups, their page index, and the footer of those row groups
with every file offset moved to the new position. The footer is Thrift compact protocol; this
module reads it into a generic tree (field id, type, value), edits the offset fields named by
parquet.thrift and writes it back. Unknown fields pass through untouched.

The page index (a ColumnIndex and an OffsetIndex per column chunk) is written after the data of
every row group and before the footer (a reader fetches it in one range), row group by row
group: that group's ColumnIndexes, then its OffsetIndexes. A ColumnIndex holds no file offsets
and is copied as it is; an OffsetIndex holds each page's file offset, so it is read, moved and
written anew.
"""

from __future__ import annotations

import copy
import itertools
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

MAGIC = b"PAR1"

# Thrift compact protocol types
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(
    13
)

# parquet.thrift field ids
_FMD_NUM_ROWS, _FMD_ROW_GROUPS = 3, 4
_RG_COLUMNS, _RG_NUM_ROWS, _RG_FILE_OFFSET, _RG_TOTAL_COMPRESSED, _RG_ORDINAL = 1, 3, 5, 6, 7
_CC_FILE_OFFSET, _CC_META = 2, 3
# where a column chunk's page index is (offset, length): stored after every row group's data
_CC_OFFSET_INDEX, _CC_OFFSET_INDEX_LENGTH, _CC_COLUMN_INDEX, _CC_COLUMN_INDEX_LENGTH = 4, 5, 6, 7
_OI_PAGES, _PAGE_OFFSET = 1, 1  # OffsetIndex.page_locations, PageLocation.offset
_CMD_TOTAL_COMPRESSED, _CMD_DATA_PAGE, _CMD_INDEX_PAGE, _CMD_DICT_PAGE = 7, 9, 10, 11
_CMD_BLOOM = 14  # a bloom filter is stored outside the row groups too

Field = list[Any]  # [field id, type, value]


class SplitError(Exception):
    """The file uses a layout this splitter does not handle (bloom filter, encryption...)."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.total = 0  # elements of the list struct(groups=...) read

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        data, pos = self.data, self.pos
        b = data[pos]
        pos += 1
        result, shift = b & 0x7F, 7
        while b & 0x80:
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            shift += 7
        self.pos = pos
        return result

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def struct(self, groups: range | None = None) -> list[Field]:
        """Read a struct. With groups (FileMetaData only), the row groups list keeps just the
        elements at those positions (the others are read and dropped one at a time) and
        `self.total` tells how many it had."""
        fields: list[Field] = []
        last = 0
        data, value, zigzag = self.data, self.value, self.zigzag
        while True:
            header = data[self.pos]
            self.pos += 1
            if header == _STOP:
                return fields
            delta, ftype = header >> 4, header & 0x0F
            fid = last + delta if delta else zigzag()
            last = fid
            if ftype in (_I16, _I32, _I64):  # the most frequent: inline
                fields.append([fid, ftype, zigzag()])
            elif ftype in (_TRUE, _FALSE):
                fields.append([fid, ftype, ftype == _TRUE])
            elif groups is not None and fid == _FMD_ROW_GROUPS and ftype == _LIST:
                fields.append([fid, ftype, self._some_items(groups)])
            else:
                fields.append([fid, ftype, value(ftype)])

    def _some_items(self, keep: range) -> tuple[int, list[Any]]:
        header = self.byte()
        size, etype = header >> 4, header & 0x0F
        if size == 15:
            size = self.varint()
        self.total = size
        items = []
        for i in range(size):
            item = self.value(etype)
            if i in keep:
                items.append(item)
        return (etype, items)

    def value(self, ftype: int) -> Any:
        if ftype == _BYTE:
            return self.byte()
        if ftype in (_I16, _I32, _I64):
            return self.zigzag()
        if ftype == _DOUBLE:
            v = self.data[self.pos : self.pos + 8]
            self.pos += 8
            return v
        if ftype == _BINARY:
            n = self.varint()
            v = self.data[self.pos : self.pos + n]
            self.pos += n
            return v
        if ftype in (_LIST, _SET):
            header = self.byte()
            size, etype = header >> 4, header & 0x0F
            if size == 15:
                size = self.varint()
            if etype in (_TRUE, _FALSE):
                return (etype, [self.byte() == _TRUE for _ in range(size)])
            return (etype, [self.value(etype) for _ in range(size)])
        if ftype == _MAP:
            size = self.varint()
            if size == 0:
                return (0, 0, [])
            types = self.byte()
            ktype, vtype = types >> 4, types & 0x0F
            return (ktype, vtype, [(self.value(ktype), self.value(vtype)) for _ in range(size)])
        if ftype == _STRUCT:
            return self.struct()
        raise SplitError(f"unknown Thrift type {ftype}")


@dataclass(slots=True)
class Encoded:
    """A Thrift list whose elements are already encoded (count elements of etype, in data)."""

    etype: int
    count: int
    data: bytearray


def _put_varint(out: bytearray, n: int) -> None:
    """Append n (>= 0) as a ULEB128 varint (Thrift's compact protocol)."""
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _put_zigzag(out: bytearray, n: int) -> None:
    """Append a signed integer zigzag-encoded, as the compact protocol writes i16/i32/i64."""
    _put_varint(out, n << 1 if n >= 0 else ((-n) << 1) - 1)


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def list_header(self, etype: int, count: int) -> None:
        if count < 15:
            self.out.append((count << 4) | etype)
        else:
            self.out.append(0xF0 | etype)
            self.varint(count)

    def varint(self, n: int) -> None:
        _put_varint(self.out, n)

    def zigzag(self, n: int) -> None:
        _put_zigzag(self.out, n)

    def struct(self, fields: list[Field]) -> None:
        last = 0
        out, zigzag = self.out, self.zigzag
        for fid, ftype, value in fields:
            wire = (_TRUE if value else _FALSE) if ftype in (_TRUE, _FALSE) else ftype
            if 0 < fid - last <= 15:
                out.append(((fid - last) << 4) | wire)
            else:
                out.append(wire)
                zigzag(fid)
            last = fid
            if ftype in (_I16, _I32, _I64):  # the most frequent: inline
                zigzag(value)
            elif ftype not in (_TRUE, _FALSE):
                self.value(ftype, value)
        out.append(_STOP)

    def value(self, ftype: int, value: Any) -> None:
        if ftype == _BYTE:
            self.out.append(value)
        elif ftype in (_I16, _I32, _I64):
            self.zigzag(value)
        elif ftype == _DOUBLE:
            self.out += value
        elif ftype == _BINARY:
            self.varint(len(value))
            self.out += value
        elif ftype in (_LIST, _SET) and isinstance(value, Encoded):
            self.list_header(value.etype, value.count)
            self.out += value.data
        elif ftype in (_LIST, _SET):
            etype, items = value
            if len(items) < 15:
                self.out.append((len(items) << 4) | etype)
            else:
                self.out.append(0xF0 | etype)
                self.varint(len(items))
            for item in items:
                if etype in (_TRUE, _FALSE):
                    self.out.append(_TRUE if item else _FALSE)
                else:
                    self.value(etype, item)
        elif ftype == _MAP:
            ktype, vtype, items = value
            self.varint(len(items))
            if items:
                self.out.append((ktype << 4) | vtype)
                for k, v in items:
                    self.value(ktype, k)
                    self.value(vtype, v)
        elif ftype == _STRUCT:
            self.struct(value)
        else:
            raise SplitError(f"unknown Thrift type {ftype}")


def _get(fields: list[Field], fid: int) -> Field | None:
    return next((f for f in fields if f[0] == fid), None)


def _set(fields: list[Field], fid: int, ftype: int, value: Any) -> None:
    f = _get(fields, fid)
    if f is None:
        fields.append([fid, ftype, value])
        fields.sort(key=lambda x: x[0])
    else:
        f[2] = value


def read_footer(path: Path) -> tuple[list[Field], int]:
    """Return (FileMetaData as a field tree, byte offset where the footer starts)."""
    footer, start = _footer_bytes(path)
    return _Reader(footer).struct(), start


def _footer_bytes(path: Path) -> tuple[bytes, int]:
    with path.open("rb") as fh:
        fh.seek(-8, 2)
        tail = fh.read(8)
        if tail[4:] != MAGIC:
            raise SplitError(f"{path.name} is not a Parquet file")
        (length,) = struct.unpack("<I", tail[:4])
        end = fh.tell() - 8
        fh.seek(end - length)
        footer = fh.read(length)
    return footer, end - length


def read_footer_bytes(data: bytes) -> tuple[list[Field], int]:
    """read_footer for a whole Parquet file held in memory."""
    if len(data) < 12 or data[-4:] != MAGIC or data[:4] != MAGIC:
        raise SplitError("not a Parquet file")
    (length,) = struct.unpack("<I", data[-8:-4])
    start = len(data) - 8 - length
    return _Reader(data[start:-8]).struct(), start


ReadAt = Any  # (offset, length) → bytes of the source file


def _reader_of(source: bytes | Path) -> tuple[ReadAt, Any]:
    """Return (a function reading byte ranges of source, a function closing it)."""
    if isinstance(source, bytes):
        return (lambda offset, length: source[offset : offset + length]), (lambda: None)
    fh = source.open("rb")

    def read(offset: int, length: int) -> bytes:
        fh.seek(offset)
        data = fh.read(length)
        if len(data) != length:
            raise SplitError("the file ends before its page index does")
        return data

    return read, fh.close


@dataclass(slots=True)
class PageIndex:
    """The page index of one row group, taken out of its column chunks: per column, the
    ColumnIndex bytes and the OffsetIndex bytes (None where the writer wrote none), page
    offsets already moved to where the row group's data now is."""

    column: list[bytes | None]
    offset: list[bytes | None]


def _take_page_index(rg: list[Field], read: ReadAt, delta: int) -> PageIndex:
    """Read a row group's page index from its file, moving page offsets by delta, and drop
    its place from the column chunks (place_page_index gives them their new one)."""
    index = PageIndex([], [])
    for cc in _get(rg, _RG_COLUMNS)[2][1]:  # type: ignore[index]
        found = {f[0]: f[2] for f in cc}
        ci = oi = None
        if _CC_COLUMN_INDEX in found:
            ci = read(found[_CC_COLUMN_INDEX], found[_CC_COLUMN_INDEX_LENGTH])
        if _CC_OFFSET_INDEX in found:
            oi = move_pages(read(found[_CC_OFFSET_INDEX], found[_CC_OFFSET_INDEX_LENGTH]), delta)
        index.column.append(ci)
        index.offset.append(oi)
        cc[:] = [f for f in cc if not _CC_OFFSET_INDEX <= f[0] <= _CC_COLUMN_INDEX_LENGTH]
    return index


def move_pages(offset_index: bytes, delta: int) -> bytes:
    """Return an OffsetIndex with every page's file offset moved by delta.

    In its usual layout (the page locations first, each one its offset first and then integer
    fields) only the offsets are decoded and written anew, every other byte copied as it is;
    any other layout goes through the generic tree.
    """
    moved = _move_usual_pages(offset_index, delta)
    if moved is not None:
        return moved
    tree = _Reader(offset_index).struct()
    for page in _get(tree, _OI_PAGES)[2][1]:  # type: ignore[index]
        _get(page, _PAGE_OFFSET)[2] += delta  # type: ignore[index]
    return encode_footer(tree)


def _move_usual_pages(data: bytes, delta: int) -> bytes | None:
    """move_pages for the usual layout; None for any other."""
    # field 1 (OffsetIndex.page_locations): a list of structs
    if len(data) < 2 or data[0] != (_OI_PAGES << 4) | _LIST or data[1] & 0x0F != _STRUCT:
        return None
    reader = _Reader(data)
    reader.pos = 2
    size = data[1] >> 4
    if size == 15:
        size = reader.varint()
    pos = reader.pos
    out = bytearray(data[:pos])
    integers = (_I16, _I32, _I64)
    for _ in range(size):
        if data[pos] != (_PAGE_OFFSET << 4) | _I64:  # PageLocation.offset, first
            return None
        reader.pos = pos + 1
        offset = reader.zigzag() + delta
        pos = reader.pos
        out.append((_PAGE_OFFSET << 4) | _I64)
        _put_zigzag(out, offset)
        start = pos
        while data[pos] != _STOP:  # the page's other fields: integers, copied
            if data[pos] >> 4 == 0 or data[pos] & 0x0F not in integers:
                return None
            pos += 1
            while data[pos] & 0x80:
                pos += 1
            pos += 1
        pos += 1
        out += data[start:pos]
    out += data[pos:]  # the OffsetIndex's other fields, copied
    return bytes(out)


def place_page_index(rgs: list[list[Field]], indexes: list[PageIndex], at: int) -> bytes:
    """Return the page index of these row groups as written at byte `at` of the file (row group
    by row group: its ColumnIndexes, then its OffsetIndexes) and point their column chunks at
    it."""
    out = bytearray()
    for rg, index in zip(rgs, indexes, strict=True):
        columns = _get(rg, _RG_COLUMNS)[2][1]  # type: ignore[index]
        for fields, length, blobs in (
            (_CC_COLUMN_INDEX, _CC_COLUMN_INDEX_LENGTH, index.column),
            (_CC_OFFSET_INDEX, _CC_OFFSET_INDEX_LENGTH, index.offset),
        ):
            for cc, blob in zip(columns, blobs, strict=True):
                if blob is None:
                    continue
                _set(cc, fields, _I64, at + len(out))
                _set(cc, length, _I32, len(blob))
                out += blob
    return bytes(out)


def _shift_row_group(rg: list[Field], delta: int, ordinal: int) -> None:
    """Move every file offset of a row group by delta bytes and renumber it."""
    f = _get(rg, _RG_FILE_OFFSET)
    if f is not None:
        f[2] += delta
    if _get(rg, _RG_ORDINAL) is not None:
        _set(rg, _RG_ORDINAL, _I16, ordinal)
    for cc in _get(rg, _RG_COLUMNS)[2][1]:  # type: ignore[index]
        f = _get(cc, _CC_FILE_OFFSET)
        if f is not None and f[2]:
            f[2] += delta
        cmd = _get(cc, _CC_META)[2]  # type: ignore[index]
        for fid in (_CMD_DATA_PAGE, _CMD_INDEX_PAGE, _CMD_DICT_PAGE):
            f = _get(cmd, fid)
            if f is not None:
                f[2] += delta


class Concat:
    """One Parquet file made of the row groups of other Parquet files, their bytes copied as is.

    Every part must have been written with the same schema and options (the build's parts are);
    the footer is the first part's with the row groups of all parts, offsets moved. Writes go
    through `write(data)`, and byte ranges of files through `copy(path, offset, length)` (by
    default, read and written a block at a time), so the caller can hash the file as it goes.
    """

    def __init__(self, write: Any, copy: Any = None) -> None:
        self.write = write
        self.copy = copy
        self.pos = 0
        self.meta: list[Field] | None = None
        self.groups = Encoded(_STRUCT, 0, bytearray())  # the row groups so far, Thrift-encoded
        self.ends: list[int] = []  # where each row group's encoding ends in groups.data
        self.indexes: list[PageIndex] = []  # each row group's page index, written at close
        self.rows = 0
        self._footers: dict[Path, tuple[list[Field], list[tuple[int, int, int]]]] = {}
        self._write(MAGIC)

    def _write(self, data: bytes | memoryview) -> None:
        self.write(data)
        self.pos += len(data)

    def append(self, source: bytes | Path, group: int | None = None) -> list[int]:
        """Append the row groups of a Parquet file (in memory, or a path) → their row counts.

        With a group, only that row group of the file (whose footer is read once per file).
        """
        if isinstance(source, bytes):
            meta, _ = read_footer_bytes(source)
        elif group is None:
            meta, _ = read_footer(source)
        else:
            if source not in self._footers:
                whole = read_footer(source)[0]
                self._footers = {source: (whole, row_group_spans(whole))}
            meta, all_spans = self._footers[source]
        if self.meta is None:
            self.meta = [  # the file-level fields; the row groups are added as they come
                copy.deepcopy(f) if f[0] != _FMD_ROW_GROUPS else [f[0], f[1], (_STRUCT, [])]
                for f in meta
            ]
        rgs = _get(meta, _FMD_ROW_GROUPS)
        assert rgs is not None
        if group is None:
            spans, groups = row_group_spans(meta), rgs[2][1]
        else:  # each row group of a file is taken once, so its entry can be moved as it is
            spans, groups = all_spans[group : group + 1], [rgs[2][1][group]]
        if not spans:
            return []
        start, end = spans[0][0], spans[-1][1]
        delta = self.pos - start
        read, done = _reader_of(source)
        try:
            for rg in groups:  # encoded at once: a million-page footer is not held as objects
                self.indexes.append(_take_page_index(rg, read, delta))
                _shift_row_group(rg, delta, self.groups.count)
                w = _Writer()
                w.struct(rg)
                self.groups.data += w.out
                self.ends.append(len(self.groups.data))
                self.groups.count += 1
        finally:
            done()
        if isinstance(source, bytes):
            self._write(memoryview(source)[start:end])
        elif self.copy is not None:
            self.copy(source, start, end - start)
            self.pos += end - start
        else:
            with source.open("rb") as fh:
                fh.seek(start)
                for block in iter_blocks(fh, end - start):
                    self._write(block)
        self.rows += sum(s[2] for s in spans)
        return [s[2] for s in spans]

    def close(self, empty: bytes) -> None:
        """Write the footer; `empty` is a Parquet file of no rows (its footer, if no parts)."""
        meta = self.meta if self.meta is not None else read_footer_bytes(empty)[0]
        groups = Encoded(_STRUCT, 0, bytearray())  # pointed at the page index, one at a time
        for a, b, index in zip([0, *self.ends], self.ends, self.indexes, strict=False):
            rg = _Reader(bytes(self.groups.data[a:b])).struct()
            self._write(place_page_index([rg], [index], self.pos))
            w = _Writer()
            w.struct(rg)
            groups.data += w.out
            groups.count += 1
        _set(meta, _FMD_ROW_GROUPS, _LIST, groups)
        _set(meta, _FMD_NUM_ROWS, _I64, self.rows)
        footer = encode_footer(meta)
        self._write(footer)
        self._write(struct.pack("<I", len(footer)))
        self._write(MAGIC)


def encode_footer(meta: list[Field]) -> bytes:
    w = _Writer()
    w.struct(meta)
    return bytes(w.out)


def row_group_spans(meta: list[Field]) -> list[tuple[int, int, int]]:
    """Return (start byte, end byte, rows) of every row group, checking they are contiguous."""
    rgs = _get(meta, _FMD_ROW_GROUPS)
    spans: list[tuple[int, int, int]] = []
    for rg in rgs[2][1] if rgs else []:
        start, end = None, 0
        for cc in _get(rg, _RG_COLUMNS)[2][1]:  # type: ignore[index]
            md = _get(cc, _CC_META)
            if md is None:
                raise SplitError("column chunk without metadata")
            cmd = md[2]
            if _get(cmd, _CMD_BLOOM) is not None:
                raise SplitError("bloom filters are stored outside the row groups")
            first = min(f[2] for f in cmd if f[0] in (_CMD_DATA_PAGE, _CMD_DICT_PAGE))
            size = _get(cmd, _CMD_TOTAL_COMPRESSED)[2]  # type: ignore[index]
            start = first if start is None else min(start, first)
            end = max(end, first + size)
        spans.append((start or 4, end, _get(rg, _RG_NUM_ROWS)[2]))  # type: ignore[index]
    for (_, prev_end, _), (next_start, _, _) in itertools.pairwise(spans):
        if prev_end != next_start:
            raise SplitError("row groups are not contiguous")
    return spans


def iter_blocks(fh: BinaryIO, count: int, size: int = 1 << 20) -> Iterator[bytes]:
    """Yield the next count bytes of fh in blocks of at most size bytes (never all at once)."""
    while count > 0:
        block = fh.read(min(count, size))
        if not block:
            raise SplitError("the file ends before its row groups do")
        count -= len(block)
        yield block


def write_row_groups(src: Path, dst: Path, first: int, last: int) -> str:
    """Write row groups [first, last) of src as a standalone Parquet file dst → its SHA-256."""
    import hashlib

    # Only these row groups are decoded: a million-page footer as objects is ~30 MB per shard.
    reader = _Reader(_footer_bytes(src)[0])
    meta = reader.struct(groups=range(first, last))
    if not 0 <= first < last <= reader.total:
        raise SplitError(f"row groups {first}..{last} out of range (file has {reader.total})")
    spans = row_group_spans(meta)  # of the kept ones
    start, end = spans[0][0], spans[-1][1]
    delta = start - len(MAGIC)
    rgs = _get(meta, _FMD_ROW_GROUPS)
    assert rgs is not None
    read, done = _reader_of(src)
    try:
        indexes = [_take_page_index(rg, read, -delta) for rg in rgs[2][1]]
    finally:
        done()
    for ordinal, rg in enumerate(rgs[2][1]):
        _shift_row_group(rg, -delta, ordinal)
    page_index = place_page_index(rgs[2][1], indexes, len(MAGIC) + end - start)
    _set(meta, _FMD_NUM_ROWS, _I64, sum(s[2] for s in spans))
    footer = encode_footer(meta)
    digest = hashlib.sha256()
    with src.open("rb") as fh, dst.open("wb") as out:
        fh.seek(start)
        tail = page_index + footer + struct.pack("<I", len(footer)) + MAGIC
        for block in itertools.chain([MAGIC], iter_blocks(fh, end - start), [tail]):
            digest.update(block)
            out.write(block)
    return digest.hexdigest()
