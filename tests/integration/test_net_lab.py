"""The network layer on the twin, with real traffic (mark `lab`; needs root and podman).

`preau net apply` configures the data-centre and collège routers (FRR, nftables, dnsmasq, tc);
then DHCP leases, zone policy, wifi NAT, shaping measured with iperf3, `plan` with no diff
(neither in the files nor in what FRR runs), DNS for outside names through the data centre to
the upstream resolvers, a broken push that must roll back, an unconfirmed push the router
rolls back by itself, and the département moving to OSPF and back. About 5-7 minutes on a
loaded 2-core machine.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from netaddr import IPAddress
from typer.testing import CliRunner

from fixtures.lab import Lab, dns_a, netns_pid
from preau.app import app
from preau.deploys import net_apply
from preau.deploys.net import ROLLBACK_UNIT
from preau.lab import clients, topology
from preau.lab.core_config import OUTSIDE_NAMES
from preau.model import Departement, Site, services
from preau.model.facts import dhcp_scopes, gateway, reservations
from preau.sot import files
from preau.sot.filesource import FileSource

pytestmark = pytest.mark.lab

TOLERANCE = 0.10


@pytest.fixture(scope="module")
def net(lab: Lab) -> Iterator[Lab]:
    """The twin with the data centre and the collège routers configured by `preau net apply`."""
    for key in ("dc-nanterre", lab.college):
        t = net_apply.target(lab.dep, key, "lab")
        net_apply.apply(lab.dep, t, timeout=60)
    yield lab


def _site(lab: Lab) -> Site:
    site = lab.dep.college(lab.college)
    assert site is not None
    return site


def _target(lab: Lab) -> net_apply.Target:
    return net_apply.target(lab.dep, lab.college, "lab")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextmanager
def _client(lab: Lab, vlan: str, mac: str, name: str) -> Iterator[str]:
    """A throw-away client namespace plugged into the collège's `vlan` bridge of the twin."""
    with clients.plugged(_site(lab), lab.dep, vlan, mac, name) as ns:
        yield ns


def _configure(ns: str, addr: IPAddress, prefixlen: int, gateway: IPAddress) -> None:
    _ip("-n", ns, "addr", "add", f"{addr}/{prefixlen}", "dev", "w0")
    _ip("-n", ns, "route", "add", "default", "via", str(gateway))


def _ns_ping(ns: str, target: IPAddress) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns, "ping", "-c1", "-W2", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )


def _tcp(lab: Lab, host: str, target: IPAddress, port: int) -> bool:
    """Can `host` open a TCP connection to target:port (bash's /dev/tcp, 3 s)?"""
    proc = lab.exec(
        host, "timeout", "3", "bash", "-c", f"exec 3<>/dev/tcp/{target}/{port}", check=False
    )
    return proc.returncode == 0


@contextmanager
def _listener(lab: Lab, host: str, port: int) -> Iterator[None]:
    """Something listening on host:port for the duration (python's http.server if free)."""
    busy = lab.exec(host, "sh", "-c", f"ss -Hltn 'sport = :{port}' | grep -q .", check=False)
    if busy.returncode == 0:
        yield
        return
    lab.exec(host, "sh", "-c", f"nohup timeout 120 python3 -m http.server {port} "
             ">/dev/null 2>&1 & echo $! > /tmp/preau-listener-{port}.pid")  # fmt: skip
    time.sleep(1.0)
    try:
        yield
    finally:
        lab.exec(host, "sh", "-c", f"kill $(cat /tmp/preau-listener-{port}.pid)", check=False)


# --- the tests ---------------------------------------------------------------------------------


def test_plan_on_an_unchanged_router_shows_no_diff(net: Lab) -> None:
    assert net_apply.plan(net.dep, _target(net)).changed == []
    result = CliRunner().invoke(
        app, ["net", "plan", "--college", net.college, "--source", "files", "--target", "lab"]
    )
    assert result.exit_code == 0, result.output
    assert "no difference" in result.output


FRR_RELOAD = "/usr/lib/frr/frr-reload.py"


def _routers(lab: Lab) -> list[str]:
    dc = lab.dep.datacentre
    assert dc is not None and dc.router is not None
    return [dc.router.name, _site(lab).router.name]  # type: ignore[union-attr]


