"""`corpus-export report`: one self-contained HTML file of an export beside its raw pages.

The file's promises are checked on its bytes (deterministic, nothing fetched, bounded, the
card's numbers, nothing written into the export, clear errors); what a person sees is checked
in a real browser (headless Chromium driven by Playwright): the tabs, the filters, the seed
page's lines coloured by their roles, a reject's reason, a near-duplicate cluster. Screenshots
of each view go to tests/artifacts/report/ (ignored by git).
"""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import REPO, SEED_ID, make_page, make_raw

from corpus_export.build import build
from corpus_export.cli import cli
from corpus_export.report import MEMBERS, OUTLIERS, SAMPLE, render_report

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts" / "report"
HOSTILE_TITLE = "标题</script><script>document.title='pwned'</script>"


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(raw, dist, card): the repo's raw/ and made pages (near-duplicates of the seed, one
    without an author, one with a hostile title), and files that are rejected."""
    tmp = tmp_path_factory.mktemp("report")
    raw = tmp / "raw"
    shutil.copytree(REPO / "raw", raw)
    make_raw(raw / "made", 6)  # near-duplicates of one another: one kept, five rejected
    (raw / "other").mkdir()
    (raw / "other" / "no_author.txt").write_text(
        make_page("没有作者的文章", note=None, paragraphs=("一段不同的正文，讲别的事情。",)),
        encoding="utf-8",
    )
    (raw / "other" / "hostile.txt").write_text(
        make_page(HOSTILE_TITLE, paragraphs=("完全不同的一段正文内容，关于其他主题。",)),
        encoding="utf-8",
    )
    (raw / "other" / "empty.txt").write_bytes(b"")
    (raw / "other" / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    dist, card = tmp / "dist", tmp / "CARD.md"
    build(raw, dist, card_path=card, workers=1)
    return raw, dist, card


def _report(export: tuple[Path, Path, Path], tmp_path: Path, *args: str) -> Any:
    raw, dist, _ = export
    out = tmp_path / "report.html"
    res = CliRunner().invoke(cli, ["report", str(dist), "--raw", str(raw), "-o", str(out), *args])
    return res, out


def _data(text: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S)
    assert m is not None
    return json.loads(m.group(1))


def _tree(dist: Path) -> dict[str, bytes]:
    return {p.relative_to(dist).as_posix(): p.read_bytes() for p in dist.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------------------------------
# the file


def test_report_is_written_outside_the_export_and_touches_nothing_in_it(
    export: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    before = _tree(export[1])
    res, out = _report(export, tmp_path)
    assert res.exit_code == 0, res.output
    assert out.is_file() and out.stat().st_size > 0
    assert "wrote" in res.output and "rows" in res.output
    assert _tree(export[1]) == before
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary file left


def test_same_export_gives_the_same_bytes(export: tuple[Path, Path, Path], tmp_path: Path) -> None:
    res, out = _report(export, tmp_path)
    assert res.exit_code == 0, res.output
    first = out.read_bytes()
    res, out = _report(export, tmp_path)  # replaces its own report
    assert res.exit_code == 0, res.output
    assert out.read_bytes() == first


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_report_needs_no_network(export: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, out = _report(export, tmp_path)
    text = out.read_text(encoding="utf-8")
    parser = _Links()
    parser.feed(text)
    fetching = [
        (tag, attrs)
        for tag, attrs in parser.tags
        if any(k in attrs for k in ("src", "href", "srcset", "action", "data"))
        or tag in ("link", "iframe", "object", "embed", "img")
    ]
    assert fetching == []
    assert "url(" not in text.split('id="report-data"')[0]  # no CSS fetches either
    csp = [a for t, a in parser.tags if t == "meta" and a.get("http-equiv")]
    assert csp and "default-src 'none'" in str(csp[0]["content"])  # the browser refuses any
    assert "connect-src" not in str(csp[0]["content"])


def test_page_text_cannot_end_the_data_script(
    export: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, out = _report(export, tmp_path, "--sample", "100")
    text = out.read_text(encoding="utf-8")
    assert "</script><script>document.title" not in text
    titles = [r["title"] for r in _data(text)["rows"]]
    assert HOSTILE_TITLE in titles  # the data holds it whole, as text


def test_sample_bounds_the_rows_and_rejects(export: tuple[Path, Path, Path]) -> None:
    raw, dist, _ = export
    rows = pq.ParquetFile(dist / "corpus.parquet").metadata.num_rows
    for n in (0, 1, 2):
        data = _data(render_report(dist, raw, n).html)
        sampled = [r for r in data["rows"] if SAMPLE in r["why"]]
        assert len(sampled) == min(n, rows)
        assert len(data["rows"]) <= n + 6 * OUTLIERS
        assert len(data["rejects"]) <= n
        assert set(data["pages"]) == {r["id"] for r in data["rows"]}
    data = _data(render_report(dist, raw, 3).html)  # one of each reason: taken in turn
    assert {r["reason"] for r in data["rejects"]} == {"empty", "near_duplicate", "undecodable"}


def test_outliers_are_shown_whatever_the_sample(export: tuple[Path, Path, Path]) -> None:
    raw, dist, _ = export
    data = _data(render_report(dist, raw, 0).html)
    why = {r["id"]: r["why"] for r in data["rows"]}
    table = pq.read_table(dist / "corpus.parquet").to_pylist()
    longest = max(table, key=lambda r: (r["body_chars"], [-ord(c) for c in r["id"]]))
    assert "longest" in why[longest["id"]]
    assert "no author" in why["other/no_author"]


def test_overview_has_the_cards_numbers_and_pictures(
    export: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, dist, card = export
    _, out = _report(export, tmp_path)
    text = out.read_text(encoding="utf-8")
    card_text = card.read_text(encoding="utf-8")
    table = card_text.split("| column | min | median | max | mean | total |", 1)[1]
    for name in ("body_chars", "paragraph_count", "teaser_count", "citations"):
        want = re.search(rf"^\| `{name}` \| (.*) \|$", table, re.M)
        assert want is not None
        have = re.search(rf"<th scope=row><code>{name}</code></th>(.*?)</tr>", text)
        assert have is not None
        assert re.findall(r"<td>(.*?)</td>", have.group(1)) == want.group(1).split(" | ")
    for svg in sorted((dist / "hf" / "images").glob("*.svg")):
        assert svg.read_text(encoding="utf-8") in text, svg.name
    counts = re.search(r"- Rows: ([\d,]+); rejected files: ([\d,]+);", card_text)
    assert counts is not None
    assert f"<strong>{counts.group(1)}</strong> rows" in text
    assert f"<strong>{counts.group(2)}</strong> rejected files" in text


def test_a_page_gone_since_the_build_is_a_note(
    export: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    raw, dist, _ = export
    moved = tmp_path / "raw"
    shutil.copytree(raw, moved)
    (moved / f"{SEED_ID}.txt").unlink()
    (moved / "other" / "no_author.txt").write_text("改过的页面\n", encoding="utf-8")
    out = tmp_path / "r.html"
    res = CliRunner().invoke(
        cli, ["report", str(dist), "--raw", str(moved), "-o", str(out), "--sample", "100"]
    )
    assert res.exit_code == 0, res.output
    assert f"note: {SEED_ID}: raw page not found" in res.output
    pages = _data(out.read_text(encoding="utf-8"))["pages"]
    assert "not in the raw folder" in pages[SEED_ID]["note"]
    assert pages[SEED_ID]["fields"]["title"] == "发挥党建联盟在基层社会治理中的关键作用"
    assert "changed since the build" in pages["other/no_author"]["note"]


def test_kept_near_duplicates_are_clusters_of_rows(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    make_raw(raw, 3)
    build(raw, tmp_path / "dist", card_path=tmp_path / "CARD.md", workers=1, near_dups="keep")
    data = _data(render_report(tmp_path / "dist", raw).html)
    assert data["near_mode"] == "keep" and data["rejects"] == []
    [cluster] = data["clusters"]
    assert cluster["kept"] == "00000" and cluster["size"] == 2
    assert [m["id"] for m in cluster["members"]] == ["00001", "00002"]
    member = cluster["members"][0]
    assert [t for t, differs in member["body"] if differs] == ["1"]  # 第1段 against 第0段
    assert [t for t, differs in member["kept"] if differs] == ["0"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["missing-dist", "--raw", "{raw}"], "does not exist"),
        (["{raw}", "--raw", "{raw}"], "manifest.json: missing"),
        (["{dist}", "--raw", "missing-raw"], "raw folder 'missing-raw' does not exist"),
        (["{dist}", "--raw", "{raw}", "-o", "{dist}/report.html"], "inside the export"),
        (["{dist}", "--raw", "{raw}", "-o", "nowhere/report.html"], "does not exist"),
        (["{dist}", "--raw", "{raw}", "-o", "{card}"], "is not a report written by"),
        (["{dist}", "--raw", "{raw}", "--sample", "-1"], "Invalid value"),
    ],
)
def test_bad_input_is_one_error_line(
    export: tuple[Path, Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    said: str,
) -> None:
    raw, dist, card = export
    monkeypatch.chdir(tmp_path)
    before, card_before = _tree(dist), card.read_bytes()
    filled = [a.format(raw=raw, dist=dist, card=card) for a in args]
    res = CliRunner().invoke(cli, ["report", *filled])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert "Error:" in res.output and said in res.output
    assert _tree(dist) == before and card.read_bytes() == card_before
    assert not any(tmp_path.iterdir())


def test_a_symlink_loop_at_the_output_is_one_error_line(
    export: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "loop.html"
    out.symlink_to(out.name)  # points at itself
    raw, dist, _ = export
    res = CliRunner().invoke(cli, ["report", str(dist), "--raw", str(raw), "-o", str(out)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert res.output.startswith("Error:") and "loop.html" in res.output
    assert out.is_symlink() and str(out.readlink()) == out.name  # left as it was


@pytest.mark.parametrize(
    ("where", "key", "value"),
    [
        ("near_duplicates", "found", "many"),
        ("near_duplicates", "removed", 1.5),
        ("counts", "files_seen", "12"),
        ("counts", "ignored_files", None),
    ],
)
def test_a_manifest_count_that_is_not_a_number_is_one_error_line(
    export: tuple[Path, Path, Path], tmp_path: Path, where: str, key: str, value: object
) -> None:
    raw, dist, _ = export
    edited = tmp_path / "dist"
    shutil.copytree(dist, edited)
    manifest = json.loads((edited / "manifest.json").read_text(encoding="utf-8"))
    manifest[where][key] = value
    (edited / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    out = tmp_path / "report.html"
    res = CliRunner().invoke(cli, ["report", str(edited), "--raw", str(raw), "-o", str(out)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert res.output.startswith("Error:") and "manifest.json" in res.output
    assert f"{where}.{key}" in res.output
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# an export without some columns (--drop) or with pseudonyms (--pseudonymize)


def _cli_build(raw: Path, out: Path, *args: str) -> Path:
    dist = out / "dist"
    card = str(out / "CARD.md")
    args = ("--raw", str(raw), "--out", str(dist), "--card", card, "-q", "--workers", "1", *args)
    res = CliRunner().invoke(cli, ["build", *args])
    assert res.exit_code == 0, res.output
    return dist


def _cli_report(dist: Path, raw: Path, out: Path) -> tuple[str, dict[str, Any]]:
    res = CliRunner().invoke(cli, ["report", str(dist), "--raw", str(raw), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    text = out.read_text(encoding="utf-8")
    return text, _data(text)


def _whole_rows(dist: Path) -> list[dict[str, Any]]:
    return pq.read_table(dist / "corpus.parquet").to_pylist()


@pytest.mark.parametrize(
    "drop",
    [
        ("uploader",),
        ("body",),
        ("teasers",),
        ("title",),
        ("sha256",),
        ("source", "citations", "author", "paragraph_count", "body_chars", "teaser_count"),
    ],
)
def test_report_of_an_export_built_without_columns(
    export: tuple[Path, Path, Path], tmp_path: Path, drop: tuple[str, ...]
) -> None:
    raw, whole, _ = export
    dist = _cli_build(raw, tmp_path, *(a for c in drop for a in ("--drop", c)))
    text, data = _cli_report(dist, raw, tmp_path / "report.html")
    assert data["rows"] and all(not set(drop) & set(r) for r in data["rows"])
    assert all(not set(drop) & set(p["fields"]) for p in data["pages"].values())
    assert data["masked"] == {c: "dropped" for c in drop}
    assert "Masked: " + ", ".join(f"<code>{c}</code> (dropped)" for c in drop) in text
    for name in ("body_chars", "paragraph_count", "teaser_count", "citations"):
        assert (f'data-chart="{name}"' in text) == (name not in drop)
    assert ('data-chart="top_sources"' in text) == ("source" not in drop)
    # the dropped values of the pages are not in the report, not even in the raw lines
    for column in set(drop) & {"uploader", "body", "teasers", "title"}:
        for row in _whole_rows(whole):
            value = row[column]
            values = value.split("\n") if column == "body" else value
            for v in values if isinstance(values, list) else [values]:
                if v and len(v) > 3:
                    assert v not in text, (column, v)
    seed = data["pages"][SEED_ID]
    marks = [line[3] for line in seed["lines"] if f"[{drop[0]} dropped]" in line[3]]
    assert marks or drop[0] in ("sha256", "body_chars", "paragraph_count", "teaser_count")


def test_report_of_a_pseudonymized_export_names_no_uploader(
    export: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, whole, _ = export
    monkeypatch.setenv("CORPUS_EXPORT_PSEUDONYM_KEY", "a secret key")
    dist = _cli_build(raw, tmp_path, "--pseudonymize", "uploader", "--pseudonymize", "author")
    text, data = _cli_report(dist, raw, tmp_path / "report.html")
    names = {r[c] for r in _whole_rows(whole) for c in ("uploader", "author") if r[c]}
    assert "xd05724221" in names  # the seed's uploader
    raw_bytes = (tmp_path / "report.html").read_bytes()
    assert not [n for n in names if n.encode("utf-8") in raw_bytes]
    assert data["masked"] == {"uploader": "pseudonymized", "author": "pseudonymized"}
    seed = data["pages"][SEED_ID]
    assert seed["fields"]["uploader"].startswith("p_")
    assert any("上传用户:[uploader pseudonymized]" in line[3] for line in seed["lines"])
    assert any("[author pseudonymized]" in line[3] for line in seed["lines"])
    assert "Masked: <code>uploader</code> (pseudonymized)" in text
    shown = [r for r in data["rejects"] if r["reason"] == "near_duplicate"]
    assert shown and all(r["lines"] for r in shown)  # near-duplicates parse: shown, masked


def test_report_without_body_shows_no_body_text(
    export: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    raw, whole, _ = export
    dist = _cli_build(raw, tmp_path, "--drop", "body")
    text, data = _cli_report(dist, raw, tmp_path / "report.html")
    paragraphs = {p for r in _whole_rows(whole) for p in r["body"].split("\n") if len(p) > 3}
    assert paragraphs and not [p for p in paragraphs if p in text]
    assert data["clusters"]  # the near-duplicates are listed, without their bodies
    for cluster in data["clusters"]:
        assert all(m["body"] == [] and "without body" in m["note"] for m in cluster["members"])


def test_the_row_file_is_the_one_the_build_kept_of_two_with_one_id(tmp_path: Path) -> None:
    import gzip

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text(make_page("留下的文章"), encoding="utf-8")
    (raw / "a.txt.gz").write_bytes(gzip.compress(make_page("重复的文章").encode("utf-8"), mtime=0))
    dist = _cli_build(raw, tmp_path)
    _, data = _cli_report(dist, raw, tmp_path / "report.html")
    [row] = data["rows"]
    assert row["title"] == "留下的文章"
    page = data["pages"]["a"]
    assert page["lines"][0][3] == "留下的文章" and page["note"] == ""
    [reject] = data["rejects"]
    assert reject["reason"] == "duplicate" and reject["path"] == "a.txt.gz"
    assert reject["lines"][0] == "重复的文章"


# ---------------------------------------------------------------------------------------------
# in a browser


@pytest.fixture(scope="module")
def browser() -> Any:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
    )
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def opened(export: tuple[Path, Path, Path], browser: Any, tmp_path_factory: pytest.TempPathFactory):
    """The report of the export, open in a page; the page's errors and requests recorded."""
    raw, dist, _ = export
    out = tmp_path_factory.mktemp("opened") / "report.html"
    res = CliRunner().invoke(cli, ["report", str(dist), "--raw", str(raw), "-o", str(out)])
    assert res.exit_code == 0, res.output
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.errors, page.requests = [], []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("request", lambda r: page.requests.append(r.url))
    page.goto(out.as_uri())
    yield page
    page.close()


