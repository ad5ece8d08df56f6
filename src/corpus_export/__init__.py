"""corpus_export: scraped Chinese article pages → a clean, validated, documented dataset."""

from __future__ import annotations

__version__ = "0.1.0"

from .build import BuildResult, build
from .errors import CorpusExportError, Reason, Rejected, ValidationError
from .parse import Page, parse_page

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
