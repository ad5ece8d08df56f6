"""Author notes and bylines: where a page's article names its author, and what is kept.

Pure text rules, used by parse.py: a note ends the article ("(作者系X)", "（执笔：X）", …), maybe
followed by closing lines or a references section; else a byline or a note opens it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

from .template import (
    COLON,
    CORRESPONDENT_WORDS,
    DRAFTER_WORDS,
    INTERN_WORDS,
    NEWS_DESKS,
    NOTE_WORDS,
    REPORTER_KINDS,
    REPORTER_WORDS,
    WRITER_WORDS,
    alternation,
    first_chars,
    first_pairs,
)

# Author notes: "(作者系X)", "（作者为X）", "(作者单位:X)", "作者：X"; a byline "文/X".
_NOTE_MAX = 200  # an author note is short; longer text is article prose
# A wrapped note's text may hold one level of brackets, "(作者系华中师范大学（武汉）教授)", but
# does not run past its own closing one into a note that follows.
# 〔〕 (tortoise-shell brackets) wrap notes in some journals: 〔作者单位：X〕.
_OPEN = r"(（【\[［〔"  # brackets a note may be wrapped in (a character class's contents)
_CLOSE = r")）】\]］〕"
_NOTE_TEXT = rf"((?:[^{_OPEN}{_CLOSE}]|[{_OPEN}][^{_OPEN}{_CLOSE}]*[{_CLOSE}])*?)"
# Also in traditional characters (作者係, 作者簡介, 執筆), as Hong Kong and Taiwan authors write.
_UNIT = r"(?:所在|所属|所屬)?(?:单位|單位)"
_NOTE_LABEL = rf"(?:本文)?作者(?:{_UNIT}|简介|簡介|信息|資訊)?"
_IS = r"(?:分别|分別|均|都)?[系为是係為]"
_NOTE_WRAPPED = (
    rf"[{_OPEN}]\s*(?:(?:本文)?作者\s*(?:{_IS}|(?:{_UNIT}|简介|簡介)?\s*{COLON})"
    rf"|(?:执笔|執筆)人?\s*{COLON})\s*{_NOTE_TEXT}\s*[{_CLOSE}]"
)
#: An English note: "(The author is a professor at X.)", naming a post or a place (not "The
#: author is grateful to …", "The authors are solely responsible …").
_ENGLISH_IS = (
    r"The\s+authors?\s+(?:is|are)\s+(?!(?:very|deeply|most|solely|currently|also|not|listed"
    r"|grateful|thankful|indebted|responsible)\b)"
)
_AFFILIATION = (
    r"(?i:professor|lecturer|researcher|research|fellow|student|candidate|scholar|director"
    r"|editor|engineer|journalist|reporter|analyst|teacher|dean|member|university|institute"
    r"|academy|school|college|department|faculty|cent(?:er|re)|laboratory|bureau|ministry"
    r"|commission|association|ph\.?d|secretary|chair(?:man|woman|person)?|president|officer"
    r"|official|cadre|physician|doctor|surgeon|nurse|pharmacist|[a-z]*(?:ologist|scientist"
    r"|economist|specialist|chemist|physicist)|hospital|clinic|committee|government|company"
    r"|corporation|bank|court|judge|prosecutor|procuratorate|lawyer|attorney|manager|consultant)"
)
_ENGLISH_WRAPPED = (
    rf"[(（]\s*{_ENGLISH_IS}((?=[^()（）]{{0,180}}?\b{_AFFILIATION})[^()（）]{{1,180}}?)"
    rf"\s*\.?\s*[)）]\s*\.?"
)
#: A footnote mark after a note: ①, [1], ［1］, *.
_MARK = r"(?:[①-⑳]|\[\d{1,2}\]|［\d{1,2}］|\*)?"
#: Decoration some sites put before a note or byline: ■文/X, ◎作者系…
_DECOR_CHARS = "■□◆◇●○◎★☆▲△▪"
#: Han characters, also of the extensions (Ext. A; B and later outside the BMP, as GB18030's
#: four-byte codes and UTF-16's surrogate pairs give them: 𠮷), as in names.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0003134f"
_DECOR = rf"(?:[{_DECOR_CHARS}]\s*)?"
#: The dot between the parts of a minority or foreign name (阿依古丽·买买提): · (U+00B7) and the
#: look-alikes pages print for it, • ・ ‧ ･ (U+2022, U+30FB, U+2027, U+FF65).
_DOT = "·•・‧･"
_DOT_SET = frozenset(_DOT)
_DOTTED = rf"[{_HAN}]{{1,8}}(?:[{_DOT}][{_HAN}]{{1,8}}){{1,3}}"  # 约翰·史密斯
#: Names: 张三, 张三、李四, 张三 / 李四, 阿依古丽·买买提, [美]约翰·史密斯, John Smith, each
#: name short (作者：张三认为，…… is prose, not a byline); an affiliation in brackets may follow.
_REPORTED = r"(?:报道|采写|整理|摄影?)"  # 本报记者 张三 报道: the verb is not a name
_ROLE = (
    rf"(?:(?:{alternation(NEWS_DESKS)})?"
    rf"(?:{alternation(REPORTER_KINDS)}|驻\S{{1,4}})?(?:{alternation(REPORTER_WORDS)})"
    rf"|(?:本报|本報|本刊)?(?:{alternation(CORRESPONDENT_WORDS)})|{alternation(INTERN_WORDS)}"
    rf"|(?:{alternation(DRAFTER_WORDS)})人?|(?:{alternation(WRITER_WORDS)})人?)"
)
_NAME = (
    rf"(?!{_ROLE}|{_REPORTED})"  # a role word is no name (and no backtracking over it)
    rf"(?:[\[［(（][{_HAN}]{{1,3}}[\]］)）])?"
    rf"(?:{_DOTTED}|[{_HAN}]{{1,4}}"
    r"|[A-Z][A-Za-z.\-]*(?: [A-Z][A-Za-z.\-]*){0,3})"
)
_NAMES = rf"{_NAME}(?:\s*[、，,/／]\s*{_NAME}|\s+{_NAME}){{0,5}}(?:\s*[(（][^()（）]{{1,30}}[)）])?"
#: Reporters' and drafters' credits: 本报记者 王五, 记者 王五 通讯员 赵六, 执笔：张三.
_CREDIT_LINE = re.compile(
    rf"{_ROLE}\s*{COLON}?\s*{_NAMES}(?:\s+{_ROLE}\s*{COLON}?\s*{_NAMES}){{0,4}}(?:\s*{_REPORTED})?"
)
#: How a credit starts (first_pairs): a role word, a cheap test before the regex.
_CREDIT_FIRSTS, _CREDIT_PAIRS = first_pairs(_CREDIT_LINE)


def _is_credit(text: str) -> bool:
    """Tell whether text is a reporters' or drafters' credit (_CREDIT_LINE) whole."""
    return (text[:1] in _CREDIT_FIRSTS or text[:2] in _CREDIT_PAIRS) and bool(
        _CREDIT_LINE.fullmatch(text)
    )


_ROLE_RE = re.compile(rf"{_ROLE}\s*{COLON}?\s*|\s*{_REPORTED}$")
_LATIN_NAME = r"[A-Z][A-Za-z.\-]*(?: [A-Z][A-Za-z.\-]*){0,3}"  # Li Ming, John A. Smith
#: A note that names the writer first, then 系 and a post: （李明，系华中师范大学教授）,
#: （张三、李四，分别系X）. Not words for the text itself ("（以上数据，系…）"), nor 系统/系列/系数.
_NAMED_NOTE = (
    rf"[{_OPEN}]\s*((?!本|此|该|該|这|這|以上|上述|上文|全文|原文)"
    rf"(?:{_DOTTED}|[{_HAN}]{{2,4}})(?:、(?:{_DOTTED}|[{_HAN}]{{2,4}})){{0,5}}\s*[，,]\s*"
    r"(?:分别|分別|均)?[系係](?![统統列数數谱譜])"
    rf"[^{_OPEN}{_CLOSE}]{{2,80}}?)\s*[。.]?\s*[{_CLOSE}]\s*[。.]?"
)
_AUTHOR_NOTE = re.compile(
    rf"{_DECOR}(?:{_NOTE_WRAPPED}\s*[。.]?{_MARK}|{_NOTE_LABEL}\s*{COLON}\s*(.*?)"
    rf"|[{_OPEN}]\s*{_NOTE_LABEL}\s*[{_CLOSE}]\s*{COLON}?\s*(.*?)"  # 【作者简介】X
    rf"|(?:[{_DECOR_CHARS}]|——)\s*(?:本文)?作者{_IS}(.*?)"  # ◎作者系X
    rf"|{_NAMED_NOTE}"  # （李明，系X）
    rf"|{_ENGLISH_WRAPPED}|About\s+the\s+authors?\s*{COLON}\s*(.+?)"
    rf"|Authors?\s*{COLON}\s*({_LATIN_NAME}(?:\s*[,，(（;；].*?)?)\s*\.?)"
)
_TRAILING_NOTE = re.compile(
    rf"{_NOTE_WRAPPED}\s*[。.]?\s*{_MARK}\s*$"
    rf"|(?<=[。！？!?…”」』])\s*{_NAMED_NOTE}\s*$"  # "……发展。（李明，系X）"
    rf"|(?<=[。！？!?])\s*(?:本文)?作者\s*{COLON}\s*([^。，,；;：:（）()]{{1,30}}?)\s*[。.]?\s*$"
    rf"|{_ENGLISH_WRAPPED}\s*$"
)
#: The commonest note, (作者系X) or (作者单位：X) alone, X without brackets: what _AUTHOR_NOTE's
#: first form (_NOTE_WRAPPED) reads there, X less its trailing spaces, by a regex without its
#: lazy walk (a cheap test first; no funding note can stand in it).
_COMMON_NOTE = re.compile(
    rf"[(（]作者(?:{_IS}|{_UNIT}{COLON})([^\s{_OPEN}{_CLOSE}][^{_OPEN}{_CLOSE}]*)[)）]"
)
#: A note wholly made of a credit in brackets at the end: （执笔：张三）, （记者 王五 通讯员 赵六）.
_WRAPPED_CREDIT = re.compile(rf"[{_OPEN}]\s*({_CREDIT_LINE.pattern})\s*[{_CLOSE}]\s*[。.]?")
#: A label alone on its line, the note on the next: "作者简介：" / "张三，华中师范大学教授。"
_NOTE_LABEL_LINE = re.compile(rf"[{_OPEN}]?\s*{_NOTE_LABEL}\s*[{_CLOSE}]?\s*{COLON}?")
#: A note first in the article, wrapped or labelled: (作者系X), 作者简介：X (not 作者：X, which
#: is a byline of names only there).
_LEAD_LABEL = rf"(?:本文)?作者(?:{_UNIT}|简介|簡介|信息|資訊)"  # not 作者 alone: a byline there
_LEAD_NOTE = re.compile(
    rf"{_DECOR}(?:{_NOTE_WRAPPED}\s*[。.]?"
    rf"|(?:[{_OPEN}]\s*{_LEAD_LABEL}\s*[{_CLOSE}]\s*{COLON}?"
    rf"|[{_OPEN}]?\s*{_LEAD_LABEL}\s*[{_CLOSE}]?\s*{COLON})\s*(.+?)"
    rf"|{_ENGLISH_WRAPPED})"
)
#: A funding sentence inside the note's own brackets: (作者系X。本文系Y项目的阶段性成果).
_FUNDING_INSIDE = re.compile(r"[。；;，,]\s*(?=本文[系为是]|本研究[系为是]|基金项目|项目基金)")
#: A funding note may follow the author note, "(作者系X)(本文系Y基金项目成果)": look past it,
#: keep it in the body.
_FUNDING_NOTE = re.compile(
    rf"[(（]\s*(?:本文[系为是]|基金项目\s*{COLON})(?:[^()（）]|[(（][^()（）]*[)）]){{1,150}}"
    rf"[)）]\s*[。.]?\s*$"
)
#: Up to three closing lines may follow the author note: editor credits (责任编辑：X, 编辑/X,
#: 【责任编辑 X】), "(完)", where the article first appeared (本文原载于…, 来源：X, （摘自…）), a
#: funding note. Look past them; they stay in the body.
_CREDIT = r"(?:责任编辑|责编|编辑|校对|审核|审校|终审|初审|美编)"
_TRAILER = re.compile(
    rf"[{_OPEN}]?\s*(?:本版|本刊|本期|本文)?{_CREDIT}\s*(?:{COLON}|[/／]|\s)\s*"
    rf"[^{_OPEN}{_CLOSE}]{{1,30}}[{_CLOSE}]?"
    rf"|[{_OPEN}]\s*完\s*[{_CLOSE}]"
    rf"|[{_OPEN}]\s*(?:本文)?(?:有删节|图片由.{{1,20}}提供|[上下]转第\s*\d+\s*版?页?)\s*[{_CLOSE}]"
    rf"|[{_OPEN}]?\s*(?:本文)?(?:来源|原载于?|原文载于|原文刊于|刊发于|刊于|发表于|摘自|转自|转载自?|选自"
    rf"|图片来源|收稿日期|修回日期|录用日期|基金项目|通讯作者|联系方式)"
    rf"\s*{COLON}?\s*\S.{{0,100}}"
    # where a newspaper printed it: 《人民日报》（2021年03月05日 09版）
    rf"|《[^《》]{{1,20}}》\s*(?:[(（]\s*\d{{4}}\s*[年\-/.]\s*\d{{1,2}}[^{_OPEN}{_CLOSE}]{{0,30}}[)）]"
    rf"|\d{{4}}\s*年\s*\d{{1,2}}\s*月\s*\d{{1,2}}\s*日\s*(?:第\s*)?\d{{1,2}}\s*版)"
    # the date the article was written or printed, alone: 2021年3月5日, 2021.03.05, 二〇二一年三月
    rf"|\d{{4}}\s*(?:年\s*\d{{1,2}}\s*月(?:\s*\d{{1,2}}\s*日)?|[-/.]\s*\d{{1,2}}\s*[-/.]\s*\d{{1,2}})"
    rf"|[〇零一二三四五六七八九]{{4}}年[一二三四五六七八九十]{{1,3}}月(?:[一二三四五六七八九十]{{1,3}}日)?"
)
_TRAILERS_MAX = 3
#: How a closing line of _TRAILER or _FUNDING_NOTE starts (first_pairs): a cheap test first.
_TRAILER_FIRSTS, _TRAILER_PAIRS = (
    a | b for a, b in zip(first_pairs(_TRAILER), first_pairs(_FUNDING_NOTE), strict=True)
)
#: Other closing lines, when short: "(…)" of its own, or "key：value" (a 2-6 character key).
_SHORT_CLOSING = re.compile(
    rf"[{_OPEN}][^{_OPEN}{_CLOSE}]{{1,58}}[{_CLOSE}]|(?:[{_HAN}]{{2,6}}|注)\s*{COLON}\s*\S.*"
)
_SHORT_LINE_MAX = 60
#: A note names its writer with one of these (作者系X, 执笔：X, 记者 X, 通讯员 X, 撰稿：X,
#: （李明，系X）).
_NOTE_WORDS = NOTE_WORDS  # the credits' words come from the same tables as _ROLE
_ANY_NOTE_WORD = re.compile(alternation(_NOTE_WORDS))  # one scan for them all
#: How long a closing line can be (a funding note's sentence is the longest kind).
_TRAILER_MAX = 120
_FUNDING_MAX = 200
#: An editor credit on the note's own line: "(作者系X) 责任编辑：Y".
_GLUED_CREDIT = re.compile(
    rf"(.*[{_CLOSE}])\s*((?:[{_OPEN}]\s*)?{_CREDIT}\s*(?:{COLON}|[/／]).{{1,30}})"
)
#: The heading of a reference or notes section, which may follow the author note.
_REFS_HEADING = re.compile(
    rf"[{_OPEN}]?\s*(?:参考文献|注释|注解|参考资料|尾注|參考文獻|註釋|References|REFERENCES|Bibliography"
    rf"|Notes)\s*[{_CLOSE}]?\s*(?:{COLON}.*)?"
)
_REFS_FIRSTS, _REFS_PAIRS = first_pairs(_REFS_HEADING)
_REFS_SEARCH = 80  # paragraphs from the end where such a heading is looked for
_BYLINE = re.compile(
    rf"{_DECOR}(?:文\s*[/／|｜{_DOT}:：]\s*(?:图(?:\s*[/／|｜:：]\s*|\s+))?(\S.*)"
    rf"|(?:本文)?作者(?:\s*{COLON}\s*|\s+)({_NAMES})\s*[。.]?"
    rf"|[{_DECOR_CHARS}]\s*([{_HAN}]{{2,4}}|{_DOTTED})"  # 4 characters: 司马光华 (see below)
    rf"|By\s+({_LATIN_NAME}(?: and {_LATIN_NAME})?))"
)
_BYLINE_MAX = 40
#: Site furniture glued by a space after the note: "(作者系X) 分享到：微信 微博".
_GLUED_JUNK = re.compile(
    r"(.*[)）】\]])\s+(?:分享到?\s*[:：].{0,40}|(?:收藏|举报|打印)(?:\s+(?:收藏|举报|打印))*)"
)
#: What a paragraph of nothing but an ellipsis is made of ("……": the excerpt was cut there).
ELLIPSIS = frozenset("….。 \uff0e")


def _common_note(paragraph: str) -> tuple[str | None, str] | None:
    """(author, rest) of a paragraph that is wholly a note of the commonest form, (作者系X), as
    _strip_note reads it without _AUTHOR_NOTE's lazy walk; None for any other paragraph."""
    if len(paragraph) > _NOTE_MAX:
        return None
    common = _COMMON_NOTE.fullmatch(paragraph)
    return None if common is None else _note_parts(common.group(1).rstrip(), "")