def _tab(page: Any, view: str) -> None:
    page.click(f"#tab-{view}")
    assert page.get_attribute(f"#tab-{view}", "aria-selected") == "true"
    assert page.is_visible(f"#panel-{view}")


def test_browser_overview(opened: Any) -> None:
    page = opened
    assert page.is_visible("#panel-overview")
    assert page.inner_text(".counts").count("rows") >= 1
    assert page.locator("#panel-overview figure.chart svg").count() == 6
    assert page.title().startswith("corpus-export report")  # the hostile title ran nowhere
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)


def test_browser_tabs_are_keyboard_buttons(opened: Any) -> None:
    page = opened
    page.focus("#tab-overview")
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#tab-pages", "aria-selected") == "true"
    assert page.evaluate("document.activeElement.id") == "tab-pages"
    page.keyboard.press("End")
    assert page.get_attribute("#tab-near", "aria-selected") == "true"
    page.keyboard.press("ArrowRight")  # wraps round
    assert page.get_attribute("#tab-overview", "aria-selected") == "true"
    tabs = page.locator('[role="tablist"] button[role="tab"]')
    assert tabs.count() == 5


def test_browser_pages_filter_and_sort(opened: Any) -> None:
    page = opened
    _tab(page, "pages")
    rows = page.locator("#rows-table tbody tr")
    total = rows.count()
    assert total == 3  # the seed, no_author, hostile: the made pages are near-duplicates
    page.select_option("#f-author", "no")
    assert [rows.nth(i).get_attribute("data-id") for i in range(rows.count())] == [
        "other/no_author"
    ]
    page.select_option("#f-author", "")
    page.fill("#f-text", "没有作者")
    assert [rows.nth(i).get_attribute("data-id") for i in range(rows.count())] == [
        "other/no_author"
    ]
    page.select_option("#f-source", "党员生活")
    assert rows.count() == 1
    page.fill("#f-text", "")
    assert rows.count() == 3  # every page made from the template names that source
    page.select_option("#f-source", "")
    page.fill("#f-text", "")
    page.fill("#f-min", "1190")
    page.fill("#f-max", "1200")
    assert rows.count() == 1 and rows.first.get_attribute("data-id") == SEED_ID
    page.fill("#f-min", "")
    page.fill("#f-max", "")
    page.click('#rows-table th[data-key="body_chars"] button')
    page.click('#rows-table th[data-key="body_chars"] button')  # descending
    assert page.get_attribute('#rows-table th[data-key="body_chars"]', "aria-sort") == "descending"
    chars = [
        int(c.replace(",", ""))
        for c in page.locator("#rows-table tbody td.num:nth-child(7)").all_inner_texts()
    ]
    assert chars == sorted(chars, reverse=True) and len(chars) == total
    page.screenshot(path=str(ARTIFACTS / "pages.png"), full_page=True)


