"""The ENT stack under load on the twin: scale-out on a load step, zero failures through scale-out
and scale-in, a killed instance taken out by health checks (counted by wrk, not timed).

The stack is the ent_portal role's default molecule scenario (`preau ent lab up`): reused when it
already runs (and left running); otherwise its whole `molecule test` runs here (create, converge,
idempotence, verify) with the hosts kept up for the load tests, then destroyed at the end (unless
PREAU_KEEP_LAB=1). test_molecule.py leaves that scenario to this module: one bring-up, not two.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fixtures import molecule
from preau.app import app
from preau.ent import controller, hosts, lab, load, scaler, target
from preau.ent.autoscale import Loop
from preau.ent.journal import Journal
from preau.ent.traffic import Profile, Traffic
from preau.ent.uplink import FixedUplink
from preau.errors import PreauError

pytestmark = pytest.mark.lab


@dataclass
class Stack:
    target: target.Target
    molecule_log: Path | None  # None: the stack was already up, its scenario not run here


@pytest.fixture(scope="module")
def stack_run(lab_images: None) -> Iterator[Stack]:
    log = None
    try:
        t = target.resolve(None)
        t.runtime.servers("portal")
    except PreauError:
        log = molecule.test("ent_portal", "default", keep=True)
        t = target.resolve(None)
    sc = scaler.Scaler(t.runtime, t.hosts, FixedUplink())
    sc.apply(scaler.plan(sc.servers(), 2))
    yield Stack(t, log)
    sc.apply(scaler.plan(sc.servers(), 4))  # the role's own count (2 hosts x 2)
    if log and os.environ.get("PREAU_KEEP_LAB") != "1":
        lab.down()


@pytest.fixture(scope="module")
def stack(stack_run: Stack) -> target.Target:
    return stack_run.target


def test_the_roles_scenario_passes_before_the_load(stack_run: Stack) -> None:
    """Its verifier, idempotence included, ran on these hosts (molecule.test fails otherwise)."""
    if stack_run.molecule_log is None:
        pytest.skip("the stack was already up: run `molecule test -s default` in roles/ent_portal")
    log = stack_run.molecule_log.read_text(errors="replace")
    for step in ("converge", "idempotence", "verify"):
        assert f"[default > {step}] Executed: Successful" in log, step


def _scaler(t: target.Target, journal: Journal | None = None) -> scaler.Scaler:
    say = journal.say if journal else scaler._quiet
    return scaler.Scaler(t.runtime, t.hosts, FixedUplink(), say=say)


def _play(t: target.Target, profile: Profile) -> list[load.Segment]:
    return load.run(profile, Traffic(), f"https://{t.lb_addr}/", target.secret("demo-password"))


def test_a_load_step_scales_out_and_the_new_instances_serve(stack, tmp_path):
    sc = _scaler(stack, Journal(tmp_path / "decisions.jsonl", quiet=True))
    sc.apply(scaler.plan(sc.servers(), 1))
    before = {s.name: s.req_tot for s in sc.servers()}
    policy = controller.Policy(
        min_instances=1, max_instances=8, target_rps=40, cooldown_out_s=2, cooldown_in_s=300
    )
    stop = threading.Event()
    loop = Loop(sc, policy, Journal(tmp_path / "decisions.jsonl", quiet=True), sleep=stop.wait)
    worker = threading.Thread(target=loop.run, args=(2.0,), kwargs={"stop": stop.is_set})
    worker.start()
    try:
        # 60 req/s, then 180 req/s: 40 req/s per instance needs 5
        segments = _play(stack, Profile("step", ((1, 6), (3, 20)), "test step"))
    finally:
        stop.set()
        worker.join(60)
    after = sc.servers()
    grown = [s for s in after if s.enabled and s.name != "app1"]
    assert sum(s.errors for s in segments) == 0
    assert len(grown) >= 3, [(s.name, s.status) for s in after]
    # every added instance took requests through HAProxy
    assert all(s.req_tot > before[s.name] for s in grown), [(s.name, s.req_tot) for s in grown]
    log = (tmp_path / "decisions.jsonl").read_text()
    assert '"action": "out"' in log and "above the target 40" in log


def test_no_failed_request_through_scale_out_and_scale_in(stack):
    sc = _scaler(stack)
    sc.apply(scaler.plan(sc.servers(), 1))
    result: dict[str, list[load.Segment]] = {}
    runner = threading.Thread(
        target=lambda: result.update(
            s=_play(stack, Profile("steady", ((2, 30),), "scale under load"))
        )
    )
    runner.start()
    time.sleep(3)
    sc.apply(scaler.plan(sc.servers(), 5))
    assert sum(s.up for s in sc.servers()) == 5
    sc.apply(scaler.plan(sc.servers(), 1))
    runner.join(120)
    segments = result["s"]
    total = sum(s.requests for s in segments)
    assert total > 1000
    assert sum(s.errors for s in segments) == 0, [(s.t, s.errors) for s in segments]
    assert [s.name for s in sc.servers() if s.enabled] == ["app1"]


def test_a_killed_instance_is_taken_out_by_health_checks(stack):
    sc = _scaler(stack)
    sc.apply(scaler.plan(sc.servers(), 4))
    victim = next(s for s in sc.servers() if s.name == "app3")
    unit = hosts.UNIT.format(port=victim.port)
    result: dict[str, list[load.Segment]] = {}
    runner = threading.Thread(
        target=lambda: result.update(
            s=_play(stack, Profile("steady", ((2, 16),), "kill under load"))
        )
    )
    runner.start()
    time.sleep(3)
    # die abruptly (no drain), and stay dead: stop cancels systemd's automatic restart
    stack.hosts.run(
        victim.host, ["sh", "-c", f"systemctl kill --signal=SIGKILL {unit}; systemctl stop {unit}"]
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = next(s.status for s in sc.servers() if s.name == victim.name)
        if status.startswith("DOWN"):
            break
        time.sleep(0.2)
    runner.join(120)
    assert status.startswith("DOWN"), status
    errors = sum(s.errors for s in result["s"])
    # only requests inside the killed process could fail; HAProxy retries the others
    assert errors <= 8, errors  # ent_portal_server_maxconn
    print(f"killed {victim.name}: {errors} failed of {sum(s.requests for s in result['s'])}")
    hosts.start(stack.hosts, victim.host, victim.port)
    hosts.wait_healthy(stack.hosts, victim.host, victim.port, "/healthz", 30)


def test_a_scripted_peak_with_autoscaling_fails_no_request_and_reports(stack, tmp_path):
    """`preau ent load --profile drill`: peak, 4x, peak with the controller on, as the operator
    runs it; the report carries every segment and the plots."""
    report, log = tmp_path / "report", tmp_path / "decisions.jsonl"
    args = ["ent", "load", "--profile", "drill", "--report", str(report), "--log", str(log)]
    args += ["--start-instances", "1", "--cooldown-in", "4", "--target-rps", "40"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((report / "report.json").read_text())["summary"]
    assert summary["errors"] == 0, summary
    assert summary["requests"] > 3000, summary  # 44 s at 60 then 240 req/s
    assert summary["max_instances"] >= 4, summary  # 240 req/s at 40 per instance: 6
    segments = json.loads((report / "report.json").read_text())["segments"]
    last = [s for s in segments if s["t"] > segments[-1]["t"] - 4]
    assert max(s["instances"] for s in last) < summary["max_instances"]  # scaled back in
    for name in ("overview", "requests", "latency", "errors", "instances"):
        png = (report / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000, name
    decisions = [json.loads(line) for line in log.read_text().splitlines()]
    assert {"out", "in"} <= {d.get("action") for d in decisions}, decisions
