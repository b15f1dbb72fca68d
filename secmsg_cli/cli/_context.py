"""The context options of ``simulate`` (SPEC §8.1), defined once for every
command that decides messages (``deliver``; ``simulate`` declares the same
options and validates them the same way), and the :class:`Context` built
from them."""

from __future__ import annotations

from typing import Annotated

import typer

from secmsg_cli.errors import InvalidInput

MailFromOpt = Annotated[str | None, typer.Option("--mail-from", help="Envelope sender (default: Return-Path, else header From).")]
RcptOpt = Annotated[list[str] | None, typer.Option("--rcpt", help="Envelope recipient; repeatable (default: To + Cc + Bcc).")]
SourceIpOpt = Annotated[str | None, typer.Option("--source-ip", help="Source IP (default: from the top-most Received header).")]
AtOpt = Annotated[str | None, typer.Option("--at", help="Evaluation and sending time, ISO 8601 (default now).")]
ViaOpt = Annotated[str | None, typer.Option("--via", help="gateway, outlook or mobile (default gateway; outlook with --definition).")]
DefinitionOpt = Annotated[str | None, typer.Option("--definition", help="The definition the sender chose (trigger user).")]
ExplainOpt = Annotated[bool, typer.Option("--explain", help="Explain every policy and content definition: verdict and reason.")]
MaxSizeOpt = Annotated[str, typer.Option("--max-size", help="Refuse messages larger than this (e.g. 50MB).")]


def build_context(snapshot, *, mail_from: str | None, rcpt: list[str] | None, source_ip: str | None,
                  at: str | None, via: str | None, definition: str | None, explain: bool):
    """Validate the context options exactly as ``simulate`` does."""
    import ipaddress

    from secmsg_cli.cli._common import parse_at
    from secmsg_cli.engine.decide import VIAS, Context

    if via is not None and via.lower() not in VIAS:
        raise InvalidInput(f"invalid --via {via!r}: expected one of {', '.join(VIAS)}")
    if source_ip is not None:
        try:
            source_ip = str(ipaddress.ip_address(source_ip.strip()))
        except ValueError:
            raise InvalidInput(f"invalid --source-ip {source_ip!r}: expected an IPv4 or IPv6 address") from None
    if mail_from is not None or rcpt:
        from secmsg_cli.engine.addresses import AddressError, normalise_address

        try:
            if mail_from is not None:
                mail_from = normalise_address(mail_from)
            rcpt = [normalise_address(r) for r in rcpt or []]
        except AddressError as exc:
            raise InvalidInput(str(exc)) from None
    moment = parse_at(at, snapshot.tz)
    if definition is not None and snapshot.definition(definition) is None:
        raise InvalidInput(f"definition {definition!r} not found")
    return Context(at=moment, mail_from=mail_from, rcpt=tuple(rcpt or ()), source_ip=source_ip,
                   via=via.lower() if via else None, definition=definition, explain=explain)
