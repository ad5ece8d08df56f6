"""The incremental cache: the previous export, plus a note per task of what made it.

A build's most expensive outputs are its own best cache: the previous `corpus.parquet` holds
every row already parsed, validated and compressed, one row group per task, and the previous
`corpus.csv` holds every row already rendered. So the cache stores no rows at all, only a small
note per task: each raw file's fingerprint (size, ctime) and what it gave (a row or a reject),
the task's duplicate keys, and where its row group and CSV bytes are in the export. The notes of
one export are one file (`notes-<export id>.bin`: the notes back to back, then an index by task
key; each note and the index with a checksum), written as the build goes. `export.pkl` names the
export the notes describe, how its files looked (size, ctime, inode) when it was written, and its
Hub shards. The ctime (status-change time) moves on every write, chmod, rename or new link, and
cannot be set back by hand as an mtime can.

A rebuild then parses only files whose fingerprint changed, takes the other rows from the old
row group, and splices a task's old row group and CSV bytes untouched when none of its files or
duplicates changed. A cold build pays nothing for this but writing the notes.

The cache lives outside the export (default `.cache/corpus-export/` beside the out folder), so it
never reaches dist/ or a commit. Deleting it, or changing the export by hand, is always safe: the
notes are then ignored. Keys are salted with the package version and the source of the modules
that decide what a row is, so a change of parse rules is a change of every key.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import secrets
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .layout import hf_data
from .read import RawFile
from .version import __version__

_SOURCES = ("errors.py", "parse.py", "process.py", "read.py", "schema.py", "validate.py")
#: A file changed this recently may change again within the same clock tick: never reuse it.
_RACY_NS = 2_000_000_000
_LAYOUT = "v5"

#: (size, ctime ns) of a file; (reason, detail) of one the scan rejected by its name or link
#: (a second file of the same id, a link out of raw/), which every scan decides again; None:
#: not to be trusted.
Fingerprint = tuple[int, int] | tuple[str, str] | None

#: A Hub shard of an export: (first row group, last row group + 1, file name, SHA-256). Its bytes
#: depend on those row groups' bytes alone, wherever they are in corpus.parquet.
Shard = tuple[int, int, str, str]


def _salt() -> bytes:
    """Version + the parser's own source: a change of rules is a change of every key."""
    import pyarrow

    # the encoder's version too: its bytes (and created_by) are part of every row group kept
    h = hashlib.blake2b(f"{__version__} {pyarrow.__version__}".encode(), digest_size=16)
    here = Path(__file__).parent
    for name in _SOURCES:
        h.update((here / name).read_bytes())
    return h.digest()


_SALT: bytes | None = None


def task_key(files: list[RawFile]) -> str:
    """Return the key of a task's note: the task's last file, where it ends.

    Tasks end at content-defined points (process.plan_tasks), so a page added to or removed
    from a task leaves its last file, and so its key, as it was: the note is still found, and
    only the files it does not list as they are now are parsed. (The note lists every file.)
    """
    global _SALT
    if _SALT is None:
        _SALT = _salt()
    h = hashlib.blake2b(_SALT, digest_size=20)
    if files:
        h.update(files[-1].path.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def fingerprint(f: RawFile, now_ns: int) -> Fingerprint:
    """Return what must be unchanged for a file's earlier result to be reused."""
    if f.problem is not None:
        return (str(f.problem[0]), f.problem[1])
    if f.changed_ns == 0:
        return None
    return fingerprint_stat((f.size, f.changed_ns), now_ns)


def fingerprint_stat(seen: tuple[int, int], now_ns: int) -> Fingerprint:
    """Return the fingerprint of a file from (size, ctime) taken when it was opened."""
    size, changed_ns = seen
    return None if now_ns - changed_ns < _RACY_NS else (size, changed_ns)


def fingerprint_file(root: str | Path, f: RawFile, now_ns: int) -> Fingerprint:
    """Return the fingerprint of a local file not stat-ed by the scan (None if it can't be)."""
    try:
        st = os.stat(os.path.join(root, f.path))  # noqa: PTH116, PTH118
    except (OSError, ValueError):
        return None
    return fingerprint_stat((st.st_size, st.st_ctime_ns), now_ns)


def now_ns() -> int:
    return time.time_ns()


#: A file's outcome in a note: the position of its row among the task's parsed rows, or the
#: reject it gave (a process.RejectRow).
Outcome = Any


@dataclass(slots=True)
class TaskNote:
    """What one task of the noted export was made of, and where its rows are."""

    export: str  # id of the export (ExportNote.export) the positions below refer to
    paths: list[str]  # the task's files, in order
    prints: list[Fingerprint]  # per file
    outcomes: list[Outcome]  # per file: row position among the parsed rows, or a reject
    dedup_keys: list[bytes]  # per parsed row
    keep: bytes | None  # which parsed rows the export kept (None: all)
    group: int  # the row group holding the kept rows (-1: none)
    csv: tuple[int, int]  # (offset, length) of the kept rows in corpus.csv
    rows: int
    nbytes: int
    stats: Any  # process.PartStats of the kept rows


@dataclass(slots=True)
class ExportNote:
    """Which export the task notes describe, and how its files looked when written."""

    export: str
    out_dir: str
    source: str = ""  # the raw folder it was built from (resolved)
    files: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # name → size, ctime, ino
    card: tuple[str, tuple[int, int, int]] | None = None  # the card's path and stat
    tasks: int = 0  # how many tasks made it
    settings: str = ""  # digest of the settings and the code that made it (see build_digest)
    shards: list[Shard] = field(default_factory=list)  # its Hub shards


@dataclass(slots=True)
class Previous:
    """A previous export usable as the cache (sent to workers: paths and an id only)."""

    export: str
    cache_dir: str
    parquet: str
    csv: str
    #: (first, last row group + 1) → (path, SHA-256) of its shards still exactly as written
    shards: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)


