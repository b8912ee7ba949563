"""Benchmark: reading the whole département out of NetBox, preau vs Ansible's nb_inventory.

    .venv/bin/python bench/sot_read/run.py --load --colleges 100

With `--load`, the local NetBox is reset to its seed (everything in it is lost), set up, and
loaded with a generated département (`preau sot generate --colleges N` written to a folder,
then pushed from it): the push is timed too. Then, on the same NetBox:

(a) preau: `NetBoxSource.read()` + `preau.inventory.build()` (the whole model, every host);
(b) `ansible-inventory -i inventory/netbox.yml --list` with `netbox.netbox.nb_inventory`.

HTTP calls are counted for both by a small counting proxy in front of NetBox (preau's own
session counter must agree), in runs apart from the timed ones, which go straight to NetBox.
Wall times are medians over `--repeat` runs. Figures go to bench/results/sot_read.json. Not a
test: timings depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests

from preau import inventory
from preau.model import Departement
from preau.netbox_local import NetBoxSettings, resolve_settings, service
from preau.sot import files
from preau.sot.generate import generate
from preau.sot.netbox import NetBoxSource

REPO = Path(__file__).resolve().parents[2]
RESULT = REPO / "bench" / "results" / "sot_read.json"
VENV_BIN = Path(sys.executable).parent


class CountingProxy:
    """Forwards every request to NetBox and counts them; NetBox sees the proxy's Host header,
    so the `next` page links it returns point back through the proxy."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.calls = 0
        self.lock = threading.Lock()
        proxy = self
        session = requests.Session()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                with proxy.lock:
                    proxy.calls += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
                resp = session.request(
                    self.command, proxy.upstream + self.path, data=body, headers=headers,
                    allow_redirects=False, timeout=600,
                )  # fmt: skip
                content = resp.content
                self.send_response(resp.status_code)
                for k, v in resp.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                         "content-encoding"):  # fmt: skip
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> int:
        with self.lock:
            n, self.calls = self.calls, 0
        return n

    def close(self) -> None:
        self.server.shutdown()


def unique_names(dep: Departement) -> Departement:
    """NetBox needs unique site names; the generator repeats its name list past 60 collèges."""
    seen: dict[str, int] = {}
    colleges = []
    for c in dep.colleges:
        seen[c.name] = seen.get(c.name, 0) + 1
        colleges.append(replace(c, name=f"{c.name} {seen[c.name]}") if seen[c.name] > 1 else c)
    return replace(dep, colleges=tuple(colleges))


