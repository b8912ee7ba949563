"""IP allocation for the file backend and the generator (NetBox does the same server-side).

netaddr does the arithmetic; this module only encodes the département's conventions:
collège containers from the collège supernet, VLAN prefixes packed inside a container, static
and reserved host addresses in the lower half of a VLAN, the DHCP pool in the upper half.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from netaddr import IPAddress, IPNetwork, IPSet

from preau.errors import BadInput
from preau.model.departement import VlanPlanEntry


class AddressSpaceExhausted(BadInput):
    """No free block of the requested size is left."""


def next_free_prefix(parent: IPNetwork, used: Iterable[IPNetwork], length: int) -> IPNetwork:
    """The lowest free /length inside `parent` that overlaps nothing in `used`."""
    if length < parent.prefixlen:
        raise AddressSpaceExhausted(f"a /{length} does not fit in {parent}")
    free = IPSet([parent]) - IPSet(used)
    # iter_cidrs() yields maximal aligned blocks in address order: the first one at least as
    # large as the request holds an aligned /length at its start.
    for block in free.iter_cidrs():
        if block.prefixlen <= length:
            return IPNetwork(f"{block.network}/{length}")
    raise AddressSpaceExhausted(f"no free /{length} left in {parent}")


def pack_vlan_prefixes(container: IPNetwork, plan: Sequence[VlanPlanEntry]) -> dict[str, IPNetwork]:
    """Carve one prefix per plan entry out of `container`, largest first so nothing is wasted."""
    used: list[IPNetwork] = []
    out: dict[str, IPNetwork] = {}
    for entry in sorted(plan, key=lambda e: (e.prefix_length, e.vid)):
        prefix = next_free_prefix(container, used, entry.prefix_length)
        used.append(prefix)
        out[entry.role] = prefix
    return {e.role: out[e.role] for e in plan}


def container_length(plan: Sequence[VlanPlanEntry]) -> int:
    """The smallest prefix length whose block holds every VLAN of the plan."""
    total = sum(2 ** (32 - e.prefix_length) for e in plan)
    length = 32
    while 2 ** (32 - length) < total:
        length -= 1
    return length


def gateway_address(prefix: IPNetwork) -> IPAddress:
    """By convention the router takes the first host of each VLAN."""
    return IPAddress(prefix.first + 1)


def static_hosts(prefix: IPNetwork) -> list[IPAddress]:
    """Addresses for static hosts and reservations: lower half, after the gateway."""
    half = prefix.first + prefix.size // 2
    return [IPAddress(a) for a in range(prefix.first + 2, half)]


def dhcp_pool(prefix: IPNetwork) -> tuple[IPAddress, IPAddress]:
    """The dynamic pool: the upper half, without the broadcast address."""
    return IPAddress(prefix.first + prefix.size // 2), IPAddress(prefix.last - 1)


def next_free_host(prefix: IPNetwork, used: Iterable[IPAddress]) -> IPAddress:
    """The lowest free static address of a VLAN."""
    taken = set(used)
    for addr in static_hosts(prefix):
        if addr not in taken:
            return addr
    raise AddressSpaceExhausted(f"no static address left in {prefix}")


def host_with_length(addr: IPAddress, prefix: IPNetwork) -> IPNetwork:
    """An interface address: the host with its VLAN's prefix length."""
    return IPNetwork(f"{addr}/{prefix.prefixlen}")
