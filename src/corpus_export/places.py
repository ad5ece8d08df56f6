"""Where a build may write: the out folder, the card and the cache, checked before anything is.

A build replaces the out folder whole and the card file, so neither may hold or be inside
anything else of the user's (the raw pages, the cache, a file that is not ours), and a card
that is another export's is not changed (`check_card_owner`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import unquote, urlparse

from .errors import CorpusExportError
from .layout import HF_DIR, HF_README, is_card, is_export


def resolve_place(path: Path, what: str) -> Path:
    """Return path resolved (links followed, `..` folded), or raise CorpusExportError when it
    cannot be (a loop of symbolic links, a folder that cannot be read on the way)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # (Python 3.11 raises RuntimeError for a loop)
        why = "a loop of symbolic links" if "loop" in str(exc).lower() else str(exc)
        raise CorpusExportError(f"the {what} {str(path)!r} cannot be resolved: {why}") from None


def out_place(out_dir: Path) -> Path:
    """Return the out folder as a build names it: the folder above resolved, its own name
    kept, so every spelling of one folder is one name (`sub/../dist`, a path through a link),
    and a link to a folder stays a link (the folder it names is the one replaced)."""
    if out_dir.is_symlink() or out_dir.name in ("", ".", ".."):
        return resolve_place(out_dir, "out folder")
    return resolve_place(out_dir.absolute().parent, "out folder's parent") / out_dir.name


def check_places(
    raw: Path | str, out_dir: Path, card: Path, cache_dir: Path | str | None = None
) -> None:
    """Refuse an out folder whose replacement would take other files with it.

    Every build replaces the out folder whole, so it must not be or hold the raw folder (nor
    sit inside it), must not hold the card or the cache, and must be new, empty or an earlier
    export. The cache must not be inside the raw folder either (its files would be counted).
    """
    out = resolve_place(out_dir, "out folder")
    local = raw if isinstance(raw, Path) else file_url_path(raw)
    src = resolve_place(local, "raw folder") if local is not None else None
    if src is not None and (out == src or src.is_relative_to(out) or out.is_relative_to(src)):
        raise CorpusExportError(
            f"the out folder {str(out_dir)!r} and the raw folder {str(raw)!r} overlap; "
            "a build replaces the out folder whole, so keep them apart (e.g. raw/ and dist/)"
        )
    if cache_dir is not None:
        at = resolve_place(Path(cache_dir).absolute(), "cache folder")
        for folder, what in ((out, "out folder"), (src, "raw folder")):
            if folder is not None and at.is_relative_to(folder):
                named = out_dir if folder == out else raw
                raise CorpusExportError(
                    f"the cache folder {str(cache_dir)!r} is inside the {what} {str(named)!r}; "
                    "keep the cache apart (the default is .cache/corpus-export/ beside the out "
                    "folder), or pass --no-cache"
                )
    # the card may be a link into the out folder: the swap replaces the link, not its target
    card_at = resolve_place(card.absolute().parent, "card's folder") / card.name
    if card_at.is_relative_to(out):
        raise CorpusExportError(
            f"the card {str(card)!r} is inside the out folder {str(out_dir)!r}, which a build "
            "replaces whole; write it beside the out folder (the default) or elsewhere"
        )
    check_card(card, raw)
    if out.is_dir() and any(out.iterdir()) and not is_export(out):
        raise CorpusExportError(
            f"the out folder {str(out_dir)!r} is not empty and holds no corpus-export export "
            "(no manifest.json of ours); a build replaces the out folder whole, so it is left "
            "untouched: choose a new or empty folder"
        )


def file_url_path(url: str) -> Path | None:
    """Return the local path of a file:// URL (None for any other URL)."""
    parsed = urlparse(url)
    if parsed.scheme != "file":
        return None
    if parsed.netloc not in ("", "localhost") or not parsed.path:
        raise CorpusExportError(
            f"{url!r} is not a file URL of an absolute path: write file:///abs/path, or a plain "
            "path (relative paths are fine without file://)"
        )
    return Path(unquote(parsed.path))


def check_card(card: Path, raw: Path | str) -> None:
    """Refuse a local card path whose writing would lose something (see check_places)."""
    local = raw if isinstance(raw, Path) else file_url_path(raw)
    card_at = card.absolute().parent.resolve() / card.name
    if local is not None and card_at.is_relative_to(local.resolve()):
        raise CorpusExportError(
            f"the card {str(card)!r} is inside the raw folder {str(raw)!r}; write it elsewhere "
            "(the default is CARD.md beside the out folder)"
        )
    if card.is_dir():
        raise CorpusExportError(f"the card {str(card)!r} is a folder; give a file path")
    if card.exists() and not is_card(card):
        raise CorpusExportError(
            f"the card {str(card)!r} exists and was not written by corpus-export; it is left "
            "untouched: move it, or choose another path with --card"
        )


def check_card_owner(card: Path, out_dir: Path, card_text: str) -> None:
    """Refuse to change a card that is the card of another export.

    Two corpora built in one folder share the default CARD.md: the card of an export folder
    beside the card or beside out_dir (other than out_dir) whose hf/README.md holds the card's
    bytes (a build writes both alike) is that export's, and a build into out_dir leaves it
    as it is, unless it would write the very same bytes, or the card is out_dir's card too (two
    exports of the same bytes, each with its own card). A card whose export is gone is
    replaced."""
    try:
        have = card.read_bytes()
    except FileNotFoundError:
        return
    if have == card_text.encode("utf-8"):
        return
    with contextlib.suppress(OSError):
        if (out_dir / HF_DIR / HF_README).read_bytes() == have:
            return
    owner = export_with_card(have, [card.parent, out_dir.parent], out_dir)
    if owner is not None:
        raise CorpusExportError(
            f"the card {str(card)!r} is the card of the export {str(owner)!r}, not of "
            f"{str(out_dir)!r}; it is left untouched: write this export's card elsewhere with "
            "--card PATH"
        )


def export_with_card(text: bytes, folders: list[Path], other_than: Path) -> Path | None:
    """Return an export folder in folders (other than other_than) whose card (hf/README.md)
    holds text, or None."""
    seen = {other_than.absolute().resolve()}
    for folder in folders:
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            readme = entry / HF_DIR / HF_README
            try:
                same = readme.stat().st_size == len(text) and readme.read_bytes() == text
                at = entry.absolute().resolve()
            except OSError:
                continue
            if same and at not in seen and is_export(entry):
                return entry
            seen.add(at)
    return None
