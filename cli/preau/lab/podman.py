"""The one way preau runs podman: always with the repo's containers.conf, errors as ServiceError."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from preau.errors import ServiceError

# The package lives in <repo>/cli/preau; the lab settings live in <repo>/lab.
REPO = Path(__file__).resolve().parents[3]
CONTAINERS_CONF = REPO / "lab" / "containers.conf"


def env() -> dict[str, str]:
    """The environment for podman here: runc and explicit ulimits come from our containers.conf."""
    if not CONTAINERS_CONF.is_file():
        raise ServiceError(f"{CONTAINERS_CONF} is missing: preau must run from its git checkout")
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def _executable() -> str:
    exe = shutil.which("podman")
    if exe is None:
        raise ServiceError("podman is not installed: run scripts/bootstrap")
    return exe


def run(
    *args: str,
    check: bool = True,
    input: bytes | None = None,  # noqa: A002 - same name as subprocess.run
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `podman ARGS`, capture its output; raise ServiceError with podman's stderr on failure."""
    cmd = [_executable(), *args]
    proc = subprocess.run(
        cmd,
        env=env(),
        cwd=cwd,
        input=input.decode() if input is not None else None,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise ServiceError(_failure(args, proc.returncode, proc.stderr))
    return proc


def stream(
    args: Sequence[str],
    on_line: Callable[[str], None],
    cwd: Path | None = None,
    stdin: int | None = None,
) -> None:
    """Run a long podman command (build, import), handing each output line to on_line.

    Raises ServiceError carrying the last lines of output if podman fails.
    """
    cmd = [_executable(), *args]
    tail: list[str] = []
    with subprocess.Popen(
        cmd,
        env=env(),
        cwd=cwd,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip()
            tail = [*tail[-19:], line]
            on_line(line)
        rc = proc.wait()
    if rc != 0:
        raise ServiceError(_failure(tuple(args), rc, "\n".join(tail)))


def image_exists(ref: str) -> bool:
    """True if the local store holds the image `ref` (podman's own cache check)."""
    return run("image", "exists", ref, check=False).returncode == 0


def _failure(args: Sequence[str], rc: int, output: str) -> str:
    what = " ".join(args[:2])
    return f"podman {what} failed (exit {rc}): {output.strip() or 'no output'}"
