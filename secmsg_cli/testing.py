"""Expectation cases for ``secmsg test`` (SPEC §9): read and check a cases
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
(SPEC §8.1): ``mail_from``, ``rcpt`` (a list or one address), ``source_ip``,
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from secmsg_cli.errors import ConfigError

__all__ = [
    "Case",
    "CaseResult",
    "CasesFile",
    "Expectation",
    "Mismatch",
    "junit_xml",
    "load_cases",
    "parse_cases",
    "run_case",
    "run_cases",
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


# --- where things are in the text ---------------------------------------------------


class _Lines:
    """Line numbers of tables and keys in a TOML cases file written the usual
    way (``[[case]]`` / ``[[case.expect]]`` / ``[case.inline]`` headers, one
    key per line); anything else falls back to the nearest table header."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(?:#.*)?$")
    _KEY = re.compile(r"^\s*(?:\"([^\"]+)\"|'([^']+)'|([A-Za-z0-9_-]+))\s*=")

    def __init__(self, text: str) -> None:
        self.tables: dict[tuple, int] = {}
        self.keys: dict[tuple, int] = {}
        where: tuple = ("top",)
        case = -1
        expect = -1
        for no, line in enumerate(text.splitlines(), start=1):
            m = self._HEADER.match(line)
            if m:
                name = m.group(2).replace('"', "").replace("'", "").replace(" ", "")
                if name == "case" and m.group(1) == "[[":
                    case += 1
                    expect = -1
                    where = ("case", case)
                elif name == "case.expect":
                    expect += 1
                    where = ("expect", case, expect)
                elif name.startswith("case.inline"):
                    where = ("inline", case)
                elif name == "defaults":
                    where = ("defaults",)
                else:
                    where = ("other", name)
                self.tables.setdefault(where, no)
                continue
            k = self._KEY.match(line)
            if k:
                key = k.group(1) or k.group(2) or k.group(3)
                self.keys.setdefault((*where, key), no)

    def of(self, where: tuple, key: str | None = None) -> int | None:
        if key is not None and (*where, key) in self.keys:
            return self.keys[(*where, key)]
        if where in self.tables:
            return self.tables[where]
        if where[0] in ("expect", "inline"):
            return self.of(("case", where[1]), where[0] if where[0] == "inline" else "expect")
        return None


class _Problems:
    def __init__(self, name: str, lines: _Lines) -> None:
        self.name = name
        self.lines = lines
        self.items: list[str] = []

    def add(self, where: tuple, key: str | None, message: str, case: str | None = None) -> None:
        line = self.lines.of(where, key)
        prefix = f"line {line}: " if line else ""
        who = f"case {case}: " if case else ""
        self.items.append(f"{prefix}{who}{message}")

    def raise_if_any(self) -> None:
        if not self.items:
            return
        if len(self.items) == 1:
            raise ConfigError(f"{self.name}: {self.items[0]}", problems=self.items)
        shown = "; ".join(self.items[:3])
        more = f"; and {len(self.items) - 3} more" if len(self.items) > 3 else ""
        raise ConfigError(
            f"{self.name}: {len(self.items)} problems: {shown}{more}", problems=self.items
        )


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
        moment = isoparse(text)
    except (ValueError, OverflowError):
        raise _Invalid(
            f"{what}: invalid datetime {value!r}: expected ISO 8601 such as 2026-11-27T10:00:00Z"
        ) from None
    if not date_only and len(text) <= 10:
        raise _Invalid(f"{what}: expected a date and time such as 2026-12-04T10:00:00Z, got a date")
    return moment


