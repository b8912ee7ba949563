"""Which host leads each redundant part of the ENT now, and how far the others lag.

Asked of the hosts themselves (podman exec in the lab, SSH in production), with the tools the
role installs: `ip` for the load balancers' shared address (keepalived), pg_auto_failover's
monitor and `pg_stat_replication` for PostgreSQL, the sentinels and `INFO replication` for
Redis. Passwords never leave a host: a command that needs Redis' password reads it there, from
the file the role wrote.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from preau.ent.hosts import Hosts
from preau.errors import BadInput, ServiceError

KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf"
# Where the role puts the parts' state: its own vars, read rather than copied here.
ROLE_VARS = Path(__file__).resolve().parents[3] / "roles" / "ent_portal" / "vars" / "main.yml"
SENTINEL_PORT = 26379
MASTER_NAME = "ent-sessions"


@cache
def role_path(var: str) -> str:
    """A path the ent_portal role sets in its vars (`_ent_portal_pg_node_data`...)."""
    import yaml

    value = (yaml.safe_load(ROLE_VARS.read_text()) or {}).get(var)
    if not isinstance(value, str) or not value.startswith("/") or "{{" in value:
        raise ServiceError(f"{ROLE_VARS}: {var}: expected a literal absolute path, got {value!r}")
    return value


@dataclass
class Follower:
    host: str
    state: str
    lag: str


@dataclass
class Part:
    part: str
    leader: str | None
    followers: list[Follower] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _try(hosts: Hosts, addr: str, argv: list[str]) -> str | None:
    try:
        return hosts.run(addr, argv, timeout=15)
    except (ServiceError, BadInput):
        return None


def shared_address(hosts: Hosts, addrs: Iterable[str]) -> str | None:
    """The load balancers' shared (VRRP) address, from keepalived's configuration: where
    pupils connect (None: no pair here)."""
    for addr in addrs:
        conf = _try(hosts, addr, ["cat", KEEPALIVED_CONF])
        if conf and (found := re.search(r"virtual_ipaddress \{\s*([\d.]+)/", conf)):
            return found.group(1)
    return None


def load_balancers(hosts: Hosts, addrs: Iterable[str]) -> Part | None:
    """The host holding the shared address; the others are standbys (None: no pair here)."""
    addrs = list(addrs)
    vip = shared_address(hosts, addrs)
    if vip is None:
        return None
    part = Part(f"load balancers ({vip})", None)
    for addr in addrs:
        if _try(hosts, addr, ["test", "-f", KEEPALIVED_CONF]) is None:
            continue
        held = _try(hosts, addr, ["ip", "-4", "-o", "addr", "show"]) or ""
        running = (_try(hosts, addr, ["systemctl", "is-active", "haproxy"]) or "").strip()
        if f" {vip}/" in held:
            part.leader = addr
        else:
            part.followers.append(Follower(addr, f"standby (haproxy {running or 'down'})", "-"))
    return part


def _psql(hosts: Hosts, addr: str, sql: str) -> str | None:
    return _try(hosts, addr, ["runuser", "-u", "postgres", "--", "psql", "-AtF,", "-c", sql])


def database(hosts: Hosts, addrs: Iterable[str]) -> Part | None:
    """pg_auto_failover's view: the primary, each standby's state and replay lag (bytes)."""
    for addr in addrs:
        out = _try(
            hosts,
            addr,
            ["runuser", "-u", "postgres", "--", "pg_autoctl", "show", "state",
             "--pgdata", role_path("_ent_portal_pg_node_data"), "--json"],
        )  # fmt: skip
        if not out:
            continue
        nodes = json.loads(out)
        part = Part("PostgreSQL (pg_auto_failover)", None)
        primary = next((n for n in nodes if n["current_group_state"] == "primary"), None)
        lag: dict[str, str] = {}
        if primary is not None:
            part.leader = primary["nodehost"]
            rows = _psql(
                hosts,
                primary["nodehost"],
                "SELECT client_addr, sync_state, "
                "pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) FROM pg_stat_replication",
            )
            for row in (rows or "").splitlines():
                client, sync, behind = row.split(",")
                lag[client] = f"{int(float(behind or 0))} B ({sync})"
        for node in nodes:
            if node is primary:
                continue
            state = f"{node['current_group_state']} -> {node['assigned_group_state']}"
            part.followers.append(Follower(node["nodehost"], state, lag.get(node["nodehost"], "-")))
        return part
    return None


def _redis_cli(conf: str, *argv: str) -> list[str]:
    # the password is read on the host, into the environment of redis-cli only (Sentinel
    # rewrites its file with the value in double quotes)
    command = " ".join(argv)
    return [
        "sh", "-c",
        f"REDISCLI_AUTH=$(sed -n 's/^requirepass //p' {conf} | tr -d '\"') "
        f"redis-cli --no-auth-warning {command}",
    ]  # fmt: skip


def _fields(text: str) -> dict[str, str]:
    lines = text.split()
    return dict(zip(lines[0::2], lines[1::2], strict=False))


def sessions(hosts: Hosts, addrs: Iterable[str]) -> Part | None:
    """The sentinels' master, each replica's link and how many bytes it is behind."""
    for addr in addrs:
        sentinel_conf = role_path("_ent_portal_sentinel_conf")
        conf = _try(hosts, addr, ["test", "-f", sentinel_conf])
        if conf is None:
            continue
        ask = f"-p {SENTINEL_PORT} SENTINEL"
        master = _try(hosts, addr, _redis_cli(sentinel_conf, ask, "master", MASTER_NAME))
        replicas = _try(hosts, addr, _redis_cli(sentinel_conf, ask, "replicas", MASTER_NAME))
        if not master:
            continue
        info = _fields(master)
        if "ip" not in info:
            raise ServiceError(f"sentinel on {addr}: no master named {MASTER_NAME}: {master[:80]}")
        part = Part(f"Redis sessions (Sentinel, {info.get('num-other-sentinels', '?')} + 1)",
                    info.get("ip"))  # fmt: skip
        offsets: dict[str, int] = {}
        master_offset = 0
        repl = _try(hosts, info["ip"], _redis_cli("/etc/redis/redis.conf", "INFO", "replication"))
        for line in (repl or "").splitlines():
            if line.startswith("master_repl_offset:"):
                master_offset = int(line.split(":")[1])
            elif line.startswith("slave") and "ip=" in line:
                kv = dict(item.split("=") for item in line.split(":", 1)[1].strip().split(","))
                offsets[kv["ip"]] = int(kv.get("offset", 0))
        # SENTINEL replicas: one flat list of key/value lines per replica
        chunks = (replicas or "").strip().split("\nname\n")
        for chunk in filter(None, chunks):
            fields = _fields(chunk if chunk.startswith("name") else "name\n" + chunk)
            ip = fields.get("ip", "?")
            behind = master_offset - offsets[ip] if ip in offsets else None
            part.followers.append(
                Follower(
                    ip,
                    f"{fields.get('flags', '?')}, link {fields.get('master-link-status', '?')}",
                    "-" if behind is None else f"{behind} B",
                )
            )
        return part
    return None


def survey(hosts: Hosts, addrs: Iterable[str]) -> list[Part]:
    """Every redundant part found on these hosts (none for a stack without pairs)."""
    addrs = sorted(addrs)
    found = []
    for look in (load_balancers, database, sessions):
        try:
            found.append(look(hosts, addrs))
        except (KeyError, ValueError, IndexError) as exc:
            # a tool's output not as expected: say which part, not a traceback
            what = f"{look.__name__}: unexpected answer from the hosts ({exc!r})"
            raise ServiceError(what) from exc
    return [part for part in found if part is not None]
