"""Text from a message reaches the terminal escaped (SPEC §7.4): a subject,
a display name, a Message-ID, a body or an attachment name carrying ESC
sequences (colours, OSC window titles and hyperlinks), a bare CR, BEL, C1
controls or Unicode bidi overrides is shown with those characters written as
``\\x1b``, ``\\u202e``... by ``portal open``, ``portal list``, ``portal
show``, ``portal reply``, ``deliver`` and ``audit``. Machine output (JSON)
keeps the text as it is; the body keeps its newlines and tabs."""

from __future__ import annotations

import base64
import os
from datetime import UTC

import pytest

from secmsg_cli.cli._values import printable
from tests.delivery._helpers import T0, build_store, tokens, write_message
from tests.helpers import ok

ESC = "\x1b"
# Everything that changes what a terminal shows, or hides what it shows.
RAW = ("\x1b", "\x07", "\x9b", "\r", "\u202e", "\u2066", "\u200f", "\u2028")

SUBJECT = (
    f"Invoice {ESC}[31mred{ESC}]0;pwned\x07 {ESC}]8;;http://evil.test/{ESC}\\link{ESC}]8;;{ESC}\\ "
    "\x9b2J \u202eexe.pdf"
)
NAME = f"Alice {ESC}[5mBlink\u2066"
BODY = f"Line one\twith a tab\nclear {ESC}[2J screen\rCR here\n{ESC}]0;title\x07 end \u202egnp.exe\u2028x\n"
EVIL = f'"ev{ESC}[31mil"@partner.test'  # a quoted local part may hold any character but " \\ CR LF
FILENAME_2231 = "evil%1B%5B31m%E2%80%AEfdp.exe"  # evil ESC[31m RLO fdp.exe


