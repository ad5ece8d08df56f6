"""raw files → Parts parsed on a Dask cluster (same per-batch function as the local engine)."""

from __future__ import annotations

import operator
import os
from collections import deque
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

from .errors import CorpusExportError
from .process import Part, encode_batch, parse_batch
from .pseudonym import Release
from .read import RawFile


def _connect(scheduler: str | None, workers: int | None = None) -> tuple[Any, Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise CorpusExportError(
            "the dask engine needs the dask extra: in a clone of corpus-export, "
            "pip install '.[dask]'"
        ) from None
    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise CorpusExportError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    return Client(cluster), cluster  # type: ignore[no-untyped-call]


def run_dask(
    root: Path | str,
    tasks: Iterable[list[RawFile]],
    *,
    scheduler: str | None,
    progress: Any,
    decide: Any,
    workers: int | None = None,
    release: Release | None = None,
) -> Generator[Part, None, None]:
    """Yield the encoded Parts of all tasks in id order, made by the workers of a Dask cluster.

    A task is ~1,024 files (process.plan_tasks), never one file: tiny tasks cost more than
    parsing. Like the local engine, a task is parsed, then `decide` marks its duplicates (from
    small keys sent to this process), then it is encoded; the parsed rows stay in the memory of
    the worker that parsed them, where Dask runs the encoding. Encoded rows come back inside each
    Part (Parquet + CSV bytes), so workers need read access to the raw folder (shared or object
    storage) but no shared scratch space with this process.
    """
    client, cluster = _connect(scheduler, workers)
    try:
        parsing: deque[tuple[int, Any, Any]] = deque()
        encoding: deque[Any] = deque()
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        todo = iter(enumerate(tasks))

        def submit_next() -> None:
            for i, task in todo:
                both = client.submit(
                    parse_batch, str(root), task, i, release, pure=False, key=f"parse-{i}"
                )
                meta = client.submit(operator.itemgetter(0), both, key=f"parsed-{i}")
                rows = client.submit(operator.itemgetter(1), both, key=f"rows-{i}")
                both.release()
                parsing.append((len(task), meta, rows))
                return

        for _ in range(2 * workers + 2):
            submit_next()
        while parsing or encoding:
            if encoding and (encoding[0].done() or not parsing or len(encoding) > workers):
                future = encoding.popleft()
                part = future.result()
                future.release()
                yield part
                continue
            n, meta, rows = parsing.popleft()
            parsed = meta.result()
            meta.release()
            keep = decide(parsed)
            encoding.append(
                client.submit(
                    encode_batch, rows, keep, parsed.index, None, key=f"encode-{parsed.index}"
                )
            )
            rows.release()
            submit_next()
            progress(n)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
