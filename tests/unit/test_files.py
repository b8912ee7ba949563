"""The embedded file source of truth: round trip, the shipped demo, malformed files."""

from pathlib import Path

import pytest

from preau.errors import BadInput, ValidationFailed
from preau.sot import files
from preau.sot.filesource import FileSource
from preau.sot.layout import CollegeSpec
from preau.sot.validate import problems

REPO = Path(__file__).resolve().parents[2]


def test_demo_inventory_loads_and_is_valid():
    dep = files.load(REPO / "inventory")
    assert len(dep.colleges) == 3 and dep.datacentre is not None
    assert problems(dep) == []
    # Only test ranges in the demo.
    for site in dep.sites:
        assert str(site.container).startswith(("198.18.", "198.19.", "100."))


def test_dump_then_load_round_trips(dep, tmp_path):
    files.dump(dep, tmp_path)
    again = files.load(tmp_path)
    assert files.departement_dict(again) == files.departement_dict(dep)
    assert [files.site_dict(s) for s in again.sites] == [files.site_dict(s) for s in dep.sites]
    # And byte for byte on a second dump.
    first = {p.name: p.read_bytes() for p in (tmp_path / "sites").iterdir()}
    files.dump(again, tmp_path)
    assert first == {p.name: p.read_bytes() for p in (tmp_path / "sites").iterdir()}


def test_malformed_fields_are_all_reported(dep, tmp_path):
    files.dump(dep, tmp_path)
    site = tmp_path / "sites" / f"{dep.colleges[0].slug}.yml"
    text = site.read_text().replace("pupils: ", "pupils: many # ", 1)
    text = text.replace("container: 198.18.", "container: 999.18.", 1)
    site.write_text(text)
    with pytest.raises(ValidationFailed) as info:
        files.load(tmp_path)
    fields = {(p.obj, p.field) for p in info.value.problems}
    assert (f"college {dep.colleges[0].slug}", "pupils") in fields
    assert (f"college {dep.colleges[0].slug}", "container") in fields


def test_not_an_inventory(tmp_path):
    with pytest.raises(BadInput, match="departement.yml"):
        files.load(tmp_path)


def test_add_college_allocates_next_block_and_rerun_is_noop(dep, tmp_path):
    files.dump(dep, tmp_path)
    src = FileSource(tmp_path)
    spec = CollegeSpec(slug="clg-new", uai="0929100S", name="Collège Neuf", commune="Sceaux",
                       pupils=500, pcs=5, printers=1, displays=1, classrooms=2)  # fmt: skip
    assert spec.uai == "0929100S"
    college, report = src.add_college(spec)
    assert report.changed
    used = [s.container for s in dep.sites]
    assert all(college.container != u for u in used)
    assert college.circuit is not None
    again, report2 = src.add_college(spec)
    assert not report2.changed and again.container == college.container
    assert problems(src.read()) == []


def test_add_college_dry_run_writes_nothing(dep, tmp_path):
    files.dump(dep, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.yml")}
    spec = CollegeSpec(slug="clg-dry", uai="0929101T", name="Dry", commune="", pupils=1, pcs=1)
    _, report = FileSource(tmp_path).add_college(spec, dry_run=True)
    assert report.changed and report.dry_run
    assert before == {p: p.read_bytes() for p in tmp_path.rglob("*.yml")}
