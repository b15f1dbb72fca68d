"""The corpus diff (``simulate DIR --against OTHER``): which recipients of real
mail would be decided differently by another configuration, and why.

Both sides are decided by the same ``decide``; this module only compares the
outcomes, recipient by recipient: every field of a recipient's result
(:data:`FIELDS`), and a recipient decided on one side only (the other side
could not decide the message, or did not reach the recipient) is a change too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from secmsg_cli.engine.render import iso, ref_json

if TYPE_CHECKING:
    from datetime import tzinfo

    from secmsg_cli.engine.decision import MessageDecision, RecipientDecision

__all__ = ["DECIDED", "FIELDS", "DiffSummary", "RecipientChange", "compare_message", "outcome"]

# What a recipient's decision is, for comparing (the explanation text may change
# without the decision changing), in the order they are shown. The portal
# fields are None for a copy that does not go to the portal.
FIELDS = (
    "route",
    "secure",
    "definition",
    "trigger",
    "policy",
    "bypass",
    "banner_html",
    "banner_text",
    "expires",
    "latest_expiry",
    "allow_print",
    "allow_reply",
    "allow_reply_all",
    "read_receipt",
    "notification_to",
    "notification_subject",
    "portal_url",
)
# The change of a recipient decided on one side only.
DECIDED = "decided"


def outcome(r: RecipientDecision, tz: tzinfo) -> dict[str, Any]:
    """What is compared of a recipient's decision (:data:`FIELDS`), as JSON
    values (times in ``tz``, as the decision's JSON gives them)."""
    p = r.portal
    return {
        "route": r.route,
        "secure": r.secure,
        "definition": r.definition.path if r.definition else None,
        "trigger": r.trigger,
        "policy": ref_json(r.policy),
        "bypass": ref_json(r.bypass),
        "banner_html": r.banner.html if r.banner else None,
        "banner_text": r.banner.text if r.banner else None,
        "expires": iso(p.expires, tz) if p else None,
        "latest_expiry": iso(p.latest_expiry, tz) if p else None,
        "allow_print": p.allow_print if p else None,
        "allow_reply": p.allow_reply if p else None,
        "allow_reply_all": p.allow_reply_all if p else None,
        "read_receipt": p.read_receipt if p else None,
        "notification_to": p.notification_to if p else None,
        "notification_subject": p.notification_subject if p else None,
        "portal_url": p.portal_url if p else None,
    }


def _same(name: str, a: Any, b: Any) -> bool:
    # A policy is the same policy whatever its narrative says now.
    if name in ("policy", "bypass") and a is not None and b is not None:
        return bool(a["kind"] == b["kind"] and a["id"] == b["id"])
    return bool(a == b)


@dataclass(frozen=True)
class RecipientChange:
    """One recipient decided differently; ``before``/``after`` None: not
    decided on that side (``why_*`` says why)."""

    source: str
    recipient: str | None  # None: the whole message (one side decided no recipient)
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    why_before: str
    why_after: str

    @property
    def fields(self) -> list[str]:
        if self.before is None or self.after is None:
            return [DECIDED]
        return [f for f in FIELDS if not _same(f, self.before[f], self.after[f])]

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "recipient": self.recipient,
            "changed": self.fields,
            "before": self.before,
            "after": self.after,
            "why_before": self.why_before,
            "why_after": self.why_after,
        }


@dataclass
class DiffSummary:
    messages: int = 0
    recipients: int = 0
    changed_recipients: int = 0
    changed_messages: int = 0
    errors: int = 0
    by_field: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "recipients": self.recipients,
            "changed_recipients": self.changed_recipients,
            "changed_messages": self.changed_messages,
            "errors": self.errors,
            "by_field": dict(sorted(self.by_field.items())),
        }


_UNREACHED = "not decided (past the recipient limit, or unreadable)"


def compare_message(
    source: str,
    before: MessageDecision | None,
    before_error: str | None,
    after: MessageDecision | None,
    after_error: str | None,
    summary: DiffSummary,
    tz: tzinfo,
) -> list[RecipientChange]:
    """The recipients of one message whose decision differs (before: the store,
    after: the other configuration; an error: that side decided nothing)."""
    summary.messages += 1
    if before_error and after_error:
        summary.errors += 1
        return []
    olds = {r.address: r for r in before.recipients} if before is not None else {}
    news = {r.address: r for r in after.recipients} if after is not None else {}
    why_old = before_error or _UNREACHED
    why_new = after_error or _UNREACHED
    changes: list[RecipientChange] = []
    for address in [*olds, *(a for a in news if a not in olds)]:
        summary.recipients += 1
        old, new = olds.get(address), news.get(address)
        change = RecipientChange(
            source,
            address,
            None if old is None else outcome(old, tz),
            None if new is None else outcome(new, tz),
            why_old if old is None else old.reason,
            why_new if new is None else new.reason,
        )
        if change.fields:
            changes.append(change)
    if not changes and (before_error or after_error):
        # one side could not decide the message, the other decided no recipient
        changes.append(
            RecipientChange(
                source, None, None, None, before_error or "decided", after_error or "decided"
            )
        )
    for change in changes:
        for f in change.fields:
            summary.by_field[f] = summary.by_field.get(f, 0) + 1
    if changes:
        summary.changed_messages += 1
        summary.changed_recipients += sum(c.recipient is not None for c in changes)
    return changes
