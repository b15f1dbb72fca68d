"""``plan`` and ``apply`` (SPEC §9): the object-level difference between the
store and a configuration file, and making the store equal to the file.

Both sides are compared in one canonical form, the document that ``export``
writes: the file is validated and loaded into a private in-memory store and
exported from there, so a field is "changed" exactly when ``export`` would
write it differently. Objects are matched by their natural key (domain name,
group name, address, folder path, definition path, content definition name)
and policies by id; a policy without an id in the file is matched to the
store's policy of the same kind and narrative when there is exactly one, so
that it keeps its id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from secmsg_cli.config import (
    Config,
    export_document,
    import_config,
)
from secmsg_cli.model import BUILTIN_FOLDER, EVERYONE

__all__ = ["Change", "Plan", "apply_plan", "make_plan"]

# Sections in the order they are created/updated; deletions run in reverse.
SECTIONS = (
    "domains",
    "groups",
    "attributes",
    "folders",
    "definitions",
    "content_definitions",
    "policies",
)
KIND_OF = {
    "domains": "domain",
    "groups": "group",
    "attributes": "attribute",
    "folders": "folder",
    "definitions": "definition",
    "content_definitions": "content-definition",
    "policies": "policy",
}


def _key(section: str, entry: Mapping[str, Any]) -> str:
    if section == "domains":
        return entry["name"]
    if section == "groups":
        return entry["name"].lower()
    if section == "attributes":
        return entry["address"]
    if section == "folders":
        return entry["path"].lower()
    if section == "definitions":
        return f"{entry['folder']}/{entry['description']}".lower()
    if section == "content_definitions":
        return entry["name"].lower()
    return str(entry["id"])


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
    memory = Store(":memory:")  # type: ignore[arg-type]
    try:
        import_config(memory, cfg)
        return export_document(memory)
    finally:
        memory.close()


def _default_folder(doc: Mapping[str, Any]) -> dict[str, Any]:
    for f in doc.get("folders", []):
        if f["path"].lower() == BUILTIN_FOLDER.lower():
            return dict(f)
    return {"path": BUILTIN_FOLDER, "publish_to": [EVERYONE]}


def make_plan(store, cfg: Config, *, prune: bool = False) -> tuple[Plan, dict[str, Any]]:
    """Compare the store with a validated configuration. Returns the plan and
    the desired document (what the store will export after ``apply``)."""
    current = export_document(store)
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
                if before.get(k) != entry.get(k)
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


def apply_plan(store, plan: Plan, *, source: str = "<config>") -> dict[str, int]:
    """Carry out a plan in one transaction (all or nothing). Policies to delete
    go first (out of the way of what they reference), then creations and
    updates in dependency order, then the other deletions, dependants first."""
    order = {KIND_OF[s]: i for i, s in enumerate(SECTIONS)}
    account = next((c for c in plan.changes if c.kind == "account"), None)
    # Switching to the lite edition must wait until custom definitions are gone.
    to_lite = account is not None and account.after["edition"] == "lite"
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
            store.set_account(account.after)
        for c in deletes:
            if c.kind == "policy":
                _delete(store, c)
        for c in writes:
            _create_or_update(store, c)
        for c in deletes:
            if c.kind != "policy":
                _delete(store, c)
        if to_lite:
            store.set_account(account.after)
        store.audit("apply", "config", source, None, counts)
    return counts


def _create_or_update(store, c: Change) -> None:
    after = c.after
    assert after is not None
    if c.kind == "domain":
        if c.action == "create":
            store.add_domain(after["name"], after["type"])
        else:
            store.update_domain(after["name"], after["type"])
    elif c.kind == "group":
        if c.action == "create":
            store.create_group(after["name"], after["members"])
        else:
            if c.before["name"] != after["name"]:  # the same group (names ignore case), respelt
                _respell_group(store, c.before["name"], after["name"])
            before = set(c.before["members"])
            wanted = set(after["members"])
            if wanted - before:
                store.add_group_members(after["name"], sorted(wanted - before))
            if before - wanted:
                store.remove_group_members(after["name"], sorted(before - wanted))
    elif c.kind == "attribute":
        before = dict(c.before["values"]) if c.before else {}
        changed = {k: v for k, v in after["values"].items() if before.get(k) != v}
        if changed:
            store.set_attributes(after["address"], changed)
        wanted = {name.lower() for name in after["values"]}
        for name in before:
            if name.lower() not in wanted:  # names ignore case: "department" is still Department
                store.unset_attribute(after["address"], name)
    elif c.kind == "folder":
        publish = after.get("publish_to")
        if c.action == "create":
            store.create_folder(after["path"], publish)
        else:
            if c.before["path"] != after["path"]:  # the same folder (paths ignore case), respelt
                store.rename_folder(c.before["path"], after["path"].rpartition("/")[2])
            store.set_folder_publish(after["path"], publish)
    elif c.kind == "definition":
        settings = {k: v for k, v in after.items() if k not in ("folder", "description")}
        if c.action == "create":
            store.create_definition(after["folder"], after["description"], **settings)
        else:
            changed = {k: after.get(k) for k in c.fields}
            store.update_definition(f"{after['folder']}/{after['description']}", **changed)
    elif c.kind == "content-definition":
        if c.action == "create":
            store.create_content_definition(after)
        else:
            store.update_content_definition(after["name"], {k: after.get(k) for k in c.fields})
    elif c.kind == "policy":
        if c.action == "create":
            store.create_policy(dict(after))
        elif c.before["kind"] != after["kind"]:
            store.delete_policy(c.before["kind"], after["id"])
            store.create_policy(dict(after))
        else:
            raw = {k: v for k, v in after.items() if k != "id"}
            for k in ("start", "end", "option", "definition", "content_definition"):
                raw.setdefault(k, None)
            store.update_policy(after["kind"], after["id"], raw)


def _respell_group(store, old: str, new: str) -> None:
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


def _delete(store, c: Change) -> None:
    before = c.before
    assert before is not None
    if c.kind == "domain":
        store.remove_domain(before["name"])
    elif c.kind == "group":
        store.delete_group(before["name"])
    elif c.kind == "attribute":
        for name in before["values"]:
            store.unset_attribute(before["address"], name)
    elif c.kind == "folder":
        store.delete_folder(before["path"], recursive=False)
    elif c.kind == "definition":
        store.delete_definition(f"{before['folder']}/{before['description']}")
    elif c.kind == "content-definition":
        store.delete_content_definition(before["name"])
    elif c.kind == "policy":
        store.delete_policy(before["kind"], before["id"])