@functools.lru_cache(maxsize=64)  # a page's last paragraphs are asked about more than once
def strip_author_note(paragraph: str) -> tuple[str | None, str]:
    """Split a trailing author note off a paragraph → (author or None, rest of paragraph).

    A paragraph that is wholly a note gives rest ""; author is "" if the note names nobody. A
    funding note after the author note stays in the rest.
    """
    common = _common_note(paragraph)
    if common is not None:
        return common
    funding = None
    if paragraph.rstrip("。. ")[-1:] in (")", "）"):  # cheap test first: most paragraphs are prose
        funding = _FUNDING_NOTE.search(paragraph, max(0, len(paragraph) - _NOTE_MAX))
    if funding is not None and funding.start() > 0:
        note, rest = _strip_note(paragraph[: funding.start()].rstrip())
        if note is not None:
            return note, f"{rest}{funding.group().strip()}"
    return _strip_note(paragraph)


def _strip_note(paragraph: str) -> tuple[str | None, str]:
    if len(paragraph) <= _NOTE_MAX:
        m = _AUTHOR_NOTE.fullmatch(paragraph) or _WRAPPED_CREDIT.fullmatch(paragraph)
        if m is not None:
            return _note_parts(next(g for g in m.groups() if g is not None), "")
    start = max(0, len(paragraph) - _NOTE_MAX)
    # every note holds a note word (作者, 执笔, 系, uthor): most paragraphs end in none
    m = _TRAILING_NOTE.search(paragraph, start) if _ANY_NOTE_WORD.search(paragraph, start) else None
    if m is not None and m.start() > 0:
        note = next(g for g in m.groups() if g is not None)
        return _note_parts(note, paragraph[: m.start()].strip())
    return None, paragraph


