"""Where `preau ent status` looks for the parts' state: the ent_portal role's own vars."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from preau.ent import parts
from preau.errors import ServiceError


@pytest.fixture
def role_vars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "main.yml"
    monkeypatch.setattr(parts, "ROLE_VARS", path)
    parts.role_path.cache_clear()
    yield path
    parts.role_path.cache_clear()


def test_the_paths_come_from_the_role_that_makes_them() -> None:
    parts.role_path.cache_clear()
    tasks = "".join(p.read_text() for p in (parts.ROLE_VARS.parents[1] / "tasks").glob("*.yml"))
    for var in ("_ent_portal_pg_node_data", "_ent_portal_sentinel_conf"):
        assert parts.role_path(var).startswith("/var/lib/")
        assert var in tasks, f"the role's tasks do not use {var}"


@pytest.mark.parametrize(
    "content",
    [
        "_ent_portal_pg_node_data: '/var/lib/postgresql/{{ v }}/ent'\n",
        "_ent_portal_pg_node_data: relative/path\n",
        "other: /x\n",
    ],
)
def test_a_path_that_is_not_literal_is_an_error_naming_file_and_var(
    role_vars: Path, content: str
) -> None:
    role_vars.write_text(content)
    with pytest.raises(ServiceError, match=rf"{role_vars}: _ent_portal_pg_node_data"):
        parts.role_path("_ent_portal_pg_node_data")