def _check_context(key: str, value: Any) -> Any:
    if key == "mail_from":
        return _address(value, key)
    if key == "rcpt":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise _Invalid("rcpt: expected a list of addresses")
        out: list[str] = []
        for i, item in enumerate(items):
            a = _address(item, f"rcpt[{i}]")
            if a not in out:
                out.append(a)
        return tuple(out)
    if key == "source_ip":
        import ipaddress

        text = _string(value, key)
        try:
            return str(ipaddress.ip_address(text.strip()))
        except ValueError:
            raise _Invalid(
                f"source_ip: invalid address {text!r}: expected an IPv4 or IPv6 address"
            ) from None
    if key == "at":
        return _moment(value, "at", date_only=True)
    if key == "via":
        from secmsg_cli.engine.decide import VIAS

        text = _string(value, key).strip().lower()
        if text not in VIAS:
            raise _Invalid(f"via: {value!r} is not one of {', '.join(VIAS)}")
        return text
    if key == "definition":
        return _string(value, key).strip()
    raise AssertionError(key)


def _none_or(value: Any, what: str, check) -> Any:
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


def _check_expect(key: str, value: Any) -> Any:
    if key in ("secure", "internal", "banner_absent", *PERMISSIONS):
        return _bool(value, key)
    if key == "route":
        text = _string(value, key).strip().lower()
        if text not in ROUTES:
            raise _Invalid(f"route: {value!r} is not one of {', '.join(ROUTES)}")
        return text
    if key == "trigger":
        if value is False:
            return None
        text = _string(value, key, empty=True).strip().lower()
        if text not in TRIGGERS and text not in NONE_WORDS:
            raise _Invalid(f"trigger: {value!r} is not one of {', '.join(TRIGGERS)}")
        return None if text in NONE_WORDS else text
    if key == "definition":
        return _none_or(value, key, lambda v: _string(v, key).strip().strip("/"))
    if key in ("policy", "bypass"):
        return _none_or(value, key, lambda v: _ref(v, key))
    if key == "banner_contains":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise _Invalid("banner_contains: expected a string or a list of strings")
        return tuple(_string(v, f"banner_contains[{i}]") for i, v in enumerate(items))
    if key in ("expires", "latest_expiry"):
        return _none_or(value, key, lambda v: _moment(v, key, date_only=False))
    raise AssertionError(key)


# --- inline messages ----------------------------------------------------------------


def build_inline(spec: Mapping[str, Any]) -> bytes:
    """RFC 5322 bytes from an inline message table (raises _Invalid)."""
    import email.policy
    from email.message import EmailMessage

    headers = spec.get("headers", {})
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
        what = f"attachments[{i}]"
        if not isinstance(att, Mapping):
            raise _Invalid(f"{what}: expected a table with filename, content and content_type")
        unknown = [k for k in att if k not in ATTACHMENT_KEYS]
        if unknown:
            raise _Invalid(
                f"{what}: unknown key {unknown[0]!r} (expected one of {', '.join(ATTACHMENT_KEYS)})"
            )
        filename = _string(att.get("filename"), f"{what}.filename")
        content = _string(att.get("content", ""), f"{what}.content", empty=True)
        ctype = (
            _string(att.get("content_type", "text/plain"), f"{what}.content_type").strip().lower()
        )
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
    try:
        return msg.as_bytes()
    except (ValueError, TypeError, UnicodeError) as exc:
        raise _Invalid(f"cannot build the message: {exc}") from None


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

    doc, _ = parse_text(
        text, name, "toml"
    )  # as a configuration file is read: the same errors, the same limits
    base = base or Path.cwd()
    problems = _Problems(name, _Lines(text))
    for key in doc:
        if key not in TOP_KEYS:
            problems.add(
                ("top",), key, f"unknown key {key!r} (expected [defaults] and [[case]] tables)"
            )

    defaults: dict[str, Any] = {}
    raw_defaults = doc.get("defaults", {})
    if not isinstance(raw_defaults, Mapping):
        problems.add(("top",), "defaults", "defaults: expected a table ([defaults])")
        raw_defaults = {}
    for key, value in raw_defaults.items():
        if key not in CONTEXT_KEYS:
            problems.add(
                ("defaults",),
                key,
                f"[defaults]: unknown key {key!r} (expected one of {', '.join(CONTEXT_KEYS)})",
            )
            continue
        try:
            defaults[key] = _check_context(key, value)
        except _Invalid as exc:
            problems.add(("defaults",), key, f"[defaults]: {exc}")

    raw_cases = doc.get("case", [])
    if not isinstance(raw_cases, list):
        problems.add(("top",), "case", "case: expected an array of tables ([[case]])")
        raw_cases = []
    if not raw_cases and not problems.items:
        problems.add(("top",), None, "no cases: expected at least one [[case]] table")
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_cases):
        case = _parse_case(i, raw, defaults, base, problems, seen)
        if case is not None:
            cases.append(case)
    problems.raise_if_any()
    return CasesFile(Path(name), name, tuple(cases))


