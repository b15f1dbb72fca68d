"""Policy validity in time (SPEC §4.4): bounds, status at fixed instants around
them, in non-UTC account time zones, directly and through ``policy list --at``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from secmsg_cli.engine.select import STATUSES, bound, is_active, status
from secmsg_cli.errors import InvalidInput
from secmsg_cli.model import check_when
from secmsg_cli.validate import check_policy
from tests.helpers import ok

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")


def utc(text: str) -> datetime:
    """An aware UTC instant from ``2026-07-01T23:00:00``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- bound ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tz", "end", "expected_utc"),
    [
        # date-only start = 00:00 local; date-only end = 24:00 local (the day is included)
        ("2026-07-01", LONDON, False, "2026-06-30T23:00:00"),  # BST = UTC+1
        ("2026-07-01", LONDON, True, "2026-07-01T23:00:00"),
        ("2026-01-15", LONDON, False, "2026-01-15T00:00:00"),  # GMT = UTC
        ("2026-01-15", LONDON, True, "2026-01-16T00:00:00"),
        ("2026-07-04", NEW_YORK, False, "2026-07-04T04:00:00"),  # EDT = UTC-4
        ("2026-07-04", NEW_YORK, True, "2026-07-05T04:00:00"),
        ("2026-01-15", NEW_YORK, True, "2026-01-16T05:00:00"),  # EST = UTC-5
        ("2026-07-01", UTC, False, "2026-07-01T00:00:00"),
        ("2026-07-01", TOKYO, True, "2026-07-01T15:00:00"),  # UTC+9, east of UTC
        # the days the clocks change: the day's midnights are in different offsets
        ("2026-03-29", LONDON, False, "2026-03-29T00:00:00"),  # starts in GMT
        ("2026-03-29", LONDON, True, "2026-03-29T23:00:00"),  # ends in BST (a 23-hour day)
        ("2026-11-01", NEW_YORK, False, "2026-11-01T04:00:00"),  # starts in EDT
        ("2026-11-01", NEW_YORK, True, "2026-11-02T05:00:00"),  # ends in EST (a 25-hour day)
        # a datetime without offset is in the account zone; end= makes no difference
        ("2026-07-01T09:30:00", LONDON, False, "2026-07-01T08:30:00"),
        ("2026-07-01T09:30:00", LONDON, True, "2026-07-01T08:30:00"),
        ("2026-01-01T09:30:00", NEW_YORK, True, "2026-01-01T14:30:00"),
        # a datetime with an offset is that instant, whatever the zone
        ("2026-07-01T09:30:00+02:00", LONDON, False, "2026-07-01T07:30:00"),
        ("2026-07-01T09:30:00+00:00", NEW_YORK, True, "2026-07-01T09:30:00"),
        ("2026-07-01T09:30:00-07:00", TOKYO, False, "2026-07-01T16:30:00"),
    ],
    ids=[
        "london-summer-date-start",
        "london-summer-date-end",
        "london-winter-date-start",
        "london-winter-date-end",
        "ny-summer-date-start",
        "ny-summer-date-end",
        "ny-winter-date-end",
        "utc-date-start",
        "tokyo-date-end",
        "london-spring-forward-start",
        "london-spring-forward-end",
        "ny-fall-back-start",
        "ny-fall-back-end",
        "london-naive-datetime-start",
        "london-naive-datetime-end",
        "ny-naive-datetime-winter",
        "offset-datetime-in-london",
        "offset-datetime-in-ny",
        "offset-datetime-in-tokyo",
    ],
)
def test_bound_is_the_right_instant(text, tz, end, expected_utc):
    moment = bound(text, tz, end=end)
    assert moment is not None and moment.tzinfo is not None
    assert moment.astimezone(UTC) == utc(expected_utc)


@pytest.mark.parametrize("end", [False, True], ids=["start", "end"])
def test_missing_bound_is_eternal(end):
    assert bound(None, LONDON, end=end) is None


# --- status at fixed instants -------------------------------------------------------

