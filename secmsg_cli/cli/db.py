"""``secmsg init``, ``secmsg db path|status`` and ``secmsg audit``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from secmsg_cli.cli._common import OutputOpt, open_store, state, sub_app
from secmsg_cli.cli._output import Output, emit, say
from secmsg_cli.cli._values import parse_bound
from secmsg_cli.model import MAX_ID

db_app = sub_app("The store file: where it is and what it holds.")


def init(ctx: typer.Context) -> None:
    """Create the store (with the built-in folder and definitions) if it does not exist.

    Idempotent: running it on an existing store changes nothing.

        secmsg --db acme.db init
    """
    from secmsg_cli.store.paths import resolve_db_path

    path = resolve_db_path(state(ctx).db)
    existed = path.exists() and path.stat().st_size > 0
    store = open_store(ctx, create=True)
    if existed:
        say(
            f"Store {store.path} is already initialised (schema version {store.schema_version}).",
            quiet=state(ctx).quiet,
        )
    else:
        say(
            f"Initialised store {store.path} (schema version {store.schema_version}).",
            quiet=state(ctx).quiet,
        )


@db_app.command("path")
def db_path(ctx: typer.Context) -> None:
    """Print the path of the store that commands would use (does not create it).

    secmsg db path
    """
    from secmsg_cli.store.paths import resolve_db_path

    typer.echo(str(resolve_db_path(state(ctx).db)))


@db_app.command("status")
def db_status(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """Show the store's path, schema version and object counts.

    secmsg db status -o json
    """
    store = open_store(ctx)
    account = store.account()
    emit(
        {
            "path": str(store.path),
            "schema_version": store.schema_version,
            "account": account.name,
            "edition": account.edition,
            **store.counts(),
        },
        output,
    )


@db_app.command("backup")
def db_backup(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The new backup file.", dir_okay=False)],
) -> None:
    """Copy the store to FILE with SQLite's online backup (safe while others write).

    secmsg db backup /backups/secmsg-$(date +%F).db
    """
    store = open_store(ctx)
    store.backup(file)
    say(f"Backed up {store.path} to {file}.", quiet=state(ctx).quiet)


@db_app.command("check")
def db_check(ctx: typer.Context) -> None:
    """Check the store's integrity (integrity_check and foreign_key_check); exit 1 on any problem.

    secmsg db check
    """
    from secmsg_cli.errors import StoreError

    store = open_store(ctx)
    problems = store.check()
    if problems:
        for p in problems[1:]:
            sys.stderr.write(f"  {p}\n")
        raise StoreError(f"store {store.path} has {len(problems)} problem(s): {problems[0]}")
    say(
        f"Store {store.path} is sound (schema version {store.schema_version}).",
        quiet=state(ctx).quiet,
    )


def audit(
    ctx: typer.Context,
    limit: Annotated[
        int,
        typer.Option(
            "--limit", "-n", min=1, max=MAX_ID, help="Show at most N entries, newest first."
        ),
    ] = 50,
    actor: Annotated[
        list[str] | None,
        typer.Option("--actor", help="Only entries by this actor; repeatable."),
    ] = None,
    action: Annotated[
        list[str] | None,
        typer.Option(
            "--action",
            help="Only this action (create, update, delete, import, apply, deliver, extend, "
            "admin-extend, recall, revoke, expire, expire-now, purge, access-denied, ...); "
            "repeatable.",
        ),
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind",
            help="Only objects of this kind (policy, definition, portal-copy, ...); repeatable.",
        ),
    ] = None,
    obj: Annotated[
        list[str] | None,
        typer.Option("--object", help="Only this object: its id or name as listed; repeatable."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", metavar="TIME", help="From this time on (a date: from its start)."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", metavar="TIME", help="Before this time (a date: up to its end)."),
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """List the audit log of writes and refused portal access, newest first.

    Filters combine: every one given must hold. Times without an offset are in
    the account time zone.

    secmsg audit --limit 10
    secmsg audit --action access-denied --since 2026-11-01 -o csv
    secmsg audit --kind portal-copy --object 12
    """
    store = open_store(ctx)
    tz = store.account_tz()
    rows = store.audit_log(
        limit,
        actors=actor or (),
        actions=action or (),
        kinds=kind or (),
        objects=obj or (),
        since=parse_bound(since, "--since", tz, end=False),
        until=parse_bound(until, "--until", tz, end=True),
    )
    emit(
        rows,
        output,
        columns=["id", "at", "actor", "action", "kind", "object"],
        drop=["actor", "kind"],
        empty="no audit entries",
    )


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("audit")(audit)
    app.add_typer(db_app, name="db")
