"""SHA-256 of files; within a build, each file it wrote (or hard link to one) read at most once.

A build hashes its files as it writes them (`remember_digest`) and names their digests in the
manifest, the card and the metadata (`file_digests`). Inside `remembered()` (one build), a
digest once known is reused for the same file, told by (device, inode, size, mtime, ctime);
outside it, every call reads the file: `validate` and `push` always hash what is on disk. The
memory ends with the build, so a later build, whose files may get the same inode, size and
coarse timestamps, never sees a digest of an earlier build's file.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Generator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

_Key = tuple[int, int, int, int, int]
_DIGESTS: ContextVar[dict[_Key, str] | None] = ContextVar("corpus_export_digests", default=None)


@contextlib.contextmanager
def remembered() -> Generator[None, None, None]:
    """Within: a digest, once known, is not computed again for the same file (one build)."""
    token = _DIGESTS.set({})
    try:
        yield
    finally:
        _DIGESTS.reset(token)


def _stat_key(path: Path) -> _Key:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def remember_digest(path: Path, digest: str) -> None:
    """Record the SHA-256 of a file just written (hashed on the way), so it is not read again."""
    memo = _DIGESTS.get()
    if memo is not None:
        memo[_stat_key(path)] = digest


def sha256_file(path: Path) -> tuple[str, int]:
    """Return (SHA-256 hex, size) of a file (within a build, each file is read once)."""
    memo = _DIGESTS.get()
    key = _stat_key(path)
    if memo is not None and key in memo:
        return memo[key], key[2]
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    if memo is not None:
        memo[key] = h.hexdigest()
    return h.hexdigest(), key[2]


def file_digests(folder: Path, rels: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Return {relative POSIX path: {sha256, bytes}} of the given (default: all) files."""
    if rels is None:
        rels = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    out: dict[str, dict[str, Any]] = {}
    for rel in rels:
        digest, size = sha256_file(folder / rel)
        out[rel] = {"sha256": digest, "bytes": size}
    return out
