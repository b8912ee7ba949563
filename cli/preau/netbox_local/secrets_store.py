"""Secrets of the local NetBox: generated at the first `up`, kept in files of mode 0600.

They never enter the repository, argv or a log: configuration.py reads them from
``secrets.json`` at import, and the seeding code reads them from the same file.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import string
from pathlib import Path

_ALNUM = string.ascii_letters + string.digits


def _random(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the start (no window where it is readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def load_or_create(path: Path) -> tuple[dict[str, str], bool]:
    """The secrets, and whether they were created now (then any seeded database is stale)."""
    if path.exists():
        return json.loads(path.read_text()), False
    data = {
        "secret_key": _random(64),
        "api_token_pepper": _random(64),
        "db_password": _random(32),
        "admin_password": _random(24),
        # v2 token: `nbt_<key>.<token>`; NetBox wants a 12-char key and a 40-char token.
        "token_key": _random(12),
        "token_secret": _random(40),
    }
    write_private(path, json.dumps(data, indent=2) + "\n")
    return data, True


def api_token(data: dict[str, str]) -> str:
    return f"nbt_{data['token_key']}.{data['token_secret']}"


def fingerprint(data: dict[str, str]) -> str:
    """A short digest naming one set of secrets (stored beside the seed database, not secret)."""
    blob = json.dumps(data, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
