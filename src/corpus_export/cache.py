"""Chunks of raw files → cached parse results, keyed by each file's path, size and mtime.

The cache lives outside the export (default `.cache/corpus-export/` beside the out folder), so it
never reaches dist/ or a commit. Deleting it is always safe: a miss only means parsing again.
Entries hold exactly what parsing the chunk produced (Arrow IPC rows, CSV bytes, rejects), so a
build from the cache writes the same bytes as a cold one.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import time
from pathlib import Path
from typing import Any

from . import __version__
from .read import RawFile

_SOURCES = ("errors.py", "parse.py", "process.py", "read.py", "schema.py", "validate.py")
#: A file changed this recently may change again within the same mtime tick: don't cache it.
_RACY_NS = 2_000_000_000


def _salt() -> bytes:
    """Version + the parser's own source: a change of rules is a change of every key."""
    h = hashlib.blake2b(__version__.encode(), digest_size=16)
    here = Path(__file__).parent
    for name in _SOURCES:
        h.update((here / name).read_bytes())
    return h.digest()


_SALT: bytes | None = None


def chunk_key(chunk: list[RawFile]) -> str:
    """Return the cache key of a chunk: its files' ids, paths, sizes and mtimes."""
    global _SALT
    if _SALT is None:
        _SALT = _salt()
    h = hashlib.blake2b(_SALT, digest_size=20)
    for f in chunk:
        h.update(
            f"{f.id}\0{f.path}\0{f.size}\0{f.mtime_ns}\0{f.problem}\n".encode(
                "utf-8", "surrogatepass"
            )
        )
    return h.hexdigest()


def _entry(cache_dir: Path, key: str) -> Path:
    return cache_dir / "chunks" / key[:2] / f"{key}.pkl"


def load(cache_dir: Path, chunk: list[RawFile]) -> Any | None:
    """Return the cached result of a chunk, or None."""
    try:
        with _entry(cache_dir, chunk_key(chunk)).open("rb") as fh:
            return pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
        return None


def store(cache_dir: Path, chunk: list[RawFile], value: Any) -> None:
    """Cache a chunk's result (atomically); skip chunks with files changed moments ago."""
    now = time.time_ns()
    if any(f.mtime_ns == 0 or now - f.mtime_ns < _RACY_NS for f in chunk):
        return
    path = _entry(cache_dir, chunk_key(chunk))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except OSError:
        pass  # a cache that cannot be written is only a slower next build


def prune(cache_dir: Path, keep: set[str]) -> None:
    """Delete the entries of chunks that are no longer in the raw folder."""
    root = cache_dir / "chunks"
    if not root.is_dir():
        return
    for sub in root.iterdir():
        for entry in sub.glob("*.pkl"):
            if entry.stem not in keep:
                entry.unlink(missing_ok=True)