ONE_SECOND = timedelta(seconds=1)

STATUS_CASES = [
    # (enabled, start, end, tz, at (UTC), expected)
    # London in summer (BST): a date-only start begins at 23:00 UTC the day before
    (True, "2026-07-01", None, LONDON, "2026-06-30T22:59:59", "scheduled"),
    (True, "2026-07-01", None, LONDON, "2026-06-30T23:00:00", "active"),
    # ... and a date-only end includes the whole local day: it ends at 23:00 UTC that day
    (True, None, "2026-07-31", LONDON, "2026-07-31T22:59:59", "active"),
    (True, None, "2026-07-31", LONDON, "2026-07-31T23:00:00", "expired"),
    # a one-day policy (start = end) is active for exactly that local day
    (True, "2026-07-15", "2026-07-15", LONDON, "2026-07-14T22:59:59", "scheduled"),
    (True, "2026-07-15", "2026-07-15", LONDON, "2026-07-14T23:00:00", "active"),
    (True, "2026-07-15", "2026-07-15", LONDON, "2026-07-15T22:59:59", "active"),
    (True, "2026-07-15", "2026-07-15", LONDON, "2026-07-15T23:00:00", "expired"),
    # London in winter (GMT) coincides with UTC
    (True, "2026-01-15", "2026-01-15", LONDON, "2026-01-14T23:59:59", "scheduled"),
    (True, "2026-01-15", "2026-01-15", LONDON, "2026-01-15T00:00:00", "active"),
    (True, "2026-01-15", "2026-01-15", LONDON, "2026-01-15T23:59:59", "active"),
    (True, "2026-01-15", "2026-01-15", LONDON, "2026-01-16T00:00:00", "expired"),
    # New York, summer (EDT, UTC-4) and winter (EST, UTC-5)
    (True, "2026-07-04", "2026-07-04", NEW_YORK, "2026-07-04T03:59:59", "scheduled"),
    (True, "2026-07-04", "2026-07-04", NEW_YORK, "2026-07-04T04:00:00", "active"),
    (True, "2026-07-04", "2026-07-04", NEW_YORK, "2026-07-05T03:59:59", "active"),
    (True, "2026-07-04", "2026-07-04", NEW_YORK, "2026-07-05T04:00:00", "expired"),
    (True, None, "2026-12-31", NEW_YORK, "2027-01-01T04:59:59", "active"),
    (True, None, "2026-12-31", NEW_YORK, "2027-01-01T05:00:00", "expired"),
    # datetimes without offset are local; the end instant itself is no longer active
    (
        True,
        "2026-07-04T09:00:00",
        "2026-07-04T17:00:00",
        NEW_YORK,
        "2026-07-04T12:59:59",
        "scheduled",
    ),
    (True, "2026-07-04T09:00:00", "2026-07-04T17:00:00", NEW_YORK, "2026-07-04T13:00:00", "active"),
    (True, "2026-07-04T09:00:00", "2026-07-04T17:00:00", NEW_YORK, "2026-07-04T20:59:59", "active"),
    (
        True,
        "2026-07-04T09:00:00",
        "2026-07-04T17:00:00",
        NEW_YORK,
        "2026-07-04T21:00:00",
        "expired",
    ),
    # datetimes with an offset ignore the account zone
    (
        True,
        "2026-07-04T09:00:00+00:00",
        "2026-07-04T17:00:00+00:00",
        NEW_YORK,
        "2026-07-04T08:59:59",
        "scheduled",
    ),
    (
        True,
        "2026-07-04T09:00:00+00:00",
        "2026-07-04T17:00:00+00:00",
        NEW_YORK,
        "2026-07-04T09:00:00",
        "active",
    ),
    (
        True,
        "2026-07-04T09:00:00+00:00",
        "2026-07-04T17:00:00+00:00",
        NEW_YORK,
        "2026-07-04T16:59:59",
        "active",
    ),
    (
        True,
        "2026-07-04T09:00:00+00:00",
        "2026-07-04T17:00:00+00:00",
        NEW_YORK,
        "2026-07-04T17:00:00",
        "expired",
    ),
    # mixed: a date-only start with an offset datetime end
    (True, "2026-07-01", "2026-07-01T12:00:00+00:00", LONDON, "2026-06-30T23:00:00", "active"),
    (True, "2026-07-01", "2026-07-01T12:00:00+00:00", LONDON, "2026-07-01T12:00:00", "expired"),
    # the spring-forward day in London has 23 hours, all of them included
    (True, "2026-03-29", "2026-03-29", LONDON, "2026-03-29T22:59:59", "active"),
    (True, "2026-03-29", "2026-03-29", LONDON, "2026-03-29T23:00:00", "expired"),
    # the fall-back day in New York has 25 hours, all of them included
    (True, "2026-11-01", "2026-11-01", NEW_YORK, "2026-11-02T04:59:59", "active"),
    (True, "2026-11-01", "2026-11-01", NEW_YORK, "2026-11-02T05:00:00", "expired"),
    # no bounds: always active
    (True, None, None, LONDON, "1990-01-01T00:00:00", "active"),
    (True, None, None, NEW_YORK, "2999-12-31T23:59:59", "active"),
    # disabled wins over every other state
    (False, None, None, LONDON, "2026-07-01T12:00:00", "disabled"),
    (False, "2026-07-01", "2026-07-31", LONDON, "2026-07-15T12:00:00", "disabled"),
    (False, "2026-07-01", None, LONDON, "2026-06-01T00:00:00", "disabled"),
    (False, None, "2026-07-31", LONDON, "2026-09-01T00:00:00", "disabled"),
]


