"""One page's bytes or text → `Page`, or `Rejected` with a reason. Pure but parse_file, which
reads one file as a build does."""

from __future__ import annotations

import contextlib
import difflib
import functools
import hashlib
import html
import html.entities
import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Any, overload

from .errors import Reason, Rejected
from .notes import (
    ELLIPSIS,
    is_closing_line,
    is_signature,
    strip_author_note,
    strip_byline,
    take_author,
)
from .read import SUFFIXES, RawFile, read_raw
from .read import page_id as _page_id
from .template import (
    BUTTONS,
    CITATIONS_KEY,
    COLON,
    COLON_CHARS,
    DISCLAIMER,
    DISCLAIMER_KEY,
    DISCLAIMER_TRADITIONAL,
    DISCLAIMER_WORDS,
    DOC_EXTENSIONS,
    DOC_SITES,
    DOWNLOAD_LINE,
    KEY_SPELLINGS,
    OTHER_LIST_HEADINGS,
    PAGER_WORDS,
    READ_MARKER,
    RECOMMEND_HEADINGS,
    RECOMMEND_HEADINGS_ALONE,
    SEPARATORS,
    SHARE_TARGETS,
    SITE_FIELD_KEYS,
    SITE_LINKS,
    SOURCE_KEY,
    TEASER_HEADING,
    TEASER_HEADINGS,
    TRADITIONAL_SPELLINGS,
    TRAILING_BUTTONS,
    UPLOADER_KEY,
    alternation,
    first_chars,
    first_pairs,
    needles,
    render_tables,
    template_lines_pattern,
)

__all__ = [
    "CITATIONS_KEY",
    "READ_MARKER",
    "SOURCE_KEY",
    "TEASER_HEADING",
    "UPLOADER_KEY",
    "LineRole",
    "Page",
    "Role",
    "explain_page",
    "format_roles",
    "parse_file",
    "parse_page",
    "parse_text",
]

_TEASER_HEADINGS = f"(?:{alternation(TEASER_HEADINGS)})"
_TEASER_HEADINGS_RE = re.compile(_TEASER_HEADINGS)

#: Invisible characters str.strip() keeps: zero-width space/joiners, word joiner, stray BOM.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
#: What str.strip() removes is all Unicode whitespace; these are the ones scrapers leave.
SPACES = " \t\u3000\u00a0"
# Two or more spaces inside a line: a lost line break between paragraphs.
_PARA_BREAK = re.compile(f"[{SPACES}]{{2,}}")
# Header separators: ASCII and full-width bars, 丨 (U+4E28), which Chinese sites use as one,
# and the box-drawing and vertical-form bars │ ︱.
_SEPARATORS = SEPARATORS
_SEP = re.compile(f"[{_SEPARATORS}]")
#: More key occurrences than this and a line is not a header (a header has three fields).
_MAX_HEADER_KEYS = 12
#: The keys as pages spell them (template.KEY_SPELLINGS): header_fields names each field by the
#: key a spelling stands for.
_KEY_SPELLINGS = KEY_SPELLINGS
_KEYS = alternation(_KEY_SPELLINGS)  # longest first: 被引量 before 被引
_KEY = re.compile(rf"({_KEYS})\s*{COLON}")
#: What a header line starts with: a key, or a separator (the line cut at spaces around it).
_HEADER_FIRST = first_chars(_KEY) | frozenset(_SEPARATORS)
#: The cheap test that a line may hold a key: the fewest spellings every spelling holds.
_KEY_NEEDLES = needles(_KEY_SPELLINGS)
_ANY_KEY = re.compile(alternation(_KEY_NEEDLES))
_KEY_SPACES = re.compile(rf"({_KEY.pattern})[{SPACES}]{{2,}}")
_CITATIONS_VALUE = re.compile(r"(\d{1,3}(?:[,，]\d{3}){1,2}|\d{1,9})\s*次?\s*[。.]?\s*$")
# What may end a header value besides the next separator: a slash or comma some sites use as one.
_VALUE_TAIL = SPACES + "/／,，、;；·•"
# "下载到本地 , 更方便阅读" (download to read more easily) and "声明 : …" (disclaimer).
_BOILERPLATE = re.compile("(?:" + template_lines_pattern(r"\s") + ")")
#: Before the 论文部分内容阅读 line (the template's line before the article), these are site
#: furniture, not article text: the 声明 line wrapped or cut (its own words), a download button,
#: a line of the site's own short fields (发布时间 : 2020-10-01 | 页数 : 2页, 分享到 :).
_PREAMBLE_JUNK = re.compile(
    rf"{DISCLAIMER_KEY}\s*{COLON}?|.{{0,80}}(?:{alternation(DISCLAIMER_WORDS)}).{{0,80}}"
    rf"|(?:免费|立即)?下载(?:本文|本文档|全文|文档|PDF|pdf)?"
)
_SITE_KEYS = f"(?:{alternation(SITE_FIELD_KEYS)})"
#: A header line may open with the site's own fields (页数 : 3页 | 来源 :…).
_FIELDS_FIRST = _HEADER_FIRST | first_chars(_SITE_KEYS)
# a value: short, no sentence end, no colon but a time's (2021-03-05 10:30)
_SITE_FIELD = re.compile(rf"{_SITE_KEYS}\s*{COLON}(?:[^:：∶。！？]|(?<=\d):(?=\d\d)){{0,40}}")
#: Site furniture a scraper captures with the article, as whole lines: pagination, buttons,
#: share lines, counters, "to be continued". Not article text, wherever it stands.
_PAGE_ITEM = rf"(?:{alternation(PAGER_WORDS)}|\d{{1,3}}|[<>«»]|\.{{3}}|…)"
_PAGER = re.compile(rf"{_PAGE_ITEM}(?:\s+{_PAGE_ITEM})*")
_BUTTON = (
    rf"(?:{alternation(BUTTONS)}|\d+人已下载|\d+人(?:阅读|浏览)|"
    r"下载积分\s*[:：]\s*\d+|(?:微信|手机)?扫一扫(?:[，,]?\s*(?:分享到?(?:微信|朋友圈)?|在手机上阅读"
    r"|手机阅读|关注我们))?)\s*(?:>>|》|>|→|»)?"  # a button may end in an arrow: 点击查看全文>>
)
_SITE_JUNK = re.compile(
    r"第\s*\d+\s*页(?:\s*[/／]\s*共\s*\d+\s*页)?"
    r"|[-－—\u2013]{1,2}\s*\d{1,4}\s*[-－—\u2013]{1,2}"  # a printed page number: "- 3 -", "—2—"
    r"|[(（]\s*未完[，,]?\s*(?:下一页继续|待续|续)?\s*[)）]|[(（]\s*未完待续\s*[)）]"
    r"|剩余\s*\d+\s*页未读[，,]?\s*继续阅读"
    rf"|分享到?\s*[:：].{{0,40}}|分享到?(?:[\s|｜]*(?:{alternation(SHARE_TARGETS)}))*"
    rf"|{_BUTTON}(?:[\s|｜/·•]+{_BUTTON})*"
)
_JUNK_MAX = 60  # junk lines are short; longer ones are not tested at all
_JUNK_FIRST = first_chars(_SITE_JUNK) | first_chars(_PAGER)
#: How furniture starts, by its first two characters (first_pairs): "(作者系X)" is no "(未完)".
_JUNK_FIRSTS, _JUNK_PAIRS = (
    a | b for a, b in zip(first_pairs(_SITE_JUNK), first_pairs(_PAGER), strict=True)
)
#: A button left at the end of a paragraph: "…平台。 阅读全文".
_TRAILING_BUTTON = re.compile(rf"\s+(?:{alternation(TRAILING_BUTTONS)})\s*(?:>>|》|>)?$")
#: A recommendations heading: the article ended; the lines under it are other articles.
_RECOMMEND = re.compile(
    rf"[【\[]?\s*(?:(?:{alternation(RECOMMEND_HEADINGS)})"
    rf"\s*[】\]]?\s*[:：]?\s*(.*)|(?:{alternation(RECOMMEND_HEADINGS_ALONE)})\s*[】\]]?\s*[:：]?)"
)
_RECOMMEND_FIRST = first_chars(_RECOMMEND)
#: What a recommendations heading starts with, but for a bracket: one of its words.
_RECOMMEND_WORDS = (*RECOMMEND_HEADINGS, *RECOMMEND_HEADINGS_ALONE)
_BRACKETS = "【["

#: Under the teasers, lines that are no teaser: another list's heading, a date or a counter alone.
_LIST_HEADINGS = (*RECOMMEND_HEADINGS, *RECOMMEND_HEADINGS_ALONE, *OTHER_LIST_HEADINGS)
_NOT_TEASER = re.compile(
    rf"[【\[]?\s*(?:{alternation(_LIST_HEADINGS)})\s*[】\]]?\s*[:：]?"
    r"|\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"
    r"|(?:(?:阅读|浏览|下载|评论|收藏)(?:量|数)?\s*[:：]?\s*\d+\s*)+"
)
#: A date or a counter the site put after a teaser: "… 2020-10-01", "…  阅读 123".
_TEASER_DATE = re.compile(
    r"\s+(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|(?:阅读|浏览|下载|评论)(?:量|数)?\s*[:：]?\s*\d+)$"
)
#: What scraped titles carry from the site: [PDF] before, a file extension or the site's name
#: after (" - 百度文库", "_党员生活_期刊").
_DOC_EXTENSIONS = DOC_EXTENSIONS
_DOC_SITES = DOC_SITES
_TITLE_DECOR = re.compile(
    r"^\s*\[(?:PDF|DOC|DOCX|WORD|CAJ)\]\s*"
    rf"|\s*\.(?:{'|'.join(_DOC_EXTENSIONS)})$"
    rf"|\s*[-_\u2013—|｜]\s*(?:{'|'.join(re.escape(site) for site in _DOC_SITES)})$"
    r"|(?:_[^_\s]{2,20})?_(?:期刊|论文|学术论文)$",
    re.IGNORECASE,
)


def is_site_junk(line: str) -> bool:
    """Tell whether a whole line (or piece) is site furniture: pagination, a button, a share
    line, a counter, "(未完待续)"."""
    if len(line) > _JUNK_MAX or not (line[:1] in _JUNK_FIRSTS or line[:2] in _JUNK_PAIRS):
        return False
    if _SITE_JUNK.fullmatch(line):
        return True
    return ("上一页" in line or "下一页" in line) and _PAGER.fullmatch(line) is not None


_AUTHOR_FIELD = re.compile(
    rf"(?:^|[{_SEPARATORS}]\s*)作者\s*{COLON}\s*([^{_SEPARATORS}]+?)\s*(?=[{_SEPARATORS}]|$)"
)
#: A subtitle on the line after the title: "——以武汉市洪山区为例".
_SUBTITLE = re.compile(r"(?:——|－－|--)[^。！？!?]{1,40}")
_SUBTITLE_FIRST = first_chars(_SUBTITLE)
#: HTML left in scraped text: space entities and line-break tags.
_HTML_SPACE = re.compile(r"&(?:nbsp;?|ensp;|emsp;|thinsp;|#160;|#x0*a0;|#12288;|#x3000;)", re.I)
_HTML_BREAK = re.compile(r"<(?:br ?/?|/?p|p [a-z][a-z\-]*=[^<>\n]{0,80})>", re.IGNORECASE)
#: Template lines glued to what follows by single spaces: where to cut.
_GLUED_TEMPLATE = re.compile(rf"{DOWNLOAD_LINE}|{DISCLAIMER_KEY}\s*{COLON}|{READ_MARKER}")
_GLUED_HEADING_AFTER = re.compile(
    rf"^({_TEASER_HEADINGS})(?:\s*{COLON}\s*|[{SPACES}]+)(\S.*)$"
    # 【其他文献】teaser, 其 他 文 献teaser: the heading's own shape sets it apart
    rf"|^([【\[]\s*+{_TEASER_HEADINGS}\s*+[】\]]|其[{SPACES}]++[他它][{SPACES}]++文[{SPACES}]++献)"
    rf"\s*+{COLON}?\s*+(\S.*)$"
    rf"|^({_TEASER_HEADINGS})(\S.*)$"  # 其他文献teaser: only after the note or a closing line
)
#: 其他文献 in any of its heading shapes (spaced out too), as a trigger to look for a glued one.
_ANY_HEADING_RE = re.compile(rf"其[{SPACES}]*+[他它][{SPACES}]*+文[{SPACES}]*+献")
# With or without spaces before the heading: a lost line break leaves none ("（完）其他文献").
_GLUED_HEADING_BEFORE = re.compile(rf"^(.*\S)[{SPACES}]*+({_TEASER_HEADINGS})\s*{COLON}?$")
_GLUED_HEADING_MIDDLE = re.compile(
    rf"^(.*\S)[{SPACES}]*+({_TEASER_HEADINGS})(?:\s*{COLON}\s*|[{SPACES}]+)(\S.*)$"
)
_TEASER_HEADING_LINE = re.compile(rf"[【\[]?\s*其\s*[他它]\s*文\s*献\s*[】\]]?\s*{COLON}?")
#: What a teaser heading line starts with (the heading, a bracket), as a cheap test.
#: (Lines are stripped: the spaces \s allows first are left out.)
_HEADING_FIRST = frozenset(c for c in first_chars(_TEASER_HEADING_LINE) if not c.isspace())
#: A character every shape of the heading holds, and prose seldom (献): lines without it are
#: no heading (a test checks every spelling and shape holds it).
_HEADING_NEEDLE = TEASER_HEADING[-1]


def _by_fields(row: Any) -> tuple[Any, ...]:
    """pickle's and copy's recipe for a frozen row class (Page, LineRole): make it anew from its
    fields, since compiled by mypyc it cannot be filled in field by field."""
    return _rebuilt, (type(row), {f.name: getattr(row, f.name) for f in fields(row)})


