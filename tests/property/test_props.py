"""Properties: any bytes → a valid row or a documented reject; ids, paragraphs, CSV round trip."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus_export import neardup, schema, template
from corpus_export.errors import REASON_DOCS, Reason, Rejected
from corpus_export.parse import (
    Page,
    has_space_run,
    header_fields,
    is_boilerplate,
    parse_page,
    split_paragraphs,
)
from corpus_export.process import pages_to_table, unescape_csv_cell, write_csv
from corpus_export.read import page_id
from corpus_export.rules import BOILERPLATE_RE2, WS, Text, table_problems

SEED = Path(__file__).resolve().parents[2] / "raw" / "000_bba07cf85f81785c.txt"
SEED_BYTES = SEED.read_bytes()
SEED_LINES = SEED_BYTES.decode("utf-8").split("\n")

EDGE_SPACES = " \t\u3000\u00a0"


def check_outcome(data: bytes | str) -> Page | Rejected:
    """Parse data and assert the contract: a valid row, or a reject with a documented reason."""
    try:
        page = parse_page(data, page_id="p")
    except Rejected as rej:
        assert rej.reason in Reason
        assert rej.reason in REASON_DOCS
        assert rej.detail
        return rej
    problems = table_problems(pages_to_table([page]))
    assert problems == [], problems
    for line in page.body.split("\n"):
        assert not is_boilerplate(line), line
    for teaser in page.teasers:
        assert not is_boilerplate(teaser), teaser
    return page


# --- arbitrary input -------------------------------------------------------------------------


@given(st.binary(max_size=2000))
def test_parse_page_arbitrary_bytes(data: bytes) -> None:
    check_outcome(data)


@given(st.text(max_size=2000))
def test_parse_page_arbitrary_text(text: str) -> None:
    check_outcome(text)


TEMPLATE_WORDS = [
    "来源",
    "被引量",
    "上传用户",
    "论文部分内容阅读",
    "其他文献",
    "下载到本地 , 更方便阅读",
    "声明 : 版权",
    "作者系",
    "(",
    "（",
    ")",
    "）",
    ":",
    "：",
    "|",
    "｜",
    "文/",
    "次",
    "0",
    "12",
    " ",
    "  ",
    "\u3000",
    "\u00a0",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "正文",
    "标题",
    "\ufeff",
    "\x0b",
    "\x85",
]


TEMPLATE_LINES = [
    "标题",
    "来源 :党员生活 | 被引量 : 0次 | 上传用户:xd05724221",
    "来源：刊",
    "被引量:12",
    "上传用户 : u",
    "来源 :x | 其他",
    "下载到本地 , 更方便阅读",
    "声明 : 本文档内容版权归属内容提供方",
    "论文部分内容阅读",
    "其他文献",
    "其他文献：",
    "  正文一。  正文二。",
    "（作者系某人）",
    "正文。(作者为某某)",
    "作者：张三",
    "文/李四",
    "文／王五",
    "\u3000\u3000正文\u3000\u3000",
    "=1+1",
    "其他文献  其他文献",
    "正文  论文部分内容阅读  下载到本地,更方便阅读",
    "  (作者单位:)",
    "",
]
template_line = st.sampled_from(TEMPLATE_LINES) | st.lists(
    st.sampled_from(TEMPLATE_WORDS), max_size=8
).map("".join)


@given(st.lists(template_line, max_size=25))
def test_parse_page_template_soup(lines: list[str]) -> None:
    """Pages glued from the template's own lines and markers: the input most likely to confuse."""
    text = "\n".join(lines)
    check_outcome(text)
    check_outcome(text.encode("utf-8"))
    check_outcome(text.encode("gb18030"))


# --- mutations of the real seed page ---------------------------------------------------------

FULL_WIDTH = [(":", "："), (",", "，"), ("|", "｜"), ("(", "（"), (")", "）"), ("/", "／")]
SPACE_SWAPS = [("  ", "\u3000\u3000"), ("  ", "\t"), (" ", "\u00a0"), (" ", ""), ("\u3000", " ")]


@st.composite
def seed_mutations(draw: st.DrawFn) -> bytes:
    lines = list(SEED_LINES)
    for _ in range(draw(st.integers(0, 6))):
        if not lines:
            break
        op = draw(st.sampled_from(["drop", "dup", "swap", "space", "punct"]))
        i = draw(st.integers(0, len(lines) - 1))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "space":
            a, b = draw(st.sampled_from(SPACE_SWAPS))
            lines[i] = lines[i].replace(a, b) if draw(st.booleans()) else lines[i].replace(b, a)
        else:
            a, b = draw(st.sampled_from(FULL_WIDTH))
            lines[i] = lines[i].replace(a, b) if draw(st.booleans()) else lines[i].replace(b, a)
    text = "\n".join(lines)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
    data = text.encode(encoding)
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


