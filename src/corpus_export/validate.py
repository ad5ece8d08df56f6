"""Rows (Arrow tables) → a list of broken table rules; raise ValidationError if any.

All table-level checks live here, vectorised with pyarrow.compute so they run on every streamed
batch without converting to pandas. Checks across batches (ids ascending and unique, duplicate
pages) are done by the assembler with `check_order`.
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
from .errors import Reason, ValidationError

#: Lines of the site's template that must never reach body or teasers (RE2 syntax, per line).
#: Per line: the spaces inside a line are [^\S\n], as \s would let a match run on into the next
#: line (the parser, too, judges one paragraph at a time).
BOILERPLATE_RE2 = (
    r"(?m)^(下载到本地[^\S\n]*[,，]?[^\S\n]*更方便阅读|声明[^\S\n]*[:：].*(内容提供方|版权争议|下架).*"
    r"|论文部分内容阅读[^\S\n]*[:：]?|其[他它]文献[^\S\n]*[:：]?)$"
)
WS = r"[\s\x{3000}\x{a0}]"
SHA256_RE2 = r"^[0-9a-f]{64}$"
#: A corpus.csv cell a spreadsheet would run as a formula (process.CSV_RISKY adds a ' to these).
CSV_UNESCAPED_RE2 = r"^[=+\-@\t\r]"
#: Rows per batch when `validate_export` streams an existing export.
ROW_BATCH = 4096


def table_problems(table: pa.Table) -> list[str]:
    """Return every broken rule of one table of rows (empty list: valid)."""
    if table.schema != schema.arrow_schema():
        return [f"schema differs from the contract:\n{table.schema}"]
    problems: list[str] = []
    if table.num_rows == 0:
        return problems

    def bad(name: str, mask: pa.ChunkedArray | pa.Array, rule: str) -> None:
        mask = pc.fill_null(mask, True)
        n = pc.sum(pc.cast(mask, pa.int64())).as_py() or 0
        if n:
            ids = pc.filter(table.column("id"), mask).slice(0, 3).to_pylist()
            problems.append(f"{name}: {n} row(s) break '{rule}', e.g. ids {ids}")

    for f in schema.FIELDS:
        col = table.column(f.name)
        if not f.nullable and col.null_count:
            bad(f.name, pc.is_null(col), "not null")
        if f.non_empty:
            bad(f.name, pc.equal(pc.binary_length(col), 0), "non-empty")
        if f.minimum is not None:
            # a null in a nullable column is allowed; the not-null rule above covers the others
            bad(f.name, pc.fill_null(pc.less(col, f.minimum), False), f">= {f.minimum}")
        if f.nullable and pa.types.is_string(f.arrow):
            # null means "absent": an empty string would be a second spelling of it
            bad(f.name, pc.fill_null(pc.equal(pc.binary_length(col), 0), False), "null, not ''")

    body = table.column("body")
    body_text = Text(body)
    newlines = pa.array(body_text.newlines_per_string().astype(np.int32))
    bad(
        "paragraph_count",
        pc.not_equal(table.column("paragraph_count"), pc.add(newlines, 1)),
        'body.count("\\n") + 1',
    )
    bad(
        "body_chars",
        pc.not_equal(table.column("body_chars"), pc.subtract(pc.utf8_length(body), newlines)),
        'len(body) - body.count("\\n")',
    )
    teasers = table.column("teasers")
    bad(
        "teaser_count",
        pc.not_equal(table.column("teaser_count"), pc.list_value_length(teasers)),
        "len(teasers)",
    )
    bad(
        "sha256",
        pc.invert(pc.match_substring_regex(table.column("sha256"), SHA256_RE2)),
        "64 lowercase hex digits",
    )
    bad("title", pc.match_substring_regex(table.column("title"), r"\n"), "one line")
    # A byte-level pass over the text finds every line these RE2 rules could flag (and a few
    # more); the rule-by-rule RE2 passes run only when it finds one.
    if body_text.lines_may_break():
        unstripped = rf"(?m)^{WS}|{WS}$|\n\n"
        bad("body", pc.match_substring_regex(body, BOILERPLATE_RE2), "no boilerplate line")
        bad("body", pc.match_substring_regex(body, unstripped), "paragraphs stripped and non-empty")
    flat = pc.list_flatten(teasers)
    if len(flat) and Text(flat).lines_may_break():
        parents = pc.list_parent_indices(teasers)
        for rule, mask in (
            ("no boilerplate teaser", pc.match_substring_regex(flat, BOILERPLATE_RE2)),
            ("teasers stripped and non-empty", pc.match_substring_regex(flat, rf"^{WS}|{WS}$|^$")),
        ):
            rows = pc.unique(pc.filter(parents, mask))
            if len(rows):
                ids = pc.take(table.column("id"), rows).slice(0, 3).to_pylist()
                problems.append(f"teasers: {len(rows)} row(s) break '{rule}', e.g. ids {ids}")
    if not _ids_ascending(table):
        problems.append(f"id: {_NOT_ASCENDING}")
    return problems


_NOT_ASCENDING = "rows are not sorted by id with unique ids"


def _ids_ascending(table: pa.Table) -> bool:
    ids = table.column("id")
    return table.num_rows < 2 or bool(
        pc.all(pc.less(ids.slice(0, len(ids) - 1), ids.slice(1))).as_py()
    )


#: Bytes that are RE2's \\s (\\t \\n \\f \\r space); WS adds U+00A0 and U+3000.
_ASCII_WS = np.zeros(256, dtype=bool)
_ASCII_WS[[0x09, 0x0A, 0x0C, 0x0D, 0x20]] = True
_NBSP = b"\xc2\xa0"  # U+00A0 in UTF-8
_IDEOGRAPHIC_SPACE = b"\xe3\x80\x80"  # U+3000
#: The first character of every line BOILERPLATE_RE2 matches, as 3 UTF-8 bytes → one number.
_BOILERPLATE_LEADS = np.array(
    [int.from_bytes(c.encode("utf-8"), "big") for c in "下声论其"], dtype=np.int64
)


class Text:
    """The UTF-8 bytes of a string column and where its newlines are, read with numpy, a chunk
    at a time (no combined copy of the text)."""

    def __init__(self, col: pa.ChunkedArray | pa.Array) -> None:
        chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
        self.chunks = [_TextChunk(c) for c in chunks if len(c)]

    def newlines_per_string(self) -> np.ndarray:
        """Count "\\n" in each string (3x faster than pc.count_substring); nulls count 0."""
        counts = [c.newlines_per_string() for c in self.chunks]
        return np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)

    def lines_may_break(self) -> bool:
        """Tell whether some line of some string might break a line rule: empty, starting or
        ending with WS, or matching BOILERPLATE_RE2. False means none does, and the RE2 rules
        would agree; True (rare for clean rows) means run them. About 5x faster than RE2."""
        return any(c.lines_may_break() for c in self.chunks)


class _TextChunk:
    def __init__(self, arr: pa.Array) -> None:
        n = len(arr)
        self.array = arr
        self.buffer = arr.buffers()[2]
        self.offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[
            arr.offset : arr.offset + n + 1
        ]
        buf = self.buffer
        self.data = np.frombuffer(buf, dtype=np.uint8) if buf is not None else np.zeros(0, np.uint8)
        lo, hi = int(self.offsets[0]), int(self.offsets[-1])
        self.newlines = np.flatnonzero(self.data[lo:hi] == 0x0A).astype(np.int32) + lo

    def newlines_per_string(self) -> np.ndarray:
        rows = np.searchsorted(self.offsets, self.newlines, side="right") - 1
        return np.bincount(rows, minlength=len(self.offsets) - 1)

    def lines_may_break(self) -> bool:
        data, offsets = self.data, self.offsets
        if self.array.null_count or self.buffer is None or offsets[0] == offsets[-1]:
            return True
        # Lines tile each string between newlines. Each list below is two sorted runs (timsort
        # merges them in one pass); sorted, the i-th start pairs with the i-th end.
        starts = np.sort(np.concatenate([offsets[:-1], self.newlines + 1]), kind="stable")
        ends = np.sort(np.concatenate([self.newlines, offsets[1:]]), kind="stable")
        length = ends - starts
        if not length.all():
            return True  # an empty line (or string)
        if _ASCII_WS[data[starts]].any() or _ASCII_WS[data[ends - 1]].any():
            return True
        for seq in (_NBSP, _IDEOGRAPHIC_SPACE):
            long = length >= len(seq)
            if _has_bytes(data, starts[long], seq) or _has_bytes(data, ends[long] - len(seq), seq):
                return True
        three = np.flatnonzero(length >= 3)
        at = starts[three]
        lead = (
            data[at].astype(np.int64) << 16
            | data[at + 1].astype(np.int64) << 8
            | data[at + 2].astype(np.int64)
        )
        candidates = three[np.isin(lead, _BOILERPLATE_LEADS)]
        if not len(candidates):
            return False
        # Few lines start like boilerplate: run the RE2 rule on those lines alone. As strings
        # over the same buffer with offsets start0, end0, start1, end1...: the even ones are
        # those lines, the odd ones the text between them.
        bounds = np.empty(2 * len(candidates), dtype=np.int32)
        bounds[0::2], bounds[1::2] = starts[candidates], ends[candidates]
        spans = pa.StringArray.from_buffers(len(bounds) - 1, pa.py_buffer(bounds), self.buffer)
        lines = spans.take(pa.array(np.arange(0, len(bounds), 2)))
        return bool(pc.any(pc.match_substring_regex(lines, BOILERPLATE_RE2)).as_py())


def _has_bytes(data: np.ndarray, at: np.ndarray, seq: bytes) -> bool:
    """Tell whether data[a : a + len(seq)] == seq for some a in `at` (all in bounds)."""
    hit = np.ones(len(at), dtype=bool)
    for i, byte in enumerate(seq):
        hit &= data[at + i] == byte
    return bool(hit.any())


def check_batch(table: pa.Table) -> None:
    """Raise ValidationError if a batch of rows breaks a table rule."""
    problems = table_problems(table)
    if problems:
        raise ValidationError(
            "table check failed (a bug in corpus_export):\n" + "\n".join(problems)
        )


def check_ascending(table: pa.Table) -> None:
    """Raise ValidationError unless a batch's ids are unique and ascending."""
    if not _ids_ascending(table):
        raise ValidationError(f"table check failed (a bug in corpus_export): {_NOT_ASCENDING}")


