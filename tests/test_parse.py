"""One small test per parse rule and template variant."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import PageMaker

from corpus_export import notes as notes_module
from corpus_export import parse as parse_module
from corpus_export import template
from corpus_export.cli import cli
from corpus_export.errors import Reason, Rejected
from corpus_export.parse import (
    ROLE_COLOURS,
    Role,
    explain_page,
    format_roles,
    parse_page,
    split_paragraphs,
    strip_author_note,
)
from corpus_export.template import Unbounded, alternation, first_chars, first_pairs, needles


def row(text: str | bytes) -> dict[str, object]:
    return parse_page(text, "p").to_row()


def test_template_page(page: PageMaker) -> None:
    r = row(page())
    assert r["title"] == "基层治理的实践与思考"
    assert (r["source"], r["citations"], r["uploader"]) == ("党员生活", 3, "user01")
    assert r["author"] == "某某大学教授"
    assert r["body"] == "第一段正文内容。\n第二段正文内容。"
    assert r["teasers"] == ["其他文章一的摘要", "其他文章二的摘要"]


@pytest.mark.parametrize(
    ("note", "author"),
    [
        ("(作者系武汉市洪山区委书记)", "武汉市洪山区委书记"),
        ("（作者系武汉市洪山区委书记）", "武汉市洪山区委书记"),
        ("(作者为湖北日报记者)", "湖北日报记者"),
        ("（作者为湖北日报记者）", "湖北日报记者"),
        ("(作者单位:华中师范大学)", "华中师范大学"),
        ("（作者单位：华中师范大学）", "华中师范大学"),
        ("( 作者单位 : 华中师范大学 )", "华中师范大学"),
        ("作者：张三", "张三"),
        ("作者: 张三", "张三"),
        ("(作者系华中科技大学(武汉)教授)", "华中科技大学(武汉)教授"),
    ],
)
def test_author_note_forms(page: PageMaker, note: str, author: str) -> None:
    r = row(page(note=note))
    assert r["author"] == author
    assert r["body"] == "第一段正文内容。\n第二段正文内容。"


@pytest.mark.parametrize("byline", ["文/李四", "文 / 李四", "文／李四"])
def test_byline_first_paragraph(page: PageMaker, byline: str) -> None:
    r = row(page(note=None, byline=byline))
    assert r["author"] == "李四"
    assert r["paragraph_count"] == 2


def test_note_glued_to_last_paragraph(page: PageMaker) -> None:
    r = row(page(paragraphs=("第一段。", "第二段结束。(作者系某县县长)"), note=None))
    assert r["author"] == "某县县长"
    assert r["body"] == "第一段。\n第二段结束。"


def test_no_author_note(page: PageMaker) -> None:
    r = row(page(note=None))
    assert r["author"] is None
    assert r["paragraph_count"] == 2


def test_fullwidth_colons_and_no_spaces(page: PageMaker) -> None:
    r = row(page(header="来源：中国党政干部论坛｜被引量：12次｜上传用户：abc"))
    assert (r["source"], r["citations"], r["uploader"]) == ("中国党政干部论坛", 12, "abc")


def test_header_fields_reordered_and_missing(page: PageMaker) -> None:
    r = row(page(header="上传用户:u9 | 来源 : 求是"))
    assert (r["source"], r["citations"], r["uploader"]) == ("求是", None, "u9")


def test_header_split_over_lines(page: PageMaker) -> None:
    r = row(page(header="来源 :党员生活\n被引量 : 7次\n上传用户:xd1"))
    assert (r["source"], r["citations"], r["uploader"]) == ("党员生活", 7, "xd1")


def test_no_header_at_all(page: PageMaker) -> None:
    r = row(page(header=""))
    assert (r["source"], r["citations"], r["uploader"]) == (None, None, None)
    assert r["paragraph_count"] == 2


def test_missing_read_marker_and_teasers(page: PageMaker) -> None:
    r = row(page(boilerplate=False, teasers=None))
    assert r["teasers"] == []
    assert r["teaser_count"] == 0
    assert r["body"] == "第一段正文内容。\n第二段正文内容。"


def test_blank_lines_trailing_spaces_crlf_bom(page: PageMaker) -> None:
    text = page(paragraphs=("第一段。   ", "", "第二段。\u3000"), newline="\r\n")
    r = row(("\ufeff" + text).encode("utf-8"))
    assert r["body"] == "第一段。\n第二段。"
    assert r["title"] == "基层治理的实践与思考"


def test_cr_only_newlines(page: PageMaker) -> None:
    r = row(page(newline="\r").encode())
    assert r["paragraph_count"] == 2
    assert r["teaser_count"] == 2


def test_lost_newlines_split_at_double_spaces(page: PageMaker) -> None:
    r = row(page(paragraphs=("第一段。  第二段。\u3000\u3000第三段。\u00a0\u00a0第四段。",)))
    assert r["body"] == "第一段。\n第二段。\n第三段。\n第四段。"


def test_teasers_keep_inner_double_spaces(page: PageMaker) -> None:
    r = row(page(teasers=("  开头。  接着。  ",)))
    assert r["teasers"] == ["开头。  接着。"]


def test_gb18030_page(page: PageMaker) -> None:
    r = row(page().encode("gb18030"))
    assert r["source"] == "党员生活"
    assert r["body"] == "第一段正文内容。\n第二段正文内容。"


def test_utf8_with_bom(page: PageMaker) -> None:
    assert row(b"\xef\xbb\xbf" + page().encode())["title"] == "基层治理的实践与思考"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"", Reason.EMPTY),
        (b" \n\t\r\n", Reason.EMPTY),
        ("\u3000\n".encode(), Reason.EMPTY),
        (b"\xff\xfe\xfa\xfb\x80", Reason.UNDECODABLE),
        (b"title\x00body", Reason.UNDECODABLE),
        (b"Hello world\nThis is a blog post.\n", Reason.UNRECOGNISED_LAYOUT),
        (
            "来源 :党员生活 | 被引量 : 0次\n论文部分内容阅读\n  正文。\n".encode(),
            Reason.MISSING_TITLE,
        ),
        ("下载到本地 , 更方便阅读\n论文部分内容阅读\n  正文。\n".encode(), Reason.MISSING_TITLE),
        ("标题\n来源 :党员生活\n论文部分内容阅读\n其他文献\n摘要\n".encode(), Reason.MISSING_BODY),
        ("标题\n来源 :党员生活\n论文部分内容阅读\n  (作者系某人)\n".encode(), Reason.MISSING_BODY),
    ],
)
def test_page_rejects(text: bytes, reason: Reason) -> None:
    with pytest.raises(Rejected) as exc:
        parse_page(text, "p")
    assert exc.value.reason == reason
    assert exc.value.detail


def test_corrupt_utf8_is_not_read_as_gb18030(page: PageMaker) -> None:
    data = page().encode()
    cut = data.index("第二段".encode())
    with pytest.raises(Rejected) as exc:
        parse_page(data[:cut] + b"\xff" + data[cut:], "p")
    assert exc.value.reason == Reason.UNDECODABLE
    assert "line" in exc.value.detail


def test_split_paragraphs() -> None:
    assert split_paragraphs("  a  b\u3000\u3000c \u00a0 ") == ["a", "b", "c"]
    assert split_paragraphs("a b") == ["a b"]
    assert split_paragraphs("   ") == []


def test_strip_author_note_keeps_prose() -> None:
    assert strip_author_note("这是正文,没有作者说明。") == (None, "这是正文,没有作者说明。")


@pytest.mark.parametrize(
    ("note", "author"),
    [
        ("（作者系华中师范大学教授）", "华中师范大学教授"),
        ("（作者单位：华中师范大学）①", "华中师范大学"),
        ("（执笔：张三）", "张三"),
        ("（執筆：張三）", "張三"),
        ("（李明，系华中师范大学教授）", "李明，系华中师范大学教授"),
        ("作者：张三", "张三"),
        ("(The author is a professor at Wuhan University.)", "a professor at Wuhan University"),
    ],
)
def test_each_note_form_glued_after_a_long_last_paragraph(note: str, author: str) -> None:
    """The note at the end of a long paragraph, in each form the trailing note is read in: the
    cheap test before its pattern (a note word in the paragraph's tail) lets each through."""
    prose = "党建联盟是城市基层党建的实践创新，其核心要义是打破条块壁垒。" * 10
    assert strip_author_note(prose + note) == (author, prose)


@pytest.mark.parametrize(
    "header",
    [
        "来源：党员生活丨被引量：3次丨上传用户：user01",  # 丨 (U+4E28) as the separator
        "来源 :党员生活 被引量 : 3次 上传用户:user01",  # no separators at all
        "来源 :党员生活 | 作者 : 某人 | 被引量 : 3 次 | 上传用户:user01",  # an unknown field
        "被引量 : 3次 | 上传用户:user01 | 来源 :党员生活",
    ],
)
def test_header_spellings(page: PageMaker, header: str) -> None:
    r = row(page(header=header))
    assert (r["source"], r["citations"], r["uploader"]) == ("党员生活", 3, "user01")


@pytest.mark.parametrize(
    ("note", "author"),
    [
        ("(作者分别系华中师范大学教授、博士生)", "华中师范大学教授、博士生"),
        ("【作者简介】张三,华中师范大学教授", "张三,华中师范大学教授"),
        ("(本文作者系某县县长。)", "某县县长"),
        ("作者单位：华中师范大学", "华中师范大学"),
    ],
)
def test_more_author_note_forms(page: PageMaker, note: str, author: str) -> None:
    r = row(page(note=note))
    assert r["author"] == author
    assert r["paragraph_count"] == 2


def test_utf16_with_bom(page: PageMaker) -> None:
    r = row(page().encode("utf-16"))
    assert r["title"] == "基层治理的实践与思考"
    assert r["teaser_count"] == 2


def test_teaser_heading_variant_spelling(page: PageMaker) -> None:
    r = row(page().replace("其他文献", "其它文献："))
    assert r["teasers"] == ["其他文章一的摘要", "其他文章二的摘要"]
    assert "其它文献" not in str(r["body"])


def test_header_glued_to_boilerplate_and_body(page: PageMaker) -> None:
    text = (
        "标题\n来源 :党员生活 | 被引量 : 0次 | 上传用户:xd  下载到本地 , 更方便阅读  "
        "论文部分内容阅读  正文一。  正文二。\n其他文献\n甲\n"
    )
    r = row(text)
    assert (r["source"], r["citations"], r["uploader"]) == ("党员生活", 0, "xd")
    assert r["body"] == "正文一。\n正文二。"
    assert r["teasers"] == ["甲"]


def test_teasers_glued_to_the_last_body_line() -> None:
    r = row("标题\n来源 :X\n论文部分内容阅读\n  正文一。  正文二。  其他文献  甲。  乙。\n丙。\n")
    assert r["body"] == "正文一。\n正文二。"
    assert r["teasers"] == ["甲。", "乙。", "丙。"]


def test_header_like_text_inside_the_article_stays() -> None:
    r = row("标题\n来源 :X\n论文部分内容阅读\n  正文一。\n  上传用户:zz 是一位作者。\n  正文二。\n")
    assert r["body"] == "正文一。\n上传用户:zz 是一位作者。\n正文二。"
    assert r["uploader"] is None


def test_a_statement_paragraph_is_not_the_site_disclaimer(page: PageMaker) -> None:
    r = row(page(paragraphs=("声明:本人郑重承诺对本文版权负责。", "正文。")))
    assert r["body"] == "声明:本人郑重承诺对本文版权负责。\n正文。"


@pytest.mark.parametrize(
    ("paragraphs", "note", "author", "body"),
    [
        (("正文。",), "(作者系某书记)。", "某书记", "正文。"),
        (("正文。", "(作者系某书记)", "责任编辑:李四"), None, "某书记", "正文。\n责任编辑:李四"),
        (("正文结束。作者：张三",), None, "张三", "正文结束。"),
    ],
)
def test_author_note_edge_forms(
    page: PageMaker, paragraphs: tuple[str, ...], note: str | None, author: str, body: str
) -> None:
    r = row(page(paragraphs=paragraphs, note=note))
    assert r["author"] == author
    assert r["body"] == body


def test_read_marker_with_a_colon() -> None:
    r = row("标题\n来源 :X\n论文部分内容阅读：\n  正文。\n")
    assert r["body"] == "正文。"


def test_invisible_characters_are_not_a_title(page: PageMaker) -> None:
    r = row("\u200b\n" + page("真正的标题") + "\ufeff\n")
    assert r["title"] == "真正的标题"


def test_citations_with_thousands_separators(page: PageMaker) -> None:
    assert row(page(header="来源 :X | 被引量 : 1,234次"))["citations"] == 1234


def test_text_with_a_lone_surrogate_is_rejected(page: PageMaker) -> None:
    with pytest.raises(Rejected) as exc:
        parse_page(page() + "\ud800", "p")
    assert exc.value.reason == Reason.UNDECODABLE


@pytest.mark.parametrize(
    "title", ["省委学习贯彻会议精神", "一位小学校长的坚守", "院校专业建设研究"]
)
def test_gbk_page_whose_first_bytes_are_also_valid_utf8(page: PageMaker, title: str) -> None:
    data = page(title).encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    r = row(data)
    assert r["title"] == title
    assert (r["source"], r["author"]) == ("党员生活", "某某大学教授")


def test_header_with_wide_spaces_around_the_bars() -> None:
    r = row("标题一\n来源 :党员生活  |  被引量 : 5次  |  上传用户:xd\n论文部分内容阅读\n  正文。\n")
    assert (r["source"], r["citations"], r["uploader"]) == ("党员生活", 5, "xd")
    assert r["body"] == "正文。"


def test_text_starting_like_a_header_field_is_kept(page: PageMaker) -> None:
    teaser = "来源：新华社 北京9月14日电，省委召开全省推进会议。"
    r = row(page(teasers=(teaser, "其他文章二的摘要")))
    assert r["teasers"] == [teaser, "其他文章二的摘要"]
    # no 论文部分内容阅读 line: the first paragraph may still be taken for a header line
    first = "来源：新华社 本报讯，9月14日，省委召开会议。"
    r = row(page(boilerplate=False, paragraphs=(first, "第二段。")))
    assert r["source"] == "党员生活"
    assert r["body"] == f"{first}\n第二段。"
    # a short field alone on its line before the article is the header, spelled over lines
    r = row("标题\n来源：党员生活\n被引量：2次\n  正文。\n")
    assert (r["source"], r["citations"], r["body"]) == ("党员生活", 2, "正文。")


@pytest.mark.parametrize(
    ("note", "author", "kept"),
    [
        (
            "（作者系武汉大学教授）（本文系国家社科基金项目成果）",
            "武汉大学教授",
            "（本文系国家社科基金项目成果）",
        ),
        ("(作者系某书记)(基金项目:省教育厅课题)", "某书记", "(基金项目:省教育厅课题)"),
        ("（作者均系华中师范大学教授）", "华中师范大学教授", None),
        ("(作者系华中师范大学（武汉）教授)", "华中师范大学（武汉）教授", None),
    ],
)
def test_author_note_with_funding_note_nested_brackets_or_plural(
    page: PageMaker, note: str, author: str, kept: str | None
) -> None:
    r = row(page(note=note))
    assert r["author"] == author
    paragraphs = ["第一段正文内容。", "第二段正文内容。"] + ([kept] if kept else [])
    assert r["body"] == "\n".join(paragraphs)


def test_title_glued_to_the_header() -> None:
    header = "来源 :党员生活 | 被引量 : 0次 | 上传用户:xd"
    r = row(f"发挥党建联盟的作用 {header}\n论文部分内容阅读\n  正文。\n")
    assert (r["title"], r["source"], r["citations"]) == ("发挥党建联盟的作用", "党员生活", 0)
    assert r["body"] == "正文。"


def test_page_saved_on_one_line(page: PageMaker) -> None:
    text = "  ".join(line.strip() for line in page().split("\n") if line.strip())
    r = row(text)
    assert r["title"] == "基层治理的实践与思考"
    assert (r["source"], r["citations"], r["uploader"]) == ("党员生活", 3, "user01")
    assert r["author"] == "某某大学教授"
    assert r["body"] == "第一段正文内容。\n第二段正文内容。"
    assert r["teasers"] == ["其他文章一的摘要", "其他文章二的摘要"]


@pytest.mark.parametrize("marker", ["论文部分内容阅读\n", ""])
def test_field_lines_before_the_article_stay_header(marker: str) -> None:
    source = "Journal of Huazhong University of Science and Technology, Vol. 3"
    r = row(
        f"基层治理研究\n来源 :{source}\n被引量 : 0次\n上传用户:abc\n{marker}  文/张三\n  正文。\n"
    )
    assert (r["source"], r["citations"], r["uploader"]) == (source, 0, "abc")
    assert (r["author"], r["body"]) == ("张三", "正文。")
    # the header again, on a line of its own: still header, not the article's first paragraph
    r = row(f"标题\n来源 :党员生活 | 被引量 : 0次\n来源：党员生活\n{marker}  正文。\n")
    assert (r["source"], r["body"]) == ("党员生活", "正文。")


@pytest.mark.parametrize(
    ("note", "author", "kept"),
    [
        ("(作者系武汉大学[珞珈]学院教授)", "武汉大学[珞珈]学院教授", None),
        (
            "(作者系武汉大学教授)(本文系国家社科基金项目“党建研究”(19BDJ001)的阶段性成果)",
            "武汉大学教授",
            "(本文系国家社科基金项目“党建研究”(19BDJ001)的阶段性成果)",
        ),
    ],
)
def test_author_and_funding_notes_holding_brackets(
    page: PageMaker, note: str, author: str, kept: str | None
) -> None:
    r = row(page(note=note))
    assert r["author"] == author
    assert r["body"] == "\n".join(
        ["第一段正文内容。", "第二段正文内容。"] + ([kept] if kept else [])
    )


def test_a_page_without_any_line_break_says_so() -> None:
    text = "标题 来源 :党员生活 下载到本地 , 更方便阅读 论文部分内容阅读 正文。"
    with pytest.raises(Rejected) as exc:
        parse_page(text, "p")
    assert exc.value.reason == Reason.UNRECOGNISED_LAYOUT
    assert "without line breaks" in exc.value.detail
    with pytest.raises(Rejected) as exc:  # a page of some other site: the usual detail
        parse_page("Welcome to my blog\nSome text\n", "p")
    assert exc.value.detail.startswith("no 来源 header")


BODY = "第一段正文内容。\n第二段正文内容。"


@pytest.mark.parametrize(
    "after_note",
    [
        ("责任编辑 王五",),
        ("编辑/王五",),
        ("【责任编辑：李四】",),
        ("（责任编辑 李四）",),
        ("责任编辑：李四", "校对：王五"),
        ("（完）",),
        ("本文原载于《湖北日报》2020年10月1日",),
        ("来源：湖北日报",),
    ],
)
def test_closing_lines_after_the_author_note(page: PageMaker, after_note: tuple[str, ...]) -> None:
    r = row(
        page(paragraphs=("第一段正文内容。", "第二段正文内容。"), note=None).replace(
            "第二段正文内容。\n",
            "第二段正文内容。\n  (作者系某县县长)\n" + "".join(f"  {x}\n" for x in after_note),
        )
    )
    assert r["author"] == "某县县长"
    assert r["body"] == "\n".join([BODY, *after_note])  # the closing lines stay text


@pytest.mark.parametrize("heading", ["参考文献：", "注释：", "参考文献"])
def test_author_note_before_references(page: PageMaker, heading: str) -> None:
    refs = ("[1]张三.基层治理研究[J].党员生活,2020(3):1-3.", "[2]李四.论文[M].2019.")
    r = row(
        page(paragraphs=("第一段正文内容。", "第二段正文内容。"), note=None).replace(
            "第二段正文内容。\n",
            "第二段正文内容。\n  (作者系某县县长)\n"
            + f"  {heading}\n"
            + "".join(f"  {x}\n" for x in refs),
        )
    )
    assert r["author"] == "某县县长"
    assert r["body"] == "\n".join([BODY, heading, *refs])


@pytest.mark.parametrize(
    ("note", "author"),
    [
        ("(作者系某县县长) 责任编辑：李四", "某县县长"),
        ("（作者系某县县长）①", "某县县长"),
        ("(作者系某县县长)[1]", "某县县长"),
        ("（作者所在单位：华中师范大学）", "华中师范大学"),
        ("◎作者系湖北日报记者", "湖北日报记者"),
    ],
)
def test_author_note_variants(page: PageMaker, note: str, author: str) -> None:
    r = row(page(note=note))
    assert r["author"] == author
    credit = note.split(" ", 1)[1:] if " " in note else []
    assert r["body"] == "\n".join([BODY, *credit])


def test_author_label_on_its_own_line(page: PageMaker) -> None:
    r = row(
        page(
            note=None,
            paragraphs=(
                "第一段正文内容。",
                "第二段正文内容。",
                "作者简介：",
                "张三，华中师范大学教授。",
            ),
        )
    )
    assert (r["author"], r["body"]) == ("张三，华中师范大学教授", BODY)


@pytest.mark.parametrize("byline", ["作者：张三", "■文/张三"])
def test_more_bylines(page: PageMaker, byline: str) -> None:
    r = row(page(note=None, byline=byline))
    assert (r["author"], r["body"]) == ("张三", BODY)


@pytest.mark.parametrize(
    "extra",
    [
        "发布时间 : 2020-10-01 | 页数 : 2页 | 浏览量 : 235次",
        "分享到 :",
        "下载本文档",
        "基层治理的实践与思考",  # the title again
        "可与客服联系进行内容授权或下架",  # the rest of a wrapped 声明 line
    ],
)
def test_site_lines_before_the_read_marker_are_not_body(page: PageMaker, extra: str) -> None:
    r = row(page().replace("论文部分内容阅读\n", f"{extra}\n论文部分内容阅读\n"))
    assert r["body"] == BODY


def test_prose_before_the_read_marker_stays(page: PageMaker) -> None:
    prose = "摘要：本文以武汉市为例，讨论了党建联盟在基层治理中的作用，并提出了建议。"
    r = row(page().replace("论文部分内容阅读\n", f"{prose}\n论文部分内容阅读\n"))
    assert r["body"] == f"{prose}\n{BODY}"


def test_author_field_and_subtitle_before_the_article(page: PageMaker) -> None:
    text = page(note=None).replace("\n\n", "\n——以武汉市为例\n\n", 1)
    r = row(text.replace("论文部分内容阅读\n", "作者 : 周丽华\n论文部分内容阅读\n"))
    assert r["title"] == "基层治理的实践与思考——以武汉市为例"
    assert (r["author"], r["body"]) == ("周丽华", BODY)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("论文部分内容阅读\n  第一段", "论文部分内容阅读 第一段"),
        ("论文部分内容阅读\n  第一段", "论文部分内容阅读第一段"),
        ("论文部分内容阅读\n", "论文部分内容阅读...\n"),
        ("上传用户:user01\n下载到本地", "上传用户:user01 下载到本地"),
        ("下载到本地 , 更方便阅读\n", "下载到本地，更方便阅读！\n"),
        ("更方便阅读\n声明", "更方便阅读 声明"),
    ],
)
def test_template_lines_glued_by_single_spaces(page: PageMaker, old: str, new: str) -> None:
    text = page()
    assert old in text
    r = row(text.replace(old, new))
    assert (r["body"], r["uploader"], r["author"]) == (BODY, "user01", "某某大学教授")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("其他文献\n其他文章一", "其他文献 其他文章一"),
        ("其他文献\n其他文章一", "其他文献：其他文章一"),
        ("教授)\n其他文献", "教授) 其他文献"),
        ("其他文献\n", "【其他文献】\n"),
        ("其他文献\n", "其 他 文 献\n"),
    ],
)
def test_teaser_heading_variants(page: PageMaker, old: str, new: str) -> None:
    text = page()
    assert old in text
    r = row(text.replace(old, new))
    assert (r["body"], r["author"]) == (BODY, "某某大学教授")
    assert r["teasers"] == ["其他文章一的摘要", "其他文章二的摘要"]


