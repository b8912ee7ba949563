"""`preau ent load --kill`: bad specs refused before anything runs, a kill that cannot be done
recorded as such while the run goes on, and each kill listed and marked in the load report."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from preau.app import app
from preau.ent import faults, report
from preau.ent.balancers import Balancers
from preau.ent.haproxy import Runtime
from preau.ent.load import Segment
from preau.ent.traffic import PROFILES, Traffic
from preau.errors import BadInput, ServiceError

runner = CliRunner()


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("12:printer", "PART one of load, database, sessions, app"),
        ("load", "use SECONDS:PART"),
        ("soon:load", "is not a second of the run"),
        ("7:load", "is not a second of the run (0 to 6)"),  # smoke lasts 6 s
        ("-1:database", "is not a second of the run"),
    ],
)
def test_a_bad_kill_is_refused_before_anything_runs(spec: str, named: str, tmp_path: Path):
    # the runtime address is unroutable: reaching it would fail differently (ServiceError)
    r = runner.invoke(
        app,
        ["ent", "load", "--profile", "smoke", "--kill", spec, "--runtime", "tcp:198.18.0.1:9",
         "--report", str(tmp_path / "r"), "--log", str(tmp_path / "j.jsonl")],
    )  # fmt: skip
    assert isinstance(r.exception, BadInput) and r.exception.exit_code == 2, r.output
    assert f"--kill {spec}" in str(r.exception) and named in str(r.exception)
    assert not (tmp_path / "r").exists() and not (tmp_path / "j.jsonl").exists()


class Unreachable:
    """Hosts that never answer (SSH to a host that is down)."""

    containers = {"198.18.0.10": "lb1"}

    def run(self, addr: str, argv: Sequence[str], timeout: float = 30) -> str:
        raise ServiceError(f"app host {addr}: ssh: connect to host {addr} port 22: timed out")

    def reachable(self, addr: str) -> bool:
        return False


def test_a_kill_that_cannot_be_done_is_recorded_and_the_run_goes_on():
    said: list[tuple[str, dict[str, object]]] = []
    schedule = faults.Schedule(
        [faults.Kill(0.1, "load")],
        Unreachable(),
        Balancers([Runtime("tcp:198.18.0.1:9")]),
        "portal",
        say=lambda event, data: said.append((event, data)),
    )
    schedule.start(time.monotonic())
    time.sleep(0.5)
    (killed,) = schedule.stop()
    assert killed.host is None and killed.t >= 0.1
    assert killed.error and "no load pair" in killed.error
    assert killed.label == "kill load (not done)"
    assert said == [("kill", killed.as_dict())]


def _segments() -> list[Segment]:
    return [
        Segment(t=2.0 * i, step=0, multiplier=1, target_rps=50, connections=4, requests=100,
                rps=50, p50_ms=5, p99_ms=900 if i == 3 else 20, errors=7 if i == 3 else 0)
        for i in range(1, 6)
    ]  # fmt: skip


def test_the_report_lists_each_kill_and_marks_it_on_the_plots(tmp_path: Path):
    prof, traffic = PROFILES["smoke"], Traffic()
    kill = faults.Killed(5.0, "load", "198.18.0.10", ("haproxy.service",))
    plain = report.write(tmp_path / "plain", prof, traffic, _segments())
    marked = report.write(tmp_path / "marked", prof, traffic, _segments(), kills=[kill])
    data = json.loads((tmp_path / "marked" / "report.json").read_text())
    assert data["kills"] == [kill.as_dict()]
    md = (tmp_path / "marked" / "report.md").read_text()
    # the segments ending after the kill, up to 10 s later: the one with 7 failures and 900 ms
    assert "| 5.0 | load | 198.18.0.10 | haproxy.service | 7 | 900 |" in md
    assert "## Kills" not in (tmp_path / "plain" / "report.md").read_text()
    # the same data with and without the kill: the marker is what differs on each plot
    pngs = sorted(p.name for p in marked if p.suffix == ".png")
    assert {"latency.png", "errors.png", "overview.png"} <= set(pngs)
    for name in pngs:
        assert (tmp_path / "marked" / name).read_bytes() != (tmp_path / "plain" / name).read_bytes()
    assert len(plain) == len(marked)
