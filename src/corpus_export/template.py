"""The page template's words, as tables: the one place each spelling, key, note word, site name
and piece of site furniture is written down.

parse.py and notes.py build their regexes from these tables, and their cheap first-character
tests (prefilters) from those regexes (`first_chars`), so adding a spelling is one line here:
the regexes and prefilters follow. docs/parsing.md renders these tables (`render_tables`), and a
test checks that it shows them as they are.
"""

from __future__ import annotations

import re
import re._constants as _sre
import re._parser as _sre_parse
from collections.abc import Iterable
from typing import Any

# -- the header ---------------------------------------------------------------------------------

#: ASCII and full-width colons, and ∶ (U+2236), which some sites print as one; COLON: as a
#: regex class.
COLON_CHARS = ":：∶"
COLON = f"[{COLON_CHARS}]"

SOURCE_KEY = "来源"  # "source": the publication
CITATIONS_KEY = "被引量"  # "times cited"
UPLOADER_KEY = "上传用户"  # "uploading user"

#: Each spelling of a header key pages print → the key it names. Traditional characters (來源,
#: 上傳用戶) and the short forms of 被引量 are read as the key.
KEY_SPELLINGS: dict[str, str] = {
    SOURCE_KEY: SOURCE_KEY,
    "來源": SOURCE_KEY,
    CITATIONS_KEY: CITATIONS_KEY,
    "被引次数": CITATIONS_KEY,
    "被引次數": CITATIONS_KEY,
    "被引": CITATIONS_KEY,
    UPLOADER_KEY: UPLOADER_KEY,
    "上傳用戶": UPLOADER_KEY,
}

#: Header separators: ASCII and full-width bars, 丨 (U+4E28), which Chinese sites use as one,
#: and the box-drawing and vertical-form bars │ ︱.
SEPARATORS = "|｜丨│︱"

#: The site's own fields a header line may hold besides the template's keys (页数 : 3页 | 来源 :…),
#: and which stand alone before the article: left out of every row.
SITE_FIELD_KEYS: tuple[str, ...] = (
    *(
        f"{verb}{what}"
        for verb in ("", "发布", "发表", "上传", "更新", "收录")
        for what in ("时间", "日期")
    ),
    "页数",
    *(f"{what}{n}" for what in ("浏览", "阅读", "下载", "收藏") for n in ("", "量", "次数")),
    "分享",
    "分享到",
    *(f"{kind}{what}" for kind in ("", "文档", "文件") for what in ("格式", "大小")),
    "语言",
    "评分",
    "分类",
    "所属分类",
    "作者",
    "上传者",
    "贡献者",
    "积分",
    "下载积分",
)

# -- the template's lines -----------------------------------------------------------------------

READ_MARKER = "论文部分内容阅读"  # "read part of the paper": the line before the article
DOWNLOAD_LINE = "下载到本地"  # "下载到本地 , 更方便阅读": download to read more easily
DISCLAIMER_KEY = "声明"  # "声明 : 本文档内容版权归属内容提供方…": the disclaimer
#: The disclaimer line, spaces removed and commas and colons made ASCII, in both spellings.
DISCLAIMER = (
    "声明:本文档内容版权归属内容提供方,如果您对本文有版权争议,可与客服联系进行内容授权或下架"
)
DISCLAIMER_TRADITIONAL = (
    "聲明:本文檔內容版權歸屬內容提供方,如果您對本文有版權爭議,可與客服聯繫進行內容授權或下架"
)
#: What follows 下载到本地 on the download line.
DOWNLOAD_LINE_REST = "更方便阅读"
#: Words by which a 声明 line is the site's disclaimer (a line of the template's own).
DISCLAIMER_LINE_WORDS = ("内容提供方", "版权争议", "下架")
#: Words only the disclaimer holds: a line with one before the article is the disclaimer wrapped.
DISCLAIMER_WORDS = (*DISCLAIMER_LINE_WORDS, "联系客服", "客服联系")
TEASER_HEADING = "其他文献"  # "other articles": the teaser list after the article
#: The teaser heading's spellings (其它 is a common variant).
TEASER_HEADINGS = (TEASER_HEADING, "其它文献")


