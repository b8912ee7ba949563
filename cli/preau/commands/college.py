"""`preau college ...`: list, show and onboard collèges."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from preau.commands.options import DryRun, InventoryPath, Json, Source
from preau.errors import BadInput
from preau.model import College
from preau.model.facts import dhcp_scopes
from preau.output import console, print_json, print_report
from preau.sot import files, open_source
from preau.sot.layout import CollegeSpec

app = typer.Typer(no_args_is_help=True)


def _summary(c: College) -> dict[str, Any]:
    return {
        "slug": c.slug,
        "uai": c.uai,
        "name": c.name,
        "commune": c.commune,
        "pupils": c.pupils,
        "container": str(c.container),
        "circuit": c.circuit.cid if c.circuit else None,
        "commit_rate_mbps": c.circuit.commit_rate_mbps if c.circuit else None,
        "devices": len(c.devices),
    }


@app.command("list")
def list_(source: Source = None, path: InventoryPath = None, json: Json = False) -> None:
    """The collèges of the département."""
    src = open_source(source, path)
    dep = src.read()
    rows = [_summary(c) for c in dep.colleges]
    if json:
        print_json(rows)
        return
    table = Table(title=f"{dep.name}: {len(rows)} collèges (source: {src.name})")
    for col in ("UAI", "slug", "name", "pupils", "prefix", "uplink", "Mbit/s", "devices"):
        table.add_column(col, justify="right" if col in ("pupils", "Mbit/s", "devices") else "left")
    for r in rows:
        table.add_row(
            r["uai"], r["slug"], r["name"], str(r["pupils"]), r["container"],
            r["circuit"] or "[red]none[/]", str(r["commit_rate_mbps"] or ""), str(r["devices"]),
        )  # fmt: skip
    console.print(table)


@app.command()
def show(
    college: Annotated[str, typer.Argument(help="Slug or UAI.")],
    source: Source = None,
    path: InventoryPath = None,
    json: Json = False,
) -> None:
    """One collège: uplink, VLANs with gateways and DHCP pools, devices by role."""
    dep = open_source(source, path).read()
    c = dep.college(college)
    if c is None:
        raise BadInput(f"no collège {college!r} (try `preau college list`)")
    if json:
        print_json(files.site_dict(c))
        return
    console.print(f"[bold]{c.name}[/] — UAI {c.uai}, {c.commune}, {c.pupils} élèves")
    if c.circuit:
        console.print(
            f"uplink {c.circuit.provider} {c.circuit.cid}: {c.circuit.commit_rate_mbps} Mbit/s, "
            f"{c.circuit.uplink} (core {c.circuit.core_address}, site {c.circuit.site_address})"
        )
    scopes = {s.vlan.role: s for s in dhcp_scopes(dep, c)}
    table = Table(title="VLANs")
    for col in ("VID", "name", "role", "prefix", "DHCP pool", "reservations"):
        table.add_column(col)
    for v in dep.site_vlans(c):
        s = scopes.get(v.role)
        pool = f"{s.pool_start} - {s.pool_end}" if s else "static"
        table.add_row(
            str(v.vid), v.name, v.role, str(v.prefix), pool, str(len(s.reservations)) if s else ""
        )
    console.print(table)
    roles = Table(title="devices")
    roles.add_column("role")
    roles.add_column("count", justify="right")
    roles.add_column("examples")
    by_role: dict[str, list[str]] = {}
    for d in c.devices:
        by_role.setdefault(d.role, []).append(d.name)
    for role, names in by_role.items():
        roles.add_row(
            role, str(len(names)), ", ".join(names[:3]) + (" …" if len(names) > 3 else "")
        )
    console.print(roles)


@app.command()
def diagram(
    college: Annotated[str, typer.Argument(help="Slug or UAI.")],
    out: Annotated[Path, typer.Option("--out", help="Picture to write (.png, .svg, .pdf).")] = Path(
        "build/diagrams/college.png"
    ),
    source: Source = None,
    path: InventoryPath = None,
) -> None:
    """Draw the collège's topology: uplink, router, one box per VLAN with its hosts."""
    from preau.diagram import render_png, site_dot

    dep = open_source(source, path).read()
    c = dep.college(college)
    if c is None:
        raise BadInput(f"no collège {college!r} (try `preau college list`)")
    if out.name == "college.png":
        out = out.with_name(f"{c.slug}.png")
    render_png(site_dot(dep, c), out)
    console.print(f"wrote {out}")


@app.command()
def add(
    uai: Annotated[str, typer.Option(help="UAI code: 7 digits and the check letter.")],
    name: Annotated[str, typer.Option(help="The collège's name.")],
    pupils: Annotated[int, typer.Option(min=0, help="Number of pupils.")],
    commune: Annotated[str, typer.Option(help="Commune.")] = "",
    slug: Annotated[str | None, typer.Option(help="Site slug (default: clg-<uai>).")] = None,
    pcs: Annotated[int, typer.Option(min=0, max=120, help="PCs to provision.")] = 45,
    printers: Annotated[int, typer.Option(min=0, max=14, help="Network printers.")] = 4,
    displays: Annotated[int, typer.Option(min=0, max=14, help="Whiteboards/projectors.")] = 5,
    classrooms: Annotated[int, typer.Option(min=1, max=60, help="Classrooms.")] = 12,
    rate: Annotated[int, typer.Option(help="Uplink commit rate, Mbit/s.")] = 100,
    source: Source = None,
    path: InventoryPath = None,
    dry_run: DryRun = False,
    json: Json = False,
) -> None:
    """Onboard a collège in one command: prefixes, VLANs, THD Seine circuit, devices, IPs."""
    from preau.model.uai import uai_problem

    uai = uai.upper()
    why = uai_problem(uai)
    if why:
        raise BadInput(f"college {slug or uai}: uai: {why}")
    spec = CollegeSpec(
        slug=slug or f"clg-{uai.lower()}", uai=uai, name=name, commune=commune, pupils=pupils,
        classrooms=classrooms, pcs=pcs, printers=printers, displays=displays, commit_rate_mbps=rate,
    )  # fmt: skip
    src = open_source(source, path)
    college, report = src.add_college(spec, dry_run=dry_run)
    if json:
        print_json({"college": _summary(college), "report": report.as_dict()})
        return
    print_report(report, f"onboard {college.slug} ({src.name})")
    uplink = college.circuit.uplink if college.circuit else "-"
    console.print(
        f"{college.slug}: {college.container}, uplink {uplink}, {len(college.devices)} devices"
    )


# rollout, plan, drift: their own module, mounted on this noun
from preau.commands import rollout as _rollout  # noqa: E402

_rollout.register(app)
