"""Tasks of raw files → encoded Parts in id order: the local worker pool, or Dask.

`parts()` is the one interface the build uses: each task is parsed, its duplicates decided by
the caller (`decide`, in task order), then encoded; the Parts come back in task order. The
local engine runs a pool of worker processes started before the raw folder is scanned
(`start_pool`); the Dask engine (distributed.py) runs the same per-task functions on a
cluster.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pyarrow as pa

from .cache import Previous
from .distributed import run_dask
from .errors import CorpusExportError
from .process import Parsed, Part, encode_task, parse_task, rebuild_task
from .pseudonym import Release
from .read import RawFile, Scan, merge_scans, scan_raw, scan_share, split_scan

Progress = Callable[[int], None]
Decide = Callable[[Parsed], bytes | None]  # a parsed task → its keep mask (None: keep all)


def run(
    engine: str,
    root: Path | str,
    tasks: Iterable[list[RawFile]],
    *,
    part_dir: Path,
    pool: ProcessPoolExecutor | None,
    progress: Progress,
    decide: Decide,
    previous: Previous | None = None,
    caching: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    release: Release | None = None,
) -> Generator[Part, None, None]:
    """Yield the encoded Parts of all tasks in order, made by `engine` ("local" or "dask")."""
    if engine == "dask":
        return run_dask(
            root,
            tasks,
            scheduler=scheduler,
            progress=progress,
            decide=decide,
            workers=workers,
            release=release,
        )
    return run_local(root, tasks, part_dir, pool, progress, decide, previous, caching, release)


def init_worker(parent: int) -> None:
    """Set up a worker process of the build whose pid is `parent`."""
    # Ctrl-C is the parent's to handle: it stops the pool and cleans up in one place.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    pyarrow_without_pandas()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """End this process when the process `parent` ends, however it ends (SIGKILL included).

    A worker outliving its build would hold the build's out-folder lock (inherited across
    fork) and lock every later build out. On Linux the kernel sends SIGKILL to the worker when
    its parent dies; elsewhere a daemon thread checks the parent every second. Either way a
    parent already gone before this ran ends the worker at once.
    """
    armed = False
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    if os.getppid() != parent:
        os._exit(1)
    if not armed:

        def watch() -> None:
            while os.getppid() == parent:
                threading.Event().wait(1.0)
            os._exit(1)

        threading.Thread(target=watch, name="corpus-export-parent-watch", daemon=True).start()


class _NoPandas:
    """An import hook under which `import pandas` fails."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def give_back_freed_heap() -> None:
    """Return the heap this process freed to the system (glibc's malloc_trim; a no-op elsewhere).

    After a large buffer is freed, glibc raises its threshold for giving large buffers their own
    mapping, so the next ones come from the heap, which it keeps once they are freed: listing a
    million files and planning their tasks left ~90 MB of free heap in the main process for the
    whole build.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).malloc_trim(0)


def pyarrow_without_pandas() -> None:
    """Tell this process's pyarrow that pandas is not installed (for processes that never
    convert to pandas: the workers, and the command line's build).

    pyarrow imports pandas the first time it converts a Python list, to ask whether it is a
    pandas object: 0.15 s and ~48 MB in each worker, which never holds one. pyarrow tries that
    import once; it is made to fail here, once (pandas itself stays importable). Skipped if
    pandas is already loaded or pyarrow's internals are not as expected.
    """
    shim = getattr(pa.lib, "_pandas_api", None)
    if "pandas" in sys.modules or shim is None:
        return
    hook = _NoPandas()
    sys.meta_path.insert(0, hook)
    try:
        shim.have_pandas  # noqa: B018 (the one attempt, which now fails)
        pa.array(["x"])  # and the converter's own, in Arrow's C++ (for pd.NA and NaT)
    except Exception:  # an internal API: never let it break a build
        pass
    finally:
        sys.meta_path.remove(hook)


def start_pool(workers: int) -> ProcessPoolExecutor | None:
    """Start `workers` worker processes now (None for one: parse in this process).

    Called before the raw folder is scanned, so the forked workers do not inherit (and, once
    their garbage collector touches it, copy) the parent's list of every file. Fork where there
    is one: no re-import of __main__ in the workers, so the library works from a notebook,
    stdin or an unguarded script.
    """
    if workers <= 1:
        return None
    method = "fork" if "fork" in mp.get_all_start_methods() else None
    _watch_thread_failures()
    _THREAD_FAILURES.clear()  # (what failed before this pool is not this pool's)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=mp.get_context(method),
        initializer=init_worker,
        initargs=(os.getpid(),),
    )
    try:
        worker_result(pool.submit(int))  # with fork, every worker starts on the first task
    except BaseException:
        stop_pool(pool)
        raise
    return pool


def run_local(
    root: Path | str,
    tasks: Iterable[list[RawFile]],
    part_dir: Path,
    pool: ProcessPoolExecutor | None,
    progress: Progress,
    decide: Decide,
    previous: Previous | None = None,
    caching: bool = False,
    release: Release | None = None,
) -> Generator[Part, None, None]:
    """Yield the encoded Parts of all tasks in order, made by the pool's workers (or in-process).

    Each task goes through a worker twice: parse (rows wait in part_dir as Arrow IPC), then,
    once `decide` has marked its duplicates in task order, encode. Both stages stay in flight
    together, so the workers never wait for the parent. With `caching`, parsed tasks carry what
    the cache notes; with the `previous` export, a task whose files and duplicates are unchanged
    is not encoded: its part is the previous export's.
    """
    base, parts = str(root), str(part_dir)
    prev = previous

    def next_stage(
        parsed: Parsed, files: list[RawFile]
    ) -> tuple[Part | None, Any, tuple[Any, ...]]:
        """Decide a parsed task's duplicates → (its part if reused as is, else how to make it)."""
        keep = decide(parsed)
        note = parsed.reused
        if note is None:
            assert parsed.arrow_path
            return None, encode_task, (parsed.arrow_path, keep, parsed.index, parts)
        assert prev is not None
        if keep == note.keep:  # same files, same duplicates: the previous bytes as they are
            reused = Part(parsed.index, note.rows, note.nbytes, note.stats, prev.parquet, prev.csv)
            reused.group = note.group if note.rows else None
            reused.csv_range = note.csv
            return reused, None, ()
        # its duplicates changed (rare): parse it again, as a cold build would
        return None, rebuild_task, (base, files, keep, parsed.index, parts, release)

    if pool is None:
        for i, task in enumerate(tasks):
            parsed = parse_task(base, task, parts, i, prev, caching, release)
            part, make, args = next_stage(parsed, task)
            progress(len(task))
            yield part if part is not None else make(*args)
        return
    workers = len(getattr(pool, "_processes", None) or {}) or 2
    try:
        parsing: deque[tuple[list[RawFile], Future[Parsed]]] = deque()
        encoding: deque[Future[Part]] = deque()
        todo = iter(enumerate(tasks))

        def submit_next() -> None:
            for i, task in todo:
                future = pool.submit(parse_task, base, task, parts, i, prev, caching, release)
                parsing.append((task, future))
                return

        for _ in range(2 * workers + 1):
            submit_next()
        while parsing or encoding:
            if encoding and (encoding[0].done() or not parsing or len(encoding) > workers):
                yield worker_result(encoding.popleft())
                continue
            task, future = parsing.popleft()
            part, make, args = next_stage(worker_result(future), task)
            if part is not None:
                done: Future[Part] = Future()
                done.set_result(part)
                encoding.append(done)
            else:
                encoding.append(pool.submit(make, *args))
            submit_next()
            progress(len(task))
    except BaseException:  # failed or interrupted: stop now (else the caller does, when done)
        stop_pool(pool)
        raise


