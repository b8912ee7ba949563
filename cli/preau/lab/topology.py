"""The twin's topology, derived from the source of truth: which hosts, which wires, which addresses.

Pure data, no I/O: `plan(dep, ...)` turns a `Departement` into a `LabPlan`, and `twin.py`
makes the machine match it. Nothing here is a second hand-written topology: every address,
prefix, gateway and MAC comes from the model (`preau.model.facts` for gateways).

How the twin stands in for a collège (this kernel has no 802.1Q, see lab/README.md):

- **One L2 segment per VLAN.** Each (site, VLAN) is a Linux bridge inside one dedicated
  network namespace, the *lab switch* (`SWITCH_NETNS`). Hosts are plugged into it with veth
  pairs, so the host machine's own interfaces and firewall never see lab traffic and
  `lab down` removes every bridge at once by deleting the namespace.
- **Router interfaces keep the model's names.** A collège router in production has `wan0`,
  a trunk `lan0` and 802.1Q sub-interfaces `lan0.<vid>`. In the twin, `lan0.<vid>` is a plain
  veth *named* `lan0.<vid>` (a dot is legal in a Linux interface name) plugged into that VLAN's
  bridge, and `lan0` does not exist. So FRR, nftables, dnsmasq and tc configurations rendered
  for production apply unchanged; only the netdev definitions that create 802.1Q
  sub-interfaces must be skipped in the lab. `interface_map()` states the mapping as data.
- **Uplinks are point-to-point veth pairs** between the site router's `wan0` and the core
  (`CORE_NAME`), on the circuit's /31: core side first address, site side second.
- **The THD Seine core** is not a device of the source of truth (the provider runs it); the
  twin adds it as one router container with one interface per site (`core_ifname(site)`).

Container names are `preau-lab-<device name>`, hostnames the device names.

Instances: everything a lab owns lives in its own namespaces, so two labs with the same
addresses can run side by side; only names must differ. `PREAU_LAB_INSTANCE=<id>` (a few
lowercase letters or digits) prefixes container names (`preau-lab-<id>-<device>`), the switch
namespace (`preau-lab-<id>-sw`), the label value, the lock and the state file. The default
instance keeps the plain names. `--egress` touches the machine itself: default instance only.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field

from netaddr import IPAddress, IPNetwork

from preau.errors import BadInput
from preau.model import College, Departement, Device, Site
from preau.model.facts import gateway

# The default instance's names; use switch_netns() and container_name(), which follow the instance.
SWITCH_NETNS = "preau-lab-sw"
CONTAINER_PREFIX = "preau-lab-"
_INSTANCE = re.compile(r"^[a-z0-9]{1,8}$")
CORE_NAME = "thd-core"
# Optional way out (`up --egress`): a veth from the machine to the core, on a /31 of the
# shared range that the model never allocates (its uplinks come from 100.64.0.0/16).
EGRESS_HOST_IF = "plx-core"
EGRESS_CORE_IF = "inet0"
EGRESS_LINK = IPNetwork("100.127.255.255/31")
EGRESS_HOST_ADDRESS = IPAddress("100.127.255.254")
EGRESS_NFT_TABLE = "preau_lab"
# podman labels on every lab container: `down` and `status` find the lab through them alone.
LABEL = "preau.lab"
LABEL_SITE = "preau.site"
LABEL_COLLEGE = "preau.college"
LABEL_DEVICE = "preau.device"
LABEL_ROLE = "preau.role"
LABEL_IMAGE = "preau.image"
LABEL_SPEC = "preau.spec"

# Which lab image plays which device role (images built by `preau lab image build`).
IMAGE_FOR_ROLE = {
    "router": "router",
    "core": "router",
    # the server image plus samba-ad-dc: the file server may be the collège's AD DC
    "file-server": "dc",
    "app-server": "server",
    "pc": "pc",
    # an IPP Everywhere printer (ippeveprinter) from boot, as roles/app_server's queues expect
    "printer": "printer",
    "display": "base",
    "load-balancer": "ent",
    "portal-app": "ent",
    "database": "ent",
    # Prometheus, Alertmanager, the exporters (lab/images/monitoring)
    "monitoring": "monitoring",
}
ROUTER_ROLES = ("router", "core")
# FRR's zebra and bgpd refuse to start without CAP_SYS_ADMIN (they keep it for netns/VRF
# handling); NET_ADMIN and NET_RAW let nftables, tc and the routing daemons manage interfaces.
ROUTER_CAPS = ("NET_ADMIN", "NET_RAW", "SYS_ADMIN")
# roles/common loads each server's own nftables firewall (as its molecule scenario does).
SERVER_CAPS = ("NET_ADMIN",)
# The file server may be the collège's AD DC (roles/file_server, file_server_domain: ad): Samba
# stores the sysvol's NT ACLs in security.* extended attributes, which the kernel lets only a
# process with CAP_SYS_ADMIN write; without it `samba-tool domain provision` fails with
# "set_nt_acl_no_snum: fset_nt_acl returned NT_STATUS_ACCESS_DENIED" (lab/README.md).
FILE_SERVER_CAPS = (*SERVER_CAPS, "SYS_ADMIN")
SERVER_ROLES = ("file-server", "app-server")
DATACENTRE_ROLES = ("load-balancer", "database", "portal-app")
# HAProxy sizes its file descriptors from its maxconn and refuses to start under 1024 (the
# lab's default, lab/containers.conf); the ENT hosts get what the role's molecule platforms get.
DATACENTRE_ULIMITS = ("nofile=4096:4096", "nproc=4096:4096")
# samba-ad-dc.service sets LimitNOFILE=16384; systemd cannot raise it past the container's hard
# limit (no CAP_SYS_RESOURCE here) and the unit would fail: the file server gets that limit.
FILE_SERVER_ULIMITS = ("nofile=16384:16384", "nproc=4096:4096")


@dataclass(frozen=True, slots=True)
class Nic:
    """One interface inside a lab host."""

    ifname: str
    address: IPNetwork | None
    # The model interface it stands for (None for the core, which the model does not hold).
    model_name: str | None = None
    mac: str | None = None
    vlan: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """A static route of the baseline: `destination` is 'default' or a prefix."""

    destination: str
    via: IPAddress


@dataclass(frozen=True, slots=True)
class Bridge:
    """One VLAN of one site: a bridge in the lab switch namespace."""

    name: str
    site: str
    vlan: str
    vid: int
    prefix: IPNetwork


@dataclass(frozen=True, slots=True)
class Wire:
    """A veth pair. The `host` end is `ifname` in that container; the other end is either
    `port` on `bridge` in the switch namespace, or `peer_ifname` in container `peer_host`."""

    host: str
    ifname: str
    bridge: str | None = None
    port: str | None = None
    peer_host: str | None = None
    peer_ifname: str | None = None


@dataclass(frozen=True)
class LabHost:
    """One container of the twin."""

    name: str
    site: str
    role: str
    image: str
    nics: tuple[Nic, ...]
    routes: tuple[Route, ...] = ()
    college: str | None = None
    device: Device | None = field(default=None, compare=False)

    @property
    def container(self) -> str:
        return container_name(self.name)

    @property
    def is_router(self) -> bool:
        return self.role in ROUTER_ROLES

    @property
    def caps(self) -> tuple[str, ...]:
        """Capabilities added to the container."""
        if self.is_router:
            return ROUTER_CAPS
        if self.role == "file-server":
            return FILE_SERVER_CAPS
        return SERVER_CAPS if self.role in SERVER_ROLES else ()

    @property
    def ulimits(self) -> tuple[str, ...]:
        """Limits other than the lab's default ones."""
        if self.role == "file-server":
            return FILE_SERVER_ULIMITS
        return DATACENTRE_ULIMITS if self.role in DATACENTRE_ROLES else ()

    def nic(self, ifname: str) -> Nic | None:
        return next((n for n in self.nics if n.ifname == ifname), None)

    @property
    def address(self) -> IPAddress | None:
        """The host's main address (its first NIC's)."""
        return next((IPAddress(n.address.ip) for n in self.nics if n.address), None)

    def spec_hash(self) -> str:
        """A digest of what the container is created with; a change means recreate."""
        caps = ",".join(self.caps)
        spec = f"{self.name}|{self.image}|{self.role}|{caps}"
        if self.ulimits:  # only then: the other hosts keep their hash, so no recreate
            spec += "|" + ",".join(self.ulimits)
        return hashlib.sha256(spec.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class LabPlan:
    """Everything the twin is made of, for the chosen collèges."""

    departement: str
    colleges: tuple[str, ...]
    hosts: tuple[LabHost, ...]
    bridges: tuple[Bridge, ...]
    wires: tuple[Wire, ...]
    # egress: the machine routes `routed` (site containers, uplinks) to the core, masquerades them
    egress: bool = False
    routed: tuple[str, ...] = ()
    # what it was planned with, so `inventory` and `status` can describe the same lab later
    options: tuple[tuple[str, int], ...] = ()

    def host(self, name: str) -> LabHost:
        for h in self.hosts:
            if name in (h.name, h.container):
                return h
        raise BadInput(f"lab host {name!r}: not in the twin (known: {', '.join(self.names)})")

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.hosts]

    def hosts_of(self, site: str, role: str | None = None) -> list[LabHost]:
        return [h for h in self.hosts if h.site == site and (role is None or h.role == role)]