def _parse_case(
    i: int,
    raw: Any,
    defaults: Mapping[str, Any],
    base: Path,
    problems: _Problems,
    seen: dict[str, int],
) -> Case | None:
    where = ("case", i)
    if not isinstance(raw, Mapping):
        problems.add(where, None, f"case #{i + 1}: expected a table")
        return None
    before = len(problems.items)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.add(
            where,
            "name",
            f"case #{i + 1}: missing 'name' (a non-empty string)"
            if name is None
            else f"case #{i + 1}: name: expected a non-empty string",
        )
        label = f"#{i + 1}"
    else:
        name = name.strip()
        label = repr(name)
        if name in seen:
            problems.add(where, "name", f"duplicate name (also case #{seen[name] + 1})", label)
        else:
            seen[name] = i

    def bad(key: str | None, message: str, sub: tuple = where) -> None:
        problems.add(sub, key, message, label)

    for key in raw:
        if key not in CASE_KEYS:
            bad(key, f"unknown key {key!r} (expected one of {', '.join(CASE_KEYS)})")

    context = dict(defaults)
    for key in CONTEXT_KEYS:
        if key in raw:
            try:
                context[key] = _check_context(key, raw[key])
            except _Invalid as exc:
                bad(key, str(exc))

    source, path, data = "inline", None, None
    has_message, has_inline = "message" in raw, "inline" in raw
    if has_message == has_inline:
        bad(
            None,
            "give exactly one of 'message' (an .eml path) and [case.inline]"
            if has_message
            else "no message: give 'message' (an .eml path) or [case.inline]",
        )
    elif has_message:
        try:
            source = _string(raw["message"], "message")
            path = (base / source).resolve() if not Path(source).is_absolute() else Path(source)
            if path.is_dir():
                bad("message", f"message: {source} is a directory, expected an .eml file")
            elif not path.is_file():
                bad("message", f"message: {source} not found (relative to {base})")
        except _Invalid as exc:
            bad("message", str(exc))
    else:
        spec = raw["inline"]
        sub = ("inline", i)
        if not isinstance(spec, Mapping):
            bad("inline", f"inline: expected a table ([case.inline]), got {_kind(spec)}")
        else:
            unknown = [k for k in spec if k not in INLINE_KEYS]
            for k in unknown:
                bad(
                    k,
                    f"unknown key {k!r} in [case.inline] (expected one of {', '.join(INLINE_KEYS)})",
                    sub,
                )
            if not unknown:
                try:
                    data = build_inline(spec)
                except _Invalid as exc:
                    bad(
                        str(exc).split(":", 1)[0].split(".", 1)[0].split("[", 1)[0],
                        f"inline {exc}",
                        sub,
                    )

    error_contains = None
    if "error_contains" in raw:
        try:
            error_contains = _string(raw["error_contains"], "error_contains")
        except _Invalid as exc:
            bad("error_contains", str(exc))
    partial = False
    if "partial" in raw:
        try:
            partial = _bool(raw["partial"], "partial")
        except _Invalid as exc:
            bad("partial", str(exc))

    expectations: list[Expectation] = []
    raw_expect = raw.get("expect", [])
    if isinstance(raw_expect, Mapping):
        raw_expect = [raw_expect]
    if not isinstance(raw_expect, list):
        bad("expect", f"expect: expected [[case.expect]] tables, got {_kind(raw_expect)}")
        raw_expect = []
    recipients: set[str] = set()
    for j, item in enumerate(raw_expect):
        exp = _parse_expect(j, item, ("expect", i, j), bad)
        if exp is None:
            continue
        if exp.recipient in recipients:
            bad("recipient", f"two [[case.expect]] entries for {exp.recipient}", ("expect", i, j))
        recipients.add(exp.recipient)
        expectations.append(exp)
        if context.get("at") is None and any(k in exp.checks for k in ("expires", "latest_expiry")):
            bad(
                "expires" if "expires" in exp.checks else "latest_expiry",
                "an expected expiry needs a fixed time: set 'at' in the case or in [defaults]",
                ("expect", i, j),
            )
    if error_contains is not None and raw_expect:
        bad("error_contains", "give either error_contains or [[case.expect]] entries, not both")
    if error_contains is None and not raw_expect:
        bad(None, "nothing to check: add [[case.expect]] entries or error_contains")

    if len(problems.items) > before:
        return None
    return Case(
        name=name,
        index=i,
        line=problems.lines.of(where),
        source=source,
        path=path,
        data=data,
        mail_from=context.get("mail_from"),
        rcpt=context.get("rcpt", ()),
        source_ip=context.get("source_ip"),
        at=context.get("at"),
        via=context.get("via"),
        definition=context.get("definition"),
        expect=tuple(expectations),
        error_contains=error_contains,
        partial=partial,
    )


