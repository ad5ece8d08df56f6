"""An export sent to an fsspec URL: the same bytes as a local build, sent again only if changed.

The tests use fsspec's in-memory file system (the same calls as s3://, gs://...), so they run
the build in this process: through the library, and through click's CliRunner.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest
from click.testing import CliRunner
from conftest import make_page, small_tasks

import corpus_export
from corpus_export.cli import cli
from corpus_export.errors import CorpusExportError


@pytest.fixture
def bucket() -> Iterator[str]:
    """A fresh memory:// folder, removed afterwards."""
    name = f"/bucket-{uuid.uuid4().hex[:8]}"
    yield f"memory://{name}"
    fs = fsspec.filesystem("memory")
    if fs.exists(name):
        fs.rm(name, recursive=True)


def remote_files(url: str) -> dict[str, bytes]:
    fs, root = fsspec.core.url_to_fs(url)
    return {p[len(root) + 1 :]: fs.cat_file(p) for p in fs.find(root)}


def local_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def write_pages(raw: Path, n: int, edited: int | None = None) -> None:
    raw.mkdir(exist_ok=True)
    for i in range(n):
        body = ("改过的段落。",) if i == edited else (f"第{i}篇的段落。",)
        (raw / f"{i:02d}.txt").write_text(make_page(f"标题{i}", paragraphs=body), "utf-8")


def test_an_export_sent_to_a_url_equals_a_local_build(tmp_path: Path, bucket: str) -> None:
    raw = tmp_path / "raw"
    write_pages(raw, 5)
    local = tmp_path / "local" / "dist"
    corpus_export.build(raw, local, workers=1)
    result = corpus_export.build(raw, f"{bucket}/data/dist", workers=1)
    assert remote_files(f"{bucket}/data/dist") == local_files(local)
    # the card goes beside the out folder, as it does locally
    assert remote_files(f"{bucket}/data")["CARD.md"] == (local.parent / "CARD.md").read_bytes()
    assert result.out_dir == f"{bucket}/data/dist"
    assert result.sent.sent == len(local_files(local)) + 1  # and the card
    assert (result.sent.kept, result.sent.removed) == (0, 0)


