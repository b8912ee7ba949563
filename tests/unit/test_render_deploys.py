"""The apply side without a host: units to reload, the archive, the file fact, rates, errors."""

from __future__ import annotations

import base64
import io
import tarfile

import pytest
from typer.testing import CliRunner

from preau.app import app
from preau.deploys import net as deploy
from preau.deploys import net_apply
from preau.errors import BadInput
from preau.render import render_device
from preau.sot.generate import generate


@pytest.mark.parametrize(
    ("changed", "units"),
    [
        (["etc/frr/frr.conf"], ["frr"]),
        (["etc/nftables.conf", "etc/frr/daemons"], ["nftables", "frr"]),
        (["usr/local/sbin/preau-shaping"], ["shaping"]),
        (["etc/systemd/system/preau-shaping.service"], ["shaping"]),
        (["etc/systemd/network/30-lan0.20.network"], ["networkd"]),
        (["etc/systemd/networkd.conf.d/preau.conf"], ["networkd"]),
        (["etc/dnsmasq.d/preau.conf", "etc/sysctl.d/90-preau-router.conf"], ["sysctl", "dnsmasq"]),
        ([], []),
    ],
)
def test_only_the_units_fed_by_changed_files_reload(changed: list[str], units: list[str]) -> None:
    assert deploy.units_to_reload(changed) == units


def test_every_rendered_router_file_feeds_a_unit() -> None:
    dep = generate(1)
    site = dep.colleges[0]
    assert site.router is not None
    for path in render_device(dep, site, site.router):
        assert deploy.units_to_reload([path]), path


def test_frr_restarts_when_its_daemons_change_and_lab_sysctl_only_checks() -> None:
    assert deploy.reload_command("frr", ["etc/frr/daemons"]) == deploy.FRR_RESTART
    assert "reload frr" in deploy.reload_command("frr", ["etc/frr/frr.conf"])
    assert deploy.reload_command("sysctl", [], sysctl_readonly=True) == deploy.LAB_SYSCTL
    network = deploy.reload_command("networkd", ["etc/systemd/network/10-wan0.network"])
    assert "networkctl reload" in network and network != deploy.NETWORKD_RESTART
    conf = ["etc/systemd/network/10-wan0.network", "etc/systemd/networkd.conf.d/preau.conf"]
    assert deploy.reload_command("networkd", conf) == deploy.NETWORKD_RESTART
    assert deploy.reload_command("sysctl", []).startswith("sysctl -q -p")


def test_archive_keeps_paths_modes_and_root_ownership() -> None:
    raw = deploy.archive({"usr/local/sbin/x": ("#!/bin/sh\n", 0o755), "etc/a.conf": ("a\n", 0o644)})
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert {n: (m.mode, m.uid, m.gid) for n, m in members.items()} == {
            "etc/a.conf": (0o644, 0, 0),
            "usr/local/sbin/x": (0o755, 0, 0),
        }
        data = tar.extractfile(members["etc/a.conf"])
        assert data is not None and data.read() == b"a\n"


def test_config_files_fact_reads_what_the_host_sends() -> None:
    fact = deploy.ConfigFiles()
    command = fact.command(["etc/frr/frr.conf", "etc/nftables.conf"])
    assert "etc/frr/frr.conf etc/nftables.conf" in command
    assert "'etc/x y;rm -rf /'" in fact.command(["etc/x y;rm -rf /"])  # one quoted word
    raw = deploy.archive({"etc/frr/frr.conf": ("router bgp 65001\n", 0o644)})
    output = [base64.b64encode(raw).decode()]
    assert fact.process(output) == {"etc/frr/frr.conf": "router bgp 65001\n"}
    assert fact.process([""]) == {}  # none of the files exists yet


@pytest.mark.parametrize(
    ("text", "mbps"), [("200M", 200), ("200m", 200), ("40mbit", 40), ("1G", 1000), ("75", 75)]
)
def test_parse_rate(text: str, mbps: int) -> None:
    assert net_apply.parse_rate(text) == mbps


@pytest.mark.parametrize("text", ["", "0", "-5M", "fast", "2.5G"])
def test_parse_rate_refuses_nonsense(text: str) -> None:
    with pytest.raises(BadInput, match="--rate"):
        net_apply.parse_rate(text)


def test_with_commit_rate_changes_one_circuit_only() -> None:
    dep = generate(2)
    site = dep.colleges[1]
    new = net_apply.with_commit_rate(dep, site, 300)
    assert [c.circuit.commit_rate_mbps for c in new.colleges if c.circuit] == [100, 300]


def test_unknown_college_is_bad_input() -> None:
    with pytest.raises(BadInput, match="--college nope"):
        net_apply.target(generate(1), "nope")


def test_cli_bandwidth_refuses_a_bad_rate_before_touching_anything() -> None:
    result = CliRunner().invoke(
        app,
        ["net", "bandwidth", "--college", "x", "--rate", "lots", "--source", "files"],
        standalone_mode=False,
    )
    assert isinstance(result.exception, BadInput)
    assert "--rate lots" in str(result.exception)