def template_lines_pattern(space: str) -> str:
    """The template's own lines (the download line, the disclaimer, the 论文部分内容阅读 marker,
    the 其他文献 heading) as one regex alternation, in syntax both re and RE2 read: the one rule
    the parser drops them by and the table rules check that no row holds them. `space` is a
    space inside a line: \\s for the parser's stripped lines, [^\\S\\n] for RE2 over whole
    columns (where \\s would run on into the next line)."""
    s = f"{space}*"
    return (
        f"{DOWNLOAD_LINE}{s}[,，]?{s}{DOWNLOAD_LINE_REST}[!！。.]*"
        f"|{DISCLAIMER_KEY}{s}{COLON}.*(?:{alternation(DISCLAIMER_LINE_WORDS)}).*"
        f"|{READ_MARKER}{s}{COLON}?|(?:{alternation(TEASER_HEADINGS)}){s}{COLON}?"
    )


#: The template's words in traditional characters, by which a page shows itself so, each with
#: its simplified spelling: the one table the traditional template is read by.
TRADITIONAL_SPELLINGS = (
    ("來源", SOURCE_KEY),
    ("下載到本地", DOWNLOAD_LINE),
    ("論文部分內容閱讀", READ_MARKER),
    ("其他文獻", TEASER_HEADING),
)

# -- who wrote it: the words of notes and credits ---------------------------------------------

#: The word an author note names its writer by (作者系X, 作者简介：X), and in English.
NOTE_LABELS = ("作者",)
ENGLISH_NOTE_WORD = "uthor"  # Author: X, The author is X, About the author
#: The word a named note puts between the names and the post: （李明，系X）.
NAMED_NOTE_IS = ("系", "係")
#: Credits of a newspaper's or magazine's writers (本报记者 X, 记者 X 通讯员 Y, 执笔：X), in
#: simplified and traditional characters: the author is the names after them.
REPORTER_WORDS = ("记者", "記者")
CORRESPONDENT_WORDS = ("通讯员", "通訊員")
INTERN_WORDS = ("实习生", "實習生")
DRAFTER_WORDS = ("执笔", "執筆")
WRITER_WORDS = ("撰稿",)
#: Who a reporter writes for, before 记者: 本报记者, 新华社记者.
NEWS_DESKS = (
    "本报",
    "本報",
    "本刊",
    "新华社",
    "新華社",
    "人民日报",
    "光明日报",
    "经济日报",
    "中新社",
    "央视",
)
#: What a reporter may be, before 记者: 特约记者, 见习记者 (驻X记者 too).
REPORTER_KINDS = ("特约", "特約", "见习", "見習")
#: Every word some note or credit form names its writer by: a line with none of them is no
#: note (a cheap test before the note patterns).
NOTE_WORDS = (
    *NOTE_LABELS,
    *REPORTER_WORDS,
    *CORRESPONDENT_WORDS,
    *INTERN_WORDS,
    *DRAFTER_WORDS,
    *WRITER_WORDS,
    ENGLISH_NOTE_WORD,
    *NAMED_NOTE_IS,
)

# -- what scraped titles carry from the site ----------------------------------------------------

DOC_EXTENSIONS = ("pdf", "doc", "docx", "caj", "txt")
#: Sites whose name a scraped title may end in (" - 百度文库").
DOC_SITES = (
    "百度文库",
    "百度学术",
    "道客巴巴",
    "豆丁网",
    "原创力文档",
    "爱问共享资料",
    "新浪爱问",
    "360文库",
    "人人文库",
    "文档之家",
    "中国知网",
    "万方数据",
    "维普网",
    "docin.com",
    "doc88.com",
    "book118.com",
)

# -- site furniture -----------------------------------------------------------------------------

