"""The package's version (its own module, so that every module can import it from below)."""

__version__ = "0.1.0"
