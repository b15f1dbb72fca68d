"""``plan`` and ``apply`` (docs/configuration.md): the object-level difference between the
store and a configuration file, and making the store equal to the file.

Both sides are compared in one canonical form, the document that ``export``
writes: the file is validated and loaded into a private in-memory store and
exported from there, so a field is "changed" exactly when ``export`` would
write it differently. Objects are matched by their natural key (domain name,
group name, address (attributes, users), folder path, definition path, content definition name)
and policies by id; a policy without an id in the file is matched to the
store's policy of the same kind and narrative when there is exactly one, so
that it keeps its id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from secmsg_cli.config import (
    Config,
    export_document,
    import_config,
)
from secmsg_cli.errors import Refused
from secmsg_cli.model import BUILTIN_FOLDER, EVERYONE

if TYPE_CHECKING:
    from secmsg_cli.store.store import Store

__all__ = ["Change", "Plan", "apply_as_planned", "apply_plan", "make_plan"]

# Sections in the order they are created/updated; deletions run in reverse.
SECTIONS = (
    "domains",
    "users",
    "groups",
    "attributes",
    "folders",
    "notification_templates",
    "definitions",
    "content_definitions",
    "policies",
)
KIND_OF = {
    "domains": "domain",
    "users": "user",
    "groups": "group",
    "attributes": "attribute",
    "folders": "folder",
    "notification_templates": "notification-template",
    "definitions": "definition",
    "content_definitions": "content-definition",
    "policies": "policy",
}


# How each section's objects are matched between the store and the file: by
# natural key (names that ignore case in lower case), policies by id.
_KEYS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "domains": lambda e: str(e["name"]),
    "users": lambda e: str(e["address"]),
    "groups": lambda e: str(e["name"]).lower(),
    "attributes": lambda e: str(e["address"]),
    "folders": lambda e: str(e["path"]).lower(),
    "notification_templates": lambda e: str(e["name"]).lower(),
    "definitions": lambda e: f"{e['folder']}/{e['description']}".lower(),
    "content_definitions": lambda e: str(e["name"]).lower(),
    "policies": lambda e: str(e["id"]),
}


# Carried for apply, compared through another field: a logo's bytes (by logo_sha256).
_NOT_SHOWN = frozenset({"logo_data"})


def _key(section: str, entry: Mapping[str, Any]) -> str:
    return _KEYS[section](entry)


def _label(section: str, entry: Mapping[str, Any]) -> str:
    if section == "definitions":
        return f"{entry['folder']}/{entry['description']}"
    if section == "policies":
        return f"{entry['id']} ({entry['kind']}: {entry['narrative']})"
    return str(entry.get("name") or entry.get("address") or entry.get("path"))


@dataclass(frozen=True)
class Change:
    """One object to create, update or delete; ``fields`` maps each changed
    field to (before, after)."""

    action: str  # create | update | delete
    kind: str
    key: str
    label: str
    fields: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "kind": self.kind,
            "object": self.label,
            "changes": {k: {"before": b, "after": a} for k, (b, a) in self.fields.items()},
        }


@dataclass
class Plan:
    changes: list[Change]
    kept: list[Change]  # objects missing from the file that stay (no --prune)

    @property
    def empty(self) -> bool:
        return not self.changes

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "update": 0, "delete": 0}
        for c in self.changes:
            out[c.action] += 1
        return out


def _assign_policy_ids(cfg: Config, current: list[Mapping[str, Any]], floor: int = 0) -> None:
    """Give file policies without an id the id of the store's policy with the
    same kind and narrative (when exactly one; among several, the one equal to
    it in every field, so that applying twice creates nothing twice), else a
    fresh id above every id the store ever gave (``floor``: ids are never reused)."""
    from zoneinfo import ZoneInfo

    from secmsg_cli.validate import check_policy

    tz = ZoneInfo(cfg.account.get("timezone") or "UTC")
    taken = {v["id"] for v in cfg.policies if "id" in v}
    by_name: dict[tuple[str, str], list[int]] = {}
    stored: dict[int, Mapping[str, Any]] = {}
    for p in current:
        by_name.setdefault((p["kind"], p["narrative"].lower()), []).append(p["id"])
        stored[p["id"]] = p
    next_id = max([*taken, *(p["id"] for p in current), floor, 0]) + 1
    for values in cfg.policies:
        if "id" in values:
            continue
        ids = [
            i
            for i in by_name.get((values["kind"], values["narrative"].lower()), [])
            if i not in taken
        ]
        if len(ids) > 1:
            ids = [
                i
                for i in ids
                if {k: v for k, v in check_policy(stored[i], tz)[0].items() if k != "id"} == values
            ]
        if len(ids) == 1:
            values["id"] = ids[0]
        else:
            values["id"] = next_id
            next_id += 1
        taken.add(values["id"])


def desired_document(
    cfg: Config, current: Mapping[str, Any], policy_id_floor: int = 0
) -> dict[str, Any]:
    """The canonical (exported) form of a validated configuration."""
    from secmsg_cli.store.store import Store

    _assign_policy_ids(cfg, current.get("policies", []), policy_id_floor)
    memory = Store(":memory:")
    try:
        import_config(memory, cfg)
        return export_document(memory, logos=True)
    finally:
        memory.close()


def _default_folder(doc: Mapping[str, Any]) -> dict[str, Any]:
    for f in doc.get("folders", []):
        if f["path"].lower() == BUILTIN_FOLDER.lower():
            return dict(f)
    return {"path": BUILTIN_FOLDER, "publish_to": [EVERYONE]}


def make_plan(store: Store, cfg: Config, *, prune: bool = False) -> tuple[Plan, dict[str, Any]]:
    """Compare the store with a validated configuration. Returns the plan and
    the desired document (what the store will export after ``apply``)."""
    current = export_document(store, logos=True)
    seq = store.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'policies'").fetchone()
    desired = desired_document(cfg, current, seq[0] if seq else 0)
    # Attribute names ignore case and the store keeps the spelling already in
    # use (Store.set_attributes): the plan shows what apply will really write.
    spelling = {name.lower(): name for a in current.get("attributes", []) for name in a["values"]}
    for a in desired.get("attributes", []):
        a["values"] = {spelling.get(name.lower(), name): v for name, v in a["values"].items()}
    changes: list[Change] = []
    kept: list[Change] = []
    cur_acc, new_acc = current["account"], desired["account"]
    diff = {k: (cur_acc[k], new_acc[k]) for k in new_acc if cur_acc.get(k) != new_acc[k]}
    if diff:
        changes.append(Change("update", "account", "account", "account", diff, cur_acc, new_acc))
    for section in SECTIONS:
        cur = {_key(section, e): e for e in current.get(section, [])}
        new = {_key(section, e): e for e in desired.get(section, [])}
        if section == "folders":  # the built-in folder always exists: compare, never create/delete
            d_key = BUILTIN_FOLDER.lower()
            cur[d_key], new[d_key] = _default_folder(current), _default_folder(desired)
        for key, entry in new.items():
            if key not in cur:
                changes.append(
                    Change("create", KIND_OF[section], key, _label(section, entry), {}, None, entry)
                )
                continue
            before = cur[key]
            fields = {
                k: (before.get(k), entry.get(k))
                for k in set(before) | set(entry)
                if before.get(k) != entry.get(k) and k not in _NOT_SHOWN
            }
            if fields:
                changes.append(
                    Change(
                        "update",
                        KIND_OF[section],
                        key,
                        _label(section, entry),
                        dict(sorted(fields.items())),
                        before,
                        entry,
                    )
                )
        for key, entry in cur.items():
            if key not in new:
                change = Change(
                    "delete", KIND_OF[section], key, _label(section, entry), {}, entry, None
                )
                (changes if prune else kept).append(change)
    return Plan(changes, kept), desired


def apply_plan(store: Store, plan: Plan, *, source: str = "<config>") -> dict[str, int]:
    """Carry out a plan in one transaction (all or nothing). Policies to delete
    go first (out of the way of what they reference), then creations and
    updates in dependency order, then the other deletions, dependants first."""
    order = {KIND_OF[s]: i for i, s in enumerate(SECTIONS)}
    account = next((c.after for c in plan.changes if c.kind == "account"), None)
    # Switching to the lite edition must wait until custom definitions are gone.
    to_lite = account is not None and account["edition"] == "lite"
    writes = sorted(
        (c for c in plan.changes if c.kind != "account" and c.action != "delete"),
        key=lambda c: (order[c.kind], c.label.count("/") if c.kind == "folder" else 0),
    )
    deletes = sorted(
        (c for c in plan.changes if c.action == "delete"),
        key=lambda c: (-order[c.kind], -c.label.count("/")),
    )
    counts = plan.counts()
    with store.transaction():
        if account is not None and not to_lite:
            store.set_account(account)
        for c in deletes:
            if c.kind == "policy":
                _delete(store, c)
        for c in writes:
            _create_or_update(store, c)
        for c in deletes:
            if c.kind != "policy":
                _delete(store, c)
        if account is not None and to_lite:
            store.set_account(account)
        store.audit("apply", "config", source, None, counts)
    return counts


def apply_as_planned(
    store: Store, cfg: Config, plan: Plan, *, prune: bool, source: str = "<config>"
) -> dict[str, int]:
    """Carry out ``plan``, made earlier from ``cfg`` (shown, perhaps
    confirmed), if it is still what ``cfg`` means to the store: it is made
    again in the write transaction, and a store that another process changed
    meanwhile (in a way that changes the plan) is refused, with nothing
    changed. Carried out as it was, the plan would no longer make the store
    equal to the file, or fail half-way on what it did not foresee."""
    with store.transaction():
        now, _ = make_plan(store, cfg, prune=prune)
        if now.changes != plan.changes:
            raise Refused(
                "the store changed since the plan was made (another process wrote to it); "
                "run apply again to see the new plan"
            )
        return apply_plan(store, plan, source=source)


# --- carrying out one change: a writer and a deleter per kind of object ------------------


def _create_or_update(store: Store, c: Change) -> None:
    assert c.after is not None
    if c.action == "create":
        _CREATE[c.kind](store, c.after)
    else:
        assert c.before is not None
        _UPDATE[c.kind](store, c, c.before, c.after)


def _create_attribute(store: Store, after: Mapping[str, Any]) -> None:
    values = {k: v for k, v in after["values"].items() if v is not None}
    if values:
        store.set_attributes(after["address"], values)


def _create_definition(store: Store, after: Mapping[str, Any]) -> None:
    settings = {k: v for k, v in after.items() if k not in ("folder", "description")}
    store.create_definition(after["folder"], after["description"], **settings)


def _template_values(after: Mapping[str, Any]) -> dict[str, Any]:
    """A template's fields as the store takes them (the logo's bytes, not its digest)."""
    values = {k: v for k, v in after.items() if k != "logo_sha256"}
    values.setdefault("sender_name", None)
    values.setdefault("logo", None)
    if values["logo"] is None:
        values.pop("logo_data", None)
    return values


_CREATE: dict[str, Callable[[Store, Mapping[str, Any]], object]] = {
    "domain": lambda store, after: store.add_domain(after["name"], after["type"]),
    "user": lambda store, after: store.add_users([after["address"]]),
    "group": lambda store, after: store.create_group(after["name"], after["members"]),
    "attribute": _create_attribute,
    "folder": lambda store, after: store.create_folder(after["path"], after.get("publish_to")),
    "notification-template": lambda store, after: store.template_records.create_template(
        _template_values(after)
    ),
    "definition": _create_definition,
    "content-definition": lambda store, after: store.create_content_definition(after),
    "policy": lambda store, after: store.create_policy(dict(after)),
}


def _update_domain(
    store: Store, c: Change, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    store.update_domain(after["name"], after["type"])


def _update_group(
    store: Store, c: Change, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    if before["name"] != after["name"]:  # the same group (names ignore case), respelt
        _respell_group(store, before["name"], after["name"])
    had, wanted = set(before["members"]), set(after["members"])
    if wanted - had:
        store.add_group_members(after["name"], sorted(wanted - had))
    if had - wanted:
        store.remove_group_members(after["name"], sorted(had - wanted))


def _update_attribute(
    store: Store, c: Change, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    had = dict(before["values"])
    changed = {k: v for k, v in after["values"].items() if had.get(k) != v}
    if changed:
        store.set_attributes(after["address"], changed)
    wanted = {name.lower() for name in after["values"]}
    for name in had:
        if name.lower() not in wanted:  # names ignore case: "department" is still Department
            store.unset_attribute(after["address"], name)


def _update_folder(
    store: Store, c: Change, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    if before["path"] != after["path"]:  # the same folder (paths ignore case), respelt
        store.rename_folder(before["path"], after["path"].rpartition("/")[2])
    store.set_folder_publish(after["path"], after.get("publish_to"))


def _update_definition(
    store: Store, c: Change, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    changed = {k: after.get(k) for k in c.fields}
    store.update_definition(f"{after['folder']}/{after['description']}", **changed)


def _update_template(
    store: Store, c: Change, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    store.template_records.update_template(before["name"], _template_values(after))


def _update_content_definition(
    store: Store, c: Change, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    store.update_content_definition(after["name"], {k: after.get(k) for k in c.fields})


def _update_policy(
    store: Store, c: Change, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    if before["kind"] != after["kind"]:  # a policy of another kind under the same id
        store.delete_policy(before["kind"], after["id"])
        store.create_policy(dict(after))
        return
    raw = {k: v for k, v in after.items() if k != "id"}
    for k in ("start", "end", "option", "definition", "content_definition"):
        raw.setdefault(k, None)
    store.update_policy(after["kind"], after["id"], raw)


_UPDATE: dict[str, Callable[[Store, Change, Mapping[str, Any], Mapping[str, Any]], None]] = {
    "domain": _update_domain,
    "group": _update_group,
    "attribute": _update_attribute,
    "folder": _update_folder,
    "notification-template": _update_template,
    "definition": _update_definition,
    "content-definition": _update_content_definition,
    "policy": _update_policy,
}


def _respell_group(store: Store, old: str, new: str) -> None:
    """Change the case of a group's name; policies naming it follow. (The store
    has no method for this; Store.rename_group would be its proper home.)"""
    before = store.group(old)
    store._x("UPDATE groups SET name = ? WHERE id = ?", [new, before.id])
    for side in ("from", "to"):
        store._x(
            f"UPDATE policies SET {side}_value = ? WHERE {side}_type = 'group' AND {side}_value = ? COLLATE NOCASE",
            [new, before.name],
        )
    store.audit("rename", "group", before.name, before, store.group(before.id))


def _delete(store: Store, c: Change) -> None:
    assert c.before is not None
    _DELETE[c.kind](store, c.before)


def _delete_attribute(store: Store, before: Mapping[str, Any]) -> None:
    for name in before["values"]:
        store.unset_attribute(before["address"], name)


_DELETE: dict[str, Callable[[Store, Mapping[str, Any]], object]] = {
    "domain": lambda store, before: store.remove_domain(before["name"]),
    "user": lambda store, before: store.remove_users([before["address"]]),
    "group": lambda store, before: store.delete_group(before["name"]),
    "attribute": _delete_attribute,
    "folder": lambda store, before: store.delete_folder(before["path"], recursive=False),
    "notification-template": lambda store, before: store.template_records.delete_template(
        before["name"]
    ),
    "definition": lambda store, before: store.delete_definition(
        f"{before['folder']}/{before['description']}"
    ),
    "content-definition": lambda store, before: store.delete_content_definition(before["name"]),
    "policy": lambda store, before: store.delete_policy(before["kind"], before["id"]),
}
