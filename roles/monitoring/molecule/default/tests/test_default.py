"""roles/monitoring (and roles/node_exporter on the watched host), checked by what the desk sees:
Prometheus' HTTP API says the target is up with its collège's labels, and real faults (a service
stopped, an exporter stopped, an uplink loaded past its commit rate) fire alerts that reach the
webhook receiver and resolve there once the fault is gone."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import testinfra

testinfra_hosts = ["molecule-monitoring"]

NODE = "molecule-monitoring-node"
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


def received(host: Any, alertname: str, status: str, since: int, **labels: str) -> bool:
    return any(
        a["labels"].get("alertname") == alertname
        and a["status"] == status
        and all(a["labels"].get(k) == v for k, v in labels.items())
        for a in notifications(host)[since:]
    )


@pytest.fixture
def mark(host: Any) -> Iterator[int]:
    """How many alerts the webhook had received before the test."""
    yield len(notifications(host))


def test_the_daemons_run_with_the_checked_configuration(host: Any) -> None:
    for unit in ("prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter"):
        assert host.service(unit).is_running, unit
        assert host.service(unit).is_enabled, unit
    assert host.socket("tcp://0.0.0.0:9090").is_listening
    assert host.socket("tcp://0.0.0.0:9093").is_listening
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
    assert (labels["role"], labels["room"], labels["host"]) == ("router", "local-technique", NODE)
    (sample,) = query(host, 'up{job="node",uai="0929001J"}')
    assert sample["value"][1] == "1"
    # node_exporter reports the watched unit, and only the watched ones
    units = query(host, 'node_systemd_unit_state{state="active"}')
    assert [(u["metric"]["name"], u["value"][1]) for u in units] == [("preau-probe.service", "1")]


def test_the_blackbox_exporter_probes_the_configured_urls(host: Any) -> None:
    def probe() -> list[dict[str, Any]]:
        return [s for s in query(host, 'probe_success{job="blackbox-http"}') if s["value"][1] == "1"]

    wait("probe_success 1", probe, 60)


def test_a_stopped_service_fires_the_service_alert_and_it_resolves(
    host: Any, node: Any, mark: int
) -> None:
    node.run_expect([0], "systemctl stop preau-probe.service")
    try:
        wait("ServiceDown firing at the webhook", lambda: received(
            host, "ServiceDown", "firing", mark, name="preau-probe.service", uai="0929001J"))  # fmt: skip
    finally:
        node.run_expect([0], "systemctl start preau-probe.service")
    wait("ServiceDown resolved at the webhook", lambda: received(
        host, "ServiceDown", "resolved", mark, name="preau-probe.service"))  # fmt: skip


def test_a_host_that_stops_answering_fires_target_down_and_it_resolves(
    host: Any, node: Any, mark: int
) -> None:
    node.run_expect([0], "systemctl stop prometheus-node-exporter.service")
    try:
        wait("TargetDown firing", lambda: received(host, "TargetDown", "firing", mark, host=NODE))
    finally:
        node.run_expect([0], "systemctl start prometheus-node-exporter.service")
    wait("TargetDown resolved", lambda: received(host, "TargetDown", "resolved", mark, host=NODE))


def test_an_uplink_above_80_percent_of_its_commit_rate_fires_and_resolves(
    host: Any, mark: int
) -> None:
    (idle,) = query(host, 'preau:uplink_utilisation:ratio{uai="0929001J",direction="out"}')
    assert float(idle["value"][1]) < 0.8, idle  # the scrapes alone are far below
    # ~11 Mbit/s out of the watched host's eth0 for as long as the alert needs (10 Mbit/s commit)
    load = host.run("systemd-run --unit=uplink-load curl -s -o /dev/null --limit-rate 1400k "
                    f"http://{NODE}:8080/load.bin")  # fmt: skip
    assert load.rc == 0, load.stderr
    try:
        wait("CollegeUplinkSaturated firing", lambda: received(
            host, "CollegeUplinkSaturated", "firing", mark, uai="0929001J", direction="out"))  # fmt: skip
        (busy,) = query(host, 'preau:uplink_utilisation:ratio{uai="0929001J",direction="out"}')
        assert float(busy["value"][1]) > 0.8, busy
    finally:
        host.run("systemctl stop uplink-load")
    wait("CollegeUplinkSaturated resolved", lambda: received(
        host, "CollegeUplinkSaturated", "resolved", mark, uai="0929001J"))  # fmt: skip