def test_site_footer_is_not_a_teaser(page: PageMaker) -> None:
    r = row(
        page() + "首页 | 关于我们 | 联系我们\nCopyright © 2020 example.com All Rights Reserved\n"
    )
    assert r["teasers"] == ["其他文章一的摘要", "其他文章二的摘要"]


@pytest.mark.parametrize("leftover", ["&nbsp;&nbsp;", "&#160;", "\u200b", "<br>", "<p>", "<BR/>"])
def test_html_and_zero_width_leftovers(page: PageMaker, leftover: str) -> None:
    text = page(paragraphs=(f"{leftover}第一段正文内容。{leftover}", "第二段正文内容。"))
    r = row(text.replace("来源 :党员生活 |", f"来源 :党员生活 {leftover}|{leftover}"))
    assert (r["source"], r["citations"], r["body"]) == ("党员生活", 3, BODY)
    inside = row(page(paragraphs=("第一段\u200b正文内容。", "第二段正文<br>内容。")))
    assert inside["body"] == "第一段正文内容。\n第二段正文\n内容。"  # a tag is a line break


@pytest.mark.parametrize(
    ("header", "source", "citations"),
    [
        ("来源 :党员生活 / 被引量 : 3次 / 上传用户:user01", "党员生活", 3),
        ("来源 ∶党员生活 │ 被引量 ∶ 3次 │ 上传用户∶user01", "党员生活", 3),
        ("来源 :党员生活 ︱ 被引量 : 3次。 ︱ 上传用户:user01", "党员生活", 3),
        ("来源 :  党员生活 | 被引量 :  3次 | 上传用户:  user01", "党员生活", 3),
    ],
)
def test_rarer_header_spellings(page: PageMaker, header: str, source: str, citations: int) -> None:
    r = row(page(header=header))
    assert (r["source"], r["citations"], r["uploader"]) == (source, citations, "user01")


def test_a_character_cut_at_the_end_of_the_file_is_dropped(page: PageMaker) -> None:
    data = page(teasers=("其他文章一的摘要", "最后一篇")).rstrip("\n").encode()
    for codec_data in (data, page(teasers=("最后一篇",)).rstrip("\n").encode("gb18030")):
        r = row(codec_data[:-1])
        assert r["teasers"][-1] == "最后一"
    with pytest.raises(Rejected) as exc:  # cut inside the page, not at its end: still refused
        parse_page(data[:40] + data[41:], "p")
    assert exc.value.reason == Reason.UNDECODABLE


def test_utf16_without_bom_and_cp936_euro_sign(page: PageMaker) -> None:
    text = page(paragraphs=("价格为100€。", "第二段正文内容。"))
    for codec in ("utf-16-le", "utf-16-be"):
        assert row(text.encode(codec))["body"] == "价格为100€。\n第二段正文内容。"
    gbk = text.replace("€", "\x00").encode("gbk").replace(b"\x00", b"\x80")
    assert row(gbk)["body"] == "价格为100€。\n第二段正文内容。"


# What the rules above must leave alone: text they could lose.


@pytest.mark.parametrize(
    "line",
    [
        "其他文献 (Smith, 2010; Li, 2015) 也得出了类似的结论。",
        "其他文献：[2]Smith J. Party building[J]. China Quarterly, 2018.",
        "与其他文献相比，本文的样本更大。",
    ],
)
def test_other_literature_in_the_article_stays(page: PageMaker, line: str) -> None:
    for teasers in (None, ("其他文章一的摘要",)):
        r = row(page(paragraphs=("第一段正文内容。", line, "第二段正文内容。"), teasers=teasers))
        assert r["body"] == f"第一段正文内容。\n{line}\n第二段正文内容。"
        assert r["teasers"] == list(teasers or [])


@pytest.mark.parametrize(
    "teaser",
    [
        "移动应用的隐私政策与用户协议往往冗长难懂，用户在首页弹窗中“一键同意”",
        "在数字出版时代，版权所有者如何通过技术手段维护自身权益",
        "网站ICP备案制度是我国互联网管理的基础制度之一",
        "Copyright protection of AI-generated works: a comparative study",
    ],
)
def test_teasers_about_copyright_or_websites_stay(page: PageMaker, teaser: str) -> None:
    assert row(page(teasers=("其他文章一的摘要", teaser)))["teasers"][-1] == teaser


@pytest.mark.parametrize(
    "text",
    [
        "当 x < p 且 p > c 时，厂商选择进入。",
        "R&D 投入与 a<b 的情形",
        "AT&T 与 & 符号",
        "R&D; 与 a&b; 不是字符实体",  # no entity's name before the semicolon
        "&copy 2020 与 &amp 没有分号",  # without the semicolon: text as written
        "&#0; 与 &#xD800; 与 &#1114112; 不是字符",  # numbers that name no character to read
        "&#xZZ; 与 & 与 &; 与 &#;",
    ],
)
def test_text_with_ampersands_and_angle_brackets_stays(page: PageMaker, text: str) -> None:
    assert row(page(paragraphs=(text, "第二段正文内容。")))["body"] == f"{text}\n第二段正文内容。"


@pytest.mark.parametrize(
    ("written", "seen"),
    [
        ("AT&amp;T 与 &lt;b&gt; 标签", "AT&T 与 <b> 标签"),
        ("&ldquo;邻居&rdquo;变成&#8220;家人&#8221;", "“邻居”变成“家人”"),
        ("&#x4e2d;国 &#X4E2D;国", "中国 中国"),
        ("&amp;lt; 只解一次", "&lt; 只解一次"),  # as a browser shows it
        ("&lt;br&gt; 不是换行", "<br> 不是换行"),  # shown text, no line break
        ("&copy; 版权 与 &hellip;", "© 版权 与 …"),
        ("零宽&#8203;空格", "零宽空格"),
    ],
)
def test_html_entities_read_as_a_reader_sees_them(page: PageMaker, written: str, seen: str) -> None:
    r = row(
        page(
            title=f"标题 {written}",
            paragraphs=(written, "第二段正文内容。"),
            teasers=(f"摘要 {written}",),
        )
    )
    assert r["title"] == f"标题 {seen}"
    assert r["body"] == f"{seen}\n第二段正文内容。"
    assert r["teasers"] == [f"摘要 {seen}"]


@pytest.mark.parametrize(
    "line",
    [
        "关键词：党建联盟；基层治理",
        "摘要：本文以武汉市为例分析党建联盟的作用",
        "作者简介：张三，武汉大学教授",
        "中图分类号：D267 文献标识码：A",
    ],
)
def test_article_lines_before_the_read_marker_stay(page: PageMaker, line: str) -> None:
    r = row(page().replace("论文部分内容阅读\n", f"{line}\n论文部分内容阅读\n"))
    assert r["body"] == f"{line}\n{BODY}"


def test_field_lines_stay_when_the_read_marker_is_not_a_line_of_its_own(page: PageMaker) -> None:
    text = page(paragraphs=("会议时间：2020年11月10日", "会议地点：区委党校报告厅"))
    r = row(text.replace("论文部分内容阅读\n", "【论文部分内容阅读】\n"))
    assert r["body"].endswith("会议时间：2020年11月10日\n会议地点：区委党校报告厅")


@pytest.mark.parametrize(
    ("paragraph", "where"),
    [
        ("作者：张三认为，基层治理的关键在于党建引领。", "first"),
        ("——“要把基层党组织建设成为坚强战斗堡垒。”这是总书记的嘱托。", "first"),
        ("上市公司应当及时发布 声明：对相关传闻予以澄清。", "middle"),
        ("这些经验已由区委组织部（党建办）编辑：成册下发各街道", "last"),
    ],
)
def test_prose_that_looks_like_template_lines_stays(
    page: PageMaker, paragraph: str, where: str
) -> None:
    paras = {
        "first": (paragraph, "第一段正文内容。"),
        "middle": ("第一段正文内容。", paragraph, "第二段正文内容。"),
        "last": ("第一段正文内容。", paragraph),
    }[where]
    text = page(paragraphs=paras, note=None)
    if where == "first":  # no header between the title and a dash line
        text = page(paragraphs=paras, note=None, header="", boilerplate=False)
    if where == "middle":  # the marker glued to the boilerplate: the lines are split
        text = text.replace("下架\n论文部分内容阅读", "下架 论文部分内容阅读")
    r = row(text)
    assert paragraph in r["body"].split("\n")
    assert r["author"] is None


