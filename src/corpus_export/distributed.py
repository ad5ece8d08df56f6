"""raw files → Parts parsed on a Dask cluster (same per-batch function as the local engine)."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Generator, Iterable
from pathlib import Path
from typing import Any

from .errors import CorpusExportError
from .process import Part, process_batch
from .read import RawFile


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


def run_dask(
    root: Path | str, tasks: Iterable[list[list[RawFile]]], *, scheduler: str | None, progress: Any
) -> Generator[Part, None, None]:
    """Yield the Parts of all tasks in id order, parsed by the workers of a Dask cluster.

    A task is ~256 files (process.plan_tasks), never one file: tiny tasks cost more than parsing.

    Rows come back inside each Part (Arrow IPC + CSV bytes), so workers need read access to the
    raw folder (shared or object storage) but no shared scratch space with this process.
    """
    client, cluster = _connect(scheduler)
    try:
        window: deque[tuple[int, Any]] = deque()
        limit = 2 * max(1, len(client.scheduler_info().get("workers", {}))) + 2
        todo = iter(enumerate(tasks))

        def submit_next() -> None:
            for i, task in todo:
                window.append(
                    (
                        sum(map(len, task)),
                        client.submit(
                            process_batch, str(root), task, None, i, pure=False, key=f"batch-{i}"
                        ),
                    )
                )
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