def _rebuilt(cls: type[Any], values: dict[str, Any]) -> Any:
    return cls(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """One parsed page: the fields of a table row before the derived columns."""

    id: str
    title: str
    source: str | None
    citations: int | None
    uploader: str | None
    author: str | None
    paragraphs: tuple[str, ...]
    teasers: tuple[str, ...]
    sha256: str

    def __reduce__(self) -> tuple[Any, ...]:
        return _by_fields(self)

    @property
    def body(self) -> str:
        return "\n".join(self.paragraphs)

    @property
    def body_chars(self) -> int:
        """The paragraphs' characters (the body's, less the newlines that join them)."""
        return sum(map(len, self.paragraphs))

    def to_row(self) -> dict[str, object]:
        """Return one table row, keys in schema order (the derived columns: the Page's own
        properties and lengths, as process.pages_to_table takes them)."""
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "citations": self.citations,
            "uploader": self.uploader,
            "author": self.author,
            "body": self.body,
            "paragraph_count": len(self.paragraphs),
            "body_chars": self.body_chars,
            "teasers": list(self.teasers),
            "teaser_count": len(self.teasers),
            "sha256": self.sha256,
        }


class Role(StrEnum):
    """What a line (or a piece of one) of a page is, as the parser read it."""

    TITLE = "title"
    HEADER = "header"  # 来源 :X | 被引量 : N次 | 上传用户:Y
    SITE_LINE = "site line"  # the site's own line before the article: its fields, the title again
    BOILERPLATE = "boilerplate"  # 下载到本地 , 更方便阅读 and 声明 : …
    MARKER = "marker"  # 论文部分内容阅读: the article follows
    PARAGRAPH = "paragraph"  # the article's text: the body
    AUTHOR_NOTE = "author note"  # (作者系X): the author, not the body
    BYLINE = "byline"  # 文/X first, or a signature last: the author, not the body
    CLOSING_LINE = "closing line"  # after the note (责任编辑：X, （完）): kept in the body
    TEASER_HEADING = "teaser heading"  # 其他文献, or a recommendations heading (相关推荐)
    TEASER = "teaser"  # another article's first words, under the heading
    FURNITURE = "furniture"  # the site's buttons, pager, share lines, link boxes: dropped
    FOOTER = "footer"  # the site's copyright and links: dropped
    JOINED = "joined"  # went on the line above (a hard-wrapped paragraph, a header's value)
    BLANK = "blank"


#: What each role means, for a user: docs/parsing.md shows this table (render_docs_tables).
ROLE_DOCS = {
    Role.TITLE: "The first non-empty line (and a subtitle or second half joined to it): `title`.",
    Role.HEADER: "`来源 :X \\| 被引量 : N次 \\| 上传用户:Y`, in any order and spelling: "
    "`source`, `citations`, `uploader`.",
    Role.SITE_LINE: "Before the marker: the site's own fields, a download button, the disclaimer "
    "wrapped, the title again. Dropped; a `作者 : X` field there gives the author if no note does.",
    Role.BOILERPLATE: "The template's `下载到本地 , 更方便阅读` and `声明 : …` lines. Dropped.",
    Role.MARKER: "`论文部分内容阅读`: the article follows. Dropped.",
    Role.PARAGRAPH: "The article's text: one paragraph of `body` each.",
    Role.AUTHOR_NOTE: "`(作者系X)` and the other note forms: `author`, not in `body`.",
    Role.BYLINE: "`文/X` or `本报记者 X` first, or a signature (`文/X`, `□ X`) last: `author`.",
    Role.CLOSING_LINE: "Up to three lines after the note (`责任编辑：X`, `（完）`, `来源：X`, "
    "a date): kept in `body`.",
    Role.TEASER_HEADING: "`其他文献` (or a recommendations heading such as `相关推荐`): the "
    "teasers follow. Dropped.",
    Role.TEASER: "Another article's first words: one entry of `teasers` each.",
    Role.FURNITURE: "The site's pager, buttons, share lines, boxes of links, list headings, "
    "dates and counters under the teasers. Dropped.",
    Role.FOOTER: "The site's footer (its links, `Copyright © 2021 …`, an ICP number). Dropped.",
    Role.JOINED: "Joined to a line above: a hard-wrapped paragraph's next line, a header value "
    "on the line after its key.",
    Role.BLANK: "An empty line.",
}


def render_docs_tables() -> str:
    """The roles and the template's tables as Markdown, as docs/parsing.md holds them."""
    roles = ["| role | what it is |", "|---|---|"]
    roles += [f"| {role} | {ROLE_DOCS[role]} |" for role in Role]
    return "\n".join(roles) + "\n\n" + render_tables()


@dataclass(frozen=True, slots=True)
class LineRole:
    """One line of a page (or a piece of one the parser split off), its role and the rule that
    gave it. `line` counts from 1 in the page as decoded (CRLF, CR as one line break)."""

    line: int
    text: str
    role: Role
    rule: str

    def __reduce__(self) -> tuple[Any, ...]:
        return _by_fields(self)


@dataclass(slots=True)
class _Entry:
    at: int  # index into the parser's lines
    text: str
    role: Role
    rule: str


@dataclass(slots=True)
class _Trace:
    """What the parser decided about each of its lines, for explain_page."""

    lines: list[str] = field(default_factory=list)
    entries: list[_Entry] = field(default_factory=list)

    def add(self, at: int, text: str, role: Role, rule: str) -> int:
        self.entries.append(_Entry(at, text, role, rule))
        return len(self.entries) - 1

    def set(self, entry: int, role: Role, rule: str) -> None:
        self.entries[entry].role, self.entries[entry].rule = role, rule

    def author_roles(
        self, entries: list[int], before: list[str], after: list[str], *, noted: bool
    ) -> None:
        """Give the paragraphs take_author took (or changed) their roles: the note, a byline, a
        signature; and the closing lines after the note."""
        if not noted:
            return
        last_note = -1
        matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
        for tag, i1, i2, _, _ in matcher.get_opcodes():
            for k in range(i1, i2):
                if tag == "equal":
                    continue
                p = before[k]
                if tag == "replace":
                    self.set(entries[k], Role.PARAGRAPH, "author-note-split-off")
                elif k == 0 and strip_byline(p) is not None:
                    self.set(entries[k], Role.BYLINE, "byline")
                elif k > 0 and is_signature(p):
                    self.set(entries[k], Role.BYLINE, "signature")
                else:
                    self.set(entries[k], Role.AUTHOR_NOTE, "author-note")
                if k > 0:
                    last_note = k
        if last_note >= 0:
            for k in range(last_note + 1, len(before)):
                entry = self.entries[entries[k]]
                if entry.role == Role.PARAGRAPH and is_closing_line(before[k]):
                    self.set(entries[k], Role.CLOSING_LINE, "closing-line")

    def roles(self, text: str) -> list[LineRole]:
        """Each line of the decoded page with the roles of the pieces found on it."""
        raw = text.split("\n")
        if len(raw) > 1 and not raw[-1]:  # the page's last line break ends a line, opens none
            raw.pop()
        cleaned = clean_text(text)
        traditional = simplify_template_words(cleaned) != cleaned
        owner: list[int] = []  # a cleaned line → the page's line it comes from
        keys: list[str] = []
        for j, line in enumerate(raw):
            for piece in clean_text(line).split("\n"):
                if traditional:
                    piece = _TRADITIONAL_LINES.sub(
                        lambda m: m.group().translate(_TO_SIMPLIFIED), piece
                    )
                owner.append(j)
                keys.append("".join(piece.split()))
        found: dict[int, list[_Entry]] = {}
        cursor = 0
        for entry in sorted(self.entries, key=lambda e: e.at):
            tight = "".join(entry.text.split())
            at = cursor
            for probe in (tight[:8], tight[:2]):  # a line joined to the next: its start
                at = next((c for c in range(cursor, len(keys)) if probe in keys[c]), -1)
                if at >= 0:
                    break
            cursor = min(max(at, cursor), len(keys) - 1)
            found.setdefault(owner[cursor], []).append(entry)
        out: list[LineRole] = []
        for j, line in enumerate(raw):
            if j in found:
                out += [LineRole(j + 1, e.text, e.role, e.rule) for e in found[j]]
            elif not _strip(clean_text(line)):
                out.append(LineRole(j + 1, line, Role.BLANK, "blank"))
            else:
                out.append(LineRole(j + 1, _strip(line), Role.JOINED, "joined-to-a-line-above"))
        return out


#: How explain output colours each role (ANSI colour names, as click.style takes them).
ROLE_COLOURS = {
    Role.TITLE: "bright_magenta",
    Role.HEADER: "cyan",
    Role.SITE_LINE: "bright_black",
    Role.BOILERPLATE: "bright_black",
    Role.MARKER: "blue",
    Role.PARAGRAPH: "white",
    Role.AUTHOR_NOTE: "green",
    Role.BYLINE: "green",
    Role.CLOSING_LINE: "yellow",
    Role.TEASER_HEADING: "blue",
    Role.TEASER: "bright_blue",
    Role.FURNITURE: "red",
    Role.FOOTER: "red",
    Role.JOINED: "white",
    Role.BLANK: "bright_black",
}
_SGR = {
    "bright_magenta": 95,
    "cyan": 36,
    "bright_black": 90,
    "blue": 34,
    "white": 37,
    "green": 32,
    "yellow": 33,
    "bright_blue": 94,
    "red": 31,
}


def format_roles(roles: list[LineRole], *, color: bool = False) -> str:
    """The lines of explain_page as text: line number, role, rule, the line; ANSI colours by
    role when `color`."""
    out = []
    for r in roles:
        text = f"{r.line:>5}  {r.role:<14} {r.rule:<28} {r.text}".rstrip()
        if color:
            text = f"\x1b[{_SGR[ROLE_COLOURS[r.role]]}m{text}\x1b[0m"
        out.append(text)
    return "\n".join(out)


def explain_page(data: bytes | str) -> list[LineRole]:
    """Each line of a page with the role the parser gave it and the rule that decided, in order
    (a line split into pieces gives one LineRole per piece). Rejected if the page cannot be
    decoded; a page the parser rejects later still has its lines explained."""
    text = normalise_newlines(_page_text(data)[0])  # the lines as the roles number them
    trace = _Trace()
    with contextlib.suppress(Rejected):
        _parse(text, "page", "", trace)
    return trace.roles(text)


def short(text: str, limit: int = 40) -> str:
    """Return a short repr of text for a reject detail."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def decode_bytes(data: bytes) -> str:
    """Decode a page: UTF-8 (BOM or not), else GB18030, else Big5 where that reading shows the
    template's words and GB18030's does not; never with replacement characters.

    UTF-16 is read with a BOM, or without one when the reading shows the template's words. A
    last character cut in half at the end of the file (a download cut short) is dropped, and a
    lone 0x80 byte in a GBK page is the euro sign, as Windows' code page 936 has it.
    """
    return normalise_newlines(_decode(data))


def _decode(data: bytes) -> str:
    """decode_bytes, the line breaks left as they are (_page_lines makes them LF where a page
    holds another)."""
    if b"\x00" not in data:  # the common case first: valid UTF-8, one call of the C codec
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass  # a character cut short at the end, another encoding: see below
        else:  # a BOM goes, as utf-8-sig would take it (normalise_newlines takes one more)
            return text[1:] if text.startswith("\ufeff") else text
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with a BOM is unambiguous
        try:
            return _decode_cut(data, "utf-16")
        except UnicodeDecodeError as exc:
            raise Rejected(Reason.UNDECODABLE, f"invalid UTF-16 at byte {exc.start}") from None
    if b"\x00" in data:
        wide = _utf16_without_bom(data)
        if wide is None:
            at = data.index(0)
            raise Rejected(Reason.UNDECODABLE, f"NUL byte at offset {at}: a binary file?")
        return wide
    try:
        text = _decode_cut(data, "utf-8-sig")
    except UnicodeDecodeError as exc:
        try:
            gb: str | None = _decode_gb(data)
        except UnicodeDecodeError as exc2:
            gb, gb_bad = None, exc2.start
        # UTF-8 that went bad after real multi-byte text is corrupt UTF-8, not GB18030: decoding
        # it as GB18030 would turn the rest of the page into mojibake. Unless that reading shows
        # the template's own words: GBK text can start with a few valid UTF-8 sequences by chance.
        if gb is None or not _has_template_words(gb):
            big5 = _decode_big5(data)
            if big5 is not None:
                return big5
        if _valid_utf8_multibyte(data[: exc.start]) >= 4 and (
            gb is None or not _has_template_words(gb)
        ):
            line = data.count(b"\n", 0, exc.start) + 1
            raise Rejected(
                Reason.UNDECODABLE,
                f"invalid UTF-8 at byte {exc.start} (line {line}) in an otherwise UTF-8 page",
            ) from None
        if gb is None:
            raise Rejected(
                Reason.UNDECODABLE,
                f"neither UTF-8 (bad byte at {exc.start}) nor GB18030 (bad byte at {gb_bad})",
            ) from None
        text = gb
    return text


#: How the codecs say a character was cut short (not that a byte is invalid).
_CUT_SHORT = frozenset(
    ("unexpected end of data", "incomplete multibyte sequence", "truncated data")
)


def _decode_cut(data: bytes, codec: str) -> str:
    """Decode; a character cut short by the end of the data (only there) is dropped, on a page
    that shows the template's words."""
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        # the offsets are in exc.object: for utf-8-sig, the bytes after the BOM
        cut = len(exc.object)
        if exc.end < cut or exc.start < cut - 3 or exc.reason not in _CUT_SHORT:
            raise
        text = exc.object[: exc.start].decode("utf-8" if codec == "utf-8-sig" else codec)
        if not _has_template_words(text):
            raise
        return text


