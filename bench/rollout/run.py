"""Rollout benchmark: one collège of the twin (router + file server + app server), side by side
in one run: a rollout from scratch, its package installs alone (the floor), a no-op rerun by
`preau college rollout`, and the same no-op by `ansible-playbook` with Ansible's defaults and
tuned by hand. Not a test: the figures are recorded, not asserted (issue 12's targets are
printed beside them).

Needs the twin down (it brings up a fresh one and takes it down at the end, unless --keep):

    .venv/bin/python bench/rollout/run.py [--repeat 3] [--out bench/results/rollout.json]

Where the time goes comes from ansible-runner's own event records (each task's duration per
host, in the run's artifacts), not from timers of ours around the tasks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from preau.deploys import net_apply
from preau.inventory import group_name
from preau.lab import topology, twin
from preau.sot import open_source

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PREAU = BIN / "preau"
NOOP_TARGET_S = 5.0
NOOP_SPEEDUP_TARGET = 4.0
SCRATCH_OVER_FLOOR_TARGET = 1.3
# the package installs: what a rollout from scratch cannot go below with a warm apt cache
ROLLED_OUT = {"router", "file-server", "app-server"}
INSTALL_ACTIONS = {"ansible.builtin.apt", "apt", "ansible.builtin.package", "package"}


def rollout(uai: str) -> tuple[float, dict]:
    """`preau college rollout` on the twin; wall seconds and the collège's result."""
    start = time.monotonic()
    proc = subprocess.run(
        [str(PREAU), "college", "rollout", uai, "--target", "lab", "--no-accept",
         "--source", "files", "--json"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.monotonic() - start
    results = [
        json.loads(x) for x in proc.stdout.splitlines()
        if x.startswith("{") and json.loads(x).get("type") == "result"
    ]  # fmt: skip
    if proc.returncode != 0 or not results:
        sys.exit(f"preau college rollout {uai} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return wall, results[0]


def playbook(group: str, env: dict[str, str]) -> float:
    """ansible-playbook playbooks/college.yml on the twin's inventory, as typed by hand."""
    start = time.monotonic()
    proc = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(REPO / "inventory" / "lab.sh"),
         str(REPO / "playbooks" / "college.yml"), "--limit", group],
        cwd=REPO, capture_output=True, text=True, check=False,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "PREAU_SOURCE": "files", **env},
    )  # fmt: skip
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"ansible-playbook failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return wall


def task_times(artifacts: str) -> dict[str, dict[str, float]]:
    """host -> task -> seconds, from ansible-runner's job events of one run."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for path in sorted((Path(artifacts) / "job_events").glob("*.json")):
        event = json.loads(path.read_text())
        if event.get("event") not in ("runner_on_ok", "runner_on_skipped", "runner_on_failed"):
            continue
        data = event.get("event_data", {})
        if "duration" not in data:
            continue
        key = f"{data.get('task_action', '?')}: {data.get('task', '?')}"
        out[data["host"]][key] = out[data["host"]].get(key, 0.0) + float(data["duration"])
    return out


def installs_floor(times: dict[str, dict[str, float]]) -> float:
    """The package installs alone: per host the sum of its apt tasks; hosts run side by side,
    so the floor is the slowest host's."""
    per_host = [
        sum(s for task, s in tasks.items() if task.split(":")[0] in INSTALL_ACTIONS)
        for tasks in times.values()
    ]
    return max(per_host, default=0.0)


def per_task(times: dict[str, dict[str, float]]) -> dict[str, float]:
    """Tasks run per host and their mean time: Ansible's cost per task, the bulk of a no-op."""
    counts = [len(tasks) for tasks in times.values()]
    total = sum(sum(tasks.values()) for tasks in times.values())
    return {
        "tasks_per_host_max": max(counts, default=0),
        "mean_task_s": round(total / max(1, sum(counts)), 3),
    }


