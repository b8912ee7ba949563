"""`preau lab ...`: the twin. `preau lab image ...` builds and lists its host images."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from preau.commands.options import DryRun, InventoryPath, Json, Source

if TYPE_CHECKING:
    from preau.lab import topology as lab_topology
    from preau.model import Departement

app = typer.Typer(no_args_is_help=True)
image_app = typer.Typer(no_args_is_help=True)
app.add_typer(image_app, name="image", help="Lab host images: build (cached by recipe), list.")


@image_app.command("build")
def image_build(
    names: Annotated[
        list[str] | None, typer.Argument(help="Images to build (default: all); parents come too.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if cached.")] = False,
) -> None:
    """Build lab images from lab/images/; an image whose recipe is unchanged is not rebuilt."""
    from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

    from preau.lab import images as lab_images
    from preau.output import console as _out

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
    from rich.table import Table

    from preau.lab import images as lab_images
    from preau.output import console as _out

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


# --- the twin: up, down, status, shell, inventory (cli/preau/lab/twin.py, topology.py) ------

Colleges = Annotated[
    list[str] | None,
    typer.Option("--college", help="Collège slug or UAI, repeatable (default: the first one)."),
]


def _plan(
    colleges: list[str] | None,
    pcs: int = 2,
    printers: int = 1,
    ent_apps: int = 1,
    source: Source = None,
    path: InventoryPath = None,
    egress: bool = False,
    monitoring: bool = False,
) -> tuple[Departement, lab_topology.LabPlan]:
    from preau.lab import topology as lab_topology
    from preau.sot import open_source

    dep = open_source(source, path).read()
    plan = lab_topology.plan(
        dep,
        colleges,
        pcs=pcs,
        printers=printers,
        ent_apps=ent_apps,
        egress=egress,
        monitoring=monitoring,
    )
    return dep, plan


@app.command("up")
def up(
    college: Colleges = None,
    pcs: Annotated[int, typer.Option("--pcs", help="PCs per collège (VLANs alternate).")] = 2,
    printers: Annotated[int, typer.Option("--printers", help="Printers per collège.")] = 1,
    ent_apps: Annotated[int, typer.Option("--ent-apps", help="ENT portal app hosts.")] = 1,
    egress: Annotated[
        bool,
        typer.Option(
            "--egress",
            help="Let lab hosts reach the outside (Debian mirror) through the core: "
            "a veth to this machine, host routes and a masquerade rule (table ip preau_lab).",
        ),
    ] = False,
    monitoring: Annotated[
        bool,
        typer.Option("--monitoring", help="Also run the data centre's monitoring host."),
    ] = False,
    dry_run: DryRun = False,
    source: Source = None,
    path: InventoryPath = None,
) -> None:
    """Bring the twin up (or repair it) for the chosen collèges; removes lab hosts not chosen."""
    from preau.lab import twin as lab_twin
    from preau.output import console as _out

    _dep, plan = _plan(college, pcs, printers, ent_apps, source, path, egress, monitoring)
    if dry_run:
        _plan_table(plan, "would bring up")
        return
    where = {"source": source, "path": str(path) if path else None}
    with _out.status("lab up") as spinner:
        report = lab_twin.up(plan, say=lambda m: spinner.update(f"lab up: {m}"), source=where)
    done = (
        f"{len(report.created)} created, {len(report.started)} started, "
        f"{len(report.removed)} removed, {len(report.wired)} link(s) wired, "
        f"{len(report.configured)} host(s) configured"
    )
    verdict = done if report.changed else "nothing to change"
    if report.degraded:
        _out.print(f"[yellow]degraded (failed units): {', '.join(report.degraded)}")
    _out.print(
        f"[green]lab up[/] ({', '.join(plan.colleges)}): {len(plan.hosts)} hosts, "
        f"{verdict}, {report.seconds:.1f} s"
    )


def _plan_table(plan: lab_topology.LabPlan, title: str) -> None:
    from rich.table import Table

    from preau.output import console as _out

    table = Table(title=title)
    table.add_column("host", no_wrap=True)
    table.add_column("role / image")
    table.add_column("interfaces", no_wrap=True)
    table.add_column("routes")
    for h in plan.hosts:
        table.add_row(
            h.name,
            f"{h.role}\n[dim]{h.image}",
            "\n".join(f"{n.ifname} {n.address}" for n in h.nics),
            "\n".join(f"{r.destination} via {r.via}" for r in h.routes),
        )
    _out.print(table)


@app.command("down")
def down(dry_run: DryRun = False) -> None:
    """Remove every lab container, podman network and the lab switch namespace."""
    from preau.lab import twin as lab_twin
    from preau.output import console as _out

    if dry_run:
        for item in lab_twin.leftovers():
            _out.print(f"would remove {item}")
        return
    with _out.status("lab down") as spinner:
        report = lab_twin.down(say=lambda m: spinner.update(f"lab down: {m}"))
    _out.print(
        f"[green]lab down[/]: {len(report.removed)} container(s) removed"
        f"{', switch namespace deleted' if report.namespace else ''}, {report.seconds:.1f} s"
    )


@app.command("status")
def status(as_json: Json = False) -> None:
    """Each lab host: container state, systemd state, addresses, first hop reachable."""
    from rich.table import Table

    from preau.lab import twin as lab_twin
    from preau.output import console as _out
    from preau.output import print_json

    rows = lab_twin.status()
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    if not rows:
        _out.print("[yellow]no lab running[/] (`preau lab up`)")
        return
    table = Table(title="lab hosts")
    table.add_column("host", no_wrap=True)
    for column in ("role", "systemd"):
        table.add_column(column)
    table.add_column("interfaces", no_wrap=True)
    table.add_column("first hop")
    for r in rows:
        if r.state != "running":
            system = f"[red]container {r.state}"
        else:
            system = {"running": "[green]running", "degraded": "[yellow]degraded"}.get(
                r.system, f"[red]{r.system}"
            )
        reach = "-" if r.reachable is None else ("[green]✓ " if r.reachable else "[red]✗ ")
        table.add_row(r.name, r.role, system, "\n".join(r.addresses), f"{reach}{r.gateway or ''}")
    _out.print(table)


@app.command("shell")
def shell(host: Annotated[str, typer.Argument(help="Device name (or container name).")]) -> None:
    """An interactive shell in a lab host."""
    from preau.lab import twin as lab_twin

    argv, env = lab_twin.shell_argv(host)
    os.execvpe(argv[0], argv, env)


@app.command("inventory")
def lab_inventory(
    college: Colleges = None,
    pcs: Annotated[int | None, typer.Option("--pcs")] = None,
    printers: Annotated[int | None, typer.Option("--printers")] = None,
    ent_apps: Annotated[int | None, typer.Option("--ent-apps")] = None,
    source: Source = None,
    path: InventoryPath = None,
    script: Annotated[
        bool, typer.Option("--script", help="The --list format of executable inventories.")
    ] = False,
) -> None:
    """The lab hosts as an Ansible inventory (JSON, YAML-plugin structure), reached via podman.

    `inventory/lab.sh` is the executable form (`--script`), which lets `inventory/group_vars`
    apply. Group `lab` carries the twin's throw-away operator SSH key ($PREAU_HOME/lab/ssh/).

    Options (source of truth included) default to those of the last `preau lab up`, else to
    `up`'s defaults.
    """
    from preau import inventory
    from preau.lab import targets as lab_targets
    from preau.lab import twin as lab_twin
    from preau.netbox_local.paths import state_root
    from preau.output import print_json
    from preau.sot import env_inventory, rosters_dir

    last = lab_twin.remembered() or {}
    # a rollout's --path reaches this script as $PREAU_INVENTORY: it wins over `up`'s
    chosen = path or env_inventory() or (Path(last["path"]) if last.get("path") else None)
    dep, plan = _plan(
        college or last.get("colleges"),
        pcs if pcs is not None else last.get("pcs", 2),
        printers if printers is not None else last.get("printers", 1),
        ent_apps if ent_apps is not None else last.get("ent_apps", 1),
        source or last.get("source"),
        chosen,
        bool(last.get("egress")),
        bool(last.get("monitoring")),
    )
    tree = lab_targets.ansible_inventory(dep, plan, lab_targets.operator_key(state_root()))
    inventory.add_rosters(tree, rosters_dir(chosen))
    print_json(inventory.script_format(tree) if script else tree)
