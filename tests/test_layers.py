"""Dependencies point one way (ARCHITECTURE, "Layers point one way"):

    errors <- model <- engine <- store <- config/lint/plan/testing/runner <- delivery <- cli

A small AST check over every module of the package, reading every import:
top-level, inside functions and under ``if TYPE_CHECKING`` alike (a cycle
hidden behind a local import is still a cycle). It fails when a module imports
a higher layer, when package modules import each other in a circle, or when
the engine (pure: standard library only) imports anything else.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pytest

PACKAGE = "secmsg_cli"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE

# The layer of each top-level module or package of secmsg_cli, lowest first.
# A module may import its own layer or a lower one, never a higher one. A new
# top-level module must be given a layer here (the test says so).
LAYERS: dict[str, int] = {
    "__init__": 0,  # the package itself: only __version__
    "errors": 0,
    "schemas": 0,  # JSON Schemas shipped as data: no code
    "vocab": 1,  # the named vocabularies, beside the model
    "problems": 1,  # the one problem collector and source locator
    "model": 1,
    "engine": 2,
    "validate": 3,  # field validation that needs the engine's parsers
    "store": 4,
    "config": 5,
    "lint": 5,
    "plan": 5,
    "testing": 5,
    "runner": 5,
    "coverage": 5,
    "run_report": 5,
    "corpus_diff": 5,
    "delivery": 6,
    "cli": 7,
    "web": 7,  # the portal in a browser: beside cli (which serves it), above delivery
    "__main__": 7,
}

# What the pure engine may import besides the standard library.
ENGINE_MAY_IMPORT = {"engine", "vocab", "model", "errors"}
ENGINE_THIRD_PARTY = {"re2"}  # linear-time regular expressions (RE2) for patterns users write

# Circles known today, each to be cut by the change named beside it. The test
# prints them; it fails on any other circle, and on a listed one that no
# longer exists (remove it from here once it is cut).
KNOWN_CYCLES: dict[frozenset[str], str] = {}


# --- reading the package ------------------------------------------------------


def package_sources(root: Path = ROOT) -> dict[str, str]:
    """Module name -> source of every module under ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path.read_text(encoding="utf-8")
    return out


def _is_package(module: str, modules: Mapping[str, str]) -> bool:
    prefix = module + "."
    return any(m.startswith(prefix) for m in modules)


def imports_of(module: str, source: str, modules: Mapping[str, str]) -> Iterator[str]:
    """Every module ``module`` imports (absolute names), wherever the import
    statement stands. ``from pkg import name`` counts as ``pkg.name`` when that
    is a module of the package, else as ``pkg``."""
    package = module if _is_package(module, modules) else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield sub if sub in modules else target


def graph(modules: Mapping[str, str]) -> dict[str, set[str]]:
    """Module -> the package modules it imports."""
    edges: dict[str, set[str]] = {}
    for module, source in modules.items():
        edges[module] = {
            m for m in imports_of(module, source, modules) if m in modules and m != module
        }
    return edges


