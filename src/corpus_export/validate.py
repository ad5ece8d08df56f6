"""An export folder (and optionally its raw pages) → its problems, found without rebuilding.

`validate_export` checks that the files agree with the manifest and with each other (CSV,
Hub shards, card and metadata are what a build writes for these rows); `raw_problems` parses the
raw pages again as a build would and compares what they give with the export's rows and rejects.
The table rules themselves are in rules.py, which the build runs on every batch.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import schema
from .assemble import BuildResult, Stats, page_keys
from .digest import file_digests
from .engine import start_pool, stop_pool, worker_result
from .errors import CorpusExportError, Reason, ValidationError
from .hashtable import HashTable
from .layout import (
    CORPUS_CSV,
    CORPUS_PARQUET,
    DATA_FILES,
    HF_DIR,
    HF_README,
    MANIFEST,
    REJECTS_CSV,
    hf_data,
)
from .neardup import kept_of, similarity_of
from .parquet_split import SplitError, write_row_groups
from .process import TASK_MAX, arrow_nbytes, parse_batch, table_stats
from .pseudonym import KEY_ENV, Release, from_env, release
from .publish import publication
from .read import printable_path, scan_raw
from .rules import CSV_UNESCAPED_RE2, NOT_ASCENDING, ROW_BATCH, table_problems
from .version import __version__
from .write import shard_name, shard_plan


def validate_export(dist: Path, card: Path | None = None) -> list[str]:
    """Re-check an export folder without rebuilding it → its problems (empty list: valid).

    Every file the manifest lists exists with its SHA-256 and size and no other file is there;
    corpus.parquet has the contract's schema and passes the table rules (read a row group at a
    time); corpus.csv holds the same rows; the Hub shards are corpus.parquet's row groups cut
    as a build cuts them, byte for byte; rejects.csv has documented reasons; the counts add up
    to the manifest's; the card, its licence, datapackage.json and croissant.json are, byte
    for byte, what a build writes for these rows and files (their statistics, counts and
    checksums); and `card` (CARD.md), when given, is the export's card.
    """

    try:
        manifest = json.loads((dist / MANIFEST).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return [f"{MANIFEST}: missing (not an export folder?)"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [f"{MANIFEST}: cannot be read: {exc}"]
    if (
        not isinstance(manifest, dict)
        or not isinstance(manifest.get("files"), dict)
        or not isinstance(manifest.get("counts"), dict)
    ):
        return [f"{MANIFEST}: not a corpus_export manifest (no 'files' or 'counts')"]

    found = file_digests(dist)
    problems = _file_problems(dist, manifest["files"], found, MANIFEST)
    counts = manifest["counts"]
    drop = _dropped(manifest, problems)
    corpus = _read_corpus(dist / CORPUS_PARQUET, CORPUS_PARQUET, problems, drop)
    shards: list[str] | None = None
    if corpus is not None:
        if corpus.rows != counts.get("rows"):
            problems.append(
                f"{CORPUS_PARQUET}: {corpus.rows} rows, the manifest says {counts.get('rows')}"
            )
        if (dist / CORPUS_CSV).is_file():
            problems += _csv_problems(dist / CORPUS_PARQUET, dist / CORPUS_CSV, CORPUS_CSV, drop)
        shards = _shard_problems(dist, manifest, corpus, found, problems)
    by_reason = _rejects_problems(dist / REJECTS_CSV, REJECTS_CSV, manifest, problems)
    if (
        isinstance(counts.get("rows"), int)
        and isinstance(counts.get("rejects"), int)
        and counts["rows"] + counts["rejects"] != counts.get("files_seen")
    ):
        problems.append(
            f"{MANIFEST}: rows + rejects ({counts['rows']} + {counts['rejects']}) "
            f"!= files_seen ({counts.get('files_seen')})"
        )
    if corpus is not None and shards is not None and by_reason is not None:
        problems += _publication_problems(dist, manifest, corpus, shards, by_reason, found)
    if card is not None:
        problems += _card_problems(dist, card)
    return problems


def _dropped(manifest: dict[str, Any], problems: list[str]) -> tuple[str, ...]:
    """The columns the manifest says the export was built without (settings.drop)."""
    try:
        return schema.drop_setting(manifest.get("settings"))
    except CorpusExportError as exc:
        problems.append(f"{MANIFEST}: {exc}")
        return ()


@dataclass(slots=True)
class _Corpus:
    """What corpus.parquet's rows give, read a row group (a build's part) at a time."""

    rows: int = 0
    columns: list[str] = field(default_factory=list)  # corpus.parquet's, in order
    group_bytes: list[int] = field(default_factory=list)  # Arrow bytes of each row group
    stats: Any = None  # build.Stats of the rows, as the build gathers them for the card


def _read_corpus(
    path: Path, name: str, problems: list[str], drop: tuple[str, ...] = ()
) -> _Corpus | None:
    """Check corpus.parquet's schema and table rules → its rows' numbers, None if unreadable."""
    import pyarrow.parquet as pq

    if not path.is_file():
        problems.append(f"{name}: missing")
        return None
    corpus = _Corpus(stats=Stats())
    try:
        pf = pq.ParquetFile(path)
        if not pf.schema_arrow.equals(schema.arrow_schema(drop), check_metadata=False):
            problems.append(f"{name}: schema differs from the contract:\n{pf.schema_arrow}")
            return None
        corpus.columns = pf.schema_arrow.names
        last_id: str | None = None
        for i in range(pf.num_row_groups):
            n = pf.metadata.row_group(i).num_rows
            if n > TASK_MAX:  # a row group is one task's rows: read no more than a build made
                problems.append(
                    f"{name}: row group {i} holds {n} rows; a build writes at most {TASK_MAX}"
                )
                return None
            table = pf.read_row_group(i).cast(schema.arrow_schema(drop))
            found = table_problems(table)
            if table.num_rows and last_id is not None and not last_id < table["id"][0].as_py():
                found.append(f"id: {NOT_ASCENDING}")
            if table.num_rows:
                last_id = table["id"][-1].as_py()
            problems.extend(f"{name}: {p}" for p in found)
            corpus.rows += table.num_rows
            corpus.group_bytes.append(arrow_nbytes(table))
            corpus.stats.add(table_stats(table))
        return corpus
    except (pa.ArrowException, OSError, ValueError) as exc:
        problems.append(f"{name}: cannot be read as Parquet: {exc}")
        return None


def _shard_problems(
    dist: Path,
    manifest: dict[str, Any],
    corpus: _Corpus,
    found: dict[str, dict[str, Any]],
    problems: list[str],
) -> list[str] | None:
    """Check the Hub shards are corpus.parquet's row groups, cut as a build cuts them, byte for
    byte (none missing, repeated or out of order) → the shards' names, None if unknown."""

    settings = manifest.get("settings")
    shard_bytes = settings.get("shard_bytes") if isinstance(settings, dict) else None
    if not isinstance(shard_bytes, int):
        problems.append(f"{MANIFEST}: no settings.shard_bytes (the Hub shards' size)")
        return None
    plan = shard_plan(corpus.group_bytes, shard_bytes)
    names = [shard_name(i, len(plan)) for i in range(len(plan))]
    if manifest.get("hf_shards") != names:
        problems.append(
            f"{MANIFEST}: hf_shards is {manifest.get('hf_shards')}; {CORPUS_PARQUET}'s row "
            f"groups make {names}"
        )
    whole = found.get(CORPUS_PARQUET)
    for name, (first, last) in zip(names, plan, strict=True):
        rel = hf_data(name)
        have = found.get(rel)
        if have is None:
            if rel not in manifest["files"]:  # else said above
                problems.append(f"{rel}: missing")
            continue
        if len(plan) == 1:
            want, what = (whole or {}).get("sha256"), f"a copy of {CORPUS_PARQUET}"
        else:
            try:
                want = write_row_groups(dist / CORPUS_PARQUET, Path(os.devnull), first, last)
            except (SplitError, OSError) as exc:
                problems.append(f"{CORPUS_PARQUET}: cannot be cut into the Hub shards: {exc}")
                return None
            what = f"row groups {first}..{last - 1} of {CORPUS_PARQUET}"
        if have["sha256"] != want:
            problems.append(f"{rel}: is not {what} (the shards, in order, hold exactly its rows)")
    return names


