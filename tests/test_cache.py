"""The incremental cache may make a build faster, never different."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
from conftest import make_page

import corpus_export
from corpus_export import cache

PACKAGE = Path(corpus_export.__file__).parent
SEED = Path(__file__).parent.parent / "raw" / "000_bba07cf85f81785c.txt"


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _copy_package(tmp_path: Path) -> Path:
    copy = tmp_path / "site" / "corpus_export"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_code_digest_covers_every_file_of_the_package(tmp_path: Path) -> None:
    """No list of modules to forget: a module, data file or template added or edited anywhere
    in the package changes the digest every cache key is salted with; compiled caches don't."""
    copy = _copy_package(tmp_path)
    first = cache.code_digest(copy)
    assert cache.code_digest(copy) == first  # deterministic
    assert cache.code_digest(PACKAGE) == first  # only the package's files, not where it is

    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "notes.cpython-311.pyc").write_bytes(b"\0compiled")
    assert cache.code_digest(copy) == first

    seen = {first}
    for change in (
        lambda: (copy / "rules.py").write_text("SPELLINGS = {'乾': '干'}\n"),  # a new module
        lambda: (copy / "rules.py").write_text("SPELLINGS = {'乾': '幹'}\n"),  # and its rule
        lambda: (copy / "notes.py").write_text((copy / "notes.py").read_text() + "\n"),
        lambda: (copy / "templates" / "extra.j2").write_text("{{ x }}"),
        lambda: (copy / "data").mkdir(),  # an empty folder is no file: no change expected
        lambda: (copy / "data" / "names.txt").write_text("王\n"),  # a data file in a subfolder
        lambda: (copy / "data" / "names.txt").rename(copy / "data" / "other.txt"),
    ):
        change()
        seen.add(cache.code_digest(copy))
    assert len(seen) == 7  # every change but the empty folder made a new digest


def _build_with(site: Path, *args: str) -> None:
    """Run `corpus-export build` on the package copy under site (files of any age trusted)."""
    code = (
        "import sys, corpus_export.cache as c; c._RACY_NS = 0; "
        "from corpus_export.cli import main; sys.argv[0] = 'corpus-export'; main()"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", code, "build", *args], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr


def test_a_rule_edited_in_any_module_makes_the_cached_build_a_cold_one(tmp_path: Path) -> None:
    """notes.py once was not in the salt: an edited author-note rule kept the old authors in
    every cached row. Now the cached rebuild gives what a --no-cache build gives."""
    copy = _copy_package(tmp_path)
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(SEED, raw / SEED.name)
    for i in range(5):
        (raw / f"{i}.txt").write_text(make_page(f"标题{i}", note=f"(作者系第{i}中学教师)"), "utf-8")
    warm, cold, cached = tmp_path / "warm" / "dist", tmp_path / "cold" / "dist", tmp_path / "c"
    _build_with(copy.parent, "--raw", str(raw), "--out", str(warm), "--cache-dir", str(cached))
    before = pd.read_parquet(warm / "corpus.parquet")["author"].tolist()
    assert "第3中学教师" in before

    notes = copy / "notes.py"
    text = notes.read_text(encoding="utf-8")
    rule = '    return note.strip().rstrip("。.;；").strip(), rest\n'
    assert rule in text  # the rule this test edits: where a note's author ends
    notes.write_text(text.replace(rule, rule.replace('"。.;；"', '"。.;；师"')), encoding="utf-8")

    _build_with(copy.parent, "--raw", str(raw), "--out", str(warm), "--cache-dir", str(cached))
    _build_with(copy.parent, "--raw", str(raw), "--out", str(cold), "--no-cache")
    after = pd.read_parquet(warm / "corpus.parquet")["author"].tolist()
    assert "第3中学教" in after
    assert "第3中学教师" not in after
    assert tree_bytes(warm.parent) == tree_bytes(cold.parent)
