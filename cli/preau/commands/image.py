"""`preau image ...`: build and list the PC images (images/<name>/, built with mmdebstrap)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from preau.commands.options import Json

app = typer.Typer(no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="The image: a folder of images/ (e.g. poste-leger).")]


@app.command("build")
def build_cmd(
    name: Name,
    proxy: Annotated[
        str | None,
        typer.Option(help="apt proxy to fetch packages through (a collège's apt cache)."),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Rebuild even if the cache holds this recipe.")
    ] = False,
    json: Json = False,
) -> None:
    """Build an image from its recipe (cached by the recipe's hash: a rebuild costs nothing)."""
    from rich.status import Status

    from preau.images import build, recipes
    from preau.output import console, print_json

    recipe = recipes.recipe(name)
    with Status(f"{name}: starting", console=console) as status:

        def say(line: str) -> None:
            status.update(f"{name}: {line[:100]}")

        built = build.build(recipe, proxy=proxy, force=force, say=say)
    info = built.info()
    if json:
        print_json({**info, "cached": built.cached, "directory": str(built.directory)})
        return
    sizes = info["sizes"]
    assert isinstance(sizes, dict)
    verdict = "in the cache" if built.cached else f"built in {built.seconds:.0f} s"
    console.print(
        f"[green]{name} {built.key}: {verdict}[/], {info['packages']} packages, root filesystem "
        f"{sizes['filesystem.squashfs'] / 2**20:.0f} MiB ({built.directory})"
    )


@app.command("list")
def list_cmd(json: Json = False) -> None:
    """The images with a recipe, and their builds in the cache."""
    from rich.table import Table

    from preau.images import build, recipes
    from preau.output import console, print_json

    rows: list[dict[str, object]] = []
    for name in recipes.names():
        recipe = recipes.recipe(name)
        folders: list[Path | None] = [*build.built(name)] or [None]
        for folder in folders:
            info = build.Built(name, folder.name, folder, 0, True).info() if folder else {}
            sizes = info.get("sizes", {})
            assert isinstance(sizes, dict)
            rows.append(
                {
                    "name": name,
                    "description": recipe.description,
                    "recipe_key": recipe.key,
                    "built_key": folder.name if folder else None,
                    "current": folder is not None and folder.name == recipe.key,
                    "packages": info.get("packages"),
                    "squashfs_bytes": sizes.get("filesystem.squashfs"),
                    "build_seconds": info.get("seconds"),
                }
            )
    if json:
        print_json(rows)
        return
    table = Table(title="PC images")
    for col in ("image", "build", "packages", "root fs", "built in", "description"):
        table.add_column(col)
    for r in rows:
        key = str(r["built_key"] or "[yellow]not built[/]")
        if r["built_key"] and not r["current"]:
            key += " (old recipe)"
        size = r["squashfs_bytes"]
        table.add_row(
            str(r["name"]),
            str(key),
            str(r["packages"] or ""),
            f"{size / 2**20:.0f} MiB" if isinstance(size, int) else "",
            f"{r['build_seconds']} s" if r["build_seconds"] else "",
            str(r["description"]),
        )
    console.print(table)
