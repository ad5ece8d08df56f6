"""Whole builds: nothing lost, rejects by reason, CSV round trip, manifest, determinism."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import random
import shutil
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import PageMaker, make_page, run_python, small_tasks

import corpus_export
from corpus_export import schema
from corpus_export.cache import notes_index
from corpus_export.process import csv_header_line, unescape_csv_cell, write_csv
from corpus_export.validate import validate_export


@pytest.fixture
def short_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tasks of 8 to 32 files, so a few hundred pages make many row groups."""
    process = sys.modules["corpus_export.process"]
    monkeypatch.setattr(process, "TASK_MIN", 8)
    monkeypatch.setattr(process, "TASK_MASK", 7)
    monkeypatch.setattr(process, "TASK_MAX", 32)


def write_corpus(raw: Path) -> dict[str, str]:
    """Write one page per reject reason plus good pages; return {id: expected outcome}."""
    (raw / "sub").mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {
        "good1.txt": make_page("第一篇").encode(),
        "sub/good2.txt.gz": gzip.compress(
            make_page("第二篇", note=None).encode("gb18030"), mtime=0
        ),
        "sub/good3.txt": make_page("=SUM(A1)", paragraphs=('-1 起头, "引号"',)).encode(),
        "zdup.txt": make_page("第一篇").encode(),  # same title and body as good1
        "good1.txt.gz": gzip.compress(b"whatever", mtime=0),  # same id as good1.txt
        "empty.txt": b"",
        "binary.txt": b"\x89PNG\x00\x01\xff",
        "other_site.txt": b"Welcome to my blog\nSome text\n",
        "no_title.txt": "来源 :党员生活 | 被引量 : 0次\n论文部分内容阅读\n  正文。\n".encode(),
        "no_body.txt": "标题\n来源 :党员生活\n论文部分内容阅读\n其他文献\n摘要\n".encode(),
        "readme.md": b"not a page",
    }
    for name, data in files.items():
        (raw / name).write_bytes(data)
    return {
        "good1": "row",
        "sub/good2": "row",
        "sub/good3": "row",
        "zdup": "duplicate",
        "empty": "empty",
        "binary": "undecodable",
        "other_site": "unrecognised_layout",
        "no_title": "missing_title",
        "no_body": "missing_body",
    }


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, corpus_export.BuildResult, dict[str, str]]:
    raw = tmp_path / "raw"
    expected = write_corpus(raw)
    out = tmp_path / "dist"
    return out, corpus_export.build(raw, out, workers=1), expected


def test_every_file_is_a_row_or_a_reject(built: tuple) -> None:  # type: ignore[type-arg]
    out, result, expected = built
    rows = pd.read_parquet(out / "corpus.parquet")
    rejects = pd.read_csv(out / "rejects.csv", keep_default_na=False)
    assert list(rows["id"]) == sorted(k for k, v in expected.items() if v == "row")
    got = dict(zip(rejects["id"], rejects["reason"], strict=True))
    # good1.txt.gz shares good1.txt's id: the second path is the duplicate
    assert (rejects["id"] == "good1").sum() == 1
    assert got == {k: v for k, v in expected.items() if v != "row"} | {"good1": "duplicate"}
    assert result.files_seen == 11 - 1 == len(rows) + len(rejects)
    assert result.ignored_files == 1
    assert result.rejects_by_reason == {
        "duplicate": 2,
        "empty": 1,
        "missing_body": 1,
        "missing_title": 1,
        "undecodable": 1,
        "unrecognised_layout": 1,
    }
    dup = rejects.set_index("id").loc["zdup", "detail"]
    assert "'good1'" in dup
    assert list(rejects["id"]) == sorted(rejects["id"])


