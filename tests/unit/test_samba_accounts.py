"""roles/file_server's account tool (preau-samba-accounts): its decisions, without a server.

The AD path runs against an in-memory directory with the interface the tool's SamDirectory
gives Samba's sam.ldb (the molecule `ad` scenario runs the real one); quotas against a
`repquota -O csv` answer.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType

import pytest

from preau.roster import plan_csv

TOOL = (
    Path(__file__).resolve().parents[2]
    / "roles/file_server/files/usr/local/sbin/preau-samba-accounts"
)
ROSTER = Path(__file__).resolve().parents[2] / "roles/file_server/molecule/default"


def _load() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("preau_samba_accounts", str(TOOL))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = module  # dataclasses look their module up
    loader.exec_module(module)
    return module


tool = _load()


class FakeDirectory:
    """A directory in memory with SamDirectory's interface; records every write."""

    def __init__(self, users=None, groups=None):
        self._users: dict = users or {
            "Administrator": tool.DirUser("Administrator", None, True, None, {}, set()),
            "krbtgt": tool.DirUser("krbtgt", None, False, None, {}, set()),
        }
        self._groups: dict = groups or {
            "Domain Users": tool.DirGroup("Domain Users", None, None),
        }
        self.writes: list[tuple] = []

    def users(self):
        return {
            k: tool.DirUser(**vars(v) | {"groups": set(v.groups)}) for k, v in self._users.items()
        }

    def groups(self):
        return {k: tool.DirGroup(**vars(v)) for k, v in self._groups.items()}

    def create_group(self, name: str, gid: int) -> None:
        self.writes.append(("group", name))
        self._groups[name] = tool.DirGroup(name, tool.MARKER, gid)

    def create_user(self, login: str, password: str, key: str, attrs: Mapping[str, str]) -> None:
        self.writes.append(("user", login))
        uid = int(attrs["uidNumber"])
        self._users[login] = tool.DirUser(login, key, True, uid, dict(attrs), set())

    def modify_user(self, login: str, attrs: Mapping[str, str]) -> None:
        self.writes.append(("modify", login, tuple(sorted(attrs))))
        self._users[login].attrs.update(attrs)

    def set_members(self, group: str, add: Iterable[str], remove: Iterable[str]) -> None:
        self.writes.append(("members", group, tuple(add), tuple(remove)))
        for login in add:
            self._users[login].groups.add(group)
        for login in remove:
            self._users[login].groups.discard(group)

    def delete_user(self, login: str) -> None:
        self.writes.append(("delete", login))
        del self._users[login]

    def set_enabled(self, login: str, enabled: bool) -> None:
        self.writes.append(("enabled" if enabled else "disabled", login))
        self._users[login].enabled = enabled

    def set_nt_hash(self, login: str, nt_hash: bytes) -> None:
        self.writes.append(("nt_hash", login, nt_hash))


def make_plan(tmp_path: Path, roster: str, state=None) -> tuple[dict, dict]:
    p = plan_csv((ROSTER / roster).read_text(), state or {}, roster).to_dict()
    slugs = [c["slug"] for c in p["classes"]]
    plan = {
        "domain": "ad",
        "source": roster,
        "root": str(tmp_path),
        "homes": str(tmp_path / "homes"),
        "profiles": str(tmp_path / "profiles"),
        "casiers": str(tmp_path / "casiers"),
        "pupils_group": "eleves",
        "password_file": str(tmp_path / "pw/initial-passwords.csv"),
        "netbios_name": "CLG-0290001X-FS",
        "unix_home": "/home",
        "login_shell": "/bin/bash",
        "home_drive": "H:",
        "quota": None,
        "groups": ["eleves", "enseignants", "personnels"]
        + [f"classe-{s}" for s in slugs]
        + [f"profs-{s}" for s in slugs],
        "accounts": p["accounts"],
        "inactive": p["inactive"],
    }
    return plan, p["state"]


