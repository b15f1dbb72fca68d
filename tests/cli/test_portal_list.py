"""``secmsg portal list`` filters, on a store built by delivering every demo
message at a fixed time: exact copies for each filter, filters combined, the
footer's counts, and bad values refused in one line."""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURES
from tests.helpers import assert_error, ok

AT = "2026-11-28T00:00:00Z"
HERON = "<20261126091405.4A21@harborfinch.com>"  # message 01


@pytest.fixture
def delivered(demo, tmp_path):
    for message in sorted((FIXTURES / "messages").glob("*.eml")):
        demo(
            "-q",
            "deliver",
            message,
            "--outbox",
            tmp_path / "outbox",
            "--at",
            "2026-11-27T10:00:00Z",
        )
    return demo


def ids(cli, *args: str) -> list[int]:
    return [r["id"] for r in ok(cli("portal", "list", "--at", AT, "-o", "json", *args)).json]


def test_each_filter_finds_exactly_its_copies(delivered):
    cli = delivered
    assert ids(cli) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert ids(cli, "--recipient", "@ClientCo.example") == [3, 4, 5, 7]
    assert ids(cli, "--recipient", "@lexpartners.com") == [1, 2, 6]  # not mail.lexpartners.com
    assert ids(cli, "--recipient", "M.Okonkwo@lexpartners.com") == [1, 2]
    assert ids(cli, "--sender", "zoe.angstrom@harborfinch.co.uk") == [4, 5]
    assert ids(cli, "--subject", "term SHEET") == [1]
    assert ids(cli, "--subject", "100%") == []  # a literal piece, not a pattern
    assert ids(cli, "--message-id", HERON) == [1]
    assert ids(cli, "--message-id", HERON.strip("<>")) == [1]
    assert ids(cli, "--subject", "term_sheet") == []  # _ is a character, not a LIKE wildcard
    assert ids(cli, "--definition", "legal/7-day expiry, receipt") == [1, 4, 5]
    assert ids(cli, "--sent-since", "2026-11-27") == [1, 2, 3, 4, 5, 6, 7, 8]
    assert ids(cli, "--sent-since", "2026-11-28") == []
    assert ids(cli, "--sent-until", "2026-11-26") == []
    assert ids(cli, "--expires-before", "2026-12-04") == [1, 4, 5]  # the whole day
    assert ids(cli, "--expires-after", "2026-12-12") == [2, 6, 7]


def test_filters_combine_and_status_is_judged_at_the_time_given(delivered):
    cli = delivered
    assert ids(cli, "--recipient", "@clientco.example", "--expires-before", "2026-12-04") == [4, 5]
    ok(cli("portal", "recall", "5", "--at", "2026-11-27T11:00:00Z"))
    assert ids(cli, "--status", "recalled") == [5]
    assert ids(cli, "--status", "recalled", "--status", "unread") == [1, 2, 3, 4, 5, 6, 7, 8]
    late = ok(
        cli("portal", "list", "--at", "2026-12-05T00:00:00Z", "-o", "json", "--status", "expired")
    )
    assert [r["id"] for r in late.json] == [1, 4]  # 5 was recalled, not expired


def test_the_table_ends_with_the_counts_by_status(delivered):
    cli = delivered
    ok(cli("portal", "recall", "5", "--at", "2026-11-27T11:00:00Z"))
    table = ok(cli("portal", "list", "--at", AT))
    assert table.stdout.rstrip().splitlines()[-1] == "8 copies: 7 unread, 1 recalled"
    one = ok(cli("portal", "list", "--at", AT, "--message-id", HERON))
    assert one.stdout.rstrip().splitlines()[-1] == "1 copy: 1 unread"
    quiet = ok(cli("-q", "portal", "list", "--at", AT))
    assert "copies:" not in quiet.stdout
    csv_out = ok(cli("portal", "list", "--at", AT, "-o", "csv")).stdout
    assert "copies:" not in csv_out and len(csv_out.splitlines()) == 9


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--recipient", "@bad..example"), ("--recipient", "bad..example")),
        (("--sender", "not an address"), ("--sender",)),
        (("--sent-since", "last week"), ("--sent-since", "ISO date")),
        (("--expires-before", "2026-13-01"), ("--expires-before",)),
        (("--status", "lost"), ("--status", "unread")),
    ],
)
def test_bad_values_are_one_line(delivered, args, fragments):
    assert_error(delivered("portal", "list", *args), 1, *fragments)
