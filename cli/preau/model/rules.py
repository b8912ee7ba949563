"""Rules the département's data must follow beyond its types: pure functions, no I/O.

Each rule returns Problems naming the object, the field and the site, so every source (the
embedded files, NetBox, `preau college add`) reports them the same way through
preau.sot.validate. These are the checks whose absence let bad data render: a gateway on its
prefix's network or broadcast address, a DHCP reservation inside the dynamic pool, a router
missing a VLAN of its site (the zone vanished from nftables and dnsmasq), an uplink whose two
ends are not usable hosts, empty names, duplicate ASNs.
"""

from __future__ import annotations

import re

from netaddr import IPAddress, IPRange

from preau.errors import Problem
from preau.model.addressing import container_length, dhcp_pool
from preau.model.departement import (
    DHCP_VLAN_ROLES,
    NETWORK_PLATFORMS,
    PLATFORMS,
    College,
    Departement,
    Device,
    Site,
)

# A hostname label (RFC 1123): device names become hostnames, DHCP host names and file names.
_HOSTNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# Interface names reach configs and shells: no space, quote or shell metacharacter.
_IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$")
_LINUX_IFNAME_MAX = 15  # IFNAMSIZ - 1
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9-]{1,63})*$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_ASN_MAX = 4_294_967_295
_ASN_RESERVED = {0, 23456, 65535, _ASN_MAX}


def site_label(site: Site) -> str:
    return f"{'college' if isinstance(site, College) else 'datacentre'} {site.slug}"


def slug_problem(value: str) -> str | None:
    """Why a site slug is unusable (it prefixes host names and file names), or None."""
    if not _SLUG.match(value) or len(value) > 40:
        return f"{value!r}: use lower-case letters, digits and dashes (at most 40)"
    return None


def name_problem(value: str | None) -> str | None:
    """Why a name is unusable (empty, blank, padded), or None."""
    if value is None or not value.strip():
        return "is empty"
    if value != value.strip():
        return f"{value!r} has leading or trailing spaces"
    if any(not c.isprintable() for c in value):
        return f"{value!r} holds a control character"
    return None


def departement_problems(dep: Departement) -> list[Problem]:
    """The département's own fields: names, domain, supernets, the plan's fit."""
    out: list[Problem] = []
    for fld, value in (("slug", dep.slug), ("name", dep.name)):
        why = name_problem(value)
        if why:
            out.append(Problem("departement", fld, why))
    for e in dep.vlan_plan:
        why = name_problem(e.name)
        if why:
            out.append(Problem(f"vlan_plan {e.role}", "name", why))
    if not _DOMAIN.match(dep.services.domain or ""):
        out.append(
            Problem(
                "departement.services",
                "domain",
                f"{dep.services.domain!r} is not a lower-case DNS domain (like enc.test)",
            )
        )
    if dep.services.proxy is not None and name_problem(dep.services.proxy):
        out.append(Problem("departement.services", "proxy", "is empty: remove the key instead"))
    nets = [
        ("colleges", dep.supernets.colleges),
        ("datacentre", dep.supernets.datacentre),
        ("uplinks", dep.supernets.uplinks),
    ]
    for i, (a, na) in enumerate(nets):
        for b, nb in nets[i + 1 :]:
            if na.first <= nb.last and nb.first <= na.last:
                out.append(Problem("departement.supernets", b, f"{nb} overlaps {a} ({na})"))
    if not 8 <= dep.college_prefix_length <= 30:
        out.append(Problem("departement", "college_prefix_length", "must be between /8 and /30"))
    elif dep.vlan_plan:
        need = container_length(dep.vlan_plan)
        if need < dep.college_prefix_length:
            out.append(
                Problem(
                    "departement",
                    "college_prefix_length",
                    f"a /{dep.college_prefix_length} cannot hold the VLAN plan (needs a /{need})",
                )
            )
    if not 1 <= dep.routing.core_asn <= _ASN_MAX or dep.routing.core_asn in _ASN_RESERVED:
        out.append(Problem("departement.routing", "core_asn", f"{dep.routing.core_asn} is no ASN"))
    why = name_problem(dep.routing.core_name)
    if why:
        out.append(Problem("departement.routing", "core_name", why))
    return out


