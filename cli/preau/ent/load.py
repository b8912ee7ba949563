"""The load harness: wrk with ent/load/visit.lua, in short segments, against lab addresses only.

wrk is a closed loop (each connection waits for its answer, then thinks): the rate of a
segment is connections / (think + latency). Each segment re-computes the think time from the
previous segment's median latency, so the offered rate follows the profile while the stack
keeps up, and stops growing when it does not, as real pupils would. Segments are short (2 s)
so the report has a time series; HAProxy's instance count and the uplink rate are sampled at
each segment's end.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from netaddr import IPAddress, IPNetwork

from preau.ent.traffic import Profile, Traffic
from preau.errors import BadInput, ServiceError

REPO = Path(__file__).resolve().parents[3]
LUA = REPO / "ent" / "load" / "visit.lua"
ALLOWED = [IPNetwork("127.0.0.0/8"), IPNetwork("198.18.0.0/15"), IPNetwork("100.64.0.0/10")]
MAX_DURATION_S = 300
MAX_RPS = 2000
MAX_CONNECTIONS = 256
# Lab connections think 0.1 s instead of a person's 10 s: one connection stands for 100
# pupils, so the rate needs 100x fewer sockets (the rate, not the socket count, is measured).
LAB_THINK_MS = 100.0


@dataclass
class Segment:
    t: float  # seconds since the run started (segment end)
    step: int
    multiplier: float
    target_rps: float
    connections: int
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors + HTTP >= 400 + sessions lost (sent back to /login)
    instances: int | None = None
    instances_up: int | None = None
    uplink_mbps: int | None = None
    mbit_s: float = 0.0


def check_url(url: str) -> str:
    """Only loopback and the lab ranges: a load test never leaves the machine's own networks."""
    host = urlsplit(url).hostname or ""
    try:
        addr = IPAddress(host)
    except Exception:
        raise BadInput(f"--url {url}: use an IP address (loopback or lab range)") from None
    if not any(addr in net for net in ALLOWED):
        raise BadInput(
            f"--url {url}: {addr} is not loopback nor a lab address "
            "(198.18.0.0/15, 100.64.0.0/10); load tests stay on networks this machine made"
        )
    return url


def check_profile(profile: Profile, traffic: Traffic) -> None:
    if profile.duration_s > MAX_DURATION_S:
        raise BadInput(
            f"profile {profile.name}: {profile.duration_s:g} s, above {MAX_DURATION_S} s"
        )
    top = max(m for m, _ in profile.steps) * traffic.peak_rps
    if top > MAX_RPS:
        raise BadInput(f"profile {profile.name}: {top:.0f} req/s, above the bound {MAX_RPS}")


def connections_for(rps: float) -> int:
    return max(2, min(MAX_CONNECTIONS, math.ceil(rps * LAB_THINK_MS / 1000)))


def think_ms(rps: float, connections: int, latency_ms: float) -> int:
    """Think time so that connections / (think + latency) = rps."""
    return max(0, round(connections * 1000 / rps - latency_ms))


class Unreachable(ServiceError):
    """Nothing answered wrk's first connection: the address is down for this segment."""


def wrk(url: str, connections: int, seconds: float, think: int, password: str) -> dict[str, int]:
    """One segment of load; Unreachable when the address refuses connections at its start
    (wrk checks one connection before it starts, and exits on refusal)."""
    if shutil.which("wrk") is None:
        raise ServiceError(
            "wrk is not installed: run scripts/bootstrap (scripts/host-packages.txt)"
        )
    env = dict(os.environ, ENT_DEMO_PASSWORD=password, ENT_THINK_MS=str(think))
    cmd = [
        "wrk",
        "-t",
        str(min(2, connections)),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
    ]
    proc = subprocess.run(
        cmd, env=env, capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("{")), None)
    if proc.returncode != 0 and proc.stderr.startswith("unable to connect"):
        raise Unreachable(proc.stderr.strip())
    if proc.returncode != 0 or line is None:
        raise ServiceError(f"wrk failed (exit {proc.returncode}): {proc.stderr.strip()[:300]}")
    return dict(json.loads(line))


def refused(connections: int, seconds: float) -> dict[str, int]:
    """What wrk would have counted against a refusing address: every connection failed,
    nothing served, over the segment's time."""
    zero = ("requests", "bytes", "read", "write", "timeout", "bad", "p50_us", "p99_us")
    return {"connect": connections, "duration_us": round(seconds * 1e6)} | dict.fromkeys(zero, 0)


Sampler = Callable[[], tuple[int | None, int | None, int | None]]


def run(
    profile: Profile,
    traffic: Traffic,
    url: str,
    password: str,
    *,
    sample: Sampler | None = None,
    segment_s: float = 2.0,
    on_segment: Callable[[Segment], None] | None = None,
    on_start: Callable[[float], None] | None = None,
) -> list[Segment]:
    """Play the profile; return one Segment per wrk run. `on_start` gets the monotonic time
    the segments' t count from (what else runs beside the load keeps the same clock)."""
    check_url(url)
    check_profile(profile, traffic)
    segments: list[Segment] = []
    start = time.monotonic()
    if on_start:
        on_start(start)
    latency = 10.0
    for index, (mult, seconds) in enumerate(profile.steps):
        rps = traffic.peak_rps * mult
        conns = connections_for(rps)
        for _ in range(max(1, round(seconds / segment_s))):
            try:
                out = wrk(url, conns, segment_s, think_ms(rps, conns, latency), password)
            except Unreachable:
                # Before any answer this is a wrong or stopped address: say so. Once the stack
                # has answered, a refusal is an outage (a load balancer lost, its address not
                # moved yet): the pupils' failed connections go in the series and the run goes
                # on, so a game day measures the gap instead of ending on it.
                if not any(s.requests for s in segments):
                    raise
                time.sleep(segment_s)  # the segment keeps its length: the series its clock
                out = refused(conns, segment_s)
            dur = max(out["duration_us"] / 1e6, 1e-3)
            # `bad` counts HTTP >= 400 and lost sessions (wrk's own `status` counts the former)
            errors = out["connect"] + out["read"] + out["write"] + out["timeout"] + out["bad"]
            seg = Segment(
                t=round(time.monotonic() - start, 2),
                step=index,
                multiplier=mult,
                target_rps=round(rps, 1),
                connections=conns,
                requests=out["requests"],
                rps=round(out["requests"] / dur, 1),
                p50_ms=out["p50_us"] / 1000,
                p99_ms=out["p99_us"] / 1000,
                errors=errors,
                mbit_s=round(out["bytes"] * 8 / dur / 1e6, 3),
            )
            if out["requests"]:
                latency = seg.p50_ms
            if sample is not None:
                seg.instances, seg.instances_up, seg.uplink_mbps = sample()
            segments.append(seg)
            if on_segment:
                on_segment(seg)
    return segments


def to_json(segments: list[Segment]) -> list[dict[str, object]]:
    return [asdict(s) for s in segments]
