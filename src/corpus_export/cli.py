"""Command line → library calls. Exit codes: 0 ok, 1 a check failed, 2 bad input or setup, 130 Ctrl-C."""

from __future__ import annotations

import filecmp
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from . import __version__
from .build import DEFAULT_SHARD_BYTES, BuildResult, build as run_build
from .errors import REASON_DOCS, CorpusExportError, Rejected, ValidationError

EXIT_CHECK_FAILED = 1
EXIT_SETUP = 2


class SetupError(click.ClickException):
    """A bad folder, token or setup: "Error: ..." and exit 2, like a usage error."""

    exit_code = EXIT_SETUP
EXIT_INTERRUPTED = 130


def _raw_option(f: Any) -> Any:
    return click.option("--raw", "raw_dir", default="raw", show_default=True,
                        type=click.Path(file_okay=False, path_type=Path),
                        help="Folder of raw pages (*.txt, *.txt.gz, searched recursively).")(f)


def _out_option(f: Any) -> Any:
    return click.option("--out", "out_dir", default="dist", show_default=True,
                        type=click.Path(file_okay=False, path_type=Path),
                        help="Folder the exports are written to.")(f)


def _parse_size(text: str) -> int:
    units = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20,
             "GIB": 2**30}
    t = text.strip().upper().replace(" ", "")
    num = t.rstrip("KMGIB")
    unit = t[len(num):]
    if not num or unit not in units:
        raise click.BadParameter(f"{text!r} is not a size like 500MB")
    return int(float(num) * units[unit])


@click.group()
@click.version_option(__version__, prog_name="corpus-export")
def cli() -> None:
    """Turn a folder of scraped article pages into a validated, documented dataset."""


@cli.command()
@_raw_option
@_out_option
@click.option("--card", "card_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the dataset card  [default: CARD.md beside OUT]")
@click.option("--strict", is_flag=True, help="Exit 1 if any page was rejected.")
@click.option("--check", is_flag=True,
              help="Rebuild in a temporary folder; exit 1 naming the files that differ from OUT.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes for the local engine  [default: all cores]")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local",
              show_default=True, help="Where pages are parsed: local processes or a Dask cluster.")
@click.option("--scheduler", default=None,
              help="Dask scheduler address (tcp://HOST:8786); default: a LocalCluster.")
@click.option("--shard-size", "shard_size", default="500MB", show_default=True,
              help="Hub shard size limit, counted in raw page bytes.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar, no summary.")
def build(raw_dir: Path, out_dir: Path, card_path: Path | None, strict: bool, check: bool,
          workers: int | None, engine: str, scheduler: str | None, shard_size: str,
          quiet: bool) -> None:
    """Parse raw pages, validate them and write every export to OUT.

    Example: corpus-export build --raw raw --out dist
    """
    shard_bytes = _parse_size(shard_size) if shard_size else DEFAULT_SHARD_BYTES
    card = card_path if card_path is not None else out_dir.parent / "CARD.md"
    kwargs: dict[str, Any] = {"workers": workers, "engine": engine, "scheduler": scheduler,
                              "shard_bytes": shard_bytes}
    if check:
        _check(raw_dir, out_dir, card, quiet, kwargs)
        return
    result = _run(lambda bar: run_build(raw_dir, out_dir, card_path=card, **bar, **kwargs),
                  quiet)
    if not quiet:
        click.echo(result.summary())
        click.echo(f"wrote {out_dir}/ ({', '.join(sorted(result.files))}) and {card}")
    if strict and result.rejects:
        click.echo(f"--strict: {result.rejects} page(s) rejected; see {out_dir}/rejects.csv",
                   err=True)
        sys.exit(EXIT_CHECK_FAILED)


def _run(call: Any, quiet: bool) -> BuildResult:
    """Run a build with a progress bar; turn known failures into messages and exit codes."""
    from tqdm import tqdm

    bar: tqdm[Any] | None = None
    show = not quiet and sys.stdout.isatty()

    def on_total(n: int) -> None:
        nonlocal bar
        if show:
            bar = tqdm(total=n, unit="page", unit_scale=True, dynamic_ncols=True, leave=False)

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
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
            bar = None
        click.echo("Interrupted: no export written; the previous one is untouched.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        if bar is not None:
            bar.close()


def _check(raw_dir: Path, out_dir: Path, card: Path, quiet: bool, kwargs: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(prefix="corpus-export-check-") as tmp:
        fresh = Path(tmp) / "dist"
        fresh_card = Path(tmp) / "CARD.md"
        _run(lambda bar: run_build(raw_dir, fresh, card_path=fresh_card, **bar, **kwargs),
             quiet=True)
        stale = _differences(fresh, out_dir)
        if fresh_card.exists() and not (card.exists() and filecmp.cmp(fresh_card, card, False)):
            stale.append(str(card))
    if stale:
        click.echo(f"stale: {len(stale)} file(s) differ from what {raw_dir}/ produces "
                   "(run `corpus-export build`):", err=True)
        for name in stale:
            click.echo(f"  {name}", err=True)
        sys.exit(EXIT_CHECK_FAILED)
    if not quiet:
        click.echo(f"{out_dir}/ and {card} are up to date with {raw_dir}/")


def _differences(fresh: Path, out_dir: Path) -> list[str]:
    def files(root: Path) -> set[str]:
        return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} \
            if root.is_dir() else set()

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
def parse(file: Path) -> None:
    """Print one page's row as JSON, or its reject reason (exit 1).

    Example: corpus-export parse raw/000_bba07cf85f81785c.txt
    """
    from .process import process_file
    from .read import RawFile, page_id

    f = RawFile(page_id(file.name), file.name)
    try:
        page, _ = process_file(file.parent, f)
    except Rejected as rej:
        click.echo(json.dumps({"id": f.id, "reason": str(rej.reason), "detail": rej.detail},
                              ensure_ascii=False, indent=2))
        sys.exit(EXIT_CHECK_FAILED)
    click.echo(json.dumps(page.to_row(), ensure_ascii=False, indent=2))


@cli.command()
def reasons() -> None:
    """List the reject reason codes and what each means."""
    for reason, doc in REASON_DOCS.items():
        click.echo(f"{reason:<20} {doc}")


def main() -> None:
    """Entry point of the `corpus-export` script."""
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    cli()
