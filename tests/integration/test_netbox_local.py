"""The local NetBox service: `preau netbox up | down | reset | status` against real processes."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pynetbox
import pytest
from typer.testing import CliRunner

from preau.app import app
from preau.errors import ServiceError
from preau.netbox_local import NetBoxSettings, client_settings, resolve_settings, service
from preau.netbox_local.paths import Paths

pytestmark = pytest.mark.netbox


def _free_port() -> int:
    """A free port below the kernel's ephemeral range.

    A port the kernel hands out (bind to 0) may become the local end of some outgoing connection
    in the half minute before the service binds it; one below the range cannot.
    """
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    while True:
        port = random.randrange(20000, low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _running(pid: int) -> bool:
    """A process counts as gone once it is a zombie: init reaps daemons' zombies on its own."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _children(pid: int) -> list[int]:
    """Direct children (gunicorn workers, PostgreSQL backends and helpers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def test_up_is_idempotent(netbox_service: NetBoxSettings) -> None:
    assert service.up() is False  # already healthy: nothing done
    assert client_settings() == netbox_service


def test_status_reports_healthy(netbox_service: NetBoxSettings) -> None:
    st = service.status()
    assert st.healthy, st
    assert [s.name for s in st.services] == ["postgres", "redis", "netbox"]
    assert all(s.pid for s in st.services)
    assert st.netbox_version and st.netbox_version.startswith("4.7")
    result = CliRunner().invoke(app, ["netbox", "status", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["healthy"] is True
    assert netbox_service.token not in result.output  # "token: set", never the token itself


def test_api_accepts_the_token_and_refuses_a_bad_one(netbox_api: pynetbox.api) -> None:
    assert netbox_api.status()["netbox-version"].startswith("4.7")
    assert list(netbox_api.users.users.filter(username="admin"))
    bad = pynetbox.api(
        netbox_api.base_url.removesuffix("/api"), token="nbt_AAAAAAAAAAAA." + "B" * 40
    )
    with pytest.raises(pynetbox.RequestError) as err:
        list(bad.dcim.sites.all())
    assert err.value.req.status_code in (401, 403)


def test_the_web_ui_comes_with_its_stylesheets(netbox_service: NetBoxSettings) -> None:
    """The login page and the CSS, JavaScript and images it links to are all served (by
    WhiteNoise in gunicorn: the local NetBox has no web server in front)."""
    with urllib.request.urlopen(f"{netbox_service.url}/login/", timeout=10) as resp:
        page = resp.read().decode()
    assets = re.findall(r'(?:href|src)="(/static/[^"?]+)', page)
    assert any(a.endswith(".css") for a in assets) and any(a.endswith(".js") for a in assets)
    for asset in assets:
        with urllib.request.urlopen(f"{netbox_service.url}{asset}", timeout=10) as resp:
            assert resp.status == 200 and resp.read(), asset
            if asset.endswith(".css"):
                assert resp.headers["Content-Type"].startswith("text/css"), asset


def test_reset_wipes_what_a_test_created(netbox_api: pynetbox.api) -> None:
    netbox_api.dcim.sites.create(name="Collège Reset", slug="college-reset")
    assert netbox_api.dcim.sites.count() == 1
    service.reset()
    assert netbox_api.dcim.sites.count() == 0
    # The seed keeps the admin and its token: the same client still works after the reset.
    netbox_api.dcim.sites.create(name="Collège Reset", slug="college-reset")
    assert netbox_api.dcim.sites.count() == 1


def test_resolve_settings_prefers_env(
    netbox_service: NetBoxSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREAU_NETBOX_URL", raising=False)
    monkeypatch.delenv("PREAU_NETBOX_TOKEN", raising=False)
    assert resolve_settings() == netbox_service
    monkeypatch.setenv("PREAU_NETBOX_URL", "http://198.18.0.10:8000/")
    monkeypatch.setenv("PREAU_NETBOX_TOKEN", "nbt_x.y")
    assert resolve_settings() == NetBoxSettings("http://198.18.0.10:8000", "nbt_x.y")


@pytest.fixture
def second_instance(monkeypatch: pytest.MonkeyPatch) -> Iterator[Paths]:
    """A second, throw-away local NetBox on other ports and directories.

    Stopping it leaves the shared instance of the other tests alone. Its PostgreSQL data goes
    under /var/tmp because pytest's tmp_path is not reachable by the `postgres` user.
    """
    root = Path(tempfile.mkdtemp(prefix="preau-nbtest-", dir="/var/tmp"))
    root.chmod(0o755)
    monkeypatch.setenv("PREAU_HOME", str(root / "home"))
    monkeypatch.setenv("PREAU_NETBOX_PGROOT", str(root / "pg"))
    monkeypatch.setenv("PREAU_NETBOX_PG_PORT", str(_free_port()))
    monkeypatch.setenv("PREAU_NETBOX_REDIS_PORT", str(_free_port()))
    monkeypatch.setenv("PREAU_NETBOX_PORT", str(_free_port()))
    paths = Paths.from_env()
    try:
        yield paths
    finally:
        service.down(paths, purge=True)
        shutil.rmtree(root, ignore_errors=True)


def test_fresh_up_then_down_leaves_nothing_behind(second_instance: Paths) -> None:
    paths = second_instance
    assert client_settings(paths) is None  # never set up
    assert service.up(paths) is True
    settings = client_settings(paths)
    assert settings is not None and settings.url == paths.url
    assert (paths.secrets_file.stat().st_mode & 0o777) == 0o600
    assert (paths.client_file.stat().st_mode & 0o777) == 0o600
    api = pynetbox.api(settings.url, token=settings.token)
    assert api.status()["netbox-version"].startswith("4.7")
    masters = [s.pid for s in service.status(paths).services]
    assert all(masters)
    pids = [p for m in masters if m for p in [m, *_children(m)]]
    assert len(pids) > len(masters) + 2  # gunicorn workers and PostgreSQL helpers included

    assert sorted(service.down(paths)) == ["netbox", "postgres", "redis"]
    for pid in pids:
        assert pid is not None and not _running(pid), f"pid {pid} survived"
    for port in (paths.pg_port, paths.redis_port, paths.netbox_port):
        assert not _port_open(port), f"port {port} still open"
    assert not service.status(paths).healthy
    assert service.down(paths) == []  # idempotent


def test_up_refuses_a_port_taken_by_someone_else(second_instance: Paths) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", second_instance.redis_port))
        squatter.listen()
        with pytest.raises(ServiceError, match=f"port {second_instance.redis_port}"):
            service.up(second_instance)


def test_a_gunicorn_killed_at_start_is_reported_and_a_rerun_finishes(
    second_instance: Paths,
) -> None:
    """gunicorn killed while it imports NetBox: a clear error naming the signal, then `up` again
    brings the service up from where the first run stopped."""
    paths = second_instance
    killed: list[int] = []

    def kill_first_gunicorn() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            with contextlib.suppress(OSError, ValueError):
                pid = int(paths.gunicorn_pid.read_text().split()[0])
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_gunicorn)
    killer.start()
    try:
        with pytest.raises(ServiceError, match="gunicorn\\) was killed by SIGKILL during start-up"):
            service.up(paths)
    finally:
        killer.join()
    assert killed, "the fault was never injected"
    notes: list[str] = []
    assert service.up(paths, note=notes.append) is True
    assert notes == ["starting NetBox (gunicorn)"]  # the database and its token were kept
    st = service.status(paths)
    assert st.healthy, st
    assert st.services[2].pid not in killed


def test_up_restarts_a_netbox_started_by_another_preau(second_instance: Paths) -> None:
    """A gunicorn left running by an older preau (another WSGI module, another configuration)
    is healthy but not this preau's: `up` starts it again, then has nothing left to do."""
    paths = second_instance
    assert service.up(paths) is True
    before = service.status(paths).services[2].pid
    (paths.run_dir / "gunicorn.spec").write_text("started-by-an-older-preau\n")
    notes: list[str] = []
    assert service.up(paths, note=notes.append) is True
    assert any(n.startswith("restarting NetBox (gunicorn)") for n in notes), notes
    st = service.status(paths)
    assert st.healthy and st.services[2].pid not in (None, before)
    assert service.up(paths) is False
