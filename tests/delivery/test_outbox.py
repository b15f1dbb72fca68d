"""The outbox Maildir: written tmp/ -> new/, private, all-or-nothing per batch."""

from __future__ import annotations

import mailbox
import os
import stat

import pytest

from secmsg_cli.delivery.outbox import Outbox, OutboxError, default_outbox

MSG = b"From: a@example.com\nTo: b@example.com\nSubject: hi\n\nbody\n"


def test_the_default_outbox_is_beside_the_store(tmp_path):
    assert default_outbox(tmp_path / "demo.db") == tmp_path / "demo.db.outbox"
    with pytest.raises(OutboxError, match="--outbox"):
        default_outbox(":memory:")


def test_a_batch_is_invisible_until_published(tmp_path):
    box = Outbox(tmp_path / "out")
    batch = box.batch()
    f = batch.add(MSG, kind="reply", to=["b@example.com"])
    assert f.path.parent.name == "tmp" and f.path.read_bytes() == MSG
    reader = mailbox.Maildir(str(box.path), factory=None, create=False)
    assert list(reader.iterkeys()) == []
    [published] = batch.publish()
    assert published.path.parent.name == "new" and not f.path.exists()
    assert [reader.get_bytes(k) for k in reader.iterkeys()] == [MSG]


def test_discard_removes_every_file_wherever_it_is(tmp_path):
    box = Outbox(tmp_path / "out")
    batch = box.batch()
    batch.add(MSG, kind="reply", to=["b@example.com"])
    batch.add(MSG, kind="reply", to=["c@example.com"])
    batch.publish()
    batch.add(MSG, kind="ndr", to=["a@example.com"])  # one more, still in tmp/
    batch.discard()
    assert [p for sub in ("tmp", "new", "cur") for p in (box.path / sub).iterdir()] == []


def test_a_failed_publish_leaves_nothing(tmp_path, monkeypatch):
    box = Outbox(tmp_path / "out")
    batch = box.batch()
    for i in range(3):
        batch.add(MSG, kind="reply", to=[f"r{i}@example.com"])
    real, calls = os.link, []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "link", flaky)
    with pytest.raises(OutboxError, match="No space left"):
        batch.publish()
    assert [p for sub in ("tmp", "new") for p in (box.path / sub).iterdir()] == []


def test_the_outbox_is_private(tmp_path):
    old = os.umask(0)
    try:
        box = Outbox(tmp_path / "out")
        batch = box.batch()
        batch.add(MSG, kind="notification", to=["b@example.com"])
        [f] = batch.publish()
    finally:
        os.umask(old)
    for d in (box.path, box.path / "new", box.path / "tmp"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    assert stat.S_IMODE(f.path.stat().st_mode) == 0o600


def test_a_file_where_the_outbox_should_be_is_an_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutboxError, match="not a directory"):
        Outbox(tmp_path / "file")
