"""The configuration objects (frozen, slotted dataclasses; tuples, not lists)
and the validation of their fields, shared by the CLI, the store and the
configuration file so that every way in applies the same rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from secmsg_cli.engine.addresses import AddressError, normalise_domain
from secmsg_cli.engine.durations import NEVER, Duration, DurationError, parse_duration
from secmsg_cli.errors import InvalidInput
from secmsg_cli.problems import Problem, Problems

EDITIONS = ("full", "lite")
BYPASS_SCOPES = ("policy", "all")
DOMAIN_TYPES = ("local", "remote", "send-only")
ROUTINGS = ("external", "all")
EVERYONE = "everyone"
BUILTIN_FOLDER = "Default"
BUILTIN_ALL = "All Recipients"
BUILTIN_EXTERNAL = "External Recipients"
DEFAULT_PORTAL_URL = "https://portal.invalid/secure"
MAX_ID = (
    2**63 - 1
)  # the largest id the store can hold (an SQLite INTEGER); also the largest --limit
NO_ID = -1  # an id no stored object has


def as_id(ref: object) -> int | None:
    """``ref`` read as an object id: an int, or text of ASCII digits (``²`` and
    other Unicode digits are not ids); None when it is not one (a name). A
    number larger than any id the store can hold is :data:`NO_ID`, so that
    looking it up finds nothing, as for any other id not in the store."""
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ref if 0 <= ref <= MAX_ID else NO_ID
    text = str(ref).strip()
    if not (text.isascii() and text.isdigit()):
        return None
    if len(text) > len(str(MAX_ID)):  # before int(): 5,000 digits are refused by int() itself
        return NO_ID
    value = int(text)
    return value if value <= MAX_ID else NO_ID


@dataclass(frozen=True, slots=True)
class Account:
    name: str = ""
    edition: str = "full"
    max_retention_days: int = 3650
    timezone: str = "UTC"
    portal_url: str = DEFAULT_PORTAL_URL
    bypass_scope: str = "policy"
    expired_view: bool = False


ACCOUNT_FIELDS = tuple(Account.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    type: str = "local"


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    name: str
    members: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Folder:
    id: int
    path: str
    parent_id: int | None
    # None = inherits its parent's list; () = published to nobody.
    publish_to: tuple[str, ...] | None = None
    effective_publish_to: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]


@dataclass(frozen=True, slots=True)
class Definition:
    id: int
    folder: str
    description: str
    allow_print: bool = False
    allow_reply: bool = True
    allow_reply_all: bool = False
    expire_after: Duration = NEVER
    max_extension: Duration = field(default_factory=lambda: Duration(0, "d"))
    read_receipt: bool = False
    banner: str | None = None
    routing: str = "external"
    builtin: bool = False

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.description}"

    @property
    def effective_allow_reply_all(self) -> bool:
        """SPEC §3.2: reply-all is effective only when reply is allowed."""
        return self.allow_reply and self.allow_reply_all


DEFINITION_SETTINGS = (
    "allow_print",
    "allow_reply",
    "allow_reply_all",
    "expire_after",
    "max_extension",
    "read_receipt",
    "banner",
)


# --- field validation -------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _text(value: object, what: str, *, allow_slash: bool = True, max_len: int = 200) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"invalid {what} {value!r}: expected text")
    text = value.strip()
    if not text:
        raise InvalidInput(f"invalid {what}: it cannot be empty")
    if _CONTROL.search(text):
        raise InvalidInput(f"invalid {what} {value!r}: control characters are not allowed")
    if _SURROGATE.search(
        text
    ):  # a byte that was not UTF-8 (in argv, a file name): not storable text
        raise InvalidInput(f"invalid {what} {value!r}: text that is not valid UTF-8")
    if not allow_slash and "/" in text:
        raise InvalidInput(f"invalid {what} {value!r}: '/' is not allowed")
    if len(text) > max_len:
        raise InvalidInput(f"invalid {what}: longer than {max_len} characters")
    return text


def check_group_name(value: object) -> str:
    name = _text(value, "group name", max_len=100)
    if name.startswith("@") or name.lower() == EVERYONE:
        raise InvalidInput(
            f"invalid group name {name!r}: reserved (it would read as a domain or 'everyone')"
        )
    return name


def check_folder_name(value: object) -> str:
    return _text(value, "folder name", allow_slash=False, max_len=100)


def check_folder_path(value: object) -> str:
    """A folder path such as ``Legal/Contracts``: no leading slash, no empty level."""
    if not isinstance(value, str):
        raise InvalidInput(f"invalid folder path {value!r}: expected text such as Legal/Contracts")
    raw = value.strip()
    if raw in ("", "/"):
        raise InvalidInput("invalid folder path: the root folder '/' cannot be used here")
    if raw.startswith("/"):
        raw = raw[1:]
    parts = raw.split("/")
    if any(not p.strip() for p in parts):
        raise InvalidInput(f"invalid folder path {value!r}: empty level (use Parent/Child)")
    return "/".join(check_folder_name(p) for p in parts)


def check_description(value: object) -> str:
    return _text(value, "definition description", allow_slash=False, max_len=200)


def check_attribute_name(value: object) -> str:
    name = _text(value, "attribute name", max_len=64)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9 _.-]*", name):
        raise InvalidInput(
            f"invalid attribute name {name!r}: expected a letter followed by letters, digits, spaces, '_', '.' or '-'"
        )
    return name


_WILDCARD = re.compile(r"[*?\[\]^$\\|]")


def check_attribute_value(value: object) -> str:
    text = _text(value, "attribute value", max_len=200)
    bad = _WILDCARD.search(text)
    if bad:
        raise InvalidInput(
            f"invalid attribute value {text!r}: wildcards and regular expressions are not allowed ({bad.group()!r})"
        )
    return text


def check_domain(value: object) -> str:
    try:
        return normalise_domain(value)  # type: ignore[arg-type]
    except AddressError as exc:
        raise InvalidInput(str(exc)) from None


def check_choice(value: object, choices: tuple[str, ...], what: str) -> str:
    if isinstance(value, str) and value.strip().lower() in choices:
        return value.strip().lower()
    raise InvalidInput(f"invalid {what} {value!r}: expected one of {', '.join(choices)}")


def check_bool(value: object, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "yes", "on", "1"):
            return True
        if low in ("false", "no", "off", "0"):
            return False
    raise InvalidInput(f"invalid {what} {value!r}: expected true or false")


def check_duration(value: object, what: str, *, allow_never: bool) -> Duration:
    try:
        return parse_duration(value, allow_never=allow_never, what=what)
    except DurationError as exc:
        raise InvalidInput(str(exc)) from None


def check_timezone(value: object) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            f"invalid timezone {value!r}: expected an IANA name such as Europe/London"
        )
    name = value.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory such as 'Europe'
        raise InvalidInput(
            f"invalid timezone {name!r}: expected an IANA name such as Europe/London"
        ) from None
    return name


# The authority of a URL: optional user info, then a bracketed IPv6 address or
# a host name of letters (any script), digits, '-' and '_' in dot-separated
# labels (no invisible characters such as a soft hyphen), then an optional port.
_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"
_NETLOC = re.compile(
    rf"(?:[^@/\s]*@)?(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|{_LABEL}(?:\.{_LABEL})*\.?)(?::\d{{1,5}})?"
)


def check_portal_url(value: object) -> str:
    import ipaddress
    from urllib.parse import urlsplit

    text = _text(value, "portal_url", max_len=2000)
    bad = InvalidInput(
        f"invalid portal_url {text!r}: expected an https:// URL such as https://secure.example.com/portal"
    )
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - a port out of range raises here
        netloc = _NETLOC.fullmatch(parts.netloc)
        if netloc and netloc.group("ipv6"):
            ipaddress.IPv6Address(netloc.group("ipv6"))
    except ValueError:  # "http://[::1": urllib's "Invalid IPv6 URL", a bad port or address
        raise bad from None
    if parts.scheme not in ("https", "http") or not netloc or " " in text:
        raise bad
    return text


def check_retention(value: object) -> int:
    if isinstance(value, bool):
        raise InvalidInput(
            f"invalid max_retention_days {value!r}: expected a whole number of days 1..36500"
        )
    try:
        days = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise InvalidInput(
            f"invalid max_retention_days {value!r}: expected a whole number of days 1..36500"
        ) from None
    if not 1 <= days <= 36500:
        raise InvalidInput(
            f"invalid max_retention_days {value!r}: expected a whole number of days 1..36500"
        )
    return days


def check_account_field(name: str, value: object) -> object:
    """Validate one account setting; returns the normalised value."""
    if name == "name":
        if not isinstance(value, str) or _CONTROL.search(value):
            raise InvalidInput(
                f"invalid account name {value!r}: expected text without control characters"
            )
        return value.strip()
    if name == "edition":
        return check_choice(value, EDITIONS, "edition")
    if name == "max_retention_days":
        return check_retention(value)
    if name == "timezone":
        return check_timezone(value)
    if name == "portal_url":
        return check_portal_url(value)
    if name == "bypass_scope":
        return check_choice(value, BYPASS_SCOPES, "bypass_scope")
    if name == "expired_view":
        return check_bool(value, "expired_view")
    raise InvalidInput(
        f"unknown account setting {name!r}: expected one of {', '.join(ACCOUNT_FIELDS)}"
    )


def check_definition_field(name: str, value: object) -> object:
    """Validate one definition setting; returns the normalised value."""
    if name in ("allow_print", "allow_reply", "allow_reply_all", "read_receipt"):
        return check_bool(value, name)
    if name == "expire_after":
        duration = check_duration(value, name, allow_never=True)
        if not duration.is_never and duration.amount == 0:
            raise InvalidInput(
                f"invalid expire_after {value!r}: it must be longer than 0 (or never)"
            )
        return duration
    if name == "max_extension":
        return check_duration(value, name, allow_never=False)
    if name == "banner":
        if value is None:
            return None
        if not isinstance(value, str):
            raise InvalidInput(f"invalid banner {value!r}: expected text or HTML")
        if len(value) > 20000:
            raise InvalidInput("invalid banner: longer than 20000 characters")
        return value if value.strip() else None
    if name == "description":
        return check_description(value)
    if name == "folder":
        return check_folder_path(value)
    raise InvalidInput(f"unknown definition field {name!r}")


def split_definition_path(value: str) -> tuple[str, str]:
    """``Legal/7-Day Expiry`` -> (``Legal``, ``7-Day Expiry``)."""
    if not isinstance(value, str) or "/" not in value.strip().strip("/"):
        raise InvalidInput(
            f"invalid definition path {value!r}: expected FOLDER/DESCRIPTION such as Legal/7-Day Expiry"
        )
    folder, _, description = value.strip().strip("/").rpartition("/")
    return check_folder_path(folder), check_description(description)


# --- policies and content definitions (SPEC §4, §6) -------------------------

KINDS = ("secure-messaging", "bypass", "content-examination")
KIND_OPTIONS = {
    "secure-messaging": ("apply", "no-action"),
    "bypass": ("disable", "no-action"),
    "content-examination": (),
}
FROM_PARTS = ("envelope", "header", "both")
TARGET_TYPES = ("everyone", "internal", "external", "domain", "group", "attribute", "address")
SCAN_SECTIONS = ("subject", "headers", "body", "attachments")
TARGET_FORMS = (
    "everyone, internal, external, domain:partner.com, domain:*.partner.com, group:NAME, "
    "attribute:Name=value or address:user@example.com"
)


@dataclass(frozen=True, slots=True)
class Target:
    """Emails From / Emails To (SPEC §4.2). ``value`` is the domain, group name,
    attribute value or address; ``name`` is the attribute name."""

    type: str
    value: str | None = None
    name: str | None = None

    def __str__(self) -> str:
        if self.type in ("everyone", "internal", "external"):
            return self.type
        if self.type == "attribute":
            return f"attribute:{self.name}={self.value}"
        return f"{self.type}:{self.value}"

    def to_dict(self) -> dict[str, str]:
        out = {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        if self.value is not None:
            out["value"] = self.value
        return out


EVERYONE_TARGET = Target("everyone")


@dataclass(frozen=True, slots=True)
class Policy:
    id: int
    kind: str
    narrative: str
    option: str | None = None
    definition: str | None = None
    content_definition: str | None = None
    from_: Target = EVERYONE_TARGET
    from_part: str = "envelope"
    to: Target = EVERYONE_TARGET
    enabled: bool = True
    start: str | None = None
    end: str | None = None
    override: bool = False
    bidirectional: bool = False
    source_ips: tuple[str, ...] = ()
    created: str | None = None
    updated: str | None = None


@dataclass(frozen=True, slots=True)
class ContentDefinition:
    id: int
    name: str
    activation_score: int = 1
    scan: tuple[str, ...] = SCAN_SECTIONS
    lines: tuple[str, ...] = ()
    secure_messaging: str | None = None


def check_target(value: object, side: str = "target") -> Target:
    """A target from its CLI form (``group:Legal``) or its config form
    (``{type = "group", value = "Legal"}``). Existence of groups and
    attributes is checked by the store, not here."""
    from secmsg_cli.engine.addresses import AddressError, normalise_address

    if isinstance(value, Target):
        return value
    if isinstance(value, Mapping):
        allowed = {"type", "value", "name"}
        extra = set(value) - allowed
        if extra:
            raise InvalidInput(
                f"invalid {side}: unknown key {sorted(extra)[0]!r} (expected type, value and for attributes name)"
            )
        ttype, tvalue, tname = value.get("type"), value.get("value"), value.get("name")
    elif isinstance(value, str):
        text = value.strip()
        ttype, sep, rest = text.partition(":")
        ttype = ttype.strip().lower()
        tname = None
        tvalue: object = rest.strip() if sep else None
        if not sep and "@" in text:
            ttype, tvalue = ("domain", text[1:]) if text.startswith("@") else ("address", text)
        if ttype == "attribute" and isinstance(tvalue, str):
            tname, eq, tvalue = tvalue.partition("=")
            if not eq:
                raise InvalidInput(f"invalid {side} {value!r}: expected attribute:Name=value")
    else:
        raise InvalidInput(f"invalid {side} {value!r}: expected {TARGET_FORMS}")
    if not isinstance(ttype, str) or ttype.lower() not in TARGET_TYPES:
        raise InvalidInput(f"invalid {side} {value!r}: expected {TARGET_FORMS}")
    ttype = ttype.lower()
    if ttype in ("everyone", "internal", "external"):
        if tvalue not in (None, "") or tname is not None:
            raise InvalidInput(f"invalid {side} {value!r}: {ttype} takes no value")
        return Target(ttype)
    if not isinstance(tvalue, str) or not tvalue.strip():
        raise InvalidInput(f"invalid {side} {value!r}: {ttype} needs a value ({TARGET_FORMS})")
    tvalue = tvalue.strip()
    if ttype == "domain":
        wildcard = tvalue.startswith("*.")
        try:
            domain = check_domain(tvalue[2:] if wildcard else tvalue)
        except InvalidInput as exc:
            raise InvalidInput(f"invalid {side}: {exc}") from None
        return Target("domain", ("*." if wildcard else "") + domain)
    if ttype == "address":
        try:
            return Target("address", normalise_address(tvalue))
        except AddressError as exc:
            raise InvalidInput(f"invalid {side}: {exc}") from None
    if ttype == "group":
        if tname is not None:
            raise InvalidInput(f"invalid {side} {value!r}: a group target takes no name")
        try:
            return Target("group", check_group_name(tvalue))
        except InvalidInput as exc:
            raise InvalidInput(f"invalid {side}: {exc}") from None
    if tname is None or not str(tname).strip():
        raise InvalidInput(
            f"invalid {side} {value!r}: an attribute target needs a name and a value"
        )
    try:
        return Target("attribute", check_attribute_value(tvalue), check_attribute_name(tname))
    except InvalidInput as exc:
        raise InvalidInput(f"invalid {side}: {exc}") from None


def check_narrative(value: object) -> str:
    return _text(value, "narrative", max_len=500)


def check_cidr(value: object) -> str:
    """A source IP range in CIDR form (IPv4 or IPv6); host bits must be zero."""
    import ipaddress

    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            f"invalid source IP range {value!r}: expected CIDR such as 203.0.113.0/24 or 2001:db8::/32"
        )
    text = value.strip()
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError as exc:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise InvalidInput(
                f"invalid source IP range {text!r}: expected CIDR such as 203.0.113.0/24 or 2001:db8::/32"
            ) from None
        raise InvalidInput(
            f"invalid source IP range {text!r}: host bits are set ({exc}); did you mean {network}?"
        ) from None


def check_when(value: object, what: str) -> str:
    """A validity bound: an ISO date (``2026-01-01``) or datetime (with or
    without offset; without one it is in the account time zone). Returns the
    canonical text kept in the store and the config file."""
    from datetime import date, datetime

    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            f"invalid {what} {value!r}: expected an ISO date (2026-01-31) or datetime (2026-01-31T18:00:00+00:00)"
        )
    text = value.strip()
    try:
        # Any ISO date form (2026-01-31, 20260131, 2026-W05-6) is date-only, so
        # it keeps the whole-day meaning of SPEC §4.4; only a time makes it a datetime.
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidInput(
            f"invalid {what} {text!r}: expected an ISO date (2026-01-31) or datetime (2026-01-31T18:00:00+00:00)"
        ) from None


def check_activation_score(value: object) -> int:
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
    ):
        raise InvalidInput(f"invalid activation_score {value!r}: expected a whole number 1..100")
    score = int(value)
    if not 1 <= score <= 100:
        raise InvalidInput(f"invalid activation_score {value!r}: expected a whole number 1..100")
    return score


def check_scan(value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise InvalidInput(
            f"invalid scan {value!r}: expected one or more of {', '.join(SCAN_SECTIONS)}"
        )
    out = []
    for item in items:
        section = check_choice(item, SCAN_SECTIONS, "scan section")
        if section not in out:
            out.append(section)
    return tuple(s for s in SCAN_SECTIONS if s in out)


def check_content_definition_name(value: object) -> str:
    return _text(value, "content definition name", max_len=200)


POLICY_FIELDS = (
    "id",
    "kind",
    "narrative",
    "option",
    "definition",
    "content_definition",
    "from",
    "from_part",
    "to",
    "enabled",
    "start",
    "end",
    "override",
    "bidirectional",
    "source_ips",
)
CONTENT_DEFINITION_FIELDS = ("name", "activation_score", "scan", "lines", "secure_messaging")


def check_policy(raw: Mapping[str, object], tz) -> tuple[dict[str, object], list[Problem]]:
    """Validate a policy given with the field names of SPEC §9 (``from``,
    ``to``, ...), without looking anything up. Returns the normalised values
    (keys as :class:`Policy` fields: ``from_`` for ``from``) and the problems
    found (each naming its ``field``), all of them rather than the first.
    ``kind`` must be present; absent fields take their defaults."""
    from secmsg_cli.engine.select import bound

    problems = Problems(catch=(InvalidInput,))
    out: dict[str, object] = {}
    check = problems.check

    for key in raw:
        if key not in POLICY_FIELDS:
            problems.add(key, f"unknown field {key!r} (expected one of {', '.join(POLICY_FIELDS)})")
    kind = check("kind", check_choice, raw.get("kind"), KINDS, "policy kind")
    if kind is None:
        return out, problems.items
    out["kind"] = kind
    if "id" in raw and raw["id"] is not None:
        pid = raw["id"]
        if isinstance(pid, bool) or not isinstance(pid, int) or not 1 <= pid <= MAX_ID:
            problems.add("id", f"invalid id {pid!r}: expected a whole number 1..{MAX_ID}")
        else:
            out["id"] = pid
    out["narrative"] = check("narrative", check_narrative, raw.get("narrative"))
    options = KIND_OPTIONS[kind]
    if kind == "content-examination":
        for name in ("option", "definition"):
            if raw.get(name) is not None:
                problems.add(
                    name,
                    f"a content-examination policy has no {name} (its content definition decides)",
                )
        if not raw.get("content_definition"):
            problems.add(
                "content_definition", "a content-examination policy needs a content_definition"
            )
        else:
            out["content_definition"] = str(raw["content_definition"]).strip()
    else:
        default = options[0]
        option = check(
            "option", check_choice, raw.get("option", default), options, f"{kind} option"
        )
        out["option"] = option
        if raw.get("content_definition") is not None:
            problems.add("content_definition", f"a {kind} policy has no content_definition")
        definition = raw.get("definition")
        if kind == "secure-messaging" and option == "apply":
            if not definition:
                problems.add(
                    "definition", "option 'apply' needs a definition (FOLDER/DESCRIPTION or id)"
                )
            else:
                out["definition"] = str(definition).strip()
        elif definition is not None:
            problems.add("definition", f"option {option!r} of a {kind} policy takes no definition")
    out["from_"] = check("from", check_target, raw.get("from", {"type": "everyone"}), "from")
    out["to"] = check("to", check_target, raw.get("to", {"type": "everyone"}), "to")
    out["from_part"] = check(
        "from_part", check_choice, raw.get("from_part", "envelope"), FROM_PARTS, "from_part"
    )
    for flag, default in (("enabled", True), ("override", False), ("bidirectional", False)):
        out[flag] = check(flag, check_bool, raw.get(flag, default), flag)
    if kind == "secure-messaging" and out.get("bidirectional"):
        problems.add(
            "bidirectional",
            "a secure-messaging policy cannot be bi-directional: it applies to internal senders "
            "writing to external recipients only (use a bypass or content-examination policy)",
        )
    for bound_name in ("start", "end"):
        value = raw.get(bound_name)
        out[bound_name] = (
            None if value is None else check(bound_name, check_when, value, bound_name)
        )
    if out.get("start") and out.get("end"):
        lo = bound(out["start"], tz, end=False)  # type: ignore[arg-type]
        hi = bound(out["end"], tz, end=True)  # type: ignore[arg-type]
        if hi <= lo:  # type: ignore[operator]
            problems.add("end", f"end {out['end']} is not after start {out['start']}")
    ips = raw.get("source_ips", [])
    if isinstance(ips, str):
        ips = [ips]
    if not isinstance(ips, (list, tuple)):
        problems.add("source_ips", "expected a list of CIDR ranges")
        ips = []
    cidrs: list[str] = []
    for ip in ips:
        cidr = check("source_ips", check_cidr, ip)
        if cidr is not None and cidr not in cidrs:
            cidrs.append(cidr)
    out["source_ips"] = tuple(cidrs)
    return out, problems.items


def check_content_definition(
    raw: Mapping[str, object],
) -> tuple[dict[str, object], list[Problem]]:
    """Validate a content definition (SPEC §6) given with config field names;
    the match lines are parsed with the engine's grammar. Returns normalised
    values and every problem (each naming its ``field``)."""
    from secmsg_cli.engine.content import validate_match_list

    problems = Problems(catch=(InvalidInput,))
    out: dict[str, object] = {}
    for key in raw:
        if key not in CONTENT_DEFINITION_FIELDS:
            problems.add(
                key,
                f"unknown field {key!r} (expected one of {', '.join(CONTENT_DEFINITION_FIELDS)})",
            )
    check = problems.check

    out["name"] = check("name", check_content_definition_name, raw.get("name"))
    out["activation_score"] = check(
        "activation_score", check_activation_score, raw.get("activation_score", 1)
    )
    out["scan"] = check("scan", check_scan, raw.get("scan", list(SCAN_SECTIONS)))
    lines = raw.get("lines", [])
    if isinstance(lines, str):
        lines = lines.splitlines()
    if not isinstance(lines, (list, tuple)) or not all(isinstance(line, str) for line in lines):
        problems.add("lines", "expected a list of match lines (strings)")
        lines = []
    for error in validate_match_list(lines):
        problems.add("lines", f"match line {error.line_no}: {error.reason}")
    if not any(line.strip() and not line.strip().startswith("#") for line in lines):
        problems.add(
            "lines", "no match lines: a content definition needs at least one WEIGHT TEXT line"
        )
    out["lines"] = tuple(lines)
    sm = raw.get("secure_messaging")
    out["secure_messaging"] = None if sm in (None, "") else str(sm).strip()
    return out, problems.items


STATUSES_HELP = "Only policies with this status: active, disabled, scheduled or expired."
