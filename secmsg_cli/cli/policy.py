"""``secmsg policy|bypass|content-policy ...``: the three kinds of policy
(docs/decisions.md): each command is written once and registered under each kind's group."""

import inspect
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Annotated, Any

import typer

from secmsg_cli.cli import _complete
from secmsg_cli.cli._common import GROUP_NAMES, OutputOpt, open_store, state, sub_app
from secmsg_cli.cli._output import Output, emit, say
from secmsg_cli.cli._values import parse_at
from secmsg_cli.errors import InvalidInput
from secmsg_cli.model import KIND_OPTIONS, STATUSES_HELP, Policy

KIND_HELP = {
    "secure-messaging": "Secure Messaging policies: internal senders to external recipients get a definition applied (or no action).",
    "bypass": "Secure Messaging Bypass policies: disable Secure Messaging (or take no action) for matching pairs.",
    "content-examination": "Content Examination policies: scan matching messages with a content definition.",
}
KIND_EXAMPLE = {
    "secure-messaging": 'secmsg policy create "Partners get it securely" --definition "Legal/7-Day Expiry" --from internal --to domain:partner.com',
    "bypass": 'secmsg bypass create "Board to auditors in clear" --from group:Board --to attribute:Role=Auditor',
    "content-examination": 'secmsg content-policy create "Confidential subjects" --content-definition "Confidential subject" --from internal',
}

FromOpt = Annotated[
    str | None,
    typer.Option(
        "--from",
        autocompletion=_complete.targets,
        help="Emails From: everyone, internal, external, domain:D, domain:*.D, group:G, attribute:Name=value, address:A.",
    ),
]
ToOpt = Annotated[
    str | None,
    typer.Option(
        "--to", autocompletion=_complete.targets, help="Emails To (same forms as --from)."
    ),
]
FromPartOpt = Annotated[
    str | None,
    typer.Option("--from-part", help="Addresses based on: envelope (default), header or both."),
]
StartOpt = Annotated[
    str | None,
    typer.Option("--start", help="ISO date (00:00 that day, account time zone) or datetime."),
]
EndOpt = Annotated[
    str | None, typer.Option("--end", help="ISO date (the whole day included) or datetime.")
]
OverrideOpt = Annotated[
    bool | None,
    typer.Option(
        "--override/--no-override",
        help="Policy override: wins over more specific policies without it.",
    ),
]
BidiOpt = Annotated[
    bool | None,
    typer.Option(
        "--bidirectional/--no-bidirectional",
        help="Also match with sender and recipient swapped (not for secure-messaging).",
    ),
]
SourceIpOpt = Annotated[
    list[str] | None,
    typer.Option("--source-ip", help="Source IP range in CIDR form; repeatable (IPv4 and IPv6)."),
]
EnabledOpt = Annotated[
    bool | None, typer.Option("--enabled/--disabled", help="Whether the policy is enabled.")
]


def describe_action(p: Policy) -> str:
    if p.kind == "content-examination":
        return f"scan: {p.content_definition}"
    if p.option == "apply":
        return f"apply: {p.definition}"
    return p.option or ""


def policy_row(p: Policy, status: str) -> dict[str, Any]:
    from secmsg_cli.model import POLICY_FIELDS
    from secmsg_cli.store.policies import policy_fields

    # Every field of the kind, absent ones as null, so that JSON rows have one
    # shape and CSV (whose columns come from the first row) loses nothing.
    fields = policy_fields(p)
    kind_keys = {
        "secure-messaging": ("option", "definition"),
        "bypass": ("option",),
        "content-examination": ("content_definition",),
    }[p.kind]
    row = {
        k: fields.get(k)
        for k in POLICY_FIELDS
        if k in fields or k in kind_keys or k in ("start", "end")
    }
    row["status"] = status
    row["created"] = p.created
    row["updated"] = p.updated
    return row


def _from_text(p: Policy) -> str:
    text = str(p.from_)
    return text if p.from_part == "envelope" else f"{text} ({p.from_part})"


