"""`preau college ...`: list, show and onboard collèges."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from preau.commands.options import DryRun, InventoryPath, Json, Source
from preau.errors import BadInput

if TYPE_CHECKING:
    from preau.model import College, Departement

app = typer.Typer(no_args_is_help=True)


def _college(dep: Departement, key: str) -> College:
    """The collège a command names (slug or UAI); bad input when there is none."""
    c = dep.college(key)
    if c is None:
        raise BadInput(f"no collège {key!r} (try `preau college list`)")
    return c


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
    from rich.table import Table

    from preau.output import console, print_json
    from preau.sot import open_source

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
    from rich.table import Table

    from preau.model.domain import college_domain
    from preau.model.facts import dhcp_scopes
    from preau.output import console, print_json
    from preau.sot import files, open_source

    dep = open_source(source, path).read()
    c = _college(dep, college)
    domain = college_domain(dep, c)
    if json:
        # the site as stored, plus what the model derives from it (not stored anywhere)
        print_json(
            files.site_dict(c)
            | {"directory": c.directory, "domain": domain.to_dict() if domain else None}
            | {"pc_boot": _pc_boot(c)}
        )
        return
    console.print(f"[bold]{c.name}[/] — UAI {c.uai}, {c.commune}, {c.pupils} élèves")
    if domain:
        # the domain is derived for every collège; its file server runs it where the accounts
        # are in it (directory: ad)
        where = "in use" if c.directory == "ad" else "not in use: accounts are standalone"
        console.print(
            f"AD domain ({where}) {domain.realm} (NetBIOS {domain.netbios_domain}), DNS zone "
            f"{domain.dns_zone}, DC {domain.dc_fqdn} ({domain.dc_netbios_name}, "
            f"{domain.dc_address or 'no address'})"
        )
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
    boot = Table(title="network boot by room")
    for col in ("room", "image", "PCs"):
        boot.add_column(col)
    for room, row in _pc_boot(c).items():
        boot.add_row(room, row["image"] or "[dim]default[/]", str(row["pcs"]))
    console.print(boot)


def _pc_boot(c: College) -> dict[str, dict[str, Any]]:
    """Each room with PCs or an image: the image its PCs boot (None: the app server's default)
    and how many PCs it holds."""
    pcs: dict[str, int] = {}
    for pc in c.devices_by_role("pc"):
        pcs[pc.room or ""] = pcs.get(pc.room or "", 0) + 1
    rooms = [r for r in (*c.rooms, *pcs) if r in pcs or r in c.room_images]
    return {
        room: {"image": c.room_images.get(room), "pcs": pcs.get(room, 0)}
        for room in dict.fromkeys(rooms)
    }


@app.command()
def status(
    college: Annotated[str, typer.Argument(help="Slug or UAI.")],
    source: Source = None,
    path: InventoryPath = None,
    prometheus_url: Annotated[
        str | None,
        typer.Option(
            "--prometheus-url",
            envvar="PREAU_PROMETHEUS_URL",
            help="Prometheus' address (default: the monitoring host of the SoT, :9090).",
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Also draw the uplink's utilisation over the last --hours into this PNG.",
        ),
    ] = None,
    hours: Annotated[
        float, typer.Option("--hours", min=0.1, max=168, help="Window of --plot, in hours.")
    ] = 6.0,
    json: Json = False,
) -> None:
    """The collège at a glance, from Prometheus: hosts up, uplink load, firing alerts."""
    import time

    from preau.commands import monitoring
    from preau.output import console, print_json
    from preau.sot import open_source
    from preau.sot.validate import check

    dep = check(open_source(source, path).read())
    c = _college(dep, college)
    if plot is not None and plot.suffix != ".png":
        raise BadInput(f"--plot {plot}: the picture is a PNG (end the name in .png)")
    (state,) = monitoring.states(dep, prometheus_url, [c])
    picture: dict[str, object] = {}
    if plot is not None:
        from preau.monitoring import plot as drawing
        from preau.monitoring import status as st

        history = st.uplink_history(
            monitoring.prometheus(dep, prometheus_url), c, hours, time.time()
        )
        picture = {"plot": str(drawing.uplink(history, c.name, plot)), "history": history.summary()}
    if json:
        print_json({**state.as_dict(), **picture})
        return
    monitoring.print_college(state)
    if picture:
        console.print(f"wrote {picture['plot']}")


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
    from preau.output import console
    from preau.sot import open_source

    dep = open_source(source, path).read()
    c = _college(dep, college)
    if out.name == "college.png":
        out = out.with_name(f"{c.slug}.png")
    render_png(site_dot(dep, c), out)
    console.print(f"wrote {out}")


@app.command("client-config")
def client_config(
    college: Annotated[str, typer.Argument(help="Slug or UAI.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the files under this folder (a PC's root, an image's)."),
    ] = None,
    source: Source = None,
    path: InventoryPath = None,
    dry_run: DryRun = False,
    json: Json = False,
) -> None:
    """A PC's configuration for the collège's domain (Kerberos realm, sssd): printed, or written
    under --out with the modes sssd wants. Only for a collège whose directory is `ad`."""
    from preau import writes
    from preau.model.domain import college_domain
    from preau.output import console, print_json
    from preau.render.client import MODES, client_files
    from preau.sot import open_source

    dep = open_source(source, path).read()
    c = _college(dep, college)
    domain = college_domain(dep, c) if c.directory == "ad" else None
    if domain is None:
        why = "no file server to be its DC" if c.directory == "ad" else "directory standalone"
        raise BadInput(
            f"college {c.slug}: directory: its PCs have no domain to join ({why}; "
            "set `directory: ad` in the source of truth)"
        )
    files = client_files(domain)
    if json and out is None:
        print_json(files)
        return
    if out is None:
        for name, text in files.items():
            console.rule(f"/{name}")
            console.print(text, markup=False, highlight=False, end="")
        return
    changed = (writes.stale if dry_run else writes.write_changed)(out, files, MODES)
    if json:
        print_json({"changed": changed, "dry_run": dry_run})
    elif not changed:
        console.print("nothing to change")
    else:
        verb = "would write" if dry_run else "wrote"
        console.print("\n".join(f"{verb} {out / n}" for n in changed))


@app.command()
def add(
    uai: Annotated[str, typer.Option(help="UAI code: 7 digits and the check letter.")],
    name: Annotated[str, typer.Option(help="The collège's name.")],
    pupils: Annotated[int, typer.Option(min=0, help="Number of pupils.")],
    commune: Annotated[str | None, typer.Option(help="Commune.  [default: none]")] = None,
    slug: Annotated[str | None, typer.Option(help="Site slug (default: clg-<uai>).")] = None,
    pcs: Annotated[
        int | None, typer.Option(min=0, max=120, help="PCs to provision.  [default: 45]")
    ] = None,
    printers: Annotated[
        int | None, typer.Option(min=0, max=14, help="Network printers.  [default: 4]")
    ] = None,
    displays: Annotated[
        int | None, typer.Option(min=0, max=14, help="Whiteboards/projectors.  [default: 5]")
    ] = None,
    classrooms: Annotated[
        int | None, typer.Option(min=1, max=60, help="Classrooms.  [default: 12]")
    ] = None,
    rate: Annotated[
        int | None, typer.Option(min=1, help="Uplink commit rate, Mbit/s.  [default: 100]")
    ] = None,
    update: Annotated[
        bool,
        typer.Option(
            "--update",
            help="If the collège exists with another name, commune, pupils or rate: change them.",
        ),
    ] = False,
    source: Source = None,
    path: InventoryPath = None,
    dry_run: DryRun = False,
    json: Json = False,
) -> None:
    """Onboard a collège in one command: prefixes, VLANs, THD Seine circuit, devices, IPs.

    Again for a collège already onboarded: nothing changes if the details are the same; an
    error naming what differs otherwise, unless --update.
    """
    from preau.model.rules import name_problem, slug_problem
    from preau.model.uai import uai_problem
    from preau.output import console, print_json, print_report
    from preau.sot import open_source
    from preau.sot.layout import CollegeSpec

    uai = uai.upper()
    slug = slug or f"clg-{uai.lower()}"
    why = uai_problem(uai)
    if why:
        raise BadInput(f"college {slug}: uai: {why}")
    why = slug_problem(slug)
    if why:
        raise BadInput(f"college {slug}: --slug: {why}")
    for option, value in (("name", name), ("commune", commune)):
        why = name_problem(value) if value is not None and (option == "name" or value) else None
        if why:
            raise BadInput(f"college {slug}: --{option}: {why}")
    stated: dict[str, Any] = {
        "commune": commune, "pcs": pcs, "printers": printers, "displays": displays,
        "classrooms": classrooms, "commit_rate_mbps": rate,
    }  # fmt: skip
    given = frozenset({"name", "pupils"} | {k for k, v in stated.items() if v is not None})
    defaults = CollegeSpec(slug=slug, uai=uai, name=name, commune="", pupils=pupils)
    spec = replace(defaults, given=given, **{k: v for k, v in stated.items() if v is not None})
    src = open_source(source, path, changes=True)
    college, report = src.add_college(spec, dry_run=dry_run, update=update)
    if json:
        print_json({"college": _summary(college), "report": report.as_dict()})
        return
    print_report(report, f"onboard {college.slug} ({src.name})")
    if not report.changed:
        console.print(f"{college.slug}: already onboarded with these details")
    uplink = college.circuit.uplink if college.circuit else "-"
    console.print(
        f"{college.slug}: {college.container}, uplink {uplink}, {len(college.devices)} devices"
    )


# rollout, plan, drift: their own module, mounted on this noun
from preau.commands import rollout as _rollout  # noqa: E402

_rollout.register(app)
