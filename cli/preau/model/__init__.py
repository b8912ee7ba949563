"""The département as typed objects: no I/O, no NetBox, no files.

`departement` holds the objects, `addressing` the IP arithmetic (allocation), `facts` what
everyone derives from them (gateways, DHCP scopes, reservations), `uai` the school code check.
"""

from preau.model.departement import (
    DEVICE_ROLES,
    DHCP_VLAN_ROLES,
    VLAN_ROLES,
    Circuit,
    College,
    Datacentre,
    Departement,
    Device,
    Interface,
    Routing,
    Services,
    Site,
    SiteVlan,
    Supernets,
    VlanPlanEntry,
)

__all__ = [
    "DEVICE_ROLES",
    "DHCP_VLAN_ROLES",
    "VLAN_ROLES",
    "Circuit",
    "College",
    "Datacentre",
    "Departement",
    "Device",
    "Interface",
    "Routing",
    "Services",
    "Site",
    "SiteVlan",
    "Supernets",
    "VlanPlanEntry",
]
