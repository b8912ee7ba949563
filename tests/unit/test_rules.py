"""The model's rules (preau.model.rules through preau.sot.validate), the uplink convention, the
files' schema and `college add` on an onboarded collège."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from netaddr import IPAddress, IPNetwork

from preau.errors import BadInput, ValidationFailed
from preau.model import Circuit, Departement, Device, Interface
from preau.render import render_site
from preau.sot import files
from preau.sot.filesource import FileSource
from preau.sot.layout import CollegeSpec, OnboardedDifferently, rerun
from preau.sot.netbox_read import Snapshot, departement_fields
from preau.sot.validate import problems

REPO = Path(__file__).resolve().parents[2]


def found(dep: Departement) -> set[tuple[str, str]]:
    return {(p.obj, p.field) for p in problems(dep)}


def with_site_devices(dep: Departement, index: int, devices: list[Device]) -> Departement:
    colleges = list(dep.colleges)
    colleges[index] = replace(colleges[index], devices=tuple(devices))
    return replace(dep, colleges=tuple(colleges))


def router_with(dep: Departement, index: int, role: str, **changes) -> Departement:
    """The collège's router with the interface on VLAN `role` changed (or removed: None)."""
    c = dep.colleges[index]
    devices = list(c.devices)
    r = next(i for i, d in enumerate(devices) if d.role == "router")
    itfs = []
    for itf in devices[r].interfaces:
        if itf.vlan == role:
            if changes.get("remove"):
                continue
            itf = replace(itf, **changes)
        itfs.append(itf)
    devices[r] = replace(devices[r], interfaces=tuple(itfs))
    return with_site_devices(dep, index, devices)


# --- the uplink convention -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uplink", "core", "site"),
    [
        ("100.64.0.2/31", "100.64.0.2", "100.64.0.3"),  # RFC 3021: both are hosts
        ("100.64.0.4/30", "100.64.0.5", "100.64.0.6"),  # first usable on the core, next on site
        ("100.64.0.8/29", "100.64.0.9", "100.64.0.10"),
    ],
)
def test_uplink_ends_are_usable_hosts(uplink: str, core: str, site: str) -> None:
    c = Circuit(cid="X", provider="P", commit_rate_mbps=10, uplink=IPNetwork(uplink))
    assert (c.core_address, c.site_address) == (IPAddress(core), IPAddress(site))
    net = IPNetwork(uplink)
    if net.prefixlen < 31:
        assert {c.core_address, c.site_address}.isdisjoint({net.network, net.broadcast})


def test_a_30_uplink_validates_and_renders_with_the_new_convention(dep: Departement) -> None:
    """A /30 uplink: the router on first + 2, BGP towards first + 1, and the round trip agrees."""
    c = dep.colleges[0]
    assert c.circuit is not None
    uplink = IPNetwork(f"{IPAddress(dep.supernets.uplinks.first + 1024)}/30")
    circuit = replace(c.circuit, uplink=uplink)
    devices = list(c.devices)
    r = next(i for i, d in enumerate(devices) if d.role == "router")
    wan = Interface(name="wan0", address=IPNetwork(f"{circuit.site_address}/30"))
    devices[r] = replace(devices[r], interfaces=(wan, *devices[r].interfaces[1:]))
    colleges = (replace(c, circuit=circuit, devices=tuple(devices)), *dep.colleges[1:])
    moved = replace(dep, colleges=colleges)
    assert problems(moved) == []
    frr = next(iter(render_site(moved, moved.colleges[0]).values()))
    text = "\n".join(frr.values())
    assert f"neighbor {IPAddress(uplink.first + 1)} remote-as" in text
    assert str(uplink.network) not in text.replace(str(uplink), "")


def test_wan_address_must_be_the_site_end(dep: Departement) -> None:
    c = dep.colleges[0]
    assert c.circuit is not None
    devices = list(c.devices)
    r = next(i for i, d in enumerate(devices) if d.role == "router")
    core = Interface(name="wan0", address=IPNetwork(f"{c.circuit.core_address}/31"))
    devices[r] = replace(devices[r], interfaces=(core, *devices[r].interfaces[1:]))
    bad = found(with_site_devices(dep, 0, devices))
    assert (f"device {devices[r].name} interface wan0", "address") in bad
    # and the core's end is an address no device may take
    assert (f"site {c.slug} circuit {c.circuit.cid}", "uplink") in bad


