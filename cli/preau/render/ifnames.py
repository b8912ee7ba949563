"""Interface names from the source of truth, checked before they reach a config or a shell.

A NetBox interface name is free text; a router's names end up in systemd-networkd file names,
nftables rules, the shaping script and `tc ... dev <name>` commands run over SSH. Linux accepts
at most 15 bytes (IFNAMSIZ - 1) and no '/' or whitespace; preau is stricter: letters, digits,
'.', '_' and '-', not starting with '-' or '.', so a name is never an option, a path or a word
split by the shell.
"""

from __future__ import annotations

import re

from preau.errors import Problem, ValidationFailed
from preau.model import Device

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


def check_ifname(device: str, name: str, field: str = "name") -> str:
    """`name`, or ValidationFailed naming the device, the interface and the field."""
    why = ifname_problem(name)
    if why is not None:
        raise ValidationFailed([Problem(f"device {device} interface {name!r}", field, why)])
    return name


def check_device_ifnames(device: Device) -> None:
    """Every interface name of a Linux device (and each VLAN's parent), all problems at once."""
    problems = []
    for itf in device.interfaces:
        for field, value in (("name", itf.name), ("parent", itf.parent)):
            if field == "parent" and not value:
                continue
            why = ifname_problem(value or "")
            if why is not None:
                problems.append(Problem(f"device {device.name} interface {itf.name!r}", field, why))
    if problems:
        raise ValidationFailed(problems)
