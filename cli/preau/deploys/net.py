"""pyinfra pieces for a site router: read its config files, write the ones that differ, reload.

Which units reload after which file is data (`RELOADS`): Python decides what changed (by
comparing the rendered files with `ConfigFiles`), these operations only do it.
"""

from __future__ import annotations

import base64
import io
import shlex
import tarfile
from collections.abc import Iterable

from pyinfra.api import FactBase, deploy
from pyinfra.operations import files, server

from preau.model.services import UPLINK_SHAPING

# A changed file -> the command that makes the running router use it. Order matters: links
# and forwarding first, then the firewall (before routing announces anything), then services.
RELOADS: tuple[tuple[str, str, str], ...] = (
    ("sysctl", "etc/sysctl.d/", "sysctl -q -p /etc/sysctl.d/90-preau-router.conf"),
    (
        "networkd",
        # also matches etc/systemd/networkd.conf.d/, which only a restart reads (NETWORKD_RESTART);
        # changed .network/.netdev files are re-read in place: only the links they match are
        # reconfigured, where a restart would reconfigure every link of the router
        "etc/systemd/network",
        "systemctl enable -q systemd-networkd && if systemctl is-active -q systemd-networkd; "
        "then networkctl reload; else systemctl restart systemd-networkd; fi",
    ),
    ("nftables", "etc/nftables.conf", "systemctl enable -q nftables && nft -f /etc/nftables.conf"),
    (
        "shaping",
        "usr/local/sbin/preau-shaping",
        "systemctl daemon-reload && systemctl enable -q preau-shaping"
        " && systemctl restart preau-shaping",
    ),
    (
        "frr",
        "etc/frr/",
        # frr.conf alone reloads without dropping sessions when frr-reload.py (frr-pythontools)
        # is installed; otherwise, and for a changed daemons file, FRR restarts
        "systemctl enable -q frr && if systemctl is-active -q frr && "
        "[ -x /usr/lib/frr/frr-reload.py ]; then systemctl reload frr; "
        "else systemctl restart frr; fi",
    ),
    (
        "dnsmasq",
        "etc/dnsmasq.d/",
        "systemctl enable -q dnsmasq && systemctl restart dnsmasq",
    ),
)
ARCHIVE = "/run/preau-net.tar"
# The daemons file decides which FRR daemons run: only a restart applies it.
FRR_RESTART = "systemctl enable -q frr && systemctl restart frr"
NETWORKD_RESTART = "systemctl enable -q systemd-networkd && systemctl restart systemd-networkd"
# preau-shaping.service sits under etc/systemd/system: it belongs to the shaping unit.
_UNIT_OWNERS = {"etc/systemd/system/preau-shaping.service": "shaping"}


def units_to_reload(changed: Iterable[str]) -> list[str]:
    """The RELOADS names touched by these changed paths, in RELOADS order."""
    touched = set()
    for path in changed:
        owner = _UNIT_OWNERS.get(path)
        if owner:
            touched.add(owner)
            continue
        for name, prefix, _ in RELOADS:
            if path.startswith(prefix):
                touched.add(name)
    return [name for name, _, _ in RELOADS if name in touched]


# A container's /proc/sys is read-only: the twin sets forwarding from outside (preau lab up),
# so there the sysctl step only checks that it holds.
LAB_SYSCTL = "grep -qx 1 /proc/sys/net/ipv4/ip_forward"


def reload_command(unit: str, changed: Iterable[str], sysctl_readonly: bool = False) -> str:
    changed = set(changed)
    if unit == "frr" and "etc/frr/daemons" in changed:
        return FRR_RESTART
    if unit == "networkd" and any(p.startswith("etc/systemd/networkd.conf.d/") for p in changed):
        return NETWORKD_RESTART
    if unit == "sysctl" and sysctl_readonly:
        return LAB_SYSCTL
    return next(cmd for name, _, cmd in RELOADS if name == unit)


# --- the on-device rollback (commit confirmed) -----------------------------------------------
# Before a push the router snapshots the files about to change and arms a transient systemd
# timer that restores them and reloads: if preau never confirms (the change cut the path it
# would confirm over, or preau died), the router goes back on its own. Confirming stops it.
ROLLBACK_DIR = "/var/lib/preau/rollback"
ROLLBACK_UNIT = "preau-rollback"
ROLLBACK_SNAPSHOT = f"{ROLLBACK_DIR}/previous.tar"
ROLLBACK_SCRIPT = f"{ROLLBACK_DIR}/restore.sh"
# What `systemctl` says of a timer that is not armed (any more).
DISARM = (
    f"systemctl stop {ROLLBACK_UNIT}.timer 2>/dev/null; "
    f"systemctl reset-failed {ROLLBACK_UNIT}.timer {ROLLBACK_UNIT}.service 2>/dev/null; true"
)
ROLLBACK_NOW = f"systemctl start {ROLLBACK_UNIT}.service"
ROLLBACK_STATE = f"systemctl is-active {ROLLBACK_UNIT}.timer 2>/dev/null || true"


