"""Interface names from the source of truth, checked before they reach a config or a shell.

A NetBox interface name is free text; a router's names end up in systemd-networkd file names,
nftables rules, the shaping script and `tc ... dev <name>` commands run over SSH. Linux accepts
at most 15 bytes (IFNAMSIZ - 1) and no '/' or whitespace; preau is stricter: letters, digits,
'.', '_' and '-', not starting with '-' or '.', so a name is never an option, a path or a word
split by the shell.
"""

from __future__ import annotations

from preau.errors import Problem, ValidationFailed
from preau.model import Device
from preau.model.ifnames import IFNAME, IFNAME_MAX, ifname_problem

__all__ = ["IFNAME", "IFNAME_MAX", "check_device_ifnames", "check_ifname", "ifname_problem"]


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
