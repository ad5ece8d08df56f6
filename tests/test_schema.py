"""Every view of the schema derives from FIELDS, in order."""

from __future__ import annotations

import pyarrow as pa

from corpus_export import schema

CONTRACT = [
    "id",
    "title",
    "source",
    "citations",
    "uploader",
    "author",
    "body",
    "paragraph_count",
    "body_chars",
    "teasers",
    "teaser_count",
    "sha256",
]


def test_contract_columns_in_order() -> None:
    assert list(schema.NAMES) == CONTRACT
    assert schema.arrow_schema().names == CONTRACT
    assert schema.csv_header() == CONTRACT
    assert [f["name"] for f in schema.frictionless_schema()["fields"]] == CONTRACT
    assert [f["name"] for f in schema.hf_feature_dicts()] == CONTRACT


def test_types() -> None:
    s = schema.arrow_schema()
    assert s.field("citations").type == pa.int32()
    assert s.field("citations").nullable
    assert s.field("teasers").type == pa.list_(pa.string())
    assert not s.field("id").nullable
    assert not s.field("body").nullable
    for name in ("paragraph_count", "body_chars", "teaser_count"):
        assert s.field(name).type == pa.int32()


def test_hf_features_match_arrow() -> None:
    feats = schema.hf_features()
    assert list(feats) == CONTRACT
    assert feats.arrow_schema.types == schema.arrow_schema().types


def test_card_table_lists_every_column() -> None:
    table = schema.card_table({"title": "a|b"})
    for name in CONTRACT:
        assert f"`{name}`" in table
    assert "a\\|b" in table
