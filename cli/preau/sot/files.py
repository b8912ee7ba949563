"""The embedded source of truth: a folder of YAML files with the same model as NetBox.

Layout: `departement.yml` (defaults, supernets, VLAN plan) and `sites/<slug>.yml`, one per
collège or data centre. `load` reads it into the model, reporting every malformed field at
once; `dump` writes a model back in the same layout, so NetBox -> files -> NetBox round-trips.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from netaddr import AddrFormatError, IPAddress, IPNetwork

from preau.errors import BadInput, Problem, ValidationFailed
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

T = TypeVar("T")
_MISSING = object()


class _Reader:
    """Reads fields from parsed YAML, collecting one Problem per bad field instead of failing."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def get(
        self,
        data: dict[str, Any],
        key: str,
        obj: str,
        conv: Callable[[Any], T],
        default: Any = _MISSING,
    ) -> T:
        raw = data.get(key, _MISSING) if isinstance(data, dict) else _MISSING
        if raw is _MISSING or raw is None:
            if default is not _MISSING:
                return default
            self.problems.append(Problem(obj, key, "is missing"))
            return None  # type: ignore[return-value]
        try:
            return conv(raw)
        except (AddrFormatError, ValueError, TypeError) as exc:
            self.problems.append(Problem(obj, key, f"{raw!r} is not valid ({exc})"))
            return None  # type: ignore[return-value]


def _net(raw: Any) -> IPNetwork:
    if not isinstance(raw, str) or "/" not in raw:
        raise ValueError("expected an address with a prefix length, like 198.18.0.0/24")
    return IPNetwork(raw)


def _prefix(raw: Any) -> IPNetwork:
    net = _net(raw)
    if net.ip != net.network:
        raise ValueError(f"host bits set, the prefix is {net.cidr}")
    return net


def _ip(raw: Any) -> IPAddress:
    return IPAddress(str(raw))


def _str(raw: Any) -> str:
    if not isinstance(raw, str | int):
        raise ValueError("expected text")
    return str(raw)


