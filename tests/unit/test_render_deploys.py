"""The apply side without a host: units to reload, the archive, the file fact, rates, errors."""

from __future__ import annotations

import base64
import io
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from preau.app import app
from preau.deploys import net as deploy
from preau.deploys import net_apply, targets
from preau.errors import BadInput, ServiceError
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


# --- commit confirmed: the router's own rollback -------------------------------------------


def test_the_rollback_script_restores_the_snapshot_removes_new_files_and_reloads(
    tmp_path: Path,
) -> None:
    reloads = [("frr", "systemctl reload frr"), ("dnsmasq", "systemctl restart dnsmasq")]
    script = deploy.rollback_script(["etc/frr/frr.conf"], ["etc/new file.conf"], reloads)
    lines = script.splitlines()
    assert lines[0] == "#!/bin/sh"
    assert f"tar -C / -xpf {deploy.ROLLBACK_SNAPSHOT}" in lines
    assert "rm -f '/etc/new file.conf'" in lines  # quoted: one word
    # reloads in the push's order, each one's failure recorded, not stopping the others
    frr, dns = (next(i for i, line in enumerate(lines) if cmd in line) for _, cmd in reloads)
    assert frr < dns and "|| { rc=1;" in lines[frr]
    # it is a valid shell script
    path = tmp_path / "restore.sh"
    path.write_text(script)
    assert subprocess.run(["sh", "-n", str(path)], check=False).returncode == 0


def test_arming_snapshots_the_existing_files_then_starts_a_transient_timer() -> None:
    cmds = deploy.arm_commands(["etc/frr/frr.conf", "etc/nftables.conf"], 61)
    assert cmds[0] == f"tar -C / -cpf {deploy.ROLLBACK_SNAPSHOT} etc/frr/frr.conf etc/nftables.conf"
    assert f"--unit={deploy.ROLLBACK_UNIT} --on-active=61s" in cmds[1]
    assert cmds[1].startswith("systemd-run ") and cmds[1].endswith(deploy.ROLLBACK_SCRIPT)
    assert deploy.arm_commands([], 5)[0] == f"rm -f {deploy.ROLLBACK_SNAPSHOT}"
    assert f"systemctl stop {deploy.ROLLBACK_UNIT}.timer" in deploy.DISARM


def test_the_router_rolls_back_later_than_preau_gives_up() -> None:
    assert net_apply.rollback_after(30) == 30 + net_apply.ROLLBACK_GRACE
    assert net_apply.rollback_after(0.5) == 1 + net_apply.ROLLBACK_GRACE


FRR_TEST_OUTPUT = """
Lines To Delete
===============
ipv6 forwarding
interface wan0
 ip ospf passive

Lines To Add
============
router ospf
 no passive-interface wan0
"""


def test_frr_reload_test_output_is_parsed_into_changes() -> None:
    assert net_apply.parse_frr_test(FRR_TEST_OUTPUT) == [
        "- ipv6 forwarding",
        "- interface wan0",
        "-  ip ospf passive",
        "+ router ospf",
        "+  no passive-interface wan0",
    ]
    assert net_apply.parse_frr_test("") == []
    assert net_apply.parse_frr_test("\nLines To Delete\n===\n\nLines To Add\n===\n") == []


def _lab_like_target() -> net_apply.Target:
    dep = generate(1)
    site = dep.colleges[0]
    assert site.router is not None
    return targets.Target(site, site.router, "@podman/nowhere", kind="test")


def test_confirm_keeps_polling_after_failed_probes_until_healthy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers: list[object] = [["BGP session is Connect"], ServiceError("podman exec failed"), []]
    calls = []

    def health(_dep: object, _t: object) -> list[str]:
        calls.append(1)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    monkeypatch.setattr(net_apply, "health", health)
    monkeypatch.setattr(net_apply, "PROBE_INTERVAL", 0.01)
    took, problems = net_apply.confirm(generate(1), _lab_like_target(), timeout=30)
    assert took is not None and problems == [] and len(calls) == 3


def test_confirm_gives_up_at_its_deadline_with_the_last_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(net_apply, "health", lambda _d, _t: ["no OSPF adjacency"])
    monkeypatch.setattr(net_apply, "PROBE_INTERVAL", 0.01)
    start = time.monotonic()
    took, problems = net_apply.confirm(generate(1), _lab_like_target(), timeout=0.3)
    assert took is None and problems == ["no OSPF adjacency"]
    assert 0.2 <= time.monotonic() - start < 5


# --- targets ---------------------------------------------------------------------------------


def test_ssh_is_the_default_target_and_the_twin_registers_its_own() -> None:
    import preau.lab  # noqa: F401 - registers `lab`

    dep = generate(1)
    site = dep.colleges[0]
    t = targets.target(dep, site.slug, "ssh")
    assert (t.kind, t.dot1q, t.sysctl_readonly, t.probe) == ("ssh", True, False, None)
    mgmt = next(i for i in site.router.interfaces if i.vlan == "management")  # type: ignore[union-attr]
    assert t.host == str(mgmt.address.ip)  # type: ignore[union-attr]
    assert "lab" in targets.registered()
    with pytest.raises(BadInput, match="--target mars: use auto, lab.*, ssh"):
        targets.target(dep, site.slug, "mars")


def test_a_registered_factory_is_asked_first_and_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    dep = generate(1)
    seen: list[bool] = []

    def factory(
        dep: object, site: object, device: object, *, required: bool
    ) -> targets.Target | None:
        seen.append(required)
        return _lab_like_target() if required else None

    monkeypatch.setattr(targets, "_FACTORIES", {})  # this test's factory alone
    targets.register("unit-test", factory)
    slug = dep.colleges[0].slug
    assert targets.target(dep, slug, "unit-test").kind == "test"
    assert targets.target(dep, slug, "auto").kind == "ssh"  # it declined: SSH
    assert seen == [True, False]
    with pytest.raises(ValueError, match="reserved"):
        targets.register("ssh", factory)
