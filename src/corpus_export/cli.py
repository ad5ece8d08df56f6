"""Command line → library calls. Exit: 0 ok, 1 a check failed, 2 bad input or setup, 130 Ctrl-C."""

from __future__ import annotations

import contextlib
import filecmp
import json
import os
import re
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from . import hub, remote
from . import parse as parse_module
from .assemble import BuildResult
from .build import build as run_build
from .engine import pyarrow_without_pandas
from .errors import REASON_DOCS, CorpusExportError, Rejected, ValidationError
from .layout import (
    CACHE_DIR,
    CARD,
    HF_DATA,
    HF_DIR,
    MANIFEST,
    OUT,
    RAW,
    REJECTS_CSV,
    REPORT,
    SCRATCH_PREFIX,
    TOOL,
    is_card,
)
from .neardup import DEFAULT_THRESHOLD, MODES
from .parse import explain_page, format_roles
from .places import file_url_path
from .process import process_file
from .pseudonym import KEY_ENV, PERSONAL, Pseudonyms, from_env
from .read import is_url, link_problem, listed_file, read_raw
from .report import DEFAULT_SAMPLE, write_report
from .schema import check_drop
from .validate import raw_problems, validate_export
from .version import __version__
from .write import DEFAULT_SHARD_BYTES

EXIT_CHECK_FAILED = 1
EXIT_SETUP = 2


class SetupError(click.ClickException):
    """A bad folder, token or setup: "Error: ..." and exit 2, like a usage error."""

    exit_code = EXIT_SETUP


EXIT_INTERRUPTED = 130


def _path_or_url(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """A path, or a URL kept as text (a file:// URL is its path)."""
    if value is None:
        return None
    if is_url(value):
        try:
            local = file_url_path(value)
        except CorpusExportError as exc:
            raise click.BadParameter(str(exc)) from None
        return value if local is None else local
    return Path(value)


def _card_default(out_dir: Path | str) -> Path | str:
    """CARD.md beside the out folder (a URL beside a URL)."""
    if isinstance(out_dir, str):
        card = remote.card_beside(out_dir)
        if card is None:
            raise SetupError(
                f"the out folder {out_dir!r} has no folder above it for CARD.md; pass --card"
            )
        return card
    return out_dir.parent / CARD


def _raw_option(f: Any) -> Any:
    return click.option(
        "--raw",
        "raw_dir",
        default=RAW,
        show_default=True,
        callback=_path_or_url,
        metavar="PATH|URL",
        help="Folder of raw pages (*.txt, *.txt.gz, searched recursively), "
        "or an fsspec URL such as s3://bucket/raw.",
    )(f)


def _out_option(f: Any) -> Any:
    return click.option(
        "--out",
        "out_dir",
        default=OUT,
        show_default=True,
        callback=_path_or_url,
        metavar="PATH|URL",
        help="Folder the exports are written to, or an fsspec URL such as s3://bucket/dist "
        "(built in a local temporary folder, then sent).",
    )(f)


def _export_option(f: Any) -> Any:
    return click.option(
        "--out",
        "out_dir",
        default=OUT,
        show_default=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="The export folder (a local folder).",
    )(f)


def _parse_size(text: str) -> int:
    """Parse a size such as 500MB, 2GiB or 1000000 (bytes); positive and finite."""
    units = {
        "": 1,
        "B": 1,
        "KB": 10**3,
        "MB": 10**6,
        "GB": 10**9,
        "TB": 10**12,
        "KIB": 2**10,
        "MIB": 2**20,
        "GIB": 2**30,
        "TIB": 2**40,
    }
    m = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)", text.strip())
    unit = m.group(2).upper() if m else ""
    if m is None or unit not in units:
        raise click.BadParameter(f"{text!r} is not a size like 500MB, 2GiB or 1000000")
    size = int(float(m.group(1)) * units[unit])
    if size <= 0:
        raise click.BadParameter(f"{text!r}: a shard size must be more than 0 bytes")
    return size


#: How this install runs the parser: `pip install .` compiles it (setup.py), -e keeps it Python.
PARSER_KIND = "Python" if (parse_module.__file__ or "").endswith(".py") else "compiled"


@click.group(
    epilog="Exit codes: 0 done (or the check passed); 1 a check failed (--strict with rejects, "
    "--check found OUT stale, validate found a problem, parse rejected the page); 2 bad input or "
    "set-up, told in one 'Error:' line; 130 interrupted by Ctrl-C (the previous export untouched)."
)
@click.version_option(
    __version__, prog_name=TOOL, message=f"%(prog)s, version %(version)s ({PARSER_KIND} parser)"
)
def cli() -> None:
    """Turn a folder of scraped article pages into a validated, documented dataset."""


