"""Plan, apply (commit confirmed, rolled back by the router itself) and live bandwidth changes.

- `plan`: render the router's files, read the same files from the router, diff them; and ask
  FRR itself whether what runs differs from its file (`frr-reload.py --test`).
- `apply`: the router snapshots the files about to change and arms a rollback timer (a
  transient systemd timer, as Junos' `commit confirmed`); preau pushes only the files that
  differ and reloads only the units they feed; then polls the router's health until it passes
  or the deadline. Healthy: the timer is cancelled. Not healthy: preau triggers the rollback
  at once; if it cannot reach the router any more, the router's timer restores the previous
  files by itself. Either way RolledBack is raised.
- `bandwidth`: `tc class change` of the uplink class (no flow is reset) and the new commit rate
  recorded in the source of truth.

Where the router is comes from preau.deploys.targets (SSH by default; the twin registers its
own target): nothing here knows which environment it runs in.
"""

from __future__ import annotations

import difflib
import json
import math
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pyinfra.facts.server import Command

from preau.deploys import CONFIRM_TIMEOUT
from preau.deploys.net import (
    DISARM,
    ROLLBACK_NOW,
    ROLLBACK_UNIT,
    ConfigFiles,
    reload_command,
    router_config,
    shaping_rate,
    units_to_reload,
)
from preau.deploys.targets import Target, router_of, target
from preau.engines import pyinfra as engine
from preau.errors import BadInput, PreauError, ServiceError
from preau.model import Departement, Site
from preau.model.services import UPLINK_SHAPING
from preau.render import render_device
from preau.render.context import HTB_QUANTUM
from preau.render.device import file_mode
from preau.render.ifnames import check_ifname

__all__ = ["Target", "router_of", "target"]

# The router's own timer fires this long after the confirm deadline: time for the push itself
# and for preau to cancel it once healthy. Past it, the router restores without preau.
ROLLBACK_GRACE = 30
PROBE_INTERVAL = 1.0
FRR_CONF = "etc/frr/frr.conf"
FRR_RELOAD = "/usr/lib/frr/frr-reload.py"
Say = Callable[[str], None]


def _quiet(_msg: str) -> None:
    return None


class RolledBack(PreauError):
    """The pushed configuration failed its health check; the previous one was restored."""


# --- plan --------------------------------------------------------------------------------------


@dataclass
class Plan:
    target: Target
    rendered: dict[str, str]
    current: dict[str, str]
    changed: list[str] = field(default_factory=list)
    # FRR's own view: what `frr-reload.py --test` would change to make the running
    # configuration match /etc/frr/frr.conf (empty: FRR runs what its file says)
    drift: list[str] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        return bool(self.changed or self.drift)

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
        if self.drift:
            out.append(
                f"# {self.target.device.name}: FRR's running configuration differs from "
                f"/{FRR_CONF} (frr-reload.py --test):\n"
            )
            out += [f"{line}\n" for line in self.drift]
        return "".join(out)


def read_files(t: Target, paths: list[str]) -> dict[str, str]:
    got = engine.facts(t.hosts, ConfigFiles, paths, env=dict(t.env))
    return dict(next(iter(got.values())) or {})


_RELOAD_HEADERS = ("Lines To Delete", "Lines To Add", "===")


def parse_frr_test(output: str) -> list[str]:
    """The changes `frr-reload.py --test` lists ('- line' to delete, '+ line' to add)."""
    out: list[str] = []
    sign = ""
    for raw in output.splitlines():
        line = raw.rstrip()
        if line.startswith("Lines To Delete"):
            sign = "-"
        elif line.startswith("Lines To Add"):
            sign = "+"
        elif line.strip() and not line.startswith(_RELOAD_HEADERS) and sign:
            out.append(f"{sign} {line}")
    return out


