"""Facts derived from the model that every layer needs: one place, so they never disagree.

Gateways, DHCP scopes with their reservations, the boot and time servers a zone's lease names
(from the services' declarations). The network templates, the Ansible inventory and the lab
all read these.
"""

from __future__ import annotations

from dataclasses import dataclass

from netaddr import IPAddress

from preau.model import services
from preau.model.addressing import dhcp_pool, gateway_address
from preau.model.departement import DHCP_VLAN_ROLES, Departement, Device, Site, SiteVlan


@dataclass(frozen=True, slots=True)
class Reservation:
    """A fixed DHCP lease: this MAC always gets this address."""

    host: str
    mac: str
    address: IPAddress
    vlan: str


@dataclass(frozen=True, slots=True)
class DhcpScope:
    """What the router's DHCP server hands out on one VLAN."""

    vlan: SiteVlan
    gateway: IPAddress
    pool_start: IPAddress
    pool_end: IPAddress
    reservations: tuple[Reservation, ...]
    # The server the zone's PCs boot from (TFTP loader, then HTTP), if the zone may reach one.
    boot_server: IPAddress | None
    # The time server the lease names: the collège's own, where the zone may reach it.
    ntp_server: IPAddress | None


def gateway(site: Site, role: str) -> IPAddress:
    """The router's address on a VLAN: what its hosts use as default route."""
    prefix = site.prefixes[role]
    router = site.router
    if router is not None:
        for itf in router.interfaces:
            if itf.vlan == role and itf.address is not None:
                return IPAddress(itf.address.ip)
    return gateway_address(prefix)


def device_address(device: Device) -> IPAddress | None:
    """The device's first address, without its prefix length."""
    addr = device.primary_address
    return IPAddress(addr.ip) if addr is not None else None


def server_address(site: Site, role: str) -> IPAddress | None:
    """The address of the first device with this role (file-server, app-server...)."""
    for device in site.devices_by_role(role):
        addr = device_address(device)
        if addr is not None:
            return addr
    return None


def reservations(site: Site) -> list[Reservation]:
    """Every interface with a MAC and an address on a DHCP-served VLAN becomes a reservation."""
    out: list[Reservation] = []
    for device in site.devices:
        if device.role == "router":
            continue
        for itf in device.interfaces:
            if itf.mac and itf.address is not None and itf.vlan in DHCP_VLAN_ROLES:
                out.append(
                    Reservation(
                        host=device.name,
                        mac=itf.mac.lower(),
                        address=IPAddress(itf.address.ip),
                        vlan=itf.vlan,
                    )
                )
    return out


def dhcp_scopes(dep: Departement, site: Site) -> list[DhcpScope]:
    """One scope per DHCP-served VLAN of the site, with its reservations, boot and time server."""
    by_vlan: dict[str, list[Reservation]] = {}
    for res in reservations(site):
        by_vlan.setdefault(res.vlan, []).append(res)
    boot = server_address(site, services.TFTP.host_role)
    ntp = server_address(site, services.TIME.host_role)
    scopes = []
    for vlan in dep.site_vlans(site):
        if vlan.role not in DHCP_VLAN_ROLES:
            continue
        start, end = dhcp_pool(vlan.prefix)
        scopes.append(
            DhcpScope(
                vlan=vlan,
                gateway=gateway(site, vlan.role),
                pool_start=start,
                pool_end=end,
                reservations=tuple(by_vlan.get(vlan.role, ())),
                boot_server=boot if vlan.role in services.TFTP.zones else None,
                ntp_server=ntp if vlan.role in services.TIME.zones else None,
            )
        )
    return scopes
