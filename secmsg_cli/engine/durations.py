"""Durations of SPEC §3.2: ``90m``, ``12h``, ``7d``, ``2w``, ``1y``, ``7 days``,
a bare number of days, or ``never``. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["NEVER", "Duration", "DurationError", "parse_duration"]

ACCEPTED = "a number with a unit, such as 90m, 12h, 7d, 2w, 1y or '7 days' (a bare number is days)"
_UNITS = {
    "m": "m",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "h": "h",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "d": "d",
    "day": "d",
    "days": "d",
    "w": "w",
    "wk": "w",
    "wks": "w",
    "week": "w",
    "weeks": "w",
    "y": "y",
    "yr": "y",
    "yrs": "y",
    "year": "y",
    "years": "y",
}
_MINUTES = {"m": 1, "h": 60, "d": 1440, "w": 10080, "y": 525600}
_LIMIT_MINUTES = 100 * 366 * 1440  # nothing in this product lasts beyond a century
_FORM = re.compile(
    r"^\s*([0-9]{1,9})\s*([a-z]*)\s*$"
)  # ASCII digits only (\d matches any Unicode digit)


class DurationError(ValueError):
    """A text that is not a duration; the message names the accepted forms."""


@dataclass(frozen=True, slots=True)
class Duration:
    """A whole number of one unit, or ``never`` (amount 0, unit ``never``)."""

    amount: int
    unit: str

    @property
    def is_never(self) -> bool:
        return self.unit == "never"

    def __str__(self) -> str:
        return "never" if self.is_never else f"{self.amount}{self.unit}"

    @property
    def approx_minutes(self) -> int:
        """Length in minutes (a year counted as 365 days); for comparisons only."""
        return 0 if self.is_never else self.amount * _MINUTES[self.unit]

    def add_to(self, moment: datetime) -> datetime:
        """``moment`` + this duration; years are calendar years (29 Feb -> 28 Feb)."""
        if self.is_never:
            raise ValueError("'never' cannot be added to a time")
        if self.unit != "y":
            return moment + timedelta(minutes=self.amount * _MINUTES[self.unit])
        year = moment.year + self.amount
        try:
            return moment.replace(year=year)
        except ValueError:  # 29 February in a year that has none
            return moment.replace(year=year, day=28)

    def add_capped(self, moment: datetime) -> datetime:
        """:meth:`add_to`, or the last instant there is when the sum falls past
        the year 9999: for a time that a later bound (the end of retention,
        itself representable) caps anyway, as expiry and extensions are."""
        try:
            return self.add_to(moment)
        except (OverflowError, ValueError):  # ValueError: replace(year=10000)
            return datetime.max.replace(tzinfo=UTC)


NEVER = Duration(0, "never")


def parse_duration(text: object, *, allow_never: bool = True, what: str = "duration") -> Duration:
    """Parse a duration; raise :class:`DurationError` naming the accepted forms."""
    if isinstance(text, Duration):
        return text
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise DurationError(f"invalid {what} {text!r}: expected {ACCEPTED}")
    raw = str(text).strip().lower()
    if raw == "never":
        if allow_never:
            return NEVER
        raise DurationError(f"invalid {what} 'never': expected {ACCEPTED}")
    match = _FORM.match(raw)
    unit = _UNITS.get(match.group(2) or "d") if match else None
    if not match or unit is None:
        forms = ACCEPTED + (", or never" if allow_never else "")
        raise DurationError(f"invalid {what} {text!r}: expected {forms}")
    amount = int(match.group(1))
    if amount * _MINUTES[unit] > _LIMIT_MINUTES:
        raise DurationError(f"invalid {what} {text!r}: longer than 100 years")
    return Duration(amount, unit)