def instance() -> str:
    """`PREAU_LAB_INSTANCE`, or '' for the default lab."""
    value = os.environ.get("PREAU_LAB_INSTANCE", "")
    if value and not _INSTANCE.match(value):
        raise BadInput(f"PREAU_LAB_INSTANCE={value!r}: use 1-8 lowercase letters or digits")
    return value


def prefix() -> str:
    """`preau-lab-` or `preau-lab-<instance>-`: what every name of this lab starts with."""
    inst = instance()
    return f"{CONTAINER_PREFIX}{inst}-" if inst else CONTAINER_PREFIX


def label_value() -> str:
    """The value of the `preau.lab` label on this lab's containers."""
    return instance() or "1"


def switch_netns() -> str:
    return f"{prefix()}sw"


def container_name(host: str) -> str:
    return f"{prefix()}{host}"


def _short(*parts: str, n: int = 8) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:n]


def bridge_name(site: str, vid: int) -> str:
    """`plb<hash>-<vid>`: 15 characters at most, the kernel's limit, stable for a (site, VLAN)."""
    return f"plb{_short(site, n=6)}-{vid}"


def port_name(host: str, ifname: str) -> str:
    """The switch-side end of a host's veth: `plp<hash>`."""
    return f"plp{_short(host, ifname, n=10)}"