def top(module: str) -> str:
    """``secmsg_cli.engine.decide`` -> ``engine``; the package itself -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def cycles(edges: Mapping[str, Iterable[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def upward_imports(
    edges: Mapping[str, Iterable[str]], layers: Mapping[str, int] = LAYERS
) -> list[str]:
    out = []
    for module, targets in sorted(edges.items()):
        for target in sorted(targets):
            if layers[top(target)] > layers[top(module)]:
                out.append(
                    f"{module} (layer {top(module)}) imports {target} (higher layer {top(target)})"
                )
    return out


def impure_engine_imports(modules: Mapping[str, str]) -> list[str]:
    out = []
    for module, source in sorted(modules.items()):
        if top(module) != "engine":
            continue
        for target in sorted(set(imports_of(module, source, modules))):
            first = target.split(".")[0]
            if first == PACKAGE:
                if top(target) not in ENGINE_MAY_IMPORT:
                    out.append(f"{module} imports {target}")
            elif first not in sys.stdlib_module_names and first not in ENGINE_THIRD_PARTY:
                out.append(f"{module} imports {target} (not the standard library)")
    return out


# --- the rules, on the package -------------------------------------------------

MODULES = package_sources()
EDGES = graph(MODULES)


def test_every_top_level_module_has_a_layer():
    missing = sorted({top(m) for m in MODULES} - set(LAYERS))
    assert missing == [], f"give these modules a layer in tests/test_layers.py LAYERS: {missing}"


def test_no_module_imports_a_higher_layer():
    assert upward_imports(EDGES) == []


def test_the_model_layer_imports_only_errors_and_itself():
    """``model.py`` imports nothing of the package but ``errors`` and the
    modules beside it (the vocabularies, the problem collector)."""
    model_layer = {m for m in MODULES if LAYERS[top(m)] == LAYERS["model"]}
    allowed = model_layer | {f"{PACKAGE}.errors"}
    for module in sorted(model_layer):
        assert EDGES[module] <= allowed, (module, EDGES[module] - allowed)


def test_the_engine_imports_only_the_standard_library_and_lower_layers():
    assert impure_engine_imports(MODULES) == []


def test_no_circle_among_package_modules_but_the_known_ones():
    found = cycles(EDGES)
    for cycle in found:
        if cycle in KNOWN_CYCLES:
            print(f"known circle ({KNOWN_CYCLES[cycle]}): {sorted(cycle)}")
    unknown = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    assert unknown == [], "modules that import each other in a circle"
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert gone == [], "these circles are cut: remove them from KNOWN_CYCLES"


def test_the_shared_cli_helpers_import_no_command_module():
    """Inside the cli package, the shared helpers (``_output``, ``_values``, ...:
    private modules other cli modules import) sit below the command modules: a
    command imports a helper, never the other way round. (A private module no
    other imports, such as a ``python -m`` script, stands on top.)"""
    cli = {m for m in EDGES if top(m) == "cli" and m != f"{PACKAGE}.cli"}
    private = {m for m in cli if m.rpartition(".")[2].startswith("_")}
    helpers = {t for m in cli for t in EDGES[m] if t in private}
    wrong = [
        f"{m} imports {t}"
        for m in sorted(helpers)
        for t in sorted(EDGES[m])
        if t in cli and t not in private
    ]
    assert helpers, "no shared cli helper found: the check would check nothing"
    assert wrong == []


# --- the checker itself catches what it is meant to catch ---------------------

FAKE = {
    "secmsg_cli": "",
    "secmsg_cli.errors": "",
    "secmsg_cli.model": "from secmsg_cli.errors import X\n",
    "secmsg_cli.engine": "",
    "secmsg_cli.engine.a": (
        "import json\n"
        "def f():\n"
        "    from secmsg_cli.store import s  # lazily, still upward\n"
        "    import sqlite3\n"
        "    import typer\n"
    ),
    "secmsg_cli.engine.b": "from . import c\n",
    "secmsg_cli.engine.c": (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from secmsg_cli.engine.b import B\n"
    ),
    "secmsg_cli.store": "",
    "secmsg_cli.store.s": "from secmsg_cli.engine import a\nfrom ..model import Y\n",
}


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        (
            lambda: upward_imports(graph(FAKE)),
            [
                "secmsg_cli.engine.a (layer engine) imports secmsg_cli.store.s (higher layer store)",
            ],
        ),
        (
            lambda: cycles(graph(FAKE)),
            [
                frozenset({"secmsg_cli.engine.b", "secmsg_cli.engine.c"}),
                frozenset({"secmsg_cli.engine.a", "secmsg_cli.store.s"}),
            ],
        ),
        (
            lambda: impure_engine_imports(FAKE),
            [
                "secmsg_cli.engine.a imports secmsg_cli.store.s",
                "secmsg_cli.engine.a imports typer (not the standard library)",
            ],
        ),
    ],
    ids=["upward-lazy-import", "cycles-relative-and-type-checking", "impure-engine"],
)
def test_the_checker_finds_each_kind_of_fault(check, expected):
    got = check()
    assert len(got) == len(expected) and set(got) == set(expected)
