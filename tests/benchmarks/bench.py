"""Page counts → wall time, throughput and peak memory of `corpus-export build` and baselines.

Usage:
    python tests/benchmarks/bench.py --pages 20000 [--pages 100000] [--repeat 3]
        [--skip-naive] [--no-incremental] [--datatrove-python PATH] [--workdir .bench]
        [--seed 0] [--append tests/benchmarks/RESULTS.md]

Each approach runs as a whole subprocess, round-robin within one run (so drift from other load
hits every approach alike); the table shows medians. Peak RSS is the maximum, over polls every
50 ms, of the RSS summed over the process and all its descendants.

datatrove is not a dependency of the project: the datatrove baseline (`baselines.py datatrove`,
2 tasks on 2 workers) runs with the interpreter given by --datatrove-python, one of a separate
venv that has datatrove and this project installed, e.g.

    python3.11 -m venv /tmp/dtvenv && /tmp/dtvenv/bin/pip install datatrove==0.10.1
    /tmp/dtvenv/bin/pip install -e .

and is skipped without it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import hashlib
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PY = sys.executable
CLI = str(Path(PY).with_name("corpus-export"))
POLL_SECONDS = 0.05
#: Naive pandas needs about this many bytes of RAM per raw byte (measured: ~11x at 5k pages).
NAIVE_RAM_FACTOR = 12
#: The project's bare reference (shared/bench beside the repo): two worker processes, a minimal
#: regex parser, one Parquet and one CSV. Skipped when it is not there.
BARE_SCRIPT = REPO.parent / "shared" / "bench" / "limit_parse_write.py"
INCREMENTAL_EVERY = 100  # modify every 100th file: 1% of the pages
APPENDED = "这是为测量增量重建而追加的一句话。"  # "a sentence appended to measure a rebuild"
TEASER_HEADING = "其他文献"


@dataclass(frozen=True, slots=True)
class Approach:
    name: str
    label: str

    def command(self, raw: Path, out: Path, python: str | None = None) -> list[str]:
        """Return the command line; python runs a baseline script (default: this interpreter)."""
        if self.name.startswith("build-w"):
            workers = self.name.removeprefix("build-w")
            return [
                CLI,
                "build",
                "--quiet",
                "--workers",
                workers,
                "--raw",
                str(raw),
                "--out",
                str(out),
            ]
        if self.name == "bare":
            return [python or PY, str(BARE_SCRIPT), "--raw", str(raw), "--out", str(out)]
        return [
            python or PY,
            str(HERE / "baselines.py"),
            self.name,
            str(raw),
            str(out),
            "--workers",
            "2",
        ]


APPROACHES = (
    Approach("build-w2", "`corpus-export build --workers 2`"),
    Approach("build-w1", "`corpus-export build --workers 1`"),
    Approach("bare", "bare reference (shared/bench/limit_parse_write.py)"),
    Approach("tight", "tight script (2 procs, Parquet + CSV)"),
    Approach("naive", "naive pandas + datasets"),
    Approach("datatrove", "datatrove pipeline (2 tasks, Parquet + CSV)"),
    Approach("datatrove-defaults", "the same, datatrove's Parquet defaults (CDC, page index)"),
    Approach("floor", "floor: list + read + decode + sha256 (2 procs)"),
)


@dataclass(slots=True)
class Run:
    wall: float
    peak_rss: int
    ok: bool
    cpu: float  # user + system seconds of the whole process tree
    peak_pss: int = 0  # proportional set size: pages shared by forked workers counted once


@dataclass(slots=True)
class Corpus:
    path: Path
    pages: int
    files: int
    raw_bytes: int


@dataclass(slots=True)
class SizeResult:
    corpus: Corpus
    runs: dict[str, list[Run]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    incremental: dict[str, float] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)  # 1-min load average before and after

    def wall(self, name: str) -> float | None:
        ok = [r.wall for r in self.runs.get(name, []) if r.ok]
        return statistics.median(ok) if ok else None

    def cpu(self, name: str) -> float | None:
        ok = [r.cpu for r in self.runs.get(name, []) if r.ok]
        return statistics.median(ok) if ok else None

    def peak(self, name: str) -> int | None:
        ok = [r.peak_rss for r in self.runs.get(name, []) if r.ok]
        return max(ok) if ok else None

    def peak_pss(self, name: str) -> int | None:
        ok = [r.peak_pss for r in self.runs.get(name, []) if r.ok]
        return max(ok) if ok else None


# ---------------------------------------------------------------------------------------------
# measuring


def sample_tree(
    proc: psutil.Process, cpu: dict[int, float], with_pss: bool = True
) -> tuple[int, int]:
    """Return (RSS, PSS) of proc plus all its descendants; record each one's CPU seconds.

    PSS reads /proc/PID/smaps_rollup, which costs the kernel real time: ask for it sparingly.
    """
    rss = pss = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied), p.oneshot():
            if with_pss:
                full = p.memory_full_info()
                rss += full.rss
                pss += getattr(full, "pss", full.rss)
            else:
                rss += p.memory_info().rss
            t = p.cpu_times()
            cpu[p.pid] = max(cpu.get(p.pid, 0.0), t.user + t.system)
    return rss, pss


def measure(cmd: list[str], log: Path) -> Run:
    """Run cmd to completion → wall seconds and peak RSS of its process tree."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as fh:
        start = time.perf_counter()
        popen = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)
        proc = psutil.Process(popen.pid)
        peak = peak_pss = polls = 0
        cpu: dict[int, float] = {}
        while True:
            # wait4 rather than poll: its rusage covers the child and every descendant it reaped.
            pid, status, usage = os.wait4(popen.pid, os.WNOHANG)
            if pid:
                break
            polls += 1
            rss, pss = sample_tree(proc, cpu, with_pss=polls % 5 == 1)
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
            time.sleep(POLL_SECONDS)
        wall = time.perf_counter() - start
    popen.returncode = code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = log.read_text(errors="replace")[-2000:]
        print(f"  FAILED (exit {code}): {shlex.join(cmd)}\n{tail}", file=sys.stderr)
    # rusage misses descendants nobody reaped (the forkserver); samples miss the last 50 ms.
    cpu_seconds = max(usage.ru_utime + usage.ru_stime, sum(cpu.values()))
    return Run(wall, peak, code == 0, cpu_seconds, peak_pss)


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# ---------------------------------------------------------------------------------------------
# corpora