@pytest.mark.timing
@pytest.mark.parametrize(
    "hostile",
    [
        " | ".join(["发布时间： 2020"] * 30) + " | 完。",
        "<p" + " " * 20_000 + "x",
        "<p" + "&nbsp;" * 5_000,
        "上传用户:x" + " " * 20_000 + "y",
        "正文" + "<br>" * 100_000,
    ],
)
def test_hostile_lines_parse_in_linear_time(page: PageMaker, hostile: str) -> None:
    text = page().replace("论文部分内容阅读\n", f"{hostile}\n论文部分内容阅读\n")
    start = time.process_time()
    parse_page(text, "p")
    assert time.process_time() - start < 3  # each took seconds to hours with backtracking


# Author-note and byline forms of journals, party magazines and newspapers.


@pytest.mark.parametrize(
    ("note", "author", "kept"),
    [
        (
            "（作者系华中师范大学教授。本文系国家社科基金项目“基层治理研究”（20BDJ001）的阶段性成果）",
            "华中师范大学教授",
            "本文系国家社科基金项目“基层治理研究”（20BDJ001）的阶段性成果",
        ),
        ("（作者系某县县长；本文系省级课题成果）", "某县县长", "本文系省级课题成果"),
        ("（执笔：张三）", "张三", None),
        ("（记者 王五 通讯员 赵六）", "王五 赵六", None),
        ("（本刊记者 王五）", "王五", None),
        ("［作者简介］张三，华中师范大学教授。", "张三，华中师范大学教授", None),
        ("——作者系湖北日报记者", "湖北日报记者", None),
    ],
)
def test_newspaper_and_journal_note_forms(
    page: PageMaker, note: str, author: str, kept: str | None
) -> None:
    r = row(page(note=note))
    assert r["author"] == author
    assert r["body"] == "\n".join([BODY, *([kept] if kept else [])])


@pytest.mark.parametrize(
    "closing", ["（本文系国家社科基金项目阶段性成果）", "（摘自《学习时报》）", "（转自人民网）"]
)
def test_funding_and_source_lines_after_the_note(page: PageMaker, closing: str) -> None:
    r = row(page(note=f"(作者系某县县长)\n  {closing}"))
    assert (r["author"], r["body"]) == ("某县县长", f"{BODY}\n{closing}")


@pytest.mark.parametrize(
    ("byline", "author"),
    [
        ("文·张三", "张三"),
        ("文：张三", "张三"),
        ("文/图 张三", "张三"),
        ("◇张三", "张三"),
        ("□ 张三", "张三"),
        ("作者 张三", "张三"),
        ("作者：张三 / 李四", "张三 / 李四"),
        ("作者：张三（武汉大学）", "张三（武汉大学）"),
        ("作者：阿依古丽·买买提", "阿依古丽·买买提"),
        ("作者：[美]约翰·史密斯", "[美]约翰·史密斯"),
        ("作者：John Smith", "John Smith"),
        ("本报记者 王五", "王五"),
        ("新华社记者 王五", "王五"),
        ("记者 王五 通讯员 赵六", "王五 赵六"),
    ],
)
def test_byline_forms(page: PageMaker, byline: str, author: str) -> None:
    r = row(page(note=None, byline=byline))
    assert (r["author"], r["body"]) == (author, BODY)


@pytest.mark.parametrize(
    "first",
    ["本报记者 王五在现场看到，群众排起了长队。", "作者：张三认为，基层治理的关键在于党建引领。"],
)
def test_reports_opening_with_a_name_stay_text(page: PageMaker, first: str) -> None:
    r = row(page(note=None, paragraphs=(first, "第二段正文内容。")))
    assert (r["author"], r["body"]) == (None, f"{first}\n第二段正文内容。")


@pytest.mark.parametrize(
    "note",
    ["（作者系武汉市洪山区委书记）", "作者简介：张三，武汉大学教授", "（作者：张三，武汉大学）"],
)
def test_a_note_opening_the_article(page: PageMaker, note: str) -> None:
    r = row(page(note=None, byline=note))
    assert r["author"] is not None and r["author"] in note
    assert r["body"] == BODY


def test_author_label_over_several_lines_and_a_note_wrapped_over_two(page: PageMaker) -> None:
    bio = ("作者简介：", "张三，男，华中师范大学教授；", "李四，女，武汉大学博士研究生。")
    r = row(page(note=None, paragraphs=("第一段正文内容。", "第二段正文内容。", *bio)))
    assert r["author"] == "张三，男，华中师范大学教授；李四，女，武汉大学博士研究生"
    assert r["body"] == BODY
    r = row(page(note="（作者系华中师范大学教授，\n  博士生导师）"))
    assert (r["author"], r["body"]) == ("华中师范大学教授，博士生导师", BODY)


def test_header_values_on_the_next_line(page: PageMaker) -> None:
    r = row(page(header="来源 :\n党员生活\n | 被引量 : 3次 | 上传用户:\nuser01"))
    assert (r["source"], r["citations"], r["uploader"], r["body"]) == (
        "党员生活",
        3,
        "user01",
        BODY,
    )
    dotted = row(page(header="来源 :党员生活 · 被引量 : 3次 · 上传用户:user01"))
    assert (dotted["source"], dotted["citations"]) == ("党员生活", 3)


# Site furniture a scraper captures with the article.


@pytest.mark.parametrize(
    "junk",
    [
        "上一页 1 2 3 下一页",
        "第1页/共3页",
        "展开全文",
        "点击查看全文",
        "免费下载 收藏 举报",
        "下载 | 收藏 | 举报",
        "分享到：微信 微博 QQ",
        "（未完，下一页继续）",
        "剩余2页未读，继续阅读",
        "广告",
        "VIP专享文档",
        "第2页",
        "- 3 -",
        "—12—",
        "扫一扫",
        "微信扫一扫 分享到朋友圈",
        "点击查看全文>>",
        "查看更多 >>",
    ],
)
def test_site_junk_is_not_article_text(page: PageMaker, junk: str) -> None:
    for where in ("before the marker", "in the article", "after the note", "in the teasers"):
        text = page()
        if where == "before the marker":
            text = text.replace("论文部分内容阅读\n", f"{junk}\n论文部分内容阅读\n")
        elif where == "in the article":
            text = text.replace("  第二段", f"{junk}\n  第二段")
        elif where == "after the note":
            text = text.replace("教授)\n", f"教授)\n{junk}\n")
        else:
            text = text.replace("其他文章一的摘要\n", f"其他文章一的摘要\n{junk}\n")
        r = row(text)
        assert (r["body"], r["author"]) == (BODY, "某某大学教授"), where
        assert r["teasers"] == ["其他文章一的摘要", "其他文章二的摘要"], where


def test_junk_glued_to_text_and_a_body_of_junk_alone(page: PageMaker) -> None:
    r = row(page(paragraphs=("第一段正文内容。 阅读全文", "第二段正文内容。")))
    assert r["body"] == BODY
    r = row(page(note="(作者系某某大学教授) 分享到：微信 微博 QQ"))
    assert (r["author"], r["body"]) == ("某某大学教授", BODY)
    for only in (("点击查看全文",), ("第1页/共3页",), ("……",)):
        with pytest.raises(Rejected) as exc:
            parse_page(page(paragraphs=only, note=None), "p")
        assert exc.value.reason == Reason.MISSING_BODY


@pytest.mark.parametrize("heading", ["相关推荐", "猜你喜欢", "热门文档"])
def test_a_recommendations_block_ends_the_article(page: PageMaker, heading: str) -> None:
    text = page().replace("教授)\n", f"教授)\n{heading}\n基层治理创新研究综述\n")
    r = row(text)
    assert (r["body"], r["author"]) == (BODY, "某某大学教授")
    assert r["teasers"] == ["基层治理创新研究综述", "其他文章一的摘要", "其他文章二的摘要"]


def test_teasers_without_dates_counters_or_second_headings(page: PageMaker) -> None:
    teasers = ("其他文章一的摘要 2020-10-01", "阅读 123", "相关文献", "其他文章二的摘要  阅读 45")
    assert row(page(teasers=teasers))["teasers"] == ["其他文章一的摘要", "其他文章二的摘要"]


def test_long_lines_under_the_heading_are_teasers_but_the_templates_and_the_header(
    page: PageMaker,
) -> None:
    # longer than any furniture, list heading, date or counter: only the template's lines and
    # the header again may be no teaser, however long
    long = "，".join(["基层治理的实践与思考"] * 8) + "。"
    teasers = (
        f"2020年{long}",  # a date's first characters
        f"分享{long}",  # a share line's
        f"相关{long}",  # a list heading's
        "声明 : 本文档内容版权归属内容提供方 , 如果您对本文有版权争议 , "
        + "可与客服联系进行内容授权或下架" * 3,
        "来源 :党员生活 | 被引量 : 3次 | 上传用户:" + "u" * 80,
        f"其他{long}",
    )
    assert len(min(teasers, key=len)) > 80
    kept = row(page(teasers=teasers))["teasers"]
    assert kept == [teasers[0], teasers[1], teasers[2], teasers[5]]


@pytest.mark.parametrize(
    ("title", "clean"),
    [
        ("[PDF] 基层治理的实践与思考", "基层治理的实践与思考"),
        ("基层治理的实践与思考.doc", "基层治理的实践与思考"),
        ("基层治理的实践与思考 - 百度文库", "基层治理的实践与思考"),
        ("基层治理的实践与思考_党员生活_期刊", "基层治理的实践与思考"),
    ],
)
def test_site_decoration_of_titles(page: PageMaker, title: str, clean: str) -> None:
    text = page(title=title).replace("论文部分内容阅读\n", f"{clean}\n论文部分内容阅读\n")
    r = row(text)
    assert (r["title"], r["body"]) == (clean, BODY)  # and the clean title printed again: dropped


def test_a_title_over_two_lines_and_repeated_at_the_start(page: PageMaker) -> None:
    r = row(page(title="基层治理的\n实践与思考"))
    assert (r["title"], r["body"]) == ("基层治理的实践与思考", BODY)
    tagged = page(title="【党建论坛】基层治理的实践与思考")
    r = row(tagged.replace("论文部分内容阅读\n", "论文部分内容阅读\n基层治理的实践与思考\n"))
    assert (r["title"], r["body"]) == ("【党建论坛】基层治理的实践与思考", BODY)


@pytest.mark.parametrize(
    "prose",
    [
        "分享经验是提升工作的重要方式。",
        "推荐阅读：《习近平谈治国理政》第三卷。",
        "2020",
        "收藏家协会成立。",
    ],
)
def test_prose_like_site_words_stays(page: PageMaker, prose: str) -> None:
    r = row(page(paragraphs=("第一段正文内容。", prose, "第二段正文内容。")))
    assert r["body"] == f"第一段正文内容。\n{prose}\n第二段正文内容。"


@pytest.mark.parametrize(
    "row_text",
    [
        "项目    2019年    2020年",
        "党员人数\t\t120\t\t135",
        "E  =  mc²",
        "党员人数    135",
        "女性    47.7%",
        "经费    12.5万元",
        "Y_it = a + b·DE_it + e_it    （1）",
    ],
)
def test_a_table_row_or_formula_spaced_out_stays_one_paragraph(
    page: PageMaker, row_text: str
) -> None:
    r = row(page(paragraphs=("第一段正文内容。", row_text, "第二段正文内容。")))
    assert r["body"] == f"第一段正文内容。\n{row_text}\n第二段正文内容。"
    # paragraphs glued by a lost line break are still split
    glued = row(page(paragraphs=("第一段正文内容。  第二段正文内容。  第三段。",)))
    assert glued["paragraph_count"] == 3
    for two in ("一、总体要求  二、主要任务", "第一段正文内容。  2023"):
        assert row(page(paragraphs=(two,)))["paragraph_count"] == 2


# Variants combined on one page.


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "第二段正文内容。\n  (作者系某某大学教授)\n其他文献\n",
            "第二段正文内容。\n  (作者系某某大学教授) 其他文献 ",
        ),
        ("教授)\n其他文献\n", "教授)\n  责任编辑：李四 其他文献\n"),
        ("教授)\n其他文献\n", "教授)\n  （完）\n其他文献 "),
    ],
)
def test_heading_glued_after_the_note_or_a_closing_line(
    page: PageMaker, old: str, new: str
) -> None:
    text = page()
    assert old in text
    r = row(text.replace(old, new))
    assert r["author"] == "某某大学教授"
    assert r["teasers"] == ["其他文章一的摘要", "其他文章二的摘要"]


def test_heading_glued_after_the_last_sentence_without_a_note(page: PageMaker) -> None:
    r = row(page(note=None).replace("第二段正文内容。\n其他文献\n", "第二段正文内容。 其他文献\n"))
    assert (r["body"], r["teasers"]) == (BODY, ["其他文章一的摘要", "其他文章二的摘要"])


@pytest.mark.parametrize(
    "closing", ["（本版编辑：张三）", "（本文有删节）", "（本文图片由作者提供）", "（下转第12页）"]
)
def test_more_closing_lines(page: PageMaker, closing: str) -> None:
    r = row(page(note=f"(作者系某县县长)\n  {closing}"))
    assert (r["author"], r["body"]) == ("某县县长", f"{BODY}\n{closing}")


def test_note_label_before_a_short_reference_list(page: PageMaker) -> None:
    paras = ("第一段正文内容。", "第二段正文内容。", "作者简介：", "周丽华，浙江大学副教授。")
    refs = ("参考文献：", "[1]王强.基层党建新论[M].2018.")
    r = row(page(note=None, paragraphs=(*paras, *refs)))
    assert r["author"] == "周丽华，浙江大学副教授"
    assert r["body"] == "\n".join([BODY, *refs])


def test_wrapped_note_with_a_credit_on_its_second_line(page: PageMaker) -> None:
    r = row(page(note="（作者系中共湖北省委党校\n  公共管理教研部教授） 责任编辑：李四"))
    assert r["author"] == "中共湖北省委党校公共管理教研部教授"
    assert r["body"] == f"{BODY}\n责任编辑：李四"


def test_a_box_of_links_inside_the_article_is_dropped(page: PageMaker) -> None:
    paras = ("第一段正文内容。", "相关阅读", "基层治理的十个案例", "第二段正文内容。")
    r = row(page(paragraphs=paras))
    assert (r["body"], r["author"]) == (BODY, "某某大学教授")


def test_a_site_footer_without_teasers(page: PageMaker) -> None:
    text = page(teasers=None) + "首页 | 关于我们 | 联系我们\nCopyright © 2021 example.com\n"
    r = row(text)
    assert (r["body"], r["author"], r["teasers"]) == (BODY, "某某大学教授", [])


@pytest.mark.parametrize(
    ("first", "author", "body"),
    [
        ("本报记者 张三 报道", "张三", BODY),
        ("■ 背景介绍", None, f"■ 背景介绍\n{BODY}"),
    ],
)
def test_report_bylines_and_decorated_subheads(
    page: PageMaker, first: str, author: str | None, body: str
) -> None:
    r = row(page(note=None, byline=first))
    assert (r["author"], r["body"]) == (author, body)


def test_prose_ending_in_read_the_whole_text_keeps_its_words(page: PageMaker) -> None:
    prose = "更多精彩内容，请扫描二维码阅读全文"
    assert row(page(paragraphs=(prose, "第二段正文内容。")))["body"].startswith(prose)
    share = "分享到朋友圈的内容应当注意保密。"
    assert share in row(page(paragraphs=("第一段正文内容。", share)))["body"]


def test_tagged_title_with_a_subtitle_printed_again(page: PageMaker) -> None:
    text = page(title="【党建论坛】集体经济发展\n——以安吉县为例")
    r = row(text.replace("论文部分内容阅读\n", "论文部分内容阅读\n集体经济发展——以安吉县为例\n"))
    assert (r["title"], r["body"]) == ("【党建论坛】集体经济发展——以安吉县为例", BODY)


