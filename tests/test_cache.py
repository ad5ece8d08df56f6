"""The incremental cache may make a build faster, never different."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
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


@pytest.mark.python_source
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


class _CoarseStat:
    """A stat whose mtime and ctime are those of a file system clock ticking every tick ns."""

    def __init__(self, st: os.stat_result, tick: int) -> None:
        self._st, self._tick = st, tick

    def __getattr__(self, name: str) -> object:
        value = getattr(self._st, name)
        if name in ("st_mtime_ns", "st_ctime_ns"):
            return value // self._tick * self._tick
        return value


class _CoarseEntry:
    def __init__(self, entry: os.DirEntry[str], tick: int) -> None:
        self._entry, self._tick = entry, tick

    def __getattr__(self, name: str) -> object:
        return getattr(self._entry, name)

    def stat(self, **kwargs: bool) -> _CoarseStat:
        return _CoarseStat(self._entry.stat(**kwargs), self._tick)


class _CoarseScandir:
    def __init__(self, it: object, tick: int) -> None:
        self._it, self._tick = it, tick

    def __enter__(self) -> _CoarseScandir:
        return self

    def __exit__(self, *exc: object) -> None:
        self._it.close()  # type: ignore[attr-defined]

    def __iter__(self) -> _CoarseScandir:
        return self

    def __next__(self) -> _CoarseEntry:  # (os.walk calls next() on it)
        return _CoarseEntry(next(self._it), self._tick)  # type: ignore[call-overload]

    def close(self) -> None:
        self._it.close()  # type: ignore[attr-defined]


def coarse_clock(monkeypatch: pytest.MonkeyPatch, tick: int) -> None:
    """Make every stat the build takes see file times in ticks of `tick` ns, as on ext4 before
    Linux 6.13 (the kernel's tick: 1 to 10 ms), ext3 or HFS+ (1 s): files written in one burst
    then share their mtime and ctime. (This machine's kernel stamps them in ns.)"""
    real_stat, real_fstat, real_scandir = os.stat, os.fstat, os.scandir
    monkeypatch.setattr(os, "stat", lambda *a, **k: _CoarseStat(real_stat(*a, **k), tick))
    monkeypatch.setattr(os, "fstat", lambda fd: _CoarseStat(real_fstat(fd), tick))
    monkeypatch.setattr(os, "scandir", lambda *a: _CoarseScandir(real_scandir(*a), tick))


def _same_as_cold(raw: Path, warm: Path, cached: Path, tmp_path: Path) -> bool:
    """Build with the cache into warm and without it elsewhere: byte for byte the same?"""
    result = corpus_export.build(raw, warm, workers=1, cache_dir=cached)
    cold = tmp_path / "cold" / warm.name
    shutil.rmtree(cold.parent, ignore_errors=True)
    corpus_export.build(raw, cold, workers=1)
    assert tree_bytes(warm.parent) == tree_bytes(cold.parent)
    return result.unchanged


def _titles(out: Path) -> dict[str, str]:
    table = pd.read_parquet(out / "corpus.parquet")
    return dict(zip(table["id"], table["title"], strict=True))


@pytest.mark.usefixtures("trust_new_files")
def test_folders_swapped_by_three_renames_are_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same names, same sizes, written in one burst (one ctime tick): swapped with three mv's,
    every page used to keep the other folder's text, and later builds said "up to date"."""
    coarse_clock(monkeypatch, 10**9)
    raw, warm, cached = tmp_path / "raw", tmp_path / "warm" / "dist", tmp_path / "cache"
    for i in range(20):  # 甲 and 乙 are both three bytes: every pair is the same size
        for folder, word in (("a", "甲"), ("b", "乙")):
            (raw / folder).mkdir(parents=True, exist_ok=True)
            (raw / folder / f"{i:02d}.txt").write_text(make_page(f"{word}{i}"), "utf-8")
    assert not _same_as_cold(raw, warm, cached, tmp_path)
    (raw / "a").rename(raw / "t")
    (raw / "b").rename(raw / "a")
    (raw / "t").rename(raw / "b")
    assert not _same_as_cold(raw, warm, cached, tmp_path)
    titles = _titles(warm)
    assert all(titles[f"a/{i:02d}"] == f"乙{i}" for i in range(20))
    assert all(titles[f"b/{i:02d}"] == f"甲{i}" for i in range(20))
    assert _same_as_cold(raw, warm, cached, tmp_path)  # and now nothing changed


@pytest.mark.usefixtures("trust_new_files")
def test_a_link_pointed_at_another_file_of_the_same_size_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    coarse_clock(monkeypatch, 10**9)
    raw, warm, cached = tmp_path / "raw", tmp_path / "warm" / "dist", tmp_path / "cache"
    raw.mkdir()
    (raw / "one.txt").write_text(make_page("第一"), "utf-8")
    (raw / "two.txt").write_text(make_page("第二"), "utf-8")
    (raw / "link.txt").symlink_to("one.txt")
    assert not _same_as_cold(raw, warm, cached, tmp_path)
    assert _titles(warm)["link"] == "第一"
    (raw / "link.txt").unlink()
    (raw / "link.txt").symlink_to("two.txt")
    assert not _same_as_cold(raw, warm, cached, tmp_path)
    assert _titles(warm)["link"] == "第二"


def test_cached_builds_equal_cold_ones_through_random_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A differential test: random edits of raw/ (seeded), each followed by a cached build and
    a --no-cache build, compared byte for byte (every file of the export and the card).

    The edits are those that fooled fingerprints before: content edits, same-size edits with
    the mtime put back, renames, files and folders swapped, links pointed elsewhere, duplicates
    made and removed, pages emptied (a reject) and filled again, pages added and deleted. The
    file system clock ticks every 10 ms (as ext4's did), builds follow edits at once or after
    the racy window, and quiet spells check that the cache is used at all ("up to date")."""
    import random

    coarse_clock(monkeypatch, 10_000_000)
    monkeypatch.setattr(cache, "_RACY_NS", 50_000_000)
    rng = random.Random(20240611)
    raw, warm, cached = tmp_path / "raw", tmp_path / "warm" / "dist", tmp_path / "cache"
    words = "甲乙丙丁戊己庚辛"  # three bytes each: titles made of them keep a page's size
    serial = iter(range(10**6))

    def page(size: int = 2) -> str:
        title = "".join(rng.choice(words) for _ in range(size))
        return make_page(f"标题{title}", paragraphs=(f"正文{title}。", "第二段。"))

    for folder in ("a", "b", "c"):
        (raw / folder).mkdir(parents=True)
        for i in range(6):
            (raw / folder / f"{i}.txt").write_text(page(), "utf-8")
    (raw / "link.txt").symlink_to("a/0.txt")

    def pages() -> list[Path]:
        return sorted(p for p in raw.rglob("*.txt") if not p.is_symlink())

    def edit_content() -> None:
        rng.choice(pages()).write_text(page(rng.randint(1, 4)), "utf-8")

    def edit_same_size() -> None:
        path = rng.choice(pages())
        text = path.read_text("utf-8")
        if "标题" not in text:
            return
        st = path.stat()
        at = text.index("标题") + 2
        path.write_text(text[:at] + rng.choice(words) + text[at + 1 :], "utf-8")
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))

    def rename() -> None:
        path = rng.choice(pages())
        path.rename(raw / rng.choice("abc") / f"r{next(serial)}.txt")

    def swap_files() -> None:
        one, two = rng.sample(pages(), 2)
        one.rename(raw / "swap.tmp")
        two.rename(one)
        (raw / "swap.tmp").rename(two)

    def swap_folders() -> None:
        one, two = (raw / f for f in rng.sample("abc", 2))
        one.rename(raw / "swap.tmp")
        two.rename(one)
        (raw / "swap.tmp").rename(two)

    def retarget_link() -> None:
        (raw / "link.txt").unlink()
        (raw / "link.txt").symlink_to(rng.choice(pages()).relative_to(raw))

    def duplicate() -> None:
        path = rng.choice(pages())
        shutil.copy(path, raw / rng.choice("abc") / f"d{next(serial)}.txt")

    def remove() -> None:
        if len(pages()) > 8:
            rng.choice(pages()).unlink()

    def empty_or_fill() -> None:
        empty = [p for p in pages() if p.stat().st_size == 0]
        if empty and rng.random() < 0.6:
            rng.choice(empty).write_text(page(), "utf-8")
        else:
            rng.choice(pages()).write_bytes(b"")

    def add() -> None:
        (raw / rng.choice("abc") / f"n{next(serial)}.txt").write_text(page(), "utf-8")

    edits = [
        edit_content,
        edit_same_size,
        rename,
        swap_files,
        swap_folders,
        retarget_link,
        duplicate,
        remove,
        empty_or_fill,
        add,
    ]
    assert not _same_as_cold(raw, warm, cached, tmp_path)
    done: list[str] = []
    every = rng.sample(edits, len(edits))  # each kind at least once, then at random
    for step in range(14):
        if step % 5 == 4:  # a quiet spell: past the racy window, nothing to do twice over
            time.sleep(0.06)
            _same_as_cold(raw, warm, cached, tmp_path)
            assert _same_as_cold(raw, warm, cached, tmp_path), f"not up to date after {done}"
        for edit in [every[step % len(every)], *rng.sample(edits, rng.randint(0, 2))]:
            edit()
            done.append(edit.__name__)
        if rng.random() < 0.5:
            time.sleep(0.06)  # the files just changed are trusted at once, or not yet
        try:
            _same_as_cold(raw, warm, cached, tmp_path)
        except AssertionError:
            pytest.fail(f"a cached build differs from a cold one after: {done}")
    assert set(done) == {e.__name__ for e in edits}  # every kind of edit was made


def _cli(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from corpus_export.cli import cli

    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def _files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_a_folder_of_the_users_is_refused_as_cache_and_left_alone(
    raw_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prune() deleted DIR/chunks, DIR/v2..v4 and DIR/v5/notes-* of any --cache-dir, and
    `--cache-dir .` made an export disappear. A folder without the cache's tag that is not
    empty is refused with one Error: line, and nothing in it is touched."""
    mine = tmp_path / "mine"
    for name in ("chunks/a.txt", "v2/b.txt", "v3/c", "v4/d", "v5/notes-1.bin", "v5/x.pkl"):
        (mine / name).parent.mkdir(parents=True, exist_ok=True)
        (mine / name).write_text(name)
    before = _files(mine)
    code, output = _cli(
        "build", "--raw", str(raw_dir), "--out", str(tmp_path / "d"), "--cache-dir", str(mine)
    )
    assert (code, len(output.splitlines())) == (2, 1), output
    assert output.startswith(f"Error: the cache folder {str(mine)!r} is not empty and is not a")
    assert _files(mine) == before
    assert not (tmp_path / "d").exists()

    monkeypatch.chdir(tmp_path)  # an export, then --cache-dir . beside it
    assert _cli("build", "--raw", str(raw_dir), "--out", "dist", "--no-cache")[0] == 0
    export = _files(tmp_path / "dist")
    code, output = _cli("build", "--raw", str(raw_dir), "--out", "dist", "--cache-dir", ".")
    assert code == 2 and output.startswith("Error: the cache folder '.' is not empty"), output
    assert _files(tmp_path / "dist") == export


@pytest.mark.usefixtures("trust_new_files")
def test_the_cache_deletes_only_what_it_marked(raw_dir: Path, tmp_path: Path) -> None:
    """A new or empty folder gets the tag (naming the tool and the layout); in a tagged folder
    only notes files of the tagged layout and the folder of an older layout the tag named are
    deleted; a file put in it by hand stays."""
    out, cached = tmp_path / "dist", tmp_path / "cache"
    cached.mkdir()
    corpus_export.build(raw_dir, out, workers=1, cache_dir=cached)
    tag = (cached / "CACHEDIR.TAG").read_text()
    assert tag.startswith("Signature: 8a477f597d28d172789f06886806bc55\n")
    assert "created by corpus-export (cache layout v6)" in tag
    layout = cached / "v6"
    (layout / "notes-by-hand.bin").write_text("mine")
    (cached / "README").write_text("mine too")
    first = sorted(p.name for p in layout.glob("notes-*"))
    (raw_dir / "new.txt").write_text(make_page("新的一篇"), "utf-8")
    assert not corpus_export.build(raw_dir, out, workers=1, cache_dir=cached).unchanged
    notes = sorted(p.name for p in layout.glob("notes-*"))
    assert len(notes) == 2 and notes != first and "notes-by-hand.bin" in notes
    assert (cached / "README").read_text() == "mine too"

    # a tag naming an older layout: that layout's folder goes, the tag names this one
    (cached / "v5").mkdir()
    (cached / "v5" / "old.bin").write_text("old")
    (cached / "v4").mkdir()  # not named by the tag: kept
    (cached / "CACHEDIR.TAG").write_text(tag.replace("layout v6", "layout v5"))
    corpus_export.build(raw_dir, out, workers=1, cache_dir=cached)
    assert not (cached / "v5").exists()
    assert (cached / "v4").is_dir()
    assert (cached / "CACHEDIR.TAG").read_text() == tag


def test_a_files_digest_is_never_reused_from_an_earlier_build(tmp_path: Path) -> None:
    """Within a build a written file's SHA-256 is remembered (not read again); across builds it
    never is: a later file with the same inode, size and mtime (a coarse clock, or set back) got
    the earlier file's digest in its card and manifest."""
    import hashlib

    from corpus_export.digest import remembered, sha256_file

    f = tmp_path / "rejects.csv"
    f.write_bytes(b"aaaa")
    st = f.stat()
    with remembered():
        first = sha256_file(f)[0]
    f.write_bytes(b"bbbb")  # same inode, same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    with remembered():
        assert sha256_file(f)[0] == hashlib.sha256(b"bbbb").hexdigest() != first
    assert sha256_file(f)[0] == hashlib.sha256(b"bbbb").hexdigest()  # outside a build: read
