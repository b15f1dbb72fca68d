"""Configuration as code (docs/configuration.md): the whole account as one TOML (or JSON)
document.

- :func:`export_document` reads the store into a plain document (built-ins are
  not exported); :func:`dumps` writes it as TOML in the layout of docs/configuration.md, or
  as JSON.
- :func:`parse_text` reads a TOML/JSON text; :func:`validate_document` checks the
  whole document at once and returns a :class:`Config` or raises a
  :class:`ConfigError` listing every problem with its location (section,
  index, object, line).
- :func:`import_config` writes a validated Config into an empty store in one
  transaction, through the same store methods the CLI uses.

Each section is one entry of :data:`SECTIONS`; later kinds of object
(content definitions, policies) add an entry rather than a special case.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secmsg_cli.engine.addresses import (
    AddressError,
    domain_of,
    is_internal,
    normalise_address,
    normalise_member,
)
from secmsg_cli.errors import ConfigError, shorten
from secmsg_cli.model import (
    ACCOUNT_FIELDS,
    BUILTIN_FOLDER,
    DEFINITION_SETTINGS,
    DOMAIN_TYPES,
    EVERYONE,
    Account,
    check_account_field,
    check_attribute_name,
    check_attribute_value,
    check_choice,
    check_description,
    check_folder_path,
    check_group_name,
)
from secmsg_cli.problems import (
    InvalidDocument,
    Problem,
    Problems,
    Source,
    count_line,
    did_you_mean,
)
from secmsg_cli.store.policies import content_definition_fields, policy_fields
from secmsg_cli.store.templates import check_template, template_fields
from secmsg_cli.validate import (
    check_content_definition,
    check_definition_field,
    check_domain,
    check_policy,
)

if TYPE_CHECKING:
    from secmsg_cli.store.store import Store

FORMAT_VERSION = 1

DOMAIN_FIELDS = ("name", "type")
USER_FIELDS = ("address",)
GROUP_FIELDS = ("name", "members")
ATTRIBUTE_FIELDS = ("address", "values")
FOLDER_FIELDS = ("path", "publish_to")
DEFINITION_FIELDS = ("folder", "description", *DEFINITION_SETTINGS)


# --- the validated document -------------------------------------------------


@dataclass
class Config:
    """A validated, normalised configuration document."""

    account: dict[str, Any] = field(default_factory=dict)
    domains: list[tuple[str, str]] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    groups: list[tuple[str, list[str]]] = field(default_factory=list)
    attributes: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    folders: list[tuple[str, list[str] | None]] = field(default_factory=list)
    definitions: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    content_definitions: list[dict[str, Any]] = field(default_factory=list)
    policies: list[dict[str, Any]] = field(default_factory=list)
    notification_templates: list[dict[str, Any]] = field(default_factory=list)


# --- export -----------------------------------------------------------------


def export_document(store: Store, *, logos: bool = False) -> dict[str, Any]:
    """The store's configuration as a plain document (docs/configuration.md field names).
    A template's logo is its path; with ``logos`` (what ``plan`` compares) also
    ``logo_sha256`` and the bytes, ``logo_data``."""
    doc: dict[str, Any] = {
        "account": {name: getattr(store.account(), name) for name in ACCOUNT_FIELDS}
    }
    doc["domains"] = [{"name": d.name, "type": d.type} for d in store.domains()]
    doc["users"] = [{"address": u["address"]} for u in store.users()]
    doc["groups"] = [{"name": g.name, "members": list(g.members)} for g in store.groups()]
    by_address: dict[str, dict[str, str]] = {}
    for row in store.attributes():
        by_address.setdefault(row["address"], {})[row["name"]] = row["value"]
    doc["attributes"] = [{"address": a, "values": v} for a, v in by_address.items()]
    folders = []
    for f in store.folders():
        if f.path == BUILTIN_FOLDER and f.publish_to == (EVERYONE,):
            continue  # the built-in folder as created: not exported
        entry: dict[str, Any] = {"path": f.path}
        if f.publish_to is not None:
            entry["publish_to"] = list(f.publish_to)
        folders.append(entry)
    doc["folders"] = folders
    templates = []
    for t in store.template_records.templates():
        entry = template_fields(t)
        if logos and t.logo_data is not None:
            entry["logo_sha256"] = hashlib.sha256(t.logo_data).hexdigest()
            entry["logo_data"] = t.logo_data
        templates.append(entry)
    doc["notification_templates"] = templates
    definitions = []
    for d in store.definitions():
        if d.builtin:
            continue
        entry = {"folder": d.folder, "description": d.description}
        for name in DEFINITION_SETTINGS:
            value = getattr(d, name)
            if value is None:
                continue
            entry[name] = value if isinstance(value, (bool, str, int)) else str(value)
        definitions.append(entry)
    doc["definitions"] = definitions
    doc["content_definitions"] = [
        content_definition_fields(cd) for cd in store.content_definitions()
    ]
    doc["policies"] = [policy_fields(p) for p in store.policies()]
    return {k: v for k, v in doc.items() if v != []}


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_value(key)


def _toml_value(value: Any) -> str:
    import tomli_w

    if isinstance(value, Mapping):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, (list, tuple)):
        items = [_toml_value(v) for v in value]
        flat = "[" + ", ".join(items) + "]"
        if len(flat) <= 80:
            return flat
        return "[\n" + "".join(f"    {item},\n" for item in items) + "]"
    if (
        isinstance(value, str)
        and ("\\" in value or '"' in value)
        and "'" not in value
        and not any(ord(ch) < 32 or ord(ch) == 127 for ch in value)
    ):
        return f"'{value}'"  # a literal string: regexes and quoted phrases stay readable
    text = tomli_w.dumps({"v": value}, multiline_strings=True)
    return text[len("v = ") :].rstrip("\n")


def dumps(doc: Mapping[str, Any], fmt: str = "toml") -> str:
    """Write a document as TOML (the layout of docs/configuration.md) or JSON."""
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    chunks: list[str] = [f"# secmsg configuration (format {FORMAT_VERSION})\n"]
    for section, value in doc.items():
        if isinstance(value, Mapping):
            body = "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in value.items())
            chunks.append(f"\n[{section}]\n{body}")
        else:
            for item in value:
                body = "".join(f"{_toml_key(k)} = {_toml_value(v)}\n" for k, v in item.items())
                chunks.append(f"\n[[{section}]]\n{body}")
    return "".join(chunks)


# --- parsing ----------------------------------------------------------------


def parse_text(
    text: str, name: str = "<config>", fmt: str | None = None
) -> tuple[dict[str, Any], Source]:
    """Parse a TOML or JSON document (JSON when ``fmt`` says so, when the name
    ends in ``.json``, or when the text starts with ``{``)."""
    if fmt is None:
        fmt = "json" if name.lower().endswith(".json") or text.lstrip().startswith("{") else "toml"
    too_deep = ConfigError(
        f"{name}: nested too deeply (more than {MAX_DEPTH} levels of arrays and tables)"
    )
    if fmt == "json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            problem = Problem(
                f"invalid JSON: {exc.msg[:1].lower()}{exc.msg[1:]}",
                path=name,
                line=exc.lineno,
                column=exc.colno,
                code="SM001",
            )
            raise InvalidDocument(count_line(name, 1), [problem]) from None
        except RecursionError:  # the parser's own recursion, thousands of levels deep
            raise too_deep from None
        except ValueError as exc:  # a number of more than 4,300 digits
            raise ConfigError(f"{name}: invalid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ConfigError(f"{name}: expected a JSON object at the top level")
    else:
        import tomllib

        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise _toml_syntax_error(name, text, exc) from None
        except RecursionError:
            raise too_deep from None
        except ValueError as exc:
            raise ConfigError(f"{name}: invalid TOML: {exc}") from None
    if (
        _depth(doc) > MAX_DEPTH
    ):  # what the parser accepted may still be too deep for everything after it
        raise too_deep
    return doc, Source(name, text, fmt)


# tomllib's messages in plain words; a message not listed here keeps tomllib's
# wording, its first letter lowered. Matched on the start of the message.
_TOML_WORDING: tuple[tuple[str, str], ...] = (
    (
        "Expected newline or end of document after a statement",
        "expected the end of the line after the value (one key = value per line; text needs quotes)",
    ),
    ("Expected '=' after a key in a key/value pair", "expected '=' after the key"),
    ("Expected ']' at the end of a table declaration", "the table header needs a closing ']'"),
    ("Expected ']]' at the end of an array declaration", "the table header needs a closing ']]'"),
    ("Invalid initial character for a key part", "expected a key (a name, or a quoted one) here"),
    ("Invalid statement", "expected a key = value pair or a [table] header here"),
    ("Unterminated string", "a string is not closed: its closing quote is missing"),
    ("Unclosed array", "a list is not closed: expected ',' or ']'"),
    ("Unclosed inline table", "an inline table is not closed: expected ',' or '}'"),
    (
        "Unescaped '\\' in a string",
        "a backslash in a \"...\" string starts an escape: write \\\\ or use a '...' string",
    ),
    ("Invalid date or datetime", "not a valid date or time"),
    ("Cannot overwrite a value", "this key is given twice"),
    ("Cannot declare", "this table is declared twice"),
    ("Duplicate inline table key", "this key is given twice in the inline table"),
    ("Illegal character", "a control character that is not allowed here (escape it)"),
)


def _toml_syntax_error(name: str, text: str, exc: Exception) -> InvalidDocument:
    """A TOML syntax error as one problem, in plain words, at its line and
    column: tomllib gives them as attributes from Python 3.12 and in its
    message before."""
    raw = str(exc)
    msg = getattr(exc, "msg", None) or re.sub(
        r" \(at (line \d+, column \d+|end of document)\)$", "", raw
    )
    line: int | None = getattr(exc, "lineno", None)
    column: int | None = getattr(exc, "colno", None)
    if line is None:
        m = re.search(r"\(at line (\d+), column (\d+)\)$", raw)
        if m:
            line, column = int(m.group(1)), int(m.group(2))
        else:  # at the end of the document
            line = text.count("\n") + 1
            column = len(text) - (text.rfind("\n") + 1) + 1
    if msg == "Illegal character '\\n'":  # a line break inside a one-line string
        wording = "a string is not closed: its closing quote is missing"
    elif msg == "Invalid value":
        lines = text.splitlines()
        rest = lines[line - 1][(column or 1) - 1 :] if 0 < line <= len(lines) else ""
        wording = (
            "a value is missing after '='"
            if not rest.split("#")[0].strip()
            else 'not a valid value (text needs quotes: "...")'
        )
    else:
        wording = next(
            (plain for start, plain in _TOML_WORDING if msg.startswith(start)),
            msg[:1].lower() + msg[1:],
        )
    problem = Problem(wording, path=name, line=line, column=column, code="SM001")
    return InvalidDocument(count_line(name, 1), [problem])


# A configuration needs 4 levels (policies -> a policy -> from -> value); a
# test case file a few more. Anything deeper is a mistake or an attack, and
# would only reach the interpreter's recursion limit later, somewhere else.
MAX_DEPTH = 32


def _depth(doc: Any) -> int:
    """How deeply ``doc``'s arrays and tables nest (iteratively: no recursion to exhaust)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Iterable[Any] = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def read_file(path: str) -> tuple[dict[str, Any], Source]:
    """Read and parse a configuration file (``-`` = standard input)."""
    import sys
    from pathlib import Path

    if path == "-":
        raw = sys.stdin.buffer.read()
        return parse_text(decode_utf8(raw, path), path)
    return parse_text(read_utf8(Path(path), "a TOML or JSON file"), path)


def read_utf8(path: str | PathLike[str], expected: str, *, what: str = "") -> str:
    """A UTF-8 text file (a BOM tolerated); every failure a ConfigError (exit 3)."""
    from pathlib import Path

    p = Path(path)
    try:
        if p.is_dir():
            raise ConfigError(f"{path}: is a directory, expected {expected}")
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what}{path}: {exc.strerror or exc}") from None
    except ValueError:  # "embedded null byte": no file has such a name
        raise ConfigError(
            f"cannot read {what}{path!r}: a file name cannot contain a NUL byte"
        ) from None
    return decode_utf8(raw, str(path))


