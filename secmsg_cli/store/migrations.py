"""Numbered schema migrations (sqlite-utils ``Migrations``).

Never edit a migration once it has landed: add a new one. Each migration sets
``PRAGMA user_version`` to its number, which is the store's schema version; a
store whose version is greater than :data:`SCHEMA_VERSION` was written by a
newer secmsg and is refused.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from secmsg_cli.store import SCHEMA_VERSION as _SCHEMA_VERSION

migrations = Migrations("secmsg")


def _run(db: Database, script: str) -> None:
    """Run a script statement by statement, inside the current transaction
    (``executescript`` would commit it)."""
    import sqlite3

    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            db.execute(pending)
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending.strip()[:60]}")


@migrations(name="m001_foundation")
def m001_foundation(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE account (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            name TEXT NOT NULL DEFAULT '',
            edition TEXT NOT NULL DEFAULT 'full' CHECK (edition IN ('full', 'lite')),
            max_retention_days INTEGER NOT NULL DEFAULT 3650,
            timezone TEXT NOT NULL DEFAULT 'UTC',
            portal_url TEXT NOT NULL DEFAULT 'https://portal.invalid/secure',
            bypass_scope TEXT NOT NULL DEFAULT 'policy' CHECK (bypass_scope IN ('policy', 'all')),
            expired_view INTEGER NOT NULL DEFAULT 0
        );
        INSERT INTO account (id) VALUES (1);

        CREATE TABLE domains (
            name TEXT PRIMARY KEY,
            type TEXT NOT NULL CHECK (type IN ('local', 'remote', 'send-only'))
        );

        CREATE TABLE groups (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE
        );
        CREATE TABLE group_members (
            group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
            member TEXT NOT NULL,
            PRIMARY KEY (group_id, member)
        );
        CREATE INDEX group_members_member ON group_members(member);

        CREATE TABLE attributes (
            address TEXT NOT NULL,
            name TEXT NOT NULL COLLATE NOCASE,
            value TEXT NOT NULL,
            PRIMARY KEY (address, name)
        );
        CREATE INDEX attributes_name_value ON attributes(name, value);

        CREATE TABLE folders (
            id INTEGER PRIMARY KEY,
            parent_id INTEGER REFERENCES folders(id),
            name TEXT NOT NULL COLLATE NOCASE,
            -- 0: inherits the parent's publish list; 1: has a list of its own
            publish_own INTEGER NOT NULL DEFAULT 0,
            publish_everyone INTEGER NOT NULL DEFAULT 0
        );
        CREATE UNIQUE INDEX folders_name ON folders(coalesce(parent_id, 0), name);
        CREATE TABLE folder_publish_groups (
            folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
            group_id INTEGER NOT NULL REFERENCES groups(id),
            PRIMARY KEY (folder_id, group_id)
        );

        CREATE TABLE definitions (
            id INTEGER PRIMARY KEY,
            folder_id INTEGER NOT NULL REFERENCES folders(id),
            description TEXT NOT NULL COLLATE NOCASE,
            allow_print INTEGER NOT NULL DEFAULT 0,
            allow_reply INTEGER NOT NULL DEFAULT 1,
            allow_reply_all INTEGER NOT NULL DEFAULT 0,
            expire_after TEXT NOT NULL DEFAULT 'never',
            max_extension TEXT NOT NULL DEFAULT '0d',
            read_receipt INTEGER NOT NULL DEFAULT 0,
            banner TEXT,
            routing TEXT NOT NULL DEFAULT 'external' CHECK (routing IN ('external', 'all')),
            builtin INTEGER NOT NULL DEFAULT 0,
            UNIQUE (folder_id, description)
        );

        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            kind TEXT NOT NULL,
            object TEXT,
            before TEXT,
            after TEXT
        );

        -- docs/configuration.md: the built-in folder and read-only definitions.
        INSERT INTO folders (id, parent_id, name, publish_own, publish_everyone)
            VALUES (1, NULL, 'Default', 1, 1);
        INSERT INTO definitions (folder_id, description, allow_print, allow_reply,
                                 allow_reply_all, expire_after, max_extension,
                                 read_receipt, banner, routing, builtin)
            VALUES (1, 'All Recipients', 0, 1, 1, 'never', '0d', 0, NULL, 'all', 1),
                   (1, 'External Recipients', 0, 1, 1, 'never', '0d', 0, NULL, 'external', 1);
        PRAGMA user_version = 1;
        """,
    )


