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

from collections.abc import Callable
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
    """One column of a kind's rows: a `values_list` lookup and how to put it in JSON."""

    lookup: str
    as_text: bool = False  # netaddr objects (prefixes, addresses, MACs) are rendered with str()


@dataclass(frozen=True)
class Kind:
    """A kind preau reads: its REST list, its NetBox object type and its columns."""

    name: str
    endpoint: str
    object_type: str
    columns: tuple[Column, ...]
    build: Callable[[Row], dict[str, Any]]

    @property
    def template_name(self) -> str:
        return f"{TEMPLATE_PREFIX}{self.name}"

    def template_code(self) -> str:
        lookups = ", ".join(f'"{c.lookup}"' for c in self.columns)
        # The queryset carries the list view's prefetches: they mean nothing to `values_list`.
        rows = f"queryset.prefetch_related(None).values_list({lookups})"
        if not any(c.as_text for c in self.columns):
            return f"{{{{ {rows}|list|tojson }}}}"
        cells = ",".join(
            f"{{{{ r[{i}]|string|tojson }}}}" if c.as_text else f"{{{{ r[{i}]|tojson }}}}"
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


def _ref(value: Any) -> dict[str, int] | None:
    return {"id": value} if value is not None else None


def _typed(app: str | None, model: str | None, ident: Any) -> dict[str, Any] | None:
    """A generic relation as GraphQL shows it: the GraphQL type name and the id."""
    if ident is None or model is None:
        return None
    return {"__typename": GRAPHQL_TYPES.get(model, f"{app}.{model}"), "id": ident}


def _cols(*lookups: str, text: tuple[str, ...] = ()) -> tuple[Column, ...]:
    return tuple(Column(lookup, lookup in text) for lookup in lookups)


def _site(r: Row) -> dict[str, Any]:
    return {"id": r[0], "name": r[1], "slug": r[2], "custom_fields": r[3], "region": _ref(r[4])}


def _location(r: Row) -> dict[str, Any]:
    return {"id": r[0], "name": r[1], "slug": r[2], "custom_fields": r[3], "site": _ref(r[4])}


def _prefix(r: Row) -> dict[str, Any]:
    scope = _typed(r[6], r[7], r[8])
    if scope is not None and scope["__typename"] == "SiteType":
        scope["slug"] = r[9]
    return {
        "id": r[0],
        "prefix": r[1],
        "status": r[2],
        "description": r[3],
        "role": _ref(r[4]),
        "vlan": _ref(r[5]),
        "scope": scope,
    }


def _vlan_group(r: Row) -> dict[str, Any]:
    return {"id": r[0], "name": r[1], "slug": r[2], "scope": _typed(r[3], r[4], r[5])}


def _vlan(r: Row) -> dict[str, Any]:
    return {
        "id": r[0],
        "vid": r[1],
        "name": r[2],
        "status": r[3],
        "role": _ref(r[4]),
        "site": _ref(r[5]),
        "group": _ref(r[6]),
    }


def _circuit_row(r: Row) -> dict[str, Any]:
    """One row per circuit and termination (a join): `_circuits` merges them."""
    term = None
    if r[6] is not None:
        term = {"id": r[6], "term_side": r[7], "termination": _typed(r[8], r[9], r[10])}
    circuit = {
        "id": r[0],
        "cid": r[1],
        "commit_rate": r[2],
        "status": r[3],
        "provider": _ref(r[4]),
        "type": _ref(r[5]),
        "terminations": [term] if term else [],
    }
    return circuit


def _device(r: Row) -> dict[str, Any]:
    return {
        "id": r[0],
        "name": r[1],
        "status": r[2],
        "custom_fields": r[3],
        "role": _ref(r[4]),
        "platform": _ref(r[5]),
        "device_type": _ref(r[6]),
        "location": _ref(r[7]),
        "site": _ref(r[8]),
        "primary_ip4": _ref(r[9]),
    }


def _interface(r: Row) -> dict[str, Any]:
    return {
        "id": r[0],
        "name": r[1],
        "type": r[2],
        "mgmt_only": r[3],
        "mode": r[4],
        "custom_fields": r[5],
        "device": _ref(r[6]),
        "parent": _ref(r[7]),
        "untagged_vlan": _ref(r[8]),
        "primary_mac_address": _ref(r[9]),
    }


def _ip_address(r: Row) -> dict[str, Any]:
    return {"id": r[0], "address": r[1], "status": r[2], "assigned_object": _typed(*r[3:6])}


def _mac_address(r: Row) -> dict[str, Any]:
    return {"id": r[0], "mac_address": r[1], "assigned_object": _typed(*r[2:5])}


_SCOPE = ("scope_type__app_label", "scope_type__model", "scope_id")
_ASSIGNED = ("assigned_object_type__app_label", "assigned_object_type__model", "assigned_object_id")

KINDS: tuple[Kind, ...] = (
    Kind(
        "site",
        "dcim/sites",
        "dcim.site",
        _cols("id", "name", "slug", "custom_field_data", "region_id"),
        _site,
    ),
    Kind(
        "location",
        "dcim/locations",
        "dcim.location",
        _cols("id", "name", "slug", "custom_field_data", "site_id"),
        _location,
    ),
    Kind(
        "prefix",
        "ipam/prefixes",
        "ipam.prefix",
        # `_site` is NetBox's cached site of the scope: the slug without a join per prefix.
        _cols(
            "id",
            "prefix",
            "status",
            "description",
            "role_id",
            "vlan_id",
            *_SCOPE,
            "_site__slug",
            text=("prefix",),
        ),
        _prefix,
    ),
    Kind(
        "vlan-group",
        "ipam/vlan-groups",
        "ipam.vlangroup",
        _cols("id", "name", "slug", *_SCOPE),
        _vlan_group,
    ),
    Kind(
        "vlan",
        "ipam/vlans",
        "ipam.vlan",
        _cols("id", "vid", "name", "status", "role_id", "site_id", "group_id"),
        _vlan,
    ),
    Kind(
        "circuit",
        "circuits/circuits",
        "circuits.circuit",
        _cols(
            "id",
            "cid",
            "commit_rate",
            "status",
            "provider_id",
            "type_id",
            "terminations__id",
            "terminations__term_side",
            "terminations__termination_type__app_label",
            "terminations__termination_type__model",
            "terminations__termination_id",
        ),
        _circuit_row,
    ),
    Kind(
        "device",
        "dcim/devices",
        "dcim.device",
        _cols(
            "id",
            "name",
            "status",
            "custom_field_data",
            "role_id",
            "platform_id",
            "device_type_id",
            "location_id",
            "site_id",
            "primary_ip4_id",
        ),
        _device,
    ),
    Kind(
        "interface",
        "dcim/interfaces",
        "dcim.interface",
        _cols(
            "id",
            "name",
            "type",
            "mgmt_only",
            "mode",
            "custom_field_data",
            "device_id",
            "parent_id",
            "untagged_vlan_id",
            "primary_mac_address_id",
        ),
        _interface,
    ),
    Kind(
        "ip-address",
        "ipam/ip-addresses",
        "ipam.ipaddress",
        _cols("id", "address", "status", *_ASSIGNED, text=("address",)),
        _ip_address,
    ),
    Kind(
        "mac-address",
        "dcim/mac-addresses",
        "dcim.macaddress",
        _cols("id", "mac_address", *_ASSIGNED, text=("mac_address",)),
        _mac_address,
    ),
)


def stale_templates(present: dict[str, str]) -> list[str]:
    """The export templates missing from NetBox or differing from this preau's (name -> code)."""
    return [k.template_name for k in KINDS if present.get(k.template_name) != k.template_code()]


def _circuits(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: dict[int, dict[str, Any]] = {}
    for c in rows:
        if (have := merged.get(c["id"])) is None:
            merged[c["id"]] = c
        else:
            have["terminations"] += c["terminations"]
    return list(merged.values())


def fetch_lists(client: Client, tag: str) -> dict[str, list[dict[str, Any]]]:
    """Every object of each kind tagged `tag`, one export call per kind, two in flight."""

    def one(kind: Kind) -> tuple[str, list[dict[str, Any]]]:
        params = {"export": kind.template_name, "tag": tag, **EXPORT_PARAMS}
        rows = client.get(f"{kind.endpoint}/", params, f"reading the {kind.name}s")
        return kind.name, [kind.build(r) for r in rows]

    with ThreadPoolExecutor(PARALLEL) as pool:
        out = dict(pool.map(one, KINDS))
    out["circuit"] = _circuits(out["circuit"])
    return out
