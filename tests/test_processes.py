"""Processes: a build's workers and its lock never outlive it, and a pool that cannot run is an
error, not a hang."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import EXE, make_raw, start_build

psutil = pytest.importorskip("psutil")


def wait_for_workers(proc: subprocess.Popen[bytes], n: int, timeout: float = 60) -> list:
    """Return the build's worker processes once n of them run (and it is still building)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"build ended (rc {proc.returncode}) before its workers were seen")
        with_children = psutil.Process(proc.pid).children(recursive=True)
        if len(with_children) >= n:
            return with_children
        time.sleep(0.01)
    pytest.fail("the build never started its workers")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_end_with_a_killed_build_and_the_next_build_runs(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """Only the build's own process is signalled (not its group, as a shell's Ctrl-C would):
    its workers must go with it, else they hold the out folder's lock and every later build
    says another one is writing."""
    raw, out = tmp_path / "raw", tmp_path / "dist"
    make_raw(raw, 4_000)
    proc = start_build(tmp_path, raw, out)
    try:
        workers = wait_for_workers(proc, 2)
        time.sleep(0.3)  # into the build proper: the lock is taken, tasks are running
        os.kill(proc.pid, sig)
        proc.wait(timeout=30)
        _, alive = psutil.wait_procs(workers, timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert not alive, f"worker processes outlived their build: {alive}"
    make_raw(tmp_path / "small", 3)
    again = subprocess.run(
        [str(EXE), "build", "--raw", "small", "--out", str(out), "--workers", "2", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert (out / "manifest.json").is_file()


def test_a_pool_thread_that_cannot_start_is_one_error_line(tmp_path: Path) -> None:
    """Under a low `ulimit -v`, the pool's queue thread cannot start and its tasks would wait
    forever; the build must say so and stop (what the kernel refuses is simulated here)."""
    raw, out = tmp_path / "raw", tmp_path / "dist"
    make_raw(raw, 20)
    code = (
        "import sys, multiprocessing.queues as q\n"
        'def refuse(self): raise RuntimeError("can\'t start new thread")\n'
        "q.Queue._start_thread = refuse\n"
        "from corpus_export.cli import main\n"
        f"sys.argv = ['corpus-export', 'build', '--raw', {str(raw)!r}, '--out', {str(out)!r},"
        " '--workers', '2', '--no-cache']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: cannot start a thread"), lines[0]
    assert not out.exists()
    assert not list(tmp_path.glob("dist.*"))


def test_one_lock_per_folder_whatever_the_spelling_or_tmpdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a build holds dist/, a build into `sub/../dist`, through a link to the folder
    above, or with another TMPDIR is refused: the lock lives beside the resolved folder."""
    import corpus_export
    from corpus_export import CorpusExportError, swap

    raw = tmp_path / "raw"
    make_raw(raw, 2)
    (tmp_path / "sub").mkdir()
    (tmp_path / "above").symlink_to(tmp_path)
    out = tmp_path / "dist"
    with swap.only_build_into(out):  # as another build holds it
        other_tmp = tmp_path / "othertmp"
        other_tmp.mkdir()
        monkeypatch.setenv("TMPDIR", str(other_tmp))
        monkeypatch.setattr("tempfile.tempdir", None)
        for spelling in (out, tmp_path / "sub" / ".." / "dist", tmp_path / "above" / "dist"):
            with pytest.raises(CorpusExportError, match="another corpus-export build"):
                corpus_export.build(raw, spelling, workers=1)
        assert not out.exists()
    assert corpus_export.build(raw, tmp_path / "sub" / ".." / "dist", workers=1).files_seen == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "CARD.md",
        "above",
        "dist",
        "othertmp",
        "raw",
        "sub",
    ]  # the lock's file went with the build


def _cli(
    cwd: Path, *args: str, limit_file_bytes: int | None = None
) -> subprocess.CompletedProcess[str]:
    def limits() -> None:
        if limit_file_bytes is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_bytes, limit_file_bytes))

    return subprocess.run(
        [str(EXE), *args], cwd=cwd, capture_output=True, text=True, timeout=300, preexec_fn=limits
    )


def test_what_the_machine_refuses_is_one_error_line_and_keeps_the_previous(
    tmp_path: Path,
) -> None:
    """A file size limit (ulimit -f: a full disk behaves alike) and a loop of symbolic links as
    --raw or --out: one `Error:` line, exit 2, the previous export and card as they were."""
    make_raw(tmp_path / "small", 2)
    assert _cli(tmp_path, "build", "--raw", "small", "-q").returncode == 0
    before = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    make_raw(tmp_path / "raw", 300)
    (tmp_path / "loop1").symlink_to("loop2")
    (tmp_path / "loop2").symlink_to("loop1")
    runs = {
        "ulimit -f": _cli(tmp_path, "build", "--no-cache", "-q", limit_file_bytes=200_000),
        "--raw loop": _cli(tmp_path, "build", "--raw", "loop1", "-q"),
        "--out loop": _cli(tmp_path, "build", "--out", "loop1", "-q"),
    }
    for what, done in runs.items():
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, (what, done.stderr)
        assert lines[0].startswith("Error: "), (what, lines[0])
    now = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    assert {p: now[p] for p in before} == before
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