@pytest.mark.timing
def test_hostile_credit_lines_parse_in_linear_time() -> None:
    for note in ("（" + "记者 " * 60 + "。）", "（" + "记者 王五 " * 40 + "）"):
        start = time.process_time()
        strip_author_note(note)
        assert time.process_time() - start < 3  # each doubled per word before (n=22: 1.5 s)


# Pages of other journals and sites.


@pytest.mark.parametrize(
    "closing",
    [
        "基金项目：全国教育科学规划课题（BJA210098）",
        "收稿日期：2022-05-16",
        "通讯作者：陈红，E-mail：chenhong@163.com",
        "（本文刊发于《经济日报》2023年3月2日第10版）",
        "（图片来源：新华社）",
    ],
)
def test_journal_closing_lines_after_the_note(page: PageMaker, closing: str) -> None:
    r = row(page(note=f"(作者系某县县长)\n  {closing}"))
    assert (r["author"], r["body"]) == ("某县县长", f"{BODY}\n{closing}")


def test_decorated_reporter_byline_and_layered_title_decoration(page: PageMaker) -> None:
    r = row(page(note=None, byline="□ 本报记者 吴涛"))
    assert (r["author"], r["body"]) == ("吴涛", BODY)
    assert (
        row(page(title="[PDF]基层治理的实践与思考.pdf - 百度文库"))["title"]
        == "基层治理的实践与思考"
    )


@pytest.mark.parametrize(
    "closing", ["（本文为节选）", "录用日期：2022-07-01", "（实习生王小明对本文亦有贡献）"]
)
def test_any_short_closing_line_after_the_note(page: PageMaker, closing: str) -> None:
    r = row(page(note=f"(作者系某县县长)\n  {closing}"))
    assert (r["author"], r["body"]) == ("某县县长", f"{BODY}\n{closing}")
    # a short bracketed line that is itself the note is the note
    assert row(page(note="(作者系某县县长)"))["author"] == "某县县长"


# ---- traditional characters, English notes, header and table variants ----------------------

TRADITIONAL = "\n".join(
    [
        "發揮黨建聯盟的關鍵作用",
        "",
        "來源 :黨員生活 | 被引量 : 3次 | 上傳用戶:hk_reader",
        "下載到本地 , 更方便閱讀",
        "聲明 : 本文檔內容版權歸屬內容提供方 , 如果您對本文有版權爭議 , 可聯繫客服下架",
        "論文部分內容閱讀",
        "  黨建聯盟是城市基層黨建的實踐創新。",
        "  資料來源：本文根據調研整理。",
        "  （作者係武漢市洪山區委書記）",
        "其他文獻",
        "兒時的「良田畈」",
    ]
)


@pytest.mark.parametrize("encoding", ["utf-8", "big5", "cp950", "gbk", "utf-16"])
def test_a_page_in_traditional_characters(encoding: str) -> None:
    """The template's words in traditional characters, in Big5 too; the text stays as it is."""
    r = row(TRADITIONAL.encode(encoding))
    assert (r["title"], r["source"], r["citations"], r["uploader"], r["author"]) == (
        "發揮黨建聯盟的關鍵作用",
        "黨員生活",
        3,
        "hk_reader",
        "武漢市洪山區委書記",
    )
    assert r["body"] == "黨建聯盟是城市基層黨建的實踐創新。\n資料來源：本文根據調研整理。"
    assert r["teasers"] == ["兒時的「良田畈」"]


@pytest.mark.parametrize("at", [3, 4, 5, 9])  # download line, disclaimer, marker, 其他文獻
def test_one_template_line_in_traditional_characters_is_still_the_templates(at: int) -> None:
    """A page whose template lines are simplified but one, in traditional characters, reads as
    the page in simplified characters: the test whether a page is traditional finds each line
    alone."""
    simplified = [
        line.translate(str.maketrans(parse_module._TO_SIMPLIFIED)) if k in (3, 4, 5, 9) else line
        for k, line in enumerate(TRADITIONAL.split("\n"))
    ]
    mixed = list(simplified)
    mixed[at] = TRADITIONAL.split("\n")[at]
    assert mixed != simplified
    assert row("\n".join(mixed)) == row("\n".join(simplified)) | {
        "sha256": row("\n".join(mixed))["sha256"]
    }


@pytest.mark.parametrize(
    ("note", "author"),
    [
        ("（作者係臺灣政治大學教授）", "臺灣政治大學教授"),
        ("（作者為香港大學法律學院教授）", "香港大學法律學院教授"),
        ("作者簡介：李嘉文，澳門大學副教授。", "李嘉文，澳門大學副教授"),
        ("（作者單位：澳門大學）", "澳門大學"),
        ("(The author is a professor at Wuhan University.)", "a professor at Wuhan University"),
        ("(The authors are researchers at CASS)", "researchers at CASS"),
        ("About the author: Zhang Wei is a lecturer.", "Zhang Wei is a lecturer"),
        ("Author: Wang Lei, Renmin University of China", "Wang Lei, Renmin University of China"),
    ],
)
def test_traditional_and_english_author_notes(page: PageMaker, note: str, author: str) -> None:
    r = row(page(note=note))
    assert (r["author"], r["body"]) == (author, BODY)


def test_english_byline_references_and_thanks(page: PageMaker) -> None:
    r = row(page(note=None, byline="By Li Ming"))
    assert (r["author"], r["body"]) == ("Li Ming", BODY)
    refs = "(The author is a lecturer.)\n  References\n  [1] Oates W E. Fiscal Federalism, 1972."
    r = row(page(note=refs))
    assert r["author"] == "a lecturer"
    assert r["body"] == f"{BODY}\nReferences\n[1] Oates W E. Fiscal Federalism, 1972."
    thanks = "(The author is grateful to the referees.)"
    assert row(page(note=thanks))["author"] is None  # thanks, not a note


@pytest.mark.parametrize(
    "closing", ["《人民日报》（2021年03月05日 09版）", "《 光明日报 》（ 2022年05月10日 11 版）"]
)
def test_where_a_newspaper_printed_it_after_the_note(page: PageMaker, closing: str) -> None:
    r = row(page(note=f"(作者系某县县长)\n  {closing}"))
    assert (r["author"], r["body"]) == ("某县县长", f"{BODY}\n{closing}")


def test_a_line_of_fields_inside_the_article_is_its_text(page: PageMaker) -> None:
    line = "来源：《求是》| 被引量：1205次"
    r = row(page(paragraphs=("以下为被引最多的一篇：", line, "该文阐述了总要求。")))
    assert r["body"] == f"以下为被引最多的一篇：\n{line}\n该文阐述了总要求。"
    assert (r["source"], r["citations"]) == ("党员生活", 3)
    # the header printed again inside the article is still dropped
    again = "来源 :党员生活 | 被引量 : 3次 | 上传用户:user01"
    assert row(page(paragraphs=("第一段。", again, "第二段。")))["body"] == "第一段。\n第二段。"


@pytest.mark.parametrize(
    "header",
    [
        "来源 :党员生活 被引量 : 3次 下载量 : 12次 上传用户:user01",
        "页数 : 3页 | 来源 :党员生活 | 被引量 : 3次 | 上传用户:user01",
        "上传时间 : 2021-03-05 | 来源 :党员生活 | 被引 : 3 | 上传用户:user01",
        "来源 :党员生活 | 被引次数 : 3次 | 上传用户:user01",
    ],
)
def test_header_with_the_sites_other_fields_and_key_spellings(page: PageMaker, header: str) -> None:
    r = row(page(header=header))
    assert (r["source"], r["citations"], r["uploader"], r["body"]) == (
        "党员生活",
        3,
        "user01",
        BODY,
    )


def test_copyright_as_a_teasers_word_is_no_footer(page: PageMaker) -> None:
    teaser = "Copyright Protection of AI-Generated Works in 2023: A Review"
    footer = "Copyright © 2023 example.com All rights reserved"
    r = row(page(teasers=("数据产权的法律构造", teaser, footer)))
    assert r["teasers"] == ["数据产权的法律构造", teaser]


@pytest.mark.parametrize("line", ["GDP（亿元）    1,210,207    1,260,582", "f(x, y)  =  x² + y²"])
def test_cells_with_thousands_separators_or_arguments_stay_one_row(
    page: PageMaker, line: str
) -> None:
    r = row(page(paragraphs=("表2如下：", line, "两年间稳步增长。")))
    assert r["body"] == f"表2如下：\n{line}\n两年间稳步增长。"


# ---- what those rules must leave alone ------------------------------------------------------


@pytest.mark.timing
def test_hostile_runs_of_spaces_after_a_header_key_parse_in_linear_time(page: PageMaker) -> None:
    for spaces in (" " * 200_000, "\t" * 200_000, "\u3000" * 200_000):
        start = time.process_time()
        with pytest.raises(Rejected):  # a title that is a header: missing_title
            row(page(title=f"来源 :X{spaces}下载量"))
        row(page(teasers=(f"被引量 : 3次{spaces}x",)))
        assert time.process_time() - start < 3  # quadratic before: ~2 s at 20,000 spaces


@pytest.mark.parametrize(
    ("teaser", "footer"),
    [
        ("ICP-MS测定的结果见图2(c)。", False),
        ("Article 2(c) of the Covenant and human rights in 2021", False),
        ("Copyright &copy; 2006-2021 www.example.com", True),
        ("Copyright:2008-2021 豆丁网 www.docin.com", True),
    ],
)
def test_copyright_footers_and_their_look_alikes(
    page: PageMaker, teaser: str, footer: bool
) -> None:
    r = row(page(teasers=("第一篇", teaser)))
    assert r["teasers"] == (["第一篇"] if footer else ["第一篇", teaser])


@pytest.mark.parametrize(
    "note",
    [
        "(The author is very grateful to Professor Li of Peking University.)",
        "(The authors are solely responsible for any remaining errors.)",
        "(The authors are listed in alphabetical order.)",
        "Author: I think the direction is right, but the pace should be steady.",
    ],
)
def test_english_lines_that_are_no_author_note(page: PageMaker, note: str) -> None:
    r = row(page(note=note))
    assert (r["author"], r["body"]) == (None, f"{BODY}\n{note}")


def test_lines_like_the_template_in_the_article_stay_as_they_are(page: PageMaker) -> None:
    quote = "官员说：“市民可將表格下載到本地，更方便閱讀和填寫。”"
    statement = "聲明：政府從未委託任何機構代收費用。"
    r = row(page(paragraphs=(quote, statement)))
    assert r["body"] == f"{quote}\n{statement}"
    closing = "来源：党员生活"  # the header's source again, as a closing line: kept
    r = row(page(note=f"(作者系某县县长)\n  {closing}"))
    assert (r["author"], r["body"]) == ("某县县长", f"{BODY}\n{closing}")
    book = "《共产党宣言》1848年2月在伦敦首次出版"  # no newspaper's where-printed line
    r = row(page(paragraphs=("推荐书目：《共产党宣言》。作者：马克思、恩格斯。", book), note=None))
    assert r["author"] is None


@pytest.mark.parametrize(
    ("header", "source"),
    [
        (
            "上传时间 : 2021-03-05 10:30 | 来源 :党员生活 | 被引量 : 3次 | 上传用户:user01",
            "党员生活",
        ),
        ("下载积分 : 2 | 来源 :党员生活 | 被引量 : 3次 | 上传用户:user01", "党员生活"),
        ("来源 :学习时报 理论版：专刊 | 被引量 : 3次 | 上传用户:user01", "学习时报 理论版：专刊"),
    ],
)
def test_more_header_variants(page: PageMaker, header: str, source: str) -> None:
    r = row(page(header=header))
    assert (r["source"], r["citations"], r["uploader"], r["body"]) == (source, 3, "user01", BODY)


@pytest.mark.parametrize(
    "line", ["GDP（亿元）    1，210，207    1，260，582", "f（x，y）  =  x² + y²"]
)
def test_cells_with_full_width_commas_stay_one_row(page: PageMaker, line: str) -> None:
    r = row(page(paragraphs=("表2如下：", line, "两年间稳步增长。")))
    assert r["body"] == f"表2如下：\n{line}\n两年间稳步增长。"


def test_traditional_pages_glued_or_with_only_a_teaser_heading() -> None:
    lines = TRADITIONAL.split("\n")
    glued = "\n".join([*lines[:2], " ".join(lines[2:7]), *lines[7:]])  # header … 1st paragraph
    r = row(glued.encode("big5"))
    assert (r["source"], r["uploader"], r["body"]) == (
        "黨員生活",
        "hk_reader",
        "黨建聯盟是城市基層黨建的實踐創新。\n資料來源：本文根據調研整理。",
    )
    bare = "\n".join([lines[0], "", *lines[6:]])  # no header, no boilerplate: only 其他文獻
    r = row(bare.encode("utf-8"))
    assert (r["author"], r["teasers"]) == ("武漢市洪山區委書記", ["兒時的「良田畈」"])


@pytest.mark.parametrize(
    "line",
    [
        "論文部分內容閱讀",
        "下載到本地 , 更方便閱讀",
        "聲明 : 本文檔內容版權歸屬內容提供方 , 如果您對本文有版權爭議 , "
        "可與客服聯繫進行內容授權或下架",
        "其他文獻",
        "其它文獻：",
        "【其他文獻】",
        "[ 其他文獻 ]",
        "其 他 文 獻",
        "其\u3000他\u3000文\u3000獻",
        "其他文 獻",
        "\u3000\u3000其他文獻",
        "\t論文部分內容閱讀",
        "  聲明：本文檔內容如有侵權請聯繫下架",
    ],
)
def test_each_traditional_template_line_is_spelled_simplified(line: str) -> None:
    """The tests before the traditional lines' pattern (a few character scans for the page, the
    characters a match starts with at each position) let every shape of the lines through."""
    page = f"標題\n正文第一段。\n{line}\n後文。\n"
    simplified = parse_module.simplify_template_words(page).split("\n")
    assert simplified[2] != line
    assert simplified[2].translate({ord(c): None for c in " \t\u3000[]【】：,"}) in (
        "论文部分内容阅读",
        "下载到本地更方便阅读",
        "其他文献",
        "其它文献",
    ) or simplified[2].strip().startswith("声明")


def test_traditional_prose_without_a_template_word_is_left_as_it_is() -> None:
    """獻 and 閱 in prose (貢獻, 閱覽) are no template word: the page's text is not changed."""
    page = "標題\n他對文學的貢獻很大，閱覽室裡人很多。聲音很輕。\n文 學的貢 獻。\n"
    assert parse_module.simplify_template_words(page) is page


def test_a_traditional_teaser_heading_is_read_however_far_from_either_end() -> None:
    """A page marked only by 其他文獻 (no header, boilerplate or marker) is read as traditional
    by that word wherever it stands: here over 3,000 characters of teasers follow it."""
    teasers = [
        f"黨建聯盟的實踐創新與城市基層治理的經驗之{k}：街道社區與駐區單位共建共治共享的做法"
        for k in range(80)
    ]
    lines = TRADITIONAL.split("\n")
    page = "\n".join([lines[0], "", lines[6], lines[8], "其他文獻", *teasers])
    assert len("\n".join(teasers)) > 3000
    r = row(page.encode("utf-8"))
    assert (r["body"], r["author"]) == ("黨建聯盟是城市基層黨建的實踐創新。", "武漢市洪山區委書記")
    assert r["teasers"] == teasers


def test_a_big5_page_with_a_broken_character_is_undecodable() -> None:
    data = TRADITIONAL.encode("big5")
    at = data.index("資料".encode("big5"))
    with pytest.raises(Rejected) as rejected:
        parse_page(data[:at] + b"\xff\xff" + data[at + 2 :], "p")
    assert rejected.value.reason == Reason.UNDECODABLE
    assert "Big5" in rejected.value.detail


# ---- ordinary pages of a broad sample --------------------------------------------------------


