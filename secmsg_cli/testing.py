"""Expectation cases for ``secmsg test`` (docs/configuration.md): read and check a cases
file, run every case through the engine exactly as ``simulate`` does, compare
the decision with what the case expects, and write JUnit XML.

No CLI here (the command is :mod:`secmsg_cli.cli.test_cmd`); the only
framework it touches is ``simulate``'s own message runner, reused so that a
test can never take a path the real command does not.

The cases file (TOML)
---------------------
::

    # Optional: context shared by every case (a case's own value wins).
    [defaults]
    at = 2026-11-27T10:00:00Z            # TOML datetime or ISO 8601 string;
                                         # no offset = the account time zone
    via = "gateway"                      # also: mail_from, rcpt, source_ip, definition

    [[case]]
    name = "01 confidential subject goes to the portal"   # required, unique
    message = "messages/01-confidential-subject-to-counsel.eml"  # relative to this file

    [[case.expect]]                      # one per recipient
    recipient = "m.okonkwo@lexpartners.com"
    route = "portal"                     # portal | inbox
    secure = true
    definition = "Legal/7-Day Expiry, Receipt"   # "" or false: none
    trigger = "content"                  # user | content | policy | none
    policy = 7                           # deciding policy: id, narrative, or "none"
    bypass = "none"                      # winning bypass: id, narrative, or "none"
    expires = 2026-12-04T10:00:00Z       # portal expiry, or "none"
    banner_absent = true

    [[case]]
    name = "an inline message, chosen definition, explicit envelope"
    mail_from = "carla.diaz@harborfinch.com"
    rcpt = ["henry.cole@harborfinch.com"]
    source_ip = "203.0.113.25"
    definition = "HR/Personnel, Silent"  # the sender's choice (trigger user)
    [case.inline]
    headers = { From = "carla.diaz@harborfinch.com", To = "henry.cole@harborfinch.com", Subject = "Review" }
    # or: headers = ["From: ...", "Received: from relay (relay [203.0.113.25]) by gw", ...]
    body = "text/plain body"
    html = "<p>optional text/html alternative</p>"
    attachments = [{ filename = "a.csv", content = "text of the file", content_type = "text/csv" }]
    [[case.expect]]
    recipient = "henry.cole@harborfinch.com"
    banner_contains = ["sent securely"]  # a string or a list; each in the banner's HTML or text

    [[case]]
    name = "no envelope recipients is refused"
    message = "messages/08-no-recipient-headers.eml"
    error_contains = "no recipients"     # the engine must refuse the message with this text

Keys of a case: ``name``; the message, ``message`` (an .eml path) or
``[case.inline]`` (``headers`` as a table or a list of ``Name: value`` lines,
list values of To/Cc/Bcc/From/Reply-To joined; ``body``; ``html``;
``attachments`` with ``filename``, ``content``, ``content_type``; the MIME
structure is built with the ``email`` package); the context of ``simulate``
(docs/output.md): ``mail_from``, ``rcpt`` (a list or one address), ``source_ip``,
``at``, ``via``, ``definition``; then either ``[[case.expect]]`` entries or
``error_contains`` (case-insensitive); ``partial = true`` lets recipients
without an expectation go unchecked (by default every decided recipient needs
one, so the recipient list itself is tested).

Keys of an expectation: ``recipient`` (required, compared case-insensitively)
and any of ``route``, ``secure``, ``internal``, ``definition`` (path,
case-insensitive), ``trigger``, ``policy``, ``bypass``, ``banner_contains``,
``banner_absent`` (true: no banner; false: a banner), ``expires`` and
``latest_expiry`` (an ISO 8601 datetime, or ``"none"`` when the recipient has
no portal record or, internal, never expires; needs a fixed ``at``), and the
portal permissions ``allow_print``, ``allow_reply``, ``allow_reply_all``,
``read_receipt`` (of the portal record; a recipient without one never passes).
Keys that are absent are not checked.

Any unknown key, wrong type or unreadable message makes the whole file invalid
(:class:`~secmsg_cli.errors.ConfigError`, exit 3), each problem naming the line,
the case and the key.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from secmsg_cli.problems import Problems

if TYPE_CHECKING:
    from email.message import EmailMessage

    from secmsg_cli.config import Config
    from secmsg_cli.coverage import Coverage
    from secmsg_cli.engine.decide import Context, MessageDecision, PolicyRef, RecipientDecision
    from secmsg_cli.engine.snapshot import Snapshot

T = TypeVar("T")

__all__ = [
    "Case",
    "CaseResult",
    "CasesFile",
    "Expectation",
    "Mismatch",
    "config_snapshot",
    "junit_not_run",
    "junit_xml",
    "load_cases",
    "parse_cases",
    "run_case",
    "run_cases",
    "select_cases",
]

TOP_KEYS = ("defaults", "case")
CONTEXT_KEYS = ("mail_from", "rcpt", "source_ip", "at", "via", "definition")
CASE_KEYS = ("name", "message", "inline", *CONTEXT_KEYS, "expect", "error_contains", "partial")
INLINE_KEYS = ("headers", "body", "html", "attachments")
ATTACHMENT_KEYS = ("filename", "content", "content_type")
EXPECT_KEYS = (
    "recipient",
    "route",
    "secure",
    "internal",
    "definition",
    "trigger",
    "policy",
    "bypass",
    "banner_contains",
    "banner_absent",
    "expires",
    "latest_expiry",
    "allow_print",
    "allow_reply",
    "allow_reply_all",
    "read_receipt",
)
PERMISSIONS = ("allow_print", "allow_reply", "allow_reply_all", "read_receipt")
ROUTES = ("portal", "inbox")
TRIGGERS = ("user", "content", "policy", "none")
ADDRESS_HEADERS = ("from", "to", "cc", "bcc", "reply-to", "sender")
MIME_HEADERS = ("content-type", "mime-version", "content-transfer-encoding")
NONE_WORDS = ("none", "null", "")


class _Invalid(ValueError):
    """One problem with one value; the collector adds where it is."""


# --- the model of a cases file ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expectation:
    recipient: str
    checks: Mapping[str, Any]  # field -> expected value (None: "none"), in EXPECT_KEYS order


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    index: int
    line: int | None
    source: str  # the message path as written, or "inline"
    path: Path | None = None  # an .eml file
    data: bytes | None = None  # an inline message, already built
    mail_from: str | None = None
    rcpt: tuple[str, ...] = ()
    source_ip: str | None = None
    at: datetime | None = None  # naive: in the account time zone; None: now
    via: str | None = None
    definition: str | None = None
    expect: tuple[Expectation, ...] = ()
    error_contains: str | None = None
    partial: bool = False


@dataclass(frozen=True, slots=True)
class CasesFile:
    path: Path
    name: str  # as given on the command line, for messages
    cases: tuple[Case, ...]


# --- checking values -----------------------------------------------------------------


def _kind(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
        datetime: "a datetime",
        date: "a date",
    }.get(type(value), type(value).__name__)


def _string(value: Any, what: str, *, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{what}: expected a string, got {_kind(value)}")
    if not empty and not value.strip():
        raise _Invalid(f"{what}: must not be empty")
    return value


def _bool(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"{what}: expected true or false, got {_kind(value)}")
    return value


def _address(value: Any, what: str) -> str:
    from secmsg_cli.engine.addresses import AddressError, normalise_address

    text = _string(value, what)
    try:
        return normalise_address(text)
    except AddressError as exc:
        raise _Invalid(f"{what}: {exc}") from None


def _moment(value: Any, what: str, *, date_only: bool) -> datetime:
    """A TOML datetime/date or an ISO 8601 string; naive = account time zone."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        if not date_only:
            raise _Invalid(
                f"{what}: expected a date and time such as 2026-12-04T10:00:00Z, got a date"
            )
        return datetime(value.year, value.month, value.day)
    if not isinstance(value, str):
        raise _Invalid(f"{what}: expected an ISO 8601 datetime, got {_kind(value)}")
    from dateutil.parser import isoparse

    text = value.strip()
    try:
        moment: datetime = isoparse(text)
    except (ValueError, OverflowError):
        raise _Invalid(
            f"{what}: invalid datetime {value!r}: expected ISO 8601 such as 2026-11-27T10:00:00Z"
        ) from None
    if not date_only and len(text) <= 10:
        raise _Invalid(f"{what}: expected a date and time such as 2026-12-04T10:00:00Z, got a date")
    return moment


