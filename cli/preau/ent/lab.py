"""The lab ENT stack: the ent_portal role's molecule scenario, kept up for load tests.

`up` is `molecule converge` (create the containers if needed, apply playbooks/ent.yml):
idempotent, a second run changes nothing. `down` is `molecule destroy`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from preau.errors import ServiceError

REPO = Path(__file__).resolve().parents[3]
ROLE = REPO / "roles" / "ent_portal"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = f"{venv_bin}:{env.get('PATH', '')}"
    env.setdefault("CONTAINERS_CONF", str(REPO / "lab" / "containers.conf"))
    env.setdefault("ANSIBLE_FORCE_COLOR", "0")
    return env


def molecule(action: str, log: Path | None = None) -> None:
    cmd = [str(Path(sys.executable).parent / "molecule"), action, "-s", "default"]
    out = log.open("w") if log else None
    try:
        proc = subprocess.run(
            cmd,
            cwd=ROLE,
            env=_env(),
            stdout=out or subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
    finally:
        if out:
            out.close()
    if proc.returncode != 0:
        tail = (proc.stdout or "").strip().splitlines()[-15:] if not log else [f"log: {log}"]
        raise ServiceError(f"molecule {action} (roles/ent_portal) failed:\n" + "\n".join(tail))


def up(log: Path | None = None) -> None:
    molecule("converge", log)


def down(log: Path | None = None) -> None:
    molecule("destroy", log)