def _publication_problems(
    dist: Path,
    manifest: dict[str, Any],
    corpus: _Corpus,
    shards: list[str],
    by_reason: dict[str, int],
    found: dict[str, dict[str, Any]],
) -> list[str]:
    """Render the card, its licence and the metadata files again from the rows, the rejects
    and the files' checksums, and compare them with the export's, byte for byte."""

    generator = f"corpus-export {__version__}"
    if manifest.get("generator") != generator:
        return [
            f"{MANIFEST}: written by {manifest.get('generator')!r}, not by this {generator}, "
            "so its card and metadata cannot be checked: validate with that version, or rebuild"
        ]
    counts = manifest["counts"]
    if not all(isinstance(counts.get(k), int) for k in ("files_seen", "ignored_files")):
        return [f"{MANIFEST}: counts.files_seen and counts.ignored_files must be integers"]
    if any(rel not in found for rel in [*DATA_FILES, *(hf_data(s) for s in shards)]):
        return []  # a data file is missing (said above): the card's checksums cannot be had
    result = BuildResult(
        out_dir=dist,
        files_seen=counts["files_seen"],
        rows=corpus.rows,
        rejects_by_reason=by_reason,
        ignored_files=counts["ignored_files"],
        stats=corpus.stats.summary(),
        examples=corpus.stats.examples,
        shards=shards,
        arrow_bytes=sum(corpus.group_bytes),
        shard_bytes=manifest["settings"]["shard_bytes"],
        repo_id=manifest["settings"].get("repo_id"),
        pseudonyms=manifest["settings"].get("pseudonymize"),
        drop=list(schema.dropped(corpus.columns)),
        near_dups=_near_dups(manifest),
    )
    problems: list[str] = []
    for rel, want in publication(dist, result).items():
        if rel not in found:
            if rel not in manifest["files"]:  # else said above
                problems.append(f"{rel}: missing")
            continue
        have = (dist / rel).read_bytes()
        if have != want:
            problems.append(f"{rel}: {_difference(rel, have, want)}")
    return problems