# --- gateways, pools, the router's VLANs -----------------------------------------------------


@pytest.mark.parametrize("where", ["network", "broadcast"])
def test_gateway_on_network_or_broadcast(dep: Departement, where: str) -> None:
    prefix = dep.colleges[0].prefixes["admin"]
    addr = prefix.network if where == "network" else prefix.broadcast
    bad = router_with(dep, 0, "admin", address=IPNetwork(f"{addr}/{prefix.prefixlen}"))
    msgs = [str(p) for p in problems(bad) if p.field == "address"]
    assert any(f"{where} address" in m for m in msgs), msgs


def test_reservation_in_the_dynamic_pool(dep: Departement) -> None:
    c = dep.colleges[0]
    devices = list(c.devices)
    i = next(i for i, d in enumerate(devices) if d.role == "pc")
    prefix = c.prefixes[devices[i].interfaces[0].vlan or ""]
    inside = IPNetwork(f"{IPAddress(prefix.last - 3)}/{prefix.prefixlen}")
    devices[i] = replace(
        devices[i], interfaces=(replace(devices[i].interfaces[0], address=inside),)
    )
    bad = problems(with_site_devices(dep, 0, devices))
    assert any(p.obj.startswith(f"device {devices[i].name}") and "pool" in p.message for p in bad)


def test_router_missing_a_vlan_its_hosts_use(dep: Departement) -> None:
    bad = problems(router_with(dep, 0, "printers", remove=True))
    router = dep.colleges[0].router
    assert router is not None
    assert any(
        p.obj == f"device {router.name}" and p.field == "interfaces" and "printers" in p.message
        for p in bad
    )


def test_every_problem_names_its_site(dep: Departement) -> None:
    bad = router_with(dep, 1, "admin", remove=True)
    assert {p.site for p in problems(bad)} == {dep.colleges[1].slug}


@pytest.mark.parametrize("name", ["", "   ", " Collège", "Collège\t"])
def test_empty_or_padded_site_names(dep: Departement, name: str) -> None:
    colleges = (replace(dep.colleges[0], name=name), *dep.colleges[1:])
    assert (f"college {dep.colleges[0].slug}", "name") in found(replace(dep, colleges=colleges))


def test_duplicate_asn(dep: Departement) -> None:
    colleges = (dep.colleges[0], replace(dep.colleges[1], asn=dep.colleges[0].asn))
    bad = found(replace(dep, colleges=colleges + dep.colleges[2:]))
    assert (f"college {dep.colleges[1].slug}", "asn") in bad


def test_generated_departements_stay_valid(dep: Departement) -> None:
    assert problems(dep) == []


# --- the files' schema -----------------------------------------------------------------------


def test_upstream_dns_round_trips(tmp_path: Path) -> None:
    dep = files.load(REPO / "inventory")
    with_upstream = replace(
        dep, services=replace(dep.services, upstream_dns=(IPAddress("198.51.100.53"),))
    )
    files.dump(with_upstream, tmp_path)
    assert "198.51.100.53" in (tmp_path / "departement.yml").read_text()
    assert files.load(tmp_path).services.upstream_dns == (IPAddress("198.51.100.53"),)


def test_deeply_nested_yaml_is_one_problem(tmp_path: Path) -> None:
    files.dump(files.load(REPO / "inventory"), tmp_path)
    site = next((tmp_path / "sites").glob("clg-*.yml"))
    site.write_text(site.read_text() + "extra: " + "[" * 20000 + "]" * 20000 + "\n")
    with pytest.raises(ValidationFailed) as info:
        files.load(tmp_path)
    assert [(p.obj, p.field) for p in info.value.problems] in (
        [("site file", "yaml")],
        [(f"college {site.stem}", "extra")],
    )


def test_a_folder_among_site_files_is_named(tmp_path: Path) -> None:
    files.dump(files.load(REPO / "inventory"), tmp_path)
    (tmp_path / "sites" / "clg-x.yml").mkdir()
    with pytest.raises(ValidationFailed) as info:
        files.load(tmp_path)
    assert [(p.obj, p.field) for p in info.value.problems] == [("site file", "name")]
    assert info.value.problems[0].file and info.value.problems[0].file.endswith("clg-x.yml")