#: Buttons a scraper captures as lines of their own (or several on one line).
BUTTONS = (
    "展开全文",
    "阅读全文",
    "点击查看全文",
    "查看全文",
    "全文阅读",
    "继续阅读",
    "免费下载",
    "立即下载",
    "下载本文",
    "下载",
    "VIP专享文档",
    "VIP专享",
    "VIP免费下载",
    "收藏",
    "举报",
    "打印",
    "纠错",
    "广告",
    "查看更多",
)
#: Buttons that may be left at the end of a paragraph: "…平台。 阅读全文".
TRAILING_BUTTONS = ("展开全文", "阅读全文", "点击查看全文", "查看全文")
#: Pagination words: a line of them (and page numbers) is the site's pager.
PAGER_WORDS = ("上一页", "下一页", "首页", "尾页", "末页")
#: Where a share line sends the page: 分享到 微信 | 微博.
SHARE_TARGETS = ("微信", "微博", "QQ空间", "QQ", "朋友圈", "豆瓣", "人人网", "复制链接")
#: Headings of the site's recommendations: the article ended, the lines under them are other
#: articles. The first kind may have the first recommendation on its own line.
RECOMMEND_HEADINGS = (
    "相关推荐",
    "猜你喜欢",
    "热门文档",
    "热门推荐",
    "精彩推荐",
    "为你推荐",
    "更多推荐",
)
RECOMMEND_HEADINGS_ALONE = ("推荐阅读", "相关阅读")
#: Headings of other lists under the teasers: not teasers themselves.
OTHER_LIST_HEADINGS = ("相关文献", "更多文献")
#: The site's links in its footer (首页 | 关于我们 | 联系我们).
SITE_LINKS = (
    "首页",
    "关于我们",
    "联系我们",
    "网站地图",
    "帮助中心",
    "免责声明",
    "隐私政策",
    "用户协议",
    "意见反馈",
)


# -- deriving regexes and prefilters ------------------------------------------------------------


