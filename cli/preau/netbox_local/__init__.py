"""The local, real NetBox used by tests and the demo (`preau netbox up | down | reset | status`).

Other code finds a NetBox with :func:`resolve_settings` (env, then this local one).
"""

from preau.netbox_local.settings import NetBoxSettings, client_settings, resolve_settings

__all__ = ["NetBoxSettings", "client_settings", "resolve_settings"]
