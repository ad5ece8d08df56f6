"""The publication files of a build: Hub card, datapackage.json, croissant.json."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

import corpus_export
from corpus_export import layout, publish, schema
from corpus_export.assemble import BuildResult
from corpus_export.errors import Reason

REPO = Path(__file__).resolve().parents[1]
#: valid Hub values (huggingface.co/docs/hub/datasets-cards and the Hub's task list)
HUB_SIZE_CATEGORIES = {label for _, label in publish.SIZE_BUCKETS} | {"n>1T"}
HUB_TASK_CATEGORIES = {
    "text-generation",
    "text-classification",
    "token-classification",
    "fill-mask",
    "summarization",
    "translation",
    "question-answering",
    "feature-extraction",
    "sentence-similarity",
    "zero-shot-classification",
    "text-retrieval",
}
CARD_SECTIONS = (
    "## Dataset Summary",
    "## Uses",
    "### Loading from the Hub",
    "### Loading a local build",
    "### Direct use",
    "### Out-of-scope use",
    "## Languages",
    "## Dataset Structure",
    "### Data Instances",
    "### Data Fields",
    "### Data Splits",
    "### Statistics",
    "## Dataset Creation",
    "### Source Data",
    "### Parsing",
    "### Validation",
    "### Rejects",
    "### Duplicates and near-duplicates",
    "### Reproducing the build",
    "### Personal and Sensitive Information",
    "## Bias, Risks, and Limitations",
    "## Licensing Information",
    "## Citation",
    "## Dataset Card Contact",
)
HOSTILE_TITLE = "--- a: b | c # x <script>alert(1)</script> `code` \\ end"
HOSTILE_SOURCE = "&anchor *alias !tag %YAML ? key: - [x] {y} <b>|"
LONG = 140_000  # past the csv module's default field size limit (131072)


def page(
    title: str,
    *,
    source: str = "党员生活",
    citations: str = "3次",
    paragraphs: tuple[str, ...] = ("第一段正文内容。", "第二段正文内容。"),
    teasers: tuple[str, ...] = ("其他文章一的摘要",),
) -> str:
    header = (
        f"来源 :{source} | 被引量 : {citations} | 上传用户:user01"
        if citations
        else f"来源 :{source} | 上传用户:user01"
    )
    lines = [
        title,
        "",
        header,
        "下载到本地 , 更方便阅读",
        "论文部分内容阅读",
        *(f"  {p}" for p in paragraphs),
        "  (作者系某某大学教授)",
        "其他文献",
        *teasers,
    ]
    return "\n".join(lines) + "\n"


def make_raw(root: Path, *, hostile: bool = False) -> Path:
    raw = root / "raw"
    shutil.copytree(REPO / "raw", raw)
    if hostile:
        (raw / "0000_hostile.txt").write_text(
            page(
                HOSTILE_TITLE,
                source=HOSTILE_SOURCE,
                citations="",
                teasers=('=HYPERLINK("x")', "-1", "@who", "'quoted"),
            ),
            encoding="utf-8",
        )
        (raw / "002_long.txt").write_text(
            page("+长文", paragraphs=("长" * LONG, "null", "NA")), encoding="utf-8"
        )
        (raw / "003_formula.txt").write_text(page("=SUM(A1:A2)", source="-来源"), encoding="utf-8")
        (raw / "004_empty.txt").write_bytes(b"")
        (raw / "005_dup.txt").write_text(page("=SUM(A1:A2)", source="-来源"), encoding="utf-8")
    return raw


def do_build(root: Path, *, hostile: bool = False) -> tuple[Path, Path, BuildResult]:
    raw = make_raw(root, hostile=hostile)
    out, card = root / "dist", root / "CARD.md"
    result = corpus_export.build(raw, out, card_path=card, workers=1)
    return out, card, result


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, BuildResult]:
    return do_build(tmp_path_factory.mktemp("plain"))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, BuildResult]:
    return do_build(tmp_path_factory.mktemp("hostile"), hostile=True)


def split_card(text: str) -> tuple[dict[str, Any], str]:
    assert text.startswith("---\n")
    head, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


# ---------------------------------------------------------------------------------------------
# the card


def test_card_md_equals_hf_readme(built: tuple[Path, Path, BuildResult]) -> None:
    out, card, _ = built
    assert card.read_bytes() == (out / "hf" / "README.md").read_bytes()
    assert (out / "hf" / layout.HF_LICENSE).is_file()


def test_card_metadata_values(built: tuple[Path, Path, BuildResult]) -> None:
    out, _, result = built
    meta, _ = split_card((out / "hf" / "README.md").read_text(encoding="utf-8"))
    assert meta["language"] == ["zh"]
    assert meta["license"] == "other"
    assert re.fullmatch(r"[a-z0-9.-]+", meta["license_name"])
    assert (out / "hf" / meta["license_link"]).is_file()
    assert meta["size_categories"] == ["n<1K"]
    assert set(meta["size_categories"]) <= HUB_SIZE_CATEGORIES
    assert set(meta["task_categories"]) <= HUB_TASK_CATEGORIES
    assert meta["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}
    ]
    info = meta["dataset_info"]
    assert info["features"] == schema.hf_feature_dicts()
    assert info["splits"][0]["name"] == "train"
    assert info["splits"][0]["num_examples"] == result.rows == 1
    assert info["download_size"] == (out / "hf" / "data" / result.shards[0]).stat().st_size


def test_card_parses_as_dataset_card_and_round_trips(
    built: tuple[Path, Path, BuildResult], tmp_path: Path
) -> None:
    from huggingface_hub import DatasetCard, DatasetCardData

    out, _, _ = built
    card = DatasetCard.load(out / "hf" / "README.md")
    assert isinstance(card.data, DatasetCardData)
    data = card.data.to_dict()
    for key in (
        "pretty_name",
        "language",
        "license",
        "license_name",
        "license_link",
        "task_categories",
        "size_categories",
        "configs",
        "dataset_info",
    ):
        assert key in data, key
    assert card.data.pretty_name == publish.PRETTY_NAME
    card.save(tmp_path / "README.md")
    again = DatasetCard.load(tmp_path / "README.md")
    assert again.data.to_dict() == data
    assert again.text == card.text


def test_card_body_sections_and_checksums(built: tuple[Path, Path, BuildResult]) -> None:
    out, _, result = built
    _, body = split_card((out / "hf" / "README.md").read_text(encoding="utf-8"))
    headings = [line for line in body.splitlines() if re.match(r"#{2,3} ", line)]
    # the sections of the Hub's dataset card guide, in its order
    assert headings == list(CARD_SECTIONS)
    assert schema.card_table(result.examples) in body
    for reason in Reason:
        assert f"| `{reason}` |" in body
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for name in layout.DATA_FILES:
        assert (
            f"| `{name}` | {manifest['files'][name]['bytes']:,} | "
            f"`{manifest['files'][name]['sha256']}` |" in body
        )
    for needle in (
        'pd.read_parquet("dist/corpus.parquet", dtype_backend="numpy_nullable")',
        "keep_default_na=False",
        'na_values=[""]',
        "json.loads",
        "csv.field_size_limit(sys.maxsize)",
        'load_dataset("dist/hf"',
        "FROM 'dist/corpus.parquet'",
        "pl.read_parquet",
        "corpus-export build",
    ):
        assert needle in body, needle
    assert not re.search(r"20\d\d-\d\d-\d\d", body), "no dates in the card"


@pytest.mark.parametrize(
    ("rows", "label"),
    [
        (0, "n<1K"),
        (999, "n<1K"),
        (1000, "1K<n<10K"),
        (99_999, "10K<n<100K"),
        (100_000, "100K<n<1M"),
        (5_000_000, "1M<n<10M"),
        (10**12, "n>1T"),
    ],
)
def test_size_category(rows: int, label: str) -> None:
    assert publish.size_category(rows) == label


def test_front_matter_survives_yaml_special_values() -> None:
    meta = {
        "pretty_name": HOSTILE_TITLE,
        "x": HOSTILE_SOURCE,
        "y": "yes",
        "z": "null",
        "w": "--- \n---\nkey: v",
    }
    text = publish.front_matter(meta) + "body\n"
    parsed, body = split_card(text)
    assert parsed == meta
    assert body == "body\n"


def test_hostile_page_text_breaks_neither_front_matter_nor_tables(
    hostile: tuple[Path, Path, BuildResult], built: tuple[Path, Path, BuildResult]
) -> None:
    from huggingface_hub import DatasetCard

    _, card_path, result = hostile
    text = card_path.read_text(encoding="utf-8")
    meta, body = split_card(text)
    plain_meta, _ = split_card(built[1].read_text(encoding="utf-8"))
    # same keys and values except the sizes
    assert {k: v for k, v in meta.items() if k != "dataset_info"} == {
        k: v for k, v in plain_meta.items() if k != "dataset_info"
    }
    assert DatasetCard(text).data.to_dict()["license"] == "other"
    assert "<script>" not in body
    assert "&lt;script&gt;" in body  # the hostile source is in the top-sources table
    # every table row has as many unescaped cell separators as its header
    table: int | None = None
    for line in body.splitlines():
        if not line.startswith("|"):
            table = None
            continue
        cells = len(re.findall(r"(?<!\\)\|", line.replace("\\\\", "")))
        if table is None:
            table = cells
        assert cells == table, line
    assert result.rejects_by_reason == {"duplicate": 1, "empty": 1}


MARKDOWN_PAGES = {
    "000_md": page(
        "![t](https://example.com/t.png) 标题 [链接](https://example.com/a)",
        source="![x](https://example.com/p.png)",
        paragraphs=("<b>粗体</b> [链接](http://example.com) ![i](http://example.com/i.png)",),
        teasers=("![teaser](https://example.com/t.png) 摘要",),
    ),
    "001_long": page("长来源的文章", source="源" + "长" * 5000),
    "002_html": page("标签", source='<img src="https://example.com/p.png" onerror="alert(1)">'),
    "003_link": page("链接", source="[来源](javascript:alert(1))"),
    "004_entity": page("实体", source="&lt;img src=x&gt; &#60;b&#62; 来源"),
}


def displayed(cell: str) -> str:
    """The text a Markdown renderer shows for a table cell (escapes and entities undone)."""
    return html.unescape(re.sub(r"\\(.)", r"\1", cell.strip()))


def test_card_cells_from_pages_are_inert_markdown_and_short(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, text in MARKDOWN_PAGES.items():
        (raw / f"{name}.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "dist"
    result = corpus_export.build(raw, out, card_path=tmp_path / "CARD.md", workers=1)
    assert result.rows == len(MARKDOWN_PAGES)
    _, body = split_card((out / "hf" / "README.md").read_text(encoding="utf-8"))
    body = re.sub(r"!\[[A-Za-z ,]+\]\(images/[a-z_]+\.svg\)", "", body)  # the card's own pictures
    assert "](" not in body
    assert "<img" not in body and "<b>" not in body
    fields = body.split("### Data Fields", 1)[1].split("\n\n", 2)[1].splitlines()[2:]
    sources = body.split("| source | rows |", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    cells = [re.split(r"(?<!\\)\|", line)[-2] for line in fields]  # the example column
    cells += [re.split(r"(?<!\\)\|", line)[1] for line in sources]  # the source column
    assert len(cells) == len(schema.FIELDS) + len(MARKDOWN_PAGES)
    for cell in cells:
        assert "<" not in cell and "](" not in cell, cell
        assert len(displayed(cell)) <= schema.CELL_CHARS, cell
    shown = {displayed(cell) for cell in cells}
    # the text is shown as it is, only cut
    assert "![x](https://example.com/p.png)" in shown
    assert '<img src="https://example.com/p.png" onerror="alert(1)">' in shown
    # (the parser decodes HTML entities as a reader sees them: the card shows the tags as text)
    assert "<img src=x> <b> 来源" in shown
    assert "源" + "长" * (schema.CELL_CHARS - 2) + "…" in shown


# ---------------------------------------------------------------------------------------------
# 🤗 datasets


def test_load_dataset_offline(
    built: tuple[Path, Path, BuildResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    out, _, _ = built
    dsd = datasets.load_dataset(str(out / "hf"), cache_dir=str(tmp_path / "cache"))
    assert list(dsd.keys()) == ["train"]
    ds = dsd["train"]
    assert ds.features == schema.hf_features()
    meta, _ = split_card((out / "hf" / "README.md").read_text(encoding="utf-8"))
    assert ds.features == datasets.Features._from_yaml_list(meta["dataset_info"]["features"])
    assert ds.to_list() == pq.read_table(out / "corpus.parquet").to_pylist()


# ---------------------------------------------------------------------------------------------
# determinism


def test_publication_is_byte_identical_across_builds(
    built: tuple[Path, Path, BuildResult], tmp_path: Path
) -> None:
    out, card, _ = built
    out2, card2, _ = do_build(tmp_path)
    assert card.read_bytes() == card2.read_bytes()
    for name in (
        "hf/README.md",
        "hf/LICENSE.md",
        layout.DATAPACKAGE,
        layout.CROISSANT,
        "manifest.json",
        *(p.relative_to(out).as_posix() for p in (out / "hf" / "images").iterdir()),
    ):
        assert (out / name).read_bytes() == (out2 / name).read_bytes(), name


def test_manifest_lists_publication_files(built: tuple[Path, Path, BuildResult]) -> None:
    out, _, _ = built
    files = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["files"]
    for name in ("hf/README.md", "hf/LICENSE.md", layout.DATAPACKAGE, layout.CROISSANT):
        assert name in files


# ---------------------------------------------------------------------------------------------
# Frictionless


@pytest.mark.parametrize("which", ["built", "hostile"])
def test_frictionless_validates(which: str, request: pytest.FixtureRequest) -> None:
    from frictionless import validate

    out, _, _ = request.getfixturevalue(which)
    report = validate(str(out / layout.DATAPACKAGE))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_datapackage_describes_both_csvs(hostile: tuple[Path, Path, BuildResult]) -> None:
    from frictionless import Package

    out, _, _ = hostile
    pkg = json.loads((out / layout.DATAPACKAGE).read_text(encoding="utf-8"))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["files"]
    by_name = {r["name"]: r for r in pkg["resources"]}
    assert by_name["corpus"]["schema"] == schema.frictionless_schema()
    for res in pkg["resources"]:
        assert res["hash"] == f"sha256:{manifest[res['path']]['sha256']}"
        assert res["bytes"] == manifest[res["path"]]["bytes"]
        assert res["encoding"] == "utf-8"
        assert res["dialect"]["quoteChar"] == '"'
        assert "leading '" in res["description"]
    reason = next(f for f in by_name["rejects"]["schema"]["fields"] if f["name"] == "reason")
    assert reason["constraints"]["enum"] == [str(r) for r in Reason]
    package = Package(str(out / layout.DATAPACKAGE))
    rows = package.get_resource("corpus").read_rows()
    long_row = next(r for r in rows if r["id"] == "002_long")
    assert len(long_row["body"]) > LONG
    hostile_row = next(r for r in rows if r["id"] == "0000_hostile")
    assert hostile_row["citations"] is None
    assert hostile_row["teasers"] == ['=HYPERLINK("x")', "-1", "@who", "'quoted"]


def test_pandas_recipe_as_printed_in_the_card(
    hostile: tuple[Path, Path, BuildResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The card's pandas code, run as printed: the CSV gives the Parquet file's DataFrame,
    dtypes and all, and both give corpus.parquet's rows (hostile cells, a 140,000-character body,
    missing values)."""
    import pandas as pd

    out, card, _ = hostile
    _, body = split_card(card.read_text(encoding="utf-8"))
    blocks = [
        b for b in code_blocks(section(body, "### Loading a local build")) if "pd.read_csv" in b
    ]
    [recipe] = blocks
    assert recipe.count('"dist/') == 2
    monkeypatch.chdir(out.parent)  # the card's paths are dist/...
    scope: dict[str, Any] = {}
    exec(compile(recipe, "card-recipe", "exec"), scope)
    df, df_csv = scope["df"], scope["df_csv"]
    pd.testing.assert_frame_equal(df, df_csv)
    for col in ("id", "title", "body", "source", "uploader", "author", "sha256"):
        assert isinstance(df[col].dtype, pd.StringDtype), col
    assert str(df["citations"].dtype) == "Int32"
    want = pq.read_table(out / "corpus.parquet").to_pylist()
    got = df.astype(object).where(df.notna(), None).to_dict("records")
    assert got == want
    assert any(len(r["body"]) >= LONG for r in want)


