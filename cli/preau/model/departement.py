"""The département model: sites, circuits, VLANs, prefixes, devices. Immutable, no I/O.

Both source-of-truth backends (embedded files and NetBox) read into and write from these
objects, so everything downstream (validation, inventory, network render, lab) sees one shape.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from netaddr import IPAddress, IPNetwork

# The département-wide VLAN plan uses these roles; each becomes a firewall zone on the router.
VLAN_ROLES = ("admin", "teaching", "wifi", "printers", "servers", "management")
# Zones whose hosts get their address by DHCP (with reservations); the others are static.
DHCP_VLAN_ROLES = ("admin", "teaching", "wifi", "printers")

DEVICE_ROLES = (
    "router",
    "access-switch",
    "cpe",
    "file-server",
    "app-server",
    "pc",
    "printer",
    "display",
    # data-centre roles for the ENT portal
    "load-balancer",
    "portal-app",
    "database",
    # the data centre's monitoring host (Prometheus, Alertmanager, blackbox exporter)
    "monitoring",
)
PLATFORMS = ("linux", "ios", "junos", "windows", "printer-firmware")
# The platform preau configures each network role on (network/<platform>/ has its templates).
NETWORK_PLATFORMS = {"router": "linux", "access-switch": "ios", "cpe": "junos"}


@dataclass(frozen=True, slots=True)
class VlanPlanEntry:
    """One line of the département VLAN plan: same VID and name in every collège."""

    role: str
    vid: int
    name: str
    prefix_length: int


@dataclass(frozen=True, slots=True)
class SiteVlan:
    """A plan entry made concrete at one site: the VLAN and the prefix it routes."""

    role: str
    vid: int
    name: str
    prefix: IPNetwork


@dataclass(frozen=True, slots=True)
class Supernets:
    """Where the département allocates from."""

    colleges: IPNetwork
    datacentre: IPNetwork
    uplinks: IPNetwork


@dataclass(frozen=True, slots=True)
class Services:
    """Defaults every site receives (DNS, NTP, proxy, DNS domain)."""

    domain: str
    dns: tuple[IPAddress, ...]
    ntp: tuple[IPAddress, ...]
    proxy: str | None = None
    # Resolvers outside the département (the provider's, the académie's): the département's own
    # resolvers forward every name they are not authoritative for to these.
    upstream_dns: tuple[IPAddress, ...] = ()

    @property
    def ent_name(self) -> str:
        """The ENT portal's public name: the routers' DNS gives it the data centre's load
        balancer, its certificate is made for it, the desk's probe asks for it."""
        return f"ent.{self.domain}"


@dataclass(frozen=True, slots=True)
class Routing:
    """How collège routers talk to the THD Seine core."""

    protocol: Literal["bgp", "ospf"]
    core_asn: int
    core_name: str = "THD Seine core"


@dataclass(frozen=True, slots=True)
class Circuit:
    """A site's fibre uplink: A side at the site, Z side on the provider's core network."""

    cid: str
    provider: str
    commit_rate_mbps: int
    # The point-to-point prefix of the uplink: the first usable host on the core, the next one
    # on the site. Both addresses of a /31 are hosts (RFC 3021); in a /30 or larger the first
    # address is the network's, so the core takes first + 1 and the site first + 2.
    uplink: IPNetwork

    @property
    def core_address(self) -> IPAddress:
        first = self.uplink.first
        return IPAddress(first if self.uplink.prefixlen >= 31 else first + 1)

    @property
    def site_address(self) -> IPAddress:
        return IPAddress(int(self.core_address) + 1)


@dataclass(frozen=True, slots=True)
class Interface:
    """A device port. `vlan` is the VLAN role it sits on (access port or router sub-interface)."""

    name: str
    vlan: str | None = None
    address: IPNetwork | None = None
    mac: str | None = None
    parent: str | None = None
    mgmt_only: bool = False


@dataclass(frozen=True, slots=True)
class Device:
    """Anything with a role at a site: router, switch, server, PC, printer, display."""

    name: str
    role: str
    platform: str | None = None
    room: str | None = None
    interfaces: tuple[Interface, ...] = ()

    def interface(self, name: str) -> Interface | None:
        return next((i for i in self.interfaces if i.name == name), None)

    @property
    def primary_address(self) -> IPNetwork | None:
        """The first address found on the device (its management / service address)."""
        return next((i.address for i in self.interfaces if i.address is not None), None)


@dataclass(frozen=True, kw_only=True)
class Site:
    """What collèges and the data centre share: an uplink, VLAN prefixes and devices."""

    slug: str
    name: str
    commune: str
    asn: int
    circuit: Circuit | None
    container: IPNetwork
    prefixes: Mapping[str, IPNetwork] = field(default_factory=dict)
    devices: tuple[Device, ...] = ()

    kind: str = "site"

    def device(self, name: str) -> Device | None:
        return next((d for d in self.devices if d.name == name), None)

    def devices_by_role(self, role: str) -> list[Device]:
        return [d for d in self.devices if d.role == role]

    @property
    def router(self) -> Device | None:
        return next(iter(self.devices_by_role("router")), None)


# Where a collège's accounts live: "standalone", the file server's own (Samba's tdbsam), or
# "ad", the collège's Active Directory domain, its file server the DC (preau.model.domain). The
# file server's role, the router's zones and the servers' firewalls all follow this one field.
DIRECTORIES = ("standalone", "ad")


@dataclass(frozen=True, kw_only=True)
class College(Site):
    """A collège: a site with a UAI code, pupils and rooms."""

    uai: str
    pupils: int
    rooms: tuple[str, ...] = ()
    # Where its accounts live: one of DIRECTORIES.
    directory: str = "standalone"
    # Room -> the PC image (images/<name>/) its PCs boot; a room not named boots the app
    # server's default. A NetBox Location's custom field (pc_image).
    room_images: Mapping[str, str] = field(default_factory=dict)
    kind: str = "college"


@dataclass(frozen=True, kw_only=True)
class Datacentre(Site):
    """The data-centre site that hosts the ENT portal."""

    kind: str = "datacentre"


@dataclass(frozen=True, kw_only=True)
class Departement:
    """The whole département: defaults, VLAN plan, data centre and collèges."""

    slug: str
    name: str
    supernets: Supernets
    services: Services
    routing: Routing
    vlan_plan: tuple[VlanPlanEntry, ...]
    college_prefix_length: int = 22
    datacentre: Datacentre | None = None
    colleges: tuple[College, ...] = ()

    def plan_entry(self, role: str) -> VlanPlanEntry | None:
        return next((v for v in self.vlan_plan if v.role == role), None)

    @property
    def sites(self) -> tuple[Site, ...]:
        dc: tuple[Site, ...] = (self.datacentre,) if self.datacentre else ()
        return dc + self.colleges

    def site(self, slug: str) -> Site | None:
        return next((s for s in self.sites if s.slug == slug), None)

    def college(self, key: str) -> College | None:
        """A collège by slug or UAI."""
        return next((c for c in self.colleges if key in (c.slug, c.uai)), None)

    def site_vlans(self, site: Site) -> list[SiteVlan]:
        """The plan's VLANs that this site routes, with their prefixes (plan order)."""
        return [
            SiteVlan(role=e.role, vid=e.vid, name=e.name, prefix=site.prefixes[e.role])
            for e in self.vlan_plan
            if e.role in site.prefixes
        ]

    def all_devices(self) -> Iterator[tuple[Site, Device]]:
        for site in self.sites:
            for device in site.devices:
                yield site, device
