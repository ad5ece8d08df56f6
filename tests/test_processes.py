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

psutil = pytest.importorskip("psutil")

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "raw" / "000_bba07cf85f81785c.txt"
EXE = Path(sys.executable).with_name("corpus-export")


def make_raw(raw: Path, n: int) -> None:
    seed = SEED.read_text(encoding="utf-8").split("\n")
    raw.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        text = "\n".join([f"标题{i}", *seed[1:6], f"  第{i}段正文。", *seed[6:]])
        (raw / f"{i:05d}.txt").write_text(text, encoding="utf-8")


def start_build(cwd: Path, raw: Path, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(EXE), "build", "--raw", str(raw), "--out", str(out), "--workers", "2", "-q"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


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
        "def refuse(self): raise RuntimeError(\"can't start new thread\")\n"
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
