"""The configuration objects (frozen, slotted dataclasses; tuples, not lists)
and the validation of their fields, shared by the CLI, the store and the
configuration file so that every way in applies the same rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from secmsg_cli.engine.addresses import AddressError, normalise_domain
from secmsg_cli.engine.durations import NEVER, Duration, DurationError, parse_duration
from secmsg_cli.errors import InvalidInput

EDITIONS = ("full", "lite")
BYPASS_SCOPES = ("policy", "all")
DOMAIN_TYPES = ("local", "remote", "send-only")
ROUTINGS = ("external", "all")
EVERYONE = "everyone"
BUILTIN_FOLDER = "Default"
BUILTIN_ALL = "All Recipients"
BUILTIN_EXTERNAL = "External Recipients"
DEFAULT_PORTAL_URL = "https://portal.invalid/secure"


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


def _text(value: object, what: str, *, allow_slash: bool = True, max_len: int = 200) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"invalid {what} {value!r}: expected text")
    text = value.strip()
    if not text:
        raise InvalidInput(f"invalid {what}: it cannot be empty")
    if _CONTROL.search(text):
        raise InvalidInput(f"invalid {what} {value!r}: control characters are not allowed")
    if not allow_slash and "/" in text:
        raise InvalidInput(f"invalid {what} {value!r}: '/' is not allowed")
    if len(text) > max_len:
        raise InvalidInput(f"invalid {what}: longer than {max_len} characters")
    return text


def check_group_name(value: object) -> str:
    name = _text(value, "group name", max_len=100)
    if name.startswith("@") or name.lower() == EVERYONE:
        raise InvalidInput(f"invalid group name {name!r}: reserved (it would read as a domain or 'everyone')")
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
        raise InvalidInput(f"invalid timezone {value!r}: expected an IANA name such as Europe/London")
    name = value.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"invalid timezone {name!r}: expected an IANA name such as Europe/London") from None
    return name


def check_portal_url(value: object) -> str:
    from urllib.parse import urlsplit

    text = _text(value, "portal_url", max_len=2000)
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.netloc or " " in text:
        raise InvalidInput(f"invalid portal_url {text!r}: expected an https:// URL")
    return text


def check_retention(value: object) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"invalid max_retention_days {value!r}: expected a whole number of days 1..36500")
    try:
        days = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise InvalidInput(f"invalid max_retention_days {value!r}: expected a whole number of days 1..36500") from None
    if not 1 <= days <= 36500:
        raise InvalidInput(f"invalid max_retention_days {value!r}: expected a whole number of days 1..36500")
    return days


def check_account_field(name: str, value: object) -> object:
    """Validate one account setting; returns the normalised value."""
    if name == "name":
        if not isinstance(value, str) or _CONTROL.search(value):
            raise InvalidInput(f"invalid account name {value!r}: expected text without control characters")
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
    raise InvalidInput(f"unknown account setting {name!r}: expected one of {', '.join(ACCOUNT_FIELDS)}")


def check_definition_field(name: str, value: object) -> object:
    """Validate one definition setting; returns the normalised value."""
    if name in ("allow_print", "allow_reply", "allow_reply_all", "read_receipt"):
        return check_bool(value, name)
    if name == "expire_after":
        return check_duration(value, name, allow_never=True)
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
        raise InvalidInput(f"invalid definition path {value!r}: expected FOLDER/DESCRIPTION such as Legal/7-Day Expiry")
    folder, _, description = value.strip().strip("/").rpartition("/")
    return check_folder_path(folder), check_description(description)
