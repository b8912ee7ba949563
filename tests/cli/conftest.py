import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from preau.app import app
from preau.errors import PreauError

REPO = Path(__file__).resolve().parents[2]


class Result:
    def __init__(self, exit_code: int, output: str):
        self.exit_code = exit_code
        self.output = output


@pytest.fixture
def preau(monkeypatch):
    """Run `preau ...` in-process, mapping expected errors to exit codes like main() does."""
    monkeypatch.delenv("PREAU_NETBOX_URL", raising=False)
    monkeypatch.delenv("PREAU_NETBOX_TOKEN", raising=False)
    runner = CliRunner()

    def run(*args: str) -> Result:
        res = runner.invoke(app, list(args))
        if isinstance(res.exception, PreauError):
            return Result(res.exception.exit_code, res.output + str(res.exception))
        if res.exception and not isinstance(res.exception, SystemExit):
            raise res.exception
        return Result(res.exit_code, res.output)

    return run


@pytest.fixture
def inventory_copy(tmp_path):
    """A writable copy of the shipped demo inventory."""
    dst = tmp_path / "inventory"
    shutil.copytree(REPO / "inventory", dst)
    return dst
