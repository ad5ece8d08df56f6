"""`build --drop COLUMN`: the column is gone from every file and description of the export, and
the export still loads, validates and rebuilds (cached or cold) the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from test_publish import code_blocks, page, section, split_card, tree_bytes

import corpus_export
from corpus_export import layout, schema
from corpus_export.assemble import BuildResult
from corpus_export.cli import cli

DROP = ("uploader", "teasers")
USERS = ("user01", "user02", "user01", "user03")


def make_raw(root: Path) -> Path:
    raw = root / "raw"
    raw.mkdir()
    for i, user in enumerate(USERS):
        text = page(f"标题{i}", teasers=(f"其他文章{i}的摘要",))
        (raw / f"{i}.txt").write_text(text.replace("user01", user), encoding="utf-8")
    return raw


def build(raw: Path, out: Path, drop: tuple[str, ...] = (), **kwargs: Any) -> BuildResult:
    card = out.parent / f"{out.name}.md"
    return corpus_export.build(raw, out, card_path=card, workers=1, drop=drop, **kwargs)


@pytest.fixture(scope="module")
def dropped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(an export built with --drop uploader --drop teasers, the same pages built whole)."""
    root = tmp_path_factory.mktemp("drop")
    raw = make_raw(root)
    build(raw, root / "whole")
    build(raw, root / "dist", DROP)
    return root / "dist", root / "whole"


