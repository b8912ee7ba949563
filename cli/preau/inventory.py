"""The Ansible inventory, built from the model: groups per collège and per role, host vars.

Output follows the YAML inventory plugin's structure (`all: {children: ...}`), so the JSON
can be saved as `*.json` and passed to `-i`; `script_inventory` gives the `--list` format of
executable inventories (inventory/preau.sh).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from preau.model import College, Departement, Device, Site, services
from preau.model.domain import college_domain
from preau.model.facts import device_address, gateway, server_address
from preau.model.services import NODE_EXPORTER_PORT
from preau.monitoring import targets


def group_name(text: str) -> str:
    """Ansible group names must be identifiers."""
    return text.replace("-", "_").replace(".", "_")


def _site_vars(dep: Departement, site: Site) -> dict[str, Any]:
    vlans = [
        {
            "role": v.role,
            "vid": v.vid,
            "name": v.name,
            "prefix": str(v.prefix),
            "gateway": str(gateway(site, v.role)),
        }
        for v in dep.site_vlans(site)
    ]
    out: dict[str, Any] = {
        "preau_site": site.slug,
        "preau_site_name": site.name,
        "preau_site_kind": site.kind,
        "preau_vlans": vlans,
        "preau_file_server": str(server_address(site, "file-server") or ""),
        "preau_app_server": str(server_address(site, "app-server") or ""),
        "preau_printers": [
            {"name": d.name, "address": str(device_address(d)), "room": d.room or ""}
            for d in site.devices_by_role("printer")
        ],
    }
    if isinstance(site, College):
        out.update(preau_uai=site.uai, preau_pupils=site.pupils, preau_rooms=list(site.rooms))
        out["preau_boot"] = {
            "loaders": list(services.BOOT.loaders),
            "script": services.BOOT.script,
            "menu": services.BOOT.menu,
            "http_dir": services.BOOT.http_dir,
            "client_dir": services.BOOT.client_dir,
            "http_port": services.HTTP_BOOT.ports[0],
        }
        out["preau_time_clients"] = [str(p) for p in services.TIME.sources(site)]
        out["preau_account_groups"] = {
            "profiles": dict(services.PROFILE_GROUPS),
            "class_prefix": services.CLASS_GROUP_PREFIX,
            "team_prefix": services.TEAM_GROUP_PREFIX,
        }
        out["preau_directory"] = site.directory
        domain = college_domain(dep, site)
        if domain is not None:
            # the collège's AD domain's facts (its file server provisions it when the collège's
            # directory is "ad"; what the DC serves is in the file server's preau_served)
            out["preau_ad"] = domain.to_dict()
    if site.circuit:
        out["preau_circuit"] = {
            "cid": site.circuit.cid,
            "commit_rate_mbps": site.circuit.commit_rate_mbps,
            "uplink": str(site.circuit.uplink),
        }
    return out


def _served(dep: Departement, site: Site, device: Device) -> list[dict[str, Any]]:
    """What the device serves and to which networks: its own firewall opens exactly that
    (the collège's zones allowed, then the data-centre hosts allowed, e.g. the monitoring host)."""
    if not isinstance(site, College):
        return []
    return [
        {
            "name": s.name,
            "proto": s.proto,
            "ports": list(s.ports),
            "sources": [str(p) for p in [*s.sources(site), *s.remote_sources(dep)]],
        }
        for s in services.served_by(device.role, site)
    ]


def _monitoring(dep: Departement) -> dict[str, Any]:
    """What the monitoring host's Prometheus reads: its targets and the uplinks' commit rates."""
    return {
        "scrape_jobs": targets.scrape_jobs(dep),
        "uplink_rules": targets.uplink_rules(dep),
        "uplink_rules_file": targets.UPLINK_RULES_FILE,
        "http_probes": targets.http_probes(dep),
    }


def _host_vars(dep: Departement, site: Site, device: Device) -> dict[str, Any]:
    addr = device_address(device)
    out: dict[str, Any] = {
        "preau_role": device.role,
        "preau_platform": device.platform or "",
        "preau_room": device.room or "",
        "preau_interfaces": [
            {
                k: v
                for k, v in {
                    "name": i.name,
                    "vlan": i.vlan,
                    "address": str(i.address) if i.address is not None else None,
                    "mac": i.mac,
                }.items()
                if v is not None
            }
            for i in device.interfaces
        ],
    }
    served = _served(dep, site, device)
    if served:
        out["preau_served"] = served
    if device.role == services.MONITORING_ROLE:
        out["preau_monitoring"] = _monitoring(dep)
    units = services.watched_units(device.role, site) if isinstance(site, College) else []
    if units:
        out["preau_watched_units"] = units
    if addr is not None:
        out["ansible_host"] = str(addr)
    return out


def build(dep: Departement) -> dict[str, Any]:
    """The inventory in the YAML plugin's structure."""
    services = {
        "preau_departement": dep.slug,
        "preau_domain": dep.services.domain,
        "preau_ent_name": dep.services.ent_name,
        "preau_dns_servers": [str(a) for a in dep.services.dns],
        "preau_ntp_servers": [str(a) for a in dep.services.ntp],
        "preau_node_exporter_port": NODE_EXPORTER_PORT,
    }
    children: dict[str, Any] = {}
    roles: dict[str, dict[str, Any]] = {}
    kinds: dict[str, dict[str, Any]] = {"colleges": {}, "datacentre": {}}
    for site in dep.sites:
        hosts = {d.name: _host_vars(dep, site, d) for d in site.devices}
        gname = group_name(site.slug)
        children[gname] = {"hosts": hosts, "vars": _site_vars(dep, site)}
        kinds["colleges" if isinstance(site, College) else "datacentre"][gname] = {}
        for d in site.devices:
            roles.setdefault(group_name(d.role), {})[d.name] = {}
    for role, hosts in roles.items():
        children[role] = {"hosts": hosts}
    for kind, groups in kinds.items():
        children[kind] = {"children": groups}
    return {"all": {"vars": services, "children": children}}


def add_rosters(tree: dict[str, Any], rosters: Path) -> dict[str, Any]:
    """Say where the rosters are (`preau_rosters_dir`): inventory/group_vars/file_server.yml
    finds each collège's there, so they follow the files the inventory was read from."""
    tree["all"]["vars"]["preau_rosters_dir"] = str(rosters)
    return tree


def script_inventory(dep: Departement) -> dict[str, Any]:
    """The `--list` format of executable inventory scripts (hostvars under _meta)."""
    return script_format(build(dep))


def script_format(tree: dict[str, Any]) -> dict[str, Any]:
    """An inventory tree (`build`, or the twin's) in the `--list` format of executable
    inventories; a host's vars from several groups are merged."""
    top = tree["all"]
    out: dict[str, Any] = {"all": {"vars": top["vars"], "children": sorted(top["children"])}}
    hostvars: dict[str, Any] = {}
    for name, group in top["children"].items():
        entry: dict[str, Any] = {}
        if "hosts" in group:
            entry["hosts"] = sorted(group["hosts"])
            for host, hv in group["hosts"].items():
                if hv:
                    hostvars.setdefault(host, {}).update(hv)
        if "children" in group:
            entry["children"] = sorted(group["children"])
        if "vars" in group:
            entry["vars"] = group["vars"]
        out[name] = entry
    out["_meta"] = {"hostvars": hostvars}
    return out