def rollback_script(existing: list[str], new: list[str], reloads: list[tuple[str, str]]) -> str:
    """The script the router runs to put back its previous files (snapshot) and reload them."""
    lines = [
        "#!/bin/sh",
        "# preau: restore the configuration in place before the last push (commit confirmed).",
        "set -u",
        "cd /",
        f"logger -t {ROLLBACK_UNIT} 'not confirmed in time: restoring the previous configuration'",
    ]
    if existing:
        lines.append(f"tar -C / -xpf {ROLLBACK_SNAPSHOT}")
    if new:
        lines.append("rm -f " + " ".join(shlex.quote(f"/{p}") for p in new))
    status = "rc=0"
    lines.append(status)
    for unit, command in reloads:
        lines.append(
            f"( {command} ) || {{ rc=1; logger -t {ROLLBACK_UNIT} 'reload {unit} failed'; }}"
        )
    lines.append(f'logger -t {ROLLBACK_UNIT} "restored (reloads exit $rc)"')
    lines.append("exit $rc")
    return "\n".join(lines) + "\n"


PREPARE_ROLLBACK = f"{DISARM}; mkdir -p {ROLLBACK_DIR} && chmod 700 {ROLLBACK_DIR}"


def arm_commands(existing: list[str], seconds: int) -> list[str]:
    """Snapshot the current files, then arm the rollback timer for `seconds`."""
    snap = (
        f"tar -C / -cpf {ROLLBACK_SNAPSHOT} " + " ".join(shlex.quote(p) for p in existing)
        if existing
        else f"rm -f {ROLLBACK_SNAPSHOT}"
    )
    return [
        snap,
        f"systemd-run --quiet --unit={ROLLBACK_UNIT} --on-active={int(seconds)}s "
        f"--timer-property=AccuracySec=1s /bin/sh {ROLLBACK_SCRIPT}",
    ]


class ConfigFiles(FactBase):
    """The current content of the given files (None for a missing one), in one round trip."""

    def command(self, paths: list[str]) -> str:
        # tar skips missing files with a warning on stderr; base64 keeps the output one line
        quoted = " ".join(shlex.quote(p) for p in paths)
        return f"cd / && tar -cf - --ignore-failed-read {quoted} 2>/dev/null | base64 -w0; echo"

    def requires_command(self, *args: object, **kwargs: object) -> str:
        return "tar"

    def process(self, output: list[str]) -> dict[str, str]:
        raw = base64.b64decode("".join(output).strip() or b"")
        found: dict[str, str] = {}
        if not raw:
            return found
        with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    data = tar.extractfile(member)
                    if data is not None:
                        found[member.name] = data.read().decode("utf-8", errors="replace")
        return found


def archive(put: dict[str, tuple[str, int]]) -> bytes:
    """The files to write as one tar (root-owned, with their modes): one upload, one unpack."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, (text, mode) in sorted(put.items()):
            data = text.encode("utf-8")
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.uid, info.gid, info.mtime = len(data), mode, 0, 0, 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@deploy("preau: router network configuration")
def router_config(
    put: dict[str, tuple[str, int]],
    remove: list[str],
    reloads: list[tuple[str, str]],
    arm: tuple[list[str], int] | None = None,
) -> None:
    """Write `put` ({path: (text, mode)}), delete `remove`, then run each (unit, command).

    With `arm` (the paths that exist now, seconds), first snapshot them on the router and arm
    its rollback timer, so the router restores them by itself unless the push is confirmed.
    The files travel as one archive: each file operation is a round trip to the host, and a
    router has about twenty files.
    """
    if arm is not None:
        existing, seconds = arm
        new = [p for p in put if p not in existing]
        server.shell(name="disarm any earlier rollback", commands=[PREPARE_ROLLBACK])
        files.put(
            name="write the rollback script",
            src=io.StringIO(rollback_script(existing, new, reloads)),
            dest=ROLLBACK_SCRIPT,
            mode="700",
        )
        server.shell(
            name=f"snapshot {len(existing)} file(s), arm the rollback in {seconds} s",
            commands=arm_commands(existing, seconds),
        )
    steps = []
    if put:
        files.put(
            name="upload the configuration archive",
            src=io.BytesIO(archive(put)),
            dest=ARCHIVE,
            mode="600",
        )
        steps.append(f"tar -C / -xpf {ARCHIVE} && rm -f {ARCHIVE}")
    if remove:
        steps.append("rm -f " + " ".join(shlex.quote(f"/{p}") for p in remove))
    if steps:
        server.shell(name=f"write {len(put)} file(s), remove {len(remove)}", commands=steps)
    for unit, command in reloads:
        server.shell(name=f"reload {unit}", commands=[command])


@deploy("preau: change the uplink shaping rate live")
def shaping_rate(ifname: str, rate: str, quantum: int, script: str) -> None:
    """`tc class change` keeps every flow; the script is rewritten so a reboot keeps the rate."""
    dev, rate_ = shlex.quote(ifname), shlex.quote(rate)
    server.shell(
        name=f"tc class change {ifname} {rate}",
        commands=[
            f"tc class change dev {dev} parent {UPLINK_SHAPING.root} "
            f"classid {UPLINK_SHAPING.classid} htb rate {rate_} ceil {rate_} quantum {int(quantum)}"
        ],
    )
    files.put(
        name="write /usr/local/sbin/preau-shaping",
        src=io.StringIO(script),
        dest="/usr/local/sbin/preau-shaping",
        mode="755",
        user="root",
        group="root",
    )