def check_order(previous_last_id: str | None, first: str) -> None:
    """Raise ValidationError unless a batch's first id sorts after the previous batch's last."""
    if previous_last_id is None:
        return
    if not previous_last_id < first:
        raise ValidationError(
            f"table check failed (a bug in corpus_export): id {first!r} does not sort after "
            f"{previous_last_id!r}: ids must be unique and ascending"
        )


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
    # build.py owns the file names; imported here, not at the top, since build imports this module.
    from .build import CORPUS_CSV, CORPUS_PARQUET, MANIFEST, REJECTS_CSV, file_digests

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
    corpus = _read_corpus(dist / CORPUS_PARQUET, CORPUS_PARQUET, problems)
    shards: list[str] | None = None
    if corpus is not None:
        if corpus.rows != counts.get("rows"):
            problems.append(
                f"{CORPUS_PARQUET}: {corpus.rows} rows, the manifest says {counts.get('rows')}"
            )
        if (dist / CORPUS_CSV).is_file():
            problems += _csv_problems(dist / CORPUS_PARQUET, dist / CORPUS_CSV, CORPUS_CSV)
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


@dataclass(slots=True)
class _Corpus:
    """What corpus.parquet's rows give, read a row group (a build's part) at a time."""

    rows: int = 0
    group_bytes: list[int] = field(default_factory=list)  # Arrow bytes of each row group
    stats: Any = None  # build.Stats of the rows, as the build gathers them for the card


