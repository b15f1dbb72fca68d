"""The one seam into the standard library's private API: message.py's
``_SafeMessage._get_params_preserve`` overrides the private method through
which ``email.message.Message`` reads every MIME parameter, to parse them in
linear time without raising. If a Python release stops calling it, the
override would silently do nothing (parameters parsed by the quadratic,
raising original again): these tests fail loudly instead."""

from __future__ import annotations

import email.message

import pytest

from secmsg_cli.engine import message as M

HEADERS = {
    "Content-Type": 'text/plain; charset="iso-8859-1"; format=flowed; name="a.txt"',
    "Content-Disposition": "attachment; filename*0*=utf-8''%E6%97%A5; filename*1=.bin",
}

# The public methods message.py reads parameters with, and what they return here.
PUBLIC = [
    ("get_param", lambda m: m.get_param("format", "", "content-type"), "flowed"),
    ("get_params", lambda m: m.get_params()[0], ("text/plain", "")),
    ("get_filename", lambda m: m.get_filename(), "日.bin"),
    ("get_content_charset", lambda m: m.get_content_charset(), "iso-8859-1"),
]


def _message() -> M._SafeMessage:
    m = M._SafeMessage()
    for name, value in HEADERS.items():
        m[name] = value
    return m


def test_the_standard_library_still_has_the_method_overridden() -> None:
    assert callable(getattr(email.message.Message, "_get_params_preserve", None))
    assert M._SafeMessage._get_params_preserve is not email.message.Message._get_params_preserve


@pytest.mark.parametrize(("name", "call", "expected"), PUBLIC, ids=[p[0] for p in PUBLIC])
def test_every_public_parameter_reader_goes_through_the_override(
    monkeypatch: pytest.MonkeyPatch, name: str, call, expected
) -> None:
    calls: list[str] = []
    original = M._SafeMessage._get_params_preserve

    def spy(self: M._SafeMessage, failobj: object, header: str) -> object:
        calls.append(header.lower())
        return original(self, failobj, header)

    # our own class, not the dependency's: the spy wraps the override itself
    monkeypatch.setattr(M._SafeMessage, "_get_params_preserve", spy)
    assert call(_message()) == expected
    assert calls, f"email.message.Message.{name}() no longer calls _get_params_preserve"


def test_the_parser_builds_parts_of_the_class_with_the_override() -> None:
    raw = b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--\r\n"
    root = M._parser(M.MAX_NESTING).parsebytes(raw)
    parts = [root, *M._children(root)]
    assert len(parts) == 2
    assert all(isinstance(p, M._SafeMessage) for p in parts)
