"""Settings from the environment: the role writes them to /etc/ent-portal/portal.env."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    dsn: str
    redis_url: str
    session_ttl: int
    instance: str
    # Sentinel mode (the HA stack): where the sentinels are and the name of the master they
    # watch; the password is then Redis' own (the URL holds it otherwise).
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    redis_master: str = "ent-sessions"
    redis_password: str | None = None
    # A login waits until this many replicas hold the new session, so a pupil logged in
    # before the master dies is still logged in after the failover.
    redis_wait_replicas: int = 0


def _sentinels(text: str) -> tuple[tuple[str, int], ...]:
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        host, _, port = item.rpartition(":")
        pairs.append((host, int(port)))
    return tuple(pairs)


def load() -> Settings:
    return Settings(
        dsn=os.environ.get("ENC_PORTAL_DSN", "dbname=enc_portal"),
        redis_url=os.environ.get("ENC_PORTAL_REDIS_URL", "redis://127.0.0.1:6379/0"),
        session_ttl=int(os.environ.get("ENC_PORTAL_SESSION_TTL", "1800")),
        instance=os.environ.get("ENC_PORTAL_INSTANCE", socket.gethostname()),
        redis_sentinels=_sentinels(os.environ.get("ENC_PORTAL_REDIS_SENTINELS", "")),
        redis_master=os.environ.get("ENC_PORTAL_REDIS_MASTER", "ent-sessions"),
        redis_password=os.environ.get("ENC_PORTAL_REDIS_PASSWORD") or None,
        redis_wait_replicas=int(os.environ.get("ENC_PORTAL_REDIS_WAIT_REPLICAS", "0")),
    )
