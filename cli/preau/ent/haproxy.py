"""A client for HAProxy's runtime API (`show stat`, `set server ...`), over a unix or TCP socket.

One command per connection (HAProxy's non-interactive mode): simple, and a lost connection
never leaves a half-read answer behind.
"""

from __future__ import annotations

import csv
import io
import socket
from dataclasses import dataclass
from typing import Literal

from preau.errors import BadInput, ServiceError

State = Literal["ready", "drain", "maint"]


@dataclass(frozen=True)
class Server:
    """One backend server (a slot) as `show stat` reports it."""

    backend: str
    name: str
    addr: str
    status: str  # UP, DOWN, MAINT, DRAIN, "UP 1/2" ... (HAProxy's words)
    scur: int  # current sessions
    qcur: int  # queued requests
    stot: int  # total sessions
    req_tot: int  # total HTTP requests (0 on HAProxy builds without it)
    bout: int  # bytes sent to clients
    hrsp_5xx: int

    @property
    def enabled(self) -> bool:
        """Not in maintenance: HAProxy sends (or will send, once UP) traffic to it."""
        return not self.status.startswith("MAINT")

    @property
    def up(self) -> bool:
        return self.status.startswith("UP")

    @property
    def host(self) -> str:
        return self.addr.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        tail = self.addr.rsplit(":", 1)[-1]
        return int(tail) if tail.isdigit() else 0


@dataclass(frozen=True)
class Totals:
    """Backend-wide counters (the BACKEND row): the controller's load signal."""

    stot: int
    req_tot: int
    bout: int
    hrsp_5xx: int
    scur: int
    qcur: int


# `show servers state`: srv_admin_state bits (HAProxy's SRV_ADMF_*) that the runtime API sets.
# A slot `disabled` in the configuration starts with FMAINT and CMAINT; `state ready` clears
# FMAINT only, so CMAINT alone does not mean maintenance.
_FMAINT, _FDRAIN = 0x01, 0x08


@dataclass(frozen=True)
class Admin:
    """What the runtime API set on a server slot: where it points, and ready/drain/maint."""

    name: str
    addr: str
    port: int
    state: State


def parse_address(text: str) -> tuple[str, str | tuple[str, int]]:
    """`unix:/run/haproxy/admin.sock` or `tcp:HOST:PORT` (or a bare path / HOST:PORT)."""
    if text.startswith("unix:"):
        return "unix", text[5:]
    if text.startswith("/"):
        return "unix", text
    body = text[4:] if text.startswith("tcp:") else text
    host, sep, port = body.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise BadInput(
            f"HAProxy runtime address {text!r}: use unix:/path/to/admin.sock or tcp:HOST:PORT"
        )
    return "tcp", (host, int(port))


def _int(row: dict[str, str], key: str) -> int:
    value = row.get(key) or "0"
    return int(value) if value.isdigit() else 0


class Runtime:
    """The runtime API of one HAProxy."""

    def __init__(self, address: str, timeout: float = 3.0):
        self.address = address
        self.kind, self.target = parse_address(address)
        self.timeout = timeout

    def command(self, line: str) -> str:
        """Send one command, return HAProxy's whole answer."""
        family = socket.AF_UNIX if self.kind == "unix" else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(self.target)
                sock.sendall(line.encode() + b"\n")
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise ServiceError(
                f"HAProxy runtime API at {self.address}: {exc.strerror or exc} "
                "(is HAProxy running, is the address right?); nothing was changed"
            ) from exc
        return b"".join(chunks).decode(errors="replace")

    def _checked(self, line: str) -> None:
        """Commands that answer with an empty line on success, a message otherwise."""
        out = self.command(line).strip()
        if out and not out.startswith("Health check"):
            raise ServiceError(f"HAProxy refused `{line}`: {out}")

    def uptime(self) -> int:
        """Seconds since this HAProxy process started (`show info` Uptime_sec)."""
        for line in self.command("show info").splitlines():
            key, _, value = line.partition(":")
            if key == "Uptime_sec" and value.strip().isdigit():
                return int(value)
        raise ServiceError(f"HAProxy at {self.address}: no Uptime_sec in `show info`")

    def stat(self) -> list[dict[str, str]]:
        text = self.command("show stat")
        if not text.startswith("# "):
            raise ServiceError(f"HAProxy at {self.address}: unexpected `show stat` answer")
        return list(csv.DictReader(io.StringIO(text[2:])))

    def servers(self, backend: str) -> list[Server]:
        """The backend's server slots, in configuration order."""
        rows = self.stat()
        if not any(r["pxname"] == backend for r in rows):
            raise BadInput(f"HAProxy at {self.address}: no backend {backend!r}")
        return [
            Server(
                backend=backend,
                name=r["svname"],
                addr=r.get("addr", ""),
                status=r["status"],
                scur=_int(r, "scur"),
                qcur=_int(r, "qcur"),
                stot=_int(r, "stot"),
                req_tot=_int(r, "req_tot"),
                bout=_int(r, "bout"),
                hrsp_5xx=_int(r, "hrsp_5xx"),
            )
            for r in rows
            if r["pxname"] == backend and r["svname"] not in ("FRONTEND", "BACKEND")
        ]

    def totals(self, backend: str) -> Totals:
        for r in self.stat():
            if r["pxname"] == backend and r["svname"] == "BACKEND":
                return Totals(
                    stot=_int(r, "stot"),
                    req_tot=_int(r, "req_tot"),
                    bout=_int(r, "bout"),
                    hrsp_5xx=_int(r, "hrsp_5xx"),
                    scur=_int(r, "scur"),
                    qcur=_int(r, "qcur"),
                )
        raise BadInput(f"HAProxy at {self.address}: no backend {backend!r}")

    def admin(self, backend: str) -> dict[str, Admin]:
        """Each slot's address and administrative state (`show servers state`)."""
        lines = self.command(f"show servers state {backend}").splitlines()
        header = next((x[2:].split() for x in lines if x.startswith("# ")), None)
        if header is None or "srv_admin_state" not in header:
            raise ServiceError(f"HAProxy at {self.address}: unexpected `show servers state`")
        slots = {}
        for line in lines:
            fields = line.split()
            if line.startswith("#") or len(fields) < len(header):
                continue  # the format's version line, the header
            row = dict(zip(header, fields, strict=False))
            bits = int(row["srv_admin_state"])
            state: State = "maint" if bits & _FMAINT else "drain" if bits & _FDRAIN else "ready"
            port = row.get("srv_port", "0")
            slots[row["srv_name"]] = Admin(
                row["srv_name"], row["srv_addr"], int(port) if port.isdigit() else 0, state
            )
        return slots

    def set_addr(self, backend: str, server: str, addr: str, port: int) -> None:
        out = self.command(f"set server {backend}/{server} addr {addr} port {port}").strip()
        # HAProxy answers with what changed ("IP changed from ...", "no need to change ...")
        if out and not any(w in out for w in ("changed", "no need")):
            raise ServiceError(f"HAProxy refused to re-point {backend}/{server}: {out}")

    def set_state(self, backend: str, server: str, state: State) -> None:
        self._checked(f"set server {backend}/{server} state {state}")
