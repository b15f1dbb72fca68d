"""``secmsg portal serve`` as a command: where it may listen, and what it
says when it cannot (the browser tests run it for real)."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

import pytest

from tests.helpers import assert_error, ok


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_a_host_other_machines_reach_needs_public(demo, host):
    r = demo("portal", "serve", "--host", host, "--port", "0")
    assert_error(r, 1, f"--host {host} is not a loopback address", "--public")


def test_a_port_in_use_is_one_line(demo):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = demo("portal", "serve", "--port", str(port))
    assert_error(r, 1, f"cannot listen on 127.0.0.1 port {port}")


def test_a_bad_at_is_refused_before_listening(demo):
    assert_error(demo("portal", "serve", "--at", "tomorrowish"), 1, "--at")


@contextlib.contextmanager
def _a_running_portal(
    demo, tmp_path: Path, db: Path
) -> Iterator[tuple[subprocess.Popen, SplitResult]]:
    """``portal serve`` as a process on a free port with its clock stopped,
    the account's portal_url pointing at it, and message 01 delivered:
    yields the process and the notification's link. A process the test
    leaves running is killed."""
    from tests.conftest import FIXTURES
    from tests.web.conftest import links_in

    outbox = tmp_path / "outbox"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "secmsg_cli", "portal", "serve", "--port", "0"),
            *("--at", "2026-11-28T09:00:00Z", "--outbox", str(outbox)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SECMSG_DB": str(db)},
    )
    try:
        url = proc.stdout.readline().split(" at ", 1)[1].split()[0]
        ok(demo("account", "set", "--portal-url", url.rstrip("/")))
        message = FIXTURES / "messages" / "01-confidential-subject-to-counsel.eml"
        ok(demo("-q", "deliver", message, "--outbox", outbox, "--at", "2026-11-27T10:00:00Z"))
        yield proc, urlsplit(links_in(outbox)[1])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _press_open(link: SplitResult) -> http.client.HTTPResponse:
    """Follow the notification's link and press the page's button, over
    real connections: the answer that sets the session cookie."""
    conn = http.client.HTTPConnection(link.hostname, link.port, timeout=10)
    conn.request("GET", f"{link.path}?{link.query}")
    page = conn.getresponse()
    assert page.status == 200 and b'id="open"' in page.read()
    conn.request(
        "POST",
        f"{link.path}/open",
        body=link.query,  # token=...
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    answer = conn.getresponse()
    assert answer.status == 303, answer.read()[:2000]
    answer.read()
    conn.close()
    return answer


@pytest.mark.slow  # a real server process
def test_the_running_portal_sees_what_other_commands_write(demo, tmp_path, _isolated_store):
    """The server process opens one store connection at a time: with a
    second one open, a connection opened after another process had written
    read the store as malformed (closing any descriptor of the file drops the
    process's SQLite locks). Ctrl-C ends it with 130, quietly."""
    with _a_running_portal(demo, tmp_path, _isolated_store) as (proc, link):
        answer = _press_open(link)
        assert answer.getheader("location") == "/portal/"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 130 and "error" not in err and "Traceback" not in err, err


@pytest.mark.slow  # a real server process
def test_ctrl_c_ends_the_portal_while_a_request_is_under_way(demo, tmp_path, _isolated_store):
    """A request whose body never comes (a recipient's slow connection, or
    anyone with a session holding one open) kept the portal running after
    Ctrl-C for as long as the client liked: uvicorn waits for requests under
    way, with no limit unless told one. Now they get GRACE_SECONDS, and the
    portal ends with 130, quietly."""
    from secmsg_cli.cli.portal import GRACE_SECONDS

    with _a_running_portal(demo, tmp_path, _isolated_store) as (proc, link):
        cookie = _press_open(link).getheader("set-cookie").split(";")[0]
        stuck = socket.create_connection((link.hostname, link.port))
        stuck.sendall(
            f"POST {link.path}/reply HTTP/1.1\r\nHost: {link.netloc}\r\nCookie: {cookie}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
            "csrf=".encode()
        )
        time.sleep(0.5)  # the request is under way, waiting for its body
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=GRACE_SECONDS + 10)
        stuck.close()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "CancelledError" not in err, err
