"""`preau netbox ...` commands: the local, real NetBox (up, down, reset, status)."""

from __future__ import annotations

import json
import time

import typer

app = typer.Typer(no_args_is_help=True)


@app.command()
def up(
    migrate: bool = typer.Option(
        False,
        "--migrate",
        help="Maintainers: run NetBox's migrations instead of restoring the shipped dump, "
        "and write a fresh dump into the cache.",
    ),
) -> None:
    """Start the local NetBox (PostgreSQL, Redis, gunicorn); does nothing if it is healthy."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from preau.netbox_local import service
    from preau.output import console as _out

    started = time.monotonic()
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description:<10}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_out, transient=True) as progress:
        task = progress.add_task("checking", total=len(service.STEPS))
        seen: list[str] = []

        def step(name: str) -> None:
            if seen:
                progress.advance(task)
            seen.append(name)
            progress.update(task, description=name)

        def note(msg: str) -> None:
            progress.console.print(f"  {msg}")

        changed = service.up(migrate=migrate, step=step, note=note)
        if seen:
            progress.advance(task)
    st = service.status()
    took = time.monotonic() - started
    if changed:
        _out.print(f"[green]NetBox {st.netbox_version or ''} is up[/] at {st.url} ({took:.1f} s)")
    else:
        _out.print(f"[green]NetBox is already up[/] at {st.url}: nothing to do")
    _out.print(f"token: set (in {st.token_file})")


@app.command()
def down(
    purge: bool = typer.Option(
        False, "--purge", help="Also delete the state, secrets and PostgreSQL data."
    ),
) -> None:
    """Stop gunicorn, Redis and PostgreSQL; leave no process behind."""
    from preau.netbox_local import service
    from preau.output import console as _out

    stopped = service.down(purge=purge)
    what = ", ".join(stopped) if stopped else "nothing was running"
    _out.print(f"stopped: {what}" + ("; state and data deleted" if purge else ""))


@app.command()
def reset() -> None:
    """Put the NetBox database back to the clean seed (admin user and token kept)."""
    from preau.netbox_local import service
    from preau.output import console as _out

    started = time.monotonic()
    service.reset()
    _out.print(f"database reset to the seed in {time.monotonic() - started:.2f} s")


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show each service of the local NetBox: port, pid, health. Exit 1 when not healthy."""
    from rich.table import Table

    from preau.netbox_local import service
    from preau.output import console as _out

    st = service.status()
    if as_json:
        typer.echo(json.dumps(st.to_json(), indent=2))
    else:
        table = Table(title=f"local NetBox {st.netbox_version or ''} at {st.url}")
        for col in ("service", "port", "pid", "health"):
            table.add_column(col)
        for s in st.services:
            health = f"[green]ok[/] ({s.detail})" if s.healthy else f"[red]{s.detail}[/]"
            table.add_row(s.name, str(s.port), str(s.pid or "-"), health)
        _out.print(table)
        where = f"set (in {st.token_file})" if st.token_set else "not set: run `preau netbox up`"
        _out.print(f"token: {where}")
    if not st.healthy:
        raise typer.Exit(1)


@app.command()
def setup(
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; write nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Create what preau needs in NetBox: custom fields, roles, platforms, types, tag, provider."""
    from preau.errors import BadInput
    from preau.netbox_local import resolve_settings
    from preau.output import print_json, print_report
    from preau.sot.netbox import NetBoxSource

    settings = resolve_settings()
    if settings is None:
        raise BadInput(
            "no NetBox configured: set PREAU_NETBOX_URL and PREAU_NETBOX_TOKEN, "
            "or start the local one with `preau netbox up`"
        )
    report = NetBoxSource(settings).setup(dry_run=dry_run)
    if as_json:
        print_json(report.as_dict())
    else:
        print_report(report, f"setup of {settings.url}")