@pytest.mark.parametrize(
    "after",
    [
        "基金项目：国家自然科学基金（72073105）\n  参考文献：\n  [1] 张三. 农业保险[J]. 2020.",
        "通讯作者：王敏，E-mail：wangmin@163.com\n  注释\n  ①见《人民日报》2021年3月5日。",
        "①《文件汇编》，人民出版社2022年版，第1页。\n  ②习近平：《论党的建设》，2022年版。",
        "注：本文数据截至2022年底。",
    ],
)
def test_closing_lines_and_footnotes_between_the_note_and_the_end(
    page: PageMaker, after: str
) -> None:
    r = row(page(note=f"(作者系某县县长)\n  {after}"))
    kept = "\n".join(line.strip() for line in after.split("\n"))
    assert (r["author"], r["body"]) == ("某县县长", f"{BODY}\n{kept}")


@pytest.mark.parametrize(
    ("byline", "author"),
    [
        ("记者 张晓 实习生 李萌", "张晓 李萌"),
        ("见习记者 王五", "王五"),
        ("本报通讯员 赵六", "赵六"),
    ],
)
def test_more_reporter_roles_in_bylines(page: PageMaker, byline: str, author: str) -> None:
    r = row(page(note=None, byline=byline))
    assert (r["author"], r["body"]) == (author, BODY)


@pytest.mark.timing
def test_hostile_lines_on_a_traditional_page_parse_in_linear_time() -> None:
    """The template's traditional lines are matched with possessive runs of spaces (two runs
    side by side took 1.3 s at 40,000 spaces, minutes at a megabyte)."""
    head = "標題\n來源：期刊 | 被引量：3次\n論文部分內容閱讀\n"
    for line in (
        "a 下載到本地" + " " * 200_000 + "x",
        " " * 200_000 + "其" + " " * 200_000 + "x",
        "【" + "\u3000" * 200_000 + "x",
    ):
        start = time.process_time()
        parse_page(f"{head}{line}\n其他文獻\n".encode(), "p")
        assert time.process_time() - start < 3


# ---- English sentence gaps, table rows, other list headings ----------------------------------


@pytest.mark.parametrize("marker", [True, False])
def test_a_line_of_fields_in_an_article_without_a_header_is_its_text(
    page: PageMaker, marker: bool
) -> None:
    line = "来源：《求是》| 被引量：1205次"
    paragraphs = (
        "本文检索了党建研究领域的论文，以下为被引最多的一篇：",
        line,
        "该文阐述了总要求。",
    )
    r = row(page(header="", boilerplate=marker, paragraphs=paragraphs))
    assert (r["source"], r["citations"], r["body"]) == (None, None, "\n".join(paragraphs))
    # the site's own header (with its uploader) moved after the marker is still the header
    header = "来源 :党员生活 | 被引量 : 3次 | 上传用户:user01"
    r = row(page(header="", paragraphs=(header, *paragraphs[::2])))
    assert (r["source"], r["uploader"], r["body"]) == (
        "党员生活",
        "user01",
        "\n".join(paragraphs[::2]),
    )
    # a header after a paragraph, with the boilerplate under it, is the header
    text = page(header="", boilerplate=False, paragraphs=("摘要：本文研究了党建，提出了对策。",))
    lines = text.split("\n")
    lines[2:2] = [header, "下载到本地 , 更方便阅读"]
    lines[2:4], lines[4] = lines[3:5], lines[2].strip()
    r = row("\n".join(lines))
    assert (r["source"], r["body"]) == ("党员生活", "摘要：本文研究了党建，提出了对策。")


@pytest.mark.parametrize("rest", ["则从财政角度切入，分析成因。", "从财政角度切入，分析成因。"])
def test_other_lit_opening_an_article_line_is_no_teaser_heading(page: PageMaker, rest: str) -> None:
    # "其他文献 则从…" goes on as prose; a line under which the author note comes is the article's
    paragraphs = ("已有大量文献从制度角度展开讨论。", f"其他文献 {rest}", "本文提出新的框架。")
    r = row(page(paragraphs=paragraphs, teasers=None))
    assert (r["author"], r["body"], r["teasers"]) == ("某某大学教授", "\n".join(paragraphs), [])
    # "其他文献 teaser" after the article's last sentence, no note: the heading, glued
    r = row(page(paragraphs=paragraphs[:1], note=None, teasers=("乡村振兴研究", "基层治理研究")))
    assert r["teasers"] == ["乡村振兴研究", "基层治理研究"]
    glued = page(paragraphs=paragraphs[:1], note=None, teasers=None) + "其他文献 乡村振兴研究\n"
    assert row(glued)["teasers"] == ["乡村振兴研究"]


def test_english_typed_with_two_spaces_after_each_sentence_stays_one_paragraph(
    page: PageMaker,
) -> None:
    first = "Cities have grown fast.  Their governance changed too.  This paper reviews it."
    second = "Section two describes the data.  Section three gives the results."
    r = row(page(paragraphs=(first, second)))
    assert r["body"] == f"{first}\n{second}"
    # some sentences ended by one space: the two-space runs are lost line breaks
    glued = "Cities have grown fast. Governance changed too.  Section two describes the data."
    r = row(page(paragraphs=(glued, second)))
    assert r["body"].split("\n")[:2] == [
        "Cities have grown fast. Governance changed too.",
        "Section two describes the data.",
    ]
    # the article on one line: nothing tells a typist's two spaces from a lost line break
    assert row(page(paragraphs=(first,), note=None))["paragraph_count"] == 3


def test_a_two_column_tables_header_row_stays_one_row(page: PageMaker) -> None:
    rows = ("项目    金额（万元）", "办公经费    12.5", "培训经费    8.0")
    r = row(page(paragraphs=("经费如下：", *rows, "使用规范。")))
    assert r["body"] == "\n".join(("经费如下：", *rows, "使用规范。"))
    # two short pieces with no table under them: two paragraphs glued by a lost line break
    r = row(page(paragraphs=("一、总体要求    二、主要任务", "正文。")))
    assert r["body"] == "一、总体要求\n二、主要任务\n正文。"


def test_a_big5_hkscs_page_is_read_as_hkscs_where_code_page_950_shows_stray_kana() -> None:
    text = TRADITIONAL.replace("黨建聯盟是", "二〇二一年，①黨建聯盟是")
    r = row(text.encode("big5hkscs"))
    assert "二〇二一年，①黨建聯盟是" in str(r["body"])
    # Japanese text (kana in runs) in a code page 950 page keeps that reading
    japanese = TRADITIONAL.replace("黨建聯盟是", "日本の「まちづくり」は")
    r = row(japanese.encode("cp950"))
    assert "日本の「まちづくり」は" in str(r["body"])


@pytest.mark.parametrize(
    ("note", "author"),
    [
        ("〔作者单位：湖北经济学院法学院〕", "湖北经济学院法学院"),
        ("〔作者系某县县长〕", "某县县长"),
    ],
)
def test_notes_in_tortoise_shell_brackets(page: PageMaker, note: str, author: str) -> None:
    r = row(page(note=note))
    assert (r["author"], r["body"]) == (author, BODY)


def test_a_bracketed_bio_label_without_a_colon_opens_the_article(page: PageMaker) -> None:
    r = row(page(byline="［作者简介］刘强，男，湖北工业大学教授。", note=None))
    assert (r["author"], r["body"]) == ("刘强，男，湖北工业大学教授", BODY)


@pytest.mark.timing
@pytest.mark.parametrize(
    "line",
    [
        "Done." + " " * 40_000 + "b",
        "Done.  " * 20_000 + "End",
        "项目" + " " * 40_000 + "金额",
        "其他文献 " + "则" * 40_000,
    ],
)
def test_hostile_sentence_gaps_table_cells_and_headings_parse_in_linear_time(
    page: PageMaker, line: str
) -> None:
    text = page(paragraphs=("第一段。", line, "党员人数    135"))
    start = time.process_time()
    row(text)
    assert time.process_time() - start < 2


# The title line, the header, the teasers and notes at the end, in further forms.


@pytest.mark.parametrize(
    ("note", "author"),
    [
        ("文/张晓燕", "张晓燕"),
        ("文 / 张三、李四", "张三、李四"),
        ("□ 刘德华", "刘德华"),
        ("◎王小波", "王小波"),
        ("■ 欧阳明远", "欧阳明远"),
        ("◇ 阿依古丽·买买提", "阿依古丽·买买提"),
        ("◎王小波\n  （责任编辑：刘洋）", "王小波"),
    ],
)
def test_a_signature_ends_the_article(page: PageMaker, note: str, author: str) -> None:
    r = row(page(note=note))
    closing = ["（责任编辑：刘洋）"] if "责任编辑" in note else []
    assert (r["author"], r["body"].split("\n")) == (author, [*BODY.split("\n"), *closing])


@pytest.mark.parametrize(
    ("paragraphs", "last"),
    [
        (("第一段正文内容。",), "◎ 结语"),  # a subhead, no surname first
        (("第一段正文内容。",), "■ 小结"),
        (("您对社区服务是否满意？", "□ 满意"), "□ 不满意"),  # a list's last item
        (("第一段正文内容：",), "◎ 张三"),  # no sentence ended before it
        (("第一段正文内容。",), "文/新华社记者 张三认为这是好事"),  # no names only
    ],
)
def test_what_is_no_signature_at_the_end(
    page: PageMaker, paragraphs: tuple[str, ...], last: str
) -> None:
    r = row(page(paragraphs=(*paragraphs, last), note=None))
    assert (r["author"], r["body"].split("\n")[-1]) == (None, last)


@pytest.mark.parametrize(
    ("note", "author"),
    [
        ("（李明，系华中师范大学教授）", "李明，系华中师范大学教授"),
        (
            "(张伟、刘芳，分别系湖北省卫健委处长、副处长)",
            "张伟、刘芳，分别系湖北省卫健委处长、副处长",
        ),
        (
            "（作者系武汉大学教授；李四系武汉大学博士研究生）",
            "武汉大学教授；李四系武汉大学博士研究生",
        ),
    ],
)
def test_a_note_naming_the_writer_before_xi(page: PageMaker, note: str, author: str) -> None:
    r = row(page(note=note))
    assert (r["author"], r["body"]) == (author, BODY)


@pytest.mark.parametrize(
    "line",
    ["（以上数据，系省统计局初步核算）", "（注意，系统将自动保存）", "（本文，系根据讲话整理）"],
)
def test_bracketed_lines_with_xi_that_are_no_note(page: PageMaker, line: str) -> None:
    r = row(page(paragraphs=("第一段正文内容。", "第二段正文内容。", line), note=None))
    assert (r["author"], r["body"]) == (None, f"{BODY}\n{line}")


def test_joiners_go_in_chinese_text_and_stay_in_emoji(page: PageMaker) -> None:
    family = "👨\u200d👩\u200d👧"
    r = row(page(paragraphs=("第一段\u200d正文\u200c内容。", f"第二段{family}正文内容。")))
    assert r["body"] == f"第一段正文内容。\n第二段{family}正文内容。"
    assert row(page(title="Rural\u200d governance"))["title"] == "Rural governance"


@pytest.mark.parametrize(
    ("title", "clean"),
    [
        ("基层治理的实践与思考 - 原创力文档", "基层治理的实践与思考"),
        ("基层治理的实践与思考_百度学术", "基层治理的实践与思考"),
        ("基层治理的实践与思考 | 360文库", "基层治理的实践与思考"),
        ("基层治理的实践与思考-DOC88.COM", "基层治理的实践与思考"),
        ("基层治理的实践与思考.caj", "基层治理的实践与思考"),
        ("中国式现代化 - 理论与实践", "中国式现代化 - 理论与实践"),  # no site's name
        ("基于中国知网的文献分析", "基于中国知网的文献分析"),  # no separator before it
    ],
)
def test_every_site_name_and_extension_leaves_the_title(
    page: PageMaker, title: str, clean: str
) -> None:
    assert row(page(title=title))["title"] == clean


@pytest.mark.timing
def test_a_hostile_signature_line_parses_in_linear_time(page: PageMaker) -> None:
    for last in (
        "文/" + "张三、" * 20_000,
        "◎" + " " * 40_000 + "王",
        "（李明，系" + "，" * 40_000,
    ):
        start = time.process_time()
        row(page(paragraphs=("第一段。", last), note=None))
        assert time.process_time() - start < 2


# Spacing and scraping mess.


def test_header_with_wide_spaces_around_its_marks(page: PageMaker) -> None:
    header = "来源   :    党员生活    |    被引量   :   12 次    |    上传用户  :   user01"
    r = row(page(header=header))
    assert (r["source"], r["citations"], r["uploader"], r["body"]) == (
        "党员生活",
        12,
        "user01",
        BODY,
    )
    tabs = row(page(header="来源\u3000\u3000：党员生活\t\t｜\t\t被引量：3次｜上传用户：user01"))
    assert (tabs["source"], tabs["citations"], tabs["uploader"]) == ("党员生活", 3, "user01")


def test_a_wide_spaced_header_glued_to_the_download_line(page: PageMaker) -> None:
    header = "来源   :   党员生活   |   被引量 : 3次   |   上传用户 : user01"
    r = row(page(header=header).replace("\n下载到本地", "  下载到本地"))
    assert (r["source"], r["citations"], r["uploader"], r["body"]) == (
        "党员生活",
        3,
        "user01",
        BODY,
    )


def test_a_header_glued_to_the_article_by_wide_spaces_is_still_split(page: PageMaker) -> None:
    # spaces between two words are a lost line break: the header and the article stay apart
    text = (
        page()
        .replace("\n下载到本地", "  下载到本地")
        .replace("论文部分内容阅读\n  ", "论文部分内容阅读  ")
    )
    r = row(text)
    assert (r["source"], r["uploader"], r["body"]) == ("党员生活", "user01", BODY)
    # a line of the article that starts with a key keeps its paragraphs
    glued = "来源于群众的智慧最可贵。  被引用最多的是第一条。"
    r = row(page(paragraphs=("第一段正文内容。", glued)))
    assert r["body"] == "第一段正文内容。\n来源于群众的智慧最可贵。\n被引用最多的是第一条。"


@pytest.mark.parametrize(
    "date", ["2021年3月5日", "2021.03.05", "2021-3-5", "二〇二一年三月五日", "2021年3月"]
)
def test_a_date_line_after_the_note_is_a_closing_line(page: PageMaker, date: str) -> None:
    r = row(
        page(
            paragraphs=("第一段正文内容。", "第二段正文内容。", "(作者系某某大学教授)", date),
            note=None,
        )
    )
    assert (r["author"], r["body"]) == ("某某大学教授", f"{BODY}\n{date}")
    r = row(
        page(
            paragraphs=(
                "第一段正文内容。",
                "第二段正文内容。",
                "(作者系某某大学教授)",
                date,
                "（完）",
            ),
            note=None,
        )
    )
    assert (r["author"], r["body"]) == ("某某大学教授", f"{BODY}\n{date}\n（完）")


@pytest.mark.parametrize(
    "last",
    [
        "2021年3月5日",
        "2021年3月5日，全市召开了基层治理工作会议。",
        "2021年至2023年",
        "2021",
        "20210305",
    ],
)
def test_a_date_or_a_dated_sentence_without_a_note_stays_text(page: PageMaker, last: str) -> None:
    r = row(page(paragraphs=("第一段正文内容。", "第二段正文内容。", last), note=None))
    assert (r["author"], r["body"]) == (None, f"{BODY}\n{last}")


@pytest.mark.parametrize(
    "prose",
    [
        "第2页的表格列出了各项指标。",
        "第2页",
        "- 3 - 2 = -5",
        "扫一扫二维码即可报名参加。",
        "点击查看全文的读者超过十万。",
    ],
)
def test_page_number_and_button_words_in_prose_stay(page: PageMaker, prose: str) -> None:
    r = row(page(paragraphs=("第一段正文内容。", prose)))
    want = BODY.split("\n")[0] if prose == "第2页" else f"第一段正文内容。\n{prose}"
    assert r["body"] == want


@pytest.mark.timing
def test_hostile_header_spacing_page_numbers_and_dates_parse_in_linear_time(
    page: PageMaker,
) -> None:
    hostile = (
        "来源" + " " * 40_000 + "x",
        "来源 :" + " :" * 20_000 + "  x",
        "来源 :a" + "   |   " * 10_000 + "  x",
        "-" + " " * 40_000 + "3",
        "2021" + " " * 40_000 + "年",
        "2021年" + "3月" * 20_000,
    )
    for line in hostile:
        start = time.process_time()
        row(page(paragraphs=("第一段正文内容。", line)))
        row(page().replace("论文部分内容阅读\n", f"{line}\n论文部分内容阅读\n"))
        assert time.process_time() - start < 2


