"""The schema of the embedded source-of-truth files: the keys of each object and their types.

A small typed checker rather than pydantic or jsonschema, on purpose: the shapes are a dozen
flat mappings; a problem must name the object by its slug or name (not `devices.41`), the
file and the YAML line; and the model objects are frozen dataclasses that files.py builds
anyway. So: no new dependency, no import cost for the CLI, one Problem per bad key.

Strict: an unknown key is an error (with the closest known key as a hint), so is a duplicate
key, a value of the wrong type (a number where text is expected, a string where a number is),
an address that is not IPv4, a prefix with host bits set. Whether the values make sense
together (a gateway on the broadcast, a reservation in the pool) is the model's business:
preau.model.rules.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from netaddr import IPAddress, IPNetwork

from preau.errors import Problem
from preau.model.departement import DIRECTORIES


class Invalid(ValueError):
    """A value of the wrong type or shape; the message says what was expected."""


# --- reading YAML with line numbers ----------------------------------------------------------


class Node(dict[Any, Any]):
    """A YAML mapping that remembers the line of each key (and its own), and duplicate keys."""

    line: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[Any, int] = {}
        self.duplicates: list[tuple[Any, int]] = []


# libyaml's parser when PyYAML was built with it (7x faster here), the pure-Python one if not;
# both safe, both give marks with line numbers.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[valid-type,misc]
    """The safe loader, building Nodes."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> Node:
    loader.flatten_mapping(node)
    out = Node()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError as exc:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, "a key is not hashable",
                key_node.start_mark,
            ) from exc  # fmt: skip
        line = key_node.start_mark.line + 1
        if key in out:
            out.duplicates.append((key, line))
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = line
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def as_node(data: Any) -> Any:
    """Plain data (JSON from NetBox) as the reader's Nodes, without line numbers."""
    if isinstance(data, dict):
        out = Node()
        for k, v in data.items():
            out[k] = as_node(v)
        return out
    if isinstance(data, list):
        return [as_node(x) for x in data]
    return data


