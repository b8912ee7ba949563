"""roles/file_server as the collège's AD DC, checked from a PC as a pupil would meet it.

The PC resolves through the DC's DNS (the SRV records find the KDC), gets a Kerberos ticket
with the password the roster import left in the root-only handover file, reads its groups
over LDAP with GSSAPI and opens its home over SMB with that ticket.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import testinfra

testinfra_hosts = ["podman://ad-dc"]

REALM = "AD.CLG-0290001X.ENC.TEST"
ZONE = "ad.clg-0290001x.enc.test"
DC = f"ad-dc.{ZONE}"
BASE = ",".join(f"DC={x}" for x in ZONE.split("."))
ZOE = "zoe.lefevre"  # 6A
MATHEO = "matheo.le-gall"  # 6A
AICHA = "aicha.n-diaye"  # 5B
# Where the scenario keeps its secrets (molecule.yml, prepare.yml), outside the repository.
SECRETS = Path(os.environ.get("PREAU_AD_SECRETS") or Path.home() / ".cache/preau/ad")
# The first uidNumber the account tool gives a new account (preau-samba-accounts ID_BASE).
NEW_ID_BASE = 20000


class Passwords(dict[str, str]):
    """Passwords that do not show up in pytest's failure reports."""

    def __repr__(self) -> str:
        return f"<{len(self)} passwords>"


@pytest.fixture(scope="module")
def passwords(host) -> dict[str, str]:
    content = host.file("/root/preau/initial-passwords.csv").content_string
    return Passwords({r[0]: r[2] for r in (line.split(";") for line in content.splitlines()[1:])})


@pytest.fixture(scope="module")
def pc(host):
    """The PC, pointed at the DC's DNS and the realm (what a PC image's config would say)."""
    pc = testinfra.get_host("podman://ad-pc1")
    dc_ip = host.interface("eth0").addresses[0]
    pc.run_expect([0], f"printf 'search {ZONE}\\nnameserver {dc_ip}\\n' > /etc/resolv.conf")
    krb5 = f"[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = true\n rdns = false\n"
    pc.run_expect([0], f"printf %s {shlex.quote(krb5)} > /etc/krb5.conf")
    return pc


def kinit(pc, passwords, user: str, password: str | None = None):
    """A ticket for USER in its own cache; the password goes on stdin, not the command line."""
    secret = passwords[user] if password is None else password
    return pc.run(
        f"printf '%s\\n' {shlex.quote(secret)} | KRB5CCNAME=/tmp/cc-{user} kinit {user}@{REALM}"
    )


def as_user(pc, user: str, cmd: str):
    return pc.run(f"KRB5CCNAME=/tmp/cc-{user} {cmd}")


def test_dc_runs_and_standalone_daemons_do_not(host):
    assert host.service("samba-ad-dc").is_running
    assert host.service("samba-ad-dc").is_enabled
    assert not host.service("smbd").is_running
    for port in ("53", "88", "389", "445", "464", "636", "3268"):
        assert host.socket(f"tcp://0.0.0.0:{port}").is_listening, port


def test_dc_dns_answers_srv_records(pc):
    out = pc.run_expect([0], f"getent hosts {DC}").stdout
    assert out.split()[0] == pc.run_expect([0], "getent hosts ad-dc").stdout.split()[0]


def test_pupil_gets_a_ticket_with_the_roster_password(pc, passwords):
    result = kinit(pc, passwords, ZOE)
    assert result.rc == 0, result.stderr
    assert f"krbtgt/{REALM}@{REALM}" in as_user(pc, ZOE, "klist").stdout


def test_a_wrong_password_gets_no_ticket(pc, passwords):
    result = kinit(pc, passwords, MATHEO, password="pas-le-bon-mot-de-passe")
    assert result.rc != 0
    assert "Password incorrect" in result.stderr or "preauthentication failed" in result.stderr


def test_ldap_with_gssapi_shows_the_pupils_groups(pc, passwords):
    kinit(pc, passwords, ZOE)
    out = as_user(
        pc,
        ZOE,
        f"ldapsearch -Q -N -Y GSSAPI -H ldap://{DC} -b {BASE} '(sAMAccountName={ZOE})' "
        "memberOf uidNumber unixHomeDirectory loginShell",
    )
    assert out.rc == 0, out.stderr
    assert f"memberOf: CN=classe-6a,CN=Users,{BASE}" in out.stdout
    assert f"memberOf: CN=eleves,CN=Users,{BASE}" in out.stdout
    assert f"unixHomeDirectory: /home/{ZOE}" in out.stdout
    assert "loginShell: /bin/bash" in out.stdout


