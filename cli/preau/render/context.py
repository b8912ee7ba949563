"""Template contexts: every value a template prints is computed here, from the model and facts.

Templates stay simple (loops and lookups); conventions, arithmetic and checks live in Python
where they are unit-tested. Each builder checks what its platform needs and raises
ValidationFailed naming the device and the field, before anything is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netaddr import IPAddress

from preau.errors import Problem, ValidationFailed
from preau.model import College, Departement, Device, Interface, Site, services
from preau.model.domain import college_domain
from preau.model.facts import dhcp_scopes, gateway
from preau.model.services import TFTP
from preau.render import firewall, ports
from preau.render.ifnames import check_device_ifnames

# Which device each platform's templates configure: one entry template per platform.
PLATFORM_ROLES = {"linux": "router", "ios": "access-switch", "junos": "cpe"}
NETWORK_ROLES = frozenset(PLATFORM_ROLES.values())

DHCP_LEASE = "12h"
HTB_QUANTUM = 1514
OSPF_AREA = "0.0.0.0"
# The CPE bridges the circuit to the router in a VLAN of its own, internal to the CPE.
CPE_CIRCUIT_VLAN = 4000


@dataclass(frozen=True, slots=True)
class Options:
    """How to render for a given target.

    `dot1q` renders VLANs as 802.1Q sub-interfaces of the trunk (production). The twin's kernel
    has no 802.1Q, so it gives the router one link per VLAN: `dot1q=False` drops the .netdev
    files and the trunk's VLAN= lines, and the VLAN interfaces keep their names.
    """

    dot1q: bool = True


def _fail(problems: list[Problem]) -> None:
    if problems:
        raise ValidationFailed(problems)


def check_platform(device: Device) -> str:
    """The platform whose templates render this device, or a clear error."""
    obj = f"device {device.name}"
    platform = device.platform
    if platform not in PLATFORM_ROLES:
        have = ", ".join(sorted(PLATFORM_ROLES))
        raise ValidationFailed(
            [
                Problem(
                    obj, "platform", f"no network template for platform {platform!r} (have {have})"
                )
            ]
        )
    if PLATFORM_ROLES[platform] != device.role:
        raise ValidationFailed(
            [
                Problem(
                    obj,
                    "role",
                    f"the {platform} templates configure a {PLATFORM_ROLES[platform]}, "
                    f"not a {device.role}",
                )
            ]
        )
    return platform


def _domain_forwards(dep: Departement, site: Site) -> list[dict[str, str]]:
    """The zones the router's DNS sends to another server: the collège's AD zone, to its DC."""
    if not isinstance(site, College):
        return []
    domain = college_domain(dep, site)
    if domain is None or domain.dc_address is None:
        return []
    return [{"zone": domain.dns_zone, "server": str(domain.dc_address)}]


def _common(dep: Departement, site: Site, device: Device) -> dict[str, Any]:
    return {
        "hostname": device.name,
        "site": {
            "slug": site.slug,
            "name": site.name,
            "kind": site.kind,
            "uai": site.uai if isinstance(site, College) else None,
        },
        "domain": f"{site.slug}.{dep.services.domain}",
        "dns": [str(a) for a in dep.services.dns],
        "ntp": [str(a) for a in dep.services.ntp],
        "departement": dep.name,
    }


def _site_vlans(dep: Departement, site: Site, device: Device) -> list[Problem]:
    """VLAN problems of a device's interfaces against the plan and the site's prefixes."""
    out = []
    for itf in device.interfaces:
        if itf.vlan is None:
            continue
        obj = f"device {device.name} interface {itf.name}"
        if dep.plan_entry(itf.vlan) is None:
            out.append(
                Problem(obj, "vlan", f"VLAN {itf.vlan!r} is missing from the département's plan")
            )
        elif itf.vlan not in site.prefixes:
            out.append(
                Problem(obj, "vlan", f"site {site.slug} has no prefix for VLAN {itf.vlan!r}")
            )
        elif itf.address is not None and itf.address.ip not in site.prefixes[itf.vlan]:
            out.append(
                Problem(obj, "address", f"{itf.address} is outside {site.prefixes[itf.vlan]}")
            )
    return out


# --- linux: the site router --------------------------------------------------------------------


def _uplink(site: Site, device: Device) -> tuple[Interface | None, list[Problem]]:
    obj = f"device {device.name}"
    if site.circuit is None:
        return None, [Problem(f"site {site.slug}", "circuit", "no uplink circuit to route over")]
    want = site.circuit.site_address
    itf = next(
        (i for i in device.interfaces if i.address is not None and i.address.ip == want), None
    )
    if itf is None:
        return None, [
            Problem(obj, "interfaces", f"no interface holds the circuit's site address {want}")
        ]
    return itf, []


def _addresses(site: Site, role: str) -> list[str]:
    """The addresses of the site's devices with this role (a service's servers)."""
    out = []
    for device in site.devices_by_role(role):
        if device.primary_address is not None:
            out.append(str(device.primary_address.ip))
    return out


def _mbit(rate_mbps: int) -> str:
    return f"{rate_mbps}mbit"


def linux_router(
    dep: Departement, site: Site, device: Device, options: Options | None = None
) -> dict[str, Any]:
    """Context for the linux router templates (FRR, networkd, nftables, dnsmasq, tc)."""
    options = options or Options()
    # names reach file names, nftables rules and shell commands: refuse odd ones first
    check_device_ifnames(device)
    problems = _site_vlans(dep, site, device)
    uplink, more = _uplink(site, device)
    problems += more
    vlans: list[dict[str, Any]] = []
    for itf in device.interfaces:
        if itf.vlan is None:
            continue
        obj = f"device {device.name} interface {itf.name}"
        entry = dep.plan_entry(itf.vlan)
        if itf.address is None:
            problems.append(
                Problem(
                    obj,
                    "address",
                    f"sits on VLAN {itf.vlan!r} without an address: the router is its gateway",
                )
            )
            continue
        if entry is None or itf.vlan not in site.prefixes:
            continue  # reported by _site_vlans
        if options.dot1q and not itf.parent:
            problems.append(Problem(obj, "parent", "a VLAN sub-interface needs its trunk"))
        suffix = itf.name.rpartition(".")[2]
        if itf.parent and suffix.isdigit() and int(suffix) != entry.vid:
            problems.append(
                Problem(obj, "name", f"ends in .{suffix} but VLAN {itf.vlan!r} is VID {entry.vid}")
            )
        vlans.append(
            {
                "role": itf.vlan,
                "zone": itf.vlan,
                "vid": entry.vid,
                "name": entry.name,
                "ifname": itf.name,
                "parent": itf.parent,
                "address": str(itf.address),
                "prefix": str(site.prefixes[itf.vlan]),
            }
        )
    _fail(problems)
    assert uplink is not None and uplink.address is not None and site.circuit is not None
    circuit = site.circuit
    trunks = sorted({v["parent"] for v in vlans if v["parent"]})
    by_zone = {v["zone"]: v["ifname"] for v in vlans}
    zone_names = [v["zone"] for v in vlans]

    ent = (
        [str(dep.datacentre.prefixes["servers"])]
        if dep.datacentre is not None and "servers" in dep.datacentre.prefixes
        else []
    )
    # A router whose own address is a département resolver (the data centre's) answers DNS
    # for every collège: it listens on the uplink and forwards outside names to the
    # département's upstream resolvers (else to its other resolvers); a collège router
    # forwards to the département's resolvers.
    own = {IPAddress(v["address"].split("/")[0]) for v in vlans}
    serves_dns = any(a in own for a in dep.services.dns)
    upstream = [str(a) for a in dep.services.dns if a not in own]
    if serves_dns and dep.services.upstream_dns:
        upstream = [str(a) for a in dep.services.upstream_dns]
    policy = (
        firewall.college_policy(site) if isinstance(site, College) else firewall.DATACENTRE_POLICY
    )
    ntp = [str(a) for a in dep.services.ntp]
    chains = []
    for zone in [*zone_names, firewall.WAN]:
        ifname = uplink.name if zone == firewall.WAN else by_zone[zone]
        rules = []
        for allow in policy:
            if allow.src != zone:
                continue
            if allow.dst != firewall.WAN and allow.dst not in by_zone:
                continue
            if allow.to_ent and not ent:
                continue
            saddr = [str(n.ip) for n in services.remote_hosts(dep, allow.from_roles)]
            if allow.from_roles and not saddr:
                continue  # no such host in the data centre: nothing to open
            if allow.to_role is not None:
                to_role = _addresses(site, allow.to_role)
                if not to_role:
                    continue  # no such server at this site: nothing to open
                daddr = to_role
            else:
                daddr = ent if allow.to_ent else (ntp if allow.to_ntp else [])
            rules.append(
                {
                    "oifname": uplink.name if allow.dst == firewall.WAN else by_zone[allow.dst],
                    "dst": allow.dst,
                    "proto": allow.proto,
                    "ports": ", ".join(str(p) for p in allow.ports),
                    "several_ports": len(allow.ports) > 1,
                    "daddr": daddr,
                    "saddr": saddr,
                    "icmp": allow.icmp,
                    "tftp": (allow.proto, allow.ports) == (TFTP.proto, TFTP.ports),
                    "why": allow.why,
                }
            )
        chains.append({"zone": zone, "ifname": ifname, "rules": rules, "wan": zone == firewall.WAN})

    # The router's own services read from the data centre (its node_exporter), on its input.
    remote_input = []
    if isinstance(site, College):
        for service in firewall.ROUTER_REMOTE_SERVICES:
            saddr = [str(n.ip) for n in service.remote_sources(dep)]
            if saddr:
                remote_input.append(
                    {
                        "saddr": saddr,
                        "proto": service.proto,
                        "ports": ", ".join(str(p) for p in service.ports),
                        "why": service.why,
                    }
                )

    scopes = []
    for scope in dhcp_scopes(dep, site):
        if scope.vlan.role not in by_zone:
            continue
        scopes.append(
            {
                "tag": scope.vlan.role,
                "ifname": by_zone[scope.vlan.role],
                "start": str(scope.pool_start),
                "end": str(scope.pool_end),
                "netmask": str(scope.vlan.prefix.netmask),
                "router": str(scope.gateway),
                "lease": DHCP_LEASE,
                "boot_server": str(scope.boot_server) if scope.boot_server else None,
                "boot_script": (
                    services.BOOT.script_url(scope.boot_server) if scope.boot_server else None
                ),
                "ntp_server": str(scope.ntp_server) if scope.ntp_server else None,
                "reservations": [
                    {"host": r.host, "mac": r.mac, "address": str(r.address)}
                    for r in scope.reservations
                ],
            }
        )
    # Static hosts the router's DNS answers for: servers and network gear, by name; the data
    # centre also publishes the portal's name on its load balancer.
    portal = [
        {"name": dep.services.ent_name, "address": str(addr.ip)}
        for d in site.devices_by_role("load-balancer")[:1]
        for addr in [d.primary_address]
        if addr is not None
    ]
    hosts = portal + [
        {"name": f"{d.name}.{site.slug}.{dep.services.domain}", "address": str(addr.ip)}
        for d in site.devices
        if d.role not in ("pc", "printer", "display", "router")
        for addr in [d.primary_address]
        if addr is not None
    ]

    router_id = str(circuit.site_address)
    return {
        **_common(dep, site, device),
        "uplink": {
            "ifname": uplink.name,
            "address": str(uplink.address),
            "peer": str(circuit.core_address),
            "cid": circuit.cid,
            "provider": circuit.provider,
            "rate": _mbit(circuit.commit_rate_mbps),
            "commit_rate_mbps": circuit.commit_rate_mbps,
        },
        "trunks": trunks,
        "dot1q": options.dot1q,
        "vlans": vlans,
        "routing": {
            "protocol": dep.routing.protocol,
            "asn": site.asn,
            "core_asn": dep.routing.core_asn,
            "core_name": dep.routing.core_name,
            "router_id": router_id,
            "announce": [str(p) for p in [site.container]],
            "ospf_area": OSPF_AREA,
        },
        "firewall": {
            "chains": chains,
            "lan_ifnames": [v["ifname"] for v in vlans],
            "dhcp_ifnames": [s["ifname"] for s in scopes],
            "admin_ifnames": [by_zone[z] for z in firewall.ROUTER_ADMIN_ZONES if z in by_zone],
            "remote_input": remote_input,
            "masquerade_ifnames": [by_zone[z] for z in firewall.MASQUERADED if z in by_zone],
            "serves_dns": serves_dns,
            # collège routers forward from their uplink address, their hosts from the container
            "dns_clients": [str(dep.supernets.colleges), str(dep.supernets.uplinks)],
            "bgp": dep.routing.protocol == "bgp",
        },
        "dhcp": {
            "scopes": scopes,
            "boot": {
                "bios_loader": services.BOOT.bios_loader,
                "uefi_loader": services.BOOT.uefi_loader,
                "ipxe_user_class": services.BOOT.ipxe_user_class,
            },
            "hosts": hosts,
            "upstream": upstream,
            # the collège's AD zone is the DC's (its own DNS answers it): forwarded, not local
            "domains": _domain_forwards(dep, site),
            "listen": [v["ifname"] for v in vlans] + ([uplink.name] if serves_dns else []),
        },
        "shaping": {
            "ifname": uplink.name,
            "rate": _mbit(circuit.commit_rate_mbps),
            "quantum": HTB_QUANTUM,
            "root": services.UPLINK_SHAPING.root,
            "classid": services.UPLINK_SHAPING.classid,
            "default": services.UPLINK_SHAPING.minor,
        },
    }


# --- ios and junos: switches and the CPE ------------------------------------------------------


def _management(dep: Departement, site: Site, device: Device) -> dict[str, Any]:
    obj = f"device {device.name}"
    problems = _site_vlans(dep, site, device)
    itf = next((i for i in device.interfaces if i.vlan == "management"), None)
    if itf is None:
        problems.append(Problem(obj, "interfaces", "no interface on the management VLAN"))
    elif itf.address is None:
        problems.append(Problem(f"{obj} interface {itf.name}", "address", "management needs one"))
    _fail(problems)
    assert itf is not None and itf.address is not None
    entry = dep.plan_entry("management")
    assert entry is not None
    return {
        "ifname": itf.name,
        "vid": entry.vid,
        "address": str(itf.address.ip),
        "prefixlen": itf.address.prefixlen,
        "cidr": str(itf.address),
        "netmask": str(itf.address.netmask),
        "gateway": str(gateway(site, "management")),
    }


def ios_switch(dep: Departement, site: Site, device: Device) -> dict[str, Any]:
    """Context for an IOS access switch: VLANs of the plan, management SVI, trunks, access ports."""
    mgmt = _management(dep, site, device)
    plan = ports.plan(site)[device.name]
    vlans = [{"vid": v.vid, "name": v.name, "role": v.role} for v in dep.site_vlans(site)]
    vid = {v["role"]: v["vid"] for v in vlans}
    problems = [
        Problem(
            f"device {device.name} port {p.name}", "vlan", f"VLAN {p.vlan!r} is not in the plan"
        )
        for p in plan.ports
        if p.mode == "access" and p.vlan not in vid
    ]
    _fail(problems)
    return {
        **_common(dep, site, device),
        "management": mgmt,
        "vlans": vlans,
        "trunk_vids": ",".join(str(v["vid"]) for v in vlans),
        "ports": [
            {
                "name": p.name,
                "description": p.description,
                "mode": p.mode,
                "vid": vid[p.vlan] if p.vlan else None,
            }
            for p in plan.ports
        ],
        "unused": [
            {"first": ports.PORT_NAME.format(a), "last": str(b), "single": a == b}
            for a, b in plan.unused
        ],
    }


def junos_cpe(dep: Departement, site: Site, device: Device) -> dict[str, Any]:
    """Context for the THD Seine CPE: the circuit bridged to the router, managed in-band."""
    mgmt = _management(dep, site, device)
    if site.circuit is None:
        raise ValidationFailed([Problem(f"site {site.slug}", "circuit", "the CPE terminates one")])
    router = site.router
    return {
        **_common(dep, site, device),
        "management": mgmt,
        "circuit": {
            "cid": site.circuit.cid,
            "provider": site.circuit.provider,
            "shaping": f"{site.circuit.commit_rate_mbps}m",
            "vlan_id": CPE_CIRCUIT_VLAN,
        },
        "router": router.name if router else "the site router",
        "core_name": dep.routing.core_name,
    }