def _open_seed(page: Any) -> None:
    _tab(page, "pages")
    page.fill("#f-text", SEED_ID)
    row = page.locator(f'#rows-table tbody tr[data-id="{SEED_ID}"]')
    row.focus()
    page.keyboard.press("Enter")  # a row opens from the keyboard


def test_browser_page_view_of_the_seed(opened: Any, export: tuple[Path, Path, Path]) -> None:
    page = opened
    _open_seed(page)
    assert page.get_attribute("#tab-page", "aria-selected") == "true"
    lines = page.locator("#page-view ol.lines li")
    title = lines.nth(0)
    assert title.get_attribute("data-role") == "title"
    assert "role-title" in (title.get_attribute("class") or "")
    assert title.inner_text().endswith("发挥党建联盟在基层社会治理中的关键作用")
    note = page.locator('#page-view li[data-role="author note"]')
    assert note.count() == 1 and "(作者系武汉市洪山区委书记)" in note.inner_text()
    teasers = page.locator('#page-view li[data-role="teaser"]')
    assert teasers.count() == 10
    colours = {
        role: page.eval_on_selector(
            f'#page-view li[data-role="{role}"]', "e => getComputedStyle(e).backgroundColor"
        )
        for role in ("title", "author note", "teaser", "paragraph")
    }
    assert len(set(colours.values())) == 4, colours  # each role its own colour
    note.hover()
    assert "author-note" in page.inner_text("#rule-box")  # the rule that decided, on hover
    lines.nth(0).focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert "header" in page.inner_text("#rule-box")  # and on focus, line by line
    row_data = pq.read_table(export[1] / "corpus.parquet").to_pylist()
    seed = next(r for r in row_data if r["id"] == SEED_ID)
    assert page.inner_text('dd[data-field="author"]') == seed["author"]
    body = page.eval_on_selector('dd[data-field="body"]', "e => e.textContent")
    assert body == seed["body"]
    shown = page.locator('dd[data-field="teasers"] li').all_text_contents()
    assert shown == seed["teasers"]
    page.screenshot(path=str(ARTIFACTS / "page-view.png"), full_page=True)


