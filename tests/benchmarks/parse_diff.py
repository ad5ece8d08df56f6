"""Differential check of the parser: record what it makes of many pages, compare a later version.

    python tests/benchmarks/parse_diff.py record OUT.pickle [--bench /tmp/bench3k]
    python tests/benchmarks/parse_diff.py compare OUT.pickle

`record` gathers the pages — tests/pages/*, raw/, the sweep's 3,000 sampled variants, seed
mutations, template soups and arbitrary bytes drawn as the property tests draw them, every page
the parser tests hand to parse_page (caught while they run), and the benchmark corpus if given —
and stores each page with the parser's outcome: the row (or the reject's reason and detail, or
the exception) and the explain roles. `compare` parses the same pages again and prints every
page whose outcome or roles differ (exit status 1), so a rewrite of the parser can be checked
to change nothing it does not mean to.
"""

from __future__ import annotations

import argparse
import gzip
import pickle
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from corpus_export import parse  # noqa: E402
from corpus_export.errors import Rejected  # noqa: E402

Case = tuple[str, bytes | str]  # (where the page comes from, its bytes or text)


def _file_cases(folder: Path, label: str) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(folder.rglob("*.txt*")):
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        cases.append((f"{label}/{path.relative_to(folder)}", data))
    return cases


def _sweep_cases() -> list[Case]:
    import random

    import test_sweep

    rng = random.Random(13)
    cases: list[Case] = []
    while len(cases) < test_sweep.PAGES:
        variant = test_sweep.sample(rng)
        try:
            data, _ = test_sweep.render(variant)
        except UnicodeEncodeError:
            continue
        cases.append((f"sweep/{len(cases)}", data))
    return cases


def _property_cases(examples: int) -> list[Case]:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from property import test_props

    cases: list[Case] = []
    props = settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=examples,
        suppress_health_check=list(HealthCheck),
    )

    def collect(label: str, strategy: Any) -> None:
        @props
        @given(strategy)
        def run(value: bytes | str) -> None:
            cases.append((f"{label}/{len(cases)}", value))

        run()

    collect("seed-mutation", test_props.seed_mutations())
    collect("soup", st.lists(test_props.template_line, max_size=25).map("\n".join))
    collect("bytes", st.binary(max_size=2000))
    collect("text", st.text(max_size=2000))
    return cases


def _test_cases() -> list[Case]:
    """Every page the parser tests hand to parse_page (or parse_text), caught while they run."""
    import pytest

    cases: list[Case] = []
    real_page, real_text = parse.parse_page, parse.parse_text

    def page(data: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(data, (bytes, str)):
            cases.append((f"test/{len(cases)}", data))
        return real_page(data, *args, **kwargs)

    class Catch:
        def pytest_collection_modifyitems(self, items: list[Any]) -> None:
            for item in items:
                module = getattr(item, "module", None)
                if module is not None and getattr(module, "parse_page", None) is real_page:
                    module.parse_page = page

    tests = [str(ROOT / "tests" / name) for name in ("test_parse.py", "test_pages.py")]
    try:
        pytest.main(
            ["-q", "-p", "no:cacheprovider", "-x", "--no-header", *tests], plugins=[Catch()]
        )
    finally:
        parse.parse_page, parse.parse_text = real_page, real_text
    return cases


def outcome(data: bytes | str) -> tuple[Any, Any]:
    """(the row or the reject or the exception, the explain roles or the exception)."""
    try:
        result: Any = ("row", parse.parse_page(data, "p", sha256="-").to_row())
    except Rejected as rej:
        result = ("rejected", str(rej.reason), rej.detail)
    except Exception as exc:
        result = ("error", type(exc).__name__, str(exc))
    try:
        roles: Any = [(r.line, r.text, str(r.role), r.rule) for r in parse.explain_page(data)]
    except Rejected as rej:
        roles = ("rejected", str(rej.reason), rej.detail)
    except Exception as exc:
        roles = ("error", type(exc).__name__, str(exc))
    return result, roles


def record(out: Path, bench: Path | None, examples: int) -> None:
    cases = _file_cases(ROOT / "tests" / "pages", "pages") + _file_cases(ROOT / "raw", "raw")
    cases += _sweep_cases() + _property_cases(examples) + _test_cases()
    if bench is not None:
        cases += _file_cases(bench, "bench")
    results = [(label, data, *outcome(data)) for label, data in cases]
    out.write_bytes(pickle.dumps(results))
    print(f"recorded {len(results)} pages to {out}")


def compare(path: Path, limit: int) -> int:
    results = pickle.loads(path.read_bytes())
    differ = 0
    for label, data, row, roles in results:
        new_row, new_roles = outcome(data)
        if new_row == row and new_roles == roles:
            continue
        differ += 1
        if differ <= limit:
            print(f"--- {label}")
            if new_row != row:
                print(f"  row was {row!r}\n  now     {new_row!r}")
            if new_roles != roles:
                old, new = roles, new_roles
                if isinstance(old, list) and isinstance(new, list):
                    for a, b in zip(old, new, strict=False):
                        if a != b:
                            print(f"  role was {a!r}\n  now      {b!r}")
                            break
                    if len(old) != len(new):
                        print(f"  {len(old)} roles were, {len(new)} now")
                else:
                    print(f"  roles were {old!r}\n  now        {new!r}")
    print(f"{differ} of {len(results)} pages differ")
    return 1 if differ else 0


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--bench", type=Path)
    rec.add_argument("--examples", type=int, default=500)
    cmp = sub.add_parser("compare")
    cmp.add_argument("recorded", type=Path)
    cmp.add_argument("--show", type=int, default=20)
    args = ap.parse_args()
    if args.command == "record":
        record(args.out, args.bench, args.examples)
    else:
        sys.exit(compare(args.recorded, args.show))


if __name__ == "__main__":
    main()