def _names(site: Site) -> list[Problem]:
    obj = site_label(site)
    out = []
    why = name_problem(site.name)
    if why:
        out.append(Problem(obj, "name", why))
    if site.commune and name_problem(site.commune):
        out.append(Problem(obj, "commune", name_problem(site.commune) or ""))
    if site.circuit is not None:
        why = name_problem(site.circuit.cid)
        if why:
            out.append(Problem(f"{obj} circuit", "cid", why))
        why = name_problem(site.circuit.provider)
        if why:
            out.append(Problem(f"{obj} circuit {site.circuit.cid}", "provider", why))
    if isinstance(site, College):
        seen: set[str] = set()
        for room in site.rooms:
            why = name_problem(room)
            if why:
                out.append(Problem(obj, "rooms", f"a room {why}"))
            elif room in seen:
                out.append(Problem(obj, "rooms", f"room {room!r} is listed twice"))
            seen.add(room)
    for device in site.devices:
        dobj = f"device {device.name}" if (device.name or "").strip() else f"a device of {obj}"
        if not _HOSTNAME.match(device.name or ""):
            out.append(
                Problem(
                    dobj,
                    "name",
                    f"{device.name!r} is not a host name (letters, digits and dashes, "
                    "at most 63, no dash at either end)",
                )
            )
        if device.platform is not None and device.platform not in PLATFORMS:
            out.append(
                Problem(
                    dobj,
                    "platform",
                    f"unknown platform {device.platform!r}, expected one of {', '.join(PLATFORMS)}",
                )
            )
        want = NETWORK_PLATFORMS.get(device.role)
        if want is not None and device.platform != want and device.platform in (None, *PLATFORMS):
            out.append(
                Problem(
                    dobj,
                    "platform",
                    f"a {device.role} is configured as {want}, not {device.platform or 'nothing'}",
                )
            )
        if device.role in ("access-switch", "cpe") and not any(
            i.vlan == "management" and i.address is not None for i in device.interfaces
        ):
            out.append(
                Problem(dobj, "interfaces", "needs an addressed interface on the management VLAN")
            )
        if device.room and name_problem(device.room):  # an empty room: the validator says
            out.append(Problem(dobj, "room", name_problem(device.room) or ""))
        out += _interface_names(device)
    return out


def _interface_names(device: Device) -> list[Problem]:
    out = []
    names = [i.name for i in device.interfaces]
    for itf in device.interfaces:
        iobj = f"device {device.name} interface {itf.name}"
        if not _IFNAME.match(itf.name or ""):
            out.append(
                Problem(iobj, "name", f"{itf.name!r} is not an interface name (no spaces, quotes)")
            )
        elif device.platform == "linux" and len(itf.name) > _LINUX_IFNAME_MAX:
            out.append(Problem(iobj, "name", "a Linux interface name has at most 15 characters"))
        if names.count(itf.name) > 1 and names.index(itf.name) != device.interfaces.index(itf):
            out.append(Problem(iobj, "name", "appears twice on the device"))
        if itf.parent is not None and (itf.parent == itf.name or itf.parent not in names):
            out.append(Problem(iobj, "parent", f"{itf.parent!r} is not another port of the device"))
    return out


def _addresses(site: Site) -> list[Problem]:
    """Each address is a usable host of its VLAN, and out of the DHCP pool on DHCP VLANs."""
    out = []
    pools = {
        role: IPRange(*dhcp_pool(p))
        for role, p in site.prefixes.items()
        if role in DHCP_VLAN_ROLES and p.prefixlen <= 30
    }
    for device in site.devices:
        for itf in device.interfaces:
            if itf.address is None or itf.vlan is None or itf.vlan not in site.prefixes:
                continue
            iobj = f"device {device.name} interface {itf.name}"
            prefix = site.prefixes[itf.vlan]
            ip = IPAddress(itf.address.ip)
            if ip not in prefix or prefix.prefixlen > 30:
                continue  # reported by the validator's membership check
            if ip == prefix.network:
                out.append(
                    Problem(iobj, "address", f"{ip} is the network address of {prefix}, not a host")
                )
            elif ip == prefix.broadcast:
                out.append(
                    Problem(
                        iobj, "address", f"{ip} is the broadcast address of {prefix}, not a host"
                    )
                )
            elif itf.vlan in pools and ip in pools[itf.vlan]:
                pool = pools[itf.vlan]
                what = "reservation" if itf.mac else "static address"
                out.append(
                    Problem(
                        iobj,
                        "address",
                        f"{what} {ip} is inside the dynamic pool {pool} of {itf.vlan}: "
                        "a lease could hand it to another host (use the lower half)",
                    )
                )
    return out