@pytest.mark.parametrize(
    ("enabled", "start", "end", "tz", "at", "expected"),
    STATUS_CASES,
    ids=[
        f"{c[3].key if hasattr(c[3], 'key') else 'UTC'}-{c[1]}..{c[2]}@{c[4]}-{c[5]}"
        + ("" if c[0] else "-off")
        for c in STATUS_CASES
    ],
)
def test_status_at_fixed_times(enabled, start, end, tz, at, expected):
    moment = utc(at)
    assert status(enabled, start, end, moment, tz) == expected
    assert is_active(enabled, start, end, moment, tz) is (expected == "active")
    assert expected in STATUSES


@pytest.mark.parametrize(
    "represent",
    [
        lambda m, tz: m,
        lambda m, tz: m.astimezone(tz),
        lambda m, tz: m.astimezone(timezone(timedelta(hours=-7))),
        lambda m, tz: m.astimezone(TOKYO),
    ],
    ids=["utc", "account-zone", "fixed-offset", "other-zone"],
)
@pytest.mark.parametrize(
    ("start", "end", "tz", "at"),
    [
        ("2026-07-01", "2026-07-31", LONDON, "2026-06-30T23:00:00"),
        ("2026-07-01", "2026-07-31", LONDON, "2026-07-31T22:59:59"),
        ("2026-07-04T09:00:00", None, NEW_YORK, "2026-07-04T13:00:00"),
        (None, "2026-12-31", NEW_YORK, "2027-01-01T05:00:00"),
    ],
    ids=["london-first-second", "london-last-second", "ny-naive-start", "ny-just-expired"],
)
def test_status_depends_on_the_instant_not_its_representation(represent, start, end, tz, at):
    moment = utc(at)
    assert status(True, start, end, represent(moment, tz), tz) == status(
        True, start, end, moment, tz
    )
    assert status(True, start, end, represent(moment, tz) - ONE_SECOND, tz) == status(
        True, start, end, moment - ONE_SECOND, tz
    )


def test_status_in_the_repeated_hour_does_not_depend_on_the_representation():
    # 06:10 UTC on 2026-11-01 is 01:10 EST, after the end 01:30 EDT (05:30 UTC).
    moment = utc("2026-11-01T06:10:00")
    assert status(True, None, "2026-11-01T01:30:00", moment, NEW_YORK) == "expired"
    assert (
        status(True, None, "2026-11-01T01:30:00", moment.astimezone(NEW_YORK), NEW_YORK)
        == "expired"
    )


