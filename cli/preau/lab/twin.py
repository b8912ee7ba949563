"""Make the machine match a `LabPlan`: containers, the lab switch namespace, veths, addresses.

`up` converges (a second run repairs whatever a failed one left: a missing or stopped container,
a lost bridge or veth, a wrong address), `down` removes every lab object (found by the
`preau.lab=1` label and the switch namespace name, never by guesswork), `status` reads what runs.

The baseline each host gets is deliberately small, so the traffic proof works before the network
layer configures anything: addresses on the model's interfaces, a default route to the VLAN
gateway on hosts, `ip_forward` and static routes on routers (site routers: default via the core;
the core: each site's container via its uplink). The network layer then replaces the routers'
configuration with the rendered one (FRR, nftables, dnsmasq, tc).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preau.errors import ServiceError
from preau.lab import images as lab_images
from preau.lab import podman
from preau.lab.topology import (
    CORE_NAME,
    EGRESS_CORE_IF,
    EGRESS_HOST_ADDRESS,
    EGRESS_HOST_IF,
    EGRESS_LINK,
    EGRESS_NFT_TABLE,
    LABEL,
    LABEL_COLLEGE,
    LABEL_DEVICE,
    LABEL_IMAGE,
    LABEL_ROLE,
    LABEL_SITE,
    LABEL_SPEC,
    LabHost,
    LabPlan,
    Wire,
    container_name,
    instance,
    label_value,
    prefix,
    switch_netns,
)
from preau.netbox_local.paths import state_root

Say = Callable[[str], None]
# podman and systemd calls are I/O bound; 4 at once keeps a 2-core CI machine responsive.
WORKERS = 4
BOOT_TIMEOUT = 90.0


def _quiet(_msg: str) -> None:
    return None


def _ip(*args: str, netns: str | None = None, pid: int | None = None, check: bool = True) -> str:
    """Run `ip` in the switch namespace (netns) or in a container's network namespace (pid)."""
    cmd = ["ip"]
    if netns is not None:
        cmd += ["-n", netns]
    if pid is not None:
        cmd = ["nsenter", f"--net=/proc/{pid}/ns/net", *cmd]
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise ServiceError(f"{' '.join(cmd[-2:] + list(args))}: {proc.stderr.strip()}")
    return proc.stdout


def _ip_batch(lines: Iterable[str], pid: int, what: str) -> None:
    batch = "\n".join(lines) + "\n"
    proc = subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", "ip", "-batch", "-"],
        input=batch,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ServiceError(
            f"lab host {what}: configuring its network failed: {proc.stderr.strip()}"
        )


def _sysctl(pid: int, key: str, value: str) -> None:
    # /proc/sys/net is per network namespace: write the container's from the host
    subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", "sysctl", "-qw", f"{key}={value}"],
        check=True,
        capture_output=True,
    )


def _links(netns: str | None = None, pid: int | None = None) -> dict[str, dict[str, Any]]:
    raw = _ip("-j", "link", "show", netns=netns, pid=pid)
    return {link["ifname"]: link for link in json.loads(raw or "[]")}


# The lab is one per machine (fixed container and namespace names): one up/down at a time.
LOCK_DIR = Path("/run/lock")
LOCK_TIMEOUT = 900.0


@contextlib.contextmanager
def _exclusive(say: Say) -> Iterator[None]:
    """Hold the machine-wide lab lock; wait (saying so) while another up/down runs."""
    lock = LOCK_DIR / f"{prefix().rstrip('-')}.lock"
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ServiceError(
                        f"another `preau lab up/down` has held {lock} for {LOCK_TIMEOUT:.0f} s"
                    ) from None
                if not told:
                    say("waiting for another preau lab up/down to finish")
                    told = True
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def require_root() -> None:
    if os.geteuid() != 0:
        raise ServiceError("the lab wires network namespaces: run `preau lab` as root")


# --- podman objects -----------------------------------------------------------------------


@dataclass
class Running:
    """A lab container as podman reports it."""

    name: str
    state: str
    labels: dict[str, str]
    pid: int = 0
    image: str = ""