_EURO_CP936 = b"\x80"  # the euro sign in code page 936 (GBK as Windows writes it)
_EURO_GB18030 = "€".encode("gb18030")


def _decode_gb(data: bytes) -> str:
    """Decode GB18030 (a superset of GBK), with code page 936's 0x80 euro sign."""
    for _ in range(64):  # a few euro signs; a page of them is not GBK text
        try:
            return _decode_cut(data, "gb18030")
        except UnicodeDecodeError as exc:
            if data[exc.start : exc.start + 1] != _EURO_CP936:
                raise
            data = data[: exc.start] + _EURO_GB18030 + data[exc.start + 1 :]
    return data.decode("gb18030")


def _utf16_without_bom(data: bytes) -> str | None:
    """Return the UTF-16 reading (LE or BE) of BOM-less data if it shows the template's words."""
    for codec in ("utf-16-le", "utf-16-be"):
        try:
            text = _decode_cut(data, codec)
        except UnicodeDecodeError:
            continue
        if _has_template_words(text):
            return text
    return None


def _has_template_words(text: str) -> bool:
    return (
        any(w in text for w in (SOURCE_KEY, CITATIONS_KEY, READ_MARKER, *_TRADITIONAL_WORDS))
        or _TEASER_HEADINGS_RE.search(text) is not None
    )


def _decode_big5(data: bytes) -> str | None:
    """Return the Big5 reading (Windows' code page 950, then HKSCS) if it shows the template's
    words: a page saved in traditional characters. Big5 bytes often read as GB18030 too, as
    nonsense, so a GB18030 reading without the template's words asks for this one."""
    bad: int | None = None
    for codec in ("cp950", "big5hkscs"):
        try:
            text = _decode_cut(data, codec)
        except UnicodeDecodeError as exc:
            bad = exc.start if bad is None else max(bad, exc.start)
            continue
        if _has_template_words(text):
            if codec == "cp950" and _KANA.search(text) is not None:
                return _hkscs_if_kana_is_stray(data, text)
            return text
    if bad and _has_template_words(data[:bad].decode("big5hkscs", errors="replace")):
        line = data.count(b"\n", 0, bad) + 1
        raise Rejected(
            Reason.UNDECODABLE,
            f"invalid Big5 at byte {bad} (line {line}) in an otherwise Big5 page",
        )
    return None


_KANA = re.compile("[\u3040-\u30ff]")
#: Kana as Japanese is written: a run of two different kana (の alone is in Chinese names too).
_JAPANESE = re.compile("([\u3040-\u30ff])(?!\\1)[\u3040-\u30ff]")


def _hkscs_if_kana_is_stray(data: bytes, cp950: str) -> str:
    """Return the Big5-HKSCS reading of a page whose code page 950 reading shows kana standing
    alone in Chinese text, if that reading has fewer kana, else the code page 950 one.

    The two codecs read 255 two-byte codes (C6A1 to C7FC) differently: where HKSCS has the
    ideographic zero and circled, bracketed and roman numbers, code page 950 has kana. A Hong
    Kong page's 二〇二一年 and ①…② come out of code page 950 as 二ま二一年 and ヾ…ゝ: stray
    kana. Japanese text (kana in runs of different ones) keeps the code page 950 reading.
    """
    if _JAPANESE.search(cp950) is not None:
        return cp950
    try:
        hkscs = _decode_cut(data, "big5hkscs")
    except UnicodeDecodeError:
        return cp950
    kana = len(_KANA.findall(cp950))
    return hkscs if len(_KANA.findall(hkscs)) < kana and _has_template_words(hkscs) else cp950


#: The template's lines in traditional characters (a page from a site's traditional version, or
#: converted): seen in a page, they are read as the simplified ones. Only the template's own
#: words are changed, where they stand as the template's (the header's keys are matched in
#: both spellings instead, and the article's text is never changed).
# Possessive runs of spaces (*+): two runs side by side took quadratic time on long runs.
#: How prose goes on after 其他文献 as a subject ("其他文献则从…", "其他文献中也…", "其他文献显示"),
#: in both spellings: no teaser (another article's first words) starts so.
_PROSE_AFTER = (
    "(?:[则則也亦均的却卻]|中[也的有则則]|[显顯]示|表明|指出|[认認][为為]|[发發][现現]|[证證][实實]"
    "|提到|大多|多[从從以])"
)
_TRADITIONAL_OF = {simplified: traditional for traditional, simplified in TRADITIONAL_SPELLINGS}
_TRADITIONAL_LINE = (
    rf"{_TRADITIONAL_OF[READ_MARKER]}"
    # the download line, at a line's start or glued
    rf"|(?:(?m:^)|(?<=[{SPACES}])){_TRADITIONAL_OF[DOWNLOAD_LINE]}\s*+[,，]?\s*+更方便閱讀"
    rf"|聲明(?=\s*{COLON}\s*本文檔內容版權)|(?m:^[{SPACES}]*+聲明(?=\s*{COLON}[^\n]*下架))"
    rf"|(?m:^[{SPACES}]*+[【\[]?[{SPACES}]*+其[{SPACES}]*+[他它][{SPACES}]*+文[{SPACES}]*+獻"
    rf"(?=[{SPACES}]*[】\]]?[{SPACES}]*(?:{COLON}|[{SPACES}]|$))(?![{SPACES}]*+{_PROSE_AFTER}))"
    # 【其他文獻】 or 其 他 文 獻 with a teaser glued after it: the shape sets the heading apart
    rf"|(?m:^[{SPACES}]*+(?:[【\[][{SPACES}]*+其他文獻(?=[{SPACES}]*+[】\]])"
    rf"|其[{SPACES}]++[他它][{SPACES}]++文[{SPACES}]++獻))"
)
#: Each position is first tested for a character a match can start with (first_chars): the
#: alternatives open with a line start or a lookbehind, which gives the regex engine no prefix
#: to skip by, so it tried all six at every position of a traditional page (4.5 times slower).
_TRADITIONAL_LINES = re.compile(
    f"(?=[{re.escape(''.join(sorted(first_chars(_TRADITIONAL_LINE))))}])(?:{_TRADITIONAL_LINE})"
)
#: The template's words in traditional characters, by which a page shows itself so, each with
#: its simplified spelling (template.TRADITIONAL_SPELLINGS): the one table the traditional
#: template is read by (the lines above, and lines cut short).
_TRADITIONAL_SPELLINGS = TRADITIONAL_SPELLINGS
_TRADITIONAL_WORDS = tuple(t for t, _ in _TRADITIONAL_SPELLINGS)


def _char_table(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Traditional → simplified, character by character, from words spelled both ways."""
    return {t: s for tw, sw in pairs for t, s in zip(tw, sw, strict=True) if t != s}


_TO_SIMPLIFIED = str.maketrans(
    _char_table([*_TRADITIONAL_SPELLINGS, (DISCLAIMER_TRADITIONAL[:2], DISCLAIMER_KEY)])
)


#: What every match of _TRADITIONAL_LINES holds: 閱讀 ("read"), which the marker and the
#: download line (…更方便閱讀) in traditional characters end in, 聲明, and 文獻 (其他文獻 in each
#: of its shapes, spaced out too: 其 他 文 獻).
_TRADITIONAL_NEEDLES = (
    _TRADITIONAL_OF[READ_MARKER][-2:],
    DISCLAIMER_TRADITIONAL[:2],
    _TRADITIONAL_OF[TEASER_HEADING][-2:],
)


#: Each of those words by a character of it that only its traditional spelling has (閱, 聲,
#: 獻), and the word itself, spaces allowed between its characters: a page that holds none of
#: the characters holds none of the words, and a test for a character is as fast as a test can
#: be (a word's is several times slower, a regex's tens); the word is looked for only on a page
#: that holds its character (獻 alone is common in traditional prose: 貢獻).
_TRADITIONAL_SIGNS = tuple(
    (
        next(ch for ch in word if ord(ch) in _TO_SIMPLIFIED),
        re.compile(f"[{SPACES}]*".join(map(re.escape, word))),
    )
    for word in _TRADITIONAL_NEEDLES
)


def simplify_template_words(text: str) -> str:
    """Spell the template's lines in simplified characters (see _TRADITIONAL_LINES), on a page
    that holds one of the template's words in traditional characters, wherever it stands (the
    one test whether a page is in traditional characters): a page that holds none is read as
    it is, after a few character scans."""
    for sign, word in _TRADITIONAL_SIGNS:
        if sign in text and word.search(text):  # a word's scan only where its character stands
            return _TRADITIONAL_LINES.sub(lambda m: m.group().translate(_TO_SIMPLIFIED), text)
    return text


_NOT_LEAD_BYTES = bytes(range(0xC2))


def _valid_utf8_multibyte(prefix: bytes) -> int:
    """Count the UTF-8 lead bytes of multi-byte characters in a prefix known to be valid."""
    # bytes.translate runs in C: a Python loop took seconds on a 50 MB page.
    return len(prefix.translate(None, _NOT_LEAD_BYTES))


def normalise_newlines(text: str) -> str:
    """Return text with a leading BOM removed and CRLF, CR, U+2028 and U+2029 turned into LF."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    for separator in "\u2028\u2029":  # Unicode's line and paragraph separators
        if separator in text:
            text = text.replace(separator, "\n")
    return text


def _wide_spaces(line: str) -> bool:
    """Tell whether a line holds a space other than U+0020 that a run of spaces may hold."""
    return "\u3000" in line or "\u00a0" in line or "\t" in line


#: Two U+0020 spaces: the run of spaces a line without wide ones (_wide_spaces) may hold, as
#: the regex engine finds it (a literal: it scans a line of Chinese twice as fast as str's `in`
#: looks for two characters, and ten times as fast as it walks _PARA_BREAK's class).
_TWO_SPACES = re.compile("  ")


def has_space_run(line: str) -> bool:
    """Tell whether a line holds a run of 2+ spaces (_PARA_BREAK), by _TWO_SPACES where the
    line's spaces are all U+0020."""
    if _wide_spaces(line):
        return _PARA_BREAK.search(line) is not None
    return _TWO_SPACES.search(line) is not None


def _spaced(line: str, wide: bool) -> bool:
    """has_space_run(line) on a page whose wide spaces `wide` tells (_page_lines): without
    them, by the one literal search."""
    return _TWO_SPACES.search(line) is not None or (wide and has_space_run(line))


def split_paragraphs(line: str) -> list[str]:
    """Split one line at runs of 2+ spaces (lost line breaks); strip pieces; drop empty ones."""
    stripped = line.strip()
    if not stripped:
        return []
    if _wide_spaces(stripped):
        return [p for p in (piece.strip() for piece in _PARA_BREAK.split(stripped)) if p]
    if "  " not in stripped:
        return [stripped]  # the common case
    # runs of U+0020 alone: str.split at each two, the odd space and the empty pieces of a
    # longer run stripped and dropped, gives the regex's pieces
    return [p for p in (piece.strip() for piece in stripped.split("  ")) if p]


def _pieces(line: str, wide: bool) -> list[str]:
    """split_paragraphs of a line of a page that holds no U+3000, NBSP or tab unless `wide`
    (tested once for the page, not three times for each line)."""
    if wide:
        return split_paragraphs(line)
    stripped = line.strip()
    if "  " not in stripped:
        return [stripped] if stripped else []
    return [p for p in (piece.strip() for piece in stripped.split("  ")) if p]


#: first characters of the boilerplate lines: a cheap test before the regex
_BOILERPLATE_FIRST = first_chars(_BOILERPLATE)
#: What a line of the template's own (boilerplate, marker, 其他文献) starts with, as _BOILERPLATE
#: spells them; a bracketed or spaced-out heading (【其他文献】, 其 他 文 献) is short.
_TEMPLATE_WORDS = (DOWNLOAD_LINE, DISCLAIMER_KEY, READ_MARKER, *TEASER_HEADINGS)
_SPACED_HEADING_MAX = 16
#: What a line of the article that a rule of _read_line other than "paragraph" may take
#: starts with (boilerplate, marker and teaser heading; header and site fields; furniture; a
#: recommendations heading), and what a button left at a paragraph's end ends with.
_RULES_FIRST = _BOILERPLATE_FIRST | _FIELDS_FIRST | _JUNK_FIRST | _RECOMMEND_FIRST
_BUTTON_LAST = "文>》"


def is_boilerplate(text: str) -> bool:
    """Tell whether a stripped line or paragraph is one of the template's boilerplate lines."""
    return bool(text) and text[0] in _BOILERPLATE_FIRST and _BOILERPLATE.fullmatch(text) is not None


def header_fields(line: str) -> dict[str, str] | None:
    """Return the header fields of a `来源 :X | 被引量 : N次 | 上传用户:Y` line, or None.

    A header line starts with one of the three keys; each value runs to the next separator or
    key, so fields in any order, with unknown fields between them or no separators, all parse.
    """
    if line[:1] not in _FIELDS_FIRST:  # a header line starts with a key, a separator or a field
        return None
    plain = _plain_header_fields(line)
    if plain is not None:
        return plain
    if not _has_key(line):
        return None
    # A header names at most a few fields: stop early on a hostile line of a million keys
    # (listing them all took seconds on a 5 MB line); such a line is article text.
    keys = list(islice(_KEY.finditer(line), _MAX_HEADER_KEYS + 1))
    if not keys or len(keys) > _MAX_HEADER_KEYS:
        return None
    before = line[: keys[0].start()].strip(SPACES + _SEPARATORS)
    if before and not _site_fields_only(before):  # "页数 : 3页 | 来源 :…" is a header still
        return None
    fields: dict[str, str] = {}
    for m, nxt in zip(keys, [*keys[1:], None], strict=True):
        value = line[m.end() : nxt.start() if nxt is not None else len(line)]
        if DOWNLOAD_LINE in value:  # the download line glued on: not part of the value
            value = value[: value.index(DOWNLOAD_LINE)]
        value = _SEP.split(value, 1)[0]
        other = _OTHER_FIELD.search(value)  # "3次 下载量 : 12次": a field of the site's follows
        if other is not None:
            value = value[: other.start()]
        fields.setdefault(_KEY_SPELLINGS[m.group(1)], value.strip().rstrip(_VALUE_TAIL))
    return fields


