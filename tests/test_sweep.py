"""A sweep of the template's documented variants, crossed: every page must parse as expected.

Base articles of several fields (two in traditional characters) are written out with a sampled
combination of independent variants — encoding, line ends, header spelling, order, widths and
spacing of its marks, missing fields, citation formats, author-note form and where it stands,
a closing line after it, how paragraphs are spaced, teasers or none, and how the 其他文献 heading
meets the line before — and every field of the parsed row is compared with what the variants
imply. One failing variant shows up as many failing pages sharing an axis value, which the
failure message counts.
"""

from __future__ import annotations

import collections
import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from corpus_export.errors import Rejected
from corpus_export.parse import parse_page

PAGES = 3000


@dataclass(frozen=True)
class Article:
    title: str
    source: str
    citations: int
    uploader: str
    name: str
    post: str
    unit: str
    english: str
    paragraphs: tuple[str, ...]
    teasers: tuple[str, ...]
    post2: str
    traditional: bool = False


ARTICLES = (
    Article(
        "发挥党建联盟在基层社会治理中的关键作用",
        "党员生活",
        0,
        "xd05724221",
        "李建国",
        "武汉市洪山区委书记",
        "中共武汉市洪山区委",
        "secretary of the Hongshan District Committee of Wuhan",
        (
            "2018年以来，习近平总书记先后三次就湖北省基层治理做出重要指示。为答好总书记的必答题，"
            "省市区委先后召开专题会议，就党建引领基层社会治理进行系统谋划部署。",
            "党建联盟是城市基层党建的实践创新，其核心要义是打破条块壁垒，通过加强区域统筹将各领域"
            "党组织有机联结起来。",
            "完善三个平台，持续健全区域化工作体系。推动共建单位从“邻居”转变成为“家人”。",
        ),
        (
            "儿时的“良田畈”，爱恨交加的记忆是“双抢”。骄阳似火的7月下旬至8月初，既抢收早稻，又抢种晚稻。",
            "2016年8月，作为选调生的我被分到了宜昌市夷陵区鸦鹊岭镇工作。",
        ),
        "洪山区委组织部部长",
    ),
    Article(
        "数字经济赋能区域协调发展的机制与路径",
        "经济研究参考",
        1234,
        "econ_2021",
        "陈晓东",
        "中国社会科学院经济研究所研究员",
        "中国社会科学院经济研究所",
        "a researcher at the Institute of Economics, CASS",
        (
            "数字经济是继农业经济、工业经济之后的主要经济形态，正在深刻改变区域经济的空间格局。",
            "从实证上看，2011—2020年省级面板数据显示，数字经济发展指数每提高1个单位，地区人均GDP差距"
            "缩小约0.8%。",
            "但也要看到，数字鸿沟依然存在，中西部地区的数字基础设施投资仍显不足。",
            "总之，数字经济既是区域协调发展的新动能，也对治理能力提出了新要求。",
        ),
        (),
        "中国人民大学应用经济学院教授",
    ),
    Article(
        "老年2型糖尿病患者综合管理的临床观察",
        "中国实用医药",
        3,
        "med_user88",
        "王丽娟",
        "华中科技大学同济医学院附属协和医院内分泌科主治医师",
        "华中科技大学同济医学院附属协和医院",
        "an endocrinologist at Union Hospital, Wuhan",
        (
            "目的：探讨综合管理模式对老年2型糖尿病患者血糖控制的影响。",
            "方法：选取2019年1月至2020年12月我院收治的老年2型糖尿病患者120例，随机分为两组。",
            "结果：干预6个月后，观察组空腹血糖、糖化血红蛋白水平均低于对照组（P<0.05）。",
            "结论：综合管理模式可有效改善老年2型糖尿病患者的血糖控制，值得临床推广。",
        ),
        ("腹腔镜胆囊切除术治疗急性胆囊炎的疗效分析", "护理干预对冠心病患者生活质量的影响"),
        "协和医院护师",
    ),
    Article(
        "發揮黨建聯盟在基層社會治理中的關鍵作用",
        "黨員生活",
        7,
        "tw_user01",
        "陳志明",
        "武漢市洪山區委書記",
        "中共武漢市洪山區委",
        "secretary of the Hongshan District Committee",
        (
            "近年來，各地積極探索基層治理的新路徑，取得了明顯成效。",
            "一是堅持黨建引領，把黨的領導貫穿基層治理全過程。",
            "二是堅持以人民為中心，切實解決群眾急難愁盼問題。",
        ),
        ("兒時的記憶是田野與稻穀。", "竹山縣是秦巴山區扶貧攻堅重點縣。"),
        "洪山區委組織部部長",
        traditional=True,
    ),
)

