"""The corpus diff (``simulate DIR --against OTHER``): which recipients of real
mail would be decided differently by another configuration, and why.

Both sides are decided by the same ``decide``; this module only compares the
outcomes, recipient by recipient.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from secmsg_cli.engine.decision import MessageDecision, RecipientDecision

__all__ = ["DiffSummary", "RecipientChange", "compare_message", "outcome"]

# What a recipient's decision is, for comparing: the explanation text may change
# without the decision changing.
FIELDS = ("route", "secure", "definition", "trigger", "policy", "bypass")


def outcome(r: RecipientDecision) -> dict[str, Any]:
    """What is compared of a recipient's decision (:data:`FIELDS`)."""
    return {
        "route": r.route,
        "secure": r.secure,
        "definition": r.definition.path if r.definition else None,
        "trigger": r.trigger,
        "policy": r.policy.id if r.policy else None,
        "bypass": r.bypass.id if r.bypass else None,
    }


@dataclass(frozen=True)
class RecipientChange:
    source: str
    recipient: str | None  # None: the whole message (one side could not decide it)
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    why_before: str
    why_after: str

    @property
    def fields(self) -> list[str]:
        if self.before is None or self.after is None:
            return []
        return [f for f in FIELDS if self.before[f] != self.after[f]]

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


def compare_message(
    source: str,
    before: MessageDecision | None,
    before_error: str | None,
    after: MessageDecision | None,
    after_error: str | None,
    summary: DiffSummary,
) -> list[RecipientChange]:
    """The recipients of one message whose decision differs (before: the store,
    after: the other configuration)."""
    summary.messages += 1
    if before_error or after_error:
        if before_error and after_error:
            summary.errors += 1
            return []
        summary.changed_messages += 1
        return [
            RecipientChange(
                source,
                None,
                None if before_error else {"decided": True},
                None if after_error else {"decided": True},
                before_error or "decided",
                after_error or "decided",
            )
        ]
    assert before is not None and after is not None  # no error: both sides were decided
    changes: list[RecipientChange] = []
    after_by = {r.address: r for r in after.recipients}
    for r in before.recipients:
        summary.recipients += 1
        other = after_by.get(r.address)
        if other is None:
            continue
        a, b = outcome(r), outcome(other)
        if a != b:
            change = RecipientChange(source, r.address, a, b, r.reason, other.reason)
            for f in change.fields:
                summary.by_field[f] = summary.by_field.get(f, 0) + 1
            changes.append(change)
    if changes:
        summary.changed_messages += 1
        summary.changed_recipients += len(changes)
    return changes
