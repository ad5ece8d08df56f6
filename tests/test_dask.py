"""The Dask engine on a real LocalCluster gives the local engine's export, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_page
from test_build import tree_bytes, write_corpus

import corpus_export

pytest.importorskip("distributed")


@pytest.mark.dask
@pytest.mark.slow
def test_dask_export_equals_local_export(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_corpus(raw)
    for i in range(600):  # several batches, so several tasks on two worker processes
        sub = raw / f"d{i % 3}"
        sub.mkdir(exist_ok=True)
        (sub / f"{i:04d}.txt").write_text(make_page(f"标题{i}", citations=i), encoding="utf-8")
    local = corpus_export.build(raw, tmp_path / "local" / "dist", workers=2)
    dask = corpus_export.build(raw, tmp_path / "dask" / "dist", engine="dask")
    assert dask.summary() == local.summary()
    assert tree_bytes(tmp_path / "dask") == tree_bytes(tmp_path / "local")


@pytest.mark.dask
@pytest.mark.slow
def test_cli_dask_engine_reads_a_url(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from corpus_export.cli import cli

    raw = tmp_path / "raw"
    write_corpus(raw)
    local = corpus_export.build(raw, tmp_path / "local" / "dist", workers=1)
    out = tmp_path / "url" / "dist"
    result = CliRunner().invoke(
        cli,
        ["build", "--engine", "dask", "--workers", "1", "--raw", raw.as_uri(), "--out", str(out)],
    )  # --workers: the LocalCluster's
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith(local.summary())
    assert (out / "corpus.parquet").read_bytes() == (
        tmp_path / "local" / "dist" / "corpus.parquet"
    ).read_bytes()


def test_fifo_under_a_url_is_rejected_not_waited_for(tmp_path: Path) -> None:
    import os

    raw = tmp_path / "raw"
    write_corpus(raw)
    os.mkfifo(raw / "fifo.txt")
    result = corpus_export.build(raw.as_uri(), tmp_path / "dist", workers=1)
    assert result.rejects_by_reason["unreadable"] == 1
