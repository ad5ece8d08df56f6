"""corpus_export: scraped Chinese article pages → a clean, validated, documented dataset.

The Python API (docs/python-api.md): `build(raw, out)` writes an export and returns its
`BuildResult`; `parse_page(data)` and `parse_file(path)` turn one page into a `Page` or raise
`Rejected`; `explain_page(data)` gives each line of a page its `Role` and the rule that chose it;
`validate_export(folder)` lists what is wrong with an export.
"""

from __future__ import annotations

from .assemble import BuildResult
from .build import build
from .errors import CorpusExportError, Reason, Rejected, ValidationError
from .parse import LineRole, Page, Role, explain_page, parse_file, parse_page
from .validate import validate_export
from .version import __version__

__all__ = [
    "BuildResult",
    "CorpusExportError",
    "LineRole",
    "Page",
    "Reason",
    "Rejected",
    "Role",
    "ValidationError",
    "__version__",
    "build",
    "explain_page",
    "parse_file",
    "parse_page",
    "validate_export",
]
