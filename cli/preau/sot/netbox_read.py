"""Read a département out of NetBox in a few GraphQL queries, and turn it into the model.

`fetch` returns a `Snapshot`: NetBox's objects as plain dicts with their ids (what `push` diffs
against). `to_model` turns a snapshot into the `Departement` the rest of preau uses.

One query reads the catalogue (tag, roles, platforms, the département's region, its config
context and top-level prefixes); then the sites are read with everything they hold nested
(locations, prefixes, VLANs, circuit, devices, interfaces, addresses), a few sites per query,
two queries in flight (NetBox lists cap at MAX_PAGE_SIZE, 1000, per parent: a site stays far
below that). Only objects tagged `preau` are read.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from netaddr import IPAddress, IPNetwork

from preau.errors import BadInput, NetBoxUnavailable, Problem, ValidationFailed
from preau.model import (
    Circuit,
    College,
    Datacentre,
    Departement,
    Device,
    Interface,
    Routing,
    Services,
    Site,
    Supernets,
    VlanPlanEntry,
)
from preau.sot.netbox_client import PAGE, Client
from preau.sot.netbox_schema import (
    COLLEGE_CONTAINER,
    POSITION_FIELD,
    SITE_CONTAINER,
    SITE_FIELDS,
    SUPERNET_ROLES,
    TAG,
    UPLINK,
)

CONTEXT_PREFIX = "preau-"
# Sites per GraphQL query: about 60 devices each; small enough to keep one answer in the
# tens of megabytes, large enough to keep the call count low.
SITES_PER_QUERY = 40
PARALLEL = 2

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
  prefix_list(filters: {{{_TAGGED}, role: {{slug: {{in_list: [{{roles}}]}}}}}}) {{
    id prefix status description role {{ slug }} vlan {{ id }}
    scope {{ __typename ... on SiteType {{ id slug }} }}
  }}
  site_list(filters: {{{_TAGGED}}}) {{ id slug region {{ id }} }}
}}
"""