def load_yaml(path: Path, obj: str, display: str) -> tuple[Node | None, list[Problem]]:
    """Parse one file; a file that is unreadable, not UTF-8 or not YAML is one Problem."""

    def bad(field: str, message: str, line: int | None = None) -> tuple[None, list[Problem]]:
        return None, [Problem(obj, field, message, file=display, line=line)]

    try:
        raw = path.read_bytes()
    except OSError as exc:
        return bad("file", f"cannot be read: {exc.strerror or exc}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        byte = raw[exc.start : exc.start + 1].hex()
        return bad("encoding", f"byte 0x{byte} is not UTF-8: save the file as UTF-8", line)
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = mark.line + 1 if mark else None
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        col = f" (column {mark.column + 1})" if mark else ""
        return bad("yaml", f"not valid YAML: {what}{col}", at)
    except yaml.YAMLError as exc:
        # ReaderError (a control character) carries a character position, not a mark
        pos = getattr(exc, "position", None)
        at = text[:pos].count("\n") + 1 if isinstance(pos, int) else None
        return bad("yaml", f"not valid YAML: {exc}", at)
    except RecursionError:
        return bad("yaml", "not valid YAML: nested too deep")
    if not isinstance(data, Node):
        return bad("file", f"expected a mapping of keys at the top level, found {_kind(data)}", 1)
    return data, []


# --- value types -----------------------------------------------------------------------------


def _kind(raw: Any) -> str:
    if raw is None:
        return "nothing"
    if isinstance(raw, bool):
        return f"a boolean ({raw})"
    if isinstance(raw, int | float):
        return f"a number ({raw})"
    if isinstance(raw, str):
        return f"text ({raw!r})"
    if isinstance(raw, dict):
        return "a mapping"
    if isinstance(raw, list):
        return "a list"
    return f"a {type(raw).__name__} ({raw!r})"


def text(raw: Any) -> str:
    if not isinstance(raw, str):
        quote = " (put it in quotes)" if not isinstance(raw, dict | list) else ""
        raise Invalid(f"expected text, found {_kind(raw)}{quote}")
    return raw


def integer(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise Invalid(f"expected a whole number, found {_kind(raw)}")
    return raw


def boolean(raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise Invalid(f"expected true or false, found {_kind(raw)}")
    return raw


def ipv4(raw: Any) -> IPAddress:
    try:
        return IPAddress(str(ipaddress.IPv4Address(text(raw))))
    except ipaddress.AddressValueError as exc:
        raise Invalid(f"{raw!r} is not an IPv4 address ({exc})") from None


def interface_address(raw: Any) -> IPNetwork:
    """An address with its prefix length, like 198.18.0.1/24."""
    s = text(raw)
    if "/" not in s:
        raise Invalid(f"{s!r} has no prefix length (like 198.18.0.1/24)")
    try:
        itf = ipaddress.IPv4Interface(s)
    except ValueError as exc:
        raise Invalid(f"{s!r} is not an IPv4 address with a prefix length ({exc})") from None
    return IPNetwork(str(itf))


def prefix(raw: Any) -> IPNetwork:
    """A network, like 198.18.0.0/22: host bits must be zero."""
    s = text(raw)
    if "/" not in s:
        raise Invalid(f"{s!r} has no prefix length (like 198.18.0.0/22)")
    try:
        net = ipaddress.IPv4Network(s, strict=False)
    except ValueError as exc:
        raise Invalid(f"{s!r} is not an IPv4 prefix ({exc})") from None
    if str(net) != str(ipaddress.IPv4Interface(s)):
        raise Invalid(f"{s!r} has host bits set: the prefix is {net}")
    return IPNetwork(str(net))


def list_of(conv: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, ...]]:
    def convert(raw: Any) -> tuple[Any, ...]:
        if not isinstance(raw, list):
            raise Invalid(f"expected a list, found {_kind(raw)}")
        out = []
        for i, item in enumerate(raw):
            try:
                out.append(conv(item))
            except Invalid as exc:
                raise Invalid(f"item {i + 1}: {exc}") from None
        return tuple(out)

    return convert


def text_map(raw: Any) -> dict[str, str]:
    """A mapping of names to names, like `s101: poste-eleve`."""
    if not isinstance(raw, dict):
        raise Invalid(f"expected a mapping (name: value), found {_kind(raw)}")
    out: dict[str, str] = {}
    for key, value in raw.items():
        try:
            out[text(key)] = text(value)
        except Invalid as exc:
            raise Invalid(f"{key!r}: {exc}") from None
    return out


def one_of(*values: str) -> Callable[[Any], str]:
    def convert(raw: Any) -> str:
        s = text(raw)
        if s not in values:
            raise Invalid(f"{s!r} is not one of {', '.join(values)}")
        return s

    return convert


# --- shapes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One key: its type (None: a nested object or list, read by files.py), required or not."""

    conv: Callable[[Any], Any] | None = None
    required: bool = False
    default: Any = None


@dataclass(frozen=True)
class Shape:
    """The keys one kind of object may have."""

    fields: Mapping[str, Field]


NESTED = Field()
NESTED_REQUIRED = Field(required=True)

DEPARTEMENT = Shape(
    {
        "slug": Field(text, required=True),
        "name": Field(text, required=True),
        "supernets": NESTED_REQUIRED,
        "services": NESTED_REQUIRED,
        "routing": NESTED_REQUIRED,
        "college_prefix_length": Field(integer, default=22),
        "vlan_plan": NESTED_REQUIRED,
    }
)
SUPERNETS = Shape(
    {
        "colleges": Field(prefix, required=True),
        "datacentre": Field(prefix, required=True),
        "uplinks": Field(prefix, required=True),
    }
)
SERVICES = Shape(
    {
        "domain": Field(text, required=True),
        "dns": Field(list_of(ipv4), default=()),
        "ntp": Field(list_of(ipv4), default=()),
        "proxy": Field(text),
        # the département's upstream resolvers, that the data centre's resolver forwards to
        "upstream_dns": Field(list_of(ipv4), default=()),
    }
)
ROUTING = Shape(
    {
        "protocol": Field(one_of("bgp", "ospf"), default="bgp"),
        "core_asn": Field(integer, required=True),
        "core_name": Field(text, default="THD Seine core"),
    }
)
VLAN_PLAN_ENTRY = Shape(
    {
        "role": Field(text, required=True),
        "vid": Field(integer, required=True),
        "name": Field(text, required=True),
        "prefix_length": Field(integer, required=True),
    }
)
_SITE = {
    "kind": Field(one_of("college", "datacentre"), default="college"),
    "slug": Field(text, required=True),
    "name": Field(text, required=True),
    "commune": Field(text, default=""),
    "asn": Field(integer, required=True),
    "circuit": NESTED,
    "container": Field(prefix, required=True),
    "prefixes": NESTED,
    "devices": NESTED,
}
COLLEGE = Shape(
    {
        **_SITE,
        "uai": Field(text, required=True),
        "pupils": Field(integer, default=0),
        "rooms": Field(list_of(text), default=()),
        "directory": Field(one_of(*DIRECTORIES), default="standalone"),
        "room_images": Field(text_map, default={}),
    }
)
DATACENTRE = Shape(_SITE)
CIRCUIT = Shape(
    {
        "cid": Field(text, required=True),
        "provider": Field(text, default="THD Seine"),
        "commit_rate_mbps": Field(integer, required=True),
        "uplink": Field(prefix, required=True),
    }
)
DEVICE = Shape(
    {
        "name": Field(text, required=True),
        "role": Field(text, required=True),
        "platform": Field(text),
        "room": Field(text),
        "interfaces": NESTED,
    }
)
INTERFACE = Shape(
    {
        "name": Field(text, required=True),
        "parent": Field(text),
        "vlan": Field(text),
        "address": Field(interface_address),
        "mac": Field(text),
        "mgmt_only": Field(boolean, default=False),
    }
)


class Reader:
    """Checks parsed YAML against the shapes, one Problem per bad key, for one file."""

    def __init__(self, file: str, site: str | None = None):
        self.file = file
        self.site = site
        self.problems: list[Problem] = []

    def problem(self, obj: str, field: str, message: str, line: int | None) -> None:
        self.problems.append(Problem(obj, field, message, self.site, self.file, line))

    def read(
        self,
        data: Any,
        obj: str,
        shape: Shape,
        where: tuple[str, str],
        line: int | None,
    ) -> dict[str, Any]:
        """The converted values of a mapping (defaults for what is absent or bad).

        `where` is (object, field) of the key that holds this mapping, named if it is none.
        """
        out = {k: f.default for k, f in shape.fields.items()}
        if not isinstance(data, Node):
            self.problem(*where, f"expected a mapping, found {_kind(data)}", line)
            return out
        here = data.line or line
        for key, at in data.duplicates:
            self.problem(obj, str(key), "appears twice in this mapping (the last one wins)", at)
        for key in data:
            if key not in shape.fields:
                close = difflib.get_close_matches(str(key), list(shape.fields), n=1)
                hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(shape.fields)}"
                self.problem(obj, str(key), f"unknown key ({hint})", data.lines.get(key))
        for key, f in shape.fields.items():
            raw = data.get(key)
            if raw is None:
                if f.required:
                    self.problem(obj, key, "is missing", data.lines.get(key, here))
                    out[key] = None
                continue
            if f.conv is None:
                out[key] = raw
                continue
            try:
                out[key] = f.conv(raw)
            except Invalid as exc:
                self.problem(obj, key, str(exc), data.lines.get(key, here))
                out[key] = None
        return out

    def items(self, raw: Any, obj: str, field: str, line: int | None) -> list[Any]:
        """A nested list (absent: empty)."""
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.problem(obj, field, f"expected a list, found {_kind(raw)}", line)
            return []
        return raw

    def mapping(self, raw: Any, obj: str, field: str, line: int | None) -> Node:
        """A nested mapping of free keys (absent: empty)."""
        if raw is None:
            return Node()
        if not isinstance(raw, Node):
            self.problem(obj, field, f"expected a mapping, found {_kind(raw)}", line)
            return Node()
        for key, at in raw.duplicates:
            self.problem(obj, f"{field}.{key}", "appears twice (the last one wins)", at)
        return raw

    def value(
        self, raw: Any, conv: Callable[[Any], Any], obj: str, field: str, line: int | None
    ) -> Any:
        try:
            return conv(raw)
        except Invalid as exc:
            self.problem(obj, field, str(exc), line)
            return None
