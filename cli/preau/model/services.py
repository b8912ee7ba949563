"""Each collège service declared once: who serves it, on which ports, to which zones.

The router's zone firewall and DHCP options (render/), each server's own firewall and the
networks it answers (the inventory's role variables), the boot chain the app server installs
and the contract tests all derive from these declarations. Nothing else names a service port,
a boot file, the time source, an account group or the uplink's shaping class.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from netaddr import IPAddress, IPNetwork

from preau.model.departement import College, Departement, Site

Proto = Literal["tcp", "udp"]

# Zones whose people use the collège's servers: pupils and teachers, and the office staff.
USER_ZONES = ("admin", "teaching")


@dataclass(frozen=True, slots=True)
class Service:
    """One service a collège server offers: the role serving it, its ports, who may reach it."""

    name: str
    host_role: str
    proto: Proto
    ports: tuple[int, ...]
    zones: tuple[str, ...]
    why: str
    # Data-centre device roles allowed to reach the service from outside the collège, through
    # its uplink: their addresses come from the source of truth (`remote_sources`).
    remote_roles: tuple[str, ...] = ()
    # The systemd unit serving it: node_exporter reports its state, an alert fires when it stops.
    unit: str = ""
    # The collège router itself reaches it, from its address on the server's VLAN (its DNS
    # forwards the domain's zone to the DC).
    from_router: bool = False

    def sources(self, site: Site) -> list[IPNetwork]:
        """The prefixes of the site's zones allowed to reach this service (plan order), then the
        router's address beside the servers when it is a client."""
        out = [site.prefixes[z] for z in self.zones if z in site.prefixes]
        if self.from_router:
            out += router_beside(site, self.host_role)
        return out

    def remote_sources(self, dep: Departement) -> list[IPNetwork]:
        """The data-centre hosts allowed to reach it from outside the collège (/32 each)."""
        return remote_hosts(dep, self.remote_roles)


def router_beside(site: Site, role: str) -> list[IPNetwork]:
    """The site router's address (/32) on the VLAN of its devices of ROLE: where the traffic it
    sends them itself comes from."""
    router = site.router
    if router is None:
        return []
    servers = [d.primary_address for d in site.devices_by_role(role) if d.primary_address]
    return [
        IPNetwork(f"{i.address.ip}/32")
        for i in router.interfaces
        if i.address is not None and any(a.ip in i.address.cidr for a in servers)
    ]


def remote_hosts(dep: Departement, roles: tuple[str, ...]) -> list[IPNetwork]:
    """The addresses (/32) of the data centre's devices of these roles, in SoT order."""
    if dep.datacentre is None or not roles:
        return []
    out = []
    for device in dep.datacentre.devices:
        addr = device.primary_address
        if device.role in roles and addr is not None:
            out.append(IPNetwork(f"{addr.ip}/32"))
    return out


SMB = Service(
    "smb",
    "file-server",
    "tcp",
    (445,),
    (*USER_ZONES, "printers"),
    "SMB: homes, profiles and shares on the file server; printers scan to a folder",
    unit="smbd.service",
)
IPP = Service(
    "ipp",
    "app-server",
    "tcp",
    (631,),
    USER_ZONES,
    "IPP: printing through the print server",
    unit="cups.service",
)
TFTP = Service(
    "tftp",
    "app-server",
    "udp",
    (69,),
    USER_ZONES,
    "TFTP: the network boot loader",
    unit="tftpd-hpa.service",
)
HTTP_BOOT = Service(
    "http-boot",
    "app-server",
    "tcp",
    (80,),
    USER_ZONES,
    "HTTP: boot script, kernels and PC images",
    unit="nginx.service",
)
APT_PROXY = Service(
    "apt-proxy",
    "app-server",
    "tcp",
    (3142,),
    USER_ZONES,
    "apt proxy: PCs update through it",
    unit="apt-cacher-ng.service",
)
# The collège keeps its own time when its uplink is down (Kerberos refuses a skewed clock): the
# app server follows the département's servers and every DHCP zone that may reach it asks it.
NTP = Service(
    "ntp",
    "app-server",
    "udp",
    (123,),
    (*USER_ZONES, "printers"),
    "NTP: the collège's time source",
    unit="chrony.service",
)


# --- monitoring: every router and server is watched from the data centre -----------------------

# The data centre's monitoring host (Prometheus, Alertmanager, the blackbox exporter).
MONITORING_ROLE = "monitoring"
# The roles whose hosts run node_exporter and are Prometheus targets (routers and servers).
MONITORED_ROLES = ("router", "file-server", "app-server")
NODE_EXPORTER_PORT = 9100
# node_exporter answers the monitoring host only: no zone of the collège may read it (a pupil's
# PC is refused), the data centre's monitoring host reaches it through the uplink.
NODE_EXPORTERS: tuple[Service, ...] = tuple(
    Service(
        "node-exporter",
        role,
        "tcp",
        (NODE_EXPORTER_PORT,),
        (),
        "node_exporter: the data centre's monitoring host reads this host's metrics",
        remote_roles=(MONITORING_ROLE,),
    )
    for role in MONITORED_ROLES
)

# The ENT's load balancer publishes HAProxy's own Prometheus exporter (request rate, errors,
# response times per instance); roles/ent_portal binds it (ent_portal_stats_bind).
ENT_METRICS = Service(
    "haproxy-metrics",
    "load-balancer",
    "tcp",
    (8404,),
    (),
    "HAProxy /metrics: the ENT's request rate, errors and response times",
    remote_roles=(MONITORING_ROLE,),
)

