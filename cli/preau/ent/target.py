"""Which ENT stack `preau ent` drives: an explicit runtime address, or a lab stack.

The lab stacks are roles/ent_portal's molecule scenarios: `default` (containers preau-ent-*,
the capacity tests' stack) and `ha` (preau-entha-*: every part in a pair). Their first load
balancer exposes the runtime API on its lab address, port 9999; in a pair, so does the other,
and `preau ent` drives both (preau.ent.balancers). Elsewhere --runtime names them, comma-separated.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from preau.ent.balancers import Balancers
from preau.ent.haproxy import Runtime
from preau.ent.hosts import Hosts, PodmanHosts, SshHosts
from preau.ent.parts import shared_address
from preau.errors import BadInput

LAB_LB = "preau-ent-lb1"
# lab stack -> prefix of its containers
LAB_STACKS = {"default": "preau-ent-", "ha": "preau-entha-"}
RUNTIME_PORT = 9999


@dataclass
class Target:
    runtime: Balancers
    hosts: Hosts
    lb_addr: str  # where pupils connect: a pair's shared address, else its one load balancer
    lab: bool


def lab_address(container: str = LAB_LB) -> str | None:
    """The first address of a running lab container, or None."""
    proc = subprocess.run(
        ["podman", "inspect", container], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        return None
    item = json.loads(proc.stdout)[0]
    if not item.get("State", {}).get("Running"):
        return None
    for net in (item.get("NetworkSettings", {}).get("Networks") or {}).values():
        if net.get("IPAddress"):
            return str(net["IPAddress"])
    return None


def resolve(runtime: str | None, hosts: str = "auto", stack: str = "default") -> Target:
    if hosts not in ("auto", "lab", "ssh"):
        raise BadInput(f"--hosts {hosts}: use auto, lab or ssh")
    if stack not in LAB_STACKS:
        raise BadInput(f"--stack {stack}: use {' or '.join(LAB_STACKS)}")
    prefix = LAB_STACKS[stack]
    if runtime:
        each = [Runtime(part.strip()) for part in runtime.split(",") if part.strip()]
        if not each:
            raise BadInput(f"--runtime {runtime!r}: name at least one HAProxy runtime API")
        first = each[0].target
        lb = first[0] if isinstance(first, tuple) else "127.0.0.1"
        if hosts == "lab":
            return Target(Balancers(each), PodmanHosts.discover(prefix), lb, True)
        return Target(Balancers(each), SshHosts(), lb, False)
    if hosts == "ssh":
        raise BadInput("--hosts ssh needs --runtime (the HAProxy runtime API address)")
    addr = lab_address(f"{prefix}lb1")
    if addr is None:
        raise BadInput(
            f"no --runtime given and no lab ENT stack running (container {prefix}lb1): "
            "start it with `preau ent lab up`, or pass --runtime tcp:HOST:PORT"
        )
    runtimes = [Runtime(f"tcp:{addr}:{RUNTIME_PORT}")]
    # the pair's other load balancers, lb2 ... as long as they run
    while other := lab_address(f"{prefix}lb{len(runtimes) + 1}"):
        runtimes.append(Runtime(f"tcp:{other}:{RUNTIME_PORT}"))
    found = PodmanHosts.discover(prefix)
    # a pair is reached where pupils reach it, on its shared address, not on one member's own
    balancers = [str(rt.target[0]) for rt in runtimes if isinstance(rt.target, tuple)]
    portal = (shared_address(found, balancers) if len(balancers) > 1 else None) or addr
    return Target(Balancers(runtimes), found, portal, True)


def secret(name: str) -> str:
    """A lab secret made by the molecule scenario (PREAU_ENT_SECRETS or ~/.cache/preau/ent)."""
    import os

    root = Path(os.environ.get("PREAU_ENT_SECRETS") or Path.home() / ".cache/preau/ent")
    path = root / name
    try:
        return path.read_text().split()[0]
    except (OSError, IndexError):
        raise BadInput(f"{path}: no lab secret {name!r} (run `preau ent lab up` first)") from None
