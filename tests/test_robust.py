"""Robustness: pathological pages, odd raw trees, interrupted builds, `validate` on an export."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import make_raw, start_build

from corpus_export import build
from corpus_export.cli import cli
from corpus_export.errors import REASON_DOCS, CorpusExportError, Reason, Rejected
from corpus_export.parse import Page, parse_page
from corpus_export.process import pages_to_table
from corpus_export.read import gunzip, page_id
from corpus_export.rules import table_problems
from corpus_export.validate import validate_export

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "raw" / "000_bba07cf85f81785c.txt"
EXE = Path(sys.executable).with_name("corpus-export")


def make_page(
    title: str = "基层治理的实践与思考",
    *,
    source: str = "党员生活",
    citations: int = 3,
    paragraphs: tuple[str, ...] = ("第一段正文内容。", "第二段正文内容。"),
    note: str | None = "(作者系某某大学教授)",
    teasers: tuple[str, ...] = ("其他文章一的摘要", "其他文章二的摘要"),
) -> str:
    """Return the text of a page in the site's template."""
    lines = [
        title,
        "",
        f"来源 :{source} | 被引量 : {citations}次 | 上传用户:user01",
        "下载到本地 , 更方便阅读",
        "声明 : 本文档内容版权归属内容提供方 , 如果您对本文有版权争议 , "
        "可与客服联系进行内容授权或下架",
        "论文部分内容阅读",
        *("  " + p for p in paragraphs),
        *(["  " + note] if note else []),
        "其他文献",
        *teasers,
    ]
    return "\n".join(lines) + "\n"


def row_or_reject(data: bytes) -> Page | Rejected:
    try:
        page = parse_page(data, page_id="p")
    except Rejected as rej:
        assert rej.reason in REASON_DOCS
        return rej
    assert table_problems(pages_to_table([page])) == []
    return page


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --- pathological pages ----------------------------------------------------------------------

HOSTILE_LINES = {
    "spaces": " " * 5_000_000,
    "ideographic spaces": "\u3000x" * 2_500_000,
    "header keys": "来源:" * 1_000_000,
    "header segments": "来源:a|" * 700_000,
    "bars": "|｜" * 2_500_000,
    "disclaimer without 版权": "声明:" + "版" * 5_000_000,
    "author note openers": "(作者系" * 1_200_000,
    "author note tail": "正" * 5_000_000 + "(作者系" + " " * 100 + "某)",
    "open parens": "（" * 5_000_000 + "作者系",
    "digits": "被引量:" + "9" * 5_000_000,
    "teaser heading": "其他文献" * 1_200_000,
    "byline": "文/" * 2_500_000,
}


@pytest.mark.timing
@pytest.mark.parametrize("where", ["body", "title", "teaser"])
@pytest.mark.parametrize("name", list(HOSTILE_LINES))
def test_hostile_5mb_line_parses_fast(name: str, where: str) -> None:
    line = HOSTILE_LINES[name]
    if where == "body":
        text = make_page(paragraphs=("正文。", line))
    elif where == "title":
        text = make_page(title=line)
    else:
        text = make_page(teasers=(line,))
    data = text.encode("utf-8")
    start = time.process_time()
    result = row_or_reject(data)
    elapsed = time.process_time() - start
    assert elapsed < 3.0, f"{name} in {where}: {elapsed:.2f}s (regex backtracking?)"
    if where == "body":
        assert isinstance(result, Page)


@pytest.mark.timing
def test_parse_time_is_linear_in_page_size() -> None:
    line = "来源:a|(作者系 " * 50_000
    small = make_page(paragraphs=(line,) * 2).encode()
    big = make_page(paragraphs=(line,) * 20).encode()
    timings = []
    for data in (small, big):
        start = time.process_time()
        row_or_reject(data)
        timings.append(time.process_time() - start)
    assert timings[1] < 10 * timings[0] * 2 + 0.2  # 10x the input, well under 100x the time