# Header forms, notes and spacing crossed (encodings x header forms x notes x spacing).


@pytest.mark.parametrize(
    ("header", "fields"),
    [
        ("上传用户   :   user01", (None, None, "user01")),
        ("来源\u3000\u3000：\u3000\u3000党员生活", ("党员生活", None, None)),
        ("被引量   :   12 次", (None, 12, None)),
        ("来源 :党员生活   |   上传用户   :   user01", ("党员生活", None, "user01")),
    ],
)
def test_a_header_of_one_field_with_wide_spaces_beside_its_colon(
    page: PageMaker, header: str, fields: tuple[object, ...]
) -> None:
    r = row(page(header=header))
    assert ((r["source"], r["citations"], r["uploader"]), r["body"]) == (fields, BODY)


def test_what_a_wide_spaced_field_alone_does_not_change(page: PageMaker) -> None:
    # glued to the download line by a run between two words: still split from it
    r = row(page(header="上传用户   :   user01").replace("\n下载到本地", "   下载到本地"))
    assert (r["uploader"], r["body"]) == ("user01", BODY)
    # a key with no value is no header of one field: its line is left as it was
    r = row(page(header="来源   :   "))
    assert (r["source"], r["body"]) == (None, f"来源\n:\n{BODY}")
    # a field line inside the article is its text, now kept as one paragraph
    r = row(page(paragraphs=("第一段正文内容。", "来源   ：   国家统计局")))
    assert (r["source"], r["body"]) == ("党员生活", "第一段正文内容。\n来源 ： 国家统计局")


@pytest.mark.parametrize(
    ("note", "author"),
    [
        (
            "(The author is secretary of the Party Committee of Hongshan District)",
            "secretary of the Party Committee of Hongshan District",
        ),
        (
            "(The author is an endocrinologist at Union Hospital, Wuhan.)",
            "an endocrinologist at Union Hospital, Wuhan",
        ),
        (
            "(The author is a judge of the Wuhan Intermediate People's Court)",
            "a judge of the Wuhan Intermediate People's Court",
        ),
        ("(The authors are physicians in Tongji Hospital)", "physicians in Tongji Hospital"),
        (
            "(The author is an economist with the People's Bank of China)",
            "an economist with the People's Bank of China",
        ),
    ],
)
def test_an_english_note_naming_other_posts_and_places(
    page: PageMaker, note: str, author: str
) -> None:
    r = row(page(note=note))
    assert (r["author"], r["body"]) == (author, BODY)


@pytest.mark.parametrize(
    "note",
    [
        "(The author is a fan of classical music)",
        "(The author is grateful to the hospital staff)",
        "(The author is solely responsible for errors, not the committee)",
    ],
)
def test_english_brackets_that_name_no_post_stay_text(page: PageMaker, note: str) -> None:
    r = row(page(note=note))
    assert (r["author"], r["body"]) == (None, f"{BODY}\n{note}")


@pytest.mark.parametrize(
    ("note", "author"),
    [
        ("□ 陳志明", "陳志明"),
        ("◎黃建華", "黃建華"),
        ("■ 歐陽明遠", "歐陽明遠"),
        ("□ 劉德華", "劉德華"),
    ],
)
def test_a_signature_with_a_traditional_surname(page: PageMaker, note: str, author: str) -> None:
    r = row(page(note=note))
    assert (r["author"], r["body"]) == (author, BODY)


@pytest.mark.parametrize("last", ["◎ 結語", "■ 小結", "□ 總結"])
def test_traditional_subheads_at_the_end_are_no_signature(page: PageMaker, last: str) -> None:
    r = row(page(paragraphs=("第一段正文內容。", last), note=None))
    assert (r["author"], r["body"].split("\n")[-1]) == (None, last)


@pytest.mark.timing
def test_hostile_wide_spaced_headers_and_english_notes_parse_in_linear_time(
    page: PageMaker,
) -> None:
    for header in ("上传用户" + "   :   " * 10_000, "来源   :   " + "x   " * 10_000):
        start = time.process_time()
        row(page(header=header))
        assert time.process_time() - start < 2
    for note in (
        "(The author is " + "a" * 40_000 + ")",
        "(The author is " + "ologist " * 5_000 + ")",
        "(The author is " + "x " * 20_000,
    ):
        start = time.process_time()
        row(page(note=note))
        assert time.process_time() - start < 2


# Titles, boilerplate, note placement and teasers crossed.

TWO_TEASERS = ["其他文章一的摘要", "其他文章二的摘要"]
NOTE = "  (作者系某某大学教授)"
PROF = "某某大学教授"


@pytest.mark.parametrize(
    ("last", "author", "closing"),
    [
        (f"{NOTE}其他文献", PROF, []),
        (f"{NOTE}\n  （完）其他文献", PROF, ["（完）"]),
        (f"{NOTE}\n  责任编辑：李四其他文献：", PROF, ["责任编辑：李四"]),
        ("  文/张三其他文献", "张三", []),
        ("  □ 陈志明其他文献", "陈志明", []),
        (
            f"{NOTE}\n  2021年3月5日  （责任编辑：李四）其他文献",
            PROF,
            ["2021年3月5日", "（责任编辑：李四）"],
        ),
    ],
)
def test_heading_glued_without_a_space(
    page: PageMaker, last: str, author: str, closing: list[str]
) -> None:
    """A lost line break leaves no space before 其他文献: it is split after the note, a closing
    line or a signature as it is after a space."""
    text = page(note=None, teasers=None) + last + "\n其他文章一的摘要\n其他文章二的摘要\n"
    r = row(text)
    assert (r["author"], r["body"], r["teasers"]) == (
        author,
        "\n".join([BODY, *closing]),
        TWO_TEASERS,
    )


def test_heading_glued_without_a_space_after_paragraphs_glued_by_spaces(page: PageMaker) -> None:
    text = page(paragraphs=(), note=None, teasers=None)
    text += "  第一段正文内容。  第二段正文内容。  (作者系某某大学教授)其他文献\n其他文章一的摘要\n"
    r = row(text)
    assert (r["author"], r["body"], r["teasers"]) == (PROF, BODY, TWO_TEASERS[:1])


@pytest.mark.parametrize(
    "last",
    [
        "第二段正文内容，详见其他文献",  # no sentence's end, note or closing line before it
        "■ 小结其他文献",  # a marked subhead, no signature
        "第二段正文内容。其他文献则从另一角度作了分析。",  # prose goes on
    ],
)
def test_heading_glued_without_a_space_counter_cases(page: PageMaker, last: str) -> None:
    r = row(page(paragraphs=("第一段正文内容。", last), note=None, teasers=None))
    assert (r["author"], r["body"], r["teasers"]) == (None, f"第一段正文内容。\n{last}", [])


@pytest.mark.parametrize(
    ("last", "author", "kept"),
    [
        ("第二段正文内容。（李明，系某某大学教授）", "李明，系某某大学教授", "第二段正文内容。"),
        (
            "第二段正文内容。（张三、李四，分别系X大学教授）",
            "张三、李四，分别系X大学教授",
            "第二段正文内容。",
        ),
        ("第二段正文内容！(王五，系某县县长)", "王五，系某县县长", "第二段正文内容！"),
        # not a note: words for the text itself, 系统, or no sentence's end before it
        ("第二段正文内容。（以上数据，系估算）", None, None),
        ("第二段正文内容。（李明，系统地阐述）", None, None),
        ("第二段正文内容（李明，系某某大学教授）", None, None),
    ],
)
def test_named_note_glued_to_the_last_sentence(
    page: PageMaker, last: str, author: str | None, kept: str | None
) -> None:
    r = row(page(paragraphs=("第一段正文内容。", last), note=None))
    assert (r["author"], r["body"]) == (author, f"第一段正文内容。\n{kept or last}")


def test_named_note_glued_before_closing_lines(page: PageMaker) -> None:
    closing = ("（责任编辑：孙静）", "（完）")
    paras = ("第一段正文内容。", "第二段正文内容。（李明，系某某大学教授）", *closing)
    r = row(page(paragraphs=paras, note=None))
    assert (r["author"], r["body"]) == ("李明，系某某大学教授", "\n".join([BODY, *closing]))


@pytest.mark.timing
def test_glued_heading_and_named_note_patterns_stay_linear() -> None:
    for line in (
        "。" + "（李明，系" * 8000,
        "第一段。" + "其他文" * 13000 + "其他文献",
        "a" + " " * 40000 + "其他文献",
        "（完）" + "其他文献" * 10000,
        "。（李明，系" + "x" * 40000 + "）",
    ):
        text = f"标题\n来源 :某刊 | 被引量 : 1次\n论文部分内容阅读\n  正文第一句。\n  {line}\n"
        start = time.process_time()
        with contextlib.suppress(Rejected):
            parse_page(text.encode(), "x")
        assert time.process_time() - start < 2.0


# Pages cut short. The file's last line, with no newline after it, that is part of a
# template line is dropped; the article's own cut last line stays.

_CUT_HEAD = "标题文字\n来源 :党员生活 | 被引量 : 0次 | 上传用户:u1\n"


@pytest.mark.parametrize(
    "tail",
    [
        "下载到本地 , 更方",
        "下载到本地，更方便阅",
        "论文部分内容阅读\n声明 :本文",
        "论文部分内容阅读\n声明：本文档内容版权归属内容提供方，如果您对",
        "论文部分",
        "下载到本地 , 更方便阅读\n声明 : 本文档内容版权归属内容提供方\n其他文",
    ],
)
def test_a_page_cut_before_its_article_is_missing_body(tail: str) -> None:
    for codec in ("utf-8", "utf-8-sig", "gb18030", "utf-16"):
        with pytest.raises(Rejected) as exc:
            parse_page((_CUT_HEAD + tail).encode(codec), "p")
        assert exc.value.reason == Reason.MISSING_BODY


@pytest.mark.parametrize(
    ("tail", "body_end", "teasers"),
    [
        ("正文第一段。\n正文第二段。\n其他文", "正文第二段。", []),
        ("正文第一段。\n正文第二段。\n（完）其他", "正文第二段。\n（完）", []),
        ("正文第一段。\n正文第二段。\n（完）其", "正文第二段。\n（完）", []),
        ("正文第一段。  正文第二段。  （作者：李明）其他文", "正文第二段。", []),
        ("正文第一段。\n其他文献\n一篇文章的摘要。\n© 20", "正文第一段。", ["一篇文章的摘要。"]),
        (
            "正文第一段。\n其他文献\n一篇文章的摘要。\n关于我们 | 联系我",
            "正文第一段。",
            ["一篇文章的摘要。"],
        ),
    ],
)
def test_a_template_line_cut_at_the_end_is_dropped(
    tail: str, body_end: str, teasers: list[str]
) -> None:
    r = parse_page((_CUT_HEAD + "论文部分内容阅读\n" + tail).encode(), "p").to_row()
    assert r["body"].endswith(body_end) and r["teasers"] == teasers


@pytest.mark.parametrize(
    "last",
    [
        "其他地区也在积极探索",  # the article's own cut line: starts like 其他文献, is not it
        "下一步，要继续",
        "声明发布后",
        "来源于群众",
        "这一做法，其他",  # 其他 after a comma, not a closing bracket
        "关于我们的工作",
    ],
)
def test_the_articles_own_cut_last_line_stays(last: str) -> None:
    for end in ("", "\n"):
        text = _CUT_HEAD + "论文部分内容阅读\n正文第一段。\n" + last + end
        assert parse_page(text.encode(), "p").to_row()["body"].endswith(last)


def test_a_whole_last_line_is_never_dropped_as_cut() -> None:
    text = _CUT_HEAD + "论文部分内容阅读\n正文第一段。\n（完）其他\n"
    assert parse_page(text.encode(), "p").to_row()["body"].endswith("（完）其他")


def test_a_utf8_bom_page_cut_inside_a_character() -> None:
    data = (_CUT_HEAD + "论文部分内容阅读\n正文第一段。\n第二段文字").encode("utf-8-sig")
    assert parse_page(data[:-1], "p").to_row()["body"] == "正文第一段。\n第二段文"


@pytest.mark.timing
def test_cut_line_rules_take_linear_time() -> None:
    for line in ("其" * 40000, "）" * 40000 + "其他", "关于我们 | " * 4000, "©" * 40000):
        text = _CUT_HEAD + "论文部分内容阅读\n正文第一段。\n" + line
        start = time.process_time()
        with contextlib.suppress(Rejected):
            parse_page(text, "p")
        assert time.process_time() - start < 2


# The same rule for template lines in traditional characters, spelled in simplified
# ones before the test (下載到本 as 下载到本); the article's own lines still stay.
_CUT_HEAD_TRADITIONAL = "標題文字\n來源 :黨員生活 | 被引量 : 0次 | 上傳用戶:u1\n"


@pytest.mark.parametrize(
    "tail",
    [
        "下載到本",
        "下載到本地，更方便閱",
        "論文部分內",
        "論文部分內容閱讀\n聲明 : 本文檔內",
        "下載到本地 , 更方便閱讀\n聲明：本文檔內容版權歸屬內容提供方，如果您對本文有版權爭",
        "論文部分內容閱讀\n來",
        "論文部分內容閱讀\n來源",
        "論文部分內容閱讀\n上傳用",
    ],
)
def test_a_traditional_page_cut_before_its_article_is_missing_body(tail: str) -> None:
    for codec in ("utf-8", "big5hkscs", "gb18030", "utf-16"):
        with pytest.raises(Rejected) as exc:
            parse_page((_CUT_HEAD_TRADITIONAL + tail).encode(codec), "p")
        assert exc.value.reason == Reason.MISSING_BODY


def test_a_cut_disclaimer_in_mixed_spellings_is_dropped() -> None:
    tail = "論文部分內容閱讀\n聲明 : 本文檔内容版權"  # 内 as simplified, the rest traditional
    with pytest.raises(Rejected) as exc:
        parse_page((_CUT_HEAD_TRADITIONAL + tail).encode(), "p")
    assert exc.value.reason == Reason.MISSING_BODY


@pytest.mark.parametrize("last", ["其他文", "【其他文", "其 他 文"])
def test_a_traditional_heading_cut_at_the_end_is_dropped(last: str) -> None:
    text = _CUT_HEAD_TRADITIONAL + "論文部分內容閱讀\n正文第一段。\n" + last
    assert parse_page(text.encode("big5hkscs"), "p").to_row()["body"] == "正文第一段。"


@pytest.mark.parametrize(
    "last",
    [
        "來源於群眾",
        "聲明發布後",
        "其他地區也在積極探索",
        "下一步，要繼續",
        "論文部分章節",
        "上傳到網上",
        "這一做法，其他",
    ],
)
def test_a_traditional_articles_own_cut_last_line_stays(last: str) -> None:
    for end in ("", "\n"):
        text = _CUT_HEAD_TRADITIONAL + "論文部分內容閱讀\n正文第一段。\n" + last + end
        assert parse_page(text.encode("big5hkscs"), "p").to_row()["body"].endswith(last)


@pytest.mark.parametrize("last", ["下載到本", "論文部分內", "其他文"])
def test_a_whole_traditional_last_line_is_never_dropped_as_cut(last: str) -> None:
    text = _CUT_HEAD_TRADITIONAL + "論文部分內容閱讀\n正文第一段。\n" + last + "\n"
    assert parse_page(text.encode(), "p").to_row()["body"].endswith(last)


@pytest.mark.timing
def test_the_traditional_cut_line_rule_takes_linear_time() -> None:
    for line in ("聲" * 40000, "下載到本" * 10000, "論 " * 20000, "）" * 40000 + "其他文"):
        text = _CUT_HEAD_TRADITIONAL + "論文部分內容閱讀\n正文第一段。\n" + line
        start = time.process_time()
        with contextlib.suppress(Rejected):
            parse_page(text, "p")
        assert time.process_time() - start < 1


# Names with Han characters outside the BMP; 其他文献 glued to the teaser after it.
_HEAD = "标题\n来源：党员生活 | 被引量：0次 | 上传用户：u1\n论文部分内容阅读\n"