def test_smb_with_a_ticket_reaches_the_home_and_not_another(pc, passwords):
    kinit(pc, passwords, ZOE)
    put = as_user(
        pc,
        ZOE,
        f"sh -c 'echo exposé > /tmp/e.txt && smbclient //{DC}/{ZOE} --use-kerberos=required "
        '-c "put /tmp/e.txt expose.txt; ls"\'',
    )
    assert put.rc == 0, put.stdout + put.stderr
    assert "expose.txt" in put.stdout
    other = as_user(pc, ZOE, f"smbclient //{DC}/{MATHEO} --use-kerberos=required -c ls")
    assert other.rc != 0
    assert "NT_STATUS_ACCESS_DENIED" in other.stdout + other.stderr


# --- this DC was a standalone server (prepare.yml): its pupils lost nothing --------------------


def test_homework_saved_before_the_domain_is_hers_and_opens_with_a_ticket(host, pc, passwords):
    kinit(pc, passwords, ZOE)
    got = as_user(pc, ZOE, f"smbclient //{DC}/{ZOE} --use-kerberos=required -c 'get devoir.txt -'")
    assert got.rc == 0, got.stdout + got.stderr
    assert "Devoir de Zoé" in got.stdout
    # the file is still hers: it moved to her uidNumber, from the domain's range (the PCs' idmap
    # leaves the standalone server's 1000-up uids out), as the DC's NSS (winbind) resolves it
    owner = host.file(f"/srv/samba/homes/{ZOE}/devoir.txt").uid
    assert owner == host.user(ZOE).uid >= NEW_ID_BASE


def test_a_password_changed_on_the_standalone_server_opens_the_domain(pc, passwords):
    changed = Passwords({AICHA: (SECRETS / "aicha-password").read_text().strip() + "Aa1-"})
    ticket = kinit(pc, changed, AICHA)
    assert ticket.rc == 0, ticket.stderr
    # the handover sheet's password was replaced before the migration: it is not hers any more
    assert kinit(pc, passwords, AICHA).rc != 0


def test_the_local_accounts_and_the_hash_record_are_gone(host):
    local = host.run(
        f"grep -c -e '^{ZOE}:' -e '^{AICHA}:' /etc/passwd; grep -c '^eleves:' /etc/group"
    )
    assert local.stdout.split() == ["0", "0"]
    assert not host.file("/var/lib/preau/standalone-accounts.json").exists


def test_anonymous_ldap_is_refused(pc):
    out = pc.run(f"ldapsearch -x -N -H ldap://{DC} -b {BASE} '(objectClass=user)' sAMAccountName")
    assert out.rc != 0
    assert "sAMAccountName:" not in out.stdout
    assert "without authentication" in out.stdout + out.stderr


def test_a_pupil_cannot_write_the_directory(pc, passwords):
    kinit(pc, passwords, ZOE)
    # join the teachers of her class, then change a classmate's name: both refused
    for n, ldif in enumerate(
        (
            f"dn: CN=profs-6a,CN=Users,{BASE}\nchangetype: modify\nadd: member\n"
            f"member: CN={ZOE},CN=Users,{BASE}\n",
            f"dn: CN={MATHEO},CN=Users,{BASE}\nchangetype: modify\nreplace: displayName\n"
            "displayName: pirate\n",
        )
    ):
        pc.run_expect([0], f"printf %s {shlex.quote(ldif)} > /tmp/change-{n}.ldif")
        out = as_user(pc, ZOE, f"ldapmodify -Q -N -Y GSSAPI -H ldap://{DC} -f /tmp/change-{n}.ldif")
        assert out.rc == 50, out.stdout + out.stderr  # insufficientAccessRights