_WORKER_DIED = (
    "a worker process died (out of memory, or killed?); no export written. "
    "Try --workers 1 to see the failing page."
)


def worker_result(future: Future[Any], died: str = _WORKER_DIED) -> Any:
    """Return a worker's result; a dead worker or a pool that cannot run is a CorpusExportError.

    The pool's own threads start lazily; one that cannot start (`ulimit -v` too low for its
    stack) dies in that thread, and the future would wait forever. Waiting in short steps, a
    thread that failed to start is seen and reported.
    """
    try:
        while True:
            try:
                return future.result(timeout=0.25)
            except TimeoutError:
                if _THREAD_FAILURES:
                    raise CorpusExportError(
                        f"cannot start a thread ({_THREAD_FAILURES[0]}): out of memory, or a "
                        "virtual memory limit (ulimit -v) too low; no export written"
                    ) from None
    except BrokenProcessPool:
        raise CorpusExportError(died) from None


#: Threads of this process that could not start (RuntimeError from threading), as seen by
#: the hook below: a pool whose feeder or manager thread is missing never finishes a task.
_THREAD_FAILURES: list[BaseException] = []


def _watch_thread_failures() -> None:
    """Record (rather than print) a pool thread that could not start; other thread errors go
    to the hook that was there before. Installed once, by the first pool this process starts."""
    previous = threading.excepthook
    if getattr(previous, "corpus_export", False):
        return

    def note(args: threading.ExceptHookArgs) -> None:
        if isinstance(args.exc_value, RuntimeError) and "can't start new thread" in str(
            args.exc_value
        ):
            _THREAD_FAILURES.append(args.exc_value)
            return
        previous(args)

    note.corpus_export = True  # type: ignore[attr-defined]
    threading.excepthook = note


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now: cancel queued tasks and end the running ones."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public handle
    results = getattr(pool, "_result_queue", None)  # shutdown() drops it
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    for proc in processes:
        proc.join(timeout=5)
    # A worker ended while sending a result leaves half a message in the result pipe, and the
    # pool's manager thread waits for the rest forever (so would interpreter exit, joining it).
    # With every worker gone, closing this process's write end turns that wait into an EOF,
    # which the thread handles as a broken pool and exits.
    writer = getattr(results, "_writer", None)
    if writer is not None and not any(proc.is_alive() for proc in processes):
        writer.close()


def scan_apart(raw: Path, into: Path, pool: ProcessPoolExecutor | None = None) -> Scan:
    """scan_raw in other processes: the pool's workers (idle until the first task), each
    listing a share of raw/ (read.split_scan) while this process sorts what they found into one
    list; without a pool, one short-lived forked process, where there is fork.

    The sorted list goes to the Arrow IPC file `into`, which the parent reads a batch at a
    time: it holds neither the list nor what making it left behind (a million files'
    temporary Python strings cost ~130 MB at the scan's peak, and left ~40 MB of fragmented
    heap for the rest of the build); only Arrow and NumPy columns come back, and go once
    written.
    """
    died = f"the process listing {str(raw)!r} died (out of memory, or killed?); nothing written"
    if pool is not None:
        shares = split_scan(raw, len(getattr(pool, "_processes", None) or {}) or 2)
        futures = [pool.submit(scan_share, raw, share) for share in shares]
        return merge_scans([worker_result(future, died) for future in futures]).finish(into)
    if "fork" not in mp.get_all_start_methods():
        return scan_raw(raw, into)
    _watch_thread_failures()
    ex = ProcessPoolExecutor(
        1, mp_context=mp.get_context("fork"), initializer=init_worker, initargs=(os.getpid(),)
    )
    try:
        return worker_result(ex.submit(scan_raw, raw, into), died)  # type: ignore[no-any-return]
    finally:
        stop_pool(ex)