@pytest.mark.parametrize("enc", ["utf-8", "gb18030", "utf-16"])
@pytest.mark.parametrize(
    ("byline", "author"),
    [
        ("文/王𠮷", "王𠮷"),
        ("作者：陈𠮷晓东", "陈𠮷晓东"),
        ("□ 本报记者 张𠮷伟", "张𠮷伟"),
        ("记者 张𠮷伟 通讯员 𠮷丽", "张𠮷伟 𠮷丽"),
    ],
)
def test_byline_names_with_four_byte_han_characters(enc: str, byline: str, author: str) -> None:
    r = row((_HEAD + byline + "\n正文第一段。\n第二段。\n").encode(enc))
    assert r["author"] == author and r["body"] == "正文第一段。\n第二段。"


def test_a_sentence_after_a_byline_word_with_extension_characters_stays_text() -> None:
    r = row(_HEAD + "作者：𠮷野家认为，这是一个很长的句子。\n正文第一段。\n")
    assert r["author"] is None and r["body"].startswith("作者：𠮷野家认为")


@pytest.mark.parametrize(
    "glued",
    [
        "其他文献儿时的记忆。",
        "【其他文献】儿时的记忆。",
        "其 他 文 献儿时的记忆。",
        "【其他文獻】兒時的記憶。",
        "其 他 文 獻兒時的記憶。",
    ],
)
def test_heading_glued_to_the_teaser_after_the_note(glued: str) -> None:
    text = _HEAD + "正文第一段。\n（作者系武汉市洪山区委书记）\n" + glued + "\n另一篇。\n"
    r = row(text)
    assert r["author"] == "武汉市洪山区委书记" and r["body"] == "正文第一段。"
    assert r["teasers"] == [glued[-6:], "另一篇。"]


@pytest.mark.parametrize(
    "last",
    [
        "其他文献资料显示，这一做法有效。",  # after a sentence only: prose, no heading
        "其他文献综述了相关研究。",
    ],
)
def test_bare_glued_heading_after_a_sentence_stays_text(last: str) -> None:
    r = row(_HEAD + "正文第一段。\n" + last + "\n")
    assert r["body"] == "正文第一段。\n" + last and r["teasers"] == []


@pytest.mark.timing
def test_glued_heading_patterns_stay_linear() -> None:
    for line in ("其 他 文 献" + " " * 40000 + "x", "【其他文献" + " " * 40000, "其他文献" * 10000):
        start = time.process_time()
        with contextlib.suppress(Rejected):
            parse_page(_HEAD + "正文第一段。\n（完）\n" + line + "\n", "p")
        assert time.process_time() - start < 2


# Names in bylines, signatures and notes (a sweep of forms x name shapes).

_DOTS = ("·", "•", "・", "‧", "･")  # U+00B7 and the look-alikes pages print for it


@pytest.mark.parametrize("dot", _DOTS)
@pytest.mark.parametrize(
    ("byline", "author"),
    [
        ("作者：买买提{d}艾力", "买买提{d}艾力"),
        ("本报记者 阿布都热合曼{d}买买提", "阿布都热合曼{d}买买提"),
        ("记者 约翰{d}史密斯 通讯员 李娜", "约翰{d}史密斯 李娜"),
        ("◇买买提{d}艾力", "买买提{d}艾力"),
        ("文{d}张三", "张三"),
    ],
)
def test_minority_and_foreign_names_with_any_middle_dot(
    page: PageMaker, dot: str, byline: str, author: str
) -> None:
    r = row(page(note=None, byline=byline.format(d=dot)))
    assert (r["author"], r["body"]) == (author.format(d=dot), BODY)


@pytest.mark.parametrize("dot", _DOTS)
@pytest.mark.parametrize(
    ("note", "author"),
    [
        ("文/约翰{d}史密斯", "约翰{d}史密斯"),
        ("□ 买买提{d}艾力", "买买提{d}艾力"),
        ("（记者 买买提{d}艾力 通讯员 李娜）", "买买提{d}艾力 李娜"),
        ("（买买提{d}艾力，系新疆大学教授）", "买买提{d}艾力，系新疆大学教授"),
        (
            "（阿布都热合曼{d}买买提、李娜，分别系新疆大学教授）",
            "阿布都热合曼{d}买买提、李娜，分别系新疆大学教授",
        ),
    ],
)
def test_dotted_names_in_signatures_and_notes(
    page: PageMaker, dot: str, note: str, author: str
) -> None:
    r = row(page(note=note.format(d=dot)))
    assert (r["author"], r["body"]) == (author.format(d=dot), BODY)


@pytest.mark.parametrize(
    ("byline", "author"), [("◇司马光华", "司马光华"), ("◇ 欧阳明远", "欧阳明远")]
)
def test_a_marked_four_character_name_first_with_a_compound_surname(
    page: PageMaker, byline: str, author: str
) -> None:
    r = row(page(note=None, byline=byline))
    assert (r["author"], r["body"]) == (author, BODY)


@pytest.mark.parametrize(
    "first",
    [
        "◇工作成效",
        "◇范徐丽泰",
        "◇ 主要做法",
        "作者：张A",
        "记者 李2",
        "（以上数据·系统，系初步核算）",
    ],
)
def test_marked_words_and_mixed_names_first_stay_text(page: PageMaker, first: str) -> None:
    # a marked four-character word without a compound surname is a subhead as often as a name;
    # a Han character with a Latin letter or digit is no name in a byline
    r = row(page(note=None, byline=first))
    assert (r["author"], r["body"]) == (None, f"{first}\n{BODY}")


@pytest.mark.parametrize("last", ["（以上数据·初值，系省统计局初步核算）", "◎工作成效"])
def test_data_notes_and_marked_subheads_last_stay_text(page: PageMaker, last: str) -> None:
    r = row(page(paragraphs=("第一段正文内容。", "第二段正文内容。", last), note=None))
    assert (r["author"], r["body"]) == (None, f"{BODY}\n{last}")


@pytest.mark.timing
def test_dotted_name_patterns_stay_linear() -> None:
    for line in (
        "（" + "买・" * 20_000 + "，系教授）",
        "（" + "买买提・艾力、" * 5_000 + "，系教授）",
        "◇" + "买‧" * 20_000,
        "记者 " + "约翰･史密斯 " * 5_000,
    ):
        for text in (
            _HEAD + "正文第一段。\n" + line + "\n",
            _HEAD + line + "\n正文第一段。\n",
        ):
            start = time.process_time()
            with contextlib.suppress(Rejected):
                parse_page(text, "p")
            assert time.process_time() - start < 1


# Hard-wrapped paragraphs: the first line indented, the lines after it cut at a fixed width.


def _wrap(text: str, width: int, indent: str = "  ") -> str:
    """A paragraph as a document cut it: its first line indented, the rest not."""
    cut = [text[k : k + width] for k in range(0, len(text), width)]
    return indent + "\n".join(cut)


def test_the_seed_page_hard_wrapped_gives_its_five_paragraphs() -> None:
    seed = (Path(__file__).parent.parent / "raw" / "000_bba07cf85f81785c.txt").read_text("utf-8")
    wrapped = []
    for line in seed.split("\n"):
        wrapped.append(_wrap(line[2:], 30) if line.startswith("  ") and len(line) > 40 else line)
    got, want = row("\n".join(wrapped)), row(seed)
    assert got["paragraph_count"] == want["paragraph_count"] == 5
    assert (got["body"], got["author"], got["teasers"]) == (
        want["body"],
        want["author"],
        want["teasers"],
    )


LONG_A = (
    "党建联盟是城市基层党建的实践创新，其核心要义是打破条块壁垒，"
    "通过加强区域统筹将各领域党组织有机联结起来，每年培训2020名社区干部。"
)
LONG_B = (
    "推动共建单位从“邻居”转变成为“家人”，三级区域化平台要加强协同配合，"
    "定期沟通情况，研究解决问题，让协商议事由“随机性”向“规范化”开展。"
)


@pytest.mark.parametrize("indent", ["  ", "\u3000\u3000", "\u00a0\u00a0", "\t"])
@pytest.mark.parametrize("width", [20, 27, 30])
def test_hard_wrapped_paragraphs_are_joined(page: PageMaker, indent: str, width: int) -> None:
    text = page(paragraphs=(_wrap(LONG_A, width, ""), _wrap(LONG_B, width, "")), indent=indent)
    r = row(text)
    assert r["body"] == f"{LONG_A}\n{LONG_B}"  # 20 / 20 across the cut: no space between digits
    assert r["author"] == "某某大学教授"
    assert r["teasers"] == ["其他文章一的摘要", "其他文章二的摘要"]


@pytest.mark.parametrize("heading", ["其他文献", "其它文献", "【其他文献】", "其他文献："])
@pytest.mark.parametrize("wrapped", [True, False])
def test_hard_wrapping_is_told_before_any_spelling_of_the_heading(
    page: PageMaker, heading: str, wrapped: bool
) -> None:
    # the heading, unindented, is the first unindented line after the marker unless a wrapped
    # paragraph goes on on one before it
    paragraphs = (_wrap(LONG_A, 30, ""), LONG_B) if wrapped else (LONG_A, LONG_B)
    r = row(page(paragraphs=paragraphs).replace("\n其他文献\n", f"\n{heading}\n"))
    assert r["body"] == f"{LONG_A}\n{LONG_B}"
    assert r["teasers"] == ["其他文章一的摘要", "其他文章二的摘要"]


def test_hard_wrapped_english_is_joined_with_a_space(page: PageMaker) -> None:
    first = (
        "  The committee met on Monday to discuss the\n"
        "new budget, which was approved by a vote of\n12 to 3."
    )
    second = (
        "  Members of the public were invited to comment\non the plan before the final reading."
    )
    r = row(page(paragraphs=(first, second)))
    assert r["body"] == (
        "The committee met on Monday to discuss the new budget, which was approved by a vote of"
        " 12 to 3.\nMembers of the public were invited to comment on the plan before the final"
        " reading."
    )


UNENDED = "各级党组织要持续深化党建引领基层治理，坚持问题导向和目标导向相统一，推动各项工作落地见效"


@pytest.mark.parametrize(
    "after",
    [
        "（一）坚持党建引领，推动基层治理体系和治理能力现代化建设取得新成效",
        "二、坚持党建引领，推动基层治理体系和治理能力现代化建设取得新成效",
        "3. 坚持党建引领，推动基层治理体系和治理能力现代化建设取得新成效",
        "第二章 坚持党建引领，推动基层治理体系和治理能力现代化建设取得新成效",
        "项目    2019年    2020年    2021年    增长率",
        "项目\t2019年\t2020年\t2021年\t增长率\t说明\t合计数据",
        "• 完善三个平台，持续健全区域化工作体系，推动各项工作落地见效。",
        "①习近平：《论坚持党对一切工作的领导》，中央文献出版社2019年版。",
        "其他文献综述表明，基层治理的经验可以总结，不足需要完善，还要持续。",
    ],
)
def test_a_line_of_its_own_after_a_cut_line_is_not_joined(page: PageMaker, after: str) -> None:
    paragraphs = ("第一段正文内容，总书记强调要认真思考基层治理的经验。", UNENDED + "\n" + after)
    r = row(page(paragraphs=paragraphs, note=None, teasers=None))
    assert UNENDED in str(r["body"]).split("\n")


@pytest.mark.parametrize(
    ("closing", "author"),
    [
        (
            "(作者系武汉市洪山区委书记、区党建联盟主席，长期从事基层治理研究工作)",
            "武汉市洪山区委书记、区党建联盟主席，长期从事基层治理研究工作",
        ),
        ("（责任编辑：王芳）", "某某大学教授"),
        ("2021年3月5日", "某某大学教授"),
    ],
)
def test_the_note_and_closing_lines_are_not_swallowed(
    page: PageMaker, closing: str, author: str
) -> None:
    last = UNENDED + "\n" + closing
    note = None if closing.startswith("(作者") else "(作者系某某大学教授)"
    paragraphs: tuple[str, ...] = ("第一段正文内容，总书记强调要认真思考基层治理的经验。", last)
    if note is not None:  # the closing line after the note, the note after a cut line
        paragraphs = ("第一段正文内容，总书记强调要认真思考基层治理的经验。", UNENDED)
        text = page(paragraphs=paragraphs, note=note + "\n" + closing)
    else:
        text = page(paragraphs=paragraphs, note=None)
    r = row(text)
    assert r["author"] == author
    assert UNENDED in str(r["body"]).split("\n")


def test_a_page_without_indented_paragraphs_keeps_its_lines(page: PageMaker) -> None:
    wrapped = (_wrap(LONG_A, 30, ""), _wrap(LONG_B, 30, ""))
    r = row(page(paragraphs=wrapped, indent=""))
    assert r["paragraph_count"] == len(LONG_A) // 30 + 1 + len(LONG_B) // 30 + 1
    one = row(page(paragraphs=(_wrap(LONG_A, 30), LONG_B), indent=""))  # one indented line
    assert one["paragraph_count"] == len(LONG_A) // 30 + 1 + 1


def test_the_teasers_do_not_decide_whether_the_article_is_hard_wrapped(page: PageMaker) -> None:
    # an indented line cut mid-sentence (a space after the cut), a shorter line after it; under
    # the heading an indented teaser that does not end a sentence, a teaser after it
    cut = (LONG_A[:40] + " \n" + LONG_A[40:], LONG_B)
    plain = row(page(paragraphs=cut))
    indented = row(page(paragraphs=cut, teasers=("  其他文章一的摘要", "其他文章二的摘要")))
    assert indented["body"] == plain["body"]
    assert indented["teasers"] == plain["teasers"] == ["其他文章一的摘要", "其他文章二的摘要"]


def test_a_blank_line_or_a_short_line_ends_a_wrapped_paragraph(page: PageMaker) -> None:
    r = row(page(paragraphs=(UNENDED + "\n\n" + LONG_B, "短标题没有标点\n" + LONG_A)))
    assert r["paragraph_count"] == 4


@pytest.mark.timing
def test_joining_wrapped_lines_stays_linear(page: PageMaker) -> None:
    hostile = ("（一" * 20000, "，" * 40000, "a" * 40000, "2020" * 10000)
    for line in hostile:
        text = page(paragraphs=(UNENDED, line, UNENDED + "\n" + line, "  " + UNENDED + "\n" + line))
        start = time.process_time()
        row(text)
        assert time.process_time() - start < 1


# -- the template's tables: regexes and prefilters are derived from them ------------------------

_ADD_SPELLING = """
import importlib, json, sys
from corpus_export import parse, template
if sys.argv[1] == "add":
    template.KEY_SPELLINGS["出处"] = template.SOURCE_KEY
parse = importlib.reload(parse)  # the package imported it: build it again from the tables
row = parse.parse_page(sys.stdin.buffer.read()).to_row()
print(json.dumps([row[k] for k in ("source", "citations", "uploader", "body")], ensure_ascii=False))
"""


@pytest.mark.python_source
@pytest.mark.parametrize("header_first", [True, False])
def test_a_key_spelling_added_to_the_table_reaches_every_rule(header_first: bool) -> None:
    """One line in template.KEY_SPELLINGS: the key regex, the first-character prefilters and the
    cheap has-a-key test all follow (a prefilter typed separately once put such a header in the
    body)."""
    header = "出处 :党员生活 | 被引量 : 3次 | 上传用户:u"
    lines = ["标题", header, "论文部分内容阅读", "正文第一段。"]
    if not header_first:  # the site's field before it: the fields' prefilter must follow too
        lines[1] = "页数 : 3页 | " + header
    page = "\n".join(lines).encode()

    def run(mode: str) -> list[object]:
        out = subprocess.run(
            [sys.executable, "-c", _ADD_SPELLING, mode],
            input=page,
            capture_output=True,
            check=True,
        )
        return json.loads(out.stdout)

    assert run("add") == ["党员生活", 3, "u", "正文第一段。"]
    # without the table's line, 出处 is no key: the header stays text (the test can fail)
    source, _, _, body = run("keep")
    assert source is None
    assert "出处" in str(body)