# --- the canonical text of a bound ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-31", "2026-01-31"),
        ("  2026-01-31 ", "2026-01-31"),
        ("20260131", "2026-01-31"),  # ISO basic form: still a date, so still the whole day
        ("2026-W05-6", "2026-01-31"),  # ISO week date
        ("2026-01-31T18:00", "2026-01-31T18:00:00"),
        ("2026-01-31 18:00:00", "2026-01-31T18:00:00"),
        ("2026-01-31T18:00:00+01:00", "2026-01-31T18:00:00+01:00"),
        ("2026-01-31T18:00:00Z", "2026-01-31T18:00:00+00:00"),
        ("2026-01-31T18:00:00.250-05:00", "2026-01-31T18:00:00.250000-05:00"),
        (date(2026, 1, 31), "2026-01-31"),  # TOML native date
        (datetime(2026, 1, 31, 18, 0), "2026-01-31T18:00:00"),  # TOML local datetime
        (
            datetime(2026, 1, 31, 18, 0, tzinfo=UTC),
            "2026-01-31T18:00:00+00:00",
        ),  # TOML offset datetime
    ],
    ids=[
        "date",
        "padded",
        "basic-date",
        "week-date",
        "datetime-minutes",
        "space-separator",
        "offset",
        "zulu",
        "fraction",
        "native-date",
        "native-local-datetime",
        "native-offset-datetime",
    ],
)
def test_check_when_canonical_text(value, expected):
    assert check_when(value, "start") == expected


def test_a_basic_format_date_end_keeps_the_whole_day():
    canonical = check_when("20260131", "end")
    assert bound(canonical, LONDON, end=True).astimezone(UTC) == utc("2026-02-01T00:00:00")
    assert status(True, None, canonical, utc("2026-01-31T12:00:00"), LONDON) == "active"


@pytest.mark.parametrize(
    "value",
    [
        "2026-13-01",
        "2026-02-30",
        "31/01/2026",
        "tomorrow",
        "",
        "   ",
        "2026-01-31T25:00",
        20260131,
        None,
    ],
    ids=["month-13", "feb-30", "dmy", "word", "empty", "blank", "hour-25", "integer", "none"],
)
def test_check_when_rejects_with_the_expected_forms(value):
    with pytest.raises(InvalidInput) as exc:
        check_when(value, "end")
    message = str(exc.value)
    assert message.startswith("invalid end") and "ISO date" in message and "\n" not in message


# --- end after start, in the account zone -------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "tz", "ok"),
    [
        ("2026-07-01", "2026-07-01", LONDON, True),  # one whole day
        ("2026-07-02", "2026-07-01", LONDON, False),
        ("2026-07-01T10:00:00", "2026-07-01T10:00:00", LONDON, False),  # empty interval
        ("2026-07-01T10:00:00", "2026-07-01T10:00:01", LONDON, True),
        # 23:30 UTC on 1 July is already 2 July in London but still 1 July in New York
        ("2026-07-01T23:30:00+00:00", "2026-07-01", LONDON, False),
        ("2026-07-01T23:30:00+00:00", "2026-07-01", NEW_YORK, True),
        # a local datetime start against an offset end
        ("2026-07-01T12:00:00", "2026-07-01T11:30:00+00:00", LONDON, True),  # 11:00 UTC start
        ("2026-07-01T12:00:00", "2026-07-01T11:30:00+00:00", UTC, False),
        ("2026-07-01T12:00:00", "2026-07-01T11:30:00+00:00", NEW_YORK, False),
        ("2026-07-01T10:00:00", "2026-07-01T11:30:00+00:00", LONDON, True),  # 09:00 UTC start
        ("2026-07-01T10:00:00", "2026-07-01T11:30:00+00:00", NEW_YORK, False),  # 14:00 UTC start
    ],
    ids=[
        "same-day",
        "day-before",
        "empty-interval",
        "one-second",
        "late-utc-in-london",
        "late-utc-in-ny",
        "local-vs-offset-london",
        "local-vs-offset-utc",
        "local-vs-offset-ny",
        "early-local-london",
        "early-local-ny",
    ],
)
def test_end_must_be_after_start_in_the_account_zone(start, end, tz, ok):
    _, problems = check_policy({"kind": "bypass", "narrative": "n", "start": start, "end": end}, tz)
    if ok:
        assert problems == []
    else:
        assert [p.field for p in problems] == ["end"]
        assert "not after start" in problems[0].message


