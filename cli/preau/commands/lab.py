"""`preau lab ...`: the twin. `preau lab image ...` builds and lists its host images."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from preau.lab import images as lab_images

app = typer.Typer(no_args_is_help=True)
image_app = typer.Typer(no_args_is_help=True)
app.add_typer(image_app, name="image", help="Lab host images: build (cached by recipe), list.")

_out = Console()


@image_app.command("build")
def image_build(
    names: Annotated[
        list[str] | None, typer.Argument(help="Images to build (default: all); parents come too.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if cached.")] = False,
) -> None:
    """Build lab images from lab/images/; an image whose recipe is unchanged is not rebuilt."""
    planned = lab_images.plan(names or [])
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.fields[name]:<8}"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=_out,
        transient=False,
    ) as progress:
        tasks: dict[str, TaskID] = {
            image.recipe.name: progress.add_task(
                "[dim]waiting", name=image.recipe.name, total=1, start=False
            )
            for image in planned
        }

        def say(image: lab_images.Image, line: str) -> None:
            task = tasks[image.recipe.name]
            progress.start_task(task)
            progress.update(task, description=f"[cyan]{line[:90]}", refresh=False)

        def built(result: lab_images.Built) -> None:
            what = "[green]cached" if result.cached else f"[green]built in {result.seconds:.0f} s"
            task = tasks[result.image.recipe.name]
            progress.start_task(task)
            progress.update(task, description=f"{what} [dim]{result.image.ref}", completed=1)

        for image in planned:
            progress.start_task(tasks[image.recipe.name])
            for result in lab_images.build([image], force=force, say=say):
                built(result)


@image_app.command("list")
def image_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Each image: its recipe tag, whether that tag is built, and its size."""
    rows = lab_images.status()
    if as_json:
        payload = [
            {
                "name": r.name,
                "image": f"{lab_images.PREFIX}{r.name}",
                "tag": r.tag,
                "built": r.built,
                "size": r.size,
            }
            for r in rows
        ]
        typer.echo(json.dumps(payload, indent=2))
        return
    table = Table("name", "image", "tag", "built", "size")
    for r in rows:
        size = f"{r.size / 1e6:.0f} MB" if r.size is not None else "-"
        built = "[green]yes" if r.built else "[yellow]no"
        table.add_row(r.name, f"{lab_images.PREFIX}{r.name}", r.tag, built, size)
    _out.print(table)