def _mail_from(value: Any) -> str:
    return _address(value, "mail_from")


def _rcpt(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise _Invalid("rcpt: expected a list of addresses")
    out: list[str] = []
    for i, item in enumerate(items):
        a = _address(item, f"rcpt[{i}]")
        if a not in out:
            out.append(a)
    return tuple(out)


def _source_ip(value: Any) -> str:
    import ipaddress

    text = _string(value, "source_ip")
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise _Invalid(
            f"source_ip: invalid address {text!r}: expected an IPv4 or IPv6 address"
        ) from None


def _at_time(value: Any) -> datetime:
    return _moment(value, "at", date_only=True)


def _via(value: Any) -> str:
    from secmsg_cli.engine.decide import VIAS

    text = _string(value, "via").strip().lower()
    if text not in VIAS:
        raise _Invalid(f"via: {value!r} is not one of {', '.join(VIAS)}")
    return text


def _chosen_definition(value: Any) -> str:
    return _string(value, "definition").strip()


# The context of ``simulate`` a case (or [defaults]) may give: key -> its checker.
_CONTEXT_FIELDS: dict[str, Callable[[Any], Any]] = {
    "mail_from": _mail_from,
    "rcpt": _rcpt,
    "source_ip": _source_ip,
    "at": _at_time,
    "via": _via,
    "definition": _chosen_definition,
}


def _check_context(key: str, value: Any) -> Any:
    return _CONTEXT_FIELDS[key](value)


def _none_or(value: Any, what: str, check: Callable[[Any], T]) -> T | None:
    """``false``, ``"none"`` or ``""`` -> None (expects "none"); else ``check(value)``."""
    if value is False or (isinstance(value, str) and value.strip().lower() in NONE_WORDS):
        return None
    if value is True:
        raise _Invalid(f'{what}: expected a value or "none", got true')
    return check(value)


def _ref(value: Any, what: str) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = _string(value, what).strip()
    return int(text) if text.isdigit() else text


def _route(value: Any) -> str:
    text = _string(value, "route").strip().lower()
    if text not in ROUTES:
        raise _Invalid(f"route: {value!r} is not one of {', '.join(ROUTES)}")
    return text


def _trigger(value: Any) -> str | None:
    if value is False:
        return None
    text = _string(value, "trigger", empty=True).strip().lower()
    if text not in TRIGGERS and text not in NONE_WORDS:
        raise _Invalid(f"trigger: {value!r} is not one of {', '.join(TRIGGERS)}")
    return None if text in NONE_WORDS else text


def _expected_definition(value: Any) -> str | None:
    return _none_or(value, "definition", lambda v: _string(v, "definition").strip().strip("/"))


def _banner_contains(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise _Invalid("banner_contains: expected a string or a list of strings")
    return tuple(_string(v, f"banner_contains[{i}]") for i, v in enumerate(items))


def _flag(key: str) -> Callable[[Any], bool]:
    return lambda value: _bool(value, key)


def _reference(key: str) -> Callable[[Any], int | str | None]:
    return lambda value: _none_or(value, key, lambda v: _ref(v, key))


def _expiry(key: str) -> Callable[[Any], datetime | None]:
    return lambda value: _none_or(value, key, lambda v: _moment(v, key, date_only=False))


# What an expectation may check (all but ``recipient``): key -> its checker.
_EXPECT_FIELDS: dict[str, Callable[[Any], Any]] = {
    "route": _route,
    "secure": _flag("secure"),
    "internal": _flag("internal"),
    "definition": _expected_definition,
    "trigger": _trigger,
    "policy": _reference("policy"),
    "bypass": _reference("bypass"),
    "banner_contains": _banner_contains,
    "banner_absent": _flag("banner_absent"),
    "expires": _expiry("expires"),
    "latest_expiry": _expiry("latest_expiry"),
    **{key: _flag(key) for key in PERMISSIONS},
}


def _check_expect(key: str, value: Any) -> Any:
    return _EXPECT_FIELDS[key](value)


# --- inline messages ----------------------------------------------------------------


def build_inline(spec: Mapping[str, Any]) -> bytes:
    """RFC 5322 bytes from an inline message table (raises _Invalid)."""
    import email.policy
    from email.message import EmailMessage

    pairs = _inline_headers(spec.get("headers", {}))
    body = _string(spec.get("body", ""), "body", empty=True)
    html = spec.get("html")
    attachments = spec.get("attachments", [])
    if not isinstance(attachments, list):
        raise _Invalid(f"attachments: expected a list of tables, got {_kind(attachments)}")

    msg = EmailMessage(policy=email.policy.default)
    for name, value in pairs:
        if name.lower() in MIME_HEADERS:
            raise _Invalid(f"headers: {name} is set from body, html and attachments; leave it out")
        if "\n" in value or "\r" in value:
            raise _Invalid(f"headers.{name}: a header value cannot contain a line break")
        try:
            msg[name] = value
        except (ValueError, TypeError) as exc:
            raise _Invalid(f"headers.{name}: {exc}") from None
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(_string(html, "html", empty=True), subtype="html")
    for i, att in enumerate(attachments):
        _add_attachment(msg, f"attachments[{i}]", att)
    try:
        return msg.as_bytes()
    except (ValueError, TypeError, UnicodeError) as exc:
        raise _Invalid(f"cannot build the message: {exc}") from None


def _inline_headers(headers: Any) -> list[tuple[str, str]]:
    """``headers`` as a table (list values of address headers joined) or as
    ``Name: value`` lines."""
    pairs: list[tuple[str, str]] = []
    if isinstance(headers, Mapping):
        for name, value in headers.items():
            if isinstance(value, list) and name.lower() in ADDRESS_HEADERS:
                value = ", ".join(_string(v, f"headers.{name}") for v in value)
            pairs.append((name, _string(value, f"headers.{name}", empty=True)))
    elif isinstance(headers, list):
        for i, line in enumerate(headers):
            text = _string(line, f"headers[{i}]")
            name, sep, value = text.partition(":")
            if not sep or not name.strip() or " " in name.strip():
                raise _Invalid(f"headers[{i}]: expected 'Name: value', got {text!r}")
            pairs.append((name.strip(), value.strip()))
    else:
        raise _Invalid(
            f"headers: expected a table or a list of 'Name: value' lines, got {_kind(headers)}"
        )
    return pairs


def _add_attachment(msg: EmailMessage, what: str, att: Any) -> None:
    if not isinstance(att, Mapping):
        raise _Invalid(f"{what}: expected a table with filename, content and content_type")
    unknown = [k for k in att if k not in ATTACHMENT_KEYS]
    if unknown:
        raise _Invalid(
            f"{what}: unknown key {unknown[0]!r} (expected one of {', '.join(ATTACHMENT_KEYS)})"
        )
    filename = _string(att.get("filename"), f"{what}.filename")
    content = _string(att.get("content", ""), f"{what}.content", empty=True)
    ctype = _string(att.get("content_type", "text/plain"), f"{what}.content_type").strip().lower()
    maintype, sep, subtype = ctype.partition("/")
    if not sep or not maintype or not subtype:
        raise _Invalid(
            f"{what}.content_type: expected type/subtype such as text/csv, got {ctype!r}"
        )
    if maintype == "text":
        msg.add_attachment(content, subtype=subtype, filename=filename)
    else:
        msg.add_attachment(
            content.encode("utf-8"), maintype=maintype, subtype=subtype, filename=filename
        )


# --- reading a cases file ---------------------------------------------------------------


def load_cases(path: str | Path) -> CasesFile:
    """Read and check a cases file; raise :class:`ConfigError` (exit 3) listing
    every problem."""
    name = str(path)
    from secmsg_cli.config import read_utf8

    text = read_utf8(path, "a TOML cases file", what="cases file ")
    return parse_cases(text, name=name, base=Path(path).resolve().parent)


def parse_cases(text: str, *, name: str = "<cases>", base: Path | None = None) -> CasesFile:
    """Parse and check the text of a cases file; message paths are relative to ``base``."""
    from secmsg_cli.config import parse_text

    # As a configuration file is read: the same errors, the same limits.
    doc, source = parse_text(text, name, "toml")
    base = base or Path.cwd()
    problems = Problems(source, catch=(_Invalid,))
    for key in doc:
        if key not in TOP_KEYS:
            problems.add(key, f"unknown key {key!r} (expected [defaults] and [[case]] tables)")
    defaults = _parse_defaults(doc, problems)
    raw_cases = doc.get("case", [])
    if not isinstance(raw_cases, list):
        problems.add("case", "case: expected an array of tables ([[case]])")
        raw_cases = []
    if not raw_cases and not problems:
        problems.add(None, "no cases: expected at least one [[case]] table")
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_cases):
        case = _parse_case(i, raw, defaults, base, problems, seen)
        if case is not None:
            cases.append(case)
    problems.raise_if_any(name)
    return CasesFile(Path(name), name, tuple(cases))


def _parse_defaults(doc: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    """The context ``[defaults]`` gives every case."""
    raw = doc.get("defaults", {})
    if not isinstance(raw, Mapping):
        problems.add("defaults", "defaults: expected a table ([defaults])")
        return {}
    at = problems.within("defaults")
    defaults: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in CONTEXT_KEYS:
            at.add(
                key, f"[defaults]: unknown key {key!r} (expected one of {', '.join(CONTEXT_KEYS)})"
            )
            continue
        try:
            defaults[key] = _check_context(key, value)
        except _Invalid as exc:
            at.add(key, f"[defaults]: {exc}")
    return defaults


@dataclass
class _Draft:
    """A case as its fields are read; ``at`` collects its problems."""

    index: int
    at: Problems
    base: Path
    context: dict[str, Any]
    source: str = "inline"
    path: Path | None = None
    data: bytes | None = None
    error_contains: str | None = None
    partial: bool = False
    expect: list[Expectation] = field(default_factory=list)
    expect_given: bool = False  # any [[case.expect]] entry, valid or not


def _case_name(at: Problems, raw: Mapping[str, Any], i: int, seen: dict[str, int]) -> str:
    """The case's name, and how problems name the case (``'name'`` or ``#3``)."""
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        at.add(
            "name",
            f"case #{i + 1}: missing 'name' (a non-empty string)"
            if name is None
            else f"case #{i + 1}: name: expected a non-empty string",
        )
        return f"#{i + 1}"
    name = name.strip()
    if name in seen:
        at.within(object=f"case {name!r}").add(
            "name", f"duplicate name (also case #{seen[name] + 1})"
        )
    else:
        seen[name] = i
    return repr(name)


def _parse_case(
    i: int,
    raw: Any,
    defaults: Mapping[str, Any],
    base: Path,
    problems: Problems,
    seen: dict[str, int],
) -> Case | None:
    at = problems.within("case", i)
    if not isinstance(raw, Mapping):
        at.add(None, f"case #{i + 1}: expected a table")
        return None
    before = len(problems)
    label = _case_name(at, raw, i, seen)
    draft = _Draft(i, at.within(object=f"case {label}"), base, dict(defaults))
    for key in raw:
        if key not in CASE_KEYS:
            draft.at.add(key, f"unknown key {key!r} (expected one of {', '.join(CASE_KEYS)})")
    for key, read in _CASE_FIELDS.items():
        read(draft, raw, key)
    if draft.error_contains is not None and draft.expect_given:
        draft.at.add(
            "error_contains", "give either error_contains or [[case.expect]] entries, not both"
        )
    if draft.error_contains is None and not draft.expect_given:
        draft.at.add(None, "nothing to check: add [[case.expect]] entries or error_contains")
    if len(problems) > before:
        return None
    context = draft.context
    location = at.source.position(("case", i)) if at.source is not None else None
    return Case(
        name=raw["name"].strip(),
        index=i,
        line=location.line if location else None,
        source=draft.source,
        path=draft.path,
        data=draft.data,
        mail_from=context.get("mail_from"),
        rcpt=context.get("rcpt", ()),
        source_ip=context.get("source_ip"),
        at=context.get("at"),
        via=context.get("via"),
        definition=context.get("definition"),
        expect=tuple(draft.expect),
        error_contains=draft.error_contains,
        partial=draft.partial,
    )


# --- the fields of a case: each read by one small function ---------------------------------


def _read_context(draft: _Draft, raw: Mapping[str, Any], key: str) -> None:
    """``mail_from``, ``rcpt``, ... : the case's own value wins over [defaults]."""
    if key in raw:
        value = draft.at.check(key, _check_context, key, raw[key])
        if value is not None:
            draft.context[key] = value


def _read_message(draft: _Draft, raw: Mapping[str, Any], key: str) -> None:
    """``message`` (an .eml path) or ``[case.inline]``: exactly one of them."""
    has_message, has_inline = "message" in raw, "inline" in raw
    if has_message == has_inline:
        draft.at.add(
            None,
            "give exactly one of 'message' (an .eml path) and [case.inline]"
            if has_message
            else "no message: give 'message' (an .eml path) or [case.inline]",
        )
    elif has_message:
        _read_message_file(draft, raw["message"])
    else:
        _read_inline(draft, raw["inline"])


def _read_message_file(draft: _Draft, value: Any) -> None:
    source = draft.at.check("message", _string, value, "message")
    if source is None:
        return
    base = draft.base
    path = (base / source).resolve() if not Path(source).is_absolute() else Path(source)
    draft.source, draft.path = source, path
    if path.is_dir():
        draft.at.add("message", f"message: {source} is a directory, expected an .eml file")
    elif not path.is_file():
        draft.at.add("message", f"message: {source} not found (relative to {base})")


def _read_inline(draft: _Draft, spec: Any) -> None:
    if not isinstance(spec, Mapping):
        draft.at.add("inline", f"inline: expected a table ([case.inline]), got {_kind(spec)}")
        return
    at = draft.at.within("inline")
    unknown = [k for k in spec if k not in INLINE_KEYS]
    for k in unknown:
        at.add(k, f"unknown key {k!r} in [case.inline] (expected one of {', '.join(INLINE_KEYS)})")
    if unknown:
        return
    try:
        draft.data = build_inline(spec)
    except _Invalid as exc:
        # The problem names the key it is about: "headers.From: ...", "attachments[0]: ..."
        key = str(exc).split(":", 1)[0].split(".", 1)[0].split("[", 1)[0]
        at.add(key, f"inline {exc}")


def _read_error_contains(draft: _Draft, raw: Mapping[str, Any], key: str) -> None:
    if key in raw:
        draft.error_contains = draft.at.check(key, _string, raw[key], key)


def _read_partial(draft: _Draft, raw: Mapping[str, Any], key: str) -> None:
    if key in raw:
        draft.partial = bool(draft.at.check(key, _bool, raw[key], key))


def _read_expect(draft: _Draft, raw: Mapping[str, Any], key: str) -> None:
    """``[[case.expect]]``: one per recipient."""
    raw_expect = raw.get(key, [])
    single = isinstance(raw_expect, Mapping)  # [case.expect]: one table, not an array of them
    if single:
        raw_expect = [raw_expect]
    if not isinstance(raw_expect, list):
        draft.at.add(key, f"expect: expected [[case.expect]] tables, got {_kind(raw_expect)}")
        return
    draft.expect_given = bool(raw_expect)
    recipients: set[str] = set()
    for j, item in enumerate(raw_expect):
        at = draft.at.within(key) if single else draft.at.within(key, j)
        exp = _parse_expect(j, item, at)
        if exp is None:
            continue
        if exp.recipient in recipients:
            at.add("recipient", f"two [[case.expect]] entries for {exp.recipient}")
        recipients.add(exp.recipient)
        draft.expect.append(exp)
        if draft.context.get("at") is None and any(
            k in exp.checks for k in ("expires", "latest_expiry")
        ):
            at.add(
                "expires" if "expires" in exp.checks else "latest_expiry",
                "an expected expiry needs a fixed time: set 'at' in the case or in [defaults]",
            )


# The fields of a case, in the order they are read (the order their problems are
# listed); ``inline`` is read with ``message``, and ``name`` before all of them.
_CASE_FIELDS: dict[str, Callable[[_Draft, Mapping[str, Any], str], None]] = {
    **dict.fromkeys(CONTEXT_KEYS, _read_context),
    "message": _read_message,
    "error_contains": _read_error_contains,
    "partial": _read_partial,
    "expect": _read_expect,
}


def _parse_expect(j: int, item: Any, at: Problems) -> Expectation | None:
    if not isinstance(item, Mapping):
        at.add(None, f"expect #{j + 1}: expected a table")
        return None
    before = len(at)
    for key in item:
        if key not in EXPECT_KEYS:
            at.add(
                key,
                f"unknown key {key!r} in [[case.expect]] (expected one of {', '.join(EXPECT_KEYS)})",
            )
    if "recipient" not in item:
        at.add(None, f"expect #{j + 1}: missing 'recipient'")
        return None
    recipient = at.check("recipient", _address, item["recipient"], "recipient")
    checks: dict[str, Any] = {}
    for key in EXPECT_KEYS[1:]:
        if key in item:
            found = len(at)
            value = at.check(key, _check_expect, key, item[key])
            if len(at) == found:  # None is a value here: "none"
                checks[key] = value
    if len(at) > before or recipient is None:
        return None
    return Expectation(recipient, checks)


# --- running and comparing --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One difference between what a case expects and what the engine decided."""

    recipient: str | None  # None: about the message (an error)
    field: str
    expected: Any  # JSON-able
    actual: Any  # JSON-able
    expected_text: str
    actual_text: str
    note: str | None = None  # replaces "expected X, got Y" in the diff

    @property
    def text(self) -> str:
        return (
            f"{self.field}: {self.note}"
            if self.note
            else f"{self.field}: expected {self.expected_text}, got {self.actual_text}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient,
            "field": self.field,
            "expected": self.expected,
            "actual": self.actual,
        }


@dataclass
class CaseResult:
    case: Case
    status: str  # passed | failed | error
    mismatches: tuple[Mismatch, ...] = ()
    error: str | None = None  # the engine's error, when the message could not be decided
    decision: MessageDecision | None = None
    seconds: float = 0.0
    tz: tzinfo = field(default=UTC, repr=False)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def headline(self) -> str:
        """One line on why the case did not pass."""
        if self.status == "error":
            return f"the message could not be decided: {self.error}"
        if self.status == "failed":
            fields = len(self.mismatches)
            who = sorted({m.recipient for m in self.mismatches if m.recipient})
            where = f" for {len(who)} recipient{'s' if len(who) != 1 else ''}" if who else ""
            return f"{fields} expectation{'s' if fields != 1 else ''} not met{where}"
        return "passed"

    def diff(self) -> str:
        """Expected vs actual, grouped by recipient, with the engine's reason."""
        if self.status == "error":
            return f"  error: {self.error}"
        lines: list[str] = []
        reasons = {r.address: r.reason for r in self.decision.recipients} if self.decision else {}
        current: object = object()
        for m in self.mismatches:
            if m.recipient != current:
                if lines and current in reasons:
                    lines.append(f"    why: {reasons[current]}")
                current = m.recipient
                lines.append(f"  {m.recipient}:" if m.recipient else "  message:")
            lines.append(f"    {m.text}")
        if lines and current in reasons:
            lines.append(f"    why: {reasons[current]}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        from secmsg_cli.engine.render import decision_to_json

        return {
            "name": self.case.name,
            "status": self.status,
            "source": self.case.source,
            "seconds": round(self.seconds, 6),
            "error": self.error,
            "mismatches": [m.to_json() for m in self.mismatches],
            "decision": decision_to_json(self.decision, self.case.source, self.tz)
            if self.decision
            else None,
        }


def _context(case: Case, tz: tzinfo) -> Context:
    from secmsg_cli.engine.decide import Context, in_zone

    at = case.at
    at = datetime.now(UTC).replace(microsecond=0) if at is None else in_zone(at, tz)
    # decide() works in UTC (durations are elapsed time, not wall-clock time
    # across a DST change) and reports a time it cannot convert as the case's error.
    return Context(
        at=at,
        mail_from=case.mail_from,
        rcpt=case.rcpt,
        source_ip=case.source_ip,
        via=case.via,
        definition=case.definition,
    )


def run_case(snapshot: Snapshot, case: Case) -> CaseResult:
    """Decide the case's message with ``simulate``'s runner and compare."""
    # The same reader and runner as `secmsg simulate` (one code path).
    from secmsg_cli.runner import DEFAULT_MAX_SIZE, Item, read_file, run_one

    started = time.perf_counter()
    item = (
        read_file(case.path, DEFAULT_MAX_SIZE)
        if case.path is not None
        else Item(case.source, case.data)
    )
    decision, error = run_one(snapshot, item, _context(case, snapshot.tz), DEFAULT_MAX_SIZE)
    tz = snapshot.tz
    if case.error_contains is not None:
        want = case.error_contains
        if error is not None and want.lower() in error.lower():
            result = CaseResult(case, "passed", error=error)
        elif error is not None:
            result = CaseResult(
                case,
                "failed",
                (Mismatch(None, "error", want, error, f"an error containing {want!r}", error),),
                error=error,
            )
        else:
            assert decision is not None  # run_one gives a decision whenever it gives no error
            got = f"no error: decided {len(decision.recipients)} recipient(s)"
            result = CaseResult(
                case,
                "failed",
                (Mismatch(None, "error", want, error, f"an error containing {want!r}", got),),
                error=error,
                decision=decision,
            )
    elif error is not None:
        result = CaseResult(case, "error", error=error)
    else:
        assert decision is not None  # run_one gives a decision whenever it gives no error
        mismatches = compare(snapshot, case, decision)
        result = CaseResult(
            case, "failed" if mismatches else "passed", tuple(mismatches), decision=decision
        )
    result.seconds = time.perf_counter() - started
    result.tz = tz
    return result


def run_cases(
    snapshot: Snapshot, cases: Sequence[Case], coverage: Coverage | None = None
) -> list[CaseResult]:
    """Run every case against one snapshot; decisions go to ``coverage`` (a
    :class:`secmsg_cli.coverage.Coverage`) when given."""
    results = []
    for case in cases:
        result = run_case(snapshot, case)
        if coverage is not None and result.decision is not None:
            coverage.add(result.decision)
        results.append(result)
    return results


def select_cases(cases: Sequence[Case], pattern: re.Pattern[str]) -> tuple[Case, ...]:
    """The cases whose name ``pattern`` finds (``re.search``), as ``--run``
    chooses them."""
    return tuple(c for c in cases if pattern.search(c.name))


def config_snapshot(cfg: Config, source: str) -> Snapshot:
    """The snapshot of a validated configuration file, imported into a
    private in-memory store: what ``test --config`` and ``apply``/``plan
    --test`` run cases against, without touching a store."""
    from secmsg_cli.config import import_config
    from secmsg_cli.store.store import Store

    store = Store(":memory:")
    try:
        import_config(store, cfg, source=source)
        return store.snapshot()
    finally:
        store.close()


# --- comparing ---------------------------------------------------------------------------


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _ref_json(ref: PolicyRef | None) -> dict[str, Any] | None:
    return None if ref is None else {"id": ref.id, "narrative": ref.narrative}


def _ref_text(ref: PolicyRef | None) -> str:
    return "none" if ref is None else f"{ref.id} ({ref.narrative})"


def compare(snapshot: Snapshot, case: Case, decision: MessageDecision) -> list[Mismatch]:
    """Every difference between ``case``'s expectations and ``decision``."""
    tz = snapshot.tz
    out: list[Mismatch] = []
    actual = {r.address: r for r in decision.recipients}
    expected = {e.recipient: e for e in case.expect}
    order = [r.address for r in decision.recipients] + [
        e.recipient for e in case.expect if e.recipient not in actual
    ]
    for address in order:
        exp = expected.get(address)
        r = actual.get(address)
        if exp is None:  # a recipient decided (r), not expected
            if not case.partial and r is not None:
                got = _summary(r)
                out.append(
                    Mismatch(
                        address,
                        "recipient",
                        None,
                        got,
                        "no such recipient",
                        got,
                        f"not expected, but decided: {got} (add a [[case.expect]] for it, "
                        "or set partial = true)",
                    )
                )
            continue
        if r is None:
            decided = ", ".join(actual) or "none"
            out.append(
                Mismatch(
                    address,
                    "recipient",
                    address,
                    None,
                    "a recipient",
                    "none",
                    f"expected, but not a recipient of the message (recipients: {decided})",
                )
            )
            continue
        for key, want in exp.checks.items():
            out.extend(_check(snapshot, key, want, r, tz))
    return out


def _summary(r: RecipientDecision) -> str:
    parts = [r.route, "secure" if r.secure else "not secure"]
    if r.definition is not None:
        parts.append(r.definition.path)
    if r.trigger:
        parts.append(f"trigger {r.trigger}")
    return ", ".join(parts)


def _miss(
    r: RecipientDecision,
    key: str,
    expected: Any,
    actual: Any,
    expected_text: str | None = None,
    actual_text: str | None = None,
) -> list[Mismatch]:
    """One mismatch of ``key`` for ``r``; texts default to the values as shown."""
    return [
        Mismatch(
            r.address,
            key,
            expected,
            actual,
            expected_text if expected_text is not None else _show(expected),
            actual_text if actual_text is not None else _show(actual),
        )
    ]


def _check_value(
    snapshot: Snapshot, key: str, want: Any, r: RecipientDecision, tz: tzinfo
) -> list[Mismatch]:
    """``route``, ``secure``, ``internal``, ``trigger``: the decision's own value."""
    got = getattr(r, key)
    return [] if got == want else _miss(r, key, want, got)


def _check_definition(
    snapshot: Snapshot, key: str, want: Any, r: RecipientDecision, tz: tzinfo
) -> list[Mismatch]:
    got = r.definition.path if r.definition is not None else None
    if (got or "").lower() == (want or "").lower():
        return []
    note = (
        ""
        if want is None or snapshot.definition(want) is not None
        else " (no such definition in the configuration)"
    )
    return _miss(r, key, want, got, _show(want) + note)


def _check_policy_ref(
    snapshot: Snapshot, key: str, want: Any, r: RecipientDecision, tz: tzinfo
) -> list[Mismatch]:
    """``policy``, ``bypass``: by id or by narrative, or "none"."""
    ref = getattr(r, key)
    if want is None:
        ok = ref is None
    elif isinstance(want, int):
        ok = ref is not None and ref.id == want
    else:
        ok = ref is not None and ref.narrative.strip() == want.strip()
    if ok:
        return []
    note = ""
    if isinstance(want, int) and not any(
        cp.id == want for cps in snapshot.policies.values() for cp in cps
    ):
        note = " (no policy with this id in the configuration)"
    return _miss(r, key, want, _ref_json(ref), _show(want) + note, _ref_text(ref))


def _check_banner_contains(
    snapshot: Snapshot, key: str, want: Any, r: RecipientDecision, tz: tzinfo
) -> list[Mismatch]:
    if r.banner is None:
        return _miss(
            r,
            key,
            list(want),
            None,
            "a banner containing " + ", ".join(repr(w) for w in want),
            "no banner",
        )
    out = []
    for fragment in want:
        if fragment not in r.banner.html and fragment not in r.banner.text:
            out += _miss(
                r,
                key,
                fragment,
                r.banner.text,
                f"the banner to contain {fragment!r}",
                f"banner {r.banner.text!r}",
            )
    return out


def _check_banner_absent(
    snapshot: Snapshot, key: str, want: Any, r: RecipientDecision, tz: tzinfo
) -> list[Mismatch]:
    banner = r.banner
    if (banner is not None) is not want:  # want True: no banner; want False: a banner
        return []
    return _miss(
        r,
        key,
        want,
        None if banner is None else banner.text,
        "no banner" if want else "a banner",
        "no banner" if banner is None else f"banner {banner.text!r}",
    )


def _check_expiry(
    snapshot: Snapshot, key: str, want: Any, r: RecipientDecision, tz: tzinfo
) -> list[Mismatch]:
    """``expires``, ``latest_expiry`` of the portal record; a naive time is in the account's zone."""
    got = getattr(r.portal, key) if r.portal is not None else None
    if want is None:
        ok = got is None
    else:
        want = want if want.tzinfo is not None else want.replace(tzinfo=tz)
        ok = got is not None and got == want
    if ok:
        return []
    from secmsg_cli.engine.render import iso

    actual_text = iso(got, tz) or ("none (no portal record)" if r.portal is None else "none")
    return _miss(r, key, iso(want, tz), iso(got, tz), iso(want, tz) or "none", actual_text)


def _check_permission(
    snapshot: Snapshot, key: str, want: Any, r: RecipientDecision, tz: tzinfo
) -> list[Mismatch]:
    """``allow_print``, ``allow_reply``, ...: of the portal record (none never passes)."""
    got = getattr(r.portal, key) if r.portal is not None else None
    if got == want:
        return []
    return _miss(r, key, want, got, None, "no portal record" if r.portal is None else None)


# How each expectation is checked against a recipient's decision: key -> its check.
_CHECKS: dict[str, Callable[[Snapshot, str, Any, RecipientDecision, tzinfo], list[Mismatch]]] = {
    "route": _check_value,
    "secure": _check_value,
    "internal": _check_value,
    "definition": _check_definition,
    "trigger": _check_value,
    "policy": _check_policy_ref,
    "bypass": _check_policy_ref,
    "banner_contains": _check_banner_contains,
    "banner_absent": _check_banner_absent,
    "expires": _check_expiry,
    "latest_expiry": _check_expiry,
    **dict.fromkeys(PERMISSIONS, _check_permission),
}


def _check(
    snapshot: Snapshot, key: str, want: Any, r: RecipientDecision, tz: tzinfo
) -> list[Mismatch]:
    return _CHECKS[key](snapshot, key, want, r, tz)


# --- JUnit XML -------------------------------------------------------------------------------

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(text: str) -> str:
    """Text safe for XML 1.0 (which cannot carry most control characters)."""
    return _XML_BAD.sub("\ufffd", text)


def junit_xml(
    results: Sequence[CaseResult],
    *,
    suite: str,
    file: str | None = None,
    timestamp: datetime | None = None,
    properties: Mapping[str, str] | None = None,
) -> bytes:
    """A JUnit XML report: one ``testsuite`` with one ``testcase`` per case;
    a failed case carries ``<failure>`` (the diff as text), a case whose
    message could not be decided ``<error>``. ``properties`` (such as the
    ``--run`` selection) go in the suite's ``<properties>``."""
    rows = []
    for r in results:
        row = _JUnitCase(r.case.name, r.seconds, r.case.line)
        if r.status == "failed":
            row.outcome = ("failure", r.headline, "ExpectationMismatch", r.diff())
        elif r.status == "error":
            row.outcome = ("error", r.error or "", "DecisionError", f"{r.case.source}: {r.error}")
        rows.append(row)
    return _junit(rows, suite=suite, file=file, timestamp=timestamp, properties=properties)


def junit_not_run(
    message: str,
    problems: Sequence[str] = (),
    *,
    suite: str,
    file: str | None = None,
    timestamp: datetime | None = None,
    properties: Mapping[str, str] | None = None,
) -> bytes:
    """A JUnit XML report for a run that could not start (an invalid cases or
    configuration file, no case selected): one ``testcase`` in ``<error>``
    whose message names the problem, so a "publish the test report" step in
    CI has a report to show instead of none."""
    if problems and not any(p in message for p in problems):
        message = f"{message}: {'; '.join(problems)}"  # the message names them, not only a count
    details = "\n".join(problems) if problems else message
    row = _JUnitCase("(cases not run)", 0.0, None)
    row.outcome = ("error", message, "InvalidCases", details)
    return _junit([row], suite=suite, file=file, timestamp=timestamp, properties=properties)


@dataclass(slots=True)
class _JUnitCase:
    name: str
    seconds: float
    line: int | None
    outcome: tuple[str, str, str, str] | None = None  # element, message, type, text


def _junit(
    rows: Sequence[_JUnitCase],
    *,
    suite: str,
    file: str | None,
    timestamp: datetime | None,
    properties: Mapping[str, str] | None,
) -> bytes:
    import xml.etree.ElementTree as ET

    failures = sum(1 for r in rows if r.outcome and r.outcome[0] == "failure")
    errors = sum(1 for r in rows if r.outcome and r.outcome[0] == "error")
    total = sum(r.seconds for r in rows)
    counts = {
        "tests": str(len(rows)),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": "0",
        "time": f"{total:.6f}",
    }
    root = ET.Element(
        "testsuites", {"name": "secmsg test", **{k: v for k, v in counts.items() if k != "skipped"}}
    )
    attrs = {"name": _x(suite), **counts}
    if timestamp is not None:
        attrs["timestamp"] = timestamp.replace(microsecond=0).isoformat()
    ts = ET.SubElement(root, "testsuite", attrs)
    if properties:
        props = ET.SubElement(ts, "properties")
        for name, value in properties.items():
            ET.SubElement(props, "property", {"name": _x(name), "value": _x(value)})
    classname = _x(Path(suite).stem or "cases")
    for r in rows:
        tc_attrs = {"name": _x(r.name), "classname": classname, "time": f"{r.seconds:.6f}"}
        if file:
            tc_attrs["file"] = _x(file)
        if r.line:
            tc_attrs["line"] = str(r.line)
        tc = ET.SubElement(ts, "testcase", tc_attrs)
        if r.outcome is not None:
            element, message, kind, text = r.outcome
            el = ET.SubElement(tc, element, {"message": _x(message), "type": kind})
            el.text = _x(text)
    ET.indent(root)
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml + b"\n"
