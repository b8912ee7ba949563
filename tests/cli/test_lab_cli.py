"""`preau lab` commands that need no running lab: the dry-run plan, bad input, the inventory."""

from __future__ import annotations

import json

import pytest

from preau.lab import topology


@pytest.fixture(autouse=True)
def _own_state(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """No remembered `lab up` from this machine leaks into these tests."""
    monkeypatch.setenv("PREAU_HOME", str(tmp_path / "home"))


def test_up_dry_run_lists_the_planned_hosts(preau) -> None:  # type: ignore[no-untyped-def]
    res = preau("lab", "up", "--dry-run", "--source", "files", "--college", "0929002K")
    assert res.exit_code == 0, res.output
    assert "would bring up" in res.output
    assert "thd-core" in res.output
    assert "clg-0929002k-rtr1" in res.output
    assert "clg-0929001j" not in res.output


def test_up_refuses_an_unknown_college(preau) -> None:  # type: ignore[no-untyped-def]
    res = preau("lab", "up", "--dry-run", "--source", "files", "--college", "clg-nope")
    assert res.exit_code == 2
    assert "--college clg-nope" in res.output


def test_inventory_reaches_hosts_through_podman(preau) -> None:  # type: ignore[no-untyped-def]
    res = preau("lab", "inventory", "--source", "files", "--pcs", "1")
    assert res.exit_code == 0, res.output
    tree = json.loads(res.output)["all"]["children"]
    lab = tree["lab"]["hosts"]
    assert "thd-core" in lab and "ent-lb1" in lab
    assert sum(1 for h in lab if "-pc" in h) == 1
    router = tree["clg_0929001j"]["hosts"]["clg-0929001j-rtr1"]
    assert router["ansible_connection"] == "containers.podman.podman"
    assert router["ansible_host"] == topology.container_name("clg-0929001j-rtr1")
    assert router["preau_lab_interface_map"]["lan0.50"] == "lan0.50"
    assert tree["core"]["hosts"]["thd-core"]["preau_core_asn"] == 64600
