"""`corpus-export validate`: an export a build would not have written fails, whatever else was
changed to hide it (the manifest re-signed, as anyone editing the files can do)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import make_page, small_tasks

from corpus_export import build
from corpus_export.cli import cli
from corpus_export.process import write_csv

PAGES = 14


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder (raw/, dist/, CARD.md) whose export has several row groups and shards."""
    root = tmp_path_factory.mktemp("project")
    raw = root / "raw"
    raw.mkdir()
    for i in range(PAGES):
        text = make_page(
            f"标题{i}",
            source=f"来源{i % 3}",
            paragraphs=(f"第{i}篇的第一段。", f"第{i}篇的第二段。"),
        )
        (raw / f"{i:03d}.txt").write_text(text, encoding="utf-8")
    (raw / "050_empty.txt").write_bytes(b"")
    (raw / "051_dup.txt").write_bytes((raw / "001.txt").read_bytes())
    with pytest.MonkeyPatch.context() as mp:
        # tasks of 3 pages: several row groups (each its own shard at 1 byte a shard)
        small_tasks(mp, 3)
        build(raw, root / "dist", card_path=root / "CARD.md", workers=1, shard_bytes=1)
    return root


@pytest.fixture
def project(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(built, copy)  # real copies: corpus.parquet and a shard may be linked
    return copy


def validate(dist: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["validate", str(dist), *args])
    return result.exit_code, result.output


def resign(dist: Path, **manifest_changes: object) -> None:
    """Do what anyone editing an export can: record every file's SHA-256 and size anew in
    manifest.json (and change other manifest fields), so only the content checks can tell."""
    path = dist / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.update(manifest_changes)
    manifest["files"] = {
        p.relative_to(dist).as_posix(): {
            "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            "bytes": p.stat().st_size,
        }
        for p in sorted(dist.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }
    path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def shards(dist: Path) -> list[Path]:
    return sorted((dist / "hf" / "data").glob("train-*.parquet"))


def test_a_fresh_export_with_several_shards_validates(project: Path) -> None:
    assert len(shards(project / "dist")) >= 3
    code, output = validate(project / "dist")
    assert code == 0, output
    assert "CARD.md == the card" in output
    resign(project / "dist")  # re-signing changes nothing by itself
    assert validate(project / "dist")[0] == 0


def test_the_repositorys_export_validates() -> None:
    repo = Path(__file__).resolve().parents[1]
    code, output = validate(repo / "dist")
    assert code == 0, output


def test_a_shard_replaced_by_a_copy_of_another(project: Path) -> None:
    dist = project / "dist"
    first, second = shards(dist)[:2]
    shutil.copyfile(first, second)
    resign(dist)
    code, output = validate(dist)
    assert code == 1, output
    assert f"hf/data/{second.name}: is not row groups" in output


def test_two_shards_swapped(project: Path) -> None:
    dist = project / "dist"
    first, second = shards(dist)[:2]
    tmp = first.with_suffix(".tmp")
    first.rename(tmp)
    second.rename(first)
    tmp.rename(second)
    resign(dist)
    code, output = validate(dist)
    assert code == 1, output
    assert f"hf/data/{first.name}: is not row groups" in output
    assert f"hf/data/{second.name}: is not row groups" in output


def test_a_row_removed_from_every_file_with_the_counts_fixed(project: Path) -> None:
    dist = project / "dist"
    table = pq.read_table(dist / "corpus.parquet")
    gone = table["id"][4].as_py()
    kept = table.filter(pa.compute.not_equal(table["id"], gone))
    pq.write_table(kept, dist / "corpus.parquet", row_group_size=3, compression="zstd")
    write_csv(kept, dist / "corpus.csv", header=True)
    for shard in shards(dist):
        shard.unlink()
    only = "train-00000-of-00001.parquet"
    shutil.copyfile(dist / "corpus.parquet", dist / "hf" / "data" / only)
    manifest = json.loads((dist / "manifest.json").read_text(encoding="utf-8"))
    counts = manifest["counts"]
    counts["rows"] -= 1
    counts["files_seen"] -= 1
    resign(dist, counts=counts, hf_shards=[only], settings={"shard_bytes": 10**9})
    code, output = validate(dist)
    assert code == 1, output
    # the card still describes the rows as they were, and the metadata the files
    assert "hf/README.md: line" in output
    assert "croissant.json: distribution[0].contentSize" in output
    assert "datapackage.json: resources[0].bytes" in output


def test_an_edited_hub_card(project: Path) -> None:
    dist = project / "dist"
    for card in (dist / "hf" / "README.md", project / "CARD.md"):  # both, alike
        text = card.read_text(encoding="utf-8")
        assert "- Distinct sources: 3." in text
        card.write_text(text.replace("- Distinct sources: 3.", "- Distinct sources: 30."))
    resign(dist)
    code, output = validate(dist)
    assert code == 1, output
    assert "hf/README.md: line" in output
    assert "'- Distinct sources: 30.', the export's rows and files give " in output


def test_a_card_beside_the_export_that_is_not_its_card(project: Path) -> None:
    card = project / "CARD.md"
    card.write_text(card.read_text(encoding="utf-8").replace("标题0", "标题X"), encoding="utf-8")
    code, output = validate(project / "dist")
    assert code == 1, output
    assert f"{card}: line" in output
    # named explicitly, it must be there; another card path is checked instead
    assert validate(project / "dist", "--card", str(project / "nope.md"))[0] == 1
    shutil.copyfile(project / "dist" / "hf" / "README.md", project / "good.md")
    assert validate(project / "dist", "--card", str(project / "good.md"))[0] == 0
    # a CARD.md of the user's own (not a card corpus-export writes) is none of validate's business
    card.write_text("# My notes\n", encoding="utf-8")
    assert validate(project / "dist")[0] == 0


def test_a_croissant_hash_that_does_not_match_its_file(project: Path) -> None:
    dist = project / "dist"
    path = dist / "croissant.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["distribution"][0]["sha256"] = hashlib.sha256(b"other").hexdigest()
    path.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    resign(dist)
    code, output = validate(dist)
    assert code == 1, output
    assert "croissant.json: distribution[0].sha256 is" in output


@pytest.mark.parametrize(
    ("key", "value"),
    [("hash", "sha256:" + "0" * 64), ("bytes", 1), ("path", "other.csv")],
)
def test_a_datapackage_that_does_not_describe_its_files(
    project: Path, key: str, value: object
) -> None:
    dist = project / "dist"
    path = dist / "datapackage.json"
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta["resources"][1][key] = value
    path.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    resign(dist)
    code, output = validate(dist)
    assert code == 1, output
    assert f"datapackage.json: resources[1].{key} is" in output


def test_rejects_that_do_not_match_the_counts(project: Path) -> None:
    dist = project / "dist"
    lines = (dist / "rejects.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (dist / "rejects.csv").write_text("".join(lines[:-1]), encoding="utf-8")
    resign(dist)
    code, output = validate(dist)
    assert code == 1, output
    assert "rejects.csv: 1 rejects, the manifest says 2" in output


def test_an_export_of_another_version_is_not_called_valid(project: Path) -> None:
    resign(project / "dist", generator="corpus-export 0.0.1")
    code, output = validate(project / "dist")
    assert code == 1, output
    assert "written by 'corpus-export 0.0.1'" in output


# --- validate --raw: the rows against the pages they come from ---------------------------------


def edit(page: Path, old: str, new: str) -> None:
    text = page.read_text(encoding="utf-8")
    assert old in text
    page.write_text(text.replace(old, new), encoding="utf-8")


def test_raw_untouched_gives_the_exports_rows(project: Path) -> None:
    code, output = validate(project / "dist", "--raw", str(project / "raw"))
    assert code == 0, output
    assert f"{PAGES + 2} of {PAGES + 2} raw pages give these rows and rejects" in output


def test_raw_page_edited_after_the_build(project: Path) -> None:
    edit(project / "raw" / "005.txt", "第5篇的第二段。", "第5篇的第二段,改过。")
    code, output = validate(project / "dist", "--raw", str(project / "raw"))
    assert code == 1, output
    assert "id '005': body, body_chars, sha256 differ from what the raw page gives now" in output
    assert output.count("id '") == 1, output


def test_raw_sample_is_a_fixed_choice_of_n_pages(project: Path) -> None:
    raw = project / "raw"
    args = ("--raw", str(raw), "--sample", "4", "--workers", "1")
    code, output = validate(project / "dist", *args)
    assert code == 0, output
    assert f"4 of {PAGES + 2} raw pages" in output
    for i in range(PAGES):  # every row is stale now: the sample names its own 3 or 4
        edit(raw / f"{i:03d}.txt", "的第二段。", "的第二段!")
    code, output = validate(project / "dist", *args)
    assert code == 1, output
    named = [line for line in output.splitlines() if "differ from what the raw page" in line]
    assert 1 <= len(named) <= 4, output
    assert validate(project / "dist", *args)[1] == output  # the same pages each time
    assert validate(project / "dist", "--sample", "4")[0] == 2  # --sample needs --raw


def test_raw_is_not_compared_with_an_export_whose_files_disagree(project: Path) -> None:
    (project / "dist" / "corpus.csv").write_text("x\n", encoding="utf-8")
    code, output = validate(project / "dist", "--raw", str(project / "raw"))
    assert code == 1, output
    assert "not compared, as the export's own files disagree" in output


def test_raw_pages_added_and_removed(project: Path) -> None:
    raw = project / "raw"
    (raw / "099_new.txt").write_text(make_page("新的文章"), encoding="utf-8")
    (raw / "003.txt").unlink()
    code, output = validate(project / "dist", "--raw", str(raw))
    assert code == 1, output
    assert "raw pages with neither a row nor a reject: 1, e.g. ids ['099_new']" in output
    assert "rows with no raw page: 1, e.g. ids ['003']" in output


def test_raw_reject_turned_into_a_page_and_a_page_into_a_reject(project: Path) -> None:
    raw = project / "raw"
    (raw / "050_empty.txt").write_text(make_page("不再是空的"), encoding="utf-8")
    (raw / "002.txt").write_bytes(b"   \n")
    code, output = validate(project / "dist", "--raw", str(raw))
    assert code == 1, output
    assert "id '050_empty': the raw page gives a row; rejects.csv rejects it (empty)" in output
    assert "id '002': the raw page is a reject (empty: " in output


def test_raw_duplicates_judged_as_a_build_judges_them(project: Path) -> None:
    raw = project / "raw"
    # the kept page changes, so its duplicate is no longer one
    edit(raw / "001.txt", "第1篇的第一段。", "第1篇的第一段,改过。")
    # a page becomes the same article as an earlier row
    shutil.copyfile(raw / "000.txt", raw / "002.txt")
    code, output = validate(project / "dist", "--raw", str(raw))
    assert code == 1, output
    assert "id '051_dup': rejected as a duplicate of '001', but the raw pages' titles" in output
    assert "id '002': same title and body as an earlier row" in output
