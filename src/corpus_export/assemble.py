"""Parsed tasks → one export in the stage: duplicates found, rows spliced, statistics counted.

The assembler takes the engine's tasks in id order. It decides each task's duplicates before
the task is encoded (`decide`), splices the encoded rows into corpus.parquet and corpus.csv
(hashed as they are written), keeps a few numbers per row for the statistics, and at the end
writes rejects.csv and the Hub shards. What it made is a BuildResult.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import cache
from .engine import worker_result
from .errors import Reason
from .hashtable import HashTable
from .layout import (
    CORPUS_CSV,
    CORPUS_PARQUET,
    HF_DATA,
    HF_DIR,
    NEAR_DUP_SIGNATURES,
    PART_DIR,
    REJECTS_CSV,
)
from .neardup import DEFAULT_THRESHOLD, NearDups, reject_detail
from .parquet_split import Concat
from .process import Parsed, Part, PartStats, RejectRow, csv_header_line
from .read import printable_path
from .rules import check_order
from .write import (
    DEFAULT_SHARD_BYTES,
    HashedFile,
    ShardReuse,
    empty_parquet,
    write_hf_shards,
    write_rejects_csv,
)


class IntDistribution:
    """Non-negative integers (one per row) kept as counts per value, not one by one: the build's
    memory stays flat however many rows there are. Values from HISTOGRAM_LIMIT up are few and
    kept as they come."""

    HISTOGRAM_LIMIT = 1 << 20

    def __init__(self) -> None:
        self.counts = np.zeros(0, dtype=np.int64)
        self.large: list[np.ndarray] = []

    def add(self, values: np.ndarray) -> None:
        small = values < self.HISTOGRAM_LIMIT
        if not small.all():
            self.large.append(values[~small].copy())
            values = values[small]
        if not len(values):
            return
        counts = np.bincount(values)
        if len(counts) > len(self.counts):
            counts[: len(self.counts)] += self.counts
            self.counts = counts
        else:
            self.counts[: len(counts)] += counts

    def histogram(self, bins: int = 20) -> list[tuple[int, int, int]]:
        """Return [(low, high, count)]: `bins` equal ranges of whole numbers from the smallest
        value to the 99th percentile, the last one also holding every larger value."""
        large = np.concatenate(self.large) if self.large else np.zeros(0, np.int64)
        ends = np.cumsum(self.counts)
        n = (int(ends[-1]) if len(ends) else 0) + len(large)
        if not n:
            return []
        values = np.arange(len(self.counts))
        present = values[self.counts > 0]
        low = int(present[0]) if len(present) else int(large.min())
        rank = int(0.99 * (n - 1))
        small = int(ends[-1]) if len(ends) else 0
        top = (
            int(np.searchsorted(ends, rank, side="right"))
            if rank < small
            else int(np.sort(large)[rank - small])
        )
        width = max(1, -(-(top - low + 1) // bins))  # ceil
        out = []
        for i in range(bins):
            a, b = low + i * width, low + (i + 1) * width  # [a, b)
            if a > top:
                break
            last = b > top
            end = len(self.counts) if last else b
            count = int(self.counts[min(a, len(self.counts)) : end].sum())
            count += int(((large >= a) if last else ((large >= a) & (large < b))).sum())
            out.append((a, b - 1, count))
            if last:
                break
        return out

    def summary(self) -> dict[str, float | int]:
        """min, quartiles (NumPy's default, linear interpolation), max, mean and total of the
        values added, from the counts: no array of every value is made ({} if none)."""
        large = np.sort(np.concatenate(self.large)) if self.large else np.zeros(0, np.int64)
        ends = np.cumsum(self.counts)  # ends[v]: how many values are <= v
        small = int(ends[-1]) if len(ends) else 0
        n = small + len(large)
        if not n:
            return {}

        def at(rank: int) -> int:  # the value at this rank of the sorted values
            if rank < small:
                return int(np.searchsorted(ends, rank, side="right"))
            return int(large[rank - small])

        def quantile(q: float) -> float:
            index = q * (n - 1)
            lo = int(index)
            a, b, t = float(at(lo)), float(at(min(lo + 1, n - 1))), index - lo
            return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t  # as NumPy does

        total = int(np.dot(np.arange(len(self.counts), dtype=np.int64), self.counts))
        total += int(large.sum())
        return {
            "min": at(0),
            "p25": quantile(0.25),
            "median": quantile(0.5),
            "p75": quantile(0.75),
            "max": at(n - 1),
            "mean": round(total / n, 1),
            "total": total,
        }


@dataclass(slots=True)
class Stats:
    """Statistics of the accepted rows, built incrementally (a histogram per column)."""

    body_chars: IntDistribution = field(default_factory=IntDistribution)
    paragraph_count: IntDistribution = field(default_factory=IntDistribution)
    teaser_count: IntDistribution = field(default_factory=IntDistribution)
    citations: IntDistribution = field(default_factory=IntDistribution)
    sources: Counter[str] = field(default_factory=Counter)
    with_author: int = 0
    with_citations: int = 0
    with_source: int = 0
    examples: dict[str, str] = field(default_factory=dict)

    def add(self, part: PartStats) -> None:
        if not part.example:  # no rows
            return
        self.body_chars.add(part.body_chars)
        self.paragraph_count.add(part.paragraph_count)
        self.teaser_count.add(part.teaser_count)
        self.citations.add(part.citations)
        self.with_author += part.with_author
        self.with_citations += part.with_citations
        self.with_source += part.with_source
        self.sources.update(part.sources)
        if not self.examples:
            self.examples = {k: str(v) for k, v in part.example.items()}

    def summary(self) -> dict[str, Any]:
        """Return the statistics as plain JSON-able values."""

        return {
            "body_chars": self.body_chars.summary(),
            "paragraph_count": self.paragraph_count.summary(),
            "teaser_count": self.teaser_count.summary(),
            "citations": self.citations.summary(),
            "histograms": {
                name: getattr(self, name).histogram()
                for name in ("body_chars", "paragraph_count", "teaser_count", "citations")
            },
            "top_sources": sorted(self.sources.items(), key=lambda kv: (-kv[1], kv[0]))[:10],
            "distinct_sources": len(self.sources),
            "with_author": self.with_author,
            "with_citations": self.with_citations,
            "with_source": self.with_source,
        }


@dataclass(slots=True)
class BuildResult:
    """What a build produced: counts, rejects by reason, statistics and the written files."""

    out_dir: Path | str  # a str when it is a URL
    files_seen: int
    rows: int
    rejects_by_reason: dict[str, int]
    ignored_files: int
    stats: dict[str, Any]
    examples: dict[str, str]
    shards: list[str]
    shard_groups: list[tuple[int, int]] = field(default_factory=list)  # row groups of each shard
    arrow_bytes: int = 0  # in-memory Arrow size of the rows, summed as they were written
    shard_bytes: int = DEFAULT_SHARD_BYTES  # the --shard-size the Hub folder was cut with
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # relative path → sha256, bytes
    unchanged: bool = False  # nothing to do: the export in out_dir was already this build's
    sent: Any = None  # remote.Sent, when out_dir is a URL the export was sent to
    warnings: list[str] = field(default_factory=list)  # for the user; the export is written
    ignored_names: list[str] = field(default_factory=list)  # the first of the ignored files
    changes: Any = None  # diff.Summary: what changed since the export this one replaced
    repo_id: str | None = None  # the Hub dataset repo the card names (--repo-id)
    pseudonyms: dict[str, Any] | None = None  # columns pseudonymized and the key's id
    drop: list[str] = field(default_factory=list)  # columns left out of the export (--drop)
    #: the near-duplicate pass: mode, threshold, found, removed, an example pair (and clusters)
    near_dups: dict[str, Any] = field(default_factory=dict)

    @property
    def rejects(self) -> int:
        return sum(self.rejects_by_reason.values())

    def summary(self) -> str:
        """One line: pages seen, rows, rejects by reason; and a second one, when the build
        replaced an export, saying what changed since it."""
        by = ", ".join(f"{n} {r}" for r, n in sorted(self.rejects_by_reason.items()))
        line = f"{self.files_seen} pages: {self.rows} rows, {self.rejects} rejects"
        if by:
            line += f" ({by})"
        if self.ignored_files:
            line += f"; {self.ignored_files} other files ignored"
        if self.changes is not None:
            line += f"\nchanges since the previous export: {self.changes.line()}"
        near = self.near_dups
        if near.get("found"):
            fate = f"{near['removed']} removed" if near["removed"] else "all kept"
            line += f"; {near['found']} near-duplicates ({fate})"
            example = near.get("example")
            if example:
                line += (
                    f", e.g. {example['near_duplicate']!r} of {example['kept']!r} "
                    f"(similarity {example['similarity']:.2f})"
                )
        return line


def page_keys(keys: list[bytes]) -> np.ndarray:
    """Each page's duplicate key as the duplicate table holds it: its first 64 bits
    (little-endian), never 0."""
    first = np.fromiter((int.from_bytes(k[:8], "little") for k in keys), np.uint64, len(keys))
    packed: np.ndarray = first | np.uint64(1)
    return packed


@dataclass(slots=True)
class Incremental:
    """The incremental cache of one build: where it is, and the previous export if usable."""

    cache_dir: Path
    previous: cache.Previous | None
    export: str = field(default_factory=cache.new_export_id)  # this build's export id
    notes: cache.NoteWriter = field(init=False)  # this build's task notes

    def __post_init__(self) -> None:
        self.notes = cache.NoteWriter(self.cache_dir, self.export)


class Assembler:
    """Consumes parts in id order; splices their encoded rows into the export, in the stage.

    Workers encode every row: a part is one Parquet row group and a CSV fragment. The parent
    finds duplicates across tasks from their keys before they are encoded (`decide`), checks
    the id order, copies the encoded bytes (hashing them on the way for the manifest) and keeps
    a few numbers per row for the statistics.
    """

    def __init__(
        self,
        stage: Path,
        n_files: int,
        shard_bytes: int,
        incremental: Incremental | None = None,
        near_dups: str = "reject",
        threshold: float = DEFAULT_THRESHOLD,
        drop: tuple[str, ...] = (),
    ) -> None:
        self.stage = stage
        self.drop = drop
        self.parquet = HashedFile(stage / CORPUS_PARQUET)
        self.concat = Concat(self.parquet.write, self.parquet.copy)
        self.csv = HashedFile(stage / CORPUS_CSV)
        self.csv.write(csv_header_line(drop))
        # page key → its row's position (-1: rejected as a near-duplicate, and its copies
        # decided as it was); ~21 bytes a page
        self.seen = HashTable(n_files, np.uint64, np.int64)
        self.rows = 0
        self.planned = 0  # rows kept so far by decide()
        self.last_id: str | None = None
        self.arrow_bytes = 0
        self.rejects: list[RejectRow | tuple[RejectRow, int]] = []
        self.stats = Stats()
        self.shard_bytes = shard_bytes
        self.group_bytes: list[int] = []  # Arrow bytes of each row group written
        self.origins: list[int | None] = []  # per row group: its number in the previous export
        self.incremental = incremental
        self.noting: dict[int, tuple[Parsed, bytes | None]] = {}  # task → its note's makings
        self.near = NearDups(stage / PART_DIR / NEAR_DUP_SIGNATURES, n_files, threshold)
        self.keep_near = near_dups == "keep"
        self.near_found = 0
        self.near_example: tuple[int, str, float] | None = None  # (head position, id, similarity)
        self.clusters: dict[int, list[str]] = {}  # with keep: head position → its members' ids
        self.kept_ids: dict[int, str] = {}  # position → id of the kept rows named (by finish)

    def decide(self, parsed: Parsed) -> bytes | None:
        """Take a parsed task's rejects and find its duplicate rows → the keep mask (None: all).

        A row whose title and body equal an earlier row's (in id order) is a duplicate; the
        first one, the smaller id, is kept. A row whose body is a near-duplicate of an earlier
        kept row's (neardup.py) is rejected too, unless near-duplicates are kept. Called in task
        order, before the task is encoded.
        """
        keys = parsed.dedup_keys
        n = len(keys)
        packed = page_keys(keys)
        present, earlier, slots = self.seen.get(packed)
        # the kept row each row is an exact duplicate of (-1: none)
        exact: list[int] = np.where(present & (earlier >= 0), earlier, -1).tolist()
        copy_of: dict[int, int] = {}  # row → the earlier row of this task with its key
        first: dict[bytes, int] = {}
        consider = [False] * n
        for i, key in enumerate(keys):
            if exact[i] >= 0:
                continue
            if (j := first.setdefault(key, i)) != i:
                copy_of[i] = j
            else:  # new, or a copy of a rejected near-duplicate: decided as that one was
                consider[i] = True
        found, positions = self.near.decide(
            parsed.signatures, consider, self.planned, self.keep_near
        )
        near = {f.row: f for f in found}
        keep = np.ones(n, dtype=np.bool_)
        dup_rejects: list[tuple[RejectRow, int]] = []
        at_of: list[int] = positions.tolist()
        # the rows decided otherwise than kept where they are: row by row, in order
        for i in sorted({*(i for i in range(n) if exact[i] >= 0), *copy_of, *near}):
            r = copy_of.get(i, i)  # the row of this task whose fate it shares
            at = exact[i] if exact[i] >= 0 else at_of[r] if r != i else -1
            if at >= 0:  # the same title and body as a kept row
                keep[i] = False
                rej = RejectRow(parsed.ids[i], parsed.paths[i], Reason.DUPLICATE, "")
                dup_rejects.append((rej, at))
                continue
            f = near.get(r)
            if f is not None:
                self._found(f, parsed.ids[i])
            if r == i and at_of[i] >= 0:  # a near-duplicate kept
                continue
            assert f is not None  # rejected as a near-duplicate (or a copy of one)
            keep[i] = False
            detail = f"{f.similarity:.2f}"
            rej = RejectRow(parsed.ids[i], parsed.paths[i], Reason.NEAR_DUPLICATE, detail)
            dup_rejects.append((rej, f.head_pos))
        # each row considered is remembered at its position, or as rejected (-1): its copies
        # in later tasks are decided as it was
        considered = np.asarray(consider, dtype=np.bool_)
        self.seen.set(packed[considered], positions[considered], slots[considered])
        kept = np.flatnonzero(keep)
        if len(kept):
            check_order(self.last_id, parsed.ids[kept[0]])
            self.last_id = parsed.ids[kept[-1]]
            self.planned += len(kept)
        merged: list[RejectRow | tuple[RejectRow, int]] = [*parsed.rejects, *dup_rejects]
        merged.sort(key=lambda r: _reject_key(r))
        self.rejects.extend(merged)
        mask = None if keep.all() else keep.tobytes()
        if self.incremental is not None and parsed.cache_key is not None:
            self.noting[parsed.index] = (parsed, mask)
        return mask

    def _found(self, f: Any, page_id: str) -> None:
        """Count a near-duplicate (and, with keep, add it to its head's cluster)."""
        self.near_found += 1
        if self.near_example is None:
            self.near_example = (f.head_pos, page_id, f.similarity)
        if self.keep_near:
            self.clusters.setdefault(f.head_pos, []).append(page_id)

    def add(self, part: Part) -> None:
        """Splice an encoded part (one row group, one CSV fragment) after the previous ones."""
        group, csv_at = self.concat.groups.count, self.csv.size
        if part.rows:  # bytes inline (Dask), or files copied a block at a time (flat memory)
            if part.parquet_bytes is not None:
                self.concat.append(part.parquet_bytes)
            else:
                assert part.parquet_path is not None
                self.concat.append(Path(part.parquet_path), part.group)
            if part.csv_bytes is not None:
                self.csv.write(part.csv_bytes)
            else:
                assert part.csv_path is not None
                path = Path(part.csv_path)
                offset, length = part.csv_range or (0, path.stat().st_size)
                self.csv.copy(path, offset, length)
            self.stats.add(part.stats)
            self.rows += part.rows
            self.arrow_bytes += part.nbytes
            self.group_bytes.append(part.nbytes)
            self.origins.append(part.group)  # only a reused part names a group
        for p in (part.parquet_path, part.csv_path):
            if p is not None and Path(p).parent == self.stage / PART_DIR:  # not the cache's
                Path(p).unlink(missing_ok=True)
        noting = self.noting.pop(part.index, None)
        if noting is not None and self.incremental is not None:
            parsed, keep = noting
            assert parsed.cache_key is not None
            note = cache.TaskNote(
                export=self.incremental.export,
                paths=parsed.file_paths,
                prints=parsed.prints,
                outcomes=parsed.outcomes,
                dedup_keys=parsed.dedup_keys,
                signatures=parsed.signatures,
                keep=keep,
                group=group if part.rows else -1,
                csv=(csv_at, self.csv.size - csv_at),
                rows=part.rows,
                nbytes=part.nbytes,
                stats=part.stats,
            )
            self.incremental.notes.add(parsed.cache_key, note)

    def finish(
        self, pool: ProcessPoolExecutor | None = None
    ) -> tuple[int, dict[str, int], dict[str, Any], dict[str, str], list[tuple[str, int, int]]]:
        # The footer's template comes from a worker, which has pyarrow.compute loaded already
        # (in this process, the first use of it costs ~40 MB, so it waits for the workers' end).
        self.near.close()
        drop = self.drop
        template = worker_result(pool.submit(empty_parquet, drop)) if pool else empty_parquet(drop)
        self.concat.close(template)
        self.parquet.close()
        self.csv.close()
        previous = self.incremental.previous if self.incremental else None
        shards = write_hf_shards(
            self.stage / CORPUS_PARQUET,
            self.stage / HF_DIR / HF_DATA,
            self.group_bytes,
            self.shard_bytes,
            pool,
            reuse=ShardReuse(self.origins, previous.shards) if previous else None,
        )
        if pool is not None:
            pool.shutdown(wait=True)  # idle now: their memory goes before the rejects and card
        # the ids of the kept rows the rejects and the near-duplicate summary name, read once
        named = [r[1] for r in self.rejects if isinstance(r, tuple)] + list(self.clusters)
        if self.near_example is not None:
            named.append(self.near_example[0])
        self.kept_ids = self._ids_at(named)
        by_reason = self._write_rejects()
        return self.rows, by_reason, self.stats.summary(), self.stats.examples, shards

    def _ids_at(self, positions: Iterable[int]) -> dict[int, str]:
        """Return the id of the export's row at each position: read from the written Parquet,
        one row group's ids at a time and only where a position falls (the whole column would
        be ~60 MB at a million rows)."""
        wanted = sorted(set(positions))
        found: dict[int, str] = {}
        if not wanted:
            return found
        # ParquetFile, not read_table: that one loads pyarrow.dataset (and pandas), ~0.25 s
        pf = pq.ParquetFile(self.stage / CORPUS_PARQUET)
        k = start = 0
        for group in range(pf.num_row_groups):
            stop = start + pf.metadata.row_group(group).num_rows
            if wanted[k] < stop:
                ids = pf.read_row_group(group, columns=["id"]).column("id")
                while k < len(wanted) and wanted[k] < stop:
                    found[wanted[k]] = ids[wanted[k] - start].as_py()
                    k += 1
                if k == len(wanted):
                    break
            start = stop
        return found

    def near_duplicates(self) -> dict[str, Any]:
        """What the near-duplicate pass found (after finish): counts, settings, an example pair,
        and with --near-dups keep the clusters (each head's id and its members' ids, in id
        order)."""
        removed = 0 if self.keep_near else self.near_found
        info: dict[str, Any] = {
            "mode": "keep" if self.keep_near else "reject",
            "threshold": self.near.threshold,
            "found": self.near_found,
            "removed": removed,
        }
        kept = self.kept_ids
        if self.near_example is not None:
            head, page, similarity = self.near_example
            info["example"] = {
                "kept": kept[head],
                "near_duplicate": page,
                "similarity": round(similarity, 2),
            }
        if self.keep_near:
            info["clusters"] = [
                {"kept": kept[head], "members": members}
                for head, members in sorted(self.clusters.items())
            ]
        return info

    def _write_rejects(self) -> dict[str, int]:
        rows: list[RejectRow] = []
        kept_at = self.kept_ids
        for r in self.rejects:
            if isinstance(r, tuple):
                rej, pos = r
                kept = kept_at[pos]
                if rej.reason == Reason.NEAR_DUPLICATE:
                    detail = reject_detail(kept, rej.detail)
                else:
                    detail = f"same title and body as {kept!r} (kept: the smaller id)"
                r = RejectRow(rej.id, rej.path, rej.reason, detail)
            rows.append(r)
        table = pa.table(
            {
                "id": pa.array([r.id for r in rows], pa.string()),
                # the file's own name (an id can stand for .txt or .txt.gz), printable
                "path": pa.array([printable_path(r.path) for r in rows], pa.string()),
                "reason": pa.array([str(r.reason) for r in rows], pa.string()),
                "detail": pa.array([r.detail for r in rows], pa.string()),
            }
        )
        write_rejects_csv(table, self.stage / REJECTS_CSV)
        return dict(sorted(Counter(str(r.reason) for r in rows).items()))

    def abort(self) -> None:
        self.near.close()
        for f in (self.parquet, self.csv):
            with contextlib.suppress(OSError):  # the build's own error is the one to tell
                f.close()


def _reject_key(r: RejectRow | tuple[RejectRow, int]) -> tuple[str, str]:
    rej = r[0] if isinstance(r, tuple) else r
    return (rej.id, rej.path)