def _note_parts(note: str, rest: str) -> tuple[str, str]:
    """Clean a note's text → (author, rest): a funding sentence inside the note's brackets
    goes to the rest (the body); a reporters' credit gives their names."""
    funding = _FUNDING_INSIDE.search(note) if "本" in note or "基金" in note else None
    if funding is not None:
        sentence = note[funding.end() :].strip()
        note = note[: funding.start()]
        rest = f"{rest}\n{sentence}" if rest else sentence
    if _is_credit(note.strip()):
        note = " ".join(_ROLE_RE.sub(" ", note).split())
    return note.strip().rstrip("。.;；").strip(), rest


def strip_byline(paragraph: str) -> str | None:
    """Return X of a byline paragraph (文/X, 作者：X, ◇X, 本报记者 X), or None."""
    if len(paragraph) > _BYLINE_MAX:
        return None
    m = _BYLINE.fullmatch(paragraph)
    if m is not None:
        marked = m.group(3)  # ◇X: four characters only with a compound surname (◇司马光华)
        if (
            marked is None
            or len(marked) < 4
            or marked[:2] in _COMPOUND_SURNAMES
            or (not _DOT_SET.isdisjoint(marked))
        ):
            return next(g for g in m.groups() if g is not None).strip()
    credit = paragraph.lstrip(_DECOR_CHARS + " \u3000")  # □ 本报记者 X
    if _is_credit(credit):
        return " ".join(_ROLE_RE.sub(" ", credit).split())
    return None


