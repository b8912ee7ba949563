"""`preau lab inventory --script` (inventory/lab.sh): what the collège rollout reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from preau import inventory
from preau.lab import targets, topology
from preau.sot import open_source


def _tree(key: str | None = "ssh-ed25519 AAAA test") -> dict[str, Any]:
    dep = open_source("files").read()
    return targets.ansible_inventory(dep, topology.plan(dep), key)


def test_script_format_has_every_host_var_and_the_lab_key() -> None:
    out = inventory.script_format(_tree())
    fs = next(h for h in out["file_server"]["hosts"])
    assert out["_meta"]["hostvars"][fs]["ansible_connection"] == targets.ANSIBLE_CONNECTION
    assert out["lab"]["vars"]["common_ssh_authorized_keys"] == [
        {"user": "root", "key": "ssh-ed25519 AAAA test", "state": "present"}
    ]
    assert "colleges" in out["all"]["children"]


def test_no_key_no_key_var() -> None:
    assert "common_ssh_authorized_keys" not in _tree(None)["all"]["children"]["lab"]["vars"]


def test_lab_hosts_never_refresh_apt_lists() -> None:
    """Lab hosts cannot reach a mirror: installing must use the lists baked into their image."""
    lab_vars = _tree(None)["all"]["children"]["lab"]["vars"]
    # every role that declares the option (its argument specs), not a copy of the list
    specs = Path(__file__).resolve().parents[2].glob("roles/*/meta/argument_specs.yml")
    roles = [f.parts[-3] for f in specs if f"{f.parts[-3]}_apt_cache_valid_time:" in f.read_text()]
    assert roles
    for role in roles:
        assert lab_vars[f"{role}_apt_cache_valid_time"] >= 10 * 365 * 24 * 3600, role


def test_printers_are_cut_to_those_the_twin_runs() -> None:
    tree = _tree()["all"]["children"]
    printers = tree["printer"]["hosts"]
    for group in tree.values():
        for p in group.get("vars", {}).get("preau_printers", []):
            assert p["name"] in printers


def test_operator_key_is_made_once(tmp_path: Path) -> None:
    first = targets.operator_key(tmp_path)
    assert first.startswith("ssh-ed25519 ")
    assert targets.operator_key(tmp_path) == first
    assert (tmp_path / "lab" / "ssh" / "id_ed25519").stat().st_mode & 0o077 == 0
