"""Which access-switch port each device plugs into: the cabling plan the switch configs follow.

The model knows rooms and devices, not cables, so the plan is derived the same way every time:
the first switch (by name) is the LAN core and takes the router's trunk on its last port; every
other switch hangs off the core with a trunk on its own last port; devices fill the remaining
ports room by room, in the order of the collège's rooms.
"""

from __future__ import annotations

from dataclasses import dataclass

from preau.errors import Problem, ValidationFailed
from preau.model import College, Device, Site

PORTS_PER_SWITCH = 48
PORT_NAME = "GigabitEthernet1/0/{}"
# Roles that sit on an access port; the router and the other switches use trunks.
ACCESS_ROLES = ("file-server", "app-server", "pc", "printer", "display", "cpe")


@dataclass(frozen=True, slots=True)
class Port:
    """One switch port: a trunk toward another network device, or an access port in one VLAN."""

    number: int
    name: str
    description: str
    mode: str  # "trunk" or "access"
    vlan: str | None = None


@dataclass(frozen=True, slots=True)
class SwitchPorts:
    switch: str
    ports: tuple[Port, ...]
    unused: tuple[tuple[int, int], ...]  # ranges of ports left shut down


def _access_vlan(device: Device) -> str | None:
    # A CPE plugs its management port into the management VLAN, whatever else it carries.
    return next((i.vlan for i in device.interfaces if i.vlan), None)


def _ranges(numbers: list[int]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if out and out[-1][1] == n - 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return tuple(out)


def plan(site: Site) -> dict[str, SwitchPorts]:
    """The port plan of every access switch of a site, keyed by switch name."""
    switches = sorted(site.devices_by_role("access-switch"), key=lambda d: d.name)
    if not switches:
        return {}
    core, others = switches[0], switches[1:]
    router = site.router
    ports: dict[str, list[Port]] = {s.name: [] for s in switches}
    uplink_to = f"{router.name} lan0" if router else "the router"
    ports[core.name].append(
        Port(PORTS_PER_SWITCH, PORT_NAME.format(PORTS_PER_SWITCH), f"uplink {uplink_to}", "trunk")
    )
    for i, sw in enumerate(others):
        down = PORTS_PER_SWITCH - 1 - i
        ports[core.name].append(Port(down, PORT_NAME.format(down), f"downlink {sw.name}", "trunk"))
        ports[sw.name].append(
            Port(
                PORTS_PER_SWITCH,
                PORT_NAME.format(PORTS_PER_SWITCH),
                f"uplink {core.name} {PORT_NAME.format(down)}",
                "trunk",
            )
        )

    rooms = list(site.rooms) if isinstance(site, College) else []
    order = {room: i for i, room in enumerate(rooms)}
    hosts = [d for d in site.devices if d.role in ACCESS_ROLES and _access_vlan(d)]
    hosts.sort(key=lambda d: (order.get(d.room or "", len(order)), d.name))
    taken = {sw.name: {p.number for p in ports[sw.name]} for sw in switches}
    free = {
        sw.name: [n for n in range(1, PORTS_PER_SWITCH + 1) if n not in taken[sw.name]]
        for sw in switches
    }
    for host in hosts:
        target = next((s for s in switches if free[s.name]), None)
        if target is None:
            capacity = sum(len(v) for v in free.values())
            raise ValidationFailed(
                [
                    Problem(
                        f"site {site.slug}",
                        "devices",
                        f"{len(hosts)} devices need an access port but the switches have "
                        f"{capacity + len(hosts)}: add an access switch",
                    )
                ]
            )
        n = free[target.name].pop(0)
        ports[target.name].append(
            Port(
                n,
                PORT_NAME.format(n),
                f"{host.room or '-'} {host.name}",
                "access",
                _access_vlan(host),
            )
        )
    return {
        sw.name: SwitchPorts(
            switch=sw.name,
            ports=tuple(sorted(ports[sw.name], key=lambda p: p.number)),
            unused=_ranges(free[sw.name]),
        )
        for sw in switches
    }
