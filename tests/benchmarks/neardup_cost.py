"""CPU time and memory of the near-duplicate pass, per page and at a given corpus size.

    python tests/benchmarks/neardup_cost.py /tmp/bench3k [--pages 1000000] [--near 0.01]

The pass has two parts (see src/corpus_export/neardup.py):

- in the workers, a MinHash signature of each body (`signatures`, a task's bodies at once):
  measured on the bodies of the pages under the given folder, in batches of 1,000, best of 3;
- in the parent, the id-ordered decision (`NearDups.decide`): fed `--pages` signatures in tasks
  of 1,000, random ones with a share `--near` of them an earlier head's signature with 10% of
  its minima changed (a near-duplicate at ~0.9), so that candidates are confirmed and
  clusters grow as in a real corpus.

It prints the µs a page of each part, their total at `--pages` pages in CPU seconds, and what
the parent's memory grew by (peak RSS before and after). Compare with the CPU time of a cold
build of that size (RESULTS.md) to get the pass's share of the build.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from corpus_export.errors import Rejected
from corpus_export.neardup import PERMUTATIONS, NearDups, signatures
from corpus_export.parse import parse_page

TASK = 1000


def bodies_of(raw: Path) -> list[str]:
    out = []
    for path in sorted(raw.rglob("*.txt*")):
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        with contextlib.suppress(Rejected):
            out.append(parse_page(data).body)
    return out


def signature_us(bodies: list[str]) -> float:
    best = float("inf")
    for _ in range(3):
        t = time.process_time()
        for i in range(0, len(bodies), TASK):
            signatures(bodies[i : i + TASK])
        best = min(best, time.process_time() - t)
    return best / len(bodies) * 1e6


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def decide_us(pages: int, near: float, seed: int = 0) -> tuple[float, float, int]:
    """→ (µs a page, MiB the peak RSS grew by, near-duplicates found)."""
    rng = np.random.default_rng(seed)
    before = peak_rss_mib()
    found = 0
    with tempfile.TemporaryDirectory() as tmp:
        nd = NearDups(Path(tmp) / "heads", pages)
        kept: list[np.ndarray] = []  # a sample of heads to copy from
        spent = 0.0
        for start in range(0, pages, TASK):
            n = min(TASK, pages - start)
            sigs = rng.integers(1, 2**32, size=(n, PERMUTATIONS), dtype=np.uint32)
            copies = np.flatnonzero(rng.random(n) < near) if kept else np.array([], np.int64)
            for i in copies.tolist():
                sig = kept[int(rng.integers(len(kept)))].copy()
                changed = rng.choice(PERMUTATIONS, PERMUTATIONS // 10, replace=False)
                sig[changed] = rng.integers(1, 2**32, size=len(changed), dtype=np.uint32)
                sigs[i] = sig
            if len(kept) < 10_000:
                kept.extend(sigs[: max(1, n // 100)].copy())  # not views of the task's array
            t = time.process_time()
            got, _ = nd.decide(sigs, [True] * n, start, keep_found=False)
            spent += time.process_time() - t
            found += len(got)
        nd.close()
    return spent / pages * 1e6, peak_rss_mib() - before, found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("raw", type=Path, help="pages whose bodies are signed (e.g. 3,000)")
    ap.add_argument("--pages", type=int, default=1_000_000, help="signatures the parent decides")
    ap.add_argument("--near", type=float, default=0.01, help="share of near-duplicates fed")
    args = ap.parse_args()
    bodies = bodies_of(args.raw)
    sig = signature_us(bodies)
    dec, grew, found = decide_us(args.pages, args.near)
    total = (sig + dec) * args.pages / 1e6
    print(f"signatures (workers): {sig:.1f} µs a page over {len(bodies):,} bodies")
    print(
        f"decisions (parent):   {dec:.1f} µs a page over {args.pages:,} signatures "
        f"({found:,} near-duplicates found); peak RSS +{grew:.0f} MiB"
    )
    print(f"the pass at {args.pages:,} pages: {total:.1f} s CPU")


if __name__ == "__main__":
    main()