@given(seed_mutations())
def test_parse_page_seed_mutations(data: bytes) -> None:
    check_outcome(data)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_seed_reencoded_gives_the_same_row(encoding: str, newline: str) -> None:
    data = SEED_BYTES.decode("utf-8").replace("\n", newline).encode(encoding)
    page = check_outcome(data)
    seed_page = parse_page(SEED_BYTES, page_id="p")
    assert isinstance(page, Page)
    assert page.to_row() | {"sha256": ""} == seed_page.to_row() | {"sha256": ""}


def test_seed_truncated_at_every_line_gives_row_or_reject() -> None:
    for cut in range(0, len(SEED_BYTES), 97):
        check_outcome(SEED_BYTES[:cut])


# --- split_paragraphs, page_id ---------------------------------------------------------------


@given(
    st.text(
        alphabet=st.sampled_from([*EDGE_SPACES, "a", "中", "\n", "\x0b", "。"]) | st.characters()
    )
)
def test_split_paragraphs_pieces_are_stripped_and_non_empty(line: str) -> None:
    for piece in split_paragraphs(line):
        assert piece
        assert piece == piece.strip()
        assert piece[0] not in EDGE_SPACES and piece[-1] not in EDGE_SPACES


SPACE_RUN = re.compile("[ \t\u3000\u00a0]{2,}")
NOT_SPACES = ["a", "中", "。", "\u2003", "\u200b"]
spaced_line = st.text(alphabet=st.sampled_from([" ", *NOT_SPACES]), max_size=40) | st.text(
    alphabet=st.sampled_from([*EDGE_SPACES, *NOT_SPACES]), max_size=40
)  # U+0020 alone (the fast cut) or with the wide spaces


@given(spaced_line)
def test_split_paragraphs_cuts_at_every_run_of_two_spaces_and_only_there(line: str) -> None:
    """The cut at runs of spaces, however it is made fast, is the regex's: a run of two or
    more of space, tab, U+3000, NBSP in any mix, and nothing else (not U+2003, not one)."""
    want = [p for p in (x.strip() for x in SPACE_RUN.split(line.strip())) if p]
    assert split_paragraphs(line) == want
    assert has_space_run(line) == (SPACE_RUN.search(line) is not None)


# Values without colons or bars (what the fast path reads), with keys' words in them.
header_value = st.lists(
    st.sampled_from(
        ["a", "9", "中", "次", " ", "\u3000", "/", "，", "、", "来源", "被引", "下载到本地"]
    ),
    max_size=6,
).map("".join)
header_field = st.tuples(
    st.sampled_from([*template.KEY_SPELLINGS, "页数"]),
    st.sampled_from(["", " ", "  "]),
    st.sampled_from([":", "："]),
    header_value,
).map("".join)


@given(st.lists(header_field, min_size=1, max_size=14), st.sampled_from(["|", " | ", "| "]))
def test_header_fields_of_a_plain_line_are_the_general_reading(fields: list[str], bar: str) -> None:
    """A header line cut by "|" is read by a fast path; the same line cut by "｜" (which only
    the general reading takes) gives the same fields."""
    line = bar.join(fields).strip()
    assert header_fields(line) == header_fields(line.replace("|", "｜"))


path_part = st.lists(
    st.sampled_from(["a", "中", " ", ".", "\\", "\n", "%", "txt", ".txt", ".gz", "=", "-"])
    | st.characters(blacklist_categories=["Cs"]),
    min_size=1,
    max_size=8,
).map("".join)
undecodable = st.binary(min_size=1, max_size=4).map(lambda b: b.decode("utf-8", "surrogateescape"))


@given(
    st.lists(path_part | undecodable, min_size=1, max_size=4),
    st.sampled_from([".txt", ".txt.gz"]),
)
def test_page_id_is_posix_without_backslash_or_extension(parts: list[str], suffix: str) -> None:
    parts = [p.replace("/", "_") for p in parts]
    parts = [p for p in parts if p not in (".", "..")] or ["x"]
    stem = "/".join(parts)
    pid = page_id(stem + suffix)
    assert pid
    assert "\\" not in pid
    pid.encode("utf-8")  # printable: no surrogate escapes left
    # exactly the one extension is gone: the id is the escaped stem
    assert pid == page_id(stem + ".txt") == page_id(stem + ".txt.gz")
    if "\\" not in stem and "%" not in stem and stem.isprintable():
        try:
            stem.encode("utf-8")
        except UnicodeEncodeError:
            return
        assert pid == stem or pid.endswith("%2Etxt") or pid.endswith("%2Etxt.gz")


# --- CSV round trip --------------------------------------------------------------------------