def test_ldaps_certificate_is_signed_by_the_lab_ca(host, pc, passwords):
    ca = host.file("/var/lib/samba/private/tls/preau-ca.crt").content_string
    pc.run_expect([0], f"printf %s {shlex.quote(ca)} > /tmp/preau-ca.crt")
    pc.run_expect([0], f"umask 077; printf %s {shlex.quote(passwords[ZOE])} > /tmp/pw-{ZOE}")
    # a simple bind is allowed over TLS only, and this one checks the DC's certificate
    search = (
        f"ldapsearch -x -N -H ldaps://{DC} -D {ZOE}@{REALM} -y /tmp/pw-{ZOE} -b {BASE} "
        f"'(sAMAccountName={ZOE})' sAMAccountName"
    )
    out = pc.run(f"LDAPTLS_CACERT=/tmp/preau-ca.crt LDAPTLS_REQCERT=demand {search}")
    assert out.rc == 0, out.stdout + out.stderr
    assert f"sAMAccountName: {ZOE}" in out.stdout
    # without the CA, the certificate cannot be trusted
    untrusted = pc.run(f"LDAPTLS_CACERT=/dev/null LDAPTLS_REQCERT=demand {search}")
    assert untrusted.rc != 0
    # and the same simple bind without TLS is refused (strong auth required)
    plain = pc.run(search.replace("ldaps://", "ldap://"))
    assert plain.rc != 0 and "Strong(er) authentication required" in plain.stdout + plain.stderr


def test_ntlmv1_is_refused(pc, passwords):
    cmd = (
        f"PASSWD={shlex.quote(passwords[ZOE])} smbclient //{DC}/{ZOE} -U {ZOE} "
        "--use-kerberos=disabled --option='client ntlmv2 auth = no' "
        "--option='client min protocol = NT1' -c ls"
    )
    v1 = pc.run(cmd)
    assert v1.rc != 0
    v2 = pc.run(cmd.replace("client ntlmv2 auth = no", "client ntlmv2 auth = yes"))
    assert v2.rc == 0, v2.stdout + v2.stderr


def test_password_file_is_root_only(host, passwords):
    f = host.file("/root/preau/initial-passwords.csv")
    assert (f.user, f.group, f.mode) == ("root", "root", 0o600)
    assert {ZOE, MATHEO} <= set(passwords)


# --- next school year: a login taken by hand, the dry run, the rollover (they change accounts) ---


