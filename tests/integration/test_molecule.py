"""Each role's molecule scenario (create, converge, idempotence, testinfra verify, destroy).

Run from the one pytest session so CI has one closing line and shares the images built for
the lab; scripts/molecule-all runs the same scenarios outside pytest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures import molecule

REPO = Path(__file__).resolve().parents[2]
# the scenarios another module runs with `molecule test`, because it uses their hosts after
RUN_ELSEWHERE = {
    # the load tests' stack (`preau ent lab up`): tested then kept up for them
    ("ent_portal", "default"): "tests/integration/test_ent_stack.py",
}
SCENARIOS = sorted(
    (p.parents[2].name, p.parent.name)
    for p in (REPO / "roles").glob("*/molecule/*/molecule.yml")
    if (p.parents[2].name, p.parent.name) not in RUN_ELSEWHERE
)


@pytest.mark.molecule
@pytest.mark.parametrize(("role", "scenario"), SCENARIOS, ids=[f"{r}-{s}" for r, s in SCENARIOS])
def test_molecule_scenario(role: str, scenario: str, lab_images: None) -> None:
    molecule.test(role, scenario)
