"""A seed and a page count → a deterministic synthetic raw/ tree in the seed page's template.

Usage: python tests/benchmarks/gen_corpus.py OUT_DIR N [--seed S] [--workers W]

Every page is a pure function of (seed, index), so the same seed gives a byte-identical tree
whatever the number of worker processes. About 1% of the files are bad on purpose (empty,
binary, another site's page, no body, an exact copy of another page).
"""

from __future__ import annotations

import argparse
import gzip
import math
import multiprocessing as mp
import random
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SEED_PAGE = Path(__file__).resolve().parents[2] / "raw" / "000_bba07cf85f81785c.txt"
#: Pages per leaf folder; folders nest two deep: 00/00/0000000.txt.
PAGES_PER_DIR = 1000
#: Page sizes in bytes: log-normal around the median, clipped.
MEDIAN_BYTES = 9000
SIGMA = 0.55
MIN_BYTES, MAX_BYTES = 3000, 30000
#: Fraction of pages that are bad on purpose.
BAD_RATE = 0.01

# Template lines of the seed page.
READ_MARKER = "论文部分内容阅读"  # "read part of the paper"
TEASER_HEADING = "其他文献"  # "other articles"
DOWNLOAD_LINE = "下载到本地 , 更方便阅读"  # "download to read more easily"
DISCLAIMER_LINE = (
    "声明 : 本文档内容版权归属内容提供方 , 如果您对本文有版权争议 , 可与客服联系进行内容授权或下架"
)
INDENT = "  "