SITES_QUERY = f"""
{{
  site_list(filters: {{id: {{in_list: [{{ids}}]}}}}) {{
    id name slug custom_fields region {{ id }}
    locations(filters: {{{_TAGGED}}}) {{ id name slug custom_fields }}
    prefixes(filters: {{{_TAGGED}}}) {{
      id prefix status description role {{ slug }} vlan {{ id }}
    }}
    vlan_groups(filters: {{{_TAGGED}}}) {{
      id name slug
      vlans(filters: {{{_TAGGED}}}) {{ id vid name status role {{ slug }} site {{ id }} }}
    }}
    circuit_terminations {{
      term_side
      circuit {{
        id cid commit_rate status tags {{ slug }} provider {{ id name }} type {{ slug }}
        terminations {{
          id term_side
          termination {{
            __typename
            ... on SiteType {{ id }}
            ... on ProviderNetworkType {{ id }}
          }}
        }}
      }}
    }}
    devices(filters: {{{_TAGGED}}}) {{
      id name status custom_fields
      role {{ id slug }} platform {{ id slug }} device_type {{ id slug }} location {{ id name }}
      primary_ip4 {{ id }}
      interfaces(filters: {{{_TAGGED}}}) {{
        id name type mgmt_only mode custom_fields
        parent {{ id name }} untagged_vlan {{ id role {{ slug }} }} primary_mac_address {{ id }}
        ip_addresses(filters: {{{_TAGGED}}}) {{ id address status }}
        mac_addresses(filters: {{{_TAGGED}}}) {{ id mac_address }}
      }}
    }}
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
    top_prefixes: list[dict[str, Any]]  # supernets, containers and uplinks (every site)
    provider_networks: dict[str, dict[str, Any]]
    sites: dict[str, dict[str, Any]] = field(default_factory=dict)  # slug -> nested site


def _ints(obj: Any) -> Any:
    """GraphQL IDs are strings; make every `id` an int, recursively."""
    if isinstance(obj, dict):
        return {k: (int(v) if k == "id" and v is not None else _ints(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_ints(v) for v in obj]
    return obj


def _not_truncated(items: list[Any], what: str) -> list[Any]:
    """NetBox caps each GraphQL list at MAX_PAGE_SIZE: a full list may have lost objects."""
    if len(items) >= PAGE:
        raise BadInput(
            f"NetBox returned {len(items)} {what} in one list, its page size: preau reads a "
            f"département in one page per list and would miss some; raise MAX_PAGE_SIZE"
        )
    return items


def fetch_catalogue(client: Client) -> Snapshot:
    roles = ", ".join(
        f'"{r}"' for r in (*SUPERNET_ROLES.values(), COLLEGE_CONTAINER, SITE_CONTAINER, UPLINK)
    )
    data = _ints(client.graphql(CATALOGUE_QUERY.replace("{roles}", roles), "reading the catalogue"))
    present = {f["name"] for f in data["custom_field_list"]}
    missing = [n for n in (*SITE_FIELDS, POSITION_FIELD) if n not in present]
    cat = {
        "role": {r["slug"]: r["id"] for r in data["role_list"]},
        "device-role": {r["slug"]: r["id"] for r in data["device_role_list"]},
        "platform": {r["slug"]: r["id"] for r in data["platform_list"]},
        "device-type": {r["slug"]: r["id"] for r in data["device_type_list"]},
        "circuit-type": {r["slug"]: r["id"] for r in data["circuit_type_list"]},
        "provider": {r["name"]: r["id"] for r in data["provider_list"]},
    }
    regions = data["region_list"]
    region = None
    if len(regions) > 1:
        names = ", ".join(r["slug"] for r in regions)
        raise BadInput(f"NetBox holds several preau départements ({names}): preau manages one")
    if regions:
        region = regions[0]
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
        top_prefixes=_not_truncated(data["prefix_list"], "top-level prefixes"),
        provider_networks={p["name"]: p for p in data["provider_network_list"]},
    )
    snap.sites = {
        s["slug"]: {"id": s["id"], "slug": s["slug"]}
        for s in _not_truncated(data["site_list"], "sites")
        if region is not None and s["region"] and s["region"]["id"] == region["id"]
    }
    return snap


def require_setup(snap: Snapshot, url: str) -> None:
    if snap.missing_fields or snap.tag_id is None:
        what = ", ".join(snap.missing_fields) or f"tag {TAG}"
        raise NetBoxUnavailable(
            f"NetBox at {url} is not set up for preau (missing: {what}): run `preau netbox setup`"
        )


def _chunks(items: list[int], n: int) -> Iterable[list[int]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def fetch_sites(client: Client, snap: Snapshot, slugs: Iterable[str] | None = None) -> None:
    """Fill `snap.sites` with the nested content of these sites (default: all of them)."""
    wanted = [
        snap.sites[s]["id"] for s in (slugs if slugs is not None else snap.sites) if s in snap.sites
    ]
    if not wanted:
        return

    def one(ids: list[int]) -> list[dict[str, Any]]:
        q = SITES_QUERY.replace("{ids}", ", ".join(f'"{i}"' for i in ids))
        return list(_ints(client.graphql(q, "reading the sites"))["site_list"])

    with ThreadPoolExecutor(PARALLEL) as pool:
        for batch in pool.map(one, list(_chunks(sorted(wanted), SITES_PER_QUERY))):
            for s in batch:
                _not_truncated(s.get("devices") or [], f"devices in site {s['slug']}")
                snap.sites[s["slug"]] = s


def fetch(client: Client, slugs: Iterable[str] | None = None) -> Snapshot:
    snap = fetch_catalogue(client)
    require_setup(snap, client.url)
    fetch_sites(client, snap, slugs)
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
    ips = sorted(itf.get("ip_addresses") or [], key=lambda a: a["id"])
    macs = itf.get("mac_addresses") or []
    primary = (itf.get("primary_mac_address") or {}).get("id")
    mac = next((m for m in macs if m["id"] == primary), macs[0] if macs else None)
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
    sv = data.get("services") or {}
    rt = data.get("routing") or {}
    return dict(
        slug=snap.region["slug"],
        name=snap.region["name"],
        supernets=Supernets(**supernets),
        services=Services(
            domain=sv.get("domain", ""),
            dns=tuple(IPAddress(a) for a in sv.get("dns") or []),
            ntp=tuple(IPAddress(a) for a in sv.get("ntp") or []),
            proxy=sv.get("proxy"),
        ),
        routing=Routing(
            protocol=rt.get("protocol", "bgp"),
            core_asn=int(rt.get("core_asn", 0)),
            core_name=rt.get("core_name", "THD Seine core"),
        ),
        vlan_plan=tuple(
            VlanPlanEntry(
                role=e["role"],
                vid=int(e["vid"]),
                name=e["name"],
                prefix_length=int(e["prefix_length"]),
            )
            for e in data.get("vlan_plan") or []
        ),
        college_prefix_length=int(data.get("college_prefix_length", 22)),
    )


def to_model(snap: Snapshot, url: str) -> Departement:
    fields = departement_fields(snap, url)
    problems: list[Problem] = []
    sites = [_site(fields["vlan_plan"], raw, problems) for _, raw in sorted(snap.sites.items())]
    if problems:
        raise ValidationFailed(problems)
    dcs = [s for s in sites if isinstance(s, Datacentre)]
    colleges = tuple(s for s in sites if isinstance(s, College))
    return Departement(**fields, datacentre=dcs[0] if dcs else None, colleges=colleges)
