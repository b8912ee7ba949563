"""`preau net bandwidth` records the new commit rate in NetBox: circuit + journal entry."""

from __future__ import annotations

from pathlib import Path

import pynetbox
import pytest

from preau.deploys import net_apply
from preau.netbox_local import NetBoxSettings, service
from preau.sot import files
from preau.sot.netbox import NetBoxSource

pytestmark = pytest.mark.netbox
REPO = Path(__file__).resolve().parents[2]


def test_commit_rate_and_journal_entry(netbox_service: NetBoxSettings) -> None:
    service.reset()
    src = NetBoxSource(netbox_service)
    src.setup()
    dep = files.load(REPO / "inventory")
    src.push(dep)
    site = dep.colleges[0]
    assert site.circuit is not None
    new = site.circuit.commit_rate_mbps * 2
    how = net_apply.record_commit_rate(src, dep, site, new, f"test: doubled to {new}")
    assert how.startswith("netbox:")

    api = pynetbox.api(netbox_service.url, token=netbox_service.token)
    circuit = api.circuits.circuits.get(cid=site.circuit.cid)
    assert circuit.commit_rate == new * 1000
    notes = api.extras.journal_entries.filter(
        assigned_object_type="circuits.circuit", assigned_object_id=circuit.id
    )
    assert [n.comments for n in notes] == [f"test: doubled to {new}"]
    read = src.read().college(site.slug)
    assert read is not None and read.circuit is not None
    assert read.circuit.commit_rate_mbps == new