def decode_utf8(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: not UTF-8 text (byte {exc.start})") from None


# --- validation -------------------------------------------------------------


def _at(p: Problems, section: str, index: int | None = None, label: str | None = None) -> Problems:
    """The problems of one section, or of one entry of it: the object named as
    ``section[index] (label)``, the label being the entry's name as the file
    writes it (a name, not an echo of a huge value)."""
    where = section if index is None else f"{section}[{index}]"
    if label:
        where += f" ({shorten(label)})"
    return p.within(section, *(() if index is None else (index,)), object=where)


def _entries(
    doc: Mapping[str, Any], section: str, p: Problems
) -> list[tuple[int, Mapping[str, Any]]]:
    value = doc.get(section, [])
    if not isinstance(value, list):
        _at(p, section).add(None, f"expected an array of tables ([[{section}]])")
        return []
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            _at(p, section, i).add(None, "expected a table")
            continue
        out.append((i, item))
    return out


def _known(p: Problems, item: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in item:
        if key not in allowed:
            p.add(key, f"unknown field {key!r} (expected one of {', '.join(allowed)})")


def _required(p: Problems, item: Mapping[str, Any], *keys: str) -> bool:
    """Whether ``item`` has every key in ``keys``; the first one missing is a problem."""
    for key in keys:
        if key not in item:
            p.add(None, f"missing required field {key!r}")
            return False
    return True


def _validate_account(doc: Mapping[str, Any], cfg: Config, p: Problems) -> None:
    account = doc.get("account", {})
    at = _at(p, "account")
    if not isinstance(account, Mapping):
        at.add(None, "expected a table ([account])")
        return
    _known(at, account, ACCOUNT_FIELDS)
    defaults = Account()
    for name in ACCOUNT_FIELDS:
        if name in account:
            cfg.account[name] = at.check(name, check_account_field, name, account[name])
        else:
            cfg.account[name] = getattr(defaults, name)


def _validate_domains(doc: Mapping[str, Any], cfg: Config, p: Problems) -> None:
    seen: set[str] = set()
    for i, item in _entries(doc, "domains", p):
        at = _at(p, "domains", i)
        _known(at, item, DOMAIN_FIELDS)
        if not _required(at, item, "name"):
            continue
        name = at.check("name", check_domain, item["name"])
        dtype = at.check(
            "type", check_choice, item.get("type", "local"), DOMAIN_TYPES, "domain type"
        )
        if name is None or dtype is None:
            continue
        if name in seen:
            at.add("name", f"domain {name} is declared twice")
            continue
        seen.add(name)
        cfg.domains.append((name, dtype))


def _validate_users(doc: Mapping[str, Any], cfg: Config, p: Problems) -> None:
    """The directory's users: addresses at one of the account's domains
    (``secmsg user add`` accepts no other), each once."""
    domains = {name for name, _ in cfg.domains}
    seen: set[str] = set()
    for i, item in _entries(doc, "users", p):
        at = _at(p, "users", i)
        _known(at, item, USER_FIELDS)
        if not _required(at, item, "address"):
            continue
        if not isinstance(item["address"], str):
            at.add("address", "expected an address (a string)")
            continue
        address = at.check("address", normalise_address, item["address"])
        if address is None:
            continue
        if not is_internal(address, domains):
            at.add(
                "address",
                f"{address} is not at one of the account's domains (declare "
                f"{domain_of(address)} in [[domains]]): users are internal addresses",
            )
            continue
        if address in seen:
            at.add("address", f"user {address} is declared twice")
            continue
        seen.add(address)
        cfg.users.append(address)


def _string_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what}: expected a list of strings")
    return value


def _validate_groups(doc: Mapping[str, Any], cfg: Config, p: Problems) -> set[str]:
    names: dict[str, str] = {}
    for i, item in _entries(doc, "groups", p):
        at = _at(p, "groups", i)
        _known(at, item, GROUP_FIELDS)
        if not _required(at, item, "name"):
            continue
        name = at.check("name", check_group_name, item["name"])
        if name is None:
            continue
        named = _at(p, "groups", i, name)
        members: list[str] = []
        raw = named.check("members", _string_list, item.get("members", []), "members")
        for m in raw or []:
            try:
                members.append(normalise_member(m))
            except AddressError as exc:
                named.add("members", str(exc))
        if name.lower() in names:
            at.add("name", f"group {name!r} is declared twice")
            continue
        names[name.lower()] = name
        cfg.groups.append((name, sorted(set(members))))
    return set(names)


def _attribute_values(at: Problems, values: Mapping[str, Any]) -> dict[str, str]:
    """The valid ``Name = "value"`` pairs of one address (names ignore case)."""
    checked: dict[str, str] = {}
    for name, value in values.items():
        n = at.check("values", check_attribute_name, name)
        v = at.check("values", check_attribute_value, value)
        if n is not None and any(n.lower() == known.lower() for known in checked):
            at.add("values", f"attribute {n!r} is given twice (names ignore case)")
        elif n is not None and v is not None:
            checked[n] = v
    return checked


def _validate_attributes(doc: Mapping[str, Any], cfg: Config, p: Problems) -> None:
    seen: set[str] = set()
    for i, item in _entries(doc, "attributes", p):
        at = _at(p, "attributes", i)
        _known(at, item, ATTRIBUTE_FIELDS)
        if not _required(at, item, "address", "values"):
            continue
        address = at.check("address", normalise_address, item["address"])
        values = item["values"]
        named = _at(p, "attributes", i, address)
        if not isinstance(values, Mapping) or not values:
            named.add(
                "values",
                'expected a table of Name = "value" pairs, such as { Department = "Legal" }',
            )
            continue
        checked = _attribute_values(named, values)
        if address is None:
            continue
        if address in seen:
            at.add("address", f"{address} is declared twice (put all its values in one entry)")
            continue
        seen.add(address)
        cfg.attributes.append((address, checked))


def _publish_to(
    at: Problems, item: Mapping[str, Any], groups: set[str], cfg: Config
) -> list[str] | None:
    """A folder's ``publish_to``: None when absent; every group in it declared."""
    if "publish_to" not in item:
        return None
    publish = at.check("publish_to", _string_list, item["publish_to"], "publish_to")
    for target in publish or []:
        if target.strip().lower() != EVERYONE and target.strip().lower() not in groups:
            at.add(
                "publish_to",
                f"unknown group {target!r} (declare it in [[groups]] or use 'everyone')"
                + did_you_mean(target, [EVERYONE, *(name for name, _ in cfg.groups)]),
                code="SM103",
            )
    return publish


def _validate_folders(
    doc: Mapping[str, Any], cfg: Config, p: Problems, groups: set[str]
) -> set[str]:
    paths: dict[str, str] = {BUILTIN_FOLDER.lower(): BUILTIN_FOLDER}
    declared: list[tuple[int, str, list[str] | None]] = []
    for i, item in _entries(doc, "folders", p):
        at = _at(p, "folders", i)
        _known(at, item, FOLDER_FIELDS)
        if not _required(at, item, "path"):
            continue
        path = at.check("path", check_folder_path, item["path"])
        if path is None:
            continue
        publish = _publish_to(_at(p, "folders", i, path), item, groups, cfg)
        if path.lower() in paths and not (
            path.lower() == BUILTIN_FOLDER.lower()
            and BUILTIN_FOLDER.lower() not in {d[1].lower() for d in declared}
        ):
            at.add("path", f"folder {path!r} is declared twice")
            continue
        paths[path.lower()] = path
        declared.append((i, path, publish))
    for i, path, publish in declared:
        parent = path.rpartition("/")[0]
        if parent and parent.lower() not in paths:
            _at(p, "folders", i, path).add(
                "path",
                f"parent folder {parent!r} is not declared"
                + did_you_mean(parent, [d[1] for d in declared if d[1] != path]),
            )
        cfg.folders.append((path, publish))
    cfg.folders.sort(key=lambda f: f[0].count("/"))
    return set(paths)


BUILTIN_DESCRIPTIONS = ("all recipients", "external recipients")


def _definition_fields(
    at: Problems, item: Mapping[str, Any]
) -> tuple[str | None, str | None, dict[str, Any]]:
    """A definition's folder, description and settings, each checked."""
    folder = at.check("folder", check_folder_path, item["folder"])
    description = at.check("description", check_description, item["description"])
    settings: dict[str, Any] = {}
    for name in DEFINITION_SETTINGS:
        if name in item:
            settings[name] = at.check(name, check_definition_field, name, item[name])
    return folder, description, settings


def _validate_definitions(
    doc: Mapping[str, Any],
    cfg: Config,
    p: Problems,
    folders: set[str],
    templates: set[str],
) -> set[str]:
    paths: set[str] = set()
    entries = _entries(doc, "definitions", p)
    if entries and cfg.account.get("edition") == "lite":
        _at(p, "definitions", entries[0][0]).add(
            None, "the account's edition is 'lite', which allows only the built-in definitions"
        )
    for i, item in entries:
        label = f"{item.get('folder', '?')}/{item.get('description', '?')}"
        at = _at(p, "definitions", i, label)
        _known(at, item, DEFINITION_FIELDS)
        if not _required(_at(p, "definitions", i), item, "folder", "description"):
            continue
        folder, description, settings = _definition_fields(at, item)
        if folder is None or description is None:
            continue
        if folder.lower() not in folders:
            known = [BUILTIN_FOLDER, *(path for path, _ in cfg.folders)]
            at.add(
                "folder",
                f"folder {folder!r} is not declared in [[folders]]" + did_you_mean(folder, known),
            )
            continue
        if folder.lower() == BUILTIN_FOLDER.lower() and description.lower() in BUILTIN_DESCRIPTIONS:
            at.add("description", "built-in definitions are not part of the configuration")
            continue
        template = settings.get("notification_template")
        if template is not None and template.lower() not in templates:
            at.add(
                "notification_template",
                f"notification template {template!r} is not declared in [[notification_templates]]"
                + did_you_mean(template, [t["name"] for t in cfg.notification_templates]),
                code="SM106",
            )
            continue
        key = f"{folder}/{description}".lower()
        if key in paths:
            at.add("description", f"definition {folder}/{description!r} is declared twice")
            continue
        paths.add(key)
        kept = {k: v for k, v in settings.items() if v is not None or k == "banner"}
        cfg.definitions.append((folder, description, kept))
    return paths


def logo_files(store: Store) -> list[tuple[str, bytes]]:
    """The logo files an exported configuration refers to: (path relative to
    the configuration file, bytes)."""
    return [
        (t.logo, t.logo_data)
        for t in store.template_records.templates()
        if t.logo is not None and t.logo_data is not None
    ]


def _config_dir(source: Source) -> Path:
    """Where a configuration's relative paths (a logo) start: its file's
    directory, or the current one for standard input."""
    from pathlib import Path

    return Path.cwd() if source.name == "-" else Path(source.name).parent


def _read_logo(file: Path, base: Path, name: str) -> bytes:
    """The bytes of a logo file, read only when it is a regular file inside
    ``base`` (a link may not lead out of the configuration's directory) and
    no larger than a logo may be: a FIFO or ``/dev/zero`` would block or
    never end, a huge file would fill memory. InvalidInput (or OSError)."""
    import os
    import stat

    from secmsg_cli.errors import InvalidInput
    from secmsg_cli.model import MAX_LOGO_BYTES

    if not file.resolve().is_relative_to(base.resolve()):
        raise InvalidInput(
            f"invalid logo {name!r}: the file must be inside the configuration file's "
            f"directory (it leads to {str(file.resolve())!r})"
        )
    fd = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO: do not wait
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(f"invalid logo {name!r}: not a regular file")
        data = fh.read(MAX_LOGO_BYTES + 1)
    if len(data) > MAX_LOGO_BYTES:
        raise InvalidInput(
            f"invalid logo {name!r}: {max(info.st_size, len(data))} bytes, larger than "
            f"{MAX_LOGO_BYTES} (it is sent with every notification)"
        )
    return data


def _checked_name(value: object, _: str) -> str:
    from secmsg_cli.model import check_template_name

    return check_template_name(value)


def _checked_logo(value: object, _: str) -> str:
    from secmsg_cli.model import check_logo_path

    return check_logo_path(value)


def _template_checks() -> dict[str, Callable[[object, str], object]]:
    from secmsg_cli.model import check_template_body, check_template_line

    return {
        "name": _checked_name,
        "subject": check_template_line,
        "sender_name": check_template_line,
        "html": check_template_body,
        "text": check_template_body,
        "logo": _checked_logo,
    }


def _validate_templates(
    doc: Mapping[str, Any], cfg: Config, p: Problems, source: Source
) -> set[str]:
    """``[[notification_templates]]``: each checked as the store checks it,
    its logo read from the file it names, relative to the configuration file."""
    from secmsg_cli.errors import SecmsgError
    from secmsg_cli.model import TEMPLATE_FIELDS, check_logo_path, logo_type

    names: set[str] = set()
    for i, item in _entries(doc, "notification_templates", p):
        at = _at(p, "notification_templates", i, str(item.get("name", "?")))
        _known(at, item, TEMPLATE_FIELDS)
        if not _required(at, item, "name", "subject", "html", "text"):
            continue
        before = len(p)
        for key, check in _template_checks().items():
            if item.get(key) is not None:
                at.check(key, check, item[key], key)
        raw = {k: v for k, v in item.items() if k in TEMPLATE_FIELDS}
        if "logo" in raw and len(p) == before:
            file = _config_dir(source) / check_logo_path(raw["logo"])
            try:
                raw["logo_data"] = _read_logo(file, _config_dir(source), raw["logo"])
                logo_type(raw["logo_data"], f"logo {raw['logo']!r}")
            except OSError as exc:
                at.add(
                    "logo",
                    f"cannot read the logo {str(file)!r}: {exc.strerror or exc}",
                    code="SM109",
                )
            except SecmsgError as exc:
                at.add("logo", str(exc), code="SM109")
        if len(p) > before:
            continue
        values = check_template(raw)
        if values["name"].lower() in names:
            at.add("name", f"notification template {values['name']!r} is declared twice")
            continue
        names.add(values["name"].lower())
        cfg.notification_templates.append(values)
    return names


BUILTIN_PATHS = {
    f"{BUILTIN_FOLDER}/All Recipients".lower(),
    f"{BUILTIN_FOLDER}/External Recipients".lower(),
}


def _validate_content_definitions(
    doc: Mapping[str, Any], cfg: Config, p: Problems, definitions: set[str]
) -> set[str]:
    names: set[str] = set()
    for i, item in _entries(doc, "content_definitions", p):
        at = _at(p, "content_definitions", i, str(item.get("name", "?")))
        values, problems = check_content_definition(item)
        at.extend(_regex_codes(problems))
        sm = values.get("secure_messaging")
        if isinstance(sm, str) and sm and sm.strip("/").lower() not in definitions | BUILTIN_PATHS:
            at.add(
                "secure_messaging",
                f"definition {sm!r} is not declared in [[definitions]] (nor built-in)"
                + did_you_mean(sm.strip("/"), _definition_paths(cfg)),
                code="SM101",
            )
        name = values.get("name")
        if not isinstance(name, str) or not name:
            continue
        if name.lower() in names:
            at.add("name", f"content definition {name!r} is declared twice")
            continue
        names.add(name.lower())
        cfg.content_definitions.append(values)
    return names


def _regex_codes(problems: Iterable[Problem]) -> list[Problem]:
    """A regex the linear-time matcher cannot run is SM105, as lint says of
    one already in a store."""
    from dataclasses import replace

    from secmsg_cli.engine.patterns import UNSUPPORTED

    return [replace(q, code="SM105") if UNSUPPORTED in q.message else q for q in problems]


def _definition_paths(cfg: Config) -> list[str]:
    """The paths of the definitions declared so far, and of the built-ins, as written."""
    builtin = [f"{BUILTIN_FOLDER}/All Recipients", f"{BUILTIN_FOLDER}/External Recipients"]
    return [*builtin, *(f"{folder}/{description}" for folder, description, _ in cfg.definitions)]


@dataclass(frozen=True)
class _Declared:
    """What a policy may refer to: the names declared in the document, lower case."""

    definitions: set[str]
    content_definitions: set[str]
    groups: set[str]
    attribute_names: set[str]
    cfg: Config  # the names as written, for "did you mean"


def _policy_references(at: Problems, values: Mapping[str, Any], declared: _Declared) -> None:
    """Every name a policy refers to is declared in the document; one that is
    not has the code lint gives it in a store (SM101-SM104)."""
    cfg = declared.cfg
    definition = values.get("definition")
    if definition and definition.strip("/").lower() not in declared.definitions | BUILTIN_PATHS:
        at.add(
            "definition",
            f"definition {definition!r} is not declared in [[definitions]] (nor built-in)"
            + did_you_mean(definition.strip("/"), _definition_paths(cfg)),
            code="SM101",
        )
    cd = values.get("content_definition")
    if cd and cd.lower() not in declared.content_definitions:
        at.add(
            "content_definition",
            f"content definition {cd!r} is not declared in [[content_definitions]]"
            + did_you_mean(cd, [c["name"] for c in cfg.content_definitions]),
            code="SM102",
        )
    for side in ("from", "to"):
        target = values.get(f"{side}_" if side == "from" else side)
        if target is None:
            continue
        if target.type == "group" and target.value.lower() not in declared.groups:
            at.add(
                side,
                f"unknown group {target.value!r} (declare it in [[groups]])"
                + did_you_mean(target.value, [name for name, _ in cfg.groups]),
                code="SM103",
            )
        if target.type == "attribute" and target.name.lower() not in declared.attribute_names:
            names = {name for _, values in cfg.attributes for name in values}
            at.add(
                side,
                f"no address has an attribute named {target.name!r} (see [[attributes]])"
                + did_you_mean(target.name, names),
                code="SM104",
            )


def _validate_policies(
    doc: Mapping[str, Any], cfg: Config, p: Problems, declared: _Declared
) -> None:
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(cfg.account.get("timezone") or "UTC")
    ids: set[int] = set()
    for i, item in _entries(doc, "policies", p):
        at = _at(p, "policies", i, str(item.get("narrative", "?")))
        values, problems = check_policy(item, tz)
        at.extend(problems)
        _policy_references(at, values, declared)
        policy_id = values.get("id")
        if isinstance(policy_id, int):  # given, and a valid id
            if policy_id in ids:
                at.add("id", f"policy id {policy_id} is used twice")
            ids.add(policy_id)
        if not problems:
            cfg.policies.append(values)


KNOWN_SECTIONS = (
    "account",
    "domains",
    "users",
    "groups",
    "attributes",
    "folders",
    "notification_templates",
    "definitions",
    "content_definitions",
    "policies",
)


def validate_document(doc: Mapping[str, Any], source: Source) -> Config:
    """Check the whole document; raise :class:`ConfigError` listing every problem."""
    p = Problems(source, code="SM001")
    for key in doc:
        if key not in KNOWN_SECTIONS:
            p.within(key, object=key).add(
                None, f"unknown section {key!r} (expected one of {', '.join(KNOWN_SECTIONS)})"
            )
    cfg = Config()
    _validate_account(doc, cfg, p)
    _validate_domains(doc, cfg, p)
    _validate_users(doc, cfg, p)
    groups = _validate_groups(doc, cfg, p)
    _validate_attributes(doc, cfg, p)
    folders = _validate_folders(doc, cfg, p, groups)
    templates = _validate_templates(doc, cfg, p, source)
    definitions = _validate_definitions(doc, cfg, p, folders, templates)
    content_definitions = _validate_content_definitions(doc, cfg, p, definitions)
    attribute_names = {name.lower() for _, values in cfg.attributes for name in values}
    declared = _Declared(definitions, content_definitions, groups, attribute_names, cfg)
    _validate_policies(doc, cfg, p, declared)
    p.raise_if_any(source.name)
    return cfg


# --- import -----------------------------------------------------------------


def import_config(store: Store, cfg: Config, *, source: str = "<config>") -> dict[str, int]:
    """Load a validated Config into an empty store, all or nothing."""
    with store.transaction():
        if not store.is_empty():
            raise ConfigError(
                f"cannot import {source}: the store {store.path} is not empty "
                "(import loads a new store; use a new --db)"
            )
        store.set_account(cfg.account)
        for name, dtype in cfg.domains:
            store.add_domain(name, dtype)
        if cfg.users:
            store.add_users(cfg.users)
        for name, members in cfg.groups:
            store.create_group(name, members)
        for address, values in cfg.attributes:
            store.set_attributes(address, values)
        for path, publish in cfg.folders:
            if path.lower() == BUILTIN_FOLDER.lower():
                store.set_folder_publish(BUILTIN_FOLDER, publish)
            else:
                store.create_folder(path, publish)
        for values in cfg.notification_templates:
            store.template_records.create_template(values)
        for folder, description, settings in cfg.definitions:
            store.create_definition(folder, description, **settings)
        for values in cfg.content_definitions:
            store.create_content_definition(values)
        # Policies with an id keep it; the others are numbered after them.
        for values in sorted(cfg.policies, key=lambda v: "id" not in v):
            store.create_policy(_policy_raw(values))
        counts = {
            "domains": len(cfg.domains),
            "users": len(cfg.users),
            "groups": len(cfg.groups),
            "attributes": len(cfg.attributes),
            "folders": len(cfg.folders),
            "definitions": len(cfg.definitions),
            "content_definitions": len(cfg.content_definitions),
            "policies": len(cfg.policies),
        }
        if cfg.notification_templates:  # said only when there are some
            counts["notification_templates"] = len(cfg.notification_templates)
        store.audit("import", "config", source, None, counts)
    return counts


def _policy_raw(values: Mapping[str, Any]) -> dict[str, Any]:
    """Validated policy values back to docs/configuration.md field names."""
    raw = {k: v for k, v in values.items() if k not in ("from_",) and v is not None}
    raw["from"] = values["from_"]
    raw["source_ips"] = list(values.get("source_ips", ()))
    return raw


def load_file(path: str) -> Store:
    """Read, validate and import a configuration file into a new in-memory
    store (for lint, test and the corpus diff: a config file stands in for a
    store without touching one). Raises ConfigError on an invalid file."""
    from secmsg_cli.store.store import Store

    doc, source = read_file(path)
    cfg = validate_document(doc, source)
    store = Store(":memory:")
    import_config(store, cfg, source=path)
    return store
