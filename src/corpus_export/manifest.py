"""manifest.json: the export's counts, rejects by reason, schema, settings and every file's
SHA-256; written last, it is what marks a folder as a complete export of ours."""

from __future__ import annotations

import json
from pathlib import Path

from . import schema
from .assemble import BuildResult
from .digest import file_digests
from .layout import MANIFEST, TOOL
from .neardup import DEFAULT_THRESHOLD
from .version import __version__


def write_manifest(stage: Path, result: BuildResult) -> None:
    """Write manifest.json: counts, rejects by reason, schema, version, every file's SHA-256."""
    files = {rel: info for rel, info in sorted(file_digests(stage).items()) if rel != MANIFEST}
    result.files = files
    near = result.near_dups
    manifest = {
        "name": "corpus_export",
        "generator": f"{TOOL} {__version__}",
        "counts": {
            "files_seen": result.files_seen,
            "rows": result.rows,
            "rejects": result.rejects,
            "ignored_files": result.ignored_files,
        },
        "rejects_by_reason": result.rejects_by_reason,
        # files in raw/ that are not pages: the first IGNORED_NAMED, sorted (counts: how many)
        **({"ignored_files": result.ignored_names} if result.ignored_names else {}),
        "schema": [
            {"name": f.name, "type": schema.type_name(f), "nullable": f.nullable}
            for f in schema.kept(result.drop)
        ],
        "hf_shards": result.shards,
        "settings": {
            "shard_bytes": result.shard_bytes,
            "repo_id": result.repo_id,
            "pseudonymize": result.pseudonyms,
            "drop": result.drop,  # columns left out of every file (--drop)
            "near_dups": near.get("mode", "reject"),
            "near_dup_threshold": near.get("threshold", DEFAULT_THRESHOLD),
        },
        # near-duplicates found and removed, an example pair; with --near-dups keep, clusters
        "near_duplicates": {k: v for k, v in near.items() if k not in ("mode", "threshold")},
        "files": files,
    }
    (stage / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