def _collect(
    kind: str,
    *,
    option: str | None = None,
    definition: str | None = None,
    content_definition: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    from_part: str | None = None,
    start: str | None = None,
    end: str | None = None,
    override: bool | None = None,
    bidirectional: bool | None = None,
    source_ip: list[str] | None = None,
    enabled: bool | None = None,
) -> dict[str, Any]:
    from secmsg_cli.validate import check_target

    raw: dict[str, Any] = {}
    if option is not None:
        raw["option"] = option
    if definition is not None:
        raw["definition"] = definition
    if content_definition is not None:
        raw["content_definition"] = content_definition
    if from_ is not None:
        raw["from"] = check_target(from_, side="--from")
    if to is not None:
        raw["to"] = check_target(to, side="--to")
    for key, value in (
        ("from_part", from_part),
        ("start", start),
        ("end", end),
        ("override", override),
        ("bidirectional", bidirectional),
        ("enabled", enabled),
    ):
        if value is not None:
            raw[key] = value
    if source_ip is not None:
        raw["source_ips"] = list(source_ip)
    return raw


# --- the commands: one implementation for every kind -----------------------------
#
# Each command is written once, with the kind as a keyword-only parameter, and
# registered under each kind's group by :func:`_for_kind`, which binds the kind,
# fills the placeholders of the docstring, and declares the options whose help
# or visibility depends on the kind (``_KIND_PARAMETERS``).

PolicyArg = Annotated[
    str,
    typer.Argument(autocompletion=_complete.policies, help="Id (or the narrative, when unique)."),
]
# An option that :func:`_for_kind` declares for each kind (``_kind_parameters``).
PerKind = Annotated[str | None, "declared per kind"]


def _kind_parameters(kind: str) -> dict[str, Any]:
    """The declarations of the options that differ between kinds: --option
    (its choices, hidden when the kind has none), --definition (only
    secure-messaging) and --content-definition (only content-examination)."""
    options = KIND_OPTIONS[kind]
    option_help = f"{' or '.join(options)} (default {options[0]})." if options else ""
    return {
        "option": Annotated[
            str | None, typer.Option("--option", help=option_help, hidden=not options)
        ],
        "definition": Annotated[
            str | None,
            typer.Option(
                "--definition",
                "-d",
                autocompletion=_complete.definitions,
                help="The definition applied (path or id).",
                hidden=kind != "secure-messaging",
            ),
        ],
        "content_definition": Annotated[
            str | None,
            typer.Option(
                "--content-definition",
                "-c",
                autocompletion=_complete.content_definitions,
                help="The content definition (name or id).",
                hidden=kind != "content-examination",
            ),
        ],
    }


def _noun(kind: str) -> str:
    from secmsg_cli.store.policies import KIND_NOUN

    return KIND_NOUN[kind]


def _plural(kind: str) -> str:
    return _noun(kind).replace("policy", "policies")


def create(
    ctx: typer.Context,
    narrative: Annotated[str, typer.Argument(help="Describes the policy.")],
    option: PerKind = None,
    definition: PerKind = None,
    content_definition: PerKind = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    from_part: FromPartOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    override: OverrideOpt = None,
    bidirectional: BidiOpt = None,
    source_ip: SourceIpOpt = None,
    enabled: EnabledOpt = None,
    output: OutputOpt = Output.table,
    *,
    kind: str,
) -> None:
    """Create a {noun}.

    {example}
    """
    raw = _collect(
        kind,
        option=option,
        definition=definition,
        content_definition=content_definition,
        from_=from_,
        to=to,
        from_part=from_part,
        start=start,
        end=end,
        override=override,
        bidirectional=bidirectional,
        source_ip=source_ip,
        enabled=enabled,
    )
    raw["kind"] = kind
    raw["narrative"] = narrative
    store = open_store(ctx)
    p = store.create_policy(raw)
    if output is Output.table:
        say(
            f"Created {_noun(kind)} {p.id}: {describe_action(p)}, from {_from_text(p)} to {p.to}.",
            quiet=state(ctx).quiet,
        )
    else:
        emit(policy_row(p, _status(store, p, None)), output)


