"""The collège rollout on the twin: `playbooks/college.yml` brings up a collège's servers.

Run exactly as an operator would (`ansible-playbook -i inventory/lab.sh playbooks/college.yml
--limit <collège>`), twice: the second run must change nothing. Then proven from the lab's PCs
with real traffic: a pupil of the demo roster (inventory/rosters/<UAI>.csv) logs in with
smbclient and finds on pc002 the document written from pc001 (roaming home) and is refused
another pupil's home; a page sent from a PC reaches the lab printer through the app server's
CUPS queue; a PC fetches the PXE loader over TFTP.

Works whether or not `preau net apply` configured the router earlier in the session: the
router's zones allow PC -> servers on 445, 631 and 69 (with the tftp conntrack helper).
Initial passwords are read from the server's root-only handover file and never printed: they
reach smbclient through an auth file written on stdin inside the PC.

The servers' own firewall (roles/common: input dropped except the served ports) would refuse
the ad-hoc ports later lab tests listen on, so the module hands the lab back with it off.
"""

from __future__ import annotations

import csv
import hashlib
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures.lab import Lab
from fixtures.playbook import Run, run_playbook
from preau.inventory import group_name
from preau.lab import podman

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
PASSWORDS = "/root/preau/initial-passwords.csv"
SPOOL = "/var/spool/preau-printer"  # lab/images/printer: ippeveprinter keeps every job here


@dataclass
class Rollout:
    first: Run
    second: Run
    servers: list[str]


def _playbook(lab: Lab) -> Run:
    return run_playbook("college", "--limit", group_name(lab.college))


@pytest.fixture(scope="module")
def rollout(lab: Lab) -> Iterator[Rollout]:
    servers = [lab.one("file-server").name, lab.one("app-server").name]
    first = _playbook(lab)
    second = _playbook(lab)
    print(f"\ncollege.yml: first run {first.seconds:.0f} s, second run {second.seconds:.0f} s")
    yield Rollout(first, second, servers)
    for server in servers:
        lab.exec(server, "systemctl", "disable", "--now", "nftables", check=False)
        lab.exec(server, "nft", "flush", "ruleset", check=False)


def _pupils(lab: Lab) -> list[tuple[str, str]]:
    """(login, initial password) of the roster's pupils, from the server's handover file."""
    college = lab.dep.college(lab.college)
    assert college is not None
    roster_file = REPO / "inventory" / "rosters" / f"{college.uai}.csv"
    with roster_file.open(encoding="utf-8") as f:
        pupil_names = {
            f"{r['prénom']} {r['nom']}" for r in csv.DictReader(f, delimiter=";")
            if r["profil"] == "élève"
        }  # fmt: skip
    raw = lab.exec(lab.one("file-server").name, "cat", PASSWORDS).stdout
    rows = list(csv.DictReader(raw.splitlines(), delimiter=";"))
    pupils = [(r["login"], r["mot de passe initial"]) for r in rows if r["nom"] in pupil_names]
    assert len(pupils) >= 2, f"{PASSWORDS}: fewer than two pupils of {roster_file.name}"
    return pupils


def _auth_file(lab: Lab, pc: str, login: str, password: str) -> str:
    """An smbclient auth file inside the PC, written on stdin: no password on a command line."""
    path = f"/root/.smb-{login}"
    podman.run(
        "exec", "-i", lab.host(pc).container, "sh", "-c", f"umask 077; cat > {path}",
        input=f"username = {login}\npassword = {password}\n".encode(),
    )  # fmt: skip
    return path


def _smb(
    lab: Lab, pc: str, auth: str, share: str, command: str
) -> subprocess.CompletedProcess[str]:
    fs = lab.address(lab.one("file-server").name)
    return lab.exec(
        pc, "smbclient", f"//{fs}/{share}", "-A", auth, "-m", "SMB3", "-c", command, check=False
    )


def test_the_rollout_converges_then_changes_nothing(rollout: Rollout) -> None:
    for run in (rollout.first, rollout.second):
        assert set(run.recap) == set(rollout.servers), run.output[-3000:]
        for host, counts in run.recap.items():
            assert counts["failed"] == 0 and counts["unreachable"] == 0, (host, counts)
    changed = {h: c["changed"] for h, c in rollout.second.recap.items() if c["changed"]}
    assert not changed, f"second run changed {changed}:\n{rollout.second.output[-4000:]}"


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


def test_a_pc_fetches_the_pxe_loader_over_tftp(lab: Lab, rollout: Rollout) -> None:
    app, pc = lab.one("app-server"), lab.one("pc").name
    lab.exec(pc, "rm", "-f", "/tmp/undionly.kpxe")
    lab.exec(pc, "tftp", "-m", "binary", str(app.address), "-c", "get", "undionly.kpxe",
             "/tmp/undionly.kpxe")  # fmt: skip
    fetched = lab.exec(pc, "sha256sum", "/tmp/undionly.kpxe").stdout.split()[0]
    served = lab.exec(app.name, "sha256sum", "/srv/tftp/undionly.kpxe").stdout.split()[0]
    assert fetched == served
    assert int(lab.exec(pc, "stat", "-c", "%s", "/tmp/undionly.kpxe").stdout) > 10_000
