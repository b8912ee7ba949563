"""Every load balancer in front of the portal, driven as one.

In a pair (keepalived moves the shared address), the scaler's runtime changes must reach both
HAProxy processes: the one that takes the address over must send traffic to the same instances.
So each change goes to every HAProxy that answers, and one that missed changes (down while
they were made, or restarted from the state file of its last reload) is brought back in line
with the reference before anything else is done (`reconcile`).

The reference is the HAProxy that has run the longest (`show info` Uptime_sec): it has seen
every change made since the others started. Counters are summed over all of them, as the
traffic goes through whichever holds the address.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from preau.ent.haproxy import Admin, Runtime, Server, State, Totals
from preau.errors import ServiceError

Say = Callable[[str, dict[str, object]], None]
# the counters a slot and a backend share, summed over the load balancers
COUNTERS = ("scur", "qcur", "stot", "req_tot", "bout", "hrsp_5xx")


def quiet(_event: str, _data: dict[str, object]) -> None:
    return None


def _summed[Counted: (Server, Totals)](first: Counted, others: Sequence[Counted]) -> Counted:
    return replace(first, **{k: sum(getattr(x, k) for x in (first, *others)) for k in COUNTERS})


@dataclass(frozen=True)
class Fix:
    """One change `reconcile` made on a load balancer that was out of line."""

    balancer: str  # its runtime address
    slot: str
    was: str
    now: str


class Balancers:
    """The runtime APIs of the load balancers (one or more), as one."""

    def __init__(self, runtimes: Sequence[Runtime], say: Say = quiet):
        if not runtimes:
            raise ValueError("no load balancer")
        self.runtimes = list(runtimes)
        self.say = say

    @property
    def address(self) -> str:
        return ", ".join(rt.address for rt in self.runtimes)

    def _answering(self) -> list[tuple[Runtime, int]]:
        """(runtime, uptime) of those that answer, longest-running first (a stable sort: the
        configuration order breaks ties); ServiceError when none does."""
        found, errors = [], []
        for rt in self.runtimes:
            try:
                found.append((rt, rt.uptime()))
            except ServiceError as exc:
                errors.append(str(exc))
        if not found:
            raise ServiceError("; ".join(errors))
        for error in errors:
            self.say("balancer-unreachable", {"error": error})
        return sorted(found, key=lambda x: -x[1])

    def reference(self) -> Runtime:
        return self._answering()[0][0]

    def servers(self, backend: str) -> list[Server]:
        """The reference's slots, each with its counters summed over every load balancer."""
        answering = self._answering()
        rows = [rt.servers(backend) for rt, _ in answering]
        return [
            _summed(server, [r[i] for r in rows[1:] if i < len(r) and r[i].name == server.name])
            for i, server in enumerate(rows[0])
        ]

    def totals(self, backend: str) -> Totals:
        first, *others = [rt.totals(backend) for rt, _ in self._answering()]
        return _summed(first, others)

    def _everywhere(self, what: str, change: Callable[[Runtime], None]) -> None:
        """`change` on every load balancer that answers; ServiceError only when none took it
        (one that missed it is brought in line by the next `reconcile`)."""
        done, errors = 0, []
        for rt in self.runtimes:
            try:
                change(rt)
                done += 1
            except ServiceError as exc:
                errors.append(str(exc))
                self.say("balancer-missed", {"change": what, "balancer": rt.address})
        if not done:
            raise ServiceError("; ".join(errors))

    def set_addr(self, backend: str, server: str, addr: str, port: int) -> None:
        self._everywhere(
            f"{backend}/{server} addr {addr}:{port}",
            lambda rt: rt.set_addr(backend, server, addr, port),
        )

    def set_state(self, backend: str, server: str, state: State) -> None:
        self._everywhere(
            f"{backend}/{server} {state}", lambda rt: rt.set_state(backend, server, state)
        )

    def reconcile(self, backend: str, dry_run: bool = False) -> list[Fix]:
        """Bring every load balancer that answers in line with the reference: the same address
        and the same ready/drain/maint state for each slot. Returns what it changed (with
        `dry_run`, what it would change)."""
        answering = self._answering()
        if len(answering) < 2:
            return []
        wanted = answering[0][0].admin(backend)
        fixes = []
        for rt, _ in answering[1:]:
            for name, have in rt.admin(backend).items():
                want = wanted.get(name)
                if want is None or have == want:
                    continue
                if not dry_run and (have.addr, have.port) != (want.addr, want.port):
                    rt.set_addr(backend, name, want.addr, want.port)
                if not dry_run and have.state != want.state:
                    rt.set_state(backend, name, want.state)
                fixes.append(Fix(rt.address, name, _shown(have), _shown(want)))
        return fixes


def _shown(slot: Admin) -> str:
    return f"{slot.addr}:{slot.port} {slot.state}"
