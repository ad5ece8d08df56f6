"""The Python API a notebook uses: the names docs/python-api.md documents, typed (py.typed)."""

from __future__ import annotations

from pathlib import Path

import pytest

import corpus_export
from corpus_export import Page, Rejected, Role, build, explain_page, parse_file, parse_page

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "raw" / "000_bba07cf85f81785c.txt"


def test_every_documented_name_is_exported_and_described() -> None:
    doc = (REPO / "docs" / "python-api.md").read_text(encoding="utf-8")
    for name in corpus_export.__all__:
        assert hasattr(corpus_export, name), name
        if name != "__version__":
            assert f"`{name}" in doc, f"{name} is exported but docs/python-api.md never names it"


def test_the_package_says_it_is_typed() -> None:
    assert (Path(corpus_export.__file__).parent / "py.typed").is_file()


def test_a_page_from_bytes_from_a_file_and_explained(tmp_path: Path) -> None:
    page = parse_page(SEED.read_bytes(), page_id="seed")
    assert isinstance(page, Page)
    assert page.title == "发挥党建联盟在基层社会治理中的关键作用"
    assert parse_file(SEED).body == page.body
    roles = [line.role for line in explain_page(SEED.read_bytes())]
    assert roles[0] is Role.TITLE
    with pytest.raises(Rejected) as rejected:
        parse_page(b"", page_id="empty")
    assert rejected.value.reason == "empty"
    result = build(REPO / "raw", tmp_path / "dist", card_path=tmp_path / "CARD.md", workers=1)
    assert (result.rows, result.rejects) == (1, 0)


def test_the_reason_table_in_the_docs_is_the_codes_own() -> None:
    """docs/guarantees.md shows REASON_DOCS as reason_table() renders it: no second copy to
    drift (a new reason fails this test until the page is regenerated)."""
    from corpus_export.errors import reason_table

    doc = (REPO / "docs" / "guarantees.md").read_text(encoding="utf-8")
    assert f"<!-- generated: corpus_export.errors.reason_table() -->\n{reason_table()}\n" in doc
