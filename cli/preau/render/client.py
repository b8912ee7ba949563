"""A collège's PC configuration for its domain: what a PC needs to log a pupil in against the
collège's DC (Kerberos realm, sssd), rendered from the model's `Domain`.

The templates live in images/client/ beside the PC images that carry them. `preau college
client-config` writes them; the twin's PCs and the images use the same files.
"""

from __future__ import annotations

from pathlib import Path

from preau.model.domain import Domain
from preau.render.env import environment

CLIENT_DIR = Path(__file__).resolve().parents[3] / "images" / "client"
# path on the PC -> its template under CLIENT_DIR
TEMPLATES = {"etc/krb5.conf": "etc/krb5.conf.j2", "etc/sssd/sssd.conf": "etc/sssd/sssd.conf.j2"}
# sssd refuses a configuration others can read
MODES = {"etc/krb5.conf": 0o644, "etc/sssd/sssd.conf": 0o600}


def client_files(domain: Domain) -> dict[str, str]:
    """Path on the PC (no leading /) -> content."""
    env = environment(CLIENT_DIR)
    return {path: env.get_template(tpl).render(domain=domain) for path, tpl in TEMPLATES.items()}
