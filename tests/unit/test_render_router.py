"""The router's model-derived details: interface names refused before any shell, the data
centre's resolver forwarding to the département's upstream resolvers (files and NetBox)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from netaddr import IPAddress, IPNetwork

from preau.errors import ValidationFailed
from preau.model import Departement
from preau.render import render_device
from preau.render.ifnames import check_ifname, ifname_problem
from preau.sot import files
from preau.sot.generate import generate
from preau.sot.netbox_read import Snapshot, departement_fields
from preau.sot.netbox_schema import SUPERNET_ROLES
from preau.sot.netbox_write import context_data

REPO = Path(__file__).resolve().parents[2]
UPSTREAM = (IPAddress("100.127.53.53"), IPAddress("100.127.53.54"))


@pytest.mark.parametrize("name", ["wan0", "lan0.10", "eth0", "enp3s0f1", "br-lan_2", "a" * 15])
def test_linux_interface_names_pass(name: str) -> None:
    assert ifname_problem(name) is None
    assert check_ifname("r1", name) == name


@pytest.mark.parametrize(
    "name",
    ["", "a" * 16, "wan0; reboot", "lan 0", "-wan0", ".hidden", "eth0/1", "$(id)", "wän0", "a'b"],
)
def test_odd_interface_names_are_refused_naming_device_interface_and_field(name: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        check_ifname("clg-x-rtr1", name, "name")
    (problem,) = err.value.problems
    assert problem.obj == f"device clg-x-rtr1 interface {name!r}" and problem.field == "name"
    assert err.value.exit_code == 2


def _with_router_ifname(dep: Departement, old: str, new: str) -> Departement:
    site = dep.colleges[0]
    router = site.router
    assert router is not None
    itfs = tuple(
        replace(
            i, name=new if i.name == old else i.name, parent=new if i.parent == old else i.parent
        )
        for i in router.interfaces
    )
    devices = tuple(replace(d, interfaces=itfs) if d is router else d for d in site.devices)
    return replace(dep, colleges=(replace(site, devices=devices), *dep.colleges[1:]))


def test_a_router_with_an_unsafe_interface_name_is_not_rendered() -> None:
    dep = _with_router_ifname(generate(1), "wan0", "wan0;reboot")
    site = dep.colleges[0]
    assert site.router is not None
    with pytest.raises(ValidationFailed) as err:
        render_device(dep, site, site.router)
    assert [(p.field, p.obj) for p in err.value.problems] == [
        ("name", f"device {site.router.name} interface 'wan0;reboot'")
    ]


def test_an_unsafe_trunk_name_is_refused_on_the_trunk_and_on_each_member() -> None:
    dep = _with_router_ifname(generate(1), "lan0", "lan 0")
    site = dep.colleges[0]
    assert site.router is not None
    with pytest.raises(ValidationFailed) as err:
        render_device(dep, site, site.router)
    fields = [p.field for p in err.value.problems]
    members = [i for i in site.router.interfaces if i.parent == "lan 0"]
    assert fields == ["name"] + ["parent"] * len(members), err.value.problems
    assert members


def _with_upstream(dep: Departement) -> Departement:
    return replace(dep, services=replace(dep.services, upstream_dns=UPSTREAM))


def _servers(text: str) -> list[str]:
    """The resolvers everything goes to (not the per-zone `server=/zone/ip` forwards)."""
    return [
        line.split("=", 1)[1]
        for line in text.splitlines()
        if line.startswith("server=") and not line.startswith("server=/")
    ]


def test_a_college_router_forwards_its_ad_zone_to_the_dc_and_the_dc_forwards_to_it() -> None:
    from preau.inventory import build
    from preau.model.domain import college_domain

    dep = generate(1)
    college = dep.colleges[0]
    assert college.router is not None
    domain = college_domain(dep, college)
    assert domain is not None
    conf = render_device(dep, college, college.router)["etc/dnsmasq.d/preau.conf"]
    assert f"server=/{domain.dns_zone}/{domain.dc_address}" in conf.splitlines()
    # the data centre has no domain to forward
    assert dep.datacentre is not None and dep.datacentre.router is not None
    dc_conf = render_device(dep, dep.datacentre, dep.datacentre.router)["etc/dnsmasq.d/preau.conf"]
    assert "server=/" not in dc_conf
    # and the DC's forwarder (roles/file_server's default) is this router, on the servers VLAN
    site_vars = build(dep)["all"]["children"][college.slug.replace("-", "_")]["vars"]
    servers_gw = next(v["gateway"] for v in site_vars["preau_vlans"] if v["role"] == "servers")
    router_addrs = {str(i.address.ip) for i in college.router.interfaces if i.address is not None}
    assert servers_gw in router_addrs


def test_the_datacentre_resolver_forwards_to_the_upstream_resolvers_and_collèges_to_it() -> None:
    dep = _with_upstream(generate(1))
    dc, college = dep.datacentre, dep.colleges[0]
    assert dc is not None and dc.router is not None and college.router is not None
    dc_conf = render_device(dep, dc, dc.router)["etc/dnsmasq.d/preau.conf"]
    assert _servers(dc_conf) == [str(a) for a in UPSTREAM]
    clg_conf = render_device(dep, college, college.router)["etc/dnsmasq.d/preau.conf"]
    assert _servers(clg_conf) == [str(a) for a in dep.services.dns]  # the DC, never upstream
    # without upstream resolvers the data centre forwards nowhere (names outside fail)
    plain = generate(1)
    assert plain.datacentre is not None and plain.datacentre.router is not None
    assert _servers(render_device(plain, plain.datacentre, plain.datacentre.router)[
        "etc/dnsmasq.d/preau.conf"
    ]) == []  # fmt: skip


def test_upstream_dns_round_trips_through_the_files(tmp_path: Path) -> None:
    dep = _with_upstream(generate(1))
    files.dump(dep, tmp_path)
    raw = yaml.safe_load((tmp_path / "departement.yml").read_text())
    assert raw["services"]["upstream_dns"] == [str(a) for a in UPSTREAM]
    assert files.load(tmp_path).services == dep.services
    # and the shipped inventory declares it
    assert files.load(REPO / "inventory").services.upstream_dns


def test_upstream_dns_round_trips_through_the_netbox_config_context() -> None:
    dep = _with_upstream(generate(1))
    snap = Snapshot(
        catalogue={},
        tag_id=None,
        missing_fields=[],
        region={"slug": dep.slug, "name": dep.name},
        context={"data": context_data(dep)},
        top_prefixes=[
            {"prefix": str(getattr(dep.supernets, key)), "role": {"slug": role}}
            for key, role in SUPERNET_ROLES.items()
        ],
    )
    assert context_data(dep)["preau"]["services"]["upstream_dns"] == [str(a) for a in UPSTREAM]
    assert departement_fields(snap, "http://netbox.test")["services"] == dep.services


@pytest.mark.parametrize(
    ("value", "why"),
    [("100.127.53.53", "expected a list"), (["2001:db8::53"], "not an IPv4"), (["nope"], "")],
)
def test_bad_upstream_dns_is_refused_naming_the_field(
    tmp_path: Path, value: object, why: str
) -> None:
    files.dump(generate(1), tmp_path)
    path = tmp_path / "departement.yml"
    raw = yaml.safe_load(path.read_text())
    raw["services"]["upstream_dns"] = value
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValidationFailed) as err:
        files.load(tmp_path)
    (problem,) = err.value.problems
    assert (problem.obj, problem.field) == ("departement.services", "upstream_dns")
    assert why in problem.message and err.value.exit_code == 2


def test_supernet_roles_cover_the_model() -> None:
    assert set(SUPERNET_ROLES) == {"colleges", "datacentre", "uplinks"}
    assert isinstance(generate(1).supernets.colleges, IPNetwork)
