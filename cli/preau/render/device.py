"""Render a device's configuration files: `render_device`, `render_site`, `render_all`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import jinja2

from preau.errors import BadInput, Problem, ValidationFailed
from preau.model import Departement, Device, Site
from preau.render.context import (
    NETWORK_ROLES,
    Options,
    check_platform,
    ios_switch,
    junos_cpe,
    linux_router,
)
from preau.render.env import environment

# The files a linux router gets: output path -> template under network/linux/.
_LINUX_FILES = (
    ("etc/frr/frr.conf", "frr.conf.j2"),
    ("etc/frr/daemons", "daemons.j2"),
    ("etc/nftables.conf", "nftables.conf.j2"),
    ("etc/dnsmasq.d/preau.conf", "dnsmasq.conf.j2"),
    ("usr/local/sbin/preau-shaping", "shaping.sh.j2"),
    ("etc/systemd/system/preau-shaping.service", "preau-shaping.service.j2"),
    ("etc/sysctl.d/90-preau-router.conf", "sysctl.conf.j2"),
    ("etc/systemd/networkd.conf.d/preau.conf", "networkd.conf.j2"),
)
IOS_CONFIG = "startup-config"
JUNOS_CONFIG = "juniper.conf"

Rendered = dict[str, str]

# Rendered files are configs (0644) except the scripts a unit runs.
EXECUTABLE_DIRS = ("usr/local/sbin/",)


def file_mode(path: str) -> int:
    """The mode a rendered file gets on the device (and in `preau net render --out`)."""
    return 0o755 if path.startswith(EXECUTABLE_DIRS) else 0o644


def _render(template: str, ctx: dict[str, Any]) -> str:
    try:
        return environment().get_template(template).render(ctx)
    except jinja2.UndefinedError as exc:
        # A template asked for a value the context builder did not compute: a bug in preau,
        # but the message must still say where.
        raise BadInput(f"network/{template}: {exc.message}") from exc


def _linux(ctx: dict[str, Any]) -> Rendered:
    out = {path: _render(f"linux/{tpl}", ctx) for path, tpl in _LINUX_FILES}
    net = "etc/systemd/network"
    out[f"{net}/10-{ctx['uplink']['ifname']}.network"] = _render("linux/wan.network.j2", ctx)
    if ctx["dot1q"]:
        for trunk in ctx["trunks"]:
            members = [v for v in ctx["vlans"] if v["parent"] == trunk]
            out[f"{net}/20-{trunk}.network"] = _render(
                "linux/trunk.network.j2", {**ctx, "trunk": trunk, "members": members}
            )
    for vlan in ctx["vlans"]:
        vctx = {**ctx, "vlan": vlan}
        if ctx["dot1q"]:
            out[f"{net}/30-{vlan['ifname']}.netdev"] = _render("linux/vlan.netdev.j2", vctx)
        out[f"{net}/30-{vlan['ifname']}.network"] = _render("linux/vlan.network.j2", vctx)
    return dict(sorted(out.items()))


def render_device(
    dep: Departement, site: Site, device: Device, options: Options | None = None
) -> Rendered:
    """Every configuration file of one network device: {relative path: text}.

    Raises ValidationFailed (naming the device and field) when the model cannot make a
    correct config, so nothing half-rendered is ever written or pushed.
    """
    platform = check_platform(device)
    if platform == "linux":
        return _linux(linux_router(dep, site, device, options))
    if platform == "ios":
        return {IOS_CONFIG: _render("ios/ios.j2", ios_switch(dep, site, device))}
    return {JUNOS_CONFIG: _render("junos/junos.j2", junos_cpe(dep, site, device))}


def network_devices(site: Site) -> list[Device]:
    """The devices whose config preau renders: routers, access switches, CPEs."""
    return [d for d in site.devices if d.role in NETWORK_ROLES]


def render_site(
    dep: Departement, site: Site, options: Options | None = None
) -> dict[str, Rendered]:
    """Every network device of a site: {device name: files}; all problems reported at once."""
    out: dict[str, Rendered] = {}
    problems: list[Problem] = []
    for device in network_devices(site):
        try:
            out[device.name] = render_device(dep, site, device, options)
        except ValidationFailed as exc:
            problems += exc.problems
    if problems:
        raise ValidationFailed(problems)
    return out


def render_all(
    dep: Departement, sites: Iterable[Site] | None = None, options: Options | None = None
) -> Iterator[tuple[Site, dict[str, Rendered]]]:
    """Render many sites (default: the data centre and every collège), one site at a time."""
    for site in dep.sites if sites is None else sites:
        yield site, render_site(dep, site, options)
