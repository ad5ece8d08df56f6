"""The one list of columns → every derived view (Arrow, CSV, HF features, Frictionless, card)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from .errors import CorpusExportError


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    arrow: pa.DataType
    nullable: bool
    meaning: str
    unique: bool = False
    minimum: int | None = None
    non_empty: bool = False


FIELDS: tuple[Field, ...] = (
    Field(
        "id",
        pa.string(),
        False,
        "raw file path relative to raw/, POSIX separators, without .txt / .txt.gz",
        unique=True,
        non_empty=True,
    ),
    Field("title", pa.string(), False, "first non-empty line of the page", non_empty=True),
    Field("source", pa.string(), True, "publication named after 来源 (source)"),
    Field("citations", pa.int32(), True, "N from the 被引量 : N次 (times cited) field", minimum=0),
    Field("uploader", pa.string(), True, "value after 上传用户 (uploading user)"),
    Field(
        "author",
        pa.string(),
        True,
        "author note without its wrapper: (作者系X), (作者为X), (作者单位:X), 作者:X, 文/X → X",
    ),
    Field(
        "body",
        pa.string(),
        False,
        "article paragraphs joined by \\n; boilerplate and the author note excluded",
        non_empty=True,
    ),
    Field("paragraph_count", pa.int32(), False, "paragraphs in body", minimum=1),
    Field(
        "body_chars", pa.int32(), False, "characters of body, not counting the \\n joins", minimum=1
    ),
    Field(
        "teasers", pa.list_(pa.string()), False, "one-line teasers listed under 其他文献, in order"
    ),
    Field("teaser_count", pa.int32(), False, "number of teasers", minimum=0),
    Field("sha256", pa.string(), False, "hex SHA-256 of the raw file's bytes", non_empty=True),
)

NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}
#: the columns no export goes without: the primary key names rows in rejects, diffs and the cache
KEYS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.unique)


def check_drop(columns: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Return the columns a build may drop, in the contract's order; an error for a column the
    contract does not have, or a key."""
    for name in columns:
        if name not in BY_NAME:
            raise CorpusExportError(
                f"cannot drop {name!r}: no such column (the columns: {', '.join(NAMES)})"
            )
        if name in KEYS:
            raise CorpusExportError(
                f"cannot drop {name!r}: it is the key that names every row (in rejects.csv, "
                "diffs and the cache)"
            )
    return tuple(n for n in NAMES if n in columns)


def drop_setting(settings: object) -> tuple[str, ...]:
    """Return the columns a manifest's settings say its export was built without (`drop`),
    checked as --drop is; an error when they are not a list of columns that may be dropped."""
    drop = settings.get("drop", []) if isinstance(settings, dict) else []
    if not isinstance(drop, list):
        raise CorpusExportError("settings.drop is not a list of column names")
    return check_drop([str(c) for c in drop])


def dropped(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Return the contract's columns that a table of these column names goes without."""
    return tuple(n for n in NAMES if n not in names)


def kept(drop: tuple[str, ...] | list[str] = ()) -> tuple[Field, ...]:
    """Return the fields of an export built without the dropped columns, in order."""
    return tuple(f for f in FIELDS if f.name not in drop)


#: columns of rejects.csv, in order
REJECT_COLUMNS: tuple[str, ...] = ("id", "path", "reason", "detail")


def arrow_schema(drop: tuple[str, ...] | list[str] = ()) -> pa.Schema:
    """Return the Arrow schema of corpus.parquet (without the dropped columns)."""
    return pa.schema([pa.field(f.name, f.arrow, nullable=f.nullable) for f in kept(drop)])


def csv_header(drop: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Return the column names of corpus.csv, in order."""
    return [f.name for f in kept(drop)]


def type_name(f: Field) -> str:
    """Return a short human type name (string, int32, list<string>)."""
    if pa.types.is_list(f.arrow):
        return f"list<{f.arrow.value_type}>"
    return str(f.arrow)


def hf_features(drop: tuple[str, ...] | list[str] = ()) -> Any:
    """Return the `datasets.Features` of the table."""
    import datasets

    return datasets.Features.from_arrow_schema(arrow_schema(drop))


def hf_feature_dicts(drop: tuple[str, ...] | list[str] = ()) -> list[dict[str, Any]]:
    """Return the dataset_info `features` list of a Hub card (YAML form)."""
    out: list[dict[str, Any]] = []
    for f in kept(drop):
        if pa.types.is_list(f.arrow):
            out.append({"name": f.name, "list": str(f.arrow.value_type)})
        else:
            out.append({"name": f.name, "dtype": str(f.arrow)})
    return out


def frictionless_type(f: Field) -> str:
    """Return the Table Schema type of one field."""
    if pa.types.is_list(f.arrow):
        return "array"
    if pa.types.is_integer(f.arrow):
        return "integer"
    return "string"


def frictionless_schema(drop: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """Return the Frictionless Table Schema of corpus.csv."""
    fields: list[dict[str, Any]] = []
    for f in kept(drop):
        constraints: dict[str, Any] = {}
        if not f.nullable:
            constraints["required"] = True
        if f.unique:
            constraints["unique"] = True
        if f.minimum is not None:
            constraints["minimum"] = f.minimum
        if f.non_empty and frictionless_type(f) == "string":
            constraints["minLength"] = 1
        field: dict[str, Any] = {
            "name": f.name,
            "type": frictionless_type(f),
            "description": f.meaning,
        }
        if constraints:
            field["constraints"] = constraints
        fields.append(field)
    return {"fields": fields, "primaryKey": ["id"], "missingValues": [""]}


def card_table(
    examples: dict[str, str] | None = None, drop: tuple[str, ...] | list[str] = ()
) -> str:
    """Render the field table of the dataset card as Markdown."""
    examples = examples or {}
    lines = ["| column | type | nullable | meaning | example |", "|---|---|---|---|---|"]
    for f in kept(drop):
        ex = examples.get(f.name, "")
        lines.append(
            f"| `{f.name}` | {type_name(f)} | {'yes' if f.nullable else 'no'} "
            f"| {md_cell(f.meaning)} | {data_cell(ex)} |"
        )
    return "\n".join(lines)


#: The longest value from the pages a card cell prints (longer ones are cut, ending in …).
CELL_CHARS = 80


def md_cell(text: str) -> str:
    """Escape text for one Markdown table cell, as inert text: no table pipe, line break, HTML
    tag, entity, code span, link or image survives (the text shows as it is)."""
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # `[text](url)` and `![alt](url)` need "](" side by side; an escaped ( breaks both
    return text.replace("`", "\\`").replace("](", "]\\(")


def data_cell(text: str) -> str:
    """md_cell of a value from the pages, cut to CELL_CHARS characters."""
    if len(text) > CELL_CHARS:
        text = text[: CELL_CHARS - 1] + "…"
    return md_cell(text)
