"""`preau monitoring ...`: Prometheus' targets from the model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from preau.commands.options import DryRun, InventoryPath, Json, Source
from preau.monitoring import targets as tg
from preau.output import console, print_json
from preau.sot import open_source
from preau.sot.validate import check

app = typer.Typer(no_args_is_help=True)


@app.command()
def targets(
    source: Source = None,
    path: InventoryPath = None,
    json: Json = False,
    write: Annotated[
        Path | None,
        typer.Option(
            "--write",
            help="Write the file_sd JSON and the uplinks' rules into this folder "
            "(the monitoring host's /etc/prometheus/preau); only changed files are written.",
        ),
    ] = None,
    dry_run: DryRun = False,
) -> None:
    """Every router and server of every collège, and the ENT, as Prometheus targets."""
    dep = check(open_source(source, path).read())
    if write is not None:
        if dry_run:
            current = {
                n: (write / n).read_text(encoding="utf-8") if (write / n).is_file() else None
                for n in tg.files(dep)
            }
            stale = [n for n, text in tg.files(dep).items() if current[n] != text]
            console.print(f"would write {', '.join(stale) or 'nothing'} in {write}")
            return
        changed = tg.write(dep, write)
        console.print(f"{write}: {', '.join(changed) if changed else 'nothing to change'}")
        return
    ts = tg.targets(dep)
    if json:
        print_json([{"job": t.job, **t.file_sd()} for t in ts])
        return
    table = Table(title=f"{dep.name}: {len(ts)} targets")
    for col in ("job", "target", "UAI", "site", "role", "host", "room"):
        table.add_column(col)
    for t in ts:
        lb = t.labels
        table.add_row(t.job, t.address, lb.get("uai", ""), lb["site"], lb["role"], lb["host"],
                      lb["room"])  # fmt: skip
    console.print(table)
