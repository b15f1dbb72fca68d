"""Durations of docs/configuration.md: ``90m``, ``12h``, ``7d``, ``2w``, ``1y``, ``7 days``,
a bare number of days, or ``never``. Pure.

The value, :class:`~secmsg_cli.model.Duration`, is part of the model (a
definition holds two); this module reads it from text. ``Duration`` and
``NEVER`` are re-exported here for callers that parse and hold durations."""

from __future__ import annotations

import re

from secmsg_cli.model import DURATION_MINUTES as _MINUTES
from secmsg_cli.model import NEVER, Duration

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
_LIMIT_MINUTES = 100 * 366 * 1440  # nothing in this product lasts beyond a century
_FORM = re.compile(
    r"^\s*([0-9]{1,9})\s*([a-z]*)\s*$"
)  # ASCII digits only (\d matches any Unicode digit)


class DurationError(ValueError):
    """A text that is not a duration; the message names the accepted forms."""


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
