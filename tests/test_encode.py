"""Rows → the bytes derived from them: duplicate keys, the CSV view of list columns and the
Parquet pages."""

from __future__ import annotations

import hashlib
import io
import json
import random
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_parquet_split import page_index

from corpus_export import process, schema
from corpus_export.parse import Page
from corpus_export.process import (
    dedup_key,
    dedup_keys,
    encode_parquet,
    json_lists,
    pages_to_table,
)


def rows_to_table(rows: list[dict[str, object]]) -> pa.Table:
    """The table of `Page.to_row()` dicts, row by row: what pages_to_table must give."""
    columns = [pa.array([r[f.name] for r in rows], type=f.arrow) for f in schema.FIELDS]
    return pa.Table.from_arrays(columns, schema=schema.arrow_schema())


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


def test_pages_become_the_rows_their_to_row_gives() -> None:
    """The table built from pages a column at a time holds each page's to_row(), and encodes
    to the same Parquet bytes as the table of those rows: fields absent or given, paragraphs
    empty or none at all, teasers or none, text outside the BMP, newlines inside a paragraph."""
    shapes = [
        dict(paragraphs=("第一段。", "第二段。"), teasers=("其他一", "其他二")),
        dict(paragraphs=("只有一段",), teasers=()),
        dict(paragraphs=("", "前一段是空的", ""), teasers=("",)),
        dict(paragraphs=(), teasers=()),
        dict(paragraphs=("𠀋𡈽 outside the BMP", "a\nnewline inside"), teasers=("𠀋",)),
    ]
    pages = [
        Page(
            id=f"p{i}",
            title=f"标题{i}",
            source="来源" if i % 2 else None,
            citations=i if i % 3 else None,
            uploader="用户" if i % 2 == 0 else None,
            author="作者" if i == 1 else None,
            sha256=f"{i:064x}",
            **shape,  # type: ignore[arg-type]
        )
        for i, shape in enumerate(shapes)
    ]
    rows = [p.to_row() for p in pages]
    table = pages_to_table(pages)
    assert table.to_pylist() == rows
    assert table.equals(rows_to_table(rows))
    ours, theirs = io.BytesIO(), io.BytesIO()
    encode_parquet(table, ours)
    encode_parquet(rows_to_table(rows), theirs)
    assert ours.getvalue() == theirs.getvalue()


def test_pages_past_2_gib_of_body_become_two_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past 2 GiB of body bytes in one conversion (ten 240 MB pages, each under the page
    limit), the body column is cut into chunks of 32-bit offsets where pa.array cuts them:
    before the string that would take a chunk past CHUNK_BYTES. (Here the limit is lowered to
    the bytes of two bodies.) The rows are the pages' rows."""
    pages = [
        Page(
            id=f"p{i}",
            title="标题",
            source=None,
            citations=None,
            uploader=None,
            author=None,
            paragraphs=(f"第{i}段", "𠀋"),
            teasers=(),
            sha256=f"{i:064x}",
        )
        for i in range(3)
    ]
    monkeypatch.setattr(process, "CHUNK_BYTES", 2 * len(pages[0].body.encode()))
    table = pages_to_table(pages)
    monkeypatch.undo()
    assert [len(c) for c in table.column("body").chunks] == [2, 1]
    assert table.to_pylist() == [p.to_row() for p in pages]


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


def _rows(n: int, seed: int = 0) -> list[dict[str, object]]:
    """n rows in the schema with ~2,000-character bodies of varied Chinese text."""
    rng = random.Random(seed)
    chars = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    rows = []
    for i in range(n):
        body = "".join(rng.choices(chars, k=rng.randrange(1500, 2500)))
        teasers = ["".join(rng.choices(chars, k=40)) for _ in range(3)]
        rows.append(
            {
                "id": f"a/{i:05d}",
                "title": f"标题{i}",
                "source": "某某报",
                "citations": i % 7,
                "uploader": "用户",
                "author": None,
                "body": body,
                "paragraph_count": 1,
                "body_chars": len(body),
                "teasers": teasers,
                "teaser_count": len(teasers),
                "sha256": hashlib.sha256(body.encode()).hexdigest(),
            }
        )
    return rows


def _pages(data: bytes, column: str) -> list[bytes]:
    """The bytes of each data page of `column` in a one-row-group Parquet file."""
    meta = pq.ParquetFile(pa.BufferReader(data)).metadata.row_group(0)
    j = schema.NAMES.index(column)
    chunk = meta.column(j)
    start = chunk.data_page_offset
    end = start + chunk.total_compressed_size
    pages = [start + off for off, _, _ in _offset_index(data, j)]
    return [data[a:b] for a, b in zip(pages, [*pages[1:], end], strict=True)]


def _offset_index(data: bytes, j: int) -> list[tuple[int, int, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "part.parquet"
        path.write_bytes(data)
        return page_index(path)[0][j][1]


def test_an_edit_rewrites_a_small_part_of_the_body_column() -> None:
    """Content-defined pages of a few dozen KiB: one page edited, the others keep their bytes,
    so a content-addressed store (the Hub's) holding the old file receives little of the new."""
    rows = _rows(240)
    old, new = io.BytesIO(), io.BytesIO()
    encode_parquet(rows_to_table(rows), old)
    body = str(rows[120]["body"])
    rows[120]["body"] = body[:30] + "（修订）" + body[30:]
    rows[120]["body_chars"] = len(str(rows[120]["body"]))
    encode_parquet(rows_to_table(rows), new)
    before, after = _pages(old.getvalue(), "body"), _pages(new.getvalue(), "body")
    rewritten = [p for p in after if p not in set(before)]
    assert len(after) >= 16  # ~1.4 MB of text in pages of at most 64 KiB before compression
    assert 1 <= len(rewritten) <= 2
    assert sum(map(len, rewritten)) <= sum(map(len, after)) / 8
