"""Golden tests: the full ``secmsg simulate -o json`` of every demo message
(fixtures/messages/) against fixtures/demo.toml, plus context options that make
the demo's other policies fire. Each golden file in tests/golden/ is a reviewed
statement of correct behaviour (SPEC §4-§8), not a snapshot: the case list
below says, per case, what the golden shows and why.

Regenerate after an intended change, then read every diff before committing::

    SECMSG_UPDATE_GOLDEN=1 pytest tests/cli/test_simulate_golden.py

(updated cases are reported as skipped; run again without the variable to
check). The commands run from the project root with relative paths, so
``source`` is e.g. ``fixtures/messages/01-confidential-subject-to-counsel.eml``
wherever the project is checked out.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
AT = "2026-11-27T10:00:00+00:00"
AUDIT_SEASON = "2027-02-01T10:00:00Z"
RESTRICTED = "Legal/Restricted/Privileged, No Print, 12 Hours"
# 08 has no recipient headers; its README gives the intended envelope.
AUDITORS = (
    "--rcpt",
    "olivia.grant@ledgerline-audit.com",
    "--rcpt",
    "samir.haddad@ledgerline-audit.com",
    "--rcpt",
    "ben.okafor@harborfinch.com",
)


def m(name: str) -> str:
    (found,) = (FIXTURES / "messages").glob(f"{name}-*.eml")
    return found.relative_to(ROOT).as_posix()


# (golden name, arguments after `simulate`, expected exit code, what it shows)
CASES = [
    (
        "01-confidential-subject-to-counsel",
        [m("01"), "--at", AT],
        0,
        "content policy 7 (subject 'Confidential') beats policy 1: 7-Day Expiry, expires +7d, latest +21d",
    ),
    (
        "02-internal-only",
        [m("02"), "--at", AT],
        0,
        "internal recipients only: no policy applies (direction), nothing fires, all inbox",
    ),
    (
        "03-mixed-internal-external",
        [m("03"), "--at", AT],
        0,
        "5 unique recipients; only m.okonkwo is secured (policy 1, Client Correspondence)",
    ),
    (
        "04-finance-card-number-attachment",
        [m("04"), "--at", AT],
        0,
        "Luhn-valid card in the attachment: content policy 8 (score 5) beats policy 3: Statements, 2 Weeks",
    ),
    (
        "05-envelope-differs-from-header",
        [m("05"), "--at", AT],
        0,
        "billing relay 198.51.100.77 is outside policy 3's networks: not secured",
    ),
    (
        "06-rfc2047-non-ascii-names",
        [m("06"), "--at", AT],
        0,
        "decoded subject fires policy 7 for all three; evan gets the custom banner with decoded name",
    ),
    (
        "07-reply-thread",
        [m("07"), "--at", AT],
        0,
        "IPv6 source; policy 1 for r.santos; 'confidentiality' does not fire policy 7",
    ),
    (
        "08-no-recipient-headers",
        [m("08"), "--at", AT, *AUDITORS],
        0,
        "envelope from --rcpt: policy 3 for the auditors (policy 4 not active yet), ben not secured",
    ),
    (
        "08-no-recipient-headers.no-rcpt",
        [m("08"), "--at", AT],
        1,
        "without --rcpt: an error object, exit 1",
    ),
    (
        "09-multipart-alternative-html",
        [m("09"), "--at", AT],
        0,
        "'Privileged & Confidential' in the HTML part fires content policy 9: Client Correspondence",
    ),
    (
        "10-board-to-auditor-pdf",
        [m("10"), "--at", AT],
        0,
        "bypass 6 matches olivia, nothing to remove out of audit season: not secured",
    ),
    (
        "11-inbound-from-client",
        [m("11"), "--at", AT],
        0,
        "inbound from an external sender: no policy and no content policy applies",
    ),
    (
        "12-subdomain-recipient-iban",
        [m("12"), "--at", AT],
        0,
        "policy 3 (group Finance, from rank 4) beats policy 2 (*.lexpartners.com, from rank 2)",
    ),
    # --- context options that make the demo's other policies fire ---
    (
        "08-audit-season.finance-policy-wins",
        [m("08"), "--at", AUDIT_SEASON, *AUDITORS, "--explain"],
        0,
        "policy 4 is active but less specific than policy 3 (from rank 4 > 2): Statements, 2 Weeks",
    ),
    (
        "08-audit-season.policy-4",
        [m("08"), "--at", AUDIT_SEASON, *AUDITORS, "--source-ip", "198.51.100.40"],
        0,
        "outside the office network policy 3 drops out: policy 4, Audit Evidence, 1 Year",
    ),
    (
        "10-audit-season.bypass-6",
        [m("10"), "--at", AUDIT_SEASON, "--explain"],
        0,
        "bypass 6 (Board -> Role=Auditor) removes policy 4 for olivia: not secured",
    ),
    (
        "10-board-chooses-restricted",
        [m("10"), "--at", AT, "--definition", RESTRICTED],
        0,
        "user trigger via Outlook: olivia portal 12h, ben inbox with the standard banner",
    ),
    (
        "10-board-chooses-restricted.gateway",
        [m("10"), "--at", AT, "--definition", RESTRICTED, "--via", "gateway"],
        0,
        "same via the gateway: ben gets the custom banner with every tag filled",
    ),
    (
        "12-outside-office-network",
        [m("12"), "--at", AT, "--source-ip", "198.51.100.40"],
        0,
        "policy 2 (*.lexpartners.com): External Recipients, never expires = +2555 days",
    ),
    (
        "07-it-administrator",
        [m("07"), "--at", AT, "--mail-from", "ivan.petrov@harborfinch.com"],
        0,
        "policy 5 (Role=Administrator, no-action) decides: not secured, policy 5 reported",
    ),
    (
        "05-from-office-network",
        [m("05"), "--at", AT, "--source-ip", "203.0.113.25", "--explain"],
        0,
        "policy 3 from_part both: envelope and header both Finance, header From reported",
    ),
    (
        "03-all-recipients.gateway",
        [m("03"), "--at", AT, "--definition", "Default/All Recipients", "--via", "gateway"],
        0,
        "All Recipients not via Outlook: internal recipients in the portal too, never expiring, unrestricted",
    ),
    (
        "02-hr-silent",
        [
            m("02"),
            "--at",
            AT,
            "--definition",
            "HR/Personnel, Silent",
            "--via",
            "gateway",
            "--rcpt",
            "henry.cole@harborfinch.com",
            "--rcpt",
            "k.brennan@gmail.com",
        ],
        0,
        "mc-sm-hide banner: henry's inbox copy has no banner; k.brennan portal 30d",
    ),
]


def _update() -> bool:
    return os.environ.get("SECMSG_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize(
    ("name", "args", "exit_code"), [c[:3] for c in CASES], ids=[c[0] for c in CASES]
)
def test_golden(demo, monkeypatch, name, args, exit_code):
    monkeypatch.chdir(ROOT)
    r = demo("simulate", *args, "-o", "json")
    assert r.exit_code == exit_code, r.output
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.output
    got = json.loads(r.stdout)
    path = GOLDEN / f"{name}.json"
    if _update():
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        pytest.skip(
            f"golden file {path.name} written: review it, then run again without SECMSG_UPDATE_GOLDEN"
        )
    assert path.exists(), (
        f"no golden file {path}: run SECMSG_UPDATE_GOLDEN=1 pytest {Path(__file__).name}"
    )
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert got == expected


def test_every_demo_message_has_a_golden_case():
    names = {c[0].split(".")[0] for c in CASES}
    messages = {p.stem for p in (FIXTURES / "messages").glob("*.eml")}
    assert messages <= names, sorted(messages - names)


def test_every_golden_file_has_a_case():
    files = {p.stem for p in GOLDEN.glob("*.json")}
    assert files == {c[0] for c in CASES}, sorted(files ^ {c[0] for c in CASES})


def test_no_recipient_error_is_stated():
    """The error for 08 without --rcpt says what is missing and how to give it."""
    doc = json.loads((GOLDEN / "08-no-recipient-headers.no-rcpt.json").read_text(encoding="utf-8"))
    assert set(doc) == {"schema_version", "source", "error"}
    assert "no recipients" in doc["error"] and "--rcpt" in doc["error"]
