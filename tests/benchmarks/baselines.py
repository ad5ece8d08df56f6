"""A raw/ tree → the exports of the comparison baselines (tight, naive pandas, datatrove, floor).

Usage: python tests/benchmarks/baselines.py {tight,naive,datatrove,floor} RAW OUT [--workers N]

- tight: N worker processes parse files (corpus_export.parse.parse_page) into Arrow record
  batches; the parent streams one zstd(1) Parquet file and one CSV file. Nothing else.
- naive: one process; list of dicts → pandas DataFrame → to_parquet / to_csv →
  datasets.Dataset.from_pandas → Hub layout (hf/data/train-00000-of-00001.parquet).
- datatrove: a datatrove pipeline run by LocalPipelineExecutor with N tasks on N workers: a
  custom reader (task k reads the sorted files k, k + N, …: read, sha256, gunzip, decode), a
  parse block (drops rejected pages; the parsed row becomes the document's metadata),
  datatrove's ParquetWriter (zstd) and a small CSV DiskWriter; each task writes
  OUT/parquet/000_0000k.parquet and OUT/csv/0000k.csv; datatrove's logs go to OUT/logs. datatrove
  is not a dependency of the project: run this mode with an interpreter that has it.
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
from typing import IO, Any

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
# datatrove


def run_datatrove(raw: Path, out: Path, workers: int, *, defaults: bool = False) -> int:
    """Run the datatrove pipeline with `workers` tasks; return the rows written.

    defaults: datatrove's ParquetWriter as it comes (content-defined chunking and a page index,
    which the tight script does not write); else tuned to write what the tight script writes.
    """
    # Console sinks that datatrove leaves at loguru's default level print WARNING and up only;
    # loguru reads this when first imported (the forkserver and its workers inherit it).
    os.environ.setdefault("LOGURU_LEVEL", "WARNING")
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    from datatrove.data import Document, DocumentsPipeline
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.base import PipelineStep
    from datatrove.pipeline.readers.base import BaseReader
    from datatrove.pipeline.writers import ParquetWriter
    from datatrove.pipeline.writers.disk_base import DiskWriter
    from datatrove.utils.typeshelper import StatHints

    from corpus_export.parse import decode_bytes, parse_text

    sch = tight_schema()
    teaser_at = sch.get_field_index("teasers")
    csv_schema = sch.set(teaser_at, pa.field("teasers", pa.string()))

    class PageReader(BaseReader):
        """One document per *.txt / *.txt.gz file: decoded text, sha256 of the file's bytes."""

        name = "raw pages"

        def __init__(self, folder: Path) -> None:
            super().__init__()
            self.folder = folder

        def run(
            self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1
        ) -> DocumentsPipeline:
            if data:
                yield from data
            # The shard of this task, as datatrove's DataFolder.get_shard takes it.
            for rel in list_files(self.folder)[rank::world_size]:
                self.stat_update("input_files")
                try:
                    page, digest = read_file(self.folder, rel)
                    text = decode_bytes(page)
                except (Rejected, OSError, EOFError, gzip.BadGzipFile):
                    self.stat_update(StatHints.dropped)
                    continue
                doc = Document(text=text, id=page_id(rel), metadata={"sha256": digest})
                self.update_doc_stats(doc)
                yield doc

    class ParsePages(PipelineStep):
        """Parse each page; a rejected page is dropped, a parsed one's row becomes its metadata.

        parse_text is what parse_page runs after decoding bytes (the reader decoded them):
        parse_page on a str would encode it again to check it, work the tight script skips.
        """

        type = "🔻 - FILTER"
        name = "parse_page"

        def run(
            self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1
        ) -> DocumentsPipeline:
            for doc in data:
                self.stat_update(StatHints.total)
                with self.track_time():
                    try:
                        row = parse_text(
                            doc.text, page_id=doc.id, sha256=doc.metadata["sha256"]
                        ).to_row()
                    except Rejected as exc:
                        row = None
                        self.stat_update(StatHints.dropped, f"dropped_{exc.reason}")
                if row is None:
                    continue
                doc.text, doc.metadata = row["body"], row
                self.stat_update(StatHints.forwarded)
                self.update_doc_stats(doc)
                yield doc

    class CsvWriter(DiskWriter):
        """Rows to one CSV file per task (pyarrow.csv), batched like datatrove's ParquetWriter."""

        default_output_filename = "${rank}.csv"
        name = "CSV"

        def __init__(self, output_folder: str, batch_size: int = 1000) -> None:
            super().__init__(output_folder, compression=None, mode="wb", adapter=csv_row)
            self.batch_size = batch_size
            self._writers: dict[str, pacsv.CSVWriter] = {}
            self._batches: dict[str, list[dict]] = {}

        def _write_batch(self, filename: str) -> None:
            if batch := self._batches.pop(filename, None):
                self._writers[filename].write_batch(
                    pa.RecordBatch.from_pylist(batch, schema=csv_schema)
                )

        def _write(self, document: dict, file_handler: IO[bytes], filename: str) -> None:
            if filename not in self._writers:
                self._writers[filename] = pacsv.CSVWriter(file_handler, csv_schema)
            batch = self._batches.setdefault(filename, [])
            batch.append(document)
            if len(batch) == self.batch_size:
                self._write_batch(filename)

        def close(self) -> None:
            for filename in list(self._writers):
                self._write_batch(filename)
                self._writers.pop(filename).close()
            super().close()

    class Executor(LocalPipelineExecutor):
        def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1) -> Any:
            # datatrove logs the INFO lines of the task with local rank 0 to the console too;
            # local_rank is used for nothing else, so this keeps them to OUT/logs only.
            return super()._run_for_rank(rank, local_rank + 1, node_rank)

    executor = Executor(
        pipeline=[
            PageReader(raw),
            ParsePages(),
            ParquetWriter(
                str(out / "parquet"),
                compression="zstd",  # pyarrow's default zstd level is 1, the tight script's
                adapter=parquet_row,
                schema=sch,
                **(
                    {}
                    if defaults  # as datatrove writes Parquet unless told otherwise
                    else {  # what the tight script writes: no content-defined chunks or index
                        "use_content_defined_chunking": False,
                        "write_page_index": False,
                    }
                ),
            ),
            CsvWriter(str(out / "csv")),
        ],
        tasks=workers,
        workers=workers,
        logging_dir=str(out / "logs"),
        skip_completed=False,
    )
    executor.run()
    return sum(pq.ParquetFile(p).metadata.num_rows for p in (out / "parquet").glob("*.parquet"))


def parquet_row(writer: Any, doc: Any) -> dict:
    """ParquetWriter adapter: the row the parse block left in the metadata."""
    return doc.metadata


def csv_row(writer: Any, doc: Any) -> dict:
    """CSV writer adapter: the row with its teasers as a JSON string, as the tight script has."""
    row = dict(doc.metadata)
    row["teasers"] = json.dumps(row["teasers"], ensure_ascii=False)
    return row


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
    ap.add_argument(
        "approach", choices=["tight", "naive", "datatrove", "datatrove-defaults", "floor"]
    )
    ap.add_argument("raw", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    if args.approach == "tight":
        n = run_tight(args.raw, args.out, args.workers)
    elif args.approach == "naive":
        n = run_naive(args.raw, args.out)
    elif args.approach.startswith("datatrove"):
        n = run_datatrove(args.raw, args.out, args.workers, defaults=args.approach != "datatrove")
    else:
        n = run_floor(args.raw, args.workers)
    print(f"{args.approach}: {n}")


if __name__ == "__main__":
    main()
