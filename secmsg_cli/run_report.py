"""The report of a corpus run (``secmsg report run``, docs/reports.md): the
results ``secmsg simulate DIR -o jsonl`` (or ``-o json``) wrote, counted.

Pure: it reads lines of text and the names of the store's policies and
content definitions, nothing else. Every recipient is counted by route,
trigger, definition, deciding policy and the content definitions that fired
for it; every message by the kinds of its notes (what could not be read, or
was read with a fallback). Anything that is not a simulate result is an
:class:`~secmsg_cli.errors.InvalidInput` naming its line.

    tally = RunTally()
    for _number, result in read_results(lines, "run.jsonl"):
        tally.add(result)
    rows = tally.rows(store_objects)
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from secmsg_cli.errors import InvalidInput

__all__ = ["NOTE_KINDS", "SECTIONS", "RunTally", "StoreObject", "note_kind", "read_results"]

# The sections of the report, in order, and what ``count`` counts in each.
SECTIONS: dict[str, str] = {
    "total": "messages, recipients, and messages that could not be decided",
    "route": "recipients",
    "trigger": "secured recipients",
    "definition": "secured recipients",
    "policy": "recipients it decided (deciding policy or winning bypass)",
    "content_definition": "recipients it fired for",
    "never_fired": "always 0: in the store, never deciding or firing in this run",
    "note": "messages with a note of this kind",
}

# Kinds of message notes, tried in order (the first whose pattern is found
# names the note); what the engine writes is in docs/limits-and-security.md.
NOTE_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("encrypted", r"encrypted|S/MIME|cannot be examined"),
        (
            "past-a-limit",
            r"past the limit|only the first|more than \d+ levels|were not read|not read$",
        ),
        ("unreadable", r"could not be read"),
        ("undecodable", r"could not be (?:fully )?decoded|read as latin-1|read with a fallback"),
        ("duplicate-header", r"headers?; the first was used|addresses; the first was used"),
        ("address", r"address|not an address"),
        ("header-syntax", r"header"),
    )
)


def note_kind(note: str) -> str:
    """The kind of a message note (``other`` when none fits)."""
    for kind, pattern in NOTE_KINDS:
        if pattern.search(note):
            return kind
    return "other"


@dataclass(frozen=True, slots=True)
class StoreObject:
    """A policy or content definition of the store, for ``never_fired``."""

    kind: str  # a policy kind, or "content-definition"
    id: int
    name: str


def _shape_error(where: str, what: str) -> InvalidInput:
    return InvalidInput(f"{where}: {what}; expected the output of 'secmsg simulate -o jsonl'")


def _check(result: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(result, dict):
        raise _shape_error(where, f"a JSON {type(result).__name__}, not a simulate result")
    if result.get("schema_version") != 1 or "source" not in result:
        if "summary" in result and "changes" in result:
            what = "the output of 'simulate --against', not a simulate result"
        else:
            keys = ", ".join(sorted(str(k) for k in result)[:4]) or "no fields"
            what = f"not a simulate result (fields: {keys})"
        raise _shape_error(where, what)
    if "error" in result:
        return result
    recipients = result.get("recipients")
    message = result.get("message")
    if not isinstance(recipients, list) or not isinstance(message, dict):
        raise _shape_error(where, "a simulate result without message and recipients")
    if not isinstance(message.get("notes", []), list):
        raise _shape_error(where, "message notes that are not a list")
    for r in recipients:
        if not isinstance(r, dict) or not isinstance(r.get("route"), str):
            raise _shape_error(where, "a recipient without a route")
        for name, types in _RECIPIENT_FIELDS.items():
            if not isinstance(r.get(name), types):
                raise _shape_error(
                    where, f"a recipient whose {name} is a JSON {_json_type(r[name])}"
                )
    return result


# The fields of a recipient the report reads, and the types they may have
# (absent reads as null).
_RECIPIENT_FIELDS: dict[str, tuple[type, ...]] = {
    "secure": (bool, type(None)),
    "trigger": (str, type(None)),
    "definition": (str, type(None)),
    "policy": (dict, type(None)),
    "bypass": (dict, type(None)),
    "content": (list, type(None)),
}


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number" if isinstance(value, (int, float)) else "null"
    )


def _too_long(exc: ValueError) -> str:
    """What a ValueError of :func:`json.loads` that is not a JSONDecodeError
    means: an integer longer than Python converts (4300 digits)."""
    return f"not JSON (a number too long: {str(exc).split(':')[0].lower()})"


def read_results(lines: Iterable[str], name: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(line number, result) of each simulate result in ``lines`` (of the
    file ``name``): JSON Lines, one result a line (``-o jsonl``), or one
    JSON document, an object or an array of them (``-o json``), whose
    results all bear the number of the line the document starts on (JSON
    keeps no positions of its items)."""
    it = iter(lines)
    first_number = 0
    first = ""
    for first_number, first in enumerate(it, 1):  # noqa: B007 - the first line with text
        if first.strip():
            break
    else:
        raise InvalidInput(f"{name}: no simulate results (the file is empty)")
    head = first.strip()
    if head.startswith("[") or head == "{":
        text = first + "".join(it)
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            where = f"{name} line {first_number + exc.lineno - 1}"
            raise InvalidInput(f"{where}: not JSON ({exc.msg})") from None
        except RecursionError:
            raise InvalidInput(f"{name} line {first_number}: JSON nested too deeply") from None
        except ValueError as exc:  # an integer past Python's digit limit
            raise InvalidInput(f"{name} line {first_number}: {_too_long(exc)}") from None
        items = document if isinstance(document, list) else [document]
        for item in items:
            yield first_number, _check(item, f"{name} line {first_number}")
        return
    number = first_number
    line = first
    while True:
        if line.strip():
            where = f"{name} line {number}"
            try:
                result = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{where}: not JSON ({exc.msg})") from None
            except RecursionError:
                raise InvalidInput(f"{where}: JSON nested too deeply") from None
            except ValueError as exc:
                raise InvalidInput(f"{where}: {_too_long(exc)}") from None
            yield number, _check(result, where)
        try:
            line = next(it)
        except StopIteration:
            return
        number += 1


