"""Read preau's objects out of NetBox through export templates: one call per kind, no paging.

NetBox renders an export template (`GET /api/<kind>/?export=<name>`) over the same filtered,
permission-restricted queryset its list endpoint serves. preau's templates ask that queryset for
plain columns (`values_list`), so NetBox neither builds model instances nor serializes nested
objects: a kind of 6,000 objects comes back in about 0.1 s, where GraphQL takes 2 to 3 s and the
REST serializers longer. `preau netbox setup` creates the templates; each row is a JSON array,
turned back here into the dict shape the GraphQL reader used (`{"role": {"id": 5}}`, scope and
assignment unions with their `__typename`), so the snapshot is the same whichever way it came.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from preau.sot.netbox_client import Client

TEMPLATE_PREFIX = "preau-read-"
PARALLEL = 2  # the local NetBox serves on two gunicorn workers
# Ask NetBox for less than the list view would compute for its own serializer; none of these
# changes which objects are in the queryset.
EXPORT_PARAMS = {"brief": "1", "exclude": "config_context"}

Row = list[Any]
# The GraphQL type names the snapshot keeps for generic relations (scopes, assignments).
GRAPHQL_TYPES = {
    "site": "SiteType",
    "interface": "InterfaceType",
    "providernetwork": "ProviderNetworkType",
}


@dataclass(frozen=True)
class Column:
    """One column of a kind's rows: a `values_list` lookup and where it goes in the object.

    `key` is the object's field (default: the lookup); `ref` wraps an id as `{"id": ...}` like
    a GraphQL relation; `text` renders netaddr values (prefixes, addresses, MACs) with str().
    """

    lookup: str
    key: str | None = None
    ref: bool = False
    text: bool = False


def _ref_col(field: str) -> Column:
    return Column(f"{field}_id", field, ref=True)


def _generic(key: str, prefix: str = "") -> tuple[Column, ...]:
    """A generic relation (scope, assigned object, termination): its type and its id."""
    return (
        Column(f"{prefix}{key}_type__app_label", f"{key}.app"),
        Column(f"{prefix}{key}_type__model", f"{key}.model"),
        Column(f"{prefix}{key}_id", f"{key}.id"),
    )


def _typed(app: str | None, model: str | None, ident: Any) -> dict[str, Any] | None:
    """A generic relation as GraphQL shows it: the GraphQL type name and the id."""
    if ident is None or model is None:
        return None
    return {"__typename": GRAPHQL_TYPES.get(model, f"{app}.{model}"), "id": ident}


@dataclass(frozen=True)
class Kind:
    """A kind preau reads: its REST list, its NetBox object type and its columns."""

    name: str
    endpoint: str
    object_type: str
    columns: tuple[Column, ...]
    generic: tuple[str, ...] = ()  # keys of generic relations among the columns

    @property
    def template_name(self) -> str:
        return f"{TEMPLATE_PREFIX}{self.name}"

    def template_code(self) -> str:
        lookups = ", ".join(f'"{c.lookup}"' for c in self.columns)
        # The queryset carries the list view's prefetches: they mean nothing to `values_list`.
        rows = f"queryset.prefetch_related(None).values_list({lookups})"
        if not any(c.text for c in self.columns):
            return f"{{{{ {rows}|list|tojson }}}}"
        cells = ",".join(
            f"{{{{ r[{i}]|string|tojson }}}}" if c.text else f"{{{{ r[{i}]|tojson }}}}"
            for i, c in enumerate(self.columns)
        )
        sep = "{% if not loop.last %},{% endif %}"
        return f"[{{% for r in {rows} %}}[{cells}]{sep}{{% endfor %}}]"

    def setup_fields(self) -> dict[str, Any]:
        """The ExportTemplate `preau netbox setup` keeps in NetBox."""
        return {
            "name": self.template_name,
            "object_types": [self.object_type],
            "template_code": self.template_code(),
            "mime_type": "application/json",
            "file_extension": "json",
            "as_attachment": False,
            "description": "preau: read by `preau` (changed by `preau netbox setup`)",
        }

    def build(self, row: Row) -> dict[str, Any]:
        """One row as the object the GraphQL reader used to return."""
        out: dict[str, Any] = {}
        for col, value in zip(self.columns, row, strict=True):
            out[col.key or col.lookup] = _ref(value) if col.ref else value
        for key in self.generic:
            out[key] = _typed(out.pop(f"{key}.app"), out.pop(f"{key}.model"), out.pop(f"{key}.id"))
        return out


def _ref(value: Any) -> dict[str, int] | None:
    return {"id": value} if value is not None else None


def _cols(*lookups: str, text: tuple[str, ...] = ()) -> tuple[Column, ...]:
    return tuple(Column(lookup, text=lookup in text) for lookup in lookups)


_CUSTOM = Column("custom_field_data", "custom_fields")

KINDS: tuple[Kind, ...] = (
    Kind(
        "site",
        "dcim/sites",
        "dcim.site",
        (*_cols("id", "name", "slug"), _CUSTOM, _ref_col("region")),
    ),
    Kind(
        "location",
        "dcim/locations",
        "dcim.location",
        (*_cols("id", "name", "slug"), _CUSTOM, _ref_col("site")),
    ),
    Kind(
        "prefix",
        "ipam/prefixes",
        "ipam.prefix",
        (
            *_cols("id", "prefix", "status", "description", text=("prefix",)),
            _ref_col("role"),
            _ref_col("vlan"),
            *_generic("scope"),
            # NetBox's cached site of the scope: the slug without a join per prefix.
            Column("_site__slug", "scope_slug"),
        ),
        generic=("scope",),
    ),
    Kind(
        "vlan-group",
        "ipam/vlan-groups",
        "ipam.vlangroup",
        (*_cols("id", "name", "slug"), *_generic("scope")),
        generic=("scope",),
    ),
    Kind(
        "vlan",
        "ipam/vlans",
        "ipam.vlan",
        (*_cols("id", "vid", "name", "status"), *map(_ref_col, ("role", "site", "group"))),
    ),
    Kind(
        # One row per circuit and termination (a join): `_circuits` merges them.
        "circuit",
        "circuits/circuits",
        "circuits.circuit",
        (
            *_cols("id", "cid", "commit_rate", "status"),
            _ref_col("provider"),
            _ref_col("type"),
            Column("terminations__id", "term.id"),
            Column("terminations__term_side", "term.term_side"),
            *_generic("termination", prefix="terminations__"),
        ),
        generic=("termination",),
    ),
    Kind(
        "device",
        "dcim/devices",
        "dcim.device",
        (
            *_cols("id", "name", "status"),
            _CUSTOM,
            *map(_ref_col, ("role", "platform", "device_type", "location", "site", "primary_ip4")),
        ),
    ),
    Kind(
        "interface",
        "dcim/interfaces",
        "dcim.interface",
        (
            *_cols("id", "name", "type", "mgmt_only", "mode"),
            _CUSTOM,
            *map(_ref_col, ("device", "parent", "untagged_vlan", "primary_mac_address")),
        ),
    ),
    Kind(
        "ip-address",
        "ipam/ip-addresses",
        "ipam.ipaddress",
        (*_cols("id", "address", "status", text=("address",)), *_generic("assigned_object")),
        generic=("assigned_object",),
    ),
    Kind(
        "mac-address",
        "dcim/mac-addresses",
        "dcim.macaddress",
        (*_cols("id", "mac_address", text=("mac_address",)), *_generic("assigned_object")),
        generic=("assigned_object",),
    ),
)


def stale_templates(present: dict[str, str]) -> list[str]:
    """The export templates missing from NetBox or differing from this preau's (name -> code)."""
    return [k.template_name for k in KINDS if present.get(k.template_name) != k.template_code()]


