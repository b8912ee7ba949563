"""Kills during a load run (`preau ent load --kill AT:PART`): a game day's crash, on purpose.

Ahead of each kill, the part's current leader is found on the hosts (preau.ent.parts: the
holder of the shared address, pg_auto_failover's primary, the sentinels' master; for `app`,
the host of the first instance HAProxy has UP); on its second, its services are killed with
SIGKILL, as a crash would. Nothing is turned off: systemd restarts them as after a real
crash, and the pair's other member takes over meanwhile. Each kill is recorded with the
second it happened at, so the load report marks it on every plot beside what the pupils saw.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from preau.ent import parts
from preau.ent.balancers import Balancers, Say
from preau.ent.hosts import Hosts
from preau.errors import BadInput, PreauError

# part -> the systemd units that die with it (the keeper takes its PostgreSQL with it)
UNITS = {
    "load": ("haproxy.service",),
    "database": ("pgautofailover.service",),
    "sessions": ("redis-server.service",),
    "app": ("ent-portal@*.service",),
}


@dataclass(frozen=True)
class Kill:
    """What to kill, and when: seconds after the run started."""

    at_s: float
    part: str

    @classmethod
    def parse(cls, spec: str, duration_s: float) -> Kill:
        """`AT:PART`, e.g. `12:load`; AT must fall inside the run."""
        at, sep, part = spec.partition(":")
        try:
            at_s = float(at)
        except ValueError:
            at_s = -1.0
        if not sep or part not in UNITS:
            raise BadInput(f"--kill {spec}: use SECONDS:PART, PART one of {', '.join(UNITS)}")
        if not 0 <= at_s < duration_s:
            raise BadInput(
                f"--kill {spec}: {at!r} is not a second of the run (0 to {duration_s:g})"
            )
        return cls(at_s, part)


@dataclass
class Killed:
    """A kill as it happened (error: why it could not be done, the run went on)."""

    t: float
    part: str
    host: str | None
    units: tuple[str, ...]
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "units": list(self.units)}  # as JSON reads it back

    @property
    def label(self) -> str:
        where = f" on {self.host}" if self.host else ""
        return f"kill {self.part}{where}" + (" (not done)" if self.error else "")


def stack_hosts(hosts: Hosts, runtime: Balancers, backend: str) -> list[str]:
    """The addresses to ask: the lab's containers, else the load balancers' and the instances'
    hosts as HAProxy knows them (SSH has no host list of its own)."""
    known = getattr(hosts, "containers", None)
    if known:
        return sorted(known)
    found = {str(r.target[0]) for r in runtime.runtimes if isinstance(r.target, tuple)}
    found |= {s.addr.rsplit(":", 1)[0] for s in runtime.servers(backend) if s.addr}
    return sorted(found)


def leader(hosts: Hosts, addrs: Iterable[str], runtime: Balancers, backend: str, part: str) -> str:
    """The host whose loss this kill stands for."""
    addrs = sorted(addrs)
    if part == "app":
        up = [s.addr.rsplit(":", 1)[0] for s in runtime.servers(backend) if s.up and s.addr]
        if not up:
            raise BadInput(f"--kill app: no instance of backend {backend} is UP to kill")
        return up[0]
    look = {"load": parts.load_balancers, "database": parts.database, "sessions": parts.sessions}
    found = look[part](hosts, addrs)
    if found is None or found.leader is None:
        raise BadInput(f"--kill {part}: this stack has no {part} pair (see `preau ent status`)")
    return found.leader


class Schedule:
    """Runs the kills on their seconds in a thread of its own, beside the load."""

    def __init__(
        self,
        kills: list[Kill],
        hosts: Hosts,
        runtime: Balancers,
        backend: str,
        say: Say | None = None,
    ) -> None:
        self.kills = sorted(kills, key=lambda k: k.at_s)
        self.hosts = hosts
        self.runtime = runtime
        self.backend = backend
        self.say = say
        self.done: list[Killed] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._addrs: list[str] = []

    def start(self, started: float) -> None:
        """Begin counting from `started` (time.monotonic(), the run's own clock)."""
        if not self.kills:
            return
        self._addrs = stack_hosts(self.hosts, self.runtime, self.backend)
        self._thread = threading.Thread(target=self._run, args=(started,), daemon=True)
        self._thread.start()

    def stop(self) -> list[Killed]:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=60)
        return self.done

    def _run(self, started: float) -> None:
        for kill in self.kills:
            # who leads is asked while waiting (a dozen commands on the hosts take seconds), so
            # the kill lands on its second; after an earlier kill, the leader it left
            try:
                host: str | None = leader(
                    self.hosts, self._addrs, self.runtime, self.backend, kill.part
                )
                error = None
            except PreauError as exc:
                host, error = None, str(exc)
            if self._stop.wait(max(0.0, started + kill.at_s - time.monotonic())):
                return
            self.done.append(self.kill(kill, host, error, started))

    def kill(self, kill: Kill, host: str | None, error: str | None, started: float) -> Killed:
        units = UNITS[kill.part]
        if host is not None:
            try:
                self.hosts.run(host, ["systemctl", "kill", "-s", "KILL", *units], timeout=30)
            except PreauError as exc:
                error = str(exc)
        done = Killed(round(time.monotonic() - started, 2), kill.part, host if not error else None,
                      units, error)  # fmt: skip
        if self.say:
            self.say("kill", done.as_dict())
        return done
