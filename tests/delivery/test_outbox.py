"""The outbox Maildir: written to tmp/, moved to new/ after the store's
commit, recovered after a crash in between; private, and refused when
others could write to it or its folders are symbolic links."""

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


def test_discard_removes_the_batch_from_tmp(tmp_path):
    box = Outbox(tmp_path / "out")
    other = box.batch()
    kept = other.add(MSG, kind="reply", to=["x@example.com"])  # another transaction's file
    batch = box.batch()
    batch.add(MSG, kind="reply", to=["b@example.com"])
    batch.add(MSG, kind="ndr", to=["a@example.com"])
    batch.discard()
    assert [p for sub in ("tmp", "new", "cur") for p in (box.path / sub).iterdir()] == [kept.path]


def test_a_failed_publish_leaves_the_rest_in_tmp_for_the_next_run(tmp_path, monkeypatch):
    box = Outbox(tmp_path / "out")
    batch = box.batch()
    for i in range(3):
        batch.add(MSG, kind="reply", to=[f"r{i}@example.com"])
    names = set(batch.names)
    real, calls = os.link, []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "link", flaky)
    with pytest.raises(OutboxError, match=r"No space left.*moved on the next run"):
        batch.publish()
    assert (
        len(list((box.path / "new").iterdir())) == 1
        and len(list((box.path / "tmp").iterdir())) == 2
    )
    monkeypatch.setattr(os, "link", real)
    moved, removed = box.recover(names)  # the store says all three were committed
    assert sorted(moved) == sorted(names) and removed == []
    assert {p.name for p in (box.path / "new").iterdir()} == names
    assert list((box.path / "tmp").iterdir()) == []


def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_recover_removes_uncommitted_files_only_of_processes_that_are_gone(tmp_path):
    from secmsg_cli.delivery import outbox as outbox_module

    box = Outbox(tmp_path / "out")
    host = outbox_module._hostname()
    dead = f"1796000000.M000001P{_dead_pid()}Q1R0123abcd.{host}"
    alive = f"1796000000.M000002P{os.getpid()}Q2R0123abcd.{host}"
    elsewhere = f"1796000000.M000003P{_dead_pid()}Q3R0123abcd.other-host"
    foreign = "not-ours"
    committed = f"1796000000.M000004P{_dead_pid()}Q4R0123abcd.{host}"
    for name in (dead, alive, elsewhere, foreign, committed):
        (box.path / "tmp" / name).write_bytes(MSG)
    moved, removed = box.recover({committed})
    assert moved == [committed] and removed == [dead]
    assert sorted(p.name for p in (box.path / "tmp").iterdir()) == sorted(
        [alive, elsewhere, foreign]
    )
    assert [p.name for p in (box.path / "new").iterdir()] == [committed]
    # what nobody has claimed for 36 hours is abandoned (the Maildir rule)
    for name in (elsewhere, foreign):
        os.utime(box.path / "tmp" / name, (0, 0))
    assert sorted(box.recover(set())[1]) == sorted([elsewhere, foreign])


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


@pytest.mark.parametrize("sub", ["tmp", "new", "cur"])
def test_an_outbox_folder_that_is_a_symbolic_link_is_refused(tmp_path, sub):
    Outbox(tmp_path / "out")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = tmp_path / "out" / sub
    target.rmdir()
    target.symlink_to(elsewhere)
    with pytest.raises(OutboxError, match=f"its {sub}/ is a symbolic link"):
        Outbox(tmp_path / "out")
    target.unlink()
    target.symlink_to(tmp_path / "missing")  # dangling
    with pytest.raises(OutboxError, match=f"its {sub}/ is a symbolic link"):
        Outbox(tmp_path / "out")
    assert list(elsewhere.iterdir()) == [] and not (tmp_path / "missing").exists()


@pytest.mark.parametrize("where", ["", "new"])
def test_an_outbox_every_user_can_write_to_is_refused(tmp_path, where):
    Outbox(tmp_path / "out")
    path = tmp_path / "out" / where if where else tmp_path / "out"
    path.chmod(0o777)
    with pytest.raises(OutboxError, match="writable by every user") as e:
        Outbox(tmp_path / "out")
    assert "\n" not in str(e.value) and "chmod o-w" in str(e.value)
    path.chmod(0o700)
    Outbox(tmp_path / "out")
