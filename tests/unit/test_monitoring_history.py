"""The uplink picture's data: the alert's threshold read from the rule Prometheus runs, and
the alert's firing samples joined into spans (a gap of more than a step starts a new one)."""

from __future__ import annotations

from preau.monitoring import status


def test_the_threshold_is_the_running_rules():
    rule = {"name": status.SATURATED_ALERT, "query": f"{status.UTILISATION} > 0.85"}
    assert status._threshold(rule) == 0.85
    assert status._threshold(None) is None
    # a rule rewritten by hand into another shape: no line rather than a wrong one
    assert status._threshold({"query": f"{status.UTILISATION} >= bool 0.8"}) is None
    assert status._threshold({"query": "up == 0"}) is None


def test_firing_samples_become_spans():
    step = 15.0
    points = [(t, 1.0) for t in (0, 15, 30, 90, 105, 300)]
    assert status._spans(points, step) == [(0, 45), (90, 120), (300, 315)]
    assert status._spans([], step) == []
    # both directions firing at once: the same instants twice, one span
    assert status._spans(sorted(points[:3] * 2), step) == [(0, 45)]
