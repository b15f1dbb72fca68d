"""The Store: one SQLite file, one account.

Reads return the frozen objects of :mod:`secmsg_cli.model`. Every write runs
inside :meth:`Store.transaction` (``BEGIN IMMEDIATE`` ... ``COMMIT``; nested
calls join the outer transaction) and records an audit row, so a command's
writes are all-or-nothing (CONTRIBUTING.md) and all audited (docs/configuration.md).
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secmsg_cli.engine.addresses import AddressError, domain_of, normalise_address, normalise_member
from secmsg_cli.engine.durations import Duration, parse_duration
from secmsg_cli.errors import (
    InvalidInput,
    NoStore,
    NotADatabase,
    NotFound,
    Refused,
    StoreError,
    did_you_mean,
)
from secmsg_cli.model import (
    ACCOUNT_FIELDS,
    BUILTIN_FOLDER,
    DEFINITION_SETTINGS,
    DOMAIN_TYPES,
    EVERYONE,
    Account,
    ContentDefinition,
    Definition,
    Domain,
    Folder,
    Group,
    Policy,
    as_id,
    check_account_field,
    check_attribute_name,
    check_attribute_value,
    check_choice,
    check_description,
    check_folder_name,
    check_folder_path,
    check_group_name,
    split_definition_path,
)
from secmsg_cli.store import SCHEMA_VERSION
from secmsg_cli.store._sql import chunks, rowid
from secmsg_cli.store.policies import PolicyRecords
from secmsg_cli.store.portal import CopyFilter, PortalCopy, PortalRecords, utc
from secmsg_cli.store.templates import TemplateRecords
from secmsg_cli.validate import check_definition_field, check_domain

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from secmsg_cli.engine.snapshot import Snapshot

BUSY_TIMEOUT_MS = 60_000


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _version_and_tables(conn: sqlite3.Connection) -> tuple[int, set[str]]:
    """The schema version and the tables, read in one read transaction: read
    apart, an 'init' committing in another process between the two reads
    would make a fresh store look like another application's SQLite file."""
    conn.execute("BEGIN")
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0], _tables(conn)
    finally:
        conn.execute("COMMIT")


def _address(value: str) -> str:
    try:
        return normalise_address(value)
    except AddressError as exc:
        raise InvalidInput(str(exc)) from None


def _member(value: str) -> str:
    try:
        return normalise_member(value)
    except AddressError as exc:
        raise InvalidInput(str(exc)) from None


def _actor() -> str:
    actor = os.environ.get("SECMSG_ACTOR")
    if actor:
        return actor
    try:
        import getpass

        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _jsonable(obj: Any) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Duration):
        return str(obj)
    if hasattr(obj, "__dataclass_fields__"):
        # field by field, not asdict(): that would turn a Duration into {amount, unit}
        obj = {name: getattr(obj, name) for name in obj.__dataclass_fields__}
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Duration):
        return str(obj)
    return obj


def _definition_row(row: sqlite3.Row, folder_path: str) -> Definition:
    return Definition(
        id=row["id"],
        folder=folder_path,
        description=row["description"],
        allow_print=bool(row["allow_print"]),
        allow_reply=bool(row["allow_reply"]),
        allow_reply_all=bool(row["allow_reply_all"]),
        expire_after=parse_duration(row["expire_after"]),
        max_extension=parse_duration(row["max_extension"], allow_never=False),
        read_receipt=bool(row["read_receipt"]),
        banner=row["banner"],
        routing=row["routing"],
        builtin=bool(row["builtin"]),
        notification_template=row["template"],
    )


# a definition's row with its notification template's name
_DEFINITIONS = (
    "SELECT d.*, t.name AS template FROM definitions d "
    "LEFT JOIN notification_templates t ON t.id = d.notification_template_id"
)


