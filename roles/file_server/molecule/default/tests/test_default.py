"""roles/file_server, checked the way pupils and teachers would notice it: SMB from two PCs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import testinfra

# podman exec is ~10x faster than the ansible backend molecule would use (many smbclient runs)
testinfra_hosts = ["podman://fs-server"]

SERVER = "fs-server"
ZOE = "zoe.lefevre"  # 6A
MATHEO = "matheo.le-gall"  # 6A
AICHA = "aicha.n-diaye"  # 5B
TEACHER = "anne-cecile.kerbrat"  # teaches 6A and 5B


class Passwords(dict[str, str]):
    """Passwords that do not show up in pytest's failure reports."""

    def __repr__(self) -> str:
        return f"<{len(self)} passwords>"


def _host(name: str):
    return testinfra.get_host(f"podman://{name}")


@pytest.fixture(scope="module")
def pc1():
    return _host("fs-pc1")


@pytest.fixture(scope="module")
def pc2():
    return _host("fs-pc2")


@pytest.fixture(scope="module")
def passwords(host) -> dict[str, str]:
    """The initial passwords, read where the role leaves them (root-only file on the server)."""
    content = host.file("/root/preau/initial-passwords.csv").content_string
    rows = [line.split(";") for line in content.splitlines()[1:]]
    return Passwords({r[0]: r[2] for r in rows})


def smb(pc, passwords, user: str, share: str, commands: str):
    """smbclient as `user`; the password goes through the environment, not the command line."""
    cmd = (
        f"PASSWD={shlex.quote(passwords[user])} smbclient //{SERVER}/{share} -U {user} "
        f"-c {shlex.quote(commands)}"
    )
    return pc.run(cmd)


def test_samba_serves_smb(host):
    assert host.service("smbd").is_running
    assert host.service("smbd").is_enabled
    assert host.socket("tcp://0.0.0.0:445").is_listening


def test_password_file_is_root_only(host, passwords):
    f = host.file("/root/preau/initial-passwords.csv")
    assert (f.user, f.group, f.mode) == ("root", "root", 0o600)
    assert host.file("/root/preau").mode == 0o700
    # (zoe.lefevre3 also appears once the next-year import below has run)
    assert set(passwords) >= {ZOE, "zoe.lefevre2", MATHEO, AICHA, TEACHER, "loic.coeurdevey"}


def test_accounts_and_groups(host):
    assert set(host.user(ZOE).groups) == {ZOE, "eleves", "classe-6a"}
    assert set(host.user(TEACHER).groups) == {TEACHER, "enseignants", "profs-6a", "profs-5b"}
    assert host.user(ZOE).gecos == "Zoé Lefèvre"
    assert host.user(ZOE).shell == "/usr/sbin/nologin"


def test_document_follows_pupil_to_another_pc(pc1, pc2, passwords):
    text = f"exposé sur la Bretagne {uuid.uuid4()}"
    pc1.run_expect([0], f"printf %s {shlex.quote(text)} > /tmp/expose.txt")
    put = smb(pc1, passwords, ZOE, ZOE, "put /tmp/expose.txt expose.txt")
    assert put.rc == 0, put.stderr + put.stdout
    get = smb(pc2, passwords, ZOE, ZOE, "get expose.txt /tmp/expose-from-pc2.txt")
    assert get.rc == 0, get.stderr + get.stdout
    assert pc2.file("/tmp/expose-from-pc2.txt").content_string == text


def test_roaming_profile_is_the_owners_only(pc1, pc2, passwords):
    pc1.run_expect([0], "echo 'wallpaper=phare.png' > /tmp/settings.ini")
    put = smb(pc1, passwords, ZOE, "profiles", f"cd {ZOE}; put /tmp/settings.ini settings.ini")
    assert put.rc == 0, put.stdout
    got = smb(pc2, passwords, ZOE, "profiles", f"cd {ZOE}; get settings.ini /tmp/settings.ini")
    assert got.rc == 0, got.stdout
    other = smb(pc2, passwords, MATHEO, "profiles", f"cd {ZOE}; ls")
    assert other.rc != 0
    assert "NT_STATUS_ACCESS_DENIED" in other.stdout + other.stderr


def test_pupil_cannot_open_another_pupils_home(pc1, passwords):
    result = smb(pc1, passwords, ZOE, MATHEO, "ls")
    assert result.rc != 0
    assert "NT_STATUS_ACCESS_DENIED" in result.stdout + result.stderr


def test_casier_drop_without_listing_then_teacher_reads(pc1, pc2, passwords):
    folder = TEACHER
    name = f"devoir-zoe-{uuid.uuid4().hex[:8]}.txt"
    pc1.run_expect([0], "echo 'devoir de Zoé' > /tmp/devoir.txt")
    drop = smb(pc1, passwords, ZOE, "casiers", f"cd {folder}; put /tmp/devoir.txt {name}")
    assert drop.rc == 0, drop.stdout + drop.stderr

    listing = smb(pc1, passwords, ZOE, "casiers", f"cd {folder}; ls")
    assert name not in listing.stdout
    assert "NT_STATUS_ACCESS_DENIED" in listing.stdout + listing.stderr

    # another pupil knowing the name still cannot read nor overwrite it
    peek = smb(pc2, passwords, MATHEO, "casiers", f"cd {folder}; get {name} /tmp/peek.txt")
    assert "NT_STATUS_ACCESS_DENIED" in peek.stdout + peek.stderr
    pc2.run_expect([0], "echo 'copie' > /tmp/copie.txt")
    over = smb(pc2, passwords, MATHEO, "casiers", f"cd {folder}; put /tmp/copie.txt {name}")
    assert "NT_STATUS_ACCESS_DENIED" in over.stdout + over.stderr

    teacher_ls = smb(pc2, passwords, TEACHER, "casiers", f"cd {folder}; ls")
    assert teacher_ls.rc == 0, teacher_ls.stdout
    assert name in teacher_ls.stdout
    read = smb(pc2, passwords, TEACHER, "casiers", f"cd {folder}; get {name} /tmp/d.txt")
    assert read.rc == 0, read.stdout
    assert pc2.file("/tmp/d.txt").content_string.strip() == "devoir de Zoé"


