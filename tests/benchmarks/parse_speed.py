"""CPU time a page of the parser, and of the shared minimal parser on the same pages.

    python /work/shared/bench/make_corpus.py --out /tmp/bench3k -n 3000
    python tests/benchmarks/parse_speed.py /tmp/bench3k [--repeats 3] [--pageparse PATH]
        [--against REV]

Each page is parsed `repeats` times by each parser (bytes in: decoding is part of the work; the
file's SHA-256 is given, as a build computes it while reading); a page's time is its fastest
run (CPU time of this thread), and the script prints the median, mean and 90th percentile over
the pages, in microseconds, and each median's ratio to `pageparse.py`'s. The parsers take
turns page by page (in alternating order), so a machine whose speed drifts slows them alike.
It says whether the installed parser is compiled (`pip install .`) or Python (`pip install -e`).
`--against REV` adds the parser of the git revision REV (its package read from git into a
temporary folder, always Python) and prints the median per page of new/old: how a change
compares on a shared machine. The target for corpus_export's parser: a median of 50 µs or less.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from corpus_export import parse as parse_module
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
    parsers: dict[str, Callable[[bytes, str], object]], pages: list[tuple[bytes, str]], repeats: int
) -> dict[str, list[float]]:
    """Each parser's fastest time (µs) on each page; the parsers take turns page by page."""
    clock = time.thread_time_ns
    best = {name: [float("inf")] * len(pages) for name in parsers}
    order = list(parsers.items())
    for r in range(repeats):
        for k, (data, digest) in enumerate(pages):
            for name, parse in order if (k + r) % 2 else order[::-1]:
                start = clock()
                with contextlib.suppress(Exception):  # a reject is work done too
                    parse(data, digest)
                best[name][k] = min(best[name][k], (clock() - start) / 1000)
    return best


def parser_at(rev: str, into: Path) -> Callable[[bytes, str], object]:
    """parse_page of the package as git revision `rev` has it, imported from `into`."""
    root = Path(__file__).resolve().parents[2]
    package = into / "corpus_export_at_rev"
    package.mkdir(parents=True)
    names = subprocess.run(
        ["git", "-C", str(root), "ls-tree", "--name-only", rev, "src/corpus_export/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in names:
        if name.endswith(".py"):
            data = subprocess.run(
                ["git", "-C", str(root), "show", f"{rev}:{name}"], capture_output=True, check=True
            ).stdout
            (package / Path(name).name).write_bytes(data)
    sys.path.insert(0, str(into))
    module = importlib.import_module("corpus_export_at_rev.parse")
    return lambda data, digest: module.parse_page(data, "p", sha256=digest)


def report(name: str, times: list[float], base: float | None) -> None:
    q = statistics.quantiles(times, n=10)
    median, mean = statistics.median(times), statistics.fmean(times)
    ratio = f"   {median / base:.2f}x pageparse" if base else ""
    print(
        f"{name:<14} median {median:7.1f} µs   mean {mean:7.1f} µs   p90 {q[-1]:7.1f} µs"
        f"   ({len(times)} pages){ratio}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("raw", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--pageparse", type=Path, default=PAGEPARSE)
    ap.add_argument("--against", metavar="REV", help="also time the parser of git revision REV")
    args = ap.parse_args()
    pages = load_pages(args.raw)
    if not pages:
        sys.exit(f"no pages under {args.raw}")
    parsers: dict[str, Callable[[bytes, str], object]] = {
        "corpus_export": lambda data, digest: parse_page(data, "p", sha256=digest)
    }
    with tempfile.TemporaryDirectory() as tmp:
        if args.against:
            parsers[f"at {args.against}"] = parser_at(args.against, Path(tmp))
        if args.pageparse.exists():
            spec = importlib.util.spec_from_file_location("pageparse", args.pageparse)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            parsers["pageparse.py"] = lambda data, digest: module.parse(data.decode("utf-8"))
        best = per_page_us(parsers, pages, args.repeats)
    base = statistics.median(best["pageparse.py"]) if "pageparse.py" in best else None
    where = parse_module.__file__ or ""
    kind = "Python" if where.endswith(".py") else "compiled by mypyc"  # pip install . (setup.py)
    print(f"corpus_export's parser: {kind}, {where}")
    for name, times in best.items():
        report(name, times, base)
    if args.against:
        old, new = best[f"at {args.against}"], best["corpus_export"]
        per_page = statistics.median(b / a for a, b in zip(old, new, strict=True))
        print(f"per page, corpus_export / at {args.against}: median {per_page:.3f}")


if __name__ == "__main__":
    main()
