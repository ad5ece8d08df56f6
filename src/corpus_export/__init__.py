"""corpus_export: scraped Chinese article pages → a clean, validated, documented dataset."""

from __future__ import annotations

__version__ = "0.1.0"

from .build import BuildResult, build  # noqa: E402
from .errors import CorpusExportError, Reason, Rejected, ValidationError  # noqa: E402
from .parse import Page, parse_page  # noqa: E402

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