COLLEGE_SERVICES: tuple[Service, ...] = (SMB, IPP, TFTP, HTTP_BOOT, APT_PROXY, NTP, *NODE_EXPORTERS)
TIME = NTP


# The collège router's own daemons (deploys/net.py starts them): routing to the core (FRR), and
# DHCP and DNS for every zone (dnsmasq). The desk is told when one stops.
ROUTER_UNITS = ("frr.service", "dnsmasq.service")


def college_services(college: College) -> tuple[Service, ...]:
    """Every service the collège's devices offer: every collège's, and its DC's where its
    accounts are in its AD domain (then SMB is the DC's own samba, not smbd)."""
    if college.directory != "ad":
        return COLLEGE_SERVICES
    dc_smb = replace(SMB, unit=DC_UNIT)
    return (*(dc_smb if s is SMB else s for s in COLLEGE_SERVICES), *DC_SERVICES)


def watched_units(role: str, college: College) -> list[str]:
    """The systemd units a device of this role runs for its services (watched by node_exporter)."""
    own = list(ROUTER_UNITS) if role == "router" else []
    return own + [s.unit for s in served_by(role, college) if s.unit]


def served_by(role: str, college: College) -> list[Service]:
    """The services the collège's devices of this role offer."""
    return [s for s in college_services(college) if s.host_role == role]


def offered_to(zone: str, college: College) -> list[Service]:
    """The services the collège's hosts in this zone may reach."""
    return [s for s in college_services(college) if zone in s.zones]


def servers(site: Site, service: Service) -> list[IPAddress]:
    """The addresses the site serves this service from (its devices of the host role)."""
    out = []
    for device in site.devices_by_role(service.host_role):
        addr = device.primary_address
        if addr is not None:
            out.append(IPAddress(addr.ip))
    return out


# --- the collège's AD domain controller ------------------------------------------------------

# What the file server serves besides SMB when it is the collège's DC (a collège whose directory
# is "ad": roles/file_server with file_server_domain: ad): a PC joins the domain, finds the DC by
# DNS (SRV records), gets its tickets, reads the directory. `college_services` adds them for
# such a collège: the router's zones and the file server's own firewall open them, to the
# collège's user zones only.
DC_UNIT = "samba-ad-dc.service"
DC_SERVICES: tuple[Service, ...] = (
    # the router's dnsmasq forwards the domain's zone to the DC: PCs ask the router, the router
    # asks the DC from its own address beside it
    Service(
        "dc-dns",
        "file-server",
        "udp",
        (53,),
        USER_ZONES,
        "DNS: the domain's zone, SRV records",
        from_router=True,
    ),
    Service(
        "dc-dns-tcp",
        "file-server",
        "tcp",
        (53,),
        USER_ZONES,
        "DNS over TCP (large answers)",
        from_router=True,
    ),
    Service(
        "kerberos", "file-server", "udp", (88, 464), USER_ZONES, "Kerberos tickets, password change"
    ),
    Service("kerberos-tcp", "file-server", "tcp", (88, 464), USER_ZONES, "Kerberos over TCP"),
    Service(
        "ldap",
        "file-server",
        "tcp",
        (389, 636, 3268, 3269),
        USER_ZONES,
        "LDAP, LDAPS and the global catalog (with and without TLS)",
    ),
    Service(
        "cldap", "file-server", "udp", (389,), USER_ZONES, "CLDAP: the DC locator (netlogon ping)"
    ),
    Service("rpc-epmap", "file-server", "tcp", (135,), USER_ZONES, "RPC endpoint mapper (joins)"),
)
# Not opened: Samba's `rpc server dynamic port range` (49152-65535, its default), which the
# endpoint mapper hands out. A Windows PC's join and group policies need it; Linux clients
# (sssd, winbind) do not.


# --- the network boot chain ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BootChain:
    """DHCP names a loader, TFTP serves it, the loader asks DHCP again and chains over HTTP.

    The loaders are the ones Debian's `ipxe` package ships. iPXE identifies itself in DHCP with
    the user class `iPXE`; the router answers it with the script's URL instead of the loader,
    so a PC never loops on loading the loader.
    """

    bios_loader: str = "undionly.kpxe"
    uefi_loader: str = "ipxe.efi"
    ipxe_user_class: str = "iPXE"
    script: str = "boot.ipxe"
    # the menu of published PC images the script chains to (`preau image publish` writes it)
    menu: str = "published.ipxe"
    # where the script and the images live on the boot HTTP server
    http_dir: str = "/boot"
    # under http_dir: the collège's client configuration a booted PC installs (its index)
    client_dir: str = "client"

    @property
    def loaders(self) -> tuple[str, str]:
        return (self.bios_loader, self.uefi_loader)

    def script_url(self, server: IPAddress) -> str:
        port = HTTP_BOOT.ports[0]
        host = str(server) if port == 80 else f"{server}:{port}"
        return f"http://{host}{self.http_dir}/{self.script}"


BOOT = BootChain()


# --- accounts: the groups the file server and the PCs share ----------------------------------

# One group per roster profile; a class's pupils and its teaching team get one group each.
PROFILE_GROUPS = {"eleve": "eleves", "enseignant": "enseignants", "personnel": "personnels"}
CLASS_GROUP_PREFIX = "classe-"
TEAM_GROUP_PREFIX = "profs-"


# --- the uplink's shaping ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShapingClass:
    """The HTB class the uplink's commit rate lives in: the router's script creates it and
    `preau net bandwidth` changes it live."""

    root: str
    classid: str

    @property
    def minor(self) -> str:
        """The class's minor number: what the root qdisc's `default` names."""
        return self.classid.partition(":")[2]


UPLINK_SHAPING = ShapingClass(root="1:", classid="1:10")
