"""A PC of the twin as a qemu VM, booted from the network like a real one.

The VM's NIC is a tap device on a VLAN's bridge in the lab switch namespace, so it takes its
lease from the collège router and boots through the app server exactly as a PC plugged into
that VLAN would: qemu's iPXE boot ROM (Debian's ipxe-qemu) asks DHCP as `iPXE`, gets the boot
script's URL, and loads the kernel, initrd and root filesystem the script names. A VM brings
its own kernel (with CIFS, which this host's kernel lacks). Its serial console is driven with
pexpect, every wait bounded.

KVM here is a PVM flavour a stock guest kernel cannot use (measured: it hangs silently), so the
VM runs under TCG emulation unless PREAU_VM_ACCEL says otherwise.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pexpect

from preau.errors import ServiceError
from preau.lab import topology
from preau.model import Departement, Site

QEMU = "qemu-system-x86_64"
# virtio-net: the iPXE ROM and the kernel both drive it, and it is the fastest NIC under TCG.
NIC_MODEL = "virtio-net-pci"
# getty's prompt ("<host> login: ") or login's own when it asks again, in French ("<host>
# connexion : ", a no-break space before the colon); not the line a session starts with
# ("Last login:", "Dernière connexion :")
LOGIN_PROMPT = r"(?<!Last )(?<!Dernière )(login|connexion)\s?: $"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


@dataclass
class PcVm:
    """A running VM: its console, its tap, where its console is logged."""

    name: str
    mac: str
    tap: str
    console: pexpect.spawn
    log: Path
    transcript: list[str] = field(default_factory=list)

    def expect(self, pattern: str | list[str], timeout: float) -> int:
        """Wait for `pattern` on the console; a timeout or an exit says what was last seen."""
        try:
            return int(self.console.expect(pattern, timeout=timeout))
        except (pexpect.TIMEOUT, pexpect.EOF) as exc:
            tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            what = "timed out" if isinstance(exc, pexpect.TIMEOUT) else "exited"
            raise ServiceError(
                f"VM {self.name}: {what} after {timeout:.0f} s waiting for {pattern!r}; "
                f"console tail:\n{tail}"
            ) from None

    def send(self, line: str) -> None:
        self.console.sendline(line)

    def login(self, user: str, password: str, timeout: float = 180) -> bool:
        """Log in at the console's prompt (the VM must be showing `login:`): True once a shell
        answers, False when the login is refused and the prompt is back. The password's echo is
        off, so it reaches neither the console log nor the transcript."""
        self.send(user)
        self.expect("Password:", timeout=60)
        self.send(password)
        got = self.expect([r"[$#] $", LOGIN_PROMPT, "Login incorrect", "Cannot "], timeout=timeout)
        if got >= 2:  # refused: login says why, then getty or login asks again
            self.expect(LOGIN_PROMPT, timeout=120)
        if got >= 1:
            return False
        # commands are not echoed back, and the prompt is one no output looks like
        self.send("stty -echo; export PS1='vm$ ' TERM=dumb")
        self.expect(r"vm\$ $", timeout=30)
        return True

    def run(self, command: str, timeout: float = 120) -> tuple[int, str]:
        """Run COMMAND in the logged-in shell: its exit code and what it printed."""
        self.send(f'{command}; echo "@@rc=$?@@"')
        self.expect(r"@@rc=(\d+)@@", timeout=timeout)
        match, out = self.console.match, str(self.console.before)
        assert match is not None and not isinstance(match, type(pexpect.EOF))
        self.expect(r"vm\$ $", timeout=30)
        return int(match.group(1)), out.replace("\r", "").strip("\n")

    def logout(self, timeout: float = 120) -> None:
        self.send("exit")
        self.expect(LOGIN_PROMPT, timeout=timeout)

    def stop(self) -> None:
        if self.console.isalive():
            self.console.terminate(force=True)
        _ip("-n", topology.switch_netns(), "link", "del", self.tap, check=False)


def tap_name(name: str) -> str:
    return f"plt{hashlib.sha256(name.encode()).hexdigest()[:10]}"


def boot(
    dep: Departement,
    site: Site,
    vlan: str,
    mac: str,
    name: str,
    log_dir: Path,
    memory_mib: int = 1536,
) -> PcVm:
    """Start a VM whose only NIC is on `vlan` of `site`, booting from the network."""
    vid = next((v.vid for v in dep.site_vlans(site) if v.role == vlan), None)
    if vid is None:
        raise ServiceError(f"{site.slug} has no {vlan} VLAN to plug a VM into")
    ns, tap = topology.switch_netns(), tap_name(name)
    _ip("-n", ns, "link", "del", tap, check=False)
    _ip("-n", ns, "tuntap", "add", "dev", tap, "mode", "tap")
    _ip("-n", ns, "link", "set", tap, "master", topology.bridge_name(site.slug, vid), "up")
    accel = os.environ.get("PREAU_VM_ACCEL", "tcg")
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.console.log"
    args = [
        "netns", "exec", ns, QEMU,
        "-name", name, "-accel", accel, "-cpu", "max", "-smp", "2", "-m", str(memory_mib),
        "-nographic", "-serial", "mon:stdio", "-no-reboot",
        "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
        "-device", f"{NIC_MODEL},netdev=n0,mac={mac}",
        "-boot", "n",
    ]  # fmt: skip
    console = pexpect.spawn("ip", args, encoding="utf-8", codec_errors="replace", timeout=30)
    console.logfile_read = log.open("w")
    return PcVm(name=name, mac=mac, tap=tap, console=console, log=log)
