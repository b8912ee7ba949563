"""`preau netbox setup`, `sot push/export`, `college add/list` against the real local NetBox."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from preau.app import app
from preau.errors import PreauError
from preau.model.uai import make_uai
from preau.netbox_local import NetBoxSettings, service
from preau.sot import files
from preau.sot.netbox_schema import LOCATION_FIELDS, SITE_FIELDS

pytestmark = pytest.mark.netbox

REPO = Path(__file__).resolve().parents[2]


class Result:
    def __init__(self, exit_code: int, output: str):
        self.exit_code = exit_code
        self.output = output

    def json(self) -> object:
        return json.loads(self.output)


Run = Callable[..., Result]


def _runner(env: dict[str, str]) -> Run:
    runner = CliRunner()

    def run(*args: str) -> Result:
        res = runner.invoke(app, list(args), env=env)
        if isinstance(res.exception, PreauError):
            # What main() does: one line, the error's exit code.
            return Result(res.exception.exit_code, res.output + str(res.exception))
        if res.exception and not isinstance(res.exception, SystemExit):
            raise res.exception
        return Result(res.exit_code, res.output)

    return run


@pytest.fixture(scope="module")
def nb(netbox_service: NetBoxSettings) -> Iterator[Run]:
    """`preau` pointed at the local NetBox through the environment, on a freshly reset database."""
    service.reset()
    yield _runner(
        {"PREAU_NETBOX_URL": netbox_service.url, "PREAU_NETBOX_TOKEN": netbox_service.token}
    )


def test_setup_then_setup_again(nb: Run) -> None:
    first = nb("netbox", "setup", "--json")
    assert first.exit_code == 0, first.output
    # the site's and the room's fields, and the position field
    created = first.json()["created"]["custom-field"]  # type: ignore[index]
    assert created == len(SITE_FIELDS) + len(LOCATION_FIELDS) + 1
    again = nb("netbox", "setup")
    assert again.exit_code == 0 and "nothing to change" in again.output


def test_push_then_push_again(nb: Run) -> None:
    dry = nb("sot", "push", "--from", str(REPO / "inventory"), "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert dry.json()["dry_run"] is True  # type: ignore[index]
    assert nb("college", "list", "--json", "--source", "netbox").exit_code != 0  # still empty
    first = nb("sot", "push", "--from", str(REPO / "inventory"), "--json")
    assert first.exit_code == 0, first.output
    assert first.json()["created"]["site"] == 4  # type: ignore[index]
    again = nb("sot", "push", "--from", str(REPO / "inventory"))
    assert again.exit_code == 0 and "nothing to change" in again.output, again.output


def test_export_gives_back_the_inventory(nb: Run, tmp_path: Path) -> None:
    res = nb("sot", "export", "--to", str(tmp_path))
    assert res.exit_code == 0, res.output
    shipped = [REPO / "inventory/departement.yml", *(REPO / "inventory/sites").glob("*.yml")]
    for path in sorted(shipped):
        rel = path.relative_to(REPO / "inventory")
        assert (tmp_path / rel).read_bytes() == path.read_bytes(), rel


def test_college_list_reads_netbox(nb: Run) -> None:
    res = nb("college", "list", "--json", "--source", "netbox")
    assert res.exit_code == 0, res.output
    rows = res.json()
    expected = files.load(REPO / "inventory")
    assert [r["uai"] for r in rows] == [c.uai for c in expected.colleges]  # type: ignore[union-attr]


def test_college_add_dry_run_then_add_then_rerun(nb: Run) -> None:
    uai = make_uai(925001)
    args = ["college", "add", "--uai", uai, "--name", "Collège CLI", "--pupils", "300",
            "--pcs", "2", "--printers", "1", "--displays", "1", "--classrooms", "2",
            "--source", "netbox", "--json"]  # fmt: skip
    dry = nb(*args, "--dry-run")
    assert dry.exit_code == 0, dry.output
    planned = dry.json()["college"]  # type: ignore[index]
    assert dry.json()["report"]["dry_run"] is True  # type: ignore[index]
    listed = nb("college", "list", "--json", "--source", "netbox").json()
    assert uai not in [r["uai"] for r in listed]  # type: ignore[union-attr]
    first = nb(*args)
    assert first.exit_code == 0, first.output
    made = first.json()["college"]  # type: ignore[index]
    assert made["container"] == planned["container"] == "198.18.12.0/22"
    assert first.json()["report"]["created"]["site"] == 1  # type: ignore[index]
    again = nb(*args)
    assert again.exit_code == 0
    assert again.json()["report"]["changed"] is False  # type: ignore[index]
    assert again.json()["college"] == made  # type: ignore[index]


def test_bad_token_is_one_clear_line(netbox_service: NetBoxSettings) -> None:
    run = _runner({"PREAU_NETBOX_URL": netbox_service.url, "PREAU_NETBOX_TOKEN": "nbt_x.y"})
    res = run("college", "list", "--source", "netbox")
    assert res.exit_code == 1
    assert "refused the token" in res.output
    assert "nbt_x.y" not in res.output