@pytest.mark.timing
@pytest.mark.slow
def test_50mb_page_gives_a_row() -> None:
    para = "这是一段很长的正文," * 100
    n = 50_000_000 // len(para.encode())
    data = make_page(paragraphs=(para,) * n).encode()
    assert len(data) > 50_000_000
    start = time.process_time()
    page = row_or_reject(data)
    assert isinstance(page, Page)
    assert len(page.paragraphs) == n
    assert time.process_time() - start < 30


def test_one_5mb_line_page() -> None:
    assert isinstance(row_or_reject(make_page(paragraphs=("字" * 5_000_000,)).encode()), Page)
    rej = row_or_reject(("字" * 5_000_000).encode())  # no template at all
    assert isinstance(rej, Rejected) and rej.reason == Reason.UNRECOGNISED_LAYOUT


def test_page_of_only_teaser_headings() -> None:
    rej = row_or_reject(("其他文献\n" * 10_000).encode())
    assert isinstance(rej, Rejected) and rej.reason == Reason.MISSING_TITLE


def test_100k_paragraphs() -> None:
    paras = tuple(f"第{i}段。" for i in range(100_000))
    page = row_or_reject(make_page(paragraphs=paras).encode())
    assert isinstance(page, Page)
    assert len(page.paragraphs) == 100_000


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (make_page().encode().replace("第一段".encode(), b"\x00"), Reason.UNDECODABLE),
        (make_page().encode().replace("第一段".encode(), b"\xff\xfe"), Reason.UNDECODABLE),
        (make_page().encode().replace("第一段".encode(), b"\xed\xa0\x80"), Reason.UNDECODABLE),
        # cut inside a character in the middle (a cut at the very end only loses that character)
        (make_page().encode()[:20] + make_page().encode()[21:], Reason.UNDECODABLE),
        (b"", Reason.EMPTY),
        (b" \n\t\r\n", Reason.EMPTY),
        ("\u3000\n".encode(), Reason.EMPTY),
    ],
    ids=["nul", "invalid-utf8", "lone-surrogate", "cut-mid-char", "no-bytes", "ws", "u3000"],
)
def test_broken_bytes_are_rejected(data: bytes, reason: Reason) -> None:
    result = row_or_reject(data)
    assert isinstance(result, Rejected) and result.reason == reason, result


@pytest.mark.timing
def test_invalid_utf8_error_is_cheap_on_a_big_page() -> None:
    data = make_page(paragraphs=("正文" * 10_000_000,)).encode() + b"\xff"
    start = time.process_time()
    assert isinstance(row_or_reject(data), Rejected)
    assert time.process_time() - start < 6  # CPU time: ~1 s here; a quadratic decode took minutes