def test_the_dropped_columns_are_in_no_data_file(dropped: tuple[Path, Path]) -> None:
    import pandas as pd

    out, whole = dropped
    kept = [n for n in schema.NAMES if n not in DROP]
    assert pq.read_schema(out / "corpus.parquet").names == kept
    shards = sorted((out / "hf" / "data").glob("*.parquet"))
    assert shards and all(pq.read_schema(s).names == kept for s in shards)
    assert list(pd.read_csv(out / "corpus.csv").columns) == kept
    # the other columns are the whole build's, value for value
    want = pq.read_table(whole / "corpus.parquet").select(kept)
    assert pq.read_table(out / "corpus.parquet").equals(want)
    for name in ("corpus.parquet", "corpus.csv", *(f"hf/data/{s.name}" for s in shards)):
        data = (out / name).read_bytes()
        assert not any(u.encode() in data for u in USERS), name
        assert "其他文章0的摘要".encode() not in data, name
    assert corpus_export.validate_export(out) == []


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated")  # rdflib, via mlcroissant
@pytest.mark.filterwarnings("ignore:The inplace keyword")  # pandas 3, via mlcroissant
def test_load_dataset_and_the_metadata_know_only_the_kept_columns(
    dropped: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets
    import mlcroissant as mlc
    from frictionless import validate

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    out, _ = dropped
    kept = [n for n in schema.NAMES if n not in DROP]
    ds = datasets.load_dataset(str(out / "hf"), split="train", cache_dir=str(tmp_path / "c"))
    assert list(ds.features) == kept
    meta, _ = split_card((out / "hf" / "README.md").read_text(encoding="utf-8"))
    assert ds.features == datasets.Features._from_yaml_list(meta["dataset_info"]["features"])
    assert ds.to_list() == pq.read_table(out / "corpus.parquet").to_pylist()

    package = json.loads((out / layout.DATAPACKAGE).read_text(encoding="utf-8"))
    corpus = next(r for r in package["resources"] if r["name"] == "corpus")
    assert [f["name"] for f in corpus["schema"]["fields"]] == kept
    assert "teasers" not in corpus["description"].split("(--drop)")[1]
    report = validate(str(out / layout.DATAPACKAGE))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    croissant = json.loads((out / layout.CROISSANT).read_text(encoding="utf-8"))
    assert [f["name"] for f in croissant["recordSet"][0]["field"]] == kept
    records = list(mlc.Dataset(str(out / layout.CROISSANT)).records("corpus"))
    assert len(records) == len(USERS)
    assert all(sorted(r) == sorted(f"corpus/{n}" for n in kept) for r in records)
    manifest = json.loads((out / layout.MANIFEST).read_text(encoding="utf-8"))
    assert [f["name"] for f in manifest["schema"]] == kept
    assert manifest["settings"]["drop"] == list(DROP)


def test_the_card_says_what_was_dropped_and_its_recipe_runs(
    dropped: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    out, whole = dropped
    text = (out / "hf" / "README.md").read_text(encoding="utf-8")
    assert text == (out.parent / "dist.md").read_text(encoding="utf-8")
    _, body = split_card(text)
    fields = section(body, "### Data Fields")
    assert "| `uploader` |" not in fields and "| `teasers` |" not in fields
    assert "| `teaser_count` |" in fields
    assert "leaves out `uploader`, `teasers`" in fields
    assert "--drop uploader --drop teasers" in fields
    assert "leaves out `uploader` (`--drop`)" in section(
        body, "### Personal and Sensitive Information"
    )
    assert "checksums are of the files as published, without `uploader`, `teasers`" in body
    assert not any(u in text for u in USERS)
    whole_text = (whole / "hf" / "README.md").read_text(encoding="utf-8")
    assert "leaves out" not in whole_text
    [recipe] = [
        b for b in code_blocks(section(body, "### Loading a local build")) if "pd.read_csv" in b
    ]
    assert "teasers" not in recipe
    monkeypatch.chdir(out.parent)  # the card's paths are dist/...
    scope: dict[str, Any] = {}
    exec(compile(recipe, "card-recipe", "exec"), scope)
    pd.testing.assert_frame_equal(scope["df"], scope["df_csv"])
    assert list(scope["df"].columns) == [n for n in schema.NAMES if n not in DROP]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--drop", "id"], "Error: cannot drop 'id': it is the key"),
        (["--drop", "uploaders"], "Error: cannot drop 'uploaders': no such column"),
        (["--drop", "uploader", "--pseudonymize", "uploader"], "Error: 'uploader' is both dropped"),
    ],
)
def test_a_column_that_cannot_be_dropped_is_one_error_line(
    args: list[str], said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = make_raw(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CORPUS_EXPORT_PSEUDONYM_KEY", "secret")
    r = CliRunner().invoke(cli, ["build", "--raw", str(raw), *args])
    assert r.exit_code == 2
    assert r.output.startswith(said) and r.output.count("\n") == 1, r.output
    assert not (tmp_path / "dist").exists() and not (tmp_path / "CARD.md").exists()


@pytest.mark.usefixtures("trust_new_files")
def test_cached_builds_with_another_drop_equal_cold_ones(tmp_path: Path) -> None:
    """The cache holds rows as the last export published them: a build with other columns
    dropped must not reuse them (nor its shards), whatever was dropped before."""
    raw = make_raw(tmp_path)
    out, cache = tmp_path / "warm" / "dist", tmp_path / "cache"
    for i, drop in enumerate([(), ("teasers",), ("teasers",), ("uploader", "teasers"), ()]):
        if i == 2:  # one page edited: the others' rows come from the export without teasers
            (raw / "1.txt").write_text(page("新标题"), encoding="utf-8")
        result = build(raw, out, drop, cache_dir=cache)
        cold = tmp_path / f"cold{i}" / "dist"
        cold.parent.mkdir()
        build(raw, cold, drop)
        assert tree_bytes(out) == tree_bytes(cold), drop
        assert (out.parent / "dist.md").read_bytes() == (cold.parent / "dist.md").read_bytes()
        assert pq.read_schema(out / "corpus.parquet").names == schema.csv_header(drop)
        assert result.drop == list(drop)
    assert build(raw, out, (), cache_dir=cache).unchanged  # the same settings: nothing to do
    assert not build(raw, out, ("author",), cache_dir=cache).unchanged


def test_check_and_validate_raw_rebuild_with_the_recorded_drop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = make_raw(tmp_path)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    r = runner.invoke(cli, ["build", "--raw", str(raw), "--drop", "uploader", "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["build", "--raw", str(raw), "--check", "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["validate", "dist", "--raw", str(raw), "--workers", "1"])
    assert r.exit_code == 0, r.output
    # a Parquet file that still has the column is not the export the manifest describes
    whole = tmp_path / "whole"
    build(raw, whole)
    (tmp_path / "dist" / "corpus.parquet").write_bytes((whole / "corpus.parquet").read_bytes())
    problems = corpus_export.validate_export(tmp_path / "dist")
    assert any("corpus.parquet: schema differs" in p for p in problems)


def test_the_card_does_not_describe_a_dropped_column(tmp_path: Path) -> None:
    raw = make_raw(tmp_path)
    drop = ("uploader", "body", "sha256")
    build(raw, tmp_path / "dist", drop)
    _, body = split_card((tmp_path / "dist.md").read_text(encoding="utf-8"))
    personal = section(body, "### Personal and Sensitive Information")
    assert "`uploader` holds" not in personal and "`body`" not in personal
    assert "`uploader`" not in section(body, "### Out-of-scope use")
    parsing = section(body, "### Parsing")
    assert "`sha256` is the SHA-256" not in parsing
    # the header line is still read (and kept out of `body`), so it is still described, and the
    # section says which of the columns it names no file holds
    assert "`uploader` come from the header line" in parsing
    assert (
        "leaves out `uploader`, `body`, `sha256`: no file of the export holds those columns"
        in " ".join(parsing.split())
    )
    assert "leaves out `uploader` (`--drop`)" in section(
        body, "### Personal and Sensitive Information"
    )
    assert "`author` holds names of real people" in body
    assert "field_size_limit" not in body  # the csv-module advice is about long bodies
    assert "a row's `sha256`" not in body
    assert "checksums are of the files as published, without `uploader`, `body`, `sha256`." in body
    # each column left is still described
    whole = tmp_path / "whole"
    build(raw, whole, ("author",))
    _, kept = split_card((tmp_path / "whole.md").read_text(encoding="utf-8"))
    assert "- `uploader` holds the user name" in kept and "`author` holds" not in kept
    assert "leaves out `author`: no file of the export holds that column" in " ".join(
        section(kept, "### Parsing").split()
    )
    assert "- `body` can name people, as articles do." in kept
    assert "field_size_limit" in kept and "a row's `sha256`" in kept
    assert "profiling people from `uploader` (see" in kept