def core_ifname(site: Site) -> str:
    """The core's interface towards a site: `c-<uai>` for a collège, `c-dc` for the data centre."""
    if isinstance(site, College):
        return f"c-{site.uai.lower()}"
    return "c-dc"


def interface_map(device: Device) -> dict[str, str | None]:
    """Model interface name -> interface name inside the lab container (None: absent in the lab).

    Identity for every addressed interface; the 802.1Q trunk parent (`lan0`) has no lab
    counterpart because each `lan0.<vid>` is its own veth on its own bridge.
    """
    out: dict[str, str | None] = {}
    parents = {i.parent for i in device.interfaces if i.parent}
    for itf in device.interfaces:
        out[itf.name] = None if itf.name in parents else itf.name
    return out


def _pick_pcs(site: Site, count: int) -> list[Device]:
    """`count` PCs, alternating VLANs (teaching first, then admin...) so both zones are present."""
    by_vlan: dict[str, list[Device]] = {}
    for dev in site.devices_by_role("pc"):
        vlan = next((i.vlan for i in dev.interfaces if i.vlan), None)
        if vlan is not None:
            by_vlan.setdefault(vlan, []).append(dev)
    order = sorted(by_vlan, key=lambda v: (v != "teaching", v))
    picked: list[Device] = []
    while len(picked) < count and any(by_vlan.values()):
        for vlan in order:
            if by_vlan[vlan] and len(picked) < count:
                picked.append(by_vlan[vlan].pop(0))
    return picked


