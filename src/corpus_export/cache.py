"""The incremental cache: the previous export, plus a note per task of what made it.

A build's most expensive outputs are its own best cache: the previous `corpus.parquet` holds
every row already parsed, validated and compressed, one row group per task, and the previous
`corpus.csv` holds every row already rendered. So the cache stores no rows at all, only a small
note per task: each raw file's fingerprint (see fingerprint_stat: device, inode, size, mtime and
ctime, as git's index keeps them) and what it gave (a row or a reject),
the task's duplicate keys, and where its row group and CSV bytes are in the export. The notes of
one export are one file (`notes-<export id>.bin`: the notes back to back, then an index by task
key; each note and the index with a checksum), written as the build goes. `export.pkl` names the
export the notes describe, how its files looked (the same stat) when it was written, and its
Hub shards. The ctime (status-change time) moves on every write, chmod, rename or new link, and
cannot be set back by hand as an mtime can; the inode tells a file swapped in for another.

A rebuild then parses only files whose fingerprint changed, takes the other rows from the old
row group, and splices a task's old row group and CSV bytes untouched when none of its files or
duplicates changed. A cold build pays nothing for this but writing the notes.

The cache lives outside the export (default `.cache/corpus-export/` beside the out folder), so it
never reaches dist/ or a commit. Deleting it, or changing the export by hand, is always safe: the
notes are then ignored. Keys are salted with code_digest (every file of the package, Python's
and the required libraries' versions), so a change of any rule is a change of every key.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
import secrets
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xxhash

from .errors import CorpusExportError
from .layout import hf_data
from .read import RawFile, file_stat
from .version import __version__

#: A file changed this recently may change again within the same clock tick: never reuse it.
_RACY_NS = 2_000_000_000
_LAYOUT = "v6"
#: The mark of a cache folder made by corpus-export (a cache directory tag, which backup tools
#: skip: https://bford.info/cachedir/). Nothing in a folder without it is ever deleted.
_TAG = "CACHEDIR.TAG"
_TAG_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55\n"
_TAG_TEXT = (
    _TAG_SIGNATURE + "# This file is a cache directory tag created by corpus-export (cache layout"
    " {layout}).\n# For information about cache directory tags, see https://bford.info/cachedir/\n"
)
_TAG_LAYOUT = re.compile(r"created by corpus-export \(cache layout (v\d+)\)")
_NOTES_NAME = re.compile(r"notes-[0-9a-f]{16}\.bin")

#: (size, ctime ns, mtime ns, device, inode) of a file (read.file_stat; of a link's target);
#: (reason, detail) of one the scan rejected by its name or link (a second file of the same id,
#: a link out of raw/), which every scan decides again; None: not to be trusted.
Fingerprint = tuple[int, int, int, int, int] | tuple[str, str] | None

#: A Hub shard of an export: (first row group, last row group + 1, file name, SHA-256). Its bytes
#: depend on those row groups' bytes alone, wherever they are in corpus.parquet.
Shard = tuple[int, int, str, str]


def code_digest(package: Path | None = None) -> bytes:
    """Return a digest of everything that decides an export's bytes besides raw/ and settings.

    That is every file of the installed package (found by walking its folder, so a module or
    template added later cannot be forgotten; compiled caches aside), Python's version (str
    methods and unicodedata change with it), and the version of every library the package
    requires to run (pyarrow encodes the rows, xxhash keys duplicates, jinja2 renders the card,
    datasets, pandas and numpy shape what is written...). The libraries come from the package's
    own metadata, so a new dependency is counted when it is declared; a few of them (click,
    tqdm) never touch a row, which costs only a cold rebuild when they are upgraded.
    """
    import importlib.metadata
    import sys

    here = package or Path(__file__).parent
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{__version__}\0{sys.implementation.name}\0{sys.version}\0".encode())
    try:
        required = importlib.metadata.requires("corpus-export") or []
    except importlib.metadata.PackageNotFoundError:  # not installed: nothing proves the libraries
        required = [f"unknown-{secrets.token_hex(8)}"]  # so no build's key matches another's
    # what it needs to run (extras: a cluster, tests and tools, which write no byte of an export)
    running = {m.group() for r in required if "extra ==" not in r if (m := re.match(r"[\w.-]+", r))}
    for name in sorted(running):
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "-"
        h.update(f"{name}=={version}\0".encode())
    files = [
        p for p in here.rglob("*") if p.is_file() and "__pycache__" not in p.relative_to(here).parts
    ]
    for path in sorted(files, key=lambda p: p.relative_to(here).as_posix()):
        data = path.read_bytes()
        h.update(f"{path.relative_to(here).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    return h.digest()


_SALT: bytes | None = None


def _salt() -> bytes:
    """The code that makes a row (code_digest, once per process): a change of it is a change of
    every key."""
    global _SALT
    if _SALT is None:
        _SALT = code_digest()
    return _SALT


def task_key(files: list[RawFile]) -> str:
    """Return the key of a task's note: the task's last file, where it ends.

    Tasks end at content-defined points (process.plan_tasks), so a page added to or removed
    from a task leaves its last file, and so its key, as it was: the note is still found, and
    only the files it does not list as they are now are parsed. (The note lists every file.)
    """
    h = hashlib.blake2b(_salt(), digest_size=20)
    if files:
        h.update(files[-1].path.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def fingerprint(f: RawFile, now_ns: int) -> Fingerprint:
    """Return what must be unchanged for a file's earlier result to be reused."""
    if f.problem is not None:
        return (str(f.problem[0]), f.problem[1])
    if f.changed_ns == 0:
        return None
    return fingerprint_stat((f.size, f.changed_ns, f.modified_ns, f.device, f.inode), now_ns)


