"""The shape of the code: layers, no import cycles, small modules (checked with grimp's import graph)."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("redis_client",)
#: Source folders: ``models/`` and ``migrations/`` install as ``redis_client.models`` / ``.migrations``.
SOURCE_DIRS = ("redis_client", "models", "migrations")
#: Longest module allowed (the brief: one concept per module, under ~400 lines).
MAX_LINES = 400


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # TYPE_CHECKING imports count too: a cycle there is a cycle of the design.
    return grimp.build_graph(*PACKAGES)


def package_of(module: str) -> str:
    """The package a module belongs to: a subpackage of redis_client, or a top-level package."""
    parts = module.split(".")
    if parts[0] == "redis_client" and len(parts) > 2:
        return ".".join(parts[:2])
    if parts[0] == "redis_client" and len(parts) == 2:
        return module if (ROOT / "redis_client" / parts[1]).is_dir() else "redis_client"
    return parts[0]


def test_no_import_cycle_between_modules(graph: grimp.ImportGraph) -> None:
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                cycles.append(f"{module} -> {imported} -> ... -> {module}")
    assert cycles == []


def test_no_import_cycle_between_packages(graph: grimp.ImportGraph) -> None:
    edges: set[tuple[str, str]] = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            a, b = package_of(module), package_of(imported)
            if a != b and not b.startswith(a + ".") and not a.startswith(b + "."):
                edges.add((a, b))
    reach: dict[str, set[str]] = {}
    for a, b in edges:
        reach.setdefault(a, set()).add(b)
    changed = True
    while changed:  # transitive closure: the package graph is small
        changed = False
        for targets in reach.values():
            more = set().union(*(reach.get(t, set()) for t in targets)) - targets
            if more:
                targets |= more
                changed = True
    cycles = sorted(a for a, targets in reach.items() if a in targets)
    assert cycles == [], f"packages in a cycle: {cycles}; edges: {sorted(edges)}"


def test_the_lower_layer_imports_nothing_above_it(graph: grimp.ImportGraph) -> None:
    core = graph.find_descendants("redis_client.core") | {"redis_client.core"}
    above = [
        (m, i)
        for m in core
        for i in graph.find_modules_directly_imported_by(m)
        if i.split(".")[0] in PACKAGES and i not in core
    ]
    assert above == []


def test_models_use_only_the_lower_layer_of_redis_client(graph: grimp.ImportGraph) -> None:
    core = graph.find_descendants("redis_client.core") | {"redis_client.core"}
    models = graph.find_descendants("redis_client.models") | {"redis_client.models"}
    outside = [
        (m, i)
        for m in models
        for i in graph.find_modules_directly_imported_by(m)
        if i.startswith("redis_client") and i not in core | models and i != "redis_client"
    ]
    assert outside == []


def test_no_module_over_the_size_limit() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for folder in SOURCE_DIRS
        for path in (ROOT / folder).rglob("*.py")
        if not path.is_relative_to(ROOT / "redis_client" / "models")
        and not path.is_relative_to(ROOT / "redis_client" / "migrations")
    }
    assert {p: n for p, n in sizes.items() if n > MAX_LINES} == {}
