"""roles/monitoring (and roles/node_exporter on the watched host), checked by what the desk sees:
Prometheus' HTTP API says the target is up with its collège's labels, and real faults (a service
stopped, an exporter stopped, an uplink loaded past its commit rate) fire alerts that reach the
webhook receiver and resolve there once the fault is gone."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import testinfra
import yaml

testinfra_hosts = ["molecule-monitoring"]

NODE = "molecule-monitoring-node"
# the collège router it plays (molecule.yml), as the demo source of truth (inventory/) names it
ROUTER = "clg-0929001j-rtr1"
REPO = Path(__file__).resolve().parents[5]
POSTS = "/var/lib/webhook/posts.jsonl"


@pytest.fixture(scope="module")
def node() -> Any:
    return testinfra.get_host(f"podman://{NODE}")


def api(host: Any, path: str, **params: str) -> Any:
    url = f"http://127.0.0.1:9090/api/v1/{path}?{urllib.parse.urlencode(params)}"
    out = host.check_output(f"curl -sf {json.dumps(url)}")
    data = json.loads(out)
    assert data["status"] == "success", data
    return data["data"]


def query(host: Any, expr: str) -> list[dict[str, Any]]:
    return api(host, "query", query=expr)["result"]


def wait(what: str, check: Callable[[], Any], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(1)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def notifications(host: Any) -> list[dict[str, Any]]:
    """Every alert the webhook received, one dict per alert and notification."""
    text = host.file(POSTS).content_string if host.file(POSTS).exists else ""
    return [
        {**alert, "notified": post["status"]}
        for line in text.splitlines()
        for post in [json.loads(line)]
        for alert in post["alerts"]
    ]


def received(mon: Any, alertname: str, status: str, since: int, **labels: str) -> bool:
    """Has the webhook received this alert in this state since the mark (labels must match)?"""
    return any(
        a["labels"].get("alertname") == alertname
        and a["status"] == status
        and all(a["labels"].get(k) == v for k, v in labels.items())
        for a in notifications(mon)[since:]
    )


@pytest.fixture
def mark(host: Any) -> Iterator[int]:
    """How many alerts the webhook had received before the test."""
    yield len(notifications(host))


def test_the_daemons_run_with_the_checked_configuration(host: Any) -> None:
    for unit in ("prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter"):
        assert host.service(unit).is_running, unit
        assert host.service(unit).is_enabled, unit
    for port in (9090, 9093, 9115):  # Prometheus, Alertmanager, blackbox exporter: ready
        host.run_expect([0], f"curl -sf http://127.0.0.1:{port}/-/ready")
    # what the role wrote is what the daemons' own checkers accept
    host.run_expect([0], "promtool check config /etc/prometheus/prometheus.yml")
    host.run_expect([0], "amtool check-config /etc/prometheus/alertmanager.yml")
    rules = api(host, "rules")["groups"]
    names = {r["name"] for g in rules for r in g["rules"]}
    assert {"CollegeUplinkSaturated", "TargetDown", "ServiceDown", "DiskAlmostFull",
            "EntSlow", "EntErrors"} <= names  # fmt: skip


def test_prometheus_scrapes_the_node_and_it_is_up_with_its_colleges_labels(host: Any) -> None:
    def up() -> list[dict[str, Any]]:
        return [t for t in api(host, "targets")["activeTargets"] if t["health"] == "up"
                and t["labels"]["job"] == "node"]  # fmt: skip

    (target,) = wait("the node target up", up, 60)
    labels = target["labels"]
    assert labels["uai"] == "0929001J" and labels["site"] == "clg-0929001j"
    assert (labels["role"], labels["room"], labels["host"]) == ("router", "local-technique", ROUTER)
    (sample,) = query(host, 'up{job="node",uai="0929001J"}')
    assert sample["value"][1] == "1"
    # node_exporter reports the watched unit, and only the watched ones
    units = query(host, 'node_systemd_unit_state{state="active"}')
    assert [(u["metric"]["name"], u["value"][1]) for u in units] == [("preau-probe.service", "1")]


def test_the_blackbox_exporter_probes_the_configured_urls(host: Any) -> None:
    def probe() -> list[dict[str, Any]]:
        return [
            s for s in query(host, 'probe_success{job="blackbox-http"}') if s["value"][1] == "1"
        ]

    wait("probe_success 1", probe, 60)


def test_a_stopped_service_fires_the_service_alert_and_it_resolves(
    host: Any, node: Any, mark: int
) -> None:
    node.run_expect([0], "systemctl stop preau-probe.service")
    try:
        wait(
            "ServiceDown firing at the webhook",
            partial(
                received,
                host,
                "ServiceDown",
                "firing",
                mark,
                name="preau-probe.service",
                uai="0929001J",
            ),
        )
    finally:
        node.run_expect([0], "systemctl start preau-probe.service")
    wait(
        "ServiceDown resolved at the webhook",
        partial(received, host, "ServiceDown", "resolved", mark, name="preau-probe.service"),
    )


def test_a_host_that_stops_answering_fires_target_down_and_it_resolves(
    host: Any, node: Any, mark: int
) -> None:
    node.run_expect([0], "systemctl stop prometheus-node-exporter.service")
    try:
        wait(
            "TargetDown firing", partial(received, host, "TargetDown", "firing", mark, host=ROUTER)
        )
    finally:
        node.run_expect([0], "systemctl start prometheus-node-exporter.service")
    wait(
        "TargetDown resolved", partial(received, host, "TargetDown", "resolved", mark, host=ROUTER)
    )


def test_an_uplink_above_80_percent_of_its_commit_rate_fires_and_resolves(
    host: Any, mark: int
) -> None:
    out = 'preau:uplink_utilisation:ratio{uai="0929001J",direction="out"}'
    # a rate needs two scrapes in its window: none right after an exporter restart
    (idle,) = wait("the uplink's utilisation recorded", partial(query, host, out), 60)
    assert float(idle["value"][1]) < 0.8, idle  # the scrapes alone are far below
    # ~11 Mbit/s out of the watched host's eth0 for as long as the alert needs (10 Mbit/s commit)
    load = host.run("systemd-run --unit=uplink-load curl -s -o /dev/null --limit-rate 1400k "
                    f"http://{NODE}:8080/load.bin")  # fmt: skip
    assert load.rc == 0, load.stderr
    try:
        wait(
            "CollegeUplinkSaturated firing",
            partial(
                received,
                host,
                "CollegeUplinkSaturated",
                "firing",
                mark,
                uai="0929001J",
                direction="out",
            ),
        )
        # The alert fired on the recorded ratio; a single read right after may fall in a dip of
        # the download (curl's rate limiter on a busy machine), so the reads below poll.
        wait("the recorded utilisation above 80%",
             lambda: any(float(r["value"][1]) > 0.8 for r in query(host, out)), 60)  # fmt: skip
        # what the desk's command shows, read from this Prometheus' HTTP API
        saturated = {"alertname": "CollegeUplinkSaturated", "direction": "out",
                     "severity": "warning"}  # fmt: skip

        def desk_sees_it() -> bool:
            state = status(host, "college", "status", "0929001J")
            return state["uplink"]["out"] > 0.8 and saturated in state["alerts"]

        wait("`preau college status` showing the saturated uplink", desk_sees_it, 60)
    finally:
        host.run("systemctl stop uplink-load")
    wait(
        "CollegeUplinkSaturated resolved",
        partial(received, host, "CollegeUplinkSaturated", "resolved", mark, uai="0929001J"),
    )


def status(host: Any, *args: str) -> Any:
    """`preau ... --json` from the machine running molecule, against the scenario's Prometheus."""
    address = next(a for a in host.interface("eth0").addresses if ":" not in a)
    proc = subprocess.run(
        ["preau", *args, "--source", "files", "--path", str(REPO / "inventory"),
         "--prometheus-url", f"http://{address}:9090", "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_the_desk_draws_the_uplink_with_the_saturation_it_just_had(host: Any) -> None:
    """`preau college status --plot`: the last hour of the uplink, read from Prometheus, shows
    the previous test's load above the threshold the running rule uses, and the alert's span."""
    picture = REPO / "build" / "monitoring" / "uplink-0929001J.png"
    picture.unlink(missing_ok=True)
    state = status(host, "college", "status", "0929001J", "--plot", str(picture), "--hours", "1")
    assert state["plot"] == str(picture)
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000
    history = state["history"]
    # the rule as Prometheus runs it, rendered from the role's default
    defaults = yaml.safe_load((REPO / "roles/monitoring/defaults/main.yml").read_text())
    assert history["threshold"] == float(defaults["monitoring_uplink_threshold"])
    assert history["peak"]["out"] > history["threshold"], history  # the load, recorded
    assert history["points"]["out"] >= 4 and history["firing"], history  # and its alert


def test_the_status_commands_read_the_college_from_prometheus(host: Any) -> None:
    # after the uplink test's load, the 1-minute rate takes up to a window to fall back
    state = wait(
        "the uplink back under 80%",
        lambda: (
            (got := status(host, "college", "status", "0929001J"))["uplink"]["out"] < 0.8 and got
        ),
        120,
    )
    hosts = {h["host"]: h for h in state["hosts"]}
    assert hosts[ROUTER]["up"] is True and 0 < hosts[ROUTER]["memory_used"] < 1
    # the collège's servers are in the source of truth but not in this scenario: not known
    assert {h["up"] for n, h in hosts.items() if n != ROUTER} == {None}
    assert 0 <= state["uplink"]["out"] < 0.8 and "in" in state["uplink"]
    rows = {r["uai"]: r for r in status(host, "monitoring", "status")}
    assert rows["0929001J"]["up"] == 1 and rows["0929002K"]["up"] == 0
