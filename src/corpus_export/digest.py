"""SHA-256 of files, each file (or hard link) read at most once per build."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

_DIGESTS: dict[tuple[int, int, int, int], str] = {}


def _stat_key(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def remember_digest(path: Path, digest: str) -> None:
    """Record the SHA-256 of a file just written (hashed on the way), so it is not read again."""
    if len(_DIGESTS) > 10_000:
        _DIGESTS.clear()
    _DIGESTS[_stat_key(path)] = digest


def sha256_file(path: Path) -> tuple[str, int]:
    """Return (SHA-256 hex, size) of a file; a file (or hard link) is read once per build."""
    key = _stat_key(path)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        remember_digest(path, h.hexdigest())
    return _DIGESTS[key], key[2]


def file_digests(folder: Path, rels: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Return {relative POSIX path: {sha256, bytes}} of the given (default: all) files."""
    if rels is None:
        rels = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    out: dict[str, dict[str, Any]] = {}
    for rel in rels:
        digest, size = sha256_file(folder / rel)
        out[rel] = {"sha256": digest, "bytes": size}
    return out