def frr_drift(t: Target) -> list[str]:
    """What FRR would change to run /etc/frr/frr.conf (nothing if FRR or the tool is absent)."""
    raw = _shell(
        t,
        f"if [ -x {FRR_RELOAD} ] && [ -f /{FRR_CONF} ] && systemctl is-active -q frr; then "
        f"{FRR_RELOAD} --test --stdout /{FRR_CONF} 2>&1 || echo '@@failed'; fi",
    )
    if "@@failed" in raw:
        raise ServiceError(f"device {t.device.name}: frr-reload.py --test failed: {raw.strip()}")
    return parse_frr_test(raw)


def plan(dep: Departement, t: Target) -> Plan:
    """What `apply` would change on the router: the files that differ, and FRR's own drift."""
    site, device = router_of(dep, t.site.slug)  # this département's version of the site
    rendered = render_device(dep, site, device, t.options)
    current = read_files(t, list(rendered))
    changed = [p for p in rendered if current.get(p) != rendered[p]]
    # When frr.conf itself changes, the reload after the push converges FRR anyway.
    drift = frr_drift(t) if FRR_CONF in rendered and FRR_CONF not in changed else []
    return Plan(t, rendered, current, changed, drift)


# --- apply -------------------------------------------------------------------------------------


@dataclass
class ApplyReport:
    device: str
    dry_run: bool
    changed: list[str]
    reloaded: list[str]
    confirmed_in: float | None = None
    diff: str = ""


def reloads_for(t: Target, changed: list[str]) -> list[tuple[str, str]]:
    return [(u, reload_command(u, changed, t.sysctl_readonly)) for u in units_to_reload(changed)]


def push(
    t: Target,
    put: dict[str, str],
    remove: list[str],
    changed: list[str],
    arm: tuple[list[str], int] | None = None,
) -> list[str]:
    """Write `put`, delete `remove`, reload what `changed` feeds; with `arm`, rollback first."""
    reloads = reloads_for(t, changed)
    engine.run(
        t.hosts,
        router_config,
        put={p: (text, file_mode(p)) for p, text in put.items()},
        remove=remove,
        reloads=reloads,
        arm=arm,
        env=dict(t.env),
    )
    return [u for u, _ in reloads]


def _shell(t: Target, command: str) -> str:
    got = engine.facts(t.hosts, Command, command, env=dict(t.env))
    return str(next(iter(got.values())) or "")


def _vtysh(command: str) -> str:
    return f"vtysh -c {shlex.quote(command)} 2>/dev/null"


