"""``secmsg portal serve`` as a command: where it may listen, and what it
says when it cannot (the browser tests run it for real)."""

from __future__ import annotations

import socket

import pytest

from tests.helpers import assert_error


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