def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help=STATUSES_HELP)] = None,
    definition: Annotated[
        str | None,
        typer.Option(
            "--definition",
            metavar="TEXT",
            help="Only policies whose definition or content definition contains this text.",
        ),
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from", metavar="TEXT", help="Only policies whose Emails From contains this text."
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to", metavar="TEXT", help="Only policies whose Emails To contains this text."
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="Compute status as of this ISO date/datetime (default now)."),
    ] = None,
    output: OutputOpt = Output.table,
    *,
    kind: str,
) -> None:
    """List {plural} with their status (active, disabled, scheduled, expired).

    secmsg {group} list --status active -o json
    """
    store = open_store(ctx)
    tz = store.account_tz()
    moment = parse_at(at, tz)
    if status is not None:
        from secmsg_cli.engine.select import STATUSES

        if status.lower() not in STATUSES:
            raise InvalidInput(
                f"invalid --status {status!r}: expected one of {', '.join(STATUSES)}"
            )
    rows = []
    for p in store.policies(kind):
        st = _status(store, p, moment, tz)
        if status and st != status.lower():
            continue
        target = (p.definition or p.content_definition or "").lower()
        if definition and definition.lower() not in target:
            continue
        if from_ and from_.lower() not in str(p.from_).lower():
            continue
        if to and to.lower() not in str(p.to).lower():
            continue
        row = policy_row(p, st)
        row["action"] = describe_action(p)
        row["from_text"] = _from_text(p)
        row["to_text"] = str(p.to)
        rows.append(row)
    if output is Output.table:
        emit(
            rows,
            output,
            columns=[
                "id",
                "narrative",
                "action",
                "from_text:from",
                "to_text:to",
                "status",
                "override",
                "bidirectional:bidi",
                "source_ips:source IPs",
            ],
            drop=["source_ips", "bidirectional", "override", "to_text", "from_text", "status"],
            empty=f"no {_plural(kind)}",
        )
    else:
        for row in rows:
            del row["action"], row["from_text"], row["to_text"]
        emit(rows, output, empty=f"no {_plural(kind)}")


def show(
    ctx: typer.Context,
    policy: PolicyArg,
    at: Annotated[str | None, typer.Option("--at", help="Status as of this time.")] = None,
    output: OutputOpt = Output.table,
    *,
    kind: str,
) -> None:
    """Show every field of a {noun}.

    secmsg {group} show 3
    """
    store = open_store(ctx)
    p = store.policy(kind, policy)
    emit(policy_row(p, _status(store, p, at)), output)


def update(
    ctx: typer.Context,
    policy: PolicyArg,
    narrative: Annotated[str | None, typer.Option("--narrative", help="New narrative.")] = None,
    option: PerKind = None,
    definition: PerKind = None,
    content_definition: PerKind = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    from_part: FromPartOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    no_start: Annotated[
        bool, typer.Option("--no-start", help="Remove the start (eternal).")
    ] = False,
    no_end: Annotated[bool, typer.Option("--no-end", help="Remove the end (eternal).")] = False,
    override: OverrideOpt = None,
    bidirectional: BidiOpt = None,
    source_ip: Annotated[
        list[str] | None,
        typer.Option("--source-ip", help="Replace the source IP ranges (repeatable)."),
    ] = None,
    any_source_ip: Annotated[
        bool, typer.Option("--any-source-ip", help="Remove every source IP range.")
    ] = False,
    enabled: EnabledOpt = None,
    output: OutputOpt = Output.table,
    *,
    kind: str,
) -> None:
    """Change fields of a {noun} (the result is validated as a whole).

    secmsg {group} update 3 --end 2027-12-31 --source-ip 203.0.113.0/24
    """
    changes = _collect(
        kind,
        option=option,
        definition=definition,
        content_definition=content_definition,
        from_=from_,
        to=to,
        from_part=from_part,
        start=start,
        end=end,
        override=override,
        bidirectional=bidirectional,
        source_ip=source_ip,
        enabled=enabled,
    )
    if narrative is not None:
        changes["narrative"] = narrative
    for flag, key, given in (
        (no_start, "start", start),
        (no_end, "end", end),
        (any_source_ip, "source_ips", source_ip),
    ):
        if flag:
            if given is not None:
                raise InvalidInput(f"give --{key.replace('_', '-')} or its removal, not both")
            changes[key] = [] if key == "source_ips" else None
    if option == "no-action":
        changes["definition"] = None
    if not changes:
        raise InvalidInput("nothing to change: give at least one option")
    store = open_store(ctx)
    p = store.update_policy(kind, policy, changes)
    if output is Output.table:
        say(f"Updated {_noun(kind)} {p.id}.", quiet=state(ctx).quiet)
    else:
        emit(policy_row(p, _status(store, p, None)), output)


