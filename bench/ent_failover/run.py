"""ENT failover benchmark: the ha scenario's drills, run several times, against the targets.

Brings the scenario up once (`molecule converge -s ha`), then runs its verifier `--repeat`
times: each run kills, under load, the active HAProxy, the Redis master and every service of an
app host, and records per kill the recovery time (until the last failed or stalled request) and
the failed requests (a plot of each kill's timeline beside the JSON). Targets (issue 14):
recovery <= 10 s, failed < 0.5% of the requests sent during the failover. Not a test: the
figures are recorded, not asserted.

    .venv/bin/python bench/ent_failover/run.py [--repeat 3] [--out bench/results/ent_failover.json]
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
from pathlib import Path

from preau.ent import report

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "ent_portal"
RECOVERY_TARGET_S = 10.0
FAILED_TARGET = 0.005


def molecule(action: str, env: dict[str, str]) -> None:
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run(
        [str(bin_dir / "molecule"), action, "-s", "ha"],
        cwd=ROLE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"molecule {action} -s ha failed:\n{(proc.stdout + proc.stderr)[-3000:]}")


def summary(runs: list[dict]) -> list[dict]:
    faults: dict[str, list[dict]] = {}
    for run in runs:
        faults.setdefault(run["fault"], []).append(run)
    rows = []
    for fault, items in faults.items():
        recovery = [i["recovery_s"] for i in items]
        ratio = [i["failed_ratio"] for i in items]
        rows.append(
            {
                "fault": fault,
                "runs": len(items),
                "recovery_s_median": statistics.median(recovery),
                "recovery_s_max": max(recovery),
                "failed_median": statistics.median(i["failed"] for i in items),
                "sent_median": statistics.median(i["sent"] for i in items),
                "failed_ratio_max": max(ratio),
                "failed_of_drill_max": max(i["failed_total"] / i["sent_total"] for i in items),
                "sessions_lost": sum(i["sessions"] - i["sessions_kept"] for i in items),
                "messages_lost": sum(i["messages"] - i["messages_kept"] for i in items),
                "recovery_target_met": max(recovery) <= RECOVERY_TARGET_S,
                "failed_target_met": max(ratio) < FAILED_TARGET,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/ent_failover.json")
    parser.add_argument("--keep", action="store_true", help="Leave the scenario up.")
    args = parser.parse_args()
    env = dict(os.environ)
    env.setdefault("CONTAINERS_CONF", str(REPO / "lab" / "containers.conf"))
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "failover.json"
        env["PREAU_FAILOVER_RESULTS"] = str(results)
        started = time.monotonic()
        molecule("converge", env)
        try:
            for run in range(args.repeat):
                print(f"run {run + 1}/{args.repeat}", flush=True)
                molecule("verify", env)
        finally:
            if not args.keep:
                molecule("destroy", env)
        runs = json.loads(results.read_text())
    rows = summary(runs)
    out = {
        "command": "bench/ent_failover/run.py --repeat " + str(args.repeat),
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg(), "node": platform.node()},
        "wall_s": round(time.monotonic() - started, 1),
        "targets": {"recovery_s": RECOVERY_TARGET_S, "failed_ratio": FAILED_TARGET},
        "summary": rows,
        "runs": runs,
    }
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    # each kill's timeline: requests per half second, the kill and the recovery marked
    print(f"plot: {report.failover_plot(runs, args.out.with_suffix('.png'))}")
    for row in rows:
        print(
            f"{row['fault']:<15} recovery median {row['recovery_s_median']:.2f} s "
            f"(max {row['recovery_s_max']:.2f}), failed {row['failed_median']:.0f} of "
            f"{row['sent_median']:.0f} during the failover "
            f"(max ratio {row['failed_ratio_max']:.1%}), "
            f"sessions lost {row['sessions_lost']}, messages lost {row['messages_lost']}"
        )


if __name__ == "__main__":
    main()
