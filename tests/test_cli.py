"""The CLI through click's CliRunner: exit codes, summaries, errors, --check, parse."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SEED, PageMaker, run_python

from corpus_export.cli import cli


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_build_writes_every_file_and_summary(raw_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    code, output = run("build", "--raw", str(raw_dir), "--out", str(out), "--workers", "1")
    assert code == 0, output
    assert output.splitlines()[0] == "1 pages: 1 rows, 0 rejects"
    for name in (
        "corpus.parquet",
        "corpus.csv",
        "rejects.csv",
        "manifest.json",
        "hf/data/train-00000-of-00001.parquet",
    ):
        assert (out / name).is_file(), name


def test_strict_exits_1_on_rejects(raw_dir: Path, tmp_path: Path) -> None:
    (raw_dir / "empty.txt").write_bytes(b"")
    out = str(tmp_path / "dist")
    code, output = run("build", "--raw", str(raw_dir), "--out", out, "--workers", "1")
    assert code == 0, output
    assert "2 pages: 1 rows, 1 rejects (1 empty)" in output
    code, output = run("build", "--raw", str(raw_dir), "--out", out, "--strict", "--workers", "1")
    assert code == 1
    assert "--strict: 1 page(s) rejected" in output


def test_missing_raw_folder_is_one_line_exit_2(tmp_path: Path) -> None:
    code, output = run("build", "--raw", str(tmp_path / "nope"), "--out", str(tmp_path / "d"))
    assert code == 2
    assert output == f"Error: raw folder {str(tmp_path / 'nope')!r} does not exist\n"


def test_empty_raw_folder_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "notes.md").write_text("x")
    code, output = run("build", "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "d"))
    assert code == 2
    assert output == (
        f"Error: no *.txt or *.txt.gz files under {str(tmp_path / 'raw')!r} "
        "(1 other files ignored: notes.md)\n"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_out_is_exit_2(raw_dir: Path, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    code, output = run("build", "--raw", str(raw_dir), "--out", str(locked / "dist"))
    assert code == 2
    assert output.startswith("Error: cannot write beside the out folder")


def test_out_is_a_file_is_exit_2(raw_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "dist"
    target.write_text("a file")
    code, output = run("build", "--raw", str(raw_dir), "--out", str(target), "--workers", "1")
    assert code == 2
    assert output.splitlines()[-1] == (
        f"Error: out folder {str(target.resolve())!r} exists and is not a folder"
    )
    assert target.read_text() == "a file"


def test_out_under_a_file_is_exit_2(raw_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    code, output = run("build", "--raw", str(raw_dir), "--out", str(blocker / "dist"))
    assert code == 2
    assert output.startswith("Error: cannot write beside the out folder")
    assert len(output.splitlines()) == 1


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("where", ["same", "raw_inside_out", "out_inside_raw"])  # path or URL
def test_out_overlapping_raw_is_refused_and_raw_kept(
    raw_dir: Path, tmp_path: Path, where: str
) -> None:
    if where == "raw_inside_out":
        raw_dir = raw_dir.rename(tmp_path / "outer")
        out, raw = tmp_path / "outer", tmp_path / "outer" / "pages"
        raw.mkdir()
        (out / next(p.name for p in out.glob("*.txt"))).rename(raw / "page.txt")
    else:
        raw = raw_dir
        out = raw_dir if where == "same" else raw_dir / "dist"
    before = _tree(tmp_path)
    code, output = run("build", "--raw", str(raw), "--out", str(out), "--workers", "1")
    assert code == 2
    code, output = run("build", "--raw", raw.as_uri(), "--out", str(out), "--workers", "1")
    assert code == 2
    assert output.startswith("Error: the out folder") and "overlap" in output
    assert len(output.splitlines()) == 1
    assert _tree(tmp_path) == before  # nothing written, nothing deleted


def test_out_holding_other_files_is_left_alone(raw_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "mydata"
    out.mkdir()
    (out / "analysis.ipynb").write_text("{}")
    code, output = run("build", "--raw", str(raw_dir), "--out", str(out), "--workers", "1")
    assert code == 2
    assert "is not empty and holds no corpus-export export" in output
    assert [p.name for p in out.iterdir()] == ["analysis.ipynb"]
    assert not (tmp_path / "CARD.md").exists()
    (out / "analysis.ipynb").unlink()  # an empty folder, or an earlier export: built
    assert run("build", "--raw", str(raw_dir), "--out", str(out), "--workers", "1")[0] == 0
    assert run("build", "--raw", str(raw_dir), "--out", str(out), "--workers", "1")[0] == 0


def test_out_dot_and_card_inside_out_are_one_line_errors(
    raw_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # holds raw/: `--out .` would replace it
    code, output = run("build", "--raw", "raw", "--out", ".", "--workers", "1")
    assert (code, len(output.splitlines())) == (2, 1), output
    assert output.startswith("Error: the out folder '.' and the raw folder 'raw' overlap")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]  # no stray card or stage
    assert run("build", "--raw", "raw", "--out", "d", "--workers", "1")[0] == 0
    code, output = run("build", "--raw", "raw", "--out", "d", "--card", "d/CARD.md")
    assert (code, len(output.splitlines())) == (2, 1), output
    assert output.startswith("Error: the card 'd/CARD.md' is inside the out folder 'd'")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".cache", "CARD.md", "d", "raw"]


def test_a_cache_inside_out_or_raw_is_a_one_line_error(
    raw_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache inside the out folder would land in the export (and fail its validation); one
    inside the raw folder would be counted among its files."""
    monkeypatch.chdir(tmp_path)
    for cache in ("d/.cc", "raw/.cc"):
        code, output = run("build", "--raw", "raw", "--out", "d", "--cache-dir", cache)
        assert (code, len(output.splitlines())) == (2, 1), output
        assert output.startswith(f"Error: the cache folder {cache!r} is inside the ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]  # nothing written
    # holding both is no longer the problem, but the folder is not the cache's alone
    code, output = run("build", "--raw", "raw", "--out", "d", "--cache-dir", ".")
    assert (code, len(output.splitlines())) == (2, 1), output
    assert "is not empty and is not a corpus-export cache" in output


@pytest.mark.usefixtures("trust_new_files")
def test_rebuild_of_unchanged_raw_says_up_to_date(raw_dir: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "dist")
    code, first = run("build", "--raw", str(raw_dir), "--out", out, "--workers", "1")
    assert code == 0
    assert "wrote" in first
    assert (tmp_path / ".cache" / "corpus-export").is_dir()  # beside the out folder
    code, second = run("build", "--raw", str(raw_dir), "--out", out, "--workers", "1")
    assert code == 0
    assert second.splitlines()[0] == first.splitlines()[0]  # the same counts
    assert second.splitlines()[-1].endswith(
        "are up to date (nothing changed since they were built)"
    )
    code, third = run("build", "--no-cache", "--raw", str(raw_dir), "--out", out, "--workers", "1")
    assert "wrote" in third


def test_check_passes_then_fails_when_stale(raw_dir: Path, tmp_path: Path, page: PageMaker) -> None:
    out = str(tmp_path / "dist")
    assert run("build", "--raw", str(raw_dir), "--out", out, "--workers", "1")[0] == 0
    code, output = run("build", "--check", "--raw", str(raw_dir), "--out", out)
    assert code == 0, output
    assert "up to date" in output
    (raw_dir / "new.txt").write_text(page("新的一篇"), encoding="utf-8")
    code, output = run("build", "--check", "--raw", str(raw_dir), "--out", out)
    assert code == 1
    assert "stale:" in output
    assert f"{out}/corpus.parquet" in output
    assert f"{out}/manifest.json" in output


def test_check_notices_a_hand_edit(raw_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    assert run("build", "--raw", str(raw_dir), "--out", str(out), "--workers", "1")[0] == 0
    with (out / "corpus.csv").open("a", encoding="utf-8") as fh:
        fh.write("\n")
    code, output = run("build", "--check", "--raw", str(raw_dir), "--out", str(out))
    assert code == 1
    assert f"{out}/corpus.csv" in output


def test_parse_prints_row_json() -> None:
    code, output = run("parse", str(SEED))
    assert code == 0
    row = json.loads(output)
    assert row["id"] == "000_bba07cf85f81785c"
    assert row["teaser_count"] == 10


def test_parse_prints_reject_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"")
    code, output = run("parse", str(bad))
    assert code == 1
    assert json.loads(output) == {"id": "bad", "reason": "empty", "detail": "no bytes"}


def test_reasons_lists_every_code() -> None:
    code, output = run("reasons")
    assert code == 0
    for reason in (
        "undecodable",
        "empty",
        "unrecognised_layout",
        "missing_title",
        "missing_body",
        "duplicate",
        "unreadable",
        "outside_raw",
    ):
        assert reason in output


def test_help_on_every_command() -> None:
    for command in ("build", "parse", "reasons"):
        code, output = run(command, "--help")
        assert code == 0
        assert "Usage:" in output


def test_check_and_push_rebuild_with_the_recorded_shard_size(raw_dir: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "dist")
    args = ("--raw", str(raw_dir), "--out", out)
    assert run("build", *args, "--workers", "1", "--shard-size", "1KB")[0] == 0
    manifest = json.loads((tmp_path / "dist" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"] == {
        "shard_bytes": 1000,
        "repo_id": None,
        "pseudonymize": None,
        "drop": [],
        "near_dups": "reject",
        "near_dup_threshold": 0.8,
    }
    code, output = run("build", "--check", *args)
    assert code == 0, output
    assert run("build", *args, "--shard-size", "1KB", "--repo-id", "someone/corpus")[0] == 0
    code, output = run("push", "someone/corpus", *args, "--dry-run")
    assert code == 0, output


@pytest.mark.parametrize("size", ["abc", "5XB", "inf", "1e400", "nan", "0", "-1MB"])
def test_bad_shard_size_is_a_usage_error(raw_dir: Path, tmp_path: Path, size: str) -> None:
    code, output = run(
        "build", "--raw", str(raw_dir), "--out", str(tmp_path / "d"), "--shard-size", size
    )
    assert code == 2
    assert output.splitlines()[-1].startswith("Error: Invalid value for '--shard-size'")
    assert "Traceback" not in output


def test_the_build_script_never_loads_pandas(raw_dir: Path, tmp_path: Path) -> None:
    """The script writes rejects and statistics without pandas (~0.25 s and ~48 MB to load)."""
    (raw_dir / "copy.txt").write_bytes(SEED.read_bytes())  # a duplicate: a reject row
    (raw_dir / "empty.txt").write_bytes(b"")
    run_python(
        "import sys\n"
        "from corpus_export import cli\n"
        f"sys.argv = ['corpus-export', 'build', '--raw', {str(raw_dir)!r}, "
        f"'--out', {str(tmp_path / 'dist')!r}, '--quiet']\n"
        "try:\n"
        "    cli.main()\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "assert 'pandas' not in sys.modules, 'the build loaded pandas'\n"
    )
    rejects = (tmp_path / "dist" / "rejects.csv").read_text(encoding="utf-8")
    assert "duplicate" in rejects and "empty" in rejects


@pytest.mark.usefixtures("trust_new_files")
def test_out_that_is_a_link_to_a_folder_stays_one(raw_dir: Path, tmp_path: Path) -> None:
    big = tmp_path / "bigdisk" / "dist"
    big.mkdir(parents=True)
    (tmp_path / "dist").symlink_to(big, target_is_directory=True)
    for _ in range(2):  # the first build, then a rebuild over it
        code, output = run("build", "--raw", str(raw_dir), "--out", str(tmp_path / "dist"))
        assert code == 0, output
        assert (tmp_path / "dist").is_symlink()
        assert (big / "manifest.json").is_file()
        (raw_dir / "extra.txt").write_text("x", encoding="utf-8")  # a change: built again
    assert (tmp_path / "CARD.md").is_file()  # beside the link, where the user asked
    leftovers = [p.name for p in [*tmp_path.iterdir(), *big.parent.iterdir()] if ".old-" in p.name]
    assert leftovers == []


def test_card_paths_that_would_lose_something_are_refused(raw_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    assert run("build", "--raw", str(raw_dir), "--out", str(out), "--workers", "1")[0] == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    page = next(raw_dir.glob("*.txt"))
    page_bytes = page.read_bytes()
    notes = tmp_path / "notes.md"
    notes.write_text("# my notes\n", encoding="utf-8")
    (tmp_path / "carddir").mkdir()
    for card, says in [
        (tmp_path / "carddir", "is a folder"),
        (page, "inside the raw folder"),
        (notes, "was not written by corpus-export"),
    ]:
        code, output = run(
            "build", "--raw", str(raw_dir), "--out", str(out), "--card", str(card), "-q"
        )
        assert code == 2, output
        assert says in output.splitlines()[-1]
    assert page.read_bytes() == page_bytes
    assert notes.read_text(encoding="utf-8") == "# my notes\n"
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not list(tmp_path.glob("dist.*"))  # no stage or old export left beside it
    # a card corpus-export wrote is replaced, as always
    assert run("build", "--raw", str(raw_dir), "--out", str(out), "-q")[0] == 0


def test_a_card_that_cannot_be_replaced_puts_the_previous_export_back(
    raw_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "dist"
    assert run("build", "--raw", str(raw_dir), "--out", str(out), "--workers", "1")[0] == 0
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    (raw_dir / "second.txt").write_text(SEED.read_text(encoding="utf-8").replace("发挥", "发挥B"))
    real_replace = Path.replace

    def failing(self: Path, target: str | os.PathLike[str]) -> Path:
        if Path(target).name == "CARD.md":
            raise OSError(13, "Permission denied")
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", failing)  # the card's folder went read-only, say
    code, output = run("build", "--raw", str(raw_dir), "--out", str(out), "--workers", "1")
    assert code == 2
    assert "CARD.md" in output.splitlines()[-1]
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}

    def export(files: dict[Path, bytes]) -> dict[Path, bytes]:  # not raw/, not the cache
        return {p: b for p, b in files.items() if p.parent != raw_dir and ".cache" not in p.parts}

    assert export(after) == export(before)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["raw", "dist", "CARD.md", ".cache"]
    )


def test_check_with_strict_fails_on_rejects(raw_dir: Path, tmp_path: Path) -> None:
    (raw_dir / "empty.txt").write_bytes(b"")
    out = tmp_path / "dist"
    assert run("build", "--raw", str(raw_dir), "--out", str(out), "--workers", "1")[0] == 0
    assert run("build", "--check", "--raw", str(raw_dir), "--out", str(out))[0] == 0
    code, output = run("build", "--check", "--strict", "--raw", str(raw_dir), "--out", str(out))
    assert code == 1
    assert "--strict: 1 page(s) rejected" in output


def test_a_file_url_must_name_an_absolute_path(raw_dir: Path) -> None:
    code, output = run("build", "--raw", str(raw_dir), "--out", "file://dist")
    assert code == 2
    assert "not a file URL of an absolute path" in output


def test_parse_gives_the_id_a_build_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "raw" / "sub").mkdir(parents=True)
    page = tmp_path / "raw" / "sub" / "a.txt"
    page.write_bytes(SEED.read_bytes())
    monkeypatch.chdir(tmp_path)
    for args in (["raw/sub/a.txt"], [str(page)], ["sub/a.txt", "--raw", "raw"]):
        if args[0] == "sub/a.txt":
            monkeypatch.chdir(tmp_path / "raw")
            args = ["sub/a.txt", "--raw", "."]
        code, output = run("parse", *args)
        assert code == 0, output
        assert json.loads(output)["id"] == "sub/a"


def test_parse_judges_a_link_in_raw_as_a_build_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link in raw/ to a file outside it is outside_raw, never read, as in a build; the same
    file named directly is parsed."""
    outside = tmp_path / "elsewhere" / "page.txt"
    outside.parent.mkdir()
    outside.write_bytes(SEED.read_bytes())
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "link.txt").symlink_to(outside)
    (tmp_path / "raw" / "inside.txt").symlink_to(tmp_path / "raw" / "real.txt")
    (tmp_path / "raw" / "real.txt").write_bytes(SEED.read_bytes())
    monkeypatch.chdir(tmp_path)
    code, output = run("parse", "raw/link.txt")
    assert code == 1
    assert json.loads(output)["reason"] == "outside_raw"
    code, output = run("parse", "raw/inside.txt")  # a link inside raw/ is followed
    assert code == 0 and json.loads(output)["id"] == "inside"
    code, output = run("parse", str(outside))
    assert code == 0 and json.loads(output)["id"] == "page"


def test_dask_options_without_dask_are_one_line_errors(raw_dir: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "dist")
    code, output = run("build", "--raw", str(raw_dir), "--out", out, "--scheduler", "tcp://h:1")
    assert (code, output.strip()) == (
        2,
        "Error: --scheduler names a Dask cluster: it needs --engine dask",
    )
    code, output = run(
        "build", "--raw", str(raw_dir), "--out", out, "--engine", "dask",
        "--scheduler", "tcp://h:1", "--workers", "2",
    )  # fmt: skip
    assert code == 2 and output.startswith("Error: --workers sets the local worker processes")
    assert not (tmp_path / "dist").exists()


def test_warnings_an_unwritable_cache_and_an_export_of_no_rows(
    raw_dir: Path, tmp_path: Path
) -> None:
    """The export is written either way (exit 0); what the user would not guess is said."""
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")
    res = CliRunner().invoke(
        cli,
        [
            "build",
            "--raw",
            str(raw_dir),
            "--out",
            str(tmp_path / "d"),
            "--cache-dir",
            str(blocked / "c"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Warning: the cache folder" in res.output and "cannot be written" in res.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.txt").write_bytes(b"")
    out, card = str(tmp_path / "e"), str(tmp_path / "e.md")  # CARD.md is d's card
    res = CliRunner().invoke(cli, ["build", "--raw", str(bad), "--out", out, "--card", card, "-q"])
    assert res.exit_code == 0, res.output
    assert (
        res.output.strip()
        == "Warning: every page was rejected: the export has no rows (see rejects.csv)"
    )
