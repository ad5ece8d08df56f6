"""`corpus-export diff` and `diff.summarize`: what changed between two exports, streamed by id."""

from __future__ import annotations

import csv
import io
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import make_page, small_tasks

import corpus_export
from corpus_export import diff
from corpus_export.cli import cli
from corpus_export.diff import MINUS, ExportDiff, RejectChange, RowChange, summarize


def write_raw(raw: Path, pages: dict[str, str]) -> None:
    if raw.exists():
        shutil.rmtree(raw)
    raw.mkdir(parents=True)
    for name, text in pages.items():
        (raw / f"{name}.txt").write_text(text, "utf-8")


def base_pages() -> dict[str, str]:
    pages = {
        f"p{i:02d}": make_page(f"标题{i}", paragraphs=(f"第{i}篇的第一段。", f"第{i}篇的第二段。"))
        for i in range(8)
    }
    pages["r1"] = ""  # empty
    pages["r2"] = " \n"  # empty
    pages["r3"] = make_page("没有正文", paragraphs=(), note=None)  # missing_body
    return pages


def edited_pages() -> dict[str, str]:
    pages = base_pages()
    pages["p01"] = make_page("标题1", paragraphs=("改过的第一段。", "第1篇的第二段。"))  # body
    pages["p02"] = make_page("新的标题2", paragraphs=("第2篇的第一段。", "第2篇的第二段。"))
    pages["p03"] = make_page(
        "标题3", paragraphs=("第3篇的第一段。", "第3篇的第二段。"), note="(作者系另一所大学教授)"
    )  # author
    del pages["p04"]
    pages["p09"] = make_page("标题9", paragraphs=("新的一篇。",))  # added
    pages["p05"] = make_page("没有正文了", paragraphs=(), note=None)  # row → missing_body
    pages["r1"] = pages["p00"]  # empty → duplicate (of p00)
    del pages["r2"]  # no longer rejected: gone
    return pages


