"""What a Hub re-upload sends: the share of a rebuilt export's Parquet bytes that a
content-addressed store holding the previous export has not seen (~64 KiB FastCDC chunks,
`shared/bench/dedupe_estimate.py`), after 1% of the pages are edited and 1% added.

Usage:
    python ../shared/bench/make_corpus.py --out RAW -n 20000
    python tests/benchmarks/dedupe.py --raw RAW [--work .bench-dedupe] [--shared ../shared/bench]

Variants of RAW (hard links, then the changed files written anew): `edit` edits one body line
of every 100th page; `edit+add` also adds, half-way between the edits, as many new pages (made
by make_corpus.py with another seed: not near-duplicates of any page); `append` adds those new
pages after every other id; `edit+append` edits as `edit` does and appends as `append` does.
Each is built cold (`--no-cache`) and compared with RAW's build. A second table says where the
unseen bytes are: per column, the new file's bytes in chunks the old file lacks, and the data
pages whose bytes are not among the old file's pages (a chunk that spans columns counts in
each). Needs `pip install pyfastcdc`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1].parent / "shared" / "bench"  # beside the repository
CLI = str(Path(sys.executable).with_name("corpus-export"))
EVERY = 100


def edited(text: str, tag: int) -> str:
    """The page with a few characters inserted in its first body line."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if len(line) > 60 and i > 3:
            lines[i] = line[:30] + f"（修订{tag}）" + line[30:]
            break
    return "\n".join(lines)


def variant(raw: Path, dst: Path) -> None:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(raw, dst, copy_function=os.link)


def make_variants(raw: Path, work: Path, shared: Path) -> dict[str, Path]:
    files = sorted(raw.rglob("*.txt"))
    new_dir = work / "new-pages"
    if not new_dir.exists():
        cmd = [sys.executable, str(shared / "make_corpus.py"), "--out", str(new_dir)]
        cmd += ["-n", str(len(files) // EVERY), "--seed", "7", "--bad-fraction", "0"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    new = sorted(new_dir.rglob("*.txt"))
    out = {name: work / name for name in ("edit", "edit+add", "append", "edit+append")}
    for name in ("edit", "edit+add", "edit+append"):
        variant(raw, out[name])
        for k, p in enumerate(files[::EVERY]):
            dst = out[name] / p.relative_to(raw)
            text = p.read_text(encoding="utf-8")
            dst.unlink()  # a hard link: RAW's file stays as it was
            dst.write_text(edited(text, k), encoding="utf-8")
    for k, p in enumerate(files[EVERY // 2 :: EVERY][: len(new)]):
        dst = out["edit+add"] / p.relative_to(raw)
        shutil.copyfile(new[k], dst.with_name(dst.stem + "_n.txt"))
    variant(raw, out["append"])
    for name in ("append", "edit+append"):
        (out[name] / "zzz").mkdir()
        for k, p in enumerate(new):
            shutil.copyfile(p, out[name] / "zzz" / f"{k:05d}.txt")
    return out


def column_spans(path: Path) -> list[tuple[int, int, str, list[tuple[int, int]]]]:
    """(start, end, column, [(page start, page end)]) of every column chunk of a Parquet file."""
    import pyarrow.parquet as pq

    sys.path.insert(0, str(HERE.parent))
    from test_parquet_split import page_index

    md = pq.ParquetFile(path).metadata
    out = []
    for i, columns in enumerate(page_index(path)):
        for j, (_, pages) in enumerate(columns):
            c = md.row_group(i).column(j)
            start = c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset
            spans = [(start + off, start + off + size) for off, size, _ in pages]  # from start
            out.append((start, start + c.total_compressed_size, c.path_in_schema, spans))
    return out


def where_unseen(old: Path, new: Path) -> dict[str, tuple[int, int, int, int]]:
    """Per column of new: (bytes, bytes in chunks old lacks, pages, pages whose bytes old lacks),
    with the shared script's chunker (FastCDC, ~64 KiB)."""
    import pyfastcdc

    def chunks(data: bytes) -> list[tuple[int, int, bytes]]:
        cut = pyfastcdc.FastCDC(avg_size=65536).cut_buf(data)
        return [
            (c.offset, c.length, hashlib.blake2b(data[c.offset : c.offset + c.length]).digest())
            for c in cut
        ]

    a, b = old.read_bytes(), new.read_bytes()
    seen = {h for _, _, h in chunks(a)}
    old_pages = {a[s:e] for *_, pages in column_spans(old) for s, e in pages}
    out: dict[str, list[int]] = {}
    spans = column_spans(new)
    unseen = [(o, o + n) for o, n, h in chunks(b) if h not in seen]
    for start, end, name, pages in spans:
        row = out.setdefault(name.split(".")[0], [0, 0, 0, 0])
        row[0] += end - start
        row[1] += sum(max(0, min(end, e) - max(start, s)) for s, e in unseen)
        row[2] += len(pages)
        row[3] += sum(b[s:e] not in old_pages for s, e in pages)
    return {k: (v[0], v[1], v[2], v[3]) for k, v in out.items()}


def build(raw: Path, out: Path) -> Path:
    shutil.rmtree(out.parent, ignore_errors=True)
    out.parent.mkdir(parents=True)
    cmd = [CLI, "build", "--raw", str(raw), "--out", str(out), "--no-cache", "--quiet"]
    subprocess.run(cmd, check=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--raw", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=Path(".bench-dedupe"))
    ap.add_argument("--shared", type=Path, default=SHARED, help="the shared bench scripts")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    variants = make_variants(args.raw, args.work, args.shared)
    base = build(args.raw, args.work / "built" / "raw" / "dist")
    size = (base / "corpus.parquet").stat().st_size
    print(f"RAW: corpus.parquet {size:,} bytes")
    print("| variant | new Parquet bytes | unseen bytes | unseen share |")
    print("|---|---:|---:|---:|")
    built = {}
    for name, raw in variants.items():
        out = built[name] = build(raw, args.work / "built" / name / "dist")
        estimate = [sys.executable, str(args.shared / "dedupe_estimate.py"), str(base), str(out)]
        said = subprocess.run(estimate, check=True, capture_output=True, text=True).stdout
        got = dict(kv.split("=") for kv in said.split())
        print(
            f"| {name} | {int(got['new_parquet_bytes']):,} | {int(got['unseen_bytes']):,} "
            f"| {float(got['unseen_fraction']):.1%} |"
        )
    print("\nUnseen bytes by column: share of the new file (new data pages / data pages)\n")
    old = base / "corpus.parquet"
    where = {k: where_unseen(old, v / "corpus.parquet") for k, v in built.items()}
    sizes = {k: (v / "corpus.parquet").stat().st_size for k, v in built.items()}
    print("| column | bytes in RAW's | " + " | ".join(where) + " |")
    print("|---|---:|" + "---:|" * len(where))
    for col, size in where_unseen(old, old).items():
        cells = [f"{w[col][1] / sizes[k]:.1%} ({w[col][3]}/{w[col][2]})" for k, w in where.items()]
        print(f"| {col} | {size[0]:,} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
