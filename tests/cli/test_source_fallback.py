"""A NetBox that is configured but not answering: reads may fall back, changes may not.

The NetBox here is real configuration pointing at a loopback port nothing listens on (as a
stopped `preau netbox up` leaves it), run through the real entry point. A command that
changes a device or the source of truth must refuse rather than act on the embedded demo
files; `--source files` says the files are meant.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PREAU = str(Path(sys.executable).parent / "preau")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def stopped_local_netbox(tmp_path):
    """PREAU_HOME of a local NetBox that was set up (client.json) and is not running now."""
    home = tmp_path / "home"
    (home / "netbox").mkdir(parents=True)
    client = {"url": f"http://127.0.0.1:{closed_port()}", "token": "0" * 40}
    (home / "netbox" / "client.json").write_text(json.dumps(client))
    return home


@pytest.fixture
def inventory(tmp_path):
    dst = tmp_path / "inventory"
    shutil.copytree(REPO / "inventory", dst)
    return dst


def preau(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREAU_NETBOX_")}
    base.pop("PREAU_SOURCE", None)
    return subprocess.run(
        [PREAU, *args], capture_output=True, text=True, env={**base, **env}, timeout=120
    )


def unchanged(inventory: Path) -> bool:
    cmp = filecmp.dircmp(REPO / "inventory", inventory)
    stack, clean = [cmp], True
    while stack:
        d = stack.pop()
        clean &= not (d.left_only or d.right_only or d.diff_files)
        stack.extend(d.subdirs.values())
    return clean


ADD = ["college", "add", "--uai", "0929100S", "--name", "Collège Neuf", "--pupils", "480"]
CHANGES = {
    "college add": ADD,
    "net apply": ["net", "apply", "--college", "0929002K", "--target", "ssh", "--dry-run"],
    "net bandwidth": ["net", "bandwidth", "--college", "0929002K", "--rate", "200M", "--dry-run"],
}


@pytest.mark.parametrize("command", CHANGES, ids=list(CHANGES))
def test_a_change_refuses_the_files_when_the_local_netbox_is_down(
    command, stopped_local_netbox, inventory
):
    proc = preau(
        *CHANGES[command], "--path", str(inventory), env={"PREAU_HOME": str(stopped_local_netbox)}
    )
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the local NetBox"), proc.stderr
    assert "not answering" in lines[0] and "--source files" in lines[0]
    assert unchanged(inventory)


def test_a_read_falls_back_with_a_note(stopped_local_netbox, inventory):
    proc = preau(
        "college", "list", "--json", "--path", str(inventory),
        env={"PREAU_HOME": str(stopped_local_netbox)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "the local NetBox is not answering; reading the embedded files" in proc.stderr
    assert [c["uai"] for c in json.loads(proc.stdout)] == ["0929001J", "0929002K", "0929003L"]


def test_source_files_says_the_files_are_meant(stopped_local_netbox, inventory):
    proc = preau(
        *ADD, "--source", "files", "--path", str(inventory), "--json",
        env={"PREAU_HOME": str(stopped_local_netbox)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["college"]["uai"] == "0929100S"
    assert not unchanged(inventory)


def test_a_configured_remote_netbox_that_does_not_answer_is_an_error(tmp_path, inventory):
    env = {
        "PREAU_HOME": str(tmp_path / "home"),
        "PREAU_NETBOX_URL": f"http://127.0.0.1:{closed_port()}",
        "PREAU_NETBOX_TOKEN": "0" * 40,
    }
    proc = preau(*ADD, "--path", str(inventory), env=env)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "cannot be reached" in lines[0], proc.stderr
    assert unchanged(inventory)