@migrations(name="m002_policies")
def m002_policies(db: Database) -> None:
    _run(
        db,
        """
        CREATE TABLE content_definitions (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            activation_score INTEGER NOT NULL CHECK (activation_score BETWEEN 1 AND 100),
            scan TEXT NOT NULL,             -- JSON list of sections
            lines TEXT NOT NULL,            -- JSON list of match lines, as written
            definition_id INTEGER REFERENCES definitions(id),  -- Secure Messaging override
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        );

        CREATE TABLE policies (
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids are never reused
            kind TEXT NOT NULL CHECK (kind IN ('secure-messaging', 'bypass', 'content-examination')),
            narrative TEXT NOT NULL,
            option TEXT,
            definition_id INTEGER REFERENCES definitions(id),
            content_definition_id INTEGER REFERENCES content_definitions(id),
            from_type TEXT NOT NULL,
            from_name TEXT,
            from_value TEXT,
            from_part TEXT NOT NULL DEFAULT 'envelope' CHECK (from_part IN ('envelope', 'header', 'both')),
            to_type TEXT NOT NULL,
            to_name TEXT,
            to_value TEXT,
            enabled INTEGER NOT NULL DEFAULT 1,
            start_at TEXT,
            end_at TEXT,
            override INTEGER NOT NULL DEFAULT 0,
            bidirectional INTEGER NOT NULL DEFAULT 0,
            source_ips TEXT NOT NULL DEFAULT '[]',  -- JSON list of CIDR ranges
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        );
        CREATE INDEX policies_kind ON policies(kind);
        CREATE INDEX policies_definition ON policies(definition_id);
        CREATE INDEX policies_content_definition ON policies(content_definition_id);
        PRAGMA user_version = 2;
        """,
    )


@migrations(name="m003_portal")
def m003_portal(db: Database) -> None:
    """docs/portal.md: retained portal copies, their access tokens (hashes only),
    and the directory's users (the internal addresses the mail system knows)."""
    _run(
        db,
        """
        -- One row per delivered secure message that has portal recipients:
        -- the message as received (headers, body, attachments), shared by its copies.
        CREATE TABLE portal_messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id TEXT,                 -- the original Message-ID header
            sender TEXT NOT NULL,            -- envelope sender as decided
            header_from TEXT,
            header_from_name TEXT,
            subject TEXT NOT NULL,
            sent TEXT NOT NULL,              -- UTC, ISO 8601, whole seconds
            via TEXT NOT NULL,
            source TEXT,                     -- the input it was delivered from
            raw BLOB,                        -- NULL once purged
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL
        );

        -- One row per portal recipient.
        CREATE TABLE portal_copies (
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids are never reused
            message_ref INTEGER NOT NULL REFERENCES portal_messages(id) ON DELETE CASCADE,
            recipient TEXT NOT NULL,
            internal INTEGER NOT NULL,
            definition TEXT NOT NULL,        -- the definition's path at sending
            settings TEXT NOT NULL,          -- JSON: the definition's settings as they were at sending
            allow_print INTEGER NOT NULL,    -- effective for this copy (all 1 for internal copies)
            allow_reply INTEGER NOT NULL,
            allow_reply_all INTEGER NOT NULL,
            read_receipt INTEGER NOT NULL,
            sent TEXT NOT NULL,
            expires TEXT,                    -- NULL: internal, never expires
            original_expires TEXT,
            latest_expiry TEXT,              -- min(original + max_extension, retention_end)
            retention_end TEXT NOT NULL,     -- sent + max_retention_days at sending: purged after
            extended_seconds INTEGER NOT NULL DEFAULT 0,
            extensions TEXT NOT NULL DEFAULT '[]',  -- JSON list of {at, by, expires}
            read_at TEXT,                    -- first view
            recalled_at TEXT,
            expired_at TEXT,                 -- marked by sweep
            purged_at TEXT,
            token_id TEXT NOT NULL UNIQUE,   -- the non-secret part of the access token
            token_hash TEXT                  -- sha256 hex of the token; NULL once purged
        );
        CREATE INDEX portal_copies_message ON portal_copies(message_ref);
        CREATE INDEX portal_copies_recipient ON portal_copies(recipient);
        CREATE INDEX portal_copies_expires ON portal_copies(expires);
        CREATE INDEX portal_copies_retention ON portal_copies(retention_end);

        -- The directory's users; when it lists any, a portal reply to an
        -- internal address not listed here bounces (docs/portal.md).
        CREATE TABLE users (
            address TEXT PRIMARY KEY,
            added TEXT NOT NULL
        );
        PRAGMA user_version = 3;
        """,
    )