def test_ad_import_creates_accounts_with_rfc2307_and_windows_attributes(tmp_path):
    plan, _ = make_plan(tmp_path, "roster.csv")
    d = FakeDirectory()
    changes = tool.Changes()
    uids = tool.apply_ad(plan, d, changes, dry=False)
    assert sorted(changes.created) == sorted(a["login"] for a in plan["accounts"])
    zoe = d.users()["zoe.lefevre"]
    eleves = d.groups()["eleves"]
    assert (
        zoe.attrs["uidNumber"] == str(uids["zoe.lefevre"]) and uids["zoe.lefevre"] >= tool.ID_BASE
    )
    assert zoe.attrs["gidNumber"] == str(eleves.gid)
    assert zoe.attrs["unixHomeDirectory"] == "/home/zoe.lefevre"
    assert zoe.attrs["loginShell"] == "/bin/bash"
    assert zoe.attrs["homeDirectory"] == r"\\CLG-0290001X-FS\zoe.lefevre"
    assert zoe.attrs["profilePath"] == r"\\CLG-0290001X-FS\profiles\zoe.lefevre"
    assert zoe.groups == {"eleves", "classe-6a"}
    assert d.users()["anne-cecile.kerbrat"].groups == {"enseignants", "profs-6a", "profs-5b"}
    # ids are unique
    assert len(set(uids.values())) == len(uids)
    # passwords only in the root-only file
    rows = (tmp_path / "pw/initial-passwords.csv").read_text().splitlines()
    assert len(rows) == 1 + len(plan["accounts"])
    assert (tmp_path / "pw/initial-passwords.csv").stat().st_mode & 0o777 == 0o600


def test_ad_nss_map_lists_enabled_accounts_with_their_ids_and_groups_and_no_secret(tmp_path):
    """What a network-booted PC is served to resolve names (libnss-extrausers' files): each
    enabled account with its directory ids and home, its groups with their members."""
    plan, _ = make_plan(tmp_path, "roster.csv")
    d = FakeDirectory()
    uids = tool.apply_ad(plan, d, tool.Changes(), dry=False)
    d.set_enabled("zoe.lefevre", False)
    served = tool.nss(d)
    passwd = {line.split(":")[0]: line.split(":") for line in served["passwd"].splitlines()}
    # the disabled pupil and the accounts without ids (Administrator, krbtgt) are left out
    assert sorted(passwd) == sorted(set(uids) - {"zoe.lefevre"})
    login = sorted(passwd)[0]
    user = d.users()[login]
    assert passwd[login] == [
        login, "*", str(uids[login]), user.attrs["gidNumber"], user.attrs["displayName"],
        f"/home/{login}", "/bin/bash",
    ]  # fmt: skip
    groups = {line.split(":")[0]: line.split(":") for line in served["group"].splitlines()}
    eleves = d.groups()["eleves"]
    assert groups["eleves"][2] == str(eleves.gid)
    assert "zoe.lefevre" not in groups["eleves"][3].split(",")
    assert all(g.gid is None or tool.nss_name(n) in groups for n, g in d.groups().items())
    # no password, hash or marker (the roster key) in what every PC may read
    text = served["passwd"] + served["group"]
    secrets = (tmp_path / "pw/initial-passwords.csv").read_text().splitlines()[1:]
    assert secrets and not any(row.split(";")[2] in text for row in secrets)
    assert not any(u.marker and u.marker in text for u in d.users().values())


def test_nss_names_are_unix_names():
    assert tool.nss_name("Domain Users") == "domain-users"
    assert tool.nss_name("a:b,c") == "a b c"


def assert_rerun_changes_nothing(plan: Mapping, d: FakeDirectory) -> None:
    d.writes.clear()
    again = tool.Changes()
    tool.apply_ad(plan, d, again, dry=False)
    assert not again.changed and d.writes == []


def test_ad_rerun_changes_nothing(tmp_path):
    plan, _ = make_plan(tmp_path, "roster.csv")
    d = FakeDirectory()
    tool.apply_ad(plan, d, tool.Changes(), dry=False)
    assert_rerun_changes_nothing(plan, d)


