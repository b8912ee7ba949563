"""The alert rules with the role's default thresholds, evaluated by Prometheus' own rule engine
(`promtool test rules`) over synthetic series: the role's template rendered by Ansible itself,
the uplinks' commit rates as preau generates them from the model.

promtool comes from Debian's `prometheus` package on this machine if installed, else from the
lab's monitoring image (`preau lab image build monitoring`, which `make test` builds first);
skipped where neither is there.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from preau.monitoring import targets
from preau.sot.generate import generate

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "monitoring"
IMAGE = "localhost/preau-monitoring:latest"


def _promtool() -> list[str] | None:
    """How to run promtool here: installed, or in the monitoring image (podman)."""
    local = shutil.which("promtool")
    if local:
        return [local]
    podman = shutil.which("podman")
    if podman and subprocess.run([podman, "image", "exists", IMAGE]).returncode == 0:
        # /tmp is where pytest's tmp_path lives: the same paths inside the container
        return [podman, "run", "--rm", "--network=none", "-v", "/tmp:/tmp", IMAGE, "promtool"]
    return None


PROMTOOL = _promtool()
# with the role's scenarios: it may run a container of the image they use
pytestmark = [
    pytest.mark.molecule,
    pytest.mark.skipif(
        PROMTOOL is None, reason="no promtool: install prometheus or build the monitoring image"
    ),
]


def _render(tmp_path: Path) -> Path:
    """preau-alerts.yml as the role writes it with its defaults, rendered by Ansible."""
    out = tmp_path / "preau-alerts.yml"
    src = ROLE / "templates" / "etc" / "prometheus" / "rules" / "preau-alerts.yml.j2"
    subprocess.run(
        ["ansible", "localhost", "-c", "local", "-m", "ansible.builtin.template",
         "-a", f"src={src} dest={out}",
         "-e", f"@{ROLE / 'defaults' / 'main.yml'}", "-e", f"@{ROLE / 'vars' / 'main.yml'}"],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return out


def _bytes_per_15s(share: float, mbps: int) -> int:
    return int(share * mbps * 1_000_000 / 8 * 15)


def test_the_default_alerts_fire_as_documented(tmp_path: Path) -> None:
    dep = generate(2, pcs=0, printers=0)
    a, b = dep.colleges
    assert a.circuit is not None and b.circuit is not None
    rules = _render(tmp_path)
    generated = tmp_path / targets.UPLINK_RULES_FILE
    generated.write_text(yaml.safe_dump(targets.uplink_rules(dep)))

    def tx(c, device: str, share: float) -> dict[str, str]:  # type: ignore[no-untyped-def]
        labels = f'role="router",site="{c.slug}",uai="{c.uai}",device="{device}"'
        step = _bytes_per_15s(share, c.circuit.commit_rate_mbps)
        return {"series": f"node_network_transmit_bytes_total{{{labels}}}",
                "values": f"0+{step}x40"}  # fmt: skip

    fs = f'job="node",role="file-server",host="{a.slug}-fs1",site="{a.slug}",uai="{a.uai}"'
    portal = 'haproxy_backend_http_responses_total{proxy="portal",code='
    (probe,) = targets.http_probes(dep)
    series = [
        tx(a, "wan0", 0.9),  # 90% of its commit rate: fires after 5 minutes
        tx(b, "wan0", 0.7),  # 70%: never
        tx(b, "lan0.50", 2.0),  # a LAN port is not the uplink
        {"series": f"up{{{fs}}}", "values": "1 1 1 0x20"},
        {"series": f'node_systemd_unit_state{{{fs},name="smbd.service",state="active"}}',
         "values": "1 1 0x20"},
        {"series": portal + '"5xx"}', "values": "0+2x40"},  # 2% errors
        {"series": portal + '"2xx"}', "values": "0+98x40"},
        {"series": 'haproxy_backend_total_time_average_seconds{proxy="portal"}',
         "values": "0.35x40"},
        {"series": f'probe_success{{job="blackbox-http",instance="{probe}"}}',
         "values": "1 1 1 0x20"},
    ]  # fmt: skip
    uplink = {"severity": "warning", "site": a.slug, "uai": a.uai, "direction": "out"}
    host = {"severity": "critical", **_labels(fs)}
    unit = {**host, "name": "smbd.service", "state": "active"}
    expected = [
        _alert("CollegeUplinkSaturated", "4m"),
        _alert("CollegeUplinkSaturated", "7m", uplink, {
            "summary": f"Collège {a.uai}: uplink out at 90% of its commit rate",
            "description": "Above 80% of the commit rate for 5m: raise the rate "
                           "(`preau net bandwidth`) or find the flow."}),
        _alert("TargetDown", "2m"),
        _alert("TargetDown", "3m", host, {
            "summary": f"{a.slug}-fs1 (file-server, {a.slug}) does not answer",
            "description": "No scrape of  succeeded for 2m: host down, exporter stopped "
                           "or the path to the collège cut."}),
        _alert("ServiceDown", "1m"),
        _alert("ServiceDown", "2m", unit, {
            "summary": f"smbd.service is not running on {a.slug}-fs1 ({a.slug})",
            "description": "The unit has not been active for 1m."}),
        _alert("EntErrors", "4m"),
        _alert("EntErrors", "7m", {"severity": "critical", "proxy": "portal"},
               {"summary": "ENT backend portal: 2% of responses are errors"}),
        _alert("ProbeFailed", "2m"),
        _alert("ProbeFailed", "3m", {"severity": "critical", "job": "blackbox-http",
                                     "instance": probe},
               {"summary": f"{probe} does not answer its probe"}),
        _alert("EntSlow", "7m", {"severity": "warning", "proxy": "portal"},
               {"summary": "ENT backend portal: requests take 350ms"}),
    ]  # fmt: skip
    case = {
        "rule_files": [str(rules), str(generated)],
        "evaluation_interval": "15s",
        "tests": [{"interval": "15s", "input_series": series, "alert_rule_test": expected}],
    }
    test_file = tmp_path / "test.yml"
    test_file.write_text(yaml.safe_dump(case, sort_keys=False))
    assert PROMTOOL is not None
    proc = subprocess.run([*PROMTOOL, "test", "rules", str(test_file)], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _alert(
    name: str,
    at: str,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, object]:
    """An expectation: at `at`, `name` fires once with these labels, or not at all."""
    alerts = [] if labels is None else [{"exp_labels": labels, "exp_annotations": annotations}]
    return {"eval_time": at, "alertname": name, "exp_alerts": alerts}


def _labels(selector: str) -> dict[str, str]:
    return dict((k, v.strip('"')) for k, v in (p.split("=", 1) for p in selector.split(",")))
