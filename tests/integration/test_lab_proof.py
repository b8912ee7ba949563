"""The twin carries real traffic along the paths the model describes, and `down` cleans up.

A PC on the teaching VLAN reaches the app server through the collège router (one hop: TTL 63)
and the ENT load balancer in the data centre through the router, the THD Seine core and the
data-centre router (three hops: TTL 61), with ICMP and a real TCP (HTTP) exchange. Turning
forwarding off on the collège router cuts both paths, so the traffic cannot be taking another.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from netaddr import IPAddress

from fixtures.lab import Lab
from preau.lab import twin
from preau.lab.topology import switch_netns
from preau.model import services

pytestmark = pytest.mark.lab

# Port 80: the network design allows it both ways this test looks (teaching -> the app server's
# HTTP boot service, everyone -> the ENT), so the proof holds whether or not `preau net apply`
# configured the routers earlier in the session.
HTTP_PORT = services.HTTP_BOOT.ports[0]


def _ttl(lab: Lab, src: str, dst: str) -> int:
    out = lab.exec(src, "ping", "-c", "1", "-W", "2", str(lab.address(dst))).stdout
    match = re.search(r"ttl=(\d+)", out)
    assert match, f"no reply from {dst} in: {out}"
    return int(match.group(1))


@contextmanager
def _http_server(lab: Lab, host: str) -> Iterator[str]:
    """A one-file HTTP server on `host` (a transient systemd unit); yields the served token.

    A rolled-out app server's nginx holds the port: it is stopped for the proof, then restarted.
    """
    token = secrets.token_hex(8)
    unit = "preau-proof-http"
    nginx = lab.exec(host, "systemctl", "is-active", "nginx", check=False).stdout.strip()
    if nginx == "active":
        lab.exec(host, "systemctl", "stop", "nginx")
    lab.exec(host, "sh", "-c", f"mkdir -p /run/proof && echo {token} > /run/proof/token")
    lab.exec(host, "systemctl", "reset-failed", unit, check=False)
    lab.exec(
        host,
        "systemd-run",
        f"--unit={unit}",
        "python3",
        "-m",
        "http.server",
        str(HTTP_PORT),
        "--bind",
        str(lab.address(host)),
        "--directory",
        "/run/proof",
    )
    try:
        yield token
    finally:
        lab.exec(host, "systemctl", "stop", unit, check=False)
        if nginx == "active":
            lab.exec(host, "systemctl", "start", "nginx")


def _fetch(lab: Lab, src: str, dst: str) -> str:
    url = f"http://{lab.address(dst)}:{HTTP_PORT}/token"
    # --retry-connrefused covers the server's start-up, not a slow network
    return lab.exec(
        src, "curl", "-sf", "--connect-timeout", "3", "--max-time", "10",
        "--retry", "20", "--retry-connrefused", "--retry-delay", "1", "--retry-max-time", "60", url,
    ).stdout.strip()  # fmt: skip


def test_every_host_is_booted_and_reaches_its_first_hop(lab: Lab) -> None:
    rows = {r.name: r for r in twin.status()}
    assert set(rows) == set(lab.plan.names)
    for row in rows.values():
        assert row.system == "running", f"{row.name}: systemd {row.system}"
        assert row.reachable, f"{row.name}: first hop {row.gateway} unreachable"


def test_interfaces_carry_the_model_names_and_addresses(lab: Lab) -> None:
    router = lab.one("router")
    assert router.device is not None
    rows = {r.name: r for r in twin.status()}
    seen = set(rows[router.name].addresses)
    for itf in router.device.interfaces:
        if itf.address is not None:
            assert f"{itf.name} {itf.address}" in seen


def test_pc_reaches_the_app_server_through_the_college_router(lab: Lab) -> None:
    pc, app = lab.one("pc").name, lab.one("app-server").name
    assert lab.host(pc).nics[0].vlan == "teaching"
    assert _ttl(lab, pc, app) == 63  # one router crossed
    with _http_server(lab, app) as token:
        assert _fetch(lab, pc, app) == token


def test_pc_reaches_the_ent_through_the_core(lab: Lab) -> None:
    pc, lb = lab.one("pc").name, lab.one("load-balancer").name
    assert _ttl(lab, pc, lb) == 61  # collège router, THD Seine core, data-centre router
    with _http_server(lab, lb) as token:
        assert _fetch(lab, pc, lb) == token


def test_traffic_really_crosses_the_college_router(lab: Lab) -> None:
    pc, fs, router = lab.one("pc").name, lab.one("file-server").name, lab.one("router").name
    twin.set_sysctl(router, "net.ipv4.ip_forward", "0")
    try:
        proc = lab.exec(pc, "ping", "-c", "1", "-W", "1", str(lab.address(fs)), check=False)
        assert proc.returncode != 0, "reached the file server with the router not forwarding"
    finally:
        twin.set_sysctl(router, "net.ipv4.ip_forward", "1")
    assert _ttl(lab, pc, fs) == 63


def test_up_again_changes_nothing(lab: Lab) -> None:
    assert not lab.up().changed


def test_up_repairs_a_stopped_host_and_a_lost_bridge(lab: Lab) -> None:
    pc, fs = lab.one("pc").name, lab.one("file-server").name
    twin.podman.run("stop", "--time", "2", lab.host(fs).container)
    teaching = next(b for b in lab.plan.bridges if b.site == lab.college and b.vlan == "teaching")
    subprocess.run(["ip", "-n", switch_netns(), "link", "del", teaching.name], check=True)
    report = lab.up()
    assert lab.host(fs).container in report.started
    assert f"{pc}:eth0" in report.wired
    assert _ttl(lab, pc, fs) == 63
    assert not lab.up().changed


def test_up_recreates_a_host_whose_processes_were_killed_behind_podmans_back(lab: Lab) -> None:
    """A session killed with its conmons leaves podman saying "running" with a dead pid."""
    printer = lab.host(lab.one("printer").name)
    out = twin.podman.run(
        "inspect", "--format", "{{.State.ConmonPid}} {{.State.Pid}}", printer.container
    ).stdout.split()
    for pid in out:  # conmon first, so nobody tells podman the container exited
        subprocess.run(["kill", "-KILL", pid], check=True)
    gone = Path(f"/proc/{out[1]}/ns/net")
    for _ in range(50):  # until the killed PID 1 is reaped
        if not gone.exists():
            break
        time.sleep(0.2)
    state = twin.podman.run("inspect", "--format", "{{.State.Status}}", printer.container)
    assert state.stdout.strip() == "running", "podman noticed: the fault was not reproduced"
    assert twin.lab_containers()[printer.container].state == twin.GHOST
    report = lab.up()
    assert printer.container in report.removed
    assert printer.container in report.created
    assert {r.name: r for r in twin.status()}[printer.name].reachable


def test_up_puts_back_the_model_address_and_route(lab: Lab) -> None:
    pc = lab.one("pc")
    pid = str(twin.pid_of(pc.name))
    stray = "198.18.0.250/24" if pc.address != IPAddress("198.18.0.250") else "198.18.0.251/24"
    subprocess.run(
        ["nsenter", "-t", pid, "-n", "sh", "-c",
         f"ip addr flush dev eth0 && ip addr add {stray} dev eth0"],
        check=True,
    )  # fmt: skip
    report = lab.up()
    assert pc.name in report.configured
    rows = {r.name: r for r in twin.status()}
    assert rows[pc.name].addresses == [f"eth0 {pc.nics[0].address}"]
    assert rows[pc.name].reachable


def test_down_leaves_nothing_behind_and_up_rebuilds(lab: Lab) -> None:
    twin.down()
    assert twin.leftovers() == []
    report = lab.up()
    assert len(report.created) == len(lab.plan.hosts)
    assert _ttl(lab, lab.one("pc").name, lab.one("load-balancer").name) == 61