EXPECTED_ROWS = [
    RowChange("p01", "changed", ("body", "body_chars", "sha256")),
    RowChange("p02", "changed", ("title", "sha256")),
    RowChange("p03", "changed", ("author", "sha256")),
    RowChange("p04", "removed"),
    RowChange("p05", "removed"),
    RowChange("p09", "added"),
]
EXPECTED_REJECTS = [
    RejectChange("p05", "p05.txt", None, "missing_body"),
    RejectChange("r1", "r1.txt", "empty", "duplicate"),
    RejectChange("r2", "r2.txt", "empty", None),
]
EXPECTED_LINE = (
    f"+1 added, {MINUS}2 removed, ~3 changed (title 1, author 1, body 1, body_chars 1, sha256 3); "
    f"rejects: 1 empty → duplicate, +1 missing_body, {MINUS}1 empty"
)


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Three exports: a, b (a's raw edited) and a2 (a's raw built again)."""
    tmp = tmp_path_factory.mktemp("exports")
    write_raw(tmp / "raw", base_pages())
    corpus_export.build(tmp / "raw", tmp / "a", card_path=tmp / "a.md", workers=1)
    corpus_export.build(tmp / "raw", tmp / "a2", card_path=tmp / "a2.md", workers=1)
    write_raw(tmp / "raw", edited_pages())
    corpus_export.build(tmp / "raw", tmp / "b", card_path=tmp / "b.md", workers=1)
    return tmp / "a", tmp / "b", tmp / "a2"


def changes(old: Path | str, new: Path | str, **kw: int) -> tuple[list, list, diff.Summary]:
    d = ExportDiff(old, new, **kw)
    rows, rejects = list(d.rows()), list(d.rejects())
    return rows, rejects, d.summary


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["diff", *args])
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_equal_exports_have_an_empty_diff_and_exit_0(exports: tuple[Path, Path, Path]) -> None:
    a, _, a2 = exports
    rows, rejects, summary = changes(a, a2)
    assert (rows, rejects, summary.equal, summary.line()) == ([], [], True, "no change")
    code, out, _ = run(str(a), str(a2))
    assert code == 0
    assert out == f"{a} → {a2}: no change\n"
    code, out, _ = run(str(a), str(a2), "--format", "json")
    assert code == 0
    assert json.loads(out)["rows"] == [] and json.loads(out)["equal"] is True
    code, out, _ = run(str(a), str(a2), "--format", "csv")
    assert (code, out.splitlines()[1:]) == (0, [])


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 256])
def test_added_removed_changed_ids_with_their_fields(
    exports: tuple[Path, Path, Path], batch_rows: int
) -> None:
    a, b, _ = exports
    rows, rejects, summary = changes(a, b, batch_rows=batch_rows)
    assert rows == EXPECTED_ROWS
    assert rejects == EXPECTED_REJECTS
    assert summary.line() == EXPECTED_LINE
    assert not summary.equal


def test_the_other_way_round_swaps_added_and_removed(exports: tuple[Path, Path, Path]) -> None:
    a, b, _ = exports
    rows, rejects, summary = changes(b, a)
    swap = {"added": "removed", "removed": "added", "changed": "changed"}
    assert rows == [RowChange(r.id, swap[r.change], r.fields) for r in EXPECTED_ROWS]
    assert rejects == [
        RejectChange(r.id, r.path, r.new_reason, r.old_reason) for r in EXPECTED_REJECTS
    ]
    assert summary.line().startswith(f"+2 added, {MINUS}1 removed, ~3 changed")


def test_summarize_is_the_library_call(exports: tuple[Path, Path, Path]) -> None:
    a, b, a2 = exports
    s = summarize(a, b)
    assert s.line() == EXPECTED_LINE
    assert s.as_dict() == {
        "added": 1,
        "removed": 2,
        "changed": 3,
        "fields": {"title": 1, "author": 1, "body": 1, "body_chars": 1, "sha256": 3},
        "rejects": [
            {"from": "empty", "to": "duplicate", "count": 1},
            {"from": None, "to": "missing_body", "count": 1},
            {"from": "empty", "to": None, "count": 1},
        ],
    }
    assert summarize(a, a2).equal


def test_table_lists_ids_capped_by_limit(exports: tuple[Path, Path, Path]) -> None:
    a, b, _ = exports
    code, out, _ = run(str(a), str(b))
    assert code == 1
    assert out.splitlines() == [
        f"{a} → {b}: {EXPECTED_LINE}",
        "rows:",
        "  ~ p01  body, body_chars, sha256",
        "  ~ p02  title, sha256",
        "  ~ p03  author, sha256",
        f"  {MINUS} p04",
        f"  {MINUS} p05",
        "  + p09",
        "rejects:",
        "  + p05  missing_body",
        "  ~ r1  empty → duplicate",
        f"  {MINUS} r2  empty",
    ]
    code, out, _ = run(str(a), str(b), "--limit", "2")
    assert code == 1
    assert out.splitlines()[1:] == [
        "rows:",
        "  ~ p01  body, body_chars, sha256",
        "  ~ p02  title, sha256",
        "  … and 4 more",
        "rejects:",
        "  + p05  missing_body",
        "  ~ r1  empty → duplicate",
        "  … and 1 more",
    ]
    code, out, _ = run(str(a), str(b), "--limit", "0")
    assert (code, out) == (1, f"{a} → {b}: {EXPECTED_LINE}\n")


def test_csv_and_json_carry_every_change(exports: tuple[Path, Path, Path]) -> None:
    a, b, _ = exports
    code, out, _ = run(str(a), str(b), "--format", "csv", "--limit", "1")  # no cap but the table's
    assert code == 1
    records = list(csv.DictReader(io.StringIO(out)))
    assert list(records[0]) == [
        "section", "id", "change", "fields", "path", "old_reason", "new_reason"
    ]  # fmt: skip
    assert [
        RowChange(r["id"], r["change"], tuple(filter(None, r["fields"].split(";"))))
        for r in records
        if r["section"] == "rows"
    ] == EXPECTED_ROWS
    assert [
        RejectChange(r["id"], r["path"], r["old_reason"] or None, r["new_reason"] or None)
        for r in records
        if r["section"] == "rejects"
    ] == EXPECTED_REJECTS

    code, out, _ = run(str(a), str(b), "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert list(doc) == ["old", "new", "rows", "rejects", "summary", "equal"]
    assert (doc["old"], doc["new"], doc["equal"]) == (str(a), str(b), False)
    assert [RowChange(r["id"], r["change"], tuple(r["fields"])) for r in doc["rows"]] == (
        EXPECTED_ROWS
    )
    assert [r["change"] for r in doc["rejects"]] == ["added", "changed", "removed"]
    assert [
        RejectChange(r["id"], r["path"], r["old_reason"], r["new_reason"]) for r in doc["rejects"]
    ] == EXPECTED_REJECTS
    assert doc["summary"] == summarize(a, b).as_dict()


def test_a_changed_field_is_found_when_sha256_is_equal(
    exports: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """Another parser version gives another row from the same raw bytes: still a change."""
    a, _, _ = exports
    c = tmp_path / "c"
    shutil.copytree(a, c)
    rows = pq.read_table(c / "corpus.parquet").to_pylist()
    rows[2]["teasers"] = [*rows[2]["teasers"][:-1], "另一条"]  # same length, one item differs
    rows[3]["source"] = None
    rows[4]["teasers"] = [*rows[4]["teasers"], ""]
    schema = pq.read_schema(c / "corpus.parquet")
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), c / "corpus.parquet")
    got, rejects, _ = changes(a, c)
    assert got == [
        RowChange(rows[2]["id"], "changed", ("teasers",)),
        RowChange(rows[3]["id"], "changed", ("source",)),
        RowChange(rows[4]["id"], "changed", ("teasers",)),
    ]
    assert rejects == []


def test_bad_input_is_one_error_line_and_exit_2(
    exports: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    a, _, _ = exports
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "corpus.parquet").write_bytes(b"not parquet")
    (tmp_path / "file").write_text("x")
    broken = tmp_path / "broken"
    shutil.copytree(a, broken)
    (broken / "corpus.parquet").write_bytes(b"PAR1 cut short")
    no_rejects = tmp_path / "no_rejects"
    shutil.copytree(a, no_rejects)
    (no_rejects / "rejects.csv").unlink()
    for other, says in [
        (tmp_path / "missing", "does not exist"),
        (tmp_path / "file", "does not exist or is not a folder"),
        (tmp_path / "plain", "is not an export"),
        (broken, "corpus.parquet"),
        (no_rejects, "rejects.csv"),
    ]:
        for fmt in ("table", "csv", "json"):
            code, _, err = run(str(a), str(other), "--format", fmt)
            assert code == 2, (other, fmt)
            assert len(err.splitlines()) == 1 and err.startswith("Error: "), err
            assert says in err


def test_unsorted_ids_are_refused(exports: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a, _, _ = exports
    c = tmp_path / "c"
    shutil.copytree(a, c)
    table = pq.read_table(c / "corpus.parquet")
    pq.write_table(table.take(list(reversed(range(table.num_rows)))), c / "corpus.parquet")
    code, _, err = run(str(a), str(c))
    assert code == 2
    assert "ids are not unique and ascending" in err


@pytest.fixture
def bucket() -> Iterator[str]:
    name = f"/diff-{uuid.uuid4().hex[:8]}"
    yield f"memory://{name}"
    fs = fsspec.filesystem("memory")
    if fs.exists(name):
        fs.rm(name, recursive=True)


def test_an_export_at_a_url(exports: tuple[Path, Path, Path], bucket: str) -> None:
    a, b, _ = exports
    fs = fsspec.filesystem("memory")
    for p in a.rglob("*"):
        if p.is_file():
            fs.pipe_file(
                f"{bucket[len('memory://') :]}/a/{p.relative_to(a).as_posix()}", p.read_bytes()
            )
    assert changes(f"{bucket}/a", b)[:2] == (EXPECTED_ROWS, EXPECTED_REJECTS)
    code, out, _ = run(f"{bucket}/a", str(b), "--format", "json")
    assert code == 1
    assert json.loads(out)["summary"] == summarize(a, b).as_dict()
    code, out, _ = run(f"{bucket}/a", str(a))
    assert (code, out) == (0, f"{bucket}/a → {a}: no change\n")
    code, _, err = run(f"{bucket}/nothing", str(a))
    assert code == 2 and err.startswith("Error: ") and "does not exist" in err


def two_exports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows_b: int) -> None:
    """a: 200 pages in row groups of 4; b: two of them edited, in row groups of rows_b."""
    pages = {f"p{i:03d}": make_page(f"标题{i}", paragraphs=(f"第{i}篇。",)) for i in range(200)}
    small_tasks(monkeypatch, 4)
    write_raw(tmp_path / "raw", pages)
    corpus_export.build(tmp_path / "raw", tmp_path / "a", card_path=tmp_path / "a.md", workers=1)
    pages["p001"] = make_page("标题1", paragraphs=("改过。",))
    pages["p100"] += "\n"  # another raw file, the same row but for its sha256
    pages["p150"] = make_page("标题150", paragraphs=("也改过。",))
    small_tasks(monkeypatch, rows_b)
    write_raw(tmp_path / "raw", pages)
    corpus_export.build(tmp_path / "raw", tmp_path / "b", card_path=tmp_path / "b.md", workers=1)
    assert pq.ParquetFile(tmp_path / "a" / "corpus.parquet").num_row_groups == 50


def count_reads(monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], list[int]]:
    """Count the rows corpus.parquet files yield (cumulated) and the batch sizes asked for;
    refuse any call that reads a whole file."""
    read: list[int] = []
    sizes: list[int] = []
    real = pq.ParquetFile.iter_batches

    def counting(self: pq.ParquetFile, batch_size: int = 65536, **kw: object) -> Iterator:
        sizes.append(batch_size)
        for batch in real(self, batch_size=batch_size, **kw):
            read.append((read[-1] if read else 0) + batch.num_rows)
            yield batch

    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError("a whole file was read")

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", counting)
    monkeypatch.setattr(pq.ParquetFile, "read", refuse)
    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", refuse)
    monkeypatch.setattr(pq, "read_table", refuse)
    return read, sizes


EDITED = [
    RowChange("p001", "changed", ("body", "body_chars", "sha256")),
    RowChange("p100", "changed", ("sha256",)),
    RowChange("p150", "changed", ("body", "body_chars", "sha256")),
]


def test_the_merge_streams_both_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Row groups of 4 rows against row groups of 5: every row is decoded and compared, a batch
    at a time; the first change is found after reading only the first batches."""
    two_exports(tmp_path, monkeypatch, 5)
    read, sizes = count_reads(monkeypatch)
    found = ExportDiff(tmp_path / "a", tmp_path / "b", batch_rows=8).rows()
    assert next(found) == EDITED[0]
    assert read[-1] <= 2 * 8  # a batch or two of each side, of 200 rows each
    assert next(found) == EDITED[1]
    assert read[-1] <= 2 * (100 + 8)
    assert list(found) == EDITED[2:]
    assert read[-1] == 400
    assert set(sizes) == {8}