@cli.command()
@_raw_option
@_out_option
@click.option(
    "--card",
    "card_path",
    callback=_path_or_url,
    metavar="PATH|URL",
    help="Where to write the dataset card  [default: CARD.md beside OUT]",
)
@click.option("--strict", is_flag=True, help="Exit 1 if any page was rejected.")
@click.option(
    "--check",
    is_flag=True,
    help="Rebuild in a temporary folder; exit 1 naming the files that differ from OUT.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes: the local engine's, or the Dask LocalCluster's (not with "
    "--scheduler)  [default: all cores]",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="Where pages are parsed: local processes or a Dask cluster.",
)
@click.option(
    "--scheduler",
    default=None,
    help="Dask scheduler address (tcp://HOST:8786); default: a LocalCluster.",
)
@click.option(
    "--shard-size",
    "shard_size",
    default=None,
    callback=lambda ctx, param, value: _parse_size(value) if value else None,
    help="Hub shard target size, in-memory Arrow bytes as push_to_hub counts them; shards are "
    "cut between row groups (512-2,048 pages, ~10 MB each), so one can be larger or smaller by "
    "up to a row group  "
    "[default: 500MB; with --check, the size OUT was built with]",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Incremental cache: notes on how OUT was made, so unchanged pages are taken from it  "
    "[default: .cache/corpus-export beside OUT (for a URL: in the current folder, with a copy "
    "of the export); safe to delete]",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Parse and encode every page; neither read nor write the cache.",
)
@click.option(
    "--repo-id",
    default=None,
    metavar="OWNER/NAME",
    help="The Hugging Face dataset repo the export is for: the card's loading lines name it and "
    "`push` accepts no other  [default: repo-id under [tool.corpus-export] in ./pyproject.toml; "
    "with --check, the repo id OUT was built for]",
)
@click.option(
    "--pseudonymize",
    "pseudonymize",
    multiple=True,
    type=click.Choice(PERSONAL),
    help=f"Replace this column's values (repeatable) by keyed pseudonyms, HMAC-SHA256 with the "
    f"secret key in ${KEY_ENV}: the same key gives the same pseudonyms in every build  "
    "[default: none; with --check, the columns OUT was built with]",
)
@click.option(
    "--drop",
    "drop",
    multiple=True,
    metavar="COLUMN",
    help="Leave this column (repeatable) out of every file of the export: Parquet, CSV, Hub "
    "shards, card, Data Package, Croissant; `id` stays  [default: none; with --check, the "
    "columns OUT was built without]",
)
@click.option(
    "--near-dups",
    "near_dups",
    type=click.Choice(MODES),
    default=None,
    help="Pages whose body is a near-duplicate of an earlier kept page's: reject them "
    "(reason near_duplicate) or keep them (OUT/manifest.json lists the clusters)  "
    "[default: reject; with --check, as OUT was built]",
)
@click.option(
    "--near-dup-threshold",
    "near_dup_threshold",
    type=click.FloatRange(min=0, max=1, min_open=True),
    default=None,
    help="Estimated similarity (Jaccard, MinHash of 5-character shingles of the body) from "
    f"which a page is a near-duplicate  [default: {DEFAULT_THRESHOLD}; with --check, as OUT was "
    "built]",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar, no summary.")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Name the files under RAW that are not pages (OUT/manifest.json lists them too).",
)
def build(
    raw_dir: Path | str,
    out_dir: Path | str,
    card_path: Path | str | None,
    strict: bool,
    check: bool,
    workers: int | None,
    engine: str,
    scheduler: str | None,
    shard_size: int | None,
    cache_dir: Path | None,
    no_cache: bool,
    repo_id: str | None,
    pseudonymize: tuple[str, ...],
    drop: tuple[str, ...],
    near_dups: str | None,
    near_dup_threshold: float | None,
    quiet: bool,
    verbose: bool,
) -> None:
    """Parse raw pages, validate them and write every export to OUT.

    Example: corpus-export build --raw raw --out dist --repo-id my-name/chinese-articles
    """
    repo_id = repo_id or _configured().get("repo-id")
    if repo_id is None and check:
        repo_id = _built_with(out_dir).get("repo_id")
    if not pseudonymize and check:
        pseudonymize = tuple(_built_with(out_dir).get("pseudonymize", ()))
    if not drop and check:
        drop = tuple(_built_with(out_dir).get("drop", ()))
    if shard_size:
        shard_bytes = shard_size
    elif check:
        shard_bytes = _built_with(out_dir).get("shard_bytes", DEFAULT_SHARD_BYTES)
    else:
        shard_bytes = DEFAULT_SHARD_BYTES
    card = card_path if card_path is not None else _card_default(out_dir)
    recorded: dict[str, Any] = _built_with(out_dir) if check else {}
    kwargs: dict[str, Any] = {
        "workers": workers,
        "engine": engine,
        "scheduler": scheduler,
        "shard_bytes": shard_bytes,
        "repo_id": repo_id,
        "pseudonyms": _pseudonyms(pseudonymize),
        "drop": _dropped(drop),
        "near_dups": near_dups or recorded.get("near_dups", "reject"),
        "near_dup_threshold": near_dup_threshold
        or recorded.get("near_dup_threshold", DEFAULT_THRESHOLD),
    }
    if check:  # never trusts a cache: the check must see what a cold build writes
        _check(raw_dir, out_dir, card, quiet, kwargs, strict)
        return
    if not no_cache and engine == "local":  # for a URL: beside this folder, holding a copy
        beside = out_dir.parent if isinstance(out_dir, Path) else Path()
        kwargs["cache_dir"] = cache_dir or beside / CACHE_DIR
    if engine == "local" and _STANDALONE:
        # This process (the script, not a host calling the CLI) never converts to pandas:
        # pyarrow need not load it (~0.25 s when rejects are written, ~48 MB).
        pyarrow_without_pandas()
    interrupted = _UNTOUCHED
    if isinstance(out_dir, str):  # sent file by file: some may be there, the manifest is last
        interrupted = (
            f"{out_dir}/ may hold some of the new files, but its {MANIFEST} is still the "
            "previous export's; build again to finish."
        )
    result = _run(
        lambda bar: run_build(raw_dir, out_dir, card_path=card, **bar, **kwargs),
        quiet,
        interrupted,
    )
    if _STANDALONE:  # written: a Ctrl-C now would only cut the summary short (and say it failed)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    if not quiet:
        hint = " (-v names them)" if result.ignored_files and not verbose else ""
        click.echo(result.summary() + hint)
        if verbose:
            for name in result.ignored_names:
                click.echo(f"  ignored: {name}")
            if result.ignored_files > len(result.ignored_names):
                click.echo(f"  and {result.ignored_files - len(result.ignored_names)} more")
        top = sorted({name.split("/")[0] for name in result.files} | {MANIFEST})
        shards = f"{len(result.shards)} shard{'s' if len(result.shards) > 1 else ''}"
        listed = ", ".join(f"{n}/ ({shards})" if n == HF_DIR else n for n in top)
        if result.sent is not None:
            sent = result.sent
            built = "nothing changed since the last build; " if result.unchanged else ""
            click.echo(
                f"sent {out_dir}/: {listed}; and {card} ({built}{sent.sent} file(s) sent, "
                f"{sent.bytes_sent:,} bytes of data; {sent.kept} already there; "
                f"{sent.removed} old file(s) removed)"
            )
        elif result.unchanged:
            click.echo(
                f"{out_dir}/ and {card} are up to date (nothing changed since they were built)"
            )
        else:
            click.echo(f"wrote {out_dir}/: {listed}; and {card}")
    if strict and result.rejects:
        click.echo(
            f"--strict: {result.rejects} page(s) rejected; see {out_dir}/{REJECTS_CSV}", err=True
        )
        sys.exit(EXIT_CHECK_FAILED)


