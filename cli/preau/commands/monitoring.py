"""`preau monitoring ...`: Prometheus' targets from the model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from preau.commands.options import DryRun, InventoryPath, Json, Source
from preau.errors import BadInput

# `preau --help` imports every command module: what a command uses is imported in its body.
if TYPE_CHECKING:
    from preau.model import College, Departement
    from preau.monitoring import status as st

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
    from rich.table import Table

    from preau import writes
    from preau.monitoring import targets as tg
    from preau.output import console, print_json
    from preau.sot import open_source
    from preau.sot.validate import check

    dep = check(open_source(source, path).read())
    if write is not None:
        if dry_run:
            stale = writes.stale(write, tg.files(dep))
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


PrometheusUrl = Annotated[
    str | None,
    typer.Option(
        "--prometheus-url",
        envvar="PREAU_PROMETHEUS_URL",
        help="Prometheus' address (default: the monitoring host of the source of truth, :9090).",
    ),
]


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def prometheus(dep: Departement, url: str | None) -> st.Prometheus:
    from preau.monitoring import status as st

    url = url or st.default_url(dep)
    if url is None:
        raise BadInput("no monitoring host in the source of truth: give --prometheus-url")
    return st.Prometheus(url)


def states(dep: Departement, url: str | None, colleges: list[College]) -> list[st.CollegeState]:
    from preau.monitoring import status as st

    return st.collect(dep, prometheus(dep, url), colleges)


@app.command()
def status(
    source: Source = None,
    path: InventoryPath = None,
    prometheus_url: PrometheusUrl = None,
    json: Json = False,
) -> None:
    """Every collège at a glance, from Prometheus: hosts up, firing alerts, uplink load."""
    from rich.table import Table

    from preau.output import console, print_json
    from preau.sot import open_source
    from preau.sot.validate import check

    dep = check(open_source(source, path).read())
    rows = states(dep, prometheus_url, list(dep.colleges))
    if json:
        print_json([r.as_dict() for r in rows])
        return
    table = Table(title=f"{dep.name}: monitoring")
    for col in ("UAI", "collège", "up", "alerts", "uplink out", "uplink in", "Mbit/s"):
        table.add_column(col)
    for r in rows:
        colour = "green" if r.up == len(r.hosts) and not r.alerts else "red"
        table.add_row(
            r.uai, r.name, f"[{colour}]{r.up}/{len(r.hosts)}[/]",
            ", ".join(a["alertname"] for a in r.alerts) or "-",
            _pct(r.uplink.get("out")), _pct(r.uplink.get("in")), str(r.commit_rate_mbps or ""),
        )  # fmt: skip
    console.print(table)


def print_college(state: st.CollegeState) -> None:
    """One collège's state for people: hosts, uplink, alerts."""
    from rich.table import Table

    from preau.output import console

    console.print(f"[bold]{state.name}[/] — UAI {state.uai}: {state.up}/{len(state.hosts)} up")
    if state.commit_rate_mbps:
        console.print(
            f"uplink ({state.commit_rate_mbps} Mbit/s): out {_pct(state.uplink.get('out')) or '?'}"
            f", in {_pct(state.uplink.get('in')) or '?'}"
        )
    table = Table()
    for col in ("host", "role", "room", "up", "memory", "disk"):
        table.add_column(col)
    for h in state.hosts:
        up = "[yellow]unknown[/]" if h.up is None else ("[green]up[/]" if h.up else "[red]DOWN[/]")
        table.add_row(h.host, h.role, h.room, up, _pct(h.memory_used), _pct(h.disk_used))
    console.print(table)
    for a in state.alerts:
        what = " ".join(f"{k}={v}" for k, v in a.items() if k != "alertname")
        console.print(f"[red]firing[/] {a['alertname']} {what}")
