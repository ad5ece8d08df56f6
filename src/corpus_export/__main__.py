"""`python -m corpus_export` → the CLI."""

from .cli import main

main()
