"""The NetBox backend on an empty or unreachable NetBox: setup, missing setup, bad token, no server.

Each test starts from a freshly reset NetBox (`netbox_api`); they live apart from
test_sot_netbox.py, whose module-wide pushed département a reset would wipe.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pynetbox
import pytest

from preau.errors import BadInput, NetBoxUnavailable
from preau.model import DEVICE_ROLES, Departement
from preau.netbox_local import NetBoxSettings
from preau.sot import files, netbox_export
from preau.sot.netbox import NetBoxSource
from preau.sot.netbox_schema import LOCATION_FIELDS, SITE_FIELDS

REPO = Path(__file__).resolve().parents[2]


def demo() -> Departement:
    return files.load(REPO / "inventory")


def counts(api: pynetbox.api) -> dict[str, int]:
    return {
        "sites": api.dcim.sites.count(),
        "devices": api.dcim.devices.count(),
        "prefixes": api.ipam.prefixes.count(),
        "custom_fields": api.extras.custom_fields.count(),
    }


pytestmark = pytest.mark.netbox


def test_setup_is_idempotent_and_dry_run_writes_nothing(
    netbox_api: pynetbox.api, netbox_service: NetBoxSettings
) -> None:
    src = NetBoxSource(netbox_service)
    dry = src.setup(dry_run=True)
    assert dry.changed and dry.dry_run
    assert netbox_api.extras.custom_fields.count() == 0
    first = src.setup()
    # the site's and the room's fields, and the position field
    assert first.created["custom-field"] == len(SITE_FIELDS) + len(LOCATION_FIELDS) + 1
    assert first.created["device-role"] == len(DEVICE_ROLES)
    assert first.created["device-type"] == len(DEVICE_ROLES)  # one generic type per role
    assert first.created["export-template"] == len(netbox_export.KINDS)
    assert {cf.name for cf in netbox_api.extras.custom_fields.all()} >= {
        "uai",
        "pupils",
        "preau_kind",
        "directory",
        "pc_image",
    }
    assert netbox_api.extras.custom_fields.get(name="pc_image").object_types == ["dcim.location"]
    again = src.setup()
    assert not again.changed, again.details


def test_setup_puts_back_what_drifted(
    netbox_api: pynetbox.api, netbox_service: NetBoxSettings
) -> None:
    src = NetBoxSource(netbox_service)
    src.setup()
    cf = netbox_api.extras.custom_fields.get(name="pupils")
    cf.object_types = ["dcim.location"]
    cf.save()
    report = src.setup()
    assert report.updated == {"custom-field": 1}
    assert "pupils (object_types)" in " ".join(report.details)
    assert netbox_api.extras.custom_fields.get(name="pupils").object_types == ["dcim.site"]


def test_a_missing_or_edited_export_template_is_named_and_setup_restores_it(
    netbox_api: pynetbox.api, netbox_service: NetBoxSettings
) -> None:
    """preau reads through its export templates: one someone deleted or edited is not read with
    (it would give wrong rows); the error names it and `setup` puts it back."""
    src = NetBoxSource(netbox_service)
    src.setup()
    src.push(demo())
    netbox_api.extras.export_templates.get(name="preau-read-device").delete()
    edited = netbox_api.extras.export_templates.get(name="preau-read-prefix")
    edited.template_code = "[]"
    edited.save()
    with pytest.raises(NetBoxUnavailable) as err:
        src.read()
    assert "export template preau-read-device" in str(err.value)
    assert "export template preau-read-prefix" in str(err.value)
    assert "preau netbox setup" in str(err.value)
    report = src.setup()
    assert report.created == {"export-template": 1}
    assert report.updated == {"export-template": 1}
    assert files.departement_dict(src.read()) == files.departement_dict(demo())


def test_push_without_setup_says_to_run_setup(
    netbox_api: pynetbox.api, netbox_service: NetBoxSettings
) -> None:
    src = NetBoxSource(netbox_service)
    with pytest.raises(NetBoxUnavailable, match=r"preau netbox setup"):
        src.push(demo())
    with pytest.raises(NetBoxUnavailable, match=r"preau netbox setup"):
        src.read()
    assert counts(netbox_api) == {"sites": 0, "devices": 0, "prefixes": 0, "custom_fields": 0}


def test_read_of_an_empty_netbox_says_to_push(
    netbox_api: pynetbox.api, netbox_service: NetBoxSettings
) -> None:
    src = NetBoxSource(netbox_service)
    src.setup()
    with pytest.raises(BadInput, match=r"preau sot push"):
        src.read()


def test_bad_token_is_a_clear_error(netbox_service: NetBoxSettings) -> None:
    bad = NetBoxSource(NetBoxSettings(netbox_service.url, "nbt_AAAAAAAAAAAA." + "B" * 40))
    with pytest.raises(NetBoxUnavailable, match=r"refused the token \(HTTP 40[13]\)"):
        bad.read()
    with pytest.raises(NetBoxUnavailable, match=r"refused the token"):
        bad.setup()


def test_unreachable_netbox_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Nothing listens there once the socket is closed.
    src = NetBoxSource(NetBoxSettings(f"http://127.0.0.1:{port}", "nbt_x.y"))
    with pytest.raises(NetBoxUnavailable, match=r"cannot be reached.*preau netbox up"):
        src.read()
    with pytest.raises(NetBoxUnavailable, match=r"cannot be reached"):
        src.push(demo())