def load(settings: NetBoxSettings, colleges: int) -> dict[str, Any]:
    """Reset the local NetBox, set it up, push a generated département from files; timed."""
    service.reset()
    src = NetBoxSource(settings)
    src.setup()
    with tempfile.TemporaryDirectory() as tmp:
        files.dump(unique_names(generate(colleges)), Path(tmp))  # as `preau sot generate --out`
        dep = files.load(Path(tmp))
    calls = src.calls
    steps: dict[str, list[float]] = {}  # "creating device" -> [objects, seconds]
    began: dict[str, float] = {}

    def progress(what: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done == 0:
            began[what] = now
        if done == total:
            step = steps.setdefault(what, [0, 0.0])
            step[0] += total
            step[1] += now - began.pop(what, now)

    load_at_start = os.getloadavg()[0]
    started = time.monotonic()
    report = src.push(dep, progress=progress)
    push_s = time.monotonic() - started
    push_calls = src.calls - calls
    load_at_end = os.getloadavg()[0]
    started = time.monotonic()
    again = src.push(dep)
    written = int(sum(n for n, _ in steps.values()))
    return {
        "push_s": round(push_s, 1),
        "push_calls": push_calls,
        "objects_written": written,
        "objects_per_s": round(written / push_s, 1),
        "load_at_start": round(load_at_start, 2),
        "load_at_end": round(load_at_end, 2),
        "steps": {
            what: {"objects": int(n), "s": round(sec, 1), "ms_per_object": round(1000 * sec / n, 1)}
            for what, (n, sec) in steps.items()
            if n
        },
        "created": report.created,
        "updated": report.updated,
        "second_push_s": round(time.monotonic() - started, 2),
        "second_push_changed": again.changed,
    }


def preau_read(settings: NetBoxSettings) -> tuple[float, int, int]:
    src = NetBoxSource(settings)
    started = time.monotonic()
    dep = src.read()
    inv = inventory.build(dep)
    took = time.monotonic() - started
    hosts = sum(len(g.get("hosts", {})) for g in inv["all"]["children"].values() if "vars" in g)
    return took, src.calls, hosts


def nb_inventory(url: str, token: str) -> tuple[float, int]:
    env = {
        **os.environ,
        "NETBOX_API": url,
        "NETBOX_TOKEN": token,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
    }
    started = time.monotonic()
    out = subprocess.run(
        [str(VENV_BIN / "ansible-inventory"), "-i", str(REPO / "inventory/netbox.yml"), "--list"],
        env=env, cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    took = time.monotonic() - started
    data = json.loads(out.stdout)
    return took, len(data.get("_meta", {}).get("hostvars", {}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--colleges", type=int, default=100)
    ap.add_argument("--load", action="store_true", help="reset the local NetBox and load it first")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each reader (median kept)")
    ap.add_argument("--ansible-repeat", type=int, default=1, help="runs of nb_inventory")
    ap.add_argument("--result", type=Path, default=RESULT, help="where the figures go")
    args = ap.parse_args()
    result_file: Path = args.result

    settings = resolve_settings()
    if settings is None:
        print("no NetBox: run `preau netbox up` (or set PREAU_NETBOX_URL/TOKEN)", file=sys.stderr)
        return 2
    result: dict[str, Any] = {
        "netbox": requests.get(
            f"{settings.url}/api/status/",
            headers={"Authorization": f"Bearer {settings.token}"},
            timeout=30,
        ).json()["netbox-version"],
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_at_start": os.getloadavg()[0],
        },
        "colleges": args.colleges,
    }
    previous = json.loads(result_file.read_text()) if result_file.exists() else {}
    if not args.load and previous.get("push") and previous.get("colleges") == args.colleges:
        # The NetBox was loaded by an earlier `--load` run: keep that run's push figures.
        result["push"] = {**previous["push"], "measured": "in an earlier --load run"}
    if args.load:
        print(f"loading {args.colleges} collèges into {settings.url} …", flush=True)
        result["push"] = load(settings, args.colleges)
        print(f"  push: {result['push']['push_s']} s, {result['push']['push_calls']} calls; "
              f"second push {result['push']['second_push_s']} s", flush=True)  # fmt: skip

    proxy = CountingProxy(settings.url)
    try:
        proxied = NetBoxSettings(proxy.url, settings.token)
        # preau: timed direct, counted through the proxy (and by its own session).
        times, calls, hosts = [], 0, 0
        for _ in range(args.repeat):
            took, calls, hosts = preau_read(settings)
            times.append(took)
        proxy.take()
        _, own_count, _ = preau_read(proxied)
        proxy_count = proxy.take()
        assert own_count == proxy_count == calls, (own_count, proxy_count, calls)
        result["preau"] = {
            "median_s": round(statistics.median(times), 2),
            "runs_s": [round(t, 2) for t in times],
            "http_calls": calls,
            "hosts": hosts,
        }
        print(
            f"preau read + inventory: {result['preau']['median_s']} s, {calls} calls, "
            f"{hosts} hosts",
            flush=True,
        )
        # nb_inventory: timed direct like preau, counted in one more run through the proxy.
        ntimes, nhosts = [], 0
        for _ in range(args.ansible_repeat):
            took, nhosts = nb_inventory(settings.url, settings.token)
            ntimes.append(took)
        proxy.take()
        proxied_s, _ = nb_inventory(proxy.url, settings.token)
        ncalls = proxy.take()
        result["nb_inventory"] = {
            "median_s": round(statistics.median(ntimes), 2),
            "runs_s": [round(t, 2) for t in ntimes],
            "http_calls": ncalls,
            "counting_run_s": round(proxied_s, 2),
            "hosts": nhosts,
        }
        print(
            f"nb_inventory --list: {result['nb_inventory']['median_s']} s, {ncalls} calls, "
            f"{nhosts} hosts",
            flush=True,
        )
    finally:
        proxy.close()
    result["speedup"] = round(result["nb_inventory"]["median_s"] / result["preau"]["median_s"], 1)
    result["command"] = "  ".join(["python bench/sot_read/run.py", *sys.argv[1:]])
    result_file.parent.mkdir(parents=True, exist_ok=True)
    result_file.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"speed-up: {result['speedup']}x; written {result_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
