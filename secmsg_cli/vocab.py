"""The product's vocabularies, each named once: policy kinds, the parts of a
sender a policy looks at, the sections content examination scans, where a
copy goes, what triggered Secure Messaging and the verdicts of an explanation.

At the model layer: imports nothing of the package. Each vocabulary is a
:class:`~enum.StrEnum`, so a member *is* its text: it compares equal to the
plain string read from the store or a configuration file, hashes the same
(a table keyed by members is looked up with plain strings), and ``str()``,
f-strings and JSON give its value, so output stays exactly as it was. The
tuple beside each enum is its values as plain strings, in the order shown to
people (choices in messages, columns, defaults).
"""

from __future__ import annotations

from enum import StrEnum, unique

__all__ = [
    "FROM_PARTS",
    "POLICY_KINDS",
    "ROUTES",
    "SCAN_SECTIONS",
    "TRIGGERS",
    "VERDICTS",
    "FromPart",
    "PolicyKind",
    "Route",
    "ScanSection",
    "Trigger",
    "VerdictStatus",
]


@unique
class PolicyKind(StrEnum):
    """The three kinds of policy (docs/decisions.md)."""

    SECURE_MESSAGING = "secure-messaging"
    BYPASS = "bypass"
    CONTENT_EXAMINATION = "content-examination"

    @property
    def noun(self) -> str:
        """``secure-messaging policy``: how messages name a policy of this kind."""
        return f"{self.value} policy"


@unique
class FromPart(StrEnum):
    """Which sender address a policy's Emails From is matched against (docs/decisions.md)."""

    ENVELOPE = "envelope"
    HEADER = "header"
    BOTH = "both"


@unique
class ScanSection(StrEnum):
    """The parts of a message content examination scans (docs/decisions.md)."""

    SUBJECT = "subject"
    HEADERS = "headers"
    BODY = "body"
    ATTACHMENTS = "attachments"


@unique
class Route(StrEnum):
    """Where a recipient's copy goes (docs/decisions.md)."""

    INBOX = "inbox"
    PORTAL = "portal"


@unique
class Trigger(StrEnum):
    """What made a recipient's copy secure, in the order they are tried (docs/decisions.md)."""

    USER = "user"
    CONTENT = "content"
    POLICY = "policy"


@unique
class VerdictStatus(StrEnum):
    """One line of a decision's explanation: what happened to a policy, a
    content definition, the sender's own choice or the message."""

    WON = "won"
    LOST = "lost"
    BYPASSED = "bypassed"
    EVALUATED = "evaluated"
    NO_MATCH = "no-match"
    INACTIVE = "inactive"
    FIRED = "fired"
    NOT_FIRED = "not-fired"
    CHOSEN = "chosen"
    NOTE = "note"


POLICY_KINDS: tuple[str, ...] = tuple(k.value for k in PolicyKind)
FROM_PARTS: tuple[str, ...] = tuple(p.value for p in FromPart)
SCAN_SECTIONS: tuple[str, ...] = tuple(s.value for s in ScanSection)
ROUTES: tuple[str, ...] = tuple(r.value for r in Route)
TRIGGERS: tuple[str, ...] = tuple(t.value for t in Trigger)
VERDICTS: tuple[str, ...] = tuple(v.value for v in VerdictStatus)