def test_ad_next_year_moves_disables_and_brings_back(tmp_path):
    plan, state = make_plan(tmp_path, "roster.csv")
    d = FakeDirectory()
    first = tool.apply_ad(plan, d, tool.Changes(), dry=False)
    next_plan, next_state = make_plan(tmp_path, "roster-next-year.csv", state)
    changes = tool.Changes()
    uids = tool.apply_ad(next_plan, d, changes, dry=False)
    users = d.users()
    assert changes.disabled == ["matheo.le-gall"] and not users["matheo.le-gall"].enabled
    assert users["zoe.lefevre"].groups == {"eleves", "classe-5b"}  # moved class
    assert "zoe.lefevre3" in changes.created
    assert uids["zoe.lefevre"] == first["zoe.lefevre"]  # ids stay with their owner
    # the leaver comes back: enabled again, same uid
    back_plan, _ = make_plan(tmp_path, "roster.csv", next_state)
    back = tool.Changes()
    tool.apply_ad(back_plan, d, back, dry=False)
    assert back.enabled == ["matheo.le-gall"] and d.users()["matheo.le-gall"].enabled


X32 = "X" * 32  # no LM hash (Samba keeps none)
PDBEDIT_W = f"""\
zoe.lefevre:1001:{X32}:0CB6948805F797BF2A82807973B89537:[U          ]:LCT-6A1B2C3D:
matheo.le-gall:1002:{X32}:8846F7EAEE8FB117AD06BDD830B7586C:[DU         ]:LCT-6A1B2C3D:
pc042$:1003:{X32}:31D6CFE0D16AE931B73C59D7E0C089C0:[W          ]:LCT-6A1B2C3D:
nopass:1004:{X32}:NO PASSWORDXXXXXXXXXXXXXXXXXXXXX:[NU         ]:LCT-6A1B2C3D:
"""


def test_pdbedit_gives_each_accounts_nt_hash_and_state_not_machines_or_empty_ones():
    assert tool.parse_pdbedit_w(PDBEDIT_W) == {
        "zoe.lefevre": ("0cb6948805f797bf2a82807973b89537", False),
        "matheo.le-gall": ("8846f7eaee8fb117ad06bdd830b7586c", True),
    }


def standalone_export(plan: Mapping, extra: Mapping[str, Mapping] | None = None) -> dict:
    """What export-standalone records of a server the standalone role ran with PLAN."""
    accounts = {
        a["login"]: {"uid": 1001 + i, "gid": 1001 + i, "name": a["name"],
                     "nt_hash": f"{i:032x}", "disabled": False}
        for i, a in enumerate(plan["accounts"])
    }  # fmt: skip
    groups = {name: 2001 + i for i, name in enumerate(plan["groups"])}
    return {"accounts": accounts | dict(extra or {}), "groups": groups}


def test_a_standalone_servers_accounts_keep_their_passwords_and_files_in_the_domain(tmp_path):
    plan, _ = make_plan(tmp_path, "roster.csv")
    hand_made = {"secretariat": {"uid": 1500, "gid": 1500, "name": "Secrétariat",
                                 "nt_hash": "ab" * 16, "disabled": False}}  # fmt: skip
    migration = standalone_export(plan, hand_made)
    d = FakeDirectory()
    changes = tool.Changes()
    uids = tool.apply_ad(plan, d, changes, dry=False, migration=migration)
    old = migration["accounts"]
    # every account moved, none created anew: its NT hash as its password
    assert changes.created == []
    assert sorted(changes.migrated) == sorted([*old])
    hashes = {w[1]: w[2] for w in d.writes if w[0] == "nt_hash"}
    assert hashes == {login: bytes.fromhex(o["nt_hash"]) for login, o in old.items()}
    assert d.users()["zoe.lefevre"].groups == {"eleves", "classe-6a"}
    # ids from the domain's range (the PCs' idmap), and a map from the old ones for the files:
    # each account's uid, its private group to its profile's, each group to its namesake
    assert min(uids.values()) >= tool.ID_BASE
    uid_map, gid_map = tool.id_maps(migration, d.users(), d.groups())
    users, groups = d.users(), d.groups()
    assert uid_map == {o["uid"]: users[login].uid for login, o in old.items()}
    zoe = old["zoe.lefevre"]
    assert gid_map[zoe["gid"]] == groups["eleves"].gid
    assert gid_map[migration["groups"]["classe-6a"]] == groups["classe-6a"].gid
    # the hand-made account is kept, disabled, for someone to decide about
    assert not d.users()["secretariat"].enabled and "secretariat" in changes.disabled
    # the pupils keep their passwords: nothing for the handover file
    assert not (tmp_path / "pw/initial-passwords.csv").exists()
    # once moved (the record deleted), a rerun changes nothing, and new ids do not collide
    assert_rerun_changes_nothing(plan, d)


