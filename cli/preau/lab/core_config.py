"""Configs for what the twin adds around the model: the THD Seine core stand-in.

The provider runs the real core, so it is not in the source of truth; the twin still needs a
peer for each site router's BGP session (or OSPF adjacency), built from the same model. It
also stands in for the département's upstream resolvers (`services.upstream_dns`): it holds
their addresses and answers, for the twin, the names in `OUTSIDE_NAMES`.
"""

from __future__ import annotations

from collections.abc import Iterable

from preau.errors import BadInput
from preau.lab.topology import CORE_NAME, core_ifname
from preau.model import Departement, Site
from preau.render.device import Rendered, _render

# Names "outside" the département that the core's resolver answers in the twin (a name, an
# address the test can check): what the provider's resolvers would answer for the internet.
OUTSIDE_NAMES = {"www.outside.test": "198.19.253.80"}
CORE_RESOLVER = "etc/dnsmasq.d/preau.conf"


def render_core(dep: Departement, sites: Iterable[Site], name: str = CORE_NAME) -> Rendered:
    """frr.conf, daemons and the upstream resolver for the core stand-in."""
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
        "resolvers": [str(a) for a in dep.services.upstream_dns],
        "outside": [{"name": n, "address": a} for n, a in sorted(OUTSIDE_NAMES.items())],
    }
    out = {
        "etc/frr/frr.conf": _render("lab/core-frr.conf.j2", ctx),
        "etc/frr/daemons": _render("lab/core-daemons.j2", ctx),
    }
    if ctx["resolvers"]:
        out[CORE_RESOLVER] = _render("lab/core-dnsmasq.conf.j2", ctx)
    return out
