"""docs/architecture.md draws the packages and who imports whom; this keeps the drawing true.

import-linter (`lint-imports`, run by `make test`) enforces the layers; this test checks that the
picture a newcomer reads is the import graph of the code as it is, edge for edge, and that the
packages import one another without a cycle.
"""

from __future__ import annotations

import graphlib
import re
from pathlib import Path

import grimp

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
EDGE = re.compile(r"^\s*(\w+)\s*-->\s*(\w+)\s*$")


# The small modules at the bottom are drawn as one node.
FOUNDATION = {"errors", "checkout", "units", "tables", "promapi", "npm_vendor"}


def _package(module: str) -> str:
    package = module.split(".")[1] if "." in module else module
    return "foundation" if package in FOUNDATION else package


def import_graph() -> set[tuple[str, str]]:
    graph = grimp.build_graph("airscope")
    edges = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            source, target = _package(module), _package(imported)
            if source != target and "airscope" not in (source, target):
                edges.add((source, target))
    return edges


def drawn_graph() -> set[tuple[str, str]]:
    block = DOC.read_text().split("<!-- import graph -->", 1)[1].split("```", 2)[1]
    return {match.groups() for line in block.splitlines() if (match := EDGE.match(line))}


def test_the_drawn_import_graph_is_the_code_s():
    actual, drawn = import_graph(), drawn_graph()
    assert not actual - drawn, f"imports the drawing lacks: {sorted(actual - drawn)}"
    assert not drawn - actual, f"drawn imports the code does not have: {sorted(drawn - actual)}"


def test_the_packages_import_one_another_without_a_cycle():
    graph = grimp.build_graph("airscope")
    imports: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            source, target = module.split(".")[1:2], imported.split(".")[1:2]
            if source and target and source != target:
                imports.setdefault(source[0], set()).add(target[0])
    order = list(graphlib.TopologicalSorter(imports).static_order())  # CycleError names the cycle
    assert "cli" in order and "errors" in order
