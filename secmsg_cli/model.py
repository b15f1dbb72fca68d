"""The configuration objects (frozen, slotted dataclasses; tuples, not lists)
and the validation of their fields, shared by the CLI, the store and the
configuration file so that every way in applies the same rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from secmsg_cli.errors import InvalidInput
from secmsg_cli.vocab import POLICY_KINDS, SCAN_SECTIONS, FromPart, PolicyKind

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


# --- durations (docs/configuration.md) --------------------------------------------------

#: Minutes in one of each unit (a year counted as 365 days).
DURATION_MINUTES = {"m": 1, "h": 60, "d": 1440, "w": 10080, "y": 525600}


@dataclass(frozen=True, slots=True)
class Duration:
    """A whole number of one unit (``m``, ``h``, ``d``, ``w``, ``y``), or
    ``never`` (amount 0, unit ``never``). Parsed from text by
    :func:`secmsg_cli.engine.durations.parse_duration`."""

    amount: int
    unit: str

    @property
    def is_never(self) -> bool:
        return self.unit == "never"

    def __str__(self) -> str:
        return "never" if self.is_never else f"{self.amount}{self.unit}"

    @property
    def approx_minutes(self) -> int:
        """Length in minutes (a year counted as 365 days); for comparisons only."""
        return 0 if self.is_never else self.amount * DURATION_MINUTES[self.unit]

    def add_to(self, moment: datetime) -> datetime:
        """``moment`` + this duration; years are calendar years (29 Feb -> 28 Feb)."""
        if self.is_never:
            raise ValueError("'never' cannot be added to a time")
        if self.unit != "y":
            return moment + timedelta(minutes=self.amount * DURATION_MINUTES[self.unit])
        year = moment.year + self.amount
        try:
            return moment.replace(year=year)
        except ValueError:  # 29 February in a year that has none
            return moment.replace(year=year, day=28)

    def add_capped(self, moment: datetime) -> datetime:
        """:meth:`add_to`, or the last instant there is when the sum falls past
        the year 9999: for a time that a later bound (the end of retention,
        itself representable) caps anyway, as expiry and extensions are."""
        try:
            return self.add_to(moment)
        except (OverflowError, ValueError):  # ValueError: replace(year=10000)
            return datetime.max.replace(tzinfo=UTC)


NEVER = Duration(0, "never")


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
    notification_template: str | None = None  # a template's name; None: the built-in notification

    @property
    def path(self) -> str:
        return f"{self.folder}/{self.description}"

    @property
    def effective_allow_reply_all(self) -> bool:
        """docs/configuration.md: reply-all is effective only when reply is allowed."""
        return self.allow_reply and self.allow_reply_all


DEFINITION_SETTINGS = (
    "allow_print",
    "allow_reply",
    "allow_reply_all",
    "expire_after",
    "max_extension",
    "read_receipt",
    "banner",
    "notification_template",
)


# --- notification templates (docs/configuration.md) --------------------------------------

#: The image types a template's logo may be, by the bytes it starts with.
LOGO_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
#: A logo is sent with every notification: larger than this is refused.
MAX_LOGO_BYTES = 512 * 1024
MAX_TEMPLATE_BODY = 100_000


@dataclass(frozen=True, slots=True)
class NotificationTemplate:
    """A named notification (docs/configuration.md): its subject, HTML and text
    bodies and sender display name, each with tags (``[portal_link]``); an
    optional logo embedded inline. ``logo`` is the file's path as the
    configuration wrote it (relative to the configuration file); ``logo_data``
    its bytes, ``logo_type`` their image type."""

    id: int
    name: str
    subject: str
    html: str
    text: str
    sender_name: str | None = None
    logo: str | None = None
    logo_type: str | None = None
    logo_data: bytes | None = field(default=None, repr=False)


TEMPLATE_FIELDS = ("name", "subject", "sender_name", "html", "text", "logo")


def check_template_name(value: object) -> str:
    return _text(value, "notification template name", max_len=100)


def check_template_line(value: object, what: str) -> str:
    """A subject or a sender display name (tags allowed): one line of text."""
    return _text(value, what, max_len=500)


def check_template_body(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"invalid {what} {value!r}: expected text")
    if not value.strip():
        raise InvalidInput(f"invalid {what}: it cannot be empty")
    if _SURROGATE.search(value):
        raise InvalidInput(f"invalid {what}: text that is not valid UTF-8")
    bad = _CONTROL.search(value.replace("\n", "").replace("\t", "").replace("\r", ""))
    if bad:
        raise InvalidInput(f"invalid {what}: control character {bad.group()!r} is not allowed")
    if len(value) > MAX_TEMPLATE_BODY:
        raise InvalidInput(f"invalid {what}: longer than {MAX_TEMPLATE_BODY} characters")
    return value.replace("\r\n", "\n").replace("\r", "\n")  # mail bodies end lines one way


def check_logo_path(value: object) -> str:
    """A logo's path as a configuration writes it: relative, inside the
    configuration's directory (no ``..``, not absolute), ``/`` between levels."""
    text = _text(value, "logo", max_len=500)
    parts = text.replace("\\", "/").split("/")
    if text.startswith(("/", "\\")) or (len(parts[0]) == 2 and parts[0][1] == ":"):
        raise InvalidInput(
            f"invalid logo {text!r}: give a path relative to the configuration file, such as logo.png"
        )
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidInput(
            f"invalid logo {text!r}: the file must be inside the configuration file's directory "
            "(no '..', '.' or empty level)"
        )
    return "/".join(parts)


