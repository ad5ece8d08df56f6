"""The all-or-nothing swap: a build killed at any rename is repaired by the next one, and only
folders a build made (named and marked as it marks them) are ever removed or put in place."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import make_page

import corpus_export
from corpus_export import layout
from corpus_export.swap import (
    make_scratch,
    make_stage,
    recover_interrupted_swap,
    swap_in,
    unlisted_files,
)
from corpus_export.validate import validate_export


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def beside(out: Path) -> list[str]:
    """The names beside out other than out, the raw folder and the card: what a build left."""
    return sorted(
        p.name for p in out.parent.iterdir() if p.name not in (out.name, "raw", "CARD.md")
    )


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """raw/ and a finished dist/ (with CARD.md) in tmp_path."""
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.txt").write_text(make_page("甲"), encoding="utf-8")
    out = tmp_path / "dist"
    corpus_export.build(tmp_path / "raw", out, workers=1)
    return out


def killed_build(
    raw: Path, out: Path, step: int, *, exchange: bool = True, after: bool = False
) -> bool:
    """Run a build in another process and kill it (os._exit, as abrupt as a SIGKILL) right
    before (or `after`) its `step`-th rename, replace or folder exchange; True if it was
    killed, False if it ended first (it had fewer steps). Without `exchange`, the system is
    taken to have no RENAME_EXCHANGE: the previous export is moved aside, the stage moved in."""
    code = f"""
import os, corpus_export
from corpus_export import swap
steps = [0]
def killing(real):
    def step(*args, **kwargs):
        steps[0] += 1
        if steps[0] == {step} and not {after!r}:
            os._exit(9)
        done = real(*args, **kwargs)
        if steps[0] == {step}:
            os._exit(9)
        return done
    return step
os.rename, os.replace = killing(os.rename), killing(os.replace)
swap.exchange = killing(swap.exchange) if {exchange!r} else (lambda a, b: False)
corpus_export.build({str(raw)!r}, {str(out)!r}, workers=1)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode in (0, 9), done.stderr
    return done.returncode == 9


