"""Shared fixtures: the seed page, a tmp copy of raw/, and a builder of template pages; the
Hypothesis profile of the property tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
SEED_ID = "000_bba07cf85f81785c"
SEED = REPO / "raw" / f"{SEED_ID}.txt"


def pytest_configure(config: pytest.Config) -> None:
    """With CORPUS_EXPORT_EXPECT_COMPILED=1 (.ci/run's regular install), refuse to test a
    parser that is not compiled: the run would pass on the Python one."""
    if os.environ.get("CORPUS_EXPORT_EXPECT_COMPILED") == "1":
        from corpus_export import parse

        if (parse.__file__ or "").endswith(".py"):
            raise pytest.UsageError(f"the parser under test is not compiled: {parse.__file__}")


# The property tests' settings: stable in CI (the same examples every run, nothing written to a
# local example database, no deadline on a loaded machine).
settings.register_profile(
    "stable",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("stable")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--propose-expected",
        action="store_true",
        help="Where a fixture page or the seed gives something else than its expected JSON, "
        "write what it gives beside it as NAME.json.new, to review and rename by hand.",
    )


@pytest.fixture
def expect_json(request: pytest.FixtureRequest) -> Callable[[object, Path], None]:
    """Compare a result with a reviewed expectation (a JSON file). The code never writes the
    expectation itself: with --propose-expected a differing result goes to NAME.json.new, for a
    person to compare (`diff NAME.json NAME.json.new`) and rename if it is right."""
    propose = bool(request.config.getoption("--propose-expected"))

    def check(got: object, expected: Path) -> None:
        want = json.loads(expected.read_text(encoding="utf-8"))
        if got != want and propose:
            text = json.dumps(got, ensure_ascii=False, indent=2) + "\n"
            expected.with_name(expected.name + ".new").write_text(text, encoding="utf-8")
        assert got == want, f"review {expected.name}.new (pytest --propose-expected writes it)"

    return check


@pytest.fixture
def seed_bytes() -> bytes:
    return SEED.read_bytes()


@pytest.fixture
def seed_text(seed_bytes: bytes) -> str:
    return seed_bytes.decode("utf-8")


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    """A private copy of the repository's raw/ folder."""
    dst = tmp_path / "raw"
    shutil.copytree(REPO / "raw", dst)
    return dst


PageMaker = Callable[..., str]


def make_page(
    title: str = "基层治理的实践与思考",
    *,
    source: str | None = "党员生活",
    citations: int | None = 3,
    uploader: str | None = "user01",
    paragraphs: tuple[str, ...] = ("第一段正文内容。", "第二段正文内容。"),
    note: str | None = "(作者系某某大学教授)",
    byline: str | None = None,
    teasers: tuple[str, ...] | None = ("其他文章一的摘要", "其他文章二的摘要"),
    header: str | None = None,
    boilerplate: bool = True,
    indent: str = "  ",
    newline: str = "\n",
) -> str:
    """Return the text of a page in the site's template, with each part adjustable."""
    lines = [title, ""]
    if header is None:
        parts = []
        if source is not None:
            parts.append(f"来源 :{source}")
        if citations is not None:
            parts.append(f"被引量 : {citations}次")
        if uploader is not None:
            parts.append(f"上传用户:{uploader}")
        header = " | ".join(parts)
    if header:
        lines.append(header)
    if boilerplate:
        lines += [
            "下载到本地 , 更方便阅读",
            "声明 : 本文档内容版权归属内容提供方 , 如果您对本文有版权争议 , "
            "可与客服联系进行内容授权或下架",
            "论文部分内容阅读",
        ]
    if byline is not None:
        lines.append(indent + byline)
    lines += [indent + p for p in paragraphs]
    if note is not None:
        lines.append(indent + note)
    if teasers is not None:
        lines.append("其他文献")
        lines += list(teasers)
    return newline.join(lines) + newline


@pytest.fixture
def page() -> PageMaker:
    return make_page


@pytest.fixture
def trust_new_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the incremental cache trust files changed moments ago.

    It ignores files whose ctime is under 2 s old (a second edit within the same clock tick
    could keep size and ctime); tests edit and rebuild at once, always in later ticks.
    """
    import importlib

    monkeypatch.setattr(importlib.import_module("corpus_export.cache"), "_RACY_NS", 0)


def run_python(code: str) -> None:
    """Run code in a fresh interpreter (nothing imported yet); fail with its stderr if it fails."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def small_tasks(monkeypatch: pytest.MonkeyPatch, files: int) -> None:
    """Make every task (so every row group) `files` files long."""
    monkeypatch.setattr(sys.modules["corpus_export.process"], "TASK_MIN", files)
    monkeypatch.setattr(sys.modules["corpus_export.process"], "TASK_MAX", files)


EXE = Path(sys.executable).with_name("corpus-export")


def make_raw(raw: Path, n: int, prefix: str = "") -> None:
    """n pages under raw/ made from the seed page, each with its own title and one paragraph of
    its own (n near-duplicates of one article: build with near_dups="keep" to keep them all)."""
    seed = SEED.read_text(encoding="utf-8").split("\n")
    raw.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        text = "\n".join([f"{prefix}标题{i}", *seed[1:6], f"  第{i}段正文。", *seed[6:]])
        (raw / f"{i:05d}.txt").write_text(text, encoding="utf-8")


def start_build(cwd: Path, raw: Path, out: Path) -> subprocess.Popen[bytes]:
    """Start `corpus-export build` (two workers) in a session of its own."""
    return subprocess.Popen(
        [str(EXE), "build", "--raw", str(raw), "--out", str(out), "--workers", "2", "-q"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
