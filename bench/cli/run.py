"""Benchmark: how long `preau --help` takes to answer (target: under 0.3 s on this machine).

Run from the repo root:  .venv/bin/python bench/cli/run.py --label after [--repeat 20]
It runs the real entry point (the `preau` next to the Python running this script) --repeat
times after two warm-up runs (so the page cache holds the files), prints the figures and
stores them under their --label in bench/results/cli.json, next to the other labels already
there (e.g. "before" and "after" a change). Wall time is what a user waits; CPU time (user +
system of the child) is what the process itself costs, and moves less when other work shares
the two cores. It also lists the heavy libraries `import preau.app` pulls in. Not a test:
timings depend on the machine and its load, so they are recorded, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "cli.json"
TARGET_S = 0.3
HEAVY = ("pyinfra", "pynetbox", "ansible", "ansible_runner", "matplotlib", "requests", "jinja2")


def time_once(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def python_used() -> str:
    """This interpreter as typed from the repo root: the repo's venv, or another checkout's."""
    exe = Path(sys.executable)
    return str(exe.relative_to(REPO)) if exe.is_relative_to(REPO) else str(exe)


def measured_checkout(python: str) -> str:
    """The commit of the checkout whose preau this venv runs (editable install)."""
    code = "import preau, pathlib; print(pathlib.Path(preau.__file__).parent)"
    where = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    head = subprocess.run(
        ["git", "-C", where.stdout.strip(), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    )
    return head.stdout.strip()


def heavy_imported(python: str) -> list[str]:
    """Which of HEAVY `import preau.app` loads (top-level package names)."""
    code = (
        f"import sys, preau.app; print(' '.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--label", required=True, help="e.g. before / after")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    venv_bin = Path(sys.executable).parent
    argv = [str(venv_bin / "preau"), "--help"]
    for _ in range(2):
        time_once(argv)
    runs = [time_once(argv) for _ in range(args.repeat)]
    wall = [w for w, _ in runs]
    cpu = [c for _, c in runs]
    result = {
        "command": f"{python_used()} bench/cli/run.py --label {args.label} --repeat {args.repeat}",
        "measured": "wall time of `.venv/bin/preau --help` (a fresh process each run)",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": measured_checkout(str(venv_bin / "python")),
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
        },
        "repeat": args.repeat,
        "median_s": round(statistics.median(wall), 3),
        "min_s": round(min(wall), 3),
        "max_s": round(max(wall), 3),
        "cpu_median_s": round(statistics.median(cpu), 3),
        "cpu_min_s": round(min(cpu), 3),
        "heavy_modules_imported": heavy_imported(str(venv_bin / "python")),
        "target_s": TARGET_S,
        "meets_target": statistics.median(wall) < TARGET_S,
    }
    stored = json.loads(args.out.read_text()) if args.out.exists() else {}
    stored[args.label] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(stored, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
