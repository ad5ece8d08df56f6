"""Hub shards cut from a finished Parquet file's bytes read back as exactly its row groups."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpus_export.parquet_split import (
    SplitError,
    encode_footer,
    read_footer,
    row_group_spans,
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


def test_page_index_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "d.parquet"
    sample(src, write_page_index=True)
    with pytest.raises(SplitError, match="page indexes"):
        row_group_spans(read_footer(src)[0])


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