#: The template's own lines and keys, in each spelling.
SIMPLIFIED = {
    "download": "下载到本地 , 更方便阅读",
    "notice": "声明 : 本文档内容版权归属内容提供方 , 如果您对本文有版权争议 , "
    "可与客服联系进行内容授权或下架",
    "marker": "论文部分内容阅读",
    "heading": "其他文献",
    "source": "来源",
    "uploader": "上传用户",
    "被引量": "被引量",
    "被引": "被引",
    "被引次数": "被引次数",
}
TRADITIONAL = {
    "download": "下載到本地 , 更方便閱讀",
    "notice": "聲明 : 本文檔內容版權歸屬內容提供方 , 如果您對本文有版權爭議 , "
    "可與客服聯繫進行內容授權或下架",
    "marker": "論文部分內容閱讀",
    "heading": "其他文獻",
    "source": "來源",
    "uploader": "上傳用戶",
    "被引量": "被引量",
    "被引": "被引",
    "被引次数": "被引次數",
}
TO_TRADITIONAL = (("作者系", "作者係"), ("，系", "，係"), ("作者为", "作者為"), ("简介", "簡介"))
TO_TRADITIONAL += (("单位", "單位"), ("责任编辑", "責任編輯"), ("孙静", "孫靜"))

#: note form → (where it stands, its text, the author it gives), from the article
NOTES: dict[str, tuple[str, Any, Any]] = {
    "(作者系X)": ("end", lambda a: f"(作者系{a.post})", lambda a: a.post),
    "（作者系X）": ("end", lambda a: f"（作者系{a.post}）", lambda a: a.post),
    "（作者：X）": ("end", lambda a: f"（作者：{a.name}）", lambda a: a.name),
    "（作者为X）": ("end", lambda a: f"（作者为{a.post}）", lambda a: a.post),
    "（作者单位：X）": ("end", lambda a: f"（作者单位：{a.unit}）", lambda a: a.unit),
    "作者简介：X": (
        "end",
        lambda a: f"作者简介：{a.name}，{a.post}",
        lambda a: f"{a.name}，{a.post}",
    ),
    "【作者简介】X": (
        "end",
        lambda a: f"【作者简介】{a.name}，{a.post}",
        lambda a: f"{a.name}，{a.post}",
    ),
    "〔作者单位：X〕": ("end", lambda a: f"〔作者单位：{a.unit}〕", lambda a: a.unit),
    "（X，系Y）": ("end", lambda a: f"（{a.name}，系{a.post}）", lambda a: f"{a.name}，系{a.post}"),
    "文/X first": ("start", lambda a: f"文/{a.name}", lambda a: a.name),
    "文/X last": ("end", lambda a: f"文/{a.name}", lambda a: a.name),
    "□ X": ("end", lambda a: f"□ {a.name}", lambda a: a.name),
    "(The author is X)": ("end", lambda a: f"(The author is {a.english})", lambda a: a.english),
    "（作者分别系X、Y）": (
        "end",
        lambda a: f"（作者分别系{a.post}、{a.post2}）",
        lambda a: f"{a.post}、{a.post2}",
    ),
    "no note": ("none", None, lambda a: None),
}
CLOSING = {
    "none": None,
    "editor": "（责任编辑：孙静）",
    "end mark": "（完）",
    "date": "2021年3月5日",
}
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16-le-bom", "utf-16-be-bom", "big5")
LINE_ENDS = {"LF": "\n", "CRLF": "\r\n", "CR": "\r"}
SPACES = {"none": "", "one": " ", "three": "   ", "ideographic": "\u3000"}
SPACINGS = (
    "lines",
    "blank lines",
    "indents",
    "glued by spaces",
    "glued by U+3000",
    "glued by NBSP",
)
MISSING = ("", "s", "c", "u", "sc", "su", "cu", "scu")  # header fields left out
CITATION_FORMS = ("{}次", "{}", "{} 次", "{:,}次")
GLUED = ("own line", "glued to the sentence")  # how the note meets the last paragraph


@dataclass
class Variant:
    article: Article
    axes: dict[str, str] = field(default_factory=dict)


def _traditional(text: str, article: Article) -> str:
    if article.traditional:
        for simplified, traditional in TO_TRADITIONAL:
            text = text.replace(simplified, traditional)
    return text


def sample(rng: random.Random) -> Variant:
    article = rng.choice(ARTICLES)
    axes = {
        "encoding": rng.choice(ENCODINGS if article.traditional else ENCODINGS[:-1]),
        "line ends": rng.choice(list(LINE_ENDS)),
        "citation key": rng.choice(["被引量", "被引", "被引次数"]),
        "colon": rng.choice([":", "："]),
        "bar": rng.choice(["|", "｜"]),
        "header spaces": rng.choice(list(SPACES)),
        "missing fields": rng.choice(MISSING),
        "citations": rng.choice(CITATION_FORMS),
        "field order": "".join(rng.choice(list(itertools.permutations("scu")))),
        "note": rng.choice(list(NOTES)),
        "closing line": rng.choice(list(CLOSING)),
        "spacing": rng.choice(SPACINGS),
        "teasers": rng.choice(["on", "off"]),
        "note placement": rng.choice(GLUED),
    }
    return Variant(article, axes)


