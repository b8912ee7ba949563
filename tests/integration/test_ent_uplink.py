"""The controller raises the data centre's uplink as `preau net bandwidth` does, measured with
iperf3 on the twin; with NetBox down, a scale that needs the uplink holds and changes nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from preau.deploys import net_apply
from preau.ent import controller, scaler
from preau.ent.uplink import NetUplink
from preau.errors import ServiceError
from preau.lab import podman, topology
from preau.sot import files
from preau.sot.filesource import FileSource

pytestmark = pytest.mark.lab
DC = "dc-nanterre"
TOLERANCE = 0.12


@pytest.fixture(scope="module")
def dc(lab):
    t = net_apply.target(lab.dep, DC, "lab")
    net_apply.apply(lab.dep, t, timeout=60)
    return lab, t


def _iperf_mbps(lab, seconds: int = 4) -> float:
    site = lab.dep.site(DC)
    core = topology.container_name(topology.CORE_NAME)
    podman.run("exec", "-d", core, "iperf3", "-s", "-1", "-p", "5202")
    time.sleep(0.5)
    out = lab.exec(
        site.router.name,
        "iperf3",
        "-c",
        str(site.circuit.core_address),
        "-p",
        "5202",
        "-t",
        str(seconds),
        "-J",
    ).stdout
    return float(json.loads(out)["end"]["sum_received"]["bits_per_second"]) / 1e6


def test_a_load_rise_doubles_the_uplink_measured_with_iperf3(dc, tmp_path: Path):
    lab, t = dc
    original = lab.dep.site(DC).circuit.commit_rate_mbps
    inv = tmp_path / "inventory"
    files.dump(lab.dep, inv)
    link = NetUplink("files", inv, DC, "lab")
    try:
        net_apply.bandwidth(lab.dep, t, 20)
        before = _iperf_mbps(lab)
        # the base rate (20 Mbit/s in the lab) was sized for 60 req/s; 130 req/s needs twice it
        policy = controller.Policy(
            baseline_rps=60, uplink_base_mbps=20, uplink_max_mbps=80, target_rps=1000
        ).check()
        d = controller.decide(policy, controller.Observation(100, 110, 1, 20), None)
        assert d.uplink_mbps == 40, d
        sc = scaler.Scaler(None, None, link)  # type: ignore[arg-type]  # no instance change
        sc.apply(scaler.ScalePlan(1, 1, (), (), 20, d.uplink_mbps))
        after = _iperf_mbps(lab)
        print(f"iperf3 through {DC} uplink: {before:.1f} Mbit/s at 20, {after:.1f} at 40")
        assert abs(before - 20) <= 20 * TOLERANCE
        assert abs(after - 40) <= 40 * TOLERANCE
        recorded = FileSource(inv).read().site(DC)
        assert recorded is not None and recorded.circuit is not None
        assert recorded.circuit.commit_rate_mbps == 40
    finally:
        net_apply.bandwidth(lab.dep, t, original)


def test_netbox_down_holds_the_scale_and_changes_nothing(dc, monkeypatch):
    lab, t = dc
    monkeypatch.setenv("PREAU_NETBOX_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PREAU_NETBOX_TOKEN", "0123456789abcdef0123456789abcdef01234567")
    before = net_apply.live_rate(t)
    link = NetUplink("netbox", None, DC, "lab")
    sc = scaler.Scaler(None, None, link)  # type: ignore[arg-type]
    with pytest.raises(ServiceError, match="holding, nothing changed"):
        sc.apply(scaler.ScalePlan(1, 1, (), (), 1000, 2000))
    assert net_apply.live_rate(t) == before