def _read_corpus(path: Path, name: str, problems: list[str]) -> _Corpus | None:
    """Check corpus.parquet's schema and table rules → its rows' numbers, None if unreadable."""
    import pyarrow.parquet as pq

    from .build import Stats
    from .process import TASK_MAX, arrow_nbytes, table_stats

    if not path.is_file():
        problems.append(f"{name}: missing")
        return None
    corpus = _Corpus(stats=Stats())
    try:
        pf = pq.ParquetFile(path)
        if not pf.schema_arrow.equals(schema.arrow_schema(), check_metadata=False):
            problems.append(f"{name}: schema differs from the contract:\n{pf.schema_arrow}")
            return None
        last_id: str | None = None
        for i in range(pf.num_row_groups):
            n = pf.metadata.row_group(i).num_rows
            if n > TASK_MAX:  # a row group is one task's rows: read no more than a build made
                problems.append(
                    f"{name}: row group {i} holds {n} rows; a build writes at most {TASK_MAX}"
                )
                return None
            table = pf.read_row_group(i).cast(schema.arrow_schema())
            found = table_problems(table)
            if table.num_rows and last_id is not None and not last_id < table["id"][0].as_py():
                found.append(f"id: {_NOT_ASCENDING}")
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
    from .build import CORPUS_PARQUET, HF_DIR, MANIFEST, _shard_name, shard_plan
    from .parquet_split import SplitError, write_row_groups

    settings = manifest.get("settings")
    shard_bytes = settings.get("shard_bytes") if isinstance(settings, dict) else None
    if not isinstance(shard_bytes, int):
        problems.append(f"{MANIFEST}: no settings.shard_bytes (the Hub shards' size)")
        return None
    plan = shard_plan(corpus.group_bytes, shard_bytes)
    names = [_shard_name(i, len(plan)) for i in range(len(plan))]
    if manifest.get("hf_shards") != names:
        problems.append(
            f"{MANIFEST}: hf_shards is {manifest.get('hf_shards')}; {CORPUS_PARQUET}'s row "
            f"groups make {names}"
        )
    whole = found.get(CORPUS_PARQUET)
    for name, (first, last) in zip(names, plan, strict=True):
        rel = f"{HF_DIR}/data/{name}"
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
    from . import __version__
    from .build import HF_DIR, MANIFEST, BuildResult
    from .publish import DATA_FILES, publication

    generator = f"corpus-export {__version__}"
    if manifest.get("generator") != generator:
        return [
            f"{MANIFEST}: written by {manifest.get('generator')!r}, not by this {generator}, "
            "so its card and metadata cannot be checked: validate with that version, or rebuild"
        ]
    counts = manifest["counts"]
    if not all(isinstance(counts.get(k), int) for k in ("files_seen", "ignored_files")):
        return [f"{MANIFEST}: counts.files_seen and counts.ignored_files must be integers"]
    if any(rel not in found for rel in [*DATA_FILES, *(f"{HF_DIR}/data/{s}" for s in shards)]):
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
    from .build import HF_DIR
    from .publish import HF_README

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