def _policy_key(p: Any) -> tuple[str, int, str] | None:
    if not isinstance(p, dict) or type(p.get("id")) is not int:  # not a bool (true == 1)
        return None
    return (str(p.get("kind")), p["id"], str(p.get("narrative") or ""))


@dataclass
class RunTally:
    """Counts of a run, added one simulate result at a time."""

    messages: int = 0
    recipients: int = 0
    undecided: int = 0
    route: Counter[str] = field(default_factory=Counter)
    trigger: Counter[str | None] = field(default_factory=Counter)
    definition: Counter[str | None] = field(default_factory=Counter)
    policy: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    content: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)

    def add(self, result: Mapping[str, Any]) -> None:
        self.messages += 1
        if "error" in result:
            self.undecided += 1
            return
        kinds = {note_kind(str(n)) for n in result["message"].get("notes") or ()}
        self.notes.update(kinds)
        for r in result["recipients"]:
            self.recipients += 1
            self.route[r["route"]] += 1
            if r.get("secure"):
                self.trigger[r.get("trigger")] += 1
                self.definition[r.get("definition")] += 1
            for key in {_policy_key(r.get("policy")), _policy_key(r.get("bypass"))} - {None}:
                assert key is not None
                self.policy[key] += 1
            fired = {
                str(c.get("content_definition"))
                for c in r.get("content") or ()
                if isinstance(c, dict) and c.get("fired")
            }
            self.content.update(fired)

    def rows(self, store: Sequence[StoreObject] | None) -> list[dict[str, Any]]:
        """The report as rows ``{section, kind, id, key, count, share}``
        (docs/reports.md); ``never_fired`` only when ``store`` is given."""

        def share(n: int, of: int) -> float | None:
            return round(n / of, 4) if of else None

        out: list[dict[str, Any]] = []

        def add(
            section: str, key: Any, count: int, of: int, kind: Any = None, id: Any = None
        ) -> None:
            out.append(
                {
                    "section": section,
                    "kind": kind,
                    "id": id,
                    "key": key,
                    "count": count,
                    "share": share(count, of) if of >= 0 else None,
                }
            )

        add("total", "messages", self.messages, -1)
        add("total", "recipients", self.recipients, -1)
        add("total", "undecided", self.undecided, -1)
        secured = sum(self.trigger.values())

        def ordered(counter: Counter[Any]) -> list[tuple[Any, int]]:
            return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0] is None, str(kv[0])))

        for route, n in ordered(self.route):
            add("route", route, n, self.recipients)
        for trigger, n in ordered(self.trigger):
            add("trigger", trigger, n, secured)
        for definition, n in ordered(self.definition):
            add("definition", definition, n, secured)
        for (kind, pid, narrative), n in sorted(
            self.policy.items(), key=lambda kv: (-kv[1], kv[0][1])
        ):
            add("policy", narrative, n, self.recipients, kind, pid)
        for name, n in ordered(self.content):
            add("content_definition", name, n, self.recipients)
        if store is not None:
            fired_policies = {pid for (_, pid, _) in self.policy}
            fired_content = {n.lower() for n in self.content}
            for o in store:
                if o.kind == "content-definition":
                    if o.name.lower() not in fired_content:
                        add("never_fired", o.name, 0, -1, o.kind, o.id)
                elif o.id not in fired_policies:
                    add("never_fired", o.name, 0, -1, o.kind, o.id)
        for kind, n in ordered(self.notes):
            add("note", kind, n, self.messages)
        return out