def _difference(rel: str, have: bytes, want: bytes) -> str:
    """Say where a file differs from what a build writes for the export's rows and files."""
    cut = 100
    if rel.endswith(".json"):
        try:
            where = _json_difference(json.loads(have), json.loads(want), "")
        except ValueError:
            where = None
        if where is not None:
            at, a, b = where
            return (
                f"{at or 'the document'} is {json.dumps(a, ensure_ascii=False)[:cut]}, "
                f"the export's files give {json.dumps(b, ensure_ascii=False)[:cut]}"
            )
    lines_have = have.decode("utf-8", "replace").split("\n")
    lines_want = want.decode("utf-8", "replace").split("\n")
    for i, (a, b) in enumerate(zip(lines_have, lines_want, strict=False)):
        if a != b:
            return (
                f"line {i + 1} is {a[:cut]!r}, the export's rows and files give {b[:cut]!r} "
                "(edited, or not this export's)"
            )
    return (
        f"{len(lines_have)} lines, the export's rows and files give {len(lines_want)} "
        "(edited, or not this export's)"
    )


def _json_difference(a: Any, b: Any, at: str) -> tuple[str, Any, Any] | None:
    """Return (path, a's value, b's value) of the first place two JSON values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*b, *(k for k in a if k not in b)]:
            found = _json_difference(a.get(key), b.get(key), f"{at}.{key}" if at else key)
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _json_difference(x, y, f"{at}[{i}]")
            if found is not None:
                return found
        return None
    return None if a == b and type(a) is type(b) else (at, a, b)


def _card_problems(dist: Path, card: Path) -> list[str]:
    """Check that the card beside the export (CARD.md) is the export's own (hf/README.md)."""

    try:
        have = card.read_bytes()
    except FileNotFoundError:
        return [f"{card}: missing"]
    except OSError as exc:
        return [f"{card}: cannot be read: {exc.strerror or exc}"]
    try:
        want = (dist / HF_DIR / HF_README).read_bytes()
    except OSError:
        return []  # said above
    if have != want:
        return [f"{card}: {_difference(str(card), have, want)}"]
    return []


