"""Where the local NetBox keeps its venv, state and data, and which ports it uses.

Everything is computed from the environment so tests and users can move it:
- the NetBox venv is a cache shared by every clone: ``${XDG_CACHE_HOME:-~/.cache}/preau/netbox/``;
- config, logs, pids, secrets and client settings live in ``$PREAU_HOME/netbox``
  (default ``~/.local/state/preau``);
- the PostgreSQL cluster lives where the ``postgres`` user can own it when we run as root
  (``/root`` is mode 700, so it cannot live under ``$HOME``): ``/var/lib/preau/netbox``,
  or ``$PREAU_NETBOX_PGROOT``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from preau.errors import BadInput

NETBOX_VERSION = "4.7.3"
PG_VERSION = "15"

DEFAULT_PG_PORT = 55432
DEFAULT_REDIS_PORT = 56379
DEFAULT_NETBOX_PORT = 58080


def _port(var: str, default: int) -> int:
    raw = os.environ.get(var)
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise BadInput(f"{var}={raw!r}: a port must be a number between 1024 and 65535") from None
    if not 1024 <= port <= 65535:
        raise BadInput(f"{var}={raw!r}: a port must be a number between 1024 and 65535")
    return port


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def running_as_root() -> bool:
    return os.geteuid() == 0


def cache_root() -> Path:
    """preau's download/build cache, shared by every clone on the machine."""
    if os.environ.get("PREAU_CACHE"):
        return Path(os.environ["PREAU_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "preau"


def state_root() -> Path:
    """``$PREAU_HOME``: preau's per-user runtime state."""
    raw = os.environ.get("PREAU_HOME")
    return Path(raw) if raw else Path.home() / ".local" / "state" / "preau"


@dataclass(frozen=True)
class Paths:
    """Every file and port of one local NetBox installation."""

    home: Path  # $PREAU_HOME/netbox: config, logs, pids, secrets
    pg_root: Path  # owned by the cluster's OS user
    venv_cache: Path  # parent of the per-version NetBox venvs
    pg_port: int
    redis_port: int
    netbox_port: int

    @classmethod
    def from_env(cls) -> Paths:
        home = state_root() / "netbox"
        if os.environ.get("PREAU_NETBOX_PGROOT"):
            pg_root = Path(os.environ["PREAU_NETBOX_PGROOT"])
        elif running_as_root():
            # postgres refuses to run as root and cannot traverse /root (mode 700). A
            # non-default PREAU_HOME (a test, a second instance) gets a cluster of its own.
            default = home == Path.home() / ".local" / "state" / "preau" / "netbox"
            suffix = "" if default else "-" + _short_hash(str(home))
            pg_root = Path(f"/var/lib/preau/netbox{suffix}")
        else:
            pg_root = home / "pg"
        return cls(
            home=home,
            pg_root=pg_root,
            venv_cache=cache_root() / "netbox",
            pg_port=_port("PREAU_NETBOX_PG_PORT", DEFAULT_PG_PORT),
            redis_port=_port("PREAU_NETBOX_REDIS_PORT", DEFAULT_REDIS_PORT),
            netbox_port=_port("PREAU_NETBOX_PORT", DEFAULT_NETBOX_PORT),
        )

    # --- state under PREAU_HOME -------------------------------------------------------------
    @property
    def secrets_file(self) -> Path:
        return self.home / "secrets.json"

    @property
    def client_file(self) -> Path:
        """URL and token for clients (pynetbox, nb_inventory); mode 0600."""
        return self.home / "client.json"

    @property
    def netbox_root(self) -> Path:
        """``NETBOX_ROOT``: wheel-mode NetBox reads ``conf/configuration.py`` under it."""
        return self.home / "root"

    @property
    def configuration(self) -> Path:
        return self.netbox_root / "conf" / "configuration.py"

    @property
    def log_dir(self) -> Path:
        return self.home / "log"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def lock_file(self) -> Path:
        return self.home / "lifecycle.lock"

    @property
    def gunicorn_pid(self) -> Path:
        return self.run_dir / "gunicorn.pid"

    @property
    def gunicorn_log(self) -> Path:
        return self.log_dir / "gunicorn.log"

    @property
    def redis_pid(self) -> Path:
        return self.run_dir / "redis.pid"

    @property
    def redis_log(self) -> Path:
        return self.log_dir / "redis.log"

    @property
    def redis_dir(self) -> Path:
        return self.home / "redis"

    # --- PostgreSQL, owned by the cluster user -----------------------------------------------
    @property
    def pg_data(self) -> Path:
        return self.pg_root / f"pg{PG_VERSION}"

    @property
    def pg_socket_dir(self) -> Path:
        return self.pg_root / "socket"

    @property
    def pg_log(self) -> Path:
        # In the cluster owner's tree: the server writes it as that user.
        return self.pg_root / "postgresql.log"

    @property
    def pg_pid(self) -> Path:
        return self.pg_data / "postmaster.pid"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.netbox_port}"
