"""The zone policy of a site router, as data: which zone may open what toward which zone.

Every VLAN role is a zone; the uplink is the zone `wan`. Anything not allowed here is refused
(`reject` inside the collège so a user's program fails at once, `drop` toward the uplink).
The templates only print these rules; tests read them to know what must pass and what must not.
"""

from __future__ import annotations

from dataclasses import dataclass

WAN = "wan"

# Ports the teaching and admin zones use on the collège's servers.
SMB, IPP, TFTP, HTTP, HTTPS, APT_PROXY = 445, 631, 69, 80, 443, 3142


@dataclass(frozen=True, slots=True)
class Allow:
    """One allowed flow: from a zone to a zone, optionally one protocol, ports and destinations.

    `to_ent` limits the destination to the data centre's servers prefix (the ENT portal);
    `to_ntp` to the département's NTP servers.
    """

    src: str
    dst: str
    why: str
    proto: str | None = None
    ports: tuple[int, ...] = ()
    to_ent: bool = False
    to_ntp: bool = False
    icmp: bool = False


_SERVER_SERVICES = (
    Allow("", "servers", "SMB: home folders and shares on the file server", "tcp", (SMB,)),
    Allow("", "servers", "IPP: printing goes through the print server", "tcp", (IPP,)),
    Allow("", "servers", "TFTP: PXE boot files (the tftp ct helper admits data)", "udp", (TFTP,)),
    Allow("", "servers", "HTTP: PXE boot menus and images", "tcp", (HTTP,)),
    Allow("", "servers", "apt proxy on the app server: PCs update through it", "tcp", (APT_PROXY,)),
    Allow("", "servers", "ping the servers when a user reports a problem", icmp=True),
)

COLLEGE_POLICY: tuple[Allow, ...] = (
    *(Allow("teaching", a.dst, a.why, a.proto, a.ports, icmp=a.icmp) for a in _SERVER_SERVICES),
    *(Allow("admin", a.dst, a.why, a.proto, a.ports, icmp=a.icmp) for a in _SERVER_SERVICES),
    Allow("admin", "management", "staff with admin rights manage switches and the CPE"),
    Allow("servers", "printers", "the print server drives the printers", "tcp", (515, IPP, 9100)),
    Allow("servers", "printers", "the print server reads printer status (SNMP)", "udp", (161,)),
    Allow("printers", "servers", "scan to folder on the file server", "tcp", (SMB,)),
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
    Allow("management", WAN, "switches and CPE set their clocks", "udp", (123,), to_ntp=True),
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
