"""The traffic model from the seeds and the harness's safety bounds (no I/O)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from preau.ent import load
from preau.ent.traffic import PROFILES, Profile, Traffic
from preau.errors import BadInput


def test_peak_rate_from_the_published_figures():
    t = Traffic()
    assert t.visits_per_day == 180_000
    assert t.peak_rps == pytest.approx(60.0)  # 180,000 x 15% / 3600 x 8
    assert t.concurrent_visitors == 600
    assert Traffic(visits_per_day=150_000).peak_rps == pytest.approx(50.0)


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1/", "https://198.19.224.2/", "http://100.80.0.2:8080/"]
)
def test_lab_and_loopback_urls_are_allowed(url):
    assert load.check_url(url) == url


@pytest.mark.parametrize(
    "url",
    ["https://10.0.0.1/", "https://192.168.1.1/", "https://8.8.8.8/", "https://ent.example.org/"],
)
def test_other_urls_are_refused(url):
    with pytest.raises(BadInput, match="--url"):
        load.check_url(url)


def test_every_shipped_profile_is_within_bounds():
    for profile in PROFILES.values():
        load.check_profile(profile, Traffic())


def test_long_or_heavy_profiles_are_refused():
    with pytest.raises(BadInput, match="above 300 s"):
        load.check_profile(Profile("long", ((1, 400),), ""), Traffic())
    with pytest.raises(BadInput, match="req/s, above the bound"):
        load.check_profile(Profile("heavy", ((100, 10),), ""), Traffic())


@given(st.floats(1, 2000), st.floats(0, 500))
def test_think_time_gives_the_rate(rps, latency):
    conns = load.connections_for(rps)
    assert 2 <= conns <= load.MAX_CONNECTIONS
    think = load.think_ms(rps, conns, latency)
    assert think >= 0
    if think > 0:
        assert conns * 1000 / (think + latency) == pytest.approx(rps, rel=0.05, abs=1)
