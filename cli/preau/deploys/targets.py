"""Where a router is and how to reach it: a `Target`, made by a registered factory.

The default is SSH to the router's management address. Other environments (the twin, in
preau.lab) register a factory with `register()`; `target()` asks them first, in registration
order, and falls back to SSH. Deploys only ever see a Target: they never import what made it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from netaddr import IPAddress

from preau.errors import BadInput
from preau.model import Departement, Device, Site

if TYPE_CHECKING:
    from preau.render.context import Options

Say = Callable[[str], None]
WHERE_SSH = "ssh"
WHERE_AUTO = "auto"


def _quiet(_msg: str) -> None:
    return None


@dataclass(frozen=True)
class Target:
    """A router to configure: its pyinfra host, and what the environment around it changes.

    - `env`: exported for the pyinfra connector (the twin's podman needs CONTAINERS_CONF);
    - `dot1q`: VLANs as 802.1Q sub-interfaces (False where the kernel has none: one link each);
    - `sysctl_readonly`: /proc/sys cannot be written (a container): the sysctl step only checks;
    - `probe`: ping an address from the provider's side (None: the health commands' own round
      trip over the management path is the proof that the router answers);
    - `prepare`: make the environment ready before a push (the twin's core peers with the site).
    """

    site: Site
    device: Device
    host: str
    kind: str = WHERE_SSH
    env: Mapping[str, str] = field(default_factory=dict)
    dot1q: bool = True
    sysctl_readonly: bool = False
    probe: Callable[[IPAddress], bool] | None = None
    prepare: Callable[[Departement, Target, Say], None] | None = None

    @property
    def hosts(self) -> list[tuple[str, dict[str, Any]]]:
        return [(self.host, {})]

    @property
    def options(self) -> Options:
        from preau.render.context import Options

        return Options(dot1q=self.dot1q)


class Factory(Protocol):
    """Make a Target for this router, or None when this environment does not run it.

    `required` is True when the user asked for this environment by name (`--target lab`):
    the factory then raises BadInput saying why it cannot, instead of returning None.
    """

    def __call__(
        self, dep: Departement, site: Site, device: Device, *, required: bool
    ) -> Target | None: ...


_FACTORIES: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    """Offer `factory` for `--target <name>` (and for `auto`, before SSH). Idempotent."""
    if name in (WHERE_SSH, WHERE_AUTO):
        raise ValueError(f"target name {name!r} is reserved")
    _FACTORIES[name] = factory


def registered() -> list[str]:
    return list(_FACTORIES)


def router_of(dep: Departement, key: str) -> tuple[Site, Device]:
    site = dep.college(key) or dep.site(key)
    if site is None:
        raise BadInput(f"--college {key}: no collège or site with this slug or UAI")
    if site.router is None:
        raise BadInput(f"site {site.slug}: devices: no router to configure")
    return site, site.router


def ssh_target(site: Site, device: Device) -> Target:
    mgmt = next((i for i in device.interfaces if i.vlan == "management" and i.address), None)
    if mgmt is None or mgmt.address is None:
        raise BadInput(f"device {device.name}: interfaces: no management address to SSH to")
    return Target(site, device, str(mgmt.address.ip))


def target(dep: Departement, key: str, where: str = WHERE_AUTO) -> Target:
    """The router of site `key`: from the environment named, else the first running it, else SSH."""
    site, device = router_of(dep, key)
    if where == WHERE_SSH:
        return ssh_target(site, device)
    if where == WHERE_AUTO:
        for each in _FACTORIES.values():
            found = each(dep, site, device, required=False)
            if found is not None:
                return found
        return ssh_target(site, device)
    named = _FACTORIES.get(where)
    if named is None:
        names = ", ".join([WHERE_AUTO, *_FACTORIES, WHERE_SSH])
        raise BadInput(f"--target {where}: use {names}")
    found = named(dep, site, device, required=True)
    if found is None:  # a factory asked by name must say why it cannot
        raise BadInput(f"device {device.name}: --target {where} does not run it")
    return found
