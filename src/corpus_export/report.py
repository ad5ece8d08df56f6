"""An export and its raw pages → one self-contained HTML file to look at them: the card's numbers,
a sample of rows beside their raw pages (each line coloured by its role), rejects, near-duplicates.

The file needs no network when it is opened (its styles, script and data are inside it, and its
Content-Security-Policy forbids fetching anything) and nothing is written into the export. It
holds a bounded part of the export: `sample` rows chosen by a hash of their ids (seeded by
corpus.parquet's checksum, as `validate --sample` chooses pages) and the outliers (the longest,
shortest, most paragraphs, fewest paragraphs, most teasers, no author), so that a million-row
export gives a report of about the same size as a thousand-row one. Its numbers are the card's:
the same statistics of the rows (assemble.Stats) and the same pictures (publish.pictures).
The same export and raw pages give the same bytes.

What the export does not publish, the report does not show either: in the raw lines, the
values of a column built without (--drop) or with pseudonyms (--pseudonymize) are replaced by a
mark such as `[uploader pseudonymized]`, found where the page, parsed again, has them.
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import difflib
import heapq
import html
import json
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from . import schema
from .assemble import BuildResult, Stats
from .errors import REASON_DOCS, CorpusExportError, Reason, Rejected
from .layout import CORPUS_PARQUET, MANIFEST, REJECTS_CSV, TOOL, is_our_manifest
from .neardup import kept_of
from .parse import ROLE_DOCS, LineRole, Role, decode_bytes, explain_page, parse_page
from .process import process_file, table_stats, unescape_csv_cell
from .publish import number, pictures
from .read import (
    SUFFIXES,
    RawFile,
    ReadAhead,
    link_problem,
    listed_file,
    page_id,
    printable_path,
    read_raw,
)
from .version import __version__

#: rows chosen by a hash of their ids (--sample)
DEFAULT_SAMPLE = 1000
#: rows of each kind of outlier
OUTLIERS = 10
#: a page's text in the report (its lines; the body apart) is cut after this many characters
PAGE_CHARS = 20_000
#: the first lines of a rejected file the report shows, each cut after LINE_CHARS characters
REJECT_LINES = 8
LINE_CHARS = 300
#: near-duplicate clusters shown, members shown of each, characters of a body compared
CLUSTERS = 30
MEMBERS = 4
DIFF_CHARS = 6_000
#: the report's own mark: a file that has it may be replaced by the next report
GENERATOR = f"{TOOL} {__version__} report"

_LIGHT = ("id", "source", "citations", "author", "paragraph_count", "body_chars", "teaser_count")
#: the columns of the Pages table (of those the export has)
_TABLE = ("id", "title", "source", "citations", "uploader", "author", *_LIGHT[4:])
#: the outliers: (tag, column, largest first?, label); "no author" is its own kind
_EXTREMES = (
    ("longest", "body_chars", True, "longest bodies"),
    ("shortest", "body_chars", False, "shortest bodies"),
    ("most paragraphs", "paragraph_count", True, "most paragraphs"),
    ("fewest paragraphs", "paragraph_count", False, "fewest paragraphs"),
    ("most teasers", "teaser_count", True, "most teasers"),
)
NO_AUTHOR = "no author"
SAMPLE = "sample"


@dataclass(slots=True)
class Report:
    """What a report holds: its HTML and the numbers the command prints."""

    html: str
    rows: int
    rows_shown: int
    rejects: int
    rejects_shown: int
    clusters: int
    clusters_shown: int
    notes: list[str] = field(default_factory=list)  # pages that could not be shown as they were

    def summary(self) -> str:
        return (
            f"{self.rows_shown:,} of {self.rows:,} rows, {self.rejects_shown:,} of "
            f"{self.rejects:,} rejects, {self.clusters_shown:,} of {self.clusters:,} "
            "near-duplicate clusters"
        )


def write_report(dist: Path, raw: Path, out: Path, sample: int = DEFAULT_SAMPLE) -> Report:
    """Write the report of the export `dist` and its raw folder `raw` to `out` (replaced whole,
    only if it is a report: CorpusExportError if out is inside dist, or another file)."""
    check_output(dist, out)
    report = render_report(dist, raw, sample)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")  # beside it: one rename replaces it
    try:
        with tmp.open("xb") as fh:
            fh.write(report.html.encode("utf-8"))
        tmp.replace(out)
    except FileExistsError:
        raise CorpusExportError(f"{str(tmp)!r} is in the way: remove it") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return report


def check_output(dist: Path, out: Path) -> None:
    """CorpusExportError unless `out` may be written: outside the export, in a folder that
    exists, and not a file of someone else's."""
    if not out.parent.is_dir():
        raise CorpusExportError(f"the folder of {str(out)!r} does not exist")
    try:
        where, export = out.resolve(), dist.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (before Python 3.13)
        raise CorpusExportError(f"{str(out)!r} cannot be resolved: {exc}") from None
    try:
        where.relative_to(export)
    except ValueError:
        pass
    else:
        raise CorpusExportError(
            f"{str(out)!r} is inside the export {str(dist)!r}: write the report elsewhere "
            "(an export holds only what a build writes)"
        )
    if out.is_dir():
        raise CorpusExportError(f"{str(out)!r} is a folder")
    if out.exists() and not is_report(out):
        raise CorpusExportError(
            f"{str(out)!r} exists and is not a report written by {TOOL}: not replaced"
        )


