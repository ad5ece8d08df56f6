"""Rows → the bytes derived from them: duplicate keys and the CSV view of list columns."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from corpus_export.process import dedup_key, dedup_keys, json_lists

TEASERS = [
    [],
    ["一篇文章"],
    ['带"引号"的', "反斜杠\\在此", "“全角引号”"],
    ["tab\there", "\x01控制字符", "é à"],
    ["", "  spaces  "],
]


@pytest.mark.parametrize("chunks", [1, 2, 5])
def test_json_lists_writes_what_json_dumps_writes(chunks: int) -> None:
    """The vectorised JSON of a list column is json.dumps(..., ensure_ascii=False) of each row,
    whatever the rows hold (quotes, backslashes, control characters) and however chunked."""
    rows = TEASERS * 3
    arr = pa.array(rows, pa.list_(pa.string()))
    step = -(-len(rows) // chunks)
    col = pa.chunked_array([arr.slice(i, step) for i in range(0, len(rows), step)])
    assert json_lists(col).to_pylist() == [json.dumps(r, ensure_ascii=False) for r in rows]


def test_json_lists_of_plain_rows_and_a_slice() -> None:
    rows = [["a"], [], ["b", "c"], ["中文"]]
    col = pa.chunked_array([pa.array(rows, pa.list_(pa.string())).slice(1, 3)])
    assert json_lists(col).to_pylist() == ["[]", '["b", "c"]', '["中文"]']


def test_json_lists_of_a_slice_see_its_own_strings() -> None:
    """A slice's strings are checked for characters to escape, not those before it."""
    rows = [["plain"]] * 5 + [['带"引号"', "tab\t"], ["a"]]
    for start in (5, 6):
        col = pa.chunked_array([pa.array(rows, pa.list_(pa.string())).slice(start)])
        want = [json.dumps(r, ensure_ascii=False) for r in rows[start:]]
        assert json_lists(col).to_pylist() == want
    wide = pa.chunked_array([pa.array(rows, pa.list_(pa.large_string()))])  # 64-bit offsets
    assert json_lists(wide).to_pylist() == [json.dumps(r, ensure_ascii=False) for r in rows]


def test_dedup_keys_are_the_keys_of_title_and_body() -> None:
    """Keys hashed from the Arrow bytes equal dedup_key of the Python strings, row by row,
    across chunks and slices; a title/body split elsewhere gives another key."""
    titles = ["标题", "标题", "a", "", "标题\x00"]
    bodies = ["正文", "正文 ", "b\nc", "x", "正文"]
    table = pa.table({"title": titles, "body": bodies})
    chunked = pa.Table.from_batches(
        [table.slice(0, 2).to_batches()[0], table.slice(2).to_batches()[0]]
    )
    want = [dedup_key(t, b) for t, b in zip(titles, bodies, strict=True)]
    assert dedup_keys(table) == dedup_keys(chunked) == want
    assert dedup_keys(table.slice(1, 3)) == want[1:4]
    assert len(set(want)) == len(want)
    assert dedup_key("ab", "c") != dedup_key("a", "bc")