def take_author(paragraphs: list[str]) -> tuple[str | None, list[str]]:
    """Remove the author note and a byline (first paragraph) from paragraphs → (author, rest).

    The note ends the article: it is the last paragraph, or the one before a few closing lines
    (editor credits, "(完)", where the article first appeared, a funding note) or before a
    reference or notes section; those stay in the body. A label on its own line ("作者简介：")
    may head it, and it may be wrapped over two lines. Else a note or a byline may open the
    article.
    """
    author: str | None = None
    common = _common_note(paragraphs[-1]) if paragraphs else None
    if common is not None:
        # The commonest end, (作者系X) last, is the note's place at once: no closing line, glued
        # credit or junk can be it (each starts with its own words or goes on past the bracket).
        author, rest = common
        paragraphs = paragraphs[:-1] + (rest.split("\n") if rest else [])
    elif paragraphs:
        author, paragraphs = _note_at_end(paragraphs)
    if author is None and len(paragraphs) > 1 and len(paragraphs[0]) <= _NOTE_MAX:
        lead = _LEAD_NOTE.fullmatch(paragraphs[0])  # the note first: (作者系X), 作者简介：X
        if lead is not None:
            note = next(g for g in lead.groups() if g is not None)
            author, rest = _note_parts(note, "")
            paragraphs = (rest.split("\n") if rest else []) + paragraphs[1:]
    if paragraphs:
        byline = strip_byline(paragraphs[0])
        if byline is not None:
            author = author or byline
            paragraphs = paragraphs[1:]
    return author, paragraphs


