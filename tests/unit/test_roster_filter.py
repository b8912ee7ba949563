"""The Ansible filter shim of roles/file_server: same answers as preau.roster, Ansible errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from ansible.errors import AnsibleFilterError

SHIM = Path(__file__).resolve().parents[2] / "roles/file_server/filter_plugins/roster.py"
HEADER = "classe;nom;prénom;date de naissance;profil\n"


@pytest.fixture(scope="module")
def shim() -> ModuleType:
    spec = importlib.util.spec_from_file_location("roster_filter", SHIM)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_filters_registered(shim: ModuleType) -> None:
    assert set(shim.FilterModule().filters()) == {"preau_roster_plan", "preau_roster_classes"}


def test_plan_then_classes_from_state(shim: ModuleType) -> None:
    plan = shim.preau_roster_plan(HEADER + "6A;Martin;Léa;01/01/2014;élève\n", None, "r.csv")
    assert [a["login"] for a in plan["accounts"]] == ["lea.martin"]
    assert plan["created"] == ["lea.martin"]
    assert shim.preau_roster_classes(plan["state"]) == ["6a"]


def test_bad_roster_is_an_ansible_error_naming_the_line(shim: ModuleType) -> None:
    with pytest.raises(AnsibleFilterError, match="r.csv line 2: classe: missing"):
        shim.preau_roster_plan(HEADER + ";Martin;Léa;01/01/2014;élève\n", {}, "r.csv")
