"""The acceptance checks of a collège on the twin, run from its own VLANs and PCs.

Each DHCP VLAN gets a throw-away client (`preau.lab.clients`: a namespace on the VLAN's
bridge) that takes a real lease and then asks what the lease names: the time server, the boot
chain, every declared service (reached where offered, refused elsewhere). From the twin's PCs,
a pupil's home is written on one and read on another, and a page goes to the printer through
the app server's CUPS. Nothing here changes the collège: the clients are removed, the files a
check leaves are a pupil's test file and one printed page.
"""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from netaddr import IPAddress

from preau.errors import ServiceError
from preau.lab import clients, podman, topology, twin
from preau.model import DHCP_VLAN_ROLES, College, Departement, Site, services
from preau.model.facts import gateway
from preau.verify.acceptance import Check, Report

# Where the file server's role leaves the initial passwords (roles/file_server defaults:
# file_server_password_file), readable by root only; read here, never printed.
PASSWORDS = "/root/preau/initial-passwords.csv"
# lab/images/printer: ippeveprinter keeps every job it receives here
PRINTER_SPOOL = "/var/spool/preau-printer"
# A listener a check starts in the admin VLAN's client (nothing the collège runs uses it)
PROBE_PORT = 8089

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def run(
    dep: Departement, site: College, plan: topology.LabPlan, say: Say = _quiet, pupil: int = 0
) -> Report:
    """Every check, in order; a check that cannot run is a failed check, never an exception."""
    report = Report(
        college=site.slug,
        uai=site.uai,
        name=site.name,
        target="lab",
        started=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    start = time.monotonic()
    hosts = [h for h in plan.hosts if h.site == site.slug]
    with tempfile.TemporaryDirectory(prefix="preau-accept-") as tmp:
        for index, zone in enumerate(z for z in DHCP_VLAN_ROLES if z in site.prefixes):
            say(f"{zone}: a lease, then what it names")
            report.checks += _zone_checks(dep, site, zone, index, Path(tmp))
        if "admin" in site.prefixes and "teaching" in site.prefixes:
            say("teaching cannot reach admin")
            report.checks.append(_guard(_isolation, dep, site, Path(tmp)))
    pcs = [h.name for h in hosts if h.role == "pc"]
    fs = next((h for h in hosts if h.role == "file-server"), None)
    app = next((h for h in hosts if h.role == "app-server"), None)
    printer = next((h for h in hosts if h.role == "printer"), None)
    if fs is not None and len(pcs) >= 2:
        say("a pupil's home, from PC to PC")
        report.checks.append(_guard(_roaming_home, fs, pcs[:2], pupil))
    if app is not None and printer is not None and pcs:
        say("a page to the printer")
        report.checks.append(_guard(_printing, app, printer, pcs[0]))
    report.seconds = time.monotonic() - start
    return report


def _guard(check: Callable[..., Check], *args: object) -> Check:
    try:
        return check(*args)
    except (ServiceError, subprocess.SubprocessError, OSError, ValueError) as exc:
        name = check.__name__.strip("_").replace("_", " ")
        return Check(name, "pcs", "", False, f"could not run: {exc}", "see the evidence")


@contextmanager
def _client(
    dep: Departement, site: Site, zone: str, index: int, tmp: Path
) -> Iterator[clients.Client]:
    # a locally administered MAC per (check, zone): leases never collide with the PCs'
    mac = f"02:ac:ce:00:{index:02x}:{DHCP_VLAN_ROLES.index(zone):02x}"
    with clients.client(site, dep, zone, mac, tmp) as c:
        yield c


def _zone_checks(dep: Departement, site: College, zone: str, index: int, tmp: Path) -> list[Check]:
    where = f"{zone} VLAN"
    try:
        with _client(dep, site, zone, index, tmp) as pc:
            checks = [_lease(site, zone, pc)]
            if zone in services.TIME.zones:
                checks.append(_time(site, pc))
            if zone in services.TFTP.zones:
                checks.append(_boot_chain(site, pc, tmp))
            checks.append(_services(site, zone, pc))
            return checks
    except ServiceError as exc:
        return [
            Check(
                f"DHCP lease in {zone}",
                "network",
                where,
                False,
                str(exc),
                f"the router's dnsmasq must serve the {zone} VLAN: `preau net plan {site.slug}`",
            )
        ]


def _lease(site: Site, zone: str, pc: clients.Client) -> Check:
    want_gw = gateway(site, zone)
    got = pc.lease
    ok = got.address in site.prefixes[zone] and got.routers == [want_gw]
    evidence = f"address {got.address}, router {', '.join(map(str, got.routers)) or 'none'}"
    return Check(
        f"DHCP lease in {zone}",
        "network",
        f"{zone} VLAN",
        ok,
        evidence,
        "" if ok else f"the lease must be in {site.prefixes[zone]} with router {want_gw}",
    )


def _time(site: Site, pc: clients.Client) -> Check:
    (server,) = services.servers(site, services.TIME)
    answer = clients.ntp_offset(pc, server) if pc.lease.ntp_servers == [server] else None
    ok = answer is not None and 1 <= answer[0] <= 15 and abs(answer[1]) < 5
    evidence = f"lease names {', '.join(map(str, pc.lease.ntp_servers)) or 'no NTP server'}; " + (
        f"stratum {answer[0]}, offset {answer[1]:+.3f} s" if answer else "no answer"
    )
    return Check(
        f"time in {pc.vlan}",
        "servers",
        f"{pc.vlan} VLAN",
        ok,
        evidence,
        "" if ok else f"chrony on the app server ({server}) must serve time to {pc.vlan}",
    )


def _boot_chain(site: Site, pc: clients.Client, tmp: Path) -> Check:
    (app,) = services.servers(site, services.TFTP)
    name = f"network boot in {pc.vlan}"
    if pc.lease.filename != services.BOOT.bios_loader or pc.lease.next_server != app:
        return Check(name, "network", f"{pc.vlan} VLAN", False,
                     f"lease names {pc.lease.filename!r} from {pc.lease.next_server}",
                     f"DHCP must name {services.BOOT.bios_loader} from {app}")  # fmt: skip
    fetched = pc.run("sh", "-c", f"curl -sf --max-time 20 tftp://{app}/{pc.lease.filename} "
                     "| sha256sum", timeout=30).stdout.split()  # fmt: skip
    served = _app_sha(site, pc.lease.filename)
    ipxe = clients.lease(["ip", "netns", "exec", pc.ns], "w0", tmp, "iPXE")
    script = pc.run("curl", "-sf", "--max-time", "10", ipxe.filename or "")
    ok = bool(fetched) and fetched[0] == served and script.stdout.startswith("#!ipxe")
    evidence = (
        f"TFTP {pc.lease.filename} sha256 {fetched[0][:12] if fetched else '-'} "
        f"(served {served[:12]}); iPXE lease names {ipxe.filename}: "
        + ("an iPXE script" if script.stdout.startswith("#!ipxe") else "no script")
    )
    fix = "" if ok else "the app server's TFTP and /boot must serve what DHCP names (rollout)"
    return Check(name, "servers", f"{pc.vlan} VLAN", ok, evidence, fix)


def _app_sha(site: Site, filename: str) -> str:
    app = next(d for d in site.devices if d.role == "app-server")
    out = twin.exec_in(app.name, "sha256sum", f"/srv/tftp/{filename}", check=False).stdout
    return out.split()[0] if out else "missing"


def _services(site: College, zone: str, pc: clients.Client) -> Check:
    offered = services.offered_to(zone, site)
    seen, wrong = [], []
    for service in services.college_services(site):
        if service.proto != "tcp":
            continue  # UDP ones are checked by what they answer (time, boot)
        for server in services.servers(site, service):
            for port in service.ports:
                is_open = clients.tcp_open(pc, server, port)
                seen.append(f"{service.name} {server}:{port} {'open' if is_open else 'refused'}")
                if is_open != (service in offered):
                    why = "open, not offered" if is_open else "refused, offered"
                    wrong.append(f"{service.name} {server}:{port} ({why})")
    return Check(
        f"services from {zone}",
        "network",
        f"{zone} VLAN",
        not wrong,
        "\n".join(seen),
        f"not as declared (model/services.py): {', '.join(wrong)}; `preau college drift`"
        if wrong
        else "",
    )


def _isolation(dep: Departement, site: Site, tmp: Path) -> Check:
    """A listener on the admin VLAN: reached from admin itself, refused from teaching."""
    with (
        _client(dep, site, "admin", 90, tmp) as admin,
        _client(dep, site, "teaching", 91, tmp) as pupil,
    ):
        listener = subprocess.Popen(
            ["ip", "netns", "exec", admin.ns, "python3", "-m", "http.server", str(PROBE_PORT),
             "--bind", str(admin.lease.address)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            target = admin.lease.address
            for _ in range(30):  # until it listens
                if clients.tcp_open(admin, target, PROBE_PORT):
                    break
                time.sleep(0.2)
            own = clients.tcp_open(admin, target, PROBE_PORT)
            crossed = clients.tcp_open(pupil, target, PROBE_PORT)
        finally:
            listener.terminate()
            listener.wait(5)
    ok = own and not crossed
    evidence = (
        f"listener {target}:{PROBE_PORT} in admin: "
        f"{'answers' if own else 'does not answer'} in admin; from teaching "
        f"({pupil.lease.address}): {'REACHED' if crossed else 'refused'}"
    )
    fix = "" if ok else "the router's zones must drop teaching -> admin (`preau net plan`)"
    return Check("teaching cannot reach admin", "network", "teaching VLAN", ok, evidence, fix)


def pupils(fs: str) -> list[tuple[str, str]]:
    """(login, initial password) of the collège's pupils: the members of the pupils' group on
    the file server, with their password from its handover file (root-only there; kept in
    memory here, never printed)."""
    group = services.PROFILE_GROUPS["eleve"]
    entry = twin.exec_in(fs, "getent", "group", group, check=False).stdout.strip()
    members = set(entry.split(":")[-1].split(",")) if entry else set()
    if members <= {""}:
        # a DC: winbind lists no members of a domain group, the directory does
        listed = twin.exec_in(fs, "samba-tool", "group", "listmembers", group, check=False)
        members = set(listed.stdout.split()) if listed.returncode == 0 else set()
    raw = twin.exec_in(fs, "cat", PASSWORDS, check=False).stdout
    rows = csv.DictReader(raw.splitlines(), delimiter=";")
    return [(r["login"], r["mot de passe initial"]) for r in rows if r["login"] in members]


def auth_file(pc: str, login: str, password: str) -> str:
    """An smbclient auth file inside the PC, written on stdin: no password on a command line."""
    path = f"/root/.smb-{login}"
    podman.run(
        "exec", "-i", twin.host_container(pc), "sh", "-c", f"umask 077; cat > {path}",
        input=f"username = {login}\npassword = {password}\n".encode(),
    )  # fmt: skip
    return path


def smb(
    pc: str, fs: IPAddress, auth: str, share: str, command: str
) -> subprocess.CompletedProcess[str]:
    return twin.exec_in(
        pc, "smbclient", f"//{fs}/{share}", "-A", auth, "-m", "SMB3", "-c", command, check=False
    )


def _roaming_home(fs: topology.LabHost, pcs: list[str], pupil: int) -> Check:
    name = "a pupil's home follows her from PC to PC"
    found = pupils(fs.name)
    if len(found) <= pupil:
        return Check(name, "servers", fs.name, False, f"{PASSWORDS}: no pupil #{pupil}",
                     "roll out the file server with the collège's roster")  # fmt: skip
    login, password = found[pupil]
    assert fs.address is not None
    token = hashlib.sha256(os.urandom(16)).hexdigest()[:16]
    one, two = pcs
    twin.exec_in(one, "sh", "-c", f"echo {token} > /tmp/recette.txt")
    put = smb(one, fs.address, auth_file(one, login, password), login,
              "put /tmp/recette.txt recette.txt")  # fmt: skip
    got = smb(two, fs.address, auth_file(two, login, password), login,
              "get recette.txt /tmp/recette-recue.txt")  # fmt: skip
    read = twin.exec_in(two, "cat", "/tmp/recette-recue.txt", check=False).stdout.strip()
    ok = put.returncode == 0 and got.returncode == 0 and read == token
    wrote = "ok" if put.returncode == 0 else (put.stdout + put.stderr).strip()[-160:]
    seen = (
        "same token" if read == token else ((got.stdout + got.stderr).strip()[-160:] or "nothing")
    )
    evidence = f"{login}: written on {one} ({wrote}), read on {two}: {seen}"
    fix = "" if ok else f"Samba on {fs.name} (smbd running, her home share): `preau college drift`"
    return Check(name, "servers", f"{one} -> {two}", ok, evidence, fix)


def _printing(app: topology.LabHost, printer: topology.LabHost, pc: str) -> Check:
    name = "a page reaches the printer"
    before = set(twin.exec_in(printer.name, "ls", PRINTER_SPOOL, check=False).stdout.split())
    twin.exec_in(pc, "sh", "-c", "echo 'Recette: page de test' > /tmp/recette-page.txt")
    job = twin.exec_in(pc, "lp", "-h", f"{app.address}:631", "-d", printer.name,
                       "/tmp/recette-page.txt", check=False)  # fmt: skip
    arrived: set[str] = set()
    if job.returncode == 0:
        for _ in range(60):  # CUPS converts the text to PDF, then sends it over IPP
            arrived = set(twin.exec_in(printer.name, "ls", PRINTER_SPOOL).stdout.split()) - before
            if arrived:
                break
            time.sleep(1)
    ok = bool(arrived)
    evidence = (job.stdout.strip() or job.stderr.strip())[-200:] + (
        f"; in the printer's spool: {', '.join(sorted(arrived))}"
        if arrived
        else "; nothing arrived"
    )
    fix = "" if ok else f"CUPS on {app.name} and its queue {printer.name}: `preau college drift`"
    return Check(name, "servers", f"{pc} -> {app.name} -> {printer.name}", ok, evidence, fix)
