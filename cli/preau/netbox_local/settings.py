"""How the rest of preau finds a NetBox: env first, then the local one."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from preau.netbox_local.paths import Paths


@dataclass(frozen=True)
class NetBoxSettings:
    """Where a NetBox API is and the token to use (``nbt_<key>.<token>`` for v2 tokens)."""

    url: str
    token: str

    def __repr__(self) -> str:  # never show the token in logs or tracebacks
        return f"NetBoxSettings(url={self.url!r}, token='***')"


def client_settings(paths: Paths | None = None) -> NetBoxSettings | None:
    """The local NetBox's URL and token, or None when `preau netbox up` has never set it up.

    This says nothing about whether it runs now: see ``preau.netbox_local.service.status``.
    """
    paths = paths or Paths.from_env()
    try:
        data = json.loads(paths.client_file.read_text())
        return NetBoxSettings(url=str(data["url"]), token=str(data["token"]))
    except (OSError, ValueError, KeyError):
        return None


def resolve_settings(*, require_running: bool = True) -> NetBoxSettings | None:
    """The NetBox preau should talk to, or None to fall back to the embedded files.

    Order:
    1. ``PREAU_NETBOX_URL`` and ``PREAU_NETBOX_TOKEN`` both set: that NetBox (remote or local);
    2. the local NetBox, if it was set up and (with ``require_running``) its API answers now;
    3. None: the caller uses the embedded YAML source of truth.
    """
    url, token = os.environ.get("PREAU_NETBOX_URL"), os.environ.get("PREAU_NETBOX_TOKEN")
    if url and token:
        return NetBoxSettings(url=url.rstrip("/"), token=token)
    local = client_settings()
    if local is None or not require_running:
        return local
    from preau.netbox_local.service import api_answers  # late: keeps `import preau` light

    return local if api_answers(local) else None