cell_alphabet = st.sampled_from(
    [
        ",",
        '"',
        "\n",
        "\r\n",
        "'",
        "=",
        "+",
        "-",
        "@",
        "\t",
        " ",
        "中文",
        "，",
        "a",
        "1",
        "NA",
        "null",
    ]
)
cell = st.lists(cell_alphabet, min_size=1, max_size=8).map("".join)
maybe_cell = st.none() | cell


@st.composite
def table_rows(draw: st.DrawFn) -> list[dict[str, object]]:
    n = draw(st.integers(1, 4))
    rows = []
    for i in range(n):
        rows.append(
            {
                "id": f"{i:03d}" + draw(cell),
                "title": draw(cell),
                "source": draw(maybe_cell),
                "citations": draw(st.none() | st.integers(0, 2**31 - 1)),
                "uploader": draw(maybe_cell),
                "author": draw(maybe_cell),
                "body": draw(cell),
                "paragraph_count": draw(st.integers(1, 1000)),
                "body_chars": draw(st.integers(1, 1000)),
                "teasers": draw(st.lists(cell, max_size=3)),
                "teaser_count": draw(st.integers(0, 3)),
                "sha256": "0" * 64,
            }
        )
    return rows


def read_csv_back(data: bytes) -> list[dict[str, object]]:
    """Read corpus.csv as a spreadsheet-minded user would, then undo our documented escapes."""
    frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, na_values=[""])
    out = []
    for rec in frame.to_dict("records"):
        row: dict[str, object] = {}
        for f in schema.FIELDS:
            v = rec[f.name]
            missing = v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA
            if pa.types.is_list(f.arrow):
                row[f.name] = json.loads(v)
            elif pa.types.is_integer(f.arrow):
                row[f.name] = None if missing else int(v)
            else:
                row[f.name] = None if missing else unescape_csv_cell(v)
        out.append(row)
    return out


@given(table_rows())
def test_csv_round_trip(rows: list[dict[str, object]]) -> None:
    table = pa.Table.from_pylist(rows, schema=schema.arrow_schema())
    sink = io.BytesIO()
    write_csv(table, sink, header=True)
    assert read_csv_back(sink.getvalue()) == table.to_pylist()


def test_csv_formula_cells_are_defused() -> None:
    rows = [
        {
            "id": '=HYPERLINK("x")',
            "title": "+1",
            "source": "-2",
            "citations": 3,
            "uploader": "@SUM(A1)",
            "author": "'quoted",
            "body": "=1+1",
            "paragraph_count": 1,
            "body_chars": 4,
            "teasers": ["=cmd"],
            "teaser_count": 1,
            "sha256": "0" * 64,
        }
    ]
    table = pa.Table.from_pylist(rows, schema=schema.arrow_schema())
    sink = io.BytesIO()
    write_csv(table, sink, header=True)
    frame = pd.read_csv(io.BytesIO(sink.getvalue()), dtype=str, keep_default_na=False)
    for name in ("id", "title", "source", "uploader", "author", "body"):
        assert frame[name][0][0] == "'", name  # no cell starts with = + - @
    assert frame["teasers"][0].startswith("[")
    assert read_csv_back(sink.getvalue()) == rows


# --- the validator's byte-level screen --------------------------------------------------------

LINE_PIECES = st.sampled_from(
    ["其他文献", "其它文献：", "其中", "论文部分内容阅读", "论", "下载到本地 , 更方便阅读", "下",
     "声明 : 本文内容提供方上传", "声明", "正文", "a", "\n", "\n\n", " ", "\t", "\r", "\f", "\v",
     "\u3000", "\u00a0", "\u2003", "é", "\x00", "下载到本地", "更方便阅读", "：内容提供方",
     " , ", "："]
)  # fmt: skip
TEXTS = st.lists(LINE_PIECES, max_size=8).map("".join)


@given(st.lists(TEXTS, min_size=1, max_size=6), st.integers(0, 3))
def test_line_screen_never_misses_what_re2_flags(texts: list[str], cut: int) -> None:
    """Text.lines_may_break() is False only when no RE2 line rule (body or teaser) matches."""
    arr = pa.array(["x"] * cut + texts).slice(cut)  # an offset into a shared buffer too
    rules = (BOILERPLATE_RE2, rf"(?m)^{WS}|{WS}$|\n\n", rf"^{WS}|{WS}$|^$")
    flagged = any(pc.any(pc.match_substring_regex(arr, rule)).as_py() for rule in rules)
    half = len(texts) // 2
    for col in (arr, pa.chunked_array([arr.slice(0, half), arr.slice(half)])):
        if flagged:
            assert Text(col).lines_may_break(), texts
        assert Text(col).newlines_per_string().tolist() == [t.count("\n") for t in texts]


