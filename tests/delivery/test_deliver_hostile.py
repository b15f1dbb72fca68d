"""``deliver`` delivers every message that ``simulate`` decides (SPEC §7.4,
§11): the real-world corpus, 8-bit file names, deep nesting and megabytes of
encoded words. The inbox copy is the original bytes with only the stamped
body parts and the top-level header block replaced, so nothing in it is
re-generated (no recursion per nesting level, no refolding of hostile
headers); the notifications are written with a linear folder.

The large cases run ``secmsg`` in a subprocess with a generous timeout: a
hang detector, not a timing assertion. Their messages are generated here.
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from secmsg_cli.delivery import compose, mime
from secmsg_cli.engine.message import MAX_NESTING, decode_header_words
from tests.cli._simulate_support import db  # noqa: F401 (a fixture)
from tests.conftest import CORPUS
from tests.delivery._helpers import T0

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 600  # seconds: a safety net against hangs, not a timing test
SENDER = "ben.okafor@harborfinch.com"
EXTERNAL, INTERNAL = "k.brennan@gmail.com", "alice.morgan@harborfinch.com"
# every recipient secure: the external one in the portal, the internal one
# in the inbox with the definition's custom banner (via the gateway)
CONTEXT = (
    "--mail-from",
    SENDER,
    "--rcpt",
    EXTERNAL,
    "--rcpt",
    INTERNAL,
    "--definition",
    "Finance/Statements, 2 Weeks",
    "--via",
    "gateway",
    "--at",
    T0,
)
BANNER = SimpleNamespace(html='<div class="b">BANNER-HTML</div>', text="BANNER-TEXT")

CORPUS_FILES = sorted(CORPUS.rglob("*.eml")) if CORPUS.is_dir() else []


def _run(db: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SECMSG_ACTOR="tester")
    env.pop("SECMSG_DEBUG", None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "secmsg_cli", "-q", "--db", str(db), *args],
        capture_output=True,
        timeout=TIMEOUT,
        env=env,
    )


def _deliver(db: Path, outbox: Path, path: Path) -> dict:
    r = _run(db, "deliver", str(path), *CONTEXT, "--outbox", str(outbox), "-o", "json")
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 0, err[-3000:] + r.stdout.decode("utf-8", "replace")[-3000:]
    assert err == ""
    return json.loads(r.stdout)


def _inbox_copy(outbox: Path) -> bytes:
    [path] = [
        p for p in (outbox / "new").iterdir() if b"X-Secmsg-Kind: inbox-copy" in p.read_bytes()
    ]
    return path.read_bytes()


def _header(data: bytes, name: str) -> str:
    """A top-level header of ``data``, unfolded and RFC 2047 decoded (linear)."""
    root = mime.walk(data, 0)
    [value] = [mime.field_value(data, s) for s in root.fields if s[0] == name.lower()]
    return decode_header_words(value)[0]


# --- the real-world corpus -----------------------------------------------------------------


@pytest.mark.slow  # the whole corpus
@pytest.mark.skipif(not CORPUS_FILES, reason=f"the shared corpus is absent ({CORPUS})")
def test_every_corpus_message_that_simulate_decides_is_delivered(demo, tmp_path):
    simulated = demo("simulate", CORPUS, *CONTEXT, "-o", "jsonl")
    decided = {
        d["source"]: d for d in map(json.loads, simulated.stdout.splitlines()) if "error" not in d
    }
    assert len(decided) >= len(CORPUS_FILES) - 5, (
        simulated.stderr
    )  # nearly all of them are decidable
    outbox = tmp_path / "outbox"
    # some corpus messages share a Message-ID (the same mail with CRLF and LF line ends)
    r = demo("deliver", CORPUS, *CONTEXT, "--again", "--outbox", outbox, "-o", "jsonl")
    delivered = {d["source"]: d for d in map(json.loads, r.stdout.splitlines())}
    failed = {s: delivered[s]["error"] for s in decided if "error" in delivered[s]}
    assert failed == {}
    assert r.exit_code == (0 if len(decided) == len(delivered) else 1), r.stderr
    for source, doc in decided.items():
        got = delivered[source]
        assert [(x["address"], x["route"], x["secure"]) for x in got["recipients"]] == [
            (x["address"], x["route"], x["secure"]) for x in doc["recipients"]
        ]
        assert sorted(f["kind"] for f in got["outbox"]) == ["inbox-copy", "notification"], source
    # every inbox copy reads back, with the definition's banner
    copies = [p.read_bytes() for p in (outbox / "new").iterdir()]
    copies = [c for c in copies if b"X-Secmsg-Kind: inbox-copy" in c]
    assert len(copies) == len(decided)
    for data in copies:
        assert "was delivered securely" in compose.read_view(data).text


@pytest.mark.skipif(not CORPUS_FILES, reason=f"the shared corpus is absent ({CORPUS})")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_a_corpus_copy_keeps_every_attachment_and_shows_the_banner(path):
    raw = path.read_bytes()
    copy = compose.stamp_banner(raw, BANNER, INTERNAL)
    before, after = compose.read_view(raw), compose.read_view(copy)
    assert [(a.filename, a.content_type, a.data) for a in after.attachments] == [
        (a.filename, a.content_type, a.data) for a in before.attachments
    ]
    assert "BANNER-TEXT" in after.text or "BANNER-HTML" in after.text
    parsed = email.message_from_bytes(copy, policy=email.policy.compat32)
    assert parsed["X-Secmsg-Envelope-To"] == INTERNAL and parsed["Bcc"] is None


# --- 8-bit and undecodable file names ----------------------------------------------------------

EIGHT_BIT = (
    b"From: ben.okafor@harborfinch.com\nTo: k.brennan@gmail.com\nSubject: files\nMessage-ID: <8bit@x>\n"
    b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n'
    b"--B\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
    b"Caf=E9 attached.\n"
    b"--B\nContent-Type: text/plain; name=ci\xe9le.txt\nContent-Disposition: attachment;\n\tfilename=ci\xe9le.txt\n\n"
    b"Latin-1 name\n"
    b'--B\nContent-Type: application/pdf; name="r\xc3\xa9sum\xc3\xa9.pdf"\n'
    b'Content-Disposition: attachment; filename="r\xc3\xa9sum\xc3\xa9.pdf"\nContent-Transfer-Encoding: base64\n\n'
    + base64.encodebytes(b"%PDF-\x00\xff\xfe binary")
    + b"--B\nContent-Type: application/octet-stream\n"
    b"Content-Disposition: attachment; filename*=utf-8''%FF%FE%C3%A9.bin\n\n"
    b"undecodable RFC 2231 name\n"
    b"--B--\n"
)


def test_eight_bit_and_undecodable_file_names_are_delivered(db, tmp_path):
    path = tmp_path / "8bit.eml"
    path.write_bytes(EIGHT_BIT)
    outbox = tmp_path / "outbox"
    doc = _deliver(db, outbox, path)
    assert {f["kind"] for f in doc["outbox"]} == {"inbox-copy", "notification"}
    copy = _inbox_copy(outbox)
    # the attachments' header fields and bytes are those of the original
    for raw_field in (
        b"filename=ci\xe9le.txt",
        b'filename="r\xc3\xa9sum\xc3\xa9.pdf"',
        b"%FF%FE%C3%A9.bin",
    ):
        assert raw_field in copy
    view = compose.read_view(copy)
    assert [a.filename for a in view.attachments] == [
        "ciéle.txt",
        "résumé.pdf",
        "\ufffd\ufffdé.bin",
    ]
    assert [a.data for a in view.attachments] == [
        a.data for a in compose.read_view(EIGHT_BIT).attachments
    ]
    assert view.attachments[1].data == b"%PDF-\x00\xff\xfe binary"
    assert "Café attached." in view.text and "was delivered securely" in view.text


# --- deep nesting ---------------------------------------------------------------------------------


def _nested(depth: int, text: bytes = b"privileged & confidential\n") -> bytes:
    out = [
        b"From: ben.okafor@harborfinch.com\nTo: k.brennan@gmail.com\nSubject: nest\nMIME-Version: 1.0\n"
    ]
    out += [
        b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n' % (i, i) for i in range(depth)
    ]
    out.append(b"Content-Type: text/plain\n\n" + text)
    out += [b"--b%d--\n" % i for i in reversed(range(depth))]
    return b"".join(out)


@pytest.mark.slow  # a real process on 100,000 nested parts
@pytest.mark.parametrize("depth", [300, 100_000], ids=["depth-300", "depth-100k"])
def test_deeply_nested_messages_are_delivered_with_the_banner_on_top(db, tmp_path, depth):
    raw = _nested(depth)
    path = tmp_path / "nested.eml"
    path.write_bytes(raw)
    outbox = tmp_path / "outbox"
    doc = _deliver(db, outbox, path)
    assert [(r["address"], r["route"]) for r in doc["recipients"]] == [
        (EXTERNAL, "portal"),
        (INTERNAL, "inbox"),
    ]
    copy = _inbox_copy(outbox)
    # the text nested deeper than is read cannot be stamped: the copy is a
    # multipart/mixed whose first part is the banner, the second the original
    root = mime.walk(copy, 2)
    assert root.ctype == "multipart/mixed"
    banner, original = root.children
    assert [p.ctype for p in banner.children] == ["text/plain", "text/html"]
    assert "was delivered securely" in mime.decoded_body(copy, banner.children[0]).decode()
    head = raw.index(b"\n\n") + 2  # the original body, byte for byte, after its Content-Type
    assert copy[original.body_start : original.end] == raw[head:]
    assert _header(copy, "Content-Type").startswith("multipart/mixed")
    assert _header(copy, "Subject") == "nest"


@pytest.mark.parametrize("depth", [MAX_NESTING - 1, MAX_NESTING])
def test_text_as_deep_as_the_engine_reads_is_stamped_in_place(depth):
    raw = _nested(depth)
    copy = compose.stamp_banner(raw, BANNER, INTERNAL)
    assert b"=_secmsg_banner_" not in copy  # not wrapped
    parsed = email.message_from_bytes(copy, policy=email.policy.default)
    original = email.message_from_bytes(raw, policy=email.policy.default)
    [leaf] = [p for p in parsed.walk() if not p.is_multipart()]
    [was] = [p for p in original.walk() if not p.is_multipart()]
    assert leaf.get_content() == "BANNER-TEXT\n\n" + was.get_content()
    assert was.get_content().startswith("privileged & confidential")
    assert [p.get_content_type() for p in parsed.walk()] == [
        p.get_content_type() for p in original.walk()
    ]


def test_a_message_of_attachments_only_gets_the_banner_in_a_part_of_its_own():
    raw = (
        b"From: a@harborfinch.com\nTo: b@harborfinch.com\nSubject: pdf\nMIME-Version: 1.0\n"
        b"Content-Type: application/pdf; name=x.pdf\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(b"%PDF-1.4 \x00\x01")
    )
    copy = compose.stamp_banner(raw, BANNER, INTERNAL)
    parsed = email.message_from_bytes(copy, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    assert parsed.get_body(("plain",)).get_content().strip() == "BANNER-TEXT"
    assert parsed.get_body(("html",)).get_content().strip() == BANNER.html
    [pdf] = list(parsed.iter_attachments())
    assert pdf.get_filename() == "x.pdf" and pdf.get_content() == b"%PDF-1.4 \x00\x01"
    assert not parsed.defects and all(not p.defects for p in parsed.walk())


def test_a_portal_view_of_a_deep_message_reads_what_it_can():
    view = compose.read_view(_nested(300, b"deep text\n"))
    assert view.text == ""  # deeper than is read
    [opaque] = view.attachments
    assert opaque.content_type == "multipart/mixed" and b"deep text" in opaque.data


# --- hostile headers: linear folding ---------------------------------------------------------------


def _words(n: int) -> bytes:
    return b" ".join(b"=?utf-8?q?w=C3=A9rd%d?=" % i for i in range(n))


@pytest.mark.slow  # a real process on 100,000 encoded words
def test_100k_encoded_words_in_the_subject_are_delivered(db, tmp_path):
    subject = _words(100_000)
    raw = (
        b"From: =?utf-8?q?B=C3=A9n?= " + _words(500) + b" <ben.okafor@harborfinch.com>\n"
        b"To: k.brennan@gmail.com\nSubject: " + subject + b"\nMessage-ID: <words@x>\n\nhello\n"
    )
    path = tmp_path / "words.eml"
    path.write_bytes(raw)
    outbox = tmp_path / "outbox"
    _deliver(db, outbox, path)
    copy = _inbox_copy(outbox)
    assert b"\nSubject: " + subject + b"\n" in copy  # as it came, not refolded
    expected = "".join(
        f"wérd{i}" for i in range(100_000)
    )  # white space between encoded words is not text
    [note] = [
        p.read_bytes()
        for p in (outbox / "new").iterdir()
        if b"X-Secmsg-Kind: notification" in p.read_bytes()
    ]
    assert _header(note, "From").startswith(
        "Bénwérd0wérd1"
    )  # white space between encoded words is not text
    text = (
        email.message_from_bytes(note, policy=email.policy.compat32)
        .get_payload()[0]
        .get_payload(decode=True)
    )
    assert (
        f"\nSubject: {expected[:400]}…\n".encode() in text
    )  # shortened: a line stays under 998 octets
    assert max(len(line) for line in note.split(b"\n")) <= 998


def test_composed_messages_fold_hostile_text_in_linear_time(tmp_path):
    """A reply, a read receipt and a non-delivery notice for a message whose
    subject is 100k words and whose sender's name is 10k: in a subprocess
    (a hang detector)."""
    code = r"""