@migrations(name="m004_delivery_ledger")
def m004_delivery_ledger(db: Database) -> None:
    """docs/portal.md: who was delivered which message (deliver is idempotent per
    Message-ID and recipient), and the outbox files of committed
    transactions that are not yet in ``new/`` (moved there after the commit;
    a crash in between is recovered on the next run)."""
    _run(
        db,
        """
        -- One row per recipient that the system delivered something to: a
        -- portal copy, or a banner-stamped inbox copy. Plain recipients get
        -- nothing from the system and have no row.
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            message_key TEXT NOT NULL,       -- the Message-ID, else 'sha256:' + the raw bytes' digest
            recipient TEXT NOT NULL,
            route TEXT NOT NULL CHECK (route IN ('portal', 'inbox')),
            portal_copy INTEGER REFERENCES portal_copies(id),
            at TEXT NOT NULL,                -- the sending time, UTC
            again INTEGER NOT NULL DEFAULT 0 -- delivered again on purpose (--again)
        );
        CREATE INDEX deliveries_key ON deliveries(message_key, recipient);

        -- Deliveries made before this migration: the portal copies.
        INSERT INTO deliveries (message_key, recipient, route, portal_copy, at)
            SELECT coalesce(m.message_id, 'sha256:' || m.sha256), c.recipient, 'portal', c.id, c.sent
            FROM portal_copies c JOIN portal_messages m ON m.id = c.message_ref
            ORDER BY c.id;

        -- Outbox files written to tmp/ by a transaction that committed, until
        -- they are moved to new/.
        CREATE TABLE outbox_pending (
            name TEXT NOT NULL,              -- the file name (the same in tmp/ and new/)
            outbox TEXT NOT NULL,            -- the outbox directory, absolute
            PRIMARY KEY (outbox, name)
        );
        PRAGMA user_version = 4;
        """,
    )


@migrations(name="m005_revocation")
def m005_revocation(db: Database) -> None:
    """docs/portal.md: an administrator may revoke any copy, opened or not;
    the recipient then sees only that it was revoked. A status of its own,
    apart from the sender's recall of an unopened copy."""
    _run(
        db,
        """
        ALTER TABLE portal_copies ADD COLUMN revoked_at TEXT;  -- UTC, when revoked
        PRAGMA user_version = 5;
        """,
    )


def _number(name: str) -> int:
    """A migration's place in the list, counted from 1: the schema version it
    sets (so that migrations written side by side on branches number
    themselves by where they are merged)."""
    return 1 + [m.name for m in migrations._migrations].index(name)


@migrations(name="m007_notification_templates")
def m007_notification_templates(db: Database) -> None:
    """docs/configuration.md: named notification templates, and the one a
    definition chooses (NULL: the built-in notification)."""
    _run(
        db,
        """
        CREATE TABLE notification_templates (
            id INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids are never reused
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            subject TEXT NOT NULL,           -- with tags, as written
            html TEXT NOT NULL,
            text TEXT NOT NULL,
            sender_name TEXT,                -- the notification's From display name; NULL: the sender's
            logo_path TEXT,                  -- the logo's path as the configuration wrote it
            logo_type TEXT CHECK (logo_type IN ('image/png', 'image/jpeg', 'image/gif')),
            logo BLOB,
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        );
        ALTER TABLE definitions ADD COLUMN
            notification_template_id INTEGER REFERENCES notification_templates(id);
        """,
    )
    db.execute(f"PRAGMA user_version = {_number('m007_notification_templates')}")


@migrations(name="m006_reports")
def m006_reports(db: Database) -> None:
    """(Merged after m007, so seventh: migrations number themselves by where
    they are merged.) docs/reports.md: what started the securing of each portal copy (its
    trigger), and the indexes that keep ``portal list`` filters and the
    reports quick on a store of many copies (each is named for the query it
    serves; ``bench/portal_scale.py`` shows they do)."""
    _run(
        db,
        """
        -- user, content or policy, as decided; NULL for copies delivered
        -- before this migration (reports show them as unknown)
        ALTER TABLE portal_copies ADD COLUMN trigger TEXT;

        -- reports over a period (--since/--until), portal list --sent-since/--sent-until
        CREATE INDEX portal_copies_sent ON portal_copies(sent);
        -- portal list --recipient @domain: the expression of CopyFilter, exactly
        CREATE INDEX portal_copies_recipient_domain
            ON portal_copies(substr(recipient, instr(recipient, '@')));
        -- portal list --status unread, report expiring: the copies still open
        -- (never read nor ended), by expiry; few, however large the store
        CREATE INDEX portal_copies_unread ON portal_copies(expires)
            WHERE read_at IS NULL AND recalled_at IS NULL AND revoked_at IS NULL
              AND purged_at IS NULL AND expired_at IS NULL;
        -- report ended: recalled and revoked copies, by sending time
        CREATE INDEX portal_copies_ended ON portal_copies(sent)
            WHERE revoked_at IS NOT NULL OR recalled_at IS NOT NULL;
        -- portal list --sender (the envelope sender or the header From)
        CREATE INDEX portal_messages_sender ON portal_messages(sender);
        CREATE INDEX portal_messages_header_from ON portal_messages(header_from);
        -- who recalled or revoked a copy (report ended)
        CREATE INDEX audit_object ON audit(object, kind);
        """,
    )
    db.execute(f"PRAGMA user_version = {_number('m006_reports')}")


SCHEMA_VERSION = len(migrations._migrations)
if SCHEMA_VERSION != _SCHEMA_VERSION:  # pragma: no cover - a developer's slip
    raise RuntimeError(
        f"store.SCHEMA_VERSION is {_SCHEMA_VERSION} but there are {SCHEMA_VERSION} migrations"
    )


def apply(db: Database) -> None:
    """Apply pending migrations; the caller holds the write transaction."""
    migrations.apply(db)
