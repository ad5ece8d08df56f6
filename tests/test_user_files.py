"""A build touches only what it made: another export's card, a user's files in or beside the
out folder, and raw files that are not pages are never lost without a word."""

from __future__ import annotations

import shutil
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
