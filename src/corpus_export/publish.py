"""A finished stage + BuildResult → Hub card (hf/README.md), datapackage.json, croissant.json."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import yaml

from . import charts, schema
from .digest import file_digests
from .errors import REASON_DOCS, Reason
from .layout import (
    CORPUS_CSV,
    CORPUS_PARQUET,
    CROISSANT,
    DATA_FILES,
    DATAPACKAGE,
    HF_DATA,
    HF_DIR,
    HF_LICENSE,
    HF_README,
    REJECTS_CSV,
    TOOL,
    hf_data,
    hf_image,
)
from .pseudonym import PERSONAL
from .version import __version__

if TYPE_CHECKING:
    from .assemble import BuildResult

CARD_TEMPLATE = "card.md.j2"

NAME = TOOL
PRETTY_NAME = "Chinese article pages (corpus_export)"
DESCRIPTION = (
    "Chinese articles parsed from scraped pages of an academic-article site: title, source "
    "publication, citation count, uploader, author note, body paragraphs and the site's "
    "teasers of other articles, one row per page."
)
# The pages say 本文档内容版权归属内容提供方: copyright belongs to the content providers.
LICENSE_NAME = "content-providers-copyright"
LICENSE_TEXT = (
    "The article texts are copyrighted by their content providers (the pages state "
    '本文档内容版权归属内容提供方, "the copyright of this document belongs to the content '
    'provider"). No licence to copy, redistribute or train on them is granted by this dataset; '
    "check the rights that apply to you before using it."
)
#: a table of texts with no labels: for language modelling (causal or masked), not classification
TASK_CATEGORIES = ("text-generation", "fill-mask")
TASK_IDS = ("language-modeling", "masked-language-modeling")
TAGS = ("chinese", "academic-articles", "web-scraped", "parquet")
HUB = "https://huggingface.co/datasets"
#: what the card's loading lines say when the build was given no repo id
REPO_PLACEHOLDER = "OWNER/NAME"
#: Hub size buckets: (exclusive upper bound, label)
SIZE_BUCKETS = (
    (10**3, "n<1K"),
    (10**4, "1K<n<10K"),
    (10**5, "10K<n<100K"),
    (10**6, "100K<n<1M"),
    (10**7, "1M<n<10M"),
    (10**8, "10M<n<100M"),
    (10**9, "100M<n<1B"),
    (10**10, "1B<n<10B"),
    (10**11, "10B<n<100B"),
    (10**12, "100B<n<1T"),
)
CSV_ESCAPE_NOTE = (
    "Cells that start with = + - @ tab, carriage return or ' carry one extra leading ' so that "
    "spreadsheets do not run them as formulas; strip one leading ' to get the text back."
)
CROISSANT_TYPES = {"string": "sc:Text", "integer": "sc:Integer", "array": "sc:Text"}


def write_publication(stage: Path, result: BuildResult) -> str:
    """Write hf/README.md, hf/LICENSE.md, datapackage.json and croissant.json; return the card."""
    files = publication(stage, result)
    for rel, data in files.items():
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        (stage / rel).write_bytes(data)
    return files[CARD_FILE].decode("utf-8")


#: the card's place in an export (the Hub reads the folder's README.md)
CARD_FILE = f"{HF_DIR}/{HF_README}"


def publication(stage: Path, result: BuildResult) -> dict[str, bytes]:
    """Return {relative path: bytes} of the card, its licence and the metadata files, from the
    data files in `stage` and the build's result (`validate` renders them again to compare)."""
    digests = file_digests(stage, [*DATA_FILES, *(hf_data(s) for s in result.shards)])
    return {
        CARD_FILE: render_card(stage, result, digests).encode("utf-8"),
        f"{HF_DIR}/{HF_LICENSE}": f"# Copyright notice\n\n{LICENSE_TEXT}\n".encode(),
        **{
            f"{HF_DIR}/{hf_image(name)}": svg.encode()
            for name, (_, svg) in pictures(result).items()
        },
        DATAPACKAGE: _json_bytes(datapackage(digests, result.drop)),
        CROISSANT: _json_bytes(croissant(digests, result.repo_id, result.drop)),
    }


