"""Values of command-line options shared by several commands, without Typer:
``--at`` (:func:`parse_at`), the context options of the commands that decide
messages (:func:`build_context`), and :func:`printable` for text from a
message shown on a terminal.

Typer-free so that the lean ``simulate`` entry (``cli/entry.py``) can use it.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import TYPE_CHECKING, Any

from secmsg_cli.errors import InvalidInput

if TYPE_CHECKING:
    from datetime import datetime, tzinfo

    from secmsg_cli.engine.decide import Context
    from secmsg_cli.engine.message import Limits

__all__ = ["PLAIN_ISO", "build_context", "parse_at", "parse_count", "parse_limits", "printable"]


class _Escapes(dict[int, int | str]):
    """A ``str.translate`` table, filled in as characters are first seen:
    each code point maps to itself or to its escape (``\\x1b``, ``\\u202e``,
    ``\\U000e0041``). Escaped: the C0 and C1 control characters (ESC starts
    colour, window-title and hyperlink sequences; CR overwrites a line; BEL
    rings), and the Unicode format characters, line/paragraph separators and
    lone surrogates: the bidi overrides and isolates show ``invoice\\u202efdp.exe``
    as "invoiceexe.pdf", zero-width and tag characters hide text, and a lone
    surrogate (an undecodable byte) cannot even be written out. Kept: tab,
    newline (unless ``one_line``), the soft hyphen and the zero-width
    (non-)joiner, which emoji and several scripts need."""

    __slots__ = ("_keep",)
    _ESCAPED = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))
    _CACHE = 8192  # distinct code points remembered; beyond, decided each time

    def __init__(self, keep: frozenset[int]) -> None:
        super().__init__()
        self._keep = keep

    def __missing__(self, cp: int) -> int | str:
        value: int | str = cp
        if cp in self._keep:
            pass
        elif cp < 0xA0:
            if cp < 0x20 or cp >= 0x7F:
                value = f"\\x{cp:02x}"
        else:
            import unicodedata

            if unicodedata.category(chr(cp)) in self._ESCAPED:
                value = f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"
        if len(self) < self._CACHE:
            self[cp] = value
        return value


_KEEP = frozenset((0x09, 0xAD, 0x200C, 0x200D))
_LINES = _Escapes(_KEEP | {0x0A})
_ONE_LINE = _Escapes(_KEEP)


def printable(text: str, *, one_line: bool = False) -> str:
    """``text`` (from a message or a configuration file) safe to show on a
    terminal: control and invisible format characters written as escapes
    (see :class:`_Escapes`); with ``one_line``, newlines too, so that a
    subject or a name cannot start a line of its own."""
    return text.translate(_ONE_LINE if one_line else _LINES)


# YYYY-MM-DD[THH:MM[:SS[.ffffff]][Z|±HH:MM]]
PLAIN_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?"
    r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?)?"
)


def parse_at(text: str | None, tz: tzinfo) -> datetime:
    """``--at``: an ISO 8601 date or datetime (no offset = the account time
    zone ``tz``; a date = its 00:00); None = now."""
    from datetime import datetime

    if text is None:
        return datetime.now(UTC).replace(microsecond=0).astimezone(tz)
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
        moment.astimezone(UTC)
        moment.astimezone(tz)
    except OverflowError:
        raise InvalidInput(
            f"invalid --at {text!r}: out of range (it must fall within the years 1-9999, in UTC and in the "
            "account time zone)"
        ) from None
    return moment


def parse_bound(text: str | None, option: str, tz: tzinfo, *, end: bool) -> datetime | None:
    """A filter's time bound (``--since``, ``--expires-before``...): a date
    stands for its whole day (its start, or with ``end`` its end) and a time
    without an offset is in the account time zone ``tz``, as policy validity
    bounds are read. None when the option is not given."""
    if text is None:
        return None
    from secmsg_cli.engine.select import bound
    from secmsg_cli.model import check_when

    return bound(check_when(text, option), tz, end=end)


def parse_count(option: str, text: str | None, default: int) -> int:
    """A positive whole number option (``--max-depth 100``)."""
    if text is None:
        return default
    raw = text.strip().replace("_", "")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or int(raw) == 0:
        raise InvalidInput(
            f"invalid {option} {text!r}: expected a whole number of at least 1, such as {default}"
        )
    return int(raw)


def parse_limits(
    *,
    max_depth: str | None = None,
    max_parts: str | None = None,
    max_text: str | None = None,
    max_recipients: str | None = None,
) -> Limits:
    """The examination limits (``--max-depth``, ``--max-parts``,
    ``--max-text``, ``--max-recipients``); unset ones keep their defaults."""
    from secmsg_cli.engine.message import DEFAULT_LIMITS, Limits
    from secmsg_cli.runner import parse_size

    d = DEFAULT_LIMITS
    if max_depth is None and max_parts is None and max_text is None and max_recipients is None:
        return d
    return Limits(
        depth=parse_count("--max-depth", max_depth, d.depth),
        parts=parse_count("--max-parts", max_parts, d.parts),
        text_bytes=d.text_bytes if max_text is None else parse_size(max_text, "--max-text"),
        recipients=parse_count("--max-recipients", max_recipients, d.recipients),
    )


def build_context(
    snapshot: Any,
    *,
    mail_from: str | None,
    rcpt: list[str] | None,
    source_ip: str | None,
    at: str | None,
    via: str | None,
    definition: str | None,
    explain: bool,
    limits: Limits | None = None,
) -> Context:
    """Validate the context options exactly as ``simulate`` does."""
    import ipaddress

    from secmsg_cli.engine.decide import VIAS, Context

    if via is not None and via.lower() not in VIAS:
        raise InvalidInput(f"invalid --via {via!r}: expected one of {', '.join(VIAS)}")
    if source_ip is not None:
        try:
            source_ip = str(ipaddress.ip_address(source_ip.strip()))
        except ValueError:
            raise InvalidInput(
                f"invalid --source-ip {source_ip!r}: expected an IPv4 or IPv6 address"
            ) from None
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
    extra = {} if limits is None else {"limits": limits}
    return Context(
        at=moment,
        mail_from=mail_from,
        rcpt=tuple(rcpt or ()),
        source_ip=source_ip,
        via=via.lower() if via else None,
        definition=definition,
        explain=explain,
        **extra,
    )
