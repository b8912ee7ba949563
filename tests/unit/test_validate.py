"""The validator: each kind of bad input is reported with its object and field."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from netaddr import IPNetwork

from preau.errors import ValidationFailed
from preau.model import Departement, Interface, VlanPlanEntry
from preau.sot.generate import generate
from preau.sot.validate import check, problems


def with_college(dep: Departement, index: int, **changes) -> Departement:
    colleges = list(dep.colleges)
    colleges[index] = replace(colleges[index], **changes)
    return replace(dep, colleges=tuple(colleges))


def with_device(dep: Departement, college: int, device: int, **changes) -> Departement:
    c = dep.colleges[college]
    devices = list(c.devices)
    devices[device] = replace(devices[device], **changes)
    return with_college(dep, college, devices=tuple(devices))


def found(dep: Departement) -> list[tuple[str, str]]:
    return [(p.obj, p.field) for p in problems(dep)]


def test_generated_departement_is_valid(dep):
    assert problems(dep) == []
    assert check(dep) is dep


def test_bad_uai(dep):
    bad = with_college(dep, 0, uai="0929001A")
    assert (f"college {dep.colleges[0].slug}", "uai") in found(bad)


def test_overlapping_containers(dep):
    bad = with_college(dep, 1, container=dep.colleges[0].container)
    msgs = [str(p) for p in problems(bad)]
    assert any("overlaps" in m and "container" in m for m in msgs)


def test_prefix_outside_supernet(dep):
    bad = with_college(dep, 0, container=IPNetwork("100.127.0.0/22"))
    assert (f"college {dep.colleges[0].slug}", "container") in found(bad)


def test_prefix_outside_container(dep):
    c = dep.colleges[0]
    bad = with_college(dep, 0, prefixes={**c.prefixes, "wifi": IPNetwork("198.19.200.0/24")})
    assert (f"college {c.slug}", "prefixes.wifi") in found(bad)


def test_vlan_id_clash(dep):
    plan = list(dep.vlan_plan)
    plan[1] = replace(plan[1], vid=plan[0].vid)
    bad = replace(dep, vlan_plan=tuple(plan))
    assert (f"vlan_plan {plan[1].role}", "vid") in found(bad)


def test_vlan_missing_from_plan(dep):
    plan = tuple(e for e in dep.vlan_plan if e.role != "wifi")
    bad = replace(dep, vlan_plan=plan)
    assert (f"college {dep.colleges[0].slug}", "prefixes.wifi") in found(bad)


def test_college_without_circuit(dep):
    bad = with_college(dep, 2, circuit=None)
    probs = problems(bad)
    assert any(p.field == "circuit" and "uplink" in p.message for p in probs)


def test_duplicate_mac_and_ip(dep):
    c0 = dep.colleges[0]
    pcs = [i for i, d in enumerate(c0.devices) if d.role == "pc"]
    first = c0.devices[pcs[0]]
    bad = with_device(dep, 0, pcs[1], interfaces=first.interfaces)
    fields = [p.field for p in problems(bad)]
    assert "mac" in fields and "address" in fields


def test_device_without_room(dep):
    c0 = dep.colleges[0]
    i = next(i for i, d in enumerate(c0.devices) if d.role == "pc")
    bad = with_device(dep, 0, i, room=None)
    assert (f"device {c0.devices[i].name}", "room") in found(bad)


def test_unknown_room(dep):
    c0 = dep.colleges[0]
    bad = with_device(dep, 0, 0, room="salle-inconnue")
    assert (f"device {c0.devices[0].name}", "room") in found(bad)


def test_printer_without_reservation(dep):
    c0 = dep.colleges[0]
    i = next(i for i, d in enumerate(c0.devices) if d.role == "printer")
    itf = c0.devices[i].interfaces[0]
    bad = with_device(dep, 0, i, interfaces=(replace(itf, address=None),))
    probs = [p for p in problems(bad) if p.obj == f"device {c0.devices[i].name}"]
    assert any("reservation" in p.message for p in probs)


def test_address_outside_its_vlan(dep):
    c0 = dep.colleges[0]
    i = next(i for i, d in enumerate(c0.devices) if d.role == "file-server")
    itf = Interface(name="eth0", vlan="servers", address=IPNetwork("198.18.0.200/27"))
    bad = with_device(dep, 0, i, interfaces=(itf,))
    assert (f"device {c0.devices[i].name} interface eth0", "address") in found(bad)


def test_check_raises_with_every_problem(dep):
    bad = with_college(with_college(dep, 0, uai="123"), 1, circuit=None)
    with pytest.raises(ValidationFailed) as info:
        check(bad)
    assert len(info.value.problems) == 2
    assert "nothing written" in str(info.value)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(0, 60))
def test_generated_departements_validate(n, pcs):
    assert problems(generate(n, pcs=pcs, printers=2, displays=1, classrooms=3)) == []


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_injected_clash_is_caught(data):
    """Copy one interface's address onto another device: always reported as a duplicate IP."""
    dep = generate(2, pcs=6, printers=1, displays=1, classrooms=2)
    site = data.draw(st.integers(0, 1))
    devices = dep.colleges[site].devices
    addressed = [i for i, d in enumerate(devices) if d.role in ("pc", "printer", "display")]
    src, dst = data.draw(st.lists(st.sampled_from(addressed), min_size=2, max_size=2, unique=True))
    stolen = devices[src].interfaces[0].address
    itf = replace(devices[dst].interfaces[0], address=stolen)
    bad = with_device(dep, site, dst, interfaces=(itf,))
    assert any(p.field == "address" and "duplicate IP" in p.message for p in problems(bad))


def test_plan_entry_roles_checked(dep):
    plan = (*dep.vlan_plan, VlanPlanEntry(role="guests", vid=77, name="X", prefix_length=24))
    assert ("vlan_plan guests", "role") in found(replace(dep, vlan_plan=plan))


def test_duplicate_site_names(dep):
    bad = with_college(dep, 1, name=dep.colleges[0].name)
    assert (f"site {dep.colleges[1].slug}", "name") in found(bad)


def test_generated_names_stay_unique_past_the_name_cycle():
    big = generate(128, pcs=0, printers=1, displays=0, classrooms=1)
    names = [c.name for c in big.colleges]
    assert len(set(names)) == len(names) == 128
    assert problems(big) == []
