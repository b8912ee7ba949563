"""Plan, apply (with commit-confirm rollback) and live bandwidth changes on a site router.

- `plan`: render the router's files, read the same files from the router, diff them.
- `apply`: push only the files that differ and reload only the units they feed; then confirm
  the router is healthy (answers ping on its uplink, routing session up and announcing the
  site) within a deadline, else put the previous files back, reload again and raise RolledBack.
- `bandwidth`: `tc class change` of the uplink class (no flow is reset) and the new commit rate
  recorded in the source of truth.

The router is reached with pyinfra: the twin's container through pyinfra's podman connector
when the twin runs it, otherwise SSH to the router's management address.
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from netaddr import IPAddress
from pyinfra.facts.server import Command

from preau.deploys import CONFIRM_TIMEOUT
from preau.deploys.net import (
    ConfigFiles,
    reload_command,
    router_config,
    shaping_rate,
    units_to_reload,
)
from preau.engines import pyinfra as engine
from preau.errors import BadInput, PreauError, ServiceError
from preau.model import Departement, Device, Site
from preau.render import Options, render_device
from preau.render.context import HTB_QUANTUM
from preau.render.device import file_mode
from preau.render.lab import render_core

Say = Callable[[str], None]


def _quiet(_msg: str) -> None:
    return None


class RolledBack(PreauError):
    """The pushed configuration failed its health check; the previous one was restored."""


# --- where the router is -----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """How to reach a router: its pyinfra host name and whether it is the twin's container."""

    site: Site
    device: Device
    host: str
    lab: bool
    core_container: str | None = None

    @property
    def hosts(self) -> list[engine.Host]:
        return [(self.host, {})]

    @property
    def env(self) -> dict[str, str]:
        if not self.lab:
            return {}
        from preau.lab import podman

        return {"CONTAINERS_CONF": podman.env()["CONTAINERS_CONF"]}

    @property
    def options(self) -> Options:
        # The twin has no 802.1Q: one veth per VLAN, same names (see preau.lab.topology).
        return Options(dot1q=not self.lab)


def router_of(dep: Departement, key: str) -> tuple[Site, Device]:
    site = dep.college(key) or dep.site(key)
    if site is None:
        raise BadInput(f"--college {key}: no collège or site with this slug or UAI")
    if site.router is None:
        raise BadInput(f"site {site.slug}: devices: no router to configure")
    return site, site.router


def _lab_running() -> dict[str, Any]:
    try:
        from preau.lab import twin

        return twin.lab_containers()
    except ServiceError:
        return {}


def target(dep: Departement, key: str, where: str = "auto") -> Target:
    """The router of collège `key`: in the twin if it runs there (or where='lab'), else SSH."""
    site, device = router_of(dep, key)
    if where not in ("auto", "lab", "ssh"):
        raise BadInput(f"--target {where}: use auto, lab or ssh")
    if where in ("auto", "lab"):
        from preau.lab.topology import CORE_NAME, container_name

        running = _lab_running()
        name = container_name(device.name)
        if name in running and running[name].state == "running":
            core = container_name(CORE_NAME)
            return Target(site, device, f"@podman/{name}", True, core if core in running else None)
        if where == "lab":
            raise BadInput(f"device {device.name}: not running in the twin (`preau lab up`)")
    mgmt = next((i for i in device.interfaces if i.vlan == "management" and i.address), None)
    if mgmt is None or mgmt.address is None:
        raise BadInput(f"device {device.name}: interfaces: no management address to SSH to")
    return Target(site, device, str(mgmt.address.ip), False)


# --- plan --------------------------------------------------------------------------------------


@dataclass
class Plan:
    target: Target
    rendered: dict[str, str]
    current: dict[str, str]
    changed: list[str] = field(default_factory=list)

    @property
    def diff(self) -> str:
        out: list[str] = []
        for path in self.changed:
            out += difflib.unified_diff(
                self.current.get(path, "").splitlines(keepends=True),
                self.rendered[path].splitlines(keepends=True),
                fromfile=f"{self.target.device.name}:/{path}"
                if path in self.current
                else "/dev/null",
                tofile=f"rendered:/{path}",
            )
        return "".join(out)


def read_files(t: Target, paths: list[str]) -> dict[str, str]:
    got = engine.facts(t.hosts, ConfigFiles, paths, env=t.env)
    return dict(next(iter(got.values())) or {})


def plan(dep: Departement, t: Target) -> Plan:
    """What `apply` would change on the router: the files that differ, with a unified diff."""
    site, device = router_of(dep, t.site.slug)  # this département's version of the site
    rendered = render_device(dep, site, device, t.options)
    current = read_files(t, list(rendered))
    changed = [p for p in rendered if current.get(p) != rendered[p]]
    return Plan(t, rendered, current, changed)


# --- apply -------------------------------------------------------------------------------------


@dataclass
class ApplyReport:
    device: str
    dry_run: bool
    changed: list[str]
    reloaded: list[str]
    confirmed_in: float | None = None
    diff: str = ""


