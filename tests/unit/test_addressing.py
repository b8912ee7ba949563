"""The allocator: properties over random plans and occupied space."""

from hypothesis import assume, given
from hypothesis import strategies as st
from netaddr import IPAddress, IPNetwork, IPSet

from preau.model import VlanPlanEntry
from preau.model.addressing import (
    AddressSpaceExhausted,
    container_length,
    dhcp_pool,
    next_free_host,
    next_free_prefix,
    pack_vlan_prefixes,
    static_hosts,
)

SUPERNET = IPNetwork("198.18.0.0/16")


@st.composite
def occupied(draw):
    """Random prefixes already allocated inside the supernet."""
    nets = []
    for _ in range(draw(st.integers(0, 20))):
        length = draw(st.integers(17, 28))
        index = draw(st.integers(0, 2 ** (length - 16) - 1))
        nets.append(IPNetwork(f"{IPAddress(SUPERNET.first + index * 2 ** (32 - length))}/{length}"))
    return nets


@given(occupied(), st.integers(16, 30))
def test_next_free_prefix_is_free_aligned_and_lowest(used, length):
    try:
        got = next_free_prefix(SUPERNET, used, length)
    except AddressSpaceExhausted:
        # Then really no aligned block of that size is free.
        free = IPSet([SUPERNET]) - IPSet(used)
        assert all(c.prefixlen > length for c in free.iter_cidrs())
        return
    assert got.prefixlen == length
    assert got in SUPERNET
    assert got.network == got.ip  # aligned
    assert not (IPSet([got]) & IPSet(used))
    # Lowest: no free aligned block of that size starts before it.
    free = IPSet([SUPERNET]) - IPSet(used)
    first_fit = next(c for c in free.iter_cidrs() if c.prefixlen <= length)
    assert got.first == first_fit.first


@given(occupied(), st.integers(20, 28))
def test_repeated_allocation_never_overlaps(used, length):
    taken = list(used)
    for _ in range(5):
        try:
            p = next_free_prefix(SUPERNET, taken, length)
        except AddressSpaceExhausted:
            break
        assert not (IPSet([p]) & IPSet(taken))
        taken.append(p)


plans = st.lists(st.integers(22, 29), min_size=1, max_size=6).map(
    lambda lengths: [
        VlanPlanEntry(role=f"r{i}", vid=10 * (i + 1), name=f"V{i}", prefix_length=n)
        for i, n in enumerate(lengths)
    ]
)


@given(plans)
def test_pack_fits_plan_in_smallest_container(plan):
    length = container_length(plan)
    assume(length >= 16)
    container = IPNetwork(f"198.18.0.0/{length}")
    packed = pack_vlan_prefixes(container, plan)
    assert list(packed) == [e.role for e in plan]
    nets = list(packed.values())
    assert all(n in container for n in nets)
    assert IPSet(nets).size == sum(n.size for n in nets)  # no overlap


def test_pack_refuses_when_plan_does_not_fit():
    plan = [VlanPlanEntry(role="a", vid=1, name="A", prefix_length=24)] * 2
    try:
        pack_vlan_prefixes(IPNetwork("198.18.0.0/24"), plan)
    except AddressSpaceExhausted as exc:
        assert "/24" in str(exc)
    else:
        raise AssertionError("two /24 cannot fit in one /24")


@given(st.integers(22, 27))
def test_static_and_pool_halves_are_disjoint(length):
    prefix = IPNetwork(f"198.18.0.0/{length}")
    start, end = dhcp_pool(prefix)
    statics = static_hosts(prefix)
    assert statics[0] == prefix.network + 2  # gateway is .1
    assert statics[-1] < start <= end < prefix.broadcast
    assert next_free_host(prefix, statics[:3]) == statics[3]
