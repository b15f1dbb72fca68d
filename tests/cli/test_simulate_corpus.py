"""``secmsg simulate`` never crashes (SPEC §11, issue 4): every message of the
shared real-world corpus (../shared/corpus, skipped when absent), hostile
hand-made messages, arbitrary bytes and mutated demo messages give a decision
or a clean one-line error row through the real CLI, never a traceback.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CORPUS, FIXTURES

pytestmark = pytest.mark.slow  # the whole corpus and hypothesis-mutated messages

AT = "2026-11-27T10:00:00+00:00"
TOP_KEYS = {"schema_version", "source", "message", "recipients", "explain"}
ERROR_KEYS = {"schema_version", "source", "error"}
MAIL_FROM = "ben.okafor@harborfinch.com"
RCPTS = ("k.brennan@gmail.com", "alice.morgan@harborfinch.com")
CONTEXT = ("--mail-from", MAIL_FROM, "--rcpt", RCPTS[0], "--rcpt", RCPTS[1])
MODES = {
    "plain": (),
    "explain": ("--explain",),
    "context": CONTEXT,
    "context-explain": (
        *CONTEXT,
        "--explain",
        "--definition",
        "Finance/Statements, 2 Weeks",
        "--via",
        "mobile",
    ),
}

CORPUS_FILES = sorted(CORPUS.rglob("*.eml")) if CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(
    not CORPUS_FILES, reason=f"the shared corpus is absent ({CORPUS})"
)
DEMO_MESSAGES = sorted((FIXTURES / "messages").glob("*.eml"))
DEMO_BYTES = [p.read_bytes() for p in DEMO_MESSAGES]


@pytest.fixture
def sim(demo):
    def run(*args, input=None):
        return demo("simulate", *args, input=input)

    return run


def assert_clean(r) -> None:
    """Exit 0 or 1, nothing like a crash on stderr."""
    assert r.exit_code in (0, 1), r.output
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.output
    assert "Traceback" not in r.stdout, r.output


def assert_row(doc) -> bool:
    """A decision (True) or a clean error row (False)."""
    assert isinstance(doc, dict), doc
    assert doc["schema_version"] == 1
    if "error" in doc:
        assert set(doc) == ERROR_KEYS, doc
        error = doc["error"]
        assert isinstance(error, str) and error.strip(), doc
        assert "\n" not in error and "internal error" not in error and "Traceback" not in error, doc
        return False
    assert set(doc) == TOP_KEYS, sorted(doc)
    assert doc["recipients"], doc
    for r in doc["recipients"]:
        assert r["route"] in ("portal", "inbox") and isinstance(r["secure"], bool)
    return True


# --- the shared corpus -------------------------------------------------------


@needs_corpus
@pytest.mark.parametrize("mode", list(MODES), ids=list(MODES))
def test_corpus_as_a_batch(sim, mode):
    """The whole corpus in one run: one row per message, in order."""
    r = sim(CORPUS, "--at", AT, "-o", "jsonl", *MODES[mode])
    assert_clean(r)
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d["source"] for d in docs] == [str(p) for p in CORPUS_FILES]
    decided = [assert_row(d) for d in docs]
    errors = decided.count(False)
    assert r.exit_code == (1 if errors else 0), r.output
    assert f"{len(docs)} message(s):" in r.stderr and f"{errors} error(s)" in r.stderr
    if mode.startswith("context"):
        # sender and recipients are given: every readable message is decided
        assert errors == 0, [d for d in docs if "error" in d]
        for d in docs:
            assert d["message"]["envelope_from"] == MAIL_FROM
            assert [x["address"] for x in d["recipients"]] == list(RCPTS)
            if mode == "context-explain":
                assert all(x["trigger"] == "user" for x in d["recipients"])
                assert d["explain"]
    else:
        # most of the corpus has a sender and recipients of its own
        assert errors < len(docs) // 4


@needs_corpus
@pytest.mark.parametrize(
    "path", CORPUS_FILES, ids=[str(p.relative_to(CORPUS)) for p in CORPUS_FILES]
)
def test_corpus_message_alone(sim, path):
    """Each message as the only input: one object (decision or error)."""
    r = sim(path, "--at", AT, "-o", "json")
    assert_clean(r)
    doc = r.json
    assert doc["source"] == str(path)
    assert assert_row(doc) == (r.exit_code == 0), r.output
    r = sim(path, "--at", AT, *CONTEXT, "--explain")  # table output, for people
    assert_clean(r)
    assert r.exit_code == 0, r.output
    assert "explanation" in r.stdout


# --- hostile messages, written by hand ------------------------------------------


def _nested(depth: int) -> bytes:
    head = b"From: alice.morgan@harborfinch.com\nTo: k.brennan@gmail.com\nSubject: Confidential nest\nMIME-Version: 1.0\n"
    out = head
    for i in range(depth):
        out += f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n'.encode()
    out += b"Content-Type: text/plain\n\nprivileged & confidential\n"
    for i in reversed(range(depth)):
        out += f"--b{i}--\n".encode()
    return out


HOSTILE = {
    "empty": b"",
    "only-newlines": b"\n\n\n\n",
    "nul-bytes": b"From: a\x00b@harborfinch.com\nTo: k\x00@gmail.com\n\n\x00\x00",
    "no-colon-headers": b"this is not a header\nneither is this\n\nbody\n",
    "deep-nesting": _nested(2000),
    "many-recipients": b"From: alice.morgan@harborfinch.com\nTo: "
    + b", ".join(f"user{i}@example{i % 7}.com".encode() for i in range(3000))
    + b"\nSubject: x\n\nhi\n",
    "long-header-line": b"From: alice.morgan@harborfinch.com\nTo: k.brennan@gmail.com\nSubject: "
    + b"Confidential " * 50000
    + b"\n\nbody\n",
    "bad-charset": b"From: alice.morgan@harborfinch.com\nTo: k.brennan@gmail.com\nSubject: =?x-nonsense?Q?Confidential?=\n"
    b"Content-Type: text/plain; charset=no-such-charset\nContent-Transfer-Encoding: quoted-printable\n\n=FF=FE=ZZ\n",
    "broken-base64": b"From: alice.morgan@harborfinch.com\nTo: k.brennan@gmail.com\nMIME-Version: 1.0\n"
    b'Content-Type: multipart/mixed; boundary="x"\n\n--x\nContent-Type: text/csv\nContent-Disposition: attachment; '
    b'filename="cards.csv"\nContent-Transfer-Encoding: base64\n\n!!!not base64===\n--x--\n',
    "bad-rfc2047": b"From: =?utf-8?B?////?= <alice.morgan@harborfinch.com>\nTo: =?utf-8?Q?=E2=28?= <k.brennan@gmail.com>\n"
    b"Subject: =?utf-8?B?Q29uZmlkZW50aWFs?==?utf-8?X?abc?=\n\nbody\n",
    "group-syntax": b"From: alice.morgan@harborfinch.com\nTo: undisclosed-recipients:;\nCc: Team: a@gmail.com, b@gmail.com;\n\nx\n",
    "bad-received": b"Received: from [999.1.1.1] (x [not-an-ip])\nReceived: from y ([2001:db8::zz])\n"
    b"From: alice.morgan@harborfinch.com\nTo: k.brennan@gmail.com\n\nx\n",
    "binary-garbage": bytes(range(256)) * 40,
    "latin1-headers": "From: Zoë <zoe.angstrom@harborfinch.co.uk>\nTo: José <jose@clientco.example>\nSubject: Confidentiél\n\n"
    "é\n".encode("latin-1"),
    "crlf-mixed": b"From: alice.morgan@harborfinch.com\r\nTo: k.brennan@gmail.com\n\rSubject: Confidential\r\r\n\r\nbody",
}


@pytest.mark.parametrize("name", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_message(sim, name):
    data = HOSTILE[name]
    for extra in ((), ("--explain",), CONTEXT):
        r = sim("-", "--at", AT, "-o", "json", *extra, input=data)
        assert_clean(r)
        assert assert_row(r.json) == (r.exit_code == 0), r.output
    # with the sender and recipients given, anything the parser can read is decided
    r = sim("-", "--at", AT, "-o", "json", *CONTEXT, input=data)
    if r.exit_code == 1:
        assert r.json["error"].startswith("cannot read message"), r.output


def test_hostile_messages_in_one_batch(sim, tmp_path):
    for i, (name, data) in enumerate(HOSTILE.items()):
        (tmp_path / f"{i:02d}-{name}.eml").write_bytes(data)
    r = sim(tmp_path, "--at", AT, "-o", "json", "--explain")
    assert_clean(r)
    docs = r.json
    assert len(docs) == len(HOSTILE)
    for doc in docs:
        assert_row(doc)


# --- hypothesis: arbitrary bytes and mutated demo messages ----------------------

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _check_stdin(sim, data: bytes, *extra: str) -> None:
    r = sim("-", "--at", AT, "-o", "json", *extra, input=data)
    assert_clean(r)
    doc = json.loads(r.stdout)
    assert doc["source"] == "-"
    assert assert_row(doc) == (r.exit_code == 0), r.output


@FUZZ
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_never_crash(sim, data):
    _check_stdin(sim, data)


@FUZZ
@given(
    data=st.binary(max_size=1024),
    prefix=st.sampled_from(
        [
            b"",
            b"From: alice.morgan@harborfinch.com\nTo: k.brennan@gmail.com\n",
            b"From: alice.morgan@harborfinch.com\nTo: k.brennan@gmail.com\nMIME-Version: 1.0\n"
            b'Content-Type: multipart/mixed; boundary="="\n\n--=\n',
        ]
    ),
)
def test_arbitrary_bytes_after_headers_never_crash(sim, data, prefix):
    _check_stdin(sim, prefix + data, "--explain")


def _header_lines(message: bytes) -> list[bytes]:
    head = message.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return [line for line in head.split(b"\n") if line and not line[:1].isspace()]


@st.composite
def mutated_messages(draw):
    message = bytearray(draw(st.sampled_from(DEMO_BYTES)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(["flip", "truncate", "duplicate-header", "insert", "delete-range"])
        )
        if not message:
            break
        if kind == "flip":
            for _ in range(draw(st.integers(1, 16))):
                i = draw(st.integers(0, len(message) - 1))
                message[i] = draw(st.integers(0, 255))
        elif kind == "truncate":
            message = message[: draw(st.integers(0, len(message)))]
        elif kind == "duplicate-header":
            lines = _header_lines(bytes(message))
            if lines:
                line = draw(st.sampled_from(lines))
                times = draw(st.integers(1, 50))
                message = bytearray(line + b"\n") * times + message
        elif kind == "insert":
            i = draw(st.integers(0, len(message)))
            message[i:i] = draw(st.binary(min_size=1, max_size=64))
        else:
            i = draw(st.integers(0, len(message) - 1))
            j = draw(st.integers(i, len(message)))
            del message[i:j]
    return bytes(message)


@FUZZ
@given(
    data=mutated_messages(),
    extra=st.sampled_from([(), ("--explain",), CONTEXT, (*CONTEXT, "--explain")]),
)
def test_mutated_demo_messages_never_crash(sim, data, extra):
    _check_stdin(sim, data, *extra)


@FUZZ
@given(data=mutated_messages())
def test_mutated_demo_messages_in_table_output(sim, data):
    r = sim("-", "--at", AT, "--explain", input=data)
    assert_clean(r)
    if r.exit_code == 1:
        assert r.stderr.startswith("error: -: ") and r.stderr.count("\n") == 1, r.output
