"""The decision engine, table-driven: at least one case per rule of SPEC
§4.2-§4.8, §5, §6 and §7, each built from a small in-memory configuration
(``tests/engine/_build.py``: model objects straight into ``build_snapshot``)
and an in-memory message (bytes through ``parse_message``).

Every row of :data:`CASES` is decided twice, on the fast path (policies found
by key in the snapshot) and with ``explain=True`` (every policy judged), and
asserts for one recipient: route, secure, definition path, trigger, deciding
policy id, bypass id, a fragment of the recipient's ``reason`` and, where
given, verdicts of the explanation and the content outcomes. Rendering
(banner, portal record, JSON), the errors and two hypothesis properties follow.

Where the SPEC is silent or ambiguous the choice made is marked AMBIGUITY.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secmsg_cli.engine.decide import Context, DecisionError, decide
from secmsg_cli.engine.message import MessageError, parse_message
from secmsg_cli.engine.render import NOTIFICATION_SUBJECT, STANDARD_BANNER, decision_to_json
from tests.engine._build import AT, bp, cdef, ce, definition, eml, sm, world

ALICE = "alice@example.com"  # internal, group Legal, Department=Legal
ANN = "ann@eu.example.com"  # internal (eu.example.com is registered), Legal, Department=Legal
CEO = "ceo@example.com"  # internal, group Board
CAROL = "carol@example.com"  # internal, in no group
BOB = "bob@eu.partner.com"  # external, group Partners (as address), Role=Auditor
VENDOR = "carol@vendor.com"  # external, group Partners (by @vendor.com)
EVE = "eve@other.net"  # external, nothing
CONF = "Confidential: Q3 figures"  # fires the base content definition "Confidential"
EXT = "Default/External Recipients"
ALL = "Default/All Recipients"


# --- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    want: dict  # route, secure, definition, trigger, policy, bypass
    reason: str  # a fragment of the recipient's reason
    policies: tuple = ()
    cfg: dict = field(default_factory=dict)  # world() keywords besides policies
    msg: dict = field(default_factory=dict)  # eml() keywords
    ctx: dict = field(default_factory=dict)  # Context keywords besides explain
    rcpt: str | None = None  # the recipient asserted (default: the first)
    explain: tuple = ()  # (kind, id, verdict, reason fragment)
    content: tuple | None = None  # ((policy_id, score, fired), ...)


def sec(
    policy=None, *, route="portal", definition="Legal/Seven", trigger="policy", bypass=None
) -> dict:
    return dict(
        route=route,
        secure=True,
        definition=definition,
        trigger=trigger,
        policy=policy,
        bypass=bypass,
    )


def plain(policy=None, *, bypass=None) -> dict:
    return dict(
        route="inbox", secure=False, definition=None, trigger=None, policy=policy, bypass=bypass
    )


def content_sec(policy, *, route="inbox", definition="Legal/Seven", bypass=None) -> dict:
    return sec(policy, route=route, definition=definition, trigger="content", bypass=bypass)


def user(definition="Legal/Seven", *, route="portal", bypass=None) -> dict:
    return sec(None, route=route, definition=definition, trigger="user", bypass=bypass)


NO_TRIGGER = "no trigger"

# §4.2 Targets -------------------------------------------------------------------------------
# The "from" side through Secure Messaging policies (internal senders) or Content
# Examination policies (which have no direction rule, so external senders work too).
TARGETS = [
    Case(
        "from-everyone",
        sec(1),
        "applies 'Legal/Seven'",
        (sm(1, "everyone", "external"),),
        explain=(("secure-messaging", 1, "won", "envelope sender alice@example.com is anyone"),),
    ),
    Case(
        "from-internal",
        sec(1),
        "policy 1",
        (sm(1, "internal", "external"),),
        explain=(("secure-messaging", 1, "won", "alice@example.com is internal"),),
    ),
    Case(
        "from-internal-not-external-sender",
        plain(),
        NO_TRIGGER,
        (ce(1, "internal"),),
        msg=dict(frm=EVE, to=ALICE, subject=CONF),
        explain=(
            (
                "content-examination",
                1,
                "no-match",
                "from: envelope sender eve@other.net is not internal",
            ),
        ),
    ),
    Case(
        "from-external",
        content_sec(1),
        "content policy 1",
        (ce(1, "external", "internal"),),
        msg=dict(frm=EVE, to=ALICE, subject=CONF),
        explain=(("content-examination", 1, "won", "eve@other.net is external"),),
    ),
    Case(
        "from-external-not-internal-sender",
        plain(),
        NO_TRIGGER,
        (ce(1, "external"),),
        msg=dict(subject=CONF),
        explain=(("content-examination", 1, "no-match", "alice@example.com is not external"),),
    ),
    Case("from-domain-exact", sec(1), "policy 1", (sm(1, "domain:example.com", "external"),)),
    Case(
        "from-domain-exact-not-subdomain",
        plain(),
        NO_TRIGGER,
        (sm(1, "domain:example.com", "external"),),
        msg=dict(frm=ANN),
        explain=(
            ("secure-messaging", 1, "no-match", "ann@eu.example.com is not in domain example.com"),
        ),
    ),
    Case(
        "from-wildcard-subdomain",
        sec(1),
        "policy 1",
        (sm(1, "domain:*.example.com", "external"),),
        msg=dict(frm=ANN),
        explain=(("secure-messaging", 1, "won", "in a subdomain of example.com"),),
    ),
    Case(
        "from-wildcard-any-depth",
        content_sec(1),
        "content policy 1",
        (ce(1, "domain:*.other.net"),),
        msg=dict(frm="x@a.b.c.other.net", to=ALICE, subject=CONF),
    ),
    Case(
        "from-wildcard-not-apex",
        plain(),
        NO_TRIGGER,
        (sm(1, "domain:*.example.com", "external"),),
        explain=(
            (
                "secure-messaging",
                1,
                "no-match",
                "alice@example.com is not in a subdomain of example.com",
            ),
        ),
    ),
    Case(
        "from-group-address-member",
        sec(1),
        "policy 1",
        (sm(1, "group:Legal", "external"),),
        explain=(("secure-messaging", 1, "won", "is in group Legal"),),
    ),
    Case(
        "from-group-domain-member",
        sec(1),
        "policy 1",
        (sm(1, "group:Staff", "external"),),
        cfg=dict(groups={"Staff": ("@example.com",)}),
        msg=dict(frm=CAROL),
    ),
    Case(
        "from-group-domain-member-not-subdomain",
        plain(),
        NO_TRIGGER,
        (sm(1, "group:Staff", "external"),),
        cfg=dict(groups={"Staff": ("@example.com",)}),
        msg=dict(frm=ANN),
        explain=(("secure-messaging", 1, "no-match", "ann@eu.example.com is not in group Staff"),),
    ),
    Case(
        "from-group-domain-member-external",
        content_sec(1),
        "content policy 1",
        (ce(1, "group:Partners"),),
        msg=dict(frm=VENDOR, to=ALICE, subject=CONF),
    ),
    Case(
        "from-group-non-member",
        plain(),
        NO_TRIGGER,
        (sm(1, "group:Legal", "external"),),
        msg=dict(frm=CEO),
        explain=(("secure-messaging", 1, "no-match", "ceo@example.com is not in group Legal"),),
    ),
    Case(
        "from-attribute",
        sec(1),
        "policy 1",
        (sm(1, "attribute:Department=Legal", "external"),),
        explain=(("secure-messaging", 1, "won", "has Department=Legal"),),
    ),
    Case(
        "from-attribute-absent",
        plain(),
        NO_TRIGGER,
        (sm(1, "attribute:Department=Legal", "external"),),
        msg=dict(frm=CEO),
        explain=(
            ("secure-messaging", 1, "no-match", "ceo@example.com does not have Department=Legal"),
        ),
    ),
    Case(
        "from-attribute-other-value",
        plain(),
        NO_TRIGGER,
        (sm(1, "attribute:Department=Sales", "external"),),
    ),
    Case("from-address", sec(1), "policy 1", (sm(1, f"address:{ALICE}", "external"),)),
    Case(
        "from-address-other",
        plain(),
        NO_TRIGGER,
        (sm(1, f"address:{CEO}", "external"),),
        explain=(("secure-messaging", 1, "no-match", "alice@example.com is not ceo@example.com"),),
    ),
    Case(
        "from-address-case-insensitive",
        sec(1),
        "policy 1",
        (sm(1, "address:ALICE@Example.COM", "external"),),
        msg=dict(frm="Alice@EXAMPLE.com"),
        explain=(("secure-messaging", 1, "won", "alice@example.com"),),
    ),
    # The "to" side.
    Case("to-everyone", sec(1), "policy 1", (sm(1, "internal", "everyone"),)),
    Case(
        "to-external",
        sec(1),
        "policy 1",
        (sm(1, "internal", "external"),),
        explain=(("secure-messaging", 1, "won", "recipient is external"),),
    ),
    Case(
        "to-internal",
        content_sec(1),
        "content policy 1",
        (ce(1, "everyone", "internal"),),
        msg=dict(to=CAROL, subject=CONF),
    ),
    Case(
        "to-internal-not-external-recipient",
        plain(),
        NO_TRIGGER,
        (ce(1, "everyone", "internal"),),
        msg=dict(subject=CONF),
        explain=(
            (
                "content-examination",
                1,
                "no-match",
                "to: recipient bob@eu.partner.com is not internal",
            ),
        ),
    ),
    Case("to-domain-exact", sec(1), "policy 1", (sm(1, "internal", "domain:eu.partner.com"),)),
    Case(
        "to-domain-exact-not-subdomain",
        plain(),
        NO_TRIGGER,
        (sm(1, "internal", "domain:partner.com"),),
        explain=(
            ("secure-messaging", 1, "no-match", "bob@eu.partner.com is not in domain partner.com"),
        ),
    ),
    Case("to-wildcard-subdomain", sec(1), "policy 1", (sm(1, "internal", "domain:*.partner.com"),)),
    Case(
        "to-wildcard-any-depth",
        sec(1),
        "policy 1",
        (sm(1, "internal", "domain:*.partner.com"),),
        msg=dict(to="x@a.b.c.partner.com"),
    ),
    Case(
        "to-wildcard-not-apex",
        plain(),
        NO_TRIGGER,
        (sm(1, "internal", "domain:*.partner.com"),),
        msg=dict(to="x@partner.com"),
        explain=(
            (
                "secure-messaging",
                1,
                "no-match",
                "x@partner.com is not in a subdomain of partner.com",
            ),
        ),
    ),
    Case(
        "to-wildcard-not-lookalike",
        plain(),
        NO_TRIGGER,
        (sm(1, "internal", "domain:*.partner.com"),),
        msg=dict(to="x@evilpartner.com"),
    ),
    Case("to-group-address-member", sec(1), "policy 1", (sm(1, "internal", "group:Partners"),)),
    Case(
        "to-group-domain-member",
        sec(1),
        "policy 1",
        (sm(1, "internal", "group:Partners"),),
        msg=dict(to=VENDOR),
    ),
    Case(
        "to-group-domain-member-not-subdomain",
        plain(),
        NO_TRIGGER,
        (sm(1, "internal", "group:Partners"),),
        msg=dict(to="carol@sub.vendor.com"),
        explain=(
            ("secure-messaging", 1, "no-match", "carol@sub.vendor.com is not in group Partners"),
        ),
    ),
    Case("to-attribute", sec(1), "policy 1", (sm(1, "internal", "attribute:Role=Auditor"),)),
    Case(
        "to-attribute-absent",
        plain(),
        NO_TRIGGER,
        (sm(1, "internal", "attribute:Role=Auditor"),),
        msg=dict(to=EVE),
    ),
    Case("to-address", sec(1), "policy 1", (sm(1, "internal", f"address:{BOB}"),)),
    Case(
        "to-address-case-insensitive",
        sec(1),
        "policy 1",
        (sm(1, "internal", "address:Bob@EU.partner.com"),),
        msg=dict(to="BOB@eu.PARTNER.com"),
        explain=(("secure-messaging", 1, "won", "recipient is bob@eu.partner.com"),),
    ),
    Case(
        "to-domain-idna-unicode-and-case",
        sec(1),
        "policy 1",
        (sm(1, "internal", "domain:bücher.de"),),
        msg=dict(to="Jörg@BÜCHER.de"),
        explain=(("secure-messaging", 1, "won", "in domain xn--bcher-kva.de"),),
    ),
    Case(
        "from-internal-idna-domain",
        sec(1),
        "policy 1",
        (sm(1, "internal"),),
        cfg=dict(domains=("xn--bcher-intern-dlb.de",)),
        msg=dict(frm="x@Bücher-Intern.DE"),
    ),
    Case(
        "rcpt-option-case-insensitive",
        sec(1),
        "policy 1",
        (sm(1, "internal", f"address:{BOB}"),),
        msg=dict(to=None),
        ctx=dict(rcpt=("Bob@Eu.Partner.Com",), mail_from="ALICE@example.com"),
    ),
]

# §4.3 Addresses based on (Return-Path alice, header From ceo) -------------------------------
SPLIT = dict(return_path=ALICE, frm=CEO)
FROM_PART = [
    Case(
        "envelope-default-uses-return-path",
        sec(1),
        "policy 1",
        (sm(1, f"address:{ALICE}"),),
        msg=SPLIT,
        explain=(("secure-messaging", 1, "won", "envelope sender alice@example.com"),),
    ),
    Case(
        "envelope-ignores-header-from",
        plain(),
        NO_TRIGGER,
        (sm(1, f"address:{CEO}"),),
        msg=SPLIT,
        explain=(
            (
                "secure-messaging",
                1,
                "no-match",
                "envelope sender alice@example.com is not ceo@example.com",
            ),
        ),
    ),
    Case(
        "mail-from-option-overrides-return-path",
        sec(1),
        "policy 1",
        (sm(1, f"address:{CAROL}"),),
        msg=SPLIT,
        ctx=dict(mail_from=CAROL),
    ),
    Case(
        "header-uses-header-from",
        sec(1),
        "policy 1",
        (sm(1, f"address:{CEO}", from_part="header"),),
        msg=SPLIT,
        explain=(("secure-messaging", 1, "won", "header From ceo@example.com"),),
    ),
    Case(
        "header-ignores-envelope",
        plain(),
        NO_TRIGGER,
        (sm(1, f"address:{ALICE}", from_part="header"),),
        msg=SPLIT,
        explain=(
            (
                "secure-messaging",
                1,
                "no-match",
                "header From ceo@example.com is not alice@example.com",
            ),
        ),
    ),
    Case(
        "both-envelope-matches",
        sec(1),
        "policy 1",
        (sm(1, f"address:{ALICE}", from_part="both"),),
        msg=SPLIT,
        explain=(("secure-messaging", 1, "won", "envelope sender alice@example.com"),),
    ),
    Case(
        "both-header-matches",
        sec(1),
        "policy 1",
        (sm(1, f"address:{CEO}", from_part="both"),),
        msg=SPLIT,
        explain=(("secure-messaging", 1, "won", "header From ceo@example.com"),),
    ),
    Case(
        "both-match-reports-header",
        sec(1),
        "policy 1",
        (sm(1, "internal", from_part="both"),),
        msg=SPLIT,
        explain=(
            ("secure-messaging", 1, "won", "matches: header From ceo@example.com is internal"),
        ),
    ),
    Case(
        "both-neither-matches",
        plain(),
        NO_TRIGGER,
        (sm(1, f"address:{CAROL}", from_part="both"),),
        msg=SPLIT,
        explain=(
            (
                "secure-messaging",
                1,
                "no-match",
                "header From ceo@example.com / envelope sender alice@example.com is not carol@example.com",
            ),
        ),
    ),
    Case(
        "header-missing-no-match",
        plain(),
        NO_TRIGGER,
        (sm(1, "internal", from_part="header"),),
        msg=dict(frm=None, return_path=ALICE),
        explain=(("secure-messaging", 1, "no-match", "the message has no header From"),),
    ),
    Case(
        "header-missing-both-uses-envelope",
        sec(1),
        "policy 1",
        (sm(1, "internal", from_part="both"),),
        msg=dict(frm=None, return_path=ALICE),
    ),
    Case(
        "header-missing-envelope-unaffected",
        sec(1),
        "policy 1",
        (sm(1, "internal"),),
        msg=dict(frm=None, return_path=ALICE),
    ),
]

# §4.4 Validity ------------------------------------------------------------------------------
TOKYO = dict(timezone="Asia/Tokyo")
NEW_YORK = dict(timezone="America/New_York")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


VALIDITY = [
    Case(
        "disabled",
        plain(),
        NO_TRIGGER,
        (sm(1, enabled=False),),
        explain=(("secure-messaging", 1, "inactive", "inactive: disabled"),),
    ),
    Case(
        "scheduled",
        plain(),
        NO_TRIGGER,
        (sm(1, start="2026-12-01"),),
        explain=(("secure-messaging", 1, "inactive", "inactive: starts 2026-12-01"),),
    ),
    Case(
        "expired",
        plain(),
        NO_TRIGGER,
        (sm(1, end="2026-11-26"),),
        explain=(("secure-messaging", 1, "inactive", "inactive: ended 2026-11-26"),),
    ),
    Case(
        "date-only-window-is-the-whole-day",
        sec(1),
        "policy 1",
        (sm(1, start="2026-11-27", end="2026-11-27"),),
    ),
    Case(
        "end-is-exclusive",
        plain(),
        NO_TRIGGER,
        (sm(1, end="2026-11-27T10:00:00+00:00"),),
        explain=(("secure-messaging", 1, "inactive", "ended"),),
    ),
    Case("start-is-inclusive", sec(1), "policy 1", (sm(1, start="2026-11-27T10:00:00+00:00"),)),
    Case(
        "inactive-does-not-shadow",
        sec(1),
        "policy 1",
        (
            sm(1, "internal", "external"),
            sm(2, f"address:{ALICE}", f"address:{BOB}", option="no-action", enabled=False),
        ),
        explain=(
            ("secure-messaging", 2, "inactive", "disabled"),
            ("secure-messaging", 1, "won", "matches"),
        ),
    ),
    # Date-only bounds are days of the account time zone, not of UTC.
    Case(
        "tokyo-date-start-at-local-midnight",
        sec(1),
        "policy 1",
        (sm(1, start="2026-11-28"),),
        cfg=TOKYO,
        ctx=dict(at=at("2026-11-27T15:00:00+00:00")),
    ),
    Case(
        "tokyo-date-start-not-yet",
        plain(),
        NO_TRIGGER,
        (sm(1, start="2026-11-28"),),
        cfg=TOKYO,
        ctx=dict(at=at("2026-11-27T14:59:59+00:00")),
        explain=(("secure-messaging", 1, "inactive", "starts 2026-11-28"),),
    ),
    Case(
        "tokyo-date-end-last-second",
        sec(1),
        "policy 1",
        (sm(1, end="2026-11-27"),),
        cfg=TOKYO,
        ctx=dict(at=at("2026-11-27T14:59:59+00:00")),
    ),
    Case(
        "tokyo-date-end-passed",
        plain(),
        NO_TRIGGER,
        (sm(1, end="2026-11-27"),),
        cfg=TOKYO,
        ctx=dict(at=at("2026-11-27T15:00:00+00:00")),
        explain=(("secure-messaging", 1, "inactive", "ended 2026-11-27"),),
    ),
    Case(
        "new-york-date-end-still-today-locally",
        sec(1),
        "policy 1",
        (sm(1, end="2026-11-27"),),
        cfg=NEW_YORK,
        ctx=dict(at=at("2026-11-28T04:59:59+00:00")),
    ),
    Case(
        "new-york-date-end-passed",
        plain(),
        NO_TRIGGER,
        (sm(1, end="2026-11-27"),),
        cfg=NEW_YORK,
        ctx=dict(at=at("2026-11-28T05:00:00+00:00")),
    ),
    Case(
        "naive-at-is-account-time",
        sec(1),
        "policy 1",
        (sm(1, start="2026-11-28"),),
        cfg=TOKYO,
        ctx=dict(at=datetime(2026, 11, 28, 0, 0)),
    ),
    Case(
        "naive-datetime-bound-is-account-time",
        plain(),
        NO_TRIGGER,
        (sm(1, start="2026-11-27T20:00:00"),),
        cfg=TOKYO,
        ctx=dict(at=at("2026-11-27T10:59:00+00:00")),
    ),
]

# §4.5 Source IP ranges ----------------------------------------------------------------------
RANGES = ["203.0.113.0/24", "2001:db8::/32"]


def received(ip: str) -> str:
    literal = f"IPv6:{ip}" if ":" in ip else ip
    return f"from mx.partner.example (mx.partner.example [{literal}]) by mx.example.com with ESMTPS id 1"


SOURCE_IP = [
    Case(
        "ipv4-in-range",
        sec(1),
        "policy 1",
        (sm(1, source_ips=RANGES),),
        msg=dict(received=received("203.0.113.5")),
        explain=(("secure-messaging", 1, "won", "matches"),),
    ),
    Case(
        "ipv4-out-of-range",
        plain(),
        NO_TRIGGER,
        (sm(1, source_ips=RANGES),),
        msg=dict(received=received("198.51.100.7")),
        explain=(
            (
                "secure-messaging",
                1,
                "no-match",
                "source IP: 198.51.100.7 is not in 203.0.113.0/24, 2001:db8::/32",
            ),
        ),
    ),
    Case(
        "ipv6-in-range",
        sec(1),
        "policy 1",
        (sm(1, source_ips=RANGES),),
        msg=dict(received=received("2001:db8::25")),
    ),
    Case(
        "ipv6-out-of-range",
        plain(),
        NO_TRIGGER,
        (sm(1, source_ips=RANGES),),
        msg=dict(received=received("2001:db9::25")),
        explain=(("secure-messaging", 1, "no-match", "source IP: 2001:db9::25 is not in"),),
    ),
    Case(
        "ipv6-against-ipv4-only-range",
        plain(),
        NO_TRIGGER,
        (sm(1, source_ips=["0.0.0.0/0"]),),
        msg=dict(received=received("2001:db8::25")),
    ),
    Case(
        "none-known",
        plain(),
        NO_TRIGGER,
        (sm(1, source_ips=RANGES),),
        explain=(("secure-messaging", 1, "no-match", "source IP: unknown"),),
    ),
    Case("no-ranges-means-any", sec(1), "policy 1", (sm(1),)),
    Case(
        "override-wins-over-received",
        sec(1),
        "policy 1",
        (sm(1, source_ips=RANGES),),
        msg=dict(received=received("198.51.100.7")),
        ctx=dict(source_ip="203.0.113.77"),
    ),
    Case(
        "override-out-of-range",
        plain(),
        NO_TRIGGER,
        (sm(1, source_ips=RANGES),),
        msg=dict(received=received("203.0.113.5")),
        ctx=dict(source_ip="198.51.100.7"),
        explain=(("secure-messaging", 1, "no-match", "198.51.100.7 is not in"),),
    ),
    # An IPv4-mapped IPv6 address is that IPv4 host (parse_message already maps
    # the Received: form; the --source-ip override must agree).
    Case(
        "override-ipv4-mapped",
        sec(1),
        "policy 1",
        (sm(1, source_ips=RANGES),),
        ctx=dict(source_ip="::ffff:203.0.113.9"),
    ),
]

# §4.6 Bi-directional -------------------------------------------------------------------------
BIDI = [
    Case(
        "bypass-bidirectional-swapped",
        plain(bypass=2),
        "bypass policy 2 disables",
        (
            sm(1, "internal", "external"),
            bp(2, "domain:eu.partner.com", "group:Legal", bidirectional=True),
        ),
        explain=(
            # the recipient matched the from target, the sender the to target
            (
                "bypass",
                2,
                "won",
                "matches with sender and recipient swapped (bi-directional): recipient "
                "bob@eu.partner.com is in domain eu.partner.com (the from target), envelope "
                "sender alice@example.com is in group Legal (the to target); disables",
            ),
            ("secure-messaging", 1, "bypassed", "removed by bypass policy 2"),
        ),
    ),
    Case(
        "bypass-one-way-does-not-swap",
        sec(1),
        "policy 1",
        (sm(1, "internal", "external"), bp(2, "domain:eu.partner.com", "group:Legal")),
        explain=(
            (
                "bypass",
                2,
                "no-match",
                "from: envelope sender alice@example.com is not in domain eu.partner.com",
            ),
        ),
    ),
    Case(
        "bypass-bidirectional-forward",
        plain(bypass=2),
        "disables",
        (sm(1), bp(2, "group:Legal", "domain:eu.partner.com", bidirectional=True)),
    ),
    Case(
        "bypass-bidirectional-needs-both-sides",
        sec(1),
        "policy 1",
        (sm(1), bp(2, "domain:eu.partner.com", "group:Board", bidirectional=True)),
    ),
    Case(
        "content-bidirectional-swapped",
        content_sec(1, route="portal"),
        "content policy 1",
        (ce(1, "domain:eu.partner.com", "group:Legal", bidirectional=True),),
        msg=dict(subject=CONF),
        explain=(("content-examination", 1, "won", "bi-directional"),),
    ),
    Case(
        "content-one-way-does-not-swap",
        plain(),
        NO_TRIGGER,
        (ce(1, "domain:eu.partner.com", "group:Legal"),),
        msg=dict(subject=CONF),
    ),
    Case(
        "bidirectional-swap-uses-header-from",
        plain(bypass=2),
        "disables",
        (sm(1), bp(2, "external", f"address:{CEO}", from_part="header", bidirectional=True)),
        msg=SPLIT,
    ),
]

# §4.7 Direction -----------------------------------------------------------------------------
DIRECTION = [
    Case("sm-internal-to-external", sec(1), "policy 1", (sm(1),)),
    Case(
        "sm-internal-to-internal",
        plain(),
        NO_TRIGGER,
        (sm(1),),
        msg=dict(to=CAROL),
        explain=(
            (
                "secure-messaging",
                1,
                "no-match",
                "direction: recipient carol@example.com is internal",
            ),
        ),
    ),
    Case(
        "sm-external-to-external",
        plain(),
        NO_TRIGGER,
        (sm(1),),
        msg=dict(frm=EVE),
        explain=(
            ("secure-messaging", 1, "no-match", "direction: sender eve@other.net is external"),
        ),
    ),
    Case(
        "sm-external-to-internal",
        plain(),
        NO_TRIGGER,
        (sm(1),),
        msg=dict(frm=EVE, to=CAROL),
        explain=(
            ("secure-messaging", 1, "no-match", "direction: sender eve@other.net is external"),
        ),
    ),
    Case(
        "sm-direction-uses-envelope-not-header",
        plain(),
        NO_TRIGGER,
        (sm(1, "internal", from_part="header"),),
        msg=dict(return_path=EVE, frm=ALICE),
        explain=(
            ("secure-messaging", 1, "no-match", "direction: sender eve@other.net is external"),
        ),
    ),
    Case("sm-direction-header-when-no-envelope", sec(1), "policy 1", (sm(1),), msg=dict(frm=ALICE)),
    Case(
        "sm-registered-subdomain-is-internal",
        plain(),
        NO_TRIGGER,
        (sm(1),),
        msg=dict(to="x@eu.example.com"),
    ),
    Case(
        "sm-unregistered-subdomain-is-external",
        sec(1),
        "policy 1",
        (sm(1),),
        msg=dict(to="x@mail.example.com"),
    ),
    Case(
        "sm-mixed-recipients-external",
        sec(1),
        "policy 1",
        (sm(1),),
        msg=dict(to=[BOB, CAROL]),
        rcpt=BOB,
    ),
    Case(
        "sm-mixed-recipients-internal",
        plain(),
        NO_TRIGGER,
        (sm(1),),
        msg=dict(to=[BOB, CAROL]),
        rcpt=CAROL,
    ),
    Case(
        "content-inbound",
        content_sec(1),
        "content policy 1",
        (ce(1),),
        msg=dict(frm=EVE, to=CAROL, subject=CONF),
    ),
    Case(
        "content-internal",
        content_sec(1),
        "content policy 1",
        (ce(1),),
        msg=dict(to=CAROL, subject=CONF),
    ),
    Case(
        "content-external-to-external",
        content_sec(1, route="portal"),
        "content policy 1",
        (ce(1),),
        msg=dict(frm=EVE, to=BOB, subject=CONF),
    ),
    Case(
        "bypass-inbound",
        plain(bypass=1),
        NO_TRIGGER,
        (bp(1, "external", "internal", option="no-action"),),
        msg=dict(frm=EVE, to=CAROL),
        explain=(("bypass", 1, "won", "takes no action"),),
    ),
    Case(
        "bypass-internal-to-internal",
        plain(bypass=1),
        NO_TRIGGER,
        (bp(1, "internal", "internal"),),
        msg=dict(to=CAROL),
        explain=(("bypass", 1, "won", "disables Secure Messaging"),),
    ),
]

# §4.8 Specificity and override ----------------------------------------------------------------
# Sender ann@eu.example.com and recipient bob@eu.partner.com match every rank.
FROM_RANKS = [
    "everyone",
    "internal",
    "domain:*.example.com",
    "domain:eu.example.com",
    "group:Legal",
    "attribute:Department=Legal",
    f"address:{ANN}",
]
TO_RANKS = [
    "everyone",
    "external",
    "domain:*.partner.com",
    "domain:eu.partner.com",
    "group:Partners",
    "attribute:Role=Auditor",
    f"address:{BOB}",
]


def _rank_cases(side: str, ranks: list[str]) -> list[Case]:
    out = []
    for lo, hi in itertools.pairwise(ranks):

        def pol(id, t, d):
            return (
                sm(id, t, "everyone", definition=d)
                if side == "from"
                else sm(id, "internal", t, definition=d)
            )

        # The less specific policy has the lower id, so only specificity can make the other win.
        out.append(
            Case(
                f"{side}-{hi.split(':')[0]}{'-wildcard' if '*' in hi else ''}-beats-"
                f"{lo.split(':')[0]}{'-wildcard' if '*' in lo else ''}",
                sec(2),
                "policy 2",
                (pol(1, lo, EXT), pol(2, hi, "Legal/Seven")),
                msg=dict(frm=ANN),
                explain=(
                    ("secure-messaging", 1, "lost", "less specific than policy 2"),
                    ("secure-messaging", 2, "won", "matches"),
                ),
            )
        )
    return out


SPECIFICITY = [
    *_rank_cases("from", FROM_RANKS),
    *_rank_cases("to", TO_RANKS),
    Case(
        "from-rank-before-to-rank",
        sec(2),
        "policy 2",
        (
            sm(1, "everyone", f"address:{BOB}", definition=EXT),
            sm(2, f"address:{ALICE}", "everyone"),
        ),
        explain=(
            (
                "secure-messaging",
                1,
                "lost",
                "from rank 1, to rank 6) < (override no, from rank 6, to rank 1)",
            ),
        ),
    ),
    Case(
        "to-rank-breaks-from-tie",
        sec(2),
        "policy 2",
        (sm(1, "internal", "everyone", definition=EXT), sm(2, "internal", "external")),
    ),
    Case(
        "override-beats-specificity",
        sec(2),
        "policy 2",
        (sm(1, f"address:{ALICE}", f"address:{BOB}", definition=EXT), sm(2, override=True)),
        explain=(("secure-messaging", 1, "lost", "lost to policy 2, which has policy override"),),
    ),
    Case(
        "override-both-then-specificity",
        sec(2),
        "policy 2",
        (sm(1, override=True, definition=EXT), sm(2, f"address:{ALICE}", override=True)),
    ),
    Case(
        "tie-lowest-id-wins",
        sec(3),
        "policy 3",
        (sm(5, "internal", "external", definition=EXT), sm(3, "internal", "external")),
        explain=(
            ("secure-messaging", 5, "lost", "ambiguous: ties with policy 3"),
            ("secure-messaging", 3, "won", "matches"),
        ),
    ),
    Case(
        "tie-wildcard-vs-exact-domain-is-not-a-tie",
        sec(2),
        "policy 2",
        (
            sm(1, "internal", "domain:*.partner.com", definition=EXT),
            sm(2, "internal", "domain:eu.partner.com"),
        ),
    ),
    Case(
        "no-action-more-specific-wins",
        plain(2),
        "takes no action",
        (sm(1), sm(2, "internal", f"address:{BOB}", option="no-action")),
        explain=(
            ("secure-messaging", 2, "won", "matches"),
            ("secure-messaging", 1, "lost", "less specific"),
        ),
    ),
    Case(
        "bypass-exclusive-most-specific",
        plain(bypass=3),
        "bypass policy 3",
        (sm(1), bp(2, option="no-action"), bp(3, "group:Legal")),
    ),
]

# §5 Triggers and precedence --------------------------------------------------------------------
# Content definitions for the scoring ties: "Low" scores 1 on CONF, "High" 2.
LOW = cdef(10, "Low", ["1 confidential"], scan=["subject"], sm=EXT)
HIGH = cdef(11, "High", ["1 confidential", "1 figures"], scan=["subject"], sm="Legal/Seven")
ALSO = cdef(12, "Also", ["1 confidential"], scan=["subject"], sm="Legal/Seven")
NO_OVERRIDE = cdef(13, "Plain", ["1 confidential"], scan=["subject"], sm=None)
SCOPE_ALL = dict(bypass_scope="all")

TRIGGERS = [
    Case("no-trigger", plain(), "no trigger: no definition chosen", ()),
    Case(
        "user-published-to-everyone",
        user(),
        "the sender chose 'Legal/Seven'",
        (),
        ctx=dict(definition="Legal/Seven"),
        explain=(("user", 3, "chosen", "the sender chose"),),
    ),
    Case(
        "user-path-case-insensitive",
        user(),
        "the sender chose",
        (),
        ctx=dict(definition="legal/SEVEN"),
    ),
    Case(
        "user-published-to-group-member",
        user("Legal/Restricted/Board Only"),
        "the sender chose",
        (),
        msg=dict(frm=CEO),
        ctx=dict(definition="Legal/Restricted/Board Only"),
    ),
    Case(
        "user-inherited-publishing-member",
        user("Legal/Restricted/Deep/Inner"),
        "the sender chose",
        (),
        msg=dict(frm=CEO),
        ctx=dict(definition="Legal/Restricted/Deep/Inner"),
    ),
    Case(
        "user-own-list-under-nobody",
        user("Closed/Open/Ajar"),
        "the sender chose",
        (),
        ctx=dict(definition="Closed/Open/Ajar"),
    ),
    Case(
        "user-external-sender-everyone-folder",
        user(route="inbox"),
        "the sender chose",
        (),
        msg=dict(frm=EVE, to=CAROL),
        ctx=dict(definition="Legal/Seven"),
    ),
    Case(
        "user-beats-content",
        user(EXT),
        "the sender chose",
        (ce(1),),
        msg=dict(subject=CONF),
        ctx=dict(definition=EXT),
        content=((1, 1, True),),
        explain=(("content-examination", 1, "lost", "fired, but the user trigger comes first"),),
    ),
    Case(
        "user-beats-policy",
        user(EXT),
        "the sender chose",
        (sm(1),),
        ctx=dict(definition=EXT),
        explain=(("secure-messaging", 1, "lost", "the user trigger comes first"),),
    ),
    Case(
        "content-beats-policy",
        content_sec(1, route="portal"),
        "content policy 1",
        (ce(1), sm(2, definition=EXT)),
        msg=dict(subject=CONF),
        explain=(("secure-messaging", 2, "lost", "the content trigger comes first"),),
    ),
    Case(
        "content-not-firing-falls-to-policy",
        sec(2, definition=EXT),
        "policy 2",
        (ce(1), sm(2, definition=EXT)),
        content=((1, 0, False),),
    ),
    Case(
        "content-without-override-is-no-trigger",
        sec(2, definition=EXT),
        "policy 2",
        (ce(1, cd="Plain"), sm(2, definition=EXT)),
        cfg=dict(content=[NO_OVERRIDE]),
        msg=dict(subject=CONF),
        content=((1, 1, True),),
        explain=(("content-examination", 1, "evaluated", "no Secure Messaging override"),),
    ),
    Case(
        "content-highest-score-wins",
        content_sec(2, route="portal"),
        "scored 2",
        (ce(1, f"address:{ALICE}", f"address:{BOB}", cd="Low", override=True), ce(2, cd="High")),
        cfg=dict(content=[LOW, HIGH]),
        msg=dict(subject=CONF),
        content=((1, 1, True), (2, 2, True)),
        explain=(("content-examination", 1, "lost", "fired, but policy 2 has a higher score"),),
    ),
    Case(
        "content-score-tie-most-specific",
        content_sec(2, route="portal", definition="Legal/Seven"),
        "content policy 2",
        (ce(1, cd="Low"), ce(2, "internal", cd="Also")),
        cfg=dict(content=[LOW, ALSO]),
        msg=dict(subject=CONF),
        content=((1, 1, True), (2, 1, True)),
    ),
    Case(
        "content-score-tie-override-is-more-specific",
        content_sec(2, route="portal"),
        "content policy 2",
        (ce(1, f"address:{ALICE}", cd="Low"), ce(2, cd="Also", override=True)),
        cfg=dict(content=[LOW, ALSO]),
        msg=dict(subject=CONF),
    ),
    Case(
        "content-full-tie-lowest-id",
        content_sec(1, route="portal", definition=EXT),
        "content policy 1",
        (ce(2, cd="Also"), ce(1, cd="Low")),
        cfg=dict(content=[LOW, ALSO]),
        msg=dict(subject=CONF),
        content=((1, 1, True), (2, 1, True)),
    ),
    Case(
        "content-all-evaluated-listed",
        content_sec(2, route="portal"),
        "content policy 2",
        (ce(1, cd="Plain"), ce(2, cd="High"), ce(3, cd="Low", enabled=False), ce(4, EVE, cd="Low")),
        cfg=dict(content=[NO_OVERRIDE, HIGH, LOW]),
        msg=dict(subject=CONF),
        content=((1, 1, True), (2, 2, True)),
        explain=(
            ("content-examination", 3, "inactive", "disabled"),
            ("content-examination", 4, "no-match", "is not eve@other.net"),
        ),
    ),
    Case("policy-apply", sec(1), "applies 'Legal/Seven'", (sm(1),)),
    Case(
        "policy-no-action",
        plain(1),
        "secure-messaging policy 1 ('secure-messaging 1') takes no action",
        (sm(1, option="no-action"),),
    ),
    # Bypass, scope "policy" (the default): removes the policy trigger only.
    Case(
        "bypass-removes-policy",
        plain(bypass=2),
        "secure-messaging policy 1 matched but bypass policy 2 disables",
        (sm(1), bp(2)),
        explain=(("secure-messaging", 1, "bypassed", "removed by bypass policy 2"),),
    ),
    # The bypass won, but the copy is secured: the reason and the bypass's
    # verdict say it removed only the policy trigger, and what secures the copy.
    Case(
        "bypass-keeps-content",
        content_sec(1, route="portal", bypass=2),
        "content policy 1 ('content-examination 1'): 'Confidential' scored 1; bypass policy 2 ('bypass 2') "
        "matched but removes only the policy trigger (bypass scope policy): the copy is still "
        "secured by the content trigger (content policy 1)",
        (ce(1), bp(2)),
        msg=dict(subject=CONF),
        explain=(
            ("bypass", 2, "won", "; removes only the policy trigger (bypass scope policy)"),
            ("content-examination", 1, "won", "'Confidential': score 1"),
        ),
    ),
    Case(
        "bypass-keeps-user",
        user(bypass=2),
        "the sender chose 'Legal/Seven'; bypass policy 2 ('bypass 2') matched but removes only "
        "the policy trigger (bypass scope policy): the copy is still secured by the user trigger "
        "(the sender chose 'Legal/Seven')",
        (bp(2),),
        ctx=dict(definition="Legal/Seven"),
        explain=(("bypass", 2, "won", "still secured by the user trigger"),),
    ),
    Case(
        "bypass-no-action-keeps-policy",
        sec(1, bypass=2),
        "policy 1",
        (sm(1), bp(2, option="no-action")),
    ),
    # Bypass, scope "all": removes every trigger.
    Case("bypass-all-removes-policy", plain(bypass=2), "disables", (sm(1), bp(2)), cfg=SCOPE_ALL),
    Case(
        "bypass-all-removes-content",
        plain(bypass=2),
        "content policy 1 fired but bypass policy 2 disables",
        (ce(1), bp(2)),
        cfg=SCOPE_ALL,
        msg=dict(subject=CONF),
        content=((1, 1, True),),
        explain=(
            ("content-examination", 1, "bypassed", "removed by bypass policy 2 (bypass scope all)"),
        ),
    ),
    Case(
        "bypass-all-removes-user",
        plain(bypass=2),
        "bypass scope all",
        (bp(2),),
        cfg=SCOPE_ALL,
        ctx=dict(definition="Legal/Seven"),
        explain=(("user", 3, "bypassed", "disables Secure Messaging"),),
    ),
    Case(
        "bypass-all-removes-user-content-and-policy",
        plain(bypass=9),
        "bypass scope all",
        (ce(1), sm(2), bp(9, "group:Legal")),
        cfg=SCOPE_ALL,
        msg=dict(subject=CONF),
        ctx=dict(definition=EXT),
    ),
    Case(
        "bypass-all-no-action-removes-nothing",
        user(bypass=2),
        "the sender chose",
        (bp(2, option="no-action"),),
        cfg=SCOPE_ALL,
        ctx=dict(definition="Legal/Seven"),
    ),
    # A more specific no-action bypass shadows a less specific disable bypass.
    Case(
        "bypass-no-action-shadows-disable",
        sec(1, bypass=3),
        "policy 1",
        (sm(1), bp(2), bp(3, "group:Legal", option="no-action")),
        explain=(
            ("bypass", 2, "lost", "less specific than policy 3"),
            ("bypass", 3, "won", "takes no action"),
            ("secure-messaging", 1, "won", "matches"),
        ),
    ),
    Case(
        "bypass-no-action-shadows-disable-scope-all",
        content_sec(1, route="portal", bypass=3),
        "content policy 1",
        (ce(1), bp(2), bp(3, "internal", f"address:{BOB}", option="no-action")),
        cfg=SCOPE_ALL,
        msg=dict(subject=CONF),
    ),
    Case(
        "bypass-disable-more-specific-than-no-action",
        plain(bypass=2),
        "disables",
        (sm(1), bp(2, f"address:{ALICE}"), bp(3, option="no-action")),
    ),
    Case(
        "bypass-override-no-action-beats-specific-disable",
        sec(1, bypass=3),
        "policy 1",
        (
            sm(1),
            bp(2, f"address:{ALICE}", f"address:{BOB}"),
            bp(3, option="no-action", override=True),
        ),
    ),
]

# §6 Content Examination through decide ---------------------------------------------------------
PDF = b"%PDF-1.4 not really a pdf\x00\x01\x02"
PDF_MD5 = hashlib.md5(PDF).hexdigest()
CARD = r"\b(?:\d[ -]?){13,16}\b"


def scan_case(
    id: str,
    lines,
    *,
    score=1,
    scan=("subject", "headers", "body", "attachments"),
    fired: bool,
    points: int,
    msg: dict,
    reason: str = "",
    explain=(),
):
    """A content definition "Scan" behind content policy 1; asserts score and firing."""
    cd = cdef(20, "Scan", lines, score=score, scan=scan)
    want = content_sec(1, route="portal") if fired else plain()
    why = reason or ("content policy 1" if fired else NO_TRIGGER)
    return Case(
        id,
        want,
        why,
        (ce(1, cd="Scan"),),
        cfg=dict(content=[cd]),
        msg=msg,
        content=((1, points, fired),),
        explain=explain,
    )


NEUTRAL = dict(subject="hello", body="nothing to see\n")
SCORING = [
    scan_case(
        "scan-subject",
        ["1 secret"],
        scan=["subject"],
        fired=True,
        points=1,
        msg=dict(subject="Secret plan"),
    ),
    scan_case(
        "scan-subject-ignores-body",
        ["1 secret"],
        scan=["subject"],
        fired=False,
        points=0,
        msg=dict(subject="hello", body="secret\n"),
        explain=(("content-definition", 20, "not-fired", "score 0 < 1; no line found"),),
    ),
    scan_case(
        "scan-headers",
        [r"2 regex (?m)^x-classification:\s*restricted$"],
        scan=["headers"],
        fired=True,
        points=2,
        msg=dict(NEUTRAL, headers={"X-Classification": "Restricted"}),
        explain=(("content-definition", 20, "fired", "in headers"),),
    ),
    # AMBIGUITY: the subject is its own component, so the header block leaves
    # the Subject: field out and a subject word scores once, not twice.
    scan_case(
        "subject-not-counted-again-as-header",
        ["1 secret"],
        score=2,
        fired=False,
        points=1,
        msg=dict(subject="secret"),
        explain=(("content-definition", 20, "not-fired", "in subject (+1)"),),
    ),
    scan_case(
        "scan-headers-other-fields",
        ["1 secret"],
        scan=["headers"],
        fired=True,
        points=1,
        msg=dict(NEUTRAL, headers={"X-Note": "secret"}),
    ),
    scan_case(
        "scan-headers-ignores-body",
        [r"2 regex (?m)^x-classification:\s*restricted$"],
        scan=["headers"],
        fired=False,
        points=0,
        msg=dict(subject="hello", body="X-Classification: restricted\n"),
    ),
    scan_case(
        "scan-body-plain",
        ["1 secret"],
        scan=["body"],
        fired=True,
        points=1,
        msg=dict(subject="secret", body="top secret\n"),
        explain=(("content-definition", 20, "fired", "in body"),),
    ),
    scan_case(
        "scan-body-html-reduced-to-text",
        ['1 "top secret"'],
        scan=["body"],
        fired=True,
        points=1,
        msg=dict(NEUTRAL, html="<p>top&nbsp;<b>secret</b></p>"),
    ),
    scan_case(
        "scan-body-html-markup-is-not-text",
        ["1 classified"],
        scan=["body"],
        fired=False,
        points=0,
        msg=dict(NEUTRAL, html='<p class="classified">x</p>'),
    ),
    scan_case(
        "scan-attachment-text",
        ["1 secret"],
        scan=["attachments"],
        fired=True,
        points=1,
        msg=dict(NEUTRAL, attachments=[("notes.txt", "text/plain", b"secret stuff")]),
        explain=(("content-definition", 20, "fired", "attachment:notes.txt"),),
    ),
    scan_case(
        "scan-attachment-binary-is-not-text",
        ["1 secret"],
        scan=["attachments"],
        fired=False,
        points=0,
        msg=dict(NEUTRAL, attachments=[("x.bin", "application/octet-stream", b"secret stuff")]),
    ),
    scan_case(
        "scan-attachments-ignores-subject",
        ["1 secret"],
        scan=["attachments"],
        fired=False,
        points=0,
        msg=dict(subject="secret"),
    ),
    scan_case(
        "weights-add-up",
        ["2 secret", "3 plan"],
        score=5,
        fired=True,
        points=5,
        msg=dict(subject="secret plan"),
        reason="scored 5",
    ),
    scan_case(
        "below-activation",
        ["2 secret", "3 plan"],
        score=6,
        fired=False,
        points=5,
        msg=dict(subject="secret plan"),
        explain=(("content-examination", 1, "evaluated", "score 5 < 6"),),
    ),
    scan_case(
        "once-per-component",
        ["2 secret"],
        scan=["subject", "body"],
        score=4,
        fired=True,
        points=4,
        msg=dict(subject="secret secret", body="secret secret secret\n"),
    ),
    scan_case(
        "cap-over-components",
        ["2:3 secret"],
        score=3,
        fired=True,
        points=3,
        msg=dict(
            subject="secret", body="secret\n", attachments=[("a.txt", "text/plain", b"secret")]
        ),
        explain=(("content-definition", 20, "fired", "capped"),),
    ),
    scan_case(
        "cap-keeps-below-activation",
        ["2:3 secret"],
        score=4,
        fired=False,
        points=3,
        msg=dict(
            subject="secret", body="secret\n", attachments=[("a.txt", "text/plain", b"secret")]
        ),
    ),
    scan_case(
        "required-missing",
        ["5 secret", "1 required contract"],
        fired=False,
        points=5,
        msg=dict(subject="secret"),
        explain=(("content-definition", 20, "not-fired", "required line 2 'contract' not found"),),
    ),
    scan_case(
        "required-present",
        ["5 secret", "1 required contract"],
        fired=True,
        points=6,
        msg=dict(subject="secret contract"),
    ),
    scan_case(
        "exclude-present",
        ["5 secret", "0 exclude draft"],
        fired=False,
        points=5,
        msg=dict(subject="secret draft"),
        explain=(("content-definition", 20, "not-fired", "excluded by line 2 'draft'"),),
    ),
    scan_case(
        "exclude-absent",
        ["5 secret", "0 exclude draft"],
        fired=True,
        points=5,
        msg=dict(subject="secret"),
    ),
    scan_case(
        "word-boundary",
        ["1 secret"],
        fired=False,
        points=0,
        msg=dict(subject="secretary", body="secrets\n"),
    ),
    scan_case(
        "word-case-insensitive",
        ['1 "Top Secret"'],
        fired=True,
        points=1,
        msg=dict(subject="TOP   secret"),
    ),
    scan_case(
        "regex",
        [r"3 regex \bproj-\d{3}\b"],
        fired=True,
        points=3,
        msg=dict(subject="About PROJ-123"),
    ),
    scan_case(
        "regex-no-match",
        [r"3 regex \bproj-\d{3}\b"],
        fired=False,
        points=0,
        msg=dict(subject="PROJ-12"),
    ),
    scan_case(
        "cardnumber-luhn-valid",
        [f"5 regex,cardnumber {CARD}"],
        score=5,
        fired=True,
        points=5,
        msg=dict(subject="hi", body="card 4111 1111 1111 1111 thanks\n"),
    ),
    scan_case(
        "cardnumber-luhn-invalid",
        [f"5 regex,cardnumber {CARD}"],
        score=5,
        fired=False,
        points=0,
        msg=dict(subject="hi", body="card 4111 1111 1111 1112 thanks\n"),
    ),
    scan_case(
        "hash-of-attachment",
        [f"5 hash {PDF_MD5} report.pdf"],
        score=5,
        fired=True,
        points=5,
        msg=dict(NEUTRAL, attachments=[("r.pdf", "application/pdf", PDF)]),
        explain=(("content-definition", 20, "fired", "in attachment:r.pdf"),),
    ),
    scan_case(
        "hash-other-attachment",
        [f"5 hash {PDF_MD5} report.pdf"],
        score=5,
        fired=False,
        points=0,
        msg=dict(NEUTRAL, attachments=[("r.pdf", "application/pdf", PDF + b"!")]),
    ),
    scan_case(
        "hash-not-scanned",
        [f"5 hash {PDF_MD5} report.pdf"],
        scan=["subject", "body"],
        fired=False,
        points=0,
        msg=dict(NEUTRAL, attachments=[("r.pdf", "application/pdf", PDF)]),
    ),
]

# §7.1 Routing -----------------------------------------------------------------------------------
ALL_CD = cdef(30, "AllCd", ["1 confidential"], scan=["subject"], sm=ALL)
EXT_CD = cdef(31, "ExtCd", ["1 confidential"], scan=["subject"], sm=EXT)
ROUTING = [
    Case("external-to-portal", sec(1, definition=EXT), "policy 1", (sm(1, definition=EXT),)),
    Case(
        "external-all-recipients-to-portal",
        sec(1, definition=ALL),
        "policy 1",
        (sm(1, definition=ALL),),
    ),
    Case(
        "internal-external-routing-to-inbox",
        content_sec(1, definition=EXT),
        "content policy 1",
        (ce(1, cd="ExtCd"),),
        cfg=dict(content=[EXT_CD]),
        msg=dict(to=CAROL, subject=CONF),
    ),
    Case(
        "internal-all-recipients-to-portal",
        content_sec(1, route="portal", definition=ALL),
        "content policy 1",
        (ce(1, cd="AllCd"),),
        cfg=dict(content=[ALL_CD]),
        msg=dict(to=CAROL, subject=CONF),
    ),
    Case(
        "internal-all-recipients-via-outlook-to-inbox",
        content_sec(1, definition=ALL),
        "content policy 1",
        (ce(1, cd="AllCd"),),
        cfg=dict(content=[ALL_CD]),
        msg=dict(to=CAROL, subject=CONF),
        ctx=dict(via="outlook"),
    ),
    # AMBIGUITY: the reference names only Outlook as the inbox exception, so mobile goes to the portal.
    Case(
        "internal-all-recipients-via-mobile-to-portal",
        content_sec(1, route="portal", definition=ALL),
        "content policy 1",
        (ce(1, cd="AllCd"),),
        cfg=dict(content=[ALL_CD]),
        msg=dict(to=CAROL, subject=CONF),
        ctx=dict(via="mobile"),
    ),
    Case(
        "user-choice-defaults-to-outlook",
        user(ALL, route="inbox"),
        "the sender chose",
        (),
        msg=dict(to=CAROL),
        ctx=dict(definition=ALL),
    ),
    Case(
        "user-choice-via-gateway",
        user(ALL, route="portal"),
        "the sender chose",
        (),
        msg=dict(to=CAROL),
        ctx=dict(definition=ALL, via="gateway"),
    ),
    Case(
        "external-via-outlook-still-portal",
        user(ALL, route="portal"),
        "the sender chose",
        (),
        ctx=dict(definition=ALL, via="outlook"),
    ),
]

CASES = [
    *TARGETS,
    *FROM_PART,
    *VALIDITY,
    *SOURCE_IP,
    *BIDI,
    *DIRECTION,
    *SPECIFICITY,
    *TRIGGERS,
    *SCORING,
    *ROUTING,
]
SECTIONS = {
    "4.2": TARGETS,
    "4.3": FROM_PART,
    "4.4": VALIDITY,
    "4.5": SOURCE_IP,
    "4.6": BIDI,
    "4.7": DIRECTION,
    "4.8": SPECIFICITY,
    "5": TRIGGERS,
    "6": SCORING,
    "7.1": ROUTING,
}


def _summary(r) -> dict:
    return dict(
        route=r.route,
        secure=r.secure,
        definition=r.definition.path if r.definition else None,
        trigger=r.trigger,
        policy=r.policy.id if r.policy else None,
        bypass=r.bypass.id if r.bypass else None,
    )


def _run(case: Case, *, explain: bool):
    snapshot = world(policies=case.policies, **case.cfg)
    message = eml(**case.msg)
    ctx = dict(at=AT)
    ctx.update(case.ctx)
    return decide(snapshot, message, Context(explain=explain, **ctx))


def _recipient(decision, address: str | None):
    if address is None:
        return decision.recipients[0]
    found = [r for r in decision.recipients if r.address == address]
    assert len(found) == 1, [r.address for r in decision.recipients]
    return found[0]


def test_case_ids_are_unique_and_every_case_asserts_a_reason():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(c.reason for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_decision(case: Case):
    fast = _run(case, explain=False)
    slow = _run(case, explain=True)
    r = _recipient(fast, case.rcpt)
    assert _summary(r) == case.want, r.reason
    assert case.reason in r.reason
    assert not fast.explain
    # The explanation path judges every policy and must reach the same decision.
    assert _recipient(slow, case.rcpt) == r
    for kind, pid, verdict, fragment in case.explain:
        found = [
            v
            for v in slow.explain
            if v.kind == kind and v.id == pid and v.recipient in (r.address, None)
        ]
        assert found, f"no verdict for {kind} {pid}: {slow.explain}"
        assert (found[0].verdict, fragment in found[0].reason) == (verdict, True), found[0]
    if case.content is not None:
        assert tuple((c.policy_id, c.score, c.fired) for c in r.content) == case.content


def test_every_section_has_cases():
    assert {k: len(v) for k, v in SECTIONS.items() if not v} == {}
    assert sum(len(v) for v in SECTIONS.values()) == len(CASES)


# --- §7.2 Banner ------------------------------------------------------------------------------

PORTAL_URL = "https://secure.example.com/p?a=1&b=2"
STANDARD_TEXT = (
    "This message was sent securely by alice@example.com using Secure Messaging. To reply securely, "
    "use the Secure Messaging Portal or a Secure Messaging application."
)
TAGS = "<p>[sender]|[sender_name]|[subject]|[sent]|[expires]|[definition]|[portal_url]</p>"
HIDE_QUOTED = '<div class="\\"mc-sm-hide\\""> </div>'  # as printed in the reference


def banner_of(
    banner: str | None,
    *,
    via: str = "gateway",
    subject: str = "Q3",
    from_name: str | None = None,
    timezone: str = "UTC",
):
    """The banner carol@example.com (internal) gets when alice chooses a
    definition (routing external, 7-day expiry) with this custom banner."""
    d = definition("Legal/Bannered", 50, banner=banner, expire_after="7d")
    snapshot = world(definitions=[d], timezone=timezone, portal_url=PORTAL_URL)
    message = eml(to=CAROL, subject=subject, from_name=from_name)
    r = decide(snapshot, message, Context(at=AT, definition="Legal/Bannered", via=via)).recipients[
        0
    ]
    assert (r.route, r.secure, r.trigger, r.portal) == ("inbox", True, "user", None)
    return r.banner


STANDARD_HTML = STANDARD_BANNER.replace("[sender]", ALICE)
BANNERS = [
    # (id, custom banner, keywords of banner_of, expected html (None: no banner), expected text)
    ("standard", None, {}, STANDARD_HTML, STANDARD_TEXT),
    ("standard-via-outlook", None, dict(via="outlook"), STANDARD_HTML, STANDARD_TEXT),
    # AMBIGUITY: [definition] is the definition's description (its name in the
    # console), not its folder path; [sent]/[expires] are shown in the account zone.
    (
        "custom-every-tag",
        TAGS,
        dict(from_name="Alice Smith"),
        "<p>alice@example.com|Alice Smith|Q3|2026-11-27 10:00 UTC|2026-12-04 10:00 UTC|Bannered|"
        "https://secure.example.com/p?a=1&amp;b=2</p>",
        "alice@example.com|Alice Smith|Q3|2026-11-27 10:00 UTC|2026-12-04 10:00 UTC|Bannered|"
        "https://secure.example.com/p?a=1&b=2",
    ),
    (
        "custom-times-in-account-zone",
        "[sent] / [expires]",
        dict(timezone="Asia/Tokyo"),
        "2026-11-27 19:00 JST / 2026-12-04 19:00 JST",
        "2026-11-27 19:00 JST / 2026-12-04 19:00 JST",
    ),
    (
        "custom-sender-name-falls-back-to-address",
        "<b>[sender_name]</b>",
        {},
        "<b>alice@example.com</b>",
        "alice@example.com",
    ),
    (
        "custom-values-html-escaped",
        "<p>[subject] from [sender_name]</p>",
        dict(subject='Q3 <b>& "x"', from_name="Smith & Co"),
        "<p>Q3 &lt;b&gt;&amp; &quot;x&quot; from Smith &amp; Co</p>",
        'Q3 <b>& "x" from Smith & Co',
    ),
    (
        "custom-value-cannot-hide",
        "<p>[subject]</p>",
        dict(subject='<div class="mc-sm-hide">'),
        "<p>&lt;div class=&quot;mc-sm-hide&quot;&gt;</p>",
        '<div class="mc-sm-hide">',
    ),
    (
        "custom-unknown-tag-kept",
        "<p>[foo] [sender]</p>",
        {},
        "<p>[foo] alice@example.com</p>",
        "[foo] alice@example.com",
    ),
    ("custom-ignored-via-outlook", TAGS, dict(via="outlook"), STANDARD_HTML, STANDARD_TEXT),
    ("custom-ignored-via-mobile", TAGS, dict(via="mobile"), STANDARD_HTML, STANDARD_TEXT),
    ("hide-plain", '<div class="mc-sm-hide"> </div>', {}, None, None),
    ("hide-reference-quoted-form", HIDE_QUOTED, {}, None, None),
    (
        "hide-single-quotes-class-list",
        "<p>Hi</p><div class='note mc-sm-hide'></div>",
        {},
        None,
        None,
    ),
    ("hide-unquoted-uppercase", "<DIV CLASS=mc-sm-hide></DIV>", {}, None, None),
    ("hide-ignored-via-outlook", HIDE_QUOTED, dict(via="outlook"), STANDARD_HTML, STANDARD_TEXT),
    (
        "hide-ignored-via-mobile",
        '<div class="mc-sm-hide"> </div>',
        dict(via="mobile"),
        STANDARD_HTML,
        STANDARD_TEXT,
    ),
    # "an element whose class includes mc-sm-hide": a mere mention, another
    # attribute or a longer class name does not hide the banner.
    (
        "hide-mentioned-in-text-only",
        "<p>Use mc-sm-hide to hide [sender]</p>",
        {},
        "<p>Use mc-sm-hide to hide alice@example.com</p>",
        "Use mc-sm-hide to hide alice@example.com",
    ),
    (
        "hide-longer-class-name",
        '<div class="mc-sm-hider">[sender]</div>',
        {},
        '<div class="mc-sm-hider">alice@example.com</div>',
        "alice@example.com",
    ),
    (
        "hide-prefixed-class-name",
        '<div class="no-mc-sm-hide">[sender]</div>',
        {},
        '<div class="no-mc-sm-hide">alice@example.com</div>',
        "alice@example.com",
    ),
    (
        "hide-other-attribute",
        '<div class="note" title="mc-sm-hide">[sender]</div>',
        {},
        '<div class="note" title="mc-sm-hide">alice@example.com</div>',
        "alice@example.com",
    ),
]


@pytest.mark.parametrize(
    ("custom", "kw", "html", "text"), [b[1:] for b in BANNERS], ids=[b[0] for b in BANNERS]
)
def test_banner(custom, kw, html, text):
    got = banner_of(custom, **kw)
    if html is None:
        assert got is None
    else:
        assert got is not None
        assert (got.html, got.text) == (html, text)


@pytest.mark.parametrize(
    ("msg", "ctx", "banner"),
    [
        (dict(to=BOB), dict(definition="Legal/Seven"), False),  # external: portal, no banner
        (dict(to=CAROL), dict(definition=ALL, via="gateway"), False),  # internal portal copy
        (
            dict(to=CAROL),
            dict(definition=ALL),
            True,
        ),  # All Recipients via Outlook: inbox, standard banner
        (dict(to=CAROL), dict(), False),  # not secure
        (
            dict(to=CAROL, subject=CONF),
            dict(),
            True,
        ),  # content trigger -> inbox with the custom banner
    ],
    ids=[
        "external-portal",
        "internal-portal",
        "all-recipients-outlook",
        "not-secure",
        "content-custom",
    ],
)
def test_banner_only_on_internal_inbox_copies_of_secure_messages(msg, ctx, banner):
    r = decide(world(policies=[ce(1)]), eml(**msg), Context(at=AT, **ctx)).recipients[0]
    assert (r.banner is not None) == banner
    assert (r.route == "inbox" and r.secure) == banner
    if banner and r.trigger == "content":
        assert (
            r.banner.html == f"<p>Secure message from {ALICE}: {CONF}</p>"
        )  # Legal/Seven's custom banner
        assert r.banner.text == f"Secure message from {ALICE}: {CONF}"
    elif banner:
        assert r.banner.html == STANDARD_HTML


# --- §7.3 Portal record -------------------------------------------------------------------------

DAY = timedelta(days=1)
PORTAL = [
    # (id, definition settings, account, recipient, expires, latest_expiry, (print, reply, reply_all), read_receipt)
    (
        "expire-and-extension",
        dict(expire_after="7d", max_extension="14d", read_receipt=True),
        {},
        BOB,
        AT + 7 * DAY,
        AT + 21 * DAY,
        (False, True, False),
        True,
    ),
    (
        "expire-minutes-no-extension",
        dict(expire_after="90m"),
        {},
        BOB,
        AT + timedelta(minutes=90),
        AT + timedelta(minutes=90),
        (False, True, False),
        False,
    ),
    (
        "never-is-retention",
        dict(),
        {},
        BOB,
        AT + 3650 * DAY,
        AT + 3650 * DAY,
        (False, True, False),
        False,
    ),
    (
        "never-account-retention",
        dict(),
        dict(max_retention_days=30),
        BOB,
        AT + 30 * DAY,
        AT + 30 * DAY,
        (False, True, False),
        False,
    ),
    (
        "never-extension-capped-by-retention",
        dict(max_extension="30d"),
        dict(max_retention_days=30),
        BOB,
        AT + 30 * DAY,
        AT + 30 * DAY,
        (False, True, False),
        False,
    ),
    (
        "extension-capped-by-retention",
        dict(expire_after="7d", max_extension="14d"),
        dict(max_retention_days=10),
        BOB,
        AT + 7 * DAY,
        AT + 10 * DAY,
        (False, True, False),
        False,
    ),
    # AMBIGUITY: SPEC §7.3 says expires = sent + expire_after; nothing outlives
    # retention (latest_expiry is capped by it), so expires is capped too.
    (
        "expire-capped-by-retention",
        dict(expire_after="30d"),
        dict(max_retention_days=10),
        BOB,
        AT + 10 * DAY,
        AT + 10 * DAY,
        (False, True, False),
        False,
    ),
    (
        "expire-one-year-calendar",
        dict(expire_after="1y"),
        {},
        BOB,
        AT.replace(year=2027),
        AT.replace(year=2027),
        (False, True, False),
        False,
    ),
    (
        "permissions-as-given",
        dict(allow_print=True, allow_reply=True, allow_reply_all=True),
        {},
        BOB,
        AT + 3650 * DAY,
        AT + 3650 * DAY,
        (True, True, True),
        False,
    ),
    (
        "reply-all-needs-reply",
        dict(allow_print=True, allow_reply=False, allow_reply_all=True),
        {},
        BOB,
        AT + 3650 * DAY,
        AT + 3650 * DAY,
        (True, False, False),
        False,
    ),
    (
        "internal-copy-never-expires-all-allowed",
        dict(
            expire_after="7d",
            max_extension="14d",
            allow_reply=False,
            routing="all",
            read_receipt=True,
        ),
        {},
        CAROL,
        None,
        None,
        (True, True, True),
        True,
    ),
]


@pytest.mark.parametrize(
    ("settings", "account", "rcpt", "expires", "latest", "perms", "receipt"),
    [p[1:] for p in PORTAL],
    ids=[p[0] for p in PORTAL],
)
def test_portal_record(settings, account, rcpt, expires, latest, perms, receipt):
    d = definition("Legal/Portal", 60, **settings)
    snapshot = world(
        definitions=[d],
        policies=[ce(1, cd="P")],
        content=[cdef(61, "P", ["1 confidential"], sm=d.path)],
        portal_url=PORTAL_URL,
        timezone="Europe/London",
        **account,
    )
    r = decide(
        snapshot, eml(to=rcpt, subject=CONF, return_path=ALICE, frm=CEO), Context(at=AT)
    ).recipients[0]
    assert (r.route, r.trigger, r.banner) == ("portal", "content", None)
    p = r.portal
    # AMBIGUITY: the record's sender is the envelope sender (Return-Path alice),
    # not the header From (ceo), while the banner's [sender] shows the header From.
    assert (p.recipient, p.sender, p.subject, p.definition, p.sent) == (
        rcpt,
        ALICE,
        CONF,
        "Legal/Portal",
        AT,
    )
    assert (p.expires, p.latest_expiry) == (expires, latest)
    assert (p.allow_print, p.allow_reply, p.allow_reply_all, p.read_receipt) == (*perms, receipt)
    assert (p.notification_to, p.notification_subject, p.portal_url) == (
        rcpt,
        NOTIFICATION_SUBJECT,
        PORTAL_URL,
    )
    assert NOTIFICATION_SUBJECT == "You've been sent a secure message"


def test_inbox_copies_have_no_portal_record():
    r = decide(world(policies=[ce(1)]), eml(to=CAROL, subject=CONF), Context(at=AT)).recipients[0]
    assert (r.route, r.portal) == ("inbox", None)
    r = decide(world(), eml(to=BOB), Context(at=AT)).recipients[0]
    assert (r.secure, r.route, r.portal, r.banner) == (False, "inbox", None, None)


# --- SPEC §8.2 JSON -----------------------------------------------------------------------------

SPEC_MESSAGE_KEYS = {
    "message_id",
    "subject",
    "header_from",
    "envelope_from",
    "source_ip",
    "at",
    "via",
    "notes",
}
SPEC_RECIPIENT_KEYS = {
    "address",
    "internal",
    "route",
    "secure",
    "trigger",
    "definition",
    "policy",
    "bypass",
    "content",
    "banner",
    "portal",
}
SPEC_PORTAL_KEYS = {
    "expires",
    "latest_expiry",
    "allow_print",
    "allow_reply",
    "allow_reply_all",
    "read_receipt",
    "notification",
}


def test_json_has_the_fields_of_spec_8_2():
    snapshot = world(
        policies=[sm(3, "internal", "external", narrative="Partners securely"), ce(5), bp(7, EVE)],
        timezone="Europe/London",
    )
    message = eml(
        to=[BOB, CAROL],
        subject="Confidential <b>&",
        received=received("203.0.113.5"),
        return_path=ALICE,
    )
    decision = decide(snapshot, message, Context(at=AT, explain=True))
    out = decision_to_json(decision, "msg.eml", snapshot.tz)
    json.loads(json.dumps(out))  # plain JSON types only
    # Field for field as in the SPEC's sample; the notification may also carry
    # the portal URL (SPEC §7.3 lists it as part of the notification).
    assert set(out) == {"schema_version", "source", "message", "recipients", "explain"}
    assert (out["schema_version"], out["source"], out["explain"]) == (1, "msg.eml", [])
    assert set(out["message"]) == SPEC_MESSAGE_KEYS
    assert out["message"] == {
        "message_id": "<case@example.com>",
        "subject": "Confidential <b>&",
        "header_from": ALICE,
        "envelope_from": ALICE,
        "source_ip": "203.0.113.5",
        "at": "2026-11-27T10:00:00+00:00",
        "via": "gateway",
        "notes": [],
    }
    bob, carol = out["recipients"]
    assert set(bob) == SPEC_RECIPIENT_KEYS and set(carol) == SPEC_RECIPIENT_KEYS
    assert {
        k: bob[k]
        for k in (
            "address",
            "internal",
            "route",
            "secure",
            "trigger",
            "definition",
            "bypass",
            "banner",
        )
    } == {
        "address": BOB,
        "internal": False,
        "route": "portal",
        "secure": True,
        "trigger": "content",
        "definition": "Legal/Seven",
        "bypass": None,
        "banner": None,
    }
    assert set(bob["policy"]) == {"kind", "id", "narrative"}
    assert (bob["policy"]["kind"], bob["policy"]["id"]) == ("content-examination", 5)
    assert bob["content"] == [
        {"policy_id": 5, "content_definition": "Confidential", "score": 1, "fired": True}
    ]
    assert set(bob["portal"]) == SPEC_PORTAL_KEYS
    assert bob["portal"]["expires"] == "2026-12-04T10:00:00+00:00"  # ISO 8601 with offset
    assert bob["portal"]["latest_expiry"] == "2026-12-18T10:00:00+00:00"
    assert (
        bob["portal"]["allow_print"],
        bob["portal"]["allow_reply"],
        bob["portal"]["allow_reply_all"],
        bob["portal"]["read_receipt"],
    ) == (False, True, False, True)
    assert (
        {"to", "subject"} <= set(bob["portal"]["notification"]) <= {"to", "subject", "portal_url"}
    )
    assert (bob["portal"]["notification"]["to"], bob["portal"]["notification"]["subject"]) == (
        BOB,
        NOTIFICATION_SUBJECT,
    )
    assert (carol["internal"], carol["route"], carol["portal"]) == (True, "inbox", None)
    assert set(carol["banner"]) == {"html", "text"}
    assert (
        carol["banner"]["html"]
        == "<p>Secure message from alice@example.com: Confidential &lt;b&gt;&amp;</p>"
    )
    assert carol["banner"]["text"] == "Secure message from alice@example.com: Confidential <b>&"
    explained = decision_to_json(decision, "msg.eml", snapshot.tz, explain=True)["explain"]
    assert explained and all(
        set(v) == {"kind", "id", "name", "recipient", "verdict", "reason"} for v in explained
    )
    assert {
        "kind": "bypass",
        "id": 7,
        "name": "bypass 7",
        "recipient": BOB,
        "verdict": "no-match",
        "reason": "from: envelope sender alice@example.com is not eve@other.net",
    } in explained


def test_json_policy_and_bypass_references():
    snapshot = world(
        policies=[
            sm(3, narrative="Partners securely"),
            bp(4, "internal", CAROL, option="no-action"),
        ]
    )
    out = decision_to_json(decide(snapshot, eml(to=[BOB, CAROL]), Context(at=AT)), "-", snapshot.tz)
    bob, carol = out["recipients"]
    assert bob["policy"] == {"kind": "secure-messaging", "id": 3, "narrative": "Partners securely"}
    assert (bob["bypass"], bob["trigger"], bob["content"]) == (None, "policy", [])
    assert (carol["policy"], carol["trigger"], carol["secure"]) == (None, None, False)
    assert carol["bypass"] == {"kind": "bypass", "id": 4, "narrative": "bypass 4"}


# --- DecisionError -------------------------------------------------------------------------------

ERRORS = [
    # (id, eml keywords, Context keywords, fragments of the error)
    ("no-sender", dict(frm=None), {}, ["no sender"]),
    ("no-recipients", dict(to=None), {}, ["no recipients"]),
    ("unknown-definition", {}, dict(definition="Legal/Nope"), ["'Legal/Nope'", "not found"]),
    (
        "not-published-to-sender",
        {},
        dict(definition="Legal/Restricted/Board Only"),
        ["'Legal/Restricted/Board Only'", "alice@example.com", "Board"],
    ),
    (
        "inherited-not-published-to-sender",
        {},
        dict(definition="Legal/Restricted/Deep/Inner"),
        ["'Legal/Restricted/Deep/Inner'", "alice@example.com", "Board"],
    ),
    (
        "published-to-nobody",
        {},
        dict(definition="Closed/Shut"),
        ["'Closed/Shut'", "alice@example.com", "nobody"],
    ),
    (
        "publishing-checks-the-envelope-sender",
        dict(return_path=ALICE, frm=CEO),
        dict(definition="Legal/Restricted/Board Only"),
        ["alice@example.com"],
    ),
    ("invalid-mail-from", {}, dict(mail_from="not an address"), ["--mail-from"]),
    ("invalid-rcpt", {}, dict(rcpt=("bob@",)), ["--rcpt"]),
    ("invalid-source-ip", {}, dict(source_ip="300.1.1.1"), ["invalid source IP '300.1.1.1'"]),
    ("invalid-via", {}, dict(via="fax"), ["invalid via 'fax'", "gateway, outlook, mobile"]),
]


@pytest.mark.parametrize(
    ("msg", "ctx", "fragments"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
@pytest.mark.parametrize("explain", [False, True], ids=["fast", "explain"])
def test_decision_error(msg, ctx, fragments, explain):
    with pytest.raises(DecisionError) as info:
        decide(world(policies=[sm(1), ce(2)]), eml(**msg), Context(at=AT, explain=explain, **ctx))
    text = str(info.value)
    assert "\n" not in text
    for fragment in fragments:
        assert fragment in text


def test_context_fills_in_what_the_message_lacks():
    message = eml(frm=None, to=None)
    r = decide(
        world(policies=[sm(1)]),
        message,
        Context(at=AT, mail_from=ALICE, rcpt=(BOB, "bob@EU.partner.com")),
    ).recipients
    assert [(x.address, x.trigger, x.policy.id) for x in r] == [(BOB, "policy", 1)]


# --- properties -----------------------------------------------------------------------------------

UNIVERSE = [
    ALICE,
    ANN,
    CEO,
    CAROL,
    "x@mail.example.com",
    BOB,
    "x@partner.com",
    "x@a.b.partner.com",
    VENDOR,
    "dave@sub.vendor.com",
    EVE,
]
TARGET_TEXTS = [
    "everyone",
    "internal",
    "external",
    "domain:example.com",
    "domain:*.example.com",
    "domain:eu.example.com",
    "domain:partner.com",
    "domain:*.partner.com",
    "domain:vendor.com",
    "group:Legal",
    "group:Partners",
    "group:Board",
    "attribute:Department=Legal",
    "attribute:Role=Auditor",
    f"address:{ALICE}",
    f"address:{CEO}",
    f"address:{BOB}",
    f"address:{VENDOR}",
]
PROPERTY_CONTENT = [LOW, HIGH, ALSO, NO_OVERRIDE]


@st.composite
def configurations(draw):
    ids = draw(st.lists(st.integers(1, 40), max_size=7, unique=True))
    policies = []
    for pid in ids:
        kind = draw(st.sampled_from(["secure-messaging", "bypass", "content-examination"]))
        common = dict(
            frm=draw(st.sampled_from(TARGET_TEXTS)),
            to=draw(st.sampled_from(TARGET_TEXTS)),
            from_part=draw(st.sampled_from(["envelope", "header", "both"])),
            override=draw(st.booleans()),
            enabled=draw(st.sampled_from([True, True, True, False])),
            source_ips=draw(
                st.sampled_from([(), ("203.0.113.0/24",), ("2001:db8::/32", "198.51.100.0/24")])
            ),
            start=draw(st.sampled_from([None, None, "2026-11-27", "2026-12-01"])),
        )
        if kind == "secure-messaging":
            option = draw(st.sampled_from(["apply", "apply", "no-action"]))
            policies.append(
                sm(
                    pid,
                    definition=draw(st.sampled_from(["Legal/Seven", EXT, ALL])),
                    option=option,
                    **common,
                )
            )
        elif kind == "bypass":
            policies.append(
                bp(
                    pid,
                    option=draw(st.sampled_from(["disable", "no-action"])),
                    bidirectional=draw(st.booleans()),
                    **common,
                )
            )
        else:
            policies.append(
                ce(
                    pid,
                    cd=draw(st.sampled_from([c.name for c in PROPERTY_CONTENT])),
                    bidirectional=draw(st.booleans()),
                    **common,
                )
            )
    return world(
        policies=policies,
        content=PROPERTY_CONTENT,
        bypass_scope=draw(st.sampled_from(["policy", "all"])),
    )


@st.composite
def messages(draw):
    envelope = draw(st.one_of(st.none(), st.sampled_from(UNIVERSE)))
    header = draw(
        st.sampled_from(UNIVERSE)
        if envelope is None
        else st.one_of(st.none(), st.sampled_from(UNIVERSE))
    )
    to = draw(st.lists(st.sampled_from(UNIVERSE), min_size=1, max_size=3, unique=True))
    ip = draw(st.sampled_from([None, "203.0.113.5", "198.51.100.1", "2001:db8::1"]))
    return eml(
        header,
        to,
        return_path=envelope,
        subject=draw(st.sampled_from([CONF, "hello", "confidential"])),
        received=received(ip) if ip else None,
    )


@pytest.mark.slow  # hypothesis, 200 examples
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    snapshot=configurations(),
    message=messages(),
    chosen=st.sampled_from([None, None, "Legal/Seven", EXT]),
    via=st.sampled_from([None, "gateway", "outlook"]),
    source_ip=st.sampled_from([None, None, "203.0.113.9", "::ffff:198.51.100.3"]),
)
def test_fast_path_never_misses_a_policy(snapshot, message, chosen, via, source_ip):
    """The key index of the snapshot finds every policy that the explanation,
    judging all of them, finds: both paths decide every recipient alike."""
    ctx = dict(at=AT, definition=chosen, via=via, source_ip=source_ip)
    fast = decide(snapshot, message, Context(explain=False, **ctx))
    slow = decide(snapshot, message, Context(explain=True, **ctx))
    assert fast.recipients == slow.recipients
    assert (fast.envelope_from, fast.header_from, fast.source_ip, fast.via) == (
        slow.envelope_from,
        slow.header_from,
        slow.source_ip,
        slow.via,
    )
    # The explanation has one verdict per policy per recipient.
    per_recipient = [
        (v.recipient, v.kind, v.id)
        for v in slow.explain
        if v.recipient is not None and v.kind != "user"
    ]
    expected = [
        (r.address, kind, cp.id)
        for r in slow.recipients
        for kind in ("secure-messaging", "bypass", "content-examination")
        for cp in snapshot.policies[kind]
    ]
    assert per_recipient == expected


HEADER_WORLD = world(
    policies=[
        sm(1, "internal", "domain:*.partner.com", from_part="both", source_ips=("203.0.113.0/24",)),
        sm(2, "group:Legal", "external", option="no-action", override=True),
        bp(3, "external", "group:Legal", bidirectional=True, from_part="header"),
        bp(4, "attribute:Department=Legal", "everyone", option="no-action"),
        ce(5, "everyone", "everyone", cd="Scan", bidirectional=True),
        ce(6, "external", "internal"),
    ],
    content=[
        cdef(
            20,
            "Scan",
            [
                "1 confidential",
                f"5 regex,cardnumber {CARD}",
                "1 required figures",
                "0 exclude draft",
                f"5 hash {PDF_MD5} r.pdf",
                r"2:3 regex \bproj-\d+",
            ],
        )
    ],
)
ADDRESSY = st.sampled_from(
    [
        *UNIVERSE,
        "ALICE@EXAMPLE.COM",
        "Ann <ann@eu.example.com>",
        "<>",
        "undisclosed-recipients:;",
        "=?utf-8?q?=C3=A9ve?= <eve@other.net>",
        '"a b"@example.com',
        "x@[203.0.113.1]",
        "bob@eu.partner.com, bob@eu.partner.com",
        "Group: alice@example.com, x@partner.com;",
        "a@b@c",
        "@example.com",
        "bad",
        "x@xn--bcher-kva.de",
        "x@bücher.de",
    ]
)
HEADER_VALUE = st.one_of(
    st.none(), ADDRESSY, st.text(max_size=40), st.lists(ADDRESSY, max_size=3).map(", ".join)
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    return_path=HEADER_VALUE,
    frm=HEADER_VALUE,
    to=HEADER_VALUE,
    cc=HEADER_VALUE,
    subject=HEADER_VALUE,
    rcvd=st.one_of(
        st.none(),
        st.text(max_size=40),
        st.sampled_from(
            [
                received("203.0.113.5"),
                "from [::ffff:1.2.3.4]",
                "from x ([2001:db8::1])",
                "from ([999.1.1.1])",
            ]
        ),
    ),
    explain=st.booleans(),
    chosen=st.sampled_from([None, "Legal/Seven", "Closed/Shut", "No/Such"]),
)
def test_decide_raises_only_decision_error(
    return_path, frm, to, cc, subject, rcvd, explain, chosen
):
    lines = [
        f"{name}: {value}"
        for name, value in (
            ("Received", rcvd),
            ("Return-Path", return_path),
            ("From", frm),
            ("To", to),
            ("Cc", cc),
            ("Subject", subject),
        )
        if value is not None
    ]
    data = ("\r\n".join(lines) + "\r\n\r\nconfidential figures 4111 1111 1111 1111\r\n").encode(
        "utf-8", "surrogatepass"
    )
    try:
        message = parse_message(data)
    except MessageError:
        return
    try:
        decision = decide(HEADER_WORLD, message, Context(at=AT, explain=explain, definition=chosen))
    except DecisionError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert decision.recipients
    for r in decision.recipients:
        assert r.route in ("portal", "inbox") and r.secure == (r.definition is not None)
        assert r.trigger in (None, "user", "content", "policy")
        json.dumps(decision_to_json(decision, "-", HEADER_WORLD.tz))


def test_the_target_key_memo_stays_bounded_and_right():
    from secmsg_cli.engine import snapshot as S

    snap = world()
    expected = snap.keys_of("alice@example.com")
    for i in range(S.KEYS_MEMO_SIZE + 10):
        snap.keys_of(f"user{i}@vendor.com")
        assert len(snap._keys_memo) <= S.KEYS_MEMO_SIZE
    assert ("group", "partners") in snap.keys_of(f"user{S.KEYS_MEMO_SIZE}@vendor.com")
    assert snap.keys_of("alice@example.com") == expected


@given(st.text())
def test_banner_escaping_is_html_escape(text):
    """render escapes tag values with a translate table instead of importing
    the html package (a start-up cost): it must agree with html.escape."""
    import html

    from secmsg_cli.engine import render

    assert text.translate(render._ESCAPE_QUOTED) == html.escape(text, quote=True)
    assert text.translate(render._ESCAPE) == html.escape(text, quote=False)
