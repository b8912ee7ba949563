"""Sources of truth: the embedded files and NetBox, behind one small interface.

`open_source()` picks the backend: NetBox when one is configured (PREAU_NETBOX_URL and
PREAU_NETBOX_TOKEN, or the local NetBox that `preau netbox up` started), otherwise the
embedded files under inventory/. Commands only talk to the `SourceOfTruth` protocol.

This module imports no backend and no model at import time: the CLI imports it cheaply.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from preau.errors import BadInput, NetBoxUnavailable

if TYPE_CHECKING:
    from preau.model import College, Departement
    from preau.sot.layout import CollegeSpec


@dataclass
class ChangeReport:
    """What a write did (or would do, in a dry run): counts per object kind and verb."""

    dry_run: bool = False
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)

    def add(self, verb: str, kind: str, what: str = "", n: int = 1) -> None:
        bucket = {"create": self.created, "update": self.updated, "delete": self.deleted}[verb]
        bucket[kind] = bucket.get(kind, 0) + n
        if what:
            self.details.append(f"{verb} {kind} {what}")

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    def as_dict(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "changed": self.changed,
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "details": self.details,
        }


class SourceOfTruth(Protocol):
    """What every backend offers; both keep the same model."""

    name: str

    def read(self) -> Departement:
        """The whole département."""
        ...

    def push(self, dep: Departement, *, dry_run: bool = False) -> ChangeReport:
        """Make this backend hold exactly `dep` (validated first); idempotent."""
        ...

    def add_college(
        self, spec: CollegeSpec, *, dry_run: bool = False, update: bool = False
    ) -> tuple[College, ChangeReport]:
        """Allocate and create a new collège; a rerun with the same spec changes nothing.

        A rerun with other details is an error naming each difference, unless `update`: then
        the name, commune, pupils and commit rate are changed, nothing else.
        """
        ...


def repo_root() -> Path:
    """The checkout this package runs from (cli/preau -> repo)."""
    return Path(__file__).resolve().parents[3]


def env_inventory() -> Path | None:
    """$PREAU_INVENTORY: the embedded files a caller (a rollout's --path) chose, or None."""
    env = os.environ.get("PREAU_INVENTORY")
    return Path(env) if env else None


def default_inventory() -> Path:
    """The embedded département: $PREAU_INVENTORY, else the repo's inventory/."""
    return env_inventory() or repo_root() / "inventory"


def rosters_dir(path: Path | None = None) -> Path:
    """The collèges' rosters (`<UAI>.csv`, the school software's export): beside the embedded
    files, and there still when NetBox holds the département (NetBox keeps no roster)."""
    return (path or default_inventory()) / "rosters"


def open_source(
    kind: str | None = None, path: Path | None = None, *, changes: bool = False
) -> SourceOfTruth:
    """The backend to use: `kind` is 'files', 'netbox' or None (NetBox if configured).

    With kind None and a local NetBox set up but not answering, a read falls back to the
    embedded files with a note; a caller that `changes` a device or the source of truth with
    what it gets (net apply, net bandwidth, college add...) is refused instead: acting on the
    demo files while NetBox holds the département would push the wrong network. `--source
    files` (kind 'files') says the files are meant.
    """
    from preau.sot.filesource import FileSource

    if kind not in (None, "files", "netbox"):
        raise BadInput(f"unknown source {kind!r}: use 'files' or 'netbox'")
    if kind == "files":
        return FileSource(path or default_inventory())
    from preau.netbox_local import client_settings, resolve_settings

    settings = resolve_settings()
    if settings is None:
        local = client_settings()
        if kind == "netbox" and local is None:
            raise BadInput(
                "no NetBox configured: set PREAU_NETBOX_URL and PREAU_NETBOX_TOKEN, "
                "or start the local one with `preau netbox up`"
            )
        if local is not None and kind == "netbox":
            raise NetBoxUnavailable(
                f"the local NetBox ({local.url}) is set up but not answering: start it with "
                "`preau netbox up`"
            )
        if local is not None and changes:
            raise NetBoxUnavailable(
                f"the local NetBox ({local.url}) is set up but not answering, and this command "
                "changes what it reads: start it with `preau netbox up`, or pass `--source "
                "files` to act on the embedded files"
            )
        if local is not None:
            # Set up once but not answering now: say so, rather than let a user believe they
            # read NetBox while they read the files.
            from rich.console import Console

            Console(stderr=True).print(
                "[yellow]note:[/] the local NetBox is not answering; reading the embedded files "
                "(`preau netbox up` to use NetBox, `--source files` to silence this)"
            )
        return FileSource(path or default_inventory())
    from preau.sot.netbox import NetBoxSource

    return NetBoxSource(settings)