def _note_at_end(paragraphs: list[str]) -> tuple[str | None, list[str]]:
    """Find the author note at the end of the article (paragraphs, not empty): past closing
    lines, before a references section, or a signature → (author or None, the paragraphs
    without it)."""
    author: str | None = None
    last = paragraphs[-1]
    glued = None
    if len(last) <= _NOTE_MAX + 40 and ("编" in last or "校" in last or "审" in last):
        glued = _GLUED_CREDIT.fullmatch(last)
    if glued is not None and (
        strip_author_note(glued.group(1))[0] is not None
        or (
            len(paragraphs) > 1  # the note's second line: "（作者系X" / "Y） 责任编辑：Z"
            and strip_author_note(paragraphs[-2] + glued.group(1))[0] is not None
        )
    ):
        paragraphs = [*paragraphs[:-1], *glued.groups()]  # "(作者系X) 责任编辑：Y"
    elif len(last) <= _NOTE_MAX + 60 and ("分享" in last or "收藏" in last or "举报" in last):
        junk = _GLUED_JUNK.fullmatch(last)  # "(作者系X) 分享到：微信 微博": drop the junk
        if junk is not None and strip_author_note(junk.group(1))[0] is not None:
            paragraphs = [*paragraphs[:-1], junk.group(1)]
    for at in _note_places(paragraphs):
        found = _note_at(paragraphs, at)
        if found is not None:
            author, paragraphs = found
            break
    if author is None and len(paragraphs) > 1:
        found = _signature_at_end(paragraphs)
        if found is not None:
            author, paragraphs = found
    return author, paragraphs


