"""Each role's molecule scenario (create, converge, idempotence, testinfra verify, destroy).

Run from the one pytest session so CI has one closing line and shares the images built for
the lab; scripts/molecule-all runs the same scenarios outside pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from preau.lab import images

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(
    (p.parents[2].name, p.parent.name) for p in (REPO / "roles").glob("*/molecule/*/molecule.yml")
)


@pytest.fixture(scope="session")
def lab_images() -> None:
    """The localhost/preau-* images the scenarios use (a no-op when cached)."""
    images.build(images.plan())


@pytest.mark.molecule
@pytest.mark.parametrize(("role", "scenario"), SCENARIOS, ids=[f"{r}-{s}" for r, s in SCENARIOS])
def test_molecule_scenario(role: str, scenario: str, lab_images: None, tmp_path: Path) -> None:
    env = dict(os.environ)
    env.update(
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        CONTAINERS_CONF=str(REPO / "lab" / "containers.conf"),
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="0",
        PY_COLORS="0",
    )
    log = REPO / "build" / "molecule" / f"{role}-{scenario}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as fh:
        proc = subprocess.run(
            ["molecule", "test", "-s", scenario],
            cwd=REPO / "roles" / role,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if proc.returncode != 0:
        subprocess.run(
            ["molecule", "destroy", "-s", scenario],
            cwd=REPO / "roles" / role, env=env, capture_output=True, check=False,
        )  # fmt: skip
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:])
        pytest.fail(f"molecule test {role}/{scenario} failed (log {log}):\n{tail}")
