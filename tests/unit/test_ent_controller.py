"""The autoscaler's rules, over the whole input space (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from preau.ent.controller import (
    BadPolicy,
    Decision,
    Observation,
    Policy,
    decide,
    instances_for,
    rate,
    uplink_for,
)


@st.composite
def policies(draw: st.DrawFn, bandwidth: bool = False) -> Policy:
    lo = draw(st.integers(1, 6))
    hi = draw(st.integers(lo, 16))
    base = draw(st.sampled_from([100, 500, 1000]))
    return Policy(
        min_instances=lo,
        max_instances=hi,
        target_rps=draw(st.floats(1, 500)),
        scale_in_ratio=draw(st.floats(0.3, 0.9)),
        cooldown_out_s=draw(st.floats(0, 30)),
        cooldown_in_s=draw(st.floats(0, 120)),
        baseline_rps=draw(st.floats(1, 1000)) if bandwidth else None,
        uplink_base_mbps=base,
        uplink_max_mbps=base * draw(st.sampled_from([1, 2, 4, 8])),
    )


rates = st.floats(0, 20_000, allow_nan=False)


@given(policies(), rates, st.integers(0, 20), st.floats(0, 1000) | st.none())
def test_decisions_stay_within_min_and_max(policy, rps, n, since):
    d = decide(policy, Observation(1000.0, rps, n), None if since is None else 1000.0 - since)
    assert policy.min_instances <= d.instances <= policy.max_instances or (
        d.action == "hold" and d.instances == n
    )
    assert d.reason


@given(policies(), rates, st.integers(1, 16))
def test_a_scale_out_is_stable_at_the_same_load(policy, rps, n):
    """Hysteresis: the load that made us scale out never makes us scale back in."""
    assume(policy.min_instances <= n <= policy.max_instances)
    d = decide(policy, Observation(0.0, rps, n), None)
    if d.action == "out":
        again = decide(policy, Observation(10_000.0, rps, d.instances), 0.0)
        assert again.action == "hold", again.reason


@given(policies(), rates, rates, st.integers(1, 16))
def test_more_load_never_asks_for_fewer_instances(policy, a, b, n):
    assume(policy.min_instances <= n <= policy.max_instances)
    lo, hi = sorted((a, b))
    d_lo = decide(policy, Observation(0.0, lo, n), None)
    d_hi = decide(policy, Observation(0.0, hi, n), None)
    assert d_hi.instances >= d_lo.instances


@given(policies(), rates, st.integers(1, 16), st.floats(0, 200))
def test_cooldowns_are_respected(policy, rps, n, since):
    assume(policy.min_instances <= n <= policy.max_instances)
    d = decide(policy, Observation(1000.0, rps, n), 1000.0 - since)
    if d.action == "out" and d.instances != n:
        assert since >= policy.cooldown_out_s
    if d.action == "in" and d.instances != n:
        assert since >= policy.cooldown_in_s
        assert d.instances == n - 1  # one at a time


@given(policies(), rates, st.integers(1, 16))
def test_after_a_scale_out_each_instance_is_at_or_under_target(policy, rps, n):
    assume(policy.min_instances <= n <= policy.max_instances)
    d = decide(policy, Observation(0.0, rps, n), None)
    if d.action == "out" and d.instances < policy.max_instances:
        assert rps / d.instances <= policy.target_rps * (1 + 1e-9)


def test_worked_example():
    p = Policy(
        min_instances=1,
        max_instances=8,
        target_rps=40,
        scale_in_ratio=0.7,
        cooldown_out_s=5,
        cooldown_in_s=30,
    )
    assert decide(p, Observation(0, 150, 2), None) == Decision(
        "out", 4, None, "150 req/s is 75 per instance over 2, above the target 40: 4 instances"
    )
    assert decide(p, Observation(3, 150, 2), 0).action == "hold"  # cooldown
    assert decide(p, Observation(100, 100, 4), 0).action == "hold"  # 100 > 0.7*40*3 = 84
    d = decide(p, Observation(100, 80, 4), 0)
    assert (d.action, d.instances) == ("in", 3)
    assert decide(p, Observation(10, 80, 4), 0).action == "hold"  # scale-in cooldown


def test_rate_is_unknown_across_a_counter_reset():
    assert rate(100, 0.0, 300, 2.0) == 100
    assert rate(300, 0.0, 100, 2.0) is None  # HAProxy reloaded: counters restarted
    assert rate(100, 2.0, 300, 2.0) is None
    assert decide(Policy(), Observation(0, None, 2), None).action == "hold"


@given(policies(bandwidth=True), rates, st.sampled_from([1, 2, 4, 8]))
def test_uplink_is_base_times_a_power_of_two_within_bounds(policy, rps, k):
    current = min(policy.uplink_base_mbps * k, policy.uplink_max_mbps)
    new = uplink_for(policy, rps, current)
    assert new is not None
    assert policy.uplink_base_mbps <= new <= policy.uplink_max_mbps
    ratio = new / policy.uplink_base_mbps
    assert ratio == 2 ** round(math.log2(ratio))
    # raised at once to carry the load when the ceiling allows
    assert policy.baseline_rps is not None
    if new < policy.uplink_max_mbps:
        assert rps <= policy.baseline_rps * ratio or new == current
    # lowered one step at a time
    assert new >= current // 2


def test_uplink_doubles_like_march_2020():
    p = Policy(baseline_rps=100, uplink_base_mbps=1000, uplink_max_mbps=4000)
    assert uplink_for(p, 90, 1000) == 1000
    assert uplink_for(p, 190, 1000) == 2000
    assert uplink_for(p, 390, 1000) == 4000
    assert uplink_for(p, 900, 1000) == 4000  # ceiling
    assert uplink_for(p, 90, 2000) == 2000  # 90 > 0.7 * 100: keep the doubled rate
    assert uplink_for(p, 60, 2000) == 1000


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"min_instances": 5, "max_instances": 2}, "min_instances"),
        ({"min_instances": 0}, "min_instances"),
        ({"target_rps": 0}, "target_rps"),
        ({"scale_in_ratio": 1.0}, "scale_in_ratio"),
        (
            {"baseline_rps": 100, "uplink_base_mbps": 1000, "uplink_max_mbps": 500},
            "uplink_max_mbps",
        ),
    ],
)
def test_bad_policy_names_the_field(kwargs, field):
    with pytest.raises(BadPolicy) as err:
        Policy(**kwargs).check()
    assert any(p.field == field for p in err.value.problems)
    assert field in str(err.value)


@given(policies(), rates)
def test_instances_for_carries_the_load(policy, rps):
    n = instances_for(policy, rps)
    assert policy.min_instances <= n <= policy.max_instances
    if n < policy.max_instances:
        assert rps <= n * policy.target_rps * (1 + 1e-9)