GHOST = "ghost"  # podman says running, its process is gone


def lab_containers() -> dict[str, Running]:
    """Every container of this lab (label preau.lab=1, or =<instance>), by container name."""
    selector = f"label={LABEL}={label_value()}"
    out = podman.run("ps", "-a", "--filter", selector, "--format", "json").stdout
    found = {}
    for row in json.loads(out or "[]"):
        name = row["Names"][0]
        pid = int(row.get("Pid") or 0)
        state = row.get("State", "")
        if state == "running" and pid and not Path(f"/proc/{pid}/ns/net").exists():
            # Podman keeps no daemon: when a session is killed with its conmon and its
            # containers, its database still says "running" with the dead pid. Such a ghost
            # is stale and is recreated (nsenter on its pid would fail).
            state = GHOST
        found[name] = Running(
            name=name,
            state=state,
            labels=row.get("Labels") or {},
            pid=pid,
            image=row.get("Image", ""),
        )
    return found


def _pids(names: list[str]) -> dict[str, int]:
    if not names:
        return {}
    out = podman.run("inspect", "--format", "{{.Name}} {{.State.Pid}}", *names).stdout
    pids = {}
    for line in out.splitlines():
        name, pid = line.split()
        pids[name] = int(pid)
    return pids


def _run_container(host: LabHost, image_ref: str) -> None:
    args = [
        "run",
        "--detach",
        "--name",
        host.container,
        "--hostname",
        host.name,
        # the twin wires every interface itself (see topology.py): no podman network
        "--network",
        "none",
        "--systemd",
        "always",
        "--label",
        f"{LABEL}={label_value()}",
        "--label",
        f"{LABEL_SITE}={host.site}",
        "--label",
        f"{LABEL_DEVICE}={host.name}",
        "--label",
        f"{LABEL_ROLE}={host.role}",
        "--label",
        f"{LABEL_IMAGE}={image_ref}",
        "--label",
        f"{LABEL_SPEC}={host.spec_hash()}",
    ]
    if host.college:
        args += ["--label", f"{LABEL_COLLEGE}={host.college}"]
    # routers: FRR, nftables and tc manage their own interfaces; servers: their nftables firewall
    args += [arg for cap in host.caps for arg in ("--cap-add", cap)]
    args += [arg for limit in host.ulimits for arg in ("--ulimit", limit)]
    podman.run(*args, image_ref, "/sbin/init")


# --- up -----------------------------------------------------------------------------------


@dataclass
class UpReport:
    """What `up` did, for the CLI and tests."""

    created: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    wired: list[str] = field(default_factory=list)
    configured: list[str] = field(default_factory=list)
    # hosts whose systemd finished booting with failed units (`systemctl --failed` inside)
    degraded: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.started or self.removed or self.wired or self.configured)


def image_refs(plan: LabPlan, say: Say = _quiet) -> dict[str, str]:
    """The image each role needs, built if missing (cached by recipe hash: seconds when built)."""
    wanted = sorted({h.image for h in plan.hosts})
    refs = {}
    for built in lab_images.build(lab_images.plan(wanted), say=lambda i, line: say(line)):
        refs[built.image.recipe.name] = built.image.ref
        if not built.cached:
            say(f"image {built.image.ref} built in {built.seconds:.0f} s")
    return refs


def up(
    plan: LabPlan, say: Say = _quiet, wait: bool = True, source: dict[str, Any] | None = None
) -> UpReport:
    """Converge the machine to `plan`; idempotent. `source` (how the model was read) is kept
    with the plan's options for `inventory` and `status`."""
    require_root()
    with _exclusive(say):
        report = _up(plan, say, wait)
        remember(plan, source or {})
        return report


# Every systemd (PID 1, journald, logind...) takes inotify instances from one per-user budget of
# the machine, 128 by default on Debian: about 30 systemd containers exhaust it and the next
# ones hang in "initializing" ("Failed to create inotify object: Too many open files").
INOTIFY_INSTANCES = 1024
_INOTIFY = Path("/proc/sys/fs/inotify/max_user_instances")


