"""Hub shards cut from a finished Parquet file's bytes read back as exactly its row groups."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from corpus_export.parquet_split import (
    Concat,
    SplitError,
    _get,
    _Reader,
    _Writer,
    encode_footer,
    move_pages,
    read_footer,
    write_row_groups,
)
from corpus_export.process import PARQUET_OPTIONS
from corpus_export.write import shard_plan


def sample(path: Path, rows: int = 50, group: int = 7, **options: object) -> pa.Table:
    table = pa.table(
        {
            "id": [f"p{i:03d}" for i in range(rows)],
            "n": pa.array([None if i % 5 == 0 else i for i in range(rows)], pa.int32()),
            "text": ["中文" * (i % 13) + '"q",\n' for i in range(rows)],
            "tags": [[f"t{j}" for j in range(i % 4)] for i in range(rows)],
        }
    )
    with pq.ParquetWriter(path, table.schema, **(options or PARQUET_OPTIONS)) as w:
        w.write_table(table, row_group_size=group)
    return table


def test_footer_round_trips_byte_for_byte(tmp_path: Path) -> None:
    src = tmp_path / "a.parquet"
    sample(src)
    meta, start = read_footer(src)
    data = src.read_bytes()
    assert encode_footer(meta) == data[start:-8]


@pytest.mark.parametrize(("first", "last"), [(0, 1), (0, 8), (3, 5), (7, 8), (2, 8)])
def test_row_group_ranges_read_back_equal(tmp_path: Path, first: int, last: int) -> None:
    src = tmp_path / "a.parquet"
    table = sample(src)
    dst = tmp_path / "part.parquet"
    write_row_groups(src, dst, first, last)
    got = pq.read_table(dst)
    start, stop = first * 7, min(last * 7, table.num_rows)
    assert got.equals(table.slice(start, stop - start))
    assert pq.ParquetFile(dst).metadata.num_row_groups == last - first


def test_every_codec_and_dictionary_layout(tmp_path: Path) -> None:
    for options in ({"compression": "snappy"}, {"compression": "none", "use_dictionary": False}):
        src = tmp_path / "b.parquet"
        table = sample(src, **options)
        write_row_groups(src, tmp_path / "c.parquet", 2, 6)
        assert pq.read_table(tmp_path / "c.parquet").equals(table.slice(14, 28))


#: the build's options, content-defined pages of a few KiB: many pages in a column chunk
SMALL_PAGES = {
    **PARQUET_OPTIONS,
    "use_content_defined_chunking": {"min_chunk_size": 1024, "max_chunk_size": 4096},
}


def page_index(path: Path) -> list[list[tuple[bytes | None, list[tuple[int, int, int]]]]]:
    """Per row group, per column: (the ColumnIndex bytes, the OffsetIndex pages as (offset from
    the column chunk's first page, size, first row)), each page checked to be where it says: a
    page header there whose page is that many bytes, the pages back to back to the chunk's end."""
    data = path.read_bytes()
    meta, _ = read_footer(path)
    out = []
    for rg in _get(meta, 4)[2][1]:
        columns = []
        for cc in _get(rg, 1)[2][1]:
            at = {f[0]: f[2] for f in cc}
            md = {f[0]: f[2] for f in _get(cc, 3)[2]}
            ci = data[at[6] : at[6] + at[7]] if 6 in at else None
            oi = _Reader(data[at[4] : at[4] + at[5]]).struct()
            pages = [{f[0]: f[2] for f in p} for p in _get(oi, 1)[2][1]]
            first = min(v for k, v in md.items() if k in (9, 11))  # dictionary or data page
            end = first + md[7]
            assert pages[0][1] == md[9] and pages[-1][1] + pages[-1][2] == end
            for page, after in zip(pages, [*pages[1:], None], strict=True):
                header = _Reader(data[page[1] : page[1] + 256])
                assert header.struct()[2][2] + header.pos == page[2]  # compressed size + header
                assert after is None or after[1] == page[1] + page[2]
            columns.append((ci, [(p[1] - first, p[2], p[3]) for p in pages]))
        out.append(columns)
    return out


@pytest.mark.parametrize(("first", "last"), [(0, 1), (0, 8), (3, 5), (7, 8)])
def test_the_page_index_is_moved_with_the_row_groups(tmp_path: Path, first: int, last: int) -> None:
    """Every shard carries a page index, each OffsetIndex page at its new place: the same
    pages, ColumnIndexes and row numbers as pyarrow wrote for those row groups."""
    src = tmp_path / "a.parquet"
    table = sample(src, rows=3000, group=400, **SMALL_PAGES)
    dst = tmp_path / "part.parquet"
    write_row_groups(src, dst, first, last)
    want = page_index(src)[first:last]
    assert page_index(dst) == want
    assert any(len(pages) > 3 for rg in want for _, pages in rg)  # several pages a chunk
    md = pq.ParquetFile(dst).metadata
    for i in range(md.num_row_groups):
        for j in range(md.num_columns):
            column = md.row_group(i).column(j)
            assert column.has_offset_index
            # where the writer keeps statistics (the build: the columns readers filter on)
            assert column.has_column_index == (column.path_in_schema == "id")
    start = first * 400
    rows = table.slice(start, min(last * 400, table.num_rows) - start)
    assert pq.read_table(dst).equals(rows)
    low = rows["id"][len(rows) // 2].as_py()
    got = pq.read_table(dst, filters=[("id", ">=", low), ("n", "<", 2900)])
    assert got.equals(
        rows.filter(pc.and_(pc.greater_equal(rows["id"], low), pc.less(rows["n"], 2900)))
    )


def moved_by_tree(offset_index: bytes, delta: int) -> list[list[int]]:
    """The OffsetIndex's pages as [offset + delta, size, first row] (the generic reading)."""
    pages = _get(_Reader(offset_index).struct(), 1)[2][1]
    return [[f[2] + delta if f[0] == 1 else f[2] for f in page] for page in pages]


def test_offset_index_pages_move_as_the_generic_tree_moves_them(tmp_path: Path) -> None:
    src = tmp_path / "a.parquet"
    sample(src, rows=3000, group=3000, **SMALL_PAGES)
    data = src.read_bytes()
    blobs = []
    for cc in _get(_get(read_footer(src)[0], 4)[2][1][0], 1)[2][1]:
        at = {f[0]: f[2] for f in cc}
        blobs.append(data[at[4] : at[4] + at[5]])
    assert max(len(_get(_Reader(b).struct(), 1)[2][1]) for b in blobs) >= 15  # long lists
    for blob in blobs:
        for delta in (0, 7, -4, 1 << 40):
            moved = move_pages(blob, delta)
            assert moved_by_tree(moved, 0) == moved_by_tree(blob, delta)
            tree = _Reader(blob).struct()
            for page in _get(tree, 1)[2][1]:
                page[0][2] += delta
            assert moved == encode_footer(tree)  # byte for byte what the tree writes
    # an unusual layout (a page's size before its offset, a field after the pages): moved too
    w = _Writer()
    w.struct([[1, 9, (12, [[[2, 5, 100], [1, 6, 4]], [[1, 6, 104], [2, 5, 9]]])], [3, 8, b"x"]])
    odd = bytes(w.out)
    assert moved_by_tree(move_pages(odd, 10), 0) == [[100, 14], [114, 9]]
    assert _Reader(move_pages(odd, 10)).struct()[1] == [3, 8, b"x"]
    # the usual pages, then the byte sizes a newer writer adds: those are kept as they are
    w = _Writer()
    w.struct([[1, 9, (12, [[[1, 6, 4], [2, 5, 100]]])], [2, 9, (6, [300])]])
    assert moved_by_tree(move_pages(bytes(w.out), 10), 0) == [[14, 100]]
    assert _Reader(move_pages(bytes(w.out), 10)).struct()[1] == [2, 9, (6, [300])]


def test_spliced_files_carry_the_page_index_of_their_parts(tmp_path: Path) -> None:
    parts = []
    for k in range(3):
        parts.append(tmp_path / f"p{k}.parquet")
        sample(parts[-1], rows=900, group=900, **SMALL_PAGES)
    out = bytearray()
    concat = Concat(out.extend)
    for part in parts:
        concat.append(part)
    concat.close(b"")
    whole = tmp_path / "whole.parquet"
    whole.write_bytes(bytes(out))
    assert page_index(whole) == [page_index(p)[0] for p in parts]
    assert pq.read_table(whole).equals(pa.concat_tables(pq.read_table(p) for p in parts))


def test_shard_plan() -> None:
    assert shard_plan([], 10) == [(0, 0)]
    assert shard_plan([5, 5], 100) == [(0, 2)]
    assert shard_plan([10] * 6, 20) == [(0, 2), (2, 4), (4, 6)]
    assert shard_plan([100, 1, 1], 50) == [(0, 1), (1, 3)]  # no empty shard


def test_row_group_range_out_of_the_file_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "e.parquet"
    sample(src)
    for first, last in ((0, 9), (5, 5), (-1, 2)):
        with pytest.raises(SplitError, match="out of range"):
            write_row_groups(src, tmp_path / "f.parquet", first, last)
