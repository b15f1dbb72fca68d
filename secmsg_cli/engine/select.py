"""Choosing policies: validity in time (docs/decisions.md). Pure: the time and the
account's time zone are passed in.

The rest of policy selection (direction, targets, specificity, override,
bypass) joins this module with the decision engine.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

__all__ = ["STATUSES", "bound", "is_active", "status", "status_between"]

STATUSES = ("active", "disabled", "scheduled", "expired")


def bound(text: str | None, tz: tzinfo, *, end: bool) -> datetime | None:
    """The instant a validity bound stands for.

    A date-only start is 00:00 of that day and a date-only end is 24:00 of that
    day (the day is included), both in the account time zone ``tz``; a datetime
    without an offset is in ``tz`` too. The result is in UTC: two aware times
    with the same tzinfo compare by wall clock, which is wrong in the hour
    repeated when clocks go back.
    """
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if end:
                day = day + timedelta(days=1)
            return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return moment.astimezone(UTC)
    except OverflowError:
        # The end of 9999-12-31, or 0001-01-01 east of UTC: past what a UTC
        # time can hold. Such a bound means "forever" (or "since always"), so
        # it counts as the last (or first) instant there is; the year (ISO
        # text, four digits) tells which end it fell off.
        return _LAST if text[:4] > "5000" else _FIRST


_FIRST = datetime.min.replace(tzinfo=UTC)
_LAST = datetime.max.replace(tzinfo=UTC)


def status(enabled: bool, start: str | None, end: str | None, at: datetime, tz: tzinfo) -> str:
    """``active``, ``disabled``, ``scheduled`` (start in the future) or
    ``expired`` (end passed) at the aware time ``at``."""
    return status_between(enabled, bound(start, tz, end=False), bound(end, tz, end=True), at)


def status_between(enabled: bool, lo: datetime | None, hi: datetime | None, at: datetime) -> str:
    """:func:`status` with the bounds already computed by :func:`bound`."""
    if not enabled:
        return "disabled"
    at = at.astimezone(UTC)
    if lo is not None and at < lo:
        return "scheduled"
    if hi is not None and at >= hi:
        return "expired"
    return "active"


def is_active(enabled: bool, start: str | None, end: str | None, at: datetime, tz: tzinfo) -> bool:
    """docs/decisions.md: enabled and start <= at < end (a missing bound is eternal)."""
    return status(enabled, start, end, at, tz) == "active"
