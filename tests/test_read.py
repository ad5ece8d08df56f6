"""Finding raw files, their ids and hashes."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import pytest

from corpus_export.errors import Reason, Rejected
from corpus_export.read import RawFile, page_id, read_raw, scan_raw


def test_ids_nested_gz_and_posix(tmp_path: Path) -> None:
    (tmp_path / "b" / "c").mkdir(parents=True)
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b" / "c" / "d.txt.gz").write_bytes(gzip.compress(b"x"))
    (tmp_path / "b" / "notes.md").write_text("ignored")
    (tmp_path / "b" / "data.txt.bak").write_text("ignored")
    scan = scan_raw(tmp_path)
    assert [f.id for f in scan.files] == ["a", "b/c/d"]
    assert scan.ignored == 2


def test_page_id_strips_only_the_extension() -> None:
    assert page_id("x/y.txt") == "x/y"
    assert page_id("x/y.txt.gz") == "x/y"
    assert page_id("x/y.v2.txt") == "x/y.v2"
    assert page_id("x/y.txt.txt") == "x/y.txt"
    assert page_id("x/.txt") == "x/%2Etxt"


def test_different_names_never_share_an_id() -> None:
    """%XX stands for a byte that is not UTF-8 and for a backslash, so % itself is escaped."""
    names = [
        "bad\udcff.txt",
        "bad%FF.txt",
        "x\\y.txt",
        "x%5Cy.txt",
        "%.txt",
        "%/.txt",
        "%2Etxt.txt",
        ".txt",
    ]
    ids = [page_id(n) for n in names]
    assert ids == [
        "bad%FF",
        "bad%25FF",
        "x%5Cy",
        "x%255Cy",
        "%25",
        "%25/%2Etxt",
        "%252Etxt",
        "%2Etxt",
    ]
    assert page_id("50%.txt.gz") == "50%25"


def test_sorted_by_id(tmp_path: Path) -> None:
    for name in ["b.txt", "a.b.txt", "a.txt", "a/z.txt"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    assert [f.id for f in scan_raw(tmp_path).files] == ["a", "a.b", "a/z", "b"]


def test_same_id_second_path_is_duplicate(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(b"x"))
    first, second = scan_raw(tmp_path).files
    assert (first.path, first.problem) == ("a.txt", None)
    assert second.path == "a.txt.gz"
    assert second.problem is not None
    reason, detail = second.problem
    assert reason == Reason.DUPLICATE
    assert "'a.txt.gz'" in detail
    assert "'a.txt'" in detail


def test_sha256_is_of_raw_bytes(tmp_path: Path) -> None:
    data = gzip.compress("标题".encode(), mtime=0)
    (tmp_path / "p.txt.gz").write_bytes(data)
    (f,) = scan_raw(tmp_path).files
    read = read_raw(tmp_path, f)
    assert read.data == "标题".encode()
    assert read.sha256 == hashlib.sha256(data).hexdigest()
    assert read.size == len(data)
    st = (tmp_path / "p.txt.gz").stat()
    # of the file opened: the cache's fingerprint
    assert read.stat == (st.st_size, st.st_ctime_ns, st.st_mtime_ns, st.st_dev, st.st_ino)


def test_scan_gives_sizes_and_change_times(tmp_path: Path) -> None:
    for name in ["b.txt", "a.txt.gz", "c/d.txt", "notes.md"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x" * len(name))
    scan = scan_raw(tmp_path)
    assert [(f.id, f.path, f.size) for f in scan.files] == [
        ("a", "a.txt.gz", 8),
        ("b", "b.txt", 5),
        ("c/d", "c/d.txt", 7),
    ]
    for f in scan.files:
        st = (tmp_path / f.path).stat()
        assert (f.size, f.changed_ns, f.modified_ns, f.device, f.inode) == (
            st.st_size,
            st.st_ctime_ns,
            st.st_mtime_ns,
            st.st_dev,
            st.st_ino,
        )
    assert scan.ignored == 1


def test_scan_on_disk_equals_scan_in_memory_across_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build's scan lives in an Arrow IPC file read a batch at a time; slices across batch
    ends, odd names (not UTF-8, escaped in the id) and one id shared by several files give the
    same records as the list sorted in memory, in (id, path bytes) order."""
    import os

    from corpus_export import read

    monkeypatch.setattr(read, "SCAN_BATCH", 3)
    raw = tmp_path / "raw"
    raw.mkdir()
    names = [b"b.txt", b"a.txt.gz", b"a.txt", b"c\xff.txt", b"c%FF.txt", b"d/e.txt", b"f.txt"]
    names += [f"p{i:02d}.txt".encode() for i in range(10)]
    for name in names:
        path = os.path.join(os.fsencode(raw), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(name)
    memory, disk = scan_raw(raw), scan_raw(raw, tmp_path / "files.arrow")
    assert isinstance(disk._columns, str) and len(disk) == len(memory) == len(names)
    files = memory.files
    assert [os.fsencode(f.path) for f in files] == sorted(
        names, key=lambda n: (page_id(os.fsdecode(n)), n)
    )
    assert [(f.id, f.size) for f in files] == list(disk.ids_and_sizes())
    for start in range(len(files)):
        for stop in range(start, len(files) + 1):
            assert disk.slice(start, stop) == files[start:stop]
    disk.close()  # the file is closed (its folder can go); reading again opens it again
    assert disk._source is None and disk.slice(0, 2) == files[:2]
    # a.txt and a.txt.gz share the id a: the second in path-byte order is rejected
    # (c\xff.txt and c%FF.txt do not: their ids are c%FF and c%25FF)
    shared = {f.path: f.problem for f in files if f.problem is not None}
    assert shared.keys() == {"a.txt.gz"}
    assert all(reason is Reason.DUPLICATE for reason, _ in shared.values())


def test_slow_reads_ask_the_kernel_for_the_rest_of_the_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once two reads in a row wait (here: every read counts as slow), the files still to be
    read are advised in one go, once; the pages read are the same as without the advice."""
    import corpus_export.read as read

    for i in range(5):
        (tmp_path / f"{i}.txt").write_text(f"page {i}")
    files = scan_raw(tmp_path).files
    advised: list[list[str]] = []
    real = read.advise_will_need
    monkeypatch.setattr(
        read,
        "advise_will_need",
        lambda root, fs: (advised.append([f.id for f in fs]), real(root, fs)),
    )
    monkeypatch.setattr(read.ReadAhead, "SLOW_NS", -1)
    ahead = read.ReadAhead(tmp_path, files)
    got = [ahead.read(f).data for f in files]
    assert (
        got
        == [read_raw(tmp_path, f).data for f in files]
        == [f"page {i}".encode() for i in range(5)]
    )
    assert advised == [["2", "3", "4"]]  # after the second read, the rest; then never again


def test_one_slow_read_alone_gives_no_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read the scheduler paused is slow once: reads slow one at a time give no advice, two
    in a row do."""
    import types

    import corpus_export.read as read

    for i in range(6):
        (tmp_path / f"{i}.txt").write_text(f"page {i}")
    files = scan_raw(tmp_path).files
    advised: list[list[str]] = []
    monkeypatch.setattr(
        read, "advise_will_need", lambda root, fs: advised.append([f.id for f in fs])
    )
    slow = read.ReadAhead.SLOW_NS + 1
    took = [slow, 0, slow, slow, 0, slow]  # each read's time, in ns
    clock = iter([t for i, d in enumerate(took) for t in (10**12 * i, 10**12 * i + d)])
    monkeypatch.setattr(read, "time", types.SimpleNamespace(perf_counter_ns=lambda: next(clock)))
    ahead = read.ReadAhead(tmp_path, files)
    assert [ahead.read(f).data for f in files] == [f"page {i}".encode() for i in range(6)]
    assert advised == [["4", "5"]]  # after the third and fourth reads; then never again


def test_fast_reads_give_no_advice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import corpus_export.read as read

    for i in range(3):
        (tmp_path / f"{i}.txt").write_text("x")
    files = scan_raw(tmp_path).files
    monkeypatch.setattr(read, "advise_will_need", lambda root, fs: pytest.fail("advised"))
    monkeypatch.setattr(read.ReadAhead, "SLOW_NS", 10**12)
    ahead = read.ReadAhead(tmp_path, files)
    assert [ahead.read(f).data for f in files] == [b"x"] * 3


def test_advice_passes_over_files_it_cannot_use(tmp_path: Path) -> None:
    """A FIFO (never waited on), a folder, a vanished file and an unreadable one: the advice
    neither fails nor hangs; reading them is what reports them."""
    import corpus_export.read as read

    os.mkfifo(tmp_path / "fifo.txt")
    (tmp_path / "dir.txt").mkdir()
    (tmp_path / "ok.txt").write_text("x")
    (tmp_path / "locked.txt").write_text("x")
    (tmp_path / "locked.txt").chmod(0)
    files = [RawFile(p, p) for p in ("fifo.txt", "dir.txt", "gone.txt", "locked.txt", "ok.txt")]
    read.advise_will_need(tmp_path, files)
    assert read_raw(tmp_path, files[-1]).data == b"x"
    with pytest.raises(Rejected):
        read_raw(tmp_path, files[0])


def test_gzip_members_together_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A small page member followed by members of zeros (1.6 MB on disk, 3.2 GB unpacked) was
    unpacked whole: the cap on a page holds for all its members together."""
    import corpus_export.read as read

    monkeypatch.setattr(read, "MAX_PAGE_BYTES", 1 << 20)
    page = gzip.compress("标题\n正文。\n".encode())
    zeros = gzip.compress(bytes(300_000))
    (tmp_path / "bomb.txt.gz").write_bytes(page + zeros * 4)  # 1.2 MB unpacked
    (tmp_path / "fits.txt.gz").write_bytes(page + zeros * 3 + b"\0" * 7)  # 0.9 MB, padded
    unpacked = read_raw(tmp_path, RawFile("fits", "fits.txt.gz")).data
    assert unpacked == "标题\n正文。\n".encode() + bytes(900_000)
    with pytest.raises(Rejected) as exc:
        read_raw(tmp_path, RawFile("bomb", "bomb.txt.gz"))
    assert exc.value.reason == Reason.UNDECODABLE
    assert exc.value.detail == "gzip expands past 1 MiB (all its members together); not read"
    with pytest.raises(Rejected, match="truncated"):  # the last member cut short
        read.gunzip(page + zeros[:-9])

    import tracemalloc

    bomb = page + gzip.compress(bytes(8_000_000)) * 8  # 64 MB unpacked from 64 KB
    tracemalloc.start()
    try:
        with pytest.raises(Rejected, match="gzip expands past"):
            read.gunzip(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20  # memory bounded by the cap (1 MiB), not by what the members hold


def test_ids_are_printable_whatever_the_names(tmp_path: Path) -> None:
    """Names with a newline, a tab, U+202E (which turns text around on screen), a line
    separator, a non-ASCII space, DEL, a byte that is not UTF-8: every id in corpus.parquet and
    rejects.csv is printable, no two share one, and undoing %XX gives the name's bytes back."""
    import csv
    import re

    import pyarrow.parquet as pq
    from conftest import make_page

    import corpus_export

    raw = tmp_path / "raw"
    raw.mkdir()
    stems = [
        "line\nbreak",
        "tab\there",
        "evil\u202etxt.exe",
        "para\u2029graph",
        "全角\u3000空格",
        "del\x7f",
        "zero\u200bwidth",
        "50%",
        "bell\x07",
    ]
    names = [os.fsencode(f"{s}.txt") for s in stems] + [b"bad\xff\n.txt"]
    for k, name in enumerate(names):
        (raw / os.fsdecode(name)).write_text(make_page(f"第{k}篇"), encoding="utf-8")
    (raw / "empty\r\n.txt").write_bytes(b"")  # a reject
    out = tmp_path / "dist"
    result = corpus_export.build(raw, out, workers=1)
    assert result.rows == len(names)
    ids = pq.read_table(out / "corpus.parquet")["id"].to_pylist()
    with (out / "rejects.csv").open(encoding="utf-8", newline="") as fh:
        rejects = list(csv.DictReader(fh))
    assert [r["id"] for r in rejects] == ["empty%0D%0A"]
    assert "\r" not in rejects[0]["path"] and "\n" not in rejects[0]["path"]
    every = [*ids, *(r["id"] for r in rejects)]
    assert all(i.isprintable() for i in every)
    assert len(set(every)) == len(every)

    def name_of(page: str) -> bytes:
        return re.sub(rb"%([0-9A-F]{2})", lambda m: bytes([int(m[1], 16)]), page.encode())

    assert sorted(name_of(i) + b".txt" for i in every) == sorted([*names, b"empty\r\n.txt"])


@pytest.mark.parametrize("one_call", [True, False], ids=["openat2", "per-component"])
def test_a_page_swapped_for_a_link_out_of_raw_after_the_scan_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_call: bool
) -> None:
    """The scan checks links; a page replaced by a link out of raw/ after it (while a build
    runs) was read all the same. Now no link out of raw/ is followed at read time either, be
    it the page's own name, a folder on its path, or a link the scan accepted, retargeted;
    whether the kernel resolves the path beneath raw/ in one call or the reader opens it a
    component at a time."""
    from corpus_export import read

    if one_call and not read._OPENAT2.usable:
        pytest.skip("no openat2 on this system")
    monkeypatch.setattr(read._OPENAT2, "usable", one_call)
    raw, outside = tmp_path / "raw", tmp_path / "elsewhere"
    (raw / "sub").mkdir(parents=True)
    outside.mkdir()
    (outside / "page.txt").write_text("outside raw", encoding="utf-8")
    (raw / "page.txt").write_text("a page", encoding="utf-8")
    (raw / "sub" / "page.txt").write_text("a page in a folder", encoding="utf-8")
    (raw / "other.txt").write_text("another page", encoding="utf-8")
    (raw / "link.txt").symlink_to("other.txt")  # inside raw/: read where it leads
    (raw / "moved.txt").symlink_to("sub/page.txt")
    files = {f.id: f for f in scan_raw(raw).files}
    assert read_raw(raw, files["link"]).data == b"another page"
    assert read_raw(raw, files["moved"]).data == b"a page in a folder"

    (raw / "page.txt").unlink()
    (raw / "page.txt").symlink_to(outside / "page.txt")
    (raw / "moved.txt").unlink()
    (raw / "moved.txt").symlink_to(outside / "page.txt")
    (raw / "sub").rename(tmp_path / "sub")
    (raw / "sub").symlink_to(outside)
    for name in ("page", "moved", "sub/page"):
        with pytest.raises(Rejected) as exc:
            read_raw(raw, files[name])
        assert exc.value.reason in (Reason.OUTSIDE_RAW, Reason.UNREADABLE), name
        assert "changed while the build ran" in exc.value.detail or "became a link" in (
            exc.value.detail
        )
    assert read_raw(raw, files["link"]).data == b"another page"
    (raw / "sub").unlink()  # a link on the way that leads inside raw/ is followed
    (raw / "inner").mkdir()
    (raw / "inner" / "page.txt").write_text("inner page", encoding="utf-8")
    (raw / "sub").symlink_to("inner")
    assert read_raw(raw, files["sub/page"]).data == b"inner page"
    (raw / "sub").unlink()  # an absolute link that leads inside raw/ is followed too
    (raw / "sub").symlink_to(raw / "inner")
    assert read_raw(raw, files["sub/page"]).data == b"inner page"
    (raw / "sub").unlink()  # and one that leaves raw/ and comes back into it
    (raw / "sub").symlink_to(Path("..") / "raw" / "inner")
    assert read_raw(raw, files["sub/page"]).data == b"inner page"
    (raw / "sub").unlink()  # but not one that leaves raw/ by `..`
    (raw / "sub").symlink_to(Path("..") / "elsewhere")
    with pytest.raises(Rejected) as exc:
        read_raw(raw, files["sub/page"])
    assert exc.value.reason == Reason.OUTSIDE_RAW


