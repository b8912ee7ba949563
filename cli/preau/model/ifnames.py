"""Linux interface names: what a router's names must be before they reach a config or a shell.

A router's interface names end up in systemd-networkd file names, nftables rules, the shaping
script and `tc ... dev <name>` commands run over SSH. Linux accepts at most 15 bytes
(IFNAMSIZ - 1) and no '/' or whitespace; preau is stricter: letters, digits, '.', '_' and '-',
not starting with '-' or '.', so a name is never an option, a path or a word split by the
shell. The validator (model rules) and the renderer both ask this module.
"""

from __future__ import annotations

import re

IFNAME_MAX = 15
IFNAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,14}$")


def ifname_problem(name: str) -> str | None:
    """Why `name` is not a usable Linux interface name (None: it is)."""
    if not name:
        return "is empty"
    if len(name) > IFNAME_MAX:
        return f"{name!r} is {len(name)} characters: Linux allows at most {IFNAME_MAX}"
    if not IFNAME.match(name):
        return (
            f"{name!r}: use only letters, digits, '.', '_' and '-' "
            "(not first: '.' or '-'), as a Linux interface name"
        )
    return None
