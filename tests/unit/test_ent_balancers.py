"""A pair of load balancers driven as one (preau.ent.balancers), against two real HAProxy
processes started here (Debian's haproxy, scripts/host-packages.txt), each with its own
runtime socket: a change reaches both, and one that missed changes (down while they were made,
or restarted from its configuration) is brought back in line with the one that ran longer."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from preau.ent import scaler
from preau.ent.balancers import Balancers
from preau.ent.haproxy import Runtime
from preau.errors import ServiceError

pytestmark = pytest.mark.skipif(not shutil.which("haproxy"), reason="haproxy not installed")

# four slots as the role writes them: two enabled, two disabled until the scaler needs them
CONFIG = """
global
    stats socket {sock} mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend portal
    server app1 198.18.60.10:8001
    server app2 198.18.60.11:8001
    server app3 198.18.60.10:8002 disabled
    server app4 198.18.60.11:8002 disabled
"""


class Haproxy:
    def __init__(self, folder: Path, name: str):
        self.sock = folder / f"{name}.sock"
        self.config = folder / f"{name}.cfg"
        self.config.write_text(CONFIG.format(sock=self.sock))
        self.proc: subprocess.Popen[bytes] | None = None
        self.runtime = Runtime(f"unix:{self.sock}")

    def start(self) -> None:
        self.sock.unlink(missing_ok=True)
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", str(self.config)])
        deadline = time.monotonic() + 10
        while not self.sock.exists():
            assert time.monotonic() < deadline, "haproxy did not open its runtime socket"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def states(self) -> dict[str, tuple[str, int, str]]:
        return {n: (a.addr, a.port, a.state) for n, a in self.runtime.admin("portal").items()}


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Haproxy, Haproxy]]:
    lb1, lb2 = Haproxy(tmp_path, "lb1"), Haproxy(tmp_path, "lb2")
    lb1.start()
    time.sleep(1.1)  # Uptime_sec counts whole seconds: lb1 is the one that ran longer
    lb2.start()
    yield lb1, lb2
    lb1.stop()
    lb2.stop()


def test_the_admin_state_is_read_as_haproxy_holds_it(pair):
    lb1, _ = pair
    assert lb1.states() == {
        "app1": ("198.18.60.10", 8001, "ready"),
        "app2": ("198.18.60.11", 8001, "ready"),
        "app3": ("198.18.60.10", 8002, "maint"),
        "app4": ("198.18.60.11", 8002, "maint"),
    }
    lb1.runtime.set_state("portal", "app2", "drain")
    assert lb1.states()["app2"][2] == "drain"


def test_a_change_reaches_both_load_balancers(pair):
    lb1, lb2 = pair
    both = Balancers([lb1.runtime, lb2.runtime])
    both.set_addr("portal", "app3", "198.18.60.12", 8003)
    both.set_state("portal", "app3", "ready")
    both.set_state("portal", "app1", "maint")
    assert lb1.states() == lb2.states()
    assert lb2.states()["app3"] == ("198.18.60.12", 8003, "ready")
    assert both.reconcile("portal") == []  # nothing out of line
    # the slots the scaler plans from: the same whichever holds the traffic
    assert [s.enabled for s in both.servers("portal")] == [False, True, True, False]


def test_a_restarted_load_balancer_is_brought_in_line_with_the_one_that_ran_longer(pair):
    lb1, lb2 = pair
    both = Balancers([lb2.runtime, lb1.runtime])  # the order does not decide: the uptime does
    both.set_state("portal", "app3", "ready")
    both.set_state("portal", "app2", "drain")
    lb2.stop()
    lb2.start()  # from its configuration: app3 disabled again, app2 ready
    assert lb2.states() != lb1.states()
    assert both.reference() is lb1.runtime
    wanted = lb1.states()
    assert (
        both.reconcile("portal", dry_run=True) and lb2.states() != wanted
    )  # says, changes nothing
    fixes = both.reconcile("portal")
    assert {f.slot for f in fixes} == {"app2", "app3"}
    assert all(f.balancer == lb2.runtime.address for f in fixes)
    assert lb2.states() == wanted == lb1.states()
    assert both.reconcile("portal") == []


def test_a_change_made_while_one_is_down_reaches_it_when_it_is_back(pair):
    lb1, lb2 = pair
    said: list[tuple[str, dict[str, object]]] = []
    both = Balancers([lb1.runtime, lb2.runtime], say=lambda e, d: said.append((e, d)))
    lb2.stop()
    both.set_state("portal", "app4", "ready")  # the one that answers takes it
    assert (
        "balancer-missed",
        {"change": "portal/app4 ready", "balancer": lb2.runtime.address},
    ) in said
    lb2.start()
    assert [f.slot for f in both.reconcile("portal")] == ["app4"]
    assert lb2.states() == lb1.states()


def test_no_load_balancer_answering_is_an_error_not_a_silent_skip(pair):
    lb1, lb2 = pair
    both = Balancers([lb1.runtime, lb2.runtime])
    lb1.stop()
    lb2.stop()
    with pytest.raises(ServiceError, match="nothing was changed"):
        both.set_state("portal", "app3", "ready")
    with pytest.raises(ServiceError, match="nothing was changed"):
        both.servers("portal")


def test_the_scaler_brings_a_load_balancer_in_line_before_it_plans(pair):
    lb1, lb2 = pair
    both = Balancers([lb1.runtime, lb2.runtime])
    lb1.runtime.set_state("portal", "app3", "ready")  # as if lb2 had missed it
    said: list[str] = []
    sc = scaler.Scaler(both, None, None, say=lambda e, d: said.append(e))  # type: ignore[arg-type]
    assert [f.slot for f in sc.reconcile()] == ["app3"] and said == ["reconcile"]
    assert lb2.states() == lb1.states()
