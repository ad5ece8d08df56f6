"""All or nothing: a build writes its export into a stage beside the out folder and swaps it in.

The out folder is one build's at a time (an flock: `only_build_into`). The export is written
into a stage (`<out>.tmp-<pid>-<random>/export`, `make_stage`); when every file is complete,
the card is written beside its place, the stage and the previous export trade places in one
step (Linux's renameat2 RENAME_EXCHANGE; elsewhere the previous export is first moved into
`<out>.old-<pid>-<random>/`), and the card replaced (`swap_in`), with Ctrl-C held back
(`interrupts_held`). A build that died anywhere in between is repaired by the next one
(`recover_interrupted_swap`): the previous export put back, or the new card put in place. A
build's scratch folder in the system's temp folder is `make_scratch`'s. Every folder made here
carries a marker file (layout.MARK) naming it, and only marked folders are removed or
recovered.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Generator
from pathlib import Path

from .errors import CorpusExportError
from .layout import (
    BOXED,
    HF_DIR,
    HF_README,
    LOCK_SUFFIX,
    MANIFEST,
    MARK,
    OLD_INFIX,
    SCRATCH_PREFIX,
    STAGE_INFIX,
    TOOL,
    looks_like_card,
)


def write_spare(path: Path, data: bytes) -> Path:
    """Write data under a new hidden name beside path (`.<name>.tmp-<pid>-<random>`), created
    exclusively and never through a link, and return it: the file that then replaces path."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}{STAGE_INFIX}{os.getpid()}-", dir=path.parent)
    spare = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        spare.chmod(0o666 & ~_umask())  # an ordinary file, as the umask makes it
    except BaseException:
        spare.unlink(missing_ok=True)
        raise
    return spare


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def lock_path(out_dir: Path) -> Path:
    """Return the lock file of an out folder: beside it, named by it, with the folder above
    resolved (`sub/../dist` and `dist`, or a path through a link, are one folder, one lock)."""
    parent = out_dir.absolute().parent.resolve()
    return parent / f".{out_dir.name}{LOCK_SUFFIX}"


@contextlib.contextmanager
def only_build_into(out_dir: Path) -> Generator[None, None, None]:
    """Refuse to build into an out folder another build is writing.

    Two builds into one folder would both say they wrote it, and one export would silently
    replace the other (or a build would take another's swap for a dead one's). The lock is an
    flock on a file beside the out folder (`lock_path`), where every build of that folder
    looks, whatever its TMPDIR or spelling of the path. It goes with the process however that
    ends (its workers end with it, engine.die_with_parent), and the file with the build.
    """
    try:
        import fcntl  # POSIX only
    except ImportError:  # not POSIX: no lock
        yield
        return
    path = lock_path(out_dir)
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise CorpusExportError(
                    f"{str(path)!r} is a link; it is where corpus-export locks "
                    f"{str(out_dir)!r} while it builds: remove it"
                ) from None
            yield  # no folder to lock in (yet): the build's own checks will tell
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
    """Make the folder a build writes its export into: `export/` in a marked folder beside
    out_dir, so that the export becomes out_dir by one rename."""
    parent = out_dir.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        box = _marked_folder(parent, f"{out_dir.name}{STAGE_INFIX}{os.getpid()}-", "stage")
        stage = box / BOXED
        stage.mkdir()  # an ordinary folder, as the umask makes it (mkdtemp makes 0700)
        return stage
    except OSError as exc:
        raise CorpusExportError(
            f"cannot write beside the out folder {str(out_dir)!r}: {exc.strerror or exc}"
        ) from None


def drop_stage(stage: Path) -> None:
    """Remove a stage and the marked folder it is in."""
    shutil.rmtree(stage.parent, ignore_errors=True)


