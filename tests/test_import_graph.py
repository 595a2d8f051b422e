"""The import graph of digest/, bot/ and adapters/: no cycles, and dependencies point one way.

The graph is read from the source with `ast`, so an import inside a function (the usual way to
hide a cycle) counts like any other. Imports under `if TYPE_CHECKING:` do not: they never run, and
they are how a module names a type (`Paperboy` in a handler's signature) of a module that needs it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("digest", "bot", "adapters")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if "migrations" in parts:  # Alembic scripts, loaded by Alembic
                continue
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported_names(module: str, tree: ast.AST) -> Iterator[tuple[str, int]]:
    """Every module name `module` imports at run time, with its line (whatever the nesting)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")
                if MODULES[module].name != "__init__.py":
                    package = package[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno  # `from bot import handlers` imports bot.handlers
        stack.extend(ast.iter_child_nodes(node))


def _project_module(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, dict[str, int]]:
    """{module: {imported project module: line}} for every module of the three packages."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in MODULES.items():
        edges: dict[str, int] = {}
        for name, line in _imported_names(module, ast.parse(path.read_text(encoding="utf-8"))):
            target = _project_module(name)
            if target is not None and target != module and not module.startswith(f"{target}."):
                edges.setdefault(target, line)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_itself_back_through_others():
    graph = import_graph()
    described = []
    for component in cycles(graph):
        edges = [f"{a} -> {b} (line {graph[a][b]})" for a in component for b in graph[a] if b in component]
        described.append("; ".join(edges))
    assert not described, "import cycles:\n" + "\n".join(described)


def test_the_cycle_check_finds_a_cycle_hidden_in_a_function():
    tree = ast.parse("def later():\n    from bot.app import Paperboy\n")
    assert ("bot.app.Paperboy", 2) in list(_imported_names("bot.handlers", tree))
    assert cycles({"a": {"b": 1}, "b": {"a": 2}, "c": {"a": 3}}) == [["a", "b"]]


def test_type_checking_imports_are_not_edges():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.app import Paperboy\n")
    assert [name for name, _ in _imported_names("bot.feed_watch", tree)] == ["typing.TYPE_CHECKING"]


@pytest.mark.parametrize("package, forbidden", [("digest", ("bot", "adapters"))])
def test_dependencies_point_from_adapters_to_bot_to_digest(package, forbidden):
    graph = import_graph()
    wrong = [f"{m} -> {t}" for m, edges in graph.items() if m.split(".")[0] == package
             for t in edges if t.split(".")[0] in forbidden]
    assert not wrong


def test_the_bot_loads_no_feature_module_by_name():
    """Feature modules register by being imported from `bot.features`, never through importlib."""
    for module, path in MODULES.items():
        if module.startswith("bot."):
            assert "import_module(" not in path.read_text(encoding="utf-8") or module == "bot.migrate", module