def test_class_share_teachers_write_pupils_of_the_class_read(pc1, passwords):
    pc1.run_expect([0], "echo 'cours de maths' > /tmp/cours.txt")
    write = smb(pc1, passwords, TEACHER, "classe-6a", "put /tmp/cours.txt cours.txt")
    assert write.rc == 0, write.stdout + write.stderr
    read = smb(pc1, passwords, MATHEO, "classe-6a", "get cours.txt /tmp/cours-lu.txt")
    assert read.rc == 0, read.stdout
    assert pc1.file("/tmp/cours-lu.txt").content_string.strip() == "cours de maths"
    pupil_write = smb(pc1, passwords, MATHEO, "classe-6a", "put /tmp/cours.txt triche.txt")
    assert "NT_STATUS_ACCESS_DENIED" in pupil_write.stdout + pupil_write.stderr
    other_class = smb(pc1, passwords, AICHA, "classe-6a", "ls")
    assert other_class.rc != 0
    assert "NT_STATUS_ACCESS_DENIED" in other_class.stdout + other_class.stderr


def test_no_password_for_guests(pc1):
    result = pc1.run(f"smbclient -N -L //{SERVER}")
    assert result.rc != 0


# --- roster imports: bad input, dry run, next year (kept last: they change the accounts) ------


def import_roster(roster: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run the scenario's converge again with another roster, as an operator would."""
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    env = os.environ | {
        "ANSIBLE_ROLES_PATH": str(scenario.parents[2]),
        "ANSIBLE_FORCE_COLOR": "0",
        "NO_COLOR": "1",
    }
    cmd = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i", os.environ["MOLECULE_INVENTORY_FILE"],
        str(scenario / "converge.yml"),
        "-e", f"file_server_roster_file={scenario / roster}",
        *extra,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)


def test_bad_roster_names_lines_and_changes_nothing(host):
    before = host.run_expect([0], "getent passwd | sort").stdout
    run = import_roster("roster-bad.csv")
    assert run.returncode != 0
    out = run.stdout + run.stderr
    assert "roster-bad.csv line 3: classe: missing: a pupil belongs to one class" in out
    assert "roster-bad.csv line 5: nom;prénom;date de naissance" in out
    assert "already on line 4" in out
    # line 2 was fine, but the roster as a whole was not: nobody was created
    assert host.run_expect([0], "getent passwd | sort").stdout == before
    assert not host.user("eleve.nouvel").exists


def test_dry_run_reports_and_changes_nothing(host):
    state = host.file("/var/lib/preau/roster-state.json").content_string
    accounts = "getent passwd | sort; getent group | sort; pdbedit -L -w | cut -d: -f1,5 | sort"
    before = host.run_expect([0], accounts).stdout
    run = import_roster("roster-next-year.csv", "-e", "file_server_roster_dry_run=true")
    assert run.returncode == 0, run.stdout[-2000:]
    # the newcomer is created (or re-enabled when this test runs a second time)
    assert re.search(r"(create 1|update 3): .*zoe\.lefevre3", run.stdout), run.stdout[-2000:]
    assert re.search(r"update \d: zoe\.lefevre, zoe\.lefevre2", run.stdout)
    assert f"disable 1: {MATHEO}" in run.stdout
    assert host.run_expect([0], accounts).stdout == before
    assert host.file("/var/lib/preau/roster-state.json").content_string == state


def test_next_year_import_disables_leavers_and_keeps_logins(host, pc1):
    run = import_roster("roster-next-year.csv")
    assert run.returncode == 0, run.stdout[-2000:]
    passwords = Passwords(
        {r.split(";")[0]: r.split(";")[2] for r in
         host.file("/root/preau/initial-passwords.csv").content_string.splitlines()[1:]}
    )  # fmt: skip
    # the newcomer homonym got the next free login, the others kept theirs
    assert set(host.user("zoe.lefevre3").groups) == {"zoe.lefevre3", "eleves", "classe-6a"}
    assert set(host.user(ZOE).groups) == {ZOE, "eleves", "classe-5b"}
    assert smb(pc1, passwords, "zoe.lefevre3", "zoe.lefevre3", "ls").rc == 0
    # Zoé's documents stayed with her
    assert "expose.txt" in smb(pc1, passwords, ZOE, ZOE, "ls").stdout
    left = smb(pc1, passwords, MATHEO, MATHEO, "ls")
    assert left.rc != 0
    assert "NT_STATUS_ACCOUNT_DISABLED" in left.stdout + left.stderr

    # and back to this year's roster: Mathéo is enabled again with his files and login
    again = import_roster("roster.csv")
    assert again.returncode == 0, again.stdout[-2000:]
    assert smb(pc1, passwords, MATHEO, MATHEO, "ls").rc == 0
