"""`preau roster ...`: check a collège roster and preview the accounts it gives."""

from __future__ import annotations

import json as jsonlib
from pathlib import Path
from typing import Annotated, Any

import typer

from preau.commands.options import Json
from preau.errors import BadInput

app = typer.Typer(no_args_is_help=True)

RosterFile = Annotated[Path, typer.Argument(help="The roster CSV (; separated, UTF-8).")]
StateFile = Annotated[
    Path | None,
    typer.Option(
        "--state",
        help="State left by the previous import (/var/lib/preau/roster-state.json on the "
        "file server): keeps logins and shows updates and disabled accounts.",
    ),
]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise BadInput(
            f"{path}: not UTF-8 (byte {exc.start}); export the roster as CSV UTF-8"
        ) from None


def _state(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = jsonlib.loads(_read(path))
    except jsonlib.JSONDecodeError as exc:
        raise BadInput(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object with 'accounts'")
    return data


@app.command("plan")
def plan_(roster: RosterFile, state: StateFile = None, json: Json = False) -> None:
    """Check the whole roster and show the accounts, groups and what an import would change."""
    from rich.table import Table

    from preau.output import console, print_json
    from preau.roster import plan_csv

    result = plan_csv(_read(roster), _state(state), roster.name).to_dict()
    if json:
        print_json({k: v for k, v in result.items() if k != "state"})
        return
    table = Table(title=f"{roster.name}: {len(result['accounts'])} accounts")
    for col in ("login", "name", "profile", "classes", "change"):
        table.add_column(col)
    created, updated = set(result["created"]), set(result["updated"])
    for a in result["accounts"]:
        change = "create" if a["login"] in created else "update" if a["login"] in updated else ""
        table.add_row(a["login"], a["name"], a["profile"], ", ".join(a["classes"]), change)
    console.print(table)
    console.print(
        f"would create {len(result['created'])}, update {len(result['updated'])}, "
        f"disable {len(result['disabled'])}, leave {result['unchanged']} unchanged"
    )
    if result["disabled"]:
        console.print(f"disable: {', '.join(result['disabled'])}")
