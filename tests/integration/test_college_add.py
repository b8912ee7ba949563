"""Onboarding a collège through NetBox: IPAM allocates the /22 and the /31; reruns are no-ops."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pynetbox
import pytest
from netaddr import IPNetwork

from preau.errors import BadInput, ValidationFailed
from preau.model import Departement
from preau.netbox_local import NetBoxSettings, service
from preau.sot import files
from preau.sot.generate import generate
from preau.sot.layout import CollegeSpec, next_college_resources
from preau.sot.netbox import ALLOCATION_NOTE, NetBoxSource

pytestmark = pytest.mark.netbox

# Small collèges keep pushes short; the layout is the same recipe at any size.
SIZES = {"pcs": 3, "printers": 1, "displays": 1, "classrooms": 2}
SPEC = CollegeSpec(
    slug="clg-0921234x",
    uai="0921234X",
    name="Collège Test (Sceaux)",
    commune="Sceaux",
    pupils=420,
    classrooms=2,
    pcs=3,
    printers=1,
    displays=1,
)


def _valid_spec() -> CollegeSpec:
    """SPEC with a UAI whose check letter is right (computed, not hard-coded)."""
    from preau.model.uai import make_uai

    uai = make_uai(921234)
    return replace(SPEC, uai=uai, slug=f"clg-{uai.lower()}")


def counts(api: pynetbox.api) -> dict[str, int]:
    return {
        "sites": api.dcim.sites.count(),
        "devices": api.dcim.devices.count(),
        "prefixes": api.ipam.prefixes.count(),
        "ip_addresses": api.ipam.ip_addresses.count(),
        "circuits": api.circuits.circuits.count(),
    }


Base = tuple[NetBoxSource, Departement, pynetbox.api]


@pytest.fixture
def base(
    netbox_service: NetBoxSettings,
) -> Iterator[tuple[NetBoxSource, Departement, pynetbox.api]]:
    """NetBox reset and holding a small département: the data centre and two collèges."""
    service.reset()
    src = NetBoxSource(netbox_service)
    src.setup()
    dep = generate(2, **SIZES)
    src.push(dep)
    yield src, dep, pynetbox.api(netbox_service.url, token=netbox_service.token)


def test_add_allocates_the_next_free_blocks_through_netbox(
    base: Base,
) -> None:
    src, dep, api = base
    spec = _valid_spec()
    expected_container, expected_uplink, expected_asn = next_college_resources(dep)
    college, report = src.add_college(spec)
    assert college.container == expected_container
    assert college.circuit is not None and college.circuit.uplink == expected_uplink
    assert college.asn == expected_asn
    assert college.container.prefixlen == dep.college_prefix_length
    assert report.created["site"] == 1
    assert report.created["device"] == len(college.devices)
    assert any("allocated in 198.18.0.0/15" in d for d in report.details)
    assert any("allocated in 100.64.0.0/16" in d for d in report.details)
    # The blocks are NetBox's: scoped to the new site, marker cleared by the push.
    site = api.dcim.sites.get(slug=spec.slug)
    container = api.ipam.prefixes.get(prefix=str(college.container))
    assert container.scope_id == site.id and container.role.slug == "college-container"
    assert container.description == ""
    back = src.read()
    assert files.site_dict(back.college(spec.uai)) == files.site_dict(college)  # type: ignore[arg-type]
    others = [c for c in back.colleges if c.slug != spec.slug]
    assert [files.site_dict(c) for c in others] == [files.site_dict(c) for c in dep.colleges]


def test_rerun_is_no_change_and_returns_the_same_college(
    base: Base,
) -> None:
    src, _, api = base
    spec = _valid_spec()
    first, _ = src.add_college(spec)
    before = counts(api)
    again, report = src.add_college(spec)
    assert not report.changed
    assert files.site_dict(again) == files.site_dict(first)
    assert counts(api) == before
    with pytest.raises(BadInput, match="already belongs"):
        src.add_college(replace(spec, slug="clg-other"))


def test_dry_run_allocates_and_writes_nothing(
    base: Base,
) -> None:
    src, dep, api = base
    before = counts(api)
    college, report = src.add_college(_valid_spec(), dry_run=True)
    assert report.dry_run and report.changed
    assert report.created["device"] == len(college.devices)
    assert any("computed locally" in d for d in report.details)
    assert (
        college.container,
        college.circuit.uplink if college.circuit else None,
    ) == next_college_resources(dep)[:2]
    assert counts(api) == before


def test_an_interrupted_onboarding_is_finished_by_a_rerun(
    base: Base,
) -> None:
    """Blocks allocated before a failure are found again (by their marker), not leaked."""
    src, dep, api = base
    spec = _valid_spec()
    supernet = api.ipam.prefixes.get(prefix=str(dep.supernets.colleges))
    role = api.ipam.roles.get(slug="college-container")
    tag = api.extras.tags.get(slug="preau")
    # What the first half of an onboarding leaves if the process dies right after allocating.
    stray = supernet.available_prefixes.create(
        {
            "prefix_length": 22,
            "status": "container",
            "role": role.id,
            "tags": [tag.id],
            "description": f"{ALLOCATION_NOTE}{spec.slug}",
        }
    )
    prefixes = api.ipam.prefixes.count()
    college, _ = src.add_college(spec)
    assert college.container == IPNetwork(
        stray["prefix"] if isinstance(stray, dict) else stray.prefix
    )
    # Only the uplink /31 and the site's own prefixes were added: no second /22.
    assert api.ipam.prefixes.count() == prefixes + 1 + len(college.prefixes)
    assert not src.add_college(spec)[1].changed


def test_bad_uai_is_refused_before_any_allocation(
    base: Base,
) -> None:
    src, _, api = base
    before = counts(api)
    with pytest.raises(ValidationFailed, match="uai"):
        src.add_college(replace(_valid_spec(), uai="0921234A", slug="clg-bad"))
    assert counts(api) == before


def test_rerun_with_other_details_is_refused_unless_update(
    base: Base,
) -> None:
    """Another name or pupils for an onboarded UAI: an error naming both; --update changes them."""
    src, _, api = base
    spec = _valid_spec()
    first, _ = src.add_college(spec)
    before = counts(api)
    other = replace(spec, name="Collège Renommé (Sceaux)", pupils=spec.pupils + 5)
    with pytest.raises(BadInput, match="already onboarded with other details") as info:
        src.add_college(other)
    assert {p.field for p in info.value.problems} == {"name", "pupils"}  # type: ignore[attr-defined]
    assert api.dcim.sites.get(slug=spec.slug).name == spec.name
    _, dry = src.add_college(other, update=True, dry_run=True)
    assert dry.changed and api.dcim.sites.get(slug=spec.slug).name == spec.name
    college, report = src.add_college(other, update=True)
    assert report.changed
    site = api.dcim.sites.get(slug=spec.slug)
    assert site.name == other.name and site.custom_fields["pupils"] == other.pupils
    assert counts(api) == before  # updated in place: no object created or removed
    assert college.devices == first.devices
    back = src.read().college(spec.uai)
    assert back is not None and files.site_dict(back) == files.site_dict(college)
    assert not src.add_college(other, update=True)[1].changed
