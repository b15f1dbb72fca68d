"""Validation of the fields that need the engine's parsers: domains and
addresses (targets), durations (definition settings), validity bounds
(policies) and match lists (content definitions).

The model (:mod:`secmsg_cli.model`) validates what it can with the standard
library alone and imports nothing of the engine; this module sits just above
the engine, so that the store, the configuration file and the CLI apply the
very same rules (every way in)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import TYPE_CHECKING

from secmsg_cli.engine.addresses import AddressError, normalise_address, normalise_domain
from secmsg_cli.engine.durations import Duration, DurationError, parse_duration
from secmsg_cli.engine.select import bound
from secmsg_cli.errors import InvalidInput
from secmsg_cli.model import (
    CONTENT_DEFINITION_FIELDS,
    KIND_OPTIONS,
    MAX_ID,
    POLICY_FIELDS,
    TARGET_FORMS,
    TARGET_TYPES,
    Target,
    check_activation_score,
    check_attribute_name,
    check_attribute_value,
    check_bool,
    check_choice,
    check_cidr,
    check_content_definition_name,
    check_description,
    check_folder_path,
    check_group_name,
    check_narrative,
    check_scan,
    check_template_name,
    check_when,
)

if TYPE_CHECKING:
    from secmsg_cli.problems import Problem, Problems
from secmsg_cli.vocab import FROM_PARTS, POLICY_KINDS, SCAN_SECTIONS, FromPart, PolicyKind

__all__ = [
    "check_content_definition",
    "check_definition_field",
    "check_domain",
    "check_duration",
    "check_policy",
    "check_target",
]


def check_domain(value: object) -> str:
    try:
        return normalise_domain(value)
    except AddressError as exc:
        raise InvalidInput(str(exc)) from None


def check_duration(value: object, what: str, *, allow_never: bool) -> Duration:
    try:
        return parse_duration(value, allow_never=allow_never, what=what)
    except DurationError as exc:
        raise InvalidInput(str(exc)) from None


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
    if name == "notification_template":
        if value is None or (isinstance(value, str) and not value.strip()):
            return None  # the built-in notification
        return check_template_name(value)
    if name == "description":
        return check_description(value)
    if name == "folder":
        return check_folder_path(value)
    raise InvalidInput(f"unknown definition field {name!r}")


def check_target(value: object, side: str = "target") -> Target:
    """A target from its CLI form (``group:Legal``) or its config form
    (``{type = "group", value = "Legal"}``). Existence of groups and
    attributes is checked by the store, not here."""
    if isinstance(value, Target):
        return value
    ttype: object
    tvalue: object
    tname: object
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
        head, sep, rest = text.partition(":")
        ttype = head.strip().lower()
        tname = None
        tvalue = rest.strip() if sep else None
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


def _problems() -> Problems:
    """A collector for one object's problems. The collector's module is loaded
    here, on the first write, not when the store is opened: a read-only command
    (a one-message simulate) starts ~1.3 ms sooner, of ~70 ms."""
    from secmsg_cli.problems import Problems

    return Problems(catch=(InvalidInput,))


def check_policy(raw: Mapping[str, object], tz: tzinfo) -> tuple[dict[str, object], list[Problem]]:
    """Validate a policy given with the field names of docs/configuration.md (``from``,
    ``to``, ...), without looking anything up. Returns the normalised values
    (keys as :class:`Policy` fields: ``from_`` for ``from``) and the problems
    found (each naming its ``field``), all of them rather than the first.
    ``kind`` must be present; absent fields take their defaults."""
    problems = _problems()
    out: dict[str, object] = {}
    check = problems.check

    for key in raw:
        if key not in POLICY_FIELDS:
            problems.add(key, f"unknown field {key!r} (expected one of {', '.join(POLICY_FIELDS)})")
    kind = check("kind", check_choice, raw.get("kind"), POLICY_KINDS, "policy kind")
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
    if kind == PolicyKind.CONTENT_EXAMINATION:
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
        if kind == PolicyKind.SECURE_MESSAGING and option == "apply":
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
        "from_part",
        check_choice,
        raw.get("from_part", FromPart.ENVELOPE.value),
        FROM_PARTS,
        "from_part",
    )
    for flag, unset in (("enabled", True), ("override", False), ("bidirectional", False)):
        out[flag] = check(flag, check_bool, raw.get(flag, unset), flag)
    if kind == PolicyKind.SECURE_MESSAGING and out.get("bidirectional"):
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
    start, end = out.get("start"), out.get("end")
    if isinstance(start, str) and isinstance(end, str) and start and end:
        lo = bound(start, tz, end=False)
        hi = bound(end, tz, end=True)
        if lo is not None and hi is not None and hi <= lo:
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
    """Validate a content definition (docs/decisions.md) given with config field names;
    the match lines are parsed with the engine's grammar. Returns normalised
    values and every problem (each naming its ``field``)."""
    # Imported here, not above: the match-list grammar brings in RE2, which
    # only the commands that write content definitions need (start-up).
    from secmsg_cli.engine.content import validate_match_list

    problems = _problems()
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
