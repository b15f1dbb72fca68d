"""Durations of SPEC §3.2: `90m`, `12h`, `7d`, `2w`, `1y`, `7 days`, a bare
number (days) or `never`; anything else names the accepted forms."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secmsg_cli.engine.durations import NEVER, Duration, DurationError, parse_duration

PARSED = [
    ("90m", Duration(90, "m")),
    ("12h", Duration(12, "h")),
    ("7d", Duration(7, "d")),
    ("2w", Duration(2, "w")),
    ("1y", Duration(1, "y")),
    ("7 days", Duration(7, "d")),
    ("1 day", Duration(1, "d")),
    ("3 weeks", Duration(3, "w")),
    ("2 hours", Duration(2, "h")),
    ("45 minutes", Duration(45, "m")),
    ("5 years", Duration(5, "y")),
    ("7", Duration(7, "d")),
    ("0", Duration(0, "d")),
    (" 14D ", Duration(14, "d")),
    ("7Days", Duration(7, "d")),
    (30, Duration(30, "d")),
    ("never", NEVER),
    ("Never", NEVER),
    (" NEVER ", NEVER),
]


@pytest.mark.parametrize(
    ("text", "expected"), PARSED, ids=[str(t).strip() or "blank" for t, _ in PARSED]
)
def test_accepted_forms(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("duration", "text"),
    [(Duration(7, "d"), "7d"), (Duration(90, "m"), "90m"), (NEVER, "never")],
    ids=["days", "minutes", "never"],
)
def test_str_is_the_canonical_form(duration, text):
    assert str(duration) == text
    assert parse_duration(text) == duration


REJECTED = [
    "",
    " ",
    "7x",
    "d",
    "-1d",
    "+1d",
    "1.5d",
    "1,5d",
    "7 dayz",
    "seven days",
    "7d12h",
    "7d 12h",
    "1e3",
    "0x10",
    "٣d",
    "７d",
    "never ever",
    "1000000000d",
    "101y",
    "5300w",
    "52704001m",
    "∞",
]


@pytest.mark.parametrize("text", REJECTED, ids=[repr(t) for t in REJECTED])
def test_rejected_forms_name_the_accepted_ones(text):
    with pytest.raises(DurationError) as info:
        parse_duration(text, what="expire_after")
    message = str(info.value)
    assert message.startswith("invalid expire_after ")
    assert repr(text) in message
    if "longer than 100 years" not in message:
        assert "90m, 12h, 7d, 2w, 1y or '7 days'" in message and "bare number is days" in message
        assert "or never" in message


@pytest.mark.parametrize("value", [None, True, 1.5, ["7d"]], ids=["none", "bool", "float", "list"])
def test_non_text_values_are_rejected(value):
    with pytest.raises(DurationError, match="expected a number with a unit"):
        parse_duration(value)


def test_never_can_be_refused():
    with pytest.raises(DurationError) as info:
        parse_duration("never", allow_never=False, what="max_extension")
    assert "invalid max_extension 'never'" in str(info.value)
    assert "or never" not in str(info.value)


def test_a_century_is_the_limit():
    assert parse_duration("100y") == Duration(100, "y")
    assert parse_duration("36600d") == Duration(36600, "d")
    with pytest.raises(DurationError, match="longer than 100 years"):
        parse_duration("36601d")


def test_add_to():
    t = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
    assert Duration(90, "m").add_to(t) == datetime(2026, 1, 31, 13, 30, tzinfo=UTC)
    assert Duration(12, "h").add_to(t) == datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
    assert Duration(2, "w").add_to(t) == datetime(2026, 2, 14, 12, 0, tzinfo=UTC)
    assert Duration(1, "y").add_to(t) == datetime(2027, 1, 31, 12, 0, tzinfo=UTC)
    leap = datetime(2028, 2, 29, tzinfo=UTC)
    assert Duration(1, "y").add_to(leap) == datetime(2029, 2, 28, tzinfo=UTC)
    assert Duration(4, "y").add_to(leap) == datetime(2032, 2, 29, tzinfo=UTC)
    with pytest.raises(ValueError):
        NEVER.add_to(t)


def test_approx_minutes_orders_durations():
    ordered = ["90m", "12h", "1d", "2w", "1y"]
    minutes = [parse_duration(t).approx_minutes for t in ordered]
    assert minutes == sorted(minutes) == [90, 720, 1440, 20160, 525600]
    assert NEVER.approx_minutes == 0


@given(st.text(max_size=30))
def test_any_text_parses_or_raises_duration_error(text):
    try:
        d = parse_duration(text)
    except DurationError as exc:
        assert "invalid duration" in str(exc)
        return
    assert parse_duration(str(d)) == d  # the canonical form reads back the same


@given(
    st.integers(min_value=0, max_value=36600),
    st.sampled_from(["m", "h", "d", "w", "y", " days", " weeks"]),
)
def test_number_and_unit_round_trip(amount, unit):
    try:
        d = parse_duration(f"{amount}{unit}")
    except DurationError as exc:
        assert "longer than 100 years" in str(exc)
        return
    assert d.amount == amount
    assert parse_duration(str(d)) == d


@pytest.mark.parametrize("duration", ["100y", "36500d", "5000w", "1d"])
def test_add_capped_stops_at_the_last_instant_there_is(duration):
    d = parse_duration(duration)
    late = datetime(9999, 12, 31, 12, 0, tzinfo=UTC)
    assert d.add_capped(late) == datetime.max.replace(tzinfo=UTC)
    with pytest.raises((OverflowError, ValueError)):
        d.add_to(late)
    early = datetime(2026, 1, 1, tzinfo=UTC)
    assert d.add_capped(early) == d.add_to(early)
