"""Starting and stopping portal instances (systemd template units) on the app hosts.

An app host is known by the address HAProxy sends to. In the twin it is a podman container
(found by its address on a podman network); in production it is reached over SSH.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import time
from collections.abc import Sequence
from typing import Protocol

from preau.errors import BadInput, ServiceError

UNIT = "ent-portal@{port}.service"


class Hosts(Protocol):
    def run(self, addr: str, argv: Sequence[str], timeout: float = 30) -> str: ...

    def reachable(self, addr: str) -> bool: ...


def _run(cmd: list[str], what: str, timeout: float) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(f"{what}: `{' '.join(cmd[-4:])}` timed out after {timeout:g} s") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ServiceError(f"{what}: `{' '.join(cmd[-4:])}` failed: {tail[0]}")
    return proc.stdout


class PodmanHosts:
    """App hosts as podman containers, found by their address on any podman network."""

    def __init__(self, containers: dict[str, str]):
        self.containers = containers

    @classmethod
    def discover(cls, prefix: str = "preau-ent-") -> PodmanHosts:
        if shutil.which("podman") is None:
            raise ServiceError("podman is not installed: run scripts/bootstrap")
        names = _run(
            ["podman", "ps", "--filter", f"name=^{prefix}", "--format", "{{.Names}}"],
            "podman",
            30,
        ).split()
        found: dict[str, str] = {}
        if names:
            for item in json.loads(_run(["podman", "inspect", *names], "podman", 30)):
                for net in (item.get("NetworkSettings", {}).get("Networks") or {}).values():
                    if net.get("IPAddress"):
                        found[net["IPAddress"]] = item["Name"].lstrip("/")
        return cls(found)

    def container(self, addr: str) -> str:
        try:
            return self.containers[addr]
        except KeyError:
            raise BadInput(
                f"app host {addr}: no running lab container has this address "
                f"(known: {', '.join(sorted(self.containers)) or 'none'})"
            ) from None

    def run(self, addr: str, argv: Sequence[str], timeout: float = 30) -> str:
        name = self.container(addr)
        return _run(["podman", "exec", name, *argv], f"app host {name}", timeout)

    def reachable(self, addr: str) -> bool:
        try:
            self.run(addr, ["true"], timeout=10)
        except (ServiceError, BadInput):
            return False
        return True


class SshHosts:
    """App hosts reached over SSH by address (keys only, no prompt)."""

    def __init__(self, user: str = "root"):
        self.user = user

    def run(self, addr: str, argv: Sequence[str], timeout: float = 30) -> str:
        cmd = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", f"{self.user}@{addr}"]
        # ssh hands the remote shell one string: quote each argument so it arrives whole
        return _run([*cmd, "--", shlex.join(argv)], f"app host {addr}", timeout)

    def reachable(self, addr: str) -> bool:
        try:
            self.run(addr, ["true"], timeout=10)
        except ServiceError:
            return False
        return True


def start(hosts: Hosts, addr: str, port: int) -> None:
    hosts.run(addr, ["systemctl", "enable", "--now", UNIT.format(port=port)])


def stop(hosts: Hosts, addr: str, port: int) -> None:
    hosts.run(addr, ["systemctl", "disable", "--now", UNIT.format(port=port)])


def wait_healthy(hosts: Hosts, addr: str, port: int, path: str, timeout: float) -> None:
    """Wait until the instance answers its health path, asked from its own host."""
    url = f"http://{addr}:{port}{path}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            hosts.run(addr, ["curl", "-fsS", "-o", "/dev/null", "-m", "2", url], timeout=10)
            return
        except ServiceError as exc:
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"{url}: no healthy answer after {timeout:g} s ({exc}); see "
                    f"`journalctl -u {UNIT.format(port=port)}` on the app host"
                ) from exc
            time.sleep(0.3)
