"""Each collège's AD domain, derived from the collège and the département (preau.model.domain)."""

import re
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from preau.errors import ValidationFailed
from preau.inventory import build, script_inventory
from preau.model import services
from preau.model.domain import (
    NETBIOS_MAX,
    college_domain,
    dns_name_problem,
    domain_problems,
    netbios_name,
)
from preau.render import render_device
from preau.sot.validate import problems


def _college(dep, index=0, **changes):
    colleges = list(dep.colleges)
    colleges[index] = replace(colleges[index], **changes)
    return replace(dep, colleges=tuple(colleges))


def test_domain_facts_follow_the_college_and_the_suffix(dep):
    c = dep.colleges[0]
    d = college_domain(dep, c)
    assert d is not None
    fs = c.devices_by_role("file-server")[0]
    assert d.dns_zone == f"ad.{c.slug}.{dep.services.domain}"
    assert d.realm == d.dns_zone.upper()
    assert d.netbios_domain == f"CLG{c.uai}"
    # the DC's name in its zone is its NetBIOS name (what Samba registers), cut to 15
    assert d.dc_host == d.dc_netbios_name.lower() and fs.name.startswith(d.dc_host)
    assert d.dc_fqdn == f"{d.dc_host}.{d.dns_zone}"
    assert str(d.dc_address) == str(fs.primary_address.ip)
    assert d.base_dn == ",".join(f"DC={x}" for x in d.dns_zone.split("."))
    assert len(d.dc_netbios_name) <= NETBIOS_MAX
    # two collèges never share a realm nor a NetBIOS domain
    others = [college_domain(dep, o) for o in dep.colleges[1:]]
    assert d.realm not in {o.realm for o in others if o}
    assert d.netbios_domain not in {o.netbios_domain for o in others if o}


def test_a_bad_suffix_is_one_problem_on_the_departement(dep):
    bad = replace(dep, services=replace(dep.services, domain="enc_test"))
    found = [p for p in problems(bad) if p.field == "domain"]
    assert [(p.obj, p.field) for p in found] == [("departement.services", "domain")]
    assert "'enc_test'" in found[0].message
    with pytest.raises(ValidationFailed, match="departement.services: domain: AD realms"):
        college_domain(bad, bad.colleges[0])


def test_a_slug_that_is_not_a_dns_label_names_the_slug(dep):
    # the slug pattern allows a trailing '-', a DNS label does not
    bad = _college(dep, 0, slug="clg-a-")
    found = domain_problems(bad, bad.colleges[0])
    assert ("college clg-a-", "slug") in [(p.obj, p.field) for p in found]


def test_a_college_without_file_server_has_no_domain(dep):
    c = dep.colleges[0]
    bare = _college(dep, 0, devices=tuple(d for d in c.devices if d.role != "file-server"))
    assert college_domain(bare, bare.colleges[0]) is None
    assert domain_problems(bare, bare.colleges[0]) == []


def test_inventory_carries_the_domain_and_where_the_accounts_live(dep):
    c = dep.colleges[0]
    college_vars = build(dep)["all"]["children"][c.slug.replace("-", "_")]["vars"]
    domain = college_domain(dep, c).to_dict()
    assert college_vars["preau_ad"] == domain
    assert college_vars["preau_directory"] == c.directory == "standalone"


def _served_ports(served) -> dict[tuple[str, int], list[str]]:
    return {(s["proto"], p): s["sources"] for s in served for p in s["ports"]}


def _opened_to(chain: str, addr: str) -> set[tuple[str, int]]:
    """The (protocol, port) pairs a router chain accepts toward ADDR."""
    out = set()
    rule = rf"ip daddr {{ {re.escape(addr)} }} (tcp|udp) dport (\d+|{{ [\d, ]+ }}) accept"
    for proto, ports in re.findall(rule, chain):
        out |= {(proto, int(p)) for p in re.findall(r"\d+", ports)}
    return out


DC_PORTS = {("udp", 53), ("tcp", 88), ("udp", 88), ("tcp", 464), ("tcp", 389), ("tcp", 636)}


def test_the_dc_ports_open_where_the_directory_is_ad_in_the_router_and_the_server_alike(dep):
    """One field, `directory`, decides both firewalls: the router's zones and the file server's
    own nftables (its preau_served) open the DC's ports, from the collège's user zones only."""
    ad_dep = _college(dep, 0, directory="ad")
    for d, is_dc in ((dep, False), (ad_dep, True)):
        c = d.colleges[0]
        (fs,) = c.devices_by_role("file-server")
        hostvars = script_inventory(d)["_meta"]["hostvars"][fs.name]
        served = _served_ports(hostvars["preau_served"])
        users = [str(c.prefixes[z]) for z in services.USER_ZONES if z in c.prefixes]
        assert c.router is not None
        nft = render_device(d, c, c.router)["etc/nftables.conf"]
        dc_addr = fs.primary_address.ip
        for zone in ("admin", "teaching", "wifi", "printers", "servers"):
            if zone not in c.prefixes:
                continue
            chain = nft.split(f"chain from_{zone} {{")[1].split("}\n")[0]
            opened = _opened_to(chain, str(dc_addr))
            for key in DC_PORTS:
                # DNS udp/53 to the file server: only the DC serves it
                assert (key in opened) == (is_dc and zone in services.USER_ZONES), (zone, key)
        # the router forwards the domain's zone to the DC: it asks from its address beside it
        (beside,) = [
            str(i.address.ip) + "/32"
            for i in c.router.interfaces
            if i.address is not None and fs.primary_address.ip in i.address.cidr
        ]
        for key in DC_PORTS:
            wanted = [*users, beside] if key[1] == 53 else users
            assert (served.get(key) == wanted) if is_dc else key not in served, key
        # the DC's samba is the SMB unit node_exporter watches there
        unit = services.DC_UNIT if is_dc else services.SMB.unit
        assert hostvars["preau_watched_units"] == [unit]
        assert hostvars.get("preau_directory", c.directory) == c.directory
    # SMB is the file server's in both kinds: declared once, in COLLEGE_SERVICES
    assert not {s.name for s in services.DC_SERVICES} & {s.name for s in services.COLLEGE_SERVICES}


def test_a_directory_that_is_neither_kind_names_the_college_and_the_field(dep):
    found = problems(_college(dep, 0, directory="ldap"))
    c = dep.colleges[0]
    assert [(p.obj, p.field) for p in found] == [(f"college {c.slug}", "directory")]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "empty"),
        ("local", "two labels"),
        ("ad..test", "label ''"),
        ("ad.-x.test", "label '-x'"),
        ("ad.x-.test", "label 'x-'"),
        ("ad.x_y.test", "label 'x_y'"),
        ("ad.example.123", "numeric"),
        ("a" * 64 + ".test", "label"),
        (".".join(["abcdefgh"] * 30), "at most 253"),
    ],
)
def test_dns_name_problems(name, why):
    problem = dns_name_problem(name)
    assert problem is not None and why in problem


@given(
    st.lists(
        st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True), min_size=2, max_size=5
    ).filter(lambda labels: not labels[-1].isdigit())
)
def test_well_formed_names_pass(labels):
    assert dns_name_problem(".".join(labels)) is None


@given(st.text(min_size=1, max_size=40))
def test_netbios_names_are_always_legal(host):
    name = netbios_name(host)
    assert len(name) <= NETBIOS_MAX
    assert all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in name)
    assert name == name.upper()