def _file_problems(
    dist: Path, listed: dict[str, Any], found: dict[str, dict[str, Any]], manifest_name: str
) -> list[str]:
    problems: list[str] = []
    root = dist.resolve()
    for rel, info in listed.items():
        path = dist / rel
        # the manifest is data too: a listed path must stay inside the export folder
        if (
            Path(rel).is_absolute()
            or ".." in Path(rel).parts
            or not path.resolve().is_relative_to(root)
        ):
            problems.append(
                f"{manifest_name}: lists {rel!r}, which is not a path inside the export"
            )
            continue
        have = found.get(Path(rel).as_posix())
        if have is None:
            problems.append(f"{rel}: missing")
        elif not isinstance(info, dict) or have["sha256"] != info.get("sha256"):
            problems.append(f"{rel}: SHA-256 differs from the manifest (file changed or corrupt)")
        elif have["bytes"] != info.get("bytes"):
            problems.append(f"{rel}: {have['bytes']} bytes, the manifest says {info.get('bytes')}")
    for rel in sorted(set(found) - set(listed) - {manifest_name}):
        problems.append(f"{rel}: not listed in the manifest")
    return problems


def _read_csv_batches(path: Path, names: tuple[str, ...]) -> Iterator[pa.Table]:
    """Yield a CSV file's rows as all-string tables; ValueError if the header is not `names`."""
    import pyarrow.csv as pacsv

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=1 << 22),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=True,
            null_values=[""],
        ),
    )
    if tuple(reader.schema.names) != names:
        raise ValueError(f"header is {reader.schema.names}, expected {list(names)}")
    for batch in reader:
        yield pa.Table.from_batches([batch])


