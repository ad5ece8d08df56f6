"""`corpus-export push` and hub.push with huggingface_hub.HfApi mocked; no network."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

import corpus_export
from corpus_export import hub
from corpus_export.cli import cli
from corpus_export.errors import CorpusExportError

REPO = Path(__file__).resolve().parents[1]
REPO_ID = "me/chinese-articles"
HF_FILES = [
    "LICENSE.md",
    "README.md",
    "data/train-00000-of-00001.parquet",
    "images/body_chars.svg",
    "images/citations.svg",
    *(f"images/{n}.svg" for n in ("paragraph_count", "rejects", "teaser_count")),
    "images/top_sources.svg",
]


class FakeApi:
    """Records every call; stands in for huggingface_hub.HfApi."""

    instances: ClassVar[list[FakeApi]] = []
    remote_files: ClassVar[list[str]] = []
    fail_with: ClassVar[Exception | None] = None

    def __init__(self, token: str | None = None, **kwargs: Any) -> None:
        self.token = token
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        FakeApi.instances.append(self)

    def create_repo(self, *args: Any, **kwargs: Any) -> str:
        self.calls.append(("create_repo", args, kwargs))
        return f"https://huggingface.co/datasets/{args[0]}"

    def create_branch(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("create_branch", args, kwargs))

    def list_repo_files(self, *args: Any, **kwargs: Any) -> list[str]:
        self.calls.append(("list_repo_files", args, kwargs))
        return list(FakeApi.remote_files)

    def create_commit(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(("create_commit", args, kwargs))
        if FakeApi.fail_with is not None:
            raise FakeApi.fail_with

        class Info:
            commit_url = f"https://huggingface.co/datasets/{args[0]}/commit/abc123"

        return Info()


class NoApi:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("HfApi must not be created")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("hubbuild")
    raw = root / "raw"
    shutil.copytree(REPO / "raw", raw)
    corpus_export.build(raw, root / "dist", card_path=root / "CARD.md", workers=1, repo_id=REPO_ID)
    return raw, root / "dist"


@pytest.fixture
def dist(built: tuple[Path, Path], tmp_path: Path) -> Path:
    """A private copy of the built dist/ (tests may modify it)."""
    out = tmp_path / "dist"
    shutil.copytree(built[1], out)
    return out


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> type[FakeApi]:
    import huggingface_hub

    FakeApi.instances = []
    FakeApi.remote_files = []
    FakeApi.fail_with = None
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    return FakeApi


@pytest.fixture
def no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_push_makes_one_commit_with_every_hf_file(
    built: tuple[Path, Path], dist: Path, fake_api: type[FakeApi]
) -> None:
    raw = built[0]
    fake_api.remote_files = [
        ".gitattributes",
        "README.md",
        "data/train-00000-of-00002.parquet",
        "data/train-00001-of-00002.parquet",
    ]
    code, output = run(
        "push",
        REPO_ID,
        "--out",
        str(dist),
        "--raw",
        str(raw),
        "--private",
        "--revision",
        "v2",
        "--commit-message",
        "Rebuild",
        "--token",
        "hf_test",
    )
    assert code == 0, output
    [api] = fake_api.instances
    assert api.token == "hf_test"
    names = [c[0] for c in api.calls]
    assert names == ["create_repo", "create_branch", "list_repo_files", "create_commit"]
    assert api.calls[0][1:] == (
        (REPO_ID,),
        {"repo_type": "dataset", "private": True, "exist_ok": True},
    )
    assert api.calls[1][1:] == (
        (REPO_ID,),
        {"branch": "v2", "repo_type": "dataset", "exist_ok": True},
    )
    assert api.calls[2][2] == {"repo_type": "dataset", "revision": "v2"}
    _, args, kwargs = api.calls[3]
    assert args[0] == REPO_ID
    assert kwargs == {"commit_message": "Rebuild", "repo_type": "dataset", "revision": "v2"}
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    ops = list(args[1])
    adds = [op for op in ops if isinstance(op, CommitOperationAdd)]
    deletes = [op.path_in_repo for op in ops if isinstance(op, CommitOperationDelete)]
    assert [op.path_in_repo for op in adds] == HF_FILES
    for op in adds:
        assert Path(str(op.path_or_fileobj)) == dist / "hf" / op.path_in_repo
    # old shards of an earlier build would match data/train-* too: deleted in the same commit
    assert deletes == ["data/train-00000-of-00002.parquet", "data/train-00001-of-00002.parquet"]
    assert output.splitlines()[-1] == (
        f"pushed {len(HF_FILES)} file(s), "
        f"{sum((dist / 'hf' / f).stat().st_size for f in HF_FILES):,} bytes, to "
        "datasets/me/chinese-articles (v2): "
        "https://huggingface.co/datasets/me/chinese-articles/commit/abc123"
    )


def test_push_defaults_main_private_no_branch(
    built: tuple[Path, Path], dist: Path, fake_api: type[FakeApi], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_env")
    result = hub.push(dist, REPO_ID, stale=lambda: [])
    [api] = fake_api.instances
    assert api.token == "hf_env"
    assert [c[0] for c in api.calls] == ["create_repo", "list_repo_files", "create_commit"]
    assert api.calls[0][2]["private"] is True  # the card grants no licence: private by default
    assert api.calls[2][2]["revision"] == "main"
    assert api.calls[2][2]["commit_message"].startswith("Upload dataset built by corpus-export")
    assert [f.path_in_repo for f in result.files] == HF_FILES


def test_token_from_cached_login(
    dist: Path, fake_api: type[FakeApi], monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_cached")
    hub.push(dist, REPO_ID)
    assert fake_api.instances[0].token == "hf_cached"


def test_dry_run_lists_files_and_creates_no_api(
    built: tuple[Path, Path], dist: Path, monkeypatch: pytest.MonkeyPatch, no_token: None
) -> None:
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", NoApi)
    code, output = run("push", REPO_ID, "--out", str(dist), "--raw", str(built[0]), "--dry-run")
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].startswith(f"dry run: would upload {len(HF_FILES)} file(s)")
    plan = hub.plan(dist)
    assert lines[1:-3] == [f"  {f.path_in_repo}  {f.size:,} bytes  sha256:{f.sha256}" for f in plan]
    assert lines[-3] == (
        f"The card was built for datasets/{REPO_ID}: its loading lines read "
        f'load_dataset("{REPO_ID}") and hf://datasets/{REPO_ID}/data/.'
    )
    card = (dist / "hf" / "README.md").read_text(encoding="utf-8")
    assert f'load_dataset("{REPO_ID}", split="train")' in card and "OWNER/NAME" not in card
    assert [f.path_in_repo for f in plan] == HF_FILES
    assert lines[-2] == (  # what the push would do besides uploading, said before it is done
        "and would: create datasets/me/chinese-articles (private; --public makes it public) if it "
        "does not exist (one that "
        "does keeps its visibility); delete the files under data/ there that this list does not "
        "have (shards of an earlier build)."
    )
    assert lines[-1].startswith("Nothing was sent")
    code, output = run(
        "push", "--out", str(dist), "--raw", str(built[0]), "--dry-run", "--public",
        "--revision", "rebuild-2",
    )  # fmt: skip
    assert code == 0, output  # without REPO_ID: the repo the export was built for
    assert f"create datasets/{REPO_ID} (public)" in output
    assert "; create the branch rebuild-2 if missing;" in output


def test_no_token_exits_2_with_one_line(
    built: tuple[Path, Path], dist: Path, fake_api: type[FakeApi], no_token: None
) -> None:
    code, output = run("push", REPO_ID, "--out", str(dist), "--raw", str(built[0]))
    assert code == 2
    assert output == (
        "Error: no Hugging Face token: pass --token, set HF_TOKEN or run `hf auth login`\n"
    )
    assert fake_api.instances == []


@pytest.mark.parametrize("repo_id", ["bad id", "a/b/c", "me/na..me", "x-", "me/", "zh-articles"])
def test_bad_repo_id_exits_2(
    built: tuple[Path, Path], dist: Path, fake_api: type[FakeApi], repo_id: str
) -> None:
    code, output = run("push", repo_id, "--out", str(dist), "--raw", str(built[0]), "--token", "t")
    assert code == 2
    assert output.startswith(f"Error: invalid repo id {repo_id!r}: ")
    assert output.count("\n") == 1
    assert fake_api.instances == []


@pytest.mark.parametrize("shape", ["{}", "{}/", "./{}"])  # as typed, or as a shell completes it
def test_a_folder_given_as_the_repo_id_is_told_to_use_out(
    built: tuple[Path, Path],
    dist: Path,
    fake_api: type[FakeApi],
    monkeypatch: pytest.MonkeyPatch,
    shape: str,
) -> None:
    monkeypatch.chdir(dist.parent)
    folder = shape.format(dist.name)
    code, output = run("push", folder, "--raw", str(built[0]), "--dry-run")
    assert code == 2
    assert output == (
        f"Error: {folder!r} is a folder, not a repo id (OWNER/NAME): to push the export in "
        f"it, run `corpus-export push --out {folder}`\n"
    )
    assert fake_api.instances == []


def test_the_folder_hint_quotes_a_folder_name_for_the_shell(
    built: tuple[Path, Path], dist: Path, fake_api: type[FakeApi], monkeypatch: pytest.MonkeyPatch
) -> None:
    dist.rename(dist.with_name("my dist"))
    monkeypatch.chdir(dist.parent)
    code, output = run("push", "my dist", "--raw", str(built[0]), "--dry-run")
    assert code == 2
    assert output.endswith("run `corpus-export push --out 'my dist'`\n")


def test_a_repo_id_too_long_for_a_file_name_is_invalid(
    built: tuple[Path, Path], dist: Path, fake_api: type[FakeApi]
) -> None:
    """The folder test must not fail on a name the file system refuses (ENAMETOOLONG)."""
    repo_id = "a" * 5000
    code, output = run("push", repo_id, "--out", str(dist), "--raw", str(built[0]), "--dry-run")
    assert code == 2
    assert output.startswith(f"Error: invalid repo id {repo_id!r}: ")
    assert output.count("\n") == 1
    assert fake_api.instances == []


def test_stale_dist_exits_2(built: tuple[Path, Path], dist: Path, fake_api: type[FakeApi]) -> None:
    readme = dist / "hf" / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + "edited\n", encoding="utf-8")
    code, output = run("push", REPO_ID, "--out", str(dist), "--raw", str(built[0]), "--token", "t")
    assert code == 2
    assert output == (
        f"Error: {str(dist)!r} is stale (1 file(s) differ from a fresh build, "
        f"e.g. {dist}/hf/README.md): run `corpus-export build` first\n"
    )
    assert fake_api.instances == []


def test_missing_hf_folder_exits_2(
    built: tuple[Path, Path], dist: Path, fake_api: type[FakeApi]
) -> None:
    shutil.rmtree(dist / "hf")
    code, output = run("push", REPO_ID, "--out", str(dist), "--raw", str(built[0]), "--token", "t")
    assert code == 2
    assert output == (f"Error: no hf/ folder in {str(dist)!r}: run `corpus-export build` first\n")


def test_missing_raw_exits_2(dist: Path, tmp_path: Path, fake_api: type[FakeApi]) -> None:
    code, output = run(
        "push", REPO_ID, "--out", str(dist), "--raw", str(tmp_path / "nope"), "--token", "t"
    )
    assert code == 2
    assert output.startswith("Error: cannot check that ")
    assert output.count("\n") == 1


def test_hub_http_error_exits_2(
    built: tuple[Path, Path], dist: Path, fake_api: type[FakeApi]
) -> None:
    from types import SimpleNamespace

    from huggingface_hub.errors import HfHubHTTPError

    response = SimpleNamespace(headers={}, request=None, status_code=403)
    fake_api.fail_with = HfHubHTTPError("403 Forbidden: no write access\nmore", response=response)
    code, output = run("push", REPO_ID, "--out", str(dist), "--raw", str(built[0]), "--token", "t")
    assert code == 2
    assert output == (
        "Error: the Hub refused the push to 'me/chinese-articles': 403 Forbidden: no write access\n"
    )


def test_no_network_exits_2(built: tuple[Path, Path], dist: Path, fake_api: type[FakeApi]) -> None:
    import httpx2

    fake_api.fail_with = httpx2.ConnectError("[Errno -2] Name or service not known")
    code, output = run("push", REPO_ID, "--out", str(dist), "--raw", str(built[0]), "--token", "t")
    assert code == 2
    assert output == (
        "Error: cannot reach the Hub to push 'me/chinese-articles' (ConnectError: [Errno -2] "
        "Name or service not known); check the network or HF_ENDPOINT\n"
    )


def test_offline_mode_refuses(
    dist: Path, fake_api: type[FakeApi], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(CorpusExportError, match="HF_HUB_OFFLINE"):
        hub.push(dist, REPO_ID, token="t")
    assert fake_api.instances == []


@pytest.mark.hub
@pytest.mark.skipif(
    not os.environ.get("CORPUS_EXPORT_HUB_REPO"),
    reason="set CORPUS_EXPORT_HUB_REPO=namespace/name (and HF_TOKEN) to push",
)
def test_real_push(built: tuple[Path, Path]) -> None:  # pragma: no cover - needs the network
    from huggingface_hub import HfApi

    repo_id = os.environ["CORPUS_EXPORT_HUB_REPO"]
    result = hub.push(built[1], repo_id, private=True, revision="corpus-export-test")
    files = HfApi().list_repo_files(repo_id, repo_type="dataset", revision=result.revision)
    assert set(HF_FILES) <= set(files)


def test_push_refuses_an_export_built_for_another_repo(
    built: tuple[Path, Path], dist: Path, fake_api: type[FakeApi], tmp_path: Path
) -> None:
    code, output = run("push", "me/other", "--out", str(dist), "--raw", str(built[0]), "--dry-run")
    assert code == 2
    assert output == (
        f"Error: {str(dist)!r} was built for {REPO_ID!r}, so its card does not name "
        "'me/other': rebuild it with `corpus-export build --repo-id me/other`, then push\n"
    )
    # an export built without a repo id: its card says OWNER/NAME
    plain = tmp_path / "plain"
    corpus_export.build(built[0], plain, card_path=tmp_path / "CARD.md", workers=1)
    code, output = run("push", REPO_ID, "--out", str(plain), "--raw", str(built[0]), "--dry-run")
    assert code == 2
    assert "was built without a repo id" in output
    assert f"`corpus-export build --repo-id {REPO_ID}`" in output
    assert output.count("\n") == 1
    code, output = run("push", "--out", str(plain), "--raw", str(built[0]), "--dry-run")
    assert code == 2
    assert output.startswith("Error: ") and "--repo-id OWNER/NAME" in output
    assert output.count("\n") == 1
    assert fake_api.instances == []