def pictures(result: BuildResult) -> dict[str, tuple[str, str]]:
    """Return {chart name: (what it shows, SVG text)}: the card's pictures of the statistics
    (of the columns the export holds)."""
    stats = result.stats
    histograms = stats.get("histograms", {})
    made = {
        name: (title, charts.histogram(f"{title} (rows per range)", histograms.get(name, [])))
        for name, title in (
            ("body_chars", "Body length in characters"),
            ("paragraph_count", "Paragraphs per row"),
            ("teaser_count", "Teasers per row"),
            ("citations", "Times cited, of rows with a count"),
        )
        if name not in result.drop
    }
    if "source" not in result.drop:
        made["top_sources"] = (
            "Top sources",
            charts.bars(
                "Top sources (rows)", [(str(s), int(n)) for s, n in stats.get("top_sources", [])]
            ),
        )
    made["rejects"] = (
        "Rejected files by reason",
        charts.bars(
            "Rejected files by reason",
            [(str(r), result.rejects_by_reason.get(str(r), 0)) for r in REASON_DOCS],
        ),
    )
    return made


def repo_url(repo_id: str) -> str:
    """Return the Hub page of a dataset repo."""
    return f"{HUB}/{repo_id}"


def citation(repo_id: str | None) -> str:
    """Return the BibTeX entry of the dataset: the card's Citation and croissant.json's citeAs."""
    key = re.sub(r"[^A-Za-z0-9]+", "_", repo_id or NAME).strip("_")
    lines = [f"@misc{{{key},", f"  title = {{{PRETTY_NAME}}},"]
    if repo_id:
        lines.append(f"  howpublished = {{\\url{{{repo_url(repo_id)}}}}},")
    lines.append(f"  note = {{Built with {TOOL} from scraped article pages}}")
    return "\n".join([*lines, "}"])


# ---------------------------------------------------------------------------------------------
# the card


def size_category(rows: int) -> str:
    """Return the Hub's size_categories bucket of a row count."""
    for bound, label in SIZE_BUCKETS:
        if rows < bound:
            return label
    return "n>1T"


def card_metadata(result: BuildResult, num_bytes: int, download_size: int) -> dict[str, Any]:
    """Return the card's YAML front matter as a dict (dumped with yaml.safe_dump)."""
    return {
        "pretty_name": PRETTY_NAME,
        "language": ["zh"],
        "license": "other",
        "license_name": LICENSE_NAME,
        "license_link": HF_LICENSE,
        "task_categories": list(TASK_CATEGORIES),
        "task_ids": list(TASK_IDS),
        "tags": list(TAGS),
        "annotations_creators": ["no-annotation"],
        "language_creators": ["found"],
        "multilinguality": ["monolingual"],
        "source_datasets": ["original"],
        "size_categories": [size_category(result.rows)],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": f"{HF_DATA}/train-*"}],
            }
        ],
        "dataset_info": {
            "features": schema.hf_feature_dicts(result.drop),
            "splits": [{"name": "train", "num_bytes": num_bytes, "num_examples": result.rows}],
            "download_size": download_size,
            "dataset_size": num_bytes,
        },
    }


def front_matter(meta: dict[str, Any]) -> str:
    """Return a YAML front matter block; safe_dump quotes whatever would break it."""
    text = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, default_flow_style=False)
    return f"---\n{text}---\n"


def render_card(stage: Path, result: BuildResult, digests: dict[str, dict[str, Any]]) -> str:
    """Render the dataset card (front matter + body) from templates/card.md.j2."""
    import jinja2

    shards = [hf_data(s) for s in result.shards]
    num_bytes = result.arrow_bytes
    meta = card_metadata(result, num_bytes, sum(digests[s]["bytes"] for s in shards))
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("corpus_export", "templates"),
        autoescape=False,  # Markdown, not HTML: page text goes through the `data` filter
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cell"] = schema.md_cell  # the card's own text
    env.filters["data"] = schema.data_cell  # a value from the pages: cut short too
    env.filters["num"] = number
    stats = result.stats
    rows = max(result.rows, 1)
    fields = schema.kept(result.drop)
    repo = result.repo_id or REPO_PLACEHOLDER
    hub_data = f"hf://datasets/{repo}/{HF_DATA}"
    text = env.get_template(CARD_TEMPLATE).render(
        front_matter=front_matter(meta),
        repo_id=result.repo_id,
        repo=repo,
        repo_url=repo_url(repo),
        hub_files=[f"{hub_data}/{name}" for name in result.shards],
        hub_glob=f"{hub_data}/*.parquet",
        build_flags=f" --repo-id {result.repo_id}" if result.repo_id else "",
        example_record=example_record(result.examples, result.drop),
        citation=citation(result.repo_id),
        personal_data=personal_data(result),
        pictures=[(title, hf_image(name)) for name, (title, _) in pictures(result).items()],
        columns=[f.name for f in fields],
        dropped=result.drop,
        dropped_list=", ".join(f"`{name}`" for name in result.drop),
        drop_flags="".join(f" --drop {name}" for name in result.drop),
        text_cols=[f.name for f in fields if pa.types.is_string(f.arrow)],
        int_cols=[f.name for f in fields if pa.types.is_integer(f.arrow)],
        pretty_name=PRETTY_NAME,
        description=DESCRIPTION,
        result=result,
        field_table=schema.card_table(result.examples, result.drop),
        reasons=[
            (str(r), doc, result.rejects_by_reason.get(str(r), 0)) for r, doc in REASON_DOCS.items()
        ],
        distributions=[
            (name, stats.get(name) or {})
            for name in ("body_chars", "paragraph_count", "teaser_count", "citations")
            if name not in result.drop
        ],
        top_sources=stats.get("top_sources", []),
        distinct_sources=stats.get("distinct_sources", 0),
        shares=[
            (label, stats.get(key, 0), 100 * stats.get(key, 0) / rows)
            for label, key, column in (
                ("an author", "with_author", "author"),
                ("a citation count", "with_citations", "citations"),
                ("a source", "with_source", "source"),
            )
            if column not in result.drop
        ],
        checksums=[
            (rel, digests[rel]["sha256"], digests[rel]["bytes"]) for rel in (*DATA_FILES, *shards)
        ],
        license_text=LICENSE_TEXT,
        csv_escape_note=CSV_ESCAPE_NOTE,
        version=__version__,
    )
    return text.rstrip("\n") + "\n"


