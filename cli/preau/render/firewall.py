"""The zone policy of a site router, as data: which zone may open what toward which zone.

Every VLAN role is a zone; the uplink is the zone `wan`. Anything not allowed here is refused
(`reject` inside the collège so a user's program fails at once, `drop` toward the uplink).
The collège's server flows come from the services' declarations (preau.model.services), each
to its own server only; the templates only print these rules; tests read them to know what
must pass and what must not.
"""

from __future__ import annotations

from dataclasses import dataclass

from preau.model import services
from preau.model.departement import College
from preau.model.services import IPP, NTP, USER_ZONES

WAN = "wan"
# The ENT portal in the data centre.
HTTP, HTTPS = 80, 443


@dataclass(frozen=True, slots=True)
class Allow:
    """One allowed flow: from a zone to a zone, optionally one protocol, ports and destinations.

    `to_role` limits the destination to the site's devices of that role (a service's server),
    `to_ent` to the data centre's servers prefix (the ENT portal), `to_ntp` to the département's
    NTP servers. `from_roles` limits the source to the data centre's devices of those roles
    (the monitoring host); a site whose data centre has none opens nothing.
    """

    src: str
    dst: str
    why: str
    proto: str | None = None
    ports: tuple[int, ...] = ()
    to_role: str | None = None
    to_ent: bool = False
    to_ntp: bool = False
    icmp: bool = False
    from_roles: tuple[str, ...] = ()


def _service_flows(college: College) -> tuple[Allow, ...]:
    """Every service of the collège, from each zone allowed to reach it, to its own server only."""
    return tuple(
        Allow(zone, "servers", service.why, service.proto, service.ports, to_role=service.host_role)
        for service in services.college_services(college)
        for zone in service.zones
    )


def _remote_flows(college: College) -> tuple[Allow, ...]:
    """Services read from the data centre (node_exporter): through the uplink, from the declared
    data-centre hosts only, to the servers offering them. The router's own are on its input."""
    return tuple(
        Allow(
            WAN,
            "servers",
            service.why,
            service.proto,
            service.ports,
            to_role=service.host_role,
            from_roles=service.remote_roles,
        )
        for service in services.college_services(college)
        if service.remote_roles and service.host_role != "router"
    )


# What the collège router itself serves to the data centre, opened on its input from the uplink
# (the same in every collège: what it runs does not depend on where the accounts live).
ROUTER_REMOTE_SERVICES = tuple(
    s
    for s in services.COLLEGE_SERVICES
    if s.host_role == "router" and s.remote_roles and not s.zones
)


def college_policy(college: College) -> tuple[Allow, ...]:
    """The collège router's zone policy: its services' flows, then every collège's own."""
    return (*_service_flows(college), *_remote_flows(college), *_COLLEGE_FLOWS)


_COLLEGE_FLOWS: tuple[Allow, ...] = (
    *(
        Allow(z, "servers", "ping the servers when a user reports a problem", icmp=True)
        for z in USER_ZONES
    ),
    Allow("admin", "management", "staff with admin rights manage switches and the CPE"),
    Allow(
        "servers",
        "printers",
        "the print server drives the printers",
        "tcp",
        (515, *IPP.ports, 9100),
    ),
    Allow("servers", "printers", "the print server reads printer status (SNMP)", "udp", (161,)),
    *(
        Allow(z, WAN, "the ENT portal in the data centre", "tcp", (HTTP, HTTPS), to_ent=True)
        for z in ("admin", "teaching", "wifi", "servers")
    ),
    *(
        Allow(z, WAN, "ping the ENT portal when it seems down", icmp=True, to_ent=True)
        for z in ("admin", "teaching", "wifi", "servers")
    ),
    Allow("wifi", WAN, "guests get the Internet (masqueraded), nothing inside the college"),
    Allow("servers", WAN, "servers fetch updates for the apt proxy and themselves"),
    Allow(
        "management", WAN, "switches and CPE set their clocks", NTP.proto, NTP.ports, to_ntp=True
    ),
)

DATACENTRE_POLICY: tuple[Allow, ...] = (
    Allow(WAN, "servers", "colleges reach the ENT portal", "tcp", (HTTP, HTTPS)),
    Allow(WAN, "servers", "colleges check the ENT portal answers", icmp=True),
    Allow("servers", WAN, "portal hosts fetch updates"),
)

# Zones whose traffic leaves through the uplink masqueraded (see nftables.conf.j2 for why).
MASQUERADED = ("wifi",)
# Zones allowed to log in to the router itself.
ROUTER_ADMIN_ZONES = ("admin", "management")
