"""The traffic model from the seeds, the harness's safety bounds, and its segments against a
real wrk and a loopback portal that goes away."""

from __future__ import annotations

import contextlib
import http.server
import threading
from collections.abc import Iterator

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


class _Portal(http.server.BaseHTTPRequestHandler):
    """Enough of the portal for visit.lua: a login that sets a session, pages that answer."""

    protocol_version = "HTTP/1.1"

    def _answer(self, *headers: tuple[str, str]) -> None:
        self.send_response(200)
        for name, value in (*headers, ("Content-Length", "2")):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(b"ok")

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer(("Set-Cookie", "session=1; Path=/"))

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _portal(port: int = 0) -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Portal)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_an_address_lost_mid_run_is_an_outage_in_the_series_not_the_end_of_the_run():
    """A real wrk against a loopback portal that stops answering after the first segment and
    comes back a segment later: the refused segment counts every connection failed, the run
    goes on and the portal's return is measured."""
    with contextlib.ExitStack() as portal, contextlib.ExitStack() as back:
        port = portal.enter_context(_portal()).server_address[1]
        seen: list[load.Segment] = []

        def after(seg: load.Segment) -> None:
            seen.append(seg)
            if len(seen) == 1:
                portal.close()  # the portal goes away after the first segment
            elif len(seen) == 2:
                back.enter_context(_portal(port))  # and comes back after the second

        profile = Profile("gap", ((0.2, 8),), "")
        segments = load.run(profile, Traffic(), f"http://127.0.0.1:{port}/", "x", on_segment=after)
    assert [s.requests > 0 for s in segments] == [True, False, True, True], segments
    gap = segments[1]
    assert gap.errors == gap.connections and gap.rps == 0, gap
    assert gap.t - segments[0].t >= 2.0, "the refused segment keeps its length"
    assert all(s.errors == 0 for s in segments if s.requests), segments


def test_an_address_that_never_answers_is_an_error_not_a_series():
    with _portal() as gone:
        port = gone.server_address[1]
    with pytest.raises(load.Unreachable, match="unable to connect"):
        load.run(PROFILES["smoke"], Traffic(), f"http://127.0.0.1:{port}/", "x")