def test_a_migrated_leaver_coming_back_is_taken_back_with_the_roster_key(tmp_path):
    plan, _ = make_plan(tmp_path, "roster.csv")
    matheo = next(a for a in plan["accounts"] if a["login"] == "matheo.le-gall")
    d = FakeDirectory()
    d._users["matheo.le-gall"] = tool.DirUser("matheo.le-gall", tool.MARKER, False, 1002, {}, set())
    changes = tool.Changes()
    tool.apply_ad(plan, d, changes, dry=False)
    assert ("modify", "matheo.le-gall") in [w[:2] for w in d.writes]
    assert d.users()["matheo.le-gall"].attrs["employeeID"] == matheo["key"]
    assert "matheo.le-gall" in changes.enabled


def test_the_files_under_the_shares_move_to_the_new_ids_once(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("giving a file to another owner needs root")
    home, share = tmp_path / "homes/zoe", tmp_path / "classes/6a"
    for folder in (home / "cours", share):
        folder.mkdir(parents=True)
    (home / "cours/b.txt").write_text("x")
    (share / "expose.txt").write_text("x")
    os.chown(home, 1001, 1001)
    os.chown(home / "cours", 1001, 1001)
    os.chown(home / "cours/b.txt", 1001, 4242)  # a group the server never had: left alone
    os.chown(share, 0, 2006)
    os.chown(share / "expose.txt", 1001, 2006)
    owners = {1001: 20001}, {1001: 20000, 2006: 20005}
    assert tool.reown_tree(str(tmp_path), *owners) == 5
    got = {p.name: (p.stat().st_uid, p.stat().st_gid) for p in tmp_path.rglob("*")}
    assert {k: got[k] for k in ("zoe", "cours", "b.txt", "6a", "expose.txt")} == {
        "zoe": (20001, 20000), "cours": (20001, 20000), "b.txt": (20001, 4242),
        "6a": (0, 20005), "expose.txt": (20001, 20005),
    }  # fmt: skip
    # a rerun (after a failure further on) moves nothing twice
    assert tool.reown_tree(str(tmp_path), *owners) == 0


def test_old_and_new_ids_that_overlap_are_refused_before_any_file_moves():
    migration = {"accounts": {"zoe": {"uid": 20001, "gid": 20001}}, "groups": {}}
    users = {"zoe": tool.DirUser("zoe", "k", True, 20002, {"gidNumber": "20001"}, set())}
    with pytest.raises(tool.PlanError, match="overlap"):
        tool.id_maps(migration, users, {})


def test_ad_dry_run_reports_and_writes_nothing(tmp_path):
    plan, _ = make_plan(tmp_path, "roster.csv")
    d = FakeDirectory()
    changes = tool.Changes()
    tool.apply_ad(plan, d, changes, dry=True)
    assert changes.created and changes.groups
    assert d.writes == [] and not (tmp_path / "pw").exists()


def test_ad_names_taken_by_objects_preau_did_not_make_stop_everything(tmp_path):
    plan, _ = make_plan(tmp_path, "roster.csv")
    zoe = next(a for a in plan["accounts"] if a["login"] == "zoe.lefevre")
    d = FakeDirectory()
    # an account made by hand with a pupil's login, a group of the same name as a class group
    d._users["zoe.lefevre"] = tool.DirUser("zoe.lefevre", None, True, 1500, {}, set())
    d._groups["classe-6a"] = tool.DirGroup("classe-6a", None, None)
    with pytest.raises(tool.PlanError) as info:
        tool.apply_ad(plan, d, tool.Changes(), dry=False)
    message = str(info.value)
    assert f"roster.csv line {zoe['line']}: nom;prénom: login 'zoe.lefevre'" in message
    assert "roster.csv: classe: group 'classe-6a' already exists" in message
    assert d.writes == []


@pytest.mark.parametrize("login", ["Administrator", "krbtgt", "guest"])
def test_ad_builtin_logins_are_refused(tmp_path, login):
    plan, _ = make_plan(tmp_path, "roster.csv")
    plan["accounts"][0] = plan["accounts"][0] | {"login": login}
    with pytest.raises(tool.PlanError, match=f"login '{login}' is a built-in AD account"):
        tool.apply_ad(plan, FakeDirectory(), tool.Changes(), dry=False)


REPQUOTA = (
    (
        "User,BlockStatus,FileStatus,BlockUsed,BlockSoftLimit,BlockHardLimit,BlockGrace,"
        "FileUsed,FileSoftLimit,FileHardLimit,FileGrace\n"
    )
    + """#0,ok,ok,20,0,0,,3,0,0,
#20000,ok,ok,12,512000,512000,,2,0,0,
#20001,ok,ok,12,0,0,,2,0,0,
"""
)


def test_quotas_are_set_only_where_they_differ():
    current = tool.parse_repquota_csv(REPQUOTA)
    assert current[20000] == (512000, 512000) and current[0] == (0, 0)
    wanted = {20000: 512000, 20001: 2048000, 20002: 1024000}
    assert tool.quota_updates(current, wanted) == {20001: 2048000, 20002: 1024000}
    assert tool.quota_updates(current, {20000: 512000}) == {}


def test_quotas_run_setquota_for_the_differences_only(monkeypatch, tmp_path):
    calls = []

    def fake_run(*cmd, stdin=None):
        calls.append(cmd)
        return REPQUOTA if cmd[0] == "repquota" else ""

    monkeypatch.setattr(tool, "run", fake_run)
    plan = {
        "quota": {"mount": "/srv", "mb": {"eleve": 500, "enseignant": 2000, "personnel": 1000}},
        "accounts": [
            {"login": "zoe.lefevre", "profile": "eleve"},
            {"login": "anne.kerbrat", "profile": "enseignant"},
        ],
    }
    changes = tool.Changes()
    tool.apply_quotas(plan, {"zoe.lefevre": 20000, "anne.kerbrat": 20001}, changes, dry=False)
    assert changes.quotas == ["anne.kerbrat"]
    assert calls[-1] == ("setquota", "-u", "20001", "2048000", "2048000", "0", "0", "/srv")
    assert len(calls) == 2  # repquota, then one setquota
    calls.clear()
    tool.apply_quotas(plan | {"quota": None}, {"zoe.lefevre": 20000}, tool.Changes(), dry=False)
    assert calls == []


def test_a_bad_repquota_header_is_an_error():
    with pytest.raises(tool.PlanError, match="unexpected CSV header"):
        tool.parse_repquota_csv("Benutzer,Blöcke\n")


def test_passwords_are_readable_and_strong():
    pw = tool.new_password()
    assert len(pw) == 14 and pw.count("-") == 2
    assert not set(pw) & set("0O1lI")


def test_folders_are_fixed_and_reported(tmp_path):
    import os

    path = tmp_path / "homes" / "x"
    changes = tool.Changes()
    uid, gid = os.getuid(), os.getgid()
    tool.ensure_dir(str(path), uid, gid, 0o700, changes, dry=False)
    assert changes.folders == [str(path)] and path.stat().st_mode & 0o7777 == 0o700
    again = tool.Changes()
    tool.ensure_dir(str(path), uid, gid, 0o700, again, dry=False)
    assert not again.changed
    path.chmod(0o755)
    dry = tool.Changes()
    tool.ensure_dir(str(path), uid, gid, 0o700, dry, dry=True)
    assert dry.folders == [str(path)] and path.stat().st_mode & 0o7777 == 0o755


def test_main_refuses_a_clash_with_exit_2_and_one_json_line(tmp_path, monkeypatch, capsys):
    plan, _ = make_plan(tmp_path, "roster.csv")
    plan["accounts"][0] = plan["accounts"][0] | {"login": "krbtgt"}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    monkeypatch.setattr(tool, "SamDirectory", FakeDirectory)
    assert tool.main(["preau-samba-accounts", str(path)]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out["changed"] is False and "built-in AD account" in out["error"]


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="archives are chowned to the staff group")


def _rollover_plan(tmp_path, roster, state=None):
    plan, new_state = make_plan(tmp_path, roster, state)
    plan |= {"archives": str(tmp_path / "archives"), "staff_group": "personnels"}
    plan["retention_days"] = 365
    return plan, new_state


@needs_root
def test_rollover_archives_a_leavers_home_and_gives_it_back(tmp_path):
    from datetime import date

    plan, state = _rollover_plan(tmp_path, "roster.csv")
    d = FakeDirectory()
    uids = tool.apply_ad(plan, d, tool.Changes(), dry=False)
    tool.ad_folders(plan, d, uids, tool.Changes(), dry=False)
    home = tmp_path / "homes" / "matheo.le-gall"
    (home / "expose.txt").write_text("les volcans")
    # next year: Mathéo left
    leave, left_state = _rollover_plan(tmp_path, "roster-next-year.csv", state)
    changes = tool.Changes()
    uids = tool.apply_ad(leave, d, changes, dry=False)
    tool.ad_rollover(leave, d, uids, changes, dry=False, today=date(2027, 9, 1))
    assert changes.archived == ["matheo.le-gall"] and not home.exists()
    archived = tmp_path / "archives" / "matheo.le-gall@2027-09-01"
    staff = d.groups()["personnels"].gid
    assert (archived / "expose.txt").read_text() == "les volcans"  # nothing deleted
    st = (archived / "expose.txt").stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, staff, 0o640)
    assert (tmp_path / "archives").stat().st_mode & 0o777 == 0o750
    # a rerun changes nothing
    again = tool.Changes()
    tool.ad_rollover(leave, d, uids, again, dry=False, today=date(2027, 9, 2))
    assert not again.changed
    # he comes back the year after: his files are his again
    back, _ = _rollover_plan(tmp_path, "roster.csv", left_state)
    changes = tool.Changes()
    uids = tool.apply_ad(back, d, changes, dry=False)
    tool.ad_rollover(back, d, uids, changes, dry=False, today=date(2028, 6, 1))
    assert changes.restored == ["matheo.le-gall"]
    st = (home / "expose.txt").stat()
    assert (st.st_uid, st.st_mode & 0o777) == (uids["matheo.le-gall"], 0o600)


