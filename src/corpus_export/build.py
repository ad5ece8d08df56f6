"""raw/ → parsed batches (local processes or Dask) → one validated, all-or-nothing export.

The build, top to bottom: check the places (places.py), take the out folder (swap.py), start
the workers and list raw/ (engine.py), return early if nothing changed (cache.py), assemble the
export in a stage (assemble.py, with engine.py's parts), write the card and metadata
(publish.py) and the manifest (manifest.py), then swap the stage in (swap.py). For a URL, the
export is built in a local folder and sent (remote.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Generator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa

from . import cache, remote
from .assemble import Assembler, BuildResult, Incremental
from .diff import Summary, summarize
from .digest import remembered
from .engine import Progress, give_back_freed_heap, run, scan_apart, start_pool, stop_pool
from .errors import CorpusExportError, ValidationError
from .hub import check_repo_id
from .layout import (
    CARD,
    CORPUS_CSV,
    CORPUS_PARQUET,
    MANIFEST,
    OUT,
    PART_DIR,
    RAW,
    REJECTS_CSV,
    SCAN_LIST,
    SCRATCH_PREFIX,
    SENT_DIR,
    hf_data,
    is_export,
)
from .manifest import write_manifest
from .neardup import DEFAULT_THRESHOLD, MODES
from .places import check_card, check_card_owner, check_places, file_url_path, out_place
from .process import Part, Task, plan_tasks, task_files
from .pseudonym import Pseudonyms, Release, release
from .publish import write_publication
from .read import Scan, is_url, scan_url
from .swap import (
    drop_stage,
    interrupts_held,
    make_scratch,
    make_stage,
    only_build_into,
    recover_interrupted_swap,
    swap_in,
    unlisted_files,
    write_spare,
)
from .write import DEFAULT_SHARD_BYTES

__all__ = ["DEFAULT_SHARD_BYTES", "BuildResult", "build"]


def build(
    raw_dir: Path | str = RAW,
    out_dir: Path | str = OUT,
    *,
    card_path: Path | str | None = None,
    workers: int | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    cache_dir: Path | str | None = None,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
    repo_id: str | None = None,
    pseudonyms: Pseudonyms | None = None,
    drop: tuple[str, ...] | list[str] = (),
    near_dups: str = "reject",
    near_dup_threshold: float = DEFAULT_THRESHOLD,
) -> BuildResult:
    """Parse raw_dir, validate every row and write every export to out_dir, all or nothing.

    The export is written into a temporary folder beside out_dir and swapped in only when every
    file is complete; CARD.md (default: beside out_dir) is replaced in the same step. With a
    cache_dir (local engine), rows of unchanged raw files are taken from the previous export
    instead of parsed again (see cache.py). With a repo_id (`OWNER/NAME`), the card's loading
    lines name that Hugging Face dataset repo, and `push` accepts no other. With pseudonyms,
    their columns hold keyed pseudonyms instead of the names (pseudonym.py); the columns named
    in drop are left out of every file and description of the export. Pages whose bodies
    are near-duplicates of an earlier kept page's (similarity >= near_dup_threshold) are
    rejected, or kept with near_dups="keep" (see neardup.py).
    """
    raw: Path | str = raw_dir if is_url(raw_dir) else Path(raw_dir)
    if engine not in ("local", "dask"):
        raise CorpusExportError(f"unknown engine {engine!r}: use 'local' or 'dask'")
    if scheduler and engine != "dask":
        raise CorpusExportError("--scheduler names a Dask cluster: it needs --engine dask")
    if near_dups not in MODES:
        raise CorpusExportError(f"unknown --near-dups {near_dups!r}: use 'reject' or 'keep'")
    if not 0 < near_dup_threshold <= 1:
        raise CorpusExportError(
            f"--near-dup-threshold must be above 0 and at most 1, not {near_dup_threshold}"
        )
    if scheduler and workers:
        raise CorpusExportError(
            "--workers sets the local worker processes, or a LocalCluster's (--engine dask "
            "without --scheduler); a cluster at --scheduler has the workers it has"
        )
    if repo_id is not None:
        check_repo_id(repo_id, namespaced=True)
    drop = release(drop, pseudonyms).drop  # an error now for a column that cannot be dropped
    options: dict[str, Any] = {
        "workers": workers,
        "engine": engine,
        "scheduler": scheduler,
        "shard_bytes": shard_bytes,
        "cache_dir": cache_dir,
        "progress": progress,
        "on_total": on_total,
        "repo_id": repo_id,
        "pseudonyms": pseudonyms,
        "drop": drop,
        "near_dups": near_dups,
        "near_dup_threshold": near_dup_threshold,
    }
    if isinstance(out_dir, str) and is_url(out_dir):
        local_out = file_url_path(out_dir)
        if local_out is None:
            with remembered():
                return _build_for_url(raw, out_dir, card_path, **options)
        out_dir = local_out
    if isinstance(card_path, str) and is_url(card_path):
        card_path = file_url_path(card_path) or card_path
    if isinstance(card_path, str) and is_url(card_path):
        raise CorpusExportError(f"the card {card_path!r} may be a URL only when --out is one")
    out_dir = Path(out_dir)
    card = Path(card_path) if card_path is not None else out_dir.parent / CARD
    check_places(raw, out_dir, card, cache_dir if engine == "local" else None)
    # `--out .` has no name to put the stage beside; a link to a folder (on a bigger disk, say)
    # stays a link: the folder it names is the one replaced
    out_dir = out_place(out_dir)
    with only_build_into(out_dir), remembered():
        return _build_local(raw, out_dir, card, **options)


def _build_local(
    raw: Path | str,
    out_dir: Path,
    card: Path,
    *,
    workers: int | None,
    engine: str,
    scheduler: str | None,
    shard_bytes: int,
    cache_dir: Path | str | None,
    progress: Callable[[int], None] | None,
    on_total: Callable[[int], None] | None,
    repo_id: str | None,
    pseudonyms: Pseudonyms | None,
    drop: tuple[str, ...],
    near_dups: str,
    near_dup_threshold: float,
) -> BuildResult:
    """build(), once the places are checked and the out folder is this build's alone."""
    published = release(drop, pseudonyms)
    recover_interrupted_swap(out_dir, card)
    # pyarrow's default allocator keeps freed memory for reuse: ~100 MB more at peak here.
    # The system allocator gives it back; the forked workers inherit the choice.
    arrow_pool = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    pool = start_pool(workers or os.cpu_count() or 1) if engine == "local" else None
    scratch: Path | None = None
    scan: Scan | None = None
    held = contextlib.ExitStack()  # Ctrl-C, from the swap on
    try:
        incremental = None
        source = str(raw) if isinstance(raw, str) else str(raw.resolve())
        if cache_dir is not None and engine == "local":
            names = (CORPUS_PARQUET, CORPUS_CSV)
            previous = cache.previous_export(Path(cache_dir), out_dir, names, source)
            if previous is not None and _rows_made_with(out_dir) != published.setting():
                previous = None  # its rows were made otherwise: none can be reused
            # absolute: the swap may rename the working folder itself (--out .)
            incremental = Incremental(Path(cache_dir).absolute(), previous)
        # the sorted list of files waits on disk, in the system's temp folder, read as it is used
        scratch = make_scratch()
        listing = scratch / SCAN_LIST
        scan = scan_url(raw, listing) if isinstance(raw, str) else scan_apart(raw, listing, pool)
        if not len(scan):
            raise CorpusExportError(
                f"no *.txt or *.txt.gz files under {str(raw)!r}"
                + (f" ({_ignored(scan)})" if scan.ignored else "")
            )
        if on_total:
            on_total(len(scan))
        tasks = plan_tasks(scan)
        give_back_freed_heap()  # what listing the files and planning the tasks left
        if incremental is not None:
            # everything else the export shows: other files counted in the summary and card
            settings = cache.build_digest(
                shard_bytes,
                card.name,
                scan.ignored,
                scan.ignored_names,
                repo_id,
                published.setting(),
                near_dups,
                near_dup_threshold,
            )
            if incremental.previous is not None:
                done = _unchanged(
                    scan, tasks, out_dir, source, card, incremental.cache_dir, settings
                )
                if done is not None:
                    return done
        stage = make_stage(out_dir)
        try:
            result = _build_into(
                stage,
                raw,
                scan,
                tasks,
                pool=pool,
                engine=engine,
                scheduler=scheduler,
                shard_bytes=shard_bytes,
                incremental=incremental,
                progress=progress or (lambda n: None),
                workers=workers,
                release=published,
                near_dups=near_dups,
                near_dup_threshold=near_dup_threshold,
            )
            result.repo_id = repo_id
            result.pseudonyms = published.setting()["pseudonymize"]
            result.drop = list(published.drop)
            card_text = write_publication(stage, result)
            check_card_owner(card, out_dir, card_text)
            write_manifest(stage, result)
            result.changes = _changes_since(out_dir, stage, result.warnings)
            noted = False
            if incremental is not None:
                cache.forget_export(incremental.cache_dir)
                noted = incremental.notes.close()
            strays = unlisted_files(out_dir)
            held.enter_context(interrupts_held())
            swap_in(stage, out_dir, card, card_text)
            if strays:
                result.warnings.append(_removed(strays, out_dir))
            if incremental is not None and noted:
                cache.store_export(
                    incremental.cache_dir,
                    incremental.export,
                    out_dir,
                    source,
                    card,
                    len(incremental.notes.index),
                    settings,
                    [
                        (a, b, name, result.files[hf_data(name)]["sha256"])
                        for name, (a, b) in zip(result.shards, result.shard_groups, strict=True)
                    ],
                )
            if incremental is not None:
                cache.prune(incremental.cache_dir, incremental.export if noted else "")
            if incremental is not None and incremental.notes.error is not None:
                result.warnings.append(
                    f"the cache folder {str(incremental.cache_dir)!r} cannot be written "
                    f"({incremental.notes.error}): the next build parses every page again"
                )
            if not result.rows:
                result.warnings.append(
                    f"every page was rejected: the export has no rows (see {REJECTS_CSV})"
                )
        except BaseException as exc:
            drop_stage(stage)
            if incremental is not None:
                incremental.notes.abort()
            if isinstance(exc, OSError):  # disk full, read-only or vanished folder...
                where = f" ({exc.filename})" if exc.filename else ""
                raise CorpusExportError(
                    f"writing the export failed: {exc.strerror or exc}{where}; "
                    f"the previous {out_dir}/ is untouched"
                ) from exc
            if isinstance(exc, ImportError):  # a broken install: no export without its card
                raise CorpusExportError(
                    f"a library the build needs cannot be loaded ({exc}); reinstall "
                    f"corpus-export; the previous {out_dir}/ is untouched"
                ) from exc
            raise
    finally:
        if pool is not None:
            stop_pool(pool)
        if scan is not None:
            scan.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        pa.set_memory_pool(arrow_pool)
        held.close()
    result.out_dir = out_dir
    return result


