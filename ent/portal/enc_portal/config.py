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


def load() -> Settings:
    return Settings(
        dsn=os.environ.get("ENC_PORTAL_DSN", "dbname=enc_portal"),
        redis_url=os.environ.get("ENC_PORTAL_REDIS_URL", "redis://127.0.0.1:6379/0"),
        session_ttl=int(os.environ.get("ENC_PORTAL_SESSION_TTL", "1800")),
        instance=os.environ.get("ENC_PORTAL_INSTANCE", socket.gethostname()),
    )
