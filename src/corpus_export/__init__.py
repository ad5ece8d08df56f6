"""corpus_export: scraped Chinese article pages → a clean, validated, documented dataset."""

from __future__ import annotations

from .assemble import BuildResult
from .build import build
from .errors import CorpusExportError, Reason, Rejected, ValidationError
from .parse import Page, parse_page
from .version import __version__

__all__ = [
    "BuildResult",
    "CorpusExportError",
    "Page",
    "Reason",
    "Rejected",
    "ValidationError",
    "__version__",
    "build",
    "parse_page",
]
