"""Failover drills: pupils keep using the portal while one part of the stack is killed.

A drill logs pupils in and has each post messages (acknowledged writes), then keeps a
steady load of page views going (each request on a fresh connection, as a new visitor would
arrive) while the caller kills a part. It then measures what the pupils saw: the requests that
failed and the time until the portal served normally again, and checks that every pupil is
still logged in and every acknowledged message is still there. How a part is killed and brought
back belongs to the caller (molecule's verifier, bench/ent); this module only watches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import requests
import urllib3

from preau.errors import ServiceError

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

COOKIE = "ENCSESSION"
# A page slower than this counts as an interruption when measuring recovery (a stalled request
# is an outage for the pupil even when it ends well).
SLOW_S = 1.0
PAGES = ("/", "/timetable", "/homework", "/messages")
RETRY_S = 0.25
TIMELINE_BUCKET_S = 0.5


@dataclass(frozen=True)
class Sample:
    started: float
    elapsed: float
    status: int | None  # None: no answer (connection refused, reset, timeout)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def ended(self) -> float:
        return self.started + self.elapsed


@dataclass
class Outcome:
    """What pupils saw around one kill."""

    fault: str
    recovery_s: float
    sent: int
    failed: int
    sent_total: int
    failed_total: int
    sessions_kept: int
    sessions: int
    messages_kept: int
    messages: int
    notes: list[str] = field(default_factory=list)
    # per TIMELINE_BUCKET_S from a few seconds before the kill: what the plot shows
    timeline: list[dict[str, float]] = field(default_factory=list)

    @property
    def failed_ratio(self) -> float:
        return self.failed / self.sent if self.sent else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed_ratio": round(self.failed_ratio, 5)}


def _session() -> requests.Session:
    session = requests.Session()
    # a REQUESTS_CA_BUNDLE in the environment would override verify=False
    session.trust_env = False
    session.verify = False
    return session


@dataclass
class Pupil:
    login: str
    cookie: str
    # subjects of the messages the portal acknowledged (201): each must survive every drill
    posted: list[str] = field(default_factory=list)


def log_in(base: str, login: str, password: str) -> Pupil:
    with _session() as session:
        reply = session.post(
            f"{base}/login",
            data={"login": login, "password": password},
            allow_redirects=False,
            timeout=15,
        )
    cookie = reply.cookies.get(COOKIE)
    if reply.status_code != 303 or not cookie:
        raise ServiceError(f"{login} could not log in at {base}: HTTP {reply.status_code}")
    return Pupil(login, cookie)


def post_message(base: str, pupil: Pupil) -> None:
    """Post a message; it counts as written only once the portal answers 201."""
    subject = f"drill {pupil.login} {time.time_ns()}"
    with _session() as session:
        reply = session.post(
            f"{base}/messages",
            data={"subject": subject},
            cookies={COOKIE: pupil.cookie},
            allow_redirects=False,
            timeout=15,
        )
    if reply.status_code != 201:
        raise ServiceError(f"{pupil.login} could not post a message: HTTP {reply.status_code}")
    pupil.posted.append(subject)


def _get(base: str, path: str, cookie: str, timeout: float) -> requests.Response:
    with _session() as session:
        return session.get(
            f"{base}{path}",
            cookies={COOKIE: cookie},
            headers={"Connection": "close"},
            allow_redirects=False,
            timeout=timeout,
        )


class Load:
    """Page views by the drill's pupils from a few threads, every answer recorded."""

    def __init__(self, base: str, pupils: list[Pupil], threads: int = 4, timeout: float = 15):
        self.base, self.pupils, self.timeout = base, pupils, timeout
        self.samples: list[Sample] = []
        # when each thread's current request started (None between requests): a request still
        # waiting is an interruption too, though it has no sample yet
        self.in_flight: list[float | None] = [None] * threads
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, index: int) -> None:
        turn = index
        while not self._stop.is_set():
            pupil = self.pupils[turn % len(self.pupils)]
            path = PAGES[turn % len(PAGES)]
            turn += len(self._threads)
            started = time.monotonic()
            self.in_flight[index] = started
            try:
                status: int | None = _get(self.base, path, pupil.cookie, self.timeout).status_code
            except requests.RequestException:
                status = None
            sample = Sample(started, time.monotonic() - started, status)
            with self._lock:
                self.samples.append(sample)
                self.in_flight[index] = None
            if status is None:
                # a refused connection returns at once: try again as soon as a pupil's reload
                # would, not in a tight loop that would inflate the count of failed requests
                time.sleep(RETRY_S)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> list[Sample]:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        with self._lock:
            return list(self.samples)