def test_row_groups_of_equal_bytes_are_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same row groups: only the three holding an edited page are decoded."""
    two_exports(tmp_path, monkeypatch, 4)
    read, _ = count_reads(monkeypatch)
    assert list(ExportDiff(tmp_path / "a", tmp_path / "b", batch_rows=8).rows()) == EDITED
    assert read[-1] == 2 * 3 * 4


def test_row_groups_of_equal_sizes_are_compared_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One hex digit of one sha256 differs, and no column chunk's size: still a change."""
    two_exports(tmp_path, monkeypatch, 4)
    table = pq.read_table(tmp_path / "a" / "corpus.parquet")
    rows = table.to_pylist()
    digit = rows[101]["sha256"][0]
    rows[101]["sha256"] = ("1" if digit == "0" else "0") + rows[101]["sha256"][1:]
    plain = {"compression": "none", "use_dictionary": False, "row_group_size": 4}
    for name, t in (("x", table), ("y", pa.Table.from_pylist(rows, schema=table.schema))):
        shutil.copytree(tmp_path / "a", tmp_path / name)
        pq.write_table(t, tmp_path / name / "corpus.parquet", **plain)
    sizes = [
        [rg.column(j).total_compressed_size for j in range(rg.num_columns)]
        for rg in (
            pq.ParquetFile(tmp_path / n / "corpus.parquet").metadata.row_group(25) for n in "xy"
        )
    ]
    assert sizes[0] == sizes[1]
    read, _ = count_reads(monkeypatch)
    assert list(ExportDiff(tmp_path / "x", tmp_path / "y").rows()) == [
        RowChange("p101", "changed", ("sha256",))
    ]
    assert read[-1] == 2 * 4