def _push(t: Target, put: dict[str, str], remove: list[str], changed: list[str]) -> list[str]:
    units = units_to_reload(changed)
    engine.run(
        t.hosts,
        router_config,
        put={p: (text, file_mode(p)) for p, text in put.items()},
        remove=remove,
        reloads=[(u, reload_command(u, changed, t.lab)) for u in units],
        env=t.env,
    )
    return units


def _shell(t: Target, command: str) -> str:
    got = engine.facts(t.hosts, Command, command, env=t.env)
    return str(next(iter(got.values())) or "")


def health(dep: Departement, t: Target) -> list[str]:
    """What is wrong with the router now (empty: healthy)."""
    problems = []
    circuit = t.site.circuit
    assert circuit is not None
    peer = str(circuit.core_address)
    if dep.routing.protocol == "bgp":
        raw = _shell(
            t,
            f"vtysh -c 'show bgp neighbors {peer} json' 2>/dev/null; echo '@@'; "
            f"vtysh -c 'show bgp ipv4 unicast neighbors {peer} advertised-routes json' 2>/dev/null"
            " || true",
        )
        state_raw, _, adv_raw = raw.partition("@@")
        state = _json(state_raw).get(peer, {}).get("bgpState", "down")
        if state != "Established":
            problems.append(f"BGP session to the core {peer} is {state}")
        else:
            advertised = _json(adv_raw).get("advertisedRoutes", {})
            if str(t.site.container) not in advertised:
                problems.append(f"{t.site.container} is not announced to the core")
    else:
        raw = _shell(t, "vtysh -c 'show ip ospf neighbor json' 2>/dev/null || true")
        neighbours = _json(raw).get("neighbors", {})
        states = [n.get("nbrState", n.get("state", "")) for ns in neighbours.values() for n in ns]
        if not any(s.startswith("Full") for s in states):
            problems.append(f"no OSPF adjacency with the core ({', '.join(states) or 'none'})")
    if not _answers(t, circuit.site_address):
        problems.append(f"the router does not answer ping on {circuit.site_address}")
    return problems