def test_gzip_pages() -> None:
    text = make_page().encode()
    good = gzip.compress(text)
    assert gunzip(good) == text
    assert gunzip(good + gzip.compress(b"more")) == text + b"more"
    for bad in (
        good[:-5],
        good[: len(good) // 2],
        b"not gzip at all",
        b"\x1f\x8b" + b"\x00" * 20,
        good + b"trailing garbage",
    ):
        with pytest.raises(Rejected) as exc:
            gunzip(bad)
        assert exc.value.reason == Reason.UNDECODABLE


# --- odd files in the raw tree ---------------------------------------------------------------


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def outcome(out: Path) -> tuple[dict[str, dict[str, object]], dict[str, str]]:
    rows = {r["id"]: r for r in pq.read_table(out / "corpus.parquet").to_pylist()}
    import pyarrow.csv as pacsv

    rej = pacsv.read_csv(
        out / "rejects.csv", parse_options=pacsv.ParseOptions(newlines_in_values=True)
    ).to_pylist()
    return rows, {r["id"]: r["reason"] for r in rej}


def test_odd_raw_tree(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    outside = write(tmp_path / "elsewhere" / "secret.txt", make_page("外面"))
    names = [
        "with space.txt",
        "中文 名.txt",
        "new\nline.txt",
        "=formula.txt",
        "a\\b.txt",
        "deep/er/x.txt.gz",
        ".txt",
        "twice.txt.txt",
        "...txt",
    ]
    for i, name in enumerate(names):
        text = make_page(f"标题{i}", paragraphs=(f"正文{i}。",)).encode()
        write(raw / name, gzip.compress(text) if name.endswith(".gz") else text)
    bad_name = os.fsencode(str(raw)) + b"/bad\xff\xfe.txt"
    with open(bad_name, "wb") as fh:
        fh.write(make_page("坏名字", paragraphs=("正文坏。",)).encode())
    (raw / "empty" / "dir").mkdir(parents=True)
    (raw / "notes.md").write_text("ignored")
    (raw / "zz-inside.txt").symlink_to(raw / "with space.txt")
    (raw / "outside.txt").symlink_to(outside)
    (raw / "dangling.txt").symlink_to(raw / "nothing-here.txt")
    (raw / "loop1.txt").symlink_to(raw / "loop2.txt")
    (raw / "loop2.txt").symlink_to(raw / "loop1.txt")
    (raw / "dirlink.txt").symlink_to(raw / "empty")
    os.mkfifo(raw / "fifo.txt")  # not a regular file: unreadable, and never opened (no hang)
    before = snapshot(tmp_path)

    out = tmp_path / "out" / "dist"
    result = build(raw, out, workers=1)
    rows, rejects = outcome(out)

    # every *.txt / *.txt.gz entry, link or not, is exactly one row or one reject
    entries = [
        os.fsdecode(os.path.relpath(os.path.join(d, n), os.fsencode(str(raw))))
        for d, dirs, files in os.walk(os.fsencode(str(raw)))
        for n in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]
        if n.endswith((b".txt", b".txt.gz"))
    ]
    assert result.files_seen == len(entries) == len(rows) + len(rejects)
    assert set(rows) | set(rejects) == {page_id(e) for e in entries}
    assert not set(rows) & set(rejects)

    assert rows["with space"]["title"] == "标题0"
    assert rows["new%0Aline"]["title"] == "标题2"
    assert rows["=formula"]["title"] == "标题3"
    assert rows["a%5Cb"]["title"] == "标题4"
    assert rows["deep/er/x"]["title"] == "标题5"
    assert rows["%2Etxt"]["title"] == "标题6"
    assert rows["twice.txt"]["title"] == "标题7"  # only the one extension goes
    assert rows[".."]["title"] == "标题8"
    assert rows["bad%FF%FE"]["title"] == "坏名字"
    assert rejects["zz-inside"] == Reason.DUPLICATE  # followed: same page as "with space"
    assert rejects["outside"] == Reason.OUTSIDE_RAW
    for name in ("dangling", "loop1", "loop2", "dirlink", "fifo"):
        assert rejects[name] == Reason.UNREADABLE, name
    assert result.ignored_files == 1
    assert "外面" not in {r["title"] for r in rows.values()}
    # each reject names its file as well as its id (printable: not-UTF-8 bytes as \xNN)
    import pyarrow.csv as pacsv

    listed = pacsv.read_csv(out / "rejects.csv").to_pylist()
    assert list(listed[0]) == ["id", "path", "reason", "detail"]
    paths = {r["id"]: r["path"] for r in listed}
    assert paths["zz-inside"] == "zz-inside.txt" and paths["fifo"] == "fifo.txt"

    # nothing was written outside out/ (ids like ".." are data, never paths)
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("out/")} == before
    assert validate_export(out) == []


