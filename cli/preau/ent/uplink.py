"""The data centre's uplink rate: the same mechanism as `preau net bandwidth`.

`NetUplink` changes the HTB class on the data-centre router live (preau.deploys.net_apply)
and records the commit rate in the source of truth (NetBox: circuit + journal entry). If the
record fails after the live change, the live change is undone: the router and the source of
truth never disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from preau.errors import PreauError, ServiceError


class Uplink(Protocol):
    name: str

    def current(self) -> int: ...

    def check(self) -> None: ...

    def set(self, mbps: int, reason: str) -> str: ...


class NetUplink:
    """The data centre's circuit, through preau.deploys.net_apply (router + source of truth)."""

    def __init__(
        self,
        source: str | None = None,
        path: Path | None = None,
        site: str | None = None,
        where: str = "auto",
    ):
        self.source, self.path, self.site_key, self.where = source, path, site, where
        self.name = "uplink"

    def _load(self) -> tuple[Any, Any, Any]:
        from preau.sot import open_source
        from preau.sot.validate import check

        src = open_source(self.source, self.path, changes=True)  # it changes the router
        dep = check(src.read())
        key = self.site_key
        if key is None:
            if dep.datacentre is None:
                raise ServiceError(f"{dep.slug}: datacentre: none in the source of truth")
            key = dep.datacentre.slug
        self.name = f"{key} uplink"
        return src, dep, key

    def current(self) -> int:
        _src, dep, key = self._load()
        site = dep.college(key) or dep.site(key)
        if site is None or site.circuit is None:
            raise ServiceError(f"site {key}: circuit: no circuit to read the commit rate from")
        return int(site.circuit.commit_rate_mbps)

    def check(self) -> None:
        """Raise (NetBoxUnavailable, ServiceError...) unless a change can be made and recorded."""
        from preau.deploys import net_apply

        _src, dep, key = self._load()
        net_apply.target(dep, key, self.where)

    def set(self, mbps: int, reason: str) -> str:
        from preau.deploys import net_apply

        src, dep, key = self._load()
        t = net_apply.target(dep, key, self.where)
        report = net_apply.bandwidth(dep, t, mbps)
        try:
            recorded = net_apply.record_commit_rate(src, dep, t.site, mbps, reason)
        except PreauError as exc:
            net_apply.bandwidth(dep, t, report.old_mbps)
            raise ServiceError(
                f"{self.name}: recording {mbps} Mbit/s failed ({exc}); the live rate was put "
                f"back to {report.old_mbps} Mbit/s"
            ) from exc
        return recorded


class FixedUplink:
    """No uplink control (--no-uplink, or a stack without a shaped circuit): holds a number."""

    def __init__(self, mbps: int = 0):
        self.mbps = mbps
        self.name = "uplink (not managed)"

    def current(self) -> int:
        return self.mbps

    def check(self) -> None:
        return None

    def set(self, mbps: int, reason: str) -> str:
        self.mbps = mbps
        return "not recorded (uplink not managed)"
