"""roles/common, checked the way an operator would notice it, from the machine running molecule."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SSH_OPTS = [
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "ConnectTimeout=5",
]


@pytest.fixture(scope="module")
def address(host) -> str:
    """The instance's IPv4 address on its podman network, reachable from this machine."""
    return next(a for a in host.interface("eth0").addresses if ":" not in a)


def ssh(address: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ssh", *SSH_OPTS, *args, f"root@{address}", "hostname"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def connects(address: str, port: int) -> bool:
    """True if a TCP handshake completes; False if nothing answers within 3 s (dropped)."""
    try:
        with socket.create_connection((address, port), timeout=3):
            return True
    except TimeoutError:
        return False


@pytest.fixture
def listeners(host) -> Iterator[None]:
    """Web servers on 8080 (allowed by the scenario) and 8081 (not allowed) inside the instance."""
    for port in (8080, 8081):
        host.run_expect(
            [0], f"systemd-run --unit=probe-{port} python3 -m http.server {port} --bind 0.0.0.0"
        )
    for _ in range(50):
        if all(host.socket(f"tcp://0.0.0.0:{p}").is_listening for p in (8080, 8081)):
            break
        time.sleep(0.2)
    yield
    host.run("systemctl stop probe-8080 probe-8081")


def test_sshd_accepts_the_key(host, address):
    assert host.service("ssh").is_enabled
    assert host.socket("tcp://0.0.0.0:22").is_listening
    key = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "id_ed25519"
    done = ssh(address, "-i", str(key), "-o", "IdentitiesOnly=yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "molecule-common"


def test_sshd_refuses_passwords(address):
    done = ssh(
        address,
        "-o",
        "PreferredAuthentications=password,keyboard-interactive",
        "-o",
        "PubkeyAuthentication=no",
    )
    assert done.returncode == 255
    assert "Permission denied (publickey)" in done.stderr


def test_chrony_runs_and_follows_the_configured_server(host):
    chrony = host.service("chrony")
    assert chrony.is_running
    assert chrony.is_enabled
    assert "198.18.0.123" in host.check_output("chronyc -n sources")


def test_firewall_drops_what_is_not_allowed(host, address, listeners):
    assert host.service("nftables").is_enabled
    ruleset = host.check_output("nft list chain inet filter input")
    assert "policy drop" in ruleset
    # both listen and answer locally: what differs from outside is the firewall alone
    host.run_expect([0], "curl -sf -o /dev/null http://127.0.0.1:8081/")
    assert connects(address, 22)
    assert connects(address, 8080)
    assert not connects(address, 8081)


def test_journal_is_capped(host):
    log = host.check_output("journalctl -u systemd-journald -b --no-pager -o cat")
    assert "max 123.0M" in log


def test_unattended_upgrades_enabled(host):
    config = host.check_output("apt-config dump")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in config
    assert 'APT::Periodic::Update-Package-Lists "1";' in config
    timer = host.service("apt-daily-upgrade.timer")
    assert timer.is_enabled
    assert timer.is_running
    dry = host.run("unattended-upgrade --dry-run --debug")
    assert dry.rc == 0, dry.stderr
    origins = next(line for line in dry.stdout.splitlines() if "Allowed origins are:" in line)
    assert "codename=bookworm-security,label=Debian-Security" in origins
    # only security: Debian's default "label=Debian" (point releases) was cleared
    assert "label=Debian," not in origins + ","
