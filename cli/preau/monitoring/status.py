"""What the desk sees, read from Prometheus' HTTP API: per collège, its hosts up, its firing
alerts, its uplink against the commit rate, its servers' memory and disk.

The queries name only what the monitoring role records and the targets' labels (uai, site,
role, room, host); Prometheus' address defaults to the monitoring host of the source of truth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import requests

from preau.errors import PreauError
from preau.model import College, Departement, services
from preau.monitoring import targets

PROMETHEUS_PORT = 9090
UTILISATION = "preau:uplink_utilisation:ratio"
SATURATED_ALERT = "CollegeUplinkSaturated"  # roles/monitoring: UTILISATION above its threshold
# a picture of a few hours needs no more points than a screen has pixels
HISTORY_POINTS = 300
MEMORY = "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes"
# the fullest real filesystem of each host
DISK = (
    'max by (host, site, uai) (1 - node_filesystem_avail_bytes{fstype!~"tmpfs|ramfs|squashfs|nsfs"}'
    ' / node_filesystem_size_bytes{fstype!~"tmpfs|ramfs|squashfs|nsfs"})'
)


class PrometheusUnavailable(PreauError):
    """Prometheus does not answer, or refuses a query."""


def default_url(dep: Departement) -> str | None:
    """Prometheus on the data centre's monitoring host, from the source of truth."""
    hosts = services.remote_hosts(dep, (services.MONITORING_ROLE,))
    return f"http://{hosts[0].ip}:{PROMETHEUS_PORT}" if hosts else None


class Prometheus:
    """The few HTTP API calls the status needs."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, what: str, **params: str | float) -> Any:
        try:
            r = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} does not answer ({exc.__class__.__name__}): "
                "is the monitoring host up? (--prometheus-url, PREAU_PROMETHEUS_URL)"
            ) from None
        try:
            body = r.json()
        except ValueError:
            body = {}
        if r.status_code != 200 or body.get("status") != "success":
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} refused {what}: {body.get('error', r.status_code)}"
            )
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get("query", repr(expr), query=expr)["result"]
        return result

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """Each series' [unix time, value] points from start to end."""
        data = self._get("query_range", repr(expr), query=expr, start=start, end=end, step=step)
        result: list[dict[str, Any]] = data["result"]
        return result

    def alert_rule(self, name: str) -> dict[str, Any] | None:
        """An alerting rule as Prometheus runs it (its expression, its `for`), or None."""
        for group in self._get("rules", "the rules", type="alert")["groups"]:
            for rule in group["rules"]:
                if rule.get("name") == name:
                    found: dict[str, Any] = rule
                    return found
        return None


@dataclass
class HostState:
    host: str
    role: str
    room: str
    up: bool | None  # None: not a target Prometheus knows (not rolled out, or SD not written)
    memory_used: float | None = None
    disk_used: float | None = None


@dataclass
class CollegeState:
    uai: str
    slug: str
    name: str
    commit_rate_mbps: int | None
    hosts: list[HostState] = field(default_factory=list)
    uplink: dict[str, float] = field(default_factory=dict)  # direction -> share of commit rate
    alerts: list[dict[str, str]] = field(default_factory=list)

    @property
    def up(self) -> int:
        return sum(1 for h in self.hosts if h.up)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "up": self.up, "targets": len(self.hosts)}


def _by(samples: list[dict[str, Any]], *keys: str) -> dict[tuple[str, ...], float]:
    return {tuple(s["metric"].get(k, "") for k in keys): float(s["value"][1]) for s in samples}


