"""Values of command-line options shared by several commands, without Typer:
``--at`` (:func:`parse_at`), the context options of the commands that decide
messages (:func:`build_context`), and :func:`printable` for text from a
message shown on a terminal.

Typer-free so that the lean ``simulate`` entry (``cli/entry.py``) can use it.
"""

from __future__ import annotations

import re

from secmsg_cli.errors import InvalidInput

__all__ = ["parse_at", "build_context", "printable", "PLAIN_ISO"]

# C0/C1 control characters but tab and newline: a message's subject, names or
# attachment file names must not reach the terminal as escape sequences.
_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0))}


def printable(text: str) -> str:
    return text.translate(_CONTROL)


# YYYY-MM-DD[THH:MM[:SS[.ffffff]][Z|±HH:MM]]
PLAIN_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?"
                       r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?)?")


def parse_at(text: str | None, tz):
    """``--at``: an ISO 8601 date or datetime (no offset = the account time
    zone ``tz``; a date = its 00:00); None = now."""
    from datetime import datetime, timezone

    if text is None:
        return datetime.now(timezone.utc).replace(microsecond=0).astimezone(tz)
    raw = text.strip()
    try:
        if PLAIN_ISO.fullmatch(raw):
            # The forms everyone writes; the standard library reads them as
            # dateutil does (a test checks), without dateutil's import cost.
            moment = datetime.fromisoformat(raw)
        else:
            from dateutil.parser import isoparse

            moment = isoparse(raw)
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"invalid --at {text!r}: expected an ISO 8601 date or datetime such as 2026-11-27T10:00:00+00:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    try:  # every command works in UTC and shows times in the account's zone
        moment.astimezone(timezone.utc)
        moment.astimezone(tz)
    except OverflowError:
        raise InvalidInput(
            f"invalid --at {text!r}: out of range (it must fall within the years 1-9999, in UTC and in the "
            "account time zone)"
        ) from None
    return moment


def build_context(snapshot, *, mail_from: str | None, rcpt: list[str] | None, source_ip: str | None,
                  at: str | None, via: str | None, definition: str | None, explain: bool):
    """Validate the context options exactly as ``simulate`` does."""
    import ipaddress

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
