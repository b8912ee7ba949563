"""`preau image ...`: build, list, publish and roll back the PC images (images/<name>/)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from preau.commands.options import DryRun, InventoryPath, Json, Source
from preau.errors import BadInput

if TYPE_CHECKING:
    from preau.model import College as CollegeSite

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


College = Annotated[str, typer.Option("--college", "-c", help="Collège slug or UAI.")]


def _app_server(
    college: str, source: str | None, path: Path | None
) -> tuple[CollegeSite, list[Any], dict[str, str]]:
    """The collège's app server as a pyinfra host: the twin's container when it runs there,
    else SSH to its address; with the environment its connector needs."""
    from preau.commands.net import load
    from preau.lab import podman, twin
    from preau.lab.topology import container_name
    from preau.model import services

    dep = load(source, path)
    site = dep.college(college)
    if site is None:
        raise BadInput(f"--college {college}: no collège with this slug or UAI")
    servers = site.devices_by_role(services.HTTP_BOOT.host_role)
    if not servers or servers[0].primary_address is None:
        raise BadInput(
            f"site {site.slug}: devices: no {services.HTTP_BOOT.host_role} to publish on"
        )
    device = servers[0]
    name = container_name(device.name)
    running = twin.lab_containers()
    if name in running and running[name].state == "running":
        env = {"CONTAINERS_CONF": podman.env()["CONTAINERS_CONF"]}
        return site, [(f"@podman/{name}", {})], env
    assert device.primary_address is not None
    return site, [(str(device.primary_address.ip), {})], {}


@app.command("publish")
def publish_cmd(
    name: Name,
    college: College,
    default: Annotated[
        bool, typer.Option(help="Boot this image when nobody chooses (the collège's default).")
    ] = False,
    dry_run: DryRun = False,
    source: Source = None,
    path: InventoryPath = None,
) -> None:
    """Put the current build of an image on a collège's app server and boot it from now on."""
    from preau.deploys import images as deploy
    from preau.images import build, recipes
    from preau.output import console

    recipe = recipes.recipe(name)
    folder = build.output_dir(recipe)
    if not build.verify(folder):
        raise BadInput(
            f"image {name}: recipe {recipe.key} is not built: `preau image build {name}`"
        )
    site, hosts, env = _app_server(college, source, path)
    result = deploy.publish(
        hosts, env, site, name, folder, recipe.description, default=default, dry_run=dry_run
    )
    # pyinfra names an operation "<deploy> | <operation>": the operation says what changed
    changed = [op.name.rpartition(" | ")[2] for op in result.changed()]
    verb = "would change" if dry_run else "changed"
    if not changed:
        console.print(
            f"[green]{name} {recipe.key} on {college}: already published, nothing to change[/]"
        )
        return
    console.print(f"[green]{name} {recipe.key} on {college}: {verb} {', '.join(changed)}[/]")


@app.command("rollback")
def rollback_cmd(
    name: Name,
    college: College,
    room: Annotated[
        str | None,
        typer.Option(help="Only this room (one the source of truth gives this image)."),
    ] = None,
    dry_run: DryRun = False,
    source: Source = None,
    path: InventoryPath = None,
) -> None:
    """Boot the previously published build of an image again, on every PC or in one room:
    nothing is rebuilt or copied. A second rollback undoes the first."""
    from preau.deploys import images as deploy
    from preau.output import console

    site, hosts, env = _app_server(college, source, path)
    was, now, _ = deploy.rollback(hosts, env, site, name, room=room, dry_run=dry_run)
    verb = "would boot" if dry_run else "boots"
    where = f"room {room} of {college}" if room else college
    console.print(f"[green]{name} in {where}: {verb} {now} (was {was})[/]")