def delete(ctx: typer.Context, policy: PolicyArg, *, kind: str) -> None:
    """Delete a {noun}.

    secmsg {group} delete 3
    """
    p = open_store(ctx).delete_policy(kind, policy)
    say(f"Deleted {_noun(kind)} {p.id} ({p.narrative!r}).", quiet=state(ctx).quiet)


def enable(ctx: typer.Context, policy: PolicyArg, *, kind: str) -> None:
    """Enable a {noun}.

    secmsg {group} enable 3
    """
    _set_enabled(ctx, kind, policy, True)


def disable(ctx: typer.Context, policy: PolicyArg, *, kind: str) -> None:
    """Disable a {noun} (it stays in the store).

    secmsg {group} disable 3
    """
    _set_enabled(ctx, kind, policy, False)


def _set_enabled(ctx: typer.Context, kind: str, policy: str, value: bool) -> None:
    p = open_store(ctx).update_policy(kind, policy, {"enabled": value})
    say(f"{'Enabled' if value else 'Disabled'} {_noun(kind)} {p.id}.", quiet=state(ctx).quiet)


COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("create", create),
    ("list", list_),
    ("show", show),
    ("update", update),
    ("delete", delete),
    ("enable", enable),
    ("disable", disable),
)


def _for_kind(command: Callable[..., None], kind: str) -> Callable[..., None]:
    """``command`` for one kind, as Typer reads it: ``kind`` bound (and gone
    from the signature), its ``PerKind`` options declared for the kind, and the docstring's {noun}, {plural}, {group} and {example} filled in."""
    signature = inspect.signature(command)
    declared = _kind_parameters(kind)
    parameters = [
        p.replace(annotation=declared[p.name]) if p.annotation == PerKind else p
        for p in signature.parameters.values()
        if p.name != "kind"
    ]

    def bound(**values: Any) -> None:
        command(**values, kind=kind)

    bound.__name__ = command.__name__
    bound.__qualname__ = f"{command.__qualname__}[{kind}]"
    bound.__module__ = command.__module__
    bound.__doc__ = (command.__doc__ or "").format(
        noun=_noun(kind), plural=_plural(kind), group=GROUP_NAMES[kind], example=KIND_EXAMPLE[kind]
    )
    bound.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    bound.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
    return bound


def policy_app(kind: str) -> typer.Typer:
    """The sub-app of one kind of policy: every command of ``COMMANDS``."""
    app = sub_app(KIND_HELP[kind])
    for name, command in COMMANDS:
        app.command(name)(_for_kind(command, kind))
    return app


def _status(store: Any, p: Policy, at: datetime | str | None, tz: tzinfo | None = None) -> str:
    from secmsg_cli.engine.select import status

    tz = tz or store.account_tz()
    moment = at if isinstance(at, datetime) else parse_at(at, tz)
    return status(p.enabled, p.start, p.end, moment, tz)


def register(app: typer.Typer) -> None:
    for kind, name in GROUP_NAMES.items():
        app.add_typer(policy_app(kind), name=name)