def _parse_expect(j: int, item: Any, where: tuple, bad) -> Expectation | None:
    if not isinstance(item, Mapping):
        bad(None, f"expect #{j + 1}: expected a table", where)
        return None
    ok = True
    for key in item:
        if key not in EXPECT_KEYS:
            bad(
                key,
                f"unknown key {key!r} in [[case.expect]] (expected one of {', '.join(EXPECT_KEYS)})",
                where,
            )
            ok = False
    if "recipient" not in item:
        bad(None, f"expect #{j + 1}: missing 'recipient'", where)
        return None
    recipient = None
    try:
        recipient = _address(item["recipient"], "recipient")
    except _Invalid as exc:
        bad("recipient", str(exc), where)
        ok = False
    checks: dict[str, Any] = {}
    for key in EXPECT_KEYS[1:]:
        if key in item:
            try:
                checks[key] = _check_expect(key, item[key])
            except _Invalid as exc:
                bad(key, str(exc), where)
                ok = False
    if not ok or recipient is None:
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
    decision: Any = None  # MessageDecision
    seconds: float = 0.0
    tz: Any = field(default=UTC, repr=False)

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


def _context(case: Case, tz):
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


def run_case(snapshot, case: Case) -> CaseResult:
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
        else:
            got = (
                error
                if error is not None
                else f"no error: decided {len(decision.recipients)} recipient(s)"
            )
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
        mismatches = compare(snapshot, case, decision)
        result = CaseResult(
            case, "failed" if mismatches else "passed", tuple(mismatches), decision=decision
        )
    result.seconds = time.perf_counter() - started
    result.tz = tz
    return result


def run_cases(snapshot, cases: Sequence[Case], coverage=None) -> list[CaseResult]:
    """Run every case against one snapshot; decisions go to ``coverage`` (a
    :class:`secmsg_cli.coverage.Coverage`) when given."""
    results = []
    for case in cases:
        result = run_case(snapshot, case)
        if coverage is not None and result.decision is not None:
            coverage.add(result.decision)
        results.append(result)
    return results


# --- comparing ---------------------------------------------------------------------------


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _ref_json(ref) -> dict[str, Any] | None:
    return None if ref is None else {"id": ref.id, "narrative": ref.narrative}


def _ref_text(ref) -> str:
    return "none" if ref is None else f"{ref.id} ({ref.narrative})"


def _iso(moment: datetime | None, tz) -> str | None:
    return None if moment is None else moment.astimezone(tz).isoformat()