# --- the same through the CLI ----------------------------------------------------------------


@pytest.fixture
def timed(cli):
    """Bypass policies with known bounds (ids 1..5)."""
    policies = [
        ("date start", ["--start", "2026-07-01"]),
        ("date end", ["--end", "2026-07-31"]),
        ("local window", ["--start", "2026-07-04T09:00:00", "--end", "2026-07-04T17:00:00"]),
        (
            "offset window",
            ["--start", "2026-07-04T09:00:00+00:00", "--end", "2026-07-04T17:00:00+00:00"],
        ),
        ("off", ["--disabled", "--start", "2026-07-01", "--end", "2026-07-31"]),
    ]
    for narrative, args in policies:
        ok(cli("bypass", "create", narrative, *args))
    return cli


def statuses(cli, *args: str) -> dict[int, str]:
    return {p["id"]: p["status"] for p in ok(cli("bypass", "list", *args, "-o", "json")).json}


@pytest.mark.parametrize(
    ("tz", "at", "expected"),
    [
        (
            "Europe/London",
            "2026-06-30T22:59:59+00:00",
            ["scheduled", "active", "scheduled", "scheduled", "disabled"],
        ),
        (
            "Europe/London",
            "2026-06-30T23:00:00+00:00",
            ["active", "active", "scheduled", "scheduled", "disabled"],
        ),
        (
            "UTC",
            "2026-06-30T23:00:00+00:00",
            ["scheduled", "active", "scheduled", "scheduled", "disabled"],
        ),
        (
            "America/New_York",
            "2026-07-01T03:59:59Z",
            ["scheduled", "active", "scheduled", "scheduled", "disabled"],
        ),
        (
            "America/New_York",
            "2026-07-01T04:00:00Z",
            ["active", "active", "scheduled", "scheduled", "disabled"],
        ),
        # an --at without offset is in the account zone
        (
            "Europe/London",
            "2026-07-01T00:00:00",
            ["active", "active", "scheduled", "scheduled", "disabled"],
        ),
        (
            "Europe/London",
            "2026-06-30T23:59:59",
            ["scheduled", "active", "scheduled", "scheduled", "disabled"],
        ),
        ("Europe/London", "2026-07-01", ["active", "active", "scheduled", "scheduled", "disabled"]),
        # windows on 4 July: local (account zone) vs offset (UTC)
        (
            "America/New_York",
            "2026-07-04T09:00:00",
            ["active", "active", "active", "active", "disabled"],
        ),
        (
            "America/New_York",
            "2026-07-04T08:59:59",
            ["active", "active", "scheduled", "active", "disabled"],
        ),
        (
            "America/New_York",
            "2026-07-04T13:00:00",
            ["active", "active", "active", "expired", "disabled"],
        ),
        (
            "America/New_York",
            "2026-07-04T17:00:00",
            ["active", "active", "expired", "expired", "disabled"],
        ),
        (
            "Europe/London",
            "2026-07-04T15:59:59+00:00",
            ["active", "active", "active", "active", "disabled"],
        ),
        (
            "Europe/London",
            "2026-07-04T16:00:00+00:00",
            ["active", "active", "expired", "active", "disabled"],
        ),
        (
            "Europe/London",
            "2026-07-04T17:00:00+01:00",
            ["active", "active", "expired", "active", "disabled"],
        ),
        # the end date includes its whole local day
        (
            "Europe/London",
            "2026-07-31T23:59:59+01:00",
            ["active", "active", "expired", "expired", "disabled"],
        ),
        (
            "Europe/London",
            "2026-08-01T00:00:00+01:00",
            ["active", "expired", "expired", "expired", "disabled"],
        ),
        (
            "America/New_York",
            "2026-08-01T03:59:59Z",
            ["active", "active", "expired", "expired", "disabled"],
        ),
        (
            "America/New_York",
            "2026-08-01T04:00:00Z",
            ["active", "expired", "expired", "expired", "disabled"],
        ),
    ],
    ids=[
        "london-before-start",
        "london-at-start",
        "utc-same-instant",
        "ny-before-start",
        "ny-at-start",
        "london-local-midnight",
        "london-local-last-second",
        "date-at",
        "ny-local-09",
        "ny-local-0859",
        "ny-local-13",
        "ny-local-17",
        "london-utc-1559",
        "london-utc-1600",
        "london-bst-17",
        "london-end-last-second",
        "london-end-passed",
        "ny-end-last-second",
        "ny-end-passed",
    ],
)
def test_list_status_at_in_the_account_zone(timed, tz, at, expected):
    ok(timed("account", "set", "--timezone", tz))
    assert statuses(timed, "--at", at) == dict(enumerate(expected, start=1))