def test_browser_rejects_show_reason_and_first_lines(opened: Any) -> None:
    page = opened
    _tab(page, "rejects")
    binary = page.locator('#rejects-list article[data-reason="undecodable"]')
    assert binary.count() == 1
    assert "undecodable" in binary.inner_text() and "NUL byte" in binary.inner_text()
    page.select_option("#r-reason", "near_duplicate")
    near = page.locator("#rejects-list article")
    assert near.count() == 6  # the made pages: the seed with a paragraph of their own
    assert f"near-duplicate of '{SEED_ID}'" in near.first.inner_text()
    assert near.first.locator("pre.first-lines").inner_text().startswith("标题0\n")
    page.select_option("#r-reason", "")
    page.screenshot(path=str(ARTIFACTS / "rejects.png"), full_page=True)


def test_browser_near_duplicates_side_by_side(opened: Any) -> None:
    page = opened
    _tab(page, "near")
    cluster = page.locator(f'#near-list article.cluster[data-kept="{SEED_ID}"]')
    assert cluster.count() == 1
    assert "6 near-duplicate(s)" in cluster.locator("h3").inner_text()
    pairs = cluster.locator(".pair")
    assert pairs.count() == MEMBERS
    first = pairs.first
    assert first.get_attribute("data-member") == "made/00000"
    # the member's own paragraph is marked on its side; the kept side has nothing extra
    assert first.locator("div:nth-child(2) mark").all_inner_texts() == ["第0段正文。"]
    assert first.locator("div:nth-child(1) mark").count() == 0
    page.screenshot(path=str(ARTIFACTS / "near-duplicates.png"), full_page=True)


