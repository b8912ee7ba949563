"""The NetBox source of truth against the real local NetBox: setup, push, read, diff, errors.

The demo département is pushed once per module (a push is the slow part); tests that change
it put it back. Tests needing an empty NetBox use the `netbox_api` fixture, which resets it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pynetbox
import pytest
from netaddr import IPNetwork

from preau.errors import ValidationFailed
from preau.model import College, Departement, Interface
from preau.netbox_local import NetBoxSettings, service
from preau.sot import files, netbox_export
from preau.sot.netbox import NetBoxSource

pytestmark = pytest.mark.netbox

REPO = Path(__file__).resolve().parents[2]
KINDS = (
    ("dcim", "sites"),
    ("dcim", "locations"),
    ("dcim", "devices"),
    ("dcim", "interfaces"),
    ("dcim", "mac_addresses"),
    ("ipam", "ip_addresses"),
    ("ipam", "prefixes"),
    ("ipam", "vlans"),
    ("circuits", "circuits"),
)


def counts(api: pynetbox.api) -> dict[str, int]:
    """How many objects NetBox holds, per kind (to prove that something wrote nothing)."""
    return {name: getattr(getattr(api, app), name).count() for app, name in KINDS}


def demo() -> Departement:
    return files.load(REPO / "inventory")


def total(dep: Departement, what: str) -> int:
    if what == "devices":
        return sum(len(s.devices) for s in dep.sites)
    if what == "interfaces":
        return sum(len(d.interfaces) for _, d in dep.all_devices())
    if what == "addresses":
        return sum(1 for _, d in dep.all_devices() for i in d.interfaces if i.address is not None)
    if what == "macs":
        return sum(1 for _, d in dep.all_devices() for i in d.interfaces if i.mac)
    raise ValueError(what)


@pytest.fixture(scope="module")
def pushed(netbox_service: NetBoxSettings) -> Iterator[tuple[NetBoxSource, Departement, Any]]:
    """A NetBox reset, set up, holding the demo département; with the first push's report."""
    service.reset()
    src = NetBoxSource(netbox_service)
    src.setup()
    dep = demo()
    report = src.push(dep)
    yield src, dep, report


def test_push_creates_the_demo(pushed: tuple[NetBoxSource, Departement, Any]) -> None:
    _, dep, report = pushed
    assert report.created["site"] == len(dep.sites)
    assert report.created["device"] == total(dep, "devices")
    assert report.created["interface"] == total(dep, "interfaces")
    assert report.created["ip-address"] == total(dep, "addresses")
    assert report.created["mac-address"] == total(dep, "macs")
    assert report.created["circuit"] == len(dep.sites)
    assert not report.deleted


def test_read_back_equals_the_model(pushed: tuple[NetBoxSource, Departement, Any]) -> None:
    src, dep, _ = pushed
    back = src.read()
    assert files.departement_dict(back) == files.departement_dict(dep)
    assert [files.site_dict(s) for s in back.sites] == [files.site_dict(s) for s in dep.sites]


# A read: the catalogue query, then one export per kind; the issue allows at most 20 calls.
READ_CALLS = 1 + len(netbox_export.KINDS)


def test_read_takes_a_handful_of_calls(pushed: tuple[NetBoxSource, Departement, Any]) -> None:
    src, _, _ = pushed
    before = src.calls
    src.read()
    assert src.calls - before == READ_CALLS <= 20


def test_netbox_objects_are_what_the_model_says(
    pushed: tuple[NetBoxSource, Departement, Any],
) -> None:
    src, dep, _ = pushed
    api = pynetbox.api(src.settings.url, token=src.settings.token)
    college = dep.colleges[0]
    site = api.dcim.sites.get(slug=college.slug)
    assert site.custom_fields["uai"] == college.uai
    assert site.region.slug == dep.slug
    assert college.circuit is not None
    circuit = api.circuits.circuits.get(cid=college.circuit.cid)
    assert circuit.commit_rate == college.circuit.commit_rate_mbps * 1000
    assert "preau" in [t.slug for t in circuit.tags]
    z = api.circuits.circuit_terminations.get(circuit_id=circuit.id, term_side="Z")
    assert z.termination_type == "circuits.providernetwork"
    uplink = api.ipam.prefixes.get(prefix=str(college.circuit.uplink))
    assert uplink.role.slug == "uplink" and uplink.scope_id == site.id
    router = college.router
    assert router is not None
    nb_router = api.dcim.devices.get(name=router.name)
    assert nb_router.primary_ip4.address == str(router.primary_address)
    sub = api.dcim.interfaces.get(device_id=nb_router.id, name="lan0.10")
    assert sub.type.value == "virtual" and sub.parent.name == "lan0"
    assert sub.untagged_vlan.vid == 10
    pc = college.devices_by_role("pc")[0]
    eth0 = api.dcim.interfaces.get(device=pc.name, name="eth0")
    assert eth0.primary_mac_address.mac_address.lower() == pc.interfaces[0].mac
    ctx = api.extras.config_contexts.get(name=f"preau-{dep.slug}")
    assert ctx.data["preau"]["routing"]["core_asn"] == dep.routing.core_asn