def test_a_rebuild_sends_only_what_changed_and_removes_what_went(
    tmp_path: Path, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_tasks(monkeypatch, 4)
    raw = tmp_path / "raw"
    write_pages(raw, 12)
    url = f"{bucket}/dist"
    first = corpus_export.build(raw, url, workers=1, shard_bytes=1500)  # several Hub shards
    assert len(first.shards) > 1

    again = corpus_export.build(raw, url, workers=1, shard_bytes=1500)  # nothing changed
    assert (again.sent.sent, again.sent.removed) == (0, 0)

    write_pages(raw, 12, edited=11)  # the last page: only the last shard of the Hub folder
    edited = corpus_export.build(raw, url, workers=1, shard_bytes=1500)
    local = tmp_path / "local" / "dist"
    corpus_export.build(raw, local, workers=1, shard_bytes=1500)
    assert remote_files(url) == local_files(local)
    changed = {rel for rel, info in edited.files.items() if first.files.get(rel) != info}
    assert {rel for rel in changed if rel.startswith("hf/data/")} == {f"hf/data/{first.shards[-1]}"}
    # exactly the files whose bytes changed were sent: the other shards stayed where they were
    assert edited.sent.bytes_sent == sum(edited.files[rel]["bytes"] for rel in changed)
    assert edited.sent.kept == len(edited.files) - len(changed)

    shutil.rmtree(local)
    corpus_export.build(raw, local, workers=1)  # one shard now: the others must go
    fewer = corpus_export.build(raw, url, workers=1)
    assert remote_files(url) == local_files(local)
    assert fewer.sent.removed == len(first.shards)


def test_a_folder_that_is_not_an_export_is_left_untouched(tmp_path: Path, bucket: str) -> None:
    raw = tmp_path / "raw"
    write_pages(raw, 2)
    fs, root = fsspec.core.url_to_fs(f"{bucket}/notes")
    fs.pipe(f"{root}/todo.txt", b"mine")
    with pytest.raises(CorpusExportError, match="not empty and holds no corpus-export export"):
        corpus_export.build(raw, f"{bucket}/notes", workers=1)
    assert remote_files(f"{bucket}/notes") == {"todo.txt": b"mine"}
    assert not fs.exists(f"{bucket}/CARD.md")


def test_raw_inside_the_out_url_is_refused(bucket: str) -> None:
    with pytest.raises(CorpusExportError, match="overlap"):
        corpus_export.build(f"{bucket}/dist/raw", f"{bucket}/dist", workers=1)


def test_an_out_url_at_the_root_of_a_store_needs_a_card_place(tmp_path: Path) -> None:
    write_pages(tmp_path / "raw", 1)
    with pytest.raises(CorpusExportError, match="--card, or card_path"):
        corpus_export.build(tmp_path / "raw", "memory://", workers=1)


def test_cli_sends_and_checks_a_url(tmp_path: Path, bucket: str) -> None:
    raw = tmp_path / "raw"
    write_pages(raw, 3)
    url = f"{bucket}/dist"
    runner = CliRunner()
    sent = runner.invoke(cli, ["build", "--raw", str(raw), "--out", url, "--workers", "1"])
    assert sent.exit_code == 0, sent.output
    assert f"sent {url}/" in sent.output
    assert f"{bucket}/CARD.md" in sent.output

    check = ["build", "--check", "--raw", str(raw), "--out", url, "--workers", "1"]
    ok = runner.invoke(cli, check)
    assert ok.exit_code == 0, ok.output
    assert "up to date" in ok.output

    fs, root = fsspec.core.url_to_fs(url)
    fs.pipe(f"{root}/corpus.csv", b"edited by hand")
    stale = runner.invoke(cli, check)
    assert stale.exit_code == 1
    assert f"{url}/corpus.csv" in stale.output
    assert "manifest.json" not in stale.output


def test_a_file_url_is_a_local_folder(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_pages(raw, 2)
    out = tmp_path / "site" / "dist"
    result = CliRunner().invoke(
        cli, ["build", "--raw", str(raw), "--out", out.as_uri(), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "corpus.parquet").is_file()
    assert (out.parent / "CARD.md").is_file()
    assert (out.parent / ".cache" / "corpus-export").is_dir()  # a local build: cached


@pytest.mark.usefixtures("trust_new_files")
def test_with_a_cache_a_url_export_is_rebuilt_incrementally(
    tmp_path: Path, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = tmp_path / "raw"
    write_pages(raw, 6)
    url, cache = f"{bucket}/dist", tmp_path / "cache"
    first = corpus_export.build(raw, url, workers=1, cache_dir=cache)
    assert not first.unchanged
    again = corpus_export.build(raw, url, workers=1, cache_dir=cache)
    assert again.unchanged  # the copy kept in the cache was up to date: nothing built
    assert (again.sent.sent, again.sent.removed) == (0, 0)  # and nothing sent
    write_pages(raw, 6, edited=3)
    edited = corpus_export.build(raw, url, workers=1, cache_dir=cache)
    local = tmp_path / "cold" / "dist"
    corpus_export.build(raw, local, workers=1)
    assert remote_files(url) == local_files(local)
    assert edited.sent.sent < len(local_files(local)) + 2
    # the CLI keeps that copy under .cache/corpus-export in the current folder
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["build", "--raw", "raw", "--out", f"{bucket}/other"])
    assert result.exit_code == 0, result.output
    assert list((tmp_path / ".cache" / "corpus-export" / "sent").iterdir())


def test_a_local_card_for_a_url_export_is_checked_like_any_card(
    tmp_path: Path, bucket: str
) -> None:
    raw = tmp_path / "raw"
    write_pages(raw, 2)
    notes = tmp_path / "NOTES.md"
    notes.write_text("mine\n", encoding="utf-8")
    (tmp_path / "adir").mkdir()
    for card, says in [
        (notes, "was not written by corpus-export"),
        (raw / "00.txt", "inside the raw folder"),
        (tmp_path / "adir", "is a folder"),
    ]:
        with pytest.raises(CorpusExportError, match=says):
            corpus_export.build(raw, f"{bucket}/dist", card_path=card, workers=1)
    assert notes.read_text(encoding="utf-8") == "mine\n"
    fs, root = fsspec.core.url_to_fs(bucket)
    assert not fs.exists(f"{root}/dist")  # refused before anything was sent


def test_a_card_url_holding_someone_elses_file_is_refused(tmp_path: Path, bucket: str) -> None:
    raw = tmp_path / "raw"
    write_pages(raw, 2)
    fs, root = fsspec.core.url_to_fs(bucket)
    fs.pipe(f"{root}/proj/CARD.md", b"# our own notes\n")
    with pytest.raises(CorpusExportError, match="not written by corpus-export"):
        corpus_export.build(raw, f"{bucket}/proj/dist", workers=1)
    assert fs.cat_file(f"{root}/proj/CARD.md") == b"# our own notes\n"
    with pytest.raises(CorpusExportError, match="hf://"):
        corpus_export.build(raw, "hf://datasets/me/x/dist", workers=1)


def test_the_cli_asks_for_a_card_at_the_root_of_a_store(tmp_path: Path) -> None:
    write_pages(tmp_path / "raw", 1)
    result = CliRunner().invoke(
        cli, ["build", "--raw", str(tmp_path / "raw"), "--out", "memory://"]
    )
    assert result.exit_code == 2
    assert "pass --card" in result.output


@pytest.mark.usefixtures("trust_new_files")
def test_a_send_cut_short_is_finished_by_the_next_build(
    tmp_path: Path, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A send that fails half-way must not leave a file the next build takes for sent, even
    when the raw folder goes back to what the destination's manifest describes."""
    raw = tmp_path / "raw"
    write_pages(raw, 4)
    url = f"{bucket}/dist"
    corpus_export.build(raw, url, workers=1)
    fs, root = fsspec.core.url_to_fs(bucket)
    fs.pipe(f"{root}/dist/team-notes.md", b"not ours")  # put there by someone else
    write_pages(raw, 4, edited=2)  # same-size edits change corpus.csv and corpus.parquet
    memory = type(fs)
    real_put = memory.put_file
    sent: list[str] = []

    def fail_after_one(self: object, lpath: str, rpath: str, **kw: object) -> None:
        if sent:
            raise OSError(5, "connection reset")
        sent.append(rpath)
        real_put(self, lpath, rpath, **kw)

    monkeypatch.setattr(memory, "put_file", fail_after_one)
    with pytest.raises(CorpusExportError, match="lists only files that are complete"):
        corpus_export.build(raw, url, workers=1)
    monkeypatch.undo()
    write_pages(raw, 4)  # back to the pages the destination's manifest was made from
    local = tmp_path / "local" / "dist"
    corpus_export.build(raw, local, workers=1)
    corpus_export.build(raw, url, workers=1)
    got = remote_files(url)
    assert got.pop("team-notes.md") == b"not ours"  # never ours to remove
    assert got == local_files(local)
