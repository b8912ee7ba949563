"""Benchmark: where a NetBox write's time goes, and the floor it puts under a push.

Run from the repo root, with the local NetBox up:  .venv/bin/python bench/netbox_write/run.py
It runs inside.py in NetBox's own interpreter (one bulk POST per kind through NetBox's REST
API in process, rolled back), then multiplies each kind's server-side cost by how many objects
a 100-collège département holds (bench/results/sot_read.json, the `--load` push) to give the
floor of an empty-NetBox push: what NetBox itself spends, before HTTP, gunicorn or preau, with
one request in flight. Figures go to bench/results/netbox_write.json. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from preau.netbox_local import venv
from preau.netbox_local.paths import Paths

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
INSIDE = Path(__file__).with_name("inside.py")
TARGET_S = 300  # issue 9: 100 collèges into an empty NetBox in under 5 minutes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100, help="objects per kind (one POST)")
    args = parser.parse_args()
    paths = Paths.from_env()
    load = os.getloadavg()[0]
    proc = subprocess.run(
        [str(venv.venv_python(paths)), "-m", "netbox", "shell", "-c", INSIDE.read_text()],
        env={**os.environ, "NETBOX_ROOT": str(paths.netbox_root), "BENCH_N": str(args.objects)},
        cwd=paths.home, capture_output=True, text=True, check=False,
    )  # fmt: skip
    line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH-JSON ")), None)
    if proc.returncode != 0 or line is None:
        print(proc.stdout[-2000:] + proc.stderr[-2000:], file=sys.stderr)
        return 1
    measured = json.loads(line.removeprefix("BENCH-JSON "))
    created = json.loads((RESULTS / "sot_read.json").read_text())["push"]["created"]
    floor = {
        kind: round(created[kind] * measured[kind]["ms"] / 1000, 1)
        for kind in ("device", "interface", "mac-address", "ip-address")
    }
    # The push sets each device's primary IP once its address exists: one more device write.
    floor["device-primary-ip"] = round(
        created["device"] * measured["device-primary-ip"]["ms"] / 1000, 1
    )
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_at_start": round(load, 2),
        },
        "command": "python bench/netbox_write/run.py " + " ".join(sys.argv[1:]),
        "per_object": measured,
        "colleges": 100,
        "floor_s_one_stream": floor,
        "floor_total_s_one_stream": round(sum(floor.values()), 1),
        "target_s": TARGET_S,
    }
    (RESULTS / "netbox_write.json").write_text(json.dumps(result, indent=1) + "\n")
    for kind in floor:
        m = measured[kind]
        print(f"{kind:12} {m['ms']:6.1f} ms/object  {m['queries']:5.1f} queries/object")
    print("device steps (profiled, ms/object):", measured["device_steps_ms_per_object"])
    print(f"floor for 100 collèges, one request in flight: {result['floor_total_s_one_stream']} s"
          f" (target {TARGET_S} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