def compare(snapshot, case: Case, decision) -> list[Mismatch]:
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
        if exp is None:
            if not case.partial:
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


def _summary(r) -> str:
    parts = [r.route, "secure" if r.secure else "not secure"]
    if r.definition is not None:
        parts.append(r.definition.path)
    if r.trigger:
        parts.append(f"trigger {r.trigger}")
    return ", ".join(parts)


def _check(snapshot, key: str, want: Any, r, tz) -> list[Mismatch]:
    def miss(expected, actual, expected_text=None, actual_text=None) -> list[Mismatch]:
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

    if key in ("route", "secure", "internal", "trigger"):
        got = getattr(r, key)
        return [] if got == want else miss(want, got)
    if key == "definition":
        got = r.definition.path if r.definition is not None else None
        if (got or "").lower() == (want or "").lower():
            return []
        note = (
            ""
            if want is None or snapshot.definition(want) is not None
            else " (no such definition in the configuration)"
        )
        return miss(want, got, _show(want) + note)
    if key in ("policy", "bypass"):
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
        return miss(want, _ref_json(ref), _show(want) + note, _ref_text(ref))
    if key == "banner_contains":
        if r.banner is None:
            return miss(
                list(want),
                None,
                "a banner containing " + ", ".join(repr(w) for w in want),
                "no banner",
            )
        out = []
        for fragment in want:
            if fragment not in r.banner.html and fragment not in r.banner.text:
                out += miss(
                    fragment,
                    r.banner.text,
                    f"the banner to contain {fragment!r}",
                    f"banner {r.banner.text!r}",
                )
        return out
    if key == "banner_absent":
        has = r.banner is not None
        if has is not want:  # want True: no banner; want False: a banner
            return []
        return miss(
            want,
            None if not has else r.banner.text,
            "no banner" if want else "a banner",
            f"banner {r.banner.text!r}" if has else "no banner",
        )
    if key in ("expires", "latest_expiry"):
        got = getattr(r.portal, key) if r.portal is not None else None
        if want is None:
            ok = got is None
        else:
            want_aware = want if want.tzinfo is not None else want.replace(tzinfo=tz)
            ok = got is not None and got == want_aware
            want = want_aware
        if ok:
            return []
        actual_text = _iso(got, tz) or ("none (no portal record)" if r.portal is None else "none")
        return miss(_iso(want, tz), _iso(got, tz), _iso(want, tz) or "none", actual_text)
    if key in PERMISSIONS:
        got = getattr(r.portal, key) if r.portal is not None else None
        if got == want:
            return []
        return miss(want, got, None, "no portal record" if r.portal is None else None)
    raise AssertionError(key)


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
) -> bytes:
    """A JUnit XML report: one ``testsuite`` with one ``testcase`` per case;
    a failed case carries ``<failure>`` (the diff as text), a case whose
    message could not be decided ``<error>``."""
    import xml.etree.ElementTree as ET

    failures = sum(1 for r in results if r.status == "failed")
    errors = sum(1 for r in results if r.status == "error")
    total = sum(r.seconds for r in results)
    counts = {
        "tests": str(len(results)),
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
    classname = _x(Path(suite).stem or "cases")
    for r in results:
        tc_attrs = {"name": _x(r.case.name), "classname": classname, "time": f"{r.seconds:.6f}"}
        if file:
            tc_attrs["file"] = _x(file)
        if r.case.line:
            tc_attrs["line"] = str(r.case.line)
        tc = ET.SubElement(ts, "testcase", tc_attrs)
        if r.status == "failed":
            el = ET.SubElement(
                tc, "failure", {"message": _x(r.headline), "type": "ExpectationMismatch"}
            )
            el.text = _x(r.diff())
        elif r.status == "error":
            el = ET.SubElement(tc, "error", {"message": _x(r.error or ""), "type": "DecisionError"})
            el.text = _x(f"{r.case.source}: {r.error}")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