def _json(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw.strip() or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _answers(t: Target, address: IPAddress) -> bool:
    """Ping the router's uplink address from the twin's core, as the provider would.

    Outside the twin the health commands themselves travel over SSH to the router: getting
    their answer is the proof that it still answers.
    """
    if not (t.lab and t.core_container):
        return True
    from preau.lab import podman

    proc = podman.run("exec", t.core_container, "ping", "-c1", "-W1", str(address), check=False)
    return proc.returncode == 0


def confirm(dep: Departement, t: Target, timeout: float) -> tuple[float | None, list[str]]:
    """Poll health until it passes (seconds taken) or the deadline (None, last problems)."""
    start = time.monotonic()
    problems: list[str] = ["not checked"]
    while time.monotonic() - start < timeout:
        problems = health(dep, t)
        if not problems:
            return time.monotonic() - start, []
        time.sleep(1.0)
    return None, problems


def ensure_lab_core(dep: Departement, t: Target, say: Say = _quiet) -> None:
    """In the twin, make sure the core stand-in peers with this site's router.

    The provider's core does not change when we push a collège, so neither does the twin's:
    it is configured from the model only when it does not know the site yet.
    """
    if not t.lab or not t.core_container:
        return
    from preau.lab import twin
    from preau.lab.topology import LABEL_ROLE, LABEL_SITE, core_ifname

    core = Target(t.site, t.device, f"@podman/{t.core_container}", True)
    current = read_files(core, ["etc/frr/frr.conf"]).get("etc/frr/frr.conf", "")
    assert t.site.circuit is not None
    knows = (
        f"neighbor {t.site.circuit.site_address} remote-as"
        if dep.routing.protocol == "bgp"
        else f"interface {core_ifname(t.site)}"
    )
    if knows in current:
        return
    slugs = {
        c.labels.get(LABEL_SITE)
        for c in twin.lab_containers().values()
        if c.labels.get(LABEL_ROLE) == "router"
    }
    sites = [s for s in dep.sites if s.slug in slugs]
    files = render_core(dep, sites)
    say(f"configuring the twin's core for {len(sites)} site(s)")
    _push(core, files, [], list(files))


def apply(
    dep: Departement,
    t: Target,
    *,
    dry_run: bool = False,
    timeout: float = CONFIRM_TIMEOUT,
    say: Say = _quiet,
) -> ApplyReport:
    """Push what differs; keep it only if the router confirms healthy within `timeout`."""
    p = plan(dep, t)
    report = ApplyReport(t.device.name, dry_run, p.changed, units_to_reload(p.changed), diff=p.diff)
    if dry_run or not p.changed:
        return report
    ensure_lab_core(dep, t, say)
    say(f"pushing {len(p.changed)} file(s), reloading {', '.join(report.reloaded) or 'nothing'}")
    try:
        _push(t, {path: p.rendered[path] for path in p.changed}, [], p.changed)
        took, problems = confirm(dep, t, timeout)
    except ServiceError as exc:
        took, problems = None, [str(exc)]
    if took is not None:
        report.confirmed_in = took
        return report
    say(f"health check failed ({'; '.join(problems)}): restoring the previous files")
    previous = {path: p.current[path] for path in p.changed if path in p.current}
    new = [path for path in p.changed if path not in p.current]
    _push(t, previous, new, p.changed)
    raise RolledBack(
        f"device {t.device.name}: the new configuration failed its check within {timeout:.0f} s "
        f"({'; '.join(problems)}); the previous files were restored and reloaded"
    )


# --- bandwidth ---------------------------------------------------------------------------------


@dataclass
class BandwidthReport:
    device: str
    old_mbps: int
    new_mbps: int
    dry_run: bool
    recorded: str = ""


def parse_rate(rate: str) -> int:
    """'200M', '200m', '200mbit', '1G' or '200' -> Mbit/s."""
    text = rate.strip().lower().removesuffix("bit").removesuffix("bps")
    factor = 1
    if text.endswith("g"):
        factor, text = 1000, text[:-1]
    elif text.endswith("m"):
        text = text[:-1]
    if not text.isdigit() or int(text) <= 0:
        raise BadInput(f"--rate {rate}: give a positive rate such as 200M or 1G")
    return int(text) * factor


def with_commit_rate(dep: Departement, site: Site, mbps: int) -> Departement:
    """The département with one site's circuit at a new commit rate."""
    assert site.circuit is not None
    new = replace(site, circuit=replace(site.circuit, commit_rate_mbps=mbps))
    if dep.datacentre is not None and dep.datacentre.slug == site.slug:
        return replace(dep, datacentre=new)  # type: ignore[arg-type]
    return replace(dep, colleges=tuple(new if c.slug == site.slug else c for c in dep.colleges))  # type: ignore[misc]


def bandwidth(dep: Departement, t: Target, mbps: int, *, dry_run: bool = False) -> BandwidthReport:
    """Change the uplink class live, then rewrite the shaping script to match (reboot-proof)."""
    circuit = t.site.circuit
    assert circuit is not None
    report = BandwidthReport(t.device.name, circuit.commit_rate_mbps, mbps, dry_run)
    if dry_run:
        return report
    new_dep = with_commit_rate(dep, t.site, mbps)
    site = new_dep.college(t.site.slug) or new_dep.site(t.site.slug)
    assert site is not None and site.router is not None
    script = render_device(new_dep, site, site.router, t.options)["usr/local/sbin/preau-shaping"]
    uplink = next(
        i.name
        for i in site.router.interfaces
        if i.address is not None and i.address.ip == circuit.site_address
    )
    engine.run(
        t.hosts,
        shaping_rate,
        ifname=uplink,
        rate=f"{mbps}mbit",
        quantum=HTB_QUANTUM,
        script=script,
        env=t.env,
    )
    return report


def live_rate(t: Target, ifname: str = "wan0") -> str:
    """The rate of the uplink class as tc reports it (e.g. '20Mbit')."""
    out = _shell(t, f"tc class show dev {ifname} classid 1:10")
    words = out.split()
    return words[words.index("rate") + 1] if "rate" in words else ""


# --- the source of truth ------------------------------------------------------------------------


def record_commit_rate(src: Any, dep: Departement, site: Site, mbps: int, reason: str) -> str:
    """Record a site's new commit rate in the source of truth; say how it was recorded.

    - a source offering `record_commit_rate(site_slug, mbps, reason)` (hook for the NetBox
      writer) is called;
    - NetBox (a source with a pynetbox client): the circuit's commit_rate (Kbit/s in NetBox) is
      updated and a journal entry on the circuit says who changed it, from what, and why;
    - any other source gets the département pushed with the new rate (idempotent, no journal).
    """
    hook = getattr(src, "record_commit_rate", None)
    if callable(hook):
        hook(site.slug, mbps, reason)
        return f"{src.name}: circuit commit rate and journal entry"
    client = getattr(src, "client", None)
    api = getattr(client, "api", None)
    if client is not None and api is not None and site.circuit is not None:
        cid = site.circuit.cid
        with client.errors(f"recording the commit rate of circuit {cid}"):
            circuit = api.circuits.circuits.get(cid=cid)
            if circuit is None:
                raise BadInput(f"circuit {cid}: not in NetBox (push the département first)")
            if circuit.commit_rate != mbps * 1000:
                circuit.update({"commit_rate": mbps * 1000})
            api.extras.journal_entries.create(
                assigned_object_type="circuits.circuit",
                assigned_object_id=circuit.id,
                kind="info",
                comments=reason,
            )
        return f"netbox: circuit {cid} commit rate {mbps} Mbit/s, journal entry added"
    src.push(with_commit_rate(dep, site, mbps))
    return f"{src.name}: circuit commit rate (no journal outside NetBox)"
