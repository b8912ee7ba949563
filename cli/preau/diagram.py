"""Topology diagrams of a site, drawn from the model with Graphviz (DOT text -> `dot`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from preau.errors import PreauError
from preau.model import Departement, Site
from preau.model.facts import device_address

_ZONE_COLOURS = {
    "admin": "#f4cccc",
    "teaching": "#d9ead3",
    "wifi": "#fff2cc",
    "printers": "#d0e0e3",
    "servers": "#cfe2f3",
    "management": "#eeeeee",
}


def _q(text: str) -> str:
    return '"' + text.replace('"', r"\"") + '"'


def site_dot(dep: Departement, site: Site) -> str:
    """DOT for one site: the core, the uplink, the router, one cluster per VLAN."""
    lines = [
        f"graph {_q(site.slug)} {{",
        "  rankdir=TB; fontname=Helvetica; node [fontname=Helvetica, shape=box, style=rounded];",
        f"  label={_q(f'{site.name} ({site.slug})')}; labelloc=t;",
        f"  core [label={_q(dep.routing.core_name)}, shape=ellipse];",
    ]
    router = site.router
    rname = router.name if router else "router?"
    lines.append(f"  {_q(rname)} [shape=box3d];")
    if site.circuit:
        c = site.circuit
        label = f"{c.cid}  {c.commit_rate_mbps} Mbit/s  {c.uplink}"
        lines.append(f"  core -- {_q(rname)} [label={_q(label)}];")
    for vlan in dep.site_vlans(site):
        members = [
            d
            for d in site.devices
            if d.role != "router" and any(i.vlan == vlan.role for i in d.interfaces)
        ]
        colour = _ZONE_COLOURS.get(vlan.role, "#ffffff")
        lines.append(f"  subgraph {_q('cluster_' + vlan.role)} {{")
        title = f"VLAN {vlan.vid} {vlan.name}  {vlan.prefix}"
        lines.append(f"    label={_q(title)}; style=filled; color={_q(colour)};")
        anchor = f"{vlan.role}_net"
        lines.append(f"    {_q(anchor)} [label={_q(vlan.role)}, shape=point];")
        # Many PCs: draw a few and a summary node, so the picture stays readable.
        by_role: dict[str, list[str]] = {}
        for d in members:
            by_role.setdefault(d.role, []).append(d.name)
        for role, names in by_role.items():
            shown = names if len(names) <= 3 else names[:2]
            for name in shown:
                dev = site.device(name)
                addr = device_address(dev) if dev else None
                lines.append(f"    {_q(name)} [label={_q(f'{name}\\n{addr}')}];")
                lines.append(f"    {_q(anchor)} -- {_q(name)};")
            if len(names) > len(shown):
                more = f"{vlan.role}_{role}_more"
                extra = f"+{len(names) - len(shown)} {role}"
                lines.append(f"    {_q(more)} [label={_q(extra)}, style=dashed];")
                lines.append(f"    {_q(anchor)} -- {_q(more)};")
        lines.append("  }")
        lines.append(f"  {_q(rname)} -- {_q(anchor)} [label={_q(str(vlan.vid))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_png(dot: str, out: Path) -> Path:
    """Run Graphviz; the format follows the file's suffix (png, svg, pdf)."""
    exe = shutil.which("dot")
    if exe is None:
        raise PreauError("graphviz's `dot` is not installed (scripts/bootstrap installs it)")
    fmt = out.suffix.lstrip(".") or "png"
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([exe, f"-T{fmt}", "-o", str(out)], input=dot, text=True, check=True)
    return out


def render_svg(dot: str) -> str:
    """Graphviz's SVG of `dot`, as text (for pages that inline the picture)."""
    exe = shutil.which("dot")
    if exe is None:
        raise PreauError("graphviz's `dot` is not installed (scripts/bootstrap installs it)")
    return subprocess.run(
        [exe, "-Tsvg"], input=dot, text=True, check=True, capture_output=True
    ).stdout
