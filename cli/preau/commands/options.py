"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Source = Annotated[
    str | None,
    typer.Option(
        "--source",
        envvar="PREAU_SOURCE",
        help="files or netbox (default: NetBox when configured, else the embedded files).",
    ),
]
InventoryPath = Annotated[
    Path | None,
    typer.Option("--path", help="Folder of the file source of truth (default: inventory/)."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")]
