"""Each collège's AD domain, derived from the collège and the département (preau.model.domain)."""

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from preau.errors import ValidationFailed
from preau.inventory import build
from preau.model import services
from preau.model.domain import (
    NETBIOS_MAX,
    college_domain,
    dns_name_problem,
    domain_problems,
    netbios_name,
)
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
    assert d.dc_host == fs.name
    assert d.dc_fqdn == f"{fs.name}.{d.dns_zone}"
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


def test_inventory_carries_the_domain_and_the_dc_services(dep):
    c = dep.colleges[0]
    ad = build(dep)["all"]["children"][c.slug.replace("-", "_")]["vars"]["preau_ad"]
    domain = college_domain(dep, c).to_dict()
    assert {k: ad[k] for k in domain} == domain
    ports = {(s["proto"], p) for s in ad["dc_services"] for p in s["ports"]}
    assert {
        ("udp", 53),
        ("tcp", 88),
        ("udp", 88),
        ("tcp", 464),
        ("tcp", 389),
        ("tcp", 636),
    } <= ports
    # from the client zones only, as the services declare them
    users = [str(c.prefixes[z]) for z in services.USER_ZONES if z in c.prefixes]
    assert all(s["sources"] == users for s in ad["dc_services"])
    # SMB is the file server's in both kinds: declared once, in COLLEGE_SERVICES
    assert services.SMB in services.served_by("file-server")
    assert not {s.name for s in services.DC_SERVICES} & {s.name for s in services.COLLEGE_SERVICES}
    assert ad["dc_rpc_range"] == [49152, 65535]


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
