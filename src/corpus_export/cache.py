"""The incremental cache: what earlier builds parsed and encoded, reused for unchanged raw files.

The cache lives outside the export (default `.cache/corpus-export/` beside the out folder), so it
never reaches dist/ or a commit. Deleting it is always safe: a miss only means doing the work
again, and a build from the cache writes the same bytes as a cold one.

Two kinds of entries, both made of files a build writes anyway (hard-linked in, not copied):

- **parsed** (`parsed/<task key>.arrow` + `.pkl`), keyed by a task's list of files (ids and
  paths): the rows parsed from them (Arrow IPC), and per file its fingerprint (size, mtime) and
  what it gave (a row, or a reject). A rebuild parses again only the files whose fingerprint
  changed and takes every other row from here.
- **encoded** (`encoded/<part key>.parquet`, `.csv`, `.pkl`), keyed by the parsed entry, every
  fingerprint and the rows the build kept: the task's finished Parquet row group and CSV
  fragment. A task whose files are all unchanged is not encoded again.

Keys are salted with the package version and the source of the modules that decide what a row
is, so a change of parse rules is a change of every key.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .read import RawFile

_SOURCES = ("errors.py", "parse.py", "process.py", "read.py", "schema.py", "validate.py")
#: A file changed this recently may change again within the same mtime tick: never reuse it.
_RACY_NS = 2_000_000_000
_LAYOUT = "v2"

Fingerprint = tuple[int, int] | None  # (size, mtime_ns); None: not to be trusted


def _salt() -> bytes:
    """Version + the parser's own source: a change of rules is a change of every key."""
    h = hashlib.blake2b(__version__.encode(), digest_size=16)
    here = Path(__file__).parent
    for name in _SOURCES:
        h.update((here / name).read_bytes())
    return h.digest()


_SALT: bytes | None = None


def _hasher() -> Any:
    global _SALT
    if _SALT is None:
        _SALT = _salt()
    return hashlib.blake2b(_SALT, digest_size=20)


def task_key(files: list[RawFile]) -> str:
    """Return the key of a task's parsed entry: which files it holds (not their contents)."""
    h = _hasher()
    for f in files:
        h.update(f"{f.id}\0{f.path}\n".encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def fingerprint(f: RawFile, now_ns: int) -> Fingerprint:
    """Return what must be unchanged for a file's cached result to be reused."""
    if f.problem is not None or f.mtime_ns == 0 or now_ns - f.mtime_ns < _RACY_NS:
        return None
    return (f.size, f.mtime_ns)


def part_key(key: str, prints: list[Fingerprint], keep: bytes | None) -> str | None:
    """Return the key of a task's encoded entry; None when a file cannot be trusted."""
    if any(p is None for p in prints):
        return None
    h = _hasher()
    h.update(key.encode())
    h.update(pickle.dumps(prints, protocol=4))
    h.update(b"all" if keep is None else keep)
    return h.hexdigest()


@dataclass(slots=True)
class ParsedEntry:
    """Per file of a task, in order: its fingerprint and its outcome (row number or reject)."""

    prints: list[Fingerprint]
    outcomes: list[int | Any]  # an int is the row's position in the entry's Arrow file
    dedup_keys: list[bytes]  # per row
    arrow: str = ""  # path of the entry's Arrow IPC file (set by load)


@dataclass(slots=True)
class EncodedEntry:
    rows: int
    nbytes: int
    stats: Any
    parquet: str = ""
    csv: str = ""


def _dir(cache_dir: Path, kind: str) -> Path:
    return cache_dir / _LAYOUT / kind


def _load_pickle(path: Path) -> Any | None:
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError):
        return None


def _store_pickle(path: Path, value: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)


def _link(src: str | Path, dst: Path) -> None:
    """Put src's inode at dst (atomically replacing dst); copy where links are not possible."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        import shutil

        shutil.copyfile(src, tmp)
    tmp.replace(dst)


def load_parsed(cache_dir: Path, key: str) -> ParsedEntry | None:
    """Return a task's parsed entry, or None."""
    where = _dir(cache_dir, "parsed")
    entry = _load_pickle(where / f"{key}.pkl")
    if not isinstance(entry, ParsedEntry):
        return None
    arrow = where / f"{key}.arrow"
    if not arrow.is_file():
        return None
    entry.arrow = str(arrow)
    return entry


def store_parsed(cache_dir: Path, key: str, entry: ParsedEntry, arrow_file: str) -> None:
    """Cache a task's parsed rows (arrow_file is hard-linked, not copied) and outcomes."""
    where = _dir(cache_dir, "parsed")
    try:
        where.mkdir(parents=True, exist_ok=True)
        _link(arrow_file, where / f"{key}.arrow")
        entry.arrow = ""
        _store_pickle(where / f"{key}.pkl", entry)
    except OSError:
        pass  # a cache that cannot be written is only a slower next build


def load_encoded(cache_dir: Path, key: str) -> EncodedEntry | None:
    """Return a task's encoded entry (paths of its Parquet and CSV files), or None."""
    where = _dir(cache_dir, "encoded")
    entry = _load_pickle(where / f"{key}.pkl")
    if not isinstance(entry, EncodedEntry):
        return None
    entry.parquet = str(where / f"{key}.parquet")
    entry.csv = str(where / f"{key}.csv")
    if entry.rows and not (Path(entry.parquet).is_file() and Path(entry.csv).is_file()):
        return None
    return entry


def store_encoded(
    cache_dir: Path, key: str, entry: EncodedEntry, parquet: str | None, csv: str | None
) -> None:
    """Cache a task's encoded files (hard-linked, not copied) and what the parent needs."""
    where = _dir(cache_dir, "encoded")
    try:
        where.mkdir(parents=True, exist_ok=True)
        if parquet is not None and csv is not None:
            _link(parquet, where / f"{key}.parquet")
            _link(csv, where / f"{key}.csv")
        entry.parquet = entry.csv = ""
        _store_pickle(where / f"{key}.pkl", entry)
    except OSError:
        pass


def prune(cache_dir: Path, parsed: set[str], encoded: set[str]) -> None:
    """Delete every entry this build did not use (and files of older cache layouts)."""
    if not cache_dir.is_dir():
        return
    for old in cache_dir.iterdir():
        if old.name != _LAYOUT and old.is_dir() and old.name in ("chunks",):
            import shutil

            shutil.rmtree(old, ignore_errors=True)
    for kind, keep in (("parsed", parsed), ("encoded", encoded)):
        where = _dir(cache_dir, kind)
        if not where.is_dir():
            continue
        for entry in where.iterdir():
            stem = entry.name.split(".", 1)[0]
            if entry.name.startswith(".") or stem not in keep:
                entry.unlink(missing_ok=True)


def now_ns() -> int:
    return time.time_ns()
