"""Read a département out of NetBox in a few GraphQL queries, and turn it into the model.

`fetch` returns a `Snapshot`: NetBox's objects as plain dicts with their ids (what `push` diffs
against), nested per site. `to_model` turns a snapshot into the `Departement` the rest of preau
uses.

How: one GraphQL query reads the catalogue (tag, roles, platforms, the département's region and
config context, preau's export templates); then one call per kind (sites, prefixes, devices,
interfaces, addresses...) renders preau's export template over every object tagged `preau`
(`netbox_export`), two calls in flight. Relations come as ids and are named from the catalogue,
then the flat lists are nested per site here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from netaddr import IPNetwork

from preau.errors import BadInput, NetBoxUnavailable, Problem, ValidationFailed
from preau.model import (
    Circuit,
    College,
    Datacentre,
    Departement,
    Device,
    Interface,
    Site,
    VlanPlanEntry,
)
from preau.sot import files, netbox_export, schema
from preau.sot.netbox_client import Client
from preau.sot.netbox_schema import (
    COLLEGE_CONTAINER,
    LOCATION_FIELDS,
    PC_IMAGE_FIELD,
    POSITION_FIELD,
    SITE_CONTAINER,
    SITE_FIELDS,
    SUPERNET_ROLES,
    TAG,
    UPLINK,
)

CONTEXT_PREFIX = "preau-"
TOP_ROLES = (*SUPERNET_ROLES.values(), COLLEGE_CONTAINER, SITE_CONTAINER, UPLINK)

_TAGGED = f'tags: {{slug: {{exact: "{TAG}"}}}}'

CATALOGUE_QUERY = f"""
{{
  tag_list(filters: {{slug: {{exact: "{TAG}"}}}}) {{ id }}
  custom_field_list(filters: {{group_name: {{exact: "preau"}}}}) {{ name }}
  role_list {{ id slug }}
  device_role_list {{ id slug }}
  platform_list {{ id slug }}
  device_type_list {{ id slug }}
  circuit_type_list {{ id slug }}
  provider_list {{ id name }}
  provider_network_list {{ id name provider {{ id }} }}
  region_list(filters: {{{_TAGGED}}}) {{ id name slug }}
  config_context_list(filters: {{name: {{starts_with: "{CONTEXT_PREFIX}"}}}}) {{
    id name data regions {{ id }}
  }}
  export_template_list(filters: {{name: {{starts_with: "{netbox_export.TEMPLATE_PREFIX}"}}}}) {{
    name template_code
  }}
}}
"""


@dataclass
class Snapshot:
    """What NetBox holds for preau, as plain GraphQL data (ids are ints)."""

    catalogue: dict[str, dict[str, int]]  # 'role' -> slug -> id, etc.
    tag_id: int | None
    missing_fields: list[str]
    region: dict[str, Any] | None
    context: dict[str, Any] | None
    top_prefixes: list[dict[str, Any]] = field(
        default_factory=list
    )  # supernets, containers, uplinks
    provider_networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    sites: dict[str, dict[str, Any]] = field(default_factory=dict)  # slug -> nested site
    stale_templates: list[str] = field(default_factory=list)  # export templates to (re)create
    # preau MACs assigned to nothing: what a push that stopped after creating the MACs of new
    # interfaces (and before the interfaces) left; the next push assigns or deletes them.
    unassigned_macs: list[dict[str, Any]] = field(default_factory=list)


def _ints(obj: Any) -> Any:
    """GraphQL IDs are strings; make every `id` an int, recursively."""
    if isinstance(obj, dict):
        return {k: (int(v) if k == "id" and v is not None else _ints(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_ints(v) for v in obj]
    return obj


def fetch_catalogue(client: Client) -> Snapshot:
    data = _ints(client.graphql(CATALOGUE_QUERY, "reading the catalogue"))
    present = {f["name"] for f in data["custom_field_list"]}
    missing = [n for n in (*SITE_FIELDS, *LOCATION_FIELDS, POSITION_FIELD) if n not in present]
    cat = {
        "role": {r["slug"]: r["id"] for r in data["role_list"]},
        "device-role": {r["slug"]: r["id"] for r in data["device_role_list"]},
        "platform": {r["slug"]: r["id"] for r in data["platform_list"]},
        "device-type": {r["slug"]: r["id"] for r in data["device_type_list"]},
        "circuit-type": {r["slug"]: r["id"] for r in data["circuit_type_list"]},
        "provider": {r["name"]: r["id"] for r in data["provider_list"]},
    }
    regions = data["region_list"]
    if len(regions) > 1:
        names = ", ".join(r["slug"] for r in regions)
        raise BadInput(f"NetBox holds several preau départements ({names}): preau manages one")
    region = regions[0] if regions else None
    context = next(
        (
            c
            for c in data["config_context_list"]
            if region and c["name"] == f"{CONTEXT_PREFIX}{region['slug']}"
        ),
        None,
    )
    snap = Snapshot(
        catalogue=cat,
        tag_id=data["tag_list"][0]["id"] if data["tag_list"] else None,
        missing_fields=missing,
        region=region,
        context=context,
        provider_networks={p["name"]: p for p in data["provider_network_list"]},
    )
    snap.stale_templates = netbox_export.stale_templates(
        {t["name"]: t["template_code"] for t in data["export_template_list"]}
    )
    return snap


def require_setup(snap: Snapshot, url: str) -> None:
    if snap.missing_fields or snap.tag_id is None or snap.stale_templates:
        missing = [*snap.missing_fields, *([] if snap.tag_id else [f"tag {TAG}"])]
        what = ", ".join([*missing, *(f"export template {t}" for t in snap.stale_templates)])
        raise NetBoxUnavailable(
            f"NetBox at {url} is not set up for preau (missing: {what}): run `preau netbox setup`"
        )


def _assemble(snap: Snapshot, lists: dict[str, list[dict[str, Any]]]) -> None:
    """Nest the flat lists per site, the shape `push` and `to_model` read."""
    role_slug: dict[Any, str] = {i: s for s, i in snap.catalogue["role"].items()}
    names: dict[str, dict[Any, str]] = {
        "device-role": {i: s for s, i in snap.catalogue["device-role"].items()},
        "platform": {i: s for s, i in snap.catalogue["platform"].items()},
        "device-type": {i: s for s, i in snap.catalogue["device-type"].items()},
        "circuit-type": {i: s for s, i in snap.catalogue["circuit-type"].items()},
        "provider": {i: s for s, i in snap.catalogue["provider"].items()},
    }
    region_id = snap.region["id"] if snap.region else None
    by_id: dict[Any, dict[str, Any]] = {}
    for s in lists["site"]:
        if region_id is None or (s.get("region") or {}).get("id") != region_id:
            continue
        site = {**s, "locations": [], "prefixes": [], "vlan_groups": [], "devices": []}
        site["circuit_terminations"] = []
        by_id[s["id"]] = site
        snap.sites[s["slug"]] = site
    locations: dict[Any, dict[str, Any]] = {}
    for loc in lists["location"]:
        locations[loc["id"]] = loc
        if (owner := by_id.get((loc.get("site") or {}).get("id"))) is not None:
            owner["locations"].append(loc)
    for p in lists["prefix"]:
        slug = role_slug.get((p.get("role") or {}).get("id"))
        p["role"] = {"slug": slug} if slug else None
        scope = p.get("scope") or {}
        if slug in TOP_ROLES:
            snap.top_prefixes.append(p)
        if scope.get("__typename") == "SiteType" and (scoped := by_id.get(scope["id"])):
            scoped["prefixes"].append(p)
    groups: dict[Any, dict[str, Any]] = {}
    for g in lists["vlan-group"]:
        scope = g.get("scope") or {}
        groups[g["id"]] = {**g, "vlans": []}
        if scope.get("__typename") == "SiteType" and (gsite := by_id.get(scope["id"])):
            gsite["vlan_groups"].append(groups[g["id"]])
    vlans: dict[Any, dict[str, Any]] = {}
    for v in lists["vlan"]:
        slug = role_slug.get((v.get("role") or {}).get("id"))
        v["role"] = {"slug": slug} if slug else None
        vlans[v["id"]] = v
        if (group := groups.get((v.get("group") or {}).get("id"))) is not None:
            group["vlans"].append(v)
    for c in lists["circuit"]:
        c["provider"] = {
            "id": c["provider"]["id"],
            "name": names["provider"].get(c["provider"]["id"]),
        }
        c["type"] = {"slug": names["circuit-type"].get((c.get("type") or {}).get("id"))}
        c["tags"] = [{"slug": TAG}]
        for t in c.get("terminations") or []:
            term = t.get("termination") or {}
            a_site = by_id.get(term.get("id")) if term.get("__typename") == "SiteType" else None
            if t["term_side"] == "A" and a_site is not None:
                a_site["circuit_terminations"].append({"term_side": "A", "circuit": c})
    devices: dict[Any, dict[str, Any]] = {}
    for d in lists["device"]:
        dsite = by_id.get((d.get("site") or {}).get("id"))
        if dsite is None:
            continue
        for key, kind in (
            ("role", "device-role"),
            ("platform", "platform"),
            ("device_type", "device-type"),
        ):
            if d.get(key):
                d[key] = {"id": d[key]["id"], "slug": names[kind].get(d[key]["id"])}
        if d.get("location"):
            d["location"] = {
                "id": d["location"]["id"],
                "name": locations.get(d["location"]["id"], {}).get("name"),
            }
        d["interfaces"] = []
        devices[d["id"]] = d
        dsite["devices"].append(d)
    interfaces: dict[Any, dict[str, Any]] = {}
    for i in lists["interface"]:
        if (dev := devices.get((i.get("device") or {}).get("id"))) is None:
            continue
        i["ip_addresses"], i["mac_addresses"] = [], []
        interfaces[i["id"]] = i
        dev["interfaces"].append(i)
    for i in interfaces.values():
        if i.get("parent"):
            i["parent"] = {
                "id": i["parent"]["id"],
                "name": interfaces.get(i["parent"]["id"], {}).get("name"),
            }
        if i.get("untagged_vlan"):
            i["untagged_vlan"] = vlans.get(i["untagged_vlan"]["id"], i["untagged_vlan"])
    for kind, key in (("ip-address", "ip_addresses"), ("mac-address", "mac_addresses")):
        for a in lists[kind]:
            target = a.get("assigned_object") or {}
            owner_itf = interfaces.get(target.get("id"))
            if target.get("__typename") == "InterfaceType" and owner_itf is not None:
                owner_itf[key].append(a)
            elif kind == "mac-address" and not target:
                snap.unassigned_macs.append(a)


def fetch(client: Client, slugs: Iterable[str] | None = None) -> Snapshot:
    """The catalogue and every preau object (`slugs` is accepted for callers; all is read)."""
    snap = fetch_catalogue(client)
    require_setup(snap, client.url)
    _assemble(snap, netbox_export.fetch_lists(client, TAG))
    return snap


# --- snapshot -> model ---------------------------------------------------------------------------


def _pos(obj: dict[str, Any]) -> tuple[int, str]:
    p = (obj.get("custom_fields") or {}).get(POSITION_FIELD)
    return (p if isinstance(p, int) else 1 << 30, obj.get("name") or "")


def site_circuit(site: dict[str, Any]) -> dict[str, Any] | None:
    """The preau circuit whose A side ends on this site."""
    for t in site.get("circuit_terminations") or []:
        c = t["circuit"]
        if t["term_side"] == "A" and any(tag["slug"] == TAG for tag in c.get("tags") or []):
            return dict(c)
    return None


def _interface(itf: dict[str, Any]) -> Interface:
    ips = sorted(itf.get("ip_addresses") or [], key=lambda a: (a.get("id") or 0, a["address"]))
    macs = itf.get("mac_addresses") or []
    primary = itf.get("primary_mac_address") or {}
    mac = next((m for m in macs if m.get("id") == primary.get("id")), macs[0] if macs else None)
    vlan = itf.get("untagged_vlan")
    return Interface(
        name=itf["name"],
        vlan=vlan["role"]["slug"] if vlan and vlan.get("role") else None,
        address=IPNetwork(ips[0]["address"]) if ips else None,
        mac=mac["mac_address"].lower() if mac else None,
        parent=itf["parent"]["name"] if itf.get("parent") else None,
        mgmt_only=bool(itf.get("mgmt_only")),
    )


def _device(dev: dict[str, Any]) -> Device:
    return Device(
        name=dev["name"],
        role=dev["role"]["slug"],
        platform=dev["platform"]["slug"] if dev.get("platform") else None,
        room=dev["location"]["name"] if dev.get("location") else None,
        interfaces=tuple(_interface(i) for i in sorted(dev["interfaces"], key=_pos)),
    )


def _site(
    dep_plan: tuple[VlanPlanEntry, ...], raw: dict[str, Any], problems: list[Problem]
) -> Site | None:
    cf = raw.get("custom_fields") or {}
    obj = f"NetBox site {raw['slug']}"
    container = None
    uplink = None
    by_role: dict[str, IPNetwork] = {}
    for p in raw.get("prefixes") or []:
        role = (p.get("role") or {}).get("slug")
        if role in (COLLEGE_CONTAINER, SITE_CONTAINER):
            container = IPNetwork(p["prefix"])
        elif role == UPLINK:
            uplink = IPNetwork(p["prefix"])
        elif role:
            by_role[role] = IPNetwork(p["prefix"])
    order = [e.role for e in dep_plan]
    prefixes = {
        r: by_role[r]
        for r in sorted(by_role, key=lambda r: (order.index(r) if r in order else 99, r))
    }
    raw_circuit = site_circuit(raw)
    circuit = None
    if raw_circuit is not None:
        if uplink is None:
            problems.append(Problem(obj, "uplink", "the circuit has no prefix with role uplink"))
            return None
        circuit = Circuit(
            cid=raw_circuit["cid"],
            provider=raw_circuit["provider"]["name"],
            commit_rate_mbps=(raw_circuit["commit_rate"] or 0) // 1000,
            uplink=uplink,
        )
    if container is None:
        problems.append(
            Problem(obj, "container", "no prefix with role college-container/site-container")
        )
        return None
    devices = tuple(_device(d) for d in sorted(raw.get("devices") or [], key=_pos))
    common: dict[str, Any] = dict(
        slug=raw["slug"],
        name=raw["name"],
        commune=cf.get("commune") or "",
        asn=cf.get("asn") or 0,
        circuit=circuit,
        container=container,
        prefixes=prefixes,
        devices=devices,
    )
    if cf.get("preau_kind") == "datacentre":
        return Datacentre(**common)
    rooms = [
        loc
        for loc in raw.get("locations") or []
        if isinstance((loc.get("custom_fields") or {}).get(POSITION_FIELD), int)
    ]
    return College(
        uai=cf.get("uai") or "",
        pupils=cf.get("pupils") or 0,
        rooms=tuple(loc["name"] for loc in sorted(rooms, key=_pos)),
        # a site from before the field (empty) is what every collège was then: standalone
        directory=cf.get("directory") or "standalone",
        room_images={
            loc["name"]: image
            for loc in sorted(rooms, key=_pos)
            if (image := (loc.get("custom_fields") or {}).get(PC_IMAGE_FIELD))
        },
        **common,
    )


def departement_fields(snap: Snapshot, url: str) -> dict[str, Any]:
    if snap.region is None or snap.context is None:
        raise BadInput(
            f"NetBox at {url} holds no preau département yet: push one with `preau sot push`"
        )
    data = (snap.context.get("data") or {}).get("preau") or {}
    supernets: dict[str, IPNetwork] = {}
    for p in snap.top_prefixes:
        role = (p.get("role") or {}).get("slug")
        for key, r in SUPERNET_ROLES.items():
            if role == r:
                supernets[key] = IPNetwork(p["prefix"])
    missing = [k for k in SUPERNET_ROLES if k not in supernets]
    if missing:
        raise ValidationFailed(
            [
                Problem(
                    f"NetBox region {snap.region['slug']}",
                    f"supernets.{k}",
                    "no container prefix with this role",
                )
                for k in missing
            ]
        )
    # The config context holds departement.yml's keys but the name and the supernets, which
    # live on the region and its container prefixes: read it with the files' schema.
    where = f"NetBox {url} config context preau-{snap.region['slug']}"
    whole = {
        **data,
        "name": snap.region["name"],
        "supernets": {k: str(v) for k, v in supernets.items()},
    }
    reader = schema.Reader(where)
    fields = files.read_departement(reader, schema.as_node(whole))
    if reader.problems:
        raise ValidationFailed(reader.problems)
    return {**fields, "slug": snap.region["slug"]}


def to_model(snap: Snapshot, url: str) -> Departement:
    fields = departement_fields(snap, url)
    problems: list[Problem] = []
    sites = [_site(fields["vlan_plan"], raw, problems) for _, raw in sorted(snap.sites.items())]
    if problems:
        raise ValidationFailed(problems)
    dcs = [s for s in sites if isinstance(s, Datacentre)]
    colleges = tuple(s for s in sites if isinstance(s, College))
    return Departement(**fields, datacentre=dcs[0] if dcs else None, colleges=colleges)