def logo_type(data: bytes, what: str = "logo") -> str:
    """The image type of a logo's bytes; InvalidInput when not a PNG, JPEG or
    GIF image or larger than :data:`MAX_LOGO_BYTES`."""
    if len(data) > MAX_LOGO_BYTES:
        raise InvalidInput(
            f"invalid {what}: {len(data)} bytes, larger than {MAX_LOGO_BYTES} "
            "(it is sent with every notification)"
        )
    for magic, ctype in LOGO_TYPES:
        if data.startswith(magic):
            return ctype
    raise InvalidInput(f"invalid {what}: not a PNG, JPEG or GIF image")


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


def split_definition_path(value: str) -> tuple[str, str]:
    """``Legal/7-Day Expiry`` -> (``Legal``, ``7-Day Expiry``)."""
    if not isinstance(value, str) or "/" not in value.strip().strip("/"):
        raise InvalidInput(
            f"invalid definition path {value!r}: expected FOLDER/DESCRIPTION such as Legal/7-Day Expiry"
        )
    folder, _, description = value.strip().strip("/").rpartition("/")
    return check_folder_path(folder), check_description(description)


# --- policies and content definitions (docs/decisions.md) -------------------------

KINDS = POLICY_KINDS  # the policy kinds (secmsg_cli.vocab.PolicyKind), as plain text
#: The options of each kind of policy, the default first.
KIND_OPTIONS: dict[str, tuple[str, ...]] = {
    PolicyKind.SECURE_MESSAGING: ("apply", "no-action"),
    PolicyKind.BYPASS: ("disable", "no-action"),
    PolicyKind.CONTENT_EXAMINATION: (),
}
TARGET_TYPES = ("everyone", "internal", "external", "domain", "group", "attribute", "address")
TARGET_FORMS = (
    "everyone, internal, external, domain:partner.com, domain:*.partner.com, group:NAME, "
    "attribute:Name=value or address:user@example.com"
)


@dataclass(frozen=True, slots=True)
class Target:
    """Emails From / Emails To (docs/decisions.md). ``value`` is the domain, group name,
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
    from_part: str = FromPart.ENVELOPE.value
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
        # it keeps the whole-day meaning of docs/decisions.md; only a time makes it a datetime.
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


STATUSES_HELP = "Only policies with this status: active, disabled, scheduled or expired."