def generator_digest() -> str:
    return hashlib.sha256((HERE / "gen_corpus.py").read_bytes()).hexdigest()[:12]


def ensure_corpus(workdir: Path, pages: int, seed: int) -> Corpus:
    """Generate the corpus of (pages, seed) unless a complete one from this generator exists."""
    path = workdir / "corpus" / f"n{pages}-s{seed}"
    marker = path.with_name(path.name + ".done")
    digest = generator_digest()
    if not (marker.exists() and marker.read_text().strip() == digest):
        fresh_dir(path)
        marker.unlink(missing_ok=True)
        t = time.perf_counter()
        subprocess.run(
            [PY, str(HERE / "gen_corpus.py"), str(path), str(pages), "--seed", str(seed)],
            check=True,
            cwd=REPO,
        )
        print(f"  generated in {time.perf_counter() - t:.1f} s")
        marker.write_text(digest + "\n")
    files = [p for p in path.rglob("*") if p.is_file()]
    return Corpus(path, pages, len(files), sum(p.stat().st_size for p in files))


def link_copy(src: Path, dst: Path) -> None:
    """Copy a tree as hard links (cheap); files are later replaced, never written in place."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, copy_function=os.link)


def modify_page(path: Path) -> bool:
    """Append a sentence to the longest body line of a page, keeping its encoding."""
    data = path.read_bytes()
    gz = path.name.endswith(".gz")
    if gz:
        data = gzip.decompress(data)
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text, enc = data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        try:
            text, enc = data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError:
            return False
    if "\x00" in text or not text.strip():
        return False
    lines = text.split("\n")
    end = next((i for i, line in enumerate(lines) if line.strip() == TEASER_HEADING), len(lines))
    i = max(range(end), key=lambda j: len(lines[j]), default=0)
    line = lines[i]
    cr = "\r" if line.endswith("\r") else ""
    lines[i] = line.removesuffix("\r") + APPENDED + cr
    out = ("\ufeff" if bom else "") + "\n".join(lines)
    new = out.encode(enc)
    if gz:
        new = gzip.compress(new, mtime=0)
    path.unlink()  # break the hard link: the cached corpus stays untouched
    path.write_bytes(new)
    return True


def add_pages(raw: Path) -> int:
    """Add 1% of new pages spread over the corpus: a copy of every 100th file, changed, under a
    name sorting right after it (as newly scraped pages land among the others)."""
    files = sorted(p for p in raw.rglob("*") if p.is_file())
    added = 0
    for p in files[::INCREMENTAL_EVERY]:
        new = p.with_name(p.name.replace(".txt", "-new.txt", 1))
        shutil.copyfile(p, new)
        added += modify_page(new)
    return added


def modify_corpus(raw: Path, *, together: bool = False) -> int:
    """Modify 1% of the pages: every 100th file (spread over the whole corpus), or (together)
    a run of consecutive files a third of the way in, as a re-scraped section would be."""
    files = sorted(p for p in raw.rglob("*") if p.is_file())
    if together:
        start = len(files) // 3
        chosen = files[start : start + len(files) // INCREMENTAL_EVERY]
    else:
        chosen = files[::INCREMENTAL_EVERY]
    return sum(modify_page(p) for p in chosen)


# ---------------------------------------------------------------------------------------------
# the benchmark


def naive_fits(corpus: Corpus) -> bool:
    available = int(psutil.virtual_memory().available)
    return corpus.raw_bytes * NAIVE_RAM_FACTOR < 0.7 * available


def bench_size(
    workdir: Path,
    pages: int,
    seed: int,
    repeat: int,
    skip_naive: bool,
    incremental: bool,
    datatrove_python: str | None = None,
) -> SizeResult:
    print(f"== {pages} pages (seed {seed})")
    corpus = ensure_corpus(workdir, pages, seed)
    print(f"  corpus: {corpus.files} files, {corpus.raw_bytes / 1e6:.1f} MB at {corpus.path}")
    res = SizeResult(corpus)
    approaches = list(APPROACHES)
    if skip_naive:
        res.skipped["naive"] = "--skip-naive"
    elif not naive_fits(corpus):
        res.skipped["naive"] = f"needs ~{NAIVE_RAM_FACTOR}x raw bytes of RAM"
    if not BARE_SCRIPT.is_file():
        res.skipped["bare"] = f"{BARE_SCRIPT} not found"
    if datatrove_python is None:
        res.skipped["datatrove"] = res.skipped["datatrove-defaults"] = "no --datatrove-python given"
    # the interpreter of each approach not run by PY
    python = {"datatrove": datatrove_python, "datatrove-defaults": datatrove_python}
    approaches = [a for a in approaches if a.name not in res.skipped]
    # Untimed floor run: every approach then starts with the corpus in the page cache.
    floor = next(a for a in APPROACHES if a.name == "floor")
    measure(floor.command(corpus.path, workdir / "out" / "warm"), workdir / "logs" / "warm.log")
    res.load.append(os.getloadavg()[0])
    for r in range(repeat):
        for a in approaches:
            base = fresh_dir(workdir / "out" / a.name)  # cold: nothing left from the last run
            run = measure(
                a.command(corpus.path, base / "dist", python.get(a.name)),
                workdir / "logs" / f"{pages}-{a.name}-{r}.log",
            )
            res.runs.setdefault(a.name, []).append(run)
            shutil.rmtree(base, ignore_errors=True)  # a 1M-page export and cache are ~25 GB
            print(
                f"  [{r + 1}/{repeat}] {a.name:<10} {run.wall:7.2f} s  {run.cpu:7.2f} s CPU  "
                f"{run.peak_rss / 2**20:7.0f} MiB{'' if run.ok else '  FAILED'}"
            )
        shutil.rmtree(workdir / "out", ignore_errors=True)
    res.load.append(os.getloadavg()[0])
    if incremental:
        res.incremental = bench_incremental(workdir, corpus)
    return res


def bench_incremental(workdir: Path, corpus: Corpus) -> dict[str, float]:
    """Cold build, no-change rebuild, rebuild after modifying 1% of the pages spread over the
    corpus, after modifying another 1% in one run of consecutive files, and after adding 1%."""
    base = fresh_dir(workdir / "incr")
    raw, out = base / "raw", base / "dist"
    link_copy(corpus.path, raw)
    # Linking moved every file's ctime to now, and the cache never trusts a file changed in the
    # last 2 s (it could change again within the same clock tick): let them age, as scraped
    # pages have, so the cold build's notes are usable.
    time.sleep(2.5)
    build = APPROACHES[0]
    logs = workdir / "logs"
    cold = measure(build.command(raw, out), logs / f"{corpus.pages}-incr-cold.log")
    same = measure(build.command(raw, out), logs / f"{corpus.pages}-incr-same.log")
    changed = modify_corpus(raw)
    time.sleep(2.5)  # (as above: edits older than the cache's 2 s window)
    warm = measure(build.command(raw, out), logs / f"{corpus.pages}-incr-1pct.log")
    together = modify_corpus(raw, together=True)
    time.sleep(2.5)
    run = measure(build.command(raw, out), logs / f"{corpus.pages}-incr-1pct-run.log")
    added = add_pages(raw)
    time.sleep(2.5)
    grown = measure(build.command(raw, out), logs / f"{corpus.pages}-incr-1pct-added.log")
    shutil.rmtree(base, ignore_errors=True)
    print(
        f"  incremental: cold {cold.wall:.2f} s, unchanged {same.wall:.2f} s, "
        f"{changed} pages changed (spread) {warm.wall:.2f} s, "
        f"{together} pages changed (consecutive) {run.wall:.2f} s, "
        f"{added} pages added (spread) {grown.wall:.2f} s"
    )
    if not (cold.ok and same.ok and warm.ok and run.ok and grown.ok):
        return {}
    return {
        "cold": cold.wall,
        "unchanged": same.wall,
        "changed": warm.wall,
        "changed_run": run.wall,
        "added": grown.wall,
        "changed_pages": changed,
    }


# ---------------------------------------------------------------------------------------------
# reporting


def fmt(x: float | None, spec: str = ".2f", suffix: str = "") -> str:
    return "n/a" if x is None else f"{x:{spec}}{suffix}"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def table(results: list[SizeResult]) -> str:
    lines = [
        "| pages | approach | wall s (median) | runs (s) | CPU s (median) | pages/s | MB/s "
        "| peak RSS MiB | peak PSS MiB |",
        "|---:|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for res in results:
        c = res.corpus
        for a in APPROACHES:
            if a.name in res.skipped:
                lines.append(
                    f"| {c.pages} | {a.label} | skipped ({res.skipped[a.name]}) | | | | | | |"
                )
                continue
            runs = res.runs.get(a.name, [])
            wall = res.wall(a.name)
            peak = res.peak(a.name)
            pss = res.peak_pss(a.name)
            walls = ", ".join(f"{r.wall:.2f}" + ("" if r.ok else "!") for r in runs)
            lines.append(
                f"| {c.pages} | {a.label} | {fmt(wall)} | {walls} | {fmt(res.cpu(a.name))} "
                f"| {fmt(ratio(c.files, wall), '.0f')} "
                f"| {fmt(ratio(c.raw_bytes / 1e6, wall), '.1f')} "
                f"| {fmt(None if peak is None else peak / 2**20, '.0f')} "
                f"| {fmt(None if pss is None else pss / 2**20, '.0f')} |"
            )
    return "\n".join(lines)


def ratios(results: list[SizeResult]) -> str:
    lines = [
        "| pages | build/bare (≤ 1.2) | build/tight (≤ 1.0) "
        "| datatrove/build (≥ 2): tuned / defaults | naive/build (≥ 3) "
        "| w1/w2 speedup (≥ 1.7) | build/floor "
        "| rebuild, 1% changed: spread / consecutive / added (≤ 15 %) | rebuild, unchanged |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for res in results:
        b2 = res.wall("build-w2")
        inc = res.incremental
        pct = {
            k: fmt(ratio(100 * inc[k], inc["cold"]), ".0f", " %") if k in inc else "n/a"
            for k in ("changed", "changed_run", "added", "unchanged")
        }
        lines.append(
            f"| {res.corpus.pages} | {fmt(ratio(b2, res.wall('bare')))} "
            f"| {fmt(ratio(b2, res.wall('tight')))} "
            f"| {fmt(ratio(res.wall('datatrove'), b2))} / "
            f"{fmt(ratio(res.wall('datatrove-defaults'), b2))} "
            f"| {fmt(ratio(res.wall('naive'), b2))} "
            f"| {fmt(ratio(res.wall('build-w1'), b2))} "
            f"| {fmt(ratio(b2, res.wall('floor')))} "
            f"| {pct['changed']} / {pct['changed_run']} / {pct['added']} | {pct['unchanged']} |"
        )
    out = "\n".join(lines)
    out += "\n\nCorpora and load (1-min load average before → after the timed runs):\n\n"
    out += "\n".join(
        f"- {r.corpus.pages} pages: {r.corpus.files} files, "
        f"{r.corpus.raw_bytes / 1e6:.1f} MB raw; load {' → '.join(f'{x:.2f}' for x in r.load)}"
        for r in results
    )
    if len(results) >= 2:
        small, large = results[0], results[-1]
        scale = large.corpus.files / small.corpus.files
        notes = []
        for name in ("build-w2", "build-w1", "bare", "tight"):
            ps, pl = small.peak(name), large.peak(name)
            ws, wl = small.wall(name), large.wall(name)
            notes.append(
                f"- `{name}`: peak RSS {fmt(ps and ps / 2**20, '.0f')} → "
                f"{fmt(pl and pl / 2**20, '.0f')} MiB (x{fmt(ratio(pl, ps))} for x{scale:.1f} "
                f"pages; flat = 1.0); time per page x{fmt(ratio(ratio(wl, scale), ws))} "
                "(linear = 1.0)"
            )
        out += (
            f"\n\nMemory flatness and linearity, {small.corpus.pages} → "
            f"{large.corpus.pages} pages:\n\n" + "\n".join(notes)
        )
    return out


def src_state() -> str:
    """Return HEAD, plus the uncommitted changes under src/ if any."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=REPO
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--", "src").replace("\n", ", ")
    # the tree of src/ tells whether the measured code changed (a commit of docs alone does not)
    return (
        git("rev-parse", "HEAD")
        + f" (src/ tree {git('rev-parse', 'HEAD:src')[:12]})"
        + (f" (uncommitted in src/: {dirty})" if dirty else "")
    )


