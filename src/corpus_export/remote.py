"""An export published to an fsspec URL (s3://, gs://, hf://, memory://...): staged, then sent.

A build for a URL writes the export into a local folder, exactly as for a folder, then sends it
file by file (see send_export). Object stores have no atomic rename of a folder: while a send
runs, a reader may find some files new and some old, but the manifest never names a file with
a SHA-256 it does not have. A file whose size and SHA-256 the destination's manifest already
records is not sent again.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .digest import sha256_file
from .errors import CorpusExportError
from .layout import CARD, MANIFEST, is_our_manifest, looks_like_card
from .read import _url_fs

_BLOCK = 1 << 20


@dataclass(slots=True)
class Sent:
    """What publishing to a URL did."""

    sent: int = 0  # files written
    kept: int = 0  # files already there, byte for byte as the manifest says
    removed: int = 0  # files of the previous export that the new one does not have
    bytes_sent: int = 0


def parent_url(url: str) -> str:
    """Return the URL of the folder holding url (`s3://b/x/dist` → `s3://b/x`)."""
    scheme, sep, rest = url.partition("://")
    head, _, _ = rest.rstrip("/").rpartition("/")
    return f"{scheme}{sep}{head}" if head else f"{scheme}{sep}"


def card_beside(url: str) -> str | None:
    """Return the URL of CARD.md beside the folder at url (None at a store's root: no folder)."""
    parent = parent_url(url)
    return join_url(parent, CARD) if parent.partition("://")[2].strip("/") else None


def join_url(url: str, name: str) -> str:
    return f"{url.rstrip('/')}/{name}"


def urls_overlap(a: str, b: str) -> bool:
    """Tell whether two URLs of the same store name the same folder or one holds the other."""
    sa, _, pa_ = a.partition("://")
    sb, _, pb = b.partition("://")
    if sa != sb:
        return False
    x = posixpath.normpath("/" + pa_.strip("/"))
    y = posixpath.normpath("/" + pb.strip("/"))
    return x == y or x.startswith(y.rstrip("/") + "/") or y.startswith(x.rstrip("/") + "/")


def _listing(fs: Any, root: str) -> dict[str, int]:
    """Return {relative path: size} of every file under root ({} if there is no such folder)."""
    try:
        if not fs.exists(root):
            return {}
        if not fs.isdir(root):
            raise CorpusExportError(f"{root!r} exists and is not a folder")
        found = fs.find(root, detail=True)
    except OSError as exc:
        raise CorpusExportError(f"cannot list {root!r}: {exc}") from None
    prefix = root.rstrip("/") + "/"
    return {
        path[len(prefix) :]: int(info.get("size") or 0)
        for path, info in found.items()
        if path.startswith(prefix) and info.get("type", "file") == "file"
    }


def _remote_manifest(fs: Any, root: str) -> tuple[dict[str, Any], bytes] | None:
    """Return the destination's manifest (parsed, and its bytes) if it is one of ours."""
    try:
        data = fs.cat_file(join_url(root, MANIFEST))
        manifest = json.loads(data)
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not is_our_manifest(manifest):
        return None
    return (manifest, data) if isinstance(manifest.get("files"), dict) else None


def check_destination(url: str) -> None:
    """Refuse a destination that holds files but no export of ours (they would be mixed in)."""
    fs, root = _url_fs(url)
    have = _listing(fs, root)
    if have and _remote_manifest(fs, root) is None:
        raise CorpusExportError(
            f"the out folder {url!r} is not empty and holds no corpus-export export (no "
            "manifest.json of ours); nothing was sent: choose a new or empty folder"
        )


def send_export(local: Path, card: Path | None, url: str, card_url: str | None) -> Sent:
    """Send the export in the local folder to url (and the card to card_url); see the module.

    Three steps. While files change, the destination's manifest lists only the files that stay
    as they were (so a send cut short never leaves a file the next build would take for sent);
    then the files are sent, then the new manifest; then the previous export's files that the new
    one does not have are removed (files someone else put there are left alone).
    """
    fs, root = _url_fs(url)
    root = root.rstrip("/")
    have = _listing(fs, root)
    previous = _remote_manifest(fs, root)
    if have and previous is None:  # checked before the build too; the folder may have changed
        check_destination(url)
    manifest = json.loads((local / MANIFEST).read_text(encoding="utf-8"))
    files: dict[str, dict[str, Any]] = manifest["files"]
    known: dict[str, Any] = previous[0]["files"] if previous is not None else {}
    unchanged = {
        rel
        for rel, info in files.items()
        if known.get(rel) == info and have.get(rel) == info["bytes"]
    }
    changing = sorted(set(files) - unchanged)
    extra = sorted((set(known) & set(have)) - set(files) - {MANIFEST})
    manifest_bytes = (local / MANIFEST).read_bytes()
    done = Sent(kept=len(unchanged))
    step = "before the new manifest"
    try:
        if previous is not None and changing:
            interim = {**previous[0], "files": {r: known[r] for r in sorted(unchanged)}}
            fs.pipe_file(join_url(root, MANIFEST), _manifest_bytes(interim))
        for rel in changing:
            _put(fs, local / rel, join_url(root, rel))
            done.sent += 1
            done.bytes_sent += int(files[rel]["bytes"])
        if changing or extra or previous is None or previous[1] != manifest_bytes:
            _put(fs, local / MANIFEST, join_url(root, MANIFEST))  # the new export is complete
            done.sent += 1
        else:
            done.kept += 1
        step = "after the new manifest"
        for rel in extra:
            fs.rm_file(join_url(root, rel))
            done.removed += 1
        if card is not None and card_url is not None and card.exists():
            if same_bytes(card, card_url):
                done.kept += 1
            else:
                card_fs, card_path = _url_fs(card_url)
                _put(card_fs, card, card_path)
                done.sent += 1
    except Exception as exc:  # OSError, or a store's own error class (gcsfs's HttpError...)
        where = (
            "the manifest there lists only files that are complete; a build sends the rest"
            if step == "before the new manifest"
            else "the new export is complete there (its manifest too); a build finishes the "
            "removal of old files and the card"
        )
        raise CorpusExportError(f"sending the export to {url!r} failed: {exc}; {where}") from exc
    return done


def _manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


#: Stores whose folders are key prefixes: nothing to create before writing a file.
_PREFIX_STORES = frozenset(("s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "hf"))


def _put(fs: Any, src: Path, dst: str) -> None:
    protocols = fs.protocol if isinstance(fs.protocol, tuple | list) else (fs.protocol,)
    parent = posixpath.dirname(dst)
    if parent and _PREFIX_STORES.isdisjoint(protocols):
        fs.makedirs(parent, exist_ok=True)
    fs.put_file(str(src), dst)


def card_problem(card_url: str) -> str | None:
    """Tell why the card may not be written at card_url (a file there that is not one of ours)."""
    fs, path = _url_fs(card_url)
    try:
        if not fs.exists(path):
            return None
        if fs.isdir(path):
            return "is a folder"
        with fs.open(path, "rb") as fh:
            head = fh.read(1 << 20).decode("utf-8", "replace")
    except OSError as exc:
        return f"cannot be read ({exc})"
    return None if looks_like_card(head) else "exists and was not written by corpus-export"


def differences(local: Path, url: str) -> list[str]:
    """Return the files at url that differ from the local export's (or are missing or extra)."""
    fs, root = _url_fs(url)
    root = root.rstrip("/")
    have = _listing(fs, root)
    want = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    out: list[str] = []
    for rel in sorted(want | set(have)):
        where = join_url(url, rel)
        if rel not in have:
            out.append(f"{where} (missing)")
        elif rel not in want:
            out.append(f"{where} (not produced by a build)")
        elif (
            have[rel] != (local / rel).stat().st_size
            or _sha256(fs, join_url(root, rel)) != sha256_file(local / rel)[0]
        ):
            out.append(where)
    return out


def same_bytes(local: Path, url: str) -> bool:
    """Tell whether the file at url holds exactly the local file's bytes."""
    fs, path = _url_fs(url)
    try:
        return bool(_sha256(fs, path) == sha256_file(local)[0])
    except OSError:
        return False


def read_manifest(url: str) -> dict[str, Any] | None:
    """Return the manifest of the export at url, if there is one of ours."""
    fs, root = _url_fs(url)
    found = _remote_manifest(fs, root.rstrip("/"))
    return found[0] if found is not None else None


def _sha256(fs: Any, path: str) -> str:
    h = hashlib.sha256()
    with fs.open(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            h.update(block)
    return h.hexdigest()