def is_report(path: Path) -> bool:
    """Tell whether a file is a report written by corpus-export (so a new one may replace it)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096).decode("utf-8", "replace")
    except OSError:
        return False
    return re.search(rf'<meta name="generator" content="{TOOL} [^"<>]* report">', head) is not None


# ---------------------------------------------------------------------------------------------
# reading the export


def render_report(dist: Path, raw: Path, sample: int = DEFAULT_SAMPLE) -> Report:
    """Return the report of the export `dist` and its raw folder `raw` (see the module)."""
    import pyarrow.parquet as pq

    manifest = _manifest(dist)
    if not raw.is_dir():
        what = "is not a folder" if raw.exists() else "does not exist"
        raise CorpusExportError(f"raw folder {str(raw)!r} {what}")
    root = raw.resolve()
    drop, masked = _masked(dist, manifest)
    seed = str(manifest["files"].get(CORPUS_PARQUET, {}).get("sha256", "")).encode()
    try:
        pf = pq.ParquetFile(dist / CORPUS_PARQUET)
        light = _light_columns(pf, drop)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CorpusExportError(f"{dist / CORPUS_PARQUET}: cannot be read: {exc}") from None
    stats = Stats()
    for table in light:
        stats.add(table_stats(table))
    light_all = pa.concat_tables(light) if light else None
    rows = light_all.num_rows if light_all is not None else 0
    why = _choose_rows(light_all, seed, sample) if light_all is not None else {}

    rejects, by_reason, near = _read_rejects(dist, seed, sample)
    clusters = _clusters(manifest, near)
    shown_clusters = clusters[:CLUSTERS]
    wanted = set(why) | {c["kept"] for c in shown_clusters}
    if manifest.get("settings", {}).get("near_dups") == "keep":
        wanted |= {m[0] for c in shown_clusters for m in c["members"][:MEMBERS]}
    full = _rows_by_id(pf, wanted)

    notes: list[str] = []
    pages: dict[str, dict[str, Any]] = {}
    table_rows: list[dict[str, Any]] = []
    files = {
        row_id: _raw_file(root, row_id, None, full[row_id].get("sha256")) for row_id in sorted(why)
    }
    ahead = ReadAhead(root, [f for f in files.values() if f is not None])  # cold pages: at once
    for row_id, f in files.items():
        row = full[row_id]
        page = _page_of(ahead, f, row, masked, notes)
        pages[row_id] = page
        table_rows.append({**{k: row[k] for k in _TABLE if k in row}, "why": why[row_id]})
    for r in rejects:
        r["lines"], r["note"] = _first_lines(root, r["id"], r["path"], masked)
    shown = [_cluster_view(root, c, full, "body" in drop, notes) for c in shown_clusters]

    result = BuildResult(
        out_dir=dist,
        files_seen=int(manifest["counts"].get("files_seen", 0)),
        rows=rows,
        rejects_by_reason=by_reason,
        ignored_files=int(manifest["counts"].get("ignored_files", 0)),
        stats=stats.summary(),
        examples=stats.examples,
        shards=list(manifest.get("hf_shards") or []),
        near_dups=_near_settings(manifest),
        drop=list(drop),
    )
    data = {
        "rows_total": rows,
        "rejects_total": sum(by_reason.values()),
        "clusters_total": len(clusters),
        "roles": [str(r) for r in Role],
        "role_docs": [ROLE_DOCS[r].replace("\\|", "|").replace("`", "") for r in Role],
        "rows": table_rows,
        "pages": pages,
        "rejects": rejects,
        "clusters": shown,
        "near_mode": str(manifest.get("settings", {}).get("near_dups", "reject")),
        "dropped": list(drop),
        "masked": masked,
    }
    text = _html(dist, manifest, result, data, sample)
    return Report(
        html=text,
        rows=rows,
        rows_shown=len(table_rows),
        rejects=sum(by_reason.values()),
        rejects_shown=len(rejects),
        clusters=len(clusters),
        clusters_shown=len(shown),
        notes=notes,
    )


def _manifest(dist: Path) -> dict[str, Any]:
    if not dist.is_dir():
        what = "is not a folder" if dist.exists() else "does not exist"
        raise CorpusExportError(f"export folder {str(dist)!r} {what} (run `{TOOL} build`)")
    try:
        manifest = json.loads((dist / MANIFEST).read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise CorpusExportError(f"{dist / MANIFEST}: missing (not an export folder?)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CorpusExportError(f"{dist / MANIFEST}: cannot be read: {exc}") from None
    if (
        not isinstance(manifest, dict)
        or not is_our_manifest(manifest)
        or not isinstance(manifest.get("files"), dict)
        or not isinstance(manifest.get("counts"), dict)
    ):
        raise CorpusExportError(f"{dist / MANIFEST}: not a manifest written by {TOOL}")
    near = manifest.get("near_duplicates")
    for where, numbers, keys in (
        ("counts", manifest["counts"], ("files_seen", "ignored_files")),
        ("near_duplicates", near if isinstance(near, dict) else {}, ("found", "removed")),
    ):
        for key in keys:
            value = numbers.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise CorpusExportError(
                    f"{dist / MANIFEST}: {where}.{key} is {value!r}, not a count"
                )
    return manifest


def _masked(dist: Path, manifest: dict[str, Any]) -> tuple[tuple[str, ...], dict[str, str]]:
    """(the columns the export was built without, {column: why its values are masked in the
    raw lines shown: "dropped" or "pseudonymized"})."""
    settings = manifest.get("settings")
    try:
        drop = schema.drop_setting(settings)
    except CorpusExportError as exc:
        raise CorpusExportError(f"{dist / MANIFEST}: {exc}") from None
    made = settings.get("pseudonymize") if isinstance(settings, dict) else None
    columns = made.get("columns", []) if isinstance(made, dict) else []
    if not isinstance(columns, list) or not all(
        isinstance(c, str) and c in schema.BY_NAME for c in columns
    ):
        raise CorpusExportError(
            f"{dist / MANIFEST}: settings.pseudonymize.columns is not a list of column names"
        )
    masked = {c: "dropped" for c in drop} | {str(c): "pseudonymized" for c in columns}
    return drop, {c: masked[c] for c in schema.NAMES if c in masked}


def _light_columns(pf: Any, drop: tuple[str, ...]) -> list[pa.Table]:
    """corpus.parquet's small columns, a row group at a time (the statistics need no more)."""
    if not pf.schema_arrow.equals(schema.arrow_schema(drop), check_metadata=False):
        raise ValueError("its schema differs from the contract's (and the manifest's drop)")
    columns = [c for c in _LIGHT if c not in drop]
    return [
        pf.read_row_group(i, columns=columns, use_threads=False) for i in range(pf.num_row_groups)
    ]


