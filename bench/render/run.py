"""Benchmark: render every network config of N generated collèges (target: 100 in < 2 s).

Run from the repo root:  .venv/bin/python bench/render/run.py [--colleges 100] [--repeat 5]
It prints a summary and writes bench/results/render.json. Not a test: timings depend on the
machine, so they are recorded here rather than asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from preau.render import environment, render_all
from preau.sot.generate import generate

RESULTS = Path(__file__).resolve().parents[1] / "results" / "render.json"
TARGET_S = 2.0


def run_once(dep) -> tuple[float, int, int, int]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    devices = files = size = 0
    for _site, rendered in render_all(dep):
        for device_files in rendered.values():
            devices += 1
            files += len(device_files)
            size += sum(len(t) for t in device_files.values())
    return time.perf_counter() - start, devices, files, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--colleges", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    t0 = time.perf_counter()
    dep = generate(args.colleges)
    generate_s = time.perf_counter() - t0

    environment.cache_clear()  # the first run includes compiling the templates
    cold, devices, files, size = run_once(dep)
    warm = [run_once(dep)[0] for _ in range(args.repeat)]
    result = {
        "benchmark": "render every network config of N generated collèges (+ the data centre)",
        "command": f".venv/bin/python bench/render/run.py --colleges {args.colleges} "
        f"--repeat {args.repeat}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
        },
        "colleges": args.colleges,
        "sites": len(dep.sites),
        "devices_rendered": devices,
        "files": files,
        "bytes": size,
        "generate_s": round(generate_s, 3),
        "cold_s": round(cold, 3),
        "warm_median_s": round(statistics.median(warm), 3),
        "warm_min_s": round(min(warm), 3),
        "per_college_ms": round(1000 * statistics.median(warm) / max(args.colleges, 1), 2),
        "target_s": TARGET_S,
        "meets_target": cold < TARGET_S,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