#: A field of a plain header line, between two "|": a key and a value without separators or
#: colons (so no key stands in it: a key is followed by a colon).
_PLAIN_FIELD = re.compile(rf"\s*({_KEYS})\s*{COLON}([^{_SEPARATORS}{COLON[1:-1]}]*)")


def _plain_header_fields(line: str) -> dict[str, str] | None:
    """header_fields of a line of the commonest form, `来源 :X | 被引量 : N次 | 上传用户:Y`: fields
    of a key and a value only, cut by "|" (the values as header_fields cuts them); else None."""
    parts = line.split("|", _MAX_HEADER_KEYS)
    if len(parts) > _MAX_HEADER_KEYS or line[:1].isspace():  # the line starts with a key
        return None
    fields: dict[str, str] = {}
    fullmatch = _PLAIN_FIELD.fullmatch
    glued = DOWNLOAD_LINE in line  # the download line glued on: not part of the value it ends
    for part in parts:
        m = fullmatch(part)
        if m is None:
            return None
        key, value = m.groups()
        if glued and DOWNLOAD_LINE in value:
            value = value[: value.index(DOWNLOAD_LINE)]
        fields.setdefault(_KEY_SPELLINGS[key], value.strip().rstrip(_VALUE_TAIL))
    return fields


#: An unknown field after a value, with no separator between: " 下载量 : 12次".
_OTHER_FIELD = re.compile(rf"(?<![{SPACES}])[{SPACES}]+{_SITE_KEYS}\s*{COLON}")

#: Where nothing marks the article's start (no 论文部分内容阅读 line), a field alone on its line
#: is a header only if its value is short and not a Chinese sentence: the article may begin
#: "来源：新华社 北京9月14日电，……". (Journal names may hold ASCII commas: "Journal of Law,
#: Vol. 3".)
_FIELD_VALUE_MAX = 100
#: Sentence punctuation, the commonest first: a line of prose has a comma early. A tuple: a
#: loop over a str of Chinese makes a new str of each character.
_SENTENCE_MARKS_ORDER = tuple("，。；！？")
_SENTENCE_MARKS = frozenset(_SENTENCE_MARKS_ORDER)


def _has_sentence_mark(text: str) -> bool:
    """not _SENTENCE_MARKS.isdisjoint(text), by str's fast `in` (a set walks a long line of
    Chinese character by character)."""
    return any(map(text.__contains__, _SENTENCE_MARKS_ORDER))  # (a generator: twice the cost)


def _has_key(line: str) -> bool:
    return _ANY_KEY.search(line) is not None


def _site_fields_only(text: str) -> bool:
    fields = [f for f in (part.strip() for part in _SEP.split(text)) if f]
    return all(_SITE_FIELD.fullmatch(f) for f in fields)


def is_header(fields: dict[str, str] | None, seen: dict[str, str] | None = None) -> bool:
    """Tell whether the fields of a line make it a header line: two fields or more, or one
    whose value is short, has no Chinese sentence punctuation and is new or a repeat."""
    if not fields:
        return False
    if len(fields) > 1:
        return True
    key, value = next(iter(fields.items()))
    return (
        (seen is None or seen.get(key, value) == value)
        and len(value) <= _FIELD_VALUE_MAX
        and not _SENTENCE_MARKS.intersection(value)
    )


#: What wide spaces may stand beside in a header line without being a lost line break: a
#: separator or a colon ("来源   :   党员生活   |   被引量 : 12 次").
_HEADER_MARKS = frozenset(_SEPARATORS + ":：∶")


def _tight_header(line: str) -> str:
    """Make the runs of spaces beside a header's separators and colons single spaces, up to the
    first run between two words (a lost line break: "… 上传用户 : X  下载到本地…"), if that makes
    the line's first piece a header of two fields or more, or of one of the template's fields
    with its value ("上传用户   :   X", the others missing); else return the line as is."""
    runs = list(islice(_PARA_BREAK.finditer(line), _MAX_HEADER_KEYS * 4 + 1))
    if len(runs) > _MAX_HEADER_KEYS * 4:
        return line
    end = len(line)
    for m in runs:
        before, after = line[m.start() - 1 : m.start()], line[m.end() : m.end() + 1]
        if before not in _HEADER_MARKS and after not in _HEADER_MARKS:
            end = m.start()
            break
    head = _PARA_BREAK.sub(" ", line[:end])
    fields = header_fields(head)
    if fields is None or not (len(fields) > 1 or (fields and all(fields.values()))):
        return line
    return head + line[end:]


def _strip(line: str) -> str:
    """Strip whitespace and the invisible characters scrapers leave at line ends (ZWSP, BOM)."""
    line = line.strip()
    while line and (line[0] in _INVISIBLE or line[-1] in _INVISIBLE):
        line = line.strip(_INVISIBLE).strip()
    return line


def _is_read_marker(piece: str) -> bool:
    return piece.startswith(READ_MARKER) and piece.rstrip(":：∶.…。").strip() == READ_MARKER


#: Invisible characters removed wherever they stand (not the joiners U+200C/U+200D, which
#: emoji sequences need).
_ZERO_WIDTH = "\u200b\u2060\ufeff"


#: The joiners where they join nothing: next to a Chinese character, full-width or CJK
#: punctuation, or ASCII (emoji sequences and Persian or Indic letters keep theirs).
_JOINABLE_NOT = "\u0020-\u007e\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef"
_STRAY_JOINER = re.compile(
    f"[\u200c\u200d]++(?=[{_JOINABLE_NOT}])|(?<=[{_JOINABLE_NOT}])[\u200c\u200d]++"
)


#: A character reference as HTML writes it, with its semicolon: &amp; &ldquo; &#8220; &#x4e2d;.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def _entity(m: re.Match[str]) -> str:
    """What a reader of the page sees for a well-formed entity; anything else stays as written
    (a&b; is no entity, &#0; and a control character's number name nothing to read)."""
    ref = m.group()
    if ref[1] != "#" and ref[1:] not in html.entities.html5:
        return ref
    seen = html.unescape(ref)
    if seen == "\ufffd" or (len(seen) == 1 and unicodedata.category(seen) in ("Cc", "Cs")):
        return ref
    return "" if seen in _ZERO_WIDTH or seen in "\u200c\u200d" else seen


def clean_text(text: str) -> str:
    """Remove what scrapers leave that is not text: zero-width spaces anywhere, HTML space
    entities (&nbsp; → a space) and line-break tags (<br>, <p> → a line break); decode the
    other HTML character entities as a reader sees them (&amp; → &, &ldquo; → “, &#x4e2d; → 中)
    where they are well formed, with their semicolon (AT&T, &copy without one stay)."""
    return _clean(text)[0]


def _clean(text: str) -> tuple[str, bool]:
    """clean_text → (the text, whether it may still hold a joiner U+200C/U+200D: decoded
    entities never give one)."""
    for ch in _ZERO_WIDTH:
        if ch in text:
            text = text.replace(ch, "")
    joiners = "\u200d" in text or "\u200c" in text
    if joiners:
        text = _STRAY_JOINER.sub("", text)
    entities = "&" in text  # neither substitution below writes an "&": one scan
    if entities:
        text = _HTML_SPACE.sub(" ", text)
    if "<" in text:
        text = _HTML_BREAK.sub("\n", text)
    if entities:  # after the tags: &lt;br&gt; is text that shows "<br>", no line break
        text = _ENTITY.sub(_entity, text)
    return text, joiners


#: A line a template line may be glued into starts with a header key, the download line or the
#: disclaimer (not the marker: the marker is split from what follows it below).
_GLUED_FIRST = first_chars(_KEY) | first_chars(rf"{DOWNLOAD_LINE}|{DISCLAIMER_KEY}")


def _unglue(lines: list[str], start: int, *, template: bool, heading: bool) -> list[str]:
    """Split template lines glued to their neighbours by single spaces.

    template: from lines[start] to the 论文部分内容阅读 line, split a header from the download
    line, the boilerplate lines from each other, and the marker from the first paragraph (with
    or without a space). heading: split the 其他文献 heading from a teaser after it or from the
    author note before it, on the page's last line holding it, after the note or the article's
    last sentence (elsewhere it may be prose, or a reference list's "其他文献：[2]…" group).
    """
    out = lines[:start]
    k = start
    while template and k < len(lines):
        line = lines[k]
        k += 1
        pieces = [line]
        if line and line[0] in _GLUED_FIRST:
            cuts = [m.start() for m in _GLUED_TEMPLATE.finditer(line) if m.start() > 0]
            if cuts:
                pieces = [line[a:b].strip() for a, b in zip([0, *cuts], [*cuts, None], strict=True)]
        for piece in pieces:
            if piece.startswith(READ_MARKER) and len(piece) > len(READ_MARKER):
                rest = piece[len(READ_MARKER) :].lstrip(":：∶.…。" + SPACES)
                out += [READ_MARKER, rest] if rest else [READ_MARKER]
            else:
                out.append(piece)
        if READ_MARKER in line:
            break
    out += lines[k:]
    if heading:
        _unglue_heading(out)
    return out


_SENTENCE_END = frozenset("。！？!?”」』…）)】")
_CITATION_OPEN = frozenset("[(（［【<《")  # "其他文献：[2]…", "其他文献 (Smith, 2010) 也…"


def _unglue_heading(lines: list[str]) -> None:
    """Split the last line holding a glued 其他文献 heading, in place, if what stands before it
    ends the article (the note, a closing line, a last sentence)."""
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if len(line) <= 4 or _HEADING_NEEDLE not in line or _ANY_HEADING_RE.search(line) is None:
            continue
        if any(_is_teaser_heading(p) for p in split_paragraphs(line)):
            return  # set apart by runs of spaces: the lost line breaks, split as such later
        after = _GLUED_HEADING_AFTER.match(line)
        if after is not None:  # "其他文献 teaser", the article's end on the line before
            before = next((b for b in reversed(lines[:i]) if b), "")
            head, teaser = (g for g in after.groups() if g is not None)
            # glued with nothing between: a sentence's end before is not enough (其他文献资料…)
            bare = after.lastindex == 6
            if _ends_article(before, teaser, lines[i + 1 :], sentence=not bare):
                lines[i : i + 1] = [head, teaser]
            return
        glued = _GLUED_HEADING_MIDDLE.match(line) or _GLUED_HEADING_BEFORE.match(line)
        if glued is not None:  # "(作者系X) 其他文献", "……下移。 其他文献 teaser"
            teaser = glued.group(3) if glued.lastindex == 3 else None
            if _ends_article(glued.group(1), teaser, lines[i + 1 :]):
                lines[i : i + 1] = [g for g in glued.groups() if g]
            return


_PROSE_AFTER_HEADING = re.compile(_PROSE_AFTER)


def _ends_article(text: str, teaser: str | None, rest: list[str], *, sentence: bool = True) -> bool:
    """Tell whether text can be the article's last line before a glued 其他文献 heading, with
    `teaser` glued after the heading and the page's `rest` lines after: the author note or a
    closing line (责任编辑：X, （完）, 来源：X), a signature (文/X, □ X), also as the last of
    paragraphs glued by runs of spaces, or a sentence's end where the heading does not go on as
    prose (其他文献则从…) and the author note does not come later."""
    if teaser is not None and teaser[0] in _CITATION_OPEN:
        return False  # "其他文献：[2]…" in a reference list
    last = (split_paragraphs(text) or [text])[-1]  # "……发展。  （作者系X）其他文献"
    for piece in (text, last) if last != text else (text,):
        if strip_author_note(piece)[0] is not None or is_closing_line(piece) or is_signature(piece):
            return True
    if not sentence or text[-1:] not in _SENTENCE_END:
        return False
    if teaser is not None and _PROSE_AFTER_HEADING.match(teaser):
        return False
    # the author note under the heading: the article goes on there (teasers never end so)
    return not any(r and strip_author_note(r)[0] is not None for r in rest[-4:])


_LINE_SPACE = SPACES + _INVISIBLE


def _shares_line(text: str, at: int, length: int) -> bool:
    """Tell whether the phrase text[at : at + length] shares its line with other text."""
    start = text.rfind("\n", 0, at) + 1
    if text[start:at].strip(_LINE_SPACE):
        return True
    end = text.find("\n", at)
    return bool(text[at + length : end if end >= 0 else None].strip(_LINE_SPACE + ":：∶.…。"))


def _find_heading(lines: list[str], first: int) -> int:
    """Return where the teaser list starts: the first line that is the 其他文献 heading."""
    needle = _HEADING_NEEDLE
    for i in range(first, len(lines)):  # the lines after the heading (teasers) are not read
        line = lines[i]
        if needle in line and _is_teaser_heading(line):
            return i
    return len(lines)


#: Where a hard-wrapped paragraph's line may not be cut: a line ending in one of these ends a
#: sentence (the parser's own set, and the full stop, which English and some Chinese text use).
_WRAP_END = _SENTENCE_END | frozenset(".\uff0e")  # and the full-width full stop
#: A numbered heading or a footnote: a line of its own even after a line cut mid-sentence.
_NUMBERED = re.compile(
    r"(?:[一二三四五六七八九十]{1,3}[、.\uff0e]|[（(][一二三四五六七八九十\d]{1,3}[）)]|\d{1,2}[、\uff0e]"
    r"|\d{1,2}\.(?!\d)|第[一二三四五六七八九十\d]{1,3}[章节部分条]|[①-⑳]|[\[［]\d{1,3}[\]］])"
)
_WRAP_MIN = 24  # columns: a line cut at a fixed width is at least this wide
_BULLETS = frozenset("•·●○■□◆◇▪▶►-*\uff0a\uff0d—")  # a list's item starts a line of its own
_QUOTE_CLOSE = frozenset("”」』")
_STOPS = frozenset("。！？!?…")