def top_tasks(times: dict[str, dict[str, float]], n: int = 8) -> list[dict]:
    merged: dict[str, float] = defaultdict(float)
    for tasks in times.values():
        for task, s in tasks.items():
            merged[task] += s
    ranked = sorted(merged.items(), key=lambda kv: -kv[1])[:n]
    return [{"task": t, "host_seconds": round(s, 2)} for t, s in ranked]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "rollout.json")
    parser.add_argument("--keep", action="store_true", help="leave the twin up at the end")
    args = parser.parse_args()

    dep = open_source("files").read()
    plan = topology.plan(dep)
    college = dep.college(plan.colleges[0])
    assert college is not None
    uai, group = college.uai, group_name(college.slug)
    if twin.leftovers():
        sys.exit("the twin is up: `preau lab down` first (the bench starts from a fresh one)")
    started = time.monotonic()
    twin.up(plan, source={"source": "files"})
    # the data centre's resolver the collège's router forwards to, as production has it
    dc = next(s.slug for s in dep.sites if s.slug not in {c.slug for c in dep.colleges})
    net_apply.apply(dep, net_apply.target(dep, dc, "lab"), timeout=60)
    up_s = time.monotonic() - started
    try:
        scratch_s, first = rollout(uai)
        scratch_times = task_times(first["servers"]["artifacts"])
        floor_s = installs_floor(scratch_times)
        noop: list[float] = []
        noop_servers: list[float] = []
        last: dict = {}
        for _ in range(args.repeat):
            wall, last = rollout(uai)
            if last["verdict"] != "nothing changed":
                sys.exit(f"the rerun changed something: {last['verdict']}")
            noop.append(wall)
            noop_servers.append(last["servers"]["seconds"])
        noop_times = task_times(last["servers"]["artifacts"])
        with tempfile.TemporaryDirectory() as tmp:
            empty = Path(tmp) / "ansible.cfg"
            empty.write_text("[defaults]\n")
            # Ansible as installed: no ansible.cfg of ours (no pipelining), the roles found
            default = {"ANSIBLE_CONFIG": str(empty), "ANSIBLE_ROLES_PATH": str(REPO / "roles")}
            # by hand: our ansible.cfg (pipelining), facts cached between runs, more forks
            tuned = {
                "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
                "ANSIBLE_GATHERING": "smart",
                "ANSIBLE_CACHE_PLUGIN": "jsonfile",
                "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(Path(tmp) / "facts"),
                "ANSIBLE_FORKS": "20",
            }
            default_s = [playbook(group, default) for _ in range(args.repeat)]
            playbook(group, tuned)  # fills the fact cache
            tuned_s = [playbook(group, tuned) for _ in range(args.repeat)]
    finally:
        if not args.keep:
            twin.down()

    noop_med = statistics.median(noop)
    result = {
        "command": "bench/rollout/run.py --repeat " + str(args.repeat),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "college": uai,
        # what a rollout configures: the router (pyinfra) and the servers (Ansible)
        "hosts": sorted(d.name for d in college.devices if d.role in ROLLED_OUT),
        "twin_up_s": round(up_s, 1),
        "scratch": {
            "preau_rollout_s": round(scratch_s, 1),
            "servers_stage_s": round(first["servers"]["seconds"], 1),
            "package_installs_floor_s": round(floor_s, 1),
            "ratio_to_floor": round(scratch_s / floor_s, 2) if floor_s else None,
            "target_ratio": SCRATCH_OVER_FLOOR_TARGET,
            **per_task(scratch_times),
            "slowest_tasks": top_tasks(scratch_times),
        },
        "noop": {
            "preau_rollout_s": [round(x, 1) for x in noop],
            "preau_rollout_median_s": round(noop_med, 1),
            "servers_stage_median_s": round(statistics.median(noop_servers), 1),
            "ansible_playbook_default_s": [round(x, 1) for x in default_s],
            "ansible_playbook_tuned_s": [round(x, 1) for x in tuned_s],
            "speedup_vs_default": round(statistics.median(default_s) / noop_med, 2),
            "speedup_vs_tuned": round(statistics.median(tuned_s) / noop_med, 2),
            "target_s": NOOP_TARGET_S,
            "target_speedup_vs_default": NOOP_SPEEDUP_TARGET,
            **per_task(noop_times),
            "slowest_tasks": top_tasks(noop_times),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
