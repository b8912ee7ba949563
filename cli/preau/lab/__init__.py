"""The twin: podman containers and their locally built images.

Importing the package registers the twin's routers as deploy target `lab`
(preau.deploys.targets): deploys reach them without knowing the twin exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from preau.deploys import targets as _targets

if TYPE_CHECKING:
    from preau.deploys.targets import Target
    from preau.model import Departement, Device, Site


def _lab_router(dep: Departement, site: Site, device: Device, *, required: bool) -> Target | None:
    # imported on use: `preau lab ...` commands need none of the deploy machinery (pyinfra)
    from preau.lab import router_target

    return router_target.factory(dep, site, device, required=required)


_targets.register("lab", _lab_router)