#: A cheap test first: an indented line, not ending a sentence, and an unindented line after it.
_WRAP_ENDS = re.escape("".join(sorted(_WRAP_END - _QUOTE_CLOSE)))
_WRAP_HINT = re.compile(
    f"\n(?:  |[\u3000\u00a0\t])[^\n]*+(?<![{_WRAP_ENDS}\\s])\n(?=\\S)(?!其[他它]文献)"
)

#: A line that is not indented: where a hard-wrapped paragraph's cut line may go on (a cheaper
#: test than _WRAP_HINT, which holds it: a page without one has no hint).
_UNINDENTED = re.compile(r"\n(?=\S)")


def _ends_sentence(line: str) -> bool:
    """Tell whether a line ends a sentence; a closing quote only after a stop (“邻居” goes on)."""
    last = line[-1]
    if last in _QUOTE_CLOSE:
        return line[-2:-1] in _STOPS or len(line) == 1
    return last in _WRAP_END


def _width(text: str) -> int:
    """Columns a line takes: two for a wide (CJK, full-width) character, one for the rest."""
    return sum(2 if ord(ch) >= 0x1100 else 1 for ch in text)


def _indented(raw: str) -> bool:
    return raw[:1] in "\u3000\u00a0\t" or raw.startswith("  ")


def _wrapped_on(prev_raw: str, prev: str, line: str) -> bool:
    """Tell whether line (not indented) goes on the paragraph prev was cut from."""
    if (
        _width(prev) < _WRAP_MIN
        or "\t" in prev
        or "\t" in line
        or line[0] in _BULLETS
        or _ends_sentence(prev)
        or has_space_run(prev)
        or has_space_run(line)
    ):
        return False
    # cut at a fixed width: the line before is a whole line, as wide as this one or wider
    if len(prev_raw) + 2 < len(line) and _width(prev_raw) + 4 < _width(line):
        return False
    if _NUMBERED.match(line) is not None or line.startswith(("其他文献", "其它文献")):
        return False
    return not (
        _is_template_line(line)
        or _is_template_line(prev)
        or is_site_junk(line)
        or is_closing_line(line)
        or is_closing_line(prev)
        or is_signature(line)
        or strip_byline(line) is not None
        or strip_author_note(line)[0] is not None
        or strip_author_note(prev)[0] is not None
        or (line[0] in _RECOMMEND_FIRST and _RECOMMEND.fullmatch(line) is not None)
        or _is_footer(line)
    )


def _latin(text: str) -> bool:
    return sum(1 for ch in text if ch.isascii()) * 2 > len(text)


def _ends_region(line: str) -> bool:
    """The 其他文献 heading, also glued to a line, or a recommendations heading (相关推荐)."""
    return (_HEADING_NEEDLE in line and _ANY_HEADING_RE.search(line) is not None) or (
        line[:1] in _RECOMMEND_FIRST and _RECOMMEND.fullmatch(line) is not None
    )


def _join_wrapped(text: str, at: int) -> str:
    """Join the lines of hard-wrapped paragraphs, on a page whose article marks each
    paragraph's first line by indentation (spaces, U+3000, NBSP) and goes on unindented.

    Only between the 论文部分内容阅读 line and the 其他文献 heading, and only a line that is not
    indented after a line that does not end a sentence and is at least as wide (a line cut at a
    fixed width), itself indented or so joined; the author note, closing lines, numbered
    headings, footnotes, table rows and the template's lines stay lines of their own. `at`:
    text.find(READ_MARKER).
    """
    if at < 0:
        return text
    # a paragraph cut goes on on an unindented line: an article that indents every line (most
    # do) has none before the 其他文献 heading (found by one scan for line breaks, unindented
    # itself on most pages), and is not walked for the hint
    unindented = _UNINDENTED.search(text, at)
    if unindented is None or text.startswith(TEASER_HEADING, unindented.end()):
        return text
    # the article's lines alone decide: a teaser's (another article's) under the heading not
    end = text.find(TEASER_HEADING, at)
    end = end if end >= 0 else len(text)
    if unindented.end() >= end or _WRAP_HINT.search(text, at, end) is None:
        return text
    raw = text.split("\n")
    start = next((k + 1 for k, x in enumerate(raw) if _is_read_marker(_strip(x))), None)
    if start is None:
        return text
    stop = next((k for k in range(start, len(raw)) if _ends_region(_strip(raw[k]))), len(raw))
    if sum(1 for k in range(start, stop) if _indented(raw[k]) and raw[k].strip()) < 2:
        return text
    title = next((x for x in map(_strip, raw) if x), "")  # printed again, then a byline
    out = raw[:start]
    prev_raw = ""  # the last physical line, if the paragraph it belongs to may go on
    changed = False
    for k in range(start, stop):
        line_raw = raw[k]
        line = _strip(line_raw)
        if not line:
            prev_raw = ""
            out.append(line_raw)
            continue
        prev = _strip(prev_raw)
        if (
            prev
            and prev != title
            and not prev_raw.lstrip().startswith(("——", "--"))  # a subtitle
            and line_raw[:1] not in SPACES
            and line_raw[:1] not in _INVISIBLE
            and _wrapped_on(prev_raw, prev, line)
        ):
            head = out[-1].rstrip()
            last = head[-1]
            latin = line[0].isascii() and line[0].isalnum() and _latin(prev)
            space = latin and ((last.isascii() and last.isalnum()) or last in ",;:")
            out[-1] = head + (" " if space else "") + line
            prev_raw = line_raw.rstrip()
            changed = True
            continue
        out.append(line_raw)
        # a paragraph's first line is indented; the lines after it go on until a blank line
        prev_raw = line_raw.rstrip() if prev_raw or _indented(line_raw) else ""
    if not changed:
        return text
    return "\n".join(out + raw[stop:])


def parse_text(text: str, *, page_id: str, sha256: str) -> Page:
    """Parse a decoded page (LF newlines) into a Page, or raise Rejected."""
    return _parse(text, page_id, sha256, None)


def _parse(text: str, page_id: str, sha256: str, trace: _Trace | None) -> Page:
    """parse_text; with a trace, each line's role and the rule that gave it are noted there.

    Normalise the text, cut it into lines, read the title, give each line after it a role by
    the ordered rules of _read_line (the page's state in one _Reading), then assemble the row
    from the roles: the article's paragraphs less its author note, and the teasers."""
    text, lines, marker_at, wide = _page_lines(text)
    first = _next_line(lines, 0, len(lines))
    if first == len(lines):
        raise Rejected(Reason.EMPTY, "only whitespace")
    lines, teaser_at = _split_glued_lines(text, lines, first, marker_at)
    r = _Reading(lines, first, teaser_at, trace, marker_at >= 0, wide)
    if trace is not None:
        trace.lines = lines
    title, title_is_meta = _read_title_lines(r)
    _read_lines(r)
    _check_layout(r, title, title_is_meta)
    author, paragraphs = _article(r)
    return Page(
        id=page_id,
        title=title,
        source=r.meta.get(SOURCE_KEY) or None,
        citations=_citations(r.meta.get(CITATIONS_KEY)),
        uploader=r.meta.get(UPLOADER_KEY) or None,
        author=author or None,
        paragraphs=tuple(paragraphs),
        teasers=tuple(_teasers(r)),
        sha256=sha256,
    )


def _page_lines(text: str) -> tuple[str, list[str], int, bool]:
    """The page's text made plain (line breaks, scrapers' leftovers, traditional template
    words, a cut last line, hard-wrapped paragraphs) → (that text, its lines stripped, where
    论文部分内容阅读 is in it or -1, whether it holds a wide space: _wide_spaces), each
    whole-text scan made once.

    One question first: a page of printable characters (and LF) without "&" or "<" holds
    nothing that normalise_newlines, clean_text or _wide_spaces look for (CR, U+2028/U+2029,
    BOM, zero-width characters, joiners, U+3000, NBSP and tab are all unprintable), so it is
    asked none of their questions."""
    page = text
    lines = text.split("\n")
    rare = not all(map(str.isprintable, lines)) or "&" in text or "<" in text
    joiners = False
    if rare:
        text, joiners = _clean(normalise_newlines(text))
    text = simplify_template_words(text)
    if not text.endswith("\n"):  # the last line may be cut short: a download cut off
        text = _drop_cut_template_line(text)
    marker_at = text.find(READ_MARKER)
    wide = rare and _wide_spaces(text)
    joined = _join_wrapped(text, marker_at)
    if joined is not text:  # (rare) joining strips line ends: a wide space may have gone
        text, marker_at, wide = joined, joined.find(READ_MARKER), wide and _wide_spaces(joined)
    if text is not page:
        lines = text.split("\n")
    if joiners and ("\u200c" in text or "\u200d" in text):  # the only invisible ones kept
        return text, [_strip(line) for line in lines], marker_at, wide
    return text, list(map(str.strip, lines)), marker_at, wide


def _split_glued_lines(
    text: str, lines: list[str], first: int, marker_at: int
) -> tuple[list[str], int]:
    """Split what lost line breaks glued (the title to the header, template lines to their
    neighbours, 其他文献 to a teaser or the note) and join a header value cut onto the next
    line → (the lines, where the 其他文献 heading is: len(lines) if nowhere)."""
    glued = _split_title_line(lines[first])
    if glued is not None:  # lost newlines after the title: the rest are lines of their own
        lines[first : first + 1] = glued
    teaser_at = _find_heading(lines, first)
    # 论文部分内容阅读 or 其他文献 on a line with other text (rare): split the lines first
    template = marker_at >= 0 and _shares_line(text, marker_at, len(READ_MARKER))
    heading = teaser_at == len(lines) and _ANY_HEADING_RE.search(text) is not None
    if template or heading:
        lines = _unglue(lines, first + 1, template=template, heading=heading)
        teaser_at = _find_heading(lines, first)
    early = lines[first + 1 : first + _HEADER_LINES]
    if [line for line in early if line.endswith(_COLONS)] and _join_cut_values(
        lines, first + 1, teaser_at
    ):  # "来源 :" / "党员生活": a header value on the next line
        teaser_at = _find_heading(lines, first)
    return lines, teaser_at


class _Reading:
    """A page as its lines are read, in order: where the reading stands and what it found.

    The rules of _read_line read and set it; nothing else carries state between lines."""

    __slots__ = (
        "article_lines",
        "at",
        "before_marker",
        "began",
        "field_author",
        "first",
        "glued_at",
        "glued_teasers",
        "has_marker",
        "in_box",
        "line_rule",
        "lines",
        "marker_passed",
        "meta",
        "para_entries",
        "paragraphs",
        "preamble",
        "prose_seen",
        "read_marker_ahead",
        "stop",
        "teaser_at",
        "titles",
        "trace",
        "wide",
    )  # fmt: skip

    def __init__(
        self,
        lines: list[str],
        first: int,
        teaser_at: int,
        trace: _Trace | None,
        marker: bool,
        wide: bool,
    ) -> None:
        self.lines, self.first, self.teaser_at, self.trace = lines, first, teaser_at, trace
        self.wide = wide  # the page holds U+3000, NBSP or a tab: else runs are of U+0020
        # Before 论文部分内容阅读 (`marker`: the page holds it) every field line is header;
        # without that line, see is_header.
        self.read_marker_ahead = marker
        # lines before the 论文部分内容阅读 line are the site's, unless they are prose
        self.before_marker = marker and (
            READ_MARKER in lines or any(_is_read_marker(line) for line in lines)
        )
        self.at = first + 1  # the line being read
        self.titles = [lines[first]]  # the title, as the site may print it again
        self.preamble = True  # no paragraph yet: header lines may stand only here
        self.began = False  # the article began: a line of fields is its text (see _read_line)
        self.marker_passed = False  # the 论文部分内容阅读 line was read
        self.prose_seen = False  # a paragraph of sentences was read
        self.in_box = False  # inside a box of links ("相关阅读") in the article
        self.has_marker = teaser_at < len(lines)  # a line of the template's own was read
        self.stop = False  # a rule found where the article ends
        self.meta: dict[str, str] = {}  # the header's fields
        self.paragraphs: list[str] = []
        self.para_entries: list[int] = []  # with a trace: each paragraph's entry
        self.field_author: str | None = None  # 作者 : X among the header's fields
        # teasers before the 其他文献 line: glued to it by a lost newline, or under 相关推荐
        # (and the lines they stand on); glued_at: the line of that heading
        self.glued_teasers: list[tuple[int, str]] = []
        self.glued_at = -1
        self.article_lines = -1  # lines of the article's own, counted if English may be typed so
        self.line_rule = "paragraph"  # the rule that cut the line being read into paragraphs

    def note(self, text: str, role: Role, rule: str) -> None:
        if self.trace is not None:
            self.trace.add(self.at, text, role, rule)

    def paragraph(self, text: str, rule: str) -> None:
        self.preamble = False
        self.prose_seen = self.prose_seen or _has_sentence_mark(text)
        self.paragraphs.append(text)
        if self.trace is not None:
            self.para_entries.append(self.trace.add(self.at, text, Role.PARAGRAPH, rule))


