"""`preau sot ...`: validate, push, export and generate the source of truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from preau.commands.options import DryRun, InventoryPath, Json, Source
from preau.errors import Problem, ValidationFailed

app = typer.Typer(no_args_is_help=True)


def _problem_dict(p: Problem) -> dict[str, object]:
    return {"file": p.file, "line": p.line, "object": p.obj, "field": p.field, "message": p.message}


@app.command()
def validate(source: Source = None, path: InventoryPath = None, json: Json = False) -> None:
    """Check the whole département; list every problem with its object and field."""
    from preau.output import console, print_json
    from preau.sot import open_source
    from preau.sot.validate import problems

    src = open_source(source, path)
    try:
        # every source checks its schema and the model's rules as it reads
        dep = src.read()
    except ValidationFailed as exc:
        found = exc.problems
        if json:
            print_json([_problem_dict(p) for p in found])
        raise
    found = problems(dep)
    if json:
        print_json([_problem_dict(p) for p in found])
    elif not found:
        sites = len(dep.sites)
        devices = sum(1 for _ in dep.all_devices())
        console.print(f"[green]valid[/]: {sites} sites, {devices} devices")
    if found:
        raise ValidationFailed(found)


@app.command()
def push(
    path: Annotated[
        Path | None, typer.Option("--from", help="Folder to push (default: inventory/).")
    ] = None,
    dry_run: DryRun = False,
    limit: Annotated[
        list[str] | None, typer.Option("--limit", help="Only these collèges (slug or UAI).")
    ] = None,
    json: Json = False,
) -> None:
    """Files -> NetBox: make NetBox hold the file source of truth (idempotent, bulk)."""
    from preau.output import print_json, print_report, write_progress
    from preau.sot import default_inventory, open_source
    from preau.sot.filesource import FileSource

    dep = FileSource(path or default_inventory()).read()
    if limit:
        keep = {c.slug for c in dep.colleges if c.slug in limit or c.uai in limit}
        dep = type(dep)(
            **{**dep.__dict__, "colleges": tuple(c for c in dep.colleges if c.slug in keep)}
        )
    from preau.sot.netbox import NetBoxSource

    source = open_source("netbox")
    if isinstance(source, NetBoxSource) and not dry_run:
        with write_progress("push to NetBox") as progress:
            report = source.push(dep, dry_run=dry_run, progress=progress)
    else:
        report = source.push(dep, dry_run=dry_run)
    if json:
        print_json(report.as_dict())
    else:
        print_report(report, "push to NetBox")


@app.command()
def export(
    to: Annotated[Path, typer.Option("--to", help="Folder to write the files into.")],
    dry_run: DryRun = False,
    json: Json = False,
) -> None:
    """NetBox -> files: write the département as the embedded file layout (round-trips)."""
    from preau.output import print_json, print_report
    from preau.sot import open_source
    from preau.sot.filesource import FileSource

    dep = open_source("netbox").read()
    report = FileSource(to).push(dep, dry_run=dry_run)
    if json:
        print_json(report.as_dict())
    else:
        print_report(report, f"export to {to}")


@app.command()
def generate(
    colleges: Annotated[int, typer.Option("--colleges", min=1, max=128, help="How many collèges.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the files into.")],
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same département).")] = 92,
    pcs: Annotated[int, typer.Option(help="PCs per collège.")] = 45,
) -> None:
    """A synthetic département (about 60 devices per collège) for benchmarks and scale tests."""
    from preau.output import console
    from preau.sot import files
    from preau.sot.generate import generate as generate_departement

    dep = generate_departement(colleges, seed=seed, pcs=pcs)
    written = files.dump(dep, out)
    devices = sum(1 for _ in dep.all_devices())
    console.print(
        f"wrote {len(written)} files to {out}: {len(dep.colleges)} collèges, {devices} devices"
    )