def alternation(words: Iterable[str]) -> str:
    """A regex alternation of the words, escaped, longest first (被引量 before 被引)."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


def needles(words: Iterable[str]) -> tuple[str, ...]:
    """The fewest of the words such that every word holds one: `any(n in line ...)` is then a
    cheap test that a line may hold any of the words (被引 for 被引量 and 被引次数)."""
    unique = set(words)
    return tuple(sorted(w for w in unique if not any(o != w and o in w for o in unique)))


#: What a category matches, as first characters. \d: the ASCII digits only (a prefilter does
#: not look for other scripts' digits in page numbers and counters); \s: the spaces pages hold.
_CATEGORY_CHARS = {
    _sre.CATEGORY_DIGIT: "0123456789",
    _sre.CATEGORY_SPACE: " \t\n\r\f\v\u3000\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u0085\x1c\x1d\x1e\x1f",
}
_RANGE_MAX = 4096  # a character class wider than this gives no useful prefilter


class Unbounded(ValueError):
    """A pattern may start with any character (., [^x], \\w): it gives no first-character set."""


def first_chars(pattern: str | re.Pattern[str]) -> frozenset[str]:
    """The characters a match of the pattern can start with (a superset; \\d as ASCII digits).

    Read from the pattern's own parse tree, so a prefilter built from it always agrees with the
    pattern. Raises Unbounded for a pattern that may start with any character, or match empty.
    """
    source, flags = (
        (pattern.pattern, pattern.flags) if isinstance(pattern, re.Pattern) else (pattern, 0)
    )
    tree = _sre_parse.parse(source, flags)
    chars, nullable = _seq_first(list(tree), bool(tree.state.flags & re.IGNORECASE))
    if nullable:
        raise Unbounded(f"{source[:40]!r} can match the empty string")
    return frozenset(chars)


_PAIRS_MAX = 50_000  # more two-character starts than this give no useful prefilter
_ANY = "\x00"  # in a start: any character may stand here (the pattern's text does not hold it)


def first_pairs(pattern: str | re.Pattern[str]) -> tuple[frozenset[str], frozenset[str]]:
    """The starts of a match of the pattern, as (first characters after which any character
    may come, two-character starts): a superset, as first_chars (\\d as ASCII digits).

    `s[:1] in firsts or s[:2] in pairs` is then a cheap test that p.match(s) may succeed: a
    second character's prefilter where a first character's lets too much through ("(作者系X)"
    is no "(完)"). Raises Unbounded where the first character may be any (., [^x], \\w)."""
    source, flags = (
        (pattern.pattern, pattern.flags) if isinstance(pattern, re.Pattern) else (pattern, 0)
    )
    tree = _sre_parse.parse(source, flags)
    starts = _seq_pairs(list(tree), bool(tree.state.flags & re.IGNORECASE))
    if starts is None:
        raise Unbounded(f"{source[:40]!r} may start with any character")
    firsts = {s[:1] for s in starts if len(s) < 2 or s[1] == _ANY}
    if "" in firsts:
        raise Unbounded(f"{source[:40]!r} can match the empty string")
    pairs = {s for s in starts if len(s) == 2 and s[1] != _ANY}
    return frozenset(firsts), frozenset(pairs)


def _join_pairs(heads: set[str], tails: set[str] | None) -> set[str] | None:
    """The starts of A then B, from A's (heads) and B's (tails); None: any one character
    first."""
    out = {h for h in heads if len(h) >= 2}
    short = [h for h in heads if len(h) < 2]
    if tails is None:
        if "" in short:
            return None
        out |= {h + _ANY for h in short}
    else:
        out |= {(h + t)[:2] for h in short for t in tails}
    if len(out) > _PAIRS_MAX:
        raise Unbounded("too many two-character starts for a prefilter")
    return out


def _seq_pairs(items: list[tuple[Any, Any]], fold: bool) -> set[str] | None:
    out: set[str] | None = {""}
    for op, av in items:
        if out is None or all(len(s) >= 2 for s in out):
            break
        out = _join_pairs(out, _item_pairs(op, av, fold))
    return out


def _item_pairs(op: Any, av: Any, fold: bool) -> set[str] | None:
    """An item's starts (up to two characters); None: any one character."""
    if op in (_sre.LITERAL, _sre.IN):
        try:
            return _item_first(op, av, fold)[0]
        except Unbounded:
            return None
    if op in (_sre.ANY, _sre.NOT_LITERAL, _sre.CATEGORY):
        return None
    if op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
        return {""}  # zero width (a superset: what an assertion rules out is let through)
    if op is _sre.BRANCH:
        branches = [_seq_pairs(list(branch), fold) for branch in av[1]]
        return None if None in branches else set().union(*branches)  # type: ignore[arg-type]
    if op is _sre.SUBPATTERN:
        _, add, _, sub = av
        return _seq_pairs(list(sub), fold or bool(add & re.IGNORECASE))
    if op is _sre.ATOMIC_GROUP:
        return _seq_pairs(list(av), fold)
    if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
        low, high, sub = av
        one = _seq_pairs(list(sub), fold)
        if one is None:
            return None  # any character first (or none: then what follows, a subset)
        # X{k} for k > 3 starts as some X{k} with k <= 3 does: two characters come from at most
        # two of the repeats, and the others may be taken as empty ones or come after
        out: set[str] = set()
        reps: set[str] | None = {""}
        for k in range(min(high, 3) + 1):
            assert reps is not None  # one is not None: joined, no item is any
            if k >= min(low, 3):
                out |= reps
            reps = _join_pairs(reps, one)
        return out
    raise Unbounded(f"{op} may start with any character")


def _seq_first(items: list[tuple[Any, Any]], fold: bool) -> tuple[set[str], bool]:
    out: set[str] = set()
    for op, av in items:
        chars, nullable = _item_first(op, av, fold)
        out |= chars
        if not nullable:
            return out, False
    return out, True


