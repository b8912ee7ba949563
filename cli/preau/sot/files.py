"""The embedded source of truth: a folder of YAML files with the same model as NetBox.

Layout: `departement.yml` (defaults, supernets, VLAN plan) and `sites/<slug>.yml`, one per
collège or data centre. `load` reads it into the model against the schema (preau.sot.schema),
reporting every unknown key and malformed field at once, with its file and line; `dump`
writes a model back in the same layout, so NetBox -> files -> NetBox round-trips.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from preau.errors import Problem, ValidationFailed
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
from preau.sot import schema


def _display(path: Path) -> str:
    """How a problem names a file: as the user would type it from where they are."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_departement(r: schema.Reader, data: schema.Node) -> dict[str, Any]:
    """departement.yml (or NetBox's config context, same keys) as the model's fields."""
    obj = "departement"
    top = r.read(data, obj, schema.DEPARTEMENT, (obj, "file"), 1)

    def sub(key: str, shape: schema.Shape) -> dict[str, Any]:
        if top[key] is None:  # missing: said once, for the key
            return {k: f.default for k, f in shape.fields.items()}
        return r.read(top[key], f"{obj}.{key}", shape, (obj, key), data.lines.get(key, 1))

    sn = sub("supernets", schema.SUPERNETS)
    sv = sub("services", schema.SERVICES)
    rt = sub("routing", schema.ROUTING)
    plan = []
    entries = r.items(top["vlan_plan"], obj, "vlan_plan", data.lines.get("vlan_plan"))
    for i, entry in enumerate(entries):
        role = entry.get("role") if isinstance(entry, dict) else None
        o = f"vlan_plan {role}" if isinstance(role, str) and role else f"vlan_plan entry {i + 1}"
        e = r.read(
            entry,
            o,
            schema.VLAN_PLAN_ENTRY,
            (obj, f"vlan_plan[{i + 1}]"),
            data.lines.get("vlan_plan"),
        )
        plan.append(VlanPlanEntry(**e))
    if isinstance(top["vlan_plan"], list) and not plan:
        r.problem(obj, "vlan_plan", "is empty", data.lines.get("vlan_plan"))
    return dict(
        slug=top["slug"],
        name=top["name"],
        supernets=Supernets(**sn),
        services=Services(**sv),
        routing=Routing(**rt),
        vlan_plan=tuple(plan),
        college_prefix_length=top["college_prefix_length"],
    )


def _label(data: Any, key: str, fallback: str) -> str:
    """An object's name for messages: its name key if it is usable text, else a position."""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value.strip() else fallback


def _read_device(r: schema.Reader, data: Any, site: str, index: int, line: int | None) -> Device:
    obj = f"device {_label(data, 'name', f'#{index + 1} of {site}')}"
    d = r.read(data, obj, schema.DEVICE, (site, f"devices[{index + 1}]"), line)
    here = data.line if isinstance(data, schema.Node) else line
    raw_itfs = data.get("interfaces") if isinstance(data, dict) else None
    at = data.lines.get("interfaces", here) if isinstance(data, schema.Node) else here
    itfs = []
    for i, itf in enumerate(r.items(raw_itfs, obj, "interfaces", at)):
        io = f"{obj} interface {_label(itf, 'name', f'#{i + 1}')}"
        where = (obj, f"interfaces[{i + 1}]")
        itfs.append(Interface(**r.read(itf, io, schema.INTERFACE, where, at)))
    d["interfaces"] = tuple(itfs)
    return Device(**d)


