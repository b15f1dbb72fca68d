"""A portal to test: the demo store with every demo message delivered at a
fixed time (built once per session through the real commands, copied per
test with its outbox), the web app over it with a clock the test sets, and
each copy's token read from its notification in the outbox."""

from __future__ import annotations

import email
import email.policy
import re
import shutil
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import DEMO, FIXTURES, TEST_ENV, run_cli

SENT = "2026-11-27T10:00:00Z"
READ_AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def tokens_in(outbox: Path) -> dict[int, str]:
    """Portal copy id -> the token in its notification's link."""
    found = {}
    for path in sorted((outbox / "new").iterdir()):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if msg["X-Secmsg-Kind"] != "notification":
            continue
        text = msg.get_body(("plain",)).get_content()
        found[int(msg["X-Secmsg-Portal-Id"])] = re.search(r"token=([^\s\"&]+)", text).group(1)
    return found


def links_in(outbox: Path) -> dict[int, str]:
    """Portal copy id -> the whole link of its notification."""
    found = {}
    for path in sorted((outbox / "new").iterdir()):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if msg["X-Secmsg-Kind"] == "notification":
            text = msg.get_body(("plain",)).get_content()
            found[int(msg["X-Secmsg-Portal-Id"])] = re.search(r"https?://\S+", text).group(0)
    return found


def outbox_kinds(outbox: Path) -> list[tuple[str, str]]:
    out = []
    for path in sorted((outbox / "new").iterdir()):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        out.append((msg["X-Secmsg-Kind"], str(msg["To"])))
    return out


@pytest.fixture(scope="session")
def delivered_template(tmp_path_factory) -> Path:
    """init + import demo + deliver every demo message at SENT, into
    DIR/store.db and DIR/outbox."""
    root = tmp_path_factory.mktemp("portal-template")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SECMSG_DB", str(root / "store.db"))
        for var, value in TEST_ENV.items():
            mp.setenv(var, value)
        commands = [("init",), ("import", DEMO)]
        for message in sorted((FIXTURES / "messages").glob("*.eml")):
            if message.name.startswith("08-"):
                continue  # no recipient headers: nothing to deliver
            commands.append(("-q", "deliver", message, "--outbox", root / "outbox", "--at", SENT))
        for command in commands:
            r = run_cli(*command)
            assert r.exit_code == 0, r.output
    return root


@dataclass
class Portal:
    """The app over a copy of the delivered store."""

    root: Path
    cli: object
    now: list[datetime] = field(default_factory=lambda: [READ_AT])
    tick: list[float] = field(default_factory=lambda: [1000.0])

    @property
    def db(self) -> Path:
        return self.root / "store.db"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    def tokens(self) -> dict[int, str]:
        return tokens_in(self.outbox)

    def deliver(self, message: str) -> int:
        """Deliver one more message (its text) at SENT; the id of its
        (last) portal copy."""
        eml = self.root / f"extra-{len(self.tokens())}.eml"
        eml.write_text(message)
        r = self.cli("-q", "deliver", eml, "--outbox", self.outbox, "--at", SENT)
        assert r.exit_code == 0, r.output
        return max(self.tokens())

    def app(self, **settings):
        from secmsg_cli.delivery.outbox import Outbox
        from secmsg_cli.web.app import Settings, create_app

        return create_app(
            Settings(
                db=self.db,
                outbox=Outbox(self.outbox),
                clock=lambda: self.now[0],
                monotonic=lambda: self.tick[0],
                **settings,
            )
        )

    def client(self, *, raise_server_exceptions: bool = True, **settings):
        with warnings.catch_warnings():
            # Starlette 1.x prefers its successor, httpx2; httpx works with
            # every Starlette the project allows, and is what it installs.
            warnings.filterwarnings("ignore", message="Using `httpx` with")
            from starlette.testclient import TestClient

        # as recipients reach it: at the demo account's https portal_url
        return TestClient(
            self.app(**settings),
            base_url="https://testserver",
            follow_redirects=False,
            raise_server_exceptions=raise_server_exceptions,
        )


@pytest.fixture
def portal(delivered_template, tmp_path, bare_cli, monkeypatch) -> Portal:
    root = tmp_path / "portal"
    shutil.copytree(delivered_template, root)
    monkeypatch.setenv("SECMSG_DB", str(root / "store.db"))
    return Portal(root, bare_cli)
