"""The hostile-input set: messages crafted as an attacker would, generated
(never stored as blobs), each with what secmsg must do with it.

    python tests/hostile/generate.py OUTDIR

writes ``OUTDIR/*.eml``, ``OUTDIR/hostile.toml`` (the demo configuration plus
content definitions made of the patterns that stalled Python's backtracking
``re``) and ``OUTDIR/manifest.json`` (per message: the options to simulate it
with and the expectations). ``tests/cli/test_hostile_suite.py`` runs the set
through the real ``secmsg`` processes.

Every case must give a decision or a one-line error in bounded time; what a
case adds to that is in its ``expect``:

``secure``        every recipient in the list is secure (fail closed)
``note``          a fragment of ``message.notes``
``unscannable``   a fragment of a content entry's ``unscannable``
``recipients``    the number of recipients decided
``deliver``       ``"ok"`` (delivered, as simulate decided) or a fragment of its refusal
``error``         a fragment of simulate's one-line error (not decided)
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "fixtures" / "demo.toml"

SENDER = "alice.morgan@harborfinch.com"  # internal
CLIENT = "bob@clientco.example"  # "Privileged body" (content policy 9) covers clientco.example
COLLEAGUE = (
    "ben.okafor@harborfinch.com"  # internal: a "Confidential" subject gives them a banner copy
)
# The subject fires "Confidential subject" for every recipient, so deliver
# composes the banner-stamped inbox copy of the colleague (the whole message).
SUBJECT = "Subject: Confidential: hostile"
SECRET = "privileged & confidential"  # fires "Privileged body" (score 3 of 3)
AT = "2026-11-27T10:00:00+00:00"

# The patterns of issue 11: exponential or quadratic under backtracking, and
# three classics of the same family.
PATTERNS = (
    r"(a+)+$",
    r"\b(\d+[ -]?)+\d{4}\b",
    r"[\w.+-]+@[\w-]+\.[\w.-]+",
    r"\w+\s+confidential",
    r"(x+x+)+y",
    r"(.*a){12}",
    r"^(\w+\s?)+$",
)
HOSTILE_SCORE = 100  # never reached (seven lines of weight 1): examined, never fires on its own


@dataclass
class Case:
    name: str
    data: bytes
    args: list[str] = field(default_factory=list)
    expect: dict = field(default_factory=dict)


def _message(
    *headers: str,
    body: str | bytes = "hello\n",
    sender: str = SENDER,
    to: str = CLIENT,
    subject: str = SUBJECT,
) -> bytes:
    head = [
        f"From: {sender}",
        f"To: {to}",
        f"Cc: {COLLEAGUE}",
        *([subject] if subject else []),
        *headers,
    ]
    raw = body if isinstance(body, bytes) else body.encode("utf-8")
    return ("\n".join(head) + "\n\n").encode("utf-8", "surrogateescape") + raw


def nested(depth: int, leaf: str = SECRET) -> bytes:
    """``depth`` multipart containers, one inside the other, the secret at the bottom."""
    out = [f"From: {SENDER}", f"To: {CLIENT}", f"Cc: {COLLEAGUE}", SUBJECT, "MIME-Version: 1.0"]
    text = "\n".join(out) + "\n"
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth)
    )
    closing = "".join(f"--b{i}--\n" for i in reversed(range(depth)))
    return (text + opening + f"Content-Type: text/plain\n\n{leaf}\n" + closing).encode()


def many_parts(n: int) -> bytes:
    parts = "".join(f"--P\nContent-Type: text/plain\n\npart {i}\n" for i in range(n - 1))
    parts += f"--P\nContent-Type: text/plain\n\n{SECRET}\n--P--\n"
    return (
        f"From: {SENDER}\nTo: {CLIENT}\nCc: {COLLEAGUE}\n{SUBJECT}\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/mixed; boundary="P"\n\n' + parts
    ).encode()


def crafted_body(size: int) -> str:
    """The worst case of every pattern above, repeated up to ``size`` characters."""
    segment = (
        "a" * 60
        + "!\n"
        + "1" * 60
        + "x\n"
        + "b" * 60
        + "@\n"
        + "c " * 30
        + "\n"
        + "x" * 60
        + "\n"
        + "a" * 30
        + "\n"
        + "w " * 30
        + "!\n"
    )
    return (segment * (size // len(segment) + 1))[:size]


def recipients(n: int) -> bytes:
    to = ", ".join(f"client{i}@clientco.example" for i in range(n))
    return _message(to=to, body=SECRET + "\n")


def encoded_words(n: int) -> bytes:
    word = "=?utf-8?B?" + base64.b64encode(b"Vertraulich ").decode() + "?="
    return _message(f"Subject: Confidential {' '.join([word] * n)}", body=SECRET + "\n", subject="")


def eight_bit_filename() -> bytes:
    return (
        f"From: {SENDER}\nTo: {CLIENT}\nCc: {COLLEAGUE}\n{SUBJECT}\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="E"\n\n--E\nContent-Type: text/plain\n\n'
        f"{SECRET}\n--E\nContent-Type: application/pdf\n".encode()
        + b'Content-Disposition: attachment; filename="r\xe9sum\xe9 \xff\xfe.pdf"\n'
        b"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--E--\n"
    )


ESC = "\x1b]0;pwned\x07\x1b[2J\x1b]8;;https://evil.example\x07link\x1b]8;;\x07\r"


def terminal_escapes() -> bytes:
    return (
        f"From: {ESC} <{SENDER}>\nTo: {CLIENT}\nCc: {COLLEAGUE}\nSubject: Confidential {ESC} invoice\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="T"\n\n--T\nContent-Type: text/plain\n\n'
        f"{SECRET} {ESC}\n--T\nContent-Type: text/plain\n"
        f'Content-Disposition: attachment; filename="{ESC}.txt"\n\nx\n--T--\n'
    ).encode()


def cases() -> Iterator[Case]:
    # Nesting around the cap (50 by default): read, read, not read (unscannable)...
    for depth in (49, 50, 51, 300, 100_000):
        expect: dict = {"secure": [CLIENT, COLLEAGUE], "deliver": "ok"}
        if depth > 50:
            expect.update(
                note="nested more than 50 levels deep were not read", unscannable="50 levels deep"
            )
        yield Case(f"depth-{depth}", nested(depth), expect=expect)
    yield Case(
        "depth-60-raised-limit",
        nested(60),
        ["--max-depth", "100"],
        {"secure": [CLIENT], "deliver": "ok"},
    )
    yield Case(
        "parts-1500",
        many_parts(1500),
        [],
        {
            "secure": [CLIENT],
            "note": "500 MIME part(s) past the limit of 1000 parts",
            "deliver": "ok",
        },
    )
    yield Case(
        "body-past-max-text",
        _message(body="x " * 100_000 + SECRET),
        ["--max-text", "100KB"],
        {"secure": [CLIENT], "unscannable": "only the first 102400 were read", "deliver": "ok"},
    )
    # Crafted bodies of growing size under the backtracking patterns: linear now.
    for size in (10_000, 100_000, 1_000_000):
        yield Case(f"crafted-body-{size}", _message(body=crafted_body(size)), [], {"deliver": "ok"})
    # Recipients: past the limit none is left out silently, and deliver refuses.
    yield Case(
        "recipients-100000",
        recipients(100_000),
        [],
        {
            "recipients": 1000,
            "note": "past the limit of 1000 were not decided",
            "deliver": "not decided",
        },
    )
    yield Case(
        "recipients-2000-raised-limit",
        recipients(2000),
        ["--max-recipients", "5000"],
        {"recipients": 2001, "deliver": "ok"},
    )  # (and the colleague in Cc)
    yield Case(
        "nul-in-address",
        _message(to=f"bo\x00b@clientco.example, {CLIENT}", body=SECRET),
        [],
        {"secure": [CLIENT], "note": "skipped invalid address", "deliver": "ok"},
    )
    # Encoding abuse.
    yield Case(
        "encoded-words-20000", encoded_words(20_000), [], {"secure": [CLIENT], "deliver": "ok"}
    )
    yield Case(
        "8-bit-attachment-name", eight_bit_filename(), [], {"secure": [CLIENT], "deliver": "ok"}
    )
    yield Case(
        "8-bit-headers",
        _message("X-Note: caf\udce9 \udcff", body=SECRET),
        [],
        {"secure": [CLIENT], "deliver": "ok"},
    )
    yield Case(
        "broken-base64",
        _message(
            "MIME-Version: 1.0",
            "Content-Transfer-Encoding: base64",
            body=base64.b64encode(SECRET.encode()).decode()[:-3] + "!!*\n",
        ),
        [],
        {"deliver": "ok"},
    )
    yield Case(
        "unknown-charset",
        _message("MIME-Version: 1.0", "Content-Type: text/plain; charset=x-klingon", body=SECRET),
        [],
        {"secure": [CLIENT], "deliver": "ok"},
    )
    yield Case("terminal-escapes", terminal_escapes(), [], {"secure": [CLIENT], "deliver": "ok"})
    yield Case(
        "bare-cr-line-ends",
        _message(body=f"line\rline\r{SECRET}\r").replace(b"\n", b"\r"),
        [],
        {"deliver": "ok"},
    )
    yield Case(
        "no-headers-at-all", b"\x00\x01\x02 just bytes", [], {"error": "cannot read message"}
    )


def hostile_config() -> str:
    """The demo configuration plus one content definition made of the
    backtracking patterns, examined for every message (it never fires: its
    activation score cannot be reached)."""
    lines = ", ".join("'1 regex " + p + "'" for p in PATTERNS)
    return (
        DEMO.read_text(encoding="utf-8")
        + f"""
[[content_definitions]]
name = "Hostile patterns"
activation_score = {HOSTILE_SCORE}
scan = ["subject", "headers", "body", "attachments"]
lines = [{lines}]

[[policies]]
kind = "content-examination"
narrative = "Every message meets the hostile patterns"
content_definition = "Hostile patterns"
"""
    )


def write(out: Path, select: Callable[[Case], bool] = lambda c: True) -> list[Case]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for case in cases():
        if not select(case):
            continue
        (out / f"{case.name}.eml").write_bytes(case.data)
        written.append(case)
    (out / "hostile.toml").write_text(hostile_config(), encoding="utf-8")
    manifest = {c.name: {"args": c.args, "expect": c.expect} for c in written}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/hostile/generate.py OUTDIR")
    done = write(Path(sys.argv[1]))
    print(f"{len(done)} hostile messages, hostile.toml and manifest.json in {sys.argv[1]}")