def _stat(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_size, st.st_ctime_ns, st.st_ino)


def _dir(cache_dir: Path) -> Path:
    return cache_dir / _LAYOUT


def new_export_id() -> str:
    return secrets.token_hex(8)


def _load_pickle(path: Path) -> Any | None:
    """Return the value _store_pickle wrote, or None if it is missing or damaged."""
    try:
        data = path.read_bytes()
        if len(data) < 16 or _digest(data[:-16]) != data[-16:]:
            return None
        return pickle.loads(data[:-16])
    except Exception:  # a damaged pickle raises almost anything; the cache is then not used
        return None


def _store_pickle(path: Path, value: Any) -> None:
    # Not write-then-rename: renaming over a file makes ext4 flush the new one to disk. A file
    # cut short by a crash, or damaged later, fails its checksum and is ignored.
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    path.unlink(missing_ok=True)
    path.write_bytes(data + _digest(data))


def previous_export(
    cache_dir: Path, out_dir: Path, names: tuple[str, str], source: str
) -> Previous | None:
    """Return the noted export if it is still exactly as written from source, else None."""
    note = _load_pickle(_dir(cache_dir) / "export.pkl")
    if not isinstance(note, ExportNote) or note.out_dir != str(out_dir.absolute()):
        return None
    if note.source != source:
        return None
    try:
        if any(_stat(out_dir / name) != note.files.get(name) for name in names):
            return None
    except OSError:
        return None
    parquet, csv = (str(out_dir.absolute() / name) for name in names)
    shards = {}
    for first, last, name, digest in note.shards:
        path = out_dir.absolute() / hf_data(name)
        try:
            if _stat(path) == note.files.get(hf_data(name)):
                shards[(first, last)] = (str(path), digest)
        except OSError:
            continue
    return Previous(note.export, str(cache_dir), parquet, csv, shards)


_NOTES_END = b"CXN2"  # after the index: a notes file without it was cut short


def _notes_path(cache_dir: Path, export: str) -> Path:
    return _dir(cache_dir) / f"notes-{export}.bin"


class NoteWriter:
    """The task notes of the export being built, in one file written front to back.

    One file, not one per task: deleting and creating a file per task cost ~3 ms each on ext4
    while the build writes gigabytes beside them. A cache that cannot be written is only a
    slower next build, so write errors are swallowed (the file is then dropped).
    """

    def __init__(self, cache_dir: Path, export: str) -> None:
        self.path = _notes_path(cache_dir, export)
        self.index: dict[str, tuple[int, int, bytes]] = {}  # task key → offset, length, digest
        self._fh: Any = None
        self._pos = 0
        self._failed = False
        self.error: str | None = None  # why the notes could not be written

    def add(self, key: str, note: TaskNote) -> None:
        if self._failed:
            return
        try:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = self.path.open("wb")
            data = pickle.dumps(note, protocol=pickle.HIGHEST_PROTOCOL)
            self._fh.write(data)
        except OSError as exc:
            self.error = exc.strerror or str(exc)
            self.abort()
            return
        self.index[key] = (self._pos, len(data), _digest(data))
        self._pos += len(data)

    def close(self) -> bool:
        """Write the index (the notes are usable from then on); False if they could not be."""
        if self._fh is None or self._failed:
            return False
        try:
            index = pickle.dumps(self.index, protocol=pickle.HIGHEST_PROTOCOL)
            index += _digest(index)
            self._fh.write(index + struct.pack("<Q", len(index)) + _NOTES_END)
            self._fh.close()
        except OSError as exc:
            self.error = exc.strerror or str(exc)
            self.abort()
            return False
        return True

    def abort(self) -> None:
        """Drop the file (a failed build, or a write error)."""
        self._failed = True
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
        with contextlib.suppress(OSError):  # none there, or no folder to hold one
            self.path.unlink(missing_ok=True)


def _digest(data: bytes) -> bytes:
    """A checksum of a note: a damaged one is not used (it could unpickle to wrong numbers)."""
    return hashlib.blake2b(data, digest_size=16).digest()


_INDEX: dict[str, dict[str, tuple[int, int, bytes]]] = {}  # this process's last index read