# ---------------------------------------------------------------------------------------------
# Croissant


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated")  # rdflib, via mlcroissant
@pytest.mark.filterwarnings("ignore:The inplace keyword")  # pandas 3, via mlcroissant
def test_croissant_validates_and_reads_records(
    hostile: tuple[Path, Path, BuildResult], caplog: pytest.LogCaptureFixture
) -> None:
    import mlcroissant as mlc

    out, _, _ = hostile
    doc = json.loads((out / layout.CROISSANT).read_text(encoding="utf-8"))
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    dist = doc["distribution"][0]
    assert dist["encodingFormat"] == "application/x-parquet"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["files"]
    assert dist["sha256"] == manifest["corpus.parquet"]["sha256"]
    fields = {f["name"]: f for f in doc["recordSet"][0]["field"]}
    assert list(fields) == list(schema.NAMES)
    assert fields["teasers"]["repeated"] is True
    assert fields["citations"]["dataType"] == "sc:Integer"

    dataset = mlc.Dataset(str(out / layout.CROISSANT))  # raises mlc.ValidationError if invalid
    assert "not standard" not in caplog.text  # our @context is the one mlcroissant expects
    records = list(dataset.records("corpus"))
    want = pq.read_table(out / "corpus.parquet").to_pylist()
    assert [r["corpus/id"].decode() for r in records] == [w["id"] for w in want]
    first = records[0]
    assert [t.decode() for t in first["corpus/teasers"]] == want[0]["teasers"]


