"""What a decision is: the records :func:`~secmsg_cli.engine.decide.decide`
returns and :mod:`~secmsg_cli.engine.render` completes and turns into JSON.

Their own module so that both import it and neither imports the other
(decide -> render -> decision, one way). Pure data: frozen, slotted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from secmsg_cli.engine.content import ContentResult
from secmsg_cli.engine.snapshot import CompiledPolicy
from secmsg_cli.model import Definition
from secmsg_cli.vocab import Route, Trigger, VerdictStatus

__all__ = [
    "Banner",
    "ContentOutcome",
    "MessageDecision",
    "PolicyRef",
    "PortalRecord",
    "RecipientDecision",
    "Verdict",
]


@dataclass(frozen=True, slots=True)
class Banner:
    """The banner of an internal inbox copy (docs/decisions.md), filled in."""

    html: str
    text: str


@dataclass(frozen=True, slots=True)
class PortalRecord:
    """What the portal keeps of a copy sent to it (docs/decisions.md)."""

    recipient: str
    sender: str
    subject: str
    definition: str
    sent: datetime
    expires: datetime | None
    latest_expiry: datetime | None
    allow_print: bool
    allow_reply: bool
    allow_reply_all: bool
    read_receipt: bool
    notification_to: str
    notification_subject: str
    portal_url: str


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """The policy that decided a recipient (or its winning bypass), as reported."""

    kind: str
    id: int
    narrative: str
    option: str | None = None

    @classmethod
    def of(cls, cp: CompiledPolicy) -> PolicyRef:
        return cls(cp.policy.kind, cp.policy.id, cp.policy.narrative, cp.policy.option)


@dataclass(frozen=True, slots=True)
class ContentOutcome:
    """One content-examination policy evaluated for a recipient."""

    policy_id: int
    narrative: str
    content_definition: str
    score: int
    fired: bool
    definition: str | None  # the Secure Messaging override, if any
    reason: str
    unscannable: str | None = (
        None  # fired because this could not be examined (docs/limits-and-security.md)
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """One line of the explanation: what happened to one policy (or content
    definition) for one recipient (``recipient`` None: for the message)."""

    kind: str
    id: int
    name: str
    recipient: str | None
    verdict: VerdictStatus
    reason: str


@dataclass(frozen=True, slots=True)
class RecipientDecision:
    """What happens to one recipient's copy and why (docs/decisions.md)."""

    address: str
    internal: bool
    route: Route
    secure: bool
    trigger: Trigger | None
    definition: Definition | None
    policy: PolicyRef | None
    bypass: PolicyRef | None
    content: tuple[ContentOutcome, ...]
    reason: str
    banner: Banner | None = None  # an internal inbox copy's (render.finish fills it in)
    portal: PortalRecord | None = None  # a portal copy's (render.finish fills it in)


@dataclass(frozen=True, slots=True)
class MessageDecision:
    """The decision of one message: every recipient's, with the explanation."""

    message_id: str | None
    subject: str
    header_from: str | None
    header_from_name: str | None
    envelope_from: str
    source_ip: str | None
    at: datetime
    via: str
    user_definition: Definition | None
    recipients: tuple[RecipientDecision, ...]
    explain: tuple[Verdict, ...] = ()
    content_results: Mapping[str, ContentResult] = field(default_factory=dict)
    #: What was tolerated, skipped or not read (docs/limits-and-security.md), for every output.
    notes: tuple[str, ...] = ()
    #: Recipients of the message that were not decided (past the recipient
    #: limit, or in address headers too long to read): delivering it would
    #: leave them to chance, so ``deliver`` refuses such a message.
    undecided: int = 0
