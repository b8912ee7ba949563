"""The collège rollout on the twin: `playbooks/college.yml` brings up a collège's servers, and
`preau college rollout|plan|drift` drives it as an operator types them.

One module-scoped rollout, in two runs:

- `ansible-playbook -i inventory/lab.sh playbooks/college.yml --limit <collège>`, exactly as an
  operator would, converges the collège from scratch;
- then the CLI in a subprocess (`--json` for its event stream and results) rolls out the same
  collège beside one the twin does not run: it streams each host's progress, must change nothing
  and say so (that is the idempotence proof), and the other collège fails without stopping it.

Then proven from the lab's PCs with real traffic: a pupil of the demo roster
(inventory/rosters/<UAI>.csv) logs in with smbclient and finds on pc002 the document written
from pc001 (roaming home) and is refused another pupil's home; a page sent from a PC reaches the
lab printer through the app server's CUPS queue; a PC fetches the PXE loader over TFTP.

The routers are configured first (`preau net apply`, a no-op when an earlier test did it), so
the servers are reached through the zone policy production has. Then each service's contract,
from a fresh client in every DHCP zone of the collège: what its lease names (time server, boot
loader, boot script) answers, every service the zone may use answers from its own server, and
every service it may not is refused, by the router and by the server's own firewall.
Initial passwords are read from the server's root-only handover file and never printed: they
reach smbclient through an auth file written on stdin inside the PC.

A plan on the converged collège finds nothing to change (exit 0); drift names changes made
behind preau's back (a share added to smb.conf, smbd stopped, the printer's CUPS queue deleted, a
rule added to the router's nftables file), each with host, object and diff, with exit code 3,
and a rollout puts them back. A server lost mid-rollout fails that rollout only for itself, and
a rerun finishes the job. The first rollout ends with its acceptance report (`--accept`).

The data centre's monitoring host (dc-mon1, `playbooks/monitoring.yml`) then watches the
collège through THD Seine: its router and servers are up targets with their labels, their
exporters are refused from a pupil's PC, and real faults (smbd stopped, iperf3 through the
uplink at the shaped commit rate) fire alerts that reach the webhook and resolve.

The CLI's runs share this module's convergence: a module of their own would have to converge
the collège again (the module hands the lab back with the servers' firewall off, see below).

The servers' own firewall (roles/common: input dropped except the served ports) would refuse
the ad-hoc ports later lab tests listen on, so the module hands the lab back with it off.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from netaddr import IPAddress
from typer.testing import CliRunner

from fixtures.lab import Lab
from fixtures.playbook import Run, run_playbook
from preau.app import app
from preau.deploys import images, net_apply
from preau.images import build, recipes
from preau.inventory import group_name
from preau.lab import acceptance, clients, podman, topology, vm
from preau.model import DHCP_VLAN_ROLES, College, services
from preau.model.domain import netbios_name
from preau.model.facts import gateway
from preau.sot import open_source

pytestmark = pytest.mark.lab

SPOOL = acceptance.PRINTER_SPOOL
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


def preau(*args: str, stream: bool = False, env: dict[str, str] | None = None) -> Cli:
    proc = subprocess.run(
        [str(PREAU), *args, "--source", "files", "--json"],
        cwd=REPO, capture_output=True, text=True, check=False, timeout=1800,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    if stream:  # one JSON object per line
        lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    else:
        lines = [json.loads(proc.stdout)] if proc.stdout.strip().startswith("{") else []
    return Cli(proc.returncode, lines, proc.stdout, proc.stderr)


@dataclass
class Rollout:
    first: Run  # ansible-playbook, from scratch
    second: Cli  # preau college rollout, this collège and one the twin does not run
    uai: str
    other: str
    servers: list[str]
    router: str


def _playbook(lab: Lab) -> Run:
    return run_playbook("college", "--limit", group_name(lab.college))


@pytest.fixture(scope="module")
def rollout(lab: Lab) -> Iterator[Rollout]:
    college = lab.dep.college(lab.college)
    assert college is not None
    servers = [lab.one("file-server").name, lab.one("app-server").name]
    for site in ("dc-nanterre", lab.college):
        net_apply.apply(lab.dep, net_apply.target(lab.dep, site, "lab"), timeout=60)
    first = _playbook(lab)
    other = next(c for c in lab.dep.colleges if c.slug not in lab.plan.colleges)
    second = preau(
        "college", "rollout", college.uai, other.uai, "--target", "lab", "--parallel", "2",
        "--accept", stream=True,
    )  # fmt: skip
    print(f"\ncollege.yml: first run {first.seconds:.0f} s; preau college rollout after it")
    yield Rollout(first, second, college.uai, other.uai, servers, lab.one("router").name)
    for server in servers:
        lab.exec(server, "systemctl", "disable", "--now", "nftables", check=False)
        lab.exec(server, "nft", "flush", "ruleset", check=False)


def _pupils(lab: Lab) -> list[tuple[str, str]]:
    """(login, initial password) of the pupils, as the acceptance report finds them."""
    pupils = acceptance.pupils(lab.one("file-server").name)
    assert len(pupils) >= 2, f"fewer than two pupils in {acceptance.PASSWORDS}"
    return pupils


def _auth_file(lab: Lab, pc: str, login: str, password: str) -> str:
    return acceptance.auth_file(pc, login, password)


def _smb(
    lab: Lab, pc: str, auth: str, share: str, command: str
) -> subprocess.CompletedProcess[str]:
    return acceptance.smb(pc, lab.address(lab.one("file-server").name), auth, share, command)


def test_the_rollout_converges(lab: Lab, rollout: Rollout) -> None:
    # the servers, and the router for its node_exporter (playbooks/college.yml)
    wanted = {*rollout.servers, rollout.router}
    assert set(rollout.first.recap) == wanted, rollout.first.output[-3000:]
    for host, counts in rollout.first.recap.items():
        assert counts["failed"] == 0 and counts["unreachable"] == 0, (host, counts)


def _ours(run: Cli, uai: str) -> dict[str, Any]:
    results = {r["uai"]: r for r in run.results()}
    assert uai in results, run.tail()
    return results[uai]


def test_a_rollout_streams_progress_and_changes_nothing_the_second_time(rollout: Rollout) -> None:
    run = rollout.second
    result = _ours(run, rollout.uai)
    assert result["verdict"] == "nothing changed", result
    assert result["net"]["changed"] == [] and result["servers"]["changed"] == 0
    assert result["servers"]["changes"] == [], result["servers"]["changes"]
    assert result["where"] == "lab" and not result["failed"]
    played = {*rollout.servers, rollout.router}
    assert set(result["servers"]["hosts"]) == played
    # the live stream: each host's progress, task by task, while the playbook ran
    events = [x for x in run.lines if x.get("type") == "event" and x.get("host")]
    assert {e["host"] for e in events} == played
    assert any(e["progress"]["task"] and e["progress"]["ok"] for e in events)
    stages = [x["message"] for x in run.lines if x.get("type") == "stage"]
    assert any(s.startswith("network: ") for s in stages), stages
    assert any(s.startswith("servers: ") for s in stages), stages
    assert (Path(result["servers"]["artifacts"]) / "stdout").is_file()  # the run's log is kept


def test_a_college_the_twin_does_not_run_fails_without_stopping_the_other(
    rollout: Rollout,
) -> None:
    run = rollout.second
    failed = _ours(run, rollout.other)
    assert failed["failed"] and "not running in the twin" in failed["error"], failed
    assert run.rc == 2, run.tail()  # the only failure is the caller's: a collège not in the twin
    assert {r["uai"] for r in run.results()} == {rollout.uai, rollout.other}


def test_a_plan_on_a_converged_college_changes_nothing(rollout: Rollout) -> None:
    plan = preau("college", "plan", rollout.uai)
    assert plan.rc == 0, plan.tail()
    (report,) = plan.lines
    assert report["findings"] == [] and report["servers"]["check"]
    assert report["verdict"] == "nothing to change"


def test_a_pupils_home_follows_her_from_pc_to_pc(lab: Lab, rollout: Rollout) -> None:
    (login, password), _ = _pupils(lab)[:2]
    pc1, pc2 = [h.name for h in lab.plan.hosts if h.role == "pc" and h.site == lab.college][:2]
    token = hashlib.sha256(os.urandom(16)).hexdigest()[:16]
    lab.exec(pc1, "sh", "-c", f"echo {token} > /tmp/devoir.txt")
    auth1 = _auth_file(lab, pc1, login, password)
    put = _smb(lab, pc1, auth1, login, "put /tmp/devoir.txt devoir.txt")
    assert put.returncode == 0, put.stdout + put.stderr
    auth2 = _auth_file(lab, pc2, login, password)
    got = _smb(lab, pc2, auth2, login, "get devoir.txt /tmp/devoir-recu.txt")
    assert got.returncode == 0, got.stdout + got.stderr
    assert lab.exec(pc2, "cat", "/tmp/devoir-recu.txt").stdout.strip() == token


def test_a_pupil_is_refused_another_pupils_home(lab: Lab, rollout: Rollout) -> None:
    (login, password), (other, _) = _pupils(lab)[:2]
    pc = lab.one("pc").name
    auth = _auth_file(lab, pc, login, password)
    assert _smb(lab, pc, auth, login, "ls").returncode == 0  # her own: the path works
    refused = _smb(lab, pc, auth, other, "ls")
    assert refused.returncode != 0
    assert "NT_STATUS_ACCESS_DENIED" in refused.stdout + refused.stderr, refused.stdout


def test_a_page_sent_from_a_pc_reaches_the_printer(lab: Lab, rollout: Rollout) -> None:
    app, printer, pc = lab.one("app-server"), lab.one("printer"), lab.one("pc").name
    queues = lab.exec(pc, "lpstat", "-h", f"{app.address}:631", "-v").stdout
    assert f"{printer.name}: ipp://{printer.address}/ipp/print" in queues, queues
    before = set(lab.exec(printer.name, "ls", SPOOL).stdout.split())
    lab.exec(pc, "sh", "-c", "echo 'Bonjour, imprimante du CDI' > /tmp/page.txt")
    job = lab.exec(pc, "lp", "-h", f"{app.address}:631", "-d", printer.name, "/tmp/page.txt")
    assert "request id" in job.stdout
    arrived: set[str] = set()
    for _ in range(90):  # CUPS converts the text to PDF, then sends it over IPP
        arrived = set(lab.exec(printer.name, "ls", SPOOL).stdout.split()) - before
        if arrived:
            break
        time.sleep(1)
    assert arrived, (
        "no job reached the printer's spool: "
        + lab.exec(app.name, "lpstat", "-W", "all", "-o", check=False).stdout
    )


def _accept(lab: Lab, out: Path) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(
        app, ["college", "accept", lab.college, "--source", "files", "--out", str(out), "--json"]
    )
    return result.exit_code, json.loads(result.stdout)


def test_the_acceptance_report_accepts_the_college_then_names_what_broke(
    lab: Lab, rollout: Rollout, tmp_path: Path
) -> None:
    """`preau college rollout` ends with the acceptance: every check passes on the rolled-out
    collège, and the report (JSON, and HTML with the topology picture) is written; `preau
    college accept` with smbd stopped behind preau's back: the checks that need it fail, each
    saying what to fix, and the exit code is 3."""
    run = rollout.second
    (report,) = [x for x in run.lines if x.get("type") == "acceptance"]  # not the other collège
    failed = [c for c in report["checks"] if not c["passed"]]
    assert report["uai"] == rollout.uai and report["verdict"] == "accepted", failed
    assert any(x["message"].startswith("acceptance: ") for x in run.lines
               if x.get("type") == "stage" and x["college"] == lab.college)  # fmt: skip
    names = {c["name"] for c in report["checks"]}
    site = _site(lab)
    for zone in (z for z in DHCP_VLAN_ROLES if z in site.prefixes):
        assert {f"DHCP lease in {zone}", f"services from {zone}"} <= names
    assert {"teaching cannot reach admin", "a page reaches the printer",
            "a pupil's home follows her from PC to PC"} <= names  # fmt: skip
    as_json, as_html = map(Path, report["files"])
    page = as_html.read_text()
    assert "<svg" in page and site.name in page
    assert json.loads(as_json.read_text())["passed"] is True

    fs = lab.one("file-server").name
    lab.exec(fs, "systemctl", "stop", "smbd")
    try:
        code, report = _accept(lab, tmp_path / "broken")
    finally:
        lab.exec(fs, "systemctl", "start", "smbd")
    assert code == 3 and report["verdict"].startswith("refused"), report["verdict"]
    failed = {c["name"]: c for c in report["checks"] if not c["passed"]}
    assert "a pupil's home follows her from PC to PC" in failed
    assert "Samba" in failed["a pupil's home follows her from PC to PC"]["fix"]
    smb = [c for n, c in failed.items() if n.startswith("services from ")]
    assert smb and all("smb" in c["fix"] and "refused, offered" in c["fix"] for c in smb)
    assert "a page reaches the printer" not in failed  # what does not need Samba still passes


def test_a_pc_fetches_the_pxe_loader_over_tftp(lab: Lab, rollout: Rollout) -> None:
    app, pc = lab.one("app-server"), lab.one("pc").name
    lab.exec(pc, "rm", "-f", "/tmp/undionly.kpxe")
    lab.exec(pc, "tftp", "-m", "binary", str(app.address), "-c", "get", "undionly.kpxe",
             "/tmp/undionly.kpxe")  # fmt: skip
    fetched = lab.exec(pc, "sha256sum", "/tmp/undionly.kpxe").stdout.split()[0]
    served = lab.exec(app.name, "sha256sum", "/srv/tftp/undionly.kpxe").stdout.split()[0]
    assert fetched == served
    assert int(lab.exec(pc, "stat", "-c", "%s", "/tmp/undionly.kpxe").stdout) > 10_000


# --- each service's contract, from every DHCP zone ------------------------------------------


def _site(lab: Lab) -> College:
    site = lab.dep.college(lab.college)
    assert site is not None
    return site


@pytest.mark.parametrize("zone", DHCP_VLAN_ROLES)
def test_the_time_server_a_lease_names_gives_the_time(
    lab: Lab, rollout: Rollout, zone: str, tmp_path: Path
) -> None:
    site = _site(lab)
    if zone not in site.prefixes:
        pytest.skip(f"{lab.college} has no {zone} VLAN")
    (time_server,) = services.servers(site, services.TIME)
    mac = f"02:ce:77:00:01:{DHCP_VLAN_ROLES.index(zone):02x}"
    with clients.client(site, lab.dep, zone, mac, tmp_path) as pc:
        if zone not in services.TIME.zones:
            assert pc.lease.ntp_servers == [], pc.lease
            assert clients.ntp_offset(pc, time_server) is None  # and the zone may not ask
            return
        assert pc.lease.ntp_servers == [time_server]
        answer = clients.ntp_offset(pc, time_server)
        assert answer is not None, f"{time_server} named by the {zone} lease gives no time"
        stratum, offset = answer
        assert 1 <= stratum <= 15, f"unsynchronised answer (stratum {stratum})"
        assert abs(offset) < 5, offset


@pytest.mark.parametrize("zone", DHCP_VLAN_ROLES)
def test_the_boot_chain_a_lease_names_is_served(
    lab: Lab, rollout: Rollout, zone: str, tmp_path: Path
) -> None:
    site = _site(lab)
    if zone not in site.prefixes:
        pytest.skip(f"{lab.college} has no {zone} VLAN")
    app = lab.one("app-server")
    mac = f"02:ce:77:00:02:{DHCP_VLAN_ROLES.index(zone):02x}"
    with clients.client(site, lab.dep, zone, mac, tmp_path) as pc:
        if zone not in services.TFTP.zones:
            assert pc.lease.filename is None, pc.lease
            fetch = pc.run("curl", "-sf", "--max-time", "5", f"tftp://{app.address}/x")
            assert fetch.returncode != 0
            return
        # a PC's firmware: the loader the lease names, from the server it names, over TFTP
        assert pc.lease.filename == services.BOOT.bios_loader
        assert pc.lease.next_server == app.address
        got = pc.run("sh", "-c", f"curl -sf --max-time 20 tftp://{pc.lease.next_server}/"
                     f"{pc.lease.filename} | sha256sum")  # fmt: skip
        served = lab.exec(app.name, "sha256sum", f"/srv/tftp/{pc.lease.filename}").stdout
        assert got.stdout.split()[0] == served.split()[0]
        # the loader asks again as iPXE: the lease names the boot script, served over HTTP
        ipxe = clients.lease(["ip", "netns", "exec", pc.ns], "w0", tmp_path, "iPXE")
        assert app.address is not None
        assert ipxe.filename == services.BOOT.script_url(app.address)
        script = pc.run("curl", "-sf", "--max-time", "10", ipxe.filename or "")
        assert script.returncode == 0, script.stderr
        assert script.stdout.startswith("#!ipxe"), script.stdout[:200]


@pytest.mark.parametrize("zone", DHCP_VLAN_ROLES)
def test_a_zone_reaches_its_services_and_is_refused_the_others(
    lab: Lab, rollout: Rollout, zone: str, tmp_path: Path
) -> None:
    site = _site(lab)
    if zone not in site.prefixes:
        pytest.skip(f"{lab.college} has no {zone} VLAN")
    mac = f"02:ce:77:00:03:{DHCP_VLAN_ROLES.index(zone):02x}"
    offered = services.offered_to(zone, site)
    wrong: list[str] = []
    with clients.client(site, lab.dep, zone, mac, tmp_path) as pc:
        for service in services.college_services(site):
            if service.proto != "tcp":
                continue  # UDP ones are proven above by what they answer (time, TFTP)
            for server in services.servers(site, service):
                for port in service.ports:
                    if clients.tcp_open(pc, server, port) != (service in offered):
                        wrong.append(f"{service.name} {server}:{port}")
    assert not wrong, f"from {zone}, not as declared (offered but refused, or the reverse): {wrong}"


def test_a_servers_own_firewall_refuses_what_it_does_not_serve(lab: Lab, rollout: Rollout) -> None:
    """A host on the servers' own VLAN meets no router: only each server's firewall decides,
    and the servers zone is offered nothing, so every service must be refused to it."""
    site = _site(lab)
    prefix = site.prefixes["servers"]
    used = {i.address.ip for _, d in lab.dep.all_devices() for i in d.interfaces if i.address}
    neighbour = next(a for a in reversed(list(prefix.iter_hosts())) if a not in used)
    assert not [s for s in services.college_services(site) if "servers" in s.zones]
    reached = []
    with clients.plugged(site, lab.dep, "servers", "02:ce:77:00:04:01", "srvnb") as ns:
        subprocess.run(["ip", "-n", ns, "addr", "add", f"{neighbour}/{prefix.prefixlen}",
                        "dev", "w0"], check=True)  # fmt: skip
        for service in services.college_services(site):
            if service.proto != "tcp":
                continue
            for server in services.servers(site, service):
                if server not in prefix:
                    continue  # the router serves on its uplink, not on this VLAN
                # the server answers ping on its VLAN: the path is there, only the port is shut
                ping = subprocess.run(["ip", "netns", "exec", ns, "ping", "-c1", "-W2",
                                       str(server)], capture_output=True)  # fmt: skip
                assert ping.returncode == 0, f"{server} unreachable from its own VLAN"
                proc = subprocess.run(["ip", "netns", "exec", ns, "timeout", "3", "bash", "-c",
                                       f"exec 3<>/dev/tcp/{server}/{service.ports[0]}"],
                                      capture_output=True)  # fmt: skip
                if proc.returncode == 0:
                    reached.append(f"{service.name} {server}")
    assert not reached, f"a neighbour on the servers VLAN reached {reached}"


def test_drift_names_what_was_changed_behind_preaus_back(lab: Lab, rollout: Rollout) -> None:
    fs, app = lab.one("file-server").name, lab.one("app-server").name
    router, printer = lab.one("router").name, lab.one("printer").name
    lab.exec(fs, "sh", "-c", "printf '[bricolage]\\n   path = /tmp\\n' >> /etc/samba/smb.conf")
    lab.exec(fs, "systemctl", "stop", "smbd")
    lab.exec(app, "lpadmin", "-x", printer)
    rule = "add rule inet preau input tcp dport 2323 accept"
    lab.exec(router, "sh", "-c", f"echo '{rule}' >> /etc/nftables.conf")
    try:
        drift = preau("college", "drift", rollout.uai)
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
        repair = preau("college", "rollout", rollout.uai, "--no-accept", stream=True)
    assert repair.rc == 0, repair.tail()
    (result,) = repair.results()
    assert result["verdict"] == "changed"
    assert "etc/nftables.conf" in result["net"]["changed"]
    assert lab.exec(fs, "systemctl", "is-active", "smbd", check=False).stdout.strip() == "active"
    assert printer in lab.exec(app, "lpstat", "-v").stdout


def _rollout_losing(lab: Lab, uai: str, lost: str, after_ok: int) -> Cli:
    """`preau college rollout`, during which the host `lost` goes down (its container stopped)
    once it has `after_ok` tasks done: a server lost mid-run, for real."""
    proc = subprocess.Popen(
        [str(PREAU), "college", "rollout", uai, "--no-accept", "--source", "files", "--json"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    lines, stopped = [], False
    for raw in proc.stdout:
        line = json.loads(raw) if raw.startswith("{") else {}
        lines.append(line)
        progress = line.get("progress") or {}
        if not stopped and line.get("host") == lost and progress.get("ok", 0) >= after_ok:
            podman.run("stop", "--time", "0", lab.host(lost).container)
            stopped = True
    stderr = proc.stderr.read() if proc.stderr else ""
    rc = proc.wait(timeout=1800)
    assert stopped, f"{lost} never reached {after_ok} tasks: {stderr[-2000:]}"
    return Cli(rc, lines, "", stderr)


def test_a_server_lost_mid_rollout_loses_nothing_and_a_rerun_finishes(
    lab: Lab, rollout: Rollout
) -> None:
    """Work for both servers (smbd stopped, the printer's queue deleted); the app server goes
    down during the rollout. The rollout fails naming it, the file server's work is done anyway;
    once the host is back, a rerun finishes the job and the next one changes nothing."""
    fs, app = lab.one("file-server").name, lab.one("app-server").name
    printer = lab.one("printer").name
    lab.exec(fs, "systemctl", "stop", "smbd")
    lab.exec(app, "lpadmin", "-x", printer)
    try:
        cut = _rollout_losing(lab, rollout.uai, app, after_ok=3)
    finally:
        lab.up()  # the host comes back, as after a power cut
    assert cut.rc == 1, cut.stderr[-3000:]
    (result,) = cut.results()
    assert result["failed"] and result["verdict"] == "failed", result
    recap = result["servers"]["hosts"]
    assert recap[app]["unreachable"] or recap[app]["failed"], recap
    assert not recap[fs]["failed"] and not recap[fs]["unreachable"], recap
    # what the file server had to do was done, though its neighbour went down
    assert lab.exec(fs, "systemctl", "is-active", "smbd", check=False).stdout.strip() == "active"
    rerun = preau("college", "rollout", rollout.uai, "--no-accept", stream=True)
    assert rerun.rc == 0, rerun.tail()
    assert printer in lab.exec(app, "lpstat", "-v").stdout
    again = preau("college", "rollout", rollout.uai, "--no-accept", stream=True)
    assert again.rc == 0 and again.results()[0]["verdict"] == "nothing changed", again.tail()


# --- the data centre watches the collège (roles/monitoring on dc-mon1) -------------------------

MONITOR = "dc-mon1"
MONITORING_SCENARIO = REPO / "roles" / "monitoring" / "molecule" / "default"
# the scenario's seconds instead of minutes (one definition), so alerts fire and resolve here
FAST_ALERT_VARS = (
    "monitoring_scrape_interval", "monitoring_evaluation_interval",
    "monitoring_uplink_rate_window", "monitoring_uplink_for", "monitoring_host_down_for",
    "monitoring_service_down_for", "monitoring_alert_group_wait",
    "monitoring_alert_group_interval", "monitoring_webhook_url",
)  # fmt: skip
POSTS = "/var/lib/webhook/posts.jsonl"  # the scenario's webhook recorder (its prepare.yml)


def _wait(what: str, check: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if got := check():
            return got
        time.sleep(1)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


@pytest.fixture(scope="module")
def monitored(lab: Lab, rollout: Rollout, tmp_path_factory: pytest.TempPathFactory) -> str:
    """playbooks/monitoring.yml on the twin's monitoring host, with the scenario's webhook
    recorder and its short alert timings; the collège is already rolled out (node_exporter)."""
    scenario = yaml.safe_load((MONITORING_SCENARIO / "molecule.yml").read_text())
    fast = scenario["provisioner"]["inventory"]["group_vars"]["monitoring"]
    extra = tmp_path_factory.mktemp("monitoring") / "fast.yml"
    extra.write_text(yaml.safe_dump({k: fast[k] for k in FAST_ALERT_VARS}))
    run_playbook(MONITORING_SCENARIO / "prepare.yml", "--limit", MONITOR)
    run_playbook("monitoring", "-e", f"@{extra}")
    return MONITOR


def _prometheus(lab: Lab, expr: str) -> list[dict[str, Any]]:
    """An instant query of the monitoring host's Prometheus, asked on that host."""
    url = f"http://127.0.0.1:9090/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    data = json.loads(lab.exec(MONITOR, "curl", "-sf", url).stdout)
    assert data["status"] == "success", data
    return data["data"]["result"]  # type: ignore[no-any-return]


def _notified(lab: Lab, alertname: str, status: str, since: int, **labels: str) -> bool:
    """Has Alertmanager's webhook received this alert in this state since the mark?"""
    text = lab.exec(MONITOR, "sh", "-c", f"cat {POSTS} 2>/dev/null || true").stdout
    alerts = [a for line in text.splitlines() for a in json.loads(line)["alerts"]]
    return any(
        a["labels"].get("alertname") == alertname and a["status"] == status
        and all(a["labels"].get(k) == v for k, v in labels.items())
        for a in alerts[since:]
    )  # fmt: skip


def _mark(lab: Lab) -> int:
    text = lab.exec(MONITOR, "sh", "-c", f"cat {POSTS} 2>/dev/null || true").stdout
    return sum(len(json.loads(line)["alerts"]) for line in text.splitlines())


def test_the_rolled_out_college_is_watched_from_the_data_centre(
    lab: Lab, rollout: Rollout, monitored: str
) -> None:
    """Every router and server of the collège is an up target, labelled from the source of
    truth, scraped by the data centre's Prometheus through THD Seine; nothing listed by hand."""
    wanted = {rollout.router, *rollout.servers}

    def up() -> dict[str, dict[str, Any]]:
        rows = _prometheus(lab, f'up{{job="node",uai="{rollout.uai}"}}')
        found = {r["metric"]["host"]: r for r in rows}
        return (
            found if all(found.get(h, {}).get("value", [0, "0"])[1] == "1" for h in wanted) else {}
        )

    found = _wait("the collège's router and servers up in Prometheus", up)
    for name in wanted:
        labels = found[name]["metric"]
        assert labels["site"] == lab.college and labels["role"] == lab.host(name).role, labels


def test_the_exporters_are_refused_from_a_pupils_pc(
    lab: Lab, rollout: Rollout, monitored: str
) -> None:
    pc = lab.one("pc").name
    for name in (rollout.router, *rollout.servers):
        out = podman.run(
            "exec", lab.host(pc).container, "curl", "-sS", "-o", "/dev/null", "--max-time", "4",
            f"http://{lab.address(name)}:9100/metrics", check=False,
        )  # fmt: skip
        assert out.returncode != 0, f"{pc} reached {name}'s node_exporter"


def test_samba_stopped_fires_service_down_at_the_desk_and_it_resolves(
    lab: Lab, rollout: Rollout, monitored: str
) -> None:
    fs = lab.one("file-server").name
    since = _mark(lab)
    lab.exec(fs, "systemctl", "stop", "smbd")
    try:
        _wait("ServiceDown for smbd reaching the webhook",
              lambda: _notified(lab, "ServiceDown", "firing", since, host=fs,
                                name="smbd.service", uai=rollout.uai))  # fmt: skip
    finally:
        lab.exec(fs, "systemctl", "start", "smbd")
    _wait("ServiceDown for smbd resolved",
          lambda: _notified(lab, "ServiceDown", "resolved", since, host=fs,
                            name="smbd.service"))  # fmt: skip


def test_the_uplink_loaded_past_80_percent_fires_and_resolves(
    lab: Lab, rollout: Rollout, monitored: str
) -> None:
    """iperf3 from the collège's router to the THD core, at the shaped commit rate: the
    uplink's utilisation (router counters / the SoT's commit rate) passes 80% and the
    saturation alert reaches the desk; stopping the load resolves it."""
    site = _site(lab)
    assert site.circuit is not None
    core = topology.container_name(topology.CORE_NAME)
    since = _mark(lab)
    podman.run("exec", "-d", core, "iperf3", "-s", "-1", "-p", "5202")
    time.sleep(0.5)
    podman.run("exec", "-d", lab.host(rollout.router).container, "iperf3", "-c",
               str(site.circuit.core_address), "-p", "5202", "-t", "120")  # fmt: skip
    try:
        _wait("CollegeUplinkSaturated reaching the webhook",
              lambda: _notified(lab, "CollegeUplinkSaturated", "firing", since,
                                uai=rollout.uai, direction="out"))  # fmt: skip
        ratio = _prometheus(
            lab, f'preau:uplink_utilisation:ratio{{uai="{rollout.uai}",direction="out"}}'
        )
        print(f"\nuplink out at {float(ratio[0]['value'][1]):.0%} of the commit rate")
    finally:
        lab.exec(rollout.router, "pkill", "iperf3", check=False)
        podman.run("exec", core, "pkill", "iperf3", check=False)
    _wait("CollegeUplinkSaturated resolved",
          lambda: _notified(lab, "CollegeUplinkSaturated", "resolved", since,
                            uai=rollout.uai))  # fmt: skip


# --- the collège becomes its own AD domain: kept last, the file server is its DC after it -------


def _as_pc(lab: Lab, pc: str, command: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """COMMAND in the PC's shell, a secret (if any) on its stdin, never on a command line."""
    return podman.run(
        "exec", "-i", lab.host(pc).container, "sh", "-c", command,
        input=stdin.encode(), check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def ad_inventory(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The source of truth's files (and the rosters beside them) with the twin's collège in its
    domain: what the domain's tests roll out, through $PREAU_INVENTORY."""
    inventory = tmp_path_factory.mktemp("ad") / "inventory"
    subprocess.run(["cp", "-r", str(REPO / "inventory"), str(inventory)], check=True)
    site_file = inventory / "sites" / f"{lab.college}.yml"
    data = yaml.safe_load(site_file.read_text())
    site_file.write_text(yaml.safe_dump({**data, "directory": "ad"}, sort_keys=False))
    return inventory


def _domain(uai: str, env: dict[str, str]) -> dict[str, str]:
    shown = preau("college", "show", uai, env=env)
    assert shown.lines and shown.lines[0]["directory"] == "ad", shown.tail()
    return dict(shown.lines[0]["domain"])


def _rollout_in(uai: str, env: dict[str, str]) -> Cli:
    cli = preau("college", "rollout", uai, "--target", "lab", "--no-accept", stream=True, env=env)
    assert cli.rc == 0, cli.tail()
    return cli


def _pc_in_domain(lab: Lab, pc: str, domain: dict[str, str]) -> None:
    """The PC asks the router for names (what its lease names), and knows the realm (what the
    PC image's client configuration gives it at boot)."""
    dns = gateway(_site(lab), "teaching")
    _as_pc(lab, pc, "cat > /etc/resolv.conf", f"search {domain['dns_zone']}\nnameserver {dns}\n")


def _client_config(lab: Lab, pc: str, uai: str, env: dict[str, str], tmp_path: Path) -> None:
    """What `preau college client-config` writes, put on the PC as an image would carry it."""
    root = tmp_path / "pc-root"
    wrote = preau("college", "client-config", uai, "--out", str(root), env=env)
    assert wrote.rc == 0, wrote.tail()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        name = "/" + str(file.relative_to(root))
        mode = f"{file.stat().st_mode & 0o777:o}"
        put = _as_pc(
            lab, pc, f"mkdir -p {os.path.dirname(name)} && cat > {name} && chmod {mode} {name}",
            file.read_text(),
        )  # fmt: skip
        assert put.returncode == 0, put.stderr
    # sssd's own checker on the PC: the file, its mode, its options
    checked = _as_pc(lab, pc, "sssctl config-check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _kinit(lab: Lab, pc: str, login: str, password: str) -> subprocess.CompletedProcess[str]:
    return _as_pc(lab, pc, f"KRB5CCNAME=/tmp/cc-{login} kinit {login}", password + "\n")


def test_the_college_becomes_its_domain_and_its_pupils_keep_their_logins_and_files(
    lab: Lab, rollout: Rollout, ad_inventory: Path, tmp_path: Path
) -> None:
    """The collège's directory goes from standalone to ad in the source of truth and it is rolled
    out again: the file server is migrated into the DC, the router and the server open the DC's
    ports, and a pupil on a teaching PC gets a Kerberos ticket with the password she had, through
    the router's DNS (the realm forwarded to the DC), and finds the homework she saved before."""
    (login, password), _ = _pupils(lab)[:2]
    pc = lab.one("pc").name
    token = hashlib.sha256(os.urandom(16)).hexdigest()[:16]
    lab.exec(pc, "sh", "-c", f"echo {token} > /tmp/devoir.txt")
    auth = _auth_file(lab, pc, login, password)
    put = _smb(lab, pc, auth, login, "put /tmp/devoir.txt devoir-avant-domaine.txt")
    assert put.returncode == 0, put.stdout + put.stderr
    # the source of truth says the collège's accounts are in its domain now
    inventory = ad_inventory
    env = {"PREAU_INVENTORY": str(inventory)}
    domain = _domain(rollout.uai, env)
    _rollout_in(rollout.uai, env)
    fs = lab.one("file-server").name
    # migrated: the local accounts and the record of their password hashes are gone
    assert (
        lab.exec(fs, "grep", "-c", f"^{login}:", "/etc/passwd", check=False).stdout.strip() == "0"
    )
    record = lab.exec(fs, "test", "-e", "/var/lib/preau/standalone-accounts.json", check=False)
    assert record.returncode != 0
    assert lab.exec(fs, "systemctl", "is-active", "samba-ad-dc", check=False).stdout.strip() == (
        "active"
    )
    _pc_in_domain(lab, pc, domain)
    _client_config(lab, pc, rollout.uai, env, tmp_path)
    found = _as_pc(lab, pc, f"getent hosts {domain['dc_fqdn']}")
    assert found.returncode == 0 and domain["dc_address"] in found.stdout, found.stderr
    ticket = _kinit(lab, pc, login, password)
    assert ticket.returncode == 0, ticket.stderr
    refused = _as_pc(lab, pc, f"KRB5CCNAME=/tmp/cc-x kinit {login}", "pas-le-bon\n")
    assert refused.returncode != 0
    # her homework, from the same PC, with her ticket (SMB over Kerberos to the DC by name)
    share = f"//{domain['dc_fqdn']}/{login}"
    got = _as_pc(
        lab, pc, f"KRB5CCNAME=/tmp/cc-{login} smbclient {share} --use-kerberos=required "
        "-c 'get devoir-avant-domaine.txt /tmp/devoir-recu.txt'",
    )  # fmt: skip
    assert got.returncode == 0, got.stdout + got.stderr
    assert lab.exec(pc, "cat", "/tmp/devoir-recu.txt").stdout.strip() == token
    # and with the same password over NTLMv2, as a PC not yet given the realm would
    again = _smb(lab, pc, auth, login, "get devoir-avant-domaine.txt /tmp/devoir-ntlm.txt")
    assert again.returncode == 0, again.stdout + again.stderr
    home = f"/srv/samba/homes/{login}/devoir-avant-domaine.txt"
    owner = lab.exec(fs, "stat", "-c", "%u", home).stdout.strip()
    uid = lab.exec(fs, "id", "-u", login).stdout.strip()
    assert owner == uid and int(uid) >= 20000  # the domain's range (preau-samba-accounts)
    # the DC's ports, as the router and the server open them: from a fresh client in each DHCP
    # zone (a real lease), reached from the user zones, refused from the others
    dep = open_source("files", inventory).read()
    site = dep.college(rollout.uai)
    assert site is not None and site.directory == "ad"
    wrong: list[str] = []
    for index, zone in enumerate(z for z in DHCP_VLAN_ROLES if z in site.prefixes):
        offered = services.offered_to(zone, site)
        mac = f"02:ce:77:00:06:{index:02x}"
        with clients.client(site, dep, zone, mac, tmp_path) as client:
            for service in services.DC_SERVICES:
                if service.proto != "tcp":
                    continue
                for port in service.ports:
                    is_open = clients.tcp_open(client, IPAddress(domain["dc_address"]), port)
                    if is_open != (service in offered):
                        wrong.append(
                            f"{zone}: {service.name} {port} {'open' if is_open else 'shut'}"
                        )
    assert not wrong, f"the DC's ports, not as declared: {wrong}"
    # a second rollout of the domain changes nothing
    assert _ours(_rollout_in(rollout.uai, env), rollout.uai)["verdict"] == "nothing changed"


def _roster_logins(roster: Path) -> dict[str, int]:
    """login -> line of the roster, as `preau roster plan` derives them."""
    plan = subprocess.run(
        [str(PREAU), "roster", "plan", str(roster), "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert plan.returncode == 0, plan.stdout + plan.stderr
    return {a["login"]: a["line"] for a in json.loads(plan.stdout)["accounts"]}


def test_a_new_school_year_moves_a_pupil_and_archives_a_leaver(
    lab: Lab, rollout: Rollout, ad_inventory: Path
) -> None:
    """Next year's export of the school software, put where the rosters live beside the source
    of truth, and a rollout: a pupil is in her new class, a leaver gets no ticket any more
    and his files are in the staff-only archive, not deleted; the others keep their logins."""
    env = {"PREAU_INVENTORY": str(ad_inventory)}
    (mover, mover_password), (leaver, leaver_password), *_ = _pupils(lab)
    pc, fs = lab.one("pc").name, lab.one("file-server").name
    # the leaver's last piece of work, saved from a PC
    token = hashlib.sha256(os.urandom(16)).hexdigest()[:16]
    lab.exec(pc, "sh", "-c", f"echo {token} > /tmp/travail.txt")
    put = _smb(
        lab,
        pc,
        _auth_file(lab, pc, leaver, leaver_password),
        leaver,
        "put /tmp/travail.txt travail.txt",
    )
    assert put.returncode == 0, put.stdout + put.stderr
    roster = ad_inventory / "rosters" / f"{rollout.uai}.csv"
    lines = roster.read_text(encoding="utf-8").splitlines()
    where = _roster_logins(roster)
    header = lines[0].split(";")
    row = lines[where[mover] - 1].split(";")
    new_class = "5Z"
    row[header.index("classe")] = new_class
    lines[where[mover] - 1] = ";".join(row)
    del lines[where[leaver] - 1]
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    # with --path, not $PREAU_INVENTORY: the servers stage reads the same files (and their
    # rosters) as the network stage, or the mover would stay in her class
    moved = preau(
        "college", "rollout", rollout.uai, "--target", "lab", "--no-accept",
        "--path", str(ad_inventory), stream=True,
    )  # fmt: skip
    assert moved.rc == 0, moved.tail()
    new_group = services.CLASS_GROUP_PREFIX + new_class.lower()
    members = lab.exec(fs, "samba-tool", "group", "listmembers", new_group)
    assert mover in members.stdout.split(), members.stdout
    domain = _domain(rollout.uai, env)
    _pc_in_domain(lab, pc, domain)
    assert _kinit(lab, pc, mover, mover_password).returncode == 0
    refused = _kinit(lab, pc, leaver, leaver_password)
    assert refused.returncode != 0 and "revoked" in refused.stderr, refused.stderr
    archived = lab.exec(fs, "sh", "-c", f"ls -d /srv/samba/archives/{leaver}@*").stdout.split()
    assert len(archived) == 1, archived
    kept = lab.exec(fs, "cat", f"{archived[0]}/travail.txt").stdout.strip()
    assert kept == token
    group = lab.exec(fs, "stat", "-c", "%G", archived[0]).stdout.strip()
    assert group.endswith(services.PROFILE_GROUPS["personnel"]), group
    assert lab.exec(fs, "test", "-e", f"/srv/samba/homes/{leaver}", check=False).returncode != 0
    # the rollover is done: the same roster again changes nothing
    assert _ours(_rollout_in(rollout.uai, env), rollout.uai)["verdict"] == "nothing changed"


def _admin_password(uai: str) -> str:
    """The domain Administrator's password where the rollout made it (group_vars/file_server)."""
    secrets = os.environ.get("PREAU_SECRETS") or str(Path.home() / ".local/share/preau/secrets")
    return (Path(secrets) / "ad" / uai / "admin-password").read_text().split()[0]


def test_a_linux_pc_joins_the_domain_and_sees_the_pupils_with_their_directory_ids(
    lab: Lab, rollout: Rollout, ad_inventory: Path, tmp_path: Path
) -> None:
    """A teaching PC with the collège's client configuration joins the domain as the PC images
    do (adcli, sssd): its machine account is in the directory, its keytab gets it a ticket, and
    sssd resolves a pupil with the uid and groups the file server gives her files."""
    env = {"PREAU_INVENTORY": str(ad_inventory)}
    domain = _domain(rollout.uai, env)
    pc, fs = lab.one("pc").name, lab.one("file-server").name
    (login, _), *_ = _pupils(lab)
    _pc_in_domain(lab, pc, domain)
    _client_config(lab, pc, rollout.uai, env, tmp_path)
    computer = netbios_name(pc)
    join = _as_pc(
        lab, pc,
        f"adcli join --stdin-password --login-user=Administrator --domain={domain['dns_zone']} "
        f"--computer-name={computer} --host-fqdn={pc}.{domain['dns_zone']}",
        _admin_password(rollout.uai) + "\n",
    )  # fmt: skip
    assert join.returncode == 0, join.stdout + join.stderr
    listed = lab.exec(fs, "samba-tool", "computer", "list").stdout.split()
    assert f"{computer}$" in listed, listed
    host_ticket = _as_pc(lab, pc, f"KRB5CCNAME=/tmp/cc-host kinit -k '{computer}$'")
    assert host_ticket.returncode == 0, host_ticket.stderr
    started = _as_pc(lab, pc, "systemctl restart sssd && sss_cache -E")
    assert started.returncode == 0, started.stderr

    def resolved() -> bool:
        return _as_pc(lab, pc, f"getent passwd {login}").returncode == 0

    _wait(f"sssd resolving {login} on {pc}", resolved, 60)
    seen = _as_pc(lab, pc, f"getent passwd {login}").stdout.split(":")
    uid = lab.exec(fs, "id", "-u", login).stdout.strip()
    assert seen[2] == uid and int(uid) >= 20000, (seen, uid)
    groups = _as_pc(lab, pc, f"id -Gn {login}").stdout.split()
    assert services.PROFILE_GROUPS["eleve"] in groups, groups
    # a rerun of the join is refused by nothing and changes nothing: the account is there
    again = _as_pc(lab, pc, f"adcli testjoin --domain={domain['dns_zone']}")
    assert again.returncode == 0, again.stderr


# --- a pupil at a network-booted PC: kept last, it needs the collège's domain -----------------

BOOT_IMAGE = "poste-leger"


def _publish(lab: Lab) -> tuple[recipes.Recipe, Path]:
    """The image the tests boot, put on the collège's app server as `preau image publish` does;
    a second publication changes nothing."""
    recipe = recipes.recipe(BOOT_IMAGE)
    folder = build.output_dir(recipe)
    assert build.verify(folder), f"{BOOT_IMAGE} is not built (scripts/test builds it)"
    hosts = [(f"@podman/{lab.host(lab.one('app-server').name).container}", {})]
    env = {"CONTAINERS_CONF": podman.env()["CONTAINERS_CONF"]}
    site = _site(lab)
    images.publish(hosts, env, site, BOOT_IMAGE, folder, recipe.description, default=True)
    again = images.publish(hosts, env, site, BOOT_IMAGE, folder, recipe.description)
    assert again.changed() == [], "a second publication copied or rewrote something"
    return recipe, folder


# nftables on the file server: its SMB port refused, the rest (Kerberos, DNS) still answering
SMB_REFUSED = (
    "add table inet preau_test; "
    "add chain inet preau_test in { type filter hook input priority -10; }; "
    "add rule inet preau_test in tcp dport 445 reject with tcp reset"
)


def _in_session(pc: vm.PcVm, command: str, timeout: float = 120) -> str:
    rc, out = pc.run(command, timeout)
    assert rc == 0, f"{command!r} in the session: exit {rc}\n{out}"
    return out


def test_a_pupil_logs_in_on_a_network_booted_pc_to_her_roaming_home_and_only_hers(
    lab: Lab, rollout: Rollout, ad_inventory: Path, tmp_path: Path
) -> None:
    """A qemu PC on the teaching VLAN boots from the network (the router's DHCP, iPXE, the menu
    the app server publishes, kernel, initrd and root filesystem over HTTP) to a login prompt
    whose banner names the published build, fetches its collège's client configuration, and a
    pupil logs in with her own password: she finds the homework she saved from another PC, and
    what she writes is on the file server, hers. A wrong password is refused, another pupil's
    home stays shut to her, the clock follows the app server, and with the file server's SMB
    refused, no session opens (fail closed: no pupil ever works in a home that would vanish)."""
    env = {"PREAU_INVENTORY": str(ad_inventory)}
    domain = _domain(rollout.uai, env)
    (login, password), _, (other, _), *_ = _pupils(lab)
    pc, fs = lab.one("pc").name, lab.one("file-server").name
    app = lab.one("app-server")
    # her homework, saved from a PC of the twin (a container) with her password
    token = hashlib.sha256(os.urandom(16)).hexdigest()[:16]
    lab.exec(pc, "sh", "-c", f"echo {token} > /tmp/devoir.txt")
    auth = _auth_file(lab, pc, login, password)
    put = _smb(lab, pc, auth, login, "put /tmp/devoir.txt devoir.txt")
    assert put.returncode == 0, put.stdout + put.stderr
    recipe, folder = _publish(lab)
    site = _site(lab)
    booted = vm.boot(lab.dep, site, "teaching", "02:ce:77:00:05:01", "bootpc1", tmp_path)
    try:
        booted.expect(f"{folder.name}/vmlinuz", timeout=180)  # iPXE loads what was published
        booted.expect("filesystem.squashfs' saved", timeout=600)  # live-boot fetched the root
        booted.expect(f"Image {BOOT_IMAGE} {recipe.key}", timeout=1200)  # /etc/issue, then
        booted.expect(vm.LOGIN_PROMPT, timeout=60)
        assert not booted.login(login, "pas-le-bon"), "a wrong password opened a session"
        assert booted.login(login, password), "the pupil's own password was refused"
        # her home is the file server's folder, mounted at login
        assert token in _in_session(booted, "cat ~/devoir.txt")
        mounts = _in_session(booted, "findmnt -n -o SOURCE,FSTYPE --target ~")
        assert f"//{domain['dc_fqdn']}/{login} cifs" in " ".join(mounts.split()), mounts
        written = hashlib.sha256(os.urandom(16)).hexdigest()[:16]
        _in_session(booted, f"echo {written} > ~/ecrit-sur-le-poste.txt")
        # Kerberos gave her a ticket at login; with it, another pupil's home is refused
        assert f"{login}@{domain['realm']}" in _in_session(booted, "klist")
        share = f"//{domain['dc_fqdn']}/{other}"
        kerberos = '--use-kerberos=required --use-krb5-ccache="$KRB5CCNAME" -N'
        rc, out = booted.run(f"smbclient {share} {kerberos} -c ls")
        assert rc != 0 and "NT_STATUS_ACCESS_DENIED" in out, out

        # time from the server that served the image (its address, as the lease names it)
        def synced() -> bool:
            return f"^* {app.address}" in booted.run("chronyc -n sources")[1]

        _wait("the PC's clock synced from the app server", synced, 180)
        # a page printed from her session reaches the printer, through the app server's CUPS
        printer = lab.one("printer")
        before = set(lab.exec(printer.name, "ls", SPOOL).stdout.split())
        job = _in_session(booted, f"echo 'Devoir de {login}' | lp -d {printer.name}")
        assert "request id" in job or "id de requête" in job, job

        def spooled() -> set[str]:
            return set(lab.exec(printer.name, "ls", SPOOL).stdout.split()) - before

        _wait("the page in the printer's spool", spooled, 90)
        booted.logout()
        saved = f"/srv/samba/homes/{login}/ecrit-sur-le-poste.txt"
        assert lab.exec(fs, "cat", saved).stdout.strip() == written
        # hers: her directory uid (the DC names her CLG...\\login)
        owner = lab.exec(fs, "stat", "-c", "%u", saved).stdout.strip()
        assert owner == lab.exec(fs, "id", "-u", login).stdout.strip()
        # the file server's SMB refused (Kerberos still answers): no home, no session
        lab.exec(fs, "nft", SMB_REFUSED)
        try:
            assert not booted.login(login, password), "a session opened without its home"
        finally:
            lab.exec(fs, "nft", "delete table inet preau_test", check=False)
        assert booted.login(login, password), "the home is back, and the session with it"
        booted.logout()
    finally:
        booted.stop()


def test_a_pc_in_a_room_given_another_image_boots_that_one(
    lab: Lab, rollout: Rollout, tmp_path: Path
) -> None:
    """The source of truth gives the CDI the pupils' desktop (room_images): a PC of the CDI (its
    MAC, as NetBox knows it) is offered that image by the app server's menu and loads its
    kernel, while a PC no room names boots the default (the test above)."""
    site = _site(lab)
    room, image = next(iter(site.room_images.items()))
    running = {h.name for h in lab.plan.hosts}  # their MACs are taken on the VLAN's bridge
    pc = next(d for d in site.devices_by_role("pc") if d.room == room and d.name not in running)
    mac = next(i.mac for i in pc.interfaces if i.mac)
    recipe = recipes.recipe(image)
    folder = build.output_dir(recipe)
    assert build.verify(folder), f"{image} is not built (scripts/test builds it)"
    hosts = [(f"@podman/{lab.host(lab.one('app-server').name).container}", {})]
    env = {"CONTAINERS_CONF": podman.env()["CONTAINERS_CONF"]}
    images.publish(hosts, env, site, image, folder, recipe.description)
    menu = lab.exec(lab.one("app-server").name, "cat", images.MENU).stdout
    assert f"iseq ${{net0/mac}} {mac.lower()} && set preau-image {image} ||" in menu, menu
    booted = vm.boot(lab.dep, site, "teaching", mac, "bootpc2", tmp_path)
    try:
        booted.expect(f"{image}/{folder.name}/vmlinuz", timeout=240)
    finally:
        booted.stop()
