"""A hypothesis suite over the configuration file (issue 7 §5, SPEC §9/§11).

Random documents — the demo configuration with sections dropped, entries
duplicated, field values replaced by random or mutated values and unknown
fields added, written as TOML or JSON, plus random text — go through the real
``secmsg import`` and ``secmsg apply``. The command never tracebacks, exits 0,
1 or 3, and when it fails the store is exactly as before: no partial store.
"""

from __future__ import annotations

import copy
import json
import tomllib
from itertools import count

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secmsg_cli.store.store import Store
from tests.conftest import DEMO

pytestmark = pytest.mark.slow  # hypothesis-generated configuration files

BASE = tomllib.loads(DEMO.read_text())
SECTIONS = [
    "account",
    "domains",
    "groups",
    "attributes",
    "folders",
    "definitions",
    "content_definitions",
    "policies",
]
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "everyone",
            "internal",
            "external",
            "group",
            "domain",
            "attribute",
            "address",
            "apply",
            "no-action",
            "disable",
            "secure-messaging",
            "bypass",
            "content-examination",
            "7d",
            "0d",
            "never",
            "-1d",
            "99999999d",
            "2026-01-01",
            "2026-13-45",
            "not-a-date",
            "10.0.0.0/33",
            "::/0",
            "Legal",
            "Legal/7-Day Expiry, Receipt",
            "Board",
            "../..",
            "x@y",
            "@example.com",
            "a@b.c",
            "regex (",
            '1 "x"',
            "5 regex \\b(",
            "\x00",
            "\ud7ff",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=8,
)


@st.composite
def documents(draw):
    """The demo document, mutated."""
    doc = copy.deepcopy(BASE)
    for section in draw(st.lists(st.sampled_from(SECTIONS), max_size=3, unique=True)):
        doc.pop(section, None)  # dropped sections: dangling references
    for _ in range(draw(st.integers(0, 6))):
        section = draw(st.sampled_from(SECTIONS))
        if section not in doc:
            continue
        part = doc[section]
        if isinstance(part, dict):
            entry = part
        elif isinstance(part, list) and part and all(isinstance(e, dict) for e in part):
            entry = draw(st.sampled_from(part))
        else:
            continue  # already replaced by a value of the wrong type
        action = draw(
            st.sampled_from(["replace", "replace", "unknown", "delete", "duplicate", "wrong-type"])
        )
        keys = sorted(entry)
        if action == "replace" and keys:
            entry[draw(st.sampled_from(keys))] = draw(values)
        elif action == "unknown":
            entry[draw(st.text(min_size=1, max_size=10))] = draw(scalars)
        elif action == "delete" and keys:
            del entry[draw(st.sampled_from(keys))]
        elif action == "duplicate" and isinstance(part, list):
            part.append(copy.deepcopy(entry))
        elif action == "wrong-type":
            doc[section] = draw(values)
    if draw(st.booleans()):
        doc[draw(st.text(min_size=1, max_size=10))] = draw(values)  # an unknown section
    return doc


def _write(tmp_path, n: int, doc, fmt: str):
    if fmt == "toml":
        import tomli_w

        def clean(v):  # TOML has no null
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items() if x is not None}
            if isinstance(v, list):
                return [clean(x) for x in v if x is not None]
            return v

        try:
            text = tomli_w.dumps(clean(doc))
            path = tmp_path / f"c{n}.toml"
            path.write_text(text, encoding="utf-8", errors="surrogatepass")
            return path
        except (TypeError, ValueError):
            pass
    path = tmp_path / f"c{n}.json"
    path.write_bytes(json.dumps(doc, ensure_ascii=False).encode("utf-8", errors="surrogatepass"))
    return path


def _state(db):
    from secmsg_cli.config import export_document

    with Store(db) as store:
        assert store.check() == []
        return store.counts(), export_document(store), store.audit_log()


def _run_and_check(cli, db, *args) -> int:
    before = _state(db)
    r = cli("--db", db, *args)
    assert r.exit_code in (0, 1, 3), r.output
    for stream in (r.stdout, r.stderr):
        assert "Traceback" not in stream and "internal error" not in stream, r.output
    if r.exit_code != 0:
        assert r.stderr.strip(), r.output
        assert _state(db) == before, "a failed command changed the store"
    else:
        with Store(db) as store:
            assert store.check() == []
    return r.exit_code


_n = count()


@pytest.fixture
def fresh(tmp_path):
    def make():
        db = tmp_path / f"s{next(_n)}.db"
        Store(db, create=True).close()
        return db

    return make


@SETTINGS
@given(doc=documents(), fmt=st.sampled_from(["toml", "json"]))
def test_import_random_documents(cli, tmp_path, fresh, doc, fmt):
    db = fresh()
    path = _write(tmp_path, next(_n), doc, fmt)
    _run_and_check(cli, db, "import", path)


@SETTINGS
@given(doc=documents(), fmt=st.sampled_from(["toml", "json"]))
def test_apply_random_documents_onto_the_demo(cli, tmp_path, demo_template, doc, fmt):
    import shutil

    db = tmp_path / f"d{next(_n)}.db"
    shutil.copyfile(demo_template, db)
    path = _write(tmp_path, next(_n), doc, fmt)
    _run_and_check(cli, db, "apply", path, "--yes", "--prune")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.one_of(
        st.text(max_size=300),
        st.builds(
            lambda a, b: DEMO.read_text()[:a] + b, st.integers(0, 4000), st.text(max_size=40)
        ),
    ),
    suffix=st.sampled_from([".toml", ".json", ".txt"]),
)
def test_import_random_text(cli, tmp_path, fresh, text, suffix):
    db = fresh()
    path = tmp_path / f"t{next(_n)}{suffix}"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    _run_and_check(cli, db, "import", path)


def test_the_unmutated_demo_imports(cli, tmp_path, fresh):
    """The generator's base document is valid: the suite does reach the writes."""
    db = fresh()
    assert _run_and_check(cli, db, "import", _write(tmp_path, 0, copy.deepcopy(BASE), "toml")) == 0
    with Store(db) as store:
        assert store.counts()["policies"] == len(BASE["policies"])