def _prefixes(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for p in rows:
        slug = p.pop("scope_slug")
        if p["scope"] is not None and p["scope"]["__typename"] == "SiteType":
            p["scope"]["slug"] = slug
    return rows


def _circuits(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Circuits with their terminations, from one row per (circuit, termination)."""
    merged: dict[int, dict[str, Any]] = {}
    for row in rows:
        term = {
            "id": row.pop("term.id"),
            "term_side": row.pop("term.term_side"),
            "termination": row.pop("termination"),
        }
        circuit = merged.setdefault(row["id"], {**row, "terminations": []})
        if term["id"] is not None:
            circuit["terminations"].append(term)
    return list(merged.values())


def fetch_lists(client: Client, tag: str) -> dict[str, list[dict[str, Any]]]:
    """Every object of each kind tagged `tag`, one export call per kind, two in flight."""

    def one(kind: Kind) -> tuple[str, list[dict[str, Any]]]:
        params = {"export": kind.template_name, "tag": tag, **EXPORT_PARAMS}
        rows = client.get(f"{kind.endpoint}/", params, f"reading the {kind.name}s")
        return kind.name, [kind.build(r) for r in rows]

    with ThreadPoolExecutor(PARALLEL) as pool:
        out = dict(pool.map(one, KINDS))
    out["prefix"] = _prefixes(out["prefix"])
    out["circuit"] = _circuits(out["circuit"])
    return out