def left_by_a_dead_process(code: str) -> None:
    """Run code (with `from corpus_export import swap` and Path) in a process that then ends."""
    code = "from pathlib import Path\nfrom corpus_export import swap\n" + code
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------------------------------------
# a build killed at each rename


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_a_build_killed_at_any_rename_is_repaired_by_the_next(
    built: Path, exchange: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Kill a build right before each of its renames in turn, and after the last (the swap's
    among them: card written, folders swapped, card replaced). Every time: the export in
    place, once the next build's recovery ran (before it builds), is whole, the previous or the
    new one, with its own card beside it; the next build then writes the new export and
    leaves nothing beside it (no stage, old folder, spare card or lock)."""
    raw, card = built.parent / "raw", built.parent / "CARD.md"
    previous, old_card = tmp_path_factory.mktemp("previous") / "dist", card.read_bytes()
    shutil.copytree(built, previous)
    (raw / "b.txt").write_text(make_page("乙"), encoding="utf-8")
    lock = f".{built.name}{layout.LOCK_SUFFIX}"
    kills = [(step, False) for step in range(1, 50)]
    killed = 0
    while kills:
        step, after = kills.pop(0)
        if not killed_build(raw, built, step, exchange=exchange, after=after):
            if not after:
                kills = [(step - 1, True)]  # and once after the last step
            continue
        killed += 1
        if exchange:  # one folder exchange: never a moment without an export
            assert validate_export(built) == []
        recover_interrupted_swap(built, card)
        assert validate_export(built) == [], f"after a kill at step {step}"
        assert card.read_bytes() == (built / "hf" / "README.md").read_bytes(), step
        # (the lock's file stays until the next build takes it: a file, no longer a lock)
        assert set(beside(built)) <= {lock}, f"left behind after a kill at step {step}"
        result = corpus_export.build(raw, built, workers=1)
        assert result.rows == 2 and validate_export(built) == []
        assert card.read_bytes() == (built / "hf" / "README.md").read_bytes() != old_card
        assert beside(built) == []
        shutil.rmtree(built)  # back to the previous export, for the next step
        shutil.copytree(previous, built)
        card.write_bytes(old_card)
    assert killed >= (3 if exchange else 4)  # at least the swap's steps, and after the last


# ---------------------------------------------------------------------------------------------
# only what a build made


def test_folders_of_a_user_beside_the_out_folder_are_left_alone(built: Path) -> None:
    """Named like a build's folders, even holding an export: not the build's to touch."""
    parent = built.parent
    backups = {
        "dist.old-2024": tree(built),  # a copy of an export: never taken for one cut short
        "dist.tmp-1999-backup01": {"notes.txt": b"precious"},
        "dist.old-1999-abcd1234": {"notes.txt": b"precious"},
        "dist.tmp-999999999-abcd1234": {"notes.txt": b"precious"},
    }
    for name, files in backups.items():
        for rel, data in files.items():
            (parent / name / rel).parent.mkdir(parents=True, exist_ok=True)
            (parent / name / rel).write_bytes(data)
    corpus_export.build(parent / "raw", built, workers=1)
    shutil.rmtree(built)
    corpus_export.build(parent / "raw", built, workers=1)  # no dist/: nothing is put in place
    recover_interrupted_swap(built)
    assert {name: tree(parent / name) for name in backups} == backups
    assert beside(built) == sorted(backups)


def test_a_marker_names_its_own_folder(built: Path) -> None:
    """A killed build's stage, copied under another build-like name, is not a stage."""
    parent = built.parent
    left_by_a_dead_process(f"swap.make_stage(Path({str(built)!r}))")
    (stage,) = [p for p in parent.iterdir() if ".tmp-" in p.name]
    copy = parent / "dist.tmp-1-zzzzzzzz"
    shutil.copytree(stage, copy)
    recover_interrupted_swap(built)
    assert not stage.exists()
    assert copy.is_dir()


def test_a_stage_of_a_running_build_is_left_alone(built: Path) -> None:
    sleeper = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from pathlib import Path\nimport time\nfrom corpus_export import swap\n"
            f"swap.make_stage(Path({str(built)!r}))\nprint('made', flush=True)\ntime.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sleeper.stdout is not None and sleeper.stdout.readline() == "made\n"
        left_by_a_dead_process(f"swap.make_stage(Path({str(built)!r}))")
        stages = sorted(p for p in built.parent.iterdir() if ".tmp-" in p.name)
        assert len(stages) == 2
        recover_interrupted_swap(built)
        (live,) = [p for p in stages if p.exists()]
        assert live.name.split("-")[1] == str(sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_stage_is_an_ordinary_folder_in_a_marked_one(tmp_path: Path) -> None:
    stage = make_stage(tmp_path / "dist")
    umask = os.umask(0o022)
    os.umask(umask)
    assert stage.name == layout.BOXED and list(stage.iterdir()) == []
    assert stage.stat().st_mode & 0o777 == 0o777 & ~umask
    mark = (stage.parent / layout.MARK).read_text(encoding="utf-8")
    assert mark == f"corpus-export stage {stage.parent.name}\n"


def test_scratch_folders_of_others_in_the_temp_folder_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    user = temp / "corpus-export-999999999-abcd1234"  # named as a build names it, unmarked
    user.mkdir()
    (user / "notes.txt").write_text("precious")
    left_by_a_dead_process("swap.make_scratch()")
    dead = [p for p in temp.iterdir() if p != user]
    assert len(dead) == 1
    mine = make_scratch()
    assert sorted(temp.iterdir()) == sorted([user, mine])
    assert (user / "notes.txt").read_text() == "precious"


# ---------------------------------------------------------------------------------------------
# swap_in, when a rename fails


def _failing_rename_to(monkeypatch: pytest.MonkeyPatch, method: str, target: Path) -> None:
    """Make the first rename (or replace) onto target fail."""
    real = getattr(Path, method)
    failed = []

    def fail(self: Path, to: Path) -> Path:
        if Path(to) == target and not failed:
            failed.append(self)
            raise OSError(errno.EACCES, "Permission denied")
        return real(self, to)  # type: ignore[no-any-return]

    monkeypatch.setattr(Path, method, fail)


@pytest.mark.parametrize("failing", ["card", "out", "exchange"])
def test_a_swap_that_cannot_finish_leaves_the_previous_export_and_card(
    built: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    card = built.parent / "CARD.md"
    before, card_before = tree(built), card.read_bytes()
    stage = make_stage(built)
    (stage / "new.txt").write_text("new")
    swap = sys.modules["corpus_export.swap"]
    if failing == "card":
        _failing_rename_to(monkeypatch, "replace", card)
    elif failing == "out":  # a system without RENAME_EXCHANGE: the out folder moves aside
        monkeypatch.setattr(swap, "exchange", lambda a, b: False)
        _failing_rename_to(monkeypatch, "rename", built)
    else:

        def refuse(a: Path, b: Path) -> bool:
            raise OSError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(swap, "exchange", refuse)
    with pytest.raises(corpus_export.CorpusExportError, match="cannot replace"):
        swap_in(stage, built, card, "a new card")
    monkeypatch.undo()
    assert tree(built) == before and card.read_bytes() == card_before
    assert tree(stage) == {"new.txt": b"new"}  # the caller's to drop
    assert [n for n in beside(built) if ".old-" in n] == []


def test_unlisted_files_are_what_the_manifest_does_not_name(built: Path) -> None:
    assert unlisted_files(built) == []
    (built / "hf" / "mine.txt").write_text("x")
    (built / "to-raw").symlink_to(built.parent / "raw")
    assert unlisted_files(built) == ["hf/mine.txt", "to-raw"]
    assert unlisted_files(built.parent / "nowhere") == []


def test_out_dot_with_a_relative_card_is_swapped_in(tmp_path: Path) -> None:
    """`--out .` renames the working folder itself in the swap: paths given relative to it
    (the card, the cache) must still name the same places afterwards."""
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.txt").write_text(make_page("甲"), encoding="utf-8")
    out = tmp_path / "dist"
    out.mkdir()
    for _ in range(2):  # a first build, then one that replaces it
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "corpus_export",
                "build",
                "--raw",
                "../raw",
                "--out",
                ".",
                "--card",
                "../CARD.md",
                "--cache-dir",
                "../cache",
                "-q",
            ],
            cwd=out,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        assert validate_export(out) == []
        assert (tmp_path / "CARD.md").read_bytes() == (out / "hf" / "README.md").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["CARD.md", "cache", "dist", "raw"]