def test_every_template_line_is_caught_by_the_rule_and_the_screen() -> None:
    """Each of the template's own lines, in each spelling its tables give (and with the
    punctuation and colons pages print), is matched by the table rule and not passed by the
    screen: the rule is made from the tables the parser drops these lines by."""
    from corpus_export import template as t

    lines = [
        f"{t.DOWNLOAD_LINE} , {t.DOWNLOAD_LINE_REST}",
        f"{t.DOWNLOAD_LINE}，{t.DOWNLOAD_LINE_REST}！",
        t.DISCLAIMER,
        *(f"{t.DISCLAIMER_KEY}∶本文{word}" for word in t.DISCLAIMER_LINE_WORDS),
        t.READ_MARKER,
        f"{t.READ_MARKER} :",
        *t.TEASER_HEADINGS,
        *(f"{heading}：" for heading in t.TEASER_HEADINGS),
    ]
    for line in lines:
        col = pa.array(["正文第一段。", f"正文。\n{line}\n下文。"])
        assert pc.any(pc.match_substring_regex(col, BOILERPLATE_RE2)).as_py(), line
        assert Text(col).lines_may_break(), line


def test_line_screen_follows_the_boilerplate_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """The screen's starts are read from the rule itself: a rule whose lines start with ASCII,
    a two-byte or a four-byte character, or one character then any, is screened as well."""
    from corpus_export import rules

    rule = r"(?m)^(ab+c|é\d|𠀋x|Z.y)$"
    monkeypatch.setattr(rules, "BOILERPLATE_RE2", rule)
    monkeypatch.setattr(rules, "_BOILERPLATE_LEADS", rules._leads(rule))
    clean = ["其他文献的说明", "abd", "é", "𠀋"]
    assert not Text(pa.array(clean)).lines_may_break()
    for broken in ("abbc", "é5", "𠀋x", "Zqy", "正文\nabc"):
        assert pc.any(pc.match_substring_regex(pa.array([broken]), rule)).as_py(), broken
        assert Text(pa.array([*clean, broken])).lines_may_break(), broken


def test_line_screen_passes_clean_text() -> None:
    clean = ["其中一段。\n第二段", "论述\n下一步\n声音", "正文"]
    assert not Text(pa.array(clean)).lines_may_break()
    for broken in ("其他文献", "a\n\nb", "a \nb", "\u3000a", "a\u00a0", "\na", "a\n", ""):
        assert Text(pa.array([*clean, broken])).lines_may_break(), broken


def test_boilerplate_rule_is_per_line() -> None:
    """A template line split over two lines is two ordinary lines (as the parser sees them)."""
    split = pa.array(["下载到本地\n更方便阅读", "声明\n：本文内容提供方上传"])
    assert not pc.any(pc.match_substring_regex(split, BOILERPLATE_RE2)).as_py()
    assert not Text(split).lines_may_break()
    whole = pa.array(["正文\n下载到本地 , 更方便阅读", "声明 : 本文内容提供方上传"])
    assert pc.match_substring_regex(whole, BOILERPLATE_RE2).to_pylist() == [True, True]
    assert Text(whole).lines_may_break()


# --- near-duplicate signatures ----------------------------------------------------------------

SIGNED_CHARS = st.sampled_from([*"的了是一中ab \n", "\U00020000", "\U0001f600"])


@given(
    st.lists(
        st.one_of(
            st.integers(0, 3 * neardup.MIN_CHARS),
            st.sampled_from([neardup.SHINGLE, neardup.MIN_CHARS - 1, neardup.MIN_CHARS]),
        ).flatmap(lambda n: st.text(SIGNED_CHARS, min_size=n, max_size=n)),
        max_size=30,
    ),
    st.sampled_from([neardup.MIN_CHARS, 64, 101, 256, neardup.HASH_BLOCK]),
)
def test_signatures_are_the_minhash_of_each_bodys_own_shingles(
    bodies: list[str], block: int
) -> None:
    """Bodies signed together, a hash block at a time (blocks of many sizes: bodies across a
    block's end, ending on it, longer than it, short bodies between), each sign as the MinHash
    of the set of that body's own shingle hashes, and a body under MIN_CHARS as 0s."""
    import numpy as np
    import rensa

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(neardup, "HASH_BLOCK", block)
        together = neardup.signatures(bodies)
    assert together.shape == (len(bodies), neardup.PERMUTATIONS)
    for body, sig in zip(bodies, together, strict=True):
        if len(body) < neardup.MIN_CHARS:
            assert not sig.any()
            continue
        own = np.unique(neardup._shingle_hashes(body)).astype(np.uint64)
        alone = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
            own,
            np.array([0, len(own)], dtype=np.uint64),
            num_perm=neardup.PERMUTATIONS,
            seed=neardup.SEED,
        )
        assert sig.tolist() == alone.to_rows()[0]