def _unescape(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Vectorised unescape_csv_cell: drop the one ' that escape_csv_cells added."""
    quoted = pc.fill_null(pc.starts_with(col, "'"), False)
    return pc.if_else(quoted, pc.utf8_slice_codeunits(col, 1), col)


def _csv_rows_as_table(table: pa.Table, drop: tuple[str, ...] = ()) -> pa.Table:
    """Turn an all-string CSV table back into rows of the contract's schema (ValueError if not)."""
    arrays = []
    for f in schema.kept(drop):
        col = table.column(f.name)
        if pa.types.is_list(f.arrow):
            values = []
            for cell in col.to_pylist():
                value = json.loads(cell) if cell is not None else None
                if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                    raise ValueError(f"column {f.name}: {cell!r} is not a JSON list of strings")
                values.append(value)
            arrays.append(pa.array(values, f.arrow))
        elif pa.types.is_string(f.arrow):
            risky = pc.fill_null(pc.match_substring_regex(col, CSV_UNESCAPED_RE2), False)
            if pc.any(risky).as_py():
                raise ValueError(
                    f"column {f.name}: a cell starts with = + - @ tab or CR without the ' escape"
                )
            arrays.append(_unescape(col))
        else:
            arrays.append(pc.cast(col, f.arrow))
    return pa.Table.from_arrays(arrays, schema=schema.arrow_schema(drop))


def _csv_problems(parquet: Path, csv: Path, name: str, drop: tuple[str, ...] = ()) -> list[str]:
    """Compare corpus.csv with corpus.parquet row by row, streaming both."""
    import pyarrow.parquet as pq

    want = (
        pa.Table.from_batches([b]).cast(schema.arrow_schema(drop))
        for b in pq.ParquetFile(parquet).iter_batches(batch_size=ROW_BATCH)
    )
    try:
        header = tuple(schema.csv_header(drop))
        have = (_csv_rows_as_table(t, drop) for t in _read_csv_batches(csv, header))
        a = b = schema.arrow_schema(drop).empty_table()
        row = 0
        while True:
            if a.num_rows == 0:
                a = next(want, None) or a
            if b.num_rows == 0:
                b = next(have, None) or b
            if a.num_rows == 0 or b.num_rows == 0:
                break
            n = min(a.num_rows, b.num_rows)
            if not a.slice(0, n).equals(b.slice(0, n)):
                pairs = zip(a.slice(0, n).to_pylist(), b.slice(0, n).to_pylist(), strict=True)
                i, (x, y) = next((i, p) for i, p in enumerate(pairs) if p[0] != p[1])
                cols = [k for k in x if x[k] != y[k]]
                return [
                    f"{name}: row {row + i + 1} (id {x['id']!r}) differs from the Parquet in {cols}"
                ]
            a, b, row = a.slice(n), b.slice(n), row + n
        if a.num_rows or b.num_rows:
            extra = "fewer" if a.num_rows else "more"
            return [f"{name}: {extra} rows than the Parquet (they agree on the first {row})"]
    except (pa.ArrowException, OSError, ValueError) as exc:
        return [f"{name}: cannot be read as the CSV view of the rows: {exc}"]
    return []


def _rejects_problems(
    path: Path, name: str, manifest: dict[str, Any], problems: list[str]
) -> dict[str, int] | None:
    """Check rejects.csv's reasons and counts → its rejects by reason, None if unreadable."""
    if not path.is_file():
        problems.append(f"{name}: missing")
        return None
    by_reason: Counter[str] = Counter()
    valid = {str(r) for r in Reason}
    try:
        for table in _read_csv_batches(path, schema.REJECT_COLUMNS):
            reasons = _unescape(table.column("reason")).to_pylist()
            ids = _unescape(table.column("id")).to_pylist()
            for rid, reason in zip(ids, reasons, strict=True):
                if reason not in valid:
                    problems.append(
                        f"{name}: id {rid!r} has reason {reason!r}, not a documented "
                        "code (see `corpus-export reasons`)"
                    )
                by_reason[str(reason)] += 1
    except (pa.ArrowException, OSError, ValueError) as exc:
        problems.append(f"{name}: cannot be read: {exc}")
        return None
    counts = manifest["counts"]
    if sum(by_reason.values()) != counts.get("rejects"):
        problems.append(
            f"{name}: {sum(by_reason.values())} rejects, the manifest says {counts.get('rejects')}"
        )
    found = dict(sorted(by_reason.items()))
    if found != manifest.get("rejects_by_reason"):
        problems.append(
            f"{name}: rejects by reason {found} differ from "
            f"the manifest's {manifest.get('rejects_by_reason')}"
        )
    return found


# ---------------------------------------------------------------------------------------------
# the rows against the raw pages

#: Raw files parsed at once when re-deriving rows (a build's task size).
RAW_BATCH = 512


@dataclass(slots=True)
class RawCheck:
    """What `raw_problems` found: problems, pages re-derived, pages in raw/."""

    problems: list[str]
    checked: int
    pages: int


def raw_problems(dist: Path, raw: Path, sample: int | None = None, workers: int = 1) -> RawCheck:
    """Re-derive the rows and rejects of raw/'s pages (all, or a sample of `sample` pages
    chosen by a hash of each id seeded with corpus.parquet's checksum) as a build would, and
    compare them with the export's: a row whose fields differ, a reject whose reason or detail
    differs, a page that is a row on one side and a reject on the other, a page that is
    neither, and a row or reject with no raw page.

    Duplicates are judged as a build judges them: a `duplicate` reject's page must give the
    title and body of the row it names, a `near_duplicate` reject's page a body of the
    similarity it says with the row it names; with every page checked, a row whose title and body
    equal an earlier row's is reported too. Rows are read a row group at a time and pages
    parsed RAW_BATCH at a time, by `workers` processes (the build's pool).
    """

    pool = start_pool(workers)  # before the scan: the forked workers do not copy its list
    try:
        return _raw_problems(dist, raw, sample, pool, 2 * workers)
    finally:
        if pool is not None:
            stop_pool(pool)


def _raw_problems(
    dist: Path, raw: Path, sample: int | None, pool: ProcessPoolExecutor | None, ahead: int
) -> RawCheck:
    import pyarrow.parquet as pq
    import xxhash

    scan = scan_raw(raw)
    root = str(raw.resolve())
    pf = pq.ParquetFile(dist / CORPUS_PARQUET)
    row_ids = pf.read(columns=["id"]).column("id").combine_chunks()
    rejects: dict[tuple[str, str], tuple[str, str]] = {}  # (id, path) → (reason, detail)
    for table in _read_csv_batches(dist / REJECTS_CSV, schema.REJECT_COLUMNS):
        cols = [_unescape(table.column(c)).to_pylist() for c in schema.REJECT_COLUMNS]
        for rid, path, reason, detail in zip(*cols, strict=True):
            rejects[(rid, path)] = (reason, detail or "")
    scan_ids = pa.array([i for i, _ in scan.ids_and_sizes()], pa.string())
    problems: list[str] = []

    # every page is a row or a reject, and every row and reject is a page
    known = pa.concat_arrays([row_ids, pa.array([k[0] for k in rejects], pa.string())])
    for what, ids, among in (
        ("raw pages with neither a row nor a reject", scan_ids, known),
        ("rows with no raw page", row_ids, scan_ids),
        ("rejects with no raw page", pa.array([k[0] for k in rejects], pa.string()), scan_ids),
    ):
        lost = pc.filter(ids, pc.invert(pc.is_in(ids, value_set=among)))
        if len(lost):
            problems.append(f"{what}: {len(lost)}, e.g. ids {lost.slice(0, 3).to_pylist()}")

    # which pages: all, or those whose ids hash lowest, seeded by the export
    if sample is not None and sample < len(scan):
        manifest = json.loads((dist / MANIFEST).read_text(encoding="utf-8"))
        seed = str(manifest["files"].get(CORPUS_PARQUET, {}).get("sha256", "")).encode()
        keys = np.fromiter(
            (
                xxhash.xxh3_64_intdigest(seed + i.encode("utf-8", "surrogatepass"))
                for i in scan_ids.to_pylist()
            ),
            dtype=np.uint64,
            count=len(scan_ids),
        )
        chosen = np.sort(np.argsort(keys, kind="stable")[:sample])
    else:
        chosen = np.arange(len(scan))
    everything = len(chosen) == len(scan)

    groups = _RowGroups(pf)
    seen = HashTable(len(row_ids), np.uint64, np.uint8) if everything else None  # page keys
    kept_ids: set[str] = set()  # the rows duplicate rejects name (their pages parsed at the end)
    duplicates: list[tuple[str, bytes, str]] = []  # (id, key of its page, id of the kept row)
    # (id, its body's signature, id of the kept row, similarity in the detail)
    near_dups: list[tuple[str, np.ndarray, str, str]] = []
    for files, (parsed, table, error) in _parsed(
        root, _raw_batches(scan, chosen, groups), pool, ahead, _release_of(dist)
    ):
        if error is not None or table is None:
            problems.append(f"raw pages {files[0].id!r}..{files[-1].id!r}: {error}")
            continue
        # the export's rows of these pages (a page may be a row there and a reject here)
        export = groups.rows([*parsed.ids, *(r.id for r in parsed.rejects)])
        for r in parsed.rejects:
            have = rejects.get((r.id, printable_path(r.path)))
            if r.id in export:
                problems.append(
                    f"id {r.id!r}: the raw page is a reject ({r.reason}: {r.detail}); the "
                    "export has it as a row"
                )
            elif have is None:
                problems.append(
                    f"id {r.id!r}: the raw page is a reject ({r.reason}), not in {REJECTS_CSV}"
                )
            elif have != (str(r.reason), r.detail):
                problems.append(
                    f"id {r.id!r}: the raw page gives reject {(str(r.reason), r.detail)}, "
                    f"{REJECTS_CSV} has {have}"
                )
        wants = table.to_pylist()
        again: set[int] = set()  # rows whose title and body an earlier row of the export has
        if seen is not None:
            rows = [pos for pos, rid in enumerate(parsed.ids) if rid in export]
            flags = _seen_before(seen, [parsed.dedup_keys[pos] for pos in rows])
            again = {pos for pos, flag in zip(rows, flags, strict=True) if flag}
        for pos, (rid, path, key) in enumerate(
            zip(parsed.ids, parsed.paths, parsed.dedup_keys, strict=True)
        ):
            got = export.get(rid)
            if got is None:
                have = rejects.get((rid, printable_path(path)))
                if have is not None and have[0] == str(Reason.DUPLICATE):
                    kept = _kept_id(have[1])
                    duplicates.append((rid, key, kept))
                    kept_ids.add(kept)
                elif have is not None and have[0] == str(Reason.NEAR_DUPLICATE):
                    kept, said = kept_of(have[1])
                    near_dups.append((rid, parsed.signatures[pos], kept, said))
                    kept_ids.add(kept)
                elif have is not None:
                    problems.append(
                        f"id {rid!r}: the raw page gives a row; {REJECTS_CSV} rejects it "
                        f"({have[0]})"
                    )
                continue  # else: said above (neither a row nor a reject)
            want = wants[pos]
            fields = [k for k in want if want[k] != got[k]]
            if fields:
                problems.append(
                    f"id {rid!r}: {', '.join(fields)} differ from what the raw page gives now"
                )
            if pos in again:
                problems.append(
                    f"id {rid!r}: same title and body as an earlier row (a build keeps only "
                    "the first, the smaller id)"
                )

    # a duplicate reject names a page of the same title and body (parsed from raw/ too); a
    # near-duplicate reject, a row whose body has the similarity it says
    if duplicates or near_dups:
        kept_keys = _page_keys(root, scan, scan_ids, sorted(kept_ids))
        for rid, key, kept_id in duplicates:
            if kept_keys.get(kept_id, (None,))[0] != key:
                problems.append(
                    f"id {rid!r}: rejected as a duplicate of {kept_id!r}, but the raw pages' "
                    "titles and bodies differ"
                )
        kept_rows = set(
            pc.filter(
                row_ids, pc.is_in(row_ids, pa.array(sorted(kept_ids), pa.string()))
            ).to_pylist()
        )
        for rid, signature, kept_id, said in near_dups:
            other = kept_keys.get(kept_id, (None, None))[1]
            similarity = similarity_of(signature, other) if other is not None else None
            if kept_id not in kept_rows or similarity is None or f"{similarity:.2f}" != said:
                now = "no row" if similarity is None else f"similarity {similarity:.2f}"
                problems.append(
                    f"id {rid!r}: rejected as a near-duplicate of {kept_id!r} (similarity "
                    f"{said}), but the raw pages give {now}"
                    + ("" if kept_id in kept_rows else f"; {kept_id!r} is not a row")
                )
    return RawCheck(problems, len(chosen), len(scan))


Parsing = tuple[Any, pa.Table | None, str | None]  # (process.Parsed, its rows, or an error)


def _parse_or_error(root: str, files: list[Any], published: Release | None = None) -> Parsing:
    """process.parse_batch, a broken table rule returned as its message."""

    try:
        parsed, table = parse_batch(root, files, 0, published)
    except ValidationError as exc:
        return None, None, str(exc)
    return parsed, table, None


def _parsed(
    root: str,
    batches: Iterator[list[Any]],
    pool: ProcessPoolExecutor | None,
    limit: int,
    published: Release | None = None,
) -> Iterator[tuple[list[Any], Parsing]]:
    """Yield each batch of raw files with what parsing it gives, in order (with a pool, up to
    `limit` batches are parsed ahead: the rows held stay bounded)."""

    if pool is None:
        for files in batches:
            yield files, _parse_or_error(root, files, published)
        return
    ahead: deque[tuple[list[Any], Future[Parsing]]] = deque()
    for files in batches:
        ahead.append((files, pool.submit(_parse_or_error, root, files, published)))
        if len(ahead) > limit:
            done, future = ahead.popleft()
            yield done, worker_result(future)
    while ahead:
        done, future = ahead.popleft()
        yield done, worker_result(future)


def _seen_before(seen: HashTable, keys: list[bytes]) -> list[bool]:
    """Whether each page key was seen before, earlier in keys or by an earlier call; the keys
    are remembered."""
    packed = page_keys(keys)
    there, _, slots = seen.get(packed)
    first = np.zeros(len(packed), dtype=np.bool_)
    first[np.unique(packed, return_index=True)[1]] = True
    seen.set(packed, np.zeros(len(packed), dtype=np.uint8), slots)
    flags: list[bool] = (there | ~first).tolist()
    return flags


def _release_of(dist: Path) -> Release | None:
    """How the export's rows were made beyond parsing: the columns dropped and the pseudonyms,
    the key from the environment; an error when the key is missing or is not the build's."""
    try:
        settings = json.loads((dist / MANIFEST).read_text(encoding="utf-8"))["settings"]
        made = settings.get("pseudonymize") or {}
        columns = [str(c) for c in made.get("columns", [])]
        drop = schema.drop_setting(settings)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, CorpusExportError):
        return None  # said by the manifest checks
    pseudonyms = from_env(columns)
    if pseudonyms is not None and pseudonyms.key_id != made.get("key_id"):
        raise CorpusExportError(
            f"{', '.join(columns)} of {str(dist)!r} hold pseudonyms made with another key than "
            f"${KEY_ENV}'s: set it to the build's key to compare the rows with the raw pages"
        )
    return release(drop, pseudonyms)


