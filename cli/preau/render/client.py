"""A collège's PC configuration for its domain: what a PC needs to log a pupil in against the
collège's DC (Kerberos realm, sssd), rendered from the model's `Domain`.

The templates live in images/client/ beside the PC images that carry them. `preau college
client-config` writes them; the twin's PCs and the images use the same files.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from preau.model.domain import Domain

CLIENT_DIR = Path(__file__).resolve().parents[3] / "images" / "client"
# path on the PC -> (template, mode)
FILES: dict[str, tuple[str, int]] = {
    "etc/krb5.conf": ("etc/krb5.conf.j2", 0o644),
    # sssd refuses a configuration others can read
    "etc/sssd/sssd.conf": ("etc/sssd/sssd.conf.j2", 0o600),
}


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(CLIENT_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - configuration files, not HTML
    )


def client_files(domain: Domain) -> dict[str, str]:
    """Path on the PC (no leading /) -> content."""
    env = _environment()
    return {path: env.get_template(tpl).render(domain=domain) for path, (tpl, _) in FILES.items()}


def mode(path: str) -> int:
    return FILES[path][1]
