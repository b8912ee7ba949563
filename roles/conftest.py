"""pytest setup shared by every role's molecule scenario (the testinfra verifier).

pytest loads this file for roles/<role>/molecule/<scenario>/tests/ because the repo's
pyproject.toml makes the repo root pytest's rootdir. See molecule/README.md.
"""

from __future__ import annotations

import pytest
import testinfra
import testinfra.host


@pytest.fixture(scope="module")
def host(_testinfra_host: testinfra.host.Host) -> testinfra.host.Host:
    """The instance under test, reached with `podman exec` when molecule made it with podman.

    testinfra's ansible backend hands ssh and docker hosts to its native backends but not podman
    ones, so every command would cost a whole ansible run (3 s each here: minutes per scenario).
    """
    backend = _testinfra_host.backend
    if backend.NAME == "ansible":
        name = backend.host  # type: ignore[attr-defined]
        variables = backend.ansible_runner.get_variables(name)  # type: ignore[attr-defined]
        if variables.get("ansible_connection") == "podman":
            return testinfra.get_host(f"podman://{name}")
    return _testinfra_host