def _host_nics(device: Device) -> tuple[Nic, ...]:
    return tuple(
        Nic(ifname=i.name, address=i.address, model_name=i.name, mac=i.mac, vlan=i.vlan)
        for i in device.interfaces
        if i.address is not None and not i.mgmt_only
    )


def _site_hosts(
    dep: Departement, site: Site, devices: list[Device]
) -> tuple[list[LabHost], list[Bridge], list[Wire]]:
    """The router and the chosen devices of one site, wired to the site's VLAN bridges."""
    router = site.router
    if router is None:
        raise BadInput(f"site {site.slug}: devices: no device with role 'router'")
    if site.circuit is None:
        raise BadInput(f"site {site.slug}: circuit: the twin needs the site's uplink")
    college = site.slug if isinstance(site, College) else None
    bridges = {
        v.role: Bridge(bridge_name(site.slug, v.vid), site.slug, v.role, v.vid, v.prefix)
        for v in dep.site_vlans(site)
    }
    hosts: list[LabHost] = []
    wires: list[Wire] = []
    router_nics = []
    for itf in router.interfaces:
        if itf.address is None:
            continue
        router_nics.append(Nic(itf.name, itf.address, itf.name, itf.mac, itf.vlan))
        if itf.vlan is not None:
            bridge = bridges.get(itf.vlan)
            if bridge is None:
                raise BadInput(
                    f"device {router.name}: interface {itf.name}: VLAN {itf.vlan!r} "
                    f"has no prefix at site {site.slug}"
                )
            wires.append(Wire(router.name, itf.name, bridge.name, port_name(router.name, itf.name)))
    wan = router.interface("wan0")
    if wan is None or wan.address is None:
        raise BadInput(f"device {router.name}: interfaces: the twin needs an addressed wan0")
    wires.append(Wire(router.name, "wan0", peer_host=CORE_NAME, peer_ifname=core_ifname(site)))
    hosts.append(
        LabHost(
            name=router.name,
            site=site.slug,
            role="router",
            image=IMAGE_FOR_ROLE["router"],
            nics=tuple(router_nics),
            routes=(Route("default", site.circuit.core_address),),
            college=college,
            device=router,
        )
    )
    for dev in devices:
        nics = _host_nics(dev)
        if not nics:
            raise BadInput(f"device {dev.name}: interfaces: no addressed interface for the twin")
        routes = []
        for nic in nics:
            if nic.vlan is None or nic.vlan not in bridges:
                raise BadInput(
                    f"device {dev.name}: interface {nic.ifname}: VLAN {nic.vlan!r} "
                    f"has no prefix at site {site.slug}"
                )
            wires.append(
                Wire(dev.name, nic.ifname, bridges[nic.vlan].name, port_name(dev.name, nic.ifname))
            )
        first = nics[0]
        assert first.vlan is not None
        routes.append(Route("default", gateway(site, first.vlan)))
        image = IMAGE_FOR_ROLE.get(dev.role)
        if image is None:
            raise BadInput(f"device {dev.name}: role: {dev.role!r} has no lab image")
        hosts.append(
            LabHost(
                name=dev.name,
                site=site.slug,
                role=dev.role,
                image=image,
                nics=nics,
                routes=tuple(routes),
                college=college,
                device=dev,
            )
        )
    return hosts, list(bridges.values()), wires