def _read_title_lines(r: _Reading) -> tuple[str, bool]:
    """Read the first line (and a subtitle or second half) → (the title, whether the first
    line is a header or boilerplate line instead); r.at goes past it."""
    lines, first = r.lines, r.first
    title = lines[first]
    title_is_meta = header_fields(title) is not None or is_boilerplate(title)
    if not title_is_meta:
        title, r.titles, r.at = _read_title(lines, first, r.teaser_at)
    if r.trace is not None:
        r.trace.add(first, lines[first], Role.HEADER if title_is_meta else Role.TITLE, "first-line")
        for k in range(first + 1, r.at):
            if lines[k]:
                r.trace.add(k, lines[k], Role.TITLE, "title-continued")
    return title, title_is_meta


def _read_lines(r: _Reading) -> None:
    """Give each line between the title and the 其他文献 heading its role, in order.

    The common path first: a line of the article (past the site's lines, outside a box of
    links) that no rule but the paragraph's can take, by the rules' cheap tests (_may_take),
    is a paragraph, read here; any other goes through the ordered rules of _read_line. A rule
    may find the article's end: r.stop, or r.teaser_at moves."""
    _read_top(r)
    lines, paragraphs, trace, wide = r.lines, r.paragraphs, r.trace, r.wide
    at, stop = r.at, r.teaser_at
    plain = not r.before_marker and not r.in_box  # what only _read_line's rules change
    while at < stop:
        line = lines[at]
        if not line:
            at += 1
            continue
        if (
            plain
            and line[-1] not in _BUTTON_LAST
            and not _spaced(line, wide)
            and (line[0] not in _RULES_FIRST or not _may_take(line))
            and (paragraphs or line not in r.titles)  # not the title again
        ):
            r.preamble = False
            if not r.prose_seen:
                r.prose_seen = _has_sentence_mark(line)
            paragraphs.append(line)
            if trace is not None:
                r.para_entries.append(trace.add(at, line, Role.PARAGRAPH, "paragraph"))
        else:
            r.at = at
            _read_line(r, line)
            if r.stop:
                return
            plain = not r.before_marker and not r.in_box
            stop = r.teaser_at
        at += 1


def _read_top(r: _Reading) -> None:
    """Read the template's lines under the title, as the common page has them: the header
    line, the boilerplate lines and the 论文部分内容阅读 marker, each a whole line (no runs of
    spaces), before any paragraph. Each takes the role _read_line's rules give it there, by
    the rule's own test, without the walk through the rules; the first other line (a page that
    deviates) is left to _read_lines, and the marker ends the template's lines."""
    lines, stop, wide = r.lines, r.teaser_at, r.wide
    at = r.at
    while at < stop:
        line = lines[at]
        if line:
            if _spaced(line, wide):
                break  # pieces of lines glued by lost line breaks: the rules cut them
            r.at = at
            role = _template_role_of(line) if line[0] in _BOILERPLATE_FIRST else None
            if role is Role.BOILERPLATE:
                r.note(line, Role.BOILERPLATE, "template-line")
            elif role is Role.MARKER:
                _read_marker(r, line, [])
                r.at = at + 1
                return
            # before a paragraph or the marker the article has not begun (_began): a line of
            # header fields is the header's
            elif role is not None or not _header_line(r, line):
                break
        at += 1
    r.at = at


def _read_line(r: _Reading, line: str) -> None:
    """Give a line of the page between the title and the 其他文献 heading its role (or its
    pieces theirs, where runs of spaces stand for lost line breaks) by the ordered rules."""
    c = line[0]
    spaced = _spaced(line, r.wide)
    if c in _BOILERPLATE_FIRST and not spaced:  # a template line whole
        role = _template_role_of(line)  # no such line is a header line: no room for a key
        if role is not None:
            _TEMPLATE_RULES[role](r, line, [])  # the first of them that takes it
            return
    if c in _HEADER_FIRST and spaced:
        line = _KEY_SPACES.sub(r"\1 ", line)  # "来源 :  X": wide spaces after a key
        if has_space_run(line):  # "来源   :   X   |   被引量 : 12 次   |": around marks
            line = _tight_header(line)
        spaced = has_space_run(line)
    r.began = _began(r)
    if not spaced and _header_line(r, line):
        return
    pieces = _line_pieces(r, line)
    for k, piece in enumerate(pieces):
        head = piece[0]
        rest = pieces[k + 1 :]
        for first_chars_of, rule in _PIECE_RULES:
            if (first_chars_of is None or head in first_chars_of) and rule(r, piece, rest):
                break
        if r.stop:
            return


def _may_take(line: str) -> bool:
    """Tell whether a rule of _read_line other than the paragraph's may take a whole line of
    the article (no runs of spaces, past the site's lines, outside a box of links), by each
    rule's first characters and then its own cheap test: a template line's words (a bracketed
    or spaced-out heading is short), a header key in the line, furniture's length, a
    recommendations heading's words."""
    c = line[0]
    return (
        (
            c in _BOILERPLATE_FIRST
            and (
                line.startswith(_TEMPLATE_WORDS)
                or (c in _HEADING_FIRST and len(line) <= _SPACED_HEADING_MAX)
            )
        )
        or (c in _FIELDS_FIRST and (c in _SEPARATORS or _has_key(line)))
        or (len(line) <= _JUNK_MAX and (c in _JUNK_FIRSTS or line[:2] in _JUNK_PAIRS))
        or (c in _RECOMMEND_FIRST and (c in _BRACKETS or line.startswith(_RECOMMEND_WORDS)))
    )


def _began(r: _Reading) -> bool:
    """Tell whether the article began: once it did, a line of fields is its text (unless it
    repeats the header). A header not seen yet may still come in the first lines, after some
    of the site's too: past the 论文部分内容阅读 line, or past a paragraph of prose (a line of
    fields then is the article's, unless the template's boilerplate follows it, as a
    header's)."""
    return (
        not r.preamble
        and not r.before_marker
        and (
            bool(r.meta)
            or r.at + 1 - r.first > _HEADER_LINES
            or r.marker_passed
            or (r.prose_seen and not _boilerplate_next(r.lines, r.at + 1, r.teaser_at))
        )
    )


def _header_line(r: _Reading, line: str) -> bool:
    """Rule "header-line": a whole line of header fields (no runs of spaces: the caller tells);
    values may hold single spaces."""
    if not (
        line[0] in (_HEADER_FIRST if r.began else _FIELDS_FIRST)
        and _take_header(header_fields(line), r.meta, r.preamble, r.read_marker_ahead, r.began)
    ):
        return False
    r.has_marker = True
    r.field_author = r.field_author or _author_field(line)
    r.note(line, Role.HEADER, "header-line")
    return True


def _line_pieces(r: _Reading, line: str) -> list[str]:
    """Cut a line at its runs of spaces (lost line breaks) → its pieces, unless it is a table
    row or a formula spaced out, or English typed with two spaces after each sentence; the rule
    that decided goes to r.line_rule."""
    pieces = _pieces(line, r.wide)
    r.line_rule = "paragraph"
    if len(pieces) < 2:
        return pieces
    if (len(pieces) >= _CELLS_MIN and _is_row_of_cells(pieces)) or (
        len(pieces) == 2
        and (_is_label_and_value(pieces) or _is_header_row(pieces, r.lines, r.at + 1, r.teaser_at))
    ):
        r.line_rule = "table-row"  # a table row or a formula, spaced out: one paragraph
        return [line]
    if "  " in line and _SENTENCE_GAP.search(line) is not None:
        if r.article_lines < 0:  # counted once, on the page's first such line
            r.article_lines = sum(
                1 for x in r.lines[r.first + 1 : r.teaser_at] if x and not _is_template_line(x)
            )
        if r.article_lines >= 2:  # the article's paragraphs are lines of their own
            pieces = _split_keeping_typed_gaps(line, pieces)
    if len(pieces) > 1:
        r.line_rule = "paragraph-split-at-spaces"
    return pieces


# --- the rules for a piece of a line, in order: the first that takes it gives its role -------


@functools.lru_cache(maxsize=64)
def _template_role(piece: str) -> Role | None:
    """The role a piece that starts with a template word takes by its text alone, as the rules
    below test it, in their order: the marker, the 其他文献 heading, boilerplate; else None.
    Cached: every page prints the same few lines of the template."""
    if _is_read_marker(piece):
        return Role.MARKER
    if _is_teaser_heading(piece):
        return Role.TEASER_HEADING
    if is_boilerplate(piece):
        return Role.BOILERPLATE
    return None


def _template_role_of(piece: str) -> Role | None:
    """_template_role of a piece that may be a template line (its words first, or a short
    bracketed or spaced-out heading), else None without looking further."""
    if piece.startswith(_TEMPLATE_WORDS) or (
        piece[0] in _HEADING_FIRST and len(piece) <= _SPACED_HEADING_MAX
    ):
        return _template_role(piece)
    return None


def _read_marker(r: _Reading, piece: str, rest: list[str]) -> bool:
    """Rule "read-marker": 论文部分内容阅读, the article follows."""
    if _template_role_of(piece) is not Role.MARKER:
        return False
    r.has_marker, r.preamble, r.before_marker, r.marker_passed = True, False, False, True
    r.note(piece, Role.MARKER, "read-marker")
    return True


def _teaser_heading_in_line(r: _Reading, piece: str, rest: list[str]) -> bool:
    """Rule "teaser-heading-in-line": 其他文献 glued into a line; the pieces after it are
    teasers, and the article ended."""
    if _template_role_of(piece) is not Role.TEASER_HEADING:
        return False
    r.has_marker = True
    r.glued_teasers = [(r.at, p) for p in rest]
    r.glued_at = r.teaser_at = r.at
    r.note(piece, Role.TEASER_HEADING, "teaser-heading-in-line")
    r.stop = True
    return True


def _template_line(r: _Reading, piece: str, rest: list[str]) -> bool:
    """Rule "template-line": 下载到本地 , 更方便阅读 and 声明 : …"""
    if _template_role_of(piece) is not Role.BOILERPLATE:
        return False
    r.note(piece, Role.BOILERPLATE, "template-line")
    return True


def _header_fields(r: _Reading, piece: str, rest: list[str]) -> bool:
    """Rules "separator-alone" (a header cut at the spaces around a separator) and
    "header-fields" (a piece of a line that is header fields)."""
    if piece[0] not in (_HEADER_FIRST if r.began else _FIELDS_FIRST):
        return False
    if r.preamble and not piece.strip(_SEPARATORS + SPACES):
        r.note(piece, Role.HEADER, "separator-alone")
        return True
    if not _take_header(header_fields(piece), r.meta, r.preamble, r.read_marker_ahead, r.began):
        return False
    r.has_marker = True
    r.field_author = r.field_author or _author_field(piece)
    r.note(piece, Role.HEADER, "header-fields")
    return True


def _site_line_before_marker(r: _Reading, piece: str, rest: list[str]) -> bool:
    """Rule "site-line-before-marker": the site's own line before 论文部分内容阅读 (its fields,
    a download button, the disclaimer's words, the title again)."""
    if not (r.before_marker and _is_site_line(piece, r.titles)):
        return False
    r.field_author = r.field_author or _author_field(piece)
    r.note(piece, Role.SITE_LINE, "site-line-before-marker")
    return True


def _site_furniture(r: _Reading, piece: str, rest: list[str]) -> bool:
    """Rule "site-furniture": pagination, a button, a share line: not the article's."""
    if not is_site_junk(piece):
        return False
    r.note(piece, Role.FURNITURE, "site-furniture")
    return True


def _link_in_box(r: _Reading, piece: str, rest: list[str]) -> bool:
    """Rule "link-in-box": inside a box of links in the article, its short lines go; the first
    other line closes the box."""
    if not r.in_box:
        return False
    if _is_link_like(piece):
        r.note(piece, Role.FURNITURE, "link-in-box")
        return True
    r.in_box = False
    return False


def _recommendations(r: _Reading, piece: str, rest: list[str]) -> bool:
    """Rules "recommendations-heading" (相关推荐 after the article: the lines under it are other
    articles, and the article ended) and "link-box-heading" (相关阅读 with prose after it: a
    box of links inside the article)."""
    recommend = _RECOMMEND.fullmatch(piece) if r.paragraphs else None
    if recommend is None:
        return False
    under = [(r.at, x) for x in (recommend.group(1), *rest) if x]
    under += [(j, r.lines[j]) for j in range(r.at + 1, r.teaser_at) if r.lines[j]]
    if all(_is_link_like(x) for _, x in under[1 if recommend.group(1) else 0 :]):
        r.glued_teasers = under
        r.glued_at = r.at
        r.note(piece, Role.TEASER_HEADING, "recommendations-heading")
        r.stop = True
        return True
    r.in_box = True
    r.note(piece, Role.FURNITURE, "link-box-heading")
    return True


def _paragraph(r: _Reading, piece: str, rest: list[str]) -> bool:
    """Rules "title-again" (the title printed again, opening the article) and the paragraph
    (r.line_rule: "paragraph", "table-row", "paragraph-split-at-spaces"); a button left at the
    paragraph's end ("…平台。 阅读全文") is cut off."""
    if piece[-1] in _BUTTON_LAST and _TRAILING_BUTTON.search(piece):
        piece = _TRAILING_BUTTON.sub("", piece) or piece
    if not r.paragraphs and piece in r.titles:
        r.note(piece, Role.SITE_LINE, "title-again")
        return True
    r.paragraph(piece, r.line_rule)
    return True


#: The rules for a piece of a line, in order, each with the characters a piece it may take
#: starts with (None: any), a test that rejects most pieces at once.
_Rule = Callable[[_Reading, str, list[str]], bool]
_PIECE_RULES: tuple[tuple[frozenset[str] | None, _Rule], ...]
_PIECE_RULES = (
    (_BOILERPLATE_FIRST, _read_marker),
    (_BOILERPLATE_FIRST, _teaser_heading_in_line),
    (_BOILERPLATE_FIRST, _template_line),
    (_FIELDS_FIRST, _header_fields),  # _HEADER_FIRST once the article began: a subset
    (None, _site_line_before_marker),
    (_JUNK_FIRST, _site_furniture),
    (None, _link_in_box),
    (_RECOMMEND_FIRST, _recommendations),
    (None, _paragraph),
)