def _unlistable(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make folders of these names fail to list, as a chmod 000 folder does for a user other
    than root (the listing process is forked, so it inherits the patch)."""
    real = os.scandir

    def scandir(path: object = ".") -> object:
        if Path(str(path)).name in names:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)


def test_a_folder_that_cannot_be_listed_is_a_reject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = tmp_path / "raw"
    write(raw / "a" / "1.txt", make_page("一"))
    write(raw / "b" / "2.txt", make_page("二"))
    _unlistable(monkeypatch, "b")
    out = tmp_path / "dist"
    result = build(raw, out, workers=1)
    rows, rejects = outcome(out)
    assert set(rows) == {"a/1"}
    assert rejects == {"b/": Reason.UNREADABLE}
    assert (
        (out / "rejects.csv")
        .read_text(encoding="utf-8")
        .startswith(
            '"id","path","reason","detail"\n"b/","b/","unreadable","a folder that cannot be listed'
        )
    )
    assert "Permission denied" in (out / "rejects.csv").read_text(encoding="utf-8")
    assert result.files_seen == 2
    assert validate_export(out) == []
    # --strict fails on it, as on any reject
    assert (
        CliRunner()
        .invoke(
            cli,
            [
                "build",
                "--raw",
                str(raw),
                "--out",
                str(tmp_path / "s"),
                "--strict",
                "--quiet",
                "--no-cache",
            ],
        )
        .exit_code
        == 1
    )


def test_a_raw_folder_that_cannot_be_listed_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = tmp_path / "raw"
    write(raw / "1.txt", make_page())
    _unlistable(monkeypatch, "raw")
    res = CliRunner().invoke(cli, ["build", "--raw", str(raw), "--out", str(tmp_path / "dist")])
    assert res.exit_code == 2
    assert "cannot list raw folder" in res.output and "Permission denied" in res.output
    assert "Traceback" not in res.output


def test_a_link_to_a_folder_outside_raw_is_a_reject(tmp_path: Path) -> None:
    """Its pages are not read (links out of raw/ never are), and the link says so in the
    rejects; a link to a folder inside raw/ is passed over, its pages read where they are."""
    raw = tmp_path / "raw"
    write(raw / "here" / "1.txt", make_page("一"))
    write(tmp_path / "elsewhere" / "2.txt", make_page("外面"))
    (raw / "more").symlink_to(tmp_path / "elsewhere")
    (raw / "again").symlink_to(raw / "here")
    (raw / "broken").symlink_to(raw / "nothing")
    out = tmp_path / "dist"
    result = build(raw, out, workers=1)
    rows, rejects = outcome(out)
    assert set(rows) == {"here/1"}
    assert rejects == {"more/": Reason.OUTSIDE_RAW}
    assert result.ignored_files == 2  # the link inside raw/ and the dangling one
    assert validate_export(out) == []


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root reads a chmod 000 file anyway; the FIFO in "
    "test_odd_raw_tree covers the unreadable path",
)
def test_permission_denied_is_unreadable(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(raw / "ok.txt", make_page())
    locked = write(raw / "locked.txt", make_page("锁"))
    locked.chmod(0)
    try:
        build(raw, tmp_path / "dist", workers=1)
    finally:
        locked.chmod(0o644)
    rows, rejects = outcome(tmp_path / "dist")
    assert set(rows) == {"ok"}
    assert rejects == {"locked": Reason.UNREADABLE}


def test_raw_folder_that_is_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    write(real / "a.txt", make_page("甲"))
    (real / "b.txt").symlink_to(real / "a.txt")
    (tmp_path / "raw").symlink_to(real)
    build(tmp_path / "raw", tmp_path / "dist", workers=1)
    rows, rejects = outcome(tmp_path / "dist")
    assert set(rows) == {"a"}
    assert rejects == {"b": Reason.DUPLICATE}  # the link stays inside raw/: followed


def test_page_text_is_data(tmp_path: Path) -> None:
    """Format strings, paths and code in a page reach the row verbatim and do nothing else."""
    raw = tmp_path / "raw"
    hostile = [
        "{0}{__class__}",
        "%s%n%x",
        "../../../etc/passwd",
        "/abs/path",
        "${HOME}",
        "__import__('os').system('touch pwned')",
        "=cmd|' /C calc'!A0",
        "@SUM(1+1)",
        "+1",
        "-1",
    ]
    for i, text in enumerate(hostile):
        # a | in the source would split the header line: that is the template, not a bug
        write(
            raw / f"{i:02d}.txt",
            make_page(
                text, source=text.replace("|", "/"), paragraphs=(text + "。",), teasers=(text,)
            ),
        )
    before = snapshot(tmp_path)
    out = tmp_path / "dist"
    build(raw, out, workers=1)
    rows, _ = outcome(out)
    for i, text in enumerate(hostile):
        row = rows[f"{i:02d}"]
        assert (row["title"], row["teasers"]) == (text, [text])
        assert row["source"] == text.replace("|", "/")
    assert not (tmp_path / "pwned").exists()
    after = snapshot(tmp_path)
    # the build writes dist/ and the card beside it (CARD.md), nothing else
    assert {
        k: v for k, v in after.items() if not k.startswith("dist/") and k != "CARD.md"
    } == before
    csv = (out / "corpus.csv").read_text(encoding="utf-8")
    for line in csv.splitlines()[1:]:
        for cell in line.split(","):
            assert not cell.lstrip('"').startswith(("=", "+", "-", "@")), cell
    assert validate_export(out) == []


# --- all or nothing --------------------------------------------------------------------------


@pytest.fixture
def previous(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    """A finished small export (dist/ + CARD.md) whose bytes must survive a failed build."""
    make_raw(tmp_path / "small", 5, prefix="旧")
    out = tmp_path / "dist"
    build(tmp_path / "small", out, workers=1)
    card = tmp_path / "CARD.md"
    return out, card, {**snapshot(out), "CARD.md": card.read_bytes()}


def assert_intact(out: Path, card: Path, old: dict[str, bytes]) -> None:
    assert {**snapshot(out), "CARD.md": card.read_bytes()} == old
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for rel, info in manifest["files"].items():
        assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == info["sha256"], rel
    assert validate_export(out) == []
    assert not list(out.parent.glob("dist.tmp-*"))
    assert not list(out.parent.glob("dist.old-*"))


def test_exception_mid_build_keeps_previous(
    previous: tuple[Path, Path, dict[str, bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, card, old = previous
    make_raw(tmp_path / "big", 600)
    monkeypatch.setattr(sys.modules["corpus_export.process"], "TASK_MAX", 128)
    b = sys.modules["corpus_export.engine"]
    real = b.parse_task
    calls = []

    def flaky(*args: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(b, "parse_task", flaky)
    with pytest.raises(CorpusExportError, match="No space"):
        build(tmp_path / "big", out, workers=1)
    assert_intact(out, card, old)


def test_disk_full_at_manifest_keeps_previous(
    previous: tuple[Path, Path, dict[str, bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, card, old = previous
    make_raw(tmp_path / "big", 20)
    b = sys.modules["corpus_export.build"]

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(b, "write_manifest", full)
    with pytest.raises(CorpusExportError, match="No space left on device"):
        build(tmp_path / "big", out, workers=1)
    assert_intact(out, card, old)
    # the CLI turns it into one "Error:" line and exit 2, not a traceback
    from click.testing import CliRunner

    from corpus_export.cli import cli

    res = CliRunner().invoke(cli, ["build", "--raw", str(tmp_path / "big"), "--out", str(out)])
    assert res.exit_code == 2
    assert res.output.startswith("Error: writing the export failed: No space left on device")
    assert len(res.output.splitlines()) == 1
    assert_intact(out, card, old)


def wait_until_writing(proc: subprocess.Popen[bytes], out: Path, timeout: float = 60) -> None:
    """Return once the build has written a batch into its staging folder."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"build ended (rc {proc.returncode}) before it could be interrupted")
        if any(
            s.is_dir() and any((s / "export" / ".parts").glob("part-*"))
            for s in out.parent.glob(f"{out.name}.tmp-*")
        ):
            return
        time.sleep(0.005)
    pytest.fail("build never started writing")


@pytest.mark.slow
def test_sigkill_mid_build_keeps_previous(
    previous: tuple[Path, Path, dict[str, bytes]], tmp_path: Path
) -> None:
    out, card, old = previous
    # tasks enough to be mid-build when signalled, even on a loaded machine
    make_raw(tmp_path / "big", 12_000)
    proc = start_build(tmp_path, tmp_path / "big", out)
    try:
        wait_until_writing(proc, out)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # a SIGKILLed build cannot clean up: its stage stays until the next build removes it
    stale = list(tmp_path.glob("dist.tmp-*"))
    assert {**snapshot(out), "CARD.md": card.read_bytes()} == old
    assert validate_export(out) == []
    build(tmp_path / "big", out, workers=1)
    assert not any(p.exists() for p in stale)
    assert validate_export(out) == []


@pytest.mark.slow
def test_ctrl_c_stops_workers_and_leaves_previous(
    previous: tuple[Path, Path, dict[str, bytes]], tmp_path: Path
) -> None:
    psutil = pytest.importorskip("psutil")
    out, card, old = previous
    # tasks enough to be mid-build when signalled, even on a loaded machine
    make_raw(tmp_path / "big", 12_000)
    proc = start_build(tmp_path, tmp_path / "big", out)
    try:
        wait_until_writing(proc, out)
        family = psutil.Process(proc.pid).children(recursive=True)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, err.decode()
    assert lines[0].startswith("Interrupted")
    _, alive = psutil.wait_procs(family, timeout=5)
    assert not alive, f"worker processes still running: {alive}"
    assert_intact(out, card, old)


# --- corpus-export validate ------------------------------------------------------------------


@pytest.fixture
def export(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    make_raw(raw, 6)
    write(raw / "junk.txt", b"\x00binary")
    write(raw / "=formula.txt", make_page("=SUM(A1)", teasers=("+1",)))
    write(raw / "zz-dup.txt", (raw / "00001.txt").read_bytes())
    out = tmp_path / "dist"
    build(raw, out, workers=1, near_dups="keep")  # the pages share the seed page's body
    return out


def invoke_validate(dist: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["validate", str(dist)])
    return result.exit_code, result.output


def test_validate_ok(export: Path) -> None:
    code, output = invoke_validate(export)
    assert code == 0, output
    assert output.startswith("OK: ")
    assert len(output.strip().splitlines()) == 1


def test_validate_missing_dist(tmp_path: Path) -> None:
    code, output = invoke_validate(tmp_path / "nope")
    assert code == 2
    assert output.startswith("Error: ")


def test_validate_catches_a_corrupt_byte_in_every_file(export: Path, tmp_path: Path) -> None:
    files = sorted(p.relative_to(export).as_posix() for p in export.rglob("*") if p.is_file())
    assert {"corpus.parquet", "corpus.csv", "rejects.csv", "manifest.json"} <= set(files)
    for rel in files:
        copy = tmp_path / "copies" / rel.replace("/", "_")
        shutil.copytree(export, copy)  # real copies: corpus.parquet and the shard may be linked
        path = copy / rel
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        code, output = invoke_validate(copy)
        assert code == 1, (rel, output)
        assert rel in output, (rel, output)


def rewrite(dist: Path, rel: str, old: str, new: str) -> None:
    """Change a file's content and re-sign it in the manifest, so only content checks can tell."""
    path = dist / rel
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    manifest_path = dist / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"][rel] = {
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "bytes": path.stat().st_size,
    }
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


@pytest.mark.parametrize(
    ("rel", "old", "new", "expect"),
    [
        ("corpus.csv", "标题3", "标题X", "corpus.csv: row 4"),
        ("corpus.csv", "'=SUM(A1)", "=SUM(A1)", "without the ' escape"),
        ("rejects.csv", "undecodable", "broken", "not a documented code"),
        ("manifest.json", '"rows": 7', '"rows": 8', "the manifest says 8"),
    ],
)
def test_validate_content_checks(export: Path, rel: str, old: str, new: str, expect: str) -> None:
    if rel == "manifest.json":
        path = export / rel
        path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    else:
        rewrite(export, rel, old, new)
    code, output = invoke_validate(export)
    assert code == 1, output
    assert expect in output, output


def test_validate_extra_and_missing_files(export: Path) -> None:
    (export / "stray.txt").write_text("x")
    (export / "rejects.csv").unlink()
    code, output = invoke_validate(export)
    assert code == 1
    assert "stray.txt: not listed in the manifest" in output
    assert "rejects.csv: missing" in output


def test_validate_refuses_manifest_paths_outside(export: Path) -> None:
    manifest_path = export / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["files"]["../outside"] = {"sha256": "0" * 64, "bytes": 1}
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    code, output = invoke_validate(export)
    assert code == 1
    assert "not a path inside the export" in output


def test_reasons_command_lists_every_code() -> None:
    result = CliRunner().invoke(cli, ["reasons"])
    assert result.exit_code == 0
    for reason in Reason:
        assert str(reason) in result.output


def test_a_library_that_cannot_be_loaded_fails_the_build_and_keeps_previous(
    previous: tuple[Path, Path, dict[str, bytes]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken dependency (here the card's template engine) is an error: never an export
    without its card, Data Package and Croissant file, which validate would pass."""
    out, card, old = previous
    make_raw(tmp_path / "big", 20)
    with monkeypatch.context() as broken:
        broken.setitem(sys.modules, "jinja2", None)  # `import jinja2` now raises ImportError
        with pytest.raises(CorpusExportError, match=r"cannot be loaded \(.*jinja2"):
            build(tmp_path / "big", out, workers=1)
    assert_intact(out, card, old)  # (validate renders the card again: with jinja2 back)
    with monkeypatch.context() as broken:
        broken.setitem(sys.modules, "jinja2", None)
        res = CliRunner().invoke(cli, ["build", "--raw", str(tmp_path / "big"), "--out", str(out)])
    assert res.exit_code == 2
    assert res.output.startswith("Error: a library the build needs cannot be loaded")
    assert len(res.output.strip().splitlines()) == 1, res.output
    assert_intact(out, card, old)


def test_a_ctrl_c_during_the_swap_neither_cuts_it_nor_fails_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From the swap on the new export replaces the previous one: a Ctrl-C there is held back,
    the swap completes, and the build returns as written; Ctrl-C works again afterwards."""
    build_module = sys.modules["corpus_export.build"]
    raw = tmp_path / "raw"
    write(raw / "a.txt", make_page("一"))
    out = tmp_path / "dist"
    build(raw, out, workers=1)
    write(raw / "b.txt", make_page("二"))
    real = build_module.swap_in

    def swap_in(*args: object) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs between bytecodes: give it its chance mid-swap
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(build_module, "swap_in", swap_in)
    result = build(raw, out, workers=1)
    assert result.rows == 2
    assert set(outcome(out)[0]) == {"a", "b"}
    assert validate_export(out) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_two_builds_into_one_folder_do_not_run_at_once(tmp_path: Path) -> None:
    """Both would say they wrote it while one export replaced the other: the second is refused
    (exit 2), the first one's export is left to it, and the folder is free again after."""
    swap = sys.modules["corpus_export.swap"]
    raw = tmp_path / "raw"
    write(raw / "a.txt", make_page("一"))
    out = tmp_path / "dist"
    with swap.only_build_into(out.absolute()):  # as another build holds it
        with pytest.raises(CorpusExportError, match="another corpus-export build is writing"):
            build(raw, out, workers=1)
        res = CliRunner().invoke(cli, ["build", "--raw", str(raw), "--out", str(out)])
        assert res.exit_code == 2 and "another corpus-export build" in res.output
        assert not out.exists()
        build(raw, tmp_path / "other", workers=1)  # another folder is another lock
    assert build(raw, out, workers=1).rows == 1
