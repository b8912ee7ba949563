"""Phase tags (`<role>_install`, `<role>_configure`, `<role>_run`) reach every task of their phase.

college.yml's roles import their task files, so `ansible-playbook --list-tasks --tags X` shows
what a tagged run does. roles/ent_portal *includes* its parts (each host does the parts of its
groups), and `--list-tasks` cannot look inside an include: there the proof is a real tagged run
of playbooks/ent.yml against hosts whose SSH port refuses connections. Each host stops, unreachable,
at the first task of its part that the tags selected; an include without `apply:` would run
and select none of its tasks, and no host would reach one. Nothing is touched: the only traffic
is a refused connection to a loopback socket this test holds. About 10 s in all.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
PHASES = ("install", "configure", "run")
# `role : task name<TAB>TAGS: [a, b]` lines of --list-tasks
LISTED = re.compile(r"^\s+(?P<role>\w+) : (?P<name>.+?)\tTAGS: \[(?P<tags>[^\]]*)\]$", re.MULTILINE)


def _env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        **extra,
    }


def _task_names(role: str, file: str) -> list[str]:
    """Names of the tasks a role's task file runs, following its import_tasks."""
    return _names(role, yaml.safe_load((REPO / "roles" / role / "tasks" / file).read_text()))


def _names(role: str, tasks: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for task in tasks:
        imported = task.get("ansible.builtin.import_tasks")
        if imported:
            names += _task_names(role, imported)
        elif "block" in task:
            names += _names(role, task["block"])
        else:
            names.append(task["name"])
    return names


def _listed(inventory: Path, playbook: str, tags: str) -> dict[str, set[str]]:
    """role -> task names `ansible-playbook --list-tasks --tags <tags>` lists."""
    done = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), str(REPO / "playbooks" / playbook)]
        + ["--list-tasks", "--tags", tags],
        env=_env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out: dict[str, set[str]] = {}
    for m in LISTED.finditer(done.stdout):
        if "always" not in m["tags"].split(", "):  # the argument spec check
            out.setdefault(m["role"], set()).add(m["name"])
    return out


@pytest.fixture(scope="module")
def college_inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tags") / "college.yml"
    groups = {"file_server": {"hosts": {"fs1": {}}}, "app_server": {"hosts": {"app1": {}}}}
    path.write_text(yaml.safe_dump({"all": {"children": groups}}))
    return path


@pytest.mark.parametrize("phase", PHASES)
def test_college_phase_tag_lists_exactly_preflight_and_the_phase(
    college_inventory: Path, phase: str
) -> None:
    roles = ("common", "app_server")
    listed = _listed(college_inventory, "college.yml", ",".join(f"{r}_{phase}" for r in roles))
    for role in roles:
        wanted = set(_task_names(role, "preflight.yml")) | set(_task_names(role, f"{phase}.yml"))
        assert listed.get(role) == wanted, role


# --- roles/ent_portal: includes ---------------------------------------------------------------

ENT_MAIN = REPO / "roles" / "ent_portal" / "tasks" / "main.yml"
# host -> the group it is alone in: one host per part, so each reaches its own part's tasks
ENT_HOSTS = {"lb1": "load_balancer", "db1": "database", "redis1": "redis", "app1": "portal_app"}
ENT_PART = {"lb1": "lb", "db1": "database", "redis1": "redis", "app1": "app"}


def _ent_includes() -> list[dict[str, Any]]:
    return [t for t in yaml.safe_load(ENT_MAIN.read_text()) if "ansible.builtin.include_tasks" in t]


def test_every_ent_portal_include_hands_its_tags_to_its_tasks() -> None:
    includes = _ent_includes()
    # (database, redis, sentinel, app, lb) x (configure, run), and the failover monitor's run
    assert len(includes) == 11
    for task in includes:
        include = task["ansible.builtin.include_tasks"]
        phase = include["file"].removesuffix(".yml").rsplit("_", 1)[1]
        assert task["tags"] == include["apply"]["tags"] == ["ent_portal", f"ent_portal_{phase}"]


# roles/file_server joins this list once its rewrite gives its include an `apply:`
@pytest.mark.parametrize("role", ["common", "app_server", "ent_portal"])
def test_no_include_drops_its_tags(role: str) -> None:
    """An include_tasks anywhere in the role passes the tags that select it on to its tasks."""
    for path in sorted((REPO / "roles" / role / "tasks").glob("*.yml")):
        for task in yaml.safe_load(path.read_text()) or []:
            for key in ("ansible.builtin.include_tasks", "include_tasks"):
                if key in task:
                    apply = task[key].get("apply", {}) if isinstance(task[key], dict) else {}
                    assert task.get("tags"), f"{path.name}: {task.get('name')}: no tags"
                    assert apply.get("tags") == task["tags"], f"{path.name}: {task.get('name')}"


@pytest.fixture(scope="module")
def refused_port() -> Iterator[int]:
    """A loopback port bound but never listening: a connection to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture(scope="module")
def ent_inventory(tmp_path_factory: pytest.TempPathFactory, refused_port: int) -> Path:
    password = secrets.token_hex(12)  # made here, the preflight only checks its length
    hosts: dict[str, Any] = {
        h: {"ent_portal_address": f"198.18.250.{i}"} for i, h in enumerate(ENT_HOSTS, 1)
    }
    inventory = {
        "all": {
            "vars": {
                "ansible_host": "127.0.0.1",
                "ansible_port": refused_port,
                "ansible_ssh_common_args": "-o BatchMode=yes -o ConnectTimeout=3",
                "ent_portal_redis_group": "redis",
                "ent_portal_db_password": password,
                "ent_portal_redis_password": password,
                "ent_portal_demo_password": password,
            },
            "children": {g: {"hosts": {h: hosts[h]}} for h, g in ENT_HOSTS.items()},
        }
    }
    path = tmp_path_factory.mktemp("tags") / "ent.yml"
    path.write_text(yaml.safe_dump(inventory))
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("phase", ["configure", "run"])
def test_ent_portal_phase_tag_reaches_the_included_tasks(ent_inventory: Path, phase: str) -> None:
    done = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(ent_inventory), str(REPO / "playbooks/ent.yml")]
        # the play's default host pattern has no redis group: name every host
        + ["--tags", f"ent_portal_{phase}", "-e", "ent_portal_hosts=all"],
        env=_env(
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
            ANSIBLE_GATHERING="explicit",  # facts need a connection; the inventory gives addresses
            ANSIBLE_HOST_KEY_CHECKING="False",
        ),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    result = json.loads(done.stdout)
    # an unreachable host leaves the play: its last task is where it stopped (no_log censors
    # the result of some, so the task is found by position rather than by its result)
    reached: dict[str, str] = {}
    for task in result["plays"][0]["tasks"]:
        for host in task["hosts"]:
            reached[host] = task["task"]["name"].removeprefix("ent_portal : ")
    wanted = {h: _task_names("ent_portal", f"{ENT_PART[h]}_{phase}.yml")[0] for h in ENT_HOSTS}
    assert reached == wanted, done.stdout[-4000:]
    # every host passed the preflight (it runs for this phase too) and stopped there, unreachable
    stats = {h: (s["failures"], s["unreachable"]) for h, s in result["stats"].items()}
    assert stats == dict.fromkeys(ENT_HOSTS, (0, 1))