def _words(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


def hostile_message() -> bytes:
    return (
        f"From: {_words(NAME)} <alice@example.com>\n"
        f"To: {_words('Bob ' + ESC + '[1mBold')} <bob@partner.test>, carol@partner.test, {EVIL}\n"
        f"Subject: {_words(SUBJECT)}\n"
        f"Message-ID: <evil{ESC}[31m@example.com>\n"
        "Date: Fri, 27 Nov 2026 09:58:00 +0000\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(BODY.encode()).decode()
        + f"--b\nContent-Type: application/octet-stream\n"
        f"Content-Disposition: attachment; filename*=utf-8''{FILENAME_2231}\n"
        "Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(b"data").decode() + "--b--\n"
    ).encode()


def assert_clean(text: str) -> None:
    found = sorted({repr(c) for c in RAW if c in text})
    assert not found, (found, text)


# --- printable ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("plain text, ümlaut, 漢字", "plain text, ümlaut, 漢字"),
        (f"{ESC}[31mred", "\\x1b[31mred"),
        ("a\rb\x07c\x00d\x7f", "a\\x0db\\x07c\\x00d\\x7f"),
        ("C1 \x9b2J \x85", "C1 \\x9b2J \\x85"),
        ("invoice\u202efdp.exe", "invoice\\u202efdp.exe"),  # right-to-left override
        ("\u2066isolate\u2069 \u200e\u200f\u061c", "\\u2066isolate\\u2069 \\u200e\\u200f\\u061c"),
        ("zero\u200bwidth\u2060join\ufeff", "zero\\u200bwidth\\u2060join\\ufeff"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("tag \U000e0041", "tag \\U000e0041"),
        ("lone \udcff surrogate", "lone \\udcff surrogate"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        # what writing needs stays: the soft hyphen, and the joiners of emoji and several scripts
        ("Stra\u00adße 👩\u200d💻 می\u200cخواهم", "Stra\u00adße 👩\u200d💻 می\u200cخواهم"),
    ],
    ids=[
        "plain",
        "esc",
        "c0",
        "c1",
        "rlo",
        "bidi",
        "invisible",
        "separators",
        "tag",
        "surrogate",
        "tab-newline",
        "joiners",
    ],
)
def test_printable_escapes_controls_and_invisible_format_characters(raw, shown):
    assert printable(raw) == shown
    assert printable(shown) == shown  # nothing left to escape


def test_one_line_also_escapes_newlines():
    assert printable("a\nb\tc", one_line=True) == "a\\x0ab\tc"
    assert printable("a\nb") == "a\nb"


# --- the commands ---------------------------------------------------------------------------


@pytest.fixture
def hostile(cli, tmp_path, _isolated_store):
    build_store(_isolated_store)
    outbox = tmp_path / "outbox"
    msg = write_message(tmp_path, hostile_message(), "hostile.eml")
    r = ok(cli("deliver", msg, "--definition", "T/Open", "--at", T0, "--outbox", outbox))
    return cli, outbox, r


def test_deliver_table_output_is_escaped(hostile):
    _, _, r = hostile
    assert_clean(r.stdout + r.stderr)
    assert "\\x1b[31mred" in r.stdout and '"ev\\x1b[31mil"@partner.test' in r.stdout


def test_portal_open_escapes_headers_body_and_attachment_names(hostile, tmp_path):
    cli, outbox, _ = hostile
    r = ok(
        cli(
            "portal",
            "open",
            tokens(outbox)["bob@partner.test"],
            "--at",
            "2026-11-27T11:00:00Z",
            "--outbox",
            outbox,
        )
    )
    assert_clean(r.stdout + r.stderr)
    assert "From:    Alice \\x1b[5mBlink\\u2066 <alice@example.com>\n" in r.stdout
    assert (
        'To:      Bob \\x1b[1mBold <bob@partner.test>, carol@partner.test, "ev\\x1b[31mil"@partner.test\n'
        in r.stdout
    )
    assert "Subject: Invoice \\x1b[31mred\\x1b]0;pwned\\x07 \\x1b]8;;http://evil.test/" in r.stdout
    # the body keeps its lines and tabs, but not ESC, CR, BEL or the override
    assert (
        "Line one\twith a tab\nclear \\x1b[2J screen\\x0dCR here\n\\x1b]0;title\\x07 end \\u202egnp.exe"
        "\\u2028x\n"
    ) in r.stdout
    assert "  evil\\x1b[31m\\u202efdp.exe (application/octet-stream, 4 bytes)" in r.stdout


def test_portal_open_json_keeps_the_text_as_it_is(hostile):
    cli, outbox, _ = hostile
    doc = ok(
        cli(
            "portal",
            "open",
            tokens(outbox)["bob@partner.test"],
            "--at",
            "2026-11-27T11:00:00Z",
            "--outbox",
            outbox,
            "-o",
            "json",
        )
    ).json
    assert doc["text"] == BODY.replace("\r\n", "\n")
    assert doc["attachments"][0]["filename"] == "evil\x1b[31m\u202efdp.exe"


def test_an_attachment_name_cannot_start_a_line_of_its_own(cli, tmp_path, _isolated_store):
    build_store(_isolated_store)
    outbox = tmp_path / "outbox"
    msg = (
        b"From: alice@example.com\nTo: bob@partner.test\nSubject: s\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nbody\n'
        b"--b\nContent-Type: application/octet-stream\n"
        b"Content-Disposition: attachment; filename*=utf-8''ok.txt%0A%20%20invoice.pdf\n\ndata\n--b--\n"
    )
    ok(
        cli(
            "deliver",
            write_message(tmp_path, msg),
            "--definition",
            "T/Open",
            "--at",
            T0,
            "--outbox",
            outbox,
        )
    )
    r = ok(
        cli(
            "portal",
            "open",
            tokens(outbox)["bob@partner.test"],
            "--at",
            "2026-11-27T11:00:00Z",
            "--outbox",
            outbox,
        )
    )
    assert "\n  invoice.pdf" not in r.stdout
    assert "\n  ok.txt\\x0a  invoice.pdf (application/octet-stream, 4 bytes)\n" in r.stdout


@pytest.mark.parametrize(
    "args",
    [("portal", "list"), ("portal", "show", "1"), ("portal", "show", "2"), ("audit",)],
    ids=["list", "show", "show-unread", "audit"],
)
def test_listings_are_escaped(hostile, args):
    cli, _, _ = hostile
    r = ok(cli(*args, "--at", T0) if args[0] == "portal" else cli(*args))
    assert_clean(r.stdout + r.stderr)
    assert "\\x1b[31m" in r.stdout


def test_portal_reply_and_recall_confirmations_are_escaped(hostile):
    cli, outbox, _ = hostile
    r = ok(
        cli(
            "portal",
            "reply",
            tokens(outbox)["bob@partner.test"],
            "--all",
            "--body",
            "ok",
            "--at",
            "2026-11-27T11:00:00Z",
            "--outbox",
            outbox,
        )
    )
    assert_clean(r.stdout + r.stderr)
    assert '"ev\\x1b[31mil"@partner.test' in r.stdout  # cc
    evil = {c["recipient"]: c["id"] for c in ok(cli("portal", "list", "-o", "json")).json}[EVIL]
    r = ok(cli("portal", "recall", str(evil), "--at", "2026-11-27T11:00:00Z"))
    assert_clean(r.stdout + r.stderr)
    assert '"ev\\x1b[31mil"@partner.test' in r.stdout


def test_portal_print_writes_no_control_characters(hostile, tmp_path):
    """The printable page goes to the terminal by default, and a browser would obey a bidi override too."""
    cli, outbox, _ = hostile
    token = tokens(outbox)["bob@partner.test"]
    r = ok(cli("portal", "print", token, "--at", "2026-11-27T11:00:00Z", "--outbox", outbox))
    assert_clean(r.stdout + r.stderr)
    assert "<title>Invoice \\x1b[31mred" in r.stdout and "evil\\x1b[31m\\u202efdp.exe" in r.stdout
    page = tmp_path / "page.html"
    ok(
        cli(
            "portal",
            "print",
            token,
            "--out",
            page,
            "--at",
            "2026-11-27T11:00:00Z",
            "--outbox",
            outbox,
        )
    )
    assert page.read_text(encoding="utf-8") == r.stdout


def test_an_error_naming_a_recipient_is_escaped(hostile):
    """Refusals name the copy's recipient, an address from the message."""
    from datetime import datetime

    from secmsg_cli.store.store import Store

    cli, _, _ = hostile
    evil = {c["recipient"]: c["id"] for c in ok(cli("portal", "list", "-o", "json")).json}[EVIL]
    store = Store(os.environ["SECMSG_DB"])
    try:
        with store.transaction():
            store.portal_records.set_portal_read(evil, datetime(2026, 11, 27, 10, 30, tzinfo=UTC))
    finally:
        store.close()
    r = cli("portal", "recall", str(evil), "--at", "2026-11-27T11:00:00Z")
    assert r.exit_code == 1 and r.stderr.count("\n") == 1, r.output
    assert_clean(r.stderr)
    assert (
        f'error: cannot recall portal copy {evil}: "ev\\x1b[31mil"@partner.test opened it'
        in r.stderr
    )


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("\x1b]0;pwned\x07 subject", "\\x1b]0;pwned\\x07 subject"),
        ("right\u202eto left", "right\\u202eto left"),
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1 (555)", "'+1 (555)"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
        ("-42", "-42"),
        ("-4.5", "-4.5"),
        ("-1e3", "-1e3"),
        # a minus and a digit start a formula as well as a number: only a
        # number stays as written (Excel runs -1+cmd|... as a DDE formula)
        ("-1+cmd|' /C calc'!A0", "'-1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("- 2+cmd|' /C calc'!A0", "'- 2+cmd|' /C calc'!A0"),
        ("- a note", "'- a note"),
        ("-", "-"),
        ("line one\nline two", "line one\nline two"),
        ("plain", "plain"),
    ],
)
def test_csv_cells_are_escaped_for_terminals_and_spreadsheets(value, cell):
    from secmsg_cli.cli._output import csv_text

    assert csv_text(value) == cell
