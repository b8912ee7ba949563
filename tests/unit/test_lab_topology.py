"""The twin's topology is derived from the model: names, addresses, gateways, wiring (no I/O).

`dep` comes from tests/unit/conftest.py (data centre + 3 collèges of 10 PCs).
"""

from __future__ import annotations

import pytest
from netaddr import IPNetwork, IPSet

from preau.errors import BadInput
from preau.lab import topology
from preau.model import Departement
from preau.model.facts import gateway

TEST_RANGES = IPSet([IPNetwork("198.18.0.0/15"), IPNetwork("100.64.0.0/10")])


def test_default_is_the_first_college_with_dc_and_core(dep: Departement) -> None:
    plan = topology.plan(dep)
    first = dep.colleges[0]
    assert plan.colleges == (first.slug,)
    roles = sorted(h.role for h in plan.hosts if h.site == first.slug)
    assert roles == ["app-server", "file-server", "pc", "pc", "printer", "router"]
    assert {h.name for h in plan.hosts if h.site == dep.datacentre.slug} == {
        f"{dep.datacentre.slug}-rtr1",
        "ent-lb1",
        "ent-db1",
        "ent-app1",
    }
    assert plan.hosts[0].name == topology.CORE_NAME


def test_router_interfaces_keep_the_model_names_and_addresses(dep: Departement) -> None:
    plan = topology.plan(dep)
    college = dep.colleges[0]
    router = plan.host(college.router.name)
    model = {i.name: i.address for i in college.router.interfaces if i.address is not None}
    assert {n.ifname: n.address for n in router.nics} == model
    assert "lan0.20" in model and "lan0" not in model
    assert topology.interface_map(college.router)["lan0"] is None
    assert topology.interface_map(college.router)["lan0.20"] == "lan0.20"
    assert [(r.destination, r.via) for r in router.routes] == [
        ("default", college.circuit.core_address)
    ]


def test_hosts_route_through_their_vlan_gateway(dep: Departement) -> None:
    plan = topology.plan(dep)
    for host in plan.hosts:
        if host.is_router:
            continue
        site = dep.site(host.site)
        vlan = host.nics[0].vlan
        assert host.routes[0].via == gateway(site, vlan)
        assert host.nics[0].address == host.device.interfaces[0].address
        assert host.nics[0].mac == host.device.interfaces[0].mac


def test_core_has_one_uplink_per_site_and_routes_each_container(dep: Departement) -> None:
    chosen = [c.slug for c in dep.colleges[:2]]
    plan = topology.plan(dep, chosen)
    core = plan.host(topology.CORE_NAME)
    sites = [dep.datacentre, *dep.colleges[:2]]
    assert [n.address for n in core.nics] == [
        IPNetwork(f"{s.circuit.core_address}/31") for s in sites
    ]
    assert {(r.destination, r.via) for r in core.routes} == {
        (str(s.container), s.circuit.site_address) for s in sites
    }
    p2p = [w for w in plan.wires if w.peer_host == topology.CORE_NAME]
    assert sorted(w.peer_ifname for w in p2p) == sorted(n.ifname for n in core.nics)
    assert all(w.ifname == "wan0" for w in p2p)


def test_pcs_alternate_vlans(dep: Departement) -> None:
    plan = topology.plan(dep, pcs=3)
    vlans = [h.nics[0].vlan for h in plan.hosts_of(dep.colleges[0].slug, "pc")]
    assert vlans == ["teaching", "admin", "teaching"]


def test_kernel_names_fit_and_are_unique(dep: Departement) -> None:
    plan = topology.plan(dep, [c.slug for c in dep.colleges])
    bridges = [b.name for b in plan.bridges]
    ports = [w.port for w in plan.wires if w.port]
    ifnames = [n.ifname for h in plan.hosts for n in h.nics]
    for name in bridges + ports + ifnames:
        assert len(name) <= 15, name
    assert len(set(bridges)) == len(bridges)
    assert len(set(ports)) == len(ports)
    bridge_set = set(bridges)
    assert all(w.bridge in bridge_set for w in plan.wires if w.bridge)


def test_only_test_ranges(dep: Departement) -> None:
    plan = topology.plan(dep, [c.slug for c in dep.colleges])
    for host in plan.hosts:
        for nic in host.nics:
            assert nic.address is not None and nic.address.ip in TEST_RANGES, (host.name, nic)


def test_unknown_college_is_refused_by_name(dep: Departement) -> None:
    with pytest.raises(BadInput, match="--college clg-nope"):
        topology.plan(dep, ["clg-nope"])
    with pytest.raises(BadInput, match="cannot be negative"):
        topology.plan(dep, pcs=-1)


def test_college_by_uai(dep: Departement) -> None:
    second = dep.colleges[1]
    assert topology.plan(dep, [second.uai]).colleges == (second.slug,)


def test_egress_adds_a_way_out_through_the_core_only(dep: Departement) -> None:
    plain = topology.plan(dep)
    assert not plain.egress
    assert topology.EGRESS_CORE_IF not in {n.ifname for n in plain.host("thd-core").nics}
    plan = topology.plan(dep, egress=True)
    core = plan.host(topology.CORE_NAME)
    assert core.nic(topology.EGRESS_CORE_IF).address == topology.EGRESS_LINK
    routes = {(r.destination, r.via) for r in core.routes}
    assert ("default", topology.EGRESS_HOST_ADDRESS) in routes
    sites = [dep.datacentre, dep.colleges[0]]
    assert set(plan.routed) == {str(s.container) for s in sites} | {
        str(s.circuit.uplink) for s in sites
    }
    # nothing else changes: the other hosts are the same
    assert [h for h in plan.hosts if h.name != topology.CORE_NAME] == [
        h for h in plain.hosts if h.name != topology.CORE_NAME
    ]


def test_only_the_file_server_may_write_security_xattrs(dep: Departement) -> None:
    # an AD DC's sysvol ACLs are security.* xattrs: provisioning needs CAP_SYS_ADMIN
    plan = topology.plan(dep)
    caps = {h.role: h.caps for h in plan.hosts if h.site == dep.colleges[0].slug}
    assert "SYS_ADMIN" in caps["file-server"]
    assert "SYS_ADMIN" not in caps["app-server"] and caps["pc"] == ()
    fs = next(h for h in plan.hosts if h.role == "file-server")
    app = next(h for h in plan.hosts if h.role == "app-server")
    assert fs.spec_hash() != app.spec_hash()


def test_the_monitoring_host_runs_only_when_asked(dep: Departement) -> None:
    assert dep.datacentre is not None
    (mon,) = dep.datacentre.devices_by_role("monitoring")
    assert plan_names(topology.plan(dep)) & {mon.name} == set()
    plan = topology.plan(dep, monitoring=True)
    host = plan.host(mon.name)
    assert host is not None and host.image == "monitoring" and host.site == dep.datacentre.slug
    assert mon.primary_address is not None
    assert [n.address for n in host.nics] == [mon.primary_address]
    assert ("monitoring", True) in plan.options


def plan_names(plan: topology.LabPlan) -> set[str]:
    return {h.name for h in plan.hosts}