def _kept_id(detail: str) -> str:
    """The id a duplicate reject's detail names ("same title and body as 'X' (kept: ...)")."""
    m = re.match(r"same title and body as ('.*'|\".*\") \(kept", detail)
    try:
        kept = ast.literal_eval(m.group(1)) if m else ""
    except (ValueError, SyntaxError):
        kept = ""
    return kept if isinstance(kept, str) else ""


def _page_keys(
    root: str, scan: Any, scan_ids: pa.Array, ids: list[str]
) -> dict[str, tuple[bytes, np.ndarray]]:
    """Parse the raw pages of these ids → {id: (key of its title and body, signature of its
    body)} (rejects left out)."""
    at = pc.index_in(pa.array(ids, pa.string()), value_set=scan_ids).to_pylist()
    files = [scan.slice(i, i + 1)[0] for i in at if i is not None]
    keys: dict[str, tuple[bytes, np.ndarray]] = {}
    for start in range(0, len(files), RAW_BATCH):
        parsed, _, _ = _parse_or_error(root, files[start : start + RAW_BATCH])
        if parsed is not None:  # else: said when the pages were compared
            pairs = zip(parsed.dedup_keys, parsed.signatures, strict=True)
            keys.update(zip(parsed.ids, pairs, strict=True))
    return keys