@pytest.mark.parametrize("cache", [True, False])
def test_a_rebuild_says_what_changed_since_the_export_it_replaces(
    tmp_path: Path, cache: bool, trust_new_files: None
) -> None:
    raw, out, card = tmp_path / "raw", tmp_path / "dist", tmp_path / "CARD.md"
    pages = {f"p{i}": make_page(f"标题{i}", paragraphs=(f"第{i}篇。",)) for i in range(5)}
    write_raw(raw, pages)
    build = ["build", "--raw", str(raw), "--out", str(out), "--workers", "1"]
    build += [] if cache else ["--no-cache"]
    first = CliRunner().invoke(cli, build)
    assert first.exit_code == 0, first.output
    assert "changes since" not in first.output  # nothing replaced
    exported = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    card_text = card.read_bytes()

    (raw / "p1.txt").write_text(make_page("标题1", paragraphs=("改过的一篇。",)), "utf-8")
    (raw / "p2.txt").unlink()
    (raw / "p5.txt").write_text(make_page("标题5", paragraphs=("新的一篇。",)), "utf-8")
    (raw / "p3.txt").write_text("", "utf-8")
    second = CliRunner().invoke(cli, build)
    assert second.exit_code == 0, second.output
    assert second.stdout.splitlines()[1] == (
        f"changes since the previous export: +1 added, {MINUS}2 removed, "
        "~1 changed (body 1, body_chars 1, sha256 1); rejects: +1 empty"
    )
    quiet = CliRunner().invoke(cli, [*build, "-q"])  # nothing changed, nothing said
    assert (quiet.exit_code, quiet.stdout) == (0, "")

    # the export stays a function of raw/ alone: built again from nothing, the same bytes
    fresh = tmp_path / "fresh"
    corpus_export.build(raw, fresh / "dist", card_path=fresh / "CARD.md", workers=1)
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == {
        p.name: p.read_bytes() for p in (fresh / "dist").rglob("*") if p.is_file()
    }
    assert card.read_bytes() == (fresh / "CARD.md").read_bytes()
    assert exported != {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert card_text != card.read_bytes()


def test_a_previous_export_that_cannot_be_read_is_a_warning(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "dist"
    write_raw(raw, {"p0": make_page("标题0")})
    build = ["build", "--raw", str(raw), "--out", str(out), "--workers", "1", "--no-cache"]
    assert CliRunner().invoke(cli, build).exit_code == 0
    again = CliRunner().invoke(cli, build)
    assert again.stdout.splitlines()[1] == "changes since the previous export: no change"
    (out / "corpus.parquet").write_bytes(b"PAR1 cut short")
    third = CliRunner().invoke(cli, build)
    assert third.exit_code == 0, third.output
    assert "changes since" not in third.stdout
    assert third.stderr.startswith(
        "Warning: the previous export cannot be compared with the new one: "
    )
    assert pq.read_table(out / "corpus.parquet").num_rows == 1  # replaced all the same


def test_an_export_without_rows(tmp_path: Path) -> None:
    write_raw(tmp_path / "raw", {"p0": ""})
    corpus_export.build(tmp_path / "raw", tmp_path / "a", card_path=tmp_path / "a.md", workers=1)
    write_raw(tmp_path / "raw", {"p0": make_page("标题0"), "p1": make_page("标题1")})
    corpus_export.build(tmp_path / "raw", tmp_path / "b", card_path=tmp_path / "b.md", workers=1)
    rows, rejects, summary = changes(tmp_path / "a", tmp_path / "b")
    assert rows == [RowChange("p0", "added"), RowChange("p1", "added")]
    assert rejects == [RejectChange("p0", "p0.txt", "empty", None)]
    assert summary.line() == f"+2 added, {MINUS}0 removed, ~0 changed; rejects: {MINUS}1 empty"
    rows, _, _ = changes(tmp_path / "b", tmp_path / "a")
    assert rows == [RowChange("p0", "removed"), RowChange("p1", "removed")]
