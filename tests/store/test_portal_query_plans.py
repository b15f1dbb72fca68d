"""The portal list filters and the reports are answered from the indexes of
migration m006, not by a full scan of the copies (what keeps them quick at
100,000 copies, bench/portal_scale.py): SQLite's own query plan, on a store
made by ``secmsg init``."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from secmsg_cli.store.portal import _COPY_SQL, CopyFilter
from secmsg_cli.store.reports import PortalReports

AT = datetime(2026, 11, 27, 10, tzinfo=UTC)
MONTH = CopyFilter(sent_since=AT - timedelta(days=30))


def plan(db, sql: str, values) -> str:
    return "; ".join(r[-1] for r in db.execute("EXPLAIN QUERY PLAN " + sql, list(values)))


@pytest.fixture
def db(cli, _isolated_store):
    conn = sqlite3.connect(_isolated_store)
    conn.row_factory = sqlite3.Row
    yield conn
    conn.close()


@pytest.mark.parametrize(
    ("where", "index"),
    [
        (CopyFilter(recipient="@clientco.example"), "portal_copies_recipient_domain (<expr>=?)"),
        (CopyFilter(recipient="a@clientco.example"), "portal_copies_recipient (recipient=?)"),
        (CopyFilter(statuses=("unread",), at=AT), "portal_copies_unread"),
        (CopyFilter(expires_before=AT), "portal_copies_expires (expires<?)"),
        (CopyFilter(sent_since=AT), "portal_copies_sent (sent>?)"),
        (CopyFilter(sender="a@harborfinch.com"), "portal_messages_sender (sender=?)"),
    ],
)
def test_each_list_filter_uses_its_index(db, where, index):
    condition, values = where.where()
    got = plan(db, f"{_COPY_SQL} WHERE {condition}", values)
    assert index in got, got
    assert "SCAN c" not in got.replace("SCAN c USING INDEX portal_copies_unread", ""), got


def test_each_report_over_a_period_searches_by_sending_time(db):
    seen: list[str] = []

    class Recording:
        def _q(self, sql, params=()):
            seen.append(plan(db, sql, params))
            return db.execute(sql, list(params)).fetchall()

    reports = PortalReports(Recording())  # type: ignore[arg-type]
    reports.totals(MONTH)
    for group in ("definition", "trigger", "sender-domain"):
        reports.by(group, MONTH)
    reports.reads(MONTH, AT)
    reports.senders(MONTH, 10)
    reports.ended(MONTH)
    reports.expiring(CopyFilter(), AT, 7)
    assert seen
    for got in seen:
        assert "SCAN c" not in got and "SCAN m" not in got, got
    assert "portal_copies_ended (sent>?)" in seen[-2]
    assert "portal_copies_expires (expires>? AND expires<?)" in seen[-1]
