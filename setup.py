"""Build hook: compile the parser to C with mypyc when the package is installed (`pip install .`).

The project's metadata lives in pyproject.toml; this file only adds the compiled modules.

- `pip install .` (a wheel): parse.py and notes.py, the line-by-line work a build spends most of
  its CPU on, are compiled by mypyc (mypy's compiler for type-annotated Python). The same source,
  about 30% less CPU a page; the outputs are the same bytes (.ci/run checks it).
- `pip install -e .` (editable, for work on the code) keeps them as Python, so an edit takes
  effect at once: a compiled module beside its source would shadow every later edit.
- Without a C compiler, or if mypyc fails, the package installs as Python, with a warning (pip
  shows it with -v). mypy itself is a build requirement (pyproject.toml).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

COMPILED = ["src/corpus_export/parse.py", "src/corpus_export/notes.py"]
# the commands that build a wheel or an installed tree; not editable_wheel, egg_info, sdist
BUILDING = {"bdist_wheel", "build", "build_ext", "install"}


def warn(what: str, error: BaseException) -> None:
    print(f"corpus-export: {what} ({error}); the parser stays Python", file=sys.stderr)


def compiled_modules() -> list[Any]:
    if not BUILDING & set(sys.argv[1:]):
        return []
    try:
        from mypyc.build import mypycify

        return list(mypycify(COMPILED, opt_level="3", group_name="corpus_export"))
    except (Exception, SystemExit) as error:  # mypyc missing, or its type check failed
        warn("mypyc did not compile the parser", error)
        return []


class OptionalBuildExt(build_ext):
    """build_ext that leaves the modules as Python when the C compiler fails: all of them, since
    the compiled modules share one library."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:
            for path in self.get_outputs():
                Path(path).unlink(missing_ok=True)
            warn("the C compiler failed", error)


setup(ext_modules=compiled_modules(), cmdclass={"build_ext": OptionalBuildExt})
