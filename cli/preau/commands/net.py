"""`preau net ...`: render network configs, compare goldens, plan/apply/bandwidth on routers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from preau.commands.options import InventoryPath, Json, Source
from preau.errors import BadInput
from preau.model import Departement, Site
from preau.output import console, print_json
from preau.render import Rendered, goldens, render_site
from preau.render.device import file_mode
from preau.sot import open_source
from preau.sot.validate import check

app = typer.Typer(no_args_is_help=True)

Colleges = Annotated[
    list[str] | None,
    typer.Option("--college", "-c", help="Collège slug or UAI (repeat; default: every site)."),
]


def load(source: str | None, path: Path | None) -> Departement:
    """The département from the source of truth, validated: bad data never reaches a device."""
    return check(open_source(source, path).read())


def select(dep: Departement, keys: list[str] | None) -> list[Site]:
    """The sites named by slug or UAI (the data centre by its slug), or all of them."""
    if not keys:
        return list(dep.sites)
    out: list[Site] = []
    for key in keys:
        site = dep.college(key) or dep.site(key)
        if site is None:
            raise BadInput(f"no collège or site {key!r} in {dep.slug} (use a slug or a UAI)")
        out.append(site)
    return out


def write_device(root: Path, files: Rendered) -> int:
    """Write one device's files under root, removing files it no longer has; count changes."""
    changed = 0
    for rel, text in files.items():
        target = root / rel
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            changed += 1
        target.chmod(file_mode(rel))
    if root.is_dir():
        for stale in root.rglob("*"):
            if stale.is_file() and str(stale.relative_to(root)) not in files:
                stale.unlink()
                changed += 1
    return changed


@app.command("render")
def render(
    college: Colleges = None,
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write <site>/<device>/<file> into.")
    ] = Path("build/net"),
    source: Source = None,
    path: InventoryPath = None,
    json: Json = False,
) -> None:
    """Render every network device's config files (routers, switches, CPEs) into --out.

    Everything is rendered in memory first: one bad device means nothing is written.
    """
    dep = load(source, path)
    rendered = [(site, render_site(dep, site)) for site in select(dep, college)]
    rows: list[dict[str, Any]] = []
    for site, devices in rendered:
        for name, files in devices.items():
            changed = write_device(out / site.slug / name, files)
            device = site.device(name)
            rows.append(
                {
                    "site": site.slug,
                    "device": name,
                    "platform": device.platform if device else None,
                    "files": len(files),
                    "changed": changed,
                    "path": str(out / site.slug / name),
                }
            )
    if json:
        print_json(rows)
        return
    table = Table(title=f"network configs rendered into {out}")
    for col in ("site", "device", "platform", "files", "changed"):
        table.add_column(col, justify="right" if col in ("files", "changed") else "left")
    for r in rows:
        table.add_row(
            r["site"], r["device"], r["platform"] or "", str(r["files"]), str(r["changed"])
        )
    console.print(table)


@app.command("goldens")
def goldens_(
    update: Annotated[
        bool, typer.Option("--update", help="Rewrite every case's expected/ from the templates.")
    ] = False,
) -> None:
    """Check (or with --update, regenerate) the golden files under network/*/cases/."""
    failed = []
    for case in goldens.cases():
        if update:
            changed = goldens.update(case)
            console.print(f"{case.id}: {'[yellow]updated' if changed else '[green]unchanged'}")
            continue
        changes = goldens.diff(case, goldens.render_case(case))
        if changes:
            failed.append(case.id)
            console.print(f"[red]{case.id} differs:[/]")
            console.print(changes, markup=False, highlight=False)
        else:
            console.print(f"{case.id}: [green]ok")
    if failed:
        raise typer.Exit(1)