def example_record(examples: dict[str, str], drop: tuple[str, ...] | list[str] = ()) -> str:
    """Return the card's example record as JSON: the first row's values as the statistics
    keep them (cut at 40 characters), typed as the schema says; ` < > & written as JSON escapes
    so that the data can neither close the code block nor pass for HTML or a link."""
    record: dict[str, Any] = {}
    for f in schema.kept(drop):
        value: Any = examples.get(f.name, "")
        if pa.types.is_integer(f.arrow):
            value = int(value) if value.isdigit() else None
        elif pa.types.is_list(f.arrow):
            value = _cut_list(value)
        elif value == "" and f.nullable:
            value = None
        record[f.name] = value
    text = json.dumps(record, ensure_ascii=False, indent=2)
    for char in "`<>&":  # JSON escapes: nothing the Markdown or HTML around it could act on
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text.replace("](", "]\\u0028")  # nor make a Markdown link


def _cut_list(text: str) -> Any:
    """Return the list a cut example such as `["first item…` shows: ["first item…"]."""
    for attempt in (text, text.removesuffix("…") + '"]'):
        try:
            value = json.loads(attempt)
        except ValueError:
            continue
        if attempt is not text and value:
            value[-1] += "…"
        return value
    return text  # cut inside an escape: shown as the text it is


def personal_data(result: BuildResult) -> str:
    """Say what this build did to the columns that hold personal data."""
    done = result.pseudonyms or {}
    columns = [c for c in done.get("columns", []) if isinstance(c, str)]
    left_out = [c for c in PERSONAL if c in result.drop]
    if left_out:
        named = " and ".join(f"`{c}`" for c in left_out)
        text = (
            f"This build leaves out {named} (`--drop`): no file of it holds "
            f"{'that column' if len(left_out) == 1 else 'those columns'}."
        )
        return text + (" " + _pseudonymized(columns, done) if columns else "")
    if not columns:
        return (
            "This build releases `uploader` and `author` as the pages show them. A publisher who "
            "may not release them can build with `--pseudonymize uploader` (or `author`): each "
            "value becomes a keyed HMAC-SHA256 pseudonym, the key taken from the environment; "
            "or leave a column out with `--drop uploader`."
        )
    return _pseudonymized(columns, done)


def _pseudonymized(columns: list[str], done: dict[str, Any]) -> str:
    named = " and ".join(f"`{c}`" for c in columns)
    return (
        f"In this build {named} {'holds' if len(columns) == 1 else 'hold'} pseudonyms, not the "
        "values of the pages: `p_` and the first 16 hex digits of HMAC-SHA256(key, value), "
        f"with a secret key (id `{done.get('key_id', '')}`). The same value gives the same "
        "pseudonym in every row and in every build with that key, so rows by one uploader stay "
        "together; without the key a pseudonym does not tell the value. Missing values stay "
        "missing."
    )


