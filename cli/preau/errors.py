"""Errors a user can cause. Each carries a message that says what is wrong and what to do.

The CLI turns a PreauError into one red line and its exit code; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

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