def test_browser_dark_scheme_is_dark_and_keeps_roles_apart(opened: Any) -> None:
    page = opened
    _open_seed(page)
    background = "e => getComputedStyle(e).backgroundColor"
    light = page.eval_on_selector("html", background)
    title_light = page.eval_on_selector('#page-view li[data-role="title"]', background)
    page.emulate_media(color_scheme="dark")
    try:
        dark = page.eval_on_selector("html", background)
        channels = [int(c) for c in re.findall(r"\d+", dark)[:3]]
        assert dark != light and max(channels) < 64  # a dark page
        title_dark = page.eval_on_selector('#page-view li[data-role="title"]', background)
        teaser_dark = page.eval_on_selector('#page-view li[data-role="teaser"]', background)
        assert title_dark not in (title_light, teaser_dark, dark)
        page.screenshot(path=str(ARTIFACTS / "page-view-dark.png"))
    finally:
        page.emulate_media(color_scheme="light")


def test_browser_fetched_nothing_and_raised_nothing(opened: Any) -> None:
    assert opened.errors == []
    assert all(url.startswith("file://") for url in opened.requests), opened.requests


def test_browser_page_view_of_an_export_without_columns(
    export: tuple[Path, Path, Path], browser: Any, tmp_path: Path
) -> None:
    raw, _, _ = export
    drop = ("title", "uploader", "body", "body_chars", "teasers", "sha256")
    dist = _cli_build(raw, tmp_path, *(a for c in drop for a in ("--drop", c)))
    out = tmp_path / "report.html"
    _cli_report(dist, raw, out)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(out.as_uri())
    _open_seed(page)
    assert page.is_visible("#page-view")
    shown = page.locator("#page-view dd[data-field]").evaluate_all(
        "els => els.map(e => e.dataset.field)"
    )
    assert shown and not set(drop) & set(shown) and "author" in shown
    lines = page.locator("#page-view ol.lines").inner_text()
    assert "[body dropped]" in lines and "[uploader dropped]" in lines
    heads = page.locator("#rows-table th[data-key]").evaluate_all(
        "els => els.map(e => e.dataset.key)"
    )
    assert "body_chars" not in heads and "paragraph_count" in heads
    page.close()
    assert errors == []
