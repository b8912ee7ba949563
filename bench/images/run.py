"""PC images: build time, size, boot time on the twin, bytes per boot, a room of 30 on 1 GbE.

    python bench/images/run.py [--rebuild] [--boot] [--result bench/results/images.json]

- reads each built image's build.json (size, packages, build seconds);
- `--rebuild`: builds poste-leger again from its recipe with the package cache warm (the
  "warm" build time) and compares the new SHA256SUMS with the previous build's (are two builds
  of one recipe the same bytes?);
- `--boot`: on a twin whose collège is rolled out (`preau lab up` + net apply + college.yml),
  publishes poste-leger, boots a qemu PC on the teaching VLAN and times each step to the login
  prompt; the bytes it fetched come from the app server's nginx log;
- the room model: 30 PCs booting at once share the app server's 1 GbE link; each needs the
  bytes measured above (live-boot copies the root filesystem to RAM), at 94% of line rate
  (TCP goodput measured on this machine's shaped links), plus the boot's own time on a real PC.
Measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from preau.deploys import images as publish
from preau.images import build, recipes
from preau.lab import podman, topology, twin, vm
from preau.sot import open_source

REPO = Path(__file__).resolve().parents[2]
COLLEGE = "clg-0929001j"
ROOM = 30
LINK_BPS = 1e9
GOODPUT = 0.94
# A real PC (a 2020s office desktop, SSD not used: RAM boot) from kernel to login prompt: the
# TCG figure below is emulation, 10-50x slower than hardware for CPU-bound work.
REAL_PC_BOOT_S = 25.0


def built_info() -> dict[str, dict[str, object]]:
    out = {}
    for name in recipes.names():
        folder = build.output_dir(recipes.recipe(name))
        if build.verify(folder):
            out[name] = json.loads((folder / "build.json").read_text())
    return out


def rebuild(name: str) -> dict[str, object]:
    recipe = recipes.recipe(name)
    folder = build.output_dir(recipe)
    before = (folder / "SHA256SUMS").read_text() if build.verify(folder) else None
    keep = Path(tempfile.mkdtemp()) / "SHA256SUMS.previous"
    if before:
        keep.write_text(before)
    built = build.build(recipe, force=True, say=lambda s: print(f"  {s}", flush=True))
    after = (built.directory / "SHA256SUMS").read_text()
    same = {}
    if before:
        old = dict(line.split("  ")[::-1] for line in before.splitlines())
        new = dict(line.split("  ")[::-1] for line in after.splitlines())
        same = {k: old.get(k) == new.get(k) for k in new}
    return {"seconds": round(built.seconds, 1), "identical_to_previous": same or None}


def boot() -> dict[str, object]:
    dep = open_source("files").read()
    site = dep.college(COLLEGE)
    assert site is not None
    recipe = recipes.recipe("poste-leger")
    folder = build.output_dir(recipe)
    app = topology.container_name(site.devices_by_role("app-server")[0].name)
    hosts = [(f"@podman/{app}", {})]
    env = {"CONTAINERS_CONF": podman.env()["CONTAINERS_CONF"]}
    publish.publish(hosts, env, site, recipe.name, folder, recipe.description, default=True)
    log_mark = twin.exec_in(app, "wc", "-l",
                            "/var/log/nginx/access.log", check=False).stdout.split()  # fmt: skip
    start_line = int(log_mark[0]) if log_mark else 0
    marks: dict[str, float] = {}
    t0 = time.monotonic()
    logs = Path(tempfile.mkdtemp())
    pc = vm.boot(dep, site, "teaching", "02:ce:77:00:0b:01", "benchpc", logs)
    try:
        for label, pattern, timeout in (
            ("ipxe_loads_kernel", f"{folder.name}/vmlinuz", 180),
            ("kernel_starts", "Linux version", 300),
            ("root_fetched", "filesystem.squashfs' saved", 600),
            ("login_prompt", vm.LOGIN_PROMPT, 1500),
        ):
            pc.expect(pattern, timeout)
            marks[label] = round(time.monotonic() - t0, 1)
            print(f"  {marks[label]:7.1f} s  {label}", flush=True)
    finally:
        pc.stop()
    lines = twin.exec_in(app, "tail", "-n", f"+{start_line + 1}",
                         "/var/log/nginx/access.log", check=False).stdout.splitlines()  # fmt: skip
    fetched = 0
    for line in lines:
        m = re.search(r'"GET (\S+) HTTP/[\d.]+" (\d{3}) (\d+)', line)
        if m and f"/{recipe.name}/{folder.name}/" in m.group(1):
            fetched += int(m.group(3))
    shutil.rmtree(logs, ignore_errors=True)
    return {"accel": "tcg", "seconds": marks, "bytes_fetched": fetched}


def room_model(bytes_per_pc: int) -> dict[str, float]:
    transfer = ROOM * bytes_per_pc * 8 / (LINK_BPS * GOODPUT)
    return {
        "pcs": ROOM,
        "bytes_per_pc": bytes_per_pc,
        "transfer_s": round(transfer, 1),
        "real_pc_boot_s": REAL_PC_BOOT_S,
        "room_ready_s": round(transfer + REAL_PC_BOOT_S, 1),
        "target_s": 300,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--boot", action="store_true")
    ap.add_argument("--result", type=Path, default=REPO / "bench" / "results" / "images.json")
    args = ap.parse_args()
    result: dict[str, object] = {
        "command": "python bench/images/run.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.node()} {platform.machine()}, 2 cores",
    }
    if args.rebuild:
        print("rebuilding poste-leger (package cache warm)", flush=True)
        result["rebuild"] = rebuild("poste-leger")
    result["images"] = built_info()
    leger = result["images"].get("poste-leger")  # type: ignore[union-attr]
    if args.boot:
        print("booting a PC of the twin from the network", flush=True)
        result["boot"] = boot()
    previous = json.loads(args.result.read_text()) if args.result.exists() else {}
    for key in ("rebuild", "boot"):
        if key not in result and key in previous:
            result[key] = previous[key]
    booted = result.get("boot", {})
    per_pc = booted.get("bytes_fetched") if isinstance(booted, dict) else None  # type: ignore[union-attr]
    if not per_pc and isinstance(leger, dict):
        sizes = leger["sizes"]
        per_pc = sizes["vmlinuz"] + sizes["initrd.img"] + sizes["filesystem.squashfs"]  # type: ignore[index]
    if per_pc:
        result["room"] = room_model(int(per_pc))
    args.result.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result.get("room"), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