class Store:
    """An open secmsg store. Use :func:`open_store` or as a context manager.

    The Store keeps the connection, the transactions, the audit log and the
    directory; its two parts keep the rest, through it:
    :attr:`policy_records` (policies, content definitions) and
    :attr:`portal_records` (portal copies, deliveries, users)."""

    def __init__(self, path: str | Path, *, create: bool = False) -> None:
        """Open the store at ``path``; with ``create``, make it (and its
        folders) when there is none. Without, a missing path, an empty file
        or an empty SQLite file is :class:`NoStore` and nothing is created."""
        self.path = Path(path)
        self._depth = 0
        self.conn = self._connect(create)
        self._migrate()
        self.policy_records = PolicyRecords(self)
        self.portal_records = PortalRecords(self)
        self.template_records = TemplateRecords(self)

    # --- connection, schema, transactions -----------------------------------

    def _connect(self, create: bool) -> sqlite3.Connection:
        path = self.path
        memory = (
            str(path) == ":memory:"
        )  # a private, temporary store (config files checked or tested in memory)
        conn = None
        try:
            if not memory:
                self._prepare_file(create)
            conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA foreign_keys = ON")
            version, tables = (0, set()) if memory else _version_and_tables(conn)
            if not memory and version == 0:
                # Before anything is written to it (journal mode included).
                if tables - {"_sqlite_migrations"}:
                    conn.close()
                    raise StoreError(
                        f"cannot open store {path}: it is an SQLite file but not a secmsg store"
                    )
                if not create:
                    conn.close()
                    raise NoStore(path)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                conn.execute("PRAGMA journal_mode = DELETE")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            if "file is not a database" in str(exc):  # SQLite read its header: not its own
                raise NotADatabase(path) from None
            raise StoreError(f"cannot open store {path}: {exc}") from None
        except OSError as exc:
            raise StoreError(f"cannot open store {path}: {exc.strerror or exc}") from None
        return conn

    def _prepare_file(self, create: bool) -> None:
        """Refuse what is not a store file before SQLite opens it (SQLite
        would create a missing file, and wait on a FIFO); with ``create``,
        make a missing one, private (0600) from the start."""
        path = self.path
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            if not create:
                raise NoStore(path) from None
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            except OSError as exc:
                raise StoreError(f"cannot create store {path}: {exc.strerror or exc}") from None
            return
        if stat.S_ISDIR(st.st_mode):
            raise StoreError(f"cannot open store {path}: it is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise StoreError(f"cannot open store {path}: it is not a regular file")
        if st.st_size == 0:
            if not create:
                raise NoStore(path)  # what a crashed or concurrent first 'init' leaves
            return
        # The file's header is left to SQLite (see _connect): reading it through
        # a handle of our own would, on closing that handle, drop every POSIX
        # lock this process holds on the file, those of a Store still open too,
        # and another process could then checkpoint the WAL under its feet.

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        try:
            version = self.schema_version
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from None
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"store {self.path} has schema version {version}, newer than this secmsg "
                f"supports ({SCHEMA_VERSION}); upgrade secmsg to use it"
            )
        if version == SCHEMA_VERSION:
            return
        with self.transaction():
            version = self.schema_version  # another process may have migrated meanwhile
            if version == SCHEMA_VERSION:
                return
            if version == 0 and _tables(self.conn) - {"_sqlite_migrations"}:
                raise StoreError(
                    f"cannot open store {self.path}: it is an SQLite file but not a secmsg store"
                )
            from sqlite_utils import Database

            from secmsg_cli.store import migrations

            migrations.apply(Database(self.conn))

    def close(self) -> None:
        self.conn.close()

    def backup(self, target: Path) -> None:
        """Copy the store to ``target`` with SQLite's online backup (consistent
        while other processes write); the copy is private (0600)."""
        target = Path(target)
        if target.exists():
            raise Refused(f"{target} already exists; choose a new file")
        try:
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            dest = sqlite3.connect(target)
        except OSError as exc:
            raise StoreError(f"cannot create {target}: {exc.strerror or exc}") from None
        try:
            self.conn.backup(dest)
        except sqlite3.DatabaseError as exc:
            dest.close()
            target.unlink(missing_ok=True)
            raise StoreError(f"cannot back up to {target}: {exc}") from None
        dest.close()

    def check(self) -> list[str]:
        """Problems found by SQLite's integrity_check and foreign_key_check
        (empty when the store is sound)."""
        problems = [r[0] for r in self._q("PRAGMA integrity_check") if r[0] != "ok"]
        for r in self._q("PRAGMA foreign_key_check"):
            problems.append(
                f"foreign key: row {r[1]} of table {r[0]} refers to a missing row of {r[2]}"
            )
        return problems

    def snapshot(self, addresses: Iterable[str] | None = None) -> Snapshot:
        """The whole configuration, read in one consistent read transaction and
        compiled for the engine (:class:`secmsg_cli.engine.snapshot.Snapshot`).

        With ``addresses`` (normalised), a snapshot for deciding messages
        between those addresses only: their own directory entries (groups
        they are in, directly or by @domain; their attributes) and the
        policies whose targets can match them (from and to keys among the
        addresses' keys), with the content definitions those use. For those
        addresses it decides exactly as the whole one (a test compares them);
        on a large store it loads a fraction. Not for explaining or coverage,
        which list every policy."""
        if self._depth:
            return _snapshot_of(self, addresses)
        self.conn.execute("BEGIN")
        try:
            return _snapshot_of(self, addresses)
        finally:
            self.conn.execute("COMMIT")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """One write transaction; nested uses join the outermost one."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write to store {self.path}: {exc}") from None
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        else:
            self._depth = 0
            try:
                self.conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise StoreError(f"cannot write to store {self.path}: {exc}") from None

    def _q(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, tuple(params)).fetchall()

    def _x(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        if not self._depth:
            raise RuntimeError("write outside a transaction")
        return self.conn.execute(sql, tuple(params))

    def audit(
        self, action: str, kind: str, obj: object, before: Any = None, after: Any = None
    ) -> None:
        """Record one write in the audit log (inside the current transaction)."""
        self._x(
            "INSERT INTO audit (at, actor, action, kind, object, before, after) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                datetime.now(UTC).isoformat(timespec="seconds"),
                _actor(),
                action,
                kind,
                None if obj is None else str(obj),
                None
                if before is None
                else json.dumps(_jsonable(before), ensure_ascii=False, sort_keys=True),
                None
                if after is None
                else json.dumps(_jsonable(after), ensure_ascii=False, sort_keys=True),
            ),
        )

    def audit_log(
        self,
        limit: int | None = None,
        *,
        actors: Sequence[str] = (),
        actions: Sequence[str] = (),
        kinds: Sequence[str] = (),
        objects: Sequence[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Audit entries, newest first, at most ``limit``. Each filter given
        keeps the entries that match one of its values (actor exactly; action,
        kind and object without regard to case); ``since`` is inclusive and
        ``until`` exclusive (aware times)."""
        where: list[str] = []
        params: list[Any] = []
        for column, values, collate in (
            ("actor", actors, ""),
            ("action", actions, " COLLATE NOCASE"),
            ("kind", kinds, " COLLATE NOCASE"),
            ("object", objects, " COLLATE NOCASE"),
        ):
            if values:
                where.append(f"{column}{collate} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        # times are stored as UTC ISO text of one form, so text order is time order
        if since is not None:
            where.append("at >= ?")
            params.append(utc(since))
        if until is not None:
            where.append("at < ?")
            params.append(utc(until))
        sql = "SELECT * FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = []
        for r in self._q(sql, params):
            row = dict(r)
            row["before"] = json.loads(row["before"]) if row["before"] else None
            row["after"] = json.loads(row["after"]) if row["after"] else None
            rows.append(row)
        return rows

    def counts(self) -> dict[str, int]:
        """Object counts for ``db status`` (configuration, portal, audit)."""

        def one(sql: str) -> int:
            return int(self._q(sql)[0][0])

        return {
            "domains": one("SELECT count(*) FROM domains"),
            "groups": one("SELECT count(*) FROM groups"),
            "group_members": one("SELECT count(*) FROM group_members"),
            "attributes": one("SELECT count(*) FROM attributes"),
            "folders": one("SELECT count(*) FROM folders"),
            "definitions": one("SELECT count(*) FROM definitions"),
            "content_definitions": one("SELECT count(*) FROM content_definitions"),
            "policies": one("SELECT count(*) FROM policies"),
            "portal_messages": one("SELECT count(*) FROM portal_messages"),
            "portal_copies": one("SELECT count(*) FROM portal_copies"),
            "users": one("SELECT count(*) FROM users"),
            "audit_entries": one("SELECT count(*) FROM audit"),
        }

    def is_empty(self) -> bool:
        """True when the store is as created: default account settings, the
        built-ins unchanged, nothing else (so an import overwrites nothing)."""
        if self.account() != Account():
            return False
        default = self.folder(BUILTIN_FOLDER)
        if default.publish_to != (EVERYONE,):
            return False
        c = self.counts()
        builtin_folders = self._q("SELECT count(*) FROM folders WHERE id = 1")[0][0]
        builtin_defs = self._q("SELECT count(*) FROM definitions WHERE builtin = 1")[0][0]
        templates = int(self._q("SELECT count(*) FROM notification_templates")[0][0])
        return (
            c["domains"]
            == c["users"]
            == c["groups"]
            == templates
            == c["attributes"]
            == c["content_definitions"]
            == c["policies"]
            == 0
            and c["folders"] == builtin_folders
            and c["definitions"] == builtin_defs
        )

    # --- account ------------------------------------------------------------

    def account(self) -> Account:
        row = self._q("SELECT * FROM account WHERE id = 1")[0]
        return Account(
            name=row["name"],
            edition=row["edition"],
            max_retention_days=row["max_retention_days"],
            timezone=row["timezone"],
            portal_url=row["portal_url"],
            bypass_scope=row["bypass_scope"],
            expired_view=bool(row["expired_view"]),
        )

    def account_tz(self) -> ZoneInfo:
        """The account's time zone (times a user gives or is shown are in it)."""
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.account().timezone)

    def set_account(self, changes: Mapping[str, object]) -> Account:
        """Validate and apply account settings; returns the new account."""
        before = self.account()
        values: dict[str, Any] = {
            name: check_account_field(name, value) for name, value in changes.items()
        }
        after = replace(before, **values)
        if after == before:
            return before
        with self.transaction():
            if after.edition == "lite" and before.edition != "lite":
                custom = self._q("SELECT count(*) FROM definitions WHERE builtin = 0")[0][0]
                if custom:
                    raise Refused(
                        f"cannot switch the account to the lite edition: it has {custom} custom "
                        "definition(s); the lite edition allows only the built-in definitions"
                    )
            cols = ", ".join(f"{name} = ?" for name in ACCOUNT_FIELDS)
            self._x(
                f"UPDATE account SET {cols} WHERE id = 1",
                [getattr(after, n) for n in ACCOUNT_FIELDS],
            )
            self.audit("update", "account", "account", before, after)
        return after

    # --- domains ------------------------------------------------------------

    def domains(self) -> list[Domain]:
        return [
            Domain(r["name"], r["type"]) for r in self._q("SELECT * FROM domains ORDER BY name")
        ]

    def add_domain(self, name: str, type: str = "local") -> Domain:
        domain = Domain(check_domain(name), check_choice(type, DOMAIN_TYPES, "domain type"))
        with self.transaction():
            if self._q("SELECT 1 FROM domains WHERE name = ?", [domain.name]):
                raise Refused(f"domain {domain.name} is already an internal domain")
            self._x("INSERT INTO domains (name, type) VALUES (?, ?)", [domain.name, domain.type])
            self.audit("create", "domain", domain.name, None, domain)
        return domain

    def update_domain(self, name: str, type: str) -> Domain:
        canonical = check_domain(name)
        dtype = check_choice(type, DOMAIN_TYPES, "domain type")
        with self.transaction():
            rows = self._q("SELECT * FROM domains WHERE name = ?", [canonical])
            if not rows:
                raise NotFound(f"domain {canonical} is not an internal domain")
            before = Domain(rows[0]["name"], rows[0]["type"])
            self._x("UPDATE domains SET type = ? WHERE name = ?", [dtype, canonical])
            after = Domain(canonical, dtype)
            if after != before:
                self.audit("update", "domain", canonical, before, after)
        return after

    def remove_domain(self, name: str) -> Domain:
        canonical = check_domain(name)
        with self.transaction():
            rows = self._q("SELECT * FROM domains WHERE name = ?", [canonical])
            if not rows:
                raise NotFound(f"domain {canonical} is not an internal domain")
            domain = Domain(rows[0]["name"], rows[0]["type"])
            # users are internal addresses: one left outside the domains could
            # be exported but never imported again
            held = [u["address"] for u in self.users() if domain_of(u["address"]) == canonical]
            if held:
                raise Refused(
                    f"domain {canonical} has {len(held)} user(s) in the directory "
                    f"({', '.join(held[:3])}{', ...' if len(held) > 3 else ''}): "
                    "remove them first with 'secmsg user remove'"
                )
            self._x("DELETE FROM domains WHERE name = ?", [canonical])
            self.audit("delete", "domain", canonical, domain, None)
        return domain

    # --- groups -------------------------------------------------------------

    def groups(self) -> list[Group]:
        members: dict[int, list[str]] = {}
        for r in self._q("SELECT group_id, member FROM group_members ORDER BY member"):
            members.setdefault(r["group_id"], []).append(r["member"])
        return [
            Group(r["id"], r["name"], tuple(members.get(r["id"], ())))
            for r in self._q("SELECT id, name FROM groups ORDER BY name COLLATE NOCASE")
        ]

    def _groups_with_members(self, members: list[str]) -> list[Group]:
        """The groups with any of ``members`` (normalised), each with only
        those of its members (for a snapshot of a few addresses)."""
        found: dict[int, tuple[str, list[str]]] = {}
        for chunk in chunks(members):
            marks = ", ".join("?" * len(chunk))
            for gid, name, member in self._q(
                f"SELECT g.id, g.name, m.member FROM group_members m JOIN groups g ON g.id = m.group_id "
                f"WHERE m.member IN ({marks})",
                chunk,
            ):
                found.setdefault(gid, (name, []))[1].append(member)
        return [Group(gid, name, tuple(sorted(ms))) for gid, (name, ms) in sorted(found.items())]

    def group(self, ref: str | int) -> Group:
        """A group by id or name (case-insensitive)."""
        text = str(ref).strip()
        # an int is an id (internal calls); text is a name first, then an id
        rows = (
            []
            if isinstance(ref, int)
            else self._q("SELECT id, name FROM groups WHERE name = ?", [text])
        )
        if not rows and (gid := as_id(ref)) is not None:
            rows = self._q("SELECT id, name FROM groups WHERE id = ?", [gid])
        if not rows:
            names = [r["name"] for r in self._q("SELECT name FROM groups")]
            raise NotFound(f"group {text!r} not found{did_you_mean(text, names)}")
        gid = rows[0]["id"]
        members = tuple(
            r[0]
            for r in self._q(
                "SELECT member FROM group_members WHERE group_id = ? ORDER BY member", [gid]
            )
        )
        return Group(gid, rows[0]["name"], members)

    def create_group(self, name: str, members: Iterable[str] = ()) -> Group:
        name = check_group_name(name)
        normalised = sorted({_member(m) for m in members})
        with self.transaction():
            if self._q("SELECT 1 FROM groups WHERE name = ?", [name]):
                raise Refused(f"group {name!r} already exists")
            gid = rowid(self._x("INSERT INTO groups (name) VALUES (?)", [name]))
            self.conn.executemany(
                "INSERT INTO group_members (group_id, member) VALUES (?, ?)",
                [(gid, m) for m in normalised],
            )
            group = Group(gid, name, tuple(normalised))
            self.audit("create", "group", name, None, group)
        return group

    def group_users(self, group: Group) -> list[str]:
        """Objects that reference ``group`` (they block its deletion)."""
        users = [
            f"folder {self._folder_paths()[r[0]]!r} (publish_to)"
            for r in self._q(
                "SELECT folder_id FROM folder_publish_groups WHERE group_id = ?", [group.id]
            )
        ]
        return users + self.policy_records.policy_users_of_group(group.name)

    def delete_group(self, ref: str | int) -> Group:
        with self.transaction():
            group = self.group(ref)
            users = self.group_users(group)
            if users:
                raise Refused(f"group {group.name!r} is in use by {', '.join(users)}")
            self._x("DELETE FROM groups WHERE id = ?", [group.id])
            self.audit("delete", "group", group.name, group, None)
        return group

    def add_group_members(self, ref: str | int, members: Iterable[str]) -> Group:
        normalised = sorted({_member(m) for m in members})
        with self.transaction():
            before = self.group(ref)
            already = [m for m in normalised if m in before.members]
            if already and len(already) == len(normalised):
                raise Refused(f"{', '.join(already)} already in group {before.name!r}")
            self.conn.executemany(
                "INSERT OR IGNORE INTO group_members (group_id, member) VALUES (?, ?)",
                [(before.id, m) for m in normalised],
            )
            after = self.group(before.id)
            self.audit("update", "group", before.name, before, after)
        return after

    def remove_group_members(self, ref: str | int, members: Iterable[str]) -> Group:
        normalised = sorted({_member(m) for m in members})
        with self.transaction():
            before = self.group(ref)
            missing = [m for m in normalised if m not in before.members]
            if missing:
                raise NotFound(f"{', '.join(missing)} not a member of group {before.name!r}")
            self.conn.executemany(
                "DELETE FROM group_members WHERE group_id = ? AND member = ?",
                [(before.id, m) for m in normalised],
            )
            after = self.group(before.id)
            self.audit("update", "group", before.name, before, after)
        return after

    # --- attributes ---------------------------------------------------------

    def attributes(
        self, address: str | None = None, name: str | None = None
    ) -> list[dict[str, str]]:
        sql, params = "SELECT address, name, value FROM attributes WHERE 1", []
        if address:
            sql += " AND address = ?"
            params.append(_address(address))
        if name:
            sql += " AND name = ?"
            params.append(name.strip())
        sql += " ORDER BY address, name COLLATE NOCASE"
        return [dict(r) for r in self._q(sql, params)]

    def _attributes_of(self, addresses: list[str]) -> list[tuple[str, str, str]]:
        """(address, name, value) of ``addresses`` (normalised) only."""
        out: list[tuple[str, str, str]] = []
        for chunk in chunks(addresses):
            marks = ", ".join("?" * len(chunk))
            out += [
                tuple(r)
                for r in self._q(
                    f"SELECT address, name, value FROM attributes WHERE address IN ({marks})", chunk
                )
            ]
        return out

    def set_attributes(self, address: str, values: Mapping[str, str]) -> dict[str, str]:
        addr = _address(address)
        if not values:
            raise InvalidInput("no attribute given: expected Name=value")
        checked: dict[str, str] = {}
        for name, value in values.items():
            canonical = self._attribute_name(check_attribute_name(name))
            if canonical.lower() in (n.lower() for n in checked):  # names are case-insensitive
                raise InvalidInput(
                    f"attribute {name.strip()!r} of {addr} is given twice (names ignore case)"
                )
            checked[canonical] = check_attribute_value(value)
        with self.transaction():
            before = {r["name"]: r["value"] for r in self.attributes(addr)}
            for name, value in checked.items():
                self._x(
                    "INSERT INTO attributes (address, name, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (address, name) DO UPDATE SET value = excluded.value",
                    [addr, name, value],
                )
            after = {r["name"]: r["value"] for r in self.attributes(addr)}
            self.audit("set", "attribute", addr, before, after)
        return after

    def _attribute_name(self, name: str) -> str:
        """Attribute names are case-insensitive; keep the spelling already in use."""
        rows = self._q("SELECT name FROM attributes WHERE name = ? LIMIT 1", [name])
        return rows[0][0] if rows else name

    def unset_attribute(self, address: str, name: str) -> None:
        addr = _address(address)
        with self.transaction():
            rows = self._q(
                "SELECT name, value FROM attributes WHERE address = ? AND name = ?",
                [addr, name.strip()],
            )
            if not rows:
                raise NotFound(f"{addr} has no attribute {name.strip()!r}")
            self._x("DELETE FROM attributes WHERE address = ? AND name = ?", [addr, name.strip()])
            self.audit("unset", "attribute", addr, {rows[0]["name"]: rows[0]["value"]}, None)

    # --- folders ------------------------------------------------------------

    def _folder_rows(self) -> dict[int, sqlite3.Row]:
        return {r["id"]: r for r in self._q("SELECT * FROM folders")}

    def _folder_paths(self, rows: Mapping[int, sqlite3.Row] | None = None) -> dict[int, str]:
        rows = rows if rows is not None else self._folder_rows()
        paths: dict[int, str] = {}

        def path_of(fid: int, depth: int = 0) -> str:
            if fid in paths:
                return paths[fid]
            if depth > 1000:
                raise StoreError("folder tree has a cycle; the store is damaged")
            row = rows[fid]
            parent = row["parent_id"]
            paths[fid] = (
                row["name"] if parent is None else f"{path_of(parent, depth + 1)}/{row['name']}"
            )
            return paths[fid]

        for fid in rows:
            path_of(fid)
        return paths

    def folders(self) -> list[Folder]:
        """Every folder, sorted by path, with its effective publish list."""
        rows = self._folder_rows()
        paths = self._folder_paths(rows)
        groups_of: dict[int, list[str]] = {}
        for r in self._q(
            "SELECT p.folder_id, g.name FROM folder_publish_groups p JOIN groups g ON g.id = p.group_id "
            "ORDER BY g.name COLLATE NOCASE"
        ):
            groups_of.setdefault(r[0], []).append(r[1])
        own: dict[int, tuple[str, ...] | None] = {}
        for fid, row in rows.items():
            if row["publish_own"]:
                own[fid] = ((EVERYONE,) if row["publish_everyone"] else ()) + tuple(
                    groups_of.get(fid, ())
                )
            else:
                own[fid] = None

        def effective(fid: int | None) -> tuple[str, ...]:
            while fid is not None:
                if (mine := own[fid]) is not None:
                    return mine
                fid = rows[fid]["parent_id"]
            return ()

        folders = [
            Folder(fid, paths[fid], rows[fid]["parent_id"], own[fid], effective(fid))
            for fid in rows
        ]
        return sorted(folders, key=lambda f: [p.lower() for p in f.path.split("/")])

    def folder(self, ref: str | int) -> Folder:
        """A folder by path (case-insensitive) or id; a path wins, so a folder
        named ``2`` is never mistaken for the folder with id 2 (as for groups)."""
        folders = self.folders()
        text = str(ref).strip()
        if not isinstance(ref, int):
            path = check_folder_path(text).lower()
            for f in folders:
                if f.path.lower() == path:
                    return f
        if (fid := as_id(ref)) is not None:
            for f in folders:
                if f.id == fid:
                    return f
        raise NotFound(f"folder {text!r} not found{did_you_mean(text, [f.path for f in folders])}")

    def _folder_id_for_path(self, path: str) -> int | None:
        path = path.lower()
        for fid, p in self._folder_paths().items():
            if p.lower() == path:
                return fid
        return None

    def _publish_rows(self, publish_to: Iterable[str] | None) -> tuple[int, int, list[int]]:
        """(publish_own, publish_everyone, group ids) for a publish list."""
        if publish_to is None:
            return 0, 0, []
        everyone, gids = 0, []
        for target in publish_to:
            if str(target).strip().lower() == EVERYONE:
                everyone = 1
            else:
                gid = self.group(target).id
                if gid not in gids:
                    gids.append(gid)
        return 1, everyone, gids

    def _write_publish(self, fid: int, publish_to: Iterable[str] | None) -> None:
        own, everyone, gids = self._publish_rows(publish_to)
        self._x(
            "UPDATE folders SET publish_own = ?, publish_everyone = ? WHERE id = ?",
            [own, everyone, fid],
        )
        self._x("DELETE FROM folder_publish_groups WHERE folder_id = ?", [fid])
        self.conn.executemany(
            "INSERT INTO folder_publish_groups (folder_id, group_id) VALUES (?, ?)",
            [(fid, g) for g in gids],
        )

    def create_folder(
        self, path: str, publish_to: Iterable[str] | None = None, *, parents: bool = False
    ) -> Folder:
        path = check_folder_path(path)
        publish = None if publish_to is None else list(publish_to)
        with self.transaction():
            if self._folder_id_for_path(path) is not None:
                raise Refused(f"folder {path!r} already exists")
            parent_id: int | None = None
            levels = path.split("/")
            for depth, name in enumerate(levels):
                sub = "/".join(levels[: depth + 1])
                fid = self._folder_id_for_path(sub)
                if fid is None:
                    if depth < len(levels) - 1 and not parents:
                        raise NotFound(
                            f"parent folder {sub!r} does not exist (create it first, or use --parents)"
                        )
                    fid = rowid(
                        self._x(
                            "INSERT INTO folders (parent_id, name) VALUES (?, ?)", [parent_id, name]
                        )
                    )
                    if depth == len(levels) - 1:
                        self._write_publish(fid, publish)
                    self.audit("create", "folder", sub, None, self.folder(fid))
                parent_id = fid
            assert parent_id is not None  # a checked path has at least one level
            return self.folder(parent_id)

    def _builtin_inside(self, folder: Folder) -> bool:
        ids = self._subtree_ids(folder.id)
        marks = ",".join("?" * len(ids))
        return bool(
            self._q(f"SELECT 1 FROM definitions WHERE builtin = 1 AND folder_id IN ({marks})", ids)
        )

    def _subtree_ids(self, fid: int) -> list[int]:
        rows = self._q(
            "WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL SELECT f.id FROM folders f JOIN sub ON f.parent_id = sub.id) "
            "SELECT id FROM sub",
            [fid],
        )
        return [r[0] for r in rows]

    def rename_folder(self, ref: str | int, new_name: str) -> Folder:
        new_name = check_folder_name(new_name)
        with self.transaction():
            before = self.folder(ref)
            if self._builtin_inside(before):
                raise Refused(
                    f"folder {before.path!r} holds built-in definitions; it cannot be renamed"
                )
            parent = before.path.rpartition("/")[0]
            target = f"{parent}/{new_name}" if parent else new_name
            other = self._folder_id_for_path(target)
            if other is not None and other != before.id:
                raise Refused(f"folder {target!r} already exists")
            self._x("UPDATE folders SET name = ? WHERE id = ?", [new_name, before.id])
            after = self.folder(before.id)
            self.audit("rename", "folder", before.path, before, after)
        return after

    def move_folder(self, ref: str | int, new_parent: str | None) -> Folder:
        """Move a folder under ``new_parent`` (``None`` or ``/`` = the root)."""
        with self.transaction():
            before = self.folder(ref)
            if self._builtin_inside(before):
                raise Refused(
                    f"folder {before.path!r} holds built-in definitions; it cannot be moved"
                )
            if new_parent is None or new_parent.strip() in ("", "/"):
                parent_id, parent_path = None, ""
            else:
                parent = self.folder(new_parent)
                parent_id, parent_path = parent.id, parent.path
                if parent.id in self._subtree_ids(before.id):
                    raise Refused(
                        f"cannot move folder {before.path!r} into itself or its own subfolder {parent.path!r}"
                    )
            target = f"{parent_path}/{before.name}" if parent_path else before.name
            other = self._folder_id_for_path(target)
            if other is not None and other != before.id:
                raise Refused(f"folder {target!r} already exists")
            self._x("UPDATE folders SET parent_id = ? WHERE id = ?", [parent_id, before.id])
            after = self.folder(before.id)
            self.audit("move", "folder", before.path, before, after)
        return after

    def definition_users(self, definition_ids: Iterable[int]) -> list[str]:
        """Policies and content definitions that reference any of these
        definitions (they block deletion of the definitions and their folders)."""
        return self.policy_records.policy_users_of_definitions(definition_ids)

    def delete_folder(self, ref: str | int, *, recursive: bool = False) -> Folder:
        with self.transaction():
            folder = self.folder(ref)
            if self._builtin_inside(folder):
                raise Refused(
                    f"folder {folder.path!r} holds built-in definitions; it cannot be deleted"
                )
            ids = self._subtree_ids(folder.id)
            marks = ",".join("?" * len(ids))
            defs = self._q(f"SELECT id FROM definitions WHERE folder_id IN ({marks})", ids)
            subfolders = len(ids) - 1
            if (defs or subfolders) and not recursive:
                raise Refused(
                    f"folder {folder.path!r} holds {len(defs)} definition(s) and {subfolders} subfolder(s); "
                    "use --recursive to delete them too"
                )
            users = self.definition_users([r[0] for r in defs])
            if users:
                raise Refused(
                    f"folder {folder.path!r} holds definitions in use by {', '.join(users)}"
                )
            for d in self._q(
                f"SELECT id FROM definitions WHERE folder_id IN ({marks}) ORDER BY id", ids
            ):
                self._delete_definition_row(self.definition(d[0]))
            for fid in reversed(ids):  # children before parents
                sub = self.folder(fid)
                self._x("DELETE FROM folders WHERE id = ?", [fid])
                self.audit("delete", "folder", sub.path, sub, None)
        return folder

    def set_folder_publish(self, ref: str | int, publish_to: Iterable[str] | None) -> Folder:
        """Set a folder's own publish list exactly (``None`` = inherit the parent's)."""
        with self.transaction():
            before = self.folder(ref)
            self._write_publish(before.id, None if publish_to is None else list(publish_to))
            after = self.folder(before.id)
            if after != before:
                self.audit("publish", "folder", before.path, before, after)
        return after

    def publish_folder(self, ref: str | int, targets: Iterable[str]) -> Folder:
        """Add ``everyone`` or groups to a folder's own publish list."""
        targets = list(targets)
        if not targets:
            raise InvalidInput("nothing to publish to: expected 'everyone' or group names")
        with self.transaction():
            before = self.folder(ref)
            current = list(before.publish_to or ())
            for t in targets:
                name = EVERYONE if t.strip().lower() == EVERYONE else self.group(t).name
                if name not in current:
                    current.append(name)
            self._write_publish(before.id, current)
            after = self.folder(before.id)
            self.audit("publish", "folder", before.path, before, after)
        return after

    def unpublish_folder(
        self, ref: str | int, targets: Iterable[str] = (), *, inherit: bool = False
    ) -> Folder:
        """Remove targets from a folder's own list; no targets = publish to nobody;
        ``inherit`` = drop the folder's own list and inherit its parent's."""
        targets = list(targets)
        with self.transaction():
            before = self.folder(ref)
            if inherit:
                if targets:
                    raise InvalidInput("--inherit takes no targets")
                new: list[str] | None = None
            elif not targets:
                new = []
            else:
                current = list(
                    before.publish_to
                    if before.publish_to is not None
                    else before.effective_publish_to
                )
                new = current[:]
                for t in targets:
                    name = EVERYONE if t.strip().lower() == EVERYONE else self.group(t).name
                    if name not in new:
                        raise NotFound(f"folder {before.path!r} is not published to {name!r}")
                    new.remove(name)
            self._write_publish(before.id, new)
            after = self.folder(before.id)
            self.audit("unpublish", "folder", before.path, before, after)
        return after

    # --- definitions --------------------------------------------------------

    def definitions(self, folder: str | None = None) -> list[Definition]:
        paths = self._folder_paths()
        rows = self._q(_DEFINITIONS)
        defs = [_definition_row(r, paths[r["folder_id"]]) for r in rows]
        if folder is not None:
            f = self.folder(folder)
            defs = [d for d in defs if d.folder == f.path]
        return sorted(
            defs, key=lambda d: ([p.lower() for p in d.folder.split("/")], d.description.lower())
        )

    def definition(self, ref: str | int) -> Definition:
        """A definition by id or path ``Folder/Description`` (case-insensitive)."""
        text = str(ref).strip()
        if (did := as_id(ref)) is not None:
            rows = self._q(f"{_DEFINITIONS} WHERE d.id = ?", [did])
            if rows:
                return _definition_row(rows[0], self._folder_paths()[rows[0]["folder_id"]])
            raise NotFound(f"definition {text} not found")
        folder_path, description = split_definition_path(text)
        fid = self._folder_id_for_path(folder_path)
        rows = (
            self._q(
                f"{_DEFINITIONS} WHERE d.folder_id = ? AND d.description = ?",
                [fid, description],
            )
            if fid is not None
            else []
        )
        if fid is None or not rows:
            paths = [d.path for d in self.definitions()]
            raise NotFound(f"definition {text!r} not found{did_you_mean(text, paths)}")
        return _definition_row(rows[0], self._folder_paths()[fid])

    def _check_editable(self, what: str) -> None:
        if self.account().edition == "lite":
            raise Refused(
                f"cannot {what}: the account's edition is 'lite', which allows only the built-in definitions"
            )

    def _settings(self, values: Mapping[str, object]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in values.items():
            if name not in DEFINITION_SETTINGS:
                raise InvalidInput(
                    f"unknown definition field {name!r}: expected one of {', '.join(DEFINITION_SETTINGS)}"
                )
            out[name] = check_definition_field(name, value)
        return out

    def _definition_values(self, d: Definition) -> list[object]:
        return [
            int(d.allow_print),
            int(d.allow_reply),
            int(d.allow_reply_all),
            str(d.expire_after),
            str(d.max_extension),
            int(d.read_receipt),
            d.banner,
            None
            if d.notification_template is None
            else self.template_records.template_id(d.notification_template),
        ]

    def create_definition(self, folder: str, description: str, **settings: object) -> Definition:
        description = check_description(description)
        values = self._settings(settings)
        with self.transaction():
            self._check_editable("create a definition")
            f = self.folder(folder)
            if self._q(
                "SELECT 1 FROM definitions WHERE folder_id = ? AND description = ?",
                [f.id, description],
            ):
                raise Refused(
                    f"definition {f.path + '/' + description!r} already exists in folder {f.path!r}"
                )
            draft = replace(Definition(0, f.path, description), **values)
            did = rowid(
                self._x(
                    "INSERT INTO definitions (folder_id, description, allow_print, allow_reply, allow_reply_all, "
                    "expire_after, max_extension, read_receipt, banner, notification_template_id, routing, builtin) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'external', 0)",
                    [f.id, description, *self._definition_values(draft)],
                )
            )
            created = self.definition(did)
            self.audit("create", "definition", created.path, None, created)
        return created

    def update_definition(self, ref: str | int, **changes: object) -> Definition:
        """Change settings, ``description`` (rename) or ``folder`` (move)."""
        with self.transaction():
            before = self.definition(ref)
            if before.builtin:
                raise Refused(f"definition {before.path!r} is built-in and read-only")
            self._check_editable("change a definition")
            folder = changes.pop("folder", None)
            description = changes.pop("description", None)
            values = self._settings(changes)
            after = replace(before, **values)
            fid: int = self._q("SELECT folder_id FROM definitions WHERE id = ?", [before.id])[0][0]
            if folder is not None:
                fid = self.folder(folder if isinstance(folder, int) else str(folder)).id
            if description is not None:
                after = replace(after, description=check_description(description))
            clash = self._q(
                "SELECT id FROM definitions WHERE folder_id = ? AND description = ? AND id != ?",
                [fid, after.description, before.id],
            )
            if clash:
                raise Refused(
                    f"definition {self._folder_paths()[fid] + '/' + after.description!r} already exists"
                )
            self._x(
                "UPDATE definitions SET folder_id = ?, description = ?, allow_print = ?, allow_reply = ?, "
                "allow_reply_all = ?, expire_after = ?, max_extension = ?, read_receipt = ?, banner = ?, "
                "notification_template_id = ? WHERE id = ?",
                [fid, after.description, *self._definition_values(after), before.id],
            )
            after = self.definition(before.id)
            if after != before:
                self.audit("update", "definition", before.path, before, after)
        return after

    def _delete_definition_row(self, d: Definition) -> None:
        self._x("DELETE FROM definitions WHERE id = ?", [d.id])
        self.audit("delete", "definition", d.path, d, None)

    def delete_definition(self, ref: str | int) -> Definition:
        with self.transaction():
            d = self.definition(ref)
            if d.builtin:
                raise Refused(f"definition {d.path!r} is built-in and read-only")
            users = self.definition_users([d.id])
            if users:
                raise Refused(f"definition {d.path!r} is in use by {', '.join(users)}")
            self._delete_definition_row(d)
        return d

    # --- the parts' methods that the commands, config and plan call ----------
    # Thin delegates, kept so that those callers need not change with the
    # store's inside; new code may use the parts directly.

    def policies(
        self, kind: str | None = None, *, keys: Collection[tuple[str, ...]] | None = None
    ) -> list[Policy]:
        return self.policy_records.policies(kind, keys=keys)

    def policy(self, kind: str | None, ref: str | int) -> Policy:
        return self.policy_records.policy(kind, ref)

    def create_policy(self, raw: Mapping[str, Any]) -> Policy:
        return self.policy_records.create_policy(raw)

    def update_policy(self, kind: str, ref: str | int, changes: Mapping[str, Any]) -> Policy:
        return self.policy_records.update_policy(kind, ref, changes)

    def delete_policy(self, kind: str, ref: str | int) -> Policy:
        return self.policy_records.delete_policy(kind, ref)

    def content_definitions(self) -> list[ContentDefinition]:
        return self.policy_records.content_definitions()

    def content_definition(self, ref: str | int) -> ContentDefinition:
        return self.policy_records.content_definition(ref)

    def create_content_definition(self, raw: Mapping[str, Any]) -> ContentDefinition:
        return self.policy_records.create_content_definition(raw)

    def update_content_definition(
        self, ref: str | int, changes: Mapping[str, Any]
    ) -> ContentDefinition:
        return self.policy_records.update_content_definition(ref, changes)

    def delete_content_definition(self, ref: str | int) -> ContentDefinition:
        return self.policy_records.delete_content_definition(ref)

    def portal_copy(self, ref: int | str) -> PortalCopy:
        return self.portal_records.portal_copy(ref)

    def portal_copies(
        self,
        *,
        sender: str | None = None,
        recipient: str | None = None,
        message_ref: int | None = None,
        where: CopyFilter | None = None,
    ) -> list[PortalCopy]:
        return self.portal_records.portal_copies(
            sender=sender, recipient=recipient, message_ref=message_ref, where=where
        )

    def users(self) -> list[dict[str, str]]:
        return self.portal_records.users()

    def add_users(self, addresses: Iterable[str]) -> list[str]:
        return self.portal_records.add_users(addresses)

    def remove_users(self, addresses: Iterable[str]) -> list[str]:
        return self.portal_records.remove_users(addresses)


def _snapshot_of(store: Store, addresses: Iterable[str] | None = None) -> Snapshot:
    from functools import partial
    from zoneinfo import ZoneInfo

    from secmsg_cli.engine.snapshot import build_snapshot

    account = store.account()
    build = partial(
        build_snapshot,
        account=account,
        tz=ZoneInfo(account.timezone),
        domains=[d.name for d in store.domains()],
        folders=store.folders(),
        definitions=store.definitions(),
        notification_subjects=store.template_records.subjects(),
    )
    if addresses is None:
        return build(
            groups=store.groups(),
            attributes=[(r["address"], r["name"], r["value"]) for r in store.attributes()],
            content_definitions=store.policy_records.content_definitions(),
            policies=store.policy_records.policies(),
        )
    wanted = sorted(set(addresses))
    domains = sorted({f"@{domain_of(a)}" for a in wanted})
    groups = store._groups_with_members([*wanted, *domains])
    attributes = store._attributes_of(wanted)
    directory = build(groups=groups, attributes=attributes, content_definitions=[], policies=[])
    keys: set[tuple[str, ...]] = set()
    for a in wanted:
        keys |= directory.keys_of(a)
    policies = store.policy_records.policies(keys=keys)
    used = {p.content_definition.lower() for p in policies if p.content_definition}
    return build(
        groups=groups,
        attributes=attributes,
        content_definitions=[
            cd for cd in store.policy_records.content_definitions() if cd.name.lower() in used
        ],
        policies=policies,
    )


def open_store(path: str | os.PathLike[str] | None = None, *, create: bool = False) -> Store:
    """Open (and migrate as needed) the store at the resolved path; only with
    ``create`` (``init``, ``import``, ``apply``) is a missing one created,
    else :class:`NoStore`."""
    from secmsg_cli.store.paths import resolve_db_path

    return Store(resolve_db_path(path), create=create)


def is_builtin_folder(path: str) -> bool:
    return path.lower() == BUILTIN_FOLDER.lower()