def collect(dep: Departement, prom: Prometheus, colleges: list[College]) -> list[CollegeState]:
    """The state of these collèges: one query per measure, for all of them at once."""
    up = _by(prom.query(f'up{{job="{targets.NODE_JOB}"}}'), "host")
    memory = _by(prom.query(MEMORY), "host")
    disk = _by(prom.query(DISK), "host")
    uplink = _by(prom.query(UTILISATION), "uai", "direction")
    alerts = prom.query('ALERTS{alertstate="firing"}')
    expected: dict[str, list[targets.Target]] = {}
    for t in targets.node_targets(dep):
        expected.setdefault(t.labels["uai"], []).append(t)
    out = []
    for c in colleges:
        state = CollegeState(
            uai=c.uai,
            slug=c.slug,
            name=c.name,
            commit_rate_mbps=c.circuit.commit_rate_mbps if c.circuit else None,
        )
        for t in expected.get(c.uai, []):
            host = t.labels["host"]
            value = up.get((host,))
            state.hosts.append(
                HostState(
                    host=host,
                    role=t.labels["role"],
                    room=t.labels["room"],
                    up=None if value is None else value == 1.0,
                    memory_used=memory.get((host,)),
                    disk_used=disk.get((host,)),
                )
            )
        state.uplink = {d: v for (uai, d), v in uplink.items() if uai == c.uai}
        state.alerts = [
            {
                k: v
                for k, v in a["metric"].items()
                if k in ("alertname", "host", "name", "severity", "direction", "mountpoint")
            }  # fmt: skip
            for a in alerts
            if a["metric"].get("uai") == c.uai
        ]
        out.append(state)
    return out


@dataclass
class UplinkHistory:
    """A collège's uplink over the last hours: what `preau college status --plot` draws."""

    uai: str
    commit_rate_mbps: int | None
    hours: float
    threshold: float | None  # the saturation alert's, read from the rule Prometheus runs
    series: dict[str, list[tuple[float, float]]]  # direction -> (unix time, share of commit)
    firing: list[tuple[float, float]]  # (from, to) while the saturation alert fired

    def summary(self) -> dict[str, Any]:
        return {
            "hours": self.hours,
            "threshold": self.threshold,
            "peak": {d: max((v for _, v in pts), default=None) for d, pts in self.series.items()},
            "points": {d: len(pts) for d, pts in self.series.items()},
            "firing": [list(span) for span in self.firing],
        }


def _threshold(rule: dict[str, Any] | None) -> float | None:
    if rule is None:
        return None
    _, sep, value = str(rule.get("query", "")).partition(f"{UTILISATION} >")
    try:
        return float(value) if sep else None
    except ValueError:
        return None


def _spans(points: list[tuple[float, float]], step: float) -> list[tuple[float, float]]:
    """Consecutive points (no gap above one step) as (first, last + step) spans."""
    spans: list[tuple[float, float]] = []
    for t, _ in points:
        if spans and t - spans[-1][1] <= step * 1.5:
            spans[-1] = (spans[-1][0], t + step)
        else:
            spans.append((t, t + step))
    return spans


def uplink_history(prom: Prometheus, college: College, hours: float, now: float) -> UplinkHistory:
    """The uplink's utilisation per direction and the saturation alert's firing spans."""
    step = max(hours * 3600 / HISTORY_POINTS, 15.0)
    start = now - hours * 3600
    uai = college.uai
    series: dict[str, list[tuple[float, float]]] = {}
    # the highest value within each step, not the value at its instant: a burst or an alert
    # shorter than a step still shows
    window = f"[{step:.0f}s]"
    utilisation = f'max_over_time({UTILISATION}{{uai="{uai}"}}{window})'
    for s in prom.query_range(utilisation, start, now, step):
        direction = s["metric"].get("direction", "?")
        series[direction] = [(float(t), float(v)) for t, v in s["values"]]
    firing_expr = (
        f'max_over_time(ALERTS{{alertname="{SATURATED_ALERT}",alertstate="firing",'
        f'uai="{uai}"}}{window})'
    )
    firing = sorted(
        (float(t), 1.0)
        for s in prom.query_range(firing_expr, start, now, step)
        for t, _ in s["values"]
    )
    # the rate the ratio is divided by, as Prometheus records it (the SoT's, unless overridden)
    recorded = prom.query(f'{targets.COMMIT_RATE_METRIC}{{uai="{uai}"}}')
    sot_rate = college.circuit.commit_rate_mbps if college.circuit else None
    return UplinkHistory(
        uai=uai,
        commit_rate_mbps=round(float(recorded[0]["value"][1]) / 1e6) if recorded else sot_rate,
        hours=hours,
        threshold=_threshold(prom.alert_rule(SATURATED_ALERT)),
        series=series,
        firing=_spans(firing, step),
    )
