"""CPU time a page of the parser, and of the shared minimal parser on the same pages.

    python /work/shared/bench/make_corpus.py --out /tmp/bench3k -n 3000
    python tests/benchmarks/parse_speed.py /tmp/bench3k [--repeats 3] [--pageparse PATH]

Each page is parsed `repeats` times by each parser (bytes in: decoding is part of the work; the
file's SHA-256 is given, as a build computes it while reading); a page's time is its fastest
run (CPU time of this thread), and the script prints the median, mean and 90th percentile over
the pages, in microseconds. The target for corpus_export's parser: a median of 50 µs or less.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from corpus_export.errors import Rejected
from corpus_export.parse import parse_page

PAGEPARSE = Path("/work/shared/bench/pageparse.py")


def load_pages(raw: Path) -> list[tuple[bytes, str]]:
    pages = []
    for path in sorted(raw.rglob("*.txt*")):
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        pages.append((gzip.decompress(data) if path.name.endswith(".gz") else data, digest))
    return pages


def per_page_us(
    parse: Callable[[bytes, str], object], pages: list[tuple[bytes, str]], repeats: int
) -> list[float]:
    clock = time.thread_time_ns
    best = [float("inf")] * len(pages)
    for _ in range(repeats):
        for k, (data, digest) in enumerate(pages):
            start = clock()
            with contextlib.suppress(Exception):  # a reject is work done too
                parse(data, digest)
            best[k] = min(best[k], (clock() - start) / 1000)
    return best


def report(name: str, times: list[float]) -> None:
    q = statistics.quantiles(times, n=10)
    median, mean = statistics.median(times), statistics.fmean(times)
    print(
        f"{name:<14} median {median:7.1f} µs   mean {mean:7.1f} µs   p90 {q[-1]:7.1f} µs"
        f"   ({len(times)} pages)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("raw", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pageparse", type=Path, default=PAGEPARSE)
    args = ap.parse_args()
    pages = load_pages(args.raw)
    if not pages:
        sys.exit(f"no pages under {args.raw}")

    def ours(data: bytes, digest: str) -> object:
        try:
            return parse_page(data, "p", sha256=digest)
        except Rejected as rej:
            return rej

    report("corpus_export", per_page_us(ours, pages, args.repeats))
    if args.pageparse.exists():
        spec = importlib.util.spec_from_file_location("pageparse", args.pageparse)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)

        def minimal(data: bytes, digest: str) -> object:
            return module.parse(data.decode("utf-8"))

        report("pageparse.py", per_page_us(minimal, pages, args.repeats))


if __name__ == "__main__":
    main()
