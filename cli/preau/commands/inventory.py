"""`preau inventory`: the Ansible inventory of the département, from the model."""

from __future__ import annotations

import typer

from preau.commands.options import InventoryPath, Source

app = typer.Typer(invoke_without_command=True)


@app.callback()
def show(ctx: typer.Context, source: Source = None, path: InventoryPath = None) -> None:
    """Print the inventory as JSON (YAML-plugin structure: save as *.json, pass to -i)."""
    from preau import inventory
    from preau.output import print_json
    from preau.sot import open_source

    if ctx.invoked_subcommand is None:
        print_json(inventory.build(open_source(source, path).read()))


@app.command()
def script(source: Source = None, path: InventoryPath = None) -> None:
    """The `--list` format for executable inventories (used by inventory/preau.sh)."""
    from preau import inventory
    from preau.output import print_json
    from preau.sot import open_source, rosters_dir

    tree = inventory.build(open_source(source, path).read())
    inventory.add_rosters(tree, rosters_dir(path))
    print_json(inventory.script_format(tree))