def _frr_test(lab: Lab, router: str) -> str:
    """What frr-reload.py would change to make FRR run /etc/frr/frr.conf (empty: nothing)."""
    return lab.exec(
        router, "sh", "-c", f"{FRR_RELOAD} --test --stdout /etc/frr/frr.conf 2>/dev/null"
    ).stdout.strip()


def test_frr_runs_what_its_file_says_after_apply(net: Lab) -> None:
    for router in _routers(net):
        assert _frr_test(net, router) == "", router
    for key in ("dc-nanterre", net.college):
        p = net_apply.plan(net.dep, net_apply.target(net.dep, key, "lab"))
        assert (p.changed, p.drift) == ([], []), p.diff
        result = CliRunner().invoke(
            app, ["net", "apply", "--college", key, "--source", "files", "--target", "lab"]
        )
        assert result.exit_code == 0 and "nothing to change" in result.output, result.output


def _ipv6_forwarding(lab: Lab, router: str) -> str:
    container = topology.container_name(router)
    return subprocess.run(
        ["nsenter", f"--net=/proc/{netns_pid(container)}/ns/net"]
        + ["sysctl", "-n", "net.ipv6.conf.all.forwarding"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_an_frr_reload_changes_no_kernel_state(net: Lab) -> None:
    """What `net apply` runs for a changed frr.conf: frr-reload.py executes nothing (it used to
    run `ipv6 forwarding` on every reload, turning IPv6 forwarding on where it can)."""
    for router in _routers(net):
        before = _ipv6_forwarding(net, router)
        net.exec(router, "sh", "-c", ": > /var/log/frr/frr-reload.log; systemctl reload frr")
        executed = [
            line
            for line in net.exec(router, "cat", "/var/log/frr/frr-reload.log").stdout.splitlines()
            if "Executed" in line
        ]
        assert executed == [], executed
        assert _ipv6_forwarding(net, router) == before == "0"
        assert "no ipv6 forwarding" in net.exec(router, "vtysh", "-c", "show running-config").stdout


def test_a_college_pc_resolves_an_outside_name_through_the_datacentre(net: Lab) -> None:
    """PC -> collège router -> the data centre's resolver -> the upstream resolver (the twin's
    core holds services.upstream_dns and answers the names OUTSIDE_NAMES lists)."""
    assert net.dep.services.upstream_dns
    dc = net.dep.datacentre
    assert dc is not None and dc.circuit is not None
    name, address = next(iter(OUTSIDE_NAMES.items()))
    core = topology.container_name(topology.CORE_NAME)
    from preau.lab import podman

    since = podman.run("exec", core, "date", "+%Y-%m-%d %H:%M:%S").stdout.strip()
    pc = net.one("pc")
    gw = gateway(_site(net), "teaching")
    assert dns_a(netns_pid(pc.container), gw, name) == IPAddress(address)
    # the upstream resolver was asked by the data centre's resolver, over its uplink
    log = podman.run(
        "exec", core, "journalctl", "-q", "--no-pager", "-u", "dnsmasq", "--since", since
    ).stdout
    asked = [line for line in log.splitlines() if f"query[A] {name} from" in line]
    assert asked and all(line.endswith(f"from {dc.circuit.site_address}") for line in asked), log


def test_routing_session_up_and_site_announced(net: Lab) -> None:
    assert net_apply.health(net.dep, _target(net)) == []
    dc = net.dep.datacentre
    assert dc is not None
    routes = net.exec(
        _site(net).router.name,  # type: ignore[union-attr]
        "vtysh", "-c", f"show ip route {dc.container} json",
    ).stdout  # fmt: skip
    assert json.loads(routes)[str(dc.container)][0]["protocol"] == "bgp"


def test_teaching_pc_leases_and_reaches_servers_and_the_ent(net: Lab, tmp_path: Path) -> None:
    pc = net.one("pc")
    assert pc.nics[0].vlan == "teaching"
    pid = netns_pid(pc.container)
    got = clients.lease(["nsenter", f"--net=/proc/{pid}/ns/net"], "eth0", tmp_path)
    assert got.address == pc.address  # its reservation
    app_server = net.one("app-server")
    assert got.filename == services.BOOT.bios_loader  # the app server's boot loader
    gw = gateway(_site(net), "teaching")
    assert got.routers == [gw]
    # DNS through the router, forwarded to the département's resolver in the data centre
    lb = net.one("load-balancer")
    answer = dns_a(pid, gw, net.dep.services.ent_name)
    assert answer == lb.address
    fs = net.one("file-server")
    assert net.exec(pc.name, "ping", "-c1", "-W2", str(fs.address), check=False).returncode == 0
    with _listener(net, app_server.name, 3142):
        assert _tcp(net, pc.name, app_server.address, 3142)  # apt proxy  # type: ignore[arg-type]
    with _listener(net, lb.name, 443):
        assert _tcp(net, pc.name, lb.address, 443)  # the ENT portal  # type: ignore[arg-type]
    # and not what the zone policy does not allow: SSH to a server
    with _listener(net, fs.name, 2222):
        assert not _tcp(net, pc.name, fs.address, 2222)  # type: ignore[arg-type]


def test_wifi_and_teaching_cannot_reach_admin(net: Lab, tmp_path: Path) -> None:
    site = _site(net)
    # an office PC: its reservation when the collège has one, else a lease from the admin pool
    reserved = next((r for r in reservations(site) if r.vlan == "admin"), None)
    admin_mac = reserved.mac if reserved else "02:ce:77:00:00:02"
    admin_scope = next(s for s in dhcp_scopes(net.dep, site) if s.vlan.role == "admin")
    wifi_scope = next(s for s in dhcp_scopes(net.dep, site) if s.vlan.role == "wifi")
    lb = net.one("load-balancer")
    assert lb.address is not None
    with (
        _client(net, "admin", admin_mac, "admin") as admin_ns,
        _client(net, "wifi", "02:ce:77:00:00:01", "wifi") as wifi_ns,
    ):
        admin = clients.lease(["ip", "netns", "exec", admin_ns], "w0", tmp_path).address
        if reserved:
            assert admin == reserved.address
        assert admin in admin_scope.vlan.prefix
        _configure(admin_ns, admin, admin_scope.vlan.prefix.prefixlen, admin_scope.gateway)
        wifi = clients.lease(["ip", "netns", "exec", wifi_ns], "w0", tmp_path).address
        assert wifi_scope.pool_start <= wifi <= wifi_scope.pool_end  # a dynamic lease
        _configure(wifi_ns, wifi, wifi_scope.vlan.prefix.prefixlen, wifi_scope.gateway)

        # admin itself works: it reaches the ENT
        assert _ns_ping(admin_ns, lb.address).returncode == 0
        # wifi reaches the ENT, masqueraded behind the router's uplink address
        nat_before = _masqueraded(net)
        assert _ns_ping(wifi_ns, lb.address).returncode == 0
        assert _masqueraded(net) > nat_before
        # neither wifi nor teaching reach admin: refused by the router (admin-prohibited)
        refused = _ns_ping(wifi_ns, admin)
        assert refused.returncode != 0 and "Packet filtered" in refused.stdout, refused.stdout
        pc = net.one("pc")
        out = net.exec(pc.name, "ping", "-c1", "-W2", str(admin), check=False)
        assert out.returncode != 0 and "Packet filtered" in out.stdout, out.stdout


def _masqueraded(lab: Lab) -> int:
    """Packets through the wifi masquerade rule so far (its nftables counter)."""
    raw = lab.exec(
        _site(lab).router.name,  # type: ignore[union-attr]
        "nft", "-j", "list", "table", "ip", "preau_nat",
    ).stdout  # fmt: skip
    for item in json.loads(raw)["nftables"]:
        rule = item.get("rule")
        if rule and any("masquerade" in e for e in rule["expr"]):
            return int(next(e["counter"]["packets"] for e in rule["expr"] if "counter" in e))
    raise AssertionError("no masquerade rule on the router")


def test_printer_gets_its_reservation(net: Lab, tmp_path: Path) -> None:
    printer = net.one("printer")
    pid = netns_pid(printer.container)
    leased = clients.lease(["nsenter", f"--net=/proc/{pid}/ns/net"], "eth0", tmp_path).address
    assert leased == printer.address


def _iperf(lab: Lab, seconds: int) -> dict[str, object]:
    """iperf3 from the collège router over its uplink to the core: the shaped egress."""
    core = topology.container_name(topology.CORE_NAME)
    site = _site(lab)
    assert site.circuit is not None and site.router is not None
    from preau.lab import podman

    podman.run("exec", "-d", core, "iperf3", "-s", "-1", "-p", "5201")
    time.sleep(0.5)
    out = lab.exec(
        site.router.name,
        "iperf3", "-c", str(site.circuit.core_address), "-p", "5201", "-t", str(seconds),
        "-i", "1", "-J",
    ).stdout  # fmt: skip
    return json.loads(out)  # type: ignore[no-any-return]


def _mbps(bps: float) -> float:
    return bps / 1e6


def test_shaping_follows_the_commit_rate_live(net: Lab, tmp_path: Path) -> None:
    site = _site(net)
    assert site.circuit is not None
    t = _target(net)
    original = site.circuit.commit_rate_mbps
    inv = tmp_path / "inventory"
    files.dump(net.dep, inv)
    src = FileSource(inv)
    try:
        net_apply.bandwidth(net.dep, t, 20)
        assert net_apply.live_rate(t) == "20Mbit"
        before = _mbps(_iperf(net, 4)["end"]["sum_received"]["bits_per_second"])  # type: ignore[index]

        # double it while a flow runs: the same TCP stream speeds up, nothing is reset
        result: dict[str, object] = {}
        runner = threading.Thread(target=lambda: result.update(_iperf(net, 16)))
        runner.start()
        time.sleep(3)
        net_apply.bandwidth(net.dep, t, 40)
        net_apply.record_commit_rate(src, net.dep, site, 40, "test: 20 -> 40")
        runner.join(90)
        intervals = [
            _mbps(i["sum"]["bits_per_second"])  # type: ignore[index]
            for i in result["intervals"]  # type: ignore[attr-defined]
        ]
        print(
            f"iperf3: {before:.1f} Mbit/s at 20; 1 s intervals {[round(x, 1) for x in intervals]}"
        )
        assert abs(before - 20) <= 20 * TOLERANCE, before
        # the change lands while the flow runs: slow before it, fast from the next second on
        switch = next(i for i, mbps in enumerate(intervals) if mbps > 30)
        assert switch >= 1 and all(abs(x - 20) <= 20 * TOLERANCE for x in intervals[1 : switch - 1])
        after = intervals[switch + 1 :]
        assert len(after) >= 2, intervals
        assert abs(sum(after) / len(after) - 40) <= 40 * TOLERANCE, intervals
        assert min(intervals) > 0  # the flow never stopped
        assert len(result["end"]["streams"]) == 1  # type: ignore[index]
        recorded = src.read().college(site.slug)
        assert recorded is not None and recorded.circuit is not None
        assert recorded.circuit.commit_rate_mbps == 40
    finally:
        net_apply.bandwidth(net.dep, t, original)
    assert net_apply.plan(net.dep, t).changed == []


def test_a_broken_push_rolls_back(net: Lab) -> None:
    t = _target(net)
    # a wrong core ASN: the core refuses the session, so the push must not stay
    broken: Departement = replace(net.dep, routing=replace(net.dep.routing, core_asn=64999))
    with pytest.raises(net_apply.RolledBack) as err:
        net_apply.apply(broken, t, timeout=10)
    assert "BGP session" in str(err.value)
    took, problems = net_apply.confirm(net.dep, t, 60)
    assert took is not None, problems
    assert net_apply.plan(net.dep, t).changed == []


def _rollback_timer(lab: Lab) -> str:
    router = _site(lab).router.name  # type: ignore[union-attr]
    return lab.exec(
        router, "sh", "-c", f"systemctl is-active {ROLLBACK_UNIT}.timer || true"
    ).stdout.strip()


def test_an_unconfirmed_push_is_rolled_back_by_the_router_itself(net: Lab) -> None:
    """As if the change cut the path preau confirms over (or preau died after the push):
    nobody confirms, and the router's own timer puts the previous files back."""
    t = _target(net)
    assert _rollback_timer(net) == "inactive"  # every confirmed apply cancelled its timer
    broken: Departement = replace(net.dep, routing=replace(net.dep.routing, core_asn=64999))
    p = net_apply.plan(broken, t)
    assert p.changed == ["etc/frr/frr.conf"]
    net_apply.push_armed(broken, t, p, seconds=8)
    assert net_apply.plan(broken, t).changed == []  # the broken file is in place
    assert _rollback_timer(net) == "active"
    # preau does nothing from here on
    deadline = time.monotonic() + 60
    while net_apply.plan(net.dep, t).changed and time.monotonic() < deadline:
        time.sleep(2)
    assert net_apply.plan(net.dep, t).changed == []
    took, problems = net_apply.confirm(net.dep, t, 60)
    assert took is not None, problems
    router = _site(net).router.name  # type: ignore[union-attr]
    journal = net.exec(router, "journalctl", "-q", "--no-pager", "-t", ROLLBACK_UNIT).stdout
    assert "restored (reloads exit 0)" in journal, journal


def test_a_routing_change_reloads_frr_without_dropping_the_session(net: Lab) -> None:
    """THD Seine renamed the circuit: the neighbour's description in frr.conf, the uplink's
    .network file and the shaping script change. FRR reloads in place (frr-reload.py), networkd
    re-reads the uplink's file, and the BGP session to the core is never reset."""
    t = _target(net)
    site = _site(net)
    router = site.router.name  # type: ignore[union-attr]
    assert site.circuit is not None
    renamed = replace(site, circuit=replace(site.circuit, cid=f"{site.circuit.cid}-B"))
    dep: Departement = replace(
        net.dep, colleges=tuple(renamed if c.slug == site.slug else c for c in net.dep.colleges)
    )

    def bgpd_and_uptime() -> tuple[str, int]:
        pid = net.exec(router, "pidof", "bgpd").stdout.strip()
        summary = json.loads(net.exec(router, "vtysh", "-c", "show bgp summary json").stdout)
        peer = summary["ipv4Unicast"]["peers"][str(site.circuit.core_address)]  # type: ignore[union-attr]
        assert peer["state"] == "Established", peer
        return pid, int(peer["peerUptimeMsec"])

    pid, uptime = bgpd_and_uptime()
    try:
        report = net_apply.apply(dep, t, timeout=30)
        assert "etc/frr/frr.conf" in report.changed and "frr" in report.reloaded, report
        described = net.exec(router, "vtysh", "-c", "show running-config bgpd").stdout
        assert f"({site.circuit.cid}-B)" in described
        pid_after, uptime_after = bgpd_and_uptime()
        assert pid_after == pid  # not restarted
        assert uptime_after > uptime  # the session was never reset
    finally:
        net_apply.apply(net.dep, t, timeout=30)
    assert net_apply.plan(net.dep, t).changed == []


def test_dry_run_changes_nothing(net: Lab) -> None:
    t = _target(net)
    faster = net_apply.with_commit_rate(net.dep, _site(net), 55)
    report = net_apply.apply(faster, t, dry_run=True)
    assert report.changed == ["usr/local/sbin/preau-shaping"]
    assert report.reloaded == ["shaping"]
    assert net_apply.plan(net.dep, t).changed == []


def _apply_all(lab: Lab, dep: Departement) -> None:
    for key in ("dc-nanterre", lab.college):
        t = net_apply.target(dep, key, "lab")
        net_apply.apply(dep, t, timeout=90)


def test_an_ospf_departement_runs_what_frr_says_and_back(net: Lab, tmp_path: Path) -> None:
    """The département routes with OSPF (the twin's core follows): after `net apply`, FRR runs
    exactly its file on both routers (the passive-interface form FRR 8.4 writes itself) and
    `net plan` has nothing to do. Then back to BGP. About 1.5 minutes."""
    ospf: Departement = replace(net.dep, routing=replace(net.dep.routing, protocol="ospf"))
    try:
        _apply_all(net, ospf)
        for router in _routers(net):
            assert _frr_test(net, router) == "", router
            running = net.exec(router, "vtysh", "-c", "show running-config ospfd").stdout
            assert "no ip ospf passive" in running and "passive-interface default" in running
        files.dump(ospf, tmp_path)
        for cmd in ("plan", "apply"):
            result = CliRunner().invoke(
                app,
                ["net", cmd, "--college", net.college, "--source", "files", "--path",
                 str(tmp_path), "--target", "lab"],
            )  # fmt: skip
            assert result.exit_code == 0, result.output
            assert "no difference" in result.output or "nothing to change" in result.output
        p = net_apply.plan(ospf, _target(net))
        assert (p.changed, p.drift) == ([], []), p.diff
    finally:
        _apply_all(net, net.dep)
    for router in _routers(net):
        assert _frr_test(net, router) == "", router


@pytest.fixture(autouse=True)
def _no_leftover_namespaces() -> Iterator[None]:
    yield
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "preau-cl-" not in out
