"""Scale plans (pure) and the all-or-nothing rule of the scaler."""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from preau.ent import scaler
from preau.ent.haproxy import Runtime, Server, parse_address
from preau.ent.uplink import FixedUplink
from preau.errors import BadInput, ServiceError


def slot(i: int, status: str) -> Server:
    host = f"198.18.60.{10 + (i - 1) % 2}"
    return Server("portal", f"app{i}", f"{host}:{8001 + (i - 1) // 2}", status, 0, 0, 0, 0, 0, 0)


def servers(enabled: int, total: int = 8) -> list[Server]:
    return [slot(i, "UP" if i <= enabled else "MAINT") for i in range(1, total + 1)]


def test_scale_out_takes_the_first_free_slots_across_hosts():
    p = scaler.plan(servers(2), 5)
    assert [s.name for s in p.add] == ["app3", "app4", "app5"]
    assert {s.addr for s in p.add} == {"198.18.60.10", "198.18.60.11"}
    assert p.remove == () and (p.current, p.target) == (2, 5)


def test_scale_in_drains_the_last_enabled_first():
    p = scaler.plan(servers(5), 2)
    assert [s.name for s in p.remove] == ["app5", "app4", "app3"]
    assert p.add == ()


def test_same_count_changes_nothing():
    assert not scaler.plan(servers(3), 3).changes


@pytest.mark.parametrize("n", [0, 9])
def test_impossible_counts_are_refused(n):
    with pytest.raises(BadInput, match=f"--instances {n}"):
        scaler.plan(servers(2), n)


class FakeRuntime:
    """Records runtime commands; the slot states follow them."""

    def __init__(self, srv: list[Server]):
        self.srv = {s.name: s for s in srv}
        self.commands: list[str] = []

    def reconcile(self, backend: str, dry_run: bool = False) -> list[object]:
        return []  # one load balancer: always in line with itself

    def servers(self, backend: str) -> list[Server]:
        return list(self.srv.values())

    def set_addr(self, backend: str, name: str, addr: str, port: int) -> None:
        self.commands.append(f"addr {name}")

    def set_state(self, backend: str, name: str, state: str) -> None:
        self.commands.append(f"{state} {name}")
        s = self.srv[name]
        status = {"ready": "UP", "drain": "DRAIN", "maint": "MAINT"}[state]
        self.srv[name] = Server(s.backend, s.name, s.addr, status, 0, 0, 0, 0, 0, 0)


class FlakyHosts:
    """Every host answers; starting a unit on `broken` fails."""

    def __init__(self, broken: str | None = None, unreachable: str | None = None):
        self.broken, self.unreachable = broken, unreachable
        self.running: set[tuple[str, str]] = set()

    def run(self, addr: str, argv: Sequence[str], timeout: float = 30) -> str:
        if argv[:3] == ["systemctl", "enable", "--now"]:
            if addr == self.broken:
                raise ServiceError(f"app host {addr}: unit failed")
            self.running.add((addr, argv[3]))
        if argv[:3] == ["systemctl", "disable", "--now"]:
            self.running.discard((addr, argv[3]))
        return ""

    def reachable(self, addr: str) -> bool:
        return addr != self.unreachable


def test_a_failure_midway_rolls_everything_back():
    rt = FakeRuntime(servers(2))
    hosts = FlakyHosts(broken="198.18.60.11")
    sc = scaler.Scaler(rt, hosts, FixedUplink(), poll=0)  # type: ignore[arg-type]
    with pytest.raises(ServiceError, match="rolled back .* the stack is as it was"):
        sc.apply(scaler.plan(rt.servers("portal"), 5))
    assert hosts.running == set()
    assert [s.name for s in rt.servers("portal") if s.enabled] == ["app1", "app2"]


def test_an_unreachable_host_holds_before_any_change():
    rt = FakeRuntime(servers(2))
    hosts = FlakyHosts(unreachable="198.18.60.11")
    sc = scaler.Scaler(rt, hosts, FixedUplink(), poll=0)  # type: ignore[arg-type]
    with pytest.raises(ServiceError, match="unreachable; holding, nothing changed"):
        sc.apply(scaler.plan(rt.servers("portal"), 5))
    assert rt.commands == [] and hosts.running == set()


class DownUplink(FixedUplink):
    def check(self) -> None:
        from preau.errors import NetBoxUnavailable

        raise NetBoxUnavailable("NetBox at http://127.0.0.1:1: connection refused")


def test_netbox_down_holds_a_scale_that_changes_the_uplink():
    rt = FakeRuntime(servers(2))
    hosts = FlakyHosts()
    sc = scaler.Scaler(rt, hosts, DownUplink(1000), poll=0)  # type: ignore[arg-type]
    with pytest.raises(ServiceError, match="NetBox .* holding, nothing changed"):
        sc.apply(scaler.plan(rt.servers("portal"), 4, 1000, 2000))
    assert rt.commands == [] and hosts.running == set()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("unix:/run/haproxy/admin.sock", "unix"),
        ("/run/x.sock", "unix"),
        ("tcp:198.18.0.2:9999", "tcp"),
        ("198.18.0.2:9999", "tcp"),
    ],
)
def test_runtime_addresses(text, kind):
    assert parse_address(text)[0] == kind


@pytest.mark.parametrize("text", ["tcp:nohost", "198.18.0.2:port", ":9999"])
def test_bad_runtime_addresses_are_refused(text):
    with pytest.raises(BadInput, match="runtime address"):
        parse_address(text)


def test_an_unreachable_socket_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ServiceError, match="nothing was changed"):
        Runtime(f"unix:{tmp_path / 'absent.sock'}").servers("portal")


def test_show_stat_is_parsed_from_a_real_socket(tmp_path: Path):
    header = "# pxname,svname,qcur,scur,stot,status,addr,req_tot,bout,hrsp_5xx,"
    rows = [
        "portal,BACKEND,0,3,900,UP,,1200,50000,2,",
        "portal,app1,0,2,500,UP,198.18.60.10:8001,700,30000,1,",
        "portal,app2,0,1,400,MAINT,198.18.60.11:8001,500,20000,1,",
    ]
    path = tmp_path / "admin.sock"
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(path))
    srv.listen(4)

    def serve() -> None:
        for _ in range(2):
            conn, _ = srv.accept()
            conn.recv(100)
            conn.sendall(("\n".join([header, *rows]) + "\n").encode())
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    rt = Runtime(f"unix:{path}")
    got = rt.servers("portal")
    assert [(s.name, s.enabled, s.port, s.req_tot) for s in got] == [
        ("app1", True, 8001, 700),
        ("app2", False, 8001, 500),
    ]
    assert rt.totals("portal").req_tot == 1200
    srv.close()
