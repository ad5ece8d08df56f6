"""Reason codes for rejected pages, and the exception types of a run."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a raw file did not become a row. The one documented list."""

    UNDECODABLE = "undecodable"
    EMPTY = "empty"
    UNRECOGNISED_LAYOUT = "unrecognised_layout"
    MISSING_TITLE = "missing_title"
    MISSING_BODY = "missing_body"
    DUPLICATE = "duplicate"
    NEAR_DUPLICATE = "near_duplicate"
    UNREADABLE = "unreadable"
    OUTSIDE_RAW = "outside_raw"


#: one line per reason: docs/guarantees.md's table (`reason_table`), the card, the Data Package
#: and `corpus-export reasons` all show these
REASON_DOCS: dict[Reason, str] = {
    Reason.UNDECODABLE: "bytes are neither UTF-8 (with or without BOM), UTF-16 nor GB18030, "
    "contain NUL bytes (and are not UTF-16), or are a broken .gz or one expanding past 256 MiB",
    Reason.EMPTY: "no bytes, or only whitespace",
    Reason.UNRECOGNISED_LAYOUT: "none of the template's markers (来源 header, 论文部分内容阅读, "
    "其他文献): a page of some other site",
    Reason.MISSING_TITLE: "the first non-empty line is already the 来源 header, a boilerplate "
    "line or the 其他文献 heading",
    Reason.MISSING_BODY: "title and template markers but no article paragraph",
    Reason.DUPLICATE: "same title and body as a page with a smaller id (kept, named in the "
    "detail), or a second file mapping to the same id",
    Reason.NEAR_DUPLICATE: "its body's estimated similarity (MinHash of 5-character shingles) "
    "with the body of an earlier kept page reaches --near-dup-threshold (0.8 by default); the "
    "detail names the kept page and the similarity (kept with --near-dups keep)",
    Reason.UNREADABLE: "the file could not be read: permission denied, dangling or looping "
    "symlink, not a regular file, larger than 256 MiB; or a sub-folder that cannot be listed "
    "(its id ends with /)",
    Reason.OUTSIDE_RAW: "a symlink, to a file or to a folder (its id then ends with /), that "
    "resolves outside the raw folder (never followed)",
}


def reason_table() -> str:
    """The reasons as a Markdown table, as docs/guarantees.md shows them (a test compares)."""
    bar = "\\|"
    rows = [f"| `{reason}` | {doc.replace('|', bar)} |" for reason, doc in REASON_DOCS.items()]
    return "\n".join(["| reason | meaning |", "|---|---|", *rows])


class Rejected(Exception):
    """A page that cannot become a row: a reason code and a detail saying where and what."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class CorpusExportError(Exception):
    """A run-level problem the user can fix (bad folder, no token...). CLI exit 2."""


class ValidationError(Exception):
    """The table broke a schema rule: a bug in corpus_export, never written out. CLI exit 1."""
