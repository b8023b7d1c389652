"""The packages' import graph has no cycles: the node's shell (server/, node/) sits on the
runtime and the pure cores, and nothing below imports what is above it.

Read from the source with `ast`: every import that runs (module level or inside a
function), leaving out `if TYPE_CHECKING:` blocks, which only the type checker follows.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "tandemkv"
# The layers a cycle must not join. `testing` is left out: it drives all of them.
CHECKED = {"server", "node", "commands", "runtime", "protocol", "storage", "replication"}


def _part(module: str) -> str:
    """The top-level part of tandemkv a module belongs to (`node`, `runtime`...)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: list[str] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for statement in node.orelse:
                self.visit(statement)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [alias.name for alias in node.names if alias.name.startswith("tandemkv.")]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module == "tandemkv":
            self.found += [f"tandemkv.{alias.name}" for alias in node.names]
        elif module.startswith("tandemkv."):
            self.found.append(module)


def package_graph() -> dict[str, dict[str, str]]:
    """part -> {imported part: an example importing module}, for the CHECKED parts."""
    graph: dict[str, dict[str, str]] = {part: {} for part in CHECKED}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(SRC).with_suffix("").parts)
        source = _part(module)
        if source not in CHECKED:
            continue
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        for imported in visitor.found:
            target = _part(imported)
            if target in CHECKED and target != source:
                graph[source].setdefault(target, f"{module} imports {imported}")
    return graph


def find_cycle(graph: dict[str, dict[str, str]]) -> list[str]:
    """A cycle as the list of parts along it, or [] (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(part: str) -> list[str]:
        state[part] = 1
        path.append(part)
        for target in sorted(graph[part]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[part] = 2
        return []

    for part in sorted(graph):
        if part not in state and (cycle := visit(part)):
            return cycle
    return []


def test_the_shell_and_cores_import_without_cycles() -> None:
    graph = package_graph()
    cycle = find_cycle(graph)
    edges = [graph[a][b] for a, b in itertools.pairwise(cycle)]
    assert not cycle, "import cycle " + " -> ".join(cycle) + ":\n" + "\n".join(edges)


def test_the_layers_point_down() -> None:
    graph = package_graph()
    assert "server" not in graph["node"], graph["node"].get("server")
    assert not {"server", "node", "runtime"} & set(graph["commands"]), graph["commands"]
    assert "server" not in graph["runtime"] and "node" not in graph["runtime"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b": "x"}, "b": {"c": "y"}, "c": {"a": "z"}, "d": {}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": "x"}, "b": {}}) == []