_UNTOUCHED = "no export written; the previous one is untouched."


def _describe(exc: BaseException) -> str:
    """One line for an error the machine raised: what, and on which file."""
    if isinstance(exc, MemoryError):
        return "out of memory (or a memory limit such as ulimit -v)"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return str(exc)


#: seconds between the plain progress lines written when stderr is not a terminal (a log)
PLAIN_EVERY = 10.0


def _clock() -> float:
    return time.monotonic()


class PlainProgress:
    """Progress for a log: one line on stderr every PLAIN_EVERY seconds (none for short builds)."""

    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0
        self.last = _clock()

    def update(self, n: int) -> None:
        self.done += n
        now = _clock()
        if now - self.last >= PLAIN_EVERY and self.done < self.total:  # the summary says 100%
            self.last = now
            share = 100 * self.done / max(self.total, 1)
            click.echo(f"progress: {self.done:,}/{self.total:,} pages ({share:.0f}%)", err=True)

    def close(self) -> None:
        pass


def _run(call: Any, quiet: bool, interrupted: str = _UNTOUCHED) -> BuildResult:
    """Run a build with a progress bar on stderr (a plain line every PLAIN_EVERY seconds when
    stderr is not a terminal); turn known failures into messages and exit codes."""
    from tqdm import tqdm

    bar: Any = None

    def on_total(n: int) -> None:
        nonlocal bar
        if quiet:
            return
        if sys.stderr.isatty():  # the bar is drawn on stderr: it decides
            bar = tqdm(
                total=n,
                unit="page",
                unit_scale=True,
                dynamic_ncols=True,
                leave=False,
                file=sys.stderr,
            )
        else:
            bar = PlainProgress(n)

    def progress(n: int) -> None:
        if bar is not None:
            bar.update(n)

    try:
        return call({"progress": progress, "on_total": on_total})  # type: ignore[no-any-return]
    except CorpusExportError as exc:
        raise SetupError(str(exc)) from None
    except ValidationError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_CHECK_FAILED)
    except (OSError, MemoryError) as exc:  # what the machine refused: a limit, a full disk
        raise SetupError(f"the build failed: {_describe(exc)}; {interrupted}") from None
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
            bar = None
        click.echo(f"Interrupted: {interrupted}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        if bar is not None:
            bar.close()


def _check(
    raw_dir: Path | str,
    out_dir: Path | str,
    card: Path | str,
    quiet: bool,
    kwargs: dict[str, Any],
    strict: bool = False,
) -> None:
    stale, fresh = _stale_and_fresh(raw_dir, out_dir, card, kwargs)
    if stale:
        click.echo(
            f"stale: {len(stale)} file(s) differ from what {raw_dir}/ produces "
            "(run `corpus-export build`):",
            err=True,
        )
        for name in stale:
            click.echo(f"  {name}", err=True)
        sys.exit(EXIT_CHECK_FAILED)
    if not quiet:
        click.echo(f"{out_dir}/ and {card} are up to date with {raw_dir}/")
    if strict and fresh.rejects:
        click.echo(
            f"--strict: {fresh.rejects} page(s) rejected; see {out_dir}/{REJECTS_CSV}", err=True
        )
        sys.exit(EXIT_CHECK_FAILED)


def _built_with(out_dir: Path | str) -> dict[str, Any]:
    """Return the build settings recorded in OUT/manifest.json (so a check rebuilds alike)."""
    try:
        if isinstance(out_dir, str):
            manifest = remote.read_manifest(out_dir)
        else:
            manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
        settings = manifest["settings"]  # type: ignore[index]
        built: dict[str, Any] = {"shard_bytes": int(settings["shard_bytes"])}
        if isinstance(settings.get("repo_id"), str):
            built["repo_id"] = settings["repo_id"]
        made = settings.get("pseudonymize")
        if isinstance(made, dict) and made.get("columns"):
            built["pseudonymize"] = [str(c) for c in made["columns"]]
        if isinstance(settings.get("drop"), list) and settings["drop"]:
            built["drop"] = [str(c) for c in settings["drop"]]
        if settings.get("near_dups") in MODES:
            built["near_dups"] = settings["near_dups"]
        threshold = settings.get("near_dup_threshold")
        if isinstance(threshold, int | float) and 0 < threshold <= 1:
            built["near_dup_threshold"] = float(threshold)
        return built
    except (OSError, ValueError, KeyError, TypeError, AttributeError, CorpusExportError):
        return {}


def _pseudonyms(columns: tuple[str, ...] | list[str]) -> Pseudonyms | None:
    try:
        return from_env(columns)
    except CorpusExportError as exc:
        raise SetupError(str(exc)) from None


def _dropped(columns: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    try:
        return check_drop(columns)
    except CorpusExportError as exc:
        raise SetupError(str(exc)) from None


def _rebuild_kwargs(out_dir: Path | str) -> dict[str, Any]:
    """The build() arguments that rebuild OUT as it was built (its manifest's settings)."""
    built = _built_with(out_dir)
    built["pseudonyms"] = _pseudonyms(built.pop("pseudonymize", []))
    return built


#: the build's settings a project keeps in its pyproject.toml, under [tool.corpus-export]
CONFIG_FILE = "pyproject.toml"
CONFIG_KEYS = ("repo-id",)


def _configured() -> dict[str, str]:
    """Return [tool.corpus-export] of ./pyproject.toml ({} without one); a table that cannot
    be used is an Error."""
    import tomllib

    path = Path(CONFIG_FILE)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SetupError(f"{CONFIG_FILE} cannot be read: {exc}") from None
    table = data.get("tool", {}).get(TOOL, {})
    if not isinstance(table, dict):
        raise SetupError(f"{CONFIG_FILE}: [tool.{TOOL}] must be a table")
    for key, value in table.items():
        if key not in CONFIG_KEYS:
            raise SetupError(
                f"{CONFIG_FILE}: [tool.{TOOL}] has {key!r}; known keys: {', '.join(CONFIG_KEYS)}"
            )
        if not isinstance(value, str):
            raise SetupError(f"{CONFIG_FILE}: [tool.{TOOL}] {key} must be a string")
    return table


def stale_files(
    raw_dir: Path | str, out_dir: Path | str, card: Path | str | None, kwargs: dict[str, Any]
) -> list[str]:
    """Rebuild raw_dir in a temporary folder; return the files of out_dir (and card) that differ.

    out_dir and card may be URLs (their bytes are read and hashed)."""
    return _stale_and_fresh(raw_dir, out_dir, card, kwargs)[0]


def _stale_and_fresh(
    raw_dir: Path | str, out_dir: Path | str, card: Path | str | None, kwargs: dict[str, Any]
) -> tuple[list[str], BuildResult]:
    """stale_files, and the result of the rebuild it compared with."""
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}check-") as tmp:
        fresh = Path(tmp) / OUT
        fresh_card = Path(tmp) / CARD
        result = _run(
            lambda bar: run_build(raw_dir, fresh, card_path=fresh_card, **bar, **kwargs), quiet=True
        )
        if isinstance(out_dir, str):
            stale = _run_check(lambda: remote.differences(fresh, out_dir))
        else:
            stale = _differences(fresh, out_dir)
        if card is None or not fresh_card.exists():
            return stale, result
        if isinstance(card, str):
            same = _run_check(lambda: remote.same_bytes(fresh_card, card))
            missing = False
        else:
            missing = not card.exists()
            same = not missing and filecmp.cmp(fresh_card, card, False)
        if not same:
            stale.append(f"{card} (missing)" if missing else str(card))
    return stale, result


def _run_check(call: Any) -> Any:
    try:
        return call()
    except CorpusExportError as exc:
        raise SetupError(str(exc)) from None


def _differences(fresh: Path, out_dir: Path) -> list[str]:
    def files(root: Path) -> set[str]:
        return (
            {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
            if root.is_dir()
            else set()
        )

    want, have = files(fresh), files(out_dir)
    out: list[str] = []
    for rel in sorted(want | have):
        if rel not in have:
            out.append(f"{out_dir}/{rel} (missing)")
        elif rel not in want:
            out.append(f"{out_dir}/{rel} (not produced by a build)")
        elif not filecmp.cmp(fresh / rel, out_dir / rel, shallow=False):
            out.append(f"{out_dir}/{rel}")
    return out


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--raw",
    "raw_dir",
    default=RAW,
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The raw folder: a FILE inside it gets the id a build gives it.",
)
@click.option(
    "--explain",
    is_flag=True,
    help="First print every line of the page with its number, the role the parser gave it and "
    "the rule that decided (coloured on a terminal).",
)
def parse(file: Path, raw_dir: Path, explain: bool) -> None:
    """Print one page's row as JSON, or its reject reason (exit 1).

    Example: corpus-export parse --explain raw/000_bba07cf85f81785c.txt
    """
    root, rel = file.parent, file.name
    problem = None
    absolute = (Path(os.path.abspath(file)), Path(os.path.abspath(raw_dir)))  # noqa: PTH100
    for inside, raw in (absolute, (file.resolve(), raw_dir.resolve())):
        with contextlib.suppress(ValueError):  # outside raw/: the file's own name
            rel, root = inside.relative_to(raw).as_posix(), raw
            if inside is absolute[0]:  # named inside raw/: a link there is judged as a build does
                problem = link_problem(raw.resolve(), inside)
            break
    f = listed_file(root, rel, problem)  # stat-ed as a scan does: read_raw reads only that file
    if explain:
        with contextlib.suppress(Rejected):  # a page that cannot be read: its reject below
            roles = explain_page(read_raw(root, f).data)
            click.echo(format_roles(roles, color=sys.stdout.isatty()))
            click.echo()
    try:
        page, _ = process_file(root, f)
    except Rejected as rej:
        click.echo(
            json.dumps(
                {"id": f.id, "reason": str(rej.reason), "detail": rej.detail},
                ensure_ascii=False,
                indent=2,
            )
        )
        sys.exit(EXIT_CHECK_FAILED)
    click.echo(json.dumps(page.to_row(), ensure_ascii=False, indent=2))


@cli.command()
@click.argument("repo_id", required=False)
@_export_option
@_raw_option
@click.option(
    "--public/--private",
    default=False,
    help="Create the repo public, for anyone to read, or private (an existing repo keeps its "
    "visibility)  [default: private: the card grants no licence to the texts]",
)
@click.option(
    "--revision", default=None, help="Branch to commit to, created if missing  [default: main]"
)
@click.option("--commit-message", default=None, help="Commit message  [default: generated]")
@click.option(
    "--token",
    default=None,
    help="Hub token  [default: $HF_TOKEN, else the cached `hf auth login` token]",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="List the files, sizes and SHA-256 that would be uploaded; no network.",
)
def push(
    repo_id: str | None,
    out_dir: Path,
    raw_dir: Path | str,
    public: bool,
    revision: str | None,
    commit_message: str | None,
    token: str | None,
    dry_run: bool,
) -> None:
    """Upload OUT/hf/ to a Hugging Face dataset repo as one commit, if OUT is up to date.

    REPO_ID (OWNER/NAME) must be the repo OUT was built for (`build --repo-id`); without it,
    that repo.

    Example: corpus-export push my-name/chinese-articles
    """
    if repo_id is not None:
        try:
            hub.check_repo_id(repo_id, namespaced=True)
        except CorpusExportError as exc:
            # only an invalid id is taken for a folder ("dist", "dist/", "./dist")
            with contextlib.suppress(OSError, ValueError):  # a name too long for a path
                if Path(repo_id).is_dir():
                    raise SetupError(
                        f"{repo_id!r} is a folder, not a repo id (OWNER/NAME): to push the "
                        f"export in it, run `{TOOL} push --out {shlex.quote(repo_id)}`"
                    ) from None
            raise SetupError(str(exc)) from None
    if repo_id is None:
        repo_id = hub.built_for(out_dir)
        if repo_id is None:
            raise SetupError(
                f"{out_dir}/ was built without a repo id: rebuild it with "
                f"`{TOOL} build --repo-id OWNER/NAME`, then push"
            )

    def stale() -> list[str]:
        if isinstance(raw_dir, Path) and not raw_dir.is_dir():  # a URL is checked by the build
            raise CorpusExportError(
                f"cannot check that {out_dir}/ is up to date: no raw folder "
                f"{str(raw_dir)!r} (pass --raw)"
            )
        return stale_files(raw_dir, out_dir, None, _rebuild_kwargs(out_dir))

    try:
        result = hub.push(
            out_dir,
            repo_id,
            token=token,
            private=not public,
            revision=revision,
            commit_message=commit_message,
            dry_run=dry_run,
            stale=stale,
        )
    except CorpusExportError as exc:
        raise SetupError(str(exc)) from None
    if dry_run:
        click.echo(
            f"dry run: would upload {len(result.files)} file(s), {result.total_bytes:,} "
            f"bytes, to datasets/{repo_id} ({result.revision}) in one commit:"
        )
        for f in result.files:
            click.echo(f"  {f.path_in_repo}  {f.size:,} bytes  sha256:{f.sha256}")
        click.echo(
            f"The card was built for datasets/{repo_id}: its loading lines read "
            f'load_dataset("{repo_id}") and hf://datasets/{repo_id}/{HF_DATA}/.'
        )
        visibility = "public" if public else "private; --public makes it public"
        click.echo(
            f"and would: create datasets/{repo_id} ({visibility}) if it does not exist (one "
            "that does keeps its visibility)"
            + (f"; create the branch {result.revision} if missing" if revision else "")
            + f"; delete the files under {HF_DATA}/ there that this list does not have "
            "(shards of an earlier build)."
        )
        click.echo("Nothing was sent: the Hub, the token and its permissions were not checked.")
        return
    for name in result.deleted:
        click.echo(f"deleted {name} (not in this build)")
    click.echo(
        f"pushed {len(result.files)} file(s), {result.total_bytes:,} bytes, to "
        f"datasets/{repo_id} ({result.revision}): {result.commit_url}"
    )


@cli.command()
def reasons() -> None:
    """List the reject reason codes and what each means."""
    for reason, doc in REASON_DOCS.items():
        click.echo(f"{reason:<20} {doc}")


@cli.command("validate")
@click.argument("dist", default=OUT, required=False, type=click.Path(path_type=Path))
@click.option(
    "--card",
    "card_path",
    type=click.Path(path_type=Path),
    help="The export's card, which must equal DIST/hf/README.md (default: CARD.md beside DIST, "
    "when there is a card written by corpus-export).",
)
@click.option(
    "--raw",
    "raw_dir",
    type=click.Path(path_type=Path),
    help="Also parse the pages of this raw folder as a build would and compare the rows and "
    "rejects they give with the export's.",
)
@click.option(
    "--sample",
    type=click.IntRange(min=1),
    help="With --raw: parse only N pages, chosen by a hash of their ids seeded by the export "
    "(the same N pages each time for the same export).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="With --raw: processes parsing pages (default: one per CPU).",
)
def validate_command(
    dist: Path,
    card_path: Path | None,
    raw_dir: Path | None,
    sample: int | None,
    workers: int | None,
) -> None:
    """Re-check an existing export without rebuilding: its manifest, the table rules, and its
    files against each other (CSV, Hub shards, card and metadata from the rows); with --raw,
    its rows against the raw pages.

    Example: corpus-export validate dist --raw raw --sample 1000
    """
    if not dist.is_dir():
        what = "is not a folder" if dist.exists() else "does not exist"
        raise SetupError(f"export folder {str(dist)!r} {what} (run `corpus-export build`)")
    if sample is not None and raw_dir is None:
        raise SetupError("--sample N chooses raw pages to parse: it needs --raw RAW")
    card = card_path
    if card is None and is_card(dist.parent / CARD):  # a file of the user's is not ours
        card = dist.parent / CARD
    problems = validate_export(dist, card)
    checked = ""
    if raw_dir is not None and not problems:  # rows read from files already found sound
        try:
            found = raw_problems(dist, raw_dir, sample, workers or os.cpu_count() or 1)
        except CorpusExportError as exc:
            raise SetupError(str(exc)) from None
        problems += found.problems
        checked = f"; {found.checked} of {found.pages} raw pages give these rows and rejects"
    elif raw_dir is not None:
        problems.append(f"--raw {raw_dir}: not compared, as the export's own files disagree")
    if problems:
        click.echo(f"{dist}/: {len(problems)} problem(s):", err=True)
        for problem in problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(EXIT_CHECK_FAILED)
    counts = json.loads((dist / MANIFEST).read_text(encoding="utf-8"))["counts"]
    also = f", {card} == the card" if card is not None else ""
    click.echo(
        f"OK: {dist}/ matches its manifest ({counts['rows']} rows, {counts['rejects']} "
        "rejects; checksums, schema, table rules, CSV == Parquet, shards == Parquet, card and "
        f"metadata == the rows'{also}{checked})"
    )


@cli.command("diff")
@click.argument("old", callback=_path_or_url, metavar="OLD")
@click.argument("new", callback=_path_or_url, metavar="NEW")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="table: a summary line and the ids, for a terminal; csv or json: every change.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="--format table: list at most N rows and N rejects (0: the summary line only).",
)
def diff_command(old: Path | str, new: Path | str, fmt: str, limit: int) -> None:
    """Compare two exports (folders or fsspec URLs) row by row, by id.

    \b
    Rows added, removed and changed (with the fields that changed), and rejected files whose
    reason changed, appeared or disappeared. Both exports are streamed (their corpus.parquet
    and rejects.csv are sorted by id): memory stays flat however large they are.
    Exit 0 when they are equal, 1 when they differ, 2 on bad input (CI can gate on it).

    \b
    --format csv: one line per change, columns
      section     rows | rejects
      id          the row's id (rejects: the rejected file's id)
      change      added | removed | changed
      fields      rows changed: the fields that differ, joined by ';' (else empty)
      path        rejects: the file's path, as in rejects.csv (else empty)
      old_reason  rejects: the reason in OLD (empty: not rejected there)
      new_reason  rejects: the reason in NEW (empty: not rejected there)
    --format json: one object
      {"old": OLD, "new": NEW,
       "rows":    [{"id", "change", "fields": [...]}, ...],
       "rejects": [{"id", "path", "change", "old_reason", "new_reason"}, ...],
       "summary": {"added", "removed", "changed", "fields": {field: rows},
                   "rejects": [{"from", "to", "count"}, ...]},
       "equal": true|false}
      (a reason is null where the file was not rejected on that side).

    Example: corpus-export diff dist-old dist
    """
    import csv

    from .diff import CHANGED, MINUS, ExportDiff, RejectChange, RowChange

    try:
        d = ExportDiff(old, new)
        if fmt == "csv":
            out = csv.writer(sys.stdout, lineterminator="\n")
            out.writerow(("section", "id", "change", "fields", "path", "old_reason", "new_reason"))
            for row in d.rows():
                out.writerow(("rows", row.id, row.change, ";".join(row.fields), "", "", ""))
            for rej in d.rejects():
                reasons = (rej.old_reason or "", rej.new_reason or "")
                out.writerow(("rejects", rej.id, rej.change, "", rej.path, *reasons))
        elif fmt == "json":
            w = sys.stdout.write

            def dump(value: object) -> str:
                return json.dumps(value, ensure_ascii=False)

            w(f'{{"old": {dump(str(old))}, "new": {dump(str(new))},\n "rows": [')
            for i, row in enumerate(d.rows()):
                entry = {"id": row.id, "change": row.change, "fields": list(row.fields)}
                w(f"{',' if i else ''}\n  {dump(entry)}")
            w('\n ],\n "rejects": [')
            for i, rej in enumerate(d.rejects()):
                item: dict[str, Any] = {
                    "id": rej.id,
                    "path": rej.path,
                    "change": rej.change,
                    "old_reason": rej.old_reason,
                    "new_reason": rej.new_reason,
                }
                w(f"{',' if i else ''}\n  {dump(item)}")
            w(f'\n ],\n "summary": {dump(d.summary.as_dict())},\n')
            w(f' "equal": {dump(d.summary.equal)}}}\n')
        else:
            rows: list[RowChange] = []
            rejects: list[RejectChange] = []
            for row in d.rows():
                if len(rows) < limit:
                    rows.append(row)
            for rej in d.rejects():
                if len(rejects) < limit:
                    rejects.append(rej)
            s = d.summary
            click.echo(f"{old} → {new}: {s.line()}")
            mark = {"added": "+", "removed": MINUS, "changed": "~"}
            total = s.added + s.removed + s.changed
            if rows:
                click.echo("rows:")
            for row in rows:
                what = f"  {', '.join(row.fields)}" if row.change == CHANGED else ""
                click.echo(f"  {mark[row.change]} {row.id}{what}")
            if total > len(rows) and limit:
                click.echo(f"  … and {total - len(rows)} more")
            if rejects:
                click.echo("rejects:")
            for rej in rejects:
                moved = " → ".join(r for r in (rej.old_reason, rej.new_reason) if r)
                click.echo(f"  {mark[rej.change]} {rej.id}  {moved}")
            if sum(s.rejects.values()) > len(rejects) and limit:
                click.echo(f"  … and {sum(s.rejects.values()) - len(rejects)} more")
    except CorpusExportError as exc:
        sys.stdout.flush()
        raise SetupError(str(exc)) from None
    sys.exit(0 if d.summary.equal else EXIT_CHECK_FAILED)


