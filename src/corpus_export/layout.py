"""The names of an export's files and of the tool's own files: the one place they are spelled.

An export is one folder (`dist/` by default), replaced whole by every build:

    corpus.parquet  corpus.csv  rejects.csv  datapackage.json  croissant.json  manifest.json
    hf/README.md  hf/LICENSE.md  hf/data/train-*.parquet  hf/images/*.svg

and a dataset card (`CARD.md` beside the folder by default). Everything here is a name, and
the two tests that tell a folder or a card written by corpus-export from anyone else's.
"""

from __future__ import annotations

import json
from pathlib import Path

#: the tool's name, as the manifest's generator, the card and the command line spell it
TOOL = "corpus-export"

# the export folder
CORPUS_PARQUET = "corpus.parquet"
CORPUS_CSV = "corpus.csv"
REJECTS_CSV = "rejects.csv"
DATAPACKAGE = "datapackage.json"
CROISSANT = "croissant.json"
MANIFEST = "manifest.json"
#: the files a user downloads from the export, whose checksums the card lists
DATA_FILES = (CORPUS_PARQUET, CORPUS_CSV, REJECTS_CSV)
#: the Hub folder (pushed as the dataset repository) and, inside it, the card and the shards
HF_DIR = "hf"
HF_README = "README.md"
HF_LICENSE = "LICENSE.md"
HF_DATA = "data"
#: the card's pictures, in the Hub folder (one SVG per chart name)
HF_IMAGES = "images"

# the default folders of the pages and of the export
RAW = "raw"
OUT = "dist"

# beside the export folder
CARD = "CARD.md"  # the dataset card's default name
REPORT = "report.html"  # `corpus-export report`'s default file (never inside the export)
#: a build writes its export into `<out>.tmp-<pid>-<random>/export/` (the stage), and moves the
#: previous one into `<out>.old-<pid>-<random>/export/` while it swaps; each of these folders
#: holds a MARK file naming the tool, the kind of folder and the folder itself, and only folders
#: so marked are ever removed or recovered (the same for the scratch folders in TMPDIR)
STAGE_INFIX = ".tmp-"
OLD_INFIX = ".old-"
BOXED = "export"
MARK = f".{TOOL}"
#: the out folder's lock, beside it while a build writes it: `.<out>.corpus-export-lock`
LOCK_SUFFIX = f".{TOOL}-lock"
#: the incremental cache's default folder (beside the out folder)
CACHE_DIR = ".cache/corpus-export"
#: inside the cache: the local copy of an export built for a URL, one per URL
SENT_DIR = "sent"

# inside a stage, and in the system's temp folder
PART_DIR = ".parts"  # workers' encoded parts until they are spliced
SCRATCH_PREFIX = f"{TOOL}-"  # a build's scratch folder in TMPDIR
SCAN_LIST = "files.arrow"  # the sorted list of raw files, in the scratch folder
NEAR_DUP_SIGNATURES = "heads.minhash"  # the near-duplicate heads' signatures, in PART_DIR


def hf_data(name: str) -> str:
    """Return the export-relative path of the Hub shard called name."""
    return f"{HF_DIR}/{HF_DATA}/{name}"


def hf_image(chart: str) -> str:
    """Return the Hub-folder-relative path of the card's picture called chart."""
    return f"{HF_IMAGES}/{chart}.svg"


def is_export(folder: Path) -> bool:
    """Tell whether a folder holds an export written by corpus-export (its manifest says so)."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and is_our_manifest(manifest)


def is_our_manifest(manifest: dict[str, object]) -> bool:
    """Tell whether a parsed manifest was written by corpus-export."""
    return str(manifest.get("generator", "")).startswith(TOOL)


def is_card(path: Path) -> bool:
    """Tell whether a file is a dataset card written by corpus-export (so a build may replace
    it)."""
    try:
        with path.open("rb") as fh:
            return looks_like_card(fh.read(1 << 20).decode("utf-8", "replace"))
    except OSError:
        return False


def looks_like_card(text: str) -> bool:
    """Tell whether text opens a card of ours: YAML front matter, and the card's own line naming
    the version that wrote it."""
    return text.startswith("---\n") and f"{TOOL} (version" in text