def import_roster(roster: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run the converge again with another roster of ../default, as an operator would."""
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
        "-e", f"file_server_roster_file={scenario.parent / 'default' / roster}",
        *extra,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)


DIRECTORY = "samba-tool user list | sort; samba-tool group listmembers classe-6a | sort"


def test_a_login_taken_by_hand_stops_the_import_and_changes_nothing(host):
    # someone made zoe.lefevre3 by hand: next year's newcomer would get that login
    host.run_expect([0], "samba-tool user create zoe.lefevre3 --random-password")
    try:
        before = host.run_expect([0], DIRECTORY).stdout
        run = import_roster("roster-next-year.csv")
        assert run.returncode != 0
        # the YAML callback may fold a long message and double its quotes
        out = " ".join((run.stdout + run.stderr).split()).replace("''", "'")
        assert (
            "roster-next-year.csv line 5: nom;prénom: login 'zoe.lefevre3' belongs to an AD "
            "account preau did not make"
        ) in out, out[-3000:]
        assert host.run_expect([0], DIRECTORY).stdout == before
    finally:
        host.run_expect([0], "samba-tool user delete zoe.lefevre3")


def test_dry_run_shows_the_directory_changes_and_changes_nothing(host):
    before = host.run_expect([0], DIRECTORY).stdout
    state = host.file("/var/lib/preau/roster-state.json").content_string
    run = import_roster("roster-next-year.csv", "-e", "file_server_roster_dry_run=true")
    assert run.returncode == 0, run.stdout[-3000:]
    # the tool's own comparison with the directory, not only with the previous import
    assert re.search(r"created:\s*\n\s*- zoe\.lefevre3", run.stdout), run.stdout[-3000:]
    assert re.search(rf"disabled:\s*\n\s*- {re.escape(MATHEO)}", run.stdout)
    assert re.search(rf"archived:\s*\n\s*- {re.escape(MATHEO)}", run.stdout)
    assert host.run_expect([0], DIRECTORY).stdout == before
    assert host.file("/var/lib/preau/roster-state.json").content_string == state


def test_rollover_moves_classes_refuses_the_leaver_and_archives_his_files(host, pc, passwords):
    host.run_expect([0], f"echo 'mes notes' > /srv/samba/homes/{MATHEO}/notes.txt")
    run = import_roster("roster-next-year.csv")
    assert run.returncode == 0, run.stdout[-3000:]
    # Zoé moved from 6A to 5B
    groups = host.run_expect([0], "samba-tool group listmembers classe-5b").stdout.split()
    assert ZOE in groups
    assert ZOE not in host.run_expect([0], "samba-tool group listmembers classe-6a").stdout.split()
    # Mathéo left: no ticket any more, even with his password
    refused = kinit(pc, passwords, MATHEO)
    assert refused.rc != 0
    assert "revoked" in refused.stderr or "disabled" in refused.stderr.lower(), refused.stderr
    # his files are in the staff-only archive, not deleted
    archived = host.run_expect([0], f"ls -d /srv/samba/archives/{MATHEO}@*").stdout.split()
    assert len(archived) == 1
    assert host.file(f"{archived[0]}/notes.txt").content_string.strip() == "mes notes"
    assert host.file(archived[0]).group.endswith("personnels")
    assert not host.file(f"/srv/samba/homes/{MATHEO}").exists


# --- a Linux client joins the domain (winbind, RFC 2307 ids): kept last, it reconfigures the PC ---


def test_a_linux_client_joins_and_sees_rfc2307_accounts(host, pc):
    # the DC does not keep the Administrator password: read it where the scenario keeps it
    admin = (SECRETS / "admin-password").read_text().strip() + "Aa1-"  # as molecule.yml makes it
    password = Passwords({"Administrator": admin})
    member = (
        "[global]\n"
        "   security = ads\n"
        f"   realm = {REALM}\n"
        "   workgroup = CLG0290001X\n"
        "   netbios name = AD-PC1\n"
        "   kerberos method = secrets and keytab\n"
        "   winbind use default domain = yes\n"
        # the ids are the directory's RFC 2307 ones, not a local mapping
        "   idmap config * : backend = tdb\n"
        "   idmap config * : range = 3000-7999\n"
        "   idmap config CLG0290001X : backend = ad\n"
        "   idmap config CLG0290001X : schema_mode = rfc2307\n"
        "   idmap config CLG0290001X : range = 10000-999999\n"
        "   idmap config CLG0290001X : unix_nss_info = yes\n"
        "   idmap config CLG0290001X : unix_primary_group = yes\n"
    )
    pc.run_expect([0], f"printf %s {shlex.quote(member)} > /etc/samba/smb.conf")
    # the Administrator's password through the environment (PASSWD), not the command line
    join = pc.run(f"PASSWD={shlex.quote(password['Administrator'])} net ads join -U Administrator")
    assert join.rc == 0, join.stdout + join.stderr
    # the machine account exists in AD
    listed = host.run_expect([0], "samba-tool computer list").stdout
    assert "AD-PC1$" in listed
    # its keytab gets it a ticket
    pc.run_expect([0], "net ads keytab create -P")
    kt = pc.run("KRB5CCNAME=/tmp/cc-host kinit -k 'AD-PC1$'")
    assert kt.rc == 0, kt.stderr
    # accounts resolve with the directory's ids
    pc.run_expect([0], "sed -i -E 's/^(passwd|group):.*/\\1: files winbind/' /etc/nsswitch.conf")
    pc.run_expect([0], "systemctl restart winbind")
    zoe = host.run_expect(
        [0],
        f"ldbsearch -H /var/lib/samba/private/sam.ldb '(sAMAccountName={ZOE})' uidNumber",
    ).stdout
    uid = next(line.split()[1] for line in zoe.splitlines() if line.startswith("uidNumber:"))
    eleves = host.run_expect(
        [0], "ldbsearch -H /var/lib/samba/private/sam.ldb '(sAMAccountName=eleves)' gidNumber"
    ).stdout
    gid = next(line.split()[1] for line in eleves.splitlines() if line.startswith("gidNumber:"))
    pc.run_expect([0], "net cache flush")
    entry = pc.run_expect([0], f"getent passwd {ZOE}").stdout.strip().split(":")
    assert (entry[2], entry[3]) == (uid, gid)
    assert entry[5] == f"/home/{ZOE}" and entry[6] == "/bin/bash"
