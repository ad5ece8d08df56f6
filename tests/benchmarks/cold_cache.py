"""Page counts → `corpus-export build` from a cold page cache and from a warm one.

Usage (as root, which may drop the page cache; Linux):
    python tests/benchmarks/cold_cache.py --pages 100000 [--repeat 2] [--src OTHER/src ...]
        [--workdir .bench] [--seed 0]

Before each cold run the page cache is written back and dropped (`sync`, then
`echo 1 > /proc/sys/vm/drop_caches`), so the raw pages come from the disk, as in a first build of
freshly scraped pages or a corpus bigger than the cache; each warm run follows a run that read
them. Every build is cold for the incremental cache (`--no-cache`). With `--src`, the same runs
are made, alternating, with other source trees of the package (say a `git worktree` of an older
commit), to compare them: this tree's `src/` is the first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench

DROP = Path("/proc/sys/vm/drop_caches")


def drop_page_cache() -> None:
    subprocess.run(["sync"], check=True)
    DROP.write_text("1\n")


def run_build(src: Path, raw: Path, work: Path, log: Path) -> bench.Run:
    out = bench.fresh_dir(work) / "dist"
    cmd = [sys.executable, "-m", "corpus_export", "build", "--raw", str(raw), "--out", str(out)]
    cmd += ["--card", str(work / "CARD.md"), "--no-cache", "--quiet"]
    env_before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(src)  # the tree measured, for this process's children
    try:
        return bench.measure(cmd, log)
    finally:
        if env_before is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = env_before


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--src", type=Path, action="append", default=[], help="another src/ tree")
    ap.add_argument("--workdir", type=Path, default=bench.REPO / ".bench")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not os.access(DROP, os.W_OK):
        sys.exit(f"cannot write {DROP}: run as root on Linux to drop the page cache")
    corpus = bench.ensure_corpus(args.workdir, args.pages, args.seed)
    trees = [bench.REPO / "src", *(p.resolve() for p in args.src)]
    work = args.workdir / "cold"
    times: dict[tuple[int, str], list[float]] = {}
    for r in range(args.repeat):
        for cache in ("cold", "warm"):
            for t, src in enumerate(trees):
                if cache == "cold":
                    drop_page_cache()
                run = run_build(src, corpus.path, work / "out", work / f"{t}-{cache}-{r}.log")
                if not run.ok:
                    sys.exit(f"the build failed: see {work}")
                times.setdefault((t, cache), []).append(run.wall)
                print(f"  [{r + 1}/{args.repeat}] {cache} {src}: {run.wall:.2f} s", flush=True)
    shutil.rmtree(work / "out", ignore_errors=True)
    print(f"\n{args.pages} pages, {corpus.raw_bytes / 1e6:.1f} MB raw; median wall s (runs)\n")
    print("| src tree | cold page cache | warm page cache |\n|---|---:|---:|")
    for t, src in enumerate(trees):
        cells = [
            f"{statistics.median(times[t, c]):.2f} ({', '.join(f'{x:.2f}' for x in times[t, c])})"
            for c in ("cold", "warm")
        ]
        print(f"| {src} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
