"""`preau college rollout / plan / drift`: the commands; what they run and print lives in
preau.rollout (the stages) and preau.rollout_report (the live view and the reports), imported
when a command runs so that `preau --help` stays light."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from preau.commands.options import DryRun, InventoryPath, Json, Source

Keys = Annotated[list[str] | None, typer.Argument(help="Collèges: slugs or UAIs.")]
OneKey = Annotated[str, typer.Argument(help="Collège: slug or UAI.")]
All = Annotated[bool, typer.Option("--all", help="Every collège of the département.")]
Parallel = Annotated[
    int | None,
    typer.Option("--parallel", min=1, max=16, help="Collèges rolled out at once.  [default: 2]"),
]
Where = Annotated[
    str,
    typer.Option("--target", help="auto (the twin when it runs the collège), lab or ssh."),
]
Limit = Annotated[
    list[str] | None,
    typer.Option(
        "--limit", help="Only these devices (repeat): the router if named, these servers."
    ),
]
Diff = Annotated[bool, typer.Option("--diff", help="Print every task's full diff.")]


def rollout(
    keys: Keys = None,
    every: All = False,
    dry_run: DryRun = False,
    parallel: Parallel = None,
    limit: Limit = None,
    target: Where = "auto",
    source: Source = None,
    path: InventoryPath = None,
    json: Json = False,
    accept: Annotated[
        bool | None,
        typer.Option(
            "--accept/--no-accept",
            help="End with the acceptance checks (`preau college accept`) on each collège "
            "rolled out in the twin; exit 3 when one is refused.  [default: on, where they "
            "can run: the twin, not a dry run]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Roll out collèges: the router (pyinfra), then the servers (Ansible), then a summary."""
    from preau import rollout_report

    rollout_report.rollout(
        keys, every, dry_run, parallel, limit, target, source, path, json, accept
    )


def plan(
    key: OneKey,
    diff: Diff = False,
    target: Where = "auto",
    source: Source = None,
    path: InventoryPath = None,
    json: Json = False,
) -> None:
    """What a rollout would change: the router's diff and each server task's (check mode).

    Exit code 0: nothing would change; 3: something would; 1: the plan failed.
    """
    from preau import rollout_report

    rollout_report.plan(key, diff, target, source, path, json)


def drift(
    key: OneKey,
    diff: Diff = True,
    target: Where = "auto",
    source: Source = None,
    path: InventoryPath = None,
    json: Json = False,
) -> None:
    """On a rolled-out collège: what was changed behind preau's back (host, object, diff).

    Exit code 0: no drift; 3: drift found (for cron and CI); 1: the check failed.
    """
    from preau import rollout_report

    rollout_report.drift(key, diff, target, source, path, json)


def accept(
    key: OneKey,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for acceptance.html/.json (default: the runs log)."),
    ] = None,
    target: Where = "auto",
    source: Source = None,
    path: InventoryPath = None,
    json: Json = False,
) -> None:
    """The acceptance report ("recette"): leases, time, boot, services and isolation from each
    VLAN, a pupil's home from PC to PC, a page to the printer; HTML (with the topology) and JSON.

    Exit code 0: accepted; 3: a check failed (each says what to fix); 2: bad input.
    """
    from preau import rollout_report

    rollout_report.accept(key, out, target, source, path, json)


def register(app: typer.Typer) -> None:
    """Add rollout, plan, drift and accept to `preau college`."""
    app.command("rollout")(rollout)
    app.command("plan")(plan)
    app.command("drift")(drift)
    app.command("accept")(accept)
