"""The autoscaler's decisions: pure functions of a policy, an observation and the last change.

No I/O here (the scaler applies decisions, `preau ent autoscale` loops), so every rule is
unit-tested with hypothesis:

- **Instances** follow the load: scale out as soon as the request rate exceeds
  `target_rps` per instance (straight to the count that carries it), scale in one instance at a
  time and only when the remaining instances would run below `scale_in_ratio` of their target
  (hysteresis: a rate that just caused a scale-out never causes a scale-in).
- **Cooldowns**: after any change, no scale-out for `cooldown_out_s` (new instances need a few
  seconds to show in the rate) and no scale-in for `cooldown_in_s` (don't give back capacity a
  burst may need again).
- **Uplink bandwidth** follows the same load in powers of two of the circuit's base commit rate,
  as in March 2020 when the département doubled it: the base rate was sized for
  `baseline_rps`; twice that load needs twice the rate, up to `uplink_max_mbps`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from preau.errors import BadInput, Problem


class BadPolicy(BadInput):
    """The autoscale policy makes no sense: lists every problem, nothing was changed."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems) + "; nothing was changed")


Action = Literal["out", "in", "hold"]


@dataclass(frozen=True)
class Policy:
    min_instances: int = 1
    max_instances: int = 8
    target_rps: float = 40.0
    scale_in_ratio: float = 0.7
    cooldown_out_s: float = 5.0
    cooldown_in_s: float = 30.0
    # bandwidth: None disables uplink changes
    baseline_rps: float | None = None
    uplink_base_mbps: int = 1000
    uplink_max_mbps: int = 4000

    def check(self) -> Policy:
        """The policy itself, or BadPolicy naming every field that makes no sense."""
        problems = []

        def bad(field: str, message: str) -> None:
            problems.append(Problem("autoscale policy", field, message))

        if self.min_instances < 1:
            bad("min_instances", f"{self.min_instances}: at least one instance must serve")
        if self.max_instances < self.min_instances:
            bad(
                "min_instances",
                f"{self.min_instances} is above max_instances {self.max_instances}",
            )
        if not self.target_rps > 0:
            bad("target_rps", f"{self.target_rps}: must be a positive request rate")
        if not 0 < self.scale_in_ratio < 1:
            bad("scale_in_ratio", f"{self.scale_in_ratio}: must lie strictly between 0 and 1")
        if self.cooldown_out_s < 0 or self.cooldown_in_s < 0:
            bad("cooldown", "cooldowns cannot be negative")
        if self.baseline_rps is not None:
            if not self.baseline_rps > 0:
                bad("baseline_rps", f"{self.baseline_rps}: must be a positive request rate")
            if self.uplink_base_mbps < 1:
                bad("uplink_base_mbps", f"{self.uplink_base_mbps}: must be at least 1 Mbit/s")
            if self.uplink_max_mbps < self.uplink_base_mbps:
                bad(
                    "uplink_max_mbps",
                    f"{self.uplink_max_mbps} is below uplink_base_mbps {self.uplink_base_mbps}",
                )
        if problems:
            raise BadPolicy(problems)
        return self


@dataclass(frozen=True)
class Observation:
    """What the controller knows at time `now` (seconds, monotonic)."""

    now: float
    rps: float | None  # None: no rate yet (first sample, or counters reset by a reload)
    instances: int
    uplink_mbps: int | None = None


@dataclass(frozen=True)
class Decision:
    action: Action
    instances: int
    uplink_mbps: int | None
    reason: str

    @property
    def changes(self) -> bool:
        return self.action != "hold"


def rate(prev_count: int, prev_t: float, count: int, t: float) -> float | None:
    """Requests per second between two counter samples; None when it cannot be known."""
    if t <= prev_t or count < prev_count:
        return None
    return (count - prev_count) / (t - prev_t)


def instances_for(policy: Policy, rps: float) -> int:
    """How many instances carry `rps` at or under target, within [min, max]."""
    need = math.ceil(rps / policy.target_rps) if rps > 0 else 0
    return max(policy.min_instances, min(policy.max_instances, need))


def uplink_for(policy: Policy, rps: float, current: int | None) -> int | None:
    """The uplink rate for `rps`: base x 2^k, raised at once, lowered with hysteresis."""
    if policy.baseline_rps is None:
        return current
    base, top = policy.uplink_base_mbps, policy.uplink_max_mbps
    factor = 1
    while rps > policy.baseline_rps * factor and base * factor * 2 <= top:
        factor *= 2
    wanted = base * factor
    if current is None or wanted >= current:
        return wanted
    # lower only when the load fits the lower rate with a margin, one step at a time
    lower = max(base, current // 2)
    if rps < policy.baseline_rps * (lower / base) * policy.scale_in_ratio:
        return lower
    return current


def decide(policy: Policy, obs: Observation, last_change: float | None) -> Decision:
    """What to do now, with the reason a person reads in the log."""
    n = obs.instances
    since = math.inf if last_change is None else obs.now - last_change
    if n < policy.min_instances:
        return Decision(
            "out",
            policy.min_instances,
            obs.uplink_mbps,
            f"{n} instance(s) running, below the minimum {policy.min_instances}",
        )
    if n > policy.max_instances:
        return Decision(
            "in",
            policy.max_instances,
            obs.uplink_mbps,
            f"{n} instance(s) running, above the maximum {policy.max_instances}",
        )
    if obs.rps is None:
        return Decision("hold", n, obs.uplink_mbps, "no request rate yet (first sample or reset)")
    rps = obs.rps
    per = rps / n
    uplink = uplink_for(policy, rps, obs.uplink_mbps)
    want = instances_for(policy, rps)
    if want > n:
        if since < policy.cooldown_out_s:
            return Decision(
                "hold",
                n,
                obs.uplink_mbps,
                f"{rps:.0f} req/s needs {want} instances, but the last change was {since:.1f} s "
                f"ago (scale-out cooldown {policy.cooldown_out_s:g} s)",
            )
        return Decision(
            "out",
            want,
            uplink,
            f"{rps:.0f} req/s is {per:.0f} per instance over {n}, above the target "
            f"{policy.target_rps:g}: {want} instances",
        )
    floor = policy.target_rps * (n - 1) * policy.scale_in_ratio
    if n > policy.min_instances and rps < floor:
        if since < policy.cooldown_in_s:
            return Decision(
                "hold",
                n,
                obs.uplink_mbps,
                f"{rps:.0f} req/s would fit on {n - 1} instances, but the last change was "
                f"{since:.1f} s ago (scale-in cooldown {policy.cooldown_in_s:g} s)",
            )
        return Decision(
            "in",
            n - 1,
            uplink,
            f"{rps:.0f} req/s is under {floor:.0f} ({policy.scale_in_ratio:g} of the target "
            f"on {n - 1} instances): {n - 1} instances",
        )
    if uplink != obs.uplink_mbps and since >= policy.cooldown_out_s:
        verb = "raise" if (uplink or 0) > (obs.uplink_mbps or 0) else "lower"
        return Decision(
            "out" if verb == "raise" else "in",
            n,
            uplink,
            f"{rps:.0f} req/s against a base sized for {policy.baseline_rps:g} req/s: "
            f"{verb} the uplink to {uplink} Mbit/s",
        )
    return Decision(
        "hold",
        n,
        obs.uplink_mbps,
        f"{rps:.0f} req/s on {n} instance(s): within the band (in below {floor:.0f}, "
        f"out above {policy.target_rps * n:.0f} req/s)",
    )