def health(dep: Departement, t: Target) -> list[str]:
    """What is wrong with the router now (empty: healthy)."""
    problems = []
    circuit = t.site.circuit
    assert circuit is not None
    peer = str(circuit.core_address)
    if dep.routing.protocol == "bgp":
        raw = _shell(
            t,
            f"{_vtysh(f'show bgp neighbors {peer} json')}; echo '@@'; "
            f"{_vtysh(f'show bgp ipv4 unicast neighbors {peer} advertised-routes json')} || true",
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
        raw = _shell(t, f"{_vtysh('show ip ospf neighbor json')} || true")
        neighbours = _json(raw).get("neighbors", {})
        states = [n.get("nbrState", n.get("state", "")) for ns in neighbours.values() for n in ns]
        if not any(s.startswith("Full") for s in states):
            problems.append(f"no OSPF adjacency with the core ({', '.join(states) or 'none'})")
    # Outside the twin the health commands themselves travel over the management path: getting
    # their answer is the proof that the router still answers.
    if t.probe is not None and not t.probe(circuit.site_address):
        problems.append(f"the router does not answer ping on {circuit.site_address}")
    return problems


def _json(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw.strip() or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def confirm(dep: Departement, t: Target, timeout: float) -> tuple[float | None, list[str]]:
    """Poll health until it passes (seconds taken) or the deadline (None, last problems).

    A probe that fails, or cannot reach the router (a reload may cut the path for a moment),
    is one failed probe: polling goes on until the deadline.
    """
    start = time.monotonic()
    problems: list[str] = ["not checked"]
    while True:
        try:
            problems = health(dep, t)
        except ServiceError as exc:
            problems = [str(exc)]
        if not problems:
            return time.monotonic() - start, []
        if time.monotonic() - start + PROBE_INTERVAL >= timeout:
            return None, problems
        time.sleep(PROBE_INTERVAL)


def rollback_after(timeout: float) -> int:
    """Seconds after arming at which the router restores by itself."""
    return math.ceil(timeout) + ROLLBACK_GRACE


def push_armed(dep: Departement, t: Target, p: Plan, seconds: int) -> list[str]:
    """Arm the router's rollback (`seconds`), then push what `p` found different."""
    existing = [path for path in p.changed if path in p.current]
    changed = p.changed or ([FRR_CONF] if p.drift else [])
    return push(t, {path: p.rendered[path] for path in p.changed}, [], changed, (existing, seconds))


def disarm(t: Target) -> None:
    """Cancel the router's rollback: the push is confirmed."""
    _shell(t, DISARM)


def rollback_now(t: Target, wait: float = 60.0) -> bool:
    """Have the router run its rollback now and wait for it; False if it cannot be reached."""
    try:
        _shell(t, f"{ROLLBACK_NOW}; systemctl stop {ROLLBACK_UNIT}.timer 2>/dev/null; true")
        start = time.monotonic()
        while time.monotonic() - start < wait:
            state = _shell(t, f"systemctl is-active {ROLLBACK_UNIT}.service || true").strip()
            if state not in ("active", "activating"):
                _shell(t, DISARM)
                return True
            time.sleep(0.5)
    except ServiceError:
        return False
    return True


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
    changed = p.changed or ([FRR_CONF] if p.drift else [])
    report = ApplyReport(t.device.name, dry_run, p.changed, units_to_reload(changed), diff=p.diff)
    if dry_run or not p.pending:
        return report
    if t.prepare is not None:
        t.prepare(dep, t, say)
    seconds = rollback_after(timeout)
    say(
        f"pushing {len(p.changed)} file(s), reloading {', '.join(report.reloaded) or 'nothing'}"
        f" (the router rolls back by itself in {seconds} s unless confirmed)"
    )
    try:
        push_armed(dep, t, p, seconds)
    except ServiceError as exc:
        took, problems = None, [str(exc)]
    else:
        took, problems = confirm(dep, t, timeout)
    if took is not None:
        try:
            disarm(t)
        except ServiceError as exc:
            raise ServiceError(
                f"device {t.device.name}: healthy after {took:.1f} s but the rollback timer "
                f"could not be cancelled ({exc}): the router restores its previous files "
                f"{seconds} s after the push unless `preau net apply` is run again"
            ) from exc
        report.confirmed_in = took
        return report
    say(f"health check failed ({'; '.join(problems)}): restoring the previous files")
    how = (
        "the previous files were restored and reloaded"
        if rollback_now(t)
        else f"the router could not be reached: its own timer restores the previous files "
        f"{seconds} s after the push"
    )
    raise RolledBack(
        f"device {t.device.name}: the new configuration failed its check within {timeout:.0f} s "
        f"({'; '.join(problems)}); {how}"
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
    uplink = check_ifname(
        site.router.name,
        next(
            i.name
            for i in site.router.interfaces
            if i.address is not None and i.address.ip == circuit.site_address
        ),
    )
    engine.run(
        t.hosts,
        shaping_rate,
        ifname=uplink,
        rate=f"{mbps}mbit",
        quantum=HTB_QUANTUM,
        script=script,
        env=dict(t.env),
    )
    return report


def live_rate(t: Target, ifname: str = "wan0") -> str:
    """The rate of the uplink class as tc reports it (e.g. '20Mbit')."""
    dev = shlex.quote(check_ifname(t.device.name, ifname))
    out = _shell(t, f"tc class show dev {dev} classid {UPLINK_SHAPING.classid}")
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