#: The rules a whole line of the template's own may take, tried first (they are the first of
#: _PIECE_RULES, which try them on a line's pieces), by the role each gives (_template_role).
_TEMPLATE_RULES: dict[Role, _Rule] = {
    Role.MARKER: _read_marker,
    Role.TEASER_HEADING: _teaser_heading_in_line,
    Role.BOILERPLATE: _template_line,
}


def _check_layout(r: _Reading, title: str, title_is_meta: bool) -> None:
    """Raise Rejected if the page is not of the template: no title, or none of its lines."""
    if title_is_meta:
        if header_fields(title) is not None or title == READ_MARKER:
            r.has_marker = True
        if not r.has_marker:
            raise Rejected(Reason.UNRECOGNISED_LAYOUT, _no_marker_detail(r.lines, r.first))
        raise Rejected(
            Reason.MISSING_TITLE,
            f"line {r.first + 1}: expected the title, found {short(title)}",
        )
    if not r.has_marker:
        raise Rejected(Reason.UNRECOGNISED_LAYOUT, _no_marker_detail(r.lines, r.first))


def _article(r: _Reading) -> tuple[str | None, list[str]]:
    """The article's paragraphs → (its author, its body's paragraphs): the site's footer at
    the end dropped, the author note (a byline, a signature) taken out; Rejected if no
    paragraph is left."""
    paragraphs, trace, entries = r.paragraphs, r.trace, r.para_entries
    while paragraphs and _is_footer(paragraphs[-1]):  # the site's footer, no teasers after
        paragraphs.pop()
        if trace is not None:
            trace.set(entries.pop(), Role.FOOTER, "footer")
    kept = paragraphs
    author, paragraphs = take_author(paragraphs)
    if trace is not None:
        trace.author_roles(entries, kept, paragraphs, noted=author is not None)
    author = author or r.field_author
    if all(map(ELLIPSIS.issuperset, paragraphs)):  # "……": the excerpt was cut away
        if trace is not None:
            for entry in entries:
                if trace.entries[entry].role == Role.PARAGRAPH:
                    trace.set(entry, Role.FURNITURE, "cut-excerpt")
        paragraphs = []
    if not paragraphs:
        end = r.teaser_at
        raise Rejected(
            Reason.MISSING_BODY,
            f"no article paragraph between the title (line {r.first + 1}) and "
            + (f"{TEASER_HEADING} (line {end + 1})" if end < len(r.lines) else "the end"),
        )
    return author, paragraphs


def _teasers(r: _Reading) -> list[str]:
    """The lines under the 其他文献 heading (or glued to it) → the teasers: each line but the
    template's, the header again, furniture, list headings, dates and counters, and the
    site's footer at the end; a date or counter after a teaser cut off."""
    lines, trace, teaser_at = r.lines, r.trace, r.teaser_at
    if trace is not None and teaser_at < len(lines) and teaser_at != r.glued_at:
        trace.add(teaser_at, lines[teaser_at], Role.TEASER_HEADING, "teaser-heading")
    teasers: list[str] = []
    if trace is None:  # the common path: the same tests, no line numbers to carry
        candidates = lines[teaser_at + 1 :]
        if r.glued_teasers:
            candidates[:0] = [t for _, t in r.glued_teasers]
        teasers = [
            _TEASER_DATE.sub("", t) if t[-1].isdigit() else t
            for t in candidates
            if t and (not _may_not_be_teaser(t) or not _not_teaser(t))
        ]
        while teasers and _is_footer(teasers[-1]):  # the site's footer ends the page
            teasers.pop()
        return teasers
    teaser_entries: list[int] = []
    under = enumerate(lines[teaser_at + 1 :], teaser_at + 1)
    for at, t in (*r.glued_teasers, *under):
        if not t:
            continue
        not_teaser = _not_teaser(t)
        if not_teaser is None:
            teasers.append(_TEASER_DATE.sub("", t) if t[-1].isdigit() else t)
        if trace is not None:
            role, why = not_teaser or (Role.TEASER, "teaser")
            entry = trace.add(at, t, role, why)
            if not_teaser is None:
                teaser_entries.append(entry)
    while teasers and _is_footer(teasers[-1]):  # the site's footer ends the page
        teasers.pop()
        if trace is not None:
            trace.set(teaser_entries.pop(), Role.FOOTER, "footer")
    return teasers


def _may_not_be_teaser(line: str) -> bool:
    """_not_teaser's cheap test, which most teasers fail: a line its rules may take starts with
    one of their first characters, and but for the template's lines and the header, which may
    be long, is short (furniture, a list heading, a date or a counter)."""
    c = line[0]
    return c in _NOT_TEASER_ANY_LENGTH or (
        len(line) <= _NOT_TEASER_MAX and (c in _NOT_TEASER_FIRST or c.isdigit())
    )  # (first_chars reads \d as ASCII digits: a full-width date is tested on)


def _not_teaser(line: str) -> tuple[Role, str] | None:
    """Tell why a line under the teaser heading is no teaser → (its role, the rule), or None."""
    if not _may_not_be_teaser(line):  # most teasers
        return None
    if is_boilerplate(line):
        return Role.BOILERPLATE, "template-line"
    if line[0] in _HEADER_FIRST and is_header(header_fields(line)):
        return Role.HEADER, "header-again"
    if is_site_junk(line):
        return Role.FURNITURE, "site-furniture"
    if len(line) <= _LIST_LINE_MAX and _NOT_TEASER.fullmatch(line):
        return Role.FURNITURE, "list-heading-date-or-counter"
    return None


#: What a line that _not_teaser tells apart starts with: the union of its rules' first characters.
_NOT_TEASER_FIRST = _BOILERPLATE_FIRST | _HEADER_FIRST | _JUNK_FIRST | first_chars(_NOT_TEASER)
#: ... of its rules for a line of any length: the template's lines and the header again.
_NOT_TEASER_ANY_LENGTH = _BOILERPLATE_FIRST | _HEADER_FIRST
_LIST_LINE_MAX = 40  # a list heading, a date or a counter alone
#: The longest line its other rules take: furniture (is_site_junk) or a list heading.
_NOT_TEASER_MAX = max(_JUNK_MAX, _LIST_LINE_MAX)


@overload
def parse_page(data: bytes, page_id: str = "page", sha256: str | None = None) -> Page: ...
@overload
def parse_page(data: str, page_id: str = "page", sha256: str | None = None) -> Page: ...
def parse_page(data: object, page_id: str = "page", sha256: str | None = None) -> Page:
    """Parse one page into a Page, or raise Rejected (a reason and a detail).

    `data` is the page's content: its bytes as read from the file (decoded here: UTF-8,
    GB18030, Big5, UTF-16), or its text already decoded (a `str` is the page's text, never a
    file name: a one-line str ending in .txt / .txt.gz, and a Path, raise TypeError;
    use parse_file for a file). `sha256` defaults to the hash of the bytes (of the text's UTF-8).
    (`data: object` below the two signatures: a wrong type gets the TypeError with its hint
    here, also where the parser is compiled, whose own argument check would come first.)
    """
    text, sha256 = _page_text(data, sha256)
    return parse_text(text, page_id=page_id, sha256=sha256)


def _page_text(data: object, sha256: str | None = None) -> tuple[str, str]:
    """Decode a page → (its text, line breaks as the page has them: _parse makes them LF;
    `sha256` or the SHA-256 of its bytes); Rejected if empty or undecodable."""
    if isinstance(data, bytes):
        if sha256 is None:
            sha256 = hashlib.sha256(data).hexdigest()
        if not data or data.isspace():  # (data.strip() would copy the page)
            raise Rejected(Reason.EMPTY, "no bytes" if not data else "only whitespace")
        text = _decode(data)
    elif isinstance(data, str):
        if _looks_like_a_path(data):
            raise TypeError(
                f"parse_page takes a page's bytes or text, not a file name ({short(data)}): "
                "use parse_file(path) to read and parse a file"
            )
        try:
            encoded = data.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Rejected(
                Reason.UNDECODABLE, f"lone surrogate at character {exc.start}: not valid Unicode"
            ) from None
        if sha256 is None:
            sha256 = hashlib.sha256(encoded).hexdigest()
        text = data
    else:
        hint = " (use parse_file(path) for a file)" if isinstance(data, os.PathLike) else ""
        raise TypeError(f"parse_page takes bytes or str, not {type(data).__name__}{hint}")
    blank = text[1:] if text[:1] == "\ufeff" else text  # as normalise_newlines leaves it
    if not blank or blank.isspace():
        raise Rejected(Reason.EMPTY, "only whitespace")
    return text, sha256


_PATH_MAX = 4096


def _looks_like_a_path(text: str) -> bool:
    """Tell whether a str passed as a page's text is a raw file's name: one line ending in a raw
    page's suffix (as text it could never be a page: no header). Judged on the text alone, never
    on what the file system holds, so parsing stays a pure function of its input."""
    return "\n" not in text and len(text) <= _PATH_MAX and text.strip().endswith(SUFFIXES)


def parse_file(path: str | os.PathLike[str], page_id: str | None = None) -> Page:
    """Read one raw page file (.txt, or .txt.gz) and parse it as a build does: the same id (by
    default from the file's name), SHA-256 of the file's bytes, size limits; Rejected for a
    page the build would reject (a file that cannot be read too)."""
    path = Path(path)
    f = RawFile(page_id if page_id is not None else _page_id(path.name), path.name, None)
    read = read_raw(path.parent, f)
    return parse_page(read.data, page_id=f.id, sha256=read.sha256)


_DISCLAIMER = DISCLAIMER
_DISCLAIMER_TRADITIONAL = DISCLAIMER_TRADITIONAL
#: The template's own lines, spaces removed and commas and colons made ASCII: a last line of
#: the file (no newline after it) that is a proper prefix of one is a line cut short.
_TEMPLATE_LINES = (
    f"{DOWNLOAD_LINE},更方便阅读",
    _DISCLAIMER,
    READ_MARKER,
    *TEASER_HEADINGS,
    f"【{TEASER_HEADING}】",
    f"[{TEASER_HEADING}]",
    *(f"{key}:" for key in dict.fromkeys(_KEY_SPELLINGS.values())),
)
#: The template's words in traditional characters, each with its simplified spelling: a cut
#: line is spelled in simplified characters (聲明 : 本文檔內 as 声明:本文档内) before the test.
_TRADITIONAL_PAIRS = (
    *_TRADITIONAL_SPELLINGS,
    *((k, v) for k, v in _KEY_SPELLINGS.items() if len(k) == len(v)),  # 來源, 上傳用戶
    (_DISCLAIMER_TRADITIONAL, _DISCLAIMER),
)
_CUT_CHARS = str.maketrans(
    {",": None, "，": None, "：": ":", "∶": ":"} | _char_table(_TRADITIONAL_PAIRS)
)
#: 其他文献 glued to a closing bracket (（完）其他文献, （作者系X）其他文献), cut short (it
#: holds 其 still: a cheap test first)
_CUT_GLUED_HEADING = re.compile(rf"(?<=[）)])[{SPACES}]*+其(?:[他它]文?)?[{SPACES}]*+$")
_CUT_LINE_MAX = 60
#: What a template line cut short starts with, as _CUT_CHARS spells it: a last line that starts
#: otherwise (but with a space or comma, which tightening drops) is no such line.
_CUT_FIRST = frozenset(t.replace(",", "")[0] for t in _TEMPLATE_LINES)


def _drop_cut_template_line(text: str) -> str:
    """Drop the file's last line when it is a template line cut short (下载到本地 , 更方, 声明 :本,
    论文部分, 其他文; in traditional characters 下載到本, 聲明 : 本文檔內, 論文部分內): a download
    cut off there leaves no article text in it. 其他/其他文 glued to a closing bracket at the
    very end goes too (the heading, glued, cut short)."""
    start = text.rfind("\n") + 1
    last = text[start:].strip(_LINE_SPACE)
    if not last:
        return text
    if len(last) <= _CUT_LINE_MAX * 2:  # a template line is short
        first = last[0].translate(_CUT_CHARS)
        if first in _CUT_FIRST or not first or first.isspace():
            tight = "".join(last.split()).translate(_CUT_CHARS)
            if any(t != tight and t.replace(",", "").startswith(tight) for t in _TEMPLATE_LINES):
                return text[:start]
        if _is_cut_footer(last):
            return text[:start]
    tail = max(start, len(text) - 12)
    m = _CUT_GLUED_HEADING.search(text, tail) if "其" in text[tail:] else None
    return text[: m.start()] if m else text


_LINK_WORDS = SITE_LINKS


def _is_cut_footer(last: str) -> bool:
    """Tell whether a last line cut short is the site's footer: © and what follows, or site
    links (关于我们 | 联系我) ending in part of one."""
    if last[0] == "©":
        return len(last) <= _CUT_LINE_MAX and _SENTENCE_STOPS.isdisjoint(last)
    if not last.startswith(_LINK_WORDS) or len(last) > _CUT_LINE_MAX:
        return False
    *whole, tail = (p.strip(_LINK_GLUE) for p in re.split("[|｜·•/]", last))
    return all(p in _LINK_WORDS for p in whole) and any(w.startswith(tail) for w in _LINK_WORDS)


def _boilerplate_next(lines: list[str], at: int, stop: int) -> bool:
    """Tell whether the next non-empty line from lines[at] is a boilerplate line (下载到本地…)."""
    nxt = next((lines[k] for k in range(at, stop) if lines[k]), "")
    return is_boilerplate(nxt) or _is_read_marker(nxt)


