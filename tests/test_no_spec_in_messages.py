"""Users never see the internal specification: no message, help text or
output of the package cites it (docstrings and comments may, for developers)."""

from __future__ import annotations

import ast

from tests.conftest import ROOT

# Landed migrations are never edited; their SQL comments live in the schema only.
EXEMPT = {"secmsg_cli/store/migrations.py"}


def _strings(tree: ast.AST):
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
        ):
            docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node


def test_no_string_the_package_shows_cites_the_spec():
    found = []
    for path in sorted((ROOT / "secmsg_cli").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in EXEMPT:
            continue
        for node in _strings(ast.parse(path.read_text(encoding="utf-8"))):
            if "SPEC" in node.value or "shared/" in node.value:
                found.append(f"{rel}:{node.lineno}: {node.value[:60]!r}")
    assert not found, "\n".join(found)