def test_a_build_reads_no_page_from_outside_raw(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end: a page becomes a link out of raw/ just before its worker reads it."""
    import pyarrow.parquet as pq
    from conftest import make_page

    import corpus_export
    from corpus_export import read

    raw, outside = tmp_path / "raw", tmp_path / "secret.txt"
    raw.mkdir()
    outside.write_text(make_page("机密文件"), encoding="utf-8")
    for i in range(4):
        (raw / f"{i}.txt").write_text(make_page(f"标题{i}"), encoding="utf-8")
    (raw / "link.txt").symlink_to("3.txt")
    real_read = read.ReadAhead.read

    def swapping_read(self: read.ReadAhead, f: RawFile) -> read.RawRead:
        if f.path == "1.txt":
            (raw / "1.txt").unlink()
            (raw / "1.txt").symlink_to(outside)
        return real_read(self, f)

    monkeypatch.setattr(read.ReadAhead, "read", swapping_read)
    result = corpus_export.build(raw, tmp_path / "dist", workers=1)
    assert result.rejects_by_reason == {"outside_raw": 1, "duplicate": 1}  # 1, and link (of 3)
    titles = pq.read_table(tmp_path / "dist" / "corpus.parquet")["title"].to_pylist()
    assert titles == ["标题0", "标题2", "标题3"]
    assert "机密文件".encode() not in (tmp_path / "dist" / "corpus.csv").read_bytes()


def test_a_task_opens_raw_once_and_reads_beneath_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task's reader opens the raw folder once and opens every file beneath it: it reads
    what read_raw reads, still refuses a page swapped for a link out of raw/ after it opened
    the folder, and leaves no descriptor open."""
    from corpus_export import read

    if not read._OPENAT2.usable or not Path("/proc/self/fd").is_dir():
        pytest.skip("no openat2 or /proc on this system")
    raw, outside = tmp_path / "raw", tmp_path / "secret.txt"
    raw.mkdir()
    outside.write_text("secret", encoding="utf-8")
    for i in range(4):
        (raw / f"{i}.txt").write_text(f"page {i}", encoding="utf-8")
    files = scan_raw(raw).files
    before = sorted(os.listdir("/proc/self/fd"))
    opened: list[str] = []
    real_open = os.open

    def counted_open(path: str, *args: int, **kwargs: int) -> int:
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(read.os, "open", counted_open)
    ahead = read.ReadAhead(raw, files)
    assert [ahead.read(f).data for f in files[:3]] == [b"page 0", b"page 1", b"page 2"]
    assert opened.count(str(raw)) == 1
    (raw / "3.txt").unlink()
    (raw / "3.txt").symlink_to(outside)
    with pytest.raises(Rejected) as exc:
        ahead.read(files[3])
    assert exc.value.reason == Reason.OUTSIDE_RAW
    ahead.close()
    monkeypatch.undo()
    assert sorted(os.listdir("/proc/self/fd")) == before


def test_a_task_that_fails_mid_way_leaves_no_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task whose parse raises (a bug) closes the raw folder it held at once, even while the
    error, and so the task's frames, are still held (as a worker holds a failed task's)."""
    from corpus_export import process

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("no /proc on this system")
    for i in range(3):
        (tmp_path / f"{i}.txt").write_text(f"page {i}", encoding="utf-8")
    files = scan_raw(tmp_path).files

    def broken_parse(data: bytes, **kwargs: object) -> object:
        raise RuntimeError("a bug in the parser")

    monkeypatch.setattr(process, "parse_page", broken_parse)
    before = sorted(os.listdir("/proc/self/fd"))
    with pytest.raises(RuntimeError) as failed:
        process.parse_batch(str(tmp_path), files, 0)
    assert failed.traceback  # (the task's frames, held)
    assert sorted(os.listdir("/proc/self/fd")) == before


@pytest.mark.parametrize("processes", [2, 3])
def test_a_scan_split_between_processes_equals_one_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: int
) -> None:
    """Folders listed side by side by several processes give the very list one scan gives:
    same order, same duplicate and link rejects (the first file of an id in path order is
    kept, whichever process found it), the same ignored files, the same bytes on disk; a
    folder too large to split, files beside folders and an unlistable folder included."""
    from corpus_export import read
    from corpus_export.engine import scan_apart, start_pool, stop_pool

    monkeypatch.setattr(read, "_SPLIT_ENTRIES", 9)  # big: scanned whole, not split
    raw = tmp_path / "raw"
    for folder in ("a", "a/b", "a/b/c", "a-b", "big", "big/x", "z/y/x", "locked/inner"):
        (raw / folder).mkdir(parents=True, exist_ok=True)
    names = ["a.txt", "a/1.txt", "a/1.txt.gz", "a/b.txt", "a/b/2.txt", "a/b/c/3.txt.gz"]
    names += ["a-b/4.txt", "a-b.txt", "z/y/x/5.txt", "z/y/x.txt", "locked/inner/6.txt"]
    names += [f"big/{i}.txt" for i in range(10)] + ["big/x/7.txt", "notes.md", "a/b/c/n.md"]
    for name in names:
        (raw / name).write_text(name)
    (raw / "a" / "link.txt").symlink_to(raw / "a-b.txt")
    (raw / "a" / "out.txt").symlink_to(tmp_path / "elsewhere.txt")
    (tmp_path / "outside").mkdir()
    (raw / "z" / "outside").symlink_to(tmp_path / "outside")
    locked = raw / "locked"
    pool = start_pool(processes)  # the build's workers, which list raw/ before parsing it
    one = scan_raw(raw, tmp_path / "one.arrow")
    split = scan_apart(raw, tmp_path / "split.arrow", pool)
    try:
        assert len(read.split_scan(raw, processes)) == processes or processes > 2
        assert split.files == one.files and len(split) == len(one) == len(names) - 2 + 3
        assert split.problems == one.problems and len(one.problems) == 3
        assert (split.ignored, split.ignored_names) == (one.ignored, one.ignored_names)
        assert (tmp_path / "split.arrow").read_bytes() == (tmp_path / "one.arrow").read_bytes()
        if os.geteuid() != 0:  # root lists any folder
            locked.chmod(0)
            one, split = scan_raw(raw), scan_apart(raw, tmp_path / "split2.arrow", pool)
            assert split.files == one.files and split.problems == one.problems
            assert any(f.id == "locked/" and f.problem for f in split.files)
    finally:
        assert pool is not None
        stop_pool(pool)
        locked.chmod(0o755)
        one.close()
        split.close()


def test_a_raw_file_sent_to_a_worker_arrives_the_same() -> None:
    """Tasks go to workers pickled: every field of a file, a scan's reject included, survives."""
    import pickle

    files = [
        RawFile("a/b", "a/b.txt.gz", (Reason.DUPLICATE, "same id as 'a/b.txt'"), 1, 2, 3, 4, 5),
        RawFile("c%FF", os.fsdecode(b"c\xff.txt")),
    ]
    back = pickle.loads(pickle.dumps(files))
    assert back == files and [type(f) for f in back] == [RawFile, RawFile]
    assert back[0].problem == (Reason.DUPLICATE, "same id as 'a/b.txt'") and back[0].inode == 5