def _item_first(op: Any, av: Any, fold: bool) -> tuple[set[str], bool]:
    if op is _sre.LITERAL:
        ch = chr(av)
        return ({ch, ch.lower(), ch.upper()} if fold else {ch}), False
    if op is _sre.IN:
        return _class_first(av, fold), False
    if op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
        return set(), True  # zero width: the next item starts the match
    if op is _sre.BRANCH:
        out: set[str] = set()
        nullable = False
        for branch in av[1]:
            chars, empty = _seq_first(list(branch), fold)
            out |= chars
            nullable = nullable or empty
        return out, nullable
    if op is _sre.SUBPATTERN:
        _, add, _, sub = av
        return _seq_first(list(sub), fold or bool(add & re.IGNORECASE))
    if op is _sre.ATOMIC_GROUP:
        return _seq_first(list(av), fold)
    if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
        low, _, sub = av
        chars, empty = _seq_first(list(sub), fold)
        return chars, empty or low == 0
    raise Unbounded(f"{op} may start with any character")


def _class_first(items: list[tuple[Any, Any]], fold: bool) -> set[str]:
    out: set[str] = set()
    for op, av in items:
        if op is _sre.LITERAL:
            out.add(chr(av))
        elif op is _sre.RANGE:
            low, high = av
            if high - low > _RANGE_MAX:
                raise Unbounded("a character class too wide for a prefilter")
            out.update(map(chr, range(low, high + 1)))
        elif op is _sre.CATEGORY and av in _CATEGORY_CHARS:
            out.update(_CATEGORY_CHARS[av])
        else:
            raise Unbounded(f"{op} in a character class")
    if fold:
        out |= {ch.lower() for ch in out} | {ch.upper() for ch in out}
    return out


# -- the tables as docs/parsing.md shows them ---------------------------------------------------


def _words(words: Iterable[str]) -> str:
    return ", ".join(f"`{w}`".replace("|", "\\|") for w in words)  # a bar escaped in a table


def render_tables() -> str:
    """The tables above as Markdown: docs/parsing.md holds this block as it is (a test checks)."""
    keys: dict[str, list[str]] = {}
    for spelling, key in KEY_SPELLINGS.items():
        keys.setdefault(key, []).append(spelling)
    rows = [
        "| table | entries |",
        "|---|---|",
        *(f"| header key `{key}`: its spellings | {_words(s)} |" for key, s in keys.items()),
        f"| header separators | {_words(SEPARATORS)} |",
        f"| the site's own header fields | {_words(SITE_FIELD_KEYS)} |",
        f"| the line before the article (marker) | `{READ_MARKER}` |",
        f"| boilerplate | `{DOWNLOAD_LINE} , 更方便阅读`, `{DISCLAIMER_KEY} : …` |",
        f"| words only the disclaimer holds | {_words(DISCLAIMER_WORDS)} |",
        f"| teaser heading | {_words(TEASER_HEADINGS)} |",
        *(
            f"| traditional spelling of `{simplified}` | `{traditional}` |"
            for traditional, simplified in TRADITIONAL_SPELLINGS
        ),
        f"| words of credits: reporters | {_words(REPORTER_WORDS)} (after {_words(NEWS_DESKS)}"
        f" and {_words(REPORTER_KINDS)}) |",
        f"| words of credits: correspondents, interns, drafters, writers | "
        f"{_words(CORRESPONDENT_WORDS + INTERN_WORDS + DRAFTER_WORDS + WRITER_WORDS)} |",
        f"| words every note or credit holds one of | {_words(NOTE_WORDS)} |",
        f"| document file extensions cut from a title | {_words(DOC_EXTENSIONS)} |",
        f"| document sites cut from a title's end | {_words(DOC_SITES)} |",
        f"| buttons (furniture) | {_words(BUTTONS)} |",
        f"| buttons cut from a paragraph's end | {_words(TRAILING_BUTTONS)} |",
        f"| pager words (furniture) | {_words(PAGER_WORDS)} |",
        f"| share targets (furniture) | {_words(SHARE_TARGETS)} |",
        f"| recommendation headings (teasers follow) | {_words(RECOMMEND_HEADINGS)} |",
        f"| recommendation headings, alone on their line | {_words(RECOMMEND_HEADINGS_ALONE)} |",
        f"| other list headings under the teasers (dropped) | {_words(OTHER_LIST_HEADINGS)} |",
        f"| the site's footer links | {_words(SITE_LINKS)} |",
    ]
    return "\n".join(rows)
