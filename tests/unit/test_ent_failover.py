"""The drill's measurement (preau.ent.failover) against a real local HTTP server that is shut
down and started again under load: failed requests are counted, the recovery ends with the last
failure, and the wait returns only once the server answers steadily again."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from preau.ent import failover, report
from preau.errors import ServiceError


class Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


class Server:
    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Page)
        self.port = self.httpd.server_address[1]
        self._start()

    def _start(self) -> None:
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def restart(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Page)
        self._start()


def test_a_stopped_server_counts_as_failed_requests_until_it_serves_again() -> None:
    server = Server()
    base = f"http://127.0.0.1:{server.port}"
    pupils = [failover.Pupil("eleve00001", "cookie")]
    try:
        with failover.load(base, pupils, threads=2) as running:
            time.sleep(0.5)
            killed_at = time.monotonic()
            server.stop()
            time.sleep(1.0)
            server.restart()
            back_at = time.monotonic()
            recovered = failover.wait_serving(running, killed_at, quiet_s=0.5, timeout=20)
        samples = running.samples
    finally:
        server.stop()
    before = [s for s in samples if s.ended < killed_at]
    assert before and all(s.ok for s in before)
    failed = [s for s in samples if not s.ok]
    assert failed and all(s.status is None for s in failed)
    # the recovery ends with the last failure, after the kill and by the restart (plus one try)
    assert killed_at < recovered <= back_at + 1.0
    assert all(s.ok for s in samples if s.started > recovered)
    # the timeline the failover plot draws: answers before the kill, failures only after it
    buckets = failover.timeline(samples, killed_at)
    assert sum(b["ok"] + b["failed"] + b["slow"] for b in buckets) == len(samples)
    assert all(b["failed"] == 0 for b in buckets if b["t"] + failover.TIMELINE_BUCKET_S <= 0)
    assert sum(b["failed"] for b in buckets) == len(failed)
    assert any(b["ok"] for b in buckets if b["t"] < 0)


def test_a_drills_timeline_is_plotted_with_its_kill(tmp_path: Path) -> None:
    t0 = 1000.0
    samples = [failover.Sample(t0 + i * 0.1, 0.05, 200) for i in range(-30, 60)]
    samples[35] = failover.Sample(t0 + 0.5, 0.05, None)  # refused just after the kill
    samples[40] = failover.Sample(t0 + 1.0, 2.0, 200)  # stalled, then answered
    buckets = failover.timeline(samples, t0)
    assert buckets[0]["t"] == -3.0 and sum(b["failed"] for b in buckets) == 1
    assert sum(b["slow"] for b in buckets) == 1
    assert max(b["latency_max"] for b in buckets) == 2.0  # the stalled answer's bucket
    run = {"fault": "active HAProxy", "recovery_s": 3.05, "failed": 1, "sent": 26,
           "timeline": buckets}  # fmt: skip
    plot = report.failover_plot([run, {**run, "fault": "Redis master"}], tmp_path / "f.png")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
    with pytest.raises(ValueError, match="no drill"):
        report.failover_plot([{"fault": "x", "timeline": []}], tmp_path / "g.png")


def test_waiting_for_a_server_that_never_comes_back_fails_with_a_clear_error() -> None:
    server = Server()
    base = f"http://127.0.0.1:{server.port}"
    server.stop()
    pupils = [failover.Pupil("eleve00001", "cookie")]
    with (
        failover.load(base, pupils, threads=1) as running,
        pytest.raises(ServiceError, match="did not serve normally again within 1 s"),
    ):
        failover.wait_serving(running, time.monotonic(), quiet_s=0.5, timeout=1)


def test_slow_answers_count_as_an_interruption_not_as_failures() -> None:
    t0 = 100.0
    samples = [
        failover.Sample(t0 - 1, 0.1, 200),
        failover.Sample(t0 + 0.1, 2.5, 200),  # stalled through the failover, then answered
        failover.Sample(t0 + 2.7, 0.1, 200),
    ]
    assert failover.recovered_at(samples, t0) == pytest.approx(t0 + 2.6)
    assert failover.recovered_at(samples[:1], t0) == t0