def fingerprint_stat(seen: tuple[int, int, int, int, int], now_ns: int) -> Fingerprint:
    """Return the fingerprint of a file from its read.file_stat.

    As git's index does, a file is known by what the system changes whenever its bytes or its
    place change: its device and inode (a file renamed or swapped in, a link pointed elsewhere,
    is another inode), size, mtime and ctime (a write moves both; ctime cannot be set back by
    hand, mtime can). Two versions of one inode can share all of these only within one tick of
    the file system's clock (ext4 stamps times at the kernel's tick, a few ms): a file changed
    less than _RACY_NS before the build looked is not trusted (None: read again next time).
    """
    return None if now_ns - seen[1] < _RACY_NS else seen


def fingerprint_file(root: str | Path, f: RawFile, now_ns: int) -> Fingerprint:
    """Return the fingerprint of a local file not stat-ed by the scan (None if it can't be)."""
    try:
        st = os.stat(os.path.join(root, f.path))  # noqa: PTH116, PTH118
    except (OSError, ValueError):
        return None
    return fingerprint_stat(file_stat(st), now_ns)


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
    signatures: Any  # per parsed row: its body's MinHash (neardup.py), a NumPy array
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
    files: dict[str, tuple[int, ...]] = field(default_factory=dict)  # name → its file_stat
    card: tuple[str, tuple[int, ...]] | None = None  # the card's path and stat
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


def _stat(path: Path) -> tuple[int, int, int, int, int]:
    return file_stat(path.stat())


def _dir(cache_dir: Path) -> Path:
    return cache_dir / _LAYOUT


def _tagged_layout(cache_dir: Path) -> str | None:
    """The cache layout named by the folder's tag, or None: not a cache folder of ours."""
    try:
        text = (cache_dir / _TAG).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = _TAG_LAYOUT.search(text)
    return found.group(1) if text.startswith(_TAG_SIGNATURE) and found else None


def _ours(cache_dir: Path) -> bool:
    return _tagged_layout(cache_dir) == _LAYOUT


