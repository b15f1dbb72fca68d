"""Tables for people read at 80 columns: no address, path or time is split
over lines, every column has a heading, the columns left out are named."""

from __future__ import annotations

import re

import pytest
from rich.console import Console
from rich.text import Text

from secmsg_cli.cli._output import _columns_fit, print_table, table_time
from tests.conftest import ROOT

MESSAGE = ROOT / "fixtures" / "messages" / "03-mixed-internal-external.eml"
AT = "2026-11-27T10:00:00Z"

TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")
BORDER = "│┃┏┓┗┛┡┩┣┫└┘┌┐├┤┬┴┼━─╇╋┳┻"


def cells(output: str) -> list[str]:
    """The text of the table lines, each cell on its own, in order."""
    out = []
    for line in output.splitlines():
        if line[:1] in BORDER:
            out += [c.strip() for c in re.split(f"[{BORDER}]", line) if c.strip()]
    return out


def assert_unsplit(output: str, tokens: list[str], width: int = 80) -> None:
    """Every token is whole on one line, and no line of a table is wider than
    ``width``."""
    lines = output.splitlines()
    for token in tokens:
        assert any(token in line for line in lines), f"{token!r} is split:\n{output}"
    for line in lines:
        if line[:1] in BORDER:
            assert len(line) <= width, f"wider than {width}: {line!r}"


def test_the_helper_catches_a_split_address():
    """The check itself can fail: the old layout (a folded column) fails it."""
    console = Console(width=40, file=None, record=True, force_terminal=False)
    from rich.table import Table

    table = Table()
    table.add_column("recipient", overflow="fold", width=8)
    table.add_row("j.herrera@clientco.example")
    with console.capture() as got:
        console.print(table)
    with pytest.raises(AssertionError, match="is split"):
        assert_unsplit(got.get(), ["j.herrera@clientco.example"])


def test_planner_never_gives_a_column_less_than_its_longest_word():
    headers = ["id", "recipient", "note"]
    rows = [["1", "m.okonkwo@lexpartners.com", "a few words of text that may wrap"]]
    kept, widths, whole = _columns_fit(headers, rows, 42, [])
    assert kept == [0, 1, 2]
    assert widths[1] == len("m.okonkwo@lexpartners.com")
    assert widths[2] >= len("words")
    assert whole == [True, True, False]
    assert sum(widths) + 3 * len(widths) + 1 <= 42


def test_planner_leaves_out_empty_then_named_columns_first():
    headers = ["recipient", "empty", "trigger", "definition"]
    rows = [["m.okonkwo@lexpartners.com", "", "policy", "Legal/Client Correspondence"]]
    kept, _, _ = _columns_fit(headers, rows, 50, ["trigger"])
    assert [headers[i] for i in kept] == ["recipient", "definition"]
    kept, _, _ = _columns_fit(headers, rows, 200, ["trigger"])
    assert [headers[i] for i in kept] == headers


def test_a_table_too_wide_for_the_terminal_is_printed_wider_not_cut():
    console = Console(width=30, record=True)
    with console.capture() as got:
        print_table(console, ["address"], [[Text("someone.with.a.long.name@example.com")]])
    assert_unsplit(got.get(), ["someone.with.a.long.name@example.com"], width=50)


def test_times_read_as_the_account_shows_them():
    assert table_time("2026-12-04T10:00:00+00:00") == "2026-12-04 10:00"
    assert table_time("2026-12-04T10:00:00.123456+01:00") == "2026-12-04 10:00"
    assert table_time("not a time 2026-12-04T10:00:00") == "not a time 2026-12-04T10:00:00"


@pytest.mark.parametrize("explain", [False, True])
def test_simulate_at_80_columns(demo, monkeypatch, explain):
    monkeypatch.setenv("COLUMNS", "80")
    args = ["simulate", str(MESSAGE), "--at", AT] + (["--explain"] if explain else [])
    r = demo(*args)
    assert r.exit_code == 0, r.stderr
    addrs = [
        r["address"]
        for r in demo("simulate", str(MESSAGE), "--at", AT, "-o", "json").json["recipients"]
    ]
    assert "j.herrera@clientco.example" in addrs
    # the recipients, the definition's path, the portal record's times
    assert_unsplit(
        r.stdout,
        [*addrs, "Legal/Client", "2026-12-27 10:00", "external", "internal"],
    )
    got = cells(r.stdout)
    assert "side" in got  # internal/external under a heading of its own
    assert "left out at this width:" in r.stdout
    if explain:
        assert "explanation for j.herrera@clientco.example" in r.stdout


@pytest.mark.parametrize(
    ("args", "tokens"),
    [
        (["definition", "list"], ["Legal/Restricted/Privileged, No Print, 12 Hours"]),
        (["policy", "list"], ["Legal/Client"]),
        (["audit"], []),
    ],
)
def test_lists_at_80_columns(demo, monkeypatch, args, tokens):
    monkeypatch.setenv("COLUMNS", "80")
    r = demo(*args)
    assert r.exit_code == 0, r.stderr
    assert_unsplit(r.stdout, tokens + TIME.findall(r.stdout))
    for cell in cells(r.stdout):
        assert not re.fullmatch(r"\d\d:\d\d|\d{4}-\d\d-\d\d", cell) or TIME.search(r.stdout)


def test_portal_list_and_audit_after_deliver(demo, monkeypatch, tmp_path):
    r = demo("deliver", str(MESSAGE), "--at", AT, "--outbox", str(tmp_path / "outbox"))
    assert r.exit_code == 0, r.stderr
    monkeypatch.setenv("COLUMNS", "80")
    r = demo("portal", "list", "--at", AT)
    assert r.exit_code == 0, r.stderr
    assert_unsplit(r.stdout, ["m.okonkwo@lexpartners.com", "2026-12-27 10:00"])
    assert "T10:00:00" not in r.stdout
    r = demo("audit")
    assert r.exit_code == 0, r.stderr
    assert_unsplit(r.stdout, ["<0a1b2c3d4e5f.farah@harborfinch.com>"])
    assert TIME.search(r.stdout)


# --- hints on an empty store ---------------------------------------------------


def test_simulate_warns_once_when_no_domain_is_internal(cli):
    r = cli("simulate", str(MESSAGE), "--at", AT, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert r.stderr.count("warning: the store has no internal domains") == 1
    assert "secmsg domain add" in r.stderr
    assert all(not rec["internal"] for rec in r.json["recipients"])


def test_simulate_says_nothing_when_domains_are_registered(demo):
    r = demo("simulate", str(MESSAGE), "--at", AT, "-o", "json")
    assert r.exit_code == 0, r.stderr
    assert "internal domains" not in r.stderr


def test_test_without_config_on_a_store_without_policies_suggests_config(cli):
    cases = ROOT / "fixtures" / "cases.toml"
    r = cli("test", str(cases))
    assert "give --config FILE" in r.stderr
    assert r.stderr.count("warning:") == 1
    r = cli("test", str(cases), "--config", str(ROOT / "fixtures" / "demo.toml"))
    assert r.exit_code == 0, r.stderr
    assert "--config FILE" not in r.stderr
