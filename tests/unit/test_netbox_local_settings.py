"""The local NetBox's settings and resolution, without starting anything."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from preau.app import app
from preau.errors import BadInput
from preau.netbox_local import NetBoxSettings, client_settings, resolve_settings
from preau.netbox_local.paths import Paths
from preau.netbox_local.venv import _swap, cache_key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """A PREAU_HOME where the local NetBox was never set up, on ports nobody uses."""
    monkeypatch.setenv("PREAU_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PREAU_NETBOX_PGROOT", str(tmp_path / "pg"))
    for var in ("PREAU_NETBOX_PG_PORT", "PREAU_NETBOX_REDIS_PORT", "PREAU_NETBOX_PORT"):
        monkeypatch.setenv(var, str(_free_port()))
    monkeypatch.delenv("PREAU_NETBOX_URL", raising=False)
    monkeypatch.delenv("PREAU_NETBOX_TOKEN", raising=False)
    return Paths.from_env()


def test_never_set_up_means_no_settings(empty_home: Paths) -> None:
    assert client_settings() is None
    assert resolve_settings() is None


def test_env_wins_over_local(empty_home: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREAU_NETBOX_URL", "http://198.18.0.10:8000/")
    monkeypatch.setenv("PREAU_NETBOX_TOKEN", "nbt_key.secret")
    assert resolve_settings() == NetBoxSettings("http://198.18.0.10:8000", "nbt_key.secret")


def test_settings_never_show_the_token() -> None:
    assert "s3cr3t" not in repr(NetBoxSettings("http://127.0.0.1:1", "nbt_k.s3cr3t"))


def test_local_settings_need_a_running_netbox(empty_home: Paths) -> None:
    empty_home.home.mkdir(parents=True)
    empty_home.client_file.write_text(json.dumps({"url": empty_home.url, "token": "nbt_a.b"}))
    assert client_settings() == NetBoxSettings(empty_home.url, "nbt_a.b")
    assert resolve_settings() is None  # nothing listens on that port
    assert resolve_settings(require_running=False) == NetBoxSettings(empty_home.url, "nbt_a.b")


@pytest.mark.parametrize("value", ["http", "80", "70000"])
def test_bad_port_is_bad_input(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREAU_NETBOX_PORT", value)
    with pytest.raises(BadInput, match="PREAU_NETBOX_PORT"):
        Paths.from_env()


def test_status_of_a_stopped_netbox_exits_1(empty_home: Paths) -> None:
    result = CliRunner().invoke(app, ["netbox", "status", "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["healthy"] is False and data["token_set"] is False
    assert {s["name"]: s["detail"] for s in data["services"]} == {
        "postgres": "not running",
        "redis": "not running",
        "netbox": "not running",
    }


def test_reset_without_up_is_a_clear_error(empty_home: Paths) -> None:
    result = CliRunner().invoke(app, ["netbox", "reset"])
    assert result.exit_code == 1
    assert "preau netbox up" in str(result.exception)


def test_venv_key_and_psycopg_swap() -> None:
    assert cache_key().startswith("4.7.3-")
    assert _swap("psycopg[c,pool]==3.3.6") == "psycopg[binary,pool]==3.3.6"
    assert _swap("django==6.1.2") == "django==6.1.2"