def claim(cache_dir: Path) -> None:
    """Make sure the cache folder is corpus-export's alone before anything is written in it.

    Nothing is ever written in a cache folder without the tag (see _ours), nor deleted.
    A missing or empty folder is made ours: created, and marked with a tag naming the tool and
    the cache layout. A folder with our tag is ours (a tag naming an older layout: that
    layout's folder is deleted, then the tag names this one). Any other folder is refused with
    a CorpusExportError, and nothing in it is touched: the cache deletes what it no longer
    needs, which must never be a file of the user's (`--cache-dir .` once deleted an export).
    """
    layout = _tagged_layout(cache_dir)
    if layout is None:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            foreign = next(cache_dir.iterdir(), None)
        except OSError:  # no cache then: nothing is written in a folder without the tag
            return
        if foreign is not None:
            raise CorpusExportError(
                f"the cache folder {str(cache_dir)!r} is not empty and is not a corpus-export "
                f"cache (no {_TAG} of ours in it; {foreign.name!r} is there): the cache deletes "
                "files it no longer needs, so it needs a folder of its own. Pass a new or empty "
                "--cache-dir (a cache of an earlier corpus-export version, without the tag, can "
                "be deleted), or --no-cache"
            )
    elif layout != _LAYOUT and (cache_dir / layout).is_dir():
        import shutil

        shutil.rmtree(cache_dir / layout, ignore_errors=True)
    if layout != _LAYOUT:
        with contextlib.suppress(OSError):  # a folder that cannot be written: no cache, no harm
            (cache_dir / _TAG).write_text(_TAG_TEXT.format(layout=_LAYOUT), encoding="utf-8")


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
    """Return the noted export if it is still exactly as written from source, else None.

    The cache folder is claimed first (see claim): a folder that is not the cache's is refused.
    """
    claim(cache_dir)
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
                if not _ours(self.path.parent.parent):
                    raise OSError(0, "it is not marked as corpus-export's cache folder")
                self.path.parent.mkdir(exist_ok=True)
                self._fh = self.path.open("xb")
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
        if self._fh is None:  # nothing of ours there
            return
        with contextlib.suppress(OSError):
            self._fh.close()
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)


def _digest(data: bytes) -> bytes:
    """A checksum of a note: a damaged one is not used (it could unpickle to wrong numbers).

    XXH3-128: it guards against damage, not forgery (the notes are this user's own files), at
    ~40 GB/s against ~1 for BLAKE2b: a cold build of 100k pages checksums ~60 MB of notes.
    """
    return xxhash.xxh3_128_digest(data)


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
        if _ours(cache_dir):
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
    if not _ours(cache_dir):
        return
    try:
        note = ExportNote(
            export, str(out_dir.absolute()), source, tasks=tasks, settings=settings, shards=shards
        )
        note.files = {
            p.relative_to(out_dir).as_posix(): _stat(p) for p in out_dir.rglob("*") if p.is_file()
        }
        if card.is_file():
            note.card = (str(card.absolute()), _stat(card))
        _dir(cache_dir).mkdir(exist_ok=True)
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

    True when the export and its card are exactly as written (every file's device, inode,
    size, mtime and ctime), it was made with the same settings and code, from the same n_tasks
    tasks, and every task holds the files its note lists, each with the fingerprint noted.
    `tasks` yields (key, paths, fingerprints) of each task, one at a time.
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
    """Return a digest of the build settings and of the code that builds (code_digest)."""
    h = hashlib.blake2b(repr(settings).encode(), digest_size=16)
    h.update(_salt())
    return h.hexdigest()


def prune(cache_dir: Path, export: str) -> None:
    """Delete the notes of other exports than this one: files of the notes' own name pattern in
    the layout folder of a cache folder that carries our tag, and nothing else."""
    if _tagged_layout(cache_dir) != _LAYOUT:
        return
    keep = _notes_path(cache_dir, export).name
    with contextlib.suppress(OSError):  # a cache that cannot be listed or written: kept as is
        for entry in _dir(cache_dir).iterdir():
            if _NOTES_NAME.fullmatch(entry.name) and entry.name != keep and entry.is_file():
                entry.unlink(missing_ok=True)
