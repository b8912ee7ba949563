"""How a new site is laid out: its devices, interfaces and addresses, from a few numbers.

`college_layout` is the one recipe used by onboarding (`preau college add`), the demo and the
synthetic generator, so a hand-onboarded collège looks exactly like a generated one. Callers
choose the container and the uplink (NetBox's available-prefixes, or the local allocator);
everything inside the container is carved here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from netaddr import IPAddress, IPNetwork

from preau.errors import BadInput, Problem, ValidationFailed
from preau.model import Circuit, College, Datacentre, Departement, Device, Interface
from preau.model.addressing import (
    gateway_address,
    host_with_length,
    next_free_host,
    next_free_prefix,
    pack_vlan_prefixes,
)

TECH_ROOM = "local-technique"
ADMIN_ROOMS = ("administration", "vie-scolaire")
COLLEGE_ASN_BASE = 65000
ROLE_CODES = {"pc": 0x10, "printer": 0x20, "display": 0x30, "file-server": 0x40, "app-server": 0x41}


@dataclass(frozen=True)
class CollegeSpec:
    """What a person says when onboarding a collège; the rest is derived."""

    slug: str
    uai: str
    name: str
    commune: str
    pupils: int
    classrooms: int = 12
    pcs: int = 45
    printers: int = 4
    displays: int = 5
    commit_rate_mbps: int = 100
    cid: str | None = None
    # The fields the person stated (None: all). A rerun compares only these with the collège
    # already onboarded; the others are defaults for a new one.
    given: frozenset[str] | None = None


def _mac(container: IPNetwork, role: str, n: int) -> str:
    """A locally administered MAC, unique per (collège, role, n), for generated devices.

    Real deployments replace these with the MACs on the delivery note; the container's
    address makes them unique across the département.
    """
    site = (container.value >> 8) & 0xFFFF
    code = ROLE_CODES[role]
    return f"02:ce:{site >> 8:02x}:{site & 0xFF:02x}:{code:02x}:{n:02x}"


class _Addresses:
    """Hands out static addresses VLAN by VLAN, skipping the gateway."""

    def __init__(self, prefixes: dict[str, IPNetwork]):
        self.prefixes = prefixes
        self.used: dict[str, list[IPAddress]] = {r: [] for r in prefixes}

    def take(self, role: str) -> IPNetwork:
        addr = next_free_host(self.prefixes[role], self.used[role])
        self.used[role].append(addr)
        return host_with_length(addr, self.prefixes[role])


def rooms_for(spec: CollegeSpec) -> tuple[str, ...]:
    classrooms = tuple(f"s{100 + i + 1}" for i in range(spec.classrooms))
    return (*classrooms, "cdi", *ADMIN_ROOMS, TECH_ROOM)


def router(name: str, dep: Departement, prefixes: dict[str, IPNetwork], uplink: Circuit) -> Device:
    """The site router: the uplink, a trunk to the LAN and one sub-interface per VLAN."""
    itfs = [
        Interface(name="wan0", address=host_with_length(uplink.site_address, uplink.uplink)),
        Interface(name="lan0"),
    ]
    for entry in dep.vlan_plan:
        if entry.role in prefixes:
            prefix = prefixes[entry.role]
            itfs.append(
                Interface(
                    name=f"lan0.{entry.vid}",
                    parent="lan0",
                    vlan=entry.role,
                    address=host_with_length(gateway_address(prefix), prefix),
                )
            )
    return Device(
        name=name, role="router", platform="linux", room=TECH_ROOM, interfaces=tuple(itfs)
    )


def college_layout(
    dep: Departement, spec: CollegeSpec, container: IPNetwork, uplink: IPNetwork, asn: int
) -> College:
    """A complete collège: VLAN prefixes, router, switches, servers, PCs, printers, displays."""
    prefixes = pack_vlan_prefixes(container, dep.vlan_plan)
    circuit = Circuit(
        cid=spec.cid or f"THD-{spec.uai}",
        provider="THD Seine",
        commit_rate_mbps=spec.commit_rate_mbps,
        uplink=uplink,
    )
    addr = _Addresses(prefixes)
    p = spec.slug
    rooms = rooms_for(spec)
    classrooms = [r for r in rooms if r.startswith("s")]
    devices = [router(f"{p}-rtr1", dep, prefixes, circuit)]
    mgmt_vid = next(e.vid for e in dep.vlan_plan if e.role == "management")
    for name, platform, room in (
        (f"{p}-cpe1", "junos", TECH_ROOM),
        (f"{p}-sw1", "ios", TECH_ROOM),
        (f"{p}-sw2", "ios", "cdi"),
    ):
        role = "cpe" if name.endswith("cpe1") else "access-switch"
        devices.append(
            Device(
                name=name,
                role=role,
                platform=platform,
                room=room,
                interfaces=(
                    Interface(
                        name=f"vlan{mgmt_vid}",
                        vlan="management",
                        address=addr.take("management"),
                        mgmt_only=True,
                    ),
                ),
            )
        )
    for n, role in enumerate(("file-server", "app-server")):
        short = "fs1" if role == "file-server" else "app1"
        devices.append(
            Device(
                name=f"{p}-{short}",
                role=role,
                platform="linux",
                room=TECH_ROOM,
                interfaces=(
                    Interface(
                        name="eth0",
                        vlan="servers",
                        address=addr.take("servers"),
                        mac=_mac(container, role, n),
                    ),
                ),
            )
        )
    for n in range(spec.pcs):
        # One PC in ten sits in the offices (admin VLAN); the rest in classrooms and the CDI.
        admin = n % 10 == 9
        room = ADMIN_ROOMS[n % 2] if admin else (classrooms + ["cdi"])[n % (len(classrooms) + 1)]
        vlan = "admin" if admin else "teaching"
        devices.append(
            Device(
                name=f"{p}-pc{n + 1:03d}",
                role="pc",
                room=room,
                interfaces=(
                    Interface(
                        name="eth0",
                        vlan=vlan,
                        address=addr.take(vlan),
                        mac=_mac(container, "pc", n),
                    ),
                ),
            )
        )
    for role, count, short in (("printer", spec.printers, "prn"), ("display", spec.displays, "vp")):
        for n in range(count):
            room = ("cdi", *ADMIN_ROOMS, *classrooms)[n % (len(classrooms) + 3)]
            devices.append(
                Device(
                    name=f"{p}-{short}{n + 1:02d}",
                    role=role,
                    platform="printer-firmware" if role == "printer" else None,
                    room=room,
                    interfaces=(
                        Interface(
                            name="eth0",
                            vlan="printers",
                            address=addr.take("printers"),
                            mac=_mac(container, role, n),
                        ),
                    ),
                )
            )
    return College(
        slug=spec.slug,
        name=spec.name,
        commune=spec.commune,
        asn=asn,
        circuit=circuit,
        container=container,
        prefixes=prefixes,
        devices=tuple(devices),
        uai=spec.uai,
        pupils=spec.pupils,
        rooms=rooms,
    )


def datacentre_layout(
    dep: Departement,
    slug: str,
    name: str,
    commune: str,
    container: IPNetwork,
    uplink: IPNetwork,
    asn: int,
    app_hosts: int = 2,
    commit_rate_mbps: int = 1000,
) -> Datacentre:
    """The data centre: a router and the ENT portal hosts on the servers VLAN."""
    roles = [e for e in dep.vlan_plan if e.role in ("servers", "management")]
    prefixes = pack_vlan_prefixes(container, roles)
    circuit = Circuit(
        cid=f"THD-{slug.upper()}",
        provider="THD Seine",
        commit_rate_mbps=commit_rate_mbps,
        uplink=uplink,
    )
    addr = _Addresses(prefixes)
    hosts = [("ent-lb1", "load-balancer"), ("ent-db1", "database")]
    hosts += [(f"ent-app{i + 1}", "portal-app") for i in range(app_hosts)]
    # the monitoring host: Prometheus reads every collège's routers and servers from here
    hosts += [("dc-mon1", "monitoring")]
    devices = [router(f"{slug}-rtr1", dep, prefixes, circuit)]
    for host, role in hosts:
        devices.append(
            Device(
                name=host,
                role=role,
                platform="linux",
                interfaces=(Interface(name="eth0", vlan="servers", address=addr.take("servers")),),
            )
        )
    return Datacentre(
        slug=slug,
        name=name,
        commune=commune,
        asn=asn,
        circuit=circuit,
        container=container,
        prefixes=prefixes,
        devices=tuple(devices),
    )


def next_college_resources(dep: Departement) -> tuple[IPNetwork, IPNetwork, int]:
    """The next free container, uplink /31 and ASN, computed locally (the file backend's way).

    The NetBox backend asks NetBox's available-prefixes instead, so two operators onboarding at
    once cannot get the same block.
    """
    containers = [s.container for s in dep.sites]
    uplinks = [s.circuit.uplink for s in dep.sites if s.circuit]
    container = next_free_prefix(dep.supernets.colleges, containers, dep.college_prefix_length)
    uplink = next_free_prefix(dep.supernets.uplinks, uplinks, 31)
    asn = max((c.asn for c in dep.colleges), default=COLLEGE_ASN_BASE) + 1
    return container, uplink, asn


def already_onboarded(dep: Departement, spec: CollegeSpec) -> College | None:
    """The collège this spec names if it exists (a rerun); an error if UAI and slug disagree."""
    existing = dep.college(spec.uai) or dep.college(spec.slug)
    if existing is not None and (existing.uai, existing.slug) != (spec.uai, spec.slug):
        if existing.uai == spec.uai:
            field, holder = "slug", f"UAI {spec.uai} already belongs to {existing.slug}"
        else:
            field, holder = "uai", f"slug {spec.slug} already belongs to UAI {existing.uai}"
        raise BadInput(f"college {spec.slug}: {field}: {holder}")
    return existing


# What `college add --update` may change on an onboarded collège, and what it may not: the
# layout (how many PCs, printers...) was carved into addresses and devices people rely on.
DETAILS = ("name", "commune", "pupils", "commit_rate_mbps")
LAYOUT = ("classrooms", "pcs", "printers", "displays", "cid")
OPTION = {"commit_rate_mbps": "rate"}


def onboarded_details(c: College) -> dict[str, Any]:
    """An onboarded collège described in CollegeSpec's terms."""
    roles = [d.role for d in c.devices]
    return {
        "name": c.name,
        "commune": c.commune,
        "pupils": c.pupils,
        "commit_rate_mbps": c.circuit.commit_rate_mbps if c.circuit else None,
        "cid": c.circuit.cid if c.circuit else None,
        "classrooms": sum(1 for r in c.rooms if r.startswith("s") and r[1:].isdigit()),
        "pcs": roles.count("pc"),
        "printers": roles.count("printer"),
        "displays": roles.count("display"),
    }


def differences(existing: College, spec: CollegeSpec) -> list[tuple[str, Any, Any]]:
    """(field, onboarded value, asked value) for each stated field that differs."""
    have = onboarded_details(existing)
    out = []
    for key in (*DETAILS, *LAYOUT):
        if spec.given is not None and key not in spec.given:
            continue
        want = getattr(spec, key)
        if key == "cid" and want is None:
            continue
        if have[key] != want:
            out.append((key, have[key], want))
    return out


class OnboardedDifferently(ValidationFailed):
    """`college add` for a collège that exists with other details, without --update."""

    def __init__(self, slug: str, problems: list[Problem], hint: str):
        self.slug, self.problems, self.hint = slug, problems, hint
        lines = "\n".join(f"  - {p}" for p in problems)
        BadInput.__init__(
            self, f"college {slug} is already onboarded with other details, nothing written:"
            f"\n{lines}\n{hint}"
        )  # fmt: skip


def rerun(existing: College, spec: CollegeSpec, *, update: bool = False) -> College:
    """What onboarding an existing collège again leaves.

    The same details: the collège unchanged. Other details: an error naming each, unless
    `update` is set, then the collège with the new name, commune, pupils or rate. A different
    layout is always an error: it is edited in the source of truth, not re-carved.
    """
    diffs = differences(existing, spec)
    if not diffs:
        return existing
    obj = f"college {existing.slug}"

    def problem(key: str, old: Any, new: Any) -> Problem:
        option = f"--{OPTION.get(key, key)}"
        return Problem(
            obj, key, f"is {old!r} in the source of truth, {option} says {new!r}", existing.slug
        )

    layout = [problem(*d) for d in diffs if d[0] in LAYOUT]
    if layout:
        raise OnboardedDifferently(
            existing.slug,
            layout,
            "the layout of an onboarded collège is not re-carved by `college add`: edit its "
            "site in the source of truth (devices, rooms, circuit), or leave these options out",
        )
    if not update:
        raise OnboardedDifferently(
            existing.slug,
            [problem(*d) for d in diffs],
            "rerun with --update to change them, or give the same details",
        )
    changes = {k: new for k, _, new in diffs}
    circuit = existing.circuit
    if circuit is not None and "commit_rate_mbps" in changes:
        circuit = replace(circuit, commit_rate_mbps=changes.pop("commit_rate_mbps"))
    return replace(existing, circuit=circuit, **changes)
