"""The package's shape: modules import only from modules below them, and every file name of an
export is spelled in layout.py alone."""

from __future__ import annotations

import ast
from pathlib import Path

import corpus_export
from corpus_export import layout

PACKAGE = Path(corpus_export.__file__).parent
MODULES = {p.stem: p for p in sorted(PACKAGE.glob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """The package modules a module imports, anywhere in it (inside functions and
    `if TYPE_CHECKING:` blocks too): `from . import x` names module x, or the package
    (`__init__`) when x is not a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(a.name if a.name in MODULES else "__init__" for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "corpus_export":
                found.add(parts[1] if len(parts) > 1 else "__init__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "corpus_export":
                    found.add(parts[1] if len(parts) > 1 else "__init__")
    return found - {path.stem}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import cycle of graph (as the list of modules around it), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_imports_of_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from . import schema\ndef f():\n    from .build import x\n    from . import __version__\n",
        encoding="utf-8",
    )
    assert imports_of(module) == {"schema", "build", "__init__"}


def test_the_package_has_no_import_cycle() -> None:
    graph = {name: imports_of(path) for name, path in MODULES.items()}
    unknown = {f"{name} -> {dep}" for name, deps in graph.items() for dep in deps} - {
        f"{name} -> {dep}" for name, deps in graph.items() for dep in deps if dep in MODULES
    }
    assert not unknown, f"imports of modules that do not exist: {sorted(unknown)}"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_only_the_package_facade_imports_the_package() -> None:
    """`from . import __version__` would tie a module to __init__, which imports build."""
    users = sorted(name for name, path in MODULES.items() if "__init__" in imports_of(path))
    assert users == []


def _names() -> dict[str, str]:
    """layout's file and folder names: {value: constant}."""
    return {
        value: name
        for name, value in vars(layout).items()
        if name.isupper() and isinstance(value, str)
    }


def _docstrings(tree: ast.AST) -> set[int]:
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }


def spelled_names(source: str, names: dict[str, str]) -> list[tuple[int, str, str]]:
    """The string literals of source (docstrings aside) that spell one of layout's names:
    (line, literal, constant). A file name (it has a dot: "manifest.json", ".parts") counts
    alone or as the start of a path; a bare folder word ("hf", "data") only as the start of a
    path ("hf/data/"), since alone it is as often a protocol, a JSON key or a parameter."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if (
            not isinstance(node, ast.Constant)
            or not isinstance(node.value, str)
            or id(node) in skip
        ):
            continue
        for name, constant in names.items():
            alone = "." in name and node.value == name
            if alone or node.value.startswith(f"{name}/"):
                found.append((node.lineno, node.value, constant))
                break
    return found


def test_spelled_names_finds_a_second_spelling() -> None:
    names = _names()
    source = (
        '"""Reads manifest.json."""\n'
        'A = "manifest.json"\n'
        'B = f"hf/data/{x}"\n'
        'C = {"data": 1, "hf": 2}\n'
        'D = "see manifest.json"\n'
    )
    assert [(line, const) for line, _, const in spelled_names(source, names)] == [
        (2, "MANIFEST"),
        (3, "HF_DIR"),
    ]


def test_layout_spells_every_name_of_an_export_once() -> None:
    names = _names()
    assert {"corpus.parquet", "corpus.csv", "rejects.csv", "manifest.json", "hf", "CARD.md"} <= (
        set(names)
    )
    found = [
        f"{module}.py:{line}: {value!r} (layout.{constant})"
        for module, path in MODULES.items()
        if module != "layout"
        for line, value, constant in spelled_names(path.read_text(encoding="utf-8"), names)
    ]
    assert not found, "names spelled outside layout.py:\n" + "\n".join(found)


def test_layout_names_are_defined_once_in_layout() -> None:
    tree = ast.parse((PACKAGE / "layout.py").read_text(encoding="utf-8"))
    values = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]
    assert len(values) == len(set(values)), "two layout constants spell the same name"


def test_the_architecture_page_lists_every_module_below_what_it_imports() -> None:
    """docs/architecture.md's module table, read top to bottom, is a layering of the package:
    every module is in it, and each imports only modules in the rows above it."""
    doc = (PACKAGE.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = doc.split("## The modules, bottom up", 1)[1].split("\n## ", 1)[0]
    order = [line.split("`")[1] for line in table.splitlines() if line.startswith("| `")]
    assert sorted(order) == sorted(MODULES), "modules missing from (or unknown to) the page"
    for at, name in enumerate(order):
        above = set(order[:at])
        assert imports_of(MODULES[name]) <= above, (
            f"{name} imports {sorted(imports_of(MODULES[name]) - above)}, listed below it"
        )