@cli.command("report")
@click.argument("dist", default=OUT, required=False, type=click.Path(path_type=Path))
@click.option(
    "--raw",
    "raw_dir",
    default=RAW,
    show_default=True,
    type=click.Path(path_type=Path),
    help="The raw folder the export was built from (its pages are shown beside their rows).",
)
@click.option(
    "-o",
    "--output",
    "output",
    default=REPORT,
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The HTML file to write (outside DIST; a report written before is replaced).",
)
@click.option(
    "--sample",
    type=click.IntRange(min=0),
    default=DEFAULT_SAMPLE,
    show_default=True,
    help="Rows to show, chosen by a hash of their ids (the outliers are shown too); at most "
    "as many rejects are shown, taken from each reason in turn.",
)
def report_command(dist: Path, raw_dir: Path, output: Path, sample: int) -> None:
    """Write one self-contained HTML file to look at an export: the card's numbers, a sample of
    rows beside their raw pages (each line coloured by its role), rejects and near-duplicates.

    It opens from disk with no network; nothing is written into DIST.

    Example: corpus-export report dist --raw raw -o report.html
    """
    try:
        done = write_report(dist, raw_dir, output, sample)
    except CorpusExportError as exc:
        raise SetupError(str(exc)) from None
    size = output.stat().st_size
    click.echo(f"wrote {output} ({size / 1e6:.1f} MB): {done.summary()}")
    for note in done.notes[:10]:
        click.echo(f"  note: {note}", err=True)
    if len(done.notes) > 10:
        click.echo(f"  note: … and {len(done.notes) - 10} more (shown in the report)", err=True)


_STANDALONE = False  # set by main(): the process is the corpus-export script itself


def main() -> None:
    """Entry point of the `corpus-export` script."""
    global _STANDALONE
    _STANDALONE = True
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    cli()