#: A signature ending the article: 文/X, □ X, ◎X (names only, not a sentence or a heading).
_SIGNATURE = re.compile(
    rf"{_DECOR}文\s*[/／|｜{_DOT}:：]\s*(?:图(?:\s*[/／|｜:：]\s*|\s+))?({_NAMES})\s*[。.]?"
    rf"|[{_DECOR_CHARS}]\s*(?:([{_HAN}]{{2,4}})|({_DOTTED}))"
)
#: The commonest Chinese surnames (most people's): a marked name alone at the end starts with
#: one (◎王小波), a marked subhead there mostly not (■ 小结, ◎ 结语).
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛"
    "郝龚邵万钱严覃武戴莫孔向汤常温康施牛樊葛邢齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿焦俞左柳"
    "甘祝包宁尚舒阮柯纪梅童凌毕季裴霍涂苗谷盛翁冉骆蓝游辛靳管柴蒙鲍喻祁蒲滕屈饶牟艾穆卓缪褚娄"
    "窦戚岑晏卫柏瞿桂佟臧闵苟邬卞姬栾隋刁巫寇桑郎甄丛仲虞敖巩佘迟邝匡鞠荆冀郁胥储栗燕楚鄢谌奚"
    "粟冼蔺阚屠朴练廉禹漆芮薄邸雍辜裘亓邰赫杭逯茹嵇湛"
    # the same in traditional characters, where they differ (陳志明, 黃建華)
    "陳張劉楊黃趙吳孫馬羅鄭謝許韓馮鄧蕭蔣葉蘇呂盧鍾鐘譚陸賈韋鄒閆閻賀顧龔萬錢嚴龐顏莊聶魯歐寧紀"
    "畢駱藍鮑繆婁竇衛鄔欒鞏遲鄺儲諶藺闞練湯溫齊喬龍饒閔叢荊"
)
_COMPOUND_SURNAMES = frozenset(
    (
        *("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯"),
        *("司徒", "歐陽", "司馬", "諸葛", "東方", "尉遲", "公孫"),
    )
)
_SIGNATURE_FIRST = first_chars(_SIGNATURE)


