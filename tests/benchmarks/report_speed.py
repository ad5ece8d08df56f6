"""Time `corpus-export report` on an export, its file's size, and how fast Chromium shows it.

    corpus-export build --raw RAW --out /tmp/r/dist --card /tmp/r/CARD.md
    python tests/benchmarks/report_speed.py /tmp/r/dist RAW [--sample 1000]

Prints the wall time of the command, the file's size, and in headless Chromium (Debian's, at
/usr/bin/chromium) the first paint and first contentful paint after navigation start, and the
time to draw the Pages tab and one page view. Targets for 100,000 rows with the default sample:
written in 10 s or less, 25 MB or less, first paint in 2 s or less.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXE = Path(sys.executable).with_name("corpus-export")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dist", type=Path)
    ap.add_argument("raw", type=Path)
    ap.add_argument("--sample", type=int, default=None)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="report-bench-")) / "report.html"
    cmd = [str(EXE), "report", str(args.dist), "--raw", str(args.raw), "-o", str(out)]
    if args.sample is not None:
        cmd += ["--sample", str(args.sample)]
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    print(f"written in {time.perf_counter() - started:.2f} s")
    print(f"size {out.stat().st_size / 1e6:.1f} MB")

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(out.as_uri(), wait_until="load")
        paints = page.evaluate(
            "() => Object.fromEntries(performance.getEntriesByType('paint')"
            ".map(e => [e.name, e.startTime]))"
        )
        load = page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
        for name, ms in sorted(paints.items()):
            print(f"{name} {ms / 1000:.2f} s")
        print(f"load event {load / 1000:.2f} s")
        started = time.perf_counter()
        page.click("#tab-pages")
        page.wait_for_selector("#rows-table tbody tr")
        print(f"Pages tab drawn in {time.perf_counter() - started:.2f} s")
        started = time.perf_counter()
        page.click("#rows-table tbody tr")
        page.wait_for_selector("#page-view ol.lines li")
        print(f"a page view drawn in {time.perf_counter() - started:.2f} s")
        browser.close()


if __name__ == "__main__":
    main()
