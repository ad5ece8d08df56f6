"""A build's hf/ folder → one commit to a Hugging Face dataset repo (or a dry-run plan)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .digest import sha256_file
from .errors import CorpusExportError
from .layout import HF_DATA, HF_DIR, HF_README, MANIFEST, TOOL
from .version import __version__

REPO_TYPE = "dataset"
DEFAULT_BRANCH = "main"
INSTALL_HINT = "pip install huggingface_hub"


@dataclass(frozen=True, slots=True)
class UploadFile:
    """One file of the hf/ folder: where it goes in the repo, its size and SHA-256."""

    path_in_repo: str
    local_path: Path
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class PushResult:
    """What a push did (or, for a dry run, would do)."""

    repo_id: str
    revision: str
    files: tuple[UploadFile, ...]
    deleted: tuple[str, ...] = ()
    commit_url: str | None = None

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError:
        raise CorpusExportError(f"huggingface_hub is not installed: {INSTALL_HINT}") from None
    return huggingface_hub


def check_repo_id(repo_id: str, *, namespaced: bool = False) -> None:
    """Raise CorpusExportError unless repo_id is a valid `namespace/name` (or, unless
    namespaced, `name`) (offline)."""
    if namespaced and repo_id.count("/") != 1:
        raise CorpusExportError(
            f"invalid repo id {repo_id!r}: give the dataset repo as OWNER/NAME (a user or "
            "organisation, a slash, the dataset's name)"
        )
    _hub()
    from huggingface_hub.errors import HFValidationError

    # public, but not in huggingface_hub.utils' __all__
    from huggingface_hub.utils import validate_repo_id  # type: ignore[attr-defined]

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        reason = (str(exc).splitlines() or ["not a repo id"])[0]
        reason = reason.removesuffix(f": {repo_id!r}.").removesuffix(f": {repo_id!r}")
        raise CorpusExportError(f"invalid repo id {repo_id!r}: {reason}") from None


def plan(out_dir: Path | str) -> list[UploadFile]:
    """Return the files of out_dir/hf/ to upload, sorted by path; touches no network."""
    hf = Path(out_dir) / HF_DIR
    if not hf.is_dir():
        raise CorpusExportError(
            f"no {HF_DIR}/ folder in {str(out_dir)!r}: run `corpus-export build` first"
        )
    files = sorted((p for p in hf.rglob("*") if p.is_file()), key=lambda p: p.as_posix())
    rels = [p.relative_to(hf).as_posix() for p in files]
    if HF_README not in rels or not any(r.startswith(f"{HF_DATA}/") for r in rels):
        raise CorpusExportError(
            f"{str(hf)!r} lacks README.md or {HF_DATA}/*.parquet: run `corpus-export build` first"
        )
    return [_upload_file(rel, p) for rel, p in zip(rels, files, strict=True)]


def built_for(out_dir: Path | str) -> str | None:
    """Return the repo id the export in out_dir was built for (its manifest's), None if none."""
    try:
        manifest = json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
        repo_id = manifest["settings"].get("repo_id")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return repo_id if isinstance(repo_id, str) else None


def check_built_for(out_dir: Path | str, repo_id: str) -> None:
    """Raise CorpusExportError unless the export in out_dir was built for repo_id: its card's
    loading lines and citation name the repo it was built for."""
    built = built_for(out_dir)
    if built == repo_id:
        return
    what = (
        f"was built for {built!r}"
        if built
        else "was built without a repo id (its card says OWNER/NAME where the repo goes)"
    )
    raise CorpusExportError(
        f"{str(out_dir)!r} {what}, so its card does not name {repo_id!r}: rebuild it with "
        f"`{TOOL} build --repo-id {repo_id}`, then push"
    )


def resolve_token(token: str | None = None) -> str:
    """Return the token: the argument, else HF_TOKEN, else the cached `hf auth login` token."""
    if token:
        return token
    env = os.environ.get("HF_TOKEN")
    if env:
        return env
    cached = _hub().get_token()
    if cached:
        return str(cached)
    raise CorpusExportError(
        "no Hugging Face token: pass --token, set HF_TOKEN or run `hf auth login`"
    )


def push(
    out_dir: Path | str,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool = True,
    revision: str | None = None,
    commit_message: str | None = None,
    dry_run: bool = False,
    stale: Callable[[], list[str]] | None = None,
) -> PushResult:
    """Upload out_dir/hf/ to the dataset repo repo_id as one commit; a dry run only plans it.

    The export must have been built for repo_id (`build --repo-id`): the card names it. A new
    repo is private unless private=False. `stale` returns the out_dir files that differ from a
    fresh build; any makes the push refuse.
    Remote files under data/ that the build no longer has (old shards) are deleted in the same
    commit, so the `data/train-*` pattern of the card never picks up leftovers.
    """
    check_repo_id(repo_id, namespaced=True)  # as `build --repo-id` was: nothing else matches
    files = plan(out_dir)
    check_built_for(out_dir, repo_id)
    if stale is not None:
        differ = stale()
        if differ:
            raise CorpusExportError(
                f"{str(out_dir)!r} is stale ({len(differ)} file(s) differ from a fresh build, "
                f"e.g. {differ[0]}): run `corpus-export build` first"
            )
    branch = revision or DEFAULT_BRANCH
    if dry_run:
        return PushResult(repo_id, branch, tuple(files))
    hub = _hub()
    from huggingface_hub import constants
    from huggingface_hub.errors import HfHubHTTPError

    tok = resolve_token(token)
    if constants.HF_HUB_OFFLINE:
        raise CorpusExportError("HF_HUB_OFFLINE is set: unset it to push to the Hub")
    message = commit_message or f"Upload dataset built by {TOOL} {__version__}"
    api = hub.HfApi(token=tok)
    try:
        api.create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True)
        if branch != DEFAULT_BRANCH:
            api.create_branch(repo_id, branch=branch, repo_type=REPO_TYPE, exist_ok=True)
        remote = api.list_repo_files(repo_id, repo_type=REPO_TYPE, revision=branch)
        keep = {f.path_in_repo for f in files}
        deleted = tuple(sorted(r for r in remote if r.startswith(f"{HF_DATA}/") and r not in keep))
        operations = [
            *(hub.CommitOperationDelete(path_in_repo=r) for r in deleted),
            *(
                hub.CommitOperationAdd(
                    path_in_repo=f.path_in_repo, path_or_fileobj=str(f.local_path)
                )
                for f in files
            ),
        ]
        info = api.create_commit(
            repo_id, operations, commit_message=message, repo_type=REPO_TYPE, revision=branch
        )
    except HfHubHTTPError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CorpusExportError(f"the Hub refused the push to {repo_id!r}: {first}") from None
    except _network_errors() as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CorpusExportError(
            f"cannot reach the Hub to push {repo_id!r} ({type(exc).__name__}: {first}); "
            "check the network or HF_ENDPOINT"
        ) from None
    return PushResult(repo_id, branch, tuple(files), deleted, getattr(info, "commit_url", None))


def _network_errors() -> tuple[type[BaseException], ...]:
    """Connection and timeout errors of the HTTP client huggingface_hub uses, whichever it is."""
    errors: list[type[BaseException]] = [OSError, TimeoutError]
    for module in ("httpx2", "httpx", "requests"):
        try:
            mod = __import__(module)
        except ImportError:
            continue
        for name in ("TransportError", "TimeoutException", "ConnectionError", "Timeout"):
            err = getattr(getattr(mod, "exceptions", mod), name, None) or getattr(mod, name, None)
            if isinstance(err, type) and issubclass(err, BaseException):
                errors.append(err)
    return tuple(errors)


def _upload_file(rel: str, path: Path) -> UploadFile:
    digest, size = sha256_file(path)
    return UploadFile(rel, path, size, digest)
