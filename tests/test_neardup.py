"""Near-duplicate bodies: found, rejected (or kept and listed), the same whoever builds."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import make_page, small_tasks
from test_build import tree_bytes

import corpus_export
from corpus_export import neardup
from corpus_export.cli import cli
from corpus_export.errors import REASON_DOCS, Reason

#: common characters of Chinese text, to make articles of their own
CHARS = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def article(seed: int, sentences: int = 60) -> list[str]:
    """Return an article of its own: sentences of 15-30 characters (~1,400 characters)."""
    rng = random.Random(seed)
    return ["".join(rng.choices(CHARS, k=rng.randint(15, 30))) + "。" for _ in range(sentences)]


def paragraphs(sentences: list[str], per: int = 6) -> tuple[str, ...]:
    return tuple("".join(sentences[i : i + per]) for i in range(0, len(sentences), per))


A = article(1)
B = article(2)
C = article(3)
TEASERS = ("相关文章一：" + A[0] + A[1], "相关文章二：" + A[2])  # excerpts of article A


def rejects_of(out: Path) -> dict[str, tuple[str, str]]:
    with (out / "rejects.csv").open(encoding="utf-8", newline="") as fh:
        return {r["id"]: (r["reason"], r["detail"]) for r in csv.DictReader(fh)}


def ids_of(out: Path) -> list[str]:
    import pyarrow.parquet as pq

    return pq.read_table(out / "corpus.parquet", columns=["id"]).column("id").to_pylist()


def write_pairs(raw: Path) -> None:
    """A corpus with known near-duplicates of article A, and pages that must not match it."""
    pages = {
        "a/001": make_page("基层治理的实践与思考", paragraphs=paragraphs(A), teasers=TEASERS),
        # one sentence rewritten (~2% of the text)
        "a/002": make_page("基层治理的实践与思考", paragraphs=paragraphs([*A[:30], B[0], *A[31:]])),
        # three sentences rewritten, in three places (~5%)
        "a/003": make_page(
            "基层治理实践与思考",
            paragraphs=paragraphs([*A[:10], B[1], *A[11:30], B[2], *A[31:50], B[3], *A[51:]]),
        ),
        # cut short: the last tenth gone
        "a/004": make_page("基层治理的实践与思考（节选）", paragraphs=paragraphs(A[:54])),
        # the same body under another title, header and teasers (a repost in another journal)
        "a/005": make_page(
            "论基层治理",
            source="支部建设",
            citations=9,
            uploader="other",
            paragraphs=paragraphs(A),
            teasers=("别的推荐",),
        ),
        # half the article rewritten: another article now
        "a/006": make_page("基层治理的实践与思考", paragraphs=paragraphs([*A[:30], *C[:30]])),
        # another article with A's header, boilerplate and teasers (excerpts of A)
        "b/001": make_page("基层治理的实践与思考", paragraphs=paragraphs(B), teasers=TEASERS),
        # another article whose teasers are all of A's sentences
        "b/002": make_page("另一篇文章", paragraphs=paragraphs(C), teasers=tuple(A)),
        # an exact copy of a near-duplicate: a duplicate, of the same fate
        "c/001": make_page("基层治理的实践与思考", paragraphs=paragraphs([*A[:30], B[0], *A[31:]])),
    }
    for name, text in pages.items():
        path = raw / f"{name}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


NEAR = {"a/002", "a/003", "a/004", "a/005", "c/001"}


def test_known_pairs_are_found_and_lookalikes_are_not(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "dist"
    write_pairs(raw)
    result = corpus_export.build(raw, out, workers=1)
    rejects = rejects_of(out)
    near = {k: v for k, v in rejects.items() if v[0] == "near_duplicate"}
    assert set(near) == NEAR
    for page, (_, detail) in near.items():
        assert detail.startswith("near-duplicate of 'a/001' (similarity "), (page, detail)
        assert float(detail.split("similarity ")[1].rstrip(")")) >= 0.8
    assert near["a/005"][1] == "near-duplicate of 'a/001' (similarity 1.00)"
    assert ids_of(out) == ["a/001", "a/006", "b/001", "b/002"]
    assert result.files_seen == result.rows + result.rejects == 9
    assert result.rejects_by_reason == {"near_duplicate": 5}
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    example = manifest["near_duplicates"]["example"]
    assert (example["kept"], example["near_duplicate"]) == ("a/001", "a/002")
    assert example["similarity"] >= 0.8
    assert manifest["near_duplicates"]["found"] == manifest["near_duplicates"]["removed"] == 5
    assert "5 near-duplicates (5 removed), e.g. 'a/002' of 'a/001'" in result.summary()
    card = (out / "hf" / "README.md").read_text(encoding="utf-8")
    assert "listed in `rejects.csv` as `near_duplicate`" in card
    assert "This build found 5 near-duplicate page(s), e.g. `a/002` of `a/001` (similarity" in card
    assert corpus_export.validate_export(out) == []


def test_keep_keeps_them_all_and_lists_the_clusters(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "dist"
    write_pairs(raw)
    (raw / "c" / "001.txt").unlink()  # (an exact copy stays a duplicate either way)
    result = corpus_export.build(raw, out, workers=1, near_dups="keep")
    assert result.rejects_by_reason == {}
    assert len(ids_of(out)) == result.rows == 8
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["near_dups"] == "keep"
    assert manifest["near_duplicates"]["found"] == 4
    assert manifest["near_duplicates"]["removed"] == 0
    assert manifest["near_duplicates"]["clusters"] == [
        {"kept": "a/001", "members": ["a/002", "a/003", "a/004", "a/005"]}
    ]
    assert "4 near-duplicates (all kept)" in result.summary()
    card = (out / "hf" / "README.md").read_text(encoding="utf-8")
    assert "kept (this build was made with `--near-dups keep`)" in card
    assert corpus_export.validate_export(out) == []


def test_the_threshold_sets_the_bar(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_pairs(raw)
    strict = corpus_export.build(
        raw, tmp_path / "strict" / "dist", workers=1, near_dup_threshold=0.99
    )
    near = {
        k for k, v in rejects_of(tmp_path / "strict" / "dist").items() if v[0] == "near_duplicate"
    }
    assert near == {"a/005"}  # the same body only (c/001 is a copy of a/002, now kept)
    assert strict.rejects_by_reason == {"near_duplicate": 1, "duplicate": 1}
    corpus_export.build(raw, tmp_path / "loose" / "dist", workers=1, near_dup_threshold=0.25)
    assert "a/006" in rejects_of(tmp_path / "loose" / "dist")  # half of it is A's


def test_cli_options_and_reason(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_pairs(raw)
    runner = CliRunner()
    out = str(tmp_path / "dist")
    done = runner.invoke(
        cli,
        [
            "build",
            "--raw",
            str(raw),
            "--out",
            out,
            "--workers",
            "1",
            "--near-dups",
            "keep",
            "--near-dup-threshold",
            "0.9",
        ],
    )
    assert done.exit_code == 0, done.output
    assert "near-duplicates (all kept)" in done.output
    manifest = json.loads((tmp_path / "dist" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"]["near_dup_threshold"] == 0.9
    # --check rebuilds with the settings the export was built with
    checked = runner.invoke(cli, ["build", "--check", "--raw", str(raw), "--out", out])
    assert checked.exit_code == 0, checked.output
    bad = runner.invoke(
        cli, ["build", "--raw", str(raw), "--out", out, "--near-dup-threshold", "0"]
    )
    assert bad.exit_code == 2
    reasons = runner.invoke(cli, ["reasons"])
    assert "near_duplicate" in reasons.output
    assert Reason.NEAR_DUPLICATE in REASON_DOCS
    datapackage = json.loads((tmp_path / "dist" / "datapackage.json").read_text(encoding="utf-8"))
    assert "near_duplicate" in json.dumps(datapackage)


def test_signatures_estimate_similarity() -> None:
    body = "".join(A)
    same = neardup.signature(body)
    assert same.dtype == np.uint32 and same.shape == (neardup.PERMUTATIONS,)
    assert (neardup.signature(body) == same).all()  # deterministic
    cut = neardup.signature("".join(A[:54]))
    other = neardup.signature("".join(B))
    assert np.mean(cut == same) >= 0.8
    assert np.mean(other == same) < 0.1
    assert not neardup.signature("短正文。").any()  # too short: not compared


def test_a_body_signs_alike_whatever_is_signed_with_it() -> None:
    # bodies are hashed a block of code points at a time: bodies across a block's end, one
    # longer than a block and short ones between them must sign as they do alone
    long = "".join(article(9, sentences=2 * neardup.HASH_BLOCK // 20))
    assert len(long) > neardup.HASH_BLOCK
    bodies = ["".join(article(10 + i, sentences=40 + i)) for i in range(30)]
    bodies[3:3] = [long, "短正文。", "x" * neardup.MIN_CHARS, "𠀀𠀁" * 40]
    together = neardup.signatures(bodies)
    for body, sig in zip(bodies, together, strict=True):
        assert (neardup.signature(body) == sig).all()
    assert not together[4].any() and together[5].any()
    assert (neardup.signatures(bodies[::-1])[::-1] == together).all()


def test_band_rows_follow_the_s_curve() -> None:
    assert neardup.band_rows(0.8) == 4
    assert neardup.candidate_odds(0.8, 0.8) >= 0.99
    assert neardup.candidate_odds(0.3, 0.8) < 0.1
    for t in (0.5, 0.7, 0.9, 0.95):
        assert neardup.candidate_odds(t, t) >= 0.99


def write_spread(raw: Path, head: str | None) -> None:
    """The head and its near-duplicate in different tasks, 2,100 short pages between them."""
    raw.mkdir(parents=True, exist_ok=True)
    for i in range(2100):  # short bodies: rows, never compared
        (raw / f"m{i:04d}.txt").write_text(make_page(f"标题{i}"), encoding="utf-8")
    if head is not None:
        (raw / "a001.txt").write_text(make_page("头", paragraphs=paragraphs(head)), "utf-8")
    (raw / "z001.txt").write_text(make_page("尾", paragraphs=paragraphs(A[:57])), "utf-8")


@pytest.mark.slow
@pytest.mark.usefixtures("trust_new_files")
def test_cached_rebuilds_follow_a_changed_head(tmp_path: Path) -> None:
    """Editing the kept head so it no longer matches makes its near-duplicate (in another task,
    whose files did not change) a row; putting it back, or removing it, as a cold build."""
    raw, cache = tmp_path / "raw", tmp_path / "cache"
    write_spread(raw, A)

    def both(step: str) -> dict[str, tuple[str, str]]:
        warm = tmp_path / "warm" / "dist"
        corpus_export.build(raw, warm, workers=2, cache_dir=cache)
        cold = tmp_path / step / "dist"
        corpus_export.build(raw, cold, workers=1)
        assert tree_bytes(warm.parent) == tree_bytes(cold.parent), step
        return rejects_of(warm)

    assert both("first")["z001"][0] == "near_duplicate"
    (raw / "a001.txt").write_text(make_page("头", paragraphs=paragraphs(C)), "utf-8")
    assert "z001" not in both("edited")
    (raw / "a001.txt").write_text(make_page("头", paragraphs=paragraphs(A)), "utf-8")
    assert both("restored")["z001"] == ("near_duplicate", both("again")["z001"][1])
    (raw / "a001.txt").unlink()
    assert "z001" not in both("removed")


@pytest.mark.slow
def test_the_same_export_for_one_or_two_workers(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_spread(raw, A)
    write_pairs(raw)
    one = corpus_export.build(raw, tmp_path / "one" / "dist", workers=1)
    corpus_export.build(raw, tmp_path / "two" / "dist", workers=2)
    assert one.rejects_by_reason["near_duplicate"] == 7  # a001 and z001 too
    assert tree_bytes(tmp_path / "one") == tree_bytes(tmp_path / "two")


@pytest.mark.dask
@pytest.mark.slow
def test_the_dask_engine_decides_alike(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    raw = tmp_path / "raw"
    write_pairs(raw)
    for i in range(600):  # several tasks
        (raw / f"d{i:04d}.txt").write_text(make_page(f"标题{i}"), encoding="utf-8")
    local = corpus_export.build(raw, tmp_path / "local" / "dist", workers=2)
    dask = corpus_export.build(raw, tmp_path / "dask" / "dist", engine="dask", workers=2)
    assert local.rejects_by_reason["near_duplicate"] == 5
    assert dask.summary() == local.summary()
    assert tree_bytes(tmp_path / "dask") == tree_bytes(tmp_path / "local")


def test_validate_raw_checks_near_duplicate_rejects(tmp_path: Path) -> None:
    from corpus_export.validate import raw_problems

    raw, out = tmp_path / "raw", tmp_path / "dist"
    write_pairs(raw)
    corpus_export.build(raw, out, workers=1)
    assert raw_problems(out, raw).problems == []
    # the kept page edited after the build: its near-duplicates no longer are
    (raw / "a" / "001.txt").write_text(
        make_page("基层治理的实践与思考", paragraphs=paragraphs(C)), encoding="utf-8"
    )
    problems = raw_problems(out, raw).problems
    assert any(
        p.startswith("id 'a/005': rejected as a near-duplicate of 'a/001' (similarity 1.00), but")
        for p in problems
    ), problems


@pytest.mark.usefixtures("trust_new_files")
def test_kept_rows_are_named_from_any_row_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rejects' details and the clusters name kept rows in the first, a middle and the last of
    many row groups (their ids are read from those row groups only), cached as cold."""
    small_tasks(monkeypatch, 16)
    raw, cache = tmp_path / "raw", tmp_path / "cache"
    raw.mkdir()
    for i in range(200):
        (raw / f"m{i:03d}.txt").write_text(make_page(f"标题{i}"), encoding="utf-8")
    pages = {
        "a000": make_page("头一", paragraphs=paragraphs(A)),
        "m100a": make_page("头二", paragraphs=paragraphs(B)),
        "m100b": make_page("头二b", paragraphs=paragraphs([*B[:30], C[0], *B[31:]])),
        "z001": make_page("头三", paragraphs=paragraphs(C)),
        "z002": make_page("头三b", paragraphs=paragraphs([*C[:30], A[1], *C[31:]])),
        "z003": make_page("头一b", paragraphs=paragraphs([*A[:30], B[2], *A[31:]])),
        "m199z": make_page("标题0"),  # an exact copy of the first row
        "z004": make_page("头三", paragraphs=paragraphs(C)),  # of a row in the last group
    }
    for name, text in pages.items():
        (raw / f"{name}.txt").write_text(text, encoding="utf-8")
    warm = tmp_path / "warm" / "dist"
    for _ in range(2):  # cold, then from the cache
        corpus_export.build(raw, warm, workers=2, near_dups="keep", cache_dir=cache)
        assert pq.ParquetFile(warm / "corpus.parquet").num_row_groups >= 12
        assert {k: v[1].split("'")[1] for k, v in rejects_of(warm).items()} == {
            "m199z": "m000",
            "z004": "z001",
        }
        manifest = json.loads((warm / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["near_duplicates"]["clusters"] == [
            {"kept": "a000", "members": ["z003"]},
            {"kept": "m100a", "members": ["m100b"]},
            {"kept": "z001", "members": ["z002"]},
        ]
    cold = tmp_path / "cold" / "dist"
    corpus_export.build(raw, cold, workers=1, near_dups="keep")
    assert tree_bytes(warm.parent) == tree_bytes(cold.parent)