def number(value: float | int) -> str:
    """A count with thousands separators; a fraction with one decimal."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


# ---------------------------------------------------------------------------------------------
# Frictionless Data Package


def datapackage(
    digests: dict[str, dict[str, Any]], drop: tuple[str, ...] | list[str] = ()
) -> dict[str, Any]:
    """Return the Data Package (v1) describing corpus.csv and rejects.csv."""
    corpus_schema = schema.frictionless_schema(drop)
    rejects_schema = {
        "fields": [
            {
                "name": "id",
                "type": "string",
                "description": "id the page would have had",
                "constraints": {"required": True},
            },
            {
                "name": "path",
                "type": "string",
                "description": "the raw file's path under the raw folder (bytes of a name that "
                "are not UTF-8 written \\xNN; a folder's ends with /)",
                "constraints": {"required": True},
            },
            {
                "name": "reason",
                "type": "string",
                "description": "why the page is not a row",
                "constraints": {"required": True, "enum": [str(r) for r in Reason]},
            },
            {
                "name": "detail",
                "type": "string",
                "description": "where and what: a line number and a short quote",
            },
        ],
        "missingValues": [""],
    }
    return {
        "profile": "data-package",
        "name": NAME,
        "title": PRETTY_NAME,
        "description": DESCRIPTION,
        "version": __version__,
        "licenses": [{"path": f"{HF_DIR}/{HF_LICENSE}", "title": LICENSE_TEXT}],
        "resources": [
            _csv_resource(
                "corpus",
                CORPUS_CSV,
                digests,
                corpus_schema,
                "One row per accepted page. "
                + ("" if "teasers" in drop else "The teasers column is a JSON array of strings. ")
                + _dropped_note(drop)
                + CSV_ESCAPE_NOTE,
            ),
            _csv_resource(
                "rejects",
                REJECTS_CSV,
                digests,
                rejects_schema,
                "One row per raw file that did not become a row. " + CSV_ESCAPE_NOTE,
            ),
        ],
    }


def _csv_resource(
    name: str,
    path: str,
    digests: dict[str, dict[str, Any]],
    table_schema: dict[str, Any],
    description: str,
) -> dict[str, Any]:
    return {
        "profile": "tabular-data-resource",
        "name": name,
        "path": path,
        "description": description,
        "format": "csv",
        "mediatype": "text/csv",
        "encoding": "utf-8",
        "bytes": digests[path]["bytes"],
        "hash": f"sha256:{digests[path]['sha256']}",
        "dialect": {"delimiter": ",", "header": True, "quoteChar": '"', "doubleQuote": True},
        "schema": table_schema,
    }


# ---------------------------------------------------------------------------------------------
# Croissant 1.0


#: the @context of Croissant 1.0, as mlcroissant writes it (it warns on any other)
CROISSANT_CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


def croissant(
    digests: dict[str, dict[str, Any]],
    repo_id: str | None = None,
    drop: tuple[str, ...] | list[str] = (),
) -> dict[str, Any]:
    """Return the Croissant 1.0 JSON-LD describing corpus.parquet."""
    file_id = CORPUS_PARQUET
    fields = []
    for f in schema.kept(drop):
        field: dict[str, Any] = {
            "@type": "cr:Field",
            "@id": f"corpus/{f.name}",
            "name": f.name,
            "description": f.meaning,
            "dataType": CROISSANT_TYPES[schema.frictionless_type(f)],
            "source": {"fileObject": {"@id": file_id}, "extract": {"column": f.name}},
        }
        if pa.types.is_list(f.arrow):
            field["repeated"] = True
        fields.append(field)
    return {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "name": NAME,
        "description": DESCRIPTION,
        "license": f"other: {LICENSE_TEXT}",
        "url": repo_url(repo_id) if repo_id else HF_README,
        "version": __version__,
        "citeAs": citation(repo_id),
        "inLanguage": "zh",
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": file_id,
                "name": file_id,
                "description": "All rows, sorted by id.",
                "contentUrl": file_id,
                "contentSize": f"{digests[file_id]['bytes']} B",
                "encodingFormat": "application/x-parquet",
                "sha256": digests[file_id]["sha256"],
            }
        ],
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "@id": "corpus",
                "name": "corpus",
                "description": ("One record per accepted page. " + _dropped_note(drop)).strip(),
                "key": {"@id": "corpus/id"},
                "field": fields,
            }
        ],
    }


# ---------------------------------------------------------------------------------------------
# helpers


def _dropped_note(drop: tuple[str, ...] | list[str]) -> str:
    """Say which columns of the contract this export leaves out (nothing if none)."""
    if not drop:
        return ""
    return f"Built without the column(s) {', '.join(drop)} (--drop): no file holds them. "


def _json_bytes(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