import sys
from datetime import datetime, timezone
from types import SimpleNamespace
from secmsg_cli.delivery import compose
words = " ".join(f"wérd{i}" for i in range(100_000))
at = datetime(2026, 11, 27, 10, tzinfo=timezone.utc)
copy = SimpleNamespace(id=1, subject=words, reply_to="ben@x.com", header_from="ben@x.com",
                       header_from_name=words[:100_000], recipient="k@gmail.com", sent=at,
                       message_id="<" + "m" * 500 + "@x>")
view = SimpleNamespace(references="<a@x> " * 10_000, text="hi", from_="ben@x.com")
r = compose.reply(copy=copy, view=view, body="thanks", to=["ben@x.com"], cc=["c" * 300 + "@x.com"],
                  attachments=[("r\udce9sum\udce9.txt", b"x")], at=at, tz=timezone.utc, host="p.invalid")
n = compose.non_delivery(returned=r, replier="k@gmail.com", unknown=["u@x.com"], at=at, host="p.invalid", portal_id=1)
rr = compose.read_receipt(copy=copy, at=at, tz=timezone.utc, host="p.invalid")
for m in (r, n, rr):
    sys.stdout.buffer.write(compose.to_bytes(m) + b"\n\0\n")
"""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=TIMEOUT, env=env
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    reply_bytes, ndr_bytes, receipt_bytes, _ = done.stdout.split(b"\n\0\n")
    words = " ".join(f"wérd{i}" for i in range(100_000))
    for data in (reply_bytes, ndr_bytes, receipt_bytes):
        head = data[: data.index(b"\n\n")]
        assert max(len(line) for line in head.split(b"\n")) <= 998
        assert head.isascii()
    assert _header(reply_bytes, "Subject") == "Re: " + words
    assert _header(receipt_bytes, "Subject") == "Read: " + words
    assert _header(ndr_bytes, "Subject") == "Undeliverable: Re: " + words
    assert _header(reply_bytes, "To") == f"{words[:100_000].strip()} <ben@x.com>"
    assert _header(reply_bytes, "References").split() == ["<a@x>"] * 10_000 + [
        "<" + "m" * 500 + "@x>"
    ]
    parsed = email.message_from_bytes(reply_bytes, policy=email.policy.default)
    [attached] = list(parsed.iter_attachments())
    assert (
        attached.get_filename() == "résumé.txt"
    )  # the bytes of an undecodable name, read as Windows-1252


@pytest.mark.parametrize(
    "text",
    [
        "plain ascii words",
        "Café \x1b[31m red",
        "a\r\nBcc: evil@x.com",
        "=?utf-8?q?x?=",
        "x" * 5000,
        "é" * 5000,
        "",
    ],
    ids=["ascii", "escape", "crlf", "looks-encoded", "long-word", "long-non-ascii", "empty"],
)
def test_the_linear_folder_writes_safe_lines_that_read_back(text):
    folded = mime.unstructured("Subject", text)
    lines = folded.fold(policy=email.policy.SMTP).split("\r\n")
    assert lines[-1] == "" and all(line.isascii() and len(line) <= 78 for line in lines[:-1]), (
        lines[:3]
    )
    assert all(line.startswith((" ", "Subject:")) for line in lines[:-1])  # nothing but one field
    data = folded.fold(policy=email.policy.SMTP).encode()
    # one line, control characters (ESC) as spaces: mail carries none of them
    shown = " ".join(text.replace("\x1b", " ").split())
    assert _header(data + b"\n", "Subject") == shown
    assert folded == shown


def test_the_fields_the_system_writes_cannot_be_forged_by_the_sender():
    raw = (
        b"From: a@harborfinch.com\nTo: b@harborfinch.com\nX-Secmsg-Kind: notification\n"
        b"X-Secmsg-Envelope-To: evil@x.com\nX-SECMSG-Portal-Id: 1\nSubject: s\n\nhello\n"
    )
    copy = compose.stamp_banner(raw, BANNER, INTERNAL)
    parsed = email.message_from_bytes(copy, policy=email.policy.compat32)
    assert parsed.get_all("X-Secmsg-Kind") == ["inbox-copy"]
    assert (
        parsed.get_all("X-Secmsg-Envelope-To") == [INTERNAL]
        and parsed["X-Secmsg-Portal-Id"] is None
    )


def test_a_body_part_with_an_invalid_content_type_is_rewritten_as_text():
    raw = (
        b"From: a@harborfinch.com\nTo: b@harborfinch.com\nSubject: s\nMIME-Version: 1.0\n"
        b"Content-Type: text; charset=koi8-r; format=flowed\n\nhello\n"
    )
    copy = compose.stamp_banner(raw, BANNER, INTERNAL)
    parsed = email.message_from_bytes(copy, policy=email.policy.default)
    assert parsed.get_content_type() == "text/plain" and parsed.get_param("format") == "flowed"
    assert (
        parsed.get_content() == "BANNER-TEXT\n\nhello\n" and parsed.get_content_charset() == "utf-8"
    )


def test_inbox_copies_of_one_message_differ_only_in_the_recipient():
    copies = compose.InboxCopies(EIGHT_BIT)
    a, b = copies.copy(BANNER, "a@harborfinch.com"), copies.copy(BANNER, "b@harborfinch.com")
    assert a.replace(b"a@harborfinch.com", b"b@harborfinch.com") == b
    assert a == compose.stamp_banner(EIGHT_BIT, BANNER, "a@harborfinch.com")
    plain = copies.copy(
        None, "a@harborfinch.com"
    )  # a banner that hides itself: only the header changes
    assert b"BANNER" not in plain and plain.endswith(EIGHT_BIT[EIGHT_BIT.index(b"\n\n") :])


def test_deliver_stamps_as_deep_as_its_max_depth_reads(db, tmp_path):
    path = tmp_path / "nested60.eml"
    path.write_bytes(_nested(60))
    outbox = tmp_path / "outbox"
    r = _run(
        db,
        "deliver",
        str(path),
        *CONTEXT,
        "--max-depth",
        "100",
        "--outbox",
        str(outbox),
        "-o",
        "json",
    )
    assert r.returncode == 0, r.stderr.decode()
    copy = _inbox_copy(outbox)
    assert b"=_secmsg_banner_" not in copy  # read, so stamped in place
    assert b"was delivered securely" in copy.replace(b"=\n", b"")


def test_parts_past_the_limit_are_copied_as_they_came():
    parts = b"".join(b"--B\nContent-Type: text/plain\n\npart %d\n" % i for i in range(30))
    raw = (
        b"From: a@harborfinch.com\nTo: b@harborfinch.com\nSubject: s\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="B"\n\n' + parts + b"--B--\n"
    )
    from secmsg_cli.engine.message import Limits

    copy = compose.stamp_banner(raw, BANNER, INTERNAL, limits=Limits(parts=10))
    assert copy.count(b"BANNER-TEXT") == 10
    assert copy.endswith(raw[raw.index(b"--B\nContent-Type: text/plain\n\npart 10\n") :])


def test_a_recipient_whose_address_is_not_ascii_gets_a_notification(db, tmp_path):
    path = tmp_path / "utf8.eml"
    path.write_bytes(
        "From: ben.okafor@harborfinch.com\nTo: jürgen@bücher.example\nSubject: Grüße\n"
        "Message-ID: <utf8@x>\n\nhallo\n".encode()
    )
    outbox = tmp_path / "outbox"
    r = _run(
        db,
        "deliver",
        str(path),
        "--definition",
        "Finance/Statements, 2 Weeks",
        "--at",
        T0,
        "--outbox",
        str(outbox),
        "-o",
        "json",
    )
    assert r.returncode == 0, r.stderr.decode()
    [note] = [p.read_bytes() for p in (outbox / "new").iterdir()]
    assert "To: jürgen@xn--bcher-kva.example\n".encode() in note
    assert "This link is personal to jürgen@xn--bcher-kva.example.".encode() in note


@pytest.mark.parametrize(
    "name", ['"=?utf-8?q??="', '""', '" "', '"report.txt"', '"a   b.txt"', "'x'"]
)
def test_deliver_sorts_bodies_from_attachments_as_simulate_does(name):
    """A part's file name decides body or attachment; delivery's reading of
    the raw bytes must agree with the engine's, even for names that decode
    to nothing."""
    from secmsg_cli.delivery import mime
    from secmsg_cli.engine.message import parse_message

    data = (
        b"From: a@example.com\nTo: b@example.com\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\nfirst\n'
        b"--B\nContent-Type: text/plain; name=" + name.encode() + b"\n\nsecond\n--B--\n"
    )
    engine_bodies = len(parse_message(data).body_texts())
    delivery_bodies = sum(1 for p in mime.leaves(mime.walk(data, 50)) if p.kind == mime.BODY)
    assert delivery_bodies == engine_bodies
