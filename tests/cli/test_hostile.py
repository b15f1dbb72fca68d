"""Hostile input through the real ``secmsg simulate`` process (issue 7 §5).

Each case runs ``secmsg simulate`` as a subprocess under an address-space limit
(``RLIMIT_AS``) and a generous timeout (a safety net, not a timing assertion):
a decision or a one-line error, never a traceback or an "internal error", in
bounded memory. The cases here are the large ones; the small hand-made hostile
messages and the fuzzing are in test_simulate_corpus.py.
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli._simulate_support import db  # noqa: F401 (a fixture)

resource = pytest.importorskip("resource")

AT = "2026-11-27T10:00:00+00:00"
MiB = 1024 * 1024
SENDER = "ben.okafor@harborfinch.com"  # Finance: card-number content examination of attachments
TIMEOUT = 600  # seconds; only a safety net against hangs


def _limit(mem: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))

    return apply


def simulate(db: Path, *args: str, mem: int = 1024 * MiB, stdin: bytes | None = None):
    env = dict(os.environ, SECMSG_ACTOR="tester")
    env.pop("SECMSG_DEBUG", None)
    env["PYTHONPATH"] = (
        str(Path(__file__).resolve().parents[2]) + os.pathsep + env.get("PYTHONPATH", "")
    )
    return subprocess.run(
        [sys.executable, "-m", "secmsg_cli", "-q", "--db", str(db), "simulate", *args, "--at", AT],
        input=stdin,
        capture_output=True,
        timeout=TIMEOUT,
        env=env,
        preexec_fn=_limit(mem),
    )


def assert_clean(r) -> None:
    out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
    assert r.returncode in (0, 1), f"exit {r.returncode}\n{err[-3000:]}"
    for text in (out, err):
        assert (
            "Traceback" not in text and "internal error" not in text and "MemoryError" not in text
        ), err[-3000:]
    assert len(err.strip().splitlines()) <= 1, err[-3000:]


def decided_or_one_line_error(r) -> dict:
    assert_clean(r)
    doc = json.loads(r.stdout)
    assert doc["schema_version"] == 1
    if "error" in doc:
        assert r.returncode == 1
        assert doc["error"].strip() and "\n" not in doc["error"], doc["error"]
    else:
        assert r.returncode == 0
        assert doc["recipients"]
        for rcpt in doc["recipients"]:
            assert rcpt["route"] in ("portal", "inbox")
    return doc


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- over --max-size: refused before it is read whole ----------------------------


def test_a_sparse_file_far_larger_than_the_memory_limit_is_refused(db, tmp_path):
    huge = tmp_path / "huge.eml"
    with huge.open("wb") as fh:
        fh.write(b"From: alice.morgan@harborfinch.com\nTo: k.brennan@gmail.com\nSubject: x\n\nhi\n")
        fh.truncate(16 * 1024**3)  # 16 GiB, sparse
    if huge.stat().st_blocks * 512 > MiB:
        pytest.skip("this file system does not make sparse files")
    # 512 MiB of address space: reading it whole would fail with MemoryError
    r = simulate(db, str(huge), "-o", "json", mem=512 * MiB)
    doc = decided_or_one_line_error(r)
    assert r.returncode == 1 and "--max-size" in doc["error"], doc


def test_a_file_just_over_max_size_in_a_directory_batch(db, tmp_path):
    d = tmp_path / "batch"
    d.mkdir()
    body = b"x" * 80 + b"\n"
    _write(
        d,
        "a-big.eml",
        b"From: alice.morgan@harborfinch.com\nTo: k.brennan@gmail.com\n\n" + body * (2 * MiB // 81),
    )
    _write(
        d,
        "b-small.eml",
        b"From: alice.morgan@harborfinch.com\nTo: k.brennan@gmail.com\nSubject: x\n\nhi\n",
    )
    r = simulate(db, str(d), "-o", "jsonl", "--max-size", "1MB")
    assert_clean(r)
    big, small = [json.loads(line) for line in r.stdout.splitlines()]
    assert "--max-size" in big["error"] and "error" not in small


def test_stdin_over_max_size_is_refused_without_reading_it_all(db):
    # 64 MiB on stdin, limit 1 MiB; the process reads at most limit + 1 bytes
    data = b"From: a@harborfinch.com\nTo: b@gmail.com\n\n" + b"y" * (64 * MiB)
    r = simulate(db, "-", "-o", "json", "--max-size", "1MB", mem=1024 * MiB, stdin=data)
    doc = decided_or_one_line_error(r)
    assert "--max-size" in doc["error"]


# --- big and strange messages: a decision or a one-line error ----------------------


def _nested(depth: int) -> bytes:
    out = b"From: alice.morgan@harborfinch.com\nTo: k.brennan@gmail.com\nSubject: nest\nMIME-Version: 1.0\n"
    out += b"".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n'.encode() for i in range(depth)
    )
    out += b"Content-Type: text/plain\n\nprivileged & confidential\n"
    out += b"".join(f"--b{i}--\n".encode() for i in reversed(range(depth)))
    return out


def _recipients(n: int) -> bytes:
    to = ",\n ".join(f"user{i}@example{i % 13}.com" for i in range(n // 2))
    cc = ",\n ".join(f"Person {i} <p{i}@harborfinch.com>" for i in range(n - n // 2))
    return (
        f"From: {SENDER}\nTo: {to}\nCc: {cc}\nSubject: Confidential all hands\n\nhello\n"
    ).encode()


def _long_headers() -> bytes:
    mb = 1 * MiB
    return (
        b"Received: from "
        + b"a" * mb
        + b" ([203.0.113.9])\n"
        + b"From: "
        + b"x" * mb
        + b" <"
        + SENDER.encode()
        + b">\n"
        + b"To: k.brennan@gmail.com, "
        + b"y" * mb
        + b"\n"
        + b"Subject: Confidential "
        + b"z " * (mb // 2)
        + b"\n"
        + b"X-Long: "
        + b"q" * mb
        + b"\n"
        + b'Content-Type: text/plain; charset="'
        + b"c" * mb
        + b'"\n\nbody\n'
    )


def _invalid_utf8() -> bytes:
    bad = b"\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc\xed\xa0\x80"
    return (
        b"Received: from h\xff ([203.0.113.\xfe])\n"
        b"From: =?utf-8?B?" + base64.b64encode(bad) + b"?= <ben.okafor@harborfinch.com>\n"
        b"To: " + bad + b" <k.brennan@gmail.com>, =?utf-8?Q?=FF=FE?= <" + bad + b"@gmail.com>\n"
        b"Subject: Confidential " + bad + b" =?utf-8?B?" + base64.b64encode(bad) + b"?=\n"
        b"MIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="\xff\xfeB"\n\n'
        b"--\xff\xfeB\nContent-Type: text/plain; charset=utf-8\n\nprivileged & confidential "
        + bad
        * 100
        + b"\n"
        b"--\xff\xfeB\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n"
        b'Content-Disposition: attachment; filename="'
        + bad
        + b".txt\"; filename*=utf-8''%FF%FE\n\n"
        + base64.encodebytes(b"card number 4111 1111 1111 1111 " + bad * 50)
        + b"--\xff\xfeB--\n"
    )


def _garbage(size: int) -> bytes:
    return random.Random(7).randbytes(size)


def _zip_bomb() -> bytes:
    """A 20 MiB base64 attachment of zeros (27 MiB encoded) in a ~30 MiB message."""
    zeros = base64.encodebytes(bytes(20 * MiB))
    digits = base64.encodebytes(
        b"0" * (MiB // 2)
    )  # digits: the card-number regex does run on these
    filler = (b"privileged & confidential filler line of body text\n") * (2 * MiB // 52)
    return (
        f"From: {SENDER}\nTo: k.brennan@gmail.com\nSubject: zeros\nMIME-Version: 1.0\n".encode()
        + b'Content-Type: multipart/mixed; boundary="Z"\n\n--Z\nContent-Type: text/plain\n\n'
        + filler
        + b'--Z\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename="z.bin"\n'
        b"Content-Transfer-Encoding: base64\n\n"
        + zeros
        + b'--Z\nContent-Type: text/plain\nContent-Disposition: attachment; filename="digits.txt"\n'
        b"Content-Transfer-Encoding: base64\n\n" + digits + b"--Z--\n"
    )


CASES = {
    "deep-nesting-20000": (lambda: _nested(20_000), ()),
    "10000-recipients": (lambda: _recipients(10_000), ()),
    "1MB-header-lines": (_long_headers, ()),
    "invalid-utf8-everywhere": (_invalid_utf8, ()),
    "binary-garbage-5MB": (lambda: _garbage(5 * MiB), ()),
    "binary-garbage-after-headers": (
        lambda: f"From: {SENDER}\nTo: k.brennan@gmail.com\n".encode() + _garbage(MiB),
        (),
    ),
    "zip-bomb-like-base64": (_zip_bomb, ("--max-size", "40MB")),
}


@pytest.mark.slow  # a real process per hostile message, memory-limited
@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
@pytest.mark.parametrize("explain", [False, True], ids=["plain", "explain"])
def test_hostile_message(db, tmp_path, name, explain):
    make, extra = CASES[name]
    path = _write(tmp_path, f"{name}.eml", make())
    args = [str(path), "-o", "json", *extra, *(["--explain"] if explain else [])]
    doc = decided_or_one_line_error(simulate(db, *args, mem=2048 * MiB))
    if name == "10000-recipients":
        # SPEC §6.1: past the recipient limit (default 1000) none is left out silently
        assert len(doc["recipients"]) == 1000
        (note,) = [n for n in doc["message"]["notes"] if n.startswith("recipients:")]
        assert note.startswith(
            "recipients: 9000 past the limit of 1000 were not decided: user1000@example12.com,"
        )
        everyone = decided_or_one_line_error(
            simulate(db, *args, "--max-recipients", "10000", mem=2048 * MiB)
        )
        assert len(everyone["recipients"]) == 10_000 and not everyone["message"]["notes"]
    if name == "zip-bomb-like-base64":
        assert "error" not in doc, doc  # under --max-size: decided, not refused
    # with the sender and a recipient given, anything readable is decided
    r = simulate(db, *args, "--mail-from", SENDER, "--rcpt", "k.brennan@gmail.com", mem=2048 * MiB)
    doc = decided_or_one_line_error(r)
    if "error" in doc:
        assert doc["error"].startswith("cannot read message"), doc


def test_the_zip_bomb_is_refused_under_the_default_size_limit_when_too_big(db, tmp_path):
    path = _write(tmp_path, "bomb.eml", _zip_bomb())
    r = simulate(db, str(path), "-o", "json", "--max-size", "10MB", mem=512 * MiB)
    doc = decided_or_one_line_error(r)
    assert "--max-size" in doc["error"]


@pytest.mark.slow  # a real process, memory-limited
def test_all_hostile_messages_in_one_batch_in_bounded_memory(db, tmp_path):
    d = tmp_path / "batch"
    d.mkdir()
    for i, (name, (make, _)) in enumerate(CASES.items()):
        _write(d, f"{i:02d}-{name}.eml", make())
    r = simulate(db, str(d), "-o", "jsonl", "--max-size", "40MB", mem=2048 * MiB)
    assert_clean(r)
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(docs) == len(CASES)
    for doc in docs:
        assert doc["schema_version"] == 1 and ("error" in doc or doc["recipients"])
