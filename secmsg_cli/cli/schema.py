"""``secmsg schema [NAME]``: the JSON Schemas (draft 2020-12) of the files
secmsg reads and of the JSON it writes, shipped inside the package."""

from __future__ import annotations

import sys
from enum import Enum
from importlib import resources
from typing import Annotated

import typer


class SchemaName(str, Enum):
    config = "config"
    cases = "cases"
    simulate = "simulate"
    lint = "lint"
    plan = "plan"
    report = "report"


WHAT = {
    SchemaName.config: "the configuration file (export, import, plan, apply, lint FILE)",
    SchemaName.cases: "a cases file of secmsg test",
    SchemaName.simulate: "simulate -o json / -o jsonl",
    SchemaName.lint: "lint -o json",
    SchemaName.plan: "plan -o json and apply -o json",
    SchemaName.report: "report ... -o json / -o jsonl (each report's rows)",
}


def schema_text(name: SchemaName) -> str:
    """The schema as shipped (JSON text, ending with a newline)."""
    files = resources.files("secmsg_cli.schemas")
    return files.joinpath(f"{name.value}.schema.json").read_text("utf-8")


def schema(
    name: Annotated[
        SchemaName | None,
        typer.Argument(help="Which schema; without it, the list of schemas.", metavar="NAME"),
    ] = None,
) -> None:
    """Print the JSON Schema of a file secmsg reads or of the JSON it writes.

    Editors that read JSON Schemas for TOML (VS Code with Even Better TOML)
    then complete and check secmsg.toml and cases files as you type.

        secmsg schema config > secmsg.schema.json
        secmsg schema
    """
    if name is None:
        width = max(len(n.value) for n in SchemaName)
        sys.stdout.write("".join(f"{n.value:<{width}}  {WHAT[n]}\n" for n in SchemaName))
        return
    sys.stdout.write(schema_text(name))


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