class _RowGroups:
    """corpus.parquet's rows looked up by id, a row group at a time (the last one read is kept:
    consecutive lookups of sorted ids read each row group once)."""

    def __init__(self, pf: Any) -> None:
        self.pf = pf
        self.bounds: list[tuple[str | None, str | None]] = []
        for i in range(pf.num_row_groups):
            stats = pf.metadata.row_group(i).column(0).statistics
            if stats is not None and stats.has_min_max:
                self.bounds.append((stats.min, stats.max))
            else:
                self.bounds.append((None, None))
        self.held: tuple[int, tuple[str, ...] | None, pa.Table] | None = None

    def last_id_of_group_with(self, page_id: str) -> str | None:
        """The largest id of the first row group that may hold page_id (None: unknown)."""
        for _, hi in self.bounds:
            if hi is None or page_id <= hi:
                return hi
        return None

    def rows(self, ids: list[str], columns: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """Return {id: row} of the export's rows among ids."""
        if not ids:
            return {}
        first, last = min(ids), max(ids)
        wanted = pa.array(ids, pa.string())
        out: dict[str, dict[str, Any]] = {}
        for i, (lo, hi) in enumerate(self.bounds):
            if lo is not None and hi is not None and (hi < first or lo > last):
                continue
            table = self._group(i, columns)
            found = table.filter(pc.is_in(table.column("id"), value_set=wanted))
            for row in found.to_pylist():
                out[row["id"]] = row
        return out

    def _group(self, i: int, columns: list[str] | None) -> pa.Table:
        key = tuple(columns) if columns else None
        if self.held is None or self.held[:2] != (i, key):
            table = self.pf.read_row_group(i, columns=columns)
            if columns is None:
                table = table.cast(schema.arrow_schema(schema.dropped(table.column_names)))
            self.held = (i, key, table)
        return self.held[2]


def _raw_batches(scan: Any, chosen: np.ndarray, groups: _RowGroups) -> Iterator[list[Any]]:
    """Yield the chosen raw files in id order, RAW_BATCH at most at a time, a batch ending
    where a row group of corpus.parquet does (so each batch reads about one row group)."""
    batch: list[Any] = []
    end: str | None = None
    step = 4096
    for start in range(0, len(scan), step):
        here = chosen[(chosen >= start) & (chosen < start + step)]
        if not len(here):
            continue
        files = scan.slice(start, min(start + step, len(scan)))
        for pos in here:
            f = files[pos - start]
            if batch and (len(batch) >= RAW_BATCH or (end is not None and f.id > end)):
                yield batch
                batch = []
            if not batch:
                end = groups.last_id_of_group_with(f.id)
            batch.append(f)
    if batch:
        yield batch


def _near_dups(manifest: dict[str, Any]) -> dict[str, Any]:
    """The near-duplicate pass's report as the build had it (BuildResult.near_dups)."""
    settings, near = manifest.get("settings"), manifest.get("near_duplicates")
    if not isinstance(settings, dict) or not isinstance(near, dict):
        return {}
    mode, threshold = settings.get("near_dups"), settings.get("near_dup_threshold")
    return {"mode": mode, "threshold": threshold, **near}