def _src_of(state: str) -> str:
    """The src/ part of a src_state() string: its tree, and any uncommitted changes."""
    return state.split(" ", 1)[1] if " " in state else state


def datatrove_version(python: str) -> str:
    """Return "datatrove X, pyarrow Y" of the interpreter that runs the datatrove baseline."""
    code = (
        "from importlib.metadata import version as v; "
        "print(f\"datatrove {v('datatrove')}, pyarrow {v('pyarrow')}\")"
    )
    done = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "datatrove: version unknown"


def machine(commit_before: str, datatrove_python: str | None = None) -> str:
    import pyarrow

    cpu = "unknown"
    with Path("/proc/cpuinfo").open() as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = src_state()
    return (
        f"- machine: {os.cpu_count()} cores (nproc), "
        f"{psutil.virtual_memory().total / 2**30:.1f} GiB RAM, CPU {cpu}, {platform.system()} "
        f"{platform.release()}\n"
        f"- python {platform.python_version()}, pyarrow {pyarrow.__version__}\n"
        + (
            f"- {datatrove_version(datatrove_python)} ({datatrove_python})\n"
            if datatrove_python
            else ""
        )
        + (
            f"- commit measured: {commit}"
            if commit == commit_before
            else f"- commit measured: {commit_before} at the start, {commit} at the end"
            + (" (src/ unchanged)" if _src_of(commit) == _src_of(commit_before) else "")
        )
    )


