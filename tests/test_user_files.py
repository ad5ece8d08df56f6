"""A build touches only what it made: another export's card, a user's files in or beside the
out folder, and raw files that are not pages are never lost without a word."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_page

from corpus_export.cli import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with two corpora, raw/ and raw2/, as the current folder."""
    write(tmp_path / "raw" / "a.txt", make_page("第一个语料"))
    write(tmp_path / "raw2" / "b.txt", make_page("第二个语料"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---------------------------------------------------------------------------------------------
# the card belongs to one export


def test_a_second_corpus_never_overwrites_the_first_ones_card(project: Path) -> None:
    assert run("build", "--raw", "raw", "--out", "dist", "--workers", "1")[0] == 0
    card = (project / "CARD.md").read_bytes()
    code, output = run("build", "--raw", "raw2", "--out", "dist2", "--workers", "1")
    assert code == 2, output
    assert output.startswith("Error: the card 'CARD.md' is the card of the export 'dist'")
    assert "--card PATH" in output
    assert len(output.strip().splitlines()) == 1, output
    assert (project / "CARD.md").read_bytes() == card
    assert not (project / "dist2").exists()
    assert not list(project.glob("dist2.tmp-*")) and not list(project.glob(".CARD.md.tmp-*"))
    code, output = run("build", "--raw", "raw", "--out", "dist", "--check", "--workers", "1")
    assert code == 0, output
    # with a card of its own, the second corpus builds, and both check
    code, output = run(
        "build", "--raw", "raw2", "--out", "dist2", "--card", "CARD2.md", "--workers", "1"
    )
    assert code == 0, output
    for raw, out, card_name in (("raw", "dist", "CARD.md"), ("raw2", "dist2", "CARD2.md")):
        code, output = run(
            "build", "--raw", raw, "--out", out, "--card", card_name, "--check", "--workers", "1"
        )
        assert code == 0, output


def test_the_card_follows_its_own_export_from_build_to_build(project: Path) -> None:
    assert run("build", "--raw", "raw", "--out", "dist", "--workers", "1")[0] == 0
    first = (project / "CARD.md").read_bytes()
    write(project / "raw" / "c.txt", make_page("又一篇"))
    assert run("build", "--raw", "raw", "--out", "dist", "--workers", "1")[0] == 0
    assert (project / "CARD.md").read_bytes() != first
    assert (project / "CARD.md").read_bytes() == (project / "dist/hf/README.md").read_bytes()


def test_a_card_replaced_by_the_same_bytes_is_not_overwritten(project: Path) -> None:
    """Two exports of the same pages share one card: the second build changes nothing in it."""
    assert run("build", "--raw", "raw", "--out", "dist", "--workers", "1")[0] == 0
    card = (project / "CARD.md").read_bytes()
    code, output = run("build", "--raw", "raw", "--out", "copy", "--workers", "1")
    assert code == 0, output
    assert (project / "CARD.md").read_bytes() == card


def test_a_card_that_is_also_this_exports_card_follows_it(project: Path) -> None:
    """Two exports of the same pages, each with its own card: the cards are alike, and either
    export's next build updates its own card."""
    for out in ("a", "b"):
        code, output = run(
            "build", "--raw", "raw", "--out", out, "--card", f"{out}.md", "--workers", "1"
        )
        assert code == 0, output
    assert (project / "a.md").read_bytes() == (project / "b.md").read_bytes()
    other = (project / "b.md").read_bytes()
    write(project / "raw" / "c.txt", make_page("又一篇"))
    code, output = run("build", "--raw", "raw", "--out", "a", "--card", "a.md", "--workers", "1")
    assert code == 0, output
    assert (project / "a.md").read_bytes() == (project / "a/hf/README.md").read_bytes() != other
    assert (project / "b.md").read_bytes() == other


def test_the_card_of_an_export_beside_the_out_folder_is_kept(project: Path) -> None:
    """The card's own folder is not the only place its export can be: --card elsewhere."""
    card = project / "docs" / "CARD.md"
    card.parent.mkdir()
    run("build", "--raw", "raw", "--out", "data/dist", "--card", str(card), "--workers", "1")
    first = card.read_bytes()
    code, output = run(
        "build", "--raw", "raw2", "--out", "data/dist2", "--card", str(card), "--workers", "1"
    )
    assert code == 2, output
    assert "is the card of the export" in output and "dist'" in output
    assert card.read_bytes() == first


def test_a_card_whose_export_was_removed_is_replaced(project: Path) -> None:
    assert run("build", "--raw", "raw", "--out", "dist", "--workers", "1")[0] == 0
    shutil.rmtree(project / "dist")
    write(project / "raw" / "c.txt", make_page("又一篇"))
    code, output = run("build", "--raw", "raw", "--out", "dist", "--workers", "1")
    assert code == 0, output
    assert (project / "CARD.md").read_bytes() == (project / "dist/hf/README.md").read_bytes()


# ---------------------------------------------------------------------------------------------
# files a user put into the out folder


def test_files_a_user_put_into_the_out_folder_are_named_when_removed(project: Path) -> None:
    assert run("build", "--raw", "raw", "--out", "dist", "--workers", "1")[0] == 0
    write(project / "dist" / "notes.txt", "mine")
    write(project / "dist" / "hf" / "extra" / "plot.png", "mine too")
    (project / "dist" / "link").symlink_to(project / "raw")
    code, output = run("build", "--raw", "raw", "--out", "dist", "--no-cache", "-q")
    assert code == 0, output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Warning: removed 3 file(s) from "), output
    assert lines[0].endswith("not part of the export it held: hf/extra/plot.png, link, notes.txt")
    assert not (project / "dist" / "notes.txt").exists()
    assert (project / "raw" / "a.txt").is_file()  # a link is removed, never what it names
    code, output = run("build", "--raw", "raw", "--out", "dist", "--no-cache", "-q")
    assert (code, output) == (0, "")  # the export alone: nothing to say


def test_many_removed_files_are_named_up_to_a_few(project: Path) -> None:
    import corpus_export

    corpus_export.build("raw", "dist", workers=1)
    for i in range(25):
        write(project / "dist" / f"x{i:02d}.txt", "")
    result = corpus_export.build("raw", "dist", workers=1)
    (warning,) = result.warnings
    assert "removed 25 file(s)" in warning and warning.endswith("x09.txt and 15 more")


# ---------------------------------------------------------------------------------------------
# files under raw/ that are not pages


def test_files_that_are_not_pages_are_named(project: Path) -> None:
    write(project / "raw" / "UPPER.TXT", make_page("大写"))
    write(project / "raw" / "doc.docx", "")
    write(project / "raw" / "sub" / "notes.md", "")
    code, output = run("build", "--raw", "raw", "--out", "dist", "--workers", "1")
    assert code == 0, output
    assert (
        output.splitlines()[0]
        == "1 pages: 1 rows, 0 rejects; 3 other files ignored (-v names them)"
    )
    manifest = json.loads((project / "dist" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["ignored_files"] == ["UPPER.TXT", "doc.docx", "sub/notes.md"]
    assert manifest["counts"]["ignored_files"] == 3
    code, output = run("build", "--raw", "raw", "--out", "dist", "--no-cache", "-v")
    assert code == 0, output
    lines = output.splitlines()
    at = lines.index("  ignored: UPPER.TXT")
    assert lines[at : at + 3] == [
        "  ignored: UPPER.TXT",
        "  ignored: doc.docx",
        "  ignored: sub/notes.md",
    ]
    assert run("validate", "dist")[0] == 0
    # renamed, the same count: a cached build is not "up to date" with the old names
    (project / "raw" / "doc.docx").rename(project / "raw" / "doc2.docx")
    code, output = run("build", "--raw", "raw", "--out", "dist", "-v")
    assert code == 0 and "  ignored: doc2.docx" in output, output
    manifest = json.loads((project / "dist" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["ignored_files"] == ["UPPER.TXT", "doc2.docx", "sub/notes.md"]


def test_many_files_that_are_not_pages_are_named_up_to_a_limit(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.modules["corpus_export.read"], "IGNORED_NAMED", 3)
    for i in reversed(range(10)):
        write(project / "raw" / f"img{i}.png", "")
    code, output = run("build", "--raw", "raw", "--out", "dist", "--workers", "1", "-v")
    assert code == 0, output
    assert output.splitlines()[1:5] == [
        "  ignored: img0.png",
        "  ignored: img1.png",
        "  ignored: img2.png",
        "  and 7 more",
    ]
    manifest = json.loads((project / "dist" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["ignored_files"] == ["img0.png", "img1.png", "img2.png"]
    assert manifest["counts"]["ignored_files"] == 10


def test_a_raw_folder_of_no_pages_names_what_it_holds(project: Path) -> None:
    shutil.rmtree(project / "raw")
    write(project / "raw" / "page.html", "")
    code, output = run("build", "--raw", "raw", "--out", "dist")
    assert (code, output) == (
        2,
        "Error: no *.txt or *.txt.gz files under 'raw' (1 other files ignored: page.html)\n",
    )


def test_a_manifest_of_pages_alone_has_no_list_of_ignored_files(project: Path) -> None:
    assert run("build", "--raw", "raw", "--out", "dist", "--workers", "1")[0] == 0
    manifest = json.loads((project / "dist" / "manifest.json").read_text(encoding="utf-8"))
    assert "ignored_files" not in manifest and manifest["counts"]["ignored_files"] == 0