def test_second_push_changes_nothing(pushed: tuple[NetBoxSource, Departement, Any]) -> None:
    src, dep, _ = pushed
    before = src.calls
    report = src.push(dep)
    assert not report.changed, report.details
    assert src.calls - before == READ_CALLS  # reads only: no write was sent


def test_export_round_trips_byte_for_byte(
    pushed: tuple[NetBoxSource, Departement, Any], tmp_path: Path
) -> None:
    src, dep, _ = pushed
    files.dump(src.read(), tmp_path / "from-netbox")
    files.dump(dep, tmp_path / "from-model")
    ours = sorted(
        p.relative_to(tmp_path / "from-model") for p in (tmp_path / "from-model").rglob("*.yml")
    )
    theirs = sorted(
        p.relative_to(tmp_path / "from-netbox") for p in (tmp_path / "from-netbox").rglob("*.yml")
    )
    assert ours == theirs
    for rel in ours:
        assert (tmp_path / "from-netbox" / rel).read_bytes() == (
            tmp_path / "from-model" / rel
        ).read_bytes(), rel
    # And the shipped inventory itself is what NetBox gives back.
    for rel in ours:
        assert (tmp_path / "from-netbox" / rel).read_bytes() == (
            REPO / "inventory" / rel
        ).read_bytes(), rel


def _modified(dep: Departement) -> tuple[Departement, str, str]:
    """The demo with one PC removed from the first collège and its uplink rate doubled."""
    college = dep.colleges[0]
    assert college.circuit is not None
    pc = college.devices_by_role("pc")[-1]
    changed = replace(
        college,
        devices=tuple(d for d in college.devices if d.name != pc.name),
        circuit=replace(college.circuit, commit_rate_mbps=college.circuit.commit_rate_mbps * 2),
    )
    return replace(dep, colleges=(changed, *dep.colleges[1:])), pc.name, college.circuit.cid


def test_a_modified_model_pushes_only_that_change(
    pushed: tuple[NetBoxSource, Departement, Any],
) -> None:
    src, dep, _ = pushed
    new, pc, cid = _modified(dep)
    dry = src.push(new, dry_run=True)
    assert dry.dry_run and dry.changed
    assert files.site_dict(src.read().colleges[0]) == files.site_dict(
        dep.colleges[0]
    )  # dry: unchanged
    report = src.push(new)
    try:
        assert report.updated == {"circuit": 1}, report.details
        # The PC goes with its interface, its MAC and its address: one of each.
        assert report.deleted == {"device": 1, "interface": 1, "mac-address": 1, "ip-address": 1}
        assert not report.created
        assert f"delete device {pc}" in report.details
        assert f"update circuit {cid} (commit_rate)" in report.details
        back = src.read()
        assert files.site_dict(back.colleges[0]) == files.site_dict(new.colleges[0])
        assert not src.push(new).changed
    finally:
        restored = src.push(dep)
    assert restored.created.get("device") == 1 and restored.updated.get("circuit") == 1


def test_a_colleges_directory_is_a_site_field_read_back_as_pushed(
    pushed: tuple[NetBoxSource, Departement, Any],
) -> None:
    src, dep, _ = pushed
    first = replace(dep.colleges[0], directory="ad")
    new = replace(dep, colleges=(first, *dep.colleges[1:]))
    report = src.push(new)
    try:
        assert report.updated == {"site": 1}, report.details
        assert src.read().colleges[0].directory == "ad"
        assert not src.push(new).changed
    finally:
        restored = src.push(dep)
    assert restored.updated == {"site": 1} and src.read().colleges[0].directory == "standalone"


def test_changed_addressing_and_vlan_moves_objects(
    pushed: tuple[NetBoxSource, Departement, Any],
) -> None:
    """A PC moved to the admin VLAN with a new address: the IP and the interface are updated."""
    src, dep, _ = pushed
    college = dep.colleges[1]
    pc = college.devices_by_role("pc")[0]
    itf = pc.interfaces[0]
    admin = college.prefixes["admin"]
    used = {
        i.address.ip for _, d in dep.all_devices() for i in d.interfaces if i.address is not None
    }
    free = next(a for a in list(admin.iter_hosts())[1:] if a not in used)
    moved_itf = Interface(
        name=itf.name, vlan="admin", address=IPNetwork(f"{free}/{admin.prefixlen}"), mac=itf.mac
    )
    moved = replace(pc, interfaces=(moved_itf,))
    new_college = replace(
        college, devices=tuple(moved if d.name == pc.name else d for d in college.devices)
    )
    new = replace(dep, colleges=(dep.colleges[0], new_college, *dep.colleges[2:]))
    try:
        report = src.push(new)
        # A new address is a new object (addresses are the key); the old one goes.
        assert report.created == {"ip-address": 1}
        assert report.deleted == {"ip-address": 1}
        assert report.updated.get("interface") == 1  # untagged VLAN
        assert files.site_dict(src.read().colleges[1]) == files.site_dict(new_college)
    finally:
        src.push(dep)


