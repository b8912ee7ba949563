"""Network configuration rendering: the model and facts in, device config files out.

`env` holds the one Jinja2 environment (templates under network/), `context` computes what
each platform's templates print, `device` renders a device, a site or the whole département.
"""

from preau.render.context import Options
from preau.render.device import Rendered, network_devices, render_all, render_device, render_site
from preau.render.env import NETWORK_DIR, environment

__all__ = [
    "NETWORK_DIR",
    "Options",
    "Rendered",
    "environment",
    "network_devices",
    "render_all",
    "render_device",
    "render_site",
]