def _int(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError("expected a whole number")
    return raw


def _strs(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise ValueError("expected a list")
    return tuple(_str(x) for x in raw)


def _ips(raw: Any) -> tuple[IPAddress, ...]:
    if not isinstance(raw, list):
        raise ValueError("expected a list")
    return tuple(_ip(x) for x in raw)


def _ipv4s(raw: Any) -> tuple[IPAddress, ...]:
    out = _ips(raw)
    for a in out:
        if a.version != 4:
            raise ValueError(f"{a} is not an IPv4 address")
    return out


def _read_departement(r: _Reader, data: dict[str, Any]) -> dict[str, Any]:
    obj = "departement"
    sn = data.get("supernets") or {}
    sv = data.get("services") or {}
    rt = data.get("routing") or {}
    plan = []
    for i, entry in enumerate(data.get("vlan_plan") or []):
        o = f"vlan_plan[{i}]"
        plan.append(
            VlanPlanEntry(
                role=r.get(entry, "role", o, _str),
                vid=r.get(entry, "vid", o, _int),
                name=r.get(entry, "name", o, _str),
                prefix_length=r.get(entry, "prefix_length", o, _int),
            )
        )
    if not plan:
        r.problems.append(Problem(obj, "vlan_plan", "is missing or empty"))
    return dict(
        slug=r.get(data, "slug", obj, _str),
        name=r.get(data, "name", obj, _str),
        supernets=Supernets(
            colleges=r.get(sn, "colleges", f"{obj}.supernets", _prefix),
            datacentre=r.get(sn, "datacentre", f"{obj}.supernets", _prefix),
            uplinks=r.get(sn, "uplinks", f"{obj}.supernets", _prefix),
        ),
        services=Services(
            domain=r.get(sv, "domain", f"{obj}.services", _str),
            dns=r.get(sv, "dns", f"{obj}.services", _ips, ()),
            ntp=r.get(sv, "ntp", f"{obj}.services", _ips, ()),
            proxy=r.get(sv, "proxy", f"{obj}.services", _str, None),
            upstream_dns=r.get(sv, "upstream_dns", f"{obj}.services", _ipv4s, ()),
        ),
        routing=Routing(
            protocol=r.get(rt, "protocol", f"{obj}.routing", _str, "bgp"),  # type: ignore[arg-type]
            core_asn=r.get(rt, "core_asn", f"{obj}.routing", _int),
            core_name=r.get(rt, "core_name", f"{obj}.routing", _str, "THD Seine core"),
        ),
        vlan_plan=tuple(plan),
        college_prefix_length=r.get(data, "college_prefix_length", obj, _int, 22),
    )


def _read_device(r: _Reader, data: dict[str, Any], site: str) -> Device:
    name = r.get(data, "name", f"{site}: device", _str)
    obj = f"device {name}"
    itfs = []
    for i, itf in enumerate(data.get("interfaces") or []):
        io = f"{obj} interface {itf.get('name', i) if isinstance(itf, dict) else i}"
        itfs.append(
            Interface(
                name=r.get(itf, "name", io, _str),
                vlan=r.get(itf, "vlan", io, _str, None),
                address=r.get(itf, "address", io, _net, None),
                mac=r.get(itf, "mac", io, _str, None),
                parent=r.get(itf, "parent", io, _str, None),
                mgmt_only=bool(itf.get("mgmt_only", False)) if isinstance(itf, dict) else False,
            )
        )
    return Device(
        name=name,
        role=r.get(data, "role", obj, _str),
        platform=r.get(data, "platform", obj, _str, None),
        room=r.get(data, "room", obj, _str, None),
        interfaces=tuple(itfs),
    )


def _read_site(r: _Reader, data: dict[str, Any], origin: str) -> Site:
    slug = r.get(data, "slug", origin, _str)
    obj = f"site {slug}"
    kind = data.get("kind", "college")
    circuit = None
    c = data.get("circuit")
    if c:
        co = f"{obj} circuit"
        circuit = Circuit(
            cid=r.get(c, "cid", co, _str),
            provider=r.get(c, "provider", co, _str, "THD Seine"),
            commit_rate_mbps=r.get(c, "commit_rate_mbps", co, _int),
            uplink=r.get(c, "uplink", co, _prefix),
        )
    prefixes = {
        str(role): r.get({"p": p}, "p", f"{obj} prefixes", _prefix)
        for role, p in (data.get("prefixes") or {}).items()
    }
    common: dict[str, Any] = dict(
        slug=slug,
        name=r.get(data, "name", obj, _str),
        commune=r.get(data, "commune", obj, _str, ""),
        asn=r.get(data, "asn", obj, _int),
        circuit=circuit,
        container=r.get(data, "container", obj, _prefix),
        prefixes=prefixes,
        devices=tuple(_read_device(r, d, obj) for d in data.get("devices") or []),
    )
    if kind == "datacentre":
        return Datacentre(**common)
    if kind != "college":
        r.problems.append(Problem(obj, "kind", f"{kind!r} is neither college nor datacentre"))
    return College(
        uai=r.get(data, "uai", obj, _str),
        pupils=r.get(data, "pupils", obj, _int, 0),
        rooms=r.get(data, "rooms", obj, _strs, ()),
        **common,
    )


def _yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping at the top level")
    return data


def load(root: Path) -> Departement:
    """Read a file-based source of truth; every malformed field is reported at once."""
    dep_file = root / "departement.yml"
    if not dep_file.is_file():
        raise BadInput(f"{root}: no departement.yml here (is this a preau inventory folder?)")
    r = _Reader()
    fields = _read_departement(r, _yaml(dep_file))
    sites = [_read_site(r, _yaml(p), str(p)) for p in sorted((root / "sites").glob("*.yml"))]
    if r.problems:
        raise ValidationFailed(r.problems)
    dcs = [s for s in sites if isinstance(s, Datacentre)]
    if len(dcs) > 1:
        raise ValidationFailed(
            [Problem(f"site {d.slug}", "kind", "only one data centre is supported") for d in dcs]
        )
    colleges = tuple(sorted((s for s in sites if isinstance(s, College)), key=lambda c: c.slug))
    return Departement(**fields, datacentre=dcs[0] if dcs else None, colleges=colleges)


# --- writing ---------------------------------------------------------------------------------


def _itf_dict(itf: Interface) -> dict[str, Any]:
    d: dict[str, Any] = {"name": itf.name}
    if itf.parent:
        d["parent"] = itf.parent
    if itf.vlan:
        d["vlan"] = itf.vlan
    if itf.address is not None:
        d["address"] = str(itf.address)
    if itf.mac:
        d["mac"] = itf.mac.lower()
    if itf.mgmt_only:
        d["mgmt_only"] = True
    return d


def _device_dict(dev: Device) -> dict[str, Any]:
    d: dict[str, Any] = {"name": dev.name, "role": dev.role}
    if dev.platform:
        d["platform"] = dev.platform
    if dev.room:
        d["room"] = dev.room
    d["interfaces"] = [_itf_dict(i) for i in dev.interfaces]
    return d


def site_dict(site: Site) -> dict[str, Any]:
    """A site as plain data, in the order a person reads it."""
    d: dict[str, Any] = {"kind": site.kind, "slug": site.slug, "name": site.name}
    if isinstance(site, College):
        d.update(uai=site.uai, commune=site.commune, pupils=site.pupils, rooms=list(site.rooms))
    else:
        d["commune"] = site.commune
    d["asn"] = site.asn
    if site.circuit:
        c = site.circuit
        d["circuit"] = {
            "cid": c.cid,
            "provider": c.provider,
            "commit_rate_mbps": c.commit_rate_mbps,
            "uplink": str(c.uplink),
        }
    d["container"] = str(site.container)
    d["prefixes"] = {role: str(p) for role, p in site.prefixes.items()}
    d["devices"] = [_device_dict(dev) for dev in site.devices]
    return d


def departement_dict(dep: Departement) -> dict[str, Any]:
    return {
        "slug": dep.slug,
        "name": dep.name,
        "supernets": {
            "colleges": str(dep.supernets.colleges),
            "datacentre": str(dep.supernets.datacentre),
            "uplinks": str(dep.supernets.uplinks),
        },
        "services": {
            "domain": dep.services.domain,
            "dns": [str(a) for a in dep.services.dns],
            "ntp": [str(a) for a in dep.services.ntp],
            **({"proxy": dep.services.proxy} if dep.services.proxy else {}),
            **(
                {"upstream_dns": [str(a) for a in dep.services.upstream_dns]}
                if dep.services.upstream_dns
                else {}
            ),
        },
        "routing": {
            "protocol": dep.routing.protocol,
            "core_asn": dep.routing.core_asn,
            "core_name": dep.routing.core_name,
        },
        "college_prefix_length": dep.college_prefix_length,
        "vlan_plan": [
            {"role": v.role, "vid": v.vid, "name": v.name, "prefix_length": v.prefix_length}
            for v in dep.vlan_plan
        ],
    }


class _Dumper(yaml.SafeDumper):
    """Block style, but short flat mappings (interfaces) on one line for readability."""


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flat = all(not isinstance(v, dict | list) for v in data.values()) and len(data) <= 5
    return dumper.represent_mapping(
        "tag:yaml.org,2002:map", data, flow_style=flat and "name" in data
    )


_Dumper.add_representer(dict, _represent_dict)


def to_yaml(data: Any) -> str:
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120, explicit_start=True
    )


def dump(dep: Departement, root: Path) -> list[Path]:
    """Write the département in the file layout; sites no longer present are removed."""
    (root / "sites").mkdir(parents=True, exist_ok=True)
    written = [root / "departement.yml"]
    written[0].write_text(to_yaml(departement_dict(dep)), encoding="utf-8")
    keep = set()
    for site in dep.sites:
        path = root / "sites" / f"{site.slug}.yml"
        path.write_text(to_yaml(site_dict(site)), encoding="utf-8")
        keep.add(path)
        written.append(path)
    for stale in (root / "sites").glob("*.yml"):
        if stale not in keep:
            stale.unlink()
    return written
