"""The autoscale loop: sample HAProxy, decide (controller.decide), apply (Scaler), log."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from preau.ent import controller, scaler
from preau.ent.journal import Journal
from preau.errors import PreauError


@dataclass
class Sample:
    t: float
    req_tot: int


class Loop:
    def __init__(
        self,
        sc: scaler.Scaler,
        policy: controller.Policy,
        journal: Journal,
        *,
        dry_run: bool = False,
        manage_uplink: bool = True,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ):
        self.sc, self.policy, self.journal = sc, policy.check(), journal
        self.dry_run, self.manage_uplink = dry_run, manage_uplink
        self.clock, self.sleep = clock, sleep
        self.prev: Sample | None = None
        self.last_change: float | None = None
        self.uplink: int | None = None

    def sample(self) -> Sample:
        return Sample(self.clock(), self.sc.runtime.totals(self.sc.backend).req_tot)

    def tick(self) -> controller.Decision:
        """One round: observe, decide, apply; a failure is logged as a hold, never half-done."""
        try:  # a load balancer back from a failure first gets the changes it missed
            self.sc.reconcile(self.dry_run)
        except PreauError as exc:
            self.journal.write("error", action="reconcile", reason=str(exc))
        cur = self.sample()
        rps = (
            None
            if self.prev is None
            else controller.rate(self.prev.req_tot, self.prev.t, cur.req_tot, cur.t)
        )
        self.prev = cur
        servers = self.sc.servers()
        n = sum(1 for s in servers if s.enabled)
        if self.manage_uplink and self.uplink is None:
            self.uplink = self.sc.uplink.current()
        obs = controller.Observation(cur.t, rps, n, self.uplink if self.manage_uplink else None)
        d = controller.decide(self.policy, obs, self.last_change)
        self.journal.write(
            "decision",
            action=d.action,
            instances=n,
            to=d.instances,
            rps=None if rps is None else round(rps, 1),
            uplink=obs.uplink_mbps,
            uplink_to=d.uplink_mbps,
            dry_run=self.dry_run,
            reason=d.reason,
        )
        if not d.changes or self.dry_run:
            return d
        try:
            p = scaler.plan(servers, d.instances, obs.uplink_mbps, d.uplink_mbps)
            self.sc.apply(p)
        except PreauError as exc:
            self.journal.write("error", action="hold", reason=str(exc))
            return controller.Decision("hold", n, obs.uplink_mbps, str(exc))
        self.last_change = self.clock()
        if self.manage_uplink:
            self.uplink = d.uplink_mbps
        return d

    def run(
        self,
        interval: float,
        once: bool = False,
        duration: float | None = None,
        stop: Callable[[], bool] = lambda: False,
    ) -> None:
        start = self.clock()
        self.tick()  # first sample: no rate yet
        while not stop():
            self.sleep(interval)
            if stop():
                return
            self.tick()
            if once or (duration is not None and self.clock() - start >= duration):
                return