def notes_index(path: Path) -> dict[str, tuple[int, int, bytes]] | None:
    """Return the index of a complete, undamaged notes file (read once per process), or None."""
    cached = _INDEX.get(str(path))
    if cached is not None:
        return cached
    try:
        with path.open("rb") as fh:
            fh.seek(-12, os.SEEK_END)
            tail = fh.read(12)
            if tail[8:] != _NOTES_END:
                return None
            (length,) = struct.unpack("<Q", tail[:8])
            fh.seek(-12 - length, os.SEEK_END)
            data = fh.read(length)
            if len(data) != length or length < 16 or _digest(data[:-16]) != data[-16:]:
                return None
            index = pickle.loads(data[:-16])
    except Exception:  # damaged: the notes are not used
        return None
    if not isinstance(index, dict):
        return None
    _INDEX.clear()  # notes files are never rewritten (each has its export's id in its name)
    _INDEX[str(path)] = index
    return index


def load_task(cache_dir: str | Path, export: str, key: str) -> TaskNote | None:
    """Return the note of a task of the given export, or None."""
    path = _notes_path(Path(cache_dir), export)
    where = (notes_index(path) or {}).get(key)
    if where is None:
        return None
    try:
        offset, length, digest = where
        with path.open("rb") as fh:
            fh.seek(offset)
            data = fh.read(length)
        if _digest(data) != digest:
            return None
        note = pickle.loads(data)
    except Exception:  # damaged: the task is parsed again
        return None
    if not isinstance(note, TaskNote) or note.export != export:
        return None
    return note


def forget_export(cache_dir: Path) -> None:
    """Drop the export note before its export is replaced (the notes then match nothing).

    A note that cannot be dropped (a cache that cannot be written) is harmless: it names the
    files of the export being replaced, by inode and ctime, which the new files never have."""
    with contextlib.suppress(OSError):
        (_dir(cache_dir) / "export.pkl").unlink(missing_ok=True)


def store_export(
    cache_dir: Path,
    export: str,
    out_dir: Path,
    source: str,
    card: Path,
    tasks: int,
    settings: str,
    shards: list[Shard],
) -> None:
    """Note the export just swapped in: its id, source, every file's stat, task count, settings
    and Hub shards."""
    try:
        note = ExportNote(
            export, str(out_dir.absolute()), source, tasks=tasks, settings=settings, shards=shards
        )
        note.files = {
            p.relative_to(out_dir).as_posix(): _stat(p) for p in out_dir.rglob("*") if p.is_file()
        }
        if card.is_file():
            note.card = (str(card.absolute()), _stat(card))
        _dir(cache_dir).mkdir(parents=True, exist_ok=True)
        _store_pickle(_dir(cache_dir) / "export.pkl", note)
    except OSError:
        pass


def unchanged_export(
    cache_dir: Path,
    out_dir: Path,
    source: str,
    card: Path,
    settings: str,
    tasks: Iterable[tuple[str, list[str], list[Fingerprint]]],
    n_tasks: int,
) -> bool:
    """Tell whether a build would write the noted export again, byte for byte.

    True when the export and its card are exactly as written (every file's size, ctime and
    inode), it was made with the same settings and code, from the same n_tasks tasks, and every
    task holds the files its note lists, each with the fingerprint noted. `tasks` yields (key,
    paths, fingerprints) of each task, one at a time.
    """
    note = _load_pickle(_dir(cache_dir) / "export.pkl")
    if not isinstance(note, ExportNote) or note.out_dir != str(out_dir.absolute()):
        return False
    if (
        note.source != source
        or note.settings != settings
        or note.tasks != n_tasks
        or note.card is None
    ):
        return False
    try:
        if note.card != (str(card.absolute()), _stat(card)):
            return False
        files = {p.relative_to(out_dir).as_posix(): p for p in out_dir.rglob("*") if p.is_file()}
        if files.keys() != note.files.keys():
            return False
        if any(_stat(path) != note.files[name] for name, path in files.items()):
            return False
    except OSError:
        return False
    for key, paths, mine in tasks:
        task = load_task(cache_dir, note.export, key)
        if task is None or task.paths != paths or task.prints != mine:
            return False
        if any(p is None for p in mine):
            return False
    return True


def build_digest(*settings: object) -> str:
    """Return a digest of the build settings and of every source and template of the package."""
    import pyarrow

    h = hashlib.blake2b(repr(settings).encode(), digest_size=16)
    h.update(f"{__version__} {pyarrow.__version__}".encode())
    here = Path(__file__).parent
    for path in sorted([*here.glob("*.py"), *here.glob("templates/*")]):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def prune(cache_dir: Path, export: str) -> None:
    """Delete the notes of other exports than this one (and older cache layouts)."""
    if not cache_dir.is_dir():
        return
    import shutil

    for old in ("chunks", "v2", "v3", "v4"):
        if (cache_dir / old).is_dir():
            shutil.rmtree(cache_dir / old, ignore_errors=True)
    where = _dir(cache_dir)
    if not where.is_dir():
        return
    keep = _notes_path(cache_dir, export).name
    with contextlib.suppress(OSError):  # a cache that cannot be listed or written: kept as is
        for entry in where.iterdir():
            if entry.name.startswith("notes-") and entry.name != keep:
                entry.unlink(missing_ok=True)