JOURNALS = (
    "党员生活",
    "湖北日报",
    "中国党政干部论坛",
    "求是",
    "人民论坛",
    "学习月刊",
    "政策",
    "领导科学",
    "中国行政管理",
    "理论月刊",
    "江汉论坛",
    "新长征",
    "共产党员",
    "支部生活",
    "当代贵州",
    "前进",
    "党建",
    "紫光阁",
    "秘书工作",
    "中国纪检监察",
    "乡镇论坛",
    "农村工作通讯",
    "中国民政",
    "社会治理",
    "党政论坛",
    "实践",
    "奋斗",
    "新湘评论",
    "当代江西",
    "湖南教育",
    "中国教育报",
    "科技创新导报",
    "中国科技信息",
    "现代经济信息",
    "商业文化",
    "经济师",
    "中国集体经济",
    "青年与社会",
    "大众文艺",
    "文学教育",
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋"
PLACES = (
    "武汉市",
    "宜昌市",
    "十堰市",
    "恩施州",
    "襄阳市",
    "黄冈市",
    "荆州市",
    "孝感市",
    "洪山区",
    "汉阳区",
    "夷陵区",
    "竹山县",
    "张湾区",
    "江夏区",
)
ORGS = (
    "区委",
    "县委组织部",
    "市委党校",
    "街道党工委",
    "发改局",
    "社区党委",
    "镇政府",
    "市委政研室",
    "民政局",
    "大学马克思主义学院",
)
ROLES = ("书记", "副书记", "部长", "主任", "副主任", "干部", "教授", "副教授", "讲师", "科员")
# Words of the template that must not appear inside generated prose.
RESERVED = (
    "来源",
    "被引量",
    "上传用户",
    "声明",
    "下载到本地",
    "论文部分内容阅读",
    "其他文献",
    "作者",
    "版权",
)
# Fullwidth punctuation is data here.
_SPLIT = re.compile(r"[，,。、;；:：“”\"（）()—…！!？?\s《》·|/]+")
_PHRASE = re.compile(r"[\u4e00-\u9fff0-9]+")
CLAUSE_PUNCT = ",,,，、;"
SENTENCE_PUNCT = "。。。。！？"


@dataclass(frozen=True, slots=True)
class Vocab:
    phrases: tuple[str, ...]  # clauses of the seed page, as written
    words: tuple[str, ...]  # 2-3 character pieces of them, recombined into new clauses
    uploaders: tuple[str, ...]


@lru_cache(maxsize=1)
def load_vocab() -> Vocab:
    """Build the vocabulary from the seed page's clauses (same seed page → same vocabulary)."""
    text = SEED_PAGE.read_text(encoding="utf-8")
    phrases = sorted(
        {
            p
            for p in _SPLIT.split(text)
            if 2 <= len(p) <= 30
            and _PHRASE.fullmatch(p)
            and not any(r in p for r in RESERVED)
            and not p.isdigit()
        }
    )
    words: set[str] = set()
    for p in phrases:
        i = 0
        while i < len(p):
            n = 2 + (i * 7 + len(p)) % 2  # 2 or 3 characters, fixed by position
            w = p[i : i + n]
            if len(w) >= 2 and not any(r in w for r in RESERVED):
                words.add(w)
            i += n
    rng = random.Random(0)
    letters = "abcdefghjkmnpqrstuvwxyz"
    uploaders = tuple(
        "".join(rng.choices(letters, k=rng.randint(1, 3))) + str(rng.randint(10**5, 10**9))
        for _ in range(3000)
    )
    return Vocab(tuple(phrases), tuple(sorted(words)), uploaders)


def clause(rng: random.Random, v: Vocab) -> str:
    if rng.random() < 0.3:
        return rng.choice(v.phrases)
    return "".join(rng.choices(v.words, k=rng.randint(2, 6)))


def sentence(rng: random.Random, v: Vocab) -> str:
    parts = [clause(rng, v) for _ in range(rng.randint(1, 4))]
    out = parts[0]
    for p in parts[1:]:
        out += rng.choice(CLAUSE_PUNCT) + p
    if rng.random() < 0.08:
        out = f"“{out}”"
    return out + rng.choice(SENTENCE_PUNCT)


def paragraph(rng: random.Random, v: Vocab, chars: int) -> str:
    out = ""
    while len(out) < chars:
        out += sentence(rng, v)
    return out


def person(rng: random.Random, v: Vocab) -> str:
    given = rng.choice(v.words)[: rng.randint(1, 2)]
    return rng.choice(SURNAMES) + given


def affiliation(rng: random.Random) -> str:
    return rng.choice(PLACES) + rng.choice(ORGS) + rng.choice(ROLES)


def author_parts(rng: random.Random, v: Vocab) -> tuple[str | None, str | None]:
    """Return (byline first paragraph, author note last paragraph); either may be None."""
    r = rng.random()
    if r < 0.35:
        return None, f"(作者系{affiliation(rng)})"
    if r < 0.50:
        return None, f"（作者为{affiliation(rng)}）"
    if r < 0.60:
        return None, f"(作者单位:{rng.choice(PLACES)}{rng.choice(ORGS)})"
    if r < 0.70:
        return None, f"作者：{person(rng, v)}"
    if r < 0.82:
        return f"文/{person(rng, v)}", None
    return None, None  # no author at all


def teaser(rng: random.Random, v: Vocab) -> str:
    # Teasers are cut-off article starts whose paragraph breaks became runs of spaces.
    pieces = [paragraph(rng, v, rng.randint(30, 90)) for _ in range(rng.randint(1, 3))]
    text = INDENT.join(pieces)
    return text[: rng.randint(100, 160)]


def page_text(rng: random.Random, v: Vocab, *, with_body: bool = True) -> str:
    """Return one well-formed page (LF newlines) of about the drawn size."""
    target = int(min(MAX_BYTES, max(MIN_BYTES, rng.lognormvariate(math.log(MEDIAN_BYTES), SIGMA))))
    title = "".join(rng.choices(v.words, k=rng.randint(4, 9)))
    citations = 0 if rng.random() < 0.6 else int(rng.expovariate(0.15))
    meta = (
        f"来源 :{rng.choice(JOURNALS)} | 被引量 : {citations}次 | "
        f"上传用户:{rng.choice(v.uploaders)}"
    )
    head = [title, "", meta, DOWNLOAD_LINE, DISCLAIMER_LINE, READ_MARKER]
    teasers = [teaser(rng, v) for _ in range(rng.randint(3, 10))] if rng.random() < 0.85 else []
    tail = [TEASER_HEADING, *teasers] if teasers else []
    used = sum(len(s.encode()) + 1 for s in head + tail)
    body_chars = max(60, (target - used) // 3)  # CJK is 3 bytes a character in UTF-8
    byline, note = author_parts(rng, v)
    paras: list[str] = []
    if with_body:
        if byline:
            paras.append(byline)
        left = body_chars
        while left > 0:
            n = min(left, rng.randint(80, 600))
            p = paragraph(rng, v, n)
            paras.append(p)
            left -= len(p)
        if note:
            paras.append(note)
    lines = head + [INDENT + p for p in paras] + tail
    return "\n".join(lines) + "\n"


def other_site(rng: random.Random, v: Vocab) -> str:
    """A page scraped from another site: no header, no markers."""
    if rng.random() < 0.5:
        body = "".join(f"<p>{sentence(rng, v)}</p>" for _ in range(rng.randint(3, 20)))
        return f"<!DOCTYPE html><html><head><title>首页</title></head><body>{body}</body></html>\n"
    lines = [clause(rng, v), "", *(paragraph(rng, v, 200) for _ in range(rng.randint(2, 8)))]
    return "\n".join(lines) + "\n"


def page_rng(seed: int, index: int) -> random.Random:
    return random.Random(seed * 1_000_003 + index)


def is_bad(seed: int, index: int) -> bool:
    return page_rng(seed, index).random() < BAD_RATE


def encode(rng: random.Random, text: str) -> tuple[bytes, bool]:
    """Encode a page as the scrapers left them → (bytes, gzip it)."""
    r = rng.random()
    if r < 0.03:
        return text.replace("\n", "\r\n").encode("utf-8"), False
    if r < 0.06:
        return "\ufeff".encode() + text.encode("utf-8"), False
    if r < 0.09:
        return text.encode("gb18030"), False
    return text.encode("utf-8"), r < 0.12


def gen_page(seed: int, index: int) -> tuple[bytes, bool]:
    """Return page `index` of the corpus of `seed` → (file bytes before gzip, gzip it)."""
    rng = page_rng(seed, index)
    v = load_vocab()
    if rng.random() >= BAD_RATE:
        return encode(rng, page_text(rng, v))
    kind = rng.randrange(5)
    if kind == 0:
        return (b"" if rng.random() < 0.5 else b" \n\n  \n"), False
    if kind == 1:
        return rng.randbytes(rng.randint(100, 5000)) + b"\x00", False
    if kind == 2:
        return other_site(rng, v).encode("utf-8"), False
    if kind == 3:
        return page_text(rng, v, with_body=False).encode("utf-8"), False
    # An exact copy of an earlier good page's bytes (as the scraper saved it twice).
    other = max(0, index - rng.randint(1, 500))
    while other > 0 and is_bad(seed, other):
        other -= 1
    return gen_page(seed, other) if not is_bad(seed, other) else (b"", False)


def page_path(index: int) -> str:
    return f"{index // 100_000:02d}/{index // PAGES_PER_DIR % 100:02d}/{index:07d}.txt"


def write_range(out: str, seed: int, start: int, stop: int) -> int:
    """Write pages [start, stop) under out; return the bytes written."""
    root = Path(out)
    total = 0
    for i in range(start, stop):
        data, gz = gen_page(seed, i)
        path = root / page_path(i)
        if gz:
            data = gzip.compress(data, compresslevel=6, mtime=0)
            path = path.with_name(path.name + ".gz")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        total += len(data)
    return total


def generate(out: Path, n: int, seed: int = 0, workers: int | None = None) -> int:
    """Write n pages under out (which must not hold pages yet); return the bytes written."""
    out.mkdir(parents=True, exist_ok=True)
    ranges = [(str(out), seed, s, min(n, s + PAGES_PER_DIR)) for s in range(0, n, PAGES_PER_DIR)]
    workers = workers or mp.cpu_count()
    if workers <= 1 or len(ranges) <= 1:
        return sum(write_range(*r) for r in ranges)
    with mp.get_context("fork").Pool(workers) as pool:
        return sum(pool.starmap(write_range, ranges, chunksize=1))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args(argv)
    if args.out_dir.exists() and any(args.out_dir.iterdir()):
        sys.exit(f"error: {args.out_dir} is not empty")
    total = generate(args.out_dir, args.n, args.seed, args.workers)
    print(f"wrote {args.n} pages ({total / 1e6:.1f} MB) to {args.out_dir}")


if __name__ == "__main__":
    main()
