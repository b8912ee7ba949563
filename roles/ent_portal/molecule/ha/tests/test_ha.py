"""Lose a part of the ENT under load and keep serving: the active load balancer, the PostgreSQL
primary, the sessions' Redis master, an app host. Each is killed for real while pupils browse
through the shared address; the drill asserts that every pupil is still logged in and every
acknowledged message is still there, records the recovery time and the failed requests
(bench/ent_failover holds them against the targets), then brings the part back and checks it
rejoins as a standby by itself.

Commands that need the Redis password get it through `podman exec --env` from this process's
environment, never on a command line.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from preau.ent import failover, parts, report

testinfra_hosts = ["preau-entha-lb1"]
SECRETS = Path(os.environ.get("PREAU_ENT_SECRETS") or Path.home() / ".cache/preau/ent")
LBS = ("preau-entha-lb1", "preau-entha-lb2")
REDIS = LBS  # the scenario's redis group
DATABASES = LBS  # and its database group (pg_auto_failover nodes; the monitor is on app1)
PG_NODE_DATA = parts.role_path("_ent_portal_pg_node_data")
APPS = ("preau-entha-app1", "preau-entha-app2")
# bench/ent_failover points this at its own file to collect the drills of several runs
RESULTS = Path(
    os.environ.get("PREAU_FAILOVER_RESULTS")
    or Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp")) / "failover.json"
)


def podman(*argv: str, check: bool = True, timeout: float = 60) -> str:
    env = dict(os.environ, REDISCLI_AUTH=(SECRETS / "redis-password").read_text().split()[0])
    proc = subprocess.run(
        ["podman", *argv], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"podman {' '.join(argv[:3])}: {proc.stderr.strip()}")
    return proc.stdout


def on(container: str, command: str, check: bool = True) -> str:
    return podman("exec", "--env", "REDISCLI_AUTH", container, "sh", "-c", command, check=check)


def address(container: str) -> str:
    return on(container, "hostname -I").split()[0]


def poll(what: str, condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def vip() -> str:
    conf = on(LBS[0], "cat /etc/keepalived/keepalived.conf")
    match = re.search(r"virtual_ipaddress \{\s*([\d.]+)/", conf)
    assert match, "no shared address in keepalived.conf"
    return match.group(1)


def holders(vip: str) -> list[str]:
    return [lb for lb in LBS if f" {vip}/" in on(lb, "ip -4 -o addr show")]


@pytest.fixture(scope="module")
def base(vip: str) -> str:
    return f"https://{vip}"


@pytest.fixture(scope="module")
def pupils(base: str) -> list[failover.Pupil]:
    password = (SECRETS / "demo-password").read_text().split()[0]
    return [failover.log_in(base, f"eleve{i:05d}", password) for i in range(1, 13)]


def redis_master() -> str:
    """The address the sentinels name as master (asked of app1's sentinel)."""
    answer = on(
        APPS[0],
        "redis-cli --no-auth-warning -p 26379 SENTINEL get-master-addr-by-name ent-sessions",
    )
    return answer.split()[0]


def replica_of(container: str) -> str | None:
    """The master this Redis replicates with its link up, or None."""
    info = on(container, "redis-cli --no-auth-warning INFO replication", check=False)
    fields = dict(line.split(":", 1) for line in info.split() if ":" in line)
    if fields.get("role") == "slave" and fields.get("master_link_status") == "up":
        return fields.get("master_host")
    return None


def in_recovery(container: str) -> str:
    """'t' on a standby, 'f' on the primary, '' when PostgreSQL does not answer."""
    return on(
        container,
        "cd /tmp && runuser -u postgres -- psql -Atc 'SELECT pg_is_in_recovery()'",
        check=False,
    ).strip()


def pg_states() -> list[str]:
    """The nodes' states as pg_auto_failover's monitor sees them."""
    out = on(
        DATABASES[0],
        f"cd /tmp && runuser -u postgres -- pg_autoctl show state --pgdata {PG_NODE_DATA} --json",
        check=False,
    )
    try:
        return sorted(node["current_group_state"] for node in json.loads(out))
    except ValueError:
        return []


def record(result: failover.Outcome) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    results.append(result.as_dict())
    RESULTS.write_text(json.dumps(results, indent=2))
    print(json.dumps(result.as_dict()))


def drill(
    fault: str, base: str, pupils: list[failover.Pupil], kill: Callable[[], None]
) -> failover.Outcome:
    for pupil in pupils:
        failover.post_message(base, pupil)
    with failover.load(base, pupils) as running:
        time.sleep(3)
        killed_at = time.monotonic()
        kill()
        failover.wait_serving(running, killed_at, quiet_s=3, timeout=90)
    result = failover.outcome(fault, running.samples, killed_at, base, pupils)
    record(result)
    assert result.sessions_kept == result.sessions, result
    assert result.messages_kept == result.messages, result
    return result


def kill_unit(container: str, *units: str) -> None:
    # For the drill, a runtime drop-in turns systemd's Restart= off, so the part stays dead as
    # if its host were gone until the drill brings it back; the unit is otherwise unchanged
    # (its ExecStopPost still runs, as after a real crash).
    for unit in units:
        on(
            container,
            f"mkdir -p /run/systemd/system/{unit}.d && "
            f"printf '[Service]\\nRestart=no\\n' > /run/systemd/system/{unit}.d/drill.conf",
        )
    on(container, f"systemctl daemon-reload && systemctl kill -s KILL {' '.join(units)}")


def start_unit(container: str, *units: str) -> None:
    for unit in units:
        on(container, f"rm -f /run/systemd/system/{unit}.d/drill.conf")
    on(container, f"systemctl daemon-reload && systemctl start {' '.join(units)}")


def test_one_load_balancer_holds_the_shared_address(vip):
    assert len(holders(vip)) == 1


def test_sessions_have_a_master_a_replica_and_sentinels_that_agree():
    master = redis_master()
    addresses = {address(name): name for name in REDIS}
    assert master in addresses
    (replica,) = [name for name in REDIS if addresses[master] != name]
    poll("the replica's link to the master", lambda: replica_of(replica) == master)
    for sentinel in (*REDIS, *APPS):
        assert on(sentinel, "systemctl is-active redis-sentinel").strip() == "active"


def test_the_database_has_a_primary_and_a_synchronous_standby():
    assert sorted(in_recovery(name) for name in DATABASES) == ["f", "t"]
    assert pg_states() == ["primary", "secondary"]
    (primary,) = [name for name in DATABASES if in_recovery(name) == "f"]
    sync = on(
        primary,
        "cd /tmp && runuser -u postgres -- psql -Atc 'SELECT sync_state FROM pg_stat_replication'",
    ).split()
    # an acknowledged commit is on both nodes: a failover cannot lose it
    assert sync in (["sync"], ["quorum"])


def test_pupils_log_in_and_post_through_the_shared_address(base, pupils):
    for pupil in pupils[:2]:
        failover.post_message(base, pupil)
    sessions, kept, posted = failover.still_there(base, pupils)
    assert sessions == len(pupils) and kept == posted


def test_both_load_balancers_serve_the_same_certificate():
    """A failover must not change the certificate pupils' browsers were shown."""
    served = {lb: ssl.get_server_certificate((address(lb), 443), timeout=10) for lb in LBS}
    assert len(set(served.values())) == 1, "each load balancer serves its own certificate"


def portal_slots(lb: str) -> list[dict[str, str]]:
    """The portal backend's server rows of this HAProxy's `show stat`."""
    stat = on(lb, "echo 'show stat' | socat stdio /run/haproxy/admin.sock").splitlines()
    header = stat[0].lstrip("# ").split(",")
    rows = [dict(zip(header, line.split(","), strict=False)) for line in stat[1:]]
    return [
        r
        for r in rows
        if r.get("pxname") == "portal" and r.get("svname") not in ("FRONTEND", "BACKEND")
    ]


def enabled_on(lb: str) -> list[str]:
    """The portal's slots this HAProxy sends traffic to (not in maintenance)."""
    return [r["svname"] for r in portal_slots(lb) if not r.get("status", "").startswith("MAINT")]


def scale(instances: int, log: Path) -> subprocess.CompletedProcess[str]:
    preau = Path(sys.executable).with_name("preau")
    argv = [str(preau), "ent", "scale", "-n", str(instances), "--stack", "ha", "--log", str(log)]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    return run


def test_a_scale_reaches_both_load_balancers_and_one_restarted_is_brought_in_line(vip, tmp_path):
    """`preau ent scale` changes both HAProxy runtimes; the standby, killed and restarted, comes
    back from its last reload's state file (out of line) and the next scale puts it back in line
    before planning. Ends at the role's own count (the idempotence step after the drills)."""
    journal = tmp_path / "decisions.jsonl"
    scale(3, journal)
    (active,) = holders(vip)
    (standby,) = [lb for lb in LBS if lb != active]
    assert len(enabled_on(active)) == 3 and enabled_on(standby) == enabled_on(active)
    kill_unit(standby, "haproxy.service")
    start_unit(standby, "haproxy.service")
    assert len(enabled_on(standby)) == 4, "the restarted HAProxy is not out of line: no proof"
    scale(3, journal)
    fixed = [json.loads(x) for x in journal.read_text().splitlines()]
    fixed = [x for x in fixed if x["event"] == "reconcile"]
    assert [x["balancer"] for x in fixed] == [f"tcp:{address(standby)}:9999"], fixed
    assert enabled_on(standby) == enabled_on(active)
    assert holders(vip) == [active]  # the standby's restart did not move the address
    scale(4, journal)
    assert len(enabled_on(active)) == 4 and enabled_on(standby) == enabled_on(active)


def test_losing_the_active_load_balancer_moves_the_address(vip, base, pupils):
    (active,) = holders(vip)
    drill("active HAProxy", base, pupils, lambda: kill_unit(active, "haproxy.service"))
    (standby,) = [lb for lb in LBS if lb != active]
    assert holders(vip) == [standby]
    # the watcher, not systemd's stop sequence (late on cgroup v1), told keepalived
    seen = on(active, "journalctl -u preau-haproxy-watch -n 5 --no-pager -o cat", check=False)
    assert "exited; /run/haproxy-down set to 1" in seen, seen
    start_unit(active, "haproxy.service")
    # it comes back as the standby: the address stays where it is (nopreempt)
    poll(
        "keepalived back on the restarted load balancer",
        lambda: "BACKUP" in on(active, "journalctl -u keepalived -n 20 --no-pager", check=False),
    )
    assert holders(vip) == [standby]


def test_losing_the_database_primary_keeps_every_acknowledged_message(base, pupils):
    (primary,) = [name for name in DATABASES if in_recovery(name) == "f"]
    # the keeper and its PostgreSQL together, as when the host dies
    drill("PostgreSQL primary", base, pupils, lambda: kill_unit(primary, "pgautofailover.service"))
    (standby,) = [name for name in DATABASES if name != primary]
    assert in_recovery(standby) == "f"
    start_unit(primary, "pgautofailover.service")
    # the old primary is rewound and follows the new one, with no hand step
    poll(
        "the old primary back as a standby",
        lambda: in_recovery(primary) == "t" and pg_states() == ["primary", "secondary"],
        timeout=120,
    )


def test_losing_the_redis_master_keeps_every_session(base, pupils):
    master = redis_master()
    name = {address(n): n for n in REDIS}[master]
    drill("Redis master", base, pupils, lambda: kill_unit(name, "redis-server.service"))
    new_master = redis_master()
    assert new_master != master
    start_unit(name, "redis-server.service")
    poll("the old master replicating the new one", lambda: replica_of(name) == new_master)


def test_losing_an_app_host_keeps_serving(base, pupils, vip):
    # Every service of the host is killed at once (its instances and its sentinel), not the
    # container: podman gives a restarted container a new address, a real host keeps its own.
    victim = APPS[1]
    units = ("ent-portal@8001.service", "ent-portal@8002.service", "redis-sentinel.service")
    drill("app host", base, pupils, lambda: kill_unit(victim, *units))
    start_unit(victim, *units)
    victim_address = address(victim)
    (active,) = holders(vip)

    def instances_up() -> bool:
        mine = [
            r for r in portal_slots(active) if r.get("addr", "").startswith(f"{victim_address}:")
        ]
        return bool(mine) and all(r["status"] == "UP" for r in mine)

    poll("the app host's instances back in the load balancer", instances_up, timeout=90)


def haproxy_unit(lb: str) -> dict[str, str]:
    """HAProxy's unit as systemd sees it: its state, main process and automatic restarts."""
    out = on(lb, "systemctl show haproxy.service -p ActiveState -p MainPID -p NRestarts")
    return dict(line.split("=", 1) for line in out.split())


def test_a_game_day_kill_is_made_by_preau_and_marked_in_the_load_report(vip, tmp_path):
    """`preau ent load --kill 2:load` finds the active load balancer itself, crashes its HAProxy
    mid-run (systemd restarts it: a new main process, the restart counted), and the report
    lists the kill with the host it hit."""
    (active,) = holders(vip)
    before = haproxy_unit(active)
    preau = Path(sys.executable).with_name("preau")
    run = subprocess.run(
        [str(preau), "ent", "load", "--profile", "smoke", "--stack", "ha", "--no-autoscale",
         "--kill", "2:load", "--report", str(tmp_path), "--log", str(tmp_path / "j.jsonl")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    data = json.loads((tmp_path / "report.json").read_text())
    (kill,) = data["kills"]
    assert kill["host"] == address(active) and kill["error"] is None, kill
    assert kill["units"] == ["haproxy.service"] and 2 <= kill["t"] < 6

    def restarted() -> bool:
        now = haproxy_unit(active)
        return (
            now["ActiveState"] == "active"
            and now["MainPID"] not in ("0", before["MainPID"])
            and int(now["NRestarts"]) > int(before["NRestarts"])
        )

    # systemd's own record that the kill reached the main process
    seen = on(active, "journalctl -u haproxy -n 40 --no-pager -o cat", check=False)
    assert "SIGKILL to main process" in seen and "on client request" in seen, seen
    try:
        # TimeoutStopSec (10 s) bounds the wait where systemd learns late that HAProxy is gone
        poll("HAProxy restarted by systemd on the load balancer preau killed", restarted, 120)
    except AssertionError as exc:
        journal = on(active, "journalctl -u haproxy -n 30 --no-pager", check=False)
        now = haproxy_unit(active)
        raise AssertionError(f"{exc}: before {before}, now {now}\n{journal}") from None
    assert f"| load | {address(active)} | haproxy.service |" in (tmp_path / "report.md").read_text()
    assert "kill" in (tmp_path / "j.jsonl").read_text()
    print(json.dumps({"game day": kill, "summary": data["summary"]}))
    poll("one load balancer holding the address again", lambda: len(holders(vip)) == 1)


def test_status_names_the_leaders_the_drills_left(vip):
    """`preau ent status` agrees with the hosts themselves on who leads each part now."""
    preau = Path(sys.executable).with_name("preau")
    out = subprocess.run(
        [str(preau), "ent", "status", "--stack", "ha", "--json"],
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    found = {part["part"].split()[0]: part for part in json.loads(out)["parts"]}
    assert set(found) == {"load", "PostgreSQL", "Redis"}
    (holder,) = holders(vip)
    assert found["load"]["leader"] == address(holder)
    (primary,) = [name for name in DATABASES if in_recovery(name) == "f"]
    assert found["PostgreSQL"]["leader"] == address(primary)
    assert [f["state"] for f in found["PostgreSQL"]["followers"]] == ["secondary -> secondary"]
    assert found["Redis"]["leader"] == redis_master()
    (replica,) = found["Redis"]["followers"]
    assert "link ok" in replica["state"] and replica["lag"].endswith(" B")


def test_the_drills_timelines_are_plotted():
    """What each kill looked like to the pupils, beside the drills' results (failover.png)."""
    runs = json.loads(RESULTS.read_text())
    plot = report.failover_plot(runs, RESULTS.with_suffix(".png"))
    assert plot.stat().st_size > 10_000
    assert {r["fault"] for r in runs} >= {"active HAProxy", "PostgreSQL primary", "Redis master"}