def _signature_at_end(paragraphs: list[str]) -> tuple[str, list[str]] | None:
    """Take a signature at the end of the article (past closing lines) → (author, the
    paragraphs without it), or None. It stands alone after the article's last sentence: the
    paragraph before ends one and is no item of a list marked the same way (□ 满意 / □ 一般);
    a marked name without 文/ starts with a common surname (not ◎ 结语)."""
    last = paragraphs[-_TRAILERS_MAX - 1 :]  # cheap test first: most articles end in prose
    if all(len(p) > _BYLINE_MAX or p[:1] not in _SIGNATURE_FIRST for p in last):
        return None
    at = _past_closing_lines(paragraphs, len(paragraphs) - 1)
    if at < 1:
        return None
    p, before = paragraphs[at], paragraphs[at - 1]
    if len(p) > _BYLINE_MAX or p[:1] not in _SIGNATURE_FIRST or before[:1] == p[:1]:
        return None
    if before[-1:] not in _SENTENCE_ENDS:
        return None
    m = _SIGNATURE.fullmatch(p)
    if m is None:
        return None
    byline, name, foreign = m.groups()
    if name is not None and not (
        (name[0] in _SURNAMES and len(name) <= 3) or name[:2] in _COMPOUND_SURNAMES
    ):
        return None
    return (byline or name or foreign).strip(), paragraphs[:at] + paragraphs[at + 1 :]


def is_signature(paragraph: str) -> bool:
    """Tell whether a paragraph is a signature alone (文/X, □ X with a common surname)."""
    if len(paragraph) > _BYLINE_MAX or paragraph[:1] not in _SIGNATURE_FIRST:
        return False
    m = _SIGNATURE.fullmatch(paragraph)
    if m is None:
        return False
    name = m.group(2)
    return (
        name is None or (name[0] in _SURNAMES and len(name) <= 3) or name[:2] in _COMPOUND_SURNAMES
    )


_SENTENCE_ENDS = frozenset("。！？!?…”」』")
_OPEN_CHARS = frozenset("(（【[［〔")
_CLOSE_CHARS = frozenset(")）】]］〕")


