"""Policy coverage: which policies and content definitions decided anything.

Used by ``secmsg test --coverage`` (per case) and meant for ``secmsg simulate
--coverage`` (per message). Pure: it reads engine decisions and a snapshot,
nothing else.

What "decided" means, per recipient of a decision:

- a **policy** (any kind) decided the recipient when it is the recipient's
  deciding policy (``RecipientDecision.policy``: the winning Secure Messaging
  policy, including a ``no-action`` one, or the content-examination policy
  whose override was applied) or its winning bypass
  (``RecipientDecision.bypass``, whatever its option);
- a **content definition** decided the recipient when one of its
  content-examination policies *fired* for it (even if another trigger or a
  higher-scoring definition was chosen in the end).

Each object is counted once per unit (a test case, a simulated message) in
which it decided at least one recipient, and once per such recipient.

    cov = Coverage()
    for decision in decisions:
        cov.add(decision)
    report = cov.report(snapshot)
    report.percent, [row.name for row in report.never]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from secmsg_cli.engine.decision import MessageDecision
from secmsg_cli.engine.snapshot import Snapshot
from secmsg_cli.vocab import PolicyKind

__all__ = ["Coverage", "CoverageReport", "CoverageRow"]


@dataclass(frozen=True, slots=True)
class CoverageRow:
    kind: str  # secure-messaging | bypass | content-examination | content-definition
    id: int
    name: str  # a policy's narrative or a content definition's name
    decided: int  # units (cases / messages) in which it decided at least one recipient
    recipients: int  # recipients it decided

    @property
    def covered(self) -> bool:
        return self.decided > 0

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "name": self.name,
            "decided": self.decided,
            "recipients": self.recipients,
            "covered": self.covered,
        }


@dataclass(frozen=True, slots=True)
class CoverageReport:
    rows: tuple[CoverageRow, ...]
    units: int  # how many decisions were added

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def covered(self) -> int:
        return sum(1 for r in self.rows if r.covered)

    @property
    def percent(self) -> float:
        """Share of policies + content definitions that decided at least one
        unit; 100 when there is nothing to cover."""
        return 100.0 if not self.rows else 100.0 * self.covered / self.total

    @property
    def never(self) -> tuple[CoverageRow, ...]:
        return tuple(r for r in self.rows if not r.covered)

    def to_json(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "covered": self.covered,
            "total": self.total,
            "percent": round(self.percent, 2),
            "rows": [r.to_json() for r in self.rows],
        }


@dataclass
class Coverage:
    """Accumulates decisions; :meth:`report` lists every object of a snapshot."""

    units: int = 0
    _policy_units: Counter[int] = field(default_factory=Counter)  # by policy id
    _policy_recipients: Counter[int] = field(default_factory=Counter)
    _content_units: Counter[str] = field(default_factory=Counter)  # by lower-case name
    _content_recipients: Counter[str] = field(default_factory=Counter)

    def add(self, decision: MessageDecision) -> None:
        """Count one ``MessageDecision`` (one unit). A unit that could not be
        decided (an error) is simply not added."""
        self.units += 1
        policies: set[int] = set()
        contents: set[str] = set()
        for r in decision.recipients:
            here_p = {ref.id for ref in (r.policy, r.bypass) if ref is not None}
            here_c = {c.content_definition.lower() for c in r.content if c.fired}
            self._policy_recipients.update(here_p)
            self._content_recipients.update(here_c)
            policies |= here_p
            contents |= here_c
        self._policy_units.update(policies)
        self._content_units.update(contents)

    def report(self, snapshot: Snapshot) -> CoverageReport:
        """Every policy (all three kinds, by id) and every content definition
        (by id) of ``snapshot`` with its counts."""
        rows: list[CoverageRow] = []
        policies = sorted(
            (cp.policy for kind in PolicyKind for cp in snapshot.policies.get(kind, ())),
            key=lambda p: p.id,
        )
        for p in policies:
            rows.append(
                CoverageRow(
                    p.kind,
                    p.id,
                    p.narrative,
                    self._policy_units[p.id],
                    self._policy_recipients[p.id],
                )
            )
        for cc in sorted(snapshot.content.values(), key=lambda c: c.definition.id):
            key = cc.definition.name.lower()
            rows.append(
                CoverageRow(
                    "content-definition",
                    cc.definition.id,
                    cc.definition.name,
                    self._content_units[key],
                    self._content_recipients[key],
                )
            )
        return CoverageReport(tuple(rows), self.units)
