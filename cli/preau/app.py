"""The `preau` command: one sub-app per noun, mounted here."""

from __future__ import annotations

import sys

import click
import typer
from rich.console import Console

from preau.commands import college, ent, inventory, lab, monitoring, net, netbox, roster, sot
from preau.errors import PreauError

app = typer.Typer(
    name="preau",
    help="Infrastructure as code for a département's collège network (ENC).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(sot.app, name="sot", help="Source of truth: validate, push, export, generate.")
app.add_typer(college.app, name="college", help="Collèges: list, show, onboard.")
app.add_typer(netbox.app, name="netbox", help="The local NetBox: up, down, reset, status, setup.")
app.add_typer(inventory.app, name="inventory", help="Ansible inventory from the model.")
app.add_typer(lab.app, name="lab", help="The twin: lab host images and containers.")
app.add_typer(roster.app, name="roster", help="Collège rosters: check, preview accounts.")
app.add_typer(net.app, name="net", help="Network configs: render, goldens, plan, apply, bandwidth.")
app.add_typer(ent.app, name="ent", help="The ENT portal: status, scale, autoscale, load tests.")
app.add_typer(monitoring.app, name="monitoring", help="Monitoring: Prometheus targets, status.")

_err = Console(stderr=True)


def main() -> None:
    """Entry point: run the app, turning expected errors into one red message and an exit code."""
    try:
        rv = app(standalone_mode=False)
    except PreauError as exc:
        _err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _err.print("[red]aborted[/]")
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    sys.exit(rv if isinstance(rv, int) else 0)
