"""Fixture pages, one per template variant: every field of each row (or its reject), as JSON.

tests/pages/NAME.txt (or .txt.gz) holds a page as a scraper saved it, in its own encoding;
tests/pages/NAME.json what it must give, written and reviewed by a person: `pytest
--propose-expected` writes a differing outcome beside it as NAME.json.new, never over it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import corpus_export
from corpus_export.errors import Rejected
from corpus_export.process import process_file
from corpus_export.read import RawFile, page_id

PAGES = Path(__file__).parent / "pages"
FILES = sorted(p for p in PAGES.iterdir() if p.name.endswith((".txt", ".txt.gz")))


def expected_of(page: Path) -> Path:
    return PAGES / f"{page_id(page.name)}.json"


def outcome(page: Path) -> dict[str, object]:
    """The row of a page, or {"reject": reason}."""
    try:
        parsed, _ = process_file(PAGES, RawFile(page_id(page.name), page.name))
    except Rejected as rej:
        return {"id": page_id(page.name), "reject": str(rej.reason)}
    return parsed.to_row()


def test_every_fixture_page_has_its_expected_outcome() -> None:
    assert len(FILES) >= 10
    assert {expected_of(p).name for p in FILES} == {p.name for p in PAGES.glob("*.json")}


@pytest.mark.parametrize("page", FILES, ids=[p.name for p in FILES])
def test_fixture_page(page: Path, expect_json: Callable[[object, Path], None]) -> None:
    expect_json(outcome(page), expected_of(page))


def test_fixture_pages_through_a_build(tmp_path: Path) -> None:
    """The same rows and rejects come out of `build`, in corpus.parquet and rejects.csv (with
    near-duplicates kept: some fixtures are one article in several forms)."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for page in FILES:
        (raw / page.name).write_bytes(page.read_bytes())
    out = tmp_path / "dist"
    corpus_export.build(raw, out, workers=1, near_dups="keep")
    expected = {p["id"]: p for p in (json.loads(expected_of(f).read_text("utf-8")) for f in FILES)}
    rows = {r["id"]: r for r in pq.read_table(out / "corpus.parquet").to_pylist()}
    with (out / "rejects.csv").open(encoding="utf-8", newline="") as fh:
        rejects = {r["id"]: {"id": r["id"], "reject": r["reason"]} for r in csv.DictReader(fh)}
    assert {**rows, **rejects} == expected
