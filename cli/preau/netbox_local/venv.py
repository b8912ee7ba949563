"""The NetBox virtualenv: built once per (NetBox version, requirement list), shared by every clone.

NetBox ships on PyPI as a wheel. We install it without dependencies, then its own requirement
list with ``psycopg[c,...]`` swapped for ``psycopg[binary,...]`` (the ``c`` extra compiles from
source and doubles the install time), plus gunicorn to serve it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from preau.errors import ServiceError
from preau.netbox_local.paths import NETBOX_VERSION, Paths, cache_root

# Installed beside NetBox's own requirements; part of the venv's cache key.
# gunicorn serves NetBox; WhiteNoise serves its static files from the same process (no nginx).
EXTRA_REQUIREMENTS = ("gunicorn>=23", "whitenoise>=6.6")
# NetBox's requirement -> what we install instead (why: see the module docstring).
SWAPS = (("psycopg[c,pool]", "psycopg[binary,pool]"),)
_COMPLETE = ".preau-complete"

_READ_REQUIRES = """
import importlib.metadata as m, json
print(json.dumps([r for r in (m.requires('netbox') or []) if 'extra ==' not in r]))
"""


def find_python312() -> str:
    """A Python 3.12 interpreter: the base of the running preau venv, else $PREAU_PYTHON, else
    ``scripts/find-python312`` from the repository."""
    if sys.version_info[:2] == (3, 12):
        return getattr(sys, "_base_executable", None) or sys.executable
    if os.environ.get("PREAU_PYTHON"):
        return os.environ["PREAU_PYTHON"]
    script = Path(__file__).resolve().parents[3] / "scripts" / "find-python312"
    if script.exists():
        out = subprocess.run([str(script)], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    raise ServiceError("NetBox needs Python 3.12: set PREAU_PYTHON to a python3.12 interpreter")


def cache_key() -> str:
    """``<version>-<hash of the requirement list>``: a new list gets a new venv."""
    spec = json.dumps(
        {
            "netbox": NETBOX_VERSION,
            "python": "3.12",
            "extra": EXTRA_REQUIREMENTS,
            "swaps": SWAPS,
        },
        sort_keys=True,
    )
    return f"{NETBOX_VERSION}-{hashlib.sha256(spec.encode()).hexdigest()[:12]}"


def venv_dir(paths: Paths) -> Path:
    return paths.venv_cache / cache_key()


def venv_python(paths: Paths) -> Path:
    return venv_dir(paths) / "bin" / "python"


def is_ready(paths: Paths) -> bool:
    return (venv_dir(paths) / _COMPLETE).exists()


def _uv() -> Path | None:
    uv = cache_root() / "uv-tool" / "bin" / "uv"
    if uv.exists():
        return uv
    found = shutil.which("uv")
    return Path(found) if found else None


def _run(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> str:
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=fh, text=True, env=env)
        fh.write(proc.stdout)
    if proc.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-15:])
        raise ServiceError(f"building the NetBox venv failed (log: {log}):\n{tail}")
    return proc.stdout


def _swap(req: str) -> str:
    name = req.split(";")[0].replace(" ", "")
    for old, new in SWAPS:
        if name.startswith(old):
            return new + name[len(old) :]
    return req


def ensure_venv(paths: Paths, note: Callable[[str], None] = lambda _: None) -> bool:
    """Build the NetBox venv if it is not cached yet; return True when it was built now."""
    target = venv_dir(paths)
    if is_ready(paths):
        return False
    paths.venv_cache.mkdir(parents=True, exist_ok=True)
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    log = paths.log_dir / "venv-build.log"
    # Two clones (or two pytest workers) may try at once: one builds, the other waits.
    with (paths.venv_cache / f".{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_ready(paths):
            return False
        if target.exists():
            shutil.rmtree(target)  # a half-built venv from an interrupted run
        started = time.monotonic()
        py = find_python312()
        uv = _uv()
        env = dict(os.environ)
        env["UV_CACHE_DIR"] = str(cache_root() / "uv-cache")
        log.write_text(f"building {target} with {'uv' if uv else 'pip'} on {py}\n")
        note(f"building the NetBox {NETBOX_VERSION} venv with {'uv' if uv else 'pip'}")
        vpy = str(target / "bin" / "python")
        if uv:
            _run([str(uv), "venv", "-q", "--python", py, str(target)], log, env)

            def install(args: list[str]) -> None:
                # Compiled now, once, rather than by the first NetBox start (pip does it too).
                cmd = [str(uv), "pip", "install", "-q", "--compile-bytecode", "--python", vpy]
                _run([*cmd, *args], log, env)
        else:
            _run([py, "-m", "venv", str(target)], log, env)

            def install(args: list[str]) -> None:
                _run([vpy, "-m", "pip", "install", "-q", *args], log, env)

        install(["--no-deps", f"netbox=={NETBOX_VERSION}"])
        requires = json.loads(_run([vpy, "-c", _READ_REQUIRES], log, env))
        install([_swap(r) for r in requires] + list(EXTRA_REQUIREMENTS))
        (target / _COMPLETE).write_text(f"{time.monotonic() - started:.1f}s\n")
    return True
