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

    def query(self, expr: str) -> list[dict[str, Any]]:
        try:
            r = requests.get(
                f"{self.url}/api/v1/query", params={"query": expr}, timeout=self.timeout
            )
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
                f"Prometheus at {self.url} refused {expr!r}: {body.get('error', r.status_code)}"
            )
        result: list[dict[str, Any]] = body["data"]["result"]
        return result


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