def _csv_rows_as_table(table: pa.Table) -> pa.Table:
    """Turn an all-string CSV table back into rows of the contract's schema (ValueError if not)."""
    arrays = []
    for f in schema.FIELDS:
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
    return pa.Table.from_arrays(arrays, schema=schema.arrow_schema())


def _csv_problems(parquet: Path, csv: Path, name: str) -> list[str]:
    """Compare corpus.csv with corpus.parquet row by row, streaming both."""
    import pyarrow.parquet as pq

    want = (
        pa.Table.from_batches([b]).cast(schema.arrow_schema())
        for b in pq.ParquetFile(parquet).iter_batches(batch_size=ROW_BATCH)
    )
    try:
        have = (_csv_rows_as_table(t) for t in _read_csv_batches(csv, schema.NAMES))
        a = b = schema.arrow_schema().empty_table()
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
    title and body of the row it names; with every page checked, a row whose title and body
    equal an earlier row's is reported too. Rows are read a row group at a time and pages
    parsed RAW_BATCH at a time, by `workers` processes (the build's pool).
    """
    from .build import _stop_pool, start_pool

    pool = start_pool(workers)  # before the scan: the forked workers do not copy its list
    try:
        return _raw_problems(dist, raw, sample, pool, 2 * workers)
    finally:
        if pool is not None:
            _stop_pool(pool)


def _raw_problems(
    dist: Path, raw: Path, sample: int | None, pool: ProcessPoolExecutor | None, ahead: int
) -> RawCheck:
    import pyarrow.parquet as pq
    import xxhash

    from .build import CORPUS_PARQUET, MANIFEST, REJECTS_CSV, SeenTable
    from .read import printable_path, scan_raw

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
    seen = SeenTable(len(row_ids)) if everything else None
    kept_ids: set[str] = set()  # the rows duplicate rejects name (their pages parsed at the end)
    duplicates: list[tuple[str, bytes, str]] = []  # (id, key of its page, id of the kept row)
    for files, (parsed, table, error) in _parsed(
        root, _raw_batches(scan, chosen, groups), pool, ahead
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
            if seen is not None and seen.add(key, 0) is not None:
                problems.append(
                    f"id {rid!r}: same title and body as an earlier row (a build keeps only "
                    "the first, the smaller id)"
                )

    # a duplicate reject names a page of the same title and body (parsed from raw/ too)
    if duplicates:
        kept_keys = _page_keys(root, scan, scan_ids, sorted(kept_ids))
        for rid, key, kept_id in duplicates:
            if kept_keys.get(kept_id) != key:
                problems.append(
                    f"id {rid!r}: rejected as a duplicate of {kept_id!r}, but the raw pages' "
                    "titles and bodies differ"
                )
    return RawCheck(problems, len(chosen), len(scan))


Parsing = tuple[Any, pa.Table | None, str | None]  # (process.Parsed, its rows, or an error)


def _parse_or_error(root: str, files: list[Any]) -> Parsing:
    """process.parse_batch, a broken table rule returned as its message."""
    from .process import parse_batch

    try:
        parsed, table = parse_batch(root, files, 0)
    except ValidationError as exc:
        return None, None, str(exc)
    return parsed, table, None


def _parsed(
    root: str, batches: Iterator[list[Any]], pool: ProcessPoolExecutor | None, limit: int
) -> Iterator[tuple[list[Any], Parsing]]:
    """Yield each batch of raw files with what parsing it gives, in order (with a pool, up to
    `limit` batches are parsed ahead: the rows held stay bounded)."""
    from .build import _worker_result

    if pool is None:
        for files in batches:
            yield files, _parse_or_error(root, files)
        return
    ahead: deque[tuple[list[Any], Future[Parsing]]] = deque()
    for files in batches:
        ahead.append((files, pool.submit(_parse_or_error, root, files)))
        if len(ahead) > limit:
            done, future = ahead.popleft()
            yield done, _worker_result(future)
    while ahead:
        done, future = ahead.popleft()
        yield done, _worker_result(future)


def _kept_id(detail: str) -> str:
    """The id a duplicate reject's detail names ("same title and body as 'X' (kept: ...)")."""
    m = re.match(r"same title and body as ('.*'|\".*\") \(kept", detail)
    try:
        kept = ast.literal_eval(m.group(1)) if m else ""
    except (ValueError, SyntaxError):
        kept = ""
    return kept if isinstance(kept, str) else ""


def _page_keys(root: str, scan: Any, scan_ids: pa.Array, ids: list[str]) -> dict[str, bytes]:
    """Parse the raw pages of these ids → {id: key of its title and body} (rejects left out)."""
    at = pc.index_in(pa.array(ids, pa.string()), value_set=scan_ids).to_pylist()
    files = [scan.slice(i, i + 1)[0] for i in at if i is not None]
    keys: dict[str, bytes] = {}
    for start in range(0, len(files), RAW_BATCH):
        parsed, _, _ = _parse_or_error(root, files[start : start + RAW_BATCH])
        if parsed is not None:  # else: said when the pages were compared
            keys.update(zip(parsed.ids, parsed.dedup_keys, strict=True))
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
            self.held = (i, key, table.cast(schema.arrow_schema()) if columns is None else table)
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