def test_parquet_schema_and_sorted(built: tuple) -> None:  # type: ignore[type-arg]
    out, _, _ = built
    table = pq.read_table(out / "corpus.parquet")
    assert table.schema.remove_metadata() == schema.arrow_schema()
    ids = table.column("id").to_pylist()
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_csv_round_trips_to_parquet(built: tuple) -> None:  # type: ignore[type-arg]
    out, _, _ = built
    pq_df = pd.read_parquet(out / "corpus.parquet", dtype_backend="numpy_nullable")
    csv.field_size_limit(sys.maxsize)
    ints = ["citations", "paragraph_count", "body_chars", "teaser_count"]
    df = pd.read_csv(
        out / "corpus.csv",
        keep_default_na=False,
        na_values=[""],
        dtype={col: "Int32" for col in ints},
    )  # as README and the card load them: the same types from both files
    for col in ints:
        assert df[col].dtype == pq_df[col].dtype == "Int32", col
        assert df[col].tolist() == pq_df[col].tolist(), col
    assert list(df.columns) == schema.csv_header()
    for col in ("id", "title", "source", "uploader", "author", "body", "sha256"):
        got = [None if pd.isna(v) else unescape_csv_cell(v) for v in df[col]]
        want = [None if pd.isna(v) else v for v in pq_df[col]]
        assert got == want, col
    assert [json.loads(v) for v in df["teasers"]] == [list(v) for v in pq_df["teasers"]]
    # the formula-like title is defused in the CSV but exact in Parquet
    assert "=SUM(A1)" in set(pq_df["title"])
    raw_csv = (out / "corpus.csv").read_text(encoding="utf-8")
    assert '"\'=SUM(A1)"' in raw_csv
    assert "\"'-1 起头" in raw_csv