def _raise_inotify_limit(say: Say) -> None:
    try:
        current = int(_INOTIFY.read_text())
    except (OSError, ValueError):
        return
    if current < INOTIFY_INSTANCES:
        say(f"raising fs.inotify.max_user_instances {current} -> {INOTIFY_INSTANCES}")
        try:
            _INOTIFY.write_text(f"{INOTIFY_INSTANCES}\n")
        except OSError as exc:
            raise ServiceError(
                f"fs.inotify.max_user_instances is {current}: lab hosts would hang at boot; "
                f"set it to {INOTIFY_INSTANCES} (sysctl -w) ({exc})"
            ) from exc


def _up(plan: LabPlan, say: Say, wait: bool) -> UpReport:
    _raise_inotify_limit(say)
    start = time.monotonic()
    report = UpReport()
    refs = image_refs(plan, say)
    wanted = {h.container: h for h in plan.hosts}
    present = lab_containers()

    # Containers that are not in the plan, or were created from another image or spec, go.
    stale = [
        c.name
        for c in present.values()
        if c.name not in wanted
        or c.state == GHOST
        or c.labels.get(LABEL_IMAGE) != refs[wanted[c.name].image]
        or c.labels.get(LABEL_SPEC) != wanted[c.name].spec_hash()
    ]
    if stale:
        say(f"removing {len(stale)} stale container(s)")
        _remove(stale, ghosts=[n for n in stale if present[n].state == GHOST])
        report.removed += stale
        for name in stale:
            present.pop(name)

    to_create = [h for h in plan.hosts if h.container not in present]
    to_start = [c.name for c in present.values() if c.state != "running"]
    if to_start:
        say(f"starting {len(to_start)} stopped container(s)")
        podman.run("start", *to_start)
        report.started += to_start
    if to_create:
        say(f"creating {len(to_create)} container(s)")
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(lambda h: _run_container(h, refs[h.image]), to_create))
        report.created += [h.container for h in to_create]

    _ensure_switch(plan, report, say)
    pids = _pids([h.container for h in plan.hosts])
    _ensure_wires(plan, pids, report, say)
    if plan.egress:
        _ensure_egress(plan, pids[container_name(CORE_NAME)], report)
    elif _remove_egress():
        report.removed.append("egress")
    for host in plan.hosts:
        if _configure(host, pids[host.container]):
            report.configured.append(host.name)
    if wait:
        say("waiting for systemd in every host")
        states = wait_booted([h.container for h in plan.hosts])
        report.degraded = sorted(n for n, state in states.items() if state != "running")
    report.seconds = time.monotonic() - start
    return report


def _ensure_switch(plan: LabPlan, report: UpReport, say: Say) -> None:
    """The switch namespace and one bridge per VLAN; bridges no longer planned are deleted."""
    existing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    if switch_netns() not in {line.split()[0] for line in existing.splitlines() if line.strip()}:
        say(f"creating the lab switch namespace {switch_netns()}")
        subprocess.run(["ip", "netns", "add", switch_netns()], check=True, capture_output=True)
        report.wired.append(switch_netns())
    links = _links(netns=switch_netns())
    wanted = {b.name for b in plan.bridges}
    for name in links:
        if name.startswith("plb") and name not in wanted:
            _ip("link", "del", name, netns=switch_netns())
    switch = switch_netns()
    for bridge in plan.bridges:
        if bridge.name not in links:
            _ip("link", "add", bridge.name, "type", "bridge", "stp_state", "0", netns=switch)
            report.wired.append(bridge.name)
        _ip("link", "set", bridge.name, "up", netns=switch)


