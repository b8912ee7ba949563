"""Configs for what the twin adds around the model: the THD Seine core stand-in.

The provider runs the real core, so it is not in the source of truth; the twin still needs a
peer for each site router's BGP session (or OSPF adjacency), built from the same model.
"""

from __future__ import annotations

from collections.abc import Iterable

from preau.errors import BadInput
from preau.lab.topology import core_ifname
from preau.model import Departement, Site
from preau.render.device import Rendered, _render


def render_core(dep: Departement, sites: Iterable[Site], name: str = "thd-core") -> Rendered:
    """frr.conf and daemons for the core stand-in, peering with each site's router."""
    sites = list(sites)
    peers = []
    for site in sites:
        if site.circuit is None:
            raise BadInput(f"site {site.slug}: circuit: the core peers over the site's uplink")
        peers.append(
            {
                "site": site.slug,
                "address": str(site.circuit.site_address),
                "asn": site.asn,
                "ifname": core_ifname(site),
            }
        )
    first = min((s.circuit.core_address for s in sites if s.circuit), default=None)
    if first is None:
        raise BadInput("the core needs at least one site to peer with")
    ctx = {
        "name": name,
        "core_name": dep.routing.core_name,
        "protocol": dep.routing.protocol,
        "asn": dep.routing.core_asn,
        "router_id": str(first),
        "peers": peers,
    }
    return {
        "etc/frr/frr.conf": _render("lab/core-frr.conf.j2", ctx),
        "etc/frr/daemons": _render("lab/core-daemons.j2", ctx),
    }
