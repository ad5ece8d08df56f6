"""raw files → Parts parsed on a Dask cluster (same per-batch function as the local engine)."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import CorpusExportError
from .process import BATCH_FILES, Part, process_batch
from .read import RawFile

#: batches per Dask task: thousands of tiny tasks would cost more than the parsing itself
BATCHES_PER_TASK = 1


def _connect(scheduler: str | None) -> tuple[Any, Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise CorpusExportError(
            "the dask engine needs the dask extra: pip install 'corpus-export[dask]'"
        ) from None
    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except OSError as exc:
            raise CorpusExportError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    cluster = LocalCluster(
        n_workers=os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    return Client(cluster), cluster


def run_dask(root: Path, files: list[RawFile], part_dir: Path, *, scheduler: str | None,
             progress: Any) -> Iterator[Part]:
    """Yield the Parts of all batches in id order, parsed by the workers of a Dask cluster.

    Rows come back inside each Part (Arrow IPC + CSV bytes), so workers need read access to the
    raw folder (shared or object storage) but no shared scratch space with this process.
    """
    client, cluster = _connect(scheduler)
    try:
        batches = [files[i : i + BATCH_FILES] for i in range(0, len(files), BATCH_FILES)]
        window: deque[tuple[int, Any]] = deque()
        limit = 2 * max(1, len(client.scheduler_info().get("workers", {}))) + 2
        todo = iter(enumerate(batches))

        def submit_next() -> None:
            for i, batch in todo:
                window.append((len(batch), client.submit(
                    process_batch, str(root), batch, None, i, pure=False, key=f"batch-{i}")))
                return

        for _ in range(limit):
            submit_next()
        while window:
            n, future = window.popleft()
            part = future.result()
            future.release()
            submit_next()
            progress(n)
            yield part
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
