"""`preau net ...`: render network configs, compare goldens, plan/apply/bandwidth on routers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from preau.commands.options import DryRun, InventoryPath, Json, Source
from preau.deploys import CONFIRM_TIMEOUT
from preau.errors import BadInput

if TYPE_CHECKING:
    from preau.model import Departement, Site
    from preau.render import Rendered

app = typer.Typer(no_args_is_help=True)

Colleges = Annotated[
    list[str] | None,
    typer.Option("--college", "-c", help="Collège slug or UAI (repeat; default: every site)."),
]


def load(source: str | None, path: Path | None, *, changes: bool = False) -> Departement:
    """The département from the source of truth, validated: bad data never reaches a device.

    `changes`: the caller changes a device with it, so no fallback to the embedded files.
    """
    from preau.sot import open_source
    from preau.sot.validate import check

    return check(open_source(source, path, changes=changes).read())


def router_target(dep: Departement, key: str, where: str) -> Any:
    """The router's deploy target; the environments that register targets are loaded first.

    preau.lab registers the twin's routers (`--target lab`, and `auto` when the twin runs the
    router): this layer wires it in, so that preau.deploys never imports the twin.
    """
    import preau.lab  # noqa: F401 - registers the twin's target factory
    from preau.deploys import targets

    return targets.target(dep, key, where)


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
    from preau.render.device import file_mode

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
    from rich.table import Table

    from preau.output import console, print_json
    from preau.render import render_site

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
    from preau.output import console
    from preau.verify import goldens

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
            console.print(changes, markup=False, highlight=False, soft_wrap=True)
        else:
            console.print(f"{case.id}: [green]ok")
    if failed:
        raise typer.Exit(1)


Target = Annotated[
    str,
    typer.Option(
        "--target", help="auto (the twin's container if it runs the router, else SSH), lab, ssh."
    ),
]
OneCollege = Annotated[str, typer.Option("--college", "-c", help="Collège slug or UAI.")]


@app.command("plan")
def plan(
    college: OneCollege,
    target: Target = "auto",
    source: Source = None,
    path: InventoryPath = None,
    json: Json = False,
) -> None:
    """Unified diff between the rendered router config and the router's files, and what FRR
    itself would change to run its file (frr-reload.py --test)."""
    from preau.deploys import net_apply
    from preau.output import console, print_json

    dep = load(source, path)
    p = net_apply.plan(dep, router_target(dep, college, target))
    if json:
        print_json(
            {"device": p.target.device.name, "changed": p.changed, "drift": p.drift, "diff": p.diff}
        )
        return
    if not p.pending:
        console.print(f"[green]{p.target.device.name}: no difference[/]")
        return
    console.print(p.diff, markup=False, highlight=False, soft_wrap=True)
    drift = f"; FRR runs {len(p.drift)} line(s) its file does not say" if p.drift else ""
    console.print(f"[yellow]{p.target.device.name}: {len(p.changed)} file(s) differ{drift}[/]")


@app.command("apply")
def apply(
    college: OneCollege,
    dry_run: DryRun = False,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds the router has to confirm it is healthy.")
    ] = CONFIRM_TIMEOUT,
    target: Target = "auto",
    source: Source = None,
    path: InventoryPath = None,
    json: Json = False,
) -> None:
    """Push the router's config (only what differs); roll back if it is not healthy in time."""
    from preau.deploys import net_apply
    from preau.output import console, print_json

    dep = load(source, path, changes=True)
    t = router_target(dep, college, target)
    report = net_apply.apply(dep, t, dry_run=dry_run, timeout=timeout, say=console.print)
    if json:
        print_json(report.__dict__)
        return
    if not report.reloaded:
        console.print(f"[green]{report.device}: nothing to change[/]")
        return
    files_ = ", ".join(report.changed) or "no file"
    if dry_run:
        console.print(report.diff, markup=False, highlight=False, soft_wrap=True)
        console.print(f"[yellow]dry run: would write {files_}; reload {report.reloaded}[/]")
        return
    console.print(
        f"[green]{report.device}: wrote {len(report.changed)} file(s), reloaded "
        f"{', '.join(report.reloaded)}; healthy after {report.confirmed_in:.1f} s[/]"
    )


@app.command("bandwidth")
def bandwidth(
    college: OneCollege,
    rate: Annotated[str, typer.Option("--rate", help="New commit rate: 200M, 1G...")],
    dry_run: DryRun = False,
    target: Target = "auto",
    source: Source = None,
    path: InventoryPath = None,
    json: Json = False,
) -> None:
    """Change the uplink shaping live (no flow reset) and record the rate in the source."""
    from preau.deploys import net_apply
    from preau.output import console, print_json
    from preau.sot import open_source
    from preau.sot.validate import check

    src = open_source(source, path, changes=True)
    dep = check(src.read())
    mbps = net_apply.parse_rate(rate)
    t = router_target(dep, college, target)
    report = net_apply.bandwidth(dep, t, mbps, dry_run=dry_run)
    if not dry_run:
        report.recorded = net_apply.record_commit_rate(
            src, dep, t.site, mbps, f"preau net bandwidth: {report.old_mbps} -> {mbps} Mbit/s"
        )
    if json:
        print_json(report.__dict__)
        return
    verb = "would change" if dry_run else "changed"
    console.print(
        f"[green]{report.device}: uplink {verb} {report.old_mbps} -> {mbps} Mbit/s[/]"
        + (f"; recorded in {report.recorded}" if report.recorded else "")
    )
