"""Validation of a whole département before anything is written or pushed.

`problems(dep)` returns every finding, each naming the object and the field; `check(dep)`
raises ValidationFailed if there is any. Both backends and every command that writes call
`check` first, so bad data never reaches NetBox or a device.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from netaddr import IPNetwork, valid_mac

from preau.errors import Problem, ValidationFailed
from preau.images import recipes
from preau.model import DEVICE_ROLES, VLAN_ROLES, College, Departement, Site, rules
from preau.model.departement import DIRECTORIES
from preau.model.domain import domain_problems
from preau.model.uai import uai_problem

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _overlaps(items: Iterable[tuple[str, str, IPNetwork, str | None]]) -> list[Problem]:
    """Pairs of prefixes that overlap, found in one sorted pass."""
    ordered = sorted(items, key=lambda t: (t[2].first, -t[2].last))
    out = []
    widest: tuple[str, str, IPNetwork, str | None] | None = None
    for obj, fld, net, site in ordered:
        if widest is not None and net.first <= widest[2].last:
            out.append(Problem(obj, fld, f"{net} overlaps {widest[2]} of {widest[0]}", site))
        if widest is None or net.last > widest[2].last:
            widest = (obj, fld, net, site)
    return out


def _plan_problems(dep: Departement) -> list[Problem]:
    out = []
    seen_vid: dict[int, str] = {}
    seen_role: set[str] = set()
    for e in dep.vlan_plan:
        obj = f"vlan_plan {e.role}"
        if e.role not in VLAN_ROLES:
            out.append(
                Problem(obj, "role", f"unknown role, expected one of {', '.join(VLAN_ROLES)}")
            )
        if e.role in seen_role:
            out.append(Problem(obj, "role", "appears twice in the plan"))
        seen_role.add(e.role)
        if not 1 <= e.vid <= 4094:
            out.append(Problem(obj, "vid", f"{e.vid} is outside 1-4094"))
        if e.vid in seen_vid:
            out.append(Problem(obj, "vid", f"VLAN id {e.vid} clashes with {seen_vid[e.vid]}"))
        seen_vid[e.vid] = e.role
        if not 16 <= e.prefix_length <= 30:
            out.append(Problem(obj, "prefix_length", f"/{e.prefix_length} is outside /16-/30"))
    if dep.routing.protocol not in ("bgp", "ospf"):
        out.append(Problem("departement.routing", "protocol", "must be bgp or ospf"))
    return out


def _room_image_problems(obj: str, site: College) -> list[Problem]:
    """Each room named is one of the collège's, each image one of images/."""
    known = recipes.names()
    out: list[Problem] = []
    for room, image in site.room_images.items():
        if room not in site.rooms:
            rooms = ", ".join(site.rooms) or "none declared"
            out.append(Problem(obj, f"room_images.{room}", f"no such room (rooms: {rooms})"))
        if image not in known:
            out.append(
                Problem(obj, f"room_images.{room}",
                        f"{image!r} is no PC image (images/: {', '.join(known)})")
            )  # fmt: skip
    return out


def _site_problems(dep: Departement, site: Site) -> list[Problem]:
    out: list[Problem] = []
    kind = "college" if isinstance(site, College) else "datacentre"
    obj = f"{kind} {site.slug}"
    if not _SLUG.match(site.slug or ""):
        out.append(Problem(obj, "slug", "use lower-case letters, digits and dashes"))
    if isinstance(site, College):
        why = uai_problem(site.uai or "")
        if why:
            out.append(Problem(obj, "uai", why))
        # the collège's AD domain: a bad realm is the slug's or the DNS suffix's fault
        out += domain_problems(dep, site)
        if site.pupils < 0:
            out.append(Problem(obj, "pupils", "cannot be negative"))
        if site.directory not in DIRECTORIES:
            expected = " or ".join(DIRECTORIES)
            out.append(Problem(obj, "directory", f"{site.directory!r}: expected {expected}"))
        out += _room_image_problems(obj, site)
    supernet = dep.supernets.colleges if isinstance(site, College) else dep.supernets.datacentre
    if site.container not in supernet:
        out.append(
            Problem(obj, "container", f"{site.container} is outside the supernet {supernet}")
        )
    if site.circuit is None:
        out.append(Problem(obj, "circuit", "no THD Seine uplink circuit: every site needs one"))
    else:
        c = site.circuit
        if c.uplink not in dep.supernets.uplinks:
            out.append(
                Problem(
                    f"{obj} circuit {c.cid}",
                    "uplink",
                    f"{c.uplink} is outside the uplink supernet {dep.supernets.uplinks}",
                )
            )
        if c.uplink.prefixlen not in (30, 31):
            out.append(Problem(f"{obj} circuit {c.cid}", "uplink", "must be a /31 or /30"))
        if c.commit_rate_mbps <= 0:
            out.append(Problem(f"{obj} circuit {c.cid}", "commit_rate_mbps", "must be positive"))
    for role, prefix in site.prefixes.items():
        entry = dep.plan_entry(role)
        if entry is None:
            out.append(Problem(obj, f"prefixes.{role}", "this VLAN is missing from the plan"))
        if prefix not in site.container:
            out.append(
                Problem(obj, f"prefixes.{role}", f"{prefix} is outside the site's {site.container}")
            )
    out += _overlaps((obj, f"prefixes.{role}", p, site.slug) for role, p in site.prefixes.items())
    rooms = set(site.rooms) if isinstance(site, College) else set()
    for device in site.devices:
        dobj = f"device {device.name}"
        if device.role not in DEVICE_ROLES:
            out.append(Problem(dobj, "role", f"unknown role {device.role!r}"))
        if isinstance(site, College):
            if not device.room:
                out.append(Problem(dobj, "room", "every device of a collège needs a room"))
            elif rooms and device.room not in rooms:
                out.append(Problem(dobj, "room", f"{device.room!r} is not a room of {site.slug}"))
        for itf in device.interfaces:
            iobj = f"{dobj} interface {itf.name}"
            if itf.mac is not None and not valid_mac(itf.mac):
                out.append(Problem(iobj, "mac", f"{itf.mac!r} is not a MAC address"))
            if itf.vlan is not None and itf.vlan not in site.prefixes:
                out.append(Problem(iobj, "vlan", f"{itf.vlan!r} is not a VLAN of {site.slug}"))
            elif itf.vlan is not None and itf.address is not None:
                prefix = site.prefixes[itf.vlan]
                if itf.address.ip not in prefix or itf.address.prefixlen != prefix.prefixlen:
                    out.append(Problem(iobj, "address", f"{itf.address} is not a host of {prefix}"))
        if device.role in ("pc", "printer") and not any(i.mac for i in device.interfaces):
            out.append(Problem(dobj, "interfaces", f"a {device.role} needs a MAC address"))
        if device.role == "printer" and not any(
            i.vlan == "printers" and i.mac and i.address is not None for i in device.interfaces
        ):
            out.append(
                Problem(
                    dobj,
                    "interfaces",
                    "printer without reservation: needs a MAC and an address on the printers VLAN",
                )
            )
    return out


