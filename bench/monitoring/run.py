"""The monitoring host's cost: Prometheus scraping the targets preau generates for N collèges.

Every target of `preau.monitoring.targets.node_targets` (routers and servers of a generated
département of N collèges) keeps its labels but is pointed at one local node_exporter
(127.0.0.<k>:PORT, loopback aliases), so the series per target are a real node_exporter's.
Prometheus (Debian's binary) runs with the role's alert rules for --seconds; the script prints
and records its resident memory, CPU time, head series, samples per second and disk used.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from preau.monitoring import targets
from preau.sot.generate import generate

RESULTS = Path(__file__).resolve().parents[1] / "results" / "monitoring.json"


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, USER_HZ = 100


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--colleges", type=int, default=30)
    p.add_argument("--seconds", type=int, default=240)
    p.add_argument("--scrape-interval", default="15s")
    p.add_argument("--bin", type=Path, default=Path("/usr/bin"), help="prometheus, node_exporter")
    p.add_argument("--rules", type=Path, help="the role's rendered preau-alerts.yml")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="preau-bench-mon-"))
    groups = []
    for i, t in enumerate(targets.node_targets(generate(args.colleges, pcs=0, printers=0))):
        groups.append({"targets": [f"127.0.{i // 250}.{i % 250 + 2}:19100"], "labels": t.labels})
    (work / "node.json").write_text(json.dumps(groups))
    rules = f"rule_files: [{args.rules}]\n" if args.rules else ""
    (work / "prometheus.yml").write_text(
        f"global: {{scrape_interval: {args.scrape_interval}, evaluation_interval: 15s}}\n{rules}"
        "scrape_configs:\n  - job_name: node\n"
        f"    file_sd_configs: [{{files: [{work}/node.json]}}]\n"
    )
    exporter = [str(args.bin / "prometheus-node-exporter"), "--web.listen-address=0.0.0.0:19100"]
    ne = subprocess.Popen(exporter, stderr=subprocess.DEVNULL)
    prom = subprocess.Popen(
        [str(args.bin / "prometheus"), f"--config.file={work}/prometheus.yml",
         "--web.listen-address=127.0.0.1:19091", f"--storage.tsdb.path={work}/data"],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(args.seconds)

        def q(expr: str) -> float:
            r = requests.get("http://127.0.0.1:19091/api/v1/query", params={"query": expr})
            return float(r.json()["data"]["result"][0]["value"][1])

        up = q("sum(up)")
        samples = q("sum(scrape_samples_scraped)")
        out = {
            "colleges": args.colleges,
            "targets": len(groups),
            "targets_up": int(up),
            "series": int(samples),
            "samples_per_s": round(samples / float(args.scrape_interval.rstrip("s")), 1),
            "seconds": args.seconds,
            "prometheus_rss_mb": round(_rss_kb(prom.pid) / 1024, 1),
            "prometheus_cpu_share_of_one_core": round(_cpu_s(prom.pid) / args.seconds, 4),
            "tsdb_mb": round(
                sum(f.stat().st_size for f in (work / "data").rglob("*") if f.is_file()) / 2**20, 1
            ),
        }
    finally:
        prom.terminate()
        ne.terminate()
        prom.wait()
        ne.wait()
    print(json.dumps(out, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
