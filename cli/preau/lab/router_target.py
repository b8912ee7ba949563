"""The twin's routers as deploy targets: registered with preau.deploys.targets as `lab`.

A router the twin runs is reached through pyinfra's podman connector; its kernel has no
802.1Q (one link per VLAN), its /proc/sys is read-only (preau lab up sets forwarding from
outside), the provider's side is the twin's core (it pings the router's uplink), and before
a push the core must peer with the site (it is configured from the model when it does not).
"""

from __future__ import annotations

from collections.abc import Callable

from netaddr import IPAddress

from preau.deploys import net_apply
from preau.deploys.targets import Say, Target
from preau.errors import BadInput, ServiceError
from preau.lab import podman, twin
from preau.lab.core_config import CORE_RESOLVER, render_core
from preau.lab.topology import CORE_NAME, LABEL_ROLE, LABEL_SITE, container_name, core_ifname
from preau.model import Departement, Device, Site

NAME = "lab"


def _running() -> dict[str, twin.Running]:
    try:
        return twin.lab_containers()
    except ServiceError:
        return {}


def _env() -> dict[str, str]:
    return {"CONTAINERS_CONF": podman.env()["CONTAINERS_CONF"]}


def _pinger(core: str) -> Callable[[IPAddress], bool]:
    """Ping from the core, as the provider would."""

    def probe(address: IPAddress) -> bool:
        proc = podman.run("exec", core, "ping", "-c1", "-W1", str(address), check=False)
        return proc.returncode == 0

    return probe


def prepare_core(dep: Departement, t: Target, say: Say) -> None:
    """Make sure the twin's core peers with this site's router (and answers as upstream DNS).

    The provider's core does not change when we push a collège, so neither does the twin's:
    it is configured from the model only when it does not know the site yet (a push with a
    wrong core ASN must still fail against it).
    """
    core_container = container_name(CORE_NAME)
    running = _running()
    if core_container not in running:
        return
    core = Target(
        t.site,
        t.device,
        f"@podman/{core_container}",
        NAME,
        _env(),
        dot1q=False,
        sysctl_readonly=True,
    )
    paths = ["etc/frr/frr.conf", CORE_RESOLVER]
    current = net_apply.read_files(core, paths)
    assert t.site.circuit is not None
    knows = (
        f"neighbor {t.site.circuit.site_address} remote-as"
        if dep.routing.protocol == "bgp"
        else f"interface {core_ifname(t.site)}"
    )
    slugs = {
        c.labels.get(LABEL_SITE) for c in running.values() if c.labels.get(LABEL_ROLE) == "router"
    }
    sites = [s for s in dep.sites if s.slug in slugs]
    files = render_core(dep, sites)
    frr = current.get("etc/frr/frr.conf", "")
    addresses = [f" ip address {a}/32" for a in dep.services.upstream_dns]
    if knows not in frr or any(a not in frr for a in addresses):
        changed = list(files)
    else:  # the resolver alone may be new (a core configured by an older preau)
        changed = [p for p in files if p == CORE_RESOLVER and current.get(p) != files[p]]
    if not changed:
        return
    say(f"configuring the twin's core for {len(sites)} site(s)")
    net_apply.push(core, {p: files[p] for p in changed}, [], changed)


def factory(dep: Departement, site: Site, device: Device, *, required: bool) -> Target | None:
    """The router's container when the twin runs it (else None, or BadInput if required)."""
    running = _running()
    name = container_name(device.name)
    if name in running and running[name].state == "running":
        core = container_name(CORE_NAME)
        return Target(
            site,
            device,
            f"@podman/{name}",
            kind=NAME,
            env=_env(),
            dot1q=False,  # one veth per VLAN, same names (see preau.lab.topology)
            sysctl_readonly=True,
            probe=_pinger(core) if core in running else None,
            prepare=prepare_core,
        )
    if required:
        raise BadInput(f"device {device.name}: not running in the twin (`preau lab up`)")
    return None
