"""A raw/ tree → the exports of the comparison baselines (tight script, naive pandas, floor).

Usage: python tests/benchmarks/baselines.py {tight,naive,floor} RAW OUT [--workers N]

- tight: N worker processes parse files (corpus_export.parse.parse_page) into Arrow record
  batches; the parent streams one zstd(1) Parquet file and one CSV file. Nothing else.
- naive: one process; list of dicts → pandas DataFrame → to_parquet / to_csv →
  datasets.Dataset.from_pandas → Hub layout (hf/data/train-00000-of-00001.parquet).
- floor: list + read + gunzip + decode + sha256 in N processes; writes nothing.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import multiprocessing as mp
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from corpus_export.errors import Rejected
from corpus_export.parse import Page, parse_page

CHUNK = 256  # files per task, as the build batches them


def list_files(raw: Path) -> list[str]:
    """Return every *.txt / *.txt.gz under raw, as sorted relative POSIX paths."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(raw):
        dirnames.sort()
        rel = os.path.relpath(dirpath, raw)
        for name in filenames:
            if name.endswith((".txt", ".txt.gz")):
                out.append(name if rel == "." else f"{rel}/{name}")
    out.sort()
    return out


def read_file(raw: Path, rel: str) -> tuple[bytes, str]:
    """Return (page bytes, gunzipped if .gz; SHA-256 of the file's bytes)."""
    data = (raw / rel).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if rel.endswith(".gz"):
        data = gzip.decompress(data)
    return data, digest


def page_id(rel: str) -> str:
    return rel.removesuffix(".gz").removesuffix(".txt")


def chunks(items: list[str], size: int = CHUNK) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def parse_files(raw: Path, rels: list[str]) -> Iterator[Page]:
    for rel in rels:
        try:
            data, digest = read_file(raw, rel)
            yield parse_page(data, page_id=page_id(rel), sha256=digest)
        except (Rejected, OSError, EOFError, gzip.BadGzipFile):
            continue


# ---------------------------------------------------------------------------------------------
# tight


def tight_schema() -> pa.Schema:
    from corpus_export import schema

    return schema.arrow_schema()


def tight_batch(task: tuple[str, list[str]]) -> tuple[pa.RecordBatch, pa.Array]:
    """Parse one chunk → (record batch in the schema, teasers as JSON strings for the CSV)."""
    raw, rels = task
    rows = [p.to_row() for p in parse_files(Path(raw), rels)]
    sch = tight_schema()
    cols = [pa.array([r[f.name] for r in rows], type=f.type) for f in sch]
    teasers_json = pa.array(
        [json.dumps(r["teasers"], ensure_ascii=False) for r in rows], pa.string()
    )
    return pa.RecordBatch.from_arrays(cols, schema=sch), teasers_json


def run_tight(raw: Path, out: Path, workers: int) -> int:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    sch = tight_schema()
    teaser_at = sch.get_field_index("teasers")
    csv_schema = sch.set(teaser_at, pa.field("teasers", pa.string()))
    tasks = [(str(raw), c) for c in chunks(list_files(raw))]
    rows = 0
    with (
        mp.get_context("fork").Pool(workers) as pool,
        pq.ParquetWriter(
            out / "corpus.parquet", sch, compression="zstd", compression_level=1
        ) as pw,
        pacsv.CSVWriter(out / "corpus.csv", csv_schema) as cw,
    ):
        for batch, teasers_json in pool.imap(tight_batch, tasks):
            pw.write_batch(batch)
            cw.write_batch(batch.set_column(teaser_at, csv_schema.field(teaser_at), teasers_json))
            rows += batch.num_rows
    return rows


# ---------------------------------------------------------------------------------------------
# naive pandas


def run_naive(raw: Path, out: Path) -> int:
    import datasets
    import pandas as pd

    datasets.disable_progress_bars()
    out.mkdir(parents=True, exist_ok=True)
    rows = [p.to_row() for p in parse_files(raw, list_files(raw))]
    df = pd.DataFrame(rows)
    df.to_parquet(out / "corpus.parquet")
    df.to_csv(out / "corpus.csv", index=False)
    ds = datasets.Dataset.from_pandas(df)
    hf = out / "hf" / "data"
    hf.mkdir(parents=True, exist_ok=True)
    ds.to_parquet(str(hf / "train-00000-of-00001.parquet"))
    return len(df)


# ---------------------------------------------------------------------------------------------
# floor


def floor_chunk(task: tuple[str, list[str]]) -> int:
    """Read, hash and decode one chunk; return the characters decoded."""
    raw, rels = task
    chars = 0
    for rel in rels:
        try:
            data, _ = read_file(Path(raw), rel)
        except (OSError, EOFError, gzip.BadGzipFile):
            continue
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gb18030", errors="replace")
        chars += len(text)
    return chars


def run_floor(raw: Path, workers: int) -> int:
    tasks = [(str(raw), c) for c in chunks(list_files(raw))]
    with mp.get_context("fork").Pool(workers) as pool:
        return sum(pool.imap_unordered(floor_chunk, tasks))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Run one benchmark baseline.")
    ap.add_argument("approach", choices=["tight", "naive", "floor"])
    ap.add_argument("raw", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    if args.approach == "tight":
        n = run_tight(args.raw, args.out, args.workers)
    elif args.approach == "naive":
        n = run_naive(args.raw, args.out)
    else:
        n = run_floor(args.raw, args.workers)
    print(f"{args.approach}: {n}")


if __name__ == "__main__":
    main()