@contextmanager
def load(base: str, pupils: list[Pupil], threads: int = 4) -> Iterator[Load]:
    running = Load(base, pupils, threads)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def recovered_at(samples: list[Sample], killed_at: float, slow_s: float = SLOW_S) -> float:
    """When the last failed or stalled request after the kill ended (the kill itself if none)."""
    bad = [s.ended for s in samples if s.ended >= killed_at and (not s.ok or s.elapsed > slow_s)]
    return max(bad, default=killed_at)


def wait_serving(running: Load, killed_at: float, quiet_s: float, timeout: float) -> float:
    """Wait until the load has run `quiet_s` seconds without a failure or a stalled request."""
    deadline = killed_at + timeout
    while time.monotonic() < deadline:
        with running._lock:
            samples = list(running.samples)
            waiting = [t for t in running.in_flight if t is not None]
        now = time.monotonic()
        end = recovered_at(samples, killed_at)
        recent = [s for s in samples if s.started > end]
        stalled = any(now - started > SLOW_S for started in waiting)
        if now - end >= quiet_s and not stalled and len(recent) >= 3 and all(s.ok for s in recent):
            return end
        time.sleep(0.2)
    raise ServiceError(f"the portal did not serve normally again within {timeout:.0f} s")


def timeline(
    samples: list[Sample], killed_at: float, bucket_s: float = TIMELINE_BUCKET_S
) -> list[dict[str, float]]:
    """Requests answered per bucket (by the time they ended), relative to the kill: `t` is the
    bucket's start in seconds (negative before the kill), then ok, failed and slow counts and
    the slowest answer's latency in seconds (`latency_max`, 0 for a bucket with none)."""
    if not samples:
        return []
    first = min(s.ended for s in samples) - killed_at
    last = max(s.ended for s in samples) - killed_at
    start = bucket_s * (first // bucket_s)
    buckets = [
        {"t": round(start + i * bucket_s, 3), "ok": 0, "failed": 0, "slow": 0, "latency_max": 0.0}
        for i in range(int((last - start) // bucket_s) + 1)
    ]
    for s in samples:
        row = buckets[int((s.ended - killed_at - start) // bucket_s)]
        if not s.ok:
            row["failed"] += 1
            continue
        row["slow" if s.elapsed > SLOW_S else "ok"] += 1
        row["latency_max"] = max(row["latency_max"], round(s.elapsed, 3))
    return buckets


def still_there(base: str, pupils: list[Pupil]) -> tuple[int, int, int]:
    """Pupils still logged in, acknowledged messages still listed, and messages posted."""
    sessions = messages = 0
    for pupil in pupils:
        reply = _get(base, "/messages", pupil.cookie, timeout=15)
        if reply.status_code == 200:
            sessions += 1
            messages += sum(subject in reply.text for subject in pupil.posted)
    return sessions, messages, sum(len(pupil.posted) for pupil in pupils)


def outcome(
    fault: str, samples: list[Sample], killed_at: float, base: str, pupils: list[Pupil]
) -> Outcome:
    """What pupils saw, from every sample once the load has stopped (none still in flight)."""
    recovered = recovered_at(samples, killed_at)
    during = [s for s in samples if killed_at <= s.ended and s.started <= recovered]
    after_kill = [s for s in samples if s.ended >= killed_at]
    sessions, messages, posted = still_there(base, pupils)
    return Outcome(
        fault=fault,
        recovery_s=round(recovered - killed_at, 2),
        sent=len(during),
        failed=sum(not s.ok for s in during),
        sent_total=len(after_kill),
        failed_total=sum(not s.ok for s in after_kill),
        sessions_kept=sessions,
        sessions=len(pupils),
        messages_kept=messages,
        messages=posted,
        timeline=timeline(samples, killed_at),
    )