def test_croissant_cli_validate(built: tuple[Path, Path, BuildResult]) -> None:
    import subprocess
    import sys

    out, _, _ = built
    exe = Path(sys.executable).with_name("mlcroissant")
    proc = subprocess.run(
        [str(exe), "validate", "--jsonld", str(out / layout.CROISSANT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------------------------------------
# the card for a Hub visitor: the repo id


REPO_ID = "me/chinese-articles"


@pytest.fixture(scope="module")
def for_hub(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, BuildResult]:
    root = tmp_path_factory.mktemp("forhub")
    raw = make_raw(root)
    out, card = root / "dist", root / "CARD.md"
    result = corpus_export.build(raw, out, card_path=card, workers=1, repo_id=REPO_ID)
    return out, card, result


def section(body: str, heading: str) -> str:
    return body.split(f"\n{heading}\n", 1)[1].split("\n#", 1)[0]


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```$", text, flags=re.M | re.S)


def test_hub_loading_lines_name_the_repo(for_hub: tuple[Path, Path, BuildResult]) -> None:
    out, card, result = for_hub
    text = card.read_text(encoding="utf-8")
    assert text == (out / "hf" / "README.md").read_text(encoding="utf-8")
    _, body = split_card(text)
    hub_part = section(body, "### Loading from the Hub")
    blocks = code_blocks(hub_part)
    assert len(blocks) == 4  # datasets, pandas, DuckDB, Polars
    assert f'load_dataset("{REPO_ID}", split="train")' in blocks[0]
    assert f'pd.read_parquet("hf://datasets/{REPO_ID}/data/{result.shards[0]}"' in blocks[1]
    assert f"FROM 'hf://datasets/{REPO_ID}/data/*.parquet'" in blocks[2]
    assert f'pl.read_parquet("hf://datasets/{REPO_ID}/data/*.parquet")' in blocks[3]
    for block in blocks:  # every line that reads data names the repo
        reads = [line for line in block.splitlines() if "(" in line or "FROM" in line]
        reads = [line for line in reads if not line.startswith(("import", "from"))]
        assert reads and all(REPO_ID in line for line in reads), block
    assert "OWNER/NAME" not in body
    # the Hub's loading comes first; the local build's below it
    assert body.index("### Loading from the Hub") < body.index("### Loading a local build")
    assert f"--repo-id {REPO_ID}" in section(body, "### Reproducing the build")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["repo_id"] == REPO_ID


def test_card_without_repo_id_says_where_it_goes(built: tuple[Path, Path, BuildResult]) -> None:
    out, _, _ = built
    _, body = split_card((out / "hf" / "README.md").read_text(encoding="utf-8"))
    hub_part = section(body, "### Loading from the Hub")
    assert "corpus-export build --repo-id OWNER/NAME" in hub_part
    assert "[tool.corpus-export]" in hub_part
    assert 'load_dataset("OWNER/NAME"' in hub_part
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["repo_id"] is None


def test_card_yaml_and_citation_for_the_hub(for_hub: tuple[Path, Path, BuildResult]) -> None:
    from huggingface_hub import DatasetCard

    out, _, _ = for_hub
    data = DatasetCard.load(out / "hf" / "README.md").data.to_dict()
    assert data["annotations_creators"] == ["no-annotation"]
    assert data["source_datasets"] == ["original"]
    assert data["tags"] and all(isinstance(t, str) for t in data["tags"])
    assert "text-classification" not in data["task_categories"]
    assert set(data["task_categories"]) <= HUB_TASK_CATEGORIES
    _, body = split_card((out / "hf" / "README.md").read_text(encoding="utf-8"))
    [bibtex] = code_blocks(section(body, "## Citation"))
    croissant = json.loads((out / "croissant.json").read_text(encoding="utf-8"))
    assert bibtex.rstrip("\n") == croissant["citeAs"]
    assert bibtex.startswith("@misc{") and f"https://huggingface.co/datasets/{REPO_ID}" in bibtex
    assert croissant["url"] == f"https://huggingface.co/datasets/{REPO_ID}"
    assert f"https://huggingface.co/datasets/{REPO_ID}/discussions" in section(
        body, "## Dataset Card Contact"
    )


def test_example_record_is_the_first_row(for_hub: tuple[Path, Path, BuildResult]) -> None:
    out, _, _ = for_hub
    _, body = split_card((out / "hf" / "README.md").read_text(encoding="utf-8"))
    [block] = code_blocks(section(body, "### Data Instances"))
    record = json.loads(block)
    first = pq.read_table(out / "corpus.parquet").slice(0, 1).to_pylist()[0]
    assert list(record) == list(first)
    for key, value in first.items():
        if isinstance(value, int) or value is None:
            assert record[key] == value, key
        elif isinstance(value, str):
            shown = record[key]
            assert shown == value or (
                shown.endswith("…") and value.startswith(shown[:-1]) and len(shown) <= 41
            ), key
        else:
            assert record[key][0].removesuffix("…") in value[0], key


def test_repo_id_from_pyproject_and_bad_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from corpus_export.cli import cli

    raw = make_raw(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.corpus-export]\nrepo-id = "org/from-config"\n', encoding="utf-8"
    )
    run = CliRunner().invoke
    r = run(cli, ["build", "--raw", str(raw), "--no-cache", "-q"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((tmp_path / "dist" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["repo_id"] == "org/from-config"
    assert 'load_dataset("org/from-config"' in (tmp_path / "CARD.md").read_text(encoding="utf-8")
    # the check rebuilds for the same repo (from the config, or else from the manifest)
    r = run(cli, ["build", "--raw", str(raw), "--check", "-q"])
    assert r.exit_code == 0, r.output
    (tmp_path / "pyproject.toml").unlink()
    r = run(cli, ["build", "--raw", str(raw), "--check", "-q"])
    assert r.exit_code == 0, r.output
    # an explicit --repo-id wins, and the check then finds the export stale
    r = run(cli, ["build", "--raw", str(raw), "--check", "-q", "--repo-id", "org/other"])
    assert r.exit_code == 1, r.output
    for bad in ("no-slash", "a/b/c", "me/na..me"):
        r = run(cli, ["build", "--raw", str(raw), "--no-cache", "--repo-id", bad])
        assert r.exit_code == 2, r.output
        assert r.output.startswith(f"Error: invalid repo id {bad!r}: ")
        assert r.output.count("\n") == 1
    (tmp_path / "pyproject.toml").write_text(
        '[tool.corpus-export]\nrepo_id = "x/y"\n', encoding="utf-8"
    )
    r = run(cli, ["build", "--raw", str(raw), "--no-cache"])
    assert r.exit_code == 2
    assert r.output == (
        "Error: pyproject.toml: [tool.corpus-export] has 'repo_id'; known keys: repo-id\n"
    )


@pytest.mark.usefixtures("trust_new_files")
def test_cached_rebuild_for_another_repo_id_rewrites_the_card(tmp_path: Path) -> None:
    raw = make_raw(tmp_path)
    out, card, cache = tmp_path / "dist", tmp_path / "CARD.md", tmp_path / "cache"
    corpus_export.build(raw, out, card_path=card, workers=1, cache_dir=cache, repo_id="a/one")
    again = corpus_export.build(
        raw, out, card_path=card, workers=1, cache_dir=cache, repo_id="a/one"
    )
    assert again.unchanged
    other = corpus_export.build(
        raw, out, card_path=card, workers=1, cache_dir=cache, repo_id="b/two"
    )
    assert not other.unchanged
    text = card.read_text(encoding="utf-8")
    assert 'load_dataset("b/two"' in text and "a/one" not in text
    assert text == (out / "hf" / "README.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# personal data: keyed pseudonyms


def pseudo_raw(root: Path) -> Path:
    raw = root / "raw"
    raw.mkdir()
    users = ["user01", "user02", "user01", None]
    for i, user in enumerate(users):
        text = page(f"标题{i}")
        text = text.replace("上传用户:user01", f"上传用户:{user}" if user else "")
        text = text.replace(" | \n", "\n")
        (raw / f"{i}.txt").write_text(text, encoding="utf-8")
    return raw


def pseudo_build(raw: Path, out: Path, key: str, **kwargs: Any) -> BuildResult:
    from corpus_export.pseudonym import Pseudonyms

    return corpus_export.build(
        raw,
        out,
        card_path=out.parent / f"{out.name}.md",
        workers=1,
        pseudonyms=Pseudonyms(("uploader",), key.encode()),
        **kwargs,
    )


def uploaders(out: Path) -> list[str | None]:
    return pq.read_table(out / "corpus.parquet").column("uploader").to_pylist()


def test_pseudonyms_are_keyed_deterministic_and_agree_in_every_file(tmp_path: Path) -> None:
    import pandas as pd

    raw = pseudo_raw(tmp_path)
    plain = corpus_export.build(raw, tmp_path / "plain", card_path=tmp_path / "p.md", workers=1)
    assert plain.rows == 4
    names = uploaders(tmp_path / "plain")
    assert names == ["user01", "user02", "user01", None]
    pseudo_build(raw, tmp_path / "a1", "key-one")
    pseudo_build(raw, tmp_path / "a2", "key-one")
    pseudo_build(raw, tmp_path / "b", "key-two")
    a1, a2, b = (uploaders(tmp_path / n) for n in ("a1", "a2", "b"))
    assert a1 == a2  # the same key: the same pseudonyms, build after build
    assert a1[0] == a1[2] != a1[1]  # one uploader, one pseudonym; two, two
    assert a1[3] is None  # a missing value stays missing
    assert all(re.fullmatch(r"p_[0-9a-f]{16}", v) for v in a1[:3])
    assert not set(a1[:3]) & set(names) and not set(a1[:3]) & set(b[:3])  # keys differ: all differ
    assert tree_bytes(tmp_path / "a1") == tree_bytes(tmp_path / "a2")
    for out in ("a1", "b"):  # the CSV, the Hub shards and the card say the same
        folder = tmp_path / out
        csv = pd.read_csv(folder / "corpus.csv", keep_default_na=False, na_values=[""])
        assert [None if v != v else v for v in csv["uploader"]] == uploaders(folder)
        shard = pq.read_table(next((folder / "hf" / "data").glob("*.parquet")))
        assert shard.column("uploader").to_pylist() == uploaders(folder)
        text = (folder / "hf" / "README.md").read_text(encoding="utf-8")
        assert "user01" not in text and "user02" not in text
        assert "In this build `uploader` holds pseudonyms" in text
        assert corpus_export.validate_export(folder) == []
    plain_card = (tmp_path / "plain" / "hf" / "README.md").read_text(encoding="utf-8")
    assert "releases `uploader` and `author` as the pages show them" in plain_card
    manifest = json.loads((tmp_path / "a1" / "manifest.json").read_text(encoding="utf-8"))
    made = manifest["settings"]["pseudonymize"]
    assert made["columns"] == ["uploader"] and "key-one" not in json.dumps(manifest)


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.mark.usefixtures("trust_new_files")
def test_cached_rows_are_not_reused_across_pseudonym_settings(tmp_path: Path) -> None:
    raw = pseudo_raw(tmp_path)
    out, cache = tmp_path / "dist", tmp_path / "cache"
    corpus_export.build(raw, out, card_path=tmp_path / "dist.md", workers=1, cache_dir=cache)
    for key in ("key-one", "key-two"):  # names → pseudonyms, then another key's
        pseudo_build(raw, out, key, cache_dir=cache)
        cold = tmp_path / key / "dist"
        cold.parent.mkdir()
        pseudo_build(raw, cold, key)
        assert tree_bytes(out) == tree_bytes(cold)
    corpus_export.build(raw, out, card_path=tmp_path / "dist.md", workers=1, cache_dir=cache)
    assert uploaders(out)[:2] == ["user01", "user02"]


def test_pseudonymize_without_a_key_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from corpus_export.cli import cli

    raw = pseudo_raw(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CORPUS_EXPORT_PSEUDONYM_KEY", raising=False)
    r = CliRunner().invoke(cli, ["build", "--raw", str(raw), "--pseudonymize", "uploader"])
    assert r.exit_code == 2
    assert r.output.startswith("Error: pseudonyms of uploader need a secret key in the environ")
    assert r.output.count("\n") == 1
    assert not (tmp_path / "dist").exists()
    r = CliRunner().invoke(cli, ["build", "--raw", str(raw), "--pseudonymize", "title"])
    assert r.exit_code == 2 and "Invalid value for '--pseudonymize'" in r.output
    monkeypatch.setenv("CORPUS_EXPORT_PSEUDONYM_KEY", "secret")
    r = CliRunner().invoke(cli, ["build", "--raw", str(raw), "--pseudonymize", "uploader", "-q"])
    assert r.exit_code == 0, r.output
    # the check rebuilds with the columns OUT was made with, and the key of the environment
    assert CliRunner().invoke(cli, ["build", "--raw", str(raw), "--check", "-q"]).exit_code == 0
    validate = ["validate", "dist", "--raw", str(raw), "--workers", "1"]
    assert CliRunner().invoke(cli, validate).exit_code == 0  # the rows, pseudonymized again
    monkeypatch.setenv("CORPUS_EXPORT_PSEUDONYM_KEY", "another")
    assert CliRunner().invoke(cli, ["build", "--raw", str(raw), "--check", "-q"]).exit_code == 1
    r = CliRunner().invoke(cli, validate)
    assert r.exit_code == 2 and "made with another key" in r.output
    monkeypatch.delenv("CORPUS_EXPORT_PSEUDONYM_KEY")
    r = CliRunner().invoke(cli, validate)
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "need a secret key" in r.output


def test_pandas_recipe_of_the_readme(
    hostile: tuple[Path, Path, BuildResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    """README's recipe, as printed, gives the card's DataFrames."""
    import pandas as pd

    out, card, _ = hostile
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    [recipe] = code_blocks(readme.split("\n### Loading it\n", 1)[1].split("\n## ", 1)[0])
    _, body = split_card(card.read_text(encoding="utf-8"))
    [card_recipe] = [
        b for b in code_blocks(section(body, "### Loading a local build")) if "pd.read_csv" in b
    ]
    monkeypatch.chdir(out.parent)
    mine: dict[str, Any] = {}
    theirs: dict[str, Any] = {}
    exec(compile(recipe, "readme-recipe", "exec"), mine)
    exec(compile(card_recipe, "card-recipe", "exec"), theirs)
    for name in ("df", "df_csv"):
        pd.testing.assert_frame_equal(mine[name], theirs[name])
    pd.testing.assert_frame_equal(mine["df"], mine["df_csv"])


# ---------------------------------------------------------------------------------------------
# install and identity


def test_version_of_the_cli_the_card_and_the_package_agree(
    built: tuple[Path, Path, BuildResult],
) -> None:
    import importlib.metadata

    from click.testing import CliRunner

    from corpus_export.cli import cli

    r = CliRunner().invoke(cli, ["--version"])
    assert r.exit_code == 0
    version = r.output.split()[2]
    kind = "Python" if corpus_export.parse.__file__.endswith(".py") else "compiled"
    assert r.output == f"corpus-export, version {version} ({kind} parser)\n"
    assert importlib.metadata.version("corpus-export") == version
    text = built[1].read_text(encoding="utf-8")
    assert f"corpus-export (version {version} wrote this card)" in text
    manifest = json.loads((built[0] / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["generator"] == f"corpus-export {version}"
    croissant = json.loads((built[0] / "croissant.json").read_text(encoding="utf-8"))
    assert croissant["version"] == version


def test_install_hints_name_an_extra_that_exists_and_work_from_a_clone() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT" and (REPO / "LICENSE").is_file()
    assert "MIT License" in (REPO / "LICENSE").read_text(encoding="utf-8")
    assert project["authors"] and project["classifiers"]
    extras = project["optional-dependencies"]
    texts = [p.read_text(encoding="utf-8") for p in (REPO / "src" / "corpus_export").glob("*.py")]
    texts.append((REPO / "README.md").read_text(encoding="utf-8"))
    hints = [h for t in texts for h in re.findall(r"pip install [^\n\"`]*", t)]
    assert hints
    for hint in hints:  # never from an index the package is not on
        assert "corpus-export[" not in hint and "corpus_export[" not in hint, hint
        for extra in re.findall(r"'\.\[([a-z,]+)\]'", hint):
            assert set(extra.split(",")) <= set(extras), hint


# ---------------------------------------------------------------------------------------------
# progress


class FakeTty:
    def __init__(self, tty: bool) -> None:
        self.tty, self.text = tty, list[str]()

    def isatty(self) -> bool:
        return self.tty

    def write(self, s: str | bytes) -> int:
        self.text.append(s.decode() if isinstance(s, bytes) else s)
        return len(s)

    def flush(self) -> None:
        pass


def run_with_progress(
    monkeypatch: pytest.MonkeyPatch, stderr_tty: bool, stdout_tty: bool, steps: int
) -> tuple[str, str]:
    """Run cli._run on a fake build of 100 pages, 10 at a time, 3 fake seconds apart."""
    import sys

    from corpus_export import cli

    now = [0.0]
    monkeypatch.setattr(cli, "_clock", lambda: now[0])
    err, out = FakeTty(stderr_tty), FakeTty(stdout_tty)
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(sys, "stdout", out)

    def fake_build(bar: dict[str, Any]) -> str:
        bar["on_total"](100)
        for _ in range(steps):
            now[0] += 3.0
            bar["progress"](10)
        return "done"

    assert cli._run(fake_build, quiet=False) == "done"
    return "".join(err.text), "".join(out.text)


def test_progress_lines_every_ten_seconds_when_stderr_is_a_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    err, out = run_with_progress(monkeypatch, stderr_tty=False, stdout_tty=True, steps=10)
    assert out == ""  # stdout a terminal: nothing drawn there
    assert err.splitlines() == [  # at 12, 24 s (a line every >= 10 s), no frames
        "progress: 40/100 pages (40%)",
        "progress: 80/100 pages (80%)",
    ]
    err, _ = run_with_progress(monkeypatch, stderr_tty=False, stdout_tty=False, steps=3)
    assert err == ""  # a short build: no line


def test_progress_bar_on_stderr_when_it_is_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    err, out = run_with_progress(monkeypatch, stderr_tty=True, stdout_tty=False, steps=10)
    assert out == ""
    assert "/100 [" in err and "page/s" in err and "progress:" not in err  # tqdm's, on stderr


# ---------------------------------------------------------------------------------------------
# pictures


def test_pictures_are_in_hf_linked_from_the_card_and_true_to_the_rows(
    hostile: tuple[Path, Path, BuildResult], tmp_path: Path
) -> None:
    import xml.etree.ElementTree as ET

    out, card, result = hostile
    _, body = split_card(card.read_text(encoding="utf-8"))
    linked = re.findall(r"!\[[^\]]*\]\((images/[a-z_]+\.svg)\)", body)
    assert sorted(linked) == sorted(
        p.relative_to(out / "hf").as_posix() for p in (out / "hf" / "images").iterdir()
    )
    assert len(linked) == 6
    ns = "{http://www.w3.org/2000/svg}"
    for rel in linked:
        root = ET.fromstring((out / "hf" / rel).read_bytes())  # well-formed XML, hostile labels
        assert root.tag == f"{ns}svg"
        assert (
            not root.findall(f".//{ns}script") and "<script" not in (out / "hf" / rel).read_text()
        )
    # the body-length histogram counts every row once
    svg = ET.fromstring((out / "hf" / "images" / "body_chars.svg").read_bytes())
    counts = [
        int(t.text.rsplit(": ", 1)[1].replace(",", ""))
        for t in svg.iter(f"{ns}title")
        if t.text and " to " in t.text
    ]
    assert sum(counts) == result.rows
    # a picture that is not the rows' is found by validate
    (out / "hf" / "images" / "rejects.svg").write_bytes(b"<svg/>")
    try:
        problems = corpus_export.validate_export(out)
    finally:
        corpus_export.build(out.parent / "raw", out, card_path=card, workers=1)
    assert any("images/rejects.svg" in p for p in problems), problems
