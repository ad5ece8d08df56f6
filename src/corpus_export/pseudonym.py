"""What the published rows hide or leave out: keyed pseudonyms for the columns that name people
(the same key gives the same pseudonym for the same value in every build; without the key, a
pseudonym does not tell the value), and the columns dropped (`Release`).

A Release is applied where rows are made (process.py), after the table rules are checked on the
parsed rows: every file written from the rows (Parquet, CSV, Hub shards) and every description
of them (the card, the Data Package, Croissant, the manifest) then agrees."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from . import schema
from .errors import CorpusExportError

#: the environment variable holding the key (never written to the export or the cache)
KEY_ENV = "CORPUS_EXPORT_PSEUDONYM_KEY"
#: the nullable columns that hold names of people (site user names; authors and employers)
PERSONAL = ("uploader", "author")
#: hex digits of HMAC-SHA256 kept in a pseudonym (64 bits: collisions unlikely below ~10^9 names)
DIGITS = 16


@dataclass(frozen=True, slots=True)
class Pseudonyms:
    """Which columns are replaced by HMAC-SHA256(key, value), and the key."""

    columns: tuple[str, ...]
    key: bytes

    @property
    def key_id(self) -> str:
        """A digest that tells keys apart without telling the key (the manifest records it)."""
        return hmac.new(self.key, b"corpus-export key id", hashlib.sha256).hexdigest()[:12]

    def setting(self) -> dict[str, object]:
        """What the manifest records: the columns and the key's id."""
        return {"columns": list(self.columns), "key_id": self.key_id}

    def pseudonym(self, value: str) -> str:
        digest = hmac.new(self.key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"p_{digest[:DIGITS]}"

    def apply(self, table: pa.Table) -> pa.Table:
        """Return table with each named column's values replaced by their pseudonyms (nulls
        stay null)."""
        for name in self.columns:
            i = table.schema.get_field_index(name)
            values = table.column(i).to_pylist()
            made = pa.array(
                [None if v is None else self.pseudonym(v) for v in values],
                table.schema.field(i).type,
            )
            table = table.set_column(i, table.schema.field(i), made)
        return table


def from_env(columns: tuple[str, ...] | list[str]) -> Pseudonyms | None:
    """Return the Pseudonyms of columns with the key from KEY_ENV (None for no columns)."""
    if not columns:
        return None
    wrong = [c for c in columns if c not in PERSONAL]
    if wrong:
        raise CorpusExportError(
            f"cannot pseudonymize {wrong[0]!r}: only {', '.join(PERSONAL)} (columns that name "
            "people)"
        )
    key = os.environ.get(KEY_ENV, "")
    if not key:
        raise CorpusExportError(
            f"pseudonyms of {', '.join(columns)} need a secret key in the environment variable "
            f"{KEY_ENV} (the same key gives the same pseudonyms in every build; keep it out of "
            "the export)"
        )
    return Pseudonyms(tuple(sorted(set(columns), key=PERSONAL.index)), key.encode("utf-8"))


@dataclass(frozen=True, slots=True)
class Release:
    """The columns dropped (in the contract's order) and the pseudonyms of others."""

    drop: tuple[str, ...] = ()
    pseudonyms: Pseudonyms | None = None

    def __post_init__(self) -> None:
        both = [c for c in self.pseudonyms.columns if c in self.drop] if self.pseudonyms else []
        if both:
            raise CorpusExportError(
                f"{both[0]!r} is both dropped and pseudonymized: choose one (--drop leaves the "
                "column out, --pseudonymize keeps it with pseudonyms)"
            )

    def apply(self, table: pa.Table) -> pa.Table:
        """Return the rows as they are published."""
        if self.pseudonyms is not None:
            table = self.pseudonyms.apply(table)
        return table.drop_columns(list(self.drop)) if self.drop else table

    def setting(self) -> dict[str, Any]:
        """What the manifest records (and a previous export's rows must share to be reused)."""
        return {
            "drop": list(self.drop),
            "pseudonymize": self.pseudonyms.setting() if self.pseudonyms else None,
        }


def release(
    drop: tuple[str, ...] | list[str] = (), pseudonyms: Pseudonyms | None = None
) -> Release:
    """Return the Release of these settings (an error for a column that cannot be dropped)."""
    return Release(schema.check_drop(drop), pseudonyms)
