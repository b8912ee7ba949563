"""Every network golden case renders exactly its expected/ files (one test id per case).

On a mismatch the failure shows a unified diff. If the change is intended, regenerate with
`preau net goldens --update` and review the diff of network/*/cases/*/expected in git.
"""

from __future__ import annotations

import pytest

from preau.verify import goldens

CASES = goldens.cases()


def test_every_platform_has_a_case() -> None:
    assert {c.platform for c in CASES} == {"linux", "ios", "junos"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_golden(case: goldens.Case) -> None:
    assert goldens.expected(case), f"{case.id}: no expected/ yet, run `preau net goldens --update`"
    changes = goldens.diff(case, goldens.render_case(case))
    if changes:
        pytest.fail(
            f"{case.id} ({case.description}) differs from its golden files; if intended, run "
            f"`preau net goldens --update`:\n{changes}",
            pytrace=False,
        )
