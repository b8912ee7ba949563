"""`preau ent` commands: bad input and faults give one clear line and an exit code."""

from __future__ import annotations

from typer.testing import CliRunner

from preau.app import app
from preau.errors import BadInput, ServiceError

runner = CliRunner()


def test_min_above_max_is_bad_input():
    r = runner.invoke(
        app,
        ["ent", "autoscale", "--min", "5", "--max", "2", "--once", "--runtime", "tcp:198.18.0.1:9"],
    )
    assert isinstance(r.exception, BadInput) and r.exception.exit_code == 2
    assert "min_instances" in str(r.exception) and "above max_instances 2" in str(r.exception)


def test_unreachable_haproxy_changes_nothing(tmp_path):
    sock = tmp_path / "absent.sock"
    r = runner.invoke(
        app,
        [
            "ent",
            "scale",
            "-n",
            "3",
            "--runtime",
            f"unix:{sock}",
            "--log",
            str(tmp_path / "j.jsonl"),
        ],
    )
    assert isinstance(r.exception, ServiceError) and r.exception.exit_code == 1
    assert "nothing was changed" in str(r.exception)
    assert not (tmp_path / "j.jsonl").exists() or "scale" not in (tmp_path / "j.jsonl").read_text()


def test_bad_runtime_address_is_bad_input():
    r = runner.invoke(app, ["ent", "status", "--runtime", "tcp:nohost"])
    assert isinstance(r.exception, BadInput) and "tcp:HOST:PORT" in str(r.exception)
