"""What plan and drift name from a collège's layers (no I/O: results built by hand)."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from preau.engines import ansible as engine
from preau.rollout import CollegeResult, NetStage, findings
from preau.rollout_report import LiveView, _exit_code

ROUTER_DIFF = """\
--- clg-rtr1:/etc/nftables.conf
+++ rendered:/etc/nftables.conf
@@ -1,2 +1 @@
 flush ruleset
-add rule inet preau input tcp dport 2323 accept
--- /dev/null
+++ rendered:/etc/dnsmasq.d/new.conf
@@ -0,0 +1 @@
+dhcp-range=x
"""


def _result(**kw: Any) -> CollegeResult:
    return CollegeResult("clg-x", "0000000A", "plan", **kw)


def test_a_router_finding_carries_only_its_own_files_diff() -> None:
    net = NetStage("clg-rtr1", ["etc/nftables.conf", "etc/dnsmasq.d/new.conf"], diff=ROUTER_DIFF)
    nft, new = findings(_result(net=net))
    assert (nft.layer, nft.host, nft.object) == ("network", "clg-rtr1", "/etc/nftables.conf")
    assert "-add rule" in nft.diff and "dhcp-range" not in nft.diff
    assert new.diff.startswith("--- /dev/null") and "+dhcp-range=x" in new.diff


def test_server_findings_name_host_task_and_diff_and_failures() -> None:
    recap = engine.Recap("playbooks/college.yml", True, "failed", 2, 1.0, "/tmp/a")
    recap.hosts = {"fs1": engine.HostRecap(ok=3, changed=1), "app1": engine.HostRecap(failed=1)}
    recap.changes = [engine.Change("fs1", "Files", "Write smb.conf", "template", "-[x]\n")]
    recap.failures = [engine.Failure("app1", "Apps", "Install", "no package")]
    result = _result(net=NetStage("clg-rtr1"), servers=recap)
    change, failure = findings(result)
    assert (change.host, change.object, change.diff) == (
        "fs1", "Files / Write smb.conf [template]", "-[x]\n",
    )  # fmt: skip
    assert failure.host == "app1" and failure.diff == "no package"
    assert result.failed and result.verdict() == "failed"


def test_exit_codes_say_whose_fault() -> None:
    ok = _result(net=NetStage("r"))
    bad = _result(error="no collège", bad_input=True)
    broken = _result(net=NetStage("r", error="BGP down"))
    assert _exit_code([ok]) == 0
    assert _exit_code([ok, bad]) == 2
    assert _exit_code([bad, broken]) == 1


def test_the_live_view_shows_each_hosts_task_and_counts() -> None:
    view = LiveView()
    progress = engine.HostProgress("fs1", "Files", "Write smb.conf", ok=4, changed=2)
    view.event("clg-x", engine.Event("changed", "fs1", progress))
    view.say("clg-y", "network: clg-y-rtr1 (lab)")
    console = Console(width=160, record=True)
    console.print(view)
    text = console.export_text()
    assert "Write smb.conf" in text and "clg-y: network: clg-y-rtr1 (lab)" in text
    row = next(line for line in text.splitlines() if "fs1" in line)
    cells = [c.strip() for c in row.split("│")[1:-1]]
    assert cells == ["clg-x", "fs1", "Files", "Write smb.conf", "4", "2", "0"]