def report(
    results: list[SizeResult],
    command: str,
    started: dt.datetime,
    commit_before: str,
    datatrove_python: str | None = None,
) -> str:
    return (
        f"### {started:%Y-%m-%d %H:%M} UTC\n\n"
        f"```\n{command}\n```\n\n{machine(commit_before, datatrove_python)}\n\n"
        f"{table(results)}\n\n{ratios(results)}\n"
    )


def size_arg(text: str) -> tuple[int, int | None]:
    """Parse N or N:R → (pages, repeat or None for --repeat)."""
    n, _, r = text.partition(":")
    return int(n), int(r) if r else None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Benchmark corpus-export build against baselines.")
    ap.add_argument(
        "--pages",
        type=size_arg,
        action="append",
        required=True,
        help="corpus size N, or N:R to repeat this size R times; repeat the flag for several sizes",
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--no-incremental", action="store_true")
    ap.add_argument(
        "--datatrove-python",
        metavar="PATH",
        default=None,
        help="interpreter with datatrove and this project installed; without it the datatrove "
        "baseline is skipped",
    )
    ap.add_argument("--workdir", type=Path, default=REPO / ".bench")
    ap.add_argument("--append", type=Path, default=None, help="append the report to this file")
    args = ap.parse_args(argv)
    if args.datatrove_python:
        # Absolute (commands run in the repo) but not resolved: a venv's python is a symlink.
        args.datatrove_python = os.path.abspath(args.datatrove_python)
        if not os.access(args.datatrove_python, os.X_OK):
            ap.error(f"--datatrove-python: {args.datatrove_python} is not an executable")
    started = dt.datetime.now(dt.UTC)
    command = shlex.join(["python", *sys.argv]) if argv is None else shlex.join(argv)
    workdir = args.workdir.resolve()
    commit_before = src_state()
    results = [
        bench_size(
            workdir,
            n,
            args.seed,
            r or args.repeat,
            args.skip_naive,
            not args.no_incremental,
            args.datatrove_python,
        )
        for n, r in sorted(args.pages)
    ]
    text = report(results, command, started, commit_before, args.datatrove_python)
    print("\n" + text)
    if args.append:
        with args.append.open("a", encoding="utf-8") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
