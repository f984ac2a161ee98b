"""The shape of the code: no import cycles, small modules, layers kept (docs/architecture.md).

The layering itself is import-linter's contract in pyproject.toml (``lint-imports``, run by the
lint step of ``.ci/run``); these tests check what a contract cannot: that no two modules of the
packages import each other, directly or through others (imports under ``TYPE_CHECKING``
included), and that no module is over the size a reader can hold.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

PACKAGES = ("km_core", "km_httpx", "km_testing", "km_mapper")
SOURCES = Path(__file__).parent.parent / "packages"
MAX_LINES = 400
FACADE_MAX_LINES = 450
"""`KnowledgeBase`'s module may be a little longer: its docstrings are the API reference."""


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def test_no_module_is_part_of_an_import_cycle(graph: grimp.ImportGraph) -> None:
    cycles = set()
    for importer in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(importer):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                cycles.add(" -> ".join((importer, *back)))
    assert not cycles, "import cycles:\n" + "\n".join(sorted(cycles))


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    graph.add_import(importer="a.one", imported="a.two")
    graph.add_import(importer="a.two", imported="a.three")
    graph.add_import(importer="a.three", imported="a.one")
    assert graph.find_shortest_chain(importer="a.two", imported="a.one") == (
        "a.two",
        "a.three",
        "a.one",
    )


def test_no_module_is_over_400_lines() -> None:
    modules = sorted(SOURCES.glob("*/src/*/**/*.py"))
    assert len(modules) > 50, "the packages' modules were not found"
    long = {}
    for module in modules:
        limit = FACADE_MAX_LINES if module.name == "_knowledge_base.py" else MAX_LINES
        lines = len(module.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            long[module.relative_to(SOURCES).as_posix()] = lines
    assert not long, f"modules over {MAX_LINES} lines: {long}"
