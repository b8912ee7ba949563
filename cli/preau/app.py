"""The `preau` command: one sub-app per noun, mounted here.

Importing this module stays cheap so that `preau --help` answers at once (bench/cli/): the
command modules import what they use (the model, pyinfra, pynetbox, Jinja2...) inside their
commands, and help is plain text, not rich's (typer's rich help imports ~0.4 s of modules).
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING, NoReturn

import typer

from preau.commands import (
    college,
    ent,
    image,
    inventory,
    lab,
    monitoring,
    net,
    netbox,
    roster,
    sot,
)
from preau.errors import EnvironmentFailure, PreauError

if TYPE_CHECKING:
    from collections.abc import Iterator

app = typer.Typer(
    name="preau",
    help="Infrastructure as code for a département's collège network (ENC).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(sot.app, name="sot", help="Source of truth: validate, push, export, generate.")
app.add_typer(college.app, name="college", help="Collèges: list, show, onboard.")
app.add_typer(netbox.app, name="netbox", help="The local NetBox: up, down, reset, status, setup.")
app.add_typer(inventory.app, name="inventory", help="Ansible inventory from the model.")
app.add_typer(lab.app, name="lab", help="The twin: lab host images and containers.")
app.add_typer(roster.app, name="roster", help="Collège rosters: check, preview accounts.")
app.add_typer(net.app, name="net", help="Network configs: render, goldens, plan, apply, bandwidth.")
app.add_typer(ent.app, name="ent", help="The ENT portal: status, scale, autoscale, load tests.")
app.add_typer(image.app, name="image", help="PC images: build and list (images/<name>/).")
app.add_typer(monitoring.app, name="monitoring", help="Monitoring: Prometheus targets, status.")

# Where the parser's exceptions may come from: typer >= 0.2x bundles its own copy of click
# (typer._click, base class typer.TyperException); older typer raises click's. Both may be
# loaded at once (other tools import click), and neither is imported here just to be caught.
_PARSER_MODULES = ("typer._click.exceptions", "typer.exceptions", "click.exceptions")


def _parser_classes(name: str) -> tuple[type[BaseException], ...]:
    """Every loaded exception class called `name` from typer's or click's parser."""

    def candidates() -> Iterator[object]:
        yield from (c for c in typer.BadParameter.__mro__)
        yield getattr(typer, name, None)
        for module in _PARSER_MODULES:
            yield getattr(sys.modules.get(module), name, None)

    found = {
        c
        for c in candidates()
        if isinstance(c, type) and issubclass(c, BaseException) and c.__name__ == name
    }
    return tuple(found)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fail(message: str, code: int) -> NoReturn:
    """One red `error:` line (or the lines a PreauError chose to list) on stderr, then exit."""
    from rich.console import Console
    from rich.text import Text

    Console(stderr=True, highlight=False, soft_wrap=True).print(
        Text.assemble(("error:", "bold red"), " ", message)
    )
    sys.exit(code)


def main() -> None:
    """Entry point: run the app, turning expected errors into one red message and an exit code.

    Usage errors (unknown option or command, missing option, bad value) exit 2; errors of the
    environment (a program that fails or is missing) exit 1; anything else is a bug and keeps
    its traceback. PREAU_DEBUG=1 keeps the traceback of environment errors too.
    """
    usage_errors = _parser_classes("UsageError")
    parser_errors = _parser_classes("ClickException")
    aborts = _parser_classes("Abort")
    exits = _parser_classes("Exit")
    try:
        rv = app(standalone_mode=False)
    except PreauError as exc:
        _fail(str(exc), exc.exit_code)
    except usage_errors as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            # `preau` or `preau sot` alone: the help is the answer (exit 2, as click does).
            print(ctx.get_help(), file=sys.stderr)
            sys.exit(2)
        where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        _fail(_one_line(exc.format_message()) + where, 2)  # type: ignore[attr-defined]
    except parser_errors as exc:
        _fail(_one_line(exc.format_message()), getattr(exc, "exit_code", 1))  # type: ignore[attr-defined]
    except aborts:
        _fail("aborted", 1)
    except exits as exc:
        sys.exit(getattr(exc, "exit_code", 0))
    except (subprocess.CalledProcessError, FileNotFoundError, PermissionError) as exc:
        if os.environ.get("PREAU_DEBUG") == "1":
            raise
        failure = EnvironmentFailure.from_exception(exc)
        _fail(str(failure), failure.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)
