"""roles/app_server, checked from a PC the way the collège would notice it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import testinfra

# podman exec: much faster than the ansible backend for the many commands run here
testinfra_hosts = ["podman://app-server"]

SERVER = "app-server"
QUEUE = "cdi-imprimante"
SPOOL = "/var/spool/ippeveprinter"
# The Debian mirror the lab images use (their /etc/apt/sources.list.d).
MIRROR = "http://deb.debian.org/debian"


@pytest.fixture(scope="module")
def pc():
    return testinfra.get_host("podman://app-pc")


@pytest.fixture(scope="module")
def printer():
    return testinfra.get_host("podman://app-printer")


def wait_for(check, attempts: int = 60):
    """Poll until check() is truthy (the job travels server -> printer asynchronously)."""
    for _ in range(attempts):
        result = check()
        if result:
            return result
        time.sleep(1)
    return check()


@pytest.mark.parametrize(
    ("unit", "socket"),
    [
        ("tftpd-hpa", "udp://0.0.0.0:69"),
        ("nginx", "tcp://0.0.0.0:80"),
        ("apt-cacher-ng", "tcp://0.0.0.0:3142"),
        ("cups", "tcp://0.0.0.0:631"),
        ("chrony", "udp://0.0.0.0:123"),
    ],
)
def test_service_runs_and_listens(host, unit, socket):
    assert host.service(unit).is_running
    assert host.service(unit).is_enabled
    assert host.socket(socket).is_listening


def test_pc_fetches_pxe_loader_over_tftp(host, pc):
    pc.run_expect([0], f"cd /tmp && tftp {SERVER} -c get undionly.kpxe")
    fetched = pc.run_expect([0], "sha256sum /tmp/undionly.kpxe").stdout.split()[0]
    served = host.run_expect([0], "sha256sum /srv/tftp/undionly.kpxe").stdout.split()[0]
    assert fetched == served
    assert pc.file("/tmp/undionly.kpxe").size > 10_000


def test_pc_fetches_ipxe_script_over_tftp_and_http(pc):
    pc.run_expect([0], f"cd /tmp && tftp {SERVER} -c get boot.ipxe")
    assert pc.file("/tmp/boot.ipxe").content_string.startswith("#!ipxe")
    http = pc.run_expect([0], f"curl -sf http://{SERVER}/boot/boot.ipxe").stdout
    assert f"set boot-url http://{SERVER}/boot" in http


def test_pc_gets_repository_files_through_the_cache(host, pc):
    url = f"{MIRROR}/dists/bookworm/Release"
    got = pc.run_expect(
        [0], f"curl -sf --proxy http://{SERVER}:3142 {url} -o /tmp/Release && head -3 /tmp/Release"
    )
    assert "Origin: Debian" in got.stdout
    cached = host.run_expect([0], "find /var/cache/apt-cacher-ng -name Release -path '*bookworm*'")
    assert cached.stdout.strip(), "the file did not go through the cache"
    digest = hashlib.sha256(pc.file("/tmp/Release").content).hexdigest()
    assert pc.run_expect([0], "sha256sum /tmp/Release").stdout.startswith(digest)


def test_queue_points_at_the_printer(host):
    out = host.run_expect([0], f"lpstat -v {QUEUE}").stdout
    assert "ipp://app-printer/ipp/print" in out
    assert "accepting requests" in host.run_expect([0], f"lpstat -a {QUEUE}").stdout


def test_test_page_reaches_the_printer(pc, printer):
    before = set(printer.run(f"ls {SPOOL}").stdout.split())
    pc.run_expect([0], "echo 'Page de test, CDI du collège' > /tmp/page.txt")
    job = pc.run_expect([0], f"lp -h {SERVER}:631 -d {QUEUE} -t page-de-test /tmp/page.txt")
    assert "request id" in job.stdout

    def arrived():
        return set(printer.run(f"ls {SPOOL}").stdout.split()) - before

    new = wait_for(arrived)
    assert new, f"no job arrived in {SPOOL} on the printer"
    (name,) = new
    # the server turned the text into a document the printer said it takes (PDF first)
    assert name.endswith("-page-de-test.pdf"), name
    assert printer.file(f"{SPOOL}/{name}").content.startswith(b"%PDF")


def test_ntp_answers_pcs(pc):
    # an SNTP client query: mode 3 request, expect a mode 4 server reply with a stratum
    script = (
        "import socket;"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.settimeout(5);"
        f"s.sendto(b'\\x23'+47*b'\\0',('{SERVER}',123));"
        "d=s.recv(48);print(d[0]&7,d[1])"
    )
    mode, stratum = pc.run_expect([0], f'python3 -c "{script}"').stdout.split()
    assert mode == "4"
    assert 1 <= int(stratum) <= 15


def test_printer_without_address_stops_before_any_change(host):
    """The inventory writes address "None" for a printer the source of truth gives no address."""
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    before = host.run_expect([0], "lpstat -v").stdout
    printers = [
        {"name": "cdi-imprimante", "address": "app-printer"},
        {"name": "salle-s101", "address": "None"},
    ]
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("ansible-playbook")),
            "-i", os.environ["MOLECULE_INVENTORY_FILE"],
            str(scenario / "converge.yml"),
            "-e", json.dumps({"app_server_printers": printers}),
        ],
        capture_output=True, text=True, check=False,
        env=os.environ | {"ANSIBLE_ROLES_PATH": str(scenario.parents[2]), "ANSIBLE_NOCOLOR": "1"},
    )  # fmt: skip
    assert run.returncode != 0
    # the callback wraps long messages: compare words
    assert "printer salle-s101 has no address" in " ".join((run.stdout + run.stderr).split())
    assert host.run_expect([0], "lpstat -v").stdout == before