def _ensure_wires(plan: LabPlan, pids: dict[str, int], report: UpReport, say: Say) -> None:
    """Create every veth whose container end is missing (new or restarted container)."""
    links = {h.container: _links(pid=pids[h.container]) for h in plan.hosts}
    switch = _links(netns=switch_netns())
    by_name = {h.name: h for h in plan.hosts}
    for wire in plan.wires:
        host = by_name[wire.host]
        pid = pids[host.container]
        nic = host.nic(wire.ifname)
        if wire.bridge is not None:
            assert wire.port is not None
            if wire.ifname in links[host.container] and wire.port in switch:
                if switch[wire.port].get("master") == wire.bridge:
                    continue
                # the bridge was recreated: its old ports survive unattached
                _ip("link", "set", wire.port, "master", wire.bridge, "up", netns=switch_netns())
                report.wired.append(f"{wire.host}:{wire.ifname}")
                continue
            if wire.port in switch:
                _ip("link", "del", wire.port, netns=switch_netns())
            if wire.ifname in links[host.container]:
                _ip("link", "del", wire.ifname, pid=pid)
            peer = ["peer", "name", wire.ifname, "netns", str(pid)]
            if nic is not None and nic.mac:
                peer += ["address", nic.mac]
            _ip("link", "add", wire.port, "type", "veth", *peer, netns=switch_netns())
            _ip("link", "set", wire.port, "master", wire.bridge, "up", netns=switch_netns())
        elif not _wire_p2p(wire, by_name, pids, links):
            continue
        report.wired.append(f"{wire.host}:{wire.ifname}")
    if report.wired:
        say(f"wired {len(report.wired)} link(s)")


def _wire_p2p(
    wire: Wire,
    by_name: dict[str, LabHost],
    pids: dict[str, int],
    links: dict[str, dict[str, dict[str, Any]]],
) -> bool:
    """Create a container-to-container veth unless both ends exist; True if it did."""
    assert wire.peer_host is not None and wire.peer_ifname is not None
    a, b = by_name[wire.host], by_name[wire.peer_host]
    a_has = wire.ifname in links[a.container]
    b_has = wire.peer_ifname in links[b.container]
    if a_has and b_has:
        return False
    # A lone end is the half of a pair whose other container was recreated: start afresh.
    if a_has:
        _ip("link", "del", wire.ifname, pid=pids[a.container])
    if b_has:
        _ip("link", "del", wire.peer_ifname, pid=pids[b.container])
    _ip(
        "link",
        "add",
        wire.ifname,
        "type",
        "veth",
        "peer",
        "name",
        wire.peer_ifname,
        "netns",
        str(pids[b.container]),
        pid=pids[a.container],
    )
    links[a.container][wire.ifname] = {}
    links[b.container][wire.peer_ifname] = {}
    return True