def _note_at(paragraphs: list[str], at: int) -> tuple[str, list[str]] | None:
    """Take the author note at paragraphs[at] → (author, the paragraphs without it), or None."""
    note, rest = strip_author_note(paragraphs[at])
    if note is not None:
        return note, paragraphs[:at] + (rest.split("\n") if rest else []) + paragraphs[at + 1 :]
    if at < 1:
        return None
    before, here = paragraphs[at - 1], paragraphs[at]
    if (  # wrapped over two lines: "(作者系X，" / "Y)"
        before[:1] in _OPEN_CHARS
        and here[-1:] in _CLOSE_CHARS
        and len(before) + len(here) <= _NOTE_MAX
        and _CLOSE_CHARS.isdisjoint(before)
    ):
        note, rest = strip_author_note(before + here)
        if note is not None:
            kept = rest.split("\n") if rest else []
            return note, paragraphs[: at - 1] + kept + paragraphs[at + 1 :]
    for j in range(at - 1, max(-1, at - 5), -1):  # "作者简介：" / "张三，……" / "李四，……"
        if _is_refs_heading(paragraphs[j]):
            return None  # the lines after it are references, not the note
        if len(paragraphs[j]) <= 12 and _NOTE_LABEL_LINE.fullmatch(paragraphs[j]):
            lines = paragraphs[j + 1 : at + 1]
            if any(len(line) > 100 for line in lines):
                return None
            note = "；".join(line.rstrip("。.;；").strip() for line in lines)
            return note, paragraphs[:j] + paragraphs[at + 1 :]
    return None


def is_closing_line(paragraph: str) -> bool:
    """Tell whether a paragraph is one of the lines that may follow the author note.

    An editor credit, "(完)", where the article first appeared, a funding note, "……", or any
    other short line in brackets or of the form "key：value" (收稿日期：…, （图片来源：…）) that
    is not itself a note.
    """
    if not paragraph or len(paragraph) > _FUNDING_MAX:
        return False
    if ELLIPSIS.issuperset(paragraph):  # "……": the excerpt was cut after the note
        return True
    if (paragraph[:1] in _TRAILER_FIRSTS or paragraph[:2] in _TRAILER_PAIRS) and (
        (len(paragraph) <= _TRAILER_MAX and _TRAILER.fullmatch(paragraph) is not None)
        or _FUNDING_NOTE.fullmatch(paragraph) is not None
    ):
        return True
    return (
        len(paragraph) <= _SHORT_LINE_MAX
        and _SHORT_CLOSING.fullmatch(paragraph) is not None
        and (
            _ANY_NOTE_WORD.search(paragraph) is None  # every note form has one of the words
            or strip_author_note(paragraph)[0] is None
        )
    )


def _note_places(paragraphs: list[str]) -> Iterator[int]:
    """Where the author note may be: past the closing lines, then before a references heading
    (looked for only if the first place holds no note)."""
    at = _past_closing_lines(paragraphs, len(paragraphs) - 1)
    if at >= 0 and not _is_refs_heading(paragraphs[at]):  # past [1]… entries: their heading
        yield at
    for j in range(len(paragraphs) - 1, max(0, len(paragraphs) - _REFS_SEARCH), -1):
        if _is_refs_heading(paragraphs[j]):
            before = _past_closing_lines(paragraphs, j - 1)  # 基金项目：… before 参考文献
            if before != at and before >= 0:
                yield before
            return


def _is_refs_heading(p: str) -> bool:
    return (
        len(p) <= _NOTE_MAX
        and (p[:1] in _REFS_FIRSTS or p[:2] in _REFS_PAIRS)
        and _REFS_HEADING.fullmatch(p) is not None
    )


def _past_closing_lines(paragraphs: list[str], at: int) -> int:
    """Step back from paragraphs[at] over up to _TRAILERS_MAX closing lines and any footnotes
    (①…, [1]…: up to _FOOTNOTES_MAX) → where the note may be."""
    closing = footnotes = 0
    while at >= 1:
        p = paragraphs[at]
        if footnotes < _FOOTNOTES_MAX and p[:1] in _FOOTNOTE_FIRST and _FOOTNOTE.match(p):
            footnotes += 1
        elif closing < _TRAILERS_MAX and is_closing_line(p):
            closing += 1
        else:
            break
        at -= 1
    return at


#: A footnote after the note: a line that starts with its mark, ①… or [1]…
_FOOTNOTE = re.compile(r"(?:[①-⑳]|\[\d{1,2}\]|［\d{1,2}］)\s*\S")
_FOOTNOTE_FIRST = first_chars(_FOOTNOTE)
_FOOTNOTES_MAX = 20