@needs_root
def test_rollover_deletes_archives_and_accounts_after_the_retention_only(tmp_path):
    from datetime import date

    plan, state = _rollover_plan(tmp_path, "roster.csv")
    d = FakeDirectory()
    uids = tool.apply_ad(plan, d, tool.Changes(), dry=False)
    tool.ad_folders(plan, d, uids, tool.Changes(), dry=False)
    leave, _ = _rollover_plan(tmp_path, "roster-next-year.csv", state)
    uids = tool.apply_ad(leave, d, tool.Changes(), dry=False)
    tool.ad_rollover(leave, d, uids, tool.Changes(), dry=False, today=date(2027, 9, 1))
    within = tool.Changes()
    tool.ad_rollover(leave, d, uids, within, dry=False, today=date(2028, 8, 31))
    assert not within.deleted and "matheo.le-gall" in d.users()
    dry = tool.Changes()
    tool.ad_rollover(leave, d, uids, dry, dry=True, today=date(2028, 9, 2))
    assert dry.deleted == ["matheo.le-gall"] and "matheo.le-gall" in d.users()
    after = tool.Changes()
    tool.ad_rollover(leave, d, uids, after, dry=False, today=date(2028, 9, 2))
    assert after.deleted == ["matheo.le-gall"]
    assert "matheo.le-gall" not in d.users()
    assert list((tmp_path / "archives").glob("matheo*")) == []


def test_main_dry_run_reads_the_plan_on_stdin_and_writes_nothing(tmp_path, monkeypatch, capsys):
    import io

    plan, _ = make_plan(tmp_path, "roster.csv")
    directory = FakeDirectory()
    monkeypatch.setattr(tool, "SamDirectory", lambda: directory)
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(plan)))
    assert tool.main(["preau-samba-accounts", "--dry-run", "-"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["changed"] is True and "zoe.lefevre" in out["created"]
    assert directory.writes == [] and list(tmp_path.iterdir()) == []
