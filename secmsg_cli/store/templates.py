"""Notification templates (docs/configuration.md): the part of the store that
keeps them, :attr:`Store.template_records
<secmsg_cli.store.store.Store.template_records>`. A definition refers to
its template by id (renaming a template keeps its definitions on it); a
template a definition uses cannot be removed."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from secmsg_cli.errors import InvalidInput, NotFound, Refused, did_you_mean
from secmsg_cli.model import (
    TEMPLATE_FIELDS,
    NotificationTemplate,
    as_id,
    check_logo_path,
    check_template_body,
    check_template_line,
    check_template_name,
    logo_type,
)
from secmsg_cli.store._core import StoreCore
from secmsg_cli.store._sql import rowid

__all__ = ["TemplateRecords", "check_template", "template_audit", "template_fields"]


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def check_template(values: Mapping[str, Any]) -> dict[str, Any]:
    """A template's fields (``name``, ``subject``, ``html``, ``text``,
    ``sender_name``, ``logo`` path, ``logo_data`` bytes) checked and
    normalised; the first problem is an InvalidInput naming its field."""
    unknown = [k for k in values if k not in (*TEMPLATE_FIELDS, "logo_data", "logo_type")]
    if unknown:
        raise InvalidInput(
            f"unknown notification template field {unknown[0]!r}: expected one of {', '.join(TEMPLATE_FIELDS)}"
        )
    for key in ("name", "subject", "html", "text"):
        if values.get(key) is None:
            raise InvalidInput(f"notification template: missing required field {key!r}")
    out: dict[str, Any] = {
        "name": check_template_name(values["name"]),
        "subject": check_template_line(values["subject"], "subject"),
        "html": check_template_body(values["html"], "html"),
        "text": check_template_body(values["text"], "text"),
        "sender_name": None,
        "logo": None,
        "logo_type": None,
        "logo_data": None,
    }
    if values.get("sender_name") is not None:
        out["sender_name"] = check_template_line(values["sender_name"], "sender_name")
    if values.get("logo") is not None:
        out["logo"] = check_logo_path(values["logo"])
        data = values.get("logo_data")
        if not isinstance(data, bytes):
            raise InvalidInput(f"logo {out['logo']!r}: its bytes are missing")
        out["logo_type"] = logo_type(data, f"logo {out['logo']!r}")
        out["logo_data"] = data
    return out


def template_audit(t: NotificationTemplate) -> dict[str, Any]:
    """What the audit log keeps of a template: the logo by size and digest."""
    import hashlib  # (not at import: it loads OpenSSL, 2.7 ms of every start)

    return {
        "name": t.name,
        "subject": t.subject,
        "html": t.html,
        "text": t.text,
        "sender_name": t.sender_name,
        "logo": t.logo,
        "logo_type": t.logo_type,
        "logo_size": None if t.logo_data is None else len(t.logo_data),
        "logo_sha256": None if t.logo_data is None else hashlib.sha256(t.logo_data).hexdigest(),
    }


def _row(r: sqlite3.Row) -> NotificationTemplate:
    return NotificationTemplate(
        id=r["id"],
        name=r["name"],
        subject=r["subject"],
        html=r["html"],
        text=r["text"],
        sender_name=r["sender_name"],
        logo=r["logo_path"],
        logo_type=r["logo_type"],
        logo_data=None if r["logo"] is None else bytes(r["logo"]),
    )


class TemplateRecords:
    """Notification templates, kept through the Store they belong to."""

    def __init__(self, store: StoreCore) -> None:
        self._store = store

    def templates(self) -> list[NotificationTemplate]:
        rows = self._store._q("SELECT * FROM notification_templates ORDER BY name COLLATE NOCASE")
        return [_row(r) for r in rows]

    def subjects(self) -> dict[str, str]:
        """Each template's subject (with its tags), by name: what the engine
        needs to name a portal record's notification subject, without the logos."""
        rows = self._store._q("SELECT name, subject FROM notification_templates")
        return {r["name"]: r["subject"] for r in rows if r["subject"]}

    def template(self, ref: str | int) -> NotificationTemplate:
        """A template by id or name (case-insensitive)."""
        text = str(ref).strip()
        tid = as_id(ref)
        if tid is not None:
            rows = self._store._q("SELECT * FROM notification_templates WHERE id = ?", [tid])
        else:
            rows = self._store._q("SELECT * FROM notification_templates WHERE name = ?", [text])
        if not rows:
            names = [t.name for t in self.templates()]
            raise NotFound(f"notification template {text!r} not found{did_you_mean(text, names)}")
        return _row(rows[0])

    def template_id(self, name: str) -> int:
        return self.template(check_template_name(name)).id

    def users(self, tid: int) -> list[str]:
        """The paths of the definitions that use template ``tid``."""
        ids = [
            r[0]
            for r in self._store._q(
                "SELECT id FROM definitions WHERE notification_template_id = ?", [tid]
            )
        ]
        return sorted(self._store.definition(i).path for i in ids)

    def _write(self, values: Mapping[str, Any], tid: int | None) -> int:
        row = {
            "name": values["name"],
            "subject": values["subject"],
            "html": values["html"],
            "text": values["text"],
            "sender_name": values["sender_name"],
            "logo_path": values["logo"],
            "logo_type": values["logo_type"],
            "logo": values["logo_data"],
            "updated": _now(),
        }
        clash = self._store._q(
            "SELECT id FROM notification_templates WHERE name = ? AND id != ?",
            [row["name"], -1 if tid is None else tid],
        )
        if clash:
            raise Refused(f"notification template {row['name']!r} already exists")
        if tid is None:
            row["created"] = row["updated"]
            return rowid(
                self._store._x(
                    f"INSERT INTO notification_templates ({', '.join(row)}) "
                    f"VALUES ({', '.join('?' * len(row))})",
                    list(row.values()),
                )
            )
        sets = ", ".join(f"{c} = ?" for c in row)
        self._store._x(
            f"UPDATE notification_templates SET {sets} WHERE id = ?", [*row.values(), tid]
        )
        return tid

    def create_template(self, raw: Mapping[str, Any]) -> NotificationTemplate:
        values = check_template(raw)
        with self._store.transaction():
            created = self.template(self._write(values, None))
            self._store.audit(
                "create", "notification-template", created.name, None, template_audit(created)
            )
        return created

    def update_template(self, ref: str | int, changes: Mapping[str, Any]) -> NotificationTemplate:
        """Change fields of a template (``logo`` None removes the logo)."""
        with self._store.transaction():
            before = self.template(ref)
            raw = template_fields(before) | {"logo_data": before.logo_data}
            raw.update(changes)
            if raw.get("logo") is None:
                raw.pop("logo_data", None)
            values = check_template(raw)
            self._write(values, before.id)
            after = self.template(before.id)
            if after != before:
                self._store.audit(
                    "update",
                    "notification-template",
                    before.name,
                    template_audit(before),
                    template_audit(after),
                )
        return after

    def delete_template(self, ref: str | int) -> NotificationTemplate:
        with self._store.transaction():
            t = self.template(ref)
            users = self.users(t.id)
            if users:
                raise Refused(
                    f"notification template {t.name!r} is in use by definition(s) {', '.join(users)}"
                )
            self._store._x("DELETE FROM notification_templates WHERE id = ?", [t.id])
            self._store.audit("delete", "notification-template", t.name, template_audit(t), None)
        return t


def template_fields(t: NotificationTemplate) -> dict[str, Any]:
    """A template as the configuration writes it (the logo by its path)."""
    out: dict[str, Any] = {"name": t.name, "subject": t.subject}
    if t.sender_name is not None:
        out["sender_name"] = t.sender_name
    if t.logo is not None:
        out["logo"] = t.logo
    out["html"] = t.html
    out["text"] = t.text
    return out
