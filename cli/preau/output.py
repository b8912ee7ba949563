"""Printing for commands: rich tables for people, JSON for scripts."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console
from rich.table import Table

from preau.sot import ChangeReport

console = Console()
# progress bars go to stderr: stdout stays for the report (and JSON)
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    """Plain JSON on stdout (no colours, no wrapping), for pipes and `jq`."""
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def print_report(report: ChangeReport, what: str) -> None:
    """A change report as a table, with a one-line verdict."""
    verb = "would change" if report.dry_run else "changed"
    if not report.changed:
        console.print(f"[green]{what}: nothing to change[/]")
        return
    table = Table(title=f"{what}: {verb}")
    table.add_column("object")
    for col in ("created", "updated", "deleted"):
        table.add_column(col, justify="right")
    kinds = sorted(set(report.created) | set(report.updated) | set(report.deleted))
    for kind in kinds:
        table.add_row(
            kind,
            str(report.created.get(kind, "")),
            str(report.updated.get(kind, "")),
            str(report.deleted.get(kind, "")),
        )
    console.print(table)
    if report.dry_run:
        console.print("[yellow]dry run: nothing was written[/]")


@contextlib.contextmanager
def write_progress(label: str) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr (so `--json` stays clean) for a long write, one step at a time:
    the callback takes what is being written, how many objects are done, and of how many."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(what: str, done: int, total: int) -> None:
            bar.update(task, description=f"{label}: {what}", completed=done, total=total)

        yield update
