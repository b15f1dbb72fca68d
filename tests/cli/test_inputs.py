"""No input silently skipped or cut short: what ``simulate`` and ``deliver``
read from files, directories and mbox files (any case of ``.eml``, an mbox by
its content whatever its name, a byte-order mark), and what a directory run
names on stderr as not read."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

MESSAGES = FIXTURES / "messages"
AT = "2026-11-27T10:00:00+00:00"
ID_01 = "<20261126091405.4A21@harborfinch.com>"


def msg(number: str) -> Path:
    (found,) = MESSAGES.glob(f"{number}-*.eml")
    return found


def mbox_at(path: Path, *numbers: str) -> Path:
    """An mbox file (as Python's mailbox module writes one) of demo messages."""
    box = mailbox.mbox(str(path))
    for number in numbers:
        box.add(msg(number).read_bytes())
    box.flush()
    box.close()
    return path


@pytest.fixture
def inputs(tmp_path) -> Path:
    """A directory for the inputs (the test's store lives in tmp_path)."""
    path = tmp_path / "in"
    path.mkdir()
    return path


@pytest.fixture
def sim(demo):
    return lambda *args: demo("simulate", *args, "--at", AT, "-o", "json")


def ids(docs: list[dict]) -> list[str | None]:
    return [d["message"]["message_id"] if "message" in d else None for d in docs]


def test_an_upper_case_eml_in_a_subdirectory_is_read(sim, inputs):
    (inputs / "sub").mkdir()
    (inputs / "sub" / "nested.EML").write_bytes(msg("01").read_bytes())
    (inputs / "lower.eml").write_bytes(msg("02").read_bytes())
    (inputs / "Mixed.Eml").write_bytes(msg("03").read_bytes())
    r = sim(inputs)
    assert r.exit_code == 0, r.output
    assert sorted(Path(d["source"]).name for d in r.json) == [
        "Mixed.Eml",
        "lower.eml",
        "nested.EML",
    ]
    assert "not read" not in r.stderr


def test_an_mbox_saved_as_eml_is_every_message_in_it(sim, inputs):
    box = mbox_at(inputs / "x.eml", "01", "03", "02")
    r = sim(box)
    assert r.exit_code == 0, r.output
    docs = r.json
    assert [d["source"] for d in docs] == [f"{box}#1", f"{box}#2", f"{box}#3"]
    expected = []
    for number in ("01", "03", "02"):
        one = sim(msg(number))
        assert one.exit_code == 0, one.output
        expected.append(one.json["recipients"])
    assert [d["recipients"] for d in docs] == expected
    # in a directory too
    r2 = sim(inputs)
    assert [d["source"] for d in r2.json] == [f"{box}#1", f"{box}#2", f"{box}#3"]


def test_an_eml_with_one_envelope_line_and_from_lines_in_its_body_stays_one(sim, inputs):
    raw = msg("01").read_bytes()
    head, _, body = raw.partition(b"\n\n")
    path = inputs / "saved.eml"
    path.write_bytes(
        b"From alice.morgan@harborfinch.com Thu Nov 26 09:14:07 2026\n"
        + head
        + b"\n\nFrom the desk of Alice Morgan.\n\nFrom here on, the draft:\n\n"
        + body
    )
    r = sim(path)
    assert r.exit_code == 0, r.output
    assert isinstance(r.json, dict) and r.json["message"]["message_id"] == ID_01


def test_a_directory_holding_only_an_mbox_decides_its_messages(sim, inputs):
    box = mbox_at(inputs / "archive", "01", "02")
    r = sim(inputs)
    assert r.exit_code == 0, r.output
    assert [d["source"] for d in r.json] == [f"{box}#1", f"{box}#2"]
    assert ids(r.json)[0] == ID_01
    assert "no *.eml" not in r.output


def test_a_directory_with_no_message_says_so_and_names_what_it_skipped(sim, inputs):
    (inputs / "notes.txt").write_text("From the desk of nobody\n")
    r = sim(inputs)
    assert r.exit_code == 1, r.output
    (doc,) = r.json
    assert "no messages in this directory" in doc["error"]
    assert f"warning: {inputs}: 1 file(s) not read: {inputs / 'notes.txt'} (neither" in r.stderr


def test_files_not_read_are_named_once_with_a_count_and_the_first_few(sim, inputs):
    (inputs / "ok.eml").write_bytes(msg("01").read_bytes())
    for i in range(12):
        (inputs / f"readme-{i:02}.txt").write_text("hello\n")
    r = sim(inputs)
    assert r.exit_code == 0, r.output
    assert len(r.json) == 1
    (line,) = [x for x in r.stderr.splitlines() if x.startswith("warning:")]
    assert "12 file(s) not read" in line and "readme-00.txt" in line and "readme-04.txt" in line
    assert "readme-05.txt" not in line and "and 7 more" in line


def test_a_byte_order_mark_is_not_part_of_the_message(sim, inputs, demo):
    path = inputs / "bom.eml"
    path.write_bytes(b"\xef\xbb\xbf" + msg("01").read_bytes())
    r = sim(path)
    assert r.exit_code == 0, r.output
    assert r.json["message"]["message_id"] == ID_01
    # on standard input, and before an mbox's first separator line
    r2 = demo("simulate", "-", "--at", AT, "-o", "json", input=path.read_bytes().decode())
    assert r2.exit_code == 0, r2.output
    assert r2.json["message"]["message_id"] == ID_01
    box = mbox_at(inputs / "box", "01", "02")
    box.write_bytes(b"\xef\xbb\xbf" + box.read_bytes())
    r3 = sim(box)
    assert r3.exit_code == 0, r3.output
    assert ids(r3.json)[0] == ID_01 and len(r3.json) == 2


def test_an_mbox_message_over_the_size_limit_is_refused_and_the_rest_read(sim, inputs):
    box = mbox_at(inputs / "box.mbox", "02", "01", "02")
    size = len(msg("02").read_bytes())
    r = sim(box, "--max-size", str(size + 10))
    docs = r.json
    assert r.exit_code == 1, r.output
    assert [("error" in d) for d in docs] == [False, True, False]
    assert "--max-size" in docs[1]["error"]


def test_deliver_reads_the_same_inputs_and_names_the_same_skipped_files(demo, tmp_path):
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    (inputs / "sub" / "nested.EML").write_bytes(msg("01").read_bytes())
    mbox_at(inputs / "saved.eml", "03", "02")
    (inputs / "image.png").write_bytes(b"\x89PNG\r\n")
    r = demo("deliver", inputs, "--at", AT, "--outbox", tmp_path / "outbox", "-o", "json")
    assert r.exit_code == 0, r.output
    assert [Path(d["source"]).name for d in r.json] == ["saved.eml#1", "saved.eml#2", "nested.EML"]
    assert "1 file(s) not read" in r.stderr and "image.png" in r.stderr


def test_with_quiet_the_files_not_read_are_not_named(sim, inputs):
    (inputs / "ok.eml").write_bytes(msg("01").read_bytes())
    (inputs / "notes.txt").write_text("hello\n")
    r = sim(inputs, "-q")
    assert r.exit_code == 0 and len(r.json) == 1, r.output
    assert r.stderr == ""


def test_links_to_directories_and_fifos_are_named_not_followed_or_read(sim, inputs, tmp_path):
    import os

    (inputs / "ok.eml").write_bytes(msg("01").read_bytes())
    (inputs / "loop").symlink_to(inputs)
    os.mkfifo(inputs / "pipe")
    r = sim(inputs)
    assert r.exit_code == 0 and len(r.json) == 1, r.output
    (line,) = [x for x in r.stderr.splitlines() if x.startswith("warning:")]
    assert f"{inputs / 'loop'} (a link to a directory, not followed)" in line
    assert f"{inputs / 'pipe'} (not a regular file)" in line


def test_an_mbox_on_standard_input_is_every_message_in_it(demo, inputs):
    box = mbox_at(inputs / "box", "01", "03")
    r = demo("simulate", "-", "--at", AT, "-o", "json", input=box.read_bytes().decode())
    assert r.exit_code == 0, r.output
    assert [d["source"] for d in r.json] == ["-#1", "-#2"]
    assert ids(r.json)[0] == ID_01
    # one message keeping its envelope line is still one (one object)
    one = b"From alice@example.com Thu Nov 26 09:14:07 2026\n" + msg("01").read_bytes()
    r = demo("simulate", "-", "--at", AT, "-o", "json", input=one.decode())
    assert r.exit_code == 0, r.output
    assert r.json["source"] == "-" and r.json["message"]["message_id"] == ID_01
