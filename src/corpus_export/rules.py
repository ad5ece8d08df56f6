"""Rows (Arrow tables) → a list of broken table rules; raise ValidationError if any.

All table-level checks live here, vectorised with pyarrow.compute so they run on every streamed
batch without converting to pandas. Checks across batches (ids ascending and unique, duplicate
pages) are done by the assembler with `check_order`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import schema
from .errors import ValidationError
from .template import first_pairs, template_lines_pattern

#: Lines of the site's template that must never reach body or teasers (RE2 syntax, per line).
#: Per line: the spaces inside a line are [^\S\n], as \s would let a match run on into the next
#: line (the parser, too, judges one paragraph at a time).
BOILERPLATE_RE2 = "(?m)^(" + template_lines_pattern(r"[^\S\n]") + ")$"
WS = r"[\s\x{3000}\x{a0}]"
SHA256_RE2 = r"^[0-9a-f]{64}$"
#: A corpus.csv cell a spreadsheet would run as a formula (process.CSV_RISKY adds a ' to these).
CSV_UNESCAPED_RE2 = r"^[=+\-@\t\r]"
#: Rows per batch when `validate_export` streams an existing export.
ROW_BATCH = 4096


def table_problems(table: pa.Table) -> list[str]:
    """Return every broken rule of one table of rows (empty list: valid). The rows of an export
    built without some columns (--drop) are checked by the rules of the columns they have."""
    has = set(table.column_names)
    if table.schema != schema.arrow_schema(schema.dropped(table.column_names)) or "id" not in has:
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

    for f in schema.kept(schema.dropped(table.column_names)):
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

    if "body" in has:
        body = table.column("body")
        body_text = Text(body)
        newlines = pa.array(body_text.newlines_per_string().astype(np.int32))
    if {"body", "paragraph_count"} <= has:
        bad(
            "paragraph_count",
            pc.not_equal(table.column("paragraph_count"), pc.add(newlines, 1)),
            'body.count("\\n") + 1',
        )
    if {"body", "body_chars"} <= has:
        bad(
            "body_chars",
            pc.not_equal(table.column("body_chars"), pc.subtract(pc.utf8_length(body), newlines)),
            'len(body) - body.count("\\n")',
        )
    if {"teasers", "teaser_count"} <= has:
        bad(
            "teaser_count",
            pc.not_equal(table.column("teaser_count"), pc.list_value_length(table["teasers"])),
            "len(teasers)",
        )
    if "sha256" in has:
        bad(
            "sha256",
            pc.invert(pc.match_substring_regex(table.column("sha256"), SHA256_RE2)),
            "64 lowercase hex digits",
        )
    if "title" in has:
        bad("title", pc.match_substring_regex(table.column("title"), r"\n"), "one line")
    # A byte-level pass over the text finds every line these RE2 rules could flag (and a few
    # more); the rule-by-rule RE2 passes run only when it finds one.
    if "body" in has and body_text.lines_may_break():
        unstripped = rf"(?m)^{WS}|{WS}$|\n\n"
        bad("body", pc.match_substring_regex(body, BOILERPLATE_RE2), "no boilerplate line")
        bad("body", pc.match_substring_regex(body, unstripped), "paragraphs stripped and non-empty")
    teasers = table.column("teasers") if "teasers" in has else pa.array([], pa.list_(pa.string()))
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
        problems.append(f"id: {NOT_ASCENDING}")
    return problems


NOT_ASCENDING = "rows are not sorted by id with unique ids"


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


def _leads(pattern: str) -> dict[int, np.ndarray]:
    """How a line the pattern matches starts (first_pairs, read from the pattern itself): its
    first one or two characters as UTF-8 bytes → one number, grouped by their length in bytes."""
    firsts, pairs = first_pairs(pattern)
    by_size: dict[int, list[int]] = {}
    for start in firsts | pairs:
        encoded = start.encode("utf-8")
        by_size.setdefault(len(encoded), []).append(int.from_bytes(encoded, "big"))
    return {size: np.array(sorted(v), dtype=np.uint64) for size, v in sorted(by_size.items())}


#: The starts of the lines BOILERPLATE_RE2 matches (two characters: one let through every
#: paragraph starting 其中, 下一步...: the RE2 rule then ran, and compiling it cost more than the
#: whole screen).
_BOILERPLATE_LEADS = _leads(BOILERPLATE_RE2)


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
        lead_hit = np.zeros(len(starts), dtype=bool)
        for size, leads in _BOILERPLATE_LEADS.items():
            long = np.flatnonzero(length >= size)
            at = starts[long]
            lead = np.zeros(len(at), dtype=np.uint64)
            for i in range(size):
                lead = lead << np.uint64(8) | data[at + i].astype(np.uint64)
            lead_hit[long[np.isin(lead, leads)]] = True
        candidates = np.flatnonzero(lead_hit)
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
        raise ValidationError(f"table check failed (a bug in corpus_export): {NOT_ASCENDING}")


def check_order(previous_last_id: str | None, first: str) -> None:
    """Raise ValidationError unless a batch's first id sorts after the previous batch's last."""
    if previous_last_id is None:
        return
    if not previous_last_id < first:
        raise ValidationError(
            f"table check failed (a bug in corpus_export): id {first!r} does not sort after "
            f"{previous_last_id!r}: ids must be unique and ascending"
        )
