"""Errors a user can cause. Each carries a message that says what is wrong and what to do.

The CLI turns a PreauError into one red line and its exit code; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass


class PreauError(Exception):
    """Base for every error caused by input or environment, not by a bug."""

    exit_code = 1


class BadInput(PreauError):
    """Source data or arguments are wrong: nothing was changed."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One validation finding: which object, which field, what is wrong.

    `site` is the slug of the site the object belongs to (None: the département itself), so a
    source can say where it lives: `file` (and `line` when known) is that place, a file of the
    embedded source of truth or a NetBox object.
    """

    obj: str
    field: str
    message: str
    site: str | None = None
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        return f"{where}{self.obj}: {self.field}: {self.message}"


class ValidationFailed(BadInput):
    """The source of truth failed validation; lists every problem found, nothing written."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"{len(problems)} problem(s) in the source of truth, nothing written:\n{lines}"
        )


class NetBoxUnavailable(PreauError):
    """NetBox cannot be reached or refuses our token."""


class ServiceError(PreauError):
    """A local service (NetBox, PostgreSQL, the lab) failed to start or answer."""


class EnvironmentFailure(PreauError):
    """A program preau runs failed, or a file it needs is missing or forbidden.

    Code that knows better raises ServiceError with its own advice; `from_exception` turns what
    escapes of subprocess and the file system into one line that says what failed and what to
    do (the CLI's main() calls it, so a missing `podman` is not a traceback).
    """

    @classmethod
    def from_exception(cls, exc: subprocess.CalledProcessError | OSError) -> EnvironmentFailure:
        if isinstance(exc, subprocess.CalledProcessError):
            return cls(_called_process(exc))
        what = exc.filename if exc.filename is not None else ""
        if isinstance(exc, FileNotFoundError) and _looks_like_program(what):
            return cls(
                f"{what}: command not found: install it (scripts/bootstrap installs the host "
                "packages preau needs) or put it on PATH"
            )
        if isinstance(exc, PermissionError):
            return cls(
                f"{what}: permission denied: run preau as a user allowed to use it "
                "(the lab and the local NetBox run as root)"
            )
        return cls(f"{what or 'file'}: {exc.strerror or exc}: check the path and rerun")


def _called_process(exc: subprocess.CalledProcessError) -> str:
    argv = exc.cmd if isinstance(exc.cmd, list | tuple) else [str(exc.cmd)]
    command = shlex.join(str(a) for a in argv)
    if len(command) > 120:
        command = command[:117] + "..."
    output = exc.stderr or exc.output or ""
    if isinstance(output, bytes):
        output = output.decode(errors="replace")
    last = next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "")
    said = f": {last}" if last else " (its output is above)"
    return f"`{command}` failed with exit code {exc.returncode}{said}; fix that and rerun"


def _looks_like_program(name: str) -> bool:
    # subprocess reports the program it could not start as the error's filename; a bare name
    # that PATH does not know is a missing program, not a missing data file.
    return bool(name) and "/" not in name and shutil.which(name) is None
