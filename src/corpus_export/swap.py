"""All or nothing: a build writes its export into a stage beside the out folder and swaps it in.

The out folder is one build's at a time (an flock: `only_build_into`). The export is written
into a stage (`<out>.tmp-<pid>-<random>`, `make_stage`); when every file is complete, the
previous export is renamed aside (`<out>.old-<pid>`), the stage renamed into place and the
card replaced (`swap_in`), with Ctrl-C held back (`interrupts_held`). A build that died between
the renames is repaired by the next one (`recover_interrupted_swap`). A build's scratch folder
in the system's temp folder is `make_scratch`'s.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Generator
from pathlib import Path

from .errors import CorpusExportError
from .layout import MANIFEST, OLD_INFIX, SCRATCH_PREFIX, STAGE_INFIX


def spare_path(path: Path) -> Path:
    """Return the hidden temporary name a file is written under before it replaces path."""
    return path.with_name(f".{path.name}{STAGE_INFIX}{os.getpid()}")


@contextlib.contextmanager
def only_build_into(out_dir: Path) -> Generator[None, None, None]:
    """Refuse to build into an out folder another build on this machine is writing.

    Two builds into one folder would both say they wrote it, and one export would silently
    replace the other (or a build would take another's swap for a dead one's). The lock is an
    flock on a file in the system's temp folder named by the out folder's path; it goes with
    the process, however that ends, and the file with the build that made it.
    """
    try:
        import fcntl  # POSIX only
    except ImportError:  # not POSIX: no lock
        yield
        return
    key = hashlib.sha256(os.fsencode(str(out_dir))).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"{SCRATCH_PREFIX}out-{key}.lock"
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        except OSError:  # no temp folder to lock in: the build's own checks will tell
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CorpusExportError(
                f"another corpus-export build is writing {str(out_dir)!r}; wait for it to end, "
                "or build into another folder"
            ) from None
        except OSError:  # a file system without locks
            os.close(fd)
            yield
            return
        try:  # still the file of that name? (its last holder removes it before letting go)
            if path.stat().st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


@contextlib.contextmanager
def interrupts_held() -> Generator[None, None, None]:
    """Hold Ctrl-C (SIGINT) back: from the swap on, the new export replaces the previous one,
    and the build has succeeded; a Ctrl-C then must neither cut the swap in half nor make the
    build look failed (exit 130, "the previous export is untouched"). Only the main thread
    can set a handler; in another one, this holds nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def make_stage(out_dir: Path) -> Path:
    parent = out_dir.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        stage = Path(
            tempfile.mkdtemp(prefix=f"{out_dir.name}{STAGE_INFIX}{os.getpid()}-", dir=parent)
        )
        umask = os.umask(0o022)
        os.umask(umask)
        stage.chmod(0o777 & ~umask)  # mkdtemp makes 0700; the export is an ordinary folder
        return stage
    except OSError as exc:
        raise CorpusExportError(
            f"cannot write beside the out folder {str(out_dir)!r}: {exc.strerror or exc}"
        ) from None


def swap_in(stage: Path, out_dir: Path, card: Path, card_text: str) -> None:
    """Replace out_dir by the finished stage and the card by card_text, or leave both as they
    were (an error says which could not be replaced)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise CorpusExportError(f"out folder {str(out_dir)!r} exists and is not a folder")
    card_tmp = spare_path(card)
    try:
        card_tmp.write_text(card_text, encoding="utf-8")
    except OSError as exc:
        card_tmp.unlink(missing_ok=True)
        raise CorpusExportError(f"cannot write {str(card)!r}: {exc.strerror}") from None
    old = out_dir.with_name(f"{out_dir.name}{OLD_INFIX}{os.getpid()}")
    swapped = False
    try:
        if out_dir.exists():
            out_dir.rename(old)
        stage.rename(out_dir)
        swapped = True
        card_tmp.replace(card)
    except OSError as exc:
        card_tmp.unlink(missing_ok=True)
        if swapped:  # the card could not be replaced: the new export goes back to its stage
            out_dir.rename(stage)
        if old.exists() and not out_dir.exists():
            old.rename(out_dir)
        what = card if swapped else out_dir
        raise CorpusExportError(f"cannot replace {str(what)!r}: {exc.strerror}") from None
    shutil.rmtree(old, ignore_errors=True)


def recover_interrupted_swap(out_dir: Path) -> None:
    """Put back the previous export if a build died between its two renames; drop stale stages.

    Only folders named exactly as a build names them (`<out>.old-<pid>`, `<out>.tmp-<pid>-<8>`)
    whose process is gone are touched, so a user's own `dist.old-backup` is left alone.
    """
    parent = out_dir.absolute().parent
    if not parent.is_dir():
        return
    name = re.escape(out_dir.name)
    old_re = re.compile(rf"{name}{re.escape(OLD_INFIX)}(\d+)")
    tmp_re = re.compile(rf"{name}{re.escape(STAGE_INFIX)}(\d+)-[A-Za-z0-9_]{{8}}")
    olds = sorted(_leftovers(parent, old_re))
    stages = _leftovers(parent, tmp_re)
    if olds and not out_dir.exists() and (olds[-1] / MANIFEST).is_file():
        olds[-1].rename(out_dir)
        olds = olds[:-1]
    for leftover in [*olds, *stages]:
        shutil.rmtree(leftover, ignore_errors=True)


def _leftovers(folder: Path, pattern: re.Pattern[str]) -> list[Path]:
    """The folders in folder named by pattern (its group 1: the pid of the build that made
    them) whose build is gone: real folders only, never a link."""
    found = []
    for entry in folder.iterdir():
        m = pattern.fullmatch(entry.name)
        if m and entry.is_dir() and not entry.is_symlink() and not _alive(int(m.group(1))):
            found.append(entry)
    return found


def _alive(pid: int) -> bool:
    """Tell whether another process with this pid is running (our own pid: not a leftover)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def make_scratch() -> Path:
    """Make a folder in the system's temp folder (TMPDIR) for the build's file list, after
    removing those that builds killed before their end left there."""
    temp = Path(tempfile.gettempdir())
    # not this process's own (_alive says our pid is gone): another thread may be building
    left = re.compile(rf"{SCRATCH_PREFIX}(?!{os.getpid()}-)(\d+)-[A-Za-z0-9_]{{8}}")
    try:
        for leftover in _leftovers(temp, left):
            shutil.rmtree(leftover, ignore_errors=True)
    except OSError:
        pass  # an unlistable temp folder: nothing swept
    try:
        return Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
    except OSError as exc:
        raise CorpusExportError(
            f"cannot write in the temp folder {str(temp)!r} (set TMPDIR): {exc.strerror or exc}"
        ) from None