def _global_problems(dep: Departement) -> list[Problem]:
    out: list[Problem] = []
    top: list[tuple[str, str, IPNetwork, str | None]] = []
    for site in dep.sites:
        top.append((f"site {site.slug}", "container", site.container, site.slug))
        if site.circuit:
            top.append(
                (
                    f"site {site.slug} circuit {site.circuit.cid}",
                    "uplink",
                    site.circuit.uplink,
                    site.slug,
                )
            )
    out += _overlaps(top)

    def dupes(kind: str, items: Iterable[tuple[str, str, str, str]]) -> None:
        seen: dict[str, str] = {}
        for obj, fld, value, site in items:
            if value in seen:
                out.append(
                    Problem(obj, fld, f"duplicate {kind} {value}, also used by {seen[value]}", site)
                )
            else:
                seen[value] = obj

    dupes("slug", ((f"site {s.slug}", "slug", s.slug, s.slug) for s in dep.sites))
    dupes("site name", ((f"site {s.slug}", "name", s.name, s.slug) for s in dep.sites))
    dupes("UAI", ((f"college {c.slug}", "uai", c.uai, c.slug) for c in dep.colleges))
    dupes(
        "circuit id",
        ((f"site {s.slug}", "circuit.cid", s.circuit.cid, s.slug) for s in dep.sites if s.circuit),
    )
    devices = list(dep.all_devices())
    dupes("device name", ((f"device {d.name}", "name", d.name, s.slug) for s, d in devices))
    itfs = [(s, d, i) for s, d in devices for i in d.interfaces]
    dupes(
        "MAC",
        (
            (f"device {d.name} interface {i.name}", "mac", i.mac.lower(), s.slug)
            for s, d, i in itfs
            if i.mac
        ),
    )
    # an uplink's core end is an address too: no device may take it
    dupes(
        "IP",
        [
            (f"device {d.name} interface {i.name}", "address", str(i.address.ip), s.slug)
            for s, d, i in itfs
            if i.address is not None
        ]
        + [
            (
                f"site {s.slug} circuit {s.circuit.cid}",
                "uplink",
                str(s.circuit.core_address),
                s.slug,
            )
            for s in dep.sites
            if s.circuit
        ],
    )
    return out


def problems(dep: Departement) -> list[Problem]:
    """Every problem in the département, in a stable order."""
    out = _plan_problems(dep) + rules.departement_problems(dep)
    for site in dep.sites:
        found = _site_problems(dep, site) + rules.site_problems(dep, site)
        out += [replace(p, site=site.slug) for p in found]
    out += _global_problems(dep)
    out += rules.asn_problems(dep)
    # a bad département-wide field (the DNS suffix) is reported once, not once per collège nor
    # once per rule that needs it: the first finding on it stands for all
    seen: set[tuple[str, str]] = set()
    unique = []
    for p in out:
        if p.obj.startswith("departement"):
            if (p.obj, p.field) in seen:
                continue
            seen.add((p.obj, p.field))
        unique.append(p)
    return list(dict.fromkeys(unique))


def check(dep: Departement) -> Departement:
    """Raise ValidationFailed with every problem, or return the département unchanged."""
    found = problems(dep)
    if found:
        raise ValidationFailed(found)
    return dep