def swap_in(stage: Path, out_dir: Path, card: Path, card_text: str) -> None:
    """Replace out_dir by the finished stage and the card by card_text, or leave both as they
    were (an error says which could not be replaced).

    Three steps, each one rename: the card is written under a spare name beside its place; the
    stage and the out folder trade places (or, where the system cannot, the out folder moves
    into a marked old folder and the stage into its place); the spare card replaces the card.
    A build killed between any two of them is finished or undone by the next build
    (`recover_interrupted_swap`), and no step ever leaves a user without an export where the
    system can exchange folders.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise CorpusExportError(f"out folder {str(out_dir)!r} exists and is not a folder")
    # the out folder may be the working folder (--out .): a relative card would move with it
    named, card = card, card.absolute()
    try:
        card_tmp = write_spare(card, card_text.encode("utf-8"))
    except OSError as exc:
        raise CorpusExportError(f"cannot write {str(named)!r}: {exc.strerror}") from None
    old: Path | None = None  # where the previous export waits: the stage, or a marked folder
    swapped = False
    try:
        if not out_dir.exists():
            stage.rename(out_dir)
        elif exchange(stage, out_dir):
            old = stage
        else:
            prefix = f"{out_dir.name}{OLD_INFIX}{os.getpid()}-"
            old = _marked_folder(out_dir.parent, prefix, "old") / BOXED
            out_dir.rename(old)
            stage.rename(out_dir)
        swapped = True
        card_tmp.replace(card)
    except OSError as exc:
        card_tmp.unlink(missing_ok=True)
        if swapped:  # the card could not be replaced: the new export goes back to its stage
            if old == stage:
                exchange(stage, out_dir)
                old = None
            else:
                out_dir.rename(stage)
        if old is not None and old.exists() and not out_dir.exists():
            old.rename(out_dir)
        if old is not None and old != stage and not old.exists():
            shutil.rmtree(old.parent, ignore_errors=True)
        what = named if swapped else out_dir
        raise CorpusExportError(f"cannot replace {str(what)!r}: {exc.strerror}") from None
    if old is not None and old != stage:
        shutil.rmtree(old.parent, ignore_errors=True)
    drop_stage(stage)  # (holding the previous export, if the folders were exchanged)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # linux/fs.h
#: the system or file system has no exchange (EPERM: a sandbox refusing an unknown call; a real
#: permission problem then fails the same way in the two renames)
_NOT_HERE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EPERM}


def exchange(a: Path, b: Path) -> bool:
    """Make folders a and b trade places in one step (renameat2 RENAME_EXCHANGE): True if done,
    False where the system or its file system cannot (then nothing moved)."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    done = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if done == 0:
        return True
    err = ctypes.get_errno()
    if err in _NOT_HERE:
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def unlisted_files(out_dir: Path) -> list[str]:
    """Return the files (and links) in out_dir that its manifest does not list, as sorted
    relative paths: what replacing the export there removes besides the export itself."""
    try:
        listed = {MANIFEST, *json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        listed = {MANIFEST}
    found = []
    for top, dirs, files in os.walk(out_dir):  # links are not followed, but named
        here = Path(top).relative_to(out_dir)
        links = [d for d in dirs if (Path(top) / d).is_symlink()]
        for name in [*files, *links]:
            rel = (here / name).as_posix()
            if rel not in listed:
                found.append(rel)
    return sorted(found)


def recover_interrupted_swap(out_dir: Path, card: Path | None = None) -> None:
    """Finish or undo the swap of a build that died in it; drop the folders dead builds left.

    Died with the previous export moved aside and none in place: it is put back. Died with the
    new export in place but the old card: the spare card, when it is the new export's card
    (the bytes of its hf/README.md), replaces the card; any other spare card a dead build left
    is removed. Only what a build made is touched: folders named as a build names them,
    holding its marker (which names the folder itself), and left by a process that is gone,
    and spare cards named as a build names them that read as our cards. A user's own
    `dist.old-2024/` or `dist.tmp-1999-backup01/` is left alone, and never renamed into place.
    """
    parent = out_dir.absolute().parent
    if not parent.is_dir():
        return
    name = re.escape(out_dir.name)
    old_re = re.compile(rf"{name}{re.escape(OLD_INFIX)}(\d+)-[A-Za-z0-9_]{{8}}")
    tmp_re = re.compile(rf"{name}{re.escape(STAGE_INFIX)}(\d+)-[A-Za-z0-9_]{{8}}")
    olds = sorted(_leftovers(parent, old_re, "old"), key=lambda p: _made_at(p))
    stages = _leftovers(parent, tmp_re, "stage")
    if olds and not out_dir.exists():
        for old in reversed(olds):  # the latest
            if (old / BOXED / MANIFEST).is_file():
                (old / BOXED).rename(out_dir)
                break
    for leftover in [*olds, *stages]:
        shutil.rmtree(leftover, ignore_errors=True)
    if card is not None:
        _recover_card(card, out_dir)


def _recover_card(card: Path, out_dir: Path) -> None:
    spare_re = re.compile(
        rf"\.{re.escape(card.name)}{re.escape(STAGE_INFIX)}(\d+)-[A-Za-z0-9_]{{8}}"
    )
    try:
        entries = list(card.absolute().parent.iterdir())
    except OSError:
        return
    try:
        new_card: bytes | None = (out_dir / HF_DIR / HF_README).read_bytes()
    except OSError:
        new_card = None
    for spare in entries:
        m = spare_re.fullmatch(spare.name)
        if not m or _alive(int(m.group(1))) or spare.is_symlink() or not spare.is_file():
            continue
        with contextlib.suppress(OSError):
            data = spare.read_bytes()
            if not looks_like_card(data[: 1 << 20].decode("utf-8", "replace")):
                continue
            if data == new_card:
                spare.replace(card)
            else:
                spare.unlink()


def _marked_folder(parent: Path, prefix: str, kind: str) -> Path:
    """Make a folder of an unpredictable name in parent, marked as this tool's."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    (folder / MARK).write_text(_mark(kind, folder), encoding="utf-8")
    return folder


def _mark(kind: str, folder: Path) -> str:
    return f"{TOOL} {kind} {folder.name}\n"


def _leftovers(folder: Path, pattern: re.Pattern[str], kind: str) -> list[Path]:
    """The folders in folder named by pattern (its group 1: the pid of the build that made
    them) whose build is gone and that hold the marker of a folder of this kind, naming them:
    real folders only, never a link."""
    found = []
    for entry in folder.iterdir():
        m = pattern.fullmatch(entry.name)
        if (
            m
            and entry.is_dir()
            and not entry.is_symlink()
            and not _alive(int(m.group(1)))
            and _is_marked(entry, kind)
        ):
            found.append(entry)
    return found


def _is_marked(folder: Path, kind: str) -> bool:
    mark = folder / MARK
    try:
        if mark.is_symlink() or mark.stat().st_size > 4096:
            return False
        return mark.read_text(encoding="utf-8") == _mark(kind, folder)
    except (OSError, UnicodeDecodeError):
        return False


def _made_at(folder: Path) -> int:
    try:
        return (folder / MARK).stat().st_mtime_ns
    except OSError:
        return 0


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
        for leftover in _leftovers(temp, left, "scratch"):
            shutil.rmtree(leftover, ignore_errors=True)
    except OSError:
        pass  # an unlistable temp folder: nothing swept
    try:
        return _marked_folder(temp, f"{SCRATCH_PREFIX}{os.getpid()}-", "scratch")
    except OSError as exc:
        raise CorpusExportError(
            f"cannot write in the temp folder {str(temp)!r} (set TMPDIR): {exc.strerror or exc}"
        ) from None