def _router(dep: Departement, site: Site) -> list[Problem]:
    """One router, with an addressed interface on every VLAN of the site."""
    obj = site_label(site)
    routers = site.devices_by_role("router")
    if not routers:
        return [Problem(obj, "devices", "no router: every site needs one (role router)")]
    out = []
    if len(routers) > 1:
        out += [
            Problem(f"device {r.name}", "role", f"{site.slug} has {len(routers)} routers; one")
            for r in routers[1:]
        ]
    router = routers[0]
    robj = f"device {router.name}"
    carried: dict[str, list[str]] = {}
    for device in site.devices:
        if device is router:
            continue
        for itf in device.interfaces:
            if itf.vlan is not None:
                carried.setdefault(itf.vlan, []).append(device.name)
    routed: dict[str, int] = {}
    for itf in router.interfaces:
        if itf.vlan is None:
            continue
        iobj = f"{robj} interface {itf.name}"
        if not itf.parent:
            out.append(Problem(iobj, "parent", "a VLAN sub-interface names its trunk"))
        entry = dep.plan_entry(itf.vlan)
        suffix = itf.name.rpartition(".")[2]
        if (
            entry is not None
            and 1 <= entry.vid <= 4094  # an impossible VID is the plan's problem, said once
            and itf.parent
            and suffix.isdigit()
            and int(suffix) != entry.vid
        ):
            out.append(
                Problem(iobj, "name", f"ends in .{suffix} but VLAN {itf.vlan} is VID {entry.vid}")
            )
        if itf.address is None:
            out.append(
                Problem(
                    iobj,
                    "address",
                    f"the router's interface on {itf.vlan} needs its gateway address",
                )
            )
        routed[itf.vlan] = routed.get(itf.vlan, 0) + 1
    for role, n in routed.items():
        if n > 1:
            out.append(Problem(robj, "interfaces", f"{n} interfaces on VLAN {role}; one"))
    for role in [*site.prefixes, *(r for r in carried if r not in site.prefixes)]:
        if role in routed or role not in site.prefixes:
            continue
        users = carried.get(role, [])
        who = f" ({len(users)} devices use it, e.g. {users[0]})" if users else ""
        out.append(
            Problem(
                robj,
                "interfaces",
                f"no interface on VLAN {role} ({site.prefixes[role]}){who}: the zone would have "
                "no gateway, firewall zone or DHCP scope",
            )
        )
    out += _uplink(site, router)
    return out


def _uplink(site: Site, router: Device) -> list[Problem]:
    """The router holds the circuit's site address, with the uplink's length."""
    c = site.circuit
    if c is None or c.uplink.prefixlen > 31:
        return []  # no circuit, or no room for two ends: the validator says so
    cobj = f"{site_label(site)} circuit {c.cid}"
    out = []
    for end, addr in (("core", c.core_address), ("site", c.site_address)):
        if addr not in c.uplink or (
            c.uplink.prefixlen < 31 and addr in (c.uplink.network, c.uplink.broadcast)
        ):
            out.append(Problem(cobj, "uplink", f"the {end} address {addr} is not a host"))
    held = [i for i in router.interfaces if i.address is not None and i.vlan is None]
    wan = next((i for i in held if IPAddress(i.address.ip) in c.uplink), None)  # type: ignore[union-attr]
    robj = f"device {router.name}"
    if wan is None:
        out.append(
            Problem(
                robj,
                "interfaces",
                f"no interface holds the uplink's site address {c.site_address}/"
                f"{c.uplink.prefixlen} (circuit {c.cid})",
            )
        )
    elif wan.address is not None and (
        IPAddress(wan.address.ip) != c.site_address or wan.address.prefixlen != c.uplink.prefixlen
    ):
        out.append(
            Problem(
                f"{robj} interface {wan.name}",
                "address",
                f"{wan.address} is not the uplink's site address {c.site_address}/"
                f"{c.uplink.prefixlen} ({c.core_address} is the core's)",
            )
        )
    return out


def site_problems(dep: Departement, site: Site) -> list[Problem]:
    """Every rule about one site."""
    return _names(site) + _addresses(site) + _router(dep, site)


def asn_problems(dep: Departement) -> list[Problem]:
    """Each site's ASN is a usable private-or-public ASN, unique, and not the core's."""
    out = []
    seen: dict[int, str] = {}
    for site in dep.sites:
        obj = site_label(site)
        if not 1 <= site.asn <= _ASN_MAX or site.asn in _ASN_RESERVED:
            out.append(Problem(obj, "asn", f"{site.asn} is no usable ASN", site.slug))
        elif site.asn == dep.routing.core_asn:
            out.append(Problem(obj, "asn", f"{site.asn} is the core's ASN", site.slug))
        elif site.asn in seen:
            out.append(
                Problem(
                    obj,
                    "asn",
                    f"duplicate ASN {site.asn}, also used by {seen[site.asn]}",
                    site.slug,
                )
            )
        else:
            seen[site.asn] = site.slug
    return out