def test_first_chars_reads_the_pattern_itself() -> None:
    assert first_chars("下载|声明") == frozenset("下声")
    assert first_chars(r"[【\[]?\s*其他") >= frozenset("【[其 \u3000")
    assert first_chars(r"(?:本文)?作者") == frozenset("本作")
    assert first_chars(r"(?i)pdf") == frozenset("pP")
    assert first_chars(r"\d+页") == frozenset("0123456789")
    for unbounded in (r".x", r"\w+", r"a?", r"[^x]y", r"(?:a|)"):
        with pytest.raises(Unbounded):
            first_chars(unbounded)


def test_first_pairs_reads_two_characters_of_the_pattern() -> None:
    assert first_pairs("下载|声") == (frozenset("声"), frozenset({"下载"}))
    firsts, pairs = first_pairs(r"[(（]\s*完")
    assert not firsts and {"(完", "（完", "( ", "（\u3000"} <= pairs and "(作" not in pairs
    assert first_pairs(r"(?:a|)b*c") == (frozenset("c"), frozenset({"ac", "ab", "bb", "bc"}))
    assert first_pairs(r"《[^《》]{1,20}》") == (frozenset("《"), frozenset())  # then any character
    assert first_pairs(r"\d{4}年") == (
        frozenset(),
        frozenset(a + b for a in "0123456789" for b in "0123456789"),
    )
    for unbounded in (r".x", r"\w+", r"a?", r"[^x]y", r"(?:a|.)"):
        with pytest.raises(Unbounded):
            first_pairs(unbounded)


def _all_page_texts() -> list[str]:
    """The fixture pages, the repo's raw pages and 300 of the sweep's variants, decoded."""
    import random

    import test_sweep

    here = Path(__file__).parent
    data = [p.read_bytes() for p in sorted((here / "pages").rglob("*.txt"))]
    data += [p.read_bytes() for p in sorted((here.parent / "raw").glob("*.txt"))]
    rng = random.Random(7)
    while len(data) < 400:
        with contextlib.suppress(UnicodeEncodeError):
            data.append(test_sweep.render(test_sweep.sample(rng))[0])
    texts = []
    for d in data:
        with contextlib.suppress(Rejected):
            texts.append(parse_module.decode_bytes(d))
    return texts


def test_first_pairs_never_turn_a_match_away() -> None:
    """Every line of the sweep's and fixture pages that a prefiltered pattern matches starts
    as first_pairs says (the prefilter is a superset)."""
    patterns = [
        notes_module._TRAILER,
        notes_module._FUNDING_NOTE,
        notes_module._REFS_HEADING,
        parse_module._SITE_JUNK,
        parse_module._PAGER,
    ]
    lines = {line.strip() for text in _all_page_texts() for line in text.splitlines()}
    lines |= {
        "(完)",
        "（ 完 ）",
        "责任编辑：张三",
        "《人民日报》（2021年03月05日 09版）",
        "- 3 -",
        "第 2 页 / 共 5 页",
        "上一页 1 2 3 下一页",
        "分享到：微信",
        "(未完待续)",
        "参考文献：",
        "2021年3月5日",
        "二〇二一年三月",
        "（本文系某某基金项目成果）",
        "12人已下载",
    }
    for rx in patterns:
        firsts, pairs = first_pairs(rx)
        for line in lines:
            if line and rx.fullmatch(line):
                assert line[:1] in firsts or line[:2] in pairs, (rx.pattern[:30], line)


def test_the_prefilters_are_the_first_characters_of_their_patterns() -> None:
    assert first_chars(parse_module._BOILERPLATE) == parse_module._BOILERPLATE_FIRST
    assert first_chars(parse_module._RECOMMEND) == parse_module._RECOMMEND_FIRST
    assert {"出", "贡", "积"}.isdisjoint(parse_module._HEADER_FIRST)
    # every key spelling and site field of the tables starts a header line
    for word in (*template.KEY_SPELLINGS, *template.SITE_FIELD_KEYS):
        assert word[0] in parse_module._FIELDS_FIRST, word
    assert all(w[0] in parse_module._JUNK_FIRST for w in template.BUTTONS + template.PAGER_WORDS)
    # every spelling and shape of the 其他文献 heading holds the character looked for first
    needle = parse_module._HEADING_NEEDLE
    assert all(needle in heading for heading in template.TEASER_HEADINGS)
    assert needle in parse_module._TEASER_HEADING_LINE.pattern


@pytest.mark.parametrize(
    ("note", "common"),
    [
        ("(作者系华中师范大学教授)", True),
        ("（作者单位：恩施市大学马克思主义学院）", True),
        ("(作者均系湖北省委党校教师)", True),
        ("(作者所在单位:武汉大学 )", True),
        ("（作者系记者 张三 报道 ）", True),  # a credit: the names, the verb gone
        ("（作者系X大学教授。本文系国家社科基金项目的阶段性成果）", True),  # funding inside
        ("(作者系 张三)", False),  # the full rules read the rest
        ("(作者系X)(本文系Y基金项目成果)", False),
        ("(作者系华中师范大学（武汉）教授)", False),
        ("(作者系X)。", False),
    ],
)
def test_the_common_author_note_is_read_as_the_full_rules_read_it(
    note: str, common: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """strip_author_note reads (作者系X) by a cheap regex first: the full rules give the same."""
    assert (notes_module._COMMON_NOTE.fullmatch(note) is not None) is common
    fast = notes_module.strip_author_note.__wrapped__(note)
    assert fast[0]
    monkeypatch.setattr(notes_module, "_COMMON_NOTE", re.compile("(?!)"))  # never matches
    assert notes_module.strip_author_note.__wrapped__(note) == fast


def test_alternation_puts_longer_spellings_first() -> None:
    assert alternation(["被引", "被引量", "a.b"]) == r"a\.b|被引量|被引"
    assert needles(["被引", "被引量", "被引次数", "来源"]) == ("来源", "被引")


# -- the API: a page's bytes or text, or a file -------------------------------------------------

SEED = Path(__file__).parent.parent / "raw" / "000_bba07cf85f81785c.txt"


def test_a_file_name_given_as_the_page_is_refused_with_a_hint(tmp_path: Path) -> None:
    for name in ("raw/x.txt", "raw/x.txt.gz", str(SEED)):
        with pytest.raises(TypeError, match="parse_file"):
            parse_page(name)
    with pytest.raises(TypeError, match="parse_file"):
        parse_page(SEED)  # type: ignore[arg-type]
    # text that only mentions a file, or names one without a page's suffix, is text: parsing
    # never looks at the file system
    for text in ("see raw/x.txt for the page", "README.md", str(SEED.with_suffix(""))):
        with pytest.raises(Rejected):
            parse_page(text)
    assert row(SEED.read_text(encoding="utf-8"))["title"] == row(SEED.read_bytes())["title"]


def test_pages_and_line_roles_survive_pickle_and_copy() -> None:
    """A Page goes to other processes (a multiprocessing pool over parse_file) and gets copied.
    As Python this always held; it is the compiled parser (its frozen classes native ones,
    .ci/run's second install) that this checks."""
    import copy
    import pickle

    page = parse_module.parse_file(SEED)
    roles = parse_module.explain_page(SEED.read_bytes())
    for value in (page, roles[0], roles, roles[0].role):
        for again in (pickle.loads(pickle.dumps(value)), copy.copy(value), copy.deepcopy(value)):
            assert again == value and type(again) is type(value)


def test_a_page_parsed_in_a_process_pool_comes_back_whole() -> None:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1) as pool:
        assert list(pool.map(parse_module.parse_file, [SEED])) == [parse_module.parse_file(SEED)]


def test_parse_file_reads_a_page_as_a_build_does(tmp_path: Path) -> None:
    page = parse_module.parse_file(SEED)
    assert page.id == "000_bba07cf85f81785c"
    assert page == parse_page(SEED.read_bytes(), page.id)
    packed = tmp_path / "seed.txt.gz"
    packed.write_bytes(gzip.compress(SEED.read_bytes()))
    zipped = parse_module.parse_file(packed)
    assert (zipped.id, zipped.body) == ("seed", page.body)
    assert zipped.sha256 == hashlib.sha256(packed.read_bytes()).hexdigest()  # the file's bytes
    with pytest.raises(Rejected) as exc:
        parse_module.parse_file(tmp_path / "missing.txt")
    assert exc.value.reason == Reason.UNREADABLE


# -- explain: each line's role and the rule that gave it ----------------------------------------


def roles_of(text: str | bytes) -> list[tuple[int, str, str]]:
    return [(r.line, str(r.role), r.rule) for r in explain_page(text)]


def test_explain_gives_the_seed_pages_lines_their_roles() -> None:
    roles = explain_page(SEED.read_bytes())
    lines = SEED.read_text(encoding="utf-8").split("\n")
    by_line = {r.line: r for r in roles}
    assert len(by_line) == len(roles)  # no line split on the seed: one role each
    assert [r.line for r in roles] == list(range(1, len(lines) + 1))
    assert by_line[1].role == Role.TITLE
    assert by_line[3].role == Role.HEADER
    assert lines[11].strip().startswith("(作者系")
    assert (by_line[12].role, by_line[12].rule) == (Role.AUTHOR_NOTE, "author-note")
    assert [r.line for r in roles if r.role == Role.TEASER] == list(range(14, 24))
    assert [r.role for r in roles if r.line in (4, 5, 6, 13)] == [
        Role.BOILERPLATE,
        Role.BOILERPLATE,
        Role.MARKER,
        Role.TEASER_HEADING,
    ]
    # the roles agree with the row: the paragraphs are the body
    page = parse_page(SEED.read_bytes())
    assert [r.text for r in roles if r.role == Role.PARAGRAPH] == list(page.paragraphs)


def test_explain_names_byline_closing_lines_furniture_and_footer(page: PageMaker) -> None:
    text = page(
        byline="文/李四",
        paragraphs=("第一段正文内容。", "上一页 1 2 3 下一页", "第二段正文内容。"),
        note="（作者系某某大学教授）",
        teasers=("其他文章一的摘要", "Copyright © 2006-2021 www.example.com"),
    ).replace("（作者系某某大学教授）", "（作者系某某大学教授）\n责任编辑：王五")
    roles = {text: (role, rule) for _, text, role, rule in _explained(text)}
    assert roles["文/李四"] == ("byline", "byline")
    assert roles["上一页 1 2 3 下一页"] == ("furniture", "site-furniture")
    assert roles["（作者系某某大学教授）"] == ("author note", "author-note")
    assert roles["责任编辑：王五"] == ("closing line", "closing-line")
    assert roles["其他文章一的摘要"] == ("teaser", "teaser")
    assert roles["Copyright © 2006-2021 www.example.com"] == ("footer", "footer")
    assert parse_page(text).body == "第一段正文内容。\n第二段正文内容。\n责任编辑：王五"


def _explained(text: str) -> list[tuple[int, str, str, str]]:
    return [(r.line, r.text, str(r.role), r.rule) for r in explain_page(text)]


def test_explain_numbers_pieces_of_one_line_and_joined_lines() -> None:
    text = (
        "标题\n来源 :党员生活 | 被引量 : 3次 | 上传用户:u\n论文部分内容阅读\n"
        "第一段。  第二段。\n"
        "（作者系某某大学教授）其他文献\n另一篇文章的摘要\n"
    )
    got = _explained(text)
    assert (4, "第一段。", "paragraph", "paragraph-split-at-spaces") in got
    assert (4, "第二段。", "paragraph", "paragraph-split-at-spaces") in got
    assert (5, "其他文献", "teaser heading", "teaser-heading") in got
    assert (5, "（作者系某某大学教授）", "author note", "author-note") in got
    assert (6, "另一篇文章的摘要", "teaser", "teaser") in got
    # a header's value on the next line joins it
    cut = "标题\n来源 :\n党员生活\n论文部分内容阅读\n第一段。\n"
    assert [(n, role) for n, _, role, _ in _explained(cut)][:3] == [
        (1, "title"),
        (2, "header"),
        (3, "joined"),
    ]


def test_explain_still_explains_a_rejected_page() -> None:
    roles = roles_of("标题\n来源 :党员生活 | 被引量 : 3次\n论文部分内容阅读\n\n")
    assert roles[:3] == [
        (1, "title", "first-line"),
        (2, "header", "header-line"),
        (3, "marker", "read-marker"),
    ]
    with pytest.raises(Rejected):
        explain_page(b"\xff\xfe\x00\xd8")  # undecodable: nothing to explain


def test_explain_colours_roles_only_when_asked() -> None:
    roles = explain_page(SEED.read_bytes())
    plain = format_roles(roles)
    assert "\x1b[" not in plain
    assert plain.split("\n")[0].split()[:3] == ["1", "title", "first-line"]
    coloured = format_roles(roles, color=True)
    assert coloured.count("\x1b[0m") == len(roles)
    assert set(ROLE_COLOURS) == set(Role)


def test_cli_parse_explain_prints_lines_then_the_row(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["parse", "--explain", str(SEED)])
    assert result.exit_code == 0, result.output
    listing, row_json = result.output.split("\n\n", 1)
    lines = listing.split("\n")
    assert len(lines) == 23
    assert lines[11].split()[:4] == ["12", "author", "note", "author-note"]
    assert "\x1b[" not in result.output  # not a terminal: plain
    assert json.loads(row_json)["teaser_count"] == 10
    bad = tmp_path / "bad.txt"
    bad.write_text("只有一行\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["parse", "--explain", str(bad)])
    assert result.exit_code == 1
    listing, reject = result.output.split("\n\n", 1)
    assert listing.split()[:3] == ["1", "title", "first-line"]
    assert json.loads(reject)["reason"] == "unrecognised_layout"


# -- docs/parsing.md shows the code's tables ----------------------------------------------------

DOCS = Path(__file__).parent.parent / "docs" / "parsing.md"
_BEGIN = (
    "<!-- tables: rendered by corpus_export.parse.render_docs_tables(); do not edit by hand -->"
)
_END = "<!-- end of tables -->"


def test_the_parsing_docs_show_the_tables_of_the_code() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert text.count(_BEGIN) == 1 and text.count(_END) == 1
    block = text.split(_BEGIN, 1)[1].split(_END, 1)[0].strip("\n")
    assert block == parse_module.render_docs_tables()


def test_the_rendered_tables_follow_a_table_change(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(template.KEY_SPELLINGS, "出处", template.SOURCE_KEY)
    rendered = parse_module.render_docs_tables()
    assert "| header key `来源`: its spellings | `来源`, `來源`, `出处` |" in rendered
    assert "`\\|`" in rendered  # a bar in a table cell is escaped
    for role in Role:
        assert f"| {role} | " in rendered


@pytest.mark.parametrize(
    ("note", "author"),
    [("（实习生 王五）", "王五"), ("（實習生 王五）", "王五"), ("（撰稿人 王五）", "王五")],
)
def test_every_credit_word_of_the_tables_makes_a_note(
    page: PageMaker, note: str, author: str
) -> None:
    """The words a closing line is told from a note by come from the same tables as the credit
    pattern (实习生 was once missing from a hand-kept copy: the credit stayed in the body)."""
    r = row(page(note=note))
    assert (r["author"], r["body"]) == (author, BODY)
    for word in (*template.INTERN_WORDS, *template.WRITER_WORDS, *template.REPORTER_WORDS):
        assert word in template.NOTE_WORDS


FIXTURES = sorted((Path(__file__).parent / "pages").glob("*.txt*"))


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_explain_lists_every_line_of_a_page_in_order(fixture: Path) -> None:
    data = fixture.read_bytes()
    if fixture.name.endswith(".gz"):
        data = gzip.decompress(data)
    try:
        roles = explain_page(data)
    except Rejected:  # undecodable: parse rejects it too
        with pytest.raises(Rejected):
            parse_page(data)
        return
    numbers = [r.line for r in roles]
    assert numbers == sorted(numbers)
    assert sorted(set(numbers)) == list(range(1, numbers[-1] + 1))
    try:
        page = parse_page(data)
    except Rejected:
        return
    assert sum(r.role == Role.TEASER for r in roles) == len(page.teasers)
    assert sum(r.role in (Role.PARAGRAPH, Role.CLOSING_LINE) for r in roles) == len(page.paragraphs)
