"""Prometheus' targets and the uplinks' commit rates, from the model: no host is hand-listed.

Prometheus reads the targets through file-based service discovery (`file_sd_configs`): JSON
lists of `{"targets": ["host:port"], "labels": {...}}`, re-read when they change, so a collège
onboarded in the source of truth is scraped at the next write and a device removed from it
disappears. Every router and server of every collège is a node_exporter target labelled by
collège (`uai`, `site`), `role`, `room` and `host` (the device name: `device` is a label
node_exporter's own metrics use). The ENT's load balancer is a target of its own job.

The uplinks' commit rates are model facts the uplink alert compares traffic with: they are
exported as one recording rule per site (`preau_uplink_commit_rate_bits`, labelled with the
site and the uplink's interface on its router), so the alert itself is one generic rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from preau.model import College, Departement, Device, Site, services
from preau.writes import write_changed

NODE_JOB = "node"
ENT_JOB = "ent-haproxy"
# file_sd files the monitoring role points Prometheus at, and the generated rule file.
NODE_FILE = "node.json"
ENT_FILE = "ent.json"
UPLINK_RULES_FILE = "uplinks.rules.yml"
COMMIT_RATE_METRIC = "preau_uplink_commit_rate_bits"


@dataclass(frozen=True, slots=True)
class Target:
    """One scraped endpoint and the labels the desk filters on."""

    job: str
    address: str
    labels: dict[str, str]

    def file_sd(self) -> dict[str, Any]:
        return {"targets": [self.address], "labels": dict(self.labels)}


def _labels(site: Site, device: Device) -> dict[str, str]:
    out = {"site": site.slug, "host": device.name, "role": device.role, "room": device.room or ""}
    if isinstance(site, College):
        out["uai"] = site.uai
    return out


def _endpoint(device: Device, port: int) -> str | None:
    addr = device.primary_address
    return None if addr is None else f"{addr.ip}:{port}"


def node_targets(dep: Departement) -> list[Target]:
    """Every router and server of every collège (SoT order), at its node_exporter."""
    out = []
    for college in dep.colleges:
        for device in college.devices:
            for service in services.NODE_EXPORTERS:
                if device.role != service.host_role:
                    continue
                address = _endpoint(device, service.ports[0])
                if address is not None:
                    out.append(Target(NODE_JOB, address, _labels(college, device)))
    return out


def ent_targets(dep: Departement) -> list[Target]:
    """The ENT's load balancers, at HAProxy's own exporter."""
    dc = dep.datacentre
    if dc is None:
        return []
    out = []
    for device in dc.devices_by_role(services.ENT_METRICS.host_role):
        address = _endpoint(device, services.ENT_METRICS.ports[0])
        if address is not None:
            out.append(Target(ENT_JOB, address, _labels(dc, device)))
    return out


def targets(dep: Departement) -> list[Target]:
    return [*node_targets(dep), *ent_targets(dep)]


def _uplink_ifname(site: Site) -> str | None:
    router = site.router
    if router is None or site.circuit is None:
        return None
    want = site.circuit.site_address
    itf = next(
        (i for i in router.interfaces if i.address is not None and i.address.ip == want), None
    )
    return None if itf is None else itf.name


def uplink_rules(dep: Departement) -> dict[str, Any]:
    """A Prometheus rule file: each collège's commit rate, as a constant series to compare with."""
    rules = []
    for college in dep.colleges:
        ifname = _uplink_ifname(college)
        if ifname is None or college.circuit is None:
            continue
        rules.append(
            {
                "record": COMMIT_RATE_METRIC,
                "expr": f"vector({college.circuit.commit_rate_mbps * 1_000_000})",
                "labels": {"site": college.slug, "uai": college.uai, "device": ifname},
            }
        )
    return {"groups": [{"name": "preau-uplinks", "rules": rules}]}


def http_probes(dep: Departement) -> list[str]:
    """URLs the blackbox exporter probes: the ENT portal, by the name the routers' DNS gives it."""
    if dep.datacentre is None or not dep.datacentre.devices_by_role("load-balancer"):
        return []
    return [f"https://{dep.services.ent_name}/"]


def scrape_jobs(dep: Departement) -> list[dict[str, Any]]:
    """Prometheus' jobs, each with its file_sd file and targets: the role names no job itself."""
    return [
        {"job": NODE_JOB, "file": NODE_FILE, "targets": [t.file_sd() for t in node_targets(dep)]},
        {"job": ENT_JOB, "file": ENT_FILE, "targets": [t.file_sd() for t in ent_targets(dep)]},
    ]


def files(dep: Departement) -> dict[str, str]:
    """The files the monitoring host reads, by name: file_sd JSON and the uplinks' rules."""
    out = {
        job["file"]: json.dumps(job["targets"], indent=2, ensure_ascii=False) + "\n"
        for job in scrape_jobs(dep)
    }
    out[UPLINK_RULES_FILE] = yaml.safe_dump(uplink_rules(dep), sort_keys=False, allow_unicode=True)
    return out


def write(dep: Departement, directory: Path) -> list[str]:
    """Write the files into directory, only those whose content changed (names written)."""
    # written then renamed (preau.writes): Prometheus never reads half a file
    return write_changed(directory, files(dep))
