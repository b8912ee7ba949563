"""Applying a scale: start/stop instances, (de)register them in HAProxy, change the uplink.

Registration goes through HAProxy's runtime API only (no reload): a slot is re-pointed at its
instance (`set server addr/port`), then `state ready`; removal is `state drain`, wait for its
sessions to end, `state maint`, stop the unit. Every dependency is checked before the first
change (a missing one holds the stack as it is), and a failure midway rolls back what this
call did: the stack is either scaled or unchanged, never half-scaled. With a pair of load
balancers, every change goes to both, and one out of line is brought back first
(preau.ent.balancers).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from preau.ent import hosts as hostops
from preau.ent.balancers import Balancers, Fix, Say
from preau.ent.balancers import quiet as _quiet
from preau.ent.haproxy import Server
from preau.ent.uplink import Uplink
from preau.errors import BadInput, PreauError, ServiceError


@dataclass(frozen=True)
class Slot:
    name: str
    addr: str
    port: int


@dataclass(frozen=True)
class ScalePlan:
    current: int
    target: int
    add: tuple[Slot, ...]
    remove: tuple[Slot, ...]
    uplink_from: int | None = None
    uplink_to: int | None = None

    @property
    def changes(self) -> bool:
        return bool(self.add or self.remove) or self.uplink_from != self.uplink_to

    def describe(self) -> list[str]:
        lines = [f"start {s.addr}:{s.port} and enable {s.name}" for s in self.add]
        lines += [f"drain {s.name}, stop {s.addr}:{s.port}" for s in self.remove]
        if self.uplink_from != self.uplink_to:
            lines.append(f"uplink {self.uplink_from} -> {self.uplink_to} Mbit/s")
        return lines


def _slot(s: Server) -> Slot:
    return Slot(s.name, s.host, s.port)


def plan(
    servers: list[Server], target: int, uplink_from: int | None = None, uplink_to: int | None = None
) -> ScalePlan:
    """Which slots to enable or drain so that `target` are enabled (pure).

    New instances take the first free slots (configuration order interleaves the app hosts),
    removals take the last enabled ones: the stack grows and shrinks evenly across hosts.
    """
    if target < 1:
        raise BadInput(f"--instances {target}: at least one instance must serve")
    if target > len(servers):
        raise BadInput(
            f"--instances {target}: HAProxy has {len(servers)} slots (app hosts x "
            "ent_portal_max_instances_per_host); raise that variable and re-run the role"
        )
    enabled = [s for s in servers if s.enabled]
    free = [s for s in servers if not s.enabled]
    add = tuple(_slot(s) for s in free[: max(0, target - len(enabled))])
    remove = tuple(_slot(s) for s in reversed(enabled[target:])) if target < len(enabled) else ()
    return ScalePlan(
        len(enabled),
        target,
        add,
        remove,
        uplink_from,
        uplink_to if uplink_to is not None else uplink_from,
    )


@dataclass
class Scaler:
    runtime: Balancers
    hosts: hostops.Hosts
    uplink: Uplink
    backend: str = "portal"
    up_timeout: float = 30.0
    drain_timeout: float = 30.0
    poll: float = 0.25
    health_path: str = "/healthz"
    say: Say = _quiet
    _undo: list[tuple[str, Callable[[], None]]] = field(default_factory=list)

    def servers(self) -> list[Server]:
        return self.runtime.servers(self.backend)

    def reconcile(self, dry_run: bool = False) -> list[Fix]:
        """A load balancer that missed changes gets them now (before any new one)."""
        fixes = self.runtime.reconcile(self.backend, dry_run)
        for fix in fixes:
            self.say("reconcile", fix.__dict__ | {"dry_run": dry_run})
        return fixes

    def preflight(self, p: ScalePlan) -> None:
        """Every dependency answers, or nothing is changed (ServiceError: hold)."""
        for addr in sorted({s.addr for s in (*p.add, *p.remove)}):
            if not self.hosts.reachable(addr):
                raise ServiceError(f"app host {addr}: unreachable; holding, nothing changed")
        if p.uplink_from != p.uplink_to:
            try:
                self.uplink.check()
            except PreauError as exc:
                raise ServiceError(
                    f"{self.uplink.name}: cannot be changed or recorded ({exc}); holding, "
                    "nothing changed"
                ) from exc

    def apply(self, p: ScalePlan) -> None:
        self._undo = []
        self.preflight(p)
        if p.add or p.remove:  # an uplink-only change does not touch the load balancers
            self.reconcile()
        try:
            if (
                p.uplink_to is not None
                and p.uplink_from is not None
                and p.uplink_to > p.uplink_from
            ):
                self._set_uplink(p.uplink_from, p.uplink_to)
            for slot in p.add:
                self._add(slot)
            self._wait_up(p.add)
            for slot in p.remove:
                self._remove(slot)
            if (
                p.uplink_to is not None
                and p.uplink_from is not None
                and p.uplink_to < p.uplink_from
            ):
                self._set_uplink(p.uplink_from, p.uplink_to)
        except PreauError as exc:
            undone = self._rollback()
            raise ServiceError(
                f"scaling {p.current} -> {p.target} failed: {exc}; rolled back "
                f"{undone} step(s), the stack is as it was"
            ) from exc

    def _set_uplink(self, old: int, new: int) -> None:
        recorded = self.uplink.set(new, f"preau ent: uplink {old} -> {new} Mbit/s")
        self._undo.append(("uplink", lambda: self._uplink_back(old)))
        self.say("uplink", {"from": old, "to": new, "recorded": recorded})

    def _uplink_back(self, old: int) -> None:
        self.uplink.set(old, "preau ent: rollback")

    def _add(self, slot: Slot) -> None:
        hostops.start(self.hosts, slot.addr, slot.port)
        self._undo.append(("start", lambda: hostops.stop(self.hosts, slot.addr, slot.port)))
        # HAProxy counts a server leaving maintenance as UP before its first check: enable it
        # only once the instance answers, or the first requests would meet a closed port.
        hostops.wait_healthy(self.hosts, slot.addr, slot.port, self.health_path, self.up_timeout)
        self.runtime.set_addr(self.backend, slot.name, slot.addr, slot.port)
        self.runtime.set_state(self.backend, slot.name, "ready")
        self._undo.append(
            ("ready", lambda: self.runtime.set_state(self.backend, slot.name, "maint"))
        )
        self.say("start", {"slot": slot.name, "addr": slot.addr, "port": slot.port})

    def _wait_up(self, slots: tuple[Slot, ...]) -> None:
        names = {s.name for s in slots}
        deadline = time.monotonic() + self.up_timeout
        while names:
            up = {s.name for s in self.servers() if s.name in names and s.up}
            names -= up
            if not names:
                break
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"{', '.join(sorted(names))}: not UP in HAProxy after {self.up_timeout:g} s "
                    "(health check failing: see `journalctl -u ent-portal@PORT` on the app host)"
                )
            time.sleep(self.poll)

    def _remove(self, slot: Slot) -> None:
        self.runtime.set_state(self.backend, slot.name, "drain")
        self._undo.append(
            ("drain", lambda: self.runtime.set_state(self.backend, slot.name, "ready"))
        )
        deadline = time.monotonic() + self.drain_timeout
        while True:
            server = next(s for s in self.servers() if s.name == slot.name)
            if server.scur == 0 and server.qcur == 0:
                break
            if time.monotonic() > deadline:
                # a long request must not block scale-in forever; gunicorn's graceful stop
                # still lets it finish
                self.say("drain-timeout", {"slot": slot.name, "sessions": server.scur})
                break
            time.sleep(self.poll)
        self.runtime.set_state(self.backend, slot.name, "maint")
        hostops.stop(self.hosts, slot.addr, slot.port)
        self._undo.append(("stop", lambda: hostops.start(self.hosts, slot.addr, slot.port)))
        self.say("stop", {"slot": slot.name, "addr": slot.addr, "port": slot.port})

    def _rollback(self) -> int:
        done = 0
        for what, undo in reversed(self._undo):
            try:
                undo()
                done += 1
            except PreauError as exc:
                self.say("rollback-failed", {"step": what, "error": str(exc)})
        self._undo = []
        return done