def _take_header(
    fields: dict[str, str] | None,
    meta: dict[str, str],
    preamble: bool,
    read_marker_ahead: bool,
    began: bool,
) -> bool:
    """Add a line's fields to meta (the first value of a key wins) if they make a header line
    where the line stands; tell whether they did. Once the article began (`began`), only the
    header printed again is, or on a page without one, a header naming the uploader (上传用户,
    the site's own field, which no article quotes): any other line of fields is the article's
    ("来源：《求是》| 被引量：1205次" in an article about citations)."""
    if fields is None:
        return False
    if began:  # "来源：X" alone is a closing line, kept, even where X is the header's source
        if len(fields) < 2:
            return False
        if meta:
            return all(meta.get(key) == value for key, value in fields.items())
        if UPLOADER_KEY not in fields:
            return False
    if len(fields) == 1 and not (preamble and (read_marker_ahead or is_header(fields, meta))):
        return False
    for key, value in fields.items():
        meta.setdefault(key, value)
    return True


def _split_title_line(line: str) -> list[str] | None:
    """Split a first line that holds more than the title → [title, the rest...], else None.

    The rest is the header or other template lines, after the title at 2+ spaces (a page saved
    on one line), or a header of two fields or more after a single space.
    """
    pieces = split_paragraphs(line)
    if len(pieces) > 1 and any(_is_template_line(p) for p in pieces[1:]):
        return pieces
    has_key = _has_key(line)
    m = _KEY.search(line, 1) if has_key else None
    if m is not None:
        title = line[: m.start()].rstrip(SPACES + _SEPARATORS)
        fields = header_fields(line[m.start() :])
        if title and fields is not None and len(fields) > 1:
            return [title, line[m.start() :]]
    return None


def _is_template_line(piece: str) -> bool:
    return (
        is_header(header_fields(piece))
        or is_boilerplate(piece)
        or _is_read_marker(piece)
        or _is_teaser_heading(piece)
    )


def _is_teaser_heading(line: str) -> bool:
    if line[:1] not in _HEADING_FIRST:
        return False
    if line.startswith(TEASER_HEADINGS):
        return len(line.rstrip(":：∶").strip()) == 4
    # 【其他文献】, 其 他 文 献
    return len(line) <= 16 and _TEASER_HEADING_LINE.fullmatch(line) is not None


# "Copyright" alone may be a teaser's word ("Copyright Protection of …"); a footer's has ©,
# (c) or a year after it.
_COPYRIGHT = re.compile(
    r"(?i)©|&copy;|copyright\s*(?:©|&copy;|\(c\)|[:：]|by\b|(?:19|20)\d\d)|all rights reserved"
)
_FOOTER_PROOF = re.compile(r"(?i)(?:19|20)\d\d|rights reserved|\.(?:com|cn|net|org)\b|icp")
_ICP = re.compile(
    r"(?i)icp[备证]\s*\d|[京沪津渝冀晋辽吉黑苏浙皖闽赣鲁豫鄂湘粤琼川贵云陕甘青蒙桂藏宁新]icp"
)
_SITE_LINKS = re.compile(alternation(SITE_LINKS))
_FOOTER_HINTS = ("©", "opyright", "OPYRIGHT", "ights", "ICP", "icp", "首页", "关于我们", "联系我们")
_ANY_FOOTER_HINT = re.compile(alternation(_FOOTER_HINTS))  # one scan for them all
_LINK_GLUE = " |｜·•-/" + SPACES


def _is_footer(line: str) -> bool:
    """Tell whether a line under the teasers is the site's footer: a copyright line with a year
    or domain, an ICP licence number, or nothing but the site's links."""
    if len(line) > 150 or _ANY_FOOTER_HINT.search(line) is None:  # cheap tests first
        return False
    if (_COPYRIGHT.search(line) and _FOOTER_PROOF.search(line)) or _ICP.search(line):
        return True
    return len(_SITE_LINKS.findall(line)) >= 2 and not _SITE_LINKS.sub("", line).strip(_LINK_GLUE)


_HEADER_LINES = 12  # lines after the title where the header stands
_KEY_AT_END = re.compile(rf"({_KEYS})\s*{COLON}$")


def _join_cut_values(lines: list[str], start: int, stop: int) -> bool:
    """Join a header key ending its line to the value on the next line, in place, as HTML
    turned into text leaves it ("来源 :" / "党员生活"); tell whether any was."""
    joined = False
    k = start
    while k < min(stop, start + _HEADER_LINES):
        line = lines[k]
        if line[-1:] in _COLON_CHARS and line[0] in _HEADER_FIRST and _KEY_AT_END.search(line):
            n = next((j for j in range(k + 1, stop) if lines[j]), stop)
            value = lines[n] if n < stop else ""
            if value and value[0] not in _HEADER_FIRST and not _is_template_line(value):
                lines[k : n + 1] = [f"{line} {value}"]
                stop -= n - k
                joined = True
        k += 1
    return joined


_TITLE_MAX = 200  # a line longer than this is not the title printed again
#: Where a title's site decoration ends: a file extension, a site's name, _期刊/_论文 (derived
#: from the lists: 原创力文档 and .caj were once left on for want of 档 and j here).
_TITLE_LAST = frozenset(
    "刊文" + "".join(end[-1] + end[-1].upper() for end in (*_DOC_EXTENSIONS, *_DOC_SITES))
)


def _read_title(lines: list[str], first: int, stop: int) -> tuple[str, list[str], int]:
    """Read the title at lines[first] → (title, its spellings the site may print again, the
    line after it).

    The site's decoration goes ([PDF], .doc, " - 百度文库"); a ——subtitle line or the title's
    second half, just before the header or boilerplate, is joined to it. Spellings: as printed,
    cleaned, joined, and without a 【栏目】 column tag.
    """
    title = lines[first]
    titles = [title]
    for _ in range(3):  # "[PDF]标题.pdf - 百度文库": one layer at a time
        if not (title[:1] in "[［" or title[-1:] in _TITLE_LAST):
            break
        cleaned = _TITLE_DECOR.sub("", title).strip() or title
        if cleaned == title:
            break
        title = cleaned
        titles.append(title)
    after = first + 1
    rest = _next_line(lines, after, stop)
    if rest < stop and _is_title_rest(lines[rest]):
        then = _next_line(lines, rest + 1, stop)
        if then < stop and _is_template_line(lines[then]):
            titles.append(title)  # the first line alone, printed again (cleaned)
            title = f"{title}{lines[rest]}"
            titles.append(title)
            after = rest + 1
    if "【" in lines[first]:  # every spelling is the first line's, cut, or with its rest joined
        tagged = [t for t in titles if t[:1] == "【" and "】" in t]
        titles += [t[t.index("】") + 1 :].strip() for t in tagged]
    return title, titles, after


def _next_line(lines: list[str], at: int, stop: int) -> int:
    """Where the first non-empty line from lines[at] is, before stop (else stop)."""
    while at < stop and not lines[at]:
        at += 1
    return at


def _is_title_rest(line: str) -> bool:
    """Tell whether the line after the title continues it: a ——subtitle, or the title's second
    half (short, no sentence punctuation; a header or boilerplate line must follow)."""
    if line[:1] in _SUBTITLE_FIRST and _SUBTITLE.fullmatch(line):
        return True
    return (
        len(line) <= 30
        and _TITLE_BREAKS.isdisjoint(line)
        and not _is_template_line(line)
        and not is_site_junk(line)
    )


_TITLE_BREAKS = frozenset("。！？!?，,；;：:|｜")


_CELLS_MIN = 3  # pieces of a line split at runs of spaces that may be a table row
_CELL_MAX = 12
_NOT_IN_CELLS = frozenset("。！？!?；;，,:：∶")
#: Commas that are no sentence punctuation in a cell: 1,210,207 and f(x, y).
_CELL_COMMAS = re.compile(r"(?<=\d)[,，](?=\d{3})|\([^()]*\)|（[^（）]*）")


def _unpunctuated(cell: str) -> bool:
    """Tell whether a cell has no sentence punctuation (1,210,207 and f(x, y) have none)."""
    return _NOT_IN_CELLS.isdisjoint(cell) or _NOT_IN_CELLS.isdisjoint(_CELL_COMMAS.sub("", cell))


def _is_row_of_cells(pieces: list[str]) -> bool:
    """Tell whether the pieces of a line split at runs of spaces are cells, not paragraphs glued
    by lost line breaks: all short, no sentence punctuation, none a line of the template's."""
    return all(
        len(p) <= _CELL_MAX and _unpunctuated(p) and p[0] not in _SEPARATORS for p in pieces
    ) and not any(_is_template_line(p) or is_site_junk(p) for p in pieces)


#: The second of two cells: a number, amount or percentage (135, 1,234.5万元, 12.3%), or an
#: equation's number ((1), （2）).
_VALUE_CELL = re.compile(
    r"[-+\u2212]?\d[\d,，.]*\s*(?:[%\uff05‰]|[万亿千百]?(?:元|人|个|次|家|项|户|吨|公里|平方米|亩|篇|名|所)?)"
    r"|[(（]\d{1,3}[)）]"
)
_EQUATION_MAX = 80


def _is_label_and_value(pieces: list[str]) -> bool:
    """Tell whether two pieces of a line are a label and its value (党员人数    135) or a formula
    and its number (E = mc²    （1）), not two paragraphs glued by a lost line break."""
    label, value = pieces
    if len(value) > _CELL_MAX or not _VALUE_CELL.fullmatch(value):
        return False
    limit = _EQUATION_MAX if value[0] in "(（" else _CELL_MAX
    return (
        len(label) <= limit
        and _unpunctuated(label)
        and not _is_template_line(label)
        and not is_site_junk(label)
    )


def _is_header_row(pieces: list[str], lines: list[str], at: int, stop: int) -> bool:
    """Tell whether two pieces of a line are the header row of a two-column table (项目    金额
    （万元）): two short cells without sentence punctuation, and the next line a label and its
    value (党员人数    135)."""
    if not all(len(p) <= _CELL_MAX and _unpunctuated(p) for p in pieces):
        return False
    nxt = next((lines[k] for k in range(at, stop) if lines[k]), "")
    row = split_paragraphs(nxt) if len(nxt) <= 2 * _CELL_MAX + 40 else []
    return (
        len(row) == 2
        and _is_label_and_value(row)
        and not any(_is_template_line(p) or is_site_junk(p) for p in pieces)
    )


#: A sentence's end and the next one's start in English, with the spaces between (possessive:
#: a long run of spaces is not tried again at each length).
_SENTENCE_GAP = re.compile(
    "(?<=[A-Za-z0-9%)\\]])[.!?][\"'\u2019\u201d)]?( ++)(?=[\"'\u2018\u201c(]?[A-Z])"
)


def _split_keeping_typed_gaps(line: str, pieces: list[str]) -> list[str]:
    """Split a line at runs of spaces, but not at two spaces after an English sentence, where
    every sentence in the line ends with two (a typist's habit, not lost line breaks; a line
    with some sentences ended by one space is paragraphs glued at the others)."""
    stripped = line.strip()
    gaps = [m.span(1) for m in _SENTENCE_GAP.finditer(stripped)]
    if not gaps or any(b - a != 2 for a, b in gaps):
        return pieces
    typed = set(gaps)
    out: list[str] = []
    start = 0
    for m in _PARA_BREAK.finditer(stripped):
        if m.span() not in typed:
            out.append(stripped[start : m.start()].strip())
            start = m.end()
    out.append(stripped[start:].strip())
    return [p for p in out if p]


def _is_link_like(line: str) -> bool:
    """Tell whether a line could be a link to another article: short, not a sentence, not the
    author note."""
    return (
        len(line) <= _LINK_MAX
        and _SENTENCE_STOPS.isdisjoint(line)
        and strip_author_note(line)[0] is None
    )


_LINK_MAX = 50
_SENTENCE_STOPS = frozenset("。！？!?")


def _is_site_line(piece: str, titles: list[str]) -> bool:
    """Tell whether a line before the article is the site's own: the title again (or part of
    it), a download button, the disclaimer's words, or nothing but the site's short fields.
    (Furniture found anywhere, is_site_junk, is dropped by the caller.)"""
    if piece in titles or _PREAMBLE_JUNK.fullmatch(piece):
        return True
    if 6 <= len(piece) <= _TITLE_MAX and any(piece in title for title in titles):
        return True
    if _COLON_CHARS.isdisjoint(piece):
        return False
    fields = [f for f in (part.strip() for part in _SEP.split(piece)) if f]
    return bool(fields) and all(_SITE_FIELD.fullmatch(f) for f in fields)


_COLON_CHARS = frozenset(COLON_CHARS)
_COLONS = tuple(_COLON_CHARS)


def _author_field(line: str) -> str | None:
    """Return X of a `作者 : X` field in a line of fields, if there is one."""
    if "作者" not in line:
        return None
    m = _AUTHOR_FIELD.search(line)
    return m.group(1).strip() if m else None


@functools.lru_cache(maxsize=256)  # pages print the same few counts: 0次, 1次, 2次
def _citations(value: str | None) -> int | None:
    if not value:
        return None
    m = _CITATIONS_VALUE.match(value)
    return int(m.group(1).replace(",", "").replace("，", "")) if m else None


def _no_marker_detail(lines: list[str], first: int) -> str:
    line = lines[first]
    if _KEY.search(line) or READ_MARKER in line or _TEASER_HEADINGS_RE.search(line):
        return (
            f"the title line {first + 1} runs on into the template's other lines, with nothing "
            f"to tell where the title ends ({short(line)}): a page saved without line breaks?"
        )
    return (
        f"no {SOURCE_KEY} header, {READ_MARKER} or {TEASER_HEADING} line "
        f"(first line {first + 1}: {short(line)})"
    )
