"""`preau lab up --egress`: the lab reaches the Debian mirror through the core, and a plain `up`
takes the way out away again, leaving nothing on the machine.

Checked from the core, whose own traffic goes straight out: whether a collège host may use the
way out is its router's policy, which the network layer sets (and its tests check).
"""

from __future__ import annotations

import re

import pytest

from fixtures.lab import Lab
from preau.lab import topology, twin

pytestmark = pytest.mark.lab


def _mirror(lab: Lab, host: str) -> str:
    """The mirror the host's own apt uses (the lab images copy the machine's sources)."""
    sources = lab.exec(host, "cat", "/etc/apt/sources.list.d/debian.sources").stdout
    match = re.search(r"^URIs:\s*(\S+)", sources, re.MULTILINE)
    assert match, sources
    return match.group(1).rstrip("/")


def test_egress_reaches_the_mirror_and_goes_away(lab: Lab) -> None:
    if topology.instance():
        pytest.skip("--egress changes the machine itself: only the default lab instance has it")
    core = topology.CORE_NAME
    url = f"{_mirror(lab, core)}/dists/bookworm/Release"
    with_egress = topology.plan(lab.dep, list(lab.plan.colleges), egress=True)
    try:
        twin.up(with_egress)
        code = lab.exec(
            core, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "30", url
        ).stdout
        assert code == "200"
    finally:
        report = twin.up(lab.plan)
    assert "egress" in report.removed
    proc = lab.exec(core, "curl", "-sS", "--max-time", "5", "-o", "/dev/null", url, check=False)
    assert proc.returncode != 0, "the mirror is still reachable without --egress"
    assert not [x for x in twin.leftovers() if "plx" in x or topology.EGRESS_NFT_TABLE in x]