def test_manifest_lists_counts_and_hashes(built: tuple) -> None:  # type: ignore[type-arg]
    out, result, _ = built
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"] == {"files_seen": 10, "rows": 3, "rejects": 7, "ignored_files": 1}
    assert manifest["rejects_by_reason"] == result.rejects_by_reason
    assert [c["name"] for c in manifest["schema"]] == list(schema.NAMES)
    assert manifest["generator"] == f"corpus-export {corpus_export.__version__}"
    for rel in ("corpus.parquet", "corpus.csv", "rejects.csv"):
        info = manifest["files"][rel]
        data = (out / rel).read_bytes()
        assert info == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_two_builds_are_byte_identical(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_corpus(raw)
    for i in range(30):  # enough pages for several batches and worker processes
        (raw / "many" / f"{i:03d}.txt").parent.mkdir(exist_ok=True)
        (raw / "many" / f"{i:03d}.txt").write_text(make_page(f"标题{i}"), encoding="utf-8")
    a = corpus_export.build(raw, tmp_path / "a" / "dist", workers=1)
    b = corpus_export.build(raw, tmp_path / "b" / "dist", workers=2)
    assert a.rows == b.rows == 33
    assert tree_bytes(tmp_path / "a") == tree_bytes(tmp_path / "b")


def test_rebuild_replaces_previous_export(tmp_path: Path, page: PageMaker) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text(page("甲"), encoding="utf-8")
    out = tmp_path / "dist"
    corpus_export.build(raw, out, workers=1)
    (out / "stray.txt").write_text("left by hand")
    (raw / "b.txt").write_text(page("乙", paragraphs=("另一段。",)), encoding="utf-8")
    result = corpus_export.build(raw, out, workers=1)
    assert result.rows == 2
    assert not (out / "stray.txt").exists()
    assert not list(tmp_path.glob("dist.tmp-*"))
    assert not list(tmp_path.glob("dist.old-*"))


def test_hf_single_shard_reuses_parquet_bytes(built: tuple) -> None:  # type: ignore[type-arg]
    out, result, _ = built
    assert result.shards == ["train-00000-of-00001.parquet"]
    shard = out / "hf" / "data" / "train-00000-of-00001.parquet"
    assert shard.read_bytes() == (out / "corpus.parquet").read_bytes()


def test_hf_shards_split_by_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    small_tasks(monkeypatch, 4)
    raw = tmp_path / "raw"
    raw.mkdir()
    for i in range(12):
        (raw / f"{i:02d}.txt").write_text(make_page(f"标题{i}"), encoding="utf-8")
    one = corpus_export.build(raw, tmp_path / "one" / "dist", workers=1)
    assert one.shards == ["train-00000-of-00001.parquet"]
    out = tmp_path / "three" / "dist"
    # written by the two workers side by side, each hashed as written
    result = corpus_export.build(raw, out, workers=2, shard_bytes=one.arrow_bytes // 3 + 1)
    assert result.shards == [f"train-0000{i}-of-00003.parquet" for i in range(3)]
    assert validate_export(out) == []  # the manifest's SHA-256 of every shard is right
    parts = [pq.read_table(out / "hf" / "data" / s) for s in result.shards]
    whole = pq.read_table(out / "corpus.parquet")
    assert [p.num_rows for p in parts] == [4, 4, 4]
    assert pa_concat(parts).equals(whole)
    # with their page index: every page where its OffsetIndex says, as in corpus.parquet
    from test_parquet_split import page_index

    index = page_index(out / "corpus.parquet")
    assert [page_index(out / "hf" / "data" / s) for s in result.shards] == [
        index[0:1],
        index[1:2],
        index[2:3],
    ]
    md = pq.ParquetFile(out / "hf" / "data" / result.shards[1]).metadata.row_group(0)
    assert all(md.column(j).has_offset_index for j in range(md.num_columns))
    assert md.column(0).has_column_index  # id: pages skipped by id
    # the shards are cut from corpus.parquet's bytes: each holds some of its row groups
    assert (
        sum((out / "hf" / "data" / s).stat().st_size for s in result.shards)
        < 2 * (out / "corpus.parquet").stat().st_size
    )


def test_multi_shard_hub_folder_loads_with_datasets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    import datasets

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    small_tasks(monkeypatch, 4)
    raw = tmp_path / "raw"
    raw.mkdir()
    for i in range(10):
        (raw / f"{i:02d}.txt").write_text(make_page(f"标题{i}"), encoding="utf-8")
    out = tmp_path / "dist"
    result = corpus_export.build(raw, out, workers=1, shard_bytes=1)
    assert len(result.shards) == 3
    ds = datasets.load_dataset(str(out / "hf"), split="train")
    assert ds.num_rows == 10
    assert ds.to_pandas()["id"].tolist() == pq.read_table(out / "corpus.parquet")["id"].to_pylist()


def pa_concat(tables: list) -> object:  # type: ignore[type-arg]
    import pyarrow as pa

    return pa.concat_tables(tables)


@pytest.mark.usefixtures("trust_new_files")
def test_incremental_build_equals_cold_build(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_corpus(raw)
    for i in range(300):
        (raw / "many").mkdir(exist_ok=True)
        (raw / "many" / f"{i:03d}.txt").write_text(make_page(f"标题{i}"), encoding="utf-8")
    cache = tmp_path / "cache"
    corpus_export.build(raw, tmp_path / "warm" / "dist", workers=2, cache_dir=cache)
    assert list(cache.rglob("*.pkl"))
    (raw / "many" / "007.txt").write_text(make_page("改过的标题"), encoding="utf-8")
    (raw / "many" / "new.txt").write_text(make_page("新增的一篇"), encoding="utf-8")
    (raw / "many" / "100.txt").unlink()
    warm = corpus_export.build(raw, tmp_path / "warm" / "dist", workers=2, cache_dir=cache)
    cold = corpus_export.build(raw, tmp_path / "cold" / "dist", workers=2)
    assert warm.rows == cold.rows == 303
    assert tree_bytes(tmp_path / "warm") == tree_bytes(tmp_path / "cold")
    titles = set(pd.read_parquet(tmp_path / "warm" / "dist" / "corpus.parquet")["title"])
    assert {"改过的标题", "新增的一篇"} <= titles
    assert "标题7" not in titles


@pytest.mark.usefixtures("trust_new_files", "short_tasks")
def test_incremental_build_redoes_only_what_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    process = sys.modules["corpus_export.process"]
    calls = {"parse": 0, "encode": 0}
    real_file, real_encode = process.process_file, process.encode_batch

    def counted_file(*args: object) -> object:
        calls["parse"] += 1
        return real_file(*args)  # type: ignore[arg-type]

    def counted_encode(*args: object) -> object:
        calls["encode"] += 1
        return real_encode(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(process, "process_file", counted_file)
    monkeypatch.setattr(process, "encode_batch", counted_encode)

    raw = tmp_path / "raw"
    raw.mkdir()
    for i in range(200):
        (raw / f"{i:03d}.txt").write_text(make_page(f"标题{i}"), encoding="utf-8")
    (raw / "150.txt").write_text(make_page("标题3"), encoding="utf-8")  # a duplicate of 003
    (raw / "bad.txt").write_bytes(b"\xff\xfe\x00junk")

    def run(name: str) -> dict[str, int]:
        calls.update(parse=0, encode=0)
        corpus_export.build(raw, tmp_path / name / "dist", workers=1, cache_dir=tmp_path / "c")
        return dict(calls)

    first = run("warm")
    assert first["parse"] == 201 and first["encode"] >= 7
    assert run("warm") == {"parse": 0, "encode": 0}  # unchanged: nothing parsed or encoded
    (raw / "003.txt").write_text(make_page("改过的标题"), encoding="utf-8")  # 150 now stays
    (raw / "090.txt").write_text(make_page("也改过"), encoding="utf-8")
    (raw / "120a.txt").write_text(make_page("新增的一篇"), encoding="utf-8")
    (raw / "060.txt").unlink()
    again = run("warm")
    # the two edits and the new page, and the task of 150, whose duplicates changed (it is
    # parsed again whole, as a cold build would); a page added or removed costs its task nothing
    assert again["parse"] <= 3 + 32, again
    assert again["encode"] <= 5, again  # those tasks, and 150's (no longer a duplicate)
    cold = corpus_export.build(raw, tmp_path / "cold" / "dist", workers=2)
    assert cold.rows == 200 and cold.rejects_by_reason == {"undecodable": 1}
    assert tree_bytes(tmp_path / "warm") == tree_bytes(tmp_path / "cold")
    # the cache only holds what the last build used
    notes = list((tmp_path / "c").rglob("notes-*.bin"))
    assert len(notes) == 1
    assert 7 <= len(notes_index(notes[0]) or {}) <= first["encode"] + 1


@pytest.mark.usefixtures("trust_new_files", "short_tasks")
def test_rebuild_links_hub_shards_whose_row_groups_did_not_change(tmp_path: Path) -> None:
    raw, out, cache = tmp_path / "raw", tmp_path / "warm" / "dist", tmp_path / "cache"
    raw.mkdir()
    for i in range(240):
        (raw / f"{i:03d}.txt").write_text(make_page(f"标题{i}"), encoding="utf-8")
    size = corpus_export.build(raw, tmp_path / "probe", workers=1).arrow_bytes * 2 // 7
    first = corpus_export.build(raw, out, workers=2, cache_dir=cache, shard_bytes=size)
    assert len(first.shards) == 4
    data = out / "hf" / "data"
    inodes = {name: (data / name).stat().st_ino for name in first.shards}
    (raw / "200.txt").write_text(make_page("改过的标题"), encoding="utf-8")  # in the last shard
    again = corpus_export.build(raw, out, workers=2, cache_dir=cache, shard_bytes=size)
    assert again.shards == first.shards
    linked = [n for n in again.shards if (data / n).stat().st_ino == inodes[n]]
    assert linked == first.shards[:3]  # the changed page's shard alone is written again
    assert validate_export(out) == []  # and the manifest's SHA-256 of each is right
    cold = corpus_export.build(raw, tmp_path / "cold" / "dist", workers=1, shard_bytes=size)
    assert cold.shards == again.shards
    assert tree_bytes(tmp_path / "warm") == tree_bytes(tmp_path / "cold")
    # a shard changed by hand since (even to the same bytes) is not trusted: written again
    shard = data / again.shards[0]
    shard.write_bytes(shard.read_bytes())
    (raw / "201.txt").write_text(make_page("又改过"), encoding="utf-8")
    before = shard.stat().st_ino
    corpus_export.build(raw, out, workers=2, cache_dir=cache, shard_bytes=size)
    assert (data / again.shards[0]).stat().st_ino != before
    assert validate_export(out) == []


@pytest.mark.parametrize("kernel_copy", [True, False])
def test_export_files_are_copied_and_hashed_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel_copy: bool
) -> None:
    import errno

    from corpus_export.digest import sha256_file
    from corpus_export.write import HashedFile

    data = os.urandom(3 << 20)
    (tmp_path / "src").write_bytes(data)
    if not kernel_copy:  # e.g. another file system: copied by hand

        def refuse(*args: object) -> int:
            raise OSError(errno.EXDEV, "cross-device")

        monkeypatch.setattr(os, "copy_file_range", refuse)
    out = HashedFile(tmp_path / "out")
    out.write(b"head")
    out.copy(tmp_path / "src", 5, (2 << 20) + 7)  # more than one hashing block
    out.write(memoryview(b"middle"))
    out.copy(tmp_path / "src", 0, 10)
    out.close()
    expected = b"head" + data[5 : 5 + (2 << 20) + 7] + b"middle" + data[:10]
    assert (tmp_path / "out").read_bytes() == expected
    assert out.size == len(expected)
    # the digest the manifest takes is the one hashed on the way
    assert sha256_file(tmp_path / "out")[0] == hashlib.sha256(expected).hexdigest()


@pytest.mark.usefixtures("trust_new_files")
@pytest.mark.parametrize("damage", ["module name", "one byte", "export note"])
def test_a_damaged_cache_means_a_cold_rebuild(tmp_path: Path, damage: str) -> None:
    raw, out, cache = tmp_path / "raw", tmp_path / "warm" / "dist", tmp_path / "cache"
    raw.mkdir()
    for i in range(40):
        (raw / f"{i:02d}.txt").write_text(make_page(f"标题{i}"), encoding="utf-8")
    corpus_export.build(raw, out, workers=1, cache_dir=cache)
    (notes,) = cache.rglob("notes-*.bin")
    data = bytearray(notes.read_bytes())
    if damage == "module name":  # unpickles to an import of a module that does not exist
        notes.write_bytes(bytes(data).replace(b"corpus_export.cache", b"corpus_export.Xache"))
    elif damage == "one byte":  # a fingerprint or a position that would still unpickle
        data[len(data) // 3] ^= 0x01
        notes.write_bytes(bytes(data))
    else:
        (export,) = cache.rglob("export.pkl")
        note = bytearray(export.read_bytes())
        note[len(note) // 2] ^= 0x01
        export.write_bytes(bytes(note))
    (raw / "07.txt").write_text(make_page("改过的标题"), encoding="utf-8")
    corpus_export.build(raw, out, workers=1, cache_dir=cache)
    corpus_export.build(raw, tmp_path / "cold" / "dist", workers=1)
    assert tree_bytes(tmp_path / "warm") == tree_bytes(tmp_path / "cold")


def test_a_hashing_failure_fails_the_write_instead_of_hanging(tmp_path: Path) -> None:
    from corpus_export.write import HashedFile

    out = HashedFile(tmp_path / "out")

    class Broken:
        def update(self, data: object) -> None:
            raise MemoryError

    out.hash = Broken()  # type: ignore[assignment]
    for _ in range(4 * out.QUEUED):  # more than the queue holds: the writer must not block
        out.write(b"x" * 1000)
    with pytest.raises(MemoryError):
        out.close()
    assert not out._hasher.is_alive()


def _sized_page(title: str, paragraphs: int) -> str:
    text = tuple(f"{title}的第{k}段正文内容。" * 8 for k in range(paragraphs))
    return make_page(title, paragraphs=text)


@pytest.mark.parametrize("task_bytes", [None, 6000], ids=["by-files", "by-bytes"])
@pytest.mark.usefixtures("trust_new_files", "short_tasks")
def test_rebuilds_after_random_adds_removes_and_edits_equal_cold_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task_bytes: int | None
) -> None:
    """Cold and cached builds agree, also where an edit that grows or shrinks a page moves the
    end of a task cut by bytes (pages of 1 to 12 paragraphs, ~0.4 to 4 KB)."""
    import random

    if task_bytes is not None:
        monkeypatch.setattr(sys.modules["corpus_export.process"], "TASK_BYTES", task_bytes)
    rng = random.Random(4)
    raw, out, cache = tmp_path / "raw", tmp_path / "warm" / "dist", tmp_path / "cache"
    raw.mkdir()
    for i in range(0, 300, 2):
        page = _sized_page(f"标题{i}", rng.randint(1, 12))
        (raw / f"{i:03d}.txt").write_text(page, encoding="utf-8")
    corpus_export.build(raw, out, workers=2, cache_dir=cache)
    for round_ in range(5):
        pages = sorted(raw.iterdir())
        for page in rng.sample(pages, 4):  # removed
            page.unlink()
        for page in rng.sample(sorted(raw.iterdir()), 4):  # edited, some into duplicates
            title = f"标题{rng.randrange(300)}" if rng.random() < 0.5 else f"改{round_}"
            page.write_text(_sized_page(title, rng.randint(1, 12)), encoding="utf-8")
        for _ in range(6):  # added between the others (odd numbers), or at either end
            name = rng.choice([f"{rng.randrange(300):03d}", "000a", "999"])
            page_text = _sized_page(f"新{round_}{name}", rng.randint(1, 12))
            (raw / f"{name}.txt").write_text(page_text, encoding="utf-8")
        warm = corpus_export.build(raw, out, workers=2, cache_dir=cache)
        shutil.rmtree(tmp_path / "cold", ignore_errors=True)
        cold = corpus_export.build(raw, tmp_path / "cold" / "dist", workers=1)
        assert (warm.rows, warm.rejects_by_reason) == (cold.rows, cold.rejects_by_reason)
        assert tree_bytes(tmp_path / "warm") == tree_bytes(tmp_path / "cold"), round_


def test_a_dying_worker_fails_the_build_instead_of_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import corpus_export.process as process

    raw = tmp_path / "raw"
    raw.mkdir()
    for i in range(600):
        (raw / f"{i:03d}.txt").write_text(make_page(f"标题{i}"), encoding="utf-8")
    real_parse = process.parse_page

    def parse_or_die(data: bytes, page_id: str, sha256: str) -> object:
        if page_id == "450":
            os._exit(3)  # what the OOM killer does to a worker
        return real_parse(data, page_id=page_id, sha256=sha256)

    monkeypatch.setattr(process, "parse_page", parse_or_die)  # workers are forked: they see it
    with pytest.raises(corpus_export.CorpusExportError, match="a worker process died"):
        corpus_export.build(raw, tmp_path / "dist", workers=2)
    assert not (tmp_path / "dist").exists()
    assert not list(tmp_path.glob("dist.tmp-*"))


def test_duplicates_are_cut_out_of_spliced_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages 04 and 07 repeat 01 (another task) and 06 (the same task) under other ids.
    raw = tmp_path / "raw"
    raw.mkdir()
    titles = ["甲", "乙", "丙", "丁", "乙", "戊", "己", "己", "庚", "辛", '=引"号']
    for i, title in enumerate(titles):
        (raw / f"{i:02d}.txt").write_text(make_page(title), encoding="utf-8")
    whole = corpus_export.build(raw, tmp_path / "whole" / "dist", workers=1)
    small_tasks(monkeypatch, 3)
    out = tmp_path / "split" / "dist"
    split = corpus_export.build(raw, out, workers=2)
    assert split.rows == whole.rows == 9
    assert split.rejects_by_reason == {"duplicate": 2}
    assert pq.ParquetFile(out / "corpus.parquet").metadata.num_row_groups == 4
    table = pq.read_table(out / "corpus.parquet")
    assert table.column("id").to_pylist() == [f"{i:02d}" for i in range(11) if i not in (4, 7)]
    assert table.equals(pq.read_table(tmp_path / "whole" / "dist" / "corpus.parquet"))
    for name in ("corpus.csv", "rejects.csv"):
        assert (out / name).read_bytes() == (tmp_path / "whole" / "dist" / name).read_bytes()
    rejects = (out / "rejects.csv").read_text(encoding="utf-8")
    assert "same title and body as '01'" in rejects
    assert "same title and body as '06'" in rejects
    assert validate_export(out) == []


def test_leftover_cleanup_leaves_folders_it_did_not_make(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text(make_page("甲"), encoding="utf-8")
    backup = tmp_path / "my-dist.old-backup"
    mine = tmp_path / "my-dist.tmp-mine"
    for folder in (backup, mine):
        folder.mkdir()
        (folder / "notes.txt").write_text("precious")
    # a killed build's stage (see test_swap.py for the rest of what is and is not swept)
    run_python(
        "from pathlib import Path\nfrom corpus_export.swap import make_stage\n"
        f"make_stage(Path({str(tmp_path / 'my-dist')!r}))"
    )
    (dead,) = tmp_path.glob("my-dist.tmp-*-*")
    corpus_export.build(raw, tmp_path / "my-dist", workers=1)
    corpus_export.build(raw, tmp_path / "my-dist", workers=1)  # runs the clean-up again
    assert (backup / "notes.txt").read_text() == "precious"
    assert (mine / "notes.txt").read_text() == "precious"
    assert not dead.exists()


@pytest.mark.usefixtures("trust_new_files")
def test_unchanged_rebuild_writes_nothing(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for i in range(30):
        (raw / f"{i:02d}.txt").write_text(make_page(f"标题{i}"), encoding="utf-8")
    out, cache = tmp_path / "dist", tmp_path / "cache"
    first = corpus_export.build(raw, out, workers=1, cache_dir=cache)
    assert not first.unchanged
    before = {p: p.stat().st_mtime_ns for p in [*out.rglob("*"), tmp_path / "CARD.md"]}
    again = corpus_export.build(raw, out, workers=1, cache_dir=cache)
    assert again.unchanged
    assert (again.rows, again.rejects_by_reason, again.shards) == (30, {}, first.shards)
    assert {p: p.stat().st_mtime_ns for p in before} == before
    # an export edited by hand, other settings, or a changed page: built again
    (out / "rejects.csv").write_text("id,reason,detail\n", encoding="utf-8")
    assert not corpus_export.build(raw, out, workers=1, cache_dir=cache).unchanged
    assert corpus_export.build(raw, out, workers=1, cache_dir=cache).unchanged
    assert not corpus_export.build(raw, out, workers=1, cache_dir=cache, shard_bytes=10).unchanged
    other = tmp_path / "other"  # another raw folder with the same names and sizes
    shutil.copytree(raw, other)
    (other / "05.txt").write_text(make_page("标题X"), encoding="utf-8")  # same size as 标题5
    from_other = corpus_export.build(other, out, workers=1, cache_dir=cache)
    assert not from_other.unchanged
    assert "标题X" in set(pd.read_parquet(out / "corpus.parquet")["title"])
    (raw / "07.txt").write_text(make_page("改过"), encoding="utf-8")
    changed = corpus_export.build(raw, out, workers=1, cache_dir=cache)
    assert not changed.unchanged
    assert "改过" in set(pd.read_parquet(out / "corpus.parquet")["title"])
    assert validate_export(out) == []


def _same_as_cold(raw: Path, out: Path, tmp_path: Path, cache: Path) -> None:
    """Build with the cache into out and cold elsewhere; every file must be the same bytes."""
    corpus_export.build(raw, out, workers=2, cache_dir=cache)
    cold = tmp_path / "cold" / out.name
    shutil.rmtree(cold.parent, ignore_errors=True)
    corpus_export.build(raw, cold, workers=1)
    assert tree_bytes(out.parent) == tree_bytes(cold.parent)


@pytest.mark.usefixtures("trust_new_files")
def test_cached_rebuilds_equal_cold_ones_in_corner_cases(tmp_path: Path) -> None:
    raw, out, cache = tmp_path / "raw", tmp_path / "warm" / "dist", tmp_path / "cache"
    raw.mkdir()
    sentence = "这是一段足够长的正文，用来让一个任务的正文列超过一兆字节的数据页。"

    def para(i: int) -> str:  # a body of its own (the pages are no near-duplicates)
        rng = random.Random(i)
        return "".join("".join(rng.sample(sentence, len(sentence))) for _ in range(80))

    for i in range(300):  # one task, its body column over Parquet's 1 MB page size
        (raw / f"{i:03d}.txt").write_text(make_page(f"标题{i}", paragraphs=(para(i),)), "utf-8")
    _same_as_cold(raw, out, tmp_path, cache)
    # a changed page: the other 299 rows come from the old row group, in one chunk
    (raw / "100.txt").write_text(make_page("改过的标题", paragraphs=(para(100),)), "utf-8")
    _same_as_cold(raw, out, tmp_path, cache)
    # a file that is not a page is counted in the manifest and card: not "unchanged"
    (raw / "notes.md").write_text("not a page", encoding="utf-8")
    _same_as_cold(raw, out, tmp_path, cache)
    assert json.loads((out / "manifest.json").read_text())["counts"]["ignored_files"] == 1
    # two files of the same size swapped by renaming, their mtimes put back: ctime tells
    a, b = raw / "001.txt", raw / "002.txt"
    times = a.stat().st_mtime_ns, b.stat().st_mtime_ns
    a.rename(raw / "tmp"), b.rename(a), (raw / "tmp").rename(b)
    os.utime(a, ns=(times[0], times[0]))
    os.utime(b, ns=(times[1], times[1]))
    _same_as_cold(raw, out, tmp_path, cache)
    assert pd.read_parquet(out / "corpus.parquet").set_index("id").loc["001", "title"] == "标题2"


def test_csv_header_line_is_the_writers_own() -> None:
    """The parent writes corpus.csv's header by hand; it must be what pyarrow writes."""
    sink = pa.BufferOutputStream()
    write_csv(schema.arrow_schema().empty_table(), sink, header=True)
    assert csv_header_line() == sink.getvalue().to_pybytes()


def test_statistics_from_histograms_equal_those_of_the_values() -> None:
    """The card's numbers come from counts per value; they must be those of the rows."""
    import numpy as np

    from corpus_export.assemble import IntDistribution

    rng = np.random.default_rng(0)
    parts = [
        rng.integers(0, 50_000, size=int(rng.integers(1, 3000)), dtype=np.int32) for _ in range(30)
    ]
    large = np.array([IntDistribution.HISTOGRAM_LIMIT + 7, 0, 3], dtype=np.int32)
    few = [np.array([5], np.int32), np.array([2, 9], np.int32), np.array([4, 4, 1, 8], np.int32)]
    for sample in ([*parts, large], parts, [large], [large, *few], few, few[:1], few[:2]):
        dist = IntDistribution()
        for part in sample:  # added a task at a time, as a build does
            dist.add(part)
        values = np.concatenate(sample).astype(np.int64)
        assert dist.summary() == {
            "min": int(values.min()),
            "p25": float(np.percentile(values, 25)),
            "median": float(np.median(values)),
            "p75": float(np.percentile(values, 75)),
            "max": int(values.max()),
            "mean": round(float(values.mean()), 1),
            "total": int(values.sum()),
        }
    assert IntDistribution().summary() == {}


def test_workers_convert_rows_without_loading_pandas() -> None:
    """A worker's pyarrow is told there is no pandas (~48 MB a process); pandas still imports."""
    run_python(
        "import sys, pyarrow as pa\n"
        "from corpus_export.engine import init_worker\n"
        "import os; init_worker(os.getppid())\n"
        "pa.array(['page', None]); pa.table({'n': [1, None]})\n"
        "assert 'pandas' not in sys.modules, 'pyarrow loaded pandas'\n"
        "import pandas\n"
    )


@pytest.mark.usefixtures("trust_new_files")
def test_files_rejected_by_the_scan_do_not_stop_an_unchanged_rebuild(tmp_path: Path) -> None:
    """a.txt and a.txt.gz share an id, and a link leads out of raw/: the scan rejects them by
    name, the same way every time, so a build with nothing changed still does nothing."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for i in range(5):
        (raw / f"{i}.txt").write_text(make_page(f"标题{i}"), encoding="utf-8")
    (raw / "0.txt.gz").write_bytes(gzip.compress(make_page("另一篇").encode()))
    (tmp_path / "elsewhere.txt").write_text(make_page("外面"), encoding="utf-8")
    (raw / "out.txt").symlink_to(tmp_path / "elsewhere.txt")
    out, cache = tmp_path / "inc" / "dist", tmp_path / "cache"
    first = corpus_export.build(raw, out, workers=1, cache_dir=cache)
    assert first.rejects_by_reason == {"duplicate": 1, "outside_raw": 1}
    assert corpus_export.build(raw, out, workers=1, cache_dir=cache).unchanged
    (raw / "0.txt.gz").unlink()  # the collision gone: rebuilt, and as a cold build would
    again = corpus_export.build(raw, out, workers=1, cache_dir=cache)
    assert not again.unchanged
    assert again.rejects_by_reason == {"outside_raw": 1}
    _same_as_cold(raw, out, tmp_path, cache)


def test_tasks_end_by_bytes_so_large_pages_make_small_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker holds one task's rows: tasks of large pages end at TASK_BYTES, not TASK_MAX."""
    process = sys.modules["corpus_export.process"]
    monkeypatch.setattr(process, "TASK_BYTES", 20_000)
    raw = tmp_path / "raw"
    raw.mkdir()
    sizes = {}
    for i in range(60):
        path = raw / f"{i:03d}.txt"
        path.write_text(_sized_page(f"标题{i}", 1 + i % 10), encoding="utf-8")
        sizes[f"{i:03d}"] = path.stat().st_size
    corpus_export.build(raw, tmp_path / "dist", workers=2)
    meta = pq.ParquetFile(tmp_path / "dist" / "corpus.parquet").metadata
    ids = pq.read_table(tmp_path / "dist" / "corpus.parquet", columns=["id"]).column("id")
    groups, at = [], 0
    for g in range(meta.num_row_groups):
        rows = meta.row_group(g).num_rows
        groups.append(ids[at : at + rows].to_pylist())
        at += rows
    assert len(groups) > 1 and sum(map(len, groups)) == 60
    for group in groups:  # each ends at the first file that brings it to the cap, or at the end
        total = sum(sizes[i] for i in group)
        assert total - sizes[group[-1]] < 20_000
        assert total >= 20_000 or group is groups[-1]


def test_the_file_list_lives_in_the_temp_folder_and_leftovers_are_swept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: PageMaker
) -> None:
    import subprocess
    import tempfile

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    subprocess.run(  # a build killed before its end
        [sys.executable, "-c", "from corpus_export.swap import make_scratch; make_scratch()"],
        env={**os.environ, "TMPDIR": str(temp)},
        check=True,
    )
    (left,) = temp.iterdir()
    (left / "files.arrow").write_bytes(b"x")
    live = temp / f"corpus-export-{os.getppid()}-abcd1234"  # another build's, running
    live.mkdir()
    (live / "files.arrow").write_bytes(b"x")
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text(page(), encoding="utf-8")
    corpus_export.build(raw, tmp_path / "out" / "dist", workers=2)
    assert sorted(p.name for p in temp.iterdir()) == [live.name]  # and its own is gone
    # a build that fails at once writes nothing beside --out
    with pytest.raises(corpus_export.CorpusExportError):
        corpus_export.build(tmp_path / "missing", tmp_path / "nowhere" / "dist")
    assert not (tmp_path / "nowhere").exists()
    assert sorted(p.name for p in temp.iterdir()) == [live.name]
