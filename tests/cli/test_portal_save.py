"""``portal open TOKEN --save-attachments DIR`` (SPEC §7.4): the files stay
inside DIR whatever the attachment names say and whatever DIR already holds
(no symlink is followed, nothing is overwritten), and they are written all
or nothing: when one cannot be written, none is left, and the open is not
recorded either (the copy stays unread, no read receipt, no audit row)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from secmsg_cli.delivery.attachments import safe_name
from tests.delivery._helpers import T0, build_store, outbox_messages, tokens, write_message
from tests.helpers import audit_log, ok, refused

BOB = "bob@partner.test"
AT = "2026-11-27T11:00:00Z"


def message(*attachments: tuple[str, bytes]) -> bytes:
    """A message to Bob with these (filename, data) attachments (RFC 2231 names: any character)."""
    parts = ["--b\nContent-Type: text/plain\n\nSee attached.\n"]
    for name, data in attachments:
        parts.append(
            "--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
            f"Content-Disposition: attachment; filename*=utf-8''{quote(name, safe='')}\n\n"
            + base64.encodebytes(data).decode()
        )
    return (
        "From: alice@example.com\nTo: bob@partner.test\nSubject: files\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n' + "".join(parts) + "--b--\n"
    ).encode()


@pytest.fixture
def portal(cli, tmp_path, _isolated_store):
    """deliver(*attachments) -> Bob's token (definition T/Open: read receipts)."""
    build_store(_isolated_store)
    outbox = tmp_path / "outbox"

    def deliver(*attachments: tuple[str, bytes]) -> str:
        ok(
            cli(
                "deliver",
                write_message(tmp_path, message(*attachments)),
                "--definition",
                "T/Open",
                "--at",
                T0,
                "--outbox",
                outbox,
            )
        )
        return tokens(outbox)[BOB]

    def open_(token: str, target, *extra: str):
        return cli(
            "portal",
            "open",
            token,
            "--save-attachments",
            target,
            "--at",
            AT,
            "--outbox",
            outbox,
            *extra,
        )

    def status() -> str:
        return ok(cli("portal", "show", "1", "--at", AT, "-o", "json")).json["status"]

    def receipts() -> int:
        return len(outbox_messages(outbox, "read-receipt"))

    return type(
        "Portal",
        (),
        dict(
            deliver=staticmethod(deliver),
            open=staticmethod(open_),
            status=staticmethod(status),
            receipts=staticmethod(receipts),
            tmp=tmp_path,
            cli=staticmethod(cli),
        ),
    )