def _read_site(r: schema.Reader, data: schema.Node, stem: str) -> Site:
    kind = data.get("kind", "college")
    shape = schema.DATACENTRE if kind == "datacentre" else schema.COLLEGE
    slug = _label(data, "slug", stem)
    obj = f"{'datacentre' if kind == 'datacentre' else 'college'} {slug}"
    s = r.read(data, obj, shape, (obj, "file"), 1)
    if s["slug"] is not None and s["slug"] != stem:
        r.problem(
            obj,
            "slug",
            f"is {s['slug']!r} but the file is {stem}.yml: a site's file is sites/<slug>.yml",
            data.lines.get("slug"),
        )
    circuit = None
    if s["circuit"] is not None:
        c = r.read(
            s["circuit"],
            f"{obj} circuit",
            schema.CIRCUIT,
            (obj, "circuit"),
            data.lines.get("circuit"),
        )
        circuit = Circuit(**c)
    prefixes: dict[str, Any] = {}
    at = data.lines.get("prefixes")
    raw = r.mapping(s["prefixes"], obj, "prefixes", at)
    for role, p in raw.items():
        if not isinstance(role, str):
            r.problem(obj, f"prefixes.{role}", "a VLAN role is text", raw.lines.get(role, at))
            continue
        value = r.value(p, schema.prefix, obj, f"prefixes.{role}", raw.lines.get(role, at))
        if value is not None:
            prefixes[role] = value
    devices = r.items(s["devices"], obj, "devices", data.lines.get("devices"))
    common: dict[str, Any] = dict(
        slug=s["slug"],
        name=s["name"],
        commune=s["commune"],
        asn=s["asn"],
        circuit=circuit,
        container=s["container"],
        prefixes=prefixes,
        devices=tuple(
            _read_device(
                r, d, obj, i, d.line if isinstance(d, schema.Node) else data.lines.get("devices")
            )
            for i, d in enumerate(devices)
        ),
    )
    if kind == "datacentre":
        return Datacentre(**common)
    return College(
        uai=s["uai"], pupils=s["pupils"], rooms=s["rooms"], directory=s["directory"],
        room_images=s["room_images"], **common,
    )  # fmt: skip


def site_files(root: Path) -> tuple[list[Path], list[Problem]]:
    """The site files under root/sites, and a Problem for anything there that is not one."""
    folder = root / "sites"
    if not folder.is_dir():
        return [], []
    paths, problems = [], []
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue  # editors' swap and backup files
        if p.suffix == ".yml" and p.is_file():
            paths.append(p)
        else:
            problems.append(
                Problem(
                    "site file",
                    "name",
                    "not read: a site is a file named sites/<slug>.yml",
                    file=_display(p),
                )
            )
    return paths, problems


def load(root: Path) -> Departement:
    """Read a file-based source of truth against the schema; every bad key is reported at once.

    This checks the files' shape and types; the model's rules (preau.sot.validate) come after.
    """
    dep_file = root / "departement.yml"
    if not dep_file.is_file():
        raise ValidationFailed(
            [
                Problem(
                    "departement",
                    "file",
                    "is missing: a preau inventory folder holds departement.yml and sites/",
                    file=_display(dep_file),
                )
            ]
        )
    problems: list[Problem] = []
    display = _display(dep_file)
    data, bad = schema.load_yaml(dep_file, "departement", display)
    problems += bad
    fields: dict[str, Any] = {}
    if data is not None:
        r = schema.Reader(display)
        fields = read_departement(r, data)
        problems += r.problems
    paths, bad = site_files(root)
    problems += bad
    sites: list[Site] = []
    for path in paths:
        display = _display(path)
        data, bad = schema.load_yaml(path, "site file", display)
        problems += bad
        if data is None:
            continue
        r = schema.Reader(display, site=path.stem)
        site = _read_site(r, data, path.stem)
        problems += r.problems
        sites.append(site)
    if problems:
        raise ValidationFailed(problems)
    dcs = [s for s in sites if isinstance(s, Datacentre)]
    if len(dcs) > 1:
        raise ValidationFailed(
            [
                Problem(
                    f"datacentre {d.slug}",
                    "kind",
                    "only one data centre is supported",
                    d.slug,
                    _display(root / "sites" / f"{d.slug}.yml"),
                )
                for d in dcs
            ]
        )
    colleges = tuple(sorted((s for s in sites if isinstance(s, College)), key=lambda c: c.slug))
    return Departement(**fields, datacentre=dcs[0] if dcs else None, colleges=colleges)


def locate(problem: Problem, root: Path) -> Problem:
    """A model rule's problem with the file that holds its object."""
    if problem.file:
        return problem
    path = root / "sites" / f"{problem.site}.yml" if problem.site else root / "departement.yml"
    return replace(problem, file=_display(path))


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
        if site.directory != "standalone":
            d["directory"] = site.directory  # the default is left out: files stay as they were
        if site.room_images:
            d["room_images"] = dict(site.room_images)
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
