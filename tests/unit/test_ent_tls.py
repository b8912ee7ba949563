"""preau.ent.tls and its Ansible shim (roles/ent_portal/filter_plugins/x509.py): when the
portal's certificate in place was made for another validity than the inventory asks."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

from preau.ent.tls import CertificateInfoError, validity_changed, validity_days

SHIM = Path(__file__).resolve().parents[2] / "roles/ent_portal/filter_plugins/x509.py"


def info(not_before: str, not_after: str, **extra: Any) -> dict[str, Any]:
    """What x509_certificate_info registers (the fields this module reads)."""
    return {"changed": False, "not_before": not_before, "not_after": not_after, **extra}


# made by x509_certificate with selfsigned_not_after "+825d" on 1 December 2026
MADE_825 = info("20261201093012Z", "20290305093012Z")


@pytest.fixture(scope="module")
def shim() -> ModuleType:
    spec = importlib.util.spec_from_file_location("x509_filter", SHIM)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_validity_in_days() -> None:
    assert validity_days(MADE_825) == 825
    # a second either way (the module computes both ends) is still the same number of days
    assert validity_days(info("20261201093012Z", "20290305093013Z")) == 825
    assert validity_days(info("20261201093012Z", "20261231093012Z")) == 30


def test_same_validity_is_left_alone() -> None:
    assert validity_changed(MADE_825, 825) is False


def test_other_validity_forces_a_new_certificate() -> None:
    assert validity_changed(MADE_825, 30) is True
    assert validity_changed(MADE_825, 826) is True


@pytest.mark.parametrize("absent", [None, {}, {"skipped": True, "changed": False}])
def test_no_certificate_yet_is_not_forced(absent: dict[str, Any] | None) -> None:
    # x509_certificate makes the first one by itself
    assert validity_changed(absent, 825) is False


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (info("2026-12-01", "20290305093012Z"), "not_before: '2026-12-01' is not an ASN.1 time"),
        ({"changed": False, "not_before": "20261201093012Z"}, "not_after: missing"),
        ({"failed": True, "msg": "unreadable"}, "the read failed: unreadable"),
    ],
)
def test_a_read_that_says_nothing_is_an_error_not_a_no(bad: dict[str, Any], message: str) -> None:
    with pytest.raises(CertificateInfoError, match=message):
        validity_changed(bad, 825)


def test_validity_must_be_a_day_or_more() -> None:
    with pytest.raises(CertificateInfoError, match="0 days"):
        validity_changed(MADE_825, 0)


def test_shim_registers_the_filter(shim: ModuleType) -> None:
    assert set(shim.FilterModule().filters()) == {"preau_x509_validity_changed"}


def test_shim_gives_the_same_answers(shim: ModuleType) -> None:
    assert shim.preau_x509_validity_changed(MADE_825, "825") is False  # Jinja may pass a string
    assert shim.preau_x509_validity_changed(MADE_825, 30) is True
    assert shim.preau_x509_validity_changed({"skipped": True}, 825) is False


@pytest.mark.parametrize("days", [0, "thirty", None])
def test_shim_turns_bad_input_into_an_ansible_error(shim: ModuleType, days: Any) -> None:
    with pytest.raises(AnsibleFilterError, match="preau_x509_validity_changed: "):
        shim.preau_x509_validity_changed(MADE_825, days)


def test_shim_turns_a_bad_read_into_an_ansible_error(shim: ModuleType) -> None:
    with pytest.raises(AnsibleFilterError, match="not_after: missing"):
        shim.preau_x509_validity_changed({"not_before": "20261201093012Z"}, 825)