def listing(folder: Path) -> dict[str, bytes]:
    """Every entry below ``folder`` (hidden ones too): name -> bytes (symlinks as 'link->target')."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = (
            f"link->{os.readlink(p)}".encode()
            if p.is_symlink()
            else (p.read_bytes() if p.is_file() else b"/")
        )
    return out


# --- names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("figures.bin", "figures.bin"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("/etc/cron.d/job", "job"),
        ("..", "attachment-3"),
        (None, "attachment-3"),
        ("", "attachment-3"),
        (" . ", "attachment-3"),
        (".bashrc", "bashrc"),
        ("...hidden.txt", "hidden.txt"),
        ("nul\x00byte.txt", "nulbyte.txt"),
        ("ctrl\x1b[31m\r\n\t.txt", "ctrl[31m.txt"),
        (
            "invoice\u202efdp.exe",
            "invoicefdp.exe",
        ),  # the right-to-left override is dropped, not obeyed
        ("zero\u200bwidth\ufeff.txt", "zerowidth.txt"),
        ('a<b>c:d"e|f?g*h.txt', "a_b_c_d_e_f_g_h.txt"),
        ("trailing. . .", "trailing"),
        ("CON", "_CON"),
        ("con.txt", "_con.txt"),
        ("Lpt9.log", "_Lpt9.log"),
        ("console.txt", "console.txt"),
        ("Grüße 漢字.pdf", "Grüße 漢字.pdf"),
    ],
    ids=repr,
)
def test_safe_name(name, expected):
    assert safe_name(name, 3) == expected


def test_a_long_name_is_shortened_keeping_its_extension():
    long = "x" * 300 + ".pdf"
    short = safe_name(long, 1)
    assert short.endswith(".pdf") and short.startswith("xxxx") and len(short.encode()) <= 200
    wide = "漢" * 200 + ".docx"  # 3 bytes each: cut on a character boundary
    short = safe_name(wide, 1)
    assert short.endswith(".docx") and len(short.encode()) <= 200 and set(short[:-5]) == {"漢"}
    no_ext = safe_name("y" * 400, 1)
    assert no_ext == "y" * 200
    odd_ext = safe_name("z" * 300 + "." + "e" * 100, 1)  # an "extension" that long is not one
    assert len(odd_ext.encode()) <= 200


# --- staying inside DIR ---------------------------------------------------------------------


def test_a_dangling_symlink_in_dir_is_not_followed(portal):
    token = portal.deliver(("figures.bin", b"secret figures"))
    target = portal.tmp / "saved"
    target.mkdir()
    outside = portal.tmp / "outside" / "planted.bin"
    outside.parent.mkdir()
    (target / "figures.bin").symlink_to(outside)
    r = ok(portal.open(token, target))
    assert not outside.exists()
    assert os.readlink(target / "figures.bin") == str(outside)
    assert (target / "figures (2).bin").read_bytes() == b"secret figures"
    assert f"saved {target / 'figures (2).bin'}\n" in r.stderr


def test_a_symlink_to_an_existing_file_is_not_written_through(portal):
    token = portal.deliver(("notes.txt", b"new"))
    target = portal.tmp / "saved"
    target.mkdir()
    victim = portal.tmp / "victim.txt"
    victim.write_bytes(b"keep me")
    (target / "notes.txt").symlink_to(victim)
    ok(portal.open(token, target))
    assert victim.read_bytes() == b"keep me"
    assert (target / "notes (2).txt").read_bytes() == b"new"


def test_hostile_names_all_land_inside_dir_and_distinct(portal):
    names = [
        "../escape.txt",
        "/abs/path.txt",
        "..",
        ".profile",
        "CON",
        "same.txt",
        "same.txt",
        "SAME.txt",
        "evil\u202efdp.exe",
        "x" * 300 + ".pdf",
        "",
    ]
    token = portal.deliver(*((n, f"data {i}".encode()) for i, n in enumerate(names)))
    target = portal.tmp / "saved"
    r = ok(portal.open(token, target, "-o", "json"))
    saved = [Path(p) for p in r.json["saved"]]
    assert len(saved) == len(names) == len(set(saved))
    assert all(p.parent == target for p in saved)
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in saved)
    assert [p.read_bytes() for p in saved] == [f"data {i}".encode() for i in range(len(names))]
    assert not (portal.tmp / "escape.txt").exists()
    assert [p.name for p in saved[:8]] == [
        "escape.txt",
        "path.txt",
        "attachment-3",
        "profile",
        "_CON",
        "same.txt",
        "same (2).txt",
        "SAME (3).txt",
    ]


def test_the_300_character_name_of_the_seventh_attachment(portal):
    attachments = [(f"part{i}.txt", b"%d" % i) for i in range(6)] + [("n" * 300 + ".csv", b"last")]
    token = portal.deliver(*attachments)
    target = portal.tmp / "saved"
    r = ok(portal.open(token, target, "-o", "json"))
    assert len(r.json["saved"]) == 7
    last = Path(r.json["saved"][-1])
    assert last.suffix == ".csv" and last.read_bytes() == b"last" and len(last.name.encode()) <= 255


# --- all or nothing -------------------------------------------------------------------------


def _refused_and_untouched(portal, r, target: Path, before: dict) -> None:
    refused(r, "cannot save the attachments")
    assert (listing(target) if target.exists() else None) == before
    assert portal.status() == "unread"  # the open was not recorded
    assert portal.receipts() == 0
    assert not [a for a in audit_log(portal.cli) if a["action"] == "open"]


def failing_on(call: int, real, error: OSError):
    """``real``, except that its ``call``-th call raises ``error``."""
    calls = []

    def flaky(*args):
        calls.append(args)
        if len(calls) == call:
            raise error
        return real(*args)

    return flaky


def test_a_failure_on_the_fourth_file_leaves_nothing_and_the_copy_unread(portal, monkeypatch):
    import secmsg_cli.delivery.attachments as saving

    token = portal.deliver(*((f"f{i}.bin", b"x" * 100) for i in range(6)))
    target = portal.tmp / "saved"
    target.mkdir()
    (target / "mine.txt").write_bytes(b"mine")
    before = listing(target)
    real = saving._write
    monkeypatch.setattr(
        saving, "_write", failing_on(4, real, OSError(28, "No space left on device"))
    )
    _refused_and_untouched(portal, portal.open(token, target), target, before)
    monkeypatch.setattr(saving, "_write", real)
    r = ok(portal.open(token, target, "-o", "json"))  # a retry is still the first view
    assert len(r.json["saved"]) == 6 and r.json["first_view"] is True and portal.receipts() == 1


def test_a_failure_while_naming_leaves_nothing(portal, monkeypatch):
    import secmsg_cli.delivery.attachments as saving

    token = portal.deliver(*((f"f{i}.bin", b"y") for i in range(4)))
    target = portal.tmp / "new" / "deeper"  # created for the purpose: removed again
    monkeypatch.setattr(
        saving, "_place", failing_on(3, saving._place, PermissionError(13, "Permission denied"))
    )
    _refused_and_untouched(portal, portal.open(token, target), target, None)
    assert not (portal.tmp / "new").exists()


def test_a_failing_store_commit_removes_the_saved_files(portal, monkeypatch):
    from secmsg_cli.errors import StoreError
    from secmsg_cli.store.store import Store

    token = portal.deliver(("a.bin", b"a"), ("b.bin", b"b"))
    target = portal.tmp / "saved"
    target.mkdir()
    real = Store.audit

    def failing(self, action, *args, **kwargs):
        if action == "open":
            raise StoreError("cannot write to store: disk I/O error")
        return real(self, action, *args, **kwargs)

    monkeypatch.setattr(Store, "audit", failing)
    r = portal.open(token, target)
    refused(r, "disk I/O error")
    assert listing(target) == {} and portal.status() == "unread" and portal.receipts() == 0


@pytest.mark.skipif(sys.platform == "win32", reason="ulimit -f is POSIX")
def test_a_real_write_failure_in_a_real_process(portal, tmp_path):
    """A file-size limit (ulimit -f) makes the big last attachment fail after the small ones were written."""
    token = portal.deliver(
        *((f"small{i}.txt", b"s" * 100) for i in range(6)), ("big.bin", os.urandom(600_000))
    )
    target = tmp_path / "saved"
    target.mkdir()
    db = os.environ["SECMSG_DB"]
    script = (
        f"ulimit -f 400; exec {sys.executable} -m secmsg_cli --db {db} portal open {token} "
        f"--save-attachments {target} --at {AT} --outbox {tmp_path / 'outbox'}"
    )
    p = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert (
        p.stderr.startswith("error: cannot save the attachments") and p.stderr.count("\n") == 1
    ), p.stderr
    assert "big.bin" in p.stderr and "Traceback" not in p.stderr
    assert listing(target) == {}
    assert portal.status() == "unread" and portal.receipts() == 0


def test_dir_must_be_a_directory(portal):
    token = portal.deliver(("a.bin", b"a"))
    afile = portal.tmp / "afile"
    afile.write_text("x")
    refused(portal.open(token, afile), "not a directory")
    dangling = portal.tmp / "dangling"
    dangling.symlink_to(portal.tmp / "nowhere")
    refused(portal.open(token, dangling), "not a directory")
    assert not (portal.tmp / "nowhere").exists()
    assert portal.status() == "unread"