def plan(
    dep: Departement,
    colleges: list[str] | None = None,
    pcs: int = 2,
    printers: int = 1,
    ent_apps: int = 1,
    egress: bool = False,
    monitoring: bool = False,
) -> LabPlan:
    """The twin for `colleges` (slugs or UAIs; default: the first collège of the département).

    With `egress`, the core also gets `EGRESS_CORE_IF` towards the machine, which routes and
    masquerades lab traffic to the outside (the Debian mirror, for roles that install packages).
    With `monitoring`, the data centre's monitoring host runs too (off by default: it costs a
    container and an image most lab sessions do not need).
    """
    if pcs < 0 or printers < 0 or ent_apps < 0:
        raise BadInput("--pcs, --printers, --ent-apps: counts cannot be negative")
    if not dep.colleges:
        raise BadInput(f"département {dep.slug}: colleges: none to build a twin of")
    chosen: list[College] = []
    for key in colleges or [dep.colleges[0].slug]:
        college = dep.college(key)
        if college is None:
            known = ", ".join(c.slug for c in dep.colleges[:8])
            raise BadInput(f"--college {key}: no collège with this slug or UAI (e.g. {known})")
        if college not in chosen:
            chosen.append(college)
    hosts: list[LabHost] = []
    bridges: list[Bridge] = []
    wires: list[Wire] = []
    sites: list[Site] = []
    if dep.datacentre is not None:
        dc = dep.datacentre
        ent = dc.devices_by_role("load-balancer") + dc.devices_by_role("database")
        ent += dc.devices_by_role("portal-app")[:ent_apps]
        if monitoring:
            ent += dc.devices_by_role("monitoring")
        h, b, w = _site_hosts(dep, dc, ent)
        hosts += h
        bridges += b
        wires += w
        sites.append(dc)
    for college in chosen:
        devs = [*college.devices_by_role("file-server"), *college.devices_by_role("app-server")]
        devs += _pick_pcs(college, pcs)
        devs += college.devices_by_role("printer")[:printers]
        h, b, w = _site_hosts(dep, college, devs)
        hosts += h
        bridges += b
        wires += w
        sites.append(college)
    core_nics = []
    core_routes = []
    for site in sites:
        assert site.circuit is not None
        core_nics.append(
            Nic(
                core_ifname(site),
                IPNetwork(f"{site.circuit.core_address}/{site.circuit.uplink.prefixlen}"),
                None,
            )
        )
        core_routes.append(Route(str(site.container), site.circuit.site_address))
    if egress and instance():
        raise BadInput("--egress: only the default lab instance (PREAU_LAB_INSTANCE unset)")
    if egress:
        clash = [
            s.slug
            for s in sites
            if s.container == EGRESS_LINK
            or (s.circuit and s.circuit.uplink == EGRESS_LINK)
            or EGRESS_LINK in s.container
        ]
        if clash:
            raise BadInput(
                f"site {clash[0]}: prefixes: overlaps the lab's egress link {EGRESS_LINK.cidr}; "
                "run without --egress"
            )
        core_nics.append(Nic(EGRESS_CORE_IF, EGRESS_LINK, None))
        core_routes.append(Route("default", EGRESS_HOST_ADDRESS))
    hosts.insert(
        0,
        LabHost(
            name=CORE_NAME,
            site="thd-seine",
            role="core",
            image=IMAGE_FOR_ROLE["core"],
            nics=tuple(core_nics),
            routes=tuple(core_routes),
        ),
    )
    return LabPlan(
        departement=dep.slug,
        colleges=tuple(c.slug for c in chosen),
        hosts=tuple(hosts),
        bridges=tuple(bridges),
        wires=tuple(wires),
        egress=egress,
        options=(
            ("pcs", pcs),
            ("printers", printers),
            ("ent_apps", ent_apps),
            *((("monitoring", True),) if monitoring else ()),
        ),
        routed=tuple(
            [
                *(str(s.container) for s in sites),
                *(str(s.circuit.uplink) for s in sites if s.circuit),
            ]
        ),
    )
