"""``simulate -o csv`` and ``deliver -o csv``: a row per recipient, with the
values of the JSON form, escaped as every CSV output is."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from secmsg_cli.cli.simulation import CSV_COLUMNS
from tests.conftest import FIXTURES

MESSAGES = FIXTURES / "messages"
AT = "2026-11-27T10:00:00+00:00"
COLUMNS = [
    "source",
    "address",
    "internal",
    "route",
    "secure",
    "definition",
    "trigger",
    "policy_id",
    "policy_kind",
    "bypass_id",
    "expires",
    "latest_expiry",
    "error",
]


def table(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def expected_rows(docs: list[dict]) -> list[dict[str, str]]:
    """The rows worked out from the JSON form of the same run."""

    def cell(value) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    rows = []
    for d in docs:
        if "error" in d:
            rows.append({c: cell(d[c]) if c in ("source", "error") else "" for c in COLUMNS})
            continue
        for r in d["recipients"]:
            policy, bypass, portal = r["policy"] or {}, r["bypass"] or {}, r["portal"] or {}
            values = {
                "source": d["source"],
                "address": r["address"],
                "internal": r["internal"],
                "route": r["route"],
                "secure": r["secure"],
                "definition": r["definition"],
                "trigger": r["trigger"],
                "policy_id": policy.get("id"),
                "policy_kind": policy.get("kind"),
                "bypass_id": bypass.get("id"),
                "expires": portal.get("expires"),
                "latest_expiry": portal.get("latest_expiry"),
                "error": None,
            }
            rows.append({k: cell(v) for k, v in values.items()})
    return rows


def test_a_row_per_recipient_with_the_values_of_the_json_form(demo):
    r = demo("simulate", MESSAGES, "--at", AT, "-o", "csv")
    assert r.exit_code == 1, r.output  # 08 has no recipients
    header, rows = table(r.stdout)
    assert header == COLUMNS == list(CSV_COLUMNS)
    docs = demo("simulate", MESSAGES, "--at", AT, "-o", "json").json
    assert rows == expected_rows(docs)
    # what the rows hold, worked out from the demo: 08 is an error row, 10's
    # auditor is bypassed, 01's counsel gets a 7-day portal copy
    (error,) = [row for row in rows if row["error"]]
    assert (
        error["source"].endswith("08-no-recipient-headers.eml")
        and "no recipients" in error["error"]
    )
    assert any(row["bypass_id"] and row["route"] == "inbox" for row in rows)
    first = rows[0]
    assert (first["route"], first["secure"], first["expires"]) == (
        "portal",
        "true",
        "2026-12-04T10:00:00+00:00",
    )
    assert "message(s):" in r.stderr  # the summary, as for the other forms


def test_one_message_is_a_header_and_its_rows(demo):
    msg = next(MESSAGES.glob("03-*.eml"))
    r = demo("simulate", msg, "--at", AT, "-o", "CSV")
    assert r.exit_code == 0, r.output
    header, rows = table(r.stdout)
    assert header == COLUMNS and len(rows) == 5
    assert {row["source"] for row in rows} == {str(msg)}


def test_cells_a_spreadsheet_would_run_are_neutralised(demo, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("=HYPERLINK(1).eml").write_bytes(next(MESSAGES.glob("01-*.eml")).read_bytes())
    r = demo("simulate", "=HYPERLINK(1).eml", "--at", AT, "-o", "csv")
    assert r.exit_code == 0, r.output
    _, rows = table(r.stdout)
    assert rows[0]["source"] == "'=HYPERLINK(1).eml"


def test_against_does_not_write_csv(demo):
    r = demo("simulate", MESSAGES, "--against", FIXTURES / "demo.toml", "-o", "csv")
    assert r.exit_code == 1 and r.stderr.startswith("error: --against"), r.output
    assert r.stderr.count("\n") == 1 and r.stdout == ""


def test_deliver_writes_the_same_rows_and_the_portal_id(demo, tmp_path):
    msg = next(MESSAGES.glob("01-*.eml"))
    expected = table(demo("simulate", msg, "--at", AT, "-o", "csv").stdout)[1]
    r = demo("deliver", msg, "--at", AT, "--outbox", tmp_path / "out", "-o", "csv")
    assert r.exit_code == 0, r.output
    header, rows = table(r.stdout)
    assert header == [*COLUMNS, "portal_id"]
    assert [{k: v for k, v in row.items() if k != "portal_id"} for row in rows] == expected
    assert all(row["portal_id"] for row in rows if row["route"] == "portal")
    assert all(not row["portal_id"] for row in rows if row["route"] != "portal")


@pytest.mark.parametrize("command", ["simulate", "deliver"])
def test_help_offers_csv(demo, command):
    r = demo(command, "--help")
    assert "csv" in r.stdout
