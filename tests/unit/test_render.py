"""The network renderer: contexts, zone policy, port plan and the errors bad input must raise."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from netaddr import IPNetwork
from typer.testing import CliRunner

from preau.app import app
from preau.errors import ValidationFailed
from preau.model import College, Departement, Device, Interface, services
from preau.model.facts import dhcp_scopes
from preau.render import Options, render_device, render_site
from preau.render import ports as port_plan
from preau.render.context import linux_router
from preau.sot import files
from preau.sot.generate import generate


@pytest.fixture(scope="module")
def dep() -> Departement:
    return generate(2, classrooms=3, pcs=20, printers=3, displays=2)


def _college(dep: Departement) -> College:
    return dep.colleges[0]


def _with_device(dep: Departement, college: College, device: Device) -> Departement:
    """The département with one device of the collège replaced (same name)."""
    devices = tuple(device if d.name == device.name else d for d in college.devices)
    new = replace(college, devices=devices)
    colleges = tuple(new if c.slug == college.slug else c for c in dep.colleges)
    return replace(dep, colleges=colleges)


def _router_with(dep: Departement, itfs: tuple[Interface, ...]) -> tuple[Departement, Device]:
    college = _college(dep)
    assert college.router is not None
    router = replace(college.router, interfaces=itfs)
    return _with_device(dep, college, router), router


def _problem_of(exc: ValidationFailed) -> tuple[str, str]:
    assert len(exc.problems) == 1, exc.problems
    return exc.problems[0].obj, exc.problems[0].field


def test_every_network_device_of_every_site_renders(dep: Departement) -> None:
    for site in dep.sites:
        rendered = render_site(dep, site)
        assert site.router is not None
        assert set(rendered) >= {site.router.name}
        for files_ in rendered.values():
            assert all(text.strip() for text in files_.values())


def test_router_vlan_missing_from_the_plan_is_refused(dep: Departement) -> None:
    college = _college(dep)
    assert college.router is not None
    itfs = (
        *college.router.interfaces,
        Interface("lan0.60", vlan="voip", parent="lan0", address=IPNetwork("198.18.3.250/30")),
    )
    broken, router = _router_with(dep, itfs)
    with pytest.raises(ValidationFailed) as err:
        render_device(broken, broken.colleges[0], router)
    assert _problem_of(err.value) == (f"device {router.name} interface lan0.60", "vlan")
    assert "missing from the département's plan" in str(err.value)


def test_router_vlan_without_address_is_refused(dep: Departement) -> None:
    college = _college(dep)
    assert college.router is not None
    itfs = tuple(
        replace(i, address=None) if i.vlan == "teaching" else i for i in college.router.interfaces
    )
    broken, router = _router_with(dep, itfs)
    with pytest.raises(ValidationFailed) as err:
        render_device(broken, broken.colleges[0], router)
    assert _problem_of(err.value) == (f"device {router.name} interface lan0.20", "address")


def test_subinterface_name_must_match_the_plan_vid(dep: Departement) -> None:
    college = _college(dep)
    assert college.router is not None
    itfs = tuple(
        replace(i, name="lan0.21") if i.vlan == "teaching" else i for i in college.router.interfaces
    )
    broken, router = _router_with(dep, itfs)
    with pytest.raises(ValidationFailed) as err:
        render_device(broken, broken.colleges[0], router)
    assert _problem_of(err.value) == (f"device {router.name} interface lan0.21", "name")


@pytest.mark.parametrize("platform", ["eos", None, "printer-firmware"])
def test_platform_without_template_is_refused(dep: Departement, platform: str | None) -> None:
    college = _college(dep)
    assert college.router is not None
    router = replace(college.router, platform=platform)
    broken = _with_device(dep, college, router)
    with pytest.raises(ValidationFailed) as err:
        render_device(broken, broken.colleges[0], router)
    assert _problem_of(err.value) == (f"device {router.name}", "platform")


def test_site_render_reports_every_bad_device_at_once(dep: Departement) -> None:
    college = _college(dep)
    sw = [d for d in college.devices if d.role == "access-switch"]
    broken = dep
    for d in sw:
        broken = _with_device(broken, broken.colleges[0], replace(d, platform="nxos"))
    with pytest.raises(ValidationFailed) as err:
        render_site(broken, broken.colleges[0])
    assert {p.obj for p in err.value.problems} == {f"device {d.name}" for d in sw}


def test_switch_without_management_address_is_refused(dep: Departement) -> None:
    college = _college(dep)
    sw = next(d for d in college.devices if d.role == "access-switch")
    itfs = tuple(replace(i, address=None) for i in sw.interfaces)
    broken = _with_device(dep, college, replace(sw, interfaces=itfs))
    with pytest.raises(ValidationFailed) as err:
        render_device(broken, broken.colleges[0], replace(sw, interfaces=itfs))
    obj, field = _problem_of(err.value)
    assert obj.startswith(f"device {sw.name} interface") and field == "address"


# --- what the router lets through ---------------------------------------------------------------


def _allowed(dep: Departement, college: College) -> dict[str, set[str]]:
    """zone -> zones it may open anything toward, read from the rendered context."""
    ctx = linux_router(dep, college, college.router)  # type: ignore[arg-type]
    return {c["zone"]: {r["dst"] for r in c["rules"]} for c in ctx["firewall"]["chains"]}


def test_zone_policy(dep: Departement) -> None:
    allowed = _allowed(dep, _college(dep))
    assert "admin" not in allowed["teaching"] | allowed["wifi"]
    assert {z for z, dsts in allowed.items() if "printers" in dsts} == {"servers"}
    assert {z for z, dsts in allowed.items() if "management" in dsts} == {"admin"}
    assert "servers" in allowed["teaching"] and "servers" in allowed["admin"]
    assert allowed["wan"] == {"servers"}  # only the monitoring host's reads (below)
    assert all("wan" in allowed[z] for z in ("admin", "teaching", "wifi"))


def test_from_the_uplink_only_the_monitoring_host_reads_the_exporters(dep: Departement) -> None:
    college = _college(dep)
    assert college.router is not None and dep.datacentre is not None
    (mon,) = dep.datacentre.devices_by_role(services.MONITORING_ROLE)
    assert mon.primary_address is not None
    monitor = str(mon.primary_address.ip)
    ctx = linux_router(dep, college, college.router)
    (wan,) = [c for c in ctx["firewall"]["chains"] if c["zone"] == "wan"]
    port = str(services.NODE_EXPORTER_PORT)
    assert wan["rules"], "nothing opened from the uplink"
    for rule in wan["rules"]:  # every rule inward: the exporter port, from the monitoring host
        assert (rule["saddr"], rule["proto"], rule["ports"]) == ([monitor], "tcp", port), rule
    servers = {a for r in wan["rules"] for a in r["daddr"]}
    want = {str(d.primary_address.ip) for role in ("file-server", "app-server")
            for d in college.devices_by_role(role) if d.primary_address}  # fmt: skip
    assert servers == want
    # the router's own exporter: on its input, from the uplink, from the monitoring host only
    nft = render_device(dep, college, college.router)["etc/nftables.conf"]
    inp = nft.split("chain input {")[1].split("}\n")[0]
    (line,) = [x.strip() for x in inp.splitlines() if f"dport {{ {port} }}" in x]
    assert line.startswith(f'iifname "wan0" ip saddr {{ {monitor} }} tcp dport {{ {port} }}')
    # no monitoring host in the source of truth: nothing opened at all
    dc = replace(dep.datacentre, devices=tuple(
        d for d in dep.datacentre.devices if d.role != services.MONITORING_ROLE))  # fmt: skip
    bare = replace(dep, datacentre=dc)
    assert _allowed(bare, college)["wan"] == set()
    assert port not in render_device(bare, college, college.router)["etc/nftables.conf"].split(
        "chain input {")[1].split("}\n")[0]  # fmt: skip


def test_teaching_reaches_the_servers_on_the_school_ports(dep: Departement) -> None:
    college = _college(dep)
    assert college.router is not None
    nft = render_device(dep, college, college.router)["etc/nftables.conf"]
    chain = nft.split("chain from_teaching {")[1].split("}\n")[0]
    offered = services.offered_to("teaching", college)
    assert {s.name for s in offered} >= {"smb", "ipp", "tftp", "http-boot", "apt-proxy", "ntp"}
    for service in offered:
        (server,) = services.servers(college, service)
        for port in service.ports:
            rule = (
                rf'oifname "lan0\.50" ip daddr {{ {server} }} {service.proto} dport {port} accept'
            )
            assert re.search(rule, chain), service.name
    # and only to its own server: the file server is not an apt proxy
    (fs,) = services.servers(college, services.SMB)
    assert not re.search(rf"ip daddr {{ {fs} }} tcp dport 3142", chain)


def test_a_zone_the_time_service_does_not_serve_is_named_no_time_server(dep: Departement) -> None:
    college = _college(dep)
    assert college.router is not None
    conf = render_device(dep, college, college.router)["etc/dnsmasq.d/preau.conf"]
    nft = render_device(dep, college, college.router)["etc/nftables.conf"]
    (ntp,) = services.servers(college, services.TIME)
    for scope in dhcp_scopes(dep, college):
        zone = scope.vlan.role
        named = f"dhcp-option=tag:{zone},option:ntp-server,{ntp}" in conf
        chain = nft.split(f"chain from_{zone} {{")[1].split("}\n")[0]
        allowed = f"ip daddr {{ {ntp} }} udp dport 123 accept" in chain
        # what the lease names, the zone may reach; and a zone that may not is named nothing
        assert named == allowed == (zone in services.TIME.zones), zone
    assert "option:ntp-server" not in conf.split("zone wifi")[1].split("# zone")[0]


def test_only_wifi_is_masqueraded(dep: Departement) -> None:
    college = _college(dep)
    assert college.router is not None
    nft = render_device(dep, college, college.router)["etc/nftables.conf"]
    nat = [line for line in nft.splitlines() if "masquerade" in line and "iifname" in line]
    assert nat == ['\t\tiifname { "lan0.30" } oifname "wan0" counter masquerade']


def test_printer_reservations_and_pxe(dep: Departement) -> None:
    college = _college(dep)
    assert college.router is not None
    conf = render_device(dep, college, college.router)["etc/dnsmasq.d/preau.conf"]
    for printer in college.devices_by_role("printer"):
        itf = printer.interfaces[0]
        assert itf.address is not None and itf.mac is not None
        assert f"dhcp-host={itf.mac},{itf.address.ip},{printer.name}" in conf
    app = college.devices_by_role("app-server")[0].primary_address
    assert app is not None
    boot = services.BOOT
    assert f"dhcp-boot=tag:teaching,tag:!ipxe,tag:!efi64,{boot.bios_loader},,{app.ip}" in conf
    assert f"dhcp-boot=tag:teaching,tag:!ipxe,tag:efi64,{boot.uefi_loader},,{app.ip}" in conf
    assert f"dhcp-boot=tag:teaching,tag:ipxe,{boot.script_url(app.ip)}" in conf
    assert f"dhcp-userclass=set:ipxe,{boot.ipxe_user_class}" in conf
    assert "dhcp-boot=tag:wifi" not in conf


def test_shaping_follows_the_commit_rate(dep: Departement) -> None:
    college = _college(dep)
    assert college.router is not None and college.circuit is not None
    faster = replace(college, circuit=replace(college.circuit, commit_rate_mbps=250))
    dep2 = replace(dep, colleges=(faster, *dep.colleges[1:]))
    script = render_device(dep2, faster, college.router)["usr/local/sbin/preau-shaping"]
    assert "htb rate 250mbit ceil 250mbit quantum 1514" in script


def test_lab_variant_has_no_8021q(dep: Departement) -> None:
    college = _college(dep)
    assert college.router is not None
    prod = render_device(dep, college, college.router)
    lab = render_device(dep, college, college.router, Options(dot1q=False))
    assert any(p.endswith(".netdev") for p in prod)
    assert not any(p.endswith(".netdev") for p in lab)
    assert {p for p in prod if not p.endswith(".netdev") and "20-lan0" not in p} == set(lab)


# --- switch ports ------------------------------------------------------------------------------


def test_every_host_gets_one_access_port(dep: Departement) -> None:
    college = _college(dep)
    plan = port_plan.plan(college)
    described = [p.description.split()[-1] for sp in plan.values() for p in sp.ports]
    hosts = [d.name for d in college.devices if d.role in port_plan.ACCESS_ROLES]
    assert sorted(n for n in described if n in hosts) == sorted(hosts)
    for sp in plan.values():
        numbers = [p.number for p in sp.ports] + [n for a, b in sp.unused for n in range(a, b + 1)]
        assert sorted(numbers) == list(range(1, port_plan.PORTS_PER_SWITCH + 1))


def test_too_many_hosts_for_the_switches_is_refused() -> None:
    dep = generate(1, pcs=120)
    with pytest.raises(ValidationFailed) as err:
        port_plan.plan(dep.colleges[0])
    assert _problem_of(err.value) == (f"site {dep.colleges[0].slug}", "devices")


# --- the command -----------------------------------------------------------------------------


def test_net_render_writes_nothing_when_a_device_is_bad(dep: Departement, tmp_path: Path) -> None:
    college = _college(dep)
    assert college.router is not None
    broken = _with_device(dep, college, replace(college.router, platform="eos"))
    inv = tmp_path / "inv"
    files.dump(broken, inv)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["net", "render", "--source", "files", "--path", str(inv), "--out", str(out)],
        standalone_mode=False,
    )
    assert isinstance(result.exception, ValidationFailed)
    assert f"device {college.router.name}: platform" in str(result.exception)
    assert not out.exists()


def test_net_render_one_college_by_uai(dep: Departement, tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    files.dump(dep, inv)
    out = tmp_path / "out"
    college = dep.colleges[1]
    args = ["net", "render", "--source", "files", "--path", str(inv), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--college", college.uai, "--json"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [college.slug]
    script = out / college.slug / f"{college.slug}-rtr1" / "usr/local/sbin/preau-shaping"
    assert script.stat().st_mode & 0o111
    again = CliRunner().invoke(app, [*args, "--college", college.slug, "--json"])
    assert '"changed": 0' in again.output