@pytest.mark.parametrize(
    ("tz", "at", "status_filter", "ids"),
    [
        ("Europe/London", "2026-06-30T23:30:00Z", "active", [1, 2]),
        ("America/New_York", "2026-06-30T23:30:00Z", "active", [2]),
        ("America/New_York", "2026-06-30T23:30:00Z", "scheduled", [1, 3, 4]),
        ("Europe/London", "2026-08-01T00:30:00+01:00", "expired", [2, 3, 4]),
        ("America/New_York", "2026-08-01T00:30:00+01:00", "expired", [3, 4]),
        ("America/New_York", "2026-08-01T00:30:00+01:00", "disabled", [5]),
        ("Europe/London", "2026-07-04T12:00:00Z", "ACTIVE", [1, 2, 3, 4]),
    ],
    ids=[
        "london-active",
        "ny-active",
        "ny-scheduled",
        "london-expired",
        "ny-expired",
        "disabled",
        "case",
    ],
)
def test_list_status_filter_at(timed, tz, at, status_filter, ids):
    ok(timed("account", "set", "--timezone", tz))
    rows = ok(timed("bypass", "list", "--at", at, "--status", status_filter, "-o", "json")).json
    assert [p["id"] for p in rows] == ids
    assert {p["status"] for p in rows} == {status_filter.lower()}


def test_changing_the_account_zone_moves_date_only_bounds(timed):
    at = "2026-06-30T23:30:00+00:00"
    ok(timed("account", "set", "--timezone", "Europe/London"))
    assert statuses(timed, "--at", at)[1] == "active"
    ok(timed("account", "set", "--timezone", "America/New_York"))
    assert statuses(timed, "--at", at)[1] == "scheduled"
    # the stored bounds themselves are unchanged
    assert ok(timed("bypass", "show", "1", "-o", "json")).json["start"] == "2026-07-01"


@pytest.mark.parametrize(
    ("at", "expected"),
    [("2026-06-30T22:59:59Z", "scheduled"), ("2026-06-30T23:00:00Z", "active"), (None, "active")],
    ids=["before", "at-start", "now"],
)
def test_show_status_at(timed, at, expected):
    ok(timed("account", "set", "--timezone", "Europe/London"))
    args = ["--at", at] if at else []
    assert ok(timed("bypass", "show", "1", *args, "-o", "json")).json["status"] == expected


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--at", "yesterday"], "--at"),
        (["--at", "2026-02-30"], "--at"),
        (["--status", "asleep"], "--status"),
    ],
    ids=["word-at", "impossible-at", "bad-status"],
)
def test_list_rejects_bad_at_and_status(timed, args, fragment):
    r = timed("bypass", "list", *args, "-o", "json")
    assert r.exit_code == 1, r.output
    assert r.stdout == "" and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    assert fragment in r.stderr