def test_netbox_config_context_is_read_with_the_same_schema() -> None:
    supernets = {
        "colleges": "198.18.0.0/15",
        "datacentre": "100.80.0.0/16",
        "uplinks": "100.64.0.0/16",
    }
    context = files.departement_dict(files.load(REPO / "inventory"))
    context.pop("name"), context.pop("supernets")
    context["services"]["dnss"] = ["100.80.0.1"]  # a misspelt key edited in NetBox's UI
    context["vlan_plan"][0]["vid"] = "ten"
    snap = Snapshot(
        catalogue={},
        tag_id=1,
        missing_fields=[],
        region={"slug": "demo-92", "name": "Démo"},
        context={"data": {"preau": context}},
        top_prefixes=[
            {"prefix": p, "role": {"slug": f"supernet-{k}"}} for k, p in supernets.items()
        ],
    )
    with pytest.raises(ValidationFailed) as info:
        departement_fields(snap, "http://netbox.test")
    assert {(p.obj, p.field) for p in info.value.problems} == {
        ("departement.services", "dnss"),
        ("vlan_plan admin", "vid"),
    }
    assert all("config context preau-demo-92" in (p.file or "") for p in info.value.problems)


# --- college add on an onboarded collège -----------------------------------------------------


def spec_of(c, **changes) -> CollegeSpec:
    base = CollegeSpec(
        slug=c.slug, uai=c.uai, name=c.name, commune=c.commune, pupils=c.pupils,
        given=frozenset({"name", "pupils", "commune"}),
    )  # fmt: skip
    return replace(base, **changes)


def test_rerun_with_the_same_details_is_the_same_college(dep: Departement) -> None:
    c = dep.colleges[0]
    assert rerun(c, spec_of(c)) is c


def test_rerun_with_other_details_names_each(dep: Departement) -> None:
    c = dep.colleges[0]
    with pytest.raises(OnboardedDifferently) as info:
        rerun(c, spec_of(c, name="Autre", pupils=c.pupils + 1))
    assert {p.field for p in info.value.problems} == {"name", "pupils"}
    assert "--update" in str(info.value)
    updated = rerun(c, spec_of(c, name="Autre", pupils=c.pupils + 1), update=True)
    assert (updated.name, updated.pupils, updated.devices) == ("Autre", c.pupils + 1, c.devices)


def test_layout_changes_are_refused_even_with_update(dep: Departement) -> None:
    c = dep.colleges[0]
    pcs = sum(1 for d in c.devices if d.role == "pc")
    spec = spec_of(c, pcs=pcs + 1, given=frozenset({"name", "pupils", "pcs"}))
    with pytest.raises(OnboardedDifferently, match="re-carved"):
        rerun(c, spec, update=True)


def test_update_through_the_file_source(dep: Departement, tmp_path: Path) -> None:
    files.dump(dep, tmp_path)
    c = dep.colleges[1]
    src = FileSource(tmp_path)
    spec = spec_of(c, pupils=c.pupils + 10, commit_rate_mbps=300,
                   given=frozenset({"name", "pupils", "commit_rate_mbps"}))  # fmt: skip
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.yml")}
    with pytest.raises(BadInput, match="already onboarded with other details"):
        src.add_college(spec)
    _, report = src.add_college(spec, update=True, dry_run=True)
    assert report.updated == {"site": 1}
    assert before == {p: p.read_bytes() for p in tmp_path.rglob("*.yml")}
    college, report = src.add_college(spec, update=True)
    assert report.updated == {"site": 1}
    back = src.read().college(c.uai)
    assert back is not None and back.pupils == c.pupils + 10
    assert back.circuit is not None and back.circuit.commit_rate_mbps == 300
    assert files.site_dict(back) == files.site_dict(college)
    changed = {p for p in before if p.read_bytes() != before[p]}
    assert changed == {tmp_path / "sites" / f"{c.slug}.yml"}
    assert not src.add_college(spec, update=True)[1].changed