def test_a_rerun_finishes_an_interrupted_push(
    pushed: tuple[NetBoxSource, Departement, Any],
) -> None:
    """What a push killed half-way leaves (objects missing) is completed by the next push."""
    src, dep, _ = pushed
    api = pynetbox.api(src.settings.url, token=src.settings.token)
    college = dep.colleges[2]
    printer = college.devices_by_role("printer")[0]
    switch = college.devices_by_role("access-switch")[0]
    api.dcim.devices.get(name=printer.name).delete()  # with its interface, MAC and address
    for ip in api.ipam.ip_addresses.filter(device=switch.name):
        ip.delete()
    report = src.push(dep)
    assert report.created == {"device": 1, "interface": 1, "mac-address": 1, "ip-address": 2}
    # The new interface is created with its primary MAC (created first, unassigned): no second
    # write for it; the two devices get their primary IPs.
    assert report.updated == {"device": 2}
    assert not report.deleted
    assert files.site_dict(src.read().colleges[2]) == files.site_dict(college)


def test_a_rerun_reuses_the_macs_a_stopped_push_created_unassigned(
    pushed: tuple[NetBoxSource, Departement, Any],
) -> None:
    """A push stopped between the MACs of new interfaces (created first, unassigned) and the
    interfaces: the next push assigns those MACs instead of creating them twice."""
    src, dep, _ = pushed
    api = pynetbox.api(src.settings.url, token=src.settings.token)
    college = dep.colleges[2]
    printer = college.devices_by_role("printer")[0]
    mac = next(i.mac for i in printer.interfaces if i.mac).lower()
    api.dcim.devices.get(name=printer.name).delete()  # with its interface, MAC and address
    tag = api.extras.tags.get(slug="preau")
    api.dcim.mac_addresses.create(mac_address=mac, tags=[tag.id])  # what the stopped push left
    report = src.push(dep)
    assert "mac-address" not in report.created
    assert report.created == {"device": 1, "interface": 1, "ip-address": 1}
    held = [m for m in api.dcim.mac_addresses.filter(mac_address=mac)]
    assert len(held) == 1 and held[0].assigned_object_id is not None
    itf = api.dcim.interfaces.get(id=held[0].assigned_object_id)
    assert itf.primary_mac_address.id == held[0].id
    assert files.site_dict(src.read().colleges[2]) == files.site_dict(college)
    assert not src.push(dep).changed


def test_sites_absent_from_the_model_are_left_alone(
    pushed: tuple[NetBoxSource, Departement, Any],
) -> None:
    src, dep, _ = pushed
    only_first = replace(dep, datacentre=None, colleges=dep.colleges[:1])
    report = src.push(only_first)
    assert not report.changed, report.details
    assert len(src.read().sites) == len(dep.sites)


def test_objects_without_the_preau_tag_are_not_touched(
    pushed: tuple[NetBoxSource, Departement, Any],
) -> None:
    src, dep, _ = pushed
    api = pynetbox.api(src.settings.url, token=src.settings.token)
    college = dep.colleges[0]
    site = api.dcim.sites.get(slug=college.slug)
    role = api.dcim.device_roles.get(slug="pc")
    dtype = api.dcim.device_types.get(slug="generic-pc")
    theirs = api.dcim.devices.create(
        name="hand-made-laptop", site=site.id, role=role.id, device_type=dtype.id
    )
    try:
        assert not src.push(dep).changed
        assert api.dcim.devices.get(name="hand-made-laptop") is not None
        assert files.site_dict(src.read().colleges[0]) == files.site_dict(college)
    finally:
        theirs.delete()


def test_invalid_model_is_refused_before_any_write(
    pushed: tuple[NetBoxSource, Departement, Any],
) -> None:
    src, dep, _ = pushed
    api = pynetbox.api(src.settings.url, token=src.settings.token)
    before = counts(api)
    college = dep.colleges[0]
    taken = dep.colleges[1].devices_by_role("pc")[0].interfaces[0].address
    pc = college.devices_by_role("pc")[0]
    dup = replace(pc, interfaces=(replace(pc.interfaces[0], address=taken),))
    bad = replace(
        college,
        uai="0929001A",  # wrong check letter
        devices=tuple(dup if d.name == pc.name else d for d in college.devices),
    )
    calls = src.calls
    with pytest.raises(ValidationFailed) as err:
        src.push(replace(dep, colleges=(bad, *dep.colleges[1:])))
    found = {(p.obj, p.field) for p in err.value.problems}
    assert (f"college {college.slug}", "uai") in found
    assert any(
        f == "address" and "duplicate IP" in p.message
        for p in err.value.problems
        for f in [p.field]
    )
    assert src.calls == calls  # not even a read
    assert counts(api) == before


def test_colleges_keep_their_kind_and_rooms(pushed: tuple[NetBoxSource, Departement, Any]) -> None:
    src, dep, _ = pushed
    back = src.read()
    assert back.datacentre is not None and back.datacentre.slug == dep.datacentre.slug  # type: ignore[union-attr]
    assert all(isinstance(c, College) for c in back.colleges)
    assert [c.rooms for c in back.colleges] == [c.rooms for c in dep.colleges]