def _ensure_egress(plan: LabPlan, core_pid: int, report: UpReport) -> None:
    """The machine's end of the way out: a veth to the core, routes back, masquerade."""
    core_links = _links(pid=core_pid)
    host_links = _links()
    if EGRESS_CORE_IF not in core_links or EGRESS_HOST_IF not in host_links:
        if EGRESS_HOST_IF in host_links:
            _ip("link", "del", EGRESS_HOST_IF)
        if EGRESS_CORE_IF in core_links:
            _ip("link", "del", EGRESS_CORE_IF, pid=core_pid)
        _ip("link", "add", EGRESS_HOST_IF, "type", "veth", "peer", "name", EGRESS_CORE_IF,
            "netns", str(core_pid))  # fmt: skip
        report.wired.append(f"{CORE_NAME}:{EGRESS_CORE_IF}")
    _ip("addr", "replace", f"{EGRESS_HOST_ADDRESS}/{EGRESS_LINK.prefixlen}", "dev", EGRESS_HOST_IF)
    _ip("link", "set", EGRESS_HOST_IF, "up")
    core = str(EGRESS_LINK.ip)
    routes = json.loads(_ip("-j", "-4", "route", "show", "dev", EGRESS_HOST_IF) or "[]")
    for route in routes:
        if route.get("gateway") and route["dst"] not in plan.routed:
            _ip("route", "del", route["dst"], "dev", EGRESS_HOST_IF)
    for routed in plan.routed:
        _ip("route", "replace", routed, "via", core, "dev", EGRESS_HOST_IF)
    # the machine forwards for podman already; say so explicitly for the lab's traffic
    subprocess.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True, capture_output=True)
    # the core's own traffic leaves from its end of the egress link
    sources = ", ".join([*plan.routed, str(EGRESS_LINK.cidr)])
    ruleset = (
        f"table ip {EGRESS_NFT_TABLE} {{}}\n"
        f"delete table ip {EGRESS_NFT_TABLE}\n"
        f"table ip {EGRESS_NFT_TABLE} {{\n"
        "  chain postrouting {\n"
        "    type nat hook postrouting priority srcnat; policy accept;\n"
        f'    ip saddr {{ {sources} }} oifname != "{EGRESS_HOST_IF}" masquerade\n'
        "  }\n"
        "}\n"
    )
    proc = subprocess.run(["nft", "-f", "-"], input=ruleset, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ServiceError(f"lab egress: nft refused the masquerade rule: {proc.stderr.strip()}")


def _remove_egress() -> bool:
    """Remove the way out if present (its routes go with the veth); True if anything was."""
    removed = False
    if EGRESS_HOST_IF in _links():
        _ip("link", "del", EGRESS_HOST_IF)
        removed = True
    if _nft_table_exists():
        subprocess.run(["nft", "delete", "table", "ip", EGRESS_NFT_TABLE], check=True)
        removed = True
    return removed


def _nft_table_exists() -> bool:
    proc = subprocess.run(
        ["nft", "list", "table", "ip", EGRESS_NFT_TABLE], capture_output=True, check=False
    )
    return proc.returncode == 0


def _configure(host: LabHost, pid: int) -> bool:
    """Addresses exactly as the model says; baseline routes only where none exists; forwarding.

    A route already present is left alone: once the network layer has configured a router
    (FRR learning the default route, say), a later `up` must not override it. Returns True if
    anything was changed.
    """
    current = json.loads(_ip("-j", "-4", "addr", "show", pid=pid) or "[]")
    have = {
        (link["ifname"], f"{a['local']}/{a['prefixlen']}")
        for link in current
        for a in link.get("addr_info", [])
        if a.get("scope") == "global"
    }
    up = {link["ifname"] for link in current if "UP" in link.get("flags", [])}
    lines = [] if "lo" in up else ["link set lo up"]
    wanted = {(n.ifname, str(n.address)) for n in host.nics if n.address is not None}
    for nic in host.nics:
        if nic.ifname not in up:
            lines.append(f"link set {nic.ifname} up")
    planned = {n.ifname for n in host.nics}
    # deletions first: removing a primary address also removes the secondaries added after it
    for ifname, address in sorted(have - wanted):
        if ifname in planned:  # an address the model no longer gives this interface
            lines.append(f"addr del {address} dev {ifname}")
    for ifname, address in sorted(wanted - have):
        lines.append(f"addr add {address} dev {ifname}")
    for route in host.routes:
        if not json.loads(_ip("-j", "-4", "route", "show", route.destination, pid=pid) or "[]"):
            lines.append(f"route add {route.destination} via {route.via}")
    if host.is_router:
        _sysctl(pid, "net.ipv4.ip_forward", "1")
    if lines:
        _ip_batch(lines, pid, host.name)
    return bool(lines)


def system_state(container: str) -> str:
    """`systemctl is-system-running` inside the container: running, degraded, starting..."""
    proc = podman.run("exec", container, "systemctl", "is-system-running", check=False)
    return proc.stdout.strip() or "unknown"


def wait_booted(containers: list[str], timeout: float = BOOT_TIMEOUT) -> dict[str, str]:
    """Wait until systemd in each container has finished booting; raise on timeout."""
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    pending = list(containers)
    while pending:
        with ThreadPoolExecutor(WORKERS) as pool:
            for name, state in zip(pending, pool.map(system_state, pending), strict=True):
                states[name] = state
        pending = [n for n in pending if states[n] in ("initializing", "starting", "unknown")]
        if not pending:
            break
        if time.monotonic() > deadline:
            raise ServiceError(
                "lab hosts still booting after "
                f"{timeout:.0f} s: {', '.join(f'{n} ({states[n]})' for n in pending)}; "
                "see `podman exec <host> journalctl -b` (too many systemd containers on the "
                "machine exhaust fs.inotify.max_user_instances)"
            )
        time.sleep(0.5)
    return states


# --- what the last `up` was asked for -----------------------------------------------------


def choice_file() -> Path:
    """`$PREAU_HOME/lab/choice.json`: the options of the last successful `up` and its hosts."""
    inst = instance()
    return state_root() / "lab" / (f"choice-{inst}.json" if inst else "choice.json")


def remember(plan: LabPlan, source: dict[str, Any]) -> None:
    """Record what the lab was brought up with, so `inventory` and `status` describe the same."""
    path = choice_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    choice = {
        "colleges": list(plan.colleges),
        **dict(plan.options),
        "egress": plan.egress,
        **source,
        "hosts": plan.names,
    }
    path.write_text(json.dumps(choice, indent=2) + "\n")


def remembered() -> dict[str, Any] | None:
    """The options of the last `up`, or None if no lab was brought up since the last `down`."""
    try:
        data = json.loads(choice_file().read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# --- down ---------------------------------------------------------------------------------


@dataclass
class DownReport:
    removed: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    namespace: bool = False
    egress: bool = False
    seconds: float = 0.0


def down(say: Say = _quiet) -> DownReport:
    """Remove every lab container, podman network and the switch namespace (its bridges, veths)."""
    require_root()
    with _exclusive(say):
        return _down(say)


def _remove(names: list[str], ghosts: list[str]) -> None:
    """Remove containers. A ghost's first `rm` only teaches podman that it stopped (podman finds
    no exit file and errors out); the second removes it."""
    for name in ghosts:
        podman.run("rm", "--force", "--time", "0", name, check=False)
    # systemd stops on SIGRTMIN+3 in about a second; no need to wait podman's default 10 s
    podman.run("rm", "--force", "--time", "2", *names)


def _down(say: Say) -> DownReport:
    start = time.monotonic()
    report = DownReport()
    present = lab_containers()
    names = list(present)
    if names:
        say(f"removing {len(names)} container(s)")
        _remove(names, ghosts=[n for n, c in present.items() if c.state == GHOST])
        report.removed = names
    nets = podman.run(
        "network", "ls", "--filter", f"label={LABEL}={label_value()}", "--format", "{{.Name}}"
    ).stdout.split()
    if nets:
        podman.run("network", "rm", "--force", *nets)
        report.networks = nets
    if _switch_exists():
        say(f"deleting the lab switch namespace {switch_netns()}")
        subprocess.run(["ip", "netns", "del", switch_netns()], check=True, capture_output=True)
        report.namespace = True
    report.egress = _remove_egress()
    choice_file().unlink(missing_ok=True)
    report.seconds = time.monotonic() - start
    return report


def _switch_exists() -> bool:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return switch_netns() in {line.split()[0] for line in out.splitlines() if line.strip()}


def leftovers() -> list[str]:
    """Whatever a lab left on the machine: empty after `down` (the proof test asserts it)."""
    left = [f"container {n}" for n in lab_containers()]
    nets = podman.run(
        "network", "ls", "--filter", f"label={LABEL}={label_value()}", "--format", "{{.Name}}"
    ).stdout.split()
    left += [f"podman network {n}" for n in nets]
    if _switch_exists():
        left.append(f"namespace {switch_netns()}")
    # bridges and ports live in the switch namespace; a lab never leaves any in the machine's
    host_links = json.loads(_ip("-j", "link", "show") or "[]")
    left += [
        f"host link {x['ifname']}" for x in host_links if x["ifname"].startswith(("plb", "plp"))
    ]
    if not instance():  # the egress belongs to the default instance
        if any(x["ifname"] == EGRESS_HOST_IF for x in host_links):
            left.append(f"host link {EGRESS_HOST_IF}")
        if _nft_table_exists():
            left.append(f"nftables table ip {EGRESS_NFT_TABLE}")
    return left


# --- status -------------------------------------------------------------------------------


@dataclass
class HostStatus:
    """One row of `preau lab status`."""

    name: str
    container: str
    site: str
    role: str
    state: str
    system: str
    addresses: list[str]
    gateway: str | None
    reachable: bool | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _addresses(pid: int) -> list[str]:
    raw = json.loads(_ip("-j", "-4", "addr", "show", pid=pid) or "[]")
    return [
        f"{link['ifname']} {a['local']}/{a['prefixlen']}"
        for link in raw
        if link["ifname"] != "lo"
        for a in link.get("addr_info", [])
    ]


def _first_hops(pid: int, addresses: list[str]) -> list[str]:
    """Default gateway if any; else (the core) the far end of each /31."""
    routes = json.loads(_ip("-j", "-4", "route", "show", "default", pid=pid) or "[]")
    if routes and routes[0].get("gateway"):
        return [routes[0]["gateway"]]
    from netaddr import IPNetwork

    hops = []
    for entry in addresses:
        net = IPNetwork(entry.split()[1])
        if net.prefixlen == 31:
            hops.append(str(net.network + 1 if net.ip == net.network else net.network))
    return hops


def _ping(pid: int, target: str) -> bool:
    proc = subprocess.run(
        # the container's own ping (mount namespace too): the host may not have one
        ["nsenter", "-t", str(pid), "-m", "-n", "ping", "-c1", "-W1", "-q", target],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def _host_status(c: Running) -> HostStatus:
    base = HostStatus(
        name=c.labels.get(LABEL_DEVICE, c.name),
        container=c.name,
        site=c.labels.get(LABEL_SITE, "?"),
        role=c.labels.get(LABEL_ROLE, "?"),
        state=c.state,
        system="-",
        addresses=[],
        gateway=None,
        reachable=None,
    )
    if c.state != "running" or not c.pid:
        return base
    base.system = system_state(c.name)
    base.addresses = _addresses(c.pid)
    hops = _first_hops(c.pid, base.addresses)
    base.gateway = ", ".join(hops) or None
    base.reachable = bool(hops) and all(_ping(c.pid, h) for h in hops)
    return base


def status() -> list[HostStatus]:
    """What runs, read from podman labels and the containers' own interfaces.

    Hosts the last `up` created that have no container any more are listed as `missing`.
    """
    present = lab_containers()
    found = sorted(present.values(), key=lambda c: (c.labels.get(LABEL_SITE, ""), c.name))
    with ThreadPoolExecutor(WORKERS) as pool:
        rows = list(pool.map(_host_status, found))
    choice = remembered() or {}
    known = {r.name for r in rows}
    for name in choice.get("hosts", []):
        if name not in known:
            rows.append(
                HostStatus(name, host_container(name), "?", "?", "missing", "-", [], None, None)
            )
    return rows


def exec_in(host: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command inside a lab host (by device or container name)."""
    return podman.run("exec", host_container(host), *cmd, check=check)


def host_container(host: str) -> str:
    """The container of a lab host given by device name (or already by container name)."""
    return host if host.startswith(prefix()) else container_name(host)


def shell_argv(host: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment for an interactive shell in a lab host."""
    name = host_container(host)
    if name not in lab_containers():
        raise ServiceError(f"lab host {host}: not running (see `preau lab status`)")
    exe = subprocess.run(["which", "podman"], capture_output=True, text=True).stdout.strip()
    return [exe or "podman", "exec", "-it", name, "bash", "-l"], podman.env()


def pid_of(host: str) -> int:
    """The PID of a running lab host's init, to enter its namespaces from the host."""
    name = host_container(host)
    pid = _pids([name]).get(name, 0)
    if not pid:
        raise ServiceError(f"lab host {host}: not running (see `preau lab status`)")
    return pid


def set_sysctl(host: str, key: str, value: str) -> None:
    """Set a network sysctl of a lab host from outside: /proc/sys is read-only inside containers."""
    if not key.startswith("net."):
        raise ServiceError(f"sysctl {key}: only net.* keys are per-container")
    _sysctl(pid_of(host), key, value)
