"""The engines reach the twin's hosts: Ansible via containers.podman, pyinfra via @podman."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyinfra.api import Config, Inventory, State
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.facts.server import Command, Hostname

from fixtures.lab import Lab
from preau.lab import targets

pytestmark = pytest.mark.lab


def test_ansible_reaches_every_lab_host_with_the_model_vars(lab: Lab, tmp_path: Path) -> None:
    inventory = tmp_path / "lab.json"
    inventory.write_text(json.dumps(lab.ansible_inventory()))
    venv_bin = str(Path(sys.executable).parent)
    env = {**targets.engine_env(), "PATH": f"{venv_bin}:{os.environ['PATH']}"}
    proc = subprocess.run(
        [f"{venv_bin}/ansible", "-i", str(inventory), "lab", "-o", "-f", "12",
         "-m", "ansible.builtin.command", "-a", "hostname"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in lab.plan.names:
        # each container answers with its own hostname: the connection reached the right one
        assert f"{name} | CHANGED | rc=0 | (stdout) {name}\n" in proc.stdout
    proc = subprocess.run(
        [f"{venv_bin}/ansible-inventory", "-i", str(inventory), "--host", lab.one("router").name],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    hostvars = json.loads(proc.stdout)
    assert hostvars["preau_role"] == "router"
    assert hostvars["preau_site"] == lab.college
    assert hostvars["preau_lab_interface_map"]["lan0"] is None
    assert hostvars["preau_lab_interface_map"]["lan0.20"] == "lan0.20"


def test_pyinfra_reaches_the_routers(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in targets.engine_env().items():
        if key == "CONTAINERS_CONF":
            monkeypatch.setenv(key, value)
    hosts = targets.pyinfra_inventory(lab.plan, roles=["router", "core"])
    assert len(hosts) == len(lab.plan.colleges) + 2  # the collèges', the data centre's, the core
    inventory = Inventory((hosts, {}))
    state = State(inventory, Config())
    connect_all(state)
    try:
        for host in inventory:
            name = host.data.preau_name
            assert host.get_fact(Hostname) == name
            if name != "thd-core":
                wan = lab.host(name).nic("wan0")
                assert wan is not None
                out = host.get_fact(Command, command="ip -4 -o addr show wan0")
                assert str(wan.address) in out
    finally:
        disconnect_all(state)