def _choose_rows(light: pa.Table, seed: bytes, sample: int) -> dict[str, list[str]]:
    """{id: why it is shown} of the sample (the ids that hash lowest) and the outliers."""
    import xxhash

    ids = light.column("id").to_pylist()
    why: dict[str, list[str]] = {}
    if sample:
        keys = np.fromiter(
            (xxhash.xxh3_64_intdigest(seed + i.encode("utf-8", "surrogatepass")) for i in ids),
            dtype=np.uint64,
            count=len(ids),
        )
        for at in np.argsort(keys, kind="stable")[:sample]:
            why.setdefault(ids[at], []).append(SAMPLE)
    for tag, column, largest, _ in _EXTREMES:
        if column not in light.column_names:
            continue  # dropped
        values = light.column(column).to_numpy().astype(np.int64)
        order = np.argsort(-values if largest else values, kind="stable")  # ties: id order
        for at in order[:OUTLIERS]:
            why.setdefault(ids[at], []).append(tag)
    if "author" in light.column_names:
        no_author = light.column("author").is_null().to_numpy(zero_copy_only=False)
        for at in np.flatnonzero(no_author)[:OUTLIERS]:
            why.setdefault(ids[at], []).append(NO_AUTHOR)
    return why


def _rows_by_id(pf: Any, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The export's rows of these ids, read a row group at a time (only the groups holding
    one: their id ranges are in the file's statistics)."""
    import pyarrow.compute as pc

    out: dict[str, dict[str, Any]] = {}
    if not wanted:
        return out
    ordered = sorted(wanted)
    value_set = pa.array(ordered, pa.string())
    for i in range(pf.num_row_groups):
        stats = pf.metadata.row_group(i).column(0).statistics
        if stats is not None and stats.has_min_max:
            at = bisect.bisect_left(ordered, stats.min)
            if at >= len(ordered) or ordered[at] > stats.max:
                continue
        ids = pf.read_row_group(i, columns=["id"]).column("id")
        mask = pc.is_in(ids, value_set=value_set)
        if not pc.any(mask).as_py():
            continue
        # one thread: reading a group is mostly one column's (body's) decoding, and threads
        # fighting for busy cores made it twice as slow
        table = pf.read_row_group(i, use_threads=False).filter(mask)
        for row in table.to_pylist():
            out[row["id"]] = row
    return out


def _read_rejects(
    dist: Path, seed: bytes, sample: int
) -> tuple[list[dict[str, Any]], dict[str, int], list[tuple[str, str, str, str]]]:
    """rejects.csv → (the rejects shown: up to `sample`, taken from each reason in turn, those
    whose ids hash lowest first; the count of each reason; every near-duplicate reject as
    (id, path, kept id, similarity))."""

    import xxhash

    by_reason: dict[str, int] = {}
    lowest: dict[str, list[tuple[int, str, str, str]]] = {}  # reason → heap of (-hash, ...)
    near: list[tuple[str, str, str, str]] = []
    try:
        with (dist / REJECTS_CSV).open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or tuple(header) != schema.REJECT_COLUMNS:
                raise CorpusExportError(
                    f"{dist / REJECTS_CSV}: header is not {schema.REJECT_COLUMNS}"
                )
            for record in reader:
                if len(record) != len(schema.REJECT_COLUMNS):
                    raise CorpusExportError(f"{dist / REJECTS_CSV}: a line has {len(record)} cells")
                rid, path, reason, detail = (unescape_csv_cell(c) for c in record)
                by_reason[reason] = by_reason.get(reason, 0) + 1
                if reason == Reason.NEAR_DUPLICATE:
                    kept, similarity = kept_of(detail)
                    near.append((rid, path, kept, similarity))
                if not sample:
                    continue
                key = xxhash.xxh3_64_intdigest(seed + rid.encode("utf-8", "surrogatepass"))
                heap = lowest.setdefault(reason, [])
                item = (-key, rid, path, detail)
                if len(heap) < sample:
                    heapq.heappush(heap, item)
                elif item > heap[0]:
                    heapq.heapreplace(heap, item)
    except FileNotFoundError:
        raise CorpusExportError(f"{dist / REJECTS_CSV}: missing") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CorpusExportError(f"{dist / REJECTS_CSV}: cannot be read: {exc}") from None
    queues = {
        reason: sorted((-k, rid, path, detail) for k, rid, path, detail in heap)
        for reason, heap in sorted(lowest.items())
    }
    chosen: list[tuple[str, str, str, str]] = []
    turn = 0
    while len(chosen) < sample and any(turn < len(q) for q in queues.values()):
        for reason, q in queues.items():
            if turn < len(q) and len(chosen) < sample:
                _, rid, path, detail = q[turn]
                chosen.append((rid, path, reason, detail))
        turn += 1
    shown = [
        {"id": rid, "path": path, "reason": reason, "detail": detail}
        for rid, path, reason, detail in sorted(chosen)
    ]
    return shown, dict(sorted(by_reason.items())), near


def _near_settings(manifest: dict[str, Any]) -> dict[str, Any]:
    settings, near = manifest.get("settings"), manifest.get("near_duplicates")
    if not isinstance(settings, dict) or not isinstance(near, dict):
        return {}
    mode, threshold = settings.get("near_dups"), settings.get("near_dup_threshold")
    return {"mode": mode, "threshold": threshold, **near}


def _clusters(
    manifest: dict[str, Any], near: list[tuple[str, str, str, str]]
) -> list[dict[str, Any]]:
    """The near-duplicate clusters, by kept id: [{kept, members: [(id, path, similarity)]}]
    (rejected members from rejects.csv; kept ones, with --near-dups keep, from the manifest)."""
    found: dict[str, list[tuple[str, str | None, str]]] = {}
    for rid, path, kept, similarity in near:
        if kept:
            found.setdefault(kept, []).append((rid, path, similarity))
    listed = (manifest.get("near_duplicates") or {}).get("clusters") or []
    for cluster in listed if isinstance(listed, list) else []:
        if isinstance(cluster, dict) and isinstance(cluster.get("kept"), str):
            for member in cluster.get("members") or []:
                if isinstance(member, str):
                    found.setdefault(cluster["kept"], []).append((member, None, ""))
    return [{"kept": k, "members": sorted(found[k])} for k in sorted(found)]


# ---------------------------------------------------------------------------------------------
# the raw pages


def _raw_file(
    root: Path, page: str, path: str | None = None, sha256: str | None = None
) -> RawFile | None:
    """The raw file of an id (of a printable path, when given), found by undoing the id's
    %XX escapes: the names it may come from are checked with page_id, none is guessed. Of two
    files of one id (a.txt and a.txt.gz), the one whose SHA-256 is `sha256` (the row's), else
    the first in sorted path order: the one a build keeps (the other is a duplicate reject)."""
    name = _unescape_id(page)
    candidates = [name + s for s in SUFFIXES]
    if name.endswith(SUFFIXES):
        candidates.append(name)
    found = []
    for rel in sorted(set(candidates), key=os.fsencode):
        if page_id(rel) != page or not os.path.lexists(root / rel):
            continue
        if path is not None and _printable(rel) != path:
            continue
        found.append(listed_file(root, rel, link_problem(root, root / rel)))
    if len(found) > 1 and sha256 is not None:
        for f in found:
            try:
                if read_raw(root, f).sha256 == sha256:
                    return f
            except Rejected:
                continue
    return found[0] if found else None


def _unescape_id(page: str) -> str:
    out = bytearray()
    k = 0
    while k < len(page):
        hexa = page[k + 1 : k + 3]
        if page[k] == "%" and re.fullmatch("[0-9A-F]{2}", hexa):
            out.append(int(hexa, 16))
            k += 3
        else:
            out += page[k].encode("utf-8", "surrogatepass")
            k += 1
    return os.fsdecode(bytes(out))


def _printable(rel: str) -> str:

    return printable_path(rel)


def _cut(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + "…"


def _page_of(
    ahead: ReadAhead,
    f: RawFile | None,
    row: dict[str, Any],
    masked: dict[str, str],
    notes: list[str],
) -> dict[str, Any]:
    """A row's page view: its raw page's lines with their roles (cut after PAGE_CHARS
    characters), its fields, and a note when the page is gone, changed or cut. In the lines,
    the values of the masked columns (dropped or pseudonymized) are replaced by a mark.

    The body's paragraphs and the teasers are lists whose items are text, or the number of
    the line that holds exactly that text (the page view shows it from there): a page's text
    is in the report once."""
    page: dict[str, Any] = {"fields": {}, "lines": [], "note": ""}
    said = []
    roles = []
    if f is None:
        said.append("The raw page is not in the raw folder (gone since the build?).")
        notes.append(f"{row['id']}: raw page not found")
    else:
        try:
            read = ahead.read(f)
            roles = explain_page(read.data)
            secrets = _secrets(read.data, masked)
        except Rejected as rej:
            said.append(f"The raw page cannot be read now: {rej.reason}: {rej.detail}")
            notes.append(f"{row['id']}: {rej.reason}")
            roles = []
        else:
            roles = [_masked_role(r, secrets) for r in roles]
            if read.sha256 != row.get("sha256", read.sha256):
                said.append(
                    "The raw file changed since the build (its SHA-256 is not the row's): the "
                    "lines show the file as it is now."
                )
                notes.append(f"{row['id']}: raw page changed since the build")
    lines: list[list[Any]] = []
    used = 0
    for r in roles:
        if used >= PAGE_CHARS:
            said.append(f"Cut: the first {len(lines):,} of the page's {len(roles):,} lines shown.")
            break
        text = r.text[: PAGE_CHARS - used]
        used += len(text)
        lines.append([r.line, ROLE_INDEX[r.role], r.rule, text])
    at: dict[str, int] = {}
    for k, line in enumerate(lines):
        at.setdefault(line[3], k)
    page["fields"] = {k: v for k, v in row.items() if k not in ("body", "teasers")}
    if "body" in row:
        body: list[str | int] = []
        used = 0
        for p in row["body"].split("\n") if row["body"] else []:
            if used >= PAGE_CHARS:
                said.append(
                    f"The body is cut after {used:,} of its {len(row['body']):,} characters."
                )
                break
            used += len(p)
            body.append(at.get(p, p))
        page["fields"]["body"] = body
    if "teasers" in row:
        page["fields"]["teasers"] = [at.get(t, t) for t in row["teasers"]]
    page["lines"], page["note"] = lines, " ".join(said)
    return page


ROLE_INDEX = {role: i for i, role in enumerate(Role)}


def _secrets(data: bytes, masked: dict[str, str]) -> list[tuple[str, str, bool]]:
    """The values of a raw page's masked columns as the page has them, each with its mark:
    [(value, mark, only in header lines?)], longest first. Rejected when the page does not
    parse, so its values cannot be told: then none of its lines is shown."""
    if not masked:
        return []
    values = parse_page(data).to_row()
    out: list[tuple[str, str, bool]] = []
    for column, why in masked.items():
        value = values.get(column)
        mark = f"[{column} {why}]"
        if column == "body" and isinstance(value, str):
            out += [(p, mark, False) for p in value.split("\n") if p]
        elif column == "teasers" and isinstance(value, list):
            out += [(str(t), mark, False) for t in value if t]
        elif column == "citations" and isinstance(value, int):
            out.append((str(value), mark, True))  # a number: only where the header says it
        elif isinstance(value, str) and value and column in _IN_TEXT:
            out.append((value, mark, False))
    return sorted(out, key=lambda s: (-len(s[0]), s))


#: the masked columns whose values are text of the page (the others are counts or digests)
_IN_TEXT = ("title", "source", "uploader", "author")


def _mask(text: str, secrets: list[tuple[str, str, bool]], header: bool) -> str:
    for value, mark, header_only in secrets:
        if header_only:
            if header:
                text = re.sub(rf"(?<!\d){value}(?!\d)", mark, text)
        else:
            text = text.replace(value, mark)
    return text


def _masked_role(r: LineRole, secrets: list[tuple[str, str, bool]]) -> LineRole:
    if not secrets:
        return r
    text = _mask(r.text, secrets, r.role in (Role.HEADER, Role.SITE_LINE, Role.JOINED))
    return r if text == r.text else dataclasses.replace(r, text=text)


def _first_lines(root: Path, page: str, path: str, masked: dict[str, str]) -> tuple[list[str], str]:
    """A rejected file's first lines (decoded as a build decodes, else as UTF-8 with
    replacement characters), and a note when it cannot be read. The values of the masked
    columns are replaced by a mark; a file that does not parse is not shown then."""
    f = _raw_file(root, page, path)
    if f is None:
        return [], "The raw file is not in the raw folder (or is not a file of pages)."
    try:
        data = read_raw(root, f).data
    except Rejected as rej:
        return [], f"The raw file cannot be read: {rej.detail}"
    try:
        secrets = _secrets(data, masked)
    except Rejected:
        return [], (
            f"Not shown: the file does not parse, so where it holds the values of "
            f"{', '.join(masked)} (hidden in this export) cannot be told."
        )
    head = data[: REJECT_LINES * LINE_CHARS * 4]
    note = ""
    try:
        text = decode_bytes(head)
    except Rejected:
        text = head.decode("utf-8", "replace")
        note = "Shown as UTF-8 with replacement characters (it does not decode as a build reads)."
    lines = [
        _cut(_mask(line, secrets, True), LINE_CHARS) or ""
        for line in text.split("\n")[:REJECT_LINES]
    ]
    return lines, note


def _cluster_view(
    root: Path,
    cluster: dict[str, Any],
    rows: dict[str, dict[str, Any]],
    no_body: bool,
    notes: list[str],
) -> dict[str, Any]:
    """A cluster as the report shows it: the kept page's body beside each member's, with the
    characters that differ marked on both sides (no bodies of an export without them)."""
    kept = rows.get(cluster["kept"])
    kept_body = (kept or {}).get("body") or ""
    members = []
    for member_id, path, similarity in cluster["members"][:MEMBERS]:
        body, note = None, ""
        if no_body:
            note = "The export was built without body (--drop body): no body is shown."
        elif member_id in rows:
            body = rows[member_id]["body"]
        else:
            f = _raw_file(root, member_id, path)
            if f is None:
                note = "The raw page is not in the raw folder."
            else:
                try:
                    body = process_file(root, f)[0].body
                except Rejected as rej:
                    note = f"The raw page cannot be parsed now: {rej.reason}: {rej.detail}"
        if note and not no_body:
            notes.append(f"{member_id}: {note}")
        left, right = _marked(kept_body, body or "")
        members.append(
            {"id": member_id, "similarity": similarity, "note": note, "kept": left, "body": right}
        )
    return {
        "kept": cluster["kept"],
        "title": (kept or {}).get("title", ""),
        "size": len(cluster["members"]),
        "members": members,
    }


def _marked(a: str, b: str) -> tuple[list[list[Any]], list[list[Any]]]:
    """Two bodies as runs of [text, differs (0/1)]: paragraphs matched first, then the
    characters of the paragraphs that differ."""
    a, b = a[:DIFF_CHARS], b[:DIFF_CHARS]
    pa_, pb = a.split("\n"), b.split("\n")
    left: list[list[Any]] = []
    right: list[list[Any]] = []

    def add(side: list[list[Any]], text: str, differs: int) -> None:
        if not text:
            return
        if side and side[-1][1] == differs:
            side[-1][0] += text
        else:
            side.append([text, differs])

    blocks = difflib.SequenceMatcher(None, pa_, pb, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in blocks:
        x, y = "\n".join(pa_[i1:i2]), "\n".join(pb[j1:j2])
        nl_x, nl_y = ("\n" if i2 < len(pa_) else ""), ("\n" if j2 < len(pb) else "")
        if tag == "equal":
            add(left, x + nl_x, 0)
            add(right, y + nl_y, 0)
            continue
        if tag == "replace":
            chars = difflib.SequenceMatcher(None, x, y, autojunk=False)
            for t, c1, c2, d1, d2 in chars.get_opcodes():
                add(left, x[c1:c2], int(t != "equal"))
                add(right, y[d1:d2], int(t != "equal"))
        else:
            add(left, x, 1)
            add(right, y, 1)
        add(left, nl_x, 0)
        add(right, nl_y, 0)
    return left, right


# ---------------------------------------------------------------------------------------------
# the page


def _json_for_script(data: Any) -> str:
    """JSON that cannot end or change the <script> element it sits in (every < escaped)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _html(
    dist: Path,
    manifest: dict[str, Any],
    result: BuildResult,
    data: dict[str, Any],
    sample: int,
) -> str:
    assets = resources.files("corpus_export") / "templates"
    style = (assets / "report.css").read_text(encoding="utf-8")
    script = (assets / "report.js").read_text(encoding="utf-8")
    page = (assets / "report_page.html").read_text(encoding="utf-8")
    parquet_sha = str(manifest["files"].get(CORPUS_PARQUET, {}).get("sha256", ""))
    fills = {
        "generator": _e(GENERATOR),
        "title": _e(f"{TOOL} report: {dist.name or dist}"),
        "export": _e(dist.name or str(dist)),
        "built_by": _e(manifest.get("generator", "")),
        "parquet_sha": _e(parquet_sha[:16]),
        "overview": _overview(result, data, sample),
        "style": style,
        "script": script,
        "data": _json_for_script(data),
    }
    return re.sub(r"\{\{(\w+)\}\}", lambda m: fills[m.group(1)], page)


def _overview(result: BuildResult, data: dict[str, Any], sample: int) -> str:
    """The Overview tab: the card's numbers and pictures, as HTML."""
    stats = result.stats
    rows = max(result.rows, 1)
    near = result.near_dups
    out = ['<div class="counts">']
    for label, value in (
        ("raw files seen", result.files_seen),
        ("rows", result.rows),
        ("rejected files", result.rejects),
        ("other files ignored", result.ignored_files),
        ("near-duplicates found", near.get("found", 0)),
        ("near-duplicate clusters", data["clusters_total"]),
    ):
        out.append(f'<div class="count"><strong>{number(value)}</strong> {_e(label)}</div>')
    out.append("</div>")
    mode = near.get("mode") or "reject"
    out.append(
        f"<p>Near-duplicates (similarity ≥ {_e(near.get('threshold', ''))}) were "
        f"{'rejected' if mode == 'reject' else 'kept'}: {number(near.get('removed', 0))} "
        "removed from the rows.</p>"
    )
    masked = data["masked"]
    if masked:
        said = ", ".join(f"<code>{_e(c)}</code> ({_e(why)})" for c, why in masked.items())
        out.append(
            f"<p>Masked: {said}. This export does not publish the values of these columns, so "
            "the raw lines shown here have each of them replaced by a mark such as "
            f"<code>{_e(f'[{next(iter(masked))} {next(iter(masked.values()))}]')}</code>, "
            "and a rejected file that does not parse is not shown.</p>"
        )
    out.append(
        f"<p>The Pages tab holds {number(len(data['rows']))} of the {number(result.rows)} rows: "
        f"{number(min(sample, result.rows))} chosen by a hash of their ids and the outliers "
        f"(the {OUTLIERS} {', '.join(label for *_, label in _EXTREMES)}, and without an "
        "author). Every number on this tab is of all rows, as the card has it.</p>"
    )
    out.append('<h3 id="shares">Rows with</h3><ul class="shares">')
    for label, key in (
        ("an author", "with_author"),
        ("a citation count", "with_citations"),
        ("a source", "with_source"),
    ):
        if key.removeprefix("with_") in result.drop:
            continue
        n = stats.get(key, 0)
        out.append(f"<li>{_e(label)}: {number(n)} ({100 * n / rows:.1f}%)</li>")
    out.append(f"<li>distinct sources: {number(stats.get('distinct_sources', 0))}</li></ul>")
    out.append(
        '<table class="numbers" id="distributions"><caption>Distributions</caption>'
        "<thead><tr><th scope=col>column</th><th scope=col>min</th><th scope=col>median</th>"
        "<th scope=col>max</th><th scope=col>mean</th><th scope=col>total</th></tr></thead><tbody>"
    )
    for name in ("body_chars", "paragraph_count", "teaser_count", "citations"):
        if name in result.drop:
            continue
        d = stats.get(name) or {}
        cells = "".join(
            f"<td>{number(d[k]) if d else ''}</td>"
            for k in ("min", "median", "max", "mean", "total")
        )
        out.append(f"<tr><th scope=row><code>{name}</code></th>{cells}</tr>")
    out.append("</tbody></table>")
    out.append(
        '<table class="numbers" id="reasons"><caption>Rejected files by reason</caption>'
        "<thead><tr><th scope=col>reason</th><th scope=col>files</th>"
        "<th scope=col>meaning</th></tr></thead><tbody>"
    )
    for reason, doc in REASON_DOCS.items():
        n = result.rejects_by_reason.get(str(reason), 0)
        out.append(
            f"<tr><th scope=row><code>{_e(reason)}</code></th><td>{number(n)}</td>"
            f"<td>{_e(doc)}</td></tr>"
        )
    out.append("</tbody></table>")
    out.append(
        '<table class="numbers" id="sources"><caption>Top sources</caption>'
        "<thead><tr><th scope=col>source</th><th scope=col>rows</th></tr></thead><tbody>"
    )
    for name, n in stats.get("top_sources", []):
        out.append(f'<tr><td lang="zh">{_e(name)}</td><td>{number(n)}</td></tr>')
    out.append("</tbody></table>")
    out.append('<div class="charts">')
    for name, (title, svg) in pictures(result).items():
        out.append(
            f'<figure class="chart" data-chart="{_e(name)}">{svg}'
            f"<figcaption>{_e(title)}</figcaption></figure>"
        )
    out.append("</div>")
    return "\n".join(out)
