"""``secmsg export`` and ``secmsg import``: configuration as code (SPEC §9)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from secmsg_cli.cli._common import open_store, state
from secmsg_cli.cli._output import say
from secmsg_cli.errors import SecmsgError


class Format(str, Enum):
    toml = "toml"
    json = "json"


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export(
        ctx: typer.Context,
        file: Annotated[Path | None, typer.Argument(help="Write here (default: standard output).", dir_okay=False)] = None,
        format: Annotated[Format | None, typer.Option("--format", "-f", help="toml (default) or json; a .json FILE implies json.")] = None,
    ) -> None:
        """Write the whole configuration as TOML (or JSON); built-ins are not exported.

            secmsg export secmsg.toml
            secmsg export --format json > secmsg.json
        """
        from secmsg_cli.config import dumps, export_document

        fmt = format.value if format else ("json" if file and file.suffix.lower() == ".json" else "toml")
        text = dumps(export_document(open_store(ctx)), fmt)
        if file is None:
            sys.stdout.write(text)
            return
        tmp = file.with_name(file.name + ".tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(file)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise SecmsgError(f"cannot write {file}: {exc.strerror or exc}") from None
        say(f"Exported the configuration to {file}.", quiet=state(ctx).quiet)

    @app.command("import")
    def import_(
        ctx: typer.Context,
        file: Annotated[str, typer.Argument(help="A TOML or JSON configuration file, or - for standard input.")],
    ) -> None:
        """Load a configuration file into an empty store: validated as a whole
        first, then written in one transaction (all or nothing).

            secmsg --db new.db import secmsg.toml
        """
        from secmsg_cli.config import import_config, read_file, validate_document

        doc, source = read_file(file)
        cfg = validate_document(doc, source)
        counts = import_config(open_store(ctx), cfg, source=file)
        summary = ", ".join(f"{n} {k}" for k, n in counts.items())
        say(f"Imported {file}: {summary}.", quiet=state(ctx).quiet)
