"""`preau college rollout|plan|drift` on the twin, run as an operator types them (the CLI in a
subprocess, `--json` for its event stream and results).

One module-scoped rollout, then its rerun beside a collège the twin does not run (the rerun must
change nothing and say so; the other collège fails without stopping it), a plan on the
converged collège (nothing would change, exit 0), then drift: changes made behind preau's back
(a share added to smb.conf, smbd stopped, the printer's CUPS queue deleted, a rule added to the
router's nftables file) are each named with host, object and diff, with exit code 3; a rollout
puts them back. Five playbook runs on the collège's router and two servers; measured (2-core
machine, load 4, on a twin the rollout module had converged): 461 s for the module.

Like test_college_rollout.py, the module hands the lab back with the servers' own firewall off
(later lab tests listen on ad-hoc ports).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fixtures.lab import Lab

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
PREAU = REPO / ".venv" / "bin" / "preau"
DRIFT = 3  # `plan` and `drift`: something differs


@dataclass
class Cli:
    rc: int
    lines: list[dict[str, Any]]
    stdout: str
    stderr: str

    def results(self) -> list[dict[str, Any]]:
        return [x for x in self.lines if x.get("type") == "result"]

    def tail(self) -> str:
        return self.stdout[-4000:] + self.stderr[-2000:]


def preau(*args: str, stream: bool = False) -> Cli:
    proc = subprocess.run(
        [str(PREAU), *args, "--source", "files", "--json"],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=1800,
    )  # fmt: skip
    if stream:  # one JSON object per line
        lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    else:
        lines = [json.loads(proc.stdout)] if proc.stdout.strip().startswith("{") else []
    return Cli(proc.returncode, lines, proc.stdout, proc.stderr)


@dataclass
class Rollouts:
    first: Cli
    second: Cli
    uai: str
    servers: list[str]
    router: str
    other: str


@pytest.fixture(scope="module")
def rollouts(lab: Lab) -> Iterator[Rollouts]:
    college = lab.dep.college(lab.college)
    assert college is not None
    servers = [lab.one("file-server").name, lab.one("app-server").name]
    first = preau("college", "rollout", college.uai, stream=True)
    # with a collège the twin does not run: it fails, the first is rolled out all the same
    other = next(c for c in lab.dep.colleges if c.slug not in lab.plan.colleges)
    second = preau(
        "college", "rollout", college.uai, other.uai, "--target", "lab", "--parallel", "2",
        stream=True,
    )  # fmt: skip
    yield Rollouts(first, second, college.uai, servers, lab.one("router").name, other.uai)
    for server in servers:
        lab.exec(server, "systemctl", "disable", "--now", "nftables", check=False)
        lab.exec(server, "nft", "flush", "ruleset", check=False)


def test_a_rollout_streams_progress_and_converges(rollouts: Rollouts) -> None:
    run = rollouts.first
    assert run.rc == 0, run.tail()
    (result,) = run.results()
    assert result["verdict"] in ("changed", "nothing changed") and not result["failed"]
    assert result["where"] == "lab"
    # college.yml: the servers' roles, and node_exporter on the router too
    played = {*rollouts.servers, rollouts.router}
    assert set(result["servers"]["hosts"]) == played
    # the live stream: each host's progress, task by task, while the playbook ran
    events = [x for x in run.lines if x.get("type") == "event" and x.get("host")]
    assert {e["host"] for e in events} == played
    assert any(e["progress"]["task"] and e["progress"]["ok"] for e in events)
    stages = [x["message"] for x in run.lines if x.get("type") == "stage"]
    assert stages[0].startswith("network: ") and any(s.startswith("servers: ") for s in stages)
    assert (Path(result["servers"]["artifacts"]) / "stdout").is_file()  # the run's log is kept


def test_a_second_rollout_changes_nothing_and_says_so(rollouts: Rollouts) -> None:
    run = rollouts.second
    results = {r["uai"]: r for r in run.results()}
    assert set(results) == {rollouts.uai, rollouts.other}, run.tail()
    failed = results[rollouts.other]
    assert failed["failed"] and "not running in the twin" in failed["error"], failed
    assert run.rc == 2, run.tail()  # the only failure is the caller's: a collège not in the twin
    result = results[rollouts.uai]
    assert result["verdict"] == "nothing changed", result
    assert result["net"]["changed"] == [] and result["servers"]["changed"] == 0
    assert result["servers"]["changes"] == [], result["servers"]["changes"]


def test_a_plan_on_a_converged_college_changes_nothing(rollouts: Rollouts) -> None:
    plan = preau("college", "plan", rollouts.uai)
    assert plan.rc == 0, plan.tail()
    (report,) = plan.lines
    assert report["findings"] == [] and report["servers"]["check"]
    assert report["verdict"] == "nothing to change"


def test_drift_names_what_was_changed_behind_preaus_back(lab: Lab, rollouts: Rollouts) -> None:
    fs, app = lab.one("file-server").name, lab.one("app-server").name
    router, printer = lab.one("router").name, lab.one("printer").name
    lab.exec(fs, "sh", "-c", "printf '[bricolage]\\n   path = /tmp\\n' >> /etc/samba/smb.conf")
    lab.exec(fs, "systemctl", "stop", "smbd")
    lab.exec(app, "lpadmin", "-x", printer)
    rule = "add rule inet preau input tcp dport 2323 accept"
    lab.exec(router, "sh", "-c", f"echo '{rule}' >> /etc/nftables.conf")
    try:
        drift = preau("college", "drift", rollouts.uai)
        assert drift.rc == DRIFT, drift.tail()
        found = drift.lines[0]["findings"]
        by_host: dict[str, list[dict[str, str]]] = {}
        for f in found:
            by_host.setdefault(f["host"], []).append(f)
        smb = [f for f in by_host.get(fs, []) if "bricolage" in f["diff"]]
        assert smb and "smb.conf" in smb[0]["diff"], by_host.get(fs)
        started = [f for f in by_host.get(fs, []) if "systemd_service" in f["object"]
                   and "Samba daemon" in f["object"]]  # fmt: skip
        assert started and "smbd.service" in started[0]["diff"], by_host.get(fs)
        queue = [f for f in by_host.get(app, []) if "lpadmin" in f["diff"]]
        assert queue and printer in queue[0]["diff"], by_host.get(app)
        nft = [f for f in by_host.get(router, []) if f["object"] == "/etc/nftables.conf"]
        assert nft and f"-{rule}" in nft[0]["diff"], by_host.get(router)
    finally:
        repair = preau("college", "rollout", rollouts.uai, stream=True)
    assert repair.rc == 0, repair.tail()
    (result,) = repair.results()
    assert result["verdict"] == "changed"
    assert "etc/nftables.conf" in result["net"]["changed"]
    assert lab.exec(fs, "systemctl", "is-active", "smbd", check=False).stdout.strip() == "active"
    assert printer in lab.exec(app, "lpstat", "-v").stdout
