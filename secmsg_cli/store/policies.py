"""Policies (all three kinds) and content definitions (docs/decisions.md): the
part of the store that keeps them, :attr:`Store.policy_records
<secmsg_cli.store.store.Store.policy_records>`.

Field rules live in :func:`secmsg_cli.validate.check_policy` and
:func:`secmsg_cli.validate.check_content_definition` (shared with the config
file); this module adds what needs the store: references to definitions,
content definitions, groups and attributes, and the audit trail.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from secmsg_cli.errors import InvalidInput, NotFound, Refused, did_you_mean
from secmsg_cli.model import (
    KINDS,
    ContentDefinition,
    Policy,
    Target,
    as_id,
)
from secmsg_cli.store._core import StoreCore
from secmsg_cli.store._sql import rowid
from secmsg_cli.validate import check_content_definition, check_policy
from secmsg_cli.vocab import PolicyKind

KIND_NOUN = {kind.value: kind.noun for kind in PolicyKind}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _target(row: sqlite3.Row, side: str) -> Target:
    return Target(row[f"{side}_type"], row[f"{side}_value"], row[f"{side}_name"])


# More target keys than this (a message with hundreds of recipients) and the
# policies are filtered in Python only (SQL statements have a parameter limit).
_MAX_KEYS_IN_SQL = 400


def _lower(value: str | None) -> str:
    """Python's lower-casing, for SQL (SQLite's lower() folds ASCII only)."""
    return (value or "").lower()


def _side_matches(side: str, keys: Collection[tuple[str, ...]]) -> tuple[str, list[str]]:
    """An SQL condition on a policy's ``side`` ("from"/"to") target that holds
    when its :func:`~secmsg_cli.engine.snapshot.target_key` is among ``keys``."""
    simple = sorted({k[0] for k in keys if len(k) == 1})
    domains = sorted(
        {k[1] for k in keys if k[0] == "domain"} | {f"*.{k[1]}" for k in keys if k[0] == "wildcard"}
    )
    groups = sorted({k[1] for k in keys if k[0] == "group"})
    attributes = sorted({f"{k[1]}\x00{k[2]}" for k in keys if k[0] == "attribute"})
    addresses = sorted({k[1] for k in keys if k[0] == "address"})
    t, v, n = f"{side}_type", f"{side}_value", f"{side}_name"
    clauses, params = [], []

    def add(sql: str, values: list[str]) -> None:
        if values:
            clauses.append(sql.format(marks=", ".join("?" * len(values))))
            params.extend(values)

    add(f"{t} IN ({{marks}})", simple)
    add(f"({t} = 'domain' AND {v} IN ({{marks}}))", domains)
    add(f"({t} = 'group' AND secmsg_lower({v}) IN ({{marks}}))", groups)
    add(
        f"({t} = 'attribute' AND secmsg_lower({n}) || char(0) || secmsg_lower({v}) IN ({{marks}}))",
        attributes,
    )
    add(f"({t} = 'address' AND {v} IN ({{marks}}))", addresses)
    return f"({' OR '.join(clauses) or '0'})", params


class PolicyRecords:
    """Policies and content definitions, kept in ``store`` (which they refer
    to for definitions, groups, the account's time zone and the audit log)."""

    __slots__ = ("_store",)

    def __init__(self, store: StoreCore) -> None:
        self._store = store

    # --- reading ------------------------------------------------------------

    def _definition_paths(self) -> dict[int, str]:
        paths = self._store._folder_paths()
        return {
            r["id"]: f"{paths[r['folder_id']]}/{r['description']}"
            for r in self._store._q("SELECT id, folder_id, description FROM definitions")
        }

    def _policy_from_row(
        self, row: sqlite3.Row, def_paths: Mapping[int, str], cd_names: Mapping[int, str]
    ) -> Policy:
        return Policy(
            id=row["id"],
            kind=row["kind"],
            narrative=row["narrative"],
            option=row["option"],
            definition=def_paths.get(row["definition_id"]) if row["definition_id"] else None,
            content_definition=cd_names.get(row["content_definition_id"])
            if row["content_definition_id"]
            else None,
            from_=_target(row, "from"),
            from_part=row["from_part"],
            to=_target(row, "to"),
            enabled=bool(row["enabled"]),
            start=row["start_at"],
            end=row["end_at"],
            override=bool(row["override"]),
            bidirectional=bool(row["bidirectional"]),
            source_ips=tuple(json.loads(row["source_ips"])),
            created=row["created"],
            updated=row["updated"],
        )

    def policies(
        self, kind: str | None = None, *, keys: Collection[tuple[str, ...]] | None = None
    ) -> list[Policy]:
        """Policies (of one kind, or all), by id. With ``keys`` (target keys,
        :func:`secmsg_cli.engine.snapshot.target_key`), only the policies
        whose from and to targets both have a key among them."""
        def_paths = self._definition_paths()
        cd_names = {r[0]: r[1] for r in self._store._q("SELECT id, name FROM content_definitions")}
        where, params = ["1"], []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if keys is not None and len(keys) <= _MAX_KEYS_IN_SQL:
            # Most rows are left out by SQLite; the exact test follows.
            self._store.conn.create_function("secmsg_lower", 1, _lower, deterministic=True)
            for side in ("from", "to"):
                clause, side_params = _side_matches(side, keys)
                where.append(clause)
                params += side_params
        rows = self._store._q(
            f"SELECT * FROM policies WHERE {' AND '.join(where)} ORDER BY id", params
        )
        if keys is not None:
            from secmsg_cli.engine.snapshot import target_key

            rows = [
                r
                for r in rows
                if target_key(_target(r, "from")) in keys and target_key(_target(r, "to")) in keys
            ]
        return [self._policy_from_row(r, def_paths, cd_names) for r in rows]

    def policy(self, kind: str | None, ref: str | int) -> Policy:
        """A policy by id, or by its narrative when that is unique. Reads only
        the matching rows (creating many policies must not be quadratic)."""
        text = str(ref).strip()
        noun = KIND_NOUN.get(kind or "", "policy")
        pid = as_id(ref)
        params: list[object]
        if pid is not None:
            where, params = "id = ?", [pid]
        else:
            where, params = "narrative = ? COLLATE NOCASE", [text]
        if kind is not None:
            where += " AND kind = ?"
            params.append(kind)
        rows = self._store._q(f"SELECT * FROM policies WHERE {where} ORDER BY id", params)
        if not rows:
            hint = ""
            if pid is None:
                sql, args = "SELECT narrative FROM policies", []
                if kind is not None:
                    sql, args = sql + " WHERE kind = ?", [kind]
                hint = did_you_mean(text, [r["narrative"] for r in self._store._q(sql, args)])
            raise NotFound(f"{noun} {text if pid is not None else repr(text)} not found{hint}")
        if len(rows) > 1:
            raise InvalidInput(
                f"{len(rows)} {noun.replace('policy', 'policies')} have the narrative {text!r}; "
                f"use the id ({', '.join(str(r['id']) for r in rows)})"
            )
        row = rows[0]
        cd_names = {}
        if row["content_definition_id"]:
            cd_names = {
                r[0]: r[1]
                for r in self._store._q(
                    "SELECT id, name FROM content_definitions WHERE id = ?",
                    [row["content_definition_id"]],
                )
            }
        def_paths = self._definition_paths() if row["definition_id"] else {}
        return self._policy_from_row(row, def_paths, cd_names)

    def _content_definition_from_row(
        self, row: sqlite3.Row, def_paths: Mapping[int, str]
    ) -> ContentDefinition:
        return ContentDefinition(
            id=row["id"],
            name=row["name"],
            activation_score=row["activation_score"],
            scan=tuple(json.loads(row["scan"])),
            lines=tuple(json.loads(row["lines"])),
            secure_messaging=def_paths.get(row["definition_id"]) if row["definition_id"] else None,
        )

    def content_definitions(self) -> list[ContentDefinition]:
        def_paths = self._definition_paths()
        return [
            self._content_definition_from_row(r, def_paths)
            for r in self._store._q(
                "SELECT * FROM content_definitions ORDER BY name COLLATE NOCASE"
            )
        ]

    def content_definition(self, ref: str | int) -> ContentDefinition:
        """A content definition by name (case-insensitive) or id."""
        text = str(ref).strip()
        rows = self._store._q("SELECT * FROM content_definitions WHERE name = ?", [text])
        if not rows and (cid := as_id(ref)) is not None:
            rows = self._store._q("SELECT * FROM content_definitions WHERE id = ?", [cid])
        if not rows:
            names = [r["name"] for r in self._store._q("SELECT name FROM content_definitions")]
            raise NotFound(f"content definition {text!r} not found{did_you_mean(text, names)}")
        return self._content_definition_from_row(rows[0], self._definition_paths())

    # --- who uses what --------------------------------------------------------

    def policy_users_of_definitions(self, ids: Iterable[int]) -> list[str]:
        ids = list(ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        users = [
            f"{KIND_NOUN[r['kind']]} {r['id']} ({r['narrative']!r})"
            for r in self._store._q(
                f"SELECT id, kind, narrative FROM policies WHERE definition_id IN ({marks}) ORDER BY id",
                ids,
            )
        ]
        users += [
            f"content definition {r['name']!r} (secure_messaging)"
            for r in self._store._q(
                f"SELECT name FROM content_definitions WHERE definition_id IN ({marks}) ORDER BY name",
                ids,
            )
        ]
        return users

    def policy_users_of_group(self, name: str) -> list[str]:
        rows = self._store._q(
            "SELECT id, kind, narrative FROM policies WHERE (from_type = 'group' AND from_value = ? COLLATE NOCASE) "
            "OR (to_type = 'group' AND to_value = ? COLLATE NOCASE) ORDER BY id",
            [name, name],
        )
        return [f"{KIND_NOUN[r['kind']]} {r['id']} ({r['narrative']!r})" for r in rows]

    # --- policies -----------------------------------------------------------

    def _check_target_exists(self, target: Target, side: str) -> Target:
        """The target with references checked; a group's name as stored."""
        if target.type == "group":
            try:
                return Target("group", self._store.group(str(target.value)).name)
            except NotFound as exc:
                raise NotFound(f"{side}: {exc}") from None  # with its "did you mean"
        elif target.type == "attribute" and not self._store._q(
            "SELECT 1 FROM attributes WHERE name = ? LIMIT 1", [target.name]
        ):
            names = [r["name"] for r in self._store._q("SELECT DISTINCT name FROM attributes")]
            raise NotFound(
                f"{side}: no address has an attribute named {target.name!r}"
                + did_you_mean(str(target.name), names)
            )
        return target

    def _policy_row(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Resolve references and build the row of a validated policy."""
        kind = values["kind"]
        definition_id = content_definition_id = None
        if values.get("definition"):
            definition_id = self._store.definition(values["definition"]).id
        if values.get("content_definition"):
            content_definition_id = self.content_definition(values["content_definition"]).id
        values = {
            **values,
            "from_": self._check_target_exists(values["from_"], "from"),
            "to": self._check_target_exists(values["to"], "to"),
        }
        row = {
            "kind": kind,
            "narrative": values["narrative"],
            "option": values.get("option"),
            "definition_id": definition_id,
            "content_definition_id": content_definition_id,
            "from_part": values["from_part"],
            "enabled": int(values["enabled"]),
            "start_at": values.get("start"),
            "end_at": values.get("end"),
            "override": int(values["override"]),
            "bidirectional": int(values["bidirectional"]),
            "source_ips": json.dumps(list(values["source_ips"])),
        }
        for side, target in (("from", values["from_"]), ("to", values["to"])):
            row[f"{side}_type"], row[f"{side}_value"], row[f"{side}_name"] = (
                target.type,
                target.value,
                target.name,
            )
        return row

    def _validated_policy(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        values, problems = check_policy(raw, self._store.account_tz())
        if problems:
            field, message = problems[0].field, problems[0].message
            more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
            raise InvalidInput(f"{field}: {message}{more}")
        return values

    def create_policy(self, raw: Mapping[str, Any]) -> Policy:
        """Create a policy from the configuration file's fields
        (docs/configuration.md; ``kind`` required; ``id`` optional)."""
        values = self._validated_policy(raw)
        with self._store.transaction():
            row = self._policy_row(values)
            row["created"] = row["updated"] = _now()
            if "id" in values:
                if self._store._q("SELECT 1 FROM policies WHERE id = ?", [values["id"]]):
                    raise Refused(f"policy id {values['id']} is already taken")
                row["id"] = values["id"]
            cols = ", ".join(row)
            pid = rowid(
                self._store._x(
                    f"INSERT INTO policies ({cols}) VALUES ({', '.join('?' * len(row))})",
                    list(row.values()),
                )
            )
            created = self.policy(None, pid)
            self._store.audit("create", values["kind"], pid, None, created)
        return created

    def update_policy(self, kind: str, ref: str | int, changes: Mapping[str, Any]) -> Policy:
        """Change fields of a policy (named as in docs/configuration.md); the
        result is validated whole."""
        with self._store.transaction():
            before = self.policy(kind, ref)
            raw = policy_fields(before)
            raw.update(changes)
            raw.pop("id", None)
            values = self._validated_policy(raw)
            row = self._policy_row(values)
            row["updated"] = _now()
            sets = ", ".join(f"{c} = ?" for c in row)
            self._store._x(f"UPDATE policies SET {sets} WHERE id = ?", [*row.values(), before.id])
            after = self.policy(kind, before.id)
            self._store.audit("update", kind, before.id, before, after)
        return after

    def delete_policy(self, kind: str, ref: str | int) -> Policy:
        with self._store.transaction():
            p = self.policy(kind, ref)
            self._store._x("DELETE FROM policies WHERE id = ?", [p.id])
            self._store.audit("delete", kind, p.id, p, None)
        return p

    # --- content definitions --------------------------------------------------

    def _validated_content_definition(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        values, problems = check_content_definition(raw)
        if problems:
            field, message = problems[0].field, problems[0].message
            more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
            name = values.get("name") or raw.get("name")
            raise InvalidInput(f"content definition {name!r}: {field}: {message}{more}")
        return values

    def _content_definition_row(self, values: Mapping[str, Any]) -> dict[str, Any]:
        definition_id = None
        if values.get("secure_messaging"):
            definition_id = self._store.definition(values["secure_messaging"]).id
        return {
            "name": values["name"],
            "activation_score": values["activation_score"],
            "scan": json.dumps(list(values["scan"])),
            "lines": json.dumps(list(values["lines"]), ensure_ascii=False),
            "definition_id": definition_id,
        }

    def create_content_definition(self, raw: Mapping[str, Any]) -> ContentDefinition:
        values = self._validated_content_definition(raw)
        with self._store.transaction():
            if self._store._q("SELECT 1 FROM content_definitions WHERE name = ?", [values["name"]]):
                raise Refused(f"content definition {values['name']!r} already exists")
            row = self._content_definition_row(values)
            row["created"] = row["updated"] = _now()
            cid = rowid(
                self._store._x(
                    f"INSERT INTO content_definitions ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                    list(row.values()),
                )
            )
            created = self.content_definition(cid)
            self._store.audit("create", "content-definition", created.name, None, created)
        return created

    def update_content_definition(
        self, ref: str | int, changes: Mapping[str, Any]
    ) -> ContentDefinition:
        with self._store.transaction():
            before = self.content_definition(ref)
            raw = content_definition_fields(before)
            raw.update(changes)
            values = self._validated_content_definition(raw)
            clash = self._store._q(
                "SELECT id FROM content_definitions WHERE name = ? AND id != ?",
                [values["name"], before.id],
            )
            if clash:
                raise Refused(f"content definition {values['name']!r} already exists")
            row = self._content_definition_row(values)
            row["updated"] = _now()
            sets = ", ".join(f"{c} = ?" for c in row)
            self._store._x(
                f"UPDATE content_definitions SET {sets} WHERE id = ?", [*row.values(), before.id]
            )
            after = self.content_definition(before.id)
            self._store.audit("update", "content-definition", before.name, before, after)
        return after

    def delete_content_definition(self, ref: str | int) -> ContentDefinition:
        with self._store.transaction():
            cd = self.content_definition(ref)
            users = [
                f"{KIND_NOUN[r['kind']]} {r['id']} ({r['narrative']!r})"
                for r in self._store._q(
                    "SELECT id, kind, narrative FROM policies WHERE content_definition_id = ? ORDER BY id",
                    [cd.id],
                )
            ]
            if users:
                raise Refused(f"content definition {cd.name!r} is in use by {', '.join(users)}")
            self._store._x("DELETE FROM content_definitions WHERE id = ?", [cd.id])
            self._store.audit("delete", "content-definition", cd.name, cd, None)
        return cd


def policy_fields(p: Policy) -> dict[str, Any]:
    """A policy with the field names of docs/configuration.md (absent optional fields omitted)."""
    out: dict[str, Any] = {"id": p.id, "kind": p.kind, "narrative": p.narrative}
    if p.option is not None:
        out["option"] = p.option
    if p.definition is not None:
        out["definition"] = p.definition
    if p.content_definition is not None:
        out["content_definition"] = p.content_definition
    out["from"] = p.from_.to_dict()
    out["from_part"] = p.from_part
    out["to"] = p.to.to_dict()
    out["enabled"] = p.enabled
    if p.start is not None:
        out["start"] = p.start
    if p.end is not None:
        out["end"] = p.end
    out["override"] = p.override
    out["bidirectional"] = p.bidirectional
    out["source_ips"] = list(p.source_ips)
    return out


def content_definition_fields(cd: ContentDefinition) -> dict[str, Any]:
    """A content definition with the field names of docs/configuration.md."""
    out: dict[str, Any] = {
        "name": cd.name,
        "activation_score": cd.activation_score,
        "scan": list(cd.scan),
        "lines": list(cd.lines),
    }
    if cd.secure_messaging is not None:
        out["secure_messaging"] = cd.secure_messaging
    return out


__all__ = ["KINDS", "KIND_NOUN", "PolicyRecords", "content_definition_fields", "policy_fields"]
