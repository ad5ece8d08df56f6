"""The real seed page: every field of its row, against the golden JSON and the spot checks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

import corpus_export
from corpus_export.parse import parse_page

GOLDEN = Path(__file__).parent / "golden" / "000_bba07cf85f81785c.json"


def test_seed_row_equals_golden(
    seed_bytes: bytes, expect_json: Callable[[object, Path], None]
) -> None:
    expect_json(parse_page(seed_bytes, "000_bba07cf85f81785c").to_row(), GOLDEN)


def test_seed_spot_checks(seed_bytes: bytes) -> None:
    row = parse_page(seed_bytes, "000_bba07cf85f81785c").to_row()
    assert row["id"] == "000_bba07cf85f81785c"
    assert row["title"] == "发挥党建联盟在基层社会治理中的关键作用"
    assert row["source"] == "党员生活"
    assert row["citations"] == 0
    assert row["uploader"] == "xd05724221"
    assert row["author"] == "武汉市洪山区委书记"
    body = row["body"]
    assert isinstance(body, str)
    assert body.startswith("2018年以来")
    assert body.endswith("展现洪山文明新风。")
    assert row["paragraph_count"] == 5 == body.count("\n") + 1
    assert row["body_chars"] == len(body) - body.count("\n")
    assert "作者系" not in body
    assert "论文部分内容阅读" not in body
    assert "其他文献" not in body
    teasers = row["teasers"]
    assert isinstance(teasers, list)
    assert row["teaser_count"] == 10 == len(teasers)
    assert teasers[0].startswith("儿时的")
    assert teasers[-1].startswith("下基层是为了抓基层")
    assert row["sha256"] == hashlib.sha256(seed_bytes).hexdigest()


def test_seed_row_in_parquet(raw_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    corpus_export.build(raw_dir, out, workers=1)
    df = pd.read_parquet(out / "corpus.parquet")
    assert list(df["id"]) == ["000_bba07cf85f81785c"]
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    got = df.iloc[0].to_dict()
    got["teasers"] = list(got["teasers"])
    assert {k: (v.item() if hasattr(v, "item") else v) for k, v in got.items()} == expected
