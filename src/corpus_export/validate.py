"""Rows (Arrow tables) → a list of broken table rules; raise ValidationError if any.

All table-level checks live here, vectorised with pyarrow.compute so they run on every streamed
batch without converting to pandas. Checks across batches (ids ascending and unique, duplicate
pages) are done by the assembler with `check_order`.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from . import schema
from .errors import ValidationError

#: Lines of the site's template that must never reach body or teasers (RE2 syntax, per line).
BOILERPLATE_RE2 = (
    r"(?m)^(下载到本地\s*[,，]?\s*更方便阅读|声明\s*[:：].*(版权|内容提供方).*"
    r"|论文部分内容阅读|其他文献\s*[:：]?)$"
)
WS = r"[\s\x{3000}\x{a0}]"
SHA256_RE2 = r"^[0-9a-f]{64}$"


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
            bad(f.name, pc.equal(pc.utf8_length(col), 0), "non-empty")
        if f.minimum is not None:
            bad(f.name, pc.less(col, f.minimum), f">= {f.minimum}")
        if f.nullable and pa.types.is_string(f.arrow):
            # null means "absent": an empty string would be a second spelling of it
            bad(f.name, pc.equal(pc.utf8_length(pc.drop_null(col)), 0), "null, not ''")

    body = table.column("body")
    newlines = pc.count_substring(body, "\n")
    bad("paragraph_count", pc.not_equal(table.column("paragraph_count"), pc.add(newlines, 1)),
        'body.count("\\n") + 1')
    bad("body_chars", pc.not_equal(table.column("body_chars"),
                                   pc.subtract(pc.utf8_length(body), newlines)),
        'len(body) - body.count("\\n")')
    teasers = table.column("teasers")
    bad("teaser_count", pc.not_equal(table.column("teaser_count"), pc.list_value_length(teasers)),
        "len(teasers)")
    bad("sha256", pc.invert(pc.match_substring_regex(table.column("sha256"), SHA256_RE2)),
        "64 lowercase hex digits")
    bad("title", pc.match_substring_regex(table.column("title"), r"\n"), "one line")
    bad("body", pc.match_substring_regex(body, BOILERPLATE_RE2), "no boilerplate line")
    bad("body", pc.match_substring_regex(body, rf"(?m)^{WS}|{WS}$|\n\n"),
        "paragraphs stripped and non-empty")
    flat = pc.list_flatten(teasers)
    if len(flat):
        parents = pc.list_parent_indices(teasers)
        for rule, mask in (
            ("no boilerplate teaser", pc.match_substring_regex(flat, BOILERPLATE_RE2)),
            ("teasers stripped and non-empty", pc.match_substring_regex(flat, rf"^{WS}|{WS}$|^$")),
        ):
            rows = pc.unique(pc.filter(parents, mask))
            if len(rows):
                ids = pc.take(table.column("id"), rows).slice(0, 3).to_pylist()
                problems.append(f"teasers: {len(rows)} row(s) break '{rule}', e.g. ids {ids}")
    ids = table.column("id")
    if table.num_rows > 1:
        ascending = pc.less(ids.slice(0, table.num_rows - 1), ids.slice(1))
        if not pc.all(ascending).as_py():
            problems.append("id: rows are not sorted by id with unique ids")
    return problems


def check_batch(table: pa.Table) -> None:
    """Raise ValidationError if a batch of rows breaks a table rule."""
    problems = table_problems(table)
    if problems:
        raise ValidationError("table check failed (a bug in corpus_export):\n" + "\n".join(problems))


def check_order(previous_last_id: str | None, table: pa.Table) -> None:
    """Raise ValidationError unless the batch's first id sorts after the previous batch's last."""
    if previous_last_id is None or table.num_rows == 0:
        return
    first = table.column("id")[0].as_py()
    if not previous_last_id < first:
        raise ValidationError(
            f"table check failed (a bug in corpus_export): id {first!r} does not sort after "
            f"{previous_last_id!r}: ids must be unique and ascending"
        )