def _rows_made_with(out_dir: Path) -> dict[str, Any] | None:
    """How out_dir's rows were made beyond parsing (Release.setting), as its manifest records
    it (None if it cannot be read)."""
    try:
        settings = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))["settings"]
        return {"drop": settings["drop"], "pseudonymize": settings.get("pseudonymize")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _ignored(scan: Scan, shown: int = 5) -> str:
    """Say how many files in raw/ are not pages, naming the first few."""
    names = ", ".join(scan.ignored_names[:shown])
    more = ", ..." if scan.ignored > shown else ""
    return f"{scan.ignored} other files ignored: {names}{more}"


def _removed(strays: list[str], out_dir: Path, shown: int = 10) -> str:
    """Say which files the swap removed from out_dir that were not part of its export."""
    names = ", ".join(strays[:shown])
    more = f" and {len(strays) - shown} more" if len(strays) > shown else ""
    return (
        f"removed {len(strays)} file(s) from {out_dir}/ that were not part of the export it "
        f"held: {names}{more}"
    )


def _changes_since(out_dir: Path, stage: Path, warnings: list[str]) -> Summary | None:
    """What the export in stage changes from the one in out_dir that it is about to replace
    (None: there is none). Only said to the user: the export itself never depends on it."""
    if not is_export(out_dir):
        return None
    try:
        return summarize(out_dir, stage)
    except CorpusExportError as exc:
        warnings.append(f"the previous export cannot be compared with the new one: {exc}")
        return None


def _build_for_url(
    raw: Path | str,
    url: str,
    card_path: Path | str | None,
    cache_dir: Path | str | None = None,
    **options: Any,
) -> BuildResult:
    """Build into a local folder, then send the export to url (see remote.py).

    The card goes beside the out folder there (or to card_path, a path or URL). With a
    cache_dir, the local folder is a copy of the export kept in it (one per URL), built
    incrementally like any other; else a temporary folder, built cold.
    """
    if url.startswith("hf://"):
        raise CorpusExportError(
            "--out hf://… would make a commit per file; push the Hub folder in one commit with "
            "`corpus-export push REPO_ID` instead"
        )
    if isinstance(raw, str) and remote.urls_overlap(raw, url):
        raise CorpusExportError(
            f"the out folder {url!r} and the raw folder {raw!r} overlap; keep them apart"
        )
    card_url: str | None = None
    if card_path is None:
        card_url = remote.card_beside(url)
        if card_url is None:
            raise CorpusExportError(
                f"the out folder {url!r} has no folder above it for CARD.md; say where the card "
                "goes (--card, or card_path)"
            )
    elif isinstance(card_path, str) and is_url(card_path):
        card_url = card_path
    if card_url is not None:
        if remote.urls_overlap(card_url, url):
            raise CorpusExportError(
                f"the card {card_url!r} is inside the out folder {url!r}; write it beside it"
            )
        if isinstance(raw, str) and remote.urls_overlap(card_url, raw):
            raise CorpusExportError(f"the card {card_url!r} is inside the raw folder {raw!r}")
        problem = remote.card_problem(card_url)
        if problem is not None:
            raise CorpusExportError(f"the card {card_url!r} {problem}; it is left untouched")
    else:
        assert card_path is not None
        check_card(Path(card_path), raw)
    remote.check_destination(url)
    if (
        cache_dir is not None
        and isinstance(raw, Path)
        and Path(cache_dir).absolute().resolve().is_relative_to(raw.resolve())
    ):
        raise CorpusExportError(
            f"the cache folder {str(cache_dir)!r} is inside the raw folder {str(raw)!r}: run "
            "from another folder, or pass --cache-dir or --no-cache"
        )
    with contextlib.ExitStack() as stack:
        if cache_dir is None:
            here = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX)))
        else:  # the copy sent last time: rebuilt incrementally, then only what changed is sent
            cache.claim(Path(cache_dir))  # the cache's folder alone, before anything goes in
            here = Path(cache_dir) / SENT_DIR / hashlib.sha256(url.encode()).hexdigest()[:16]
            here.mkdir(parents=True, exist_ok=True)
        local, local_card = here / OUT, here / CARD
        result = build(raw, local, card_path=local_card, cache_dir=cache_dir, **options)
        result.sent = remote.send_export(local, local_card, url, card_url)
        if card_url is None and local_card.exists():  # a local card for a remote export
            assert card_path is not None
            card = Path(card_path)
            spare: Path | None = None
            try:
                spare = write_spare(card, local_card.read_bytes())
                spare.replace(card)
            except OSError as exc:
                if spare is not None:
                    spare.unlink(missing_ok=True)
                raise CorpusExportError(
                    f"the export was sent, but the card {str(card)!r} could not be written: "
                    f"{exc.strerror or exc}"
                ) from None
    result.out_dir = url
    return result