def render(v: Variant) -> tuple[bytes, dict[str, Any]]:
    """The page's bytes → and the row fields it must give."""
    a, ax = v.article, v.axes
    words = TRADITIONAL if a.traditional else SIMPLIFIED
    sp, colon = SPACES[ax["header spaces"]], ax["colon"]
    citations = ax["citations"].format(a.citations)
    fields = {
        "s": f"{words['source']}{sp}{colon}{sp}{a.source}",
        "c": f"{words[ax['citation key']]}{sp}{colon}{sp}{citations}",
        "u": f"{words['uploader']}{sp}{colon}{sp}{a.uploader}",
    }
    missing = ax["missing fields"]
    header = [fields[k] for k in ax["field order"] if k not in missing]
    want: dict[str, Any] = {
        "title": a.title,
        "source": None if "s" in missing else a.source,
        "citations": None if "c" in missing else a.citations,
        "uploader": None if "u" in missing else a.uploader,
    }
    lines = [a.title]
    if header:
        lines.append(f"{sp}{ax['bar']}{sp}".join(header))
    lines += [words["download"], words["notice"], words["marker"]]
    where, text, author = NOTES[ax["note"]]
    note = _traditional(text(a), a) if text else None
    want["author"] = _traditional(author(a), a) if author(a) is not None else None
    article = list(a.paragraphs)
    if where == "start":
        article.insert(0, note)
    elif where == "end" and ax["note placement"] == "glued to the sentence" and note[0] in "(（":
        article[-1] += note  # "……发展。（作者系X）"
    elif where == "end":
        article.append(note)
    closing = CLOSING[ax["closing line"]]
    if closing:
        article.append(_traditional(closing, a))
    want["body"] = "\n".join([*a.paragraphs, *([_traditional(closing, a)] if closing else [])])
    spacing = ax["spacing"]
    if spacing == "lines":
        lines += [f"  {p}" for p in article]
    elif spacing == "blank lines":
        lines += [x for p in article for x in (f"  {p}", "")]
    elif spacing == "indents":
        lines += [f"\u3000\u3000{p}" for p in article]
    else:
        run = {"glued by spaces": "  ", "glued by U+3000": "\u3000\u3000"}.get(spacing, "\xa0\xa0")
        lines.append("  " + run.join(article))
    teasers = list(a.teasers) if ax["teasers"] == "on" else []
    if teasers:
        lines += [words["heading"], *teasers]
    want["teasers"] = teasers
    text_out = LINE_ENDS[ax["line ends"]].join(lines) + LINE_ENDS[ax["line ends"]]
    encoding = ax["encoding"]
    if encoding == "utf-16-le-bom":
        return b"\xff\xfe" + text_out.encode("utf-16-le"), want
    if encoding == "utf-16-be-bom":
        return b"\xfe\xff" + text_out.encode("utf-16-be"), want
    return text_out.encode(encoding), want


def test_every_sampled_variant_parses_as_its_axes_say() -> None:
    rng = random.Random(13)
    failures: list[tuple[dict[str, str], list[str]]] = []
    seen: collections.Counter[tuple[str, str]] = collections.Counter()
    tried = 0
    while tried < PAGES:
        variant = sample(rng)
        try:
            data, want = render(variant)
        except UnicodeEncodeError:  # a character the encoding lacks (NBSP in GBK, …): skip
            continue
        tried += 1
        seen.update(variant.axes.items())
        try:
            row = parse_page(data, f"p{tried}").to_row()
        except Rejected as rej:
            failures.append((variant.axes, [f"rejected: {rej}"]))
            continue
        wrong = [k for k, v in want.items() if row[k] != v]
        if wrong:
            failures.append((variant.axes, wrong))
    if failures:
        failed = collections.Counter(pair for axes, _ in failures for pair in axes.items())
        rates = sorted(failed, key=lambda pair: failed[pair] / seen[pair], reverse=True)
        worst = ", ".join(f"{a}={v!r}: {failed[a, v]}/{seen[a, v]}" for a, v in rates[:8])
        first_axes, first_wrong = failures[0]
        raise AssertionError(
            f"{len(failures)}/{PAGES} pages wrong; axis values failing most often: {worst}; "
            f"first: fields {first_wrong} of {first_axes}"
        )
