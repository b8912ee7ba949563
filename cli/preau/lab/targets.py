"""The twin's hosts as targets for the engines: an Ansible inventory and a pyinfra inventory.

Both reach the containers through podman itself, not SSH:

- Ansible: `ansible_connection: containers.podman.podman` (the collection ships in the PyPI
  `ansible` bundle), `ansible_host` the container name.
- pyinfra 3: its built-in `@podman` connector (`pyinfra.connectors.docker.PodmanConnector`,
  `podman exec` / `podman cp` on a running container, left running afterwards). Hosts are named
  `@podman/<container>`.

Both run `podman`, which must see the repo's containers.conf: run them with `engine_env()`
(CONTAINERS_CONF set), as the Makefile and `preau.lab.podman` do.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from preau import inventory
from preau.errors import ServiceError
from preau.lab import podman
from preau.lab.topology import CORE_NAME, LabHost, LabPlan, interface_map
from preau.model import Departement

ANSIBLE_CONNECTION = "containers.podman.podman"

# Ten years: never refresh the lists on a lab host (see ansible_inventory).
LAB_APT_CACHE_VALID_TIME = 10 * 365 * 24 * 3600


def engine_env() -> dict[str, str]:
    """The environment Ansible and pyinfra need to drive lab containers (CONTAINERS_CONF)."""
    return podman.env()


def _lab_vars(host: LabHost) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ansible_connection": ANSIBLE_CONNECTION,
        "ansible_host": host.container,
        "ansible_python_interpreter": "/usr/bin/python3",
        "preau_lab": True,
        "preau_lab_container": host.container,
        "preau_lab_interfaces": [
            {"name": n.ifname, "address": str(n.address) if n.address else None} for n in host.nics
        ],
    }
    if host.device is not None:
        out["preau_lab_interface_map"] = interface_map(host.device)
    return out


def _core_vars(dep: Departement, host: LabHost) -> dict[str, Any]:
    return {
        "preau_role": "core",
        "preau_core_asn": dep.routing.core_asn,
        "preau_core_name": dep.routing.core_name,
        "preau_core_routes": [
            {"destination": r.destination, "via": str(r.via)} for r in host.routes
        ],
    }


def ansible_inventory(
    dep: Departement, plan: LabPlan, ssh_key: str | None = None
) -> dict[str, Any]:
    """The model's inventory (`preau inventory`) cut down to the lab hosts, reached via podman.

    Same groups and variables as production, so playbooks run unchanged against the twin;
    the core (not in the model) is added in group `core`; every lab host is in group `lab`.
    A site's `preau_printers` keeps the printers the twin runs (a CUPS queue is made by asking
    its printer). With `ssh_key` (a public key), group `lab` gets it as the operators' key
    (`common_ssh_authorized_keys`), which production takes from the département's operators.
    """
    full = inventory.build(dep)["all"]
    names = {h.name: h for h in plan.hosts}
    children: dict[str, Any] = {}
    for gname, group in full["children"].items():
        kept: dict[str, Any] = {}
        if "hosts" in group:
            hosts = {
                n: {**hv, **_lab_vars(names[n])} if hv else {}
                for n, hv in group["hosts"].items()
                if n in names
            }
            if not hosts:
                continue
            kept["hosts"] = hosts
        if "vars" in group:
            kept["vars"] = _lab_group_vars(group["vars"], names)
        if "children" in group:
            kept["children"] = {
                c: {} for c in group["children"] if _has_lab_hosts(full["children"][c], names)
            }
            if not kept["children"]:
                continue
        children[gname] = kept
    core = names[CORE_NAME]
    children["core"] = {"hosts": {core.name: {**_core_vars(dep, core), **_lab_vars(core)}}}
    # Lab hosts have no route to a Debian mirror: the packages the roles need are in their
    # images, whose package lists are as old as the image, so installing must not refresh them.
    lab_vars: dict[str, object] = {
        f"{role}_apt_cache_valid_time": LAB_APT_CACHE_VALID_TIME
        for role in (
            "common",
            "file_server",
            "app_server",
            "ent_portal",
            "node_exporter",
            "monitoring",
        )
    }
    if ssh_key:
        lab_vars["common_ssh_authorized_keys"] = [
            {"user": "root", "key": ssh_key, "state": "present"}
        ]
    children["lab"] = {"hosts": {n: {} for n in names}, "vars": lab_vars}
    return {"all": {"vars": full["vars"], "children": children}}


def _lab_group_vars(gvars: dict[str, Any], names: dict[str, LabHost]) -> dict[str, Any]:
    if "preau_printers" not in gvars:
        return gvars
    return {**gvars, "preau_printers": [p for p in gvars["preau_printers"] if p["name"] in names]}


def operator_key(home: Path) -> str:
    """The twin's throw-away operator key pair under `home` (made on first use): the public key.

    Never a production key: it lets `roles/common` keep root's SSH login by key in lab hosts.
    """
    private = home / "lab" / "ssh" / "id_ed25519"
    if not private.exists():
        private.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        made = subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "preau-lab", "-f", str(private)],
            capture_output=True,
            text=True,
            check=False,
        )
        if made.returncode != 0:
            raise ServiceError(f"ssh-keygen could not make the lab key {private}: {made.stderr}")
    return private.with_suffix(".pub").read_text().strip()


def _has_lab_hosts(group: dict[str, Any], names: dict[str, LabHost]) -> bool:
    return any(n in names for n in group.get("hosts", {}))


def pyinfra_inventory(
    plan: LabPlan, roles: list[str] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """pyinfra hosts for the lab: `[("@podman/<container>", data), ...]`, optionally by role.

    Pass it to `pyinfra.api.Inventory((hosts, {}))`, or write it into an inventory.py. The data
    carries the device name, role, site and the model's interfaces for deploys to read.
    """
    out = []
    for host in plan.hosts:
        if roles and host.role not in roles:
            continue
        data: dict[str, Any] = {
            "preau_name": host.name,
            "preau_role": host.role,
            "preau_site": host.site,
            "preau_lab_interfaces": [
                {"name": n.ifname, "address": str(n.address) if n.address else None}
                for n in host.nics
            ],
        }
        if host.device is not None:
            data["preau_lab_interface_map"] = interface_map(host.device)
        out.append((f"@podman/{host.container}", data))
    return out