def _unchanged(
    scan: Scan,
    tasks: list[Task],
    out_dir: Path,
    source: str,
    card: Path,
    cache_dir: Path,
    settings: str,
) -> BuildResult | None:
    """Return the result of the export in out_dir if building again would write it byte for
    byte (nothing changed in raw/, the export, the card, the settings or the code), else None."""
    now = cache.now_ns()
    notes = (  # one task's file records at a time
        (cache.task_key(files), [f.path for f in files], [cache.fingerprint(f, now) for f in files])
        for files in (task_files(scan, t) for t in tasks)
    )
    if not cache.unchanged_export(cache_dir, out_dir, source, card, settings, notes, len(tasks)):
        return None
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        counts = manifest["counts"]
        return BuildResult(
            out_dir=out_dir,
            files_seen=counts["files_seen"],
            rows=counts["rows"],
            rejects_by_reason=manifest["rejects_by_reason"],
            ignored_files=counts["ignored_files"],
            ignored_names=manifest.get("ignored_files", []),
            stats={},
            examples={},
            shards=manifest["hf_shards"],
            shard_bytes=manifest["settings"]["shard_bytes"],
            repo_id=manifest["settings"].get("repo_id"),
            pseudonyms=manifest["settings"].get("pseudonymize"),
            drop=manifest["settings"]["drop"],
            files=manifest["files"],
            unchanged=True,
            near_dups={
                "mode": manifest["settings"]["near_dups"],
                "threshold": manifest["settings"]["near_dup_threshold"],
                **manifest["near_duplicates"],
            },
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _build_into(
    stage: Path,
    raw_dir: Path | str,
    scan: Scan,
    tasks: list[Task],
    *,
    pool: ProcessPoolExecutor | None,
    engine: str,
    scheduler: str | None,
    shard_bytes: int,
    incremental: Incremental | None,
    progress: Progress,
    workers: int | None = None,
    release: Release | None = None,
    near_dups: str = "reject",
    near_dup_threshold: float = DEFAULT_THRESHOLD,
) -> BuildResult:
    root = raw_dir if isinstance(raw_dir, str) else raw_dir.resolve()
    materialised = (task_files(scan, t) for t in tasks)  # one task's records at a time
    part_dir = stage / PART_DIR
    part_dir.mkdir()
    drop = release.drop if release is not None else ()
    asm = Assembler(stage, len(scan), shard_bytes, incremental, near_dups, near_dup_threshold, drop)
    parts: Generator[Part, None, None]
    try:
        parts = run(
            engine,
            root,
            materialised,
            part_dir=part_dir,
            pool=pool,
            progress=progress,
            decide=asm.decide,
            previous=incremental.previous if incremental else None,
            caching=incremental is not None,
            scheduler=scheduler,
            workers=workers,
            release=release,
        )
        try:
            for part in parts:
                asm.add(part)
        finally:
            parts.close()  # stop the worker pool or cluster now, not at interpreter exit
        rows, by_reason, stats, examples, shards = asm.finish(pool if engine == "local" else None)
        near = asm.near_duplicates()
    except BaseException:
        asm.abort()
        raise
    shutil.rmtree(part_dir)
    if rows + sum(by_reason.values()) != len(scan):
        raise ValidationError(
            f"lost pages (a bug in corpus_export): {len(scan)} files seen but {rows} rows + "
            f"{sum(by_reason.values())} rejects"
        )
    return BuildResult(
        out_dir=stage,
        files_seen=len(scan),
        rows=rows,
        rejects_by_reason=by_reason,
        ignored_files=scan.ignored,
        ignored_names=scan.ignored_names,
        stats=stats,
        examples=examples,
        shards=[name for name, _, _ in shards],
        shard_groups=[(a, b) for _, a, b in shards],
        arrow_bytes=asm.arrow_bytes,
        shard_bytes=shard_bytes,
        near_dups=near,
    )
