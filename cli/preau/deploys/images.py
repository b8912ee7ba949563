"""Publish PC images on a collège's app server (pyinfra), and roll a publication back.

A publication copies a built image (kernel, initrd, root filesystem) to
`<http_root>/boot/<image>/<key>/` (files already there with the same checksum are not sent
again) and rewrites `<http_root>/boot/published.ipxe`, the menu the app server's boot script
chains to (roles/app_server writes boot.ipxe; preau writes this one, so neither undoes the
other). The server keeps every published key it holds and `published.json` records them newest
first: rolling back rewrites the menu to the previous key, copying and rebuilding nothing.
"""

from __future__ import annotations

import io
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyinfra.api import deploy
from pyinfra.facts.server import Command
from pyinfra.operations import files

from preau.engines import pyinfra as engine
from preau.errors import BadInput
from preau.model import services

HTTP_ROOT = "/srv/http"
BOOT_DIR = f"{HTTP_ROOT}{services.BOOT.http_dir}"
MENU = f"{BOOT_DIR}/{services.BOOT.menu}"
STATE = f"{BOOT_DIR}/published.json"
ARTEFACTS = ("vmlinuz", "initrd.img", "filesystem.squashfs")


@dataclass(frozen=True)
class Entry:
    """One image offered by the menu: its name, the key it boots, its title."""

    name: str
    key: str
    title: str


def cmdline(entry: Entry, console: str = "ttyS0,115200") -> str:
    """The kernel command line: live-boot fetches the root filesystem over HTTP into RAM."""
    base = f"${{boot-url}}/{entry.name}/{entry.key}"
    fetch = f"fetch={base}/filesystem.squashfs"
    return f"initrd=initrd.img boot=live {fetch} console=tty0 console={console}"


def _ascii(text: str) -> str:
    """iPXE prints bytes, not UTF-8: accents go, dashes become '-'."""
    text = text.replace("\u2014", "-").replace("\u2013", "-")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def menu(site_name: str, entries: list[Entry], default: str) -> str:
    """published.ipxe: one item per published image, booting `default` after 5 s."""
    lines = [
        "#!ipxe",
        "# Written by `preau image publish`: the images this app server offers.",
        f"menu {_ascii(f'Démarrage réseau ({site_name})')}",
        *(f"item {e.name} {_ascii(e.title)}" for e in entries),
        f"item local {_ascii('Démarrer sur le disque local')}",
        f"choose --timeout 5000 --default {default} target || goto local",
        "goto ${target}",
    ]
    for e in entries:
        base = f"${{boot-url}}/{e.name}/{e.key}"
        lines += [
            "",
            f":{e.name}",
            f"kernel {base}/vmlinuz {cmdline(e)}",
            f"initrd {base}/initrd.img",
            "boot || goto local",
        ]
    lines += ["", ":local", "exit", ""]
    return "\n".join(lines)


# How many keys of an image the server keeps (the current one and those to roll back to).
KEEP = 3


@deploy("preau: publish PC images")
def _publish(
    site_name: str, sources: dict[str, Path], record: dict[str, Any], titles: dict[str, str]
) -> None:
    for name, folder in sources.items():
        key = folder.name
        files.directory(name=f"{name} {key}: folder", path=f"{BOOT_DIR}/{name}/{key}", mode="755")
        for artefact in ARTEFACTS:
            files.put(
                name=f"{name} {key}: {artefact}",
                src=str(folder / artefact),
                dest=f"{BOOT_DIR}/{name}/{key}/{artefact}",
                mode="644",
            )
    for name, keys in record["images"].items():
        for old in keys[KEEP:]:
            files.directory(name=f"{name} {old}: removed", path=f"{BOOT_DIR}/{name}/{old}",
                            present=False)  # fmt: skip
    entries = [Entry(n, keys[0], titles.get(n, n)) for n, keys in sorted(record["images"].items())]
    files.put(
        name="boot menu published.ipxe",
        src=io.StringIO(menu(site_name, entries, record["default"])),
        dest=MENU,
        mode="644",
    )
    kept = {n: keys[:KEEP] for n, keys in record["images"].items()}
    files.put(
        name="publication record",
        src=io.StringIO(json.dumps({**record, "images": kept}, indent=2, sort_keys=True) + "\n"),
        dest=STATE,
        mode="644",
    )


def read_record(hosts: list[engine.Host], env: dict[str, str]) -> dict[str, Any]:
    """What the app server has published: images (name: keys, newest first), default, titles."""
    raw = engine.facts(hosts, Command, f"cat {STATE} 2>/dev/null || true", env=env)
    text = next(iter(raw.values())) or ""
    record = json.loads(text) if text.strip() else {}
    return {"images": {}, "default": None, "titles": {}, **record}


def publish(
    hosts: list[engine.Host],
    env: dict[str, str],
    site_name: str,
    name: str,
    folder: Path,
    title: str,
    *,
    default: bool = False,
    dry_run: bool = False,
) -> engine.DeployResult:
    """Put the build in `folder` on the app server and make it the image's current key."""
    record = read_record(hosts, env)
    key = folder.name
    keys = [key, *(k for k in record["images"].get(name, []) if k != key)]
    record["images"][name] = keys
    record["titles"][name] = title
    if default or record["default"] not in record["images"]:
        record["default"] = name
    return engine.run(
        hosts, _publish, site_name, {name: folder}, record, record["titles"], dry_run=dry_run,
        env=env,
    )  # fmt: skip


def rollback(
    hosts: list[engine.Host], env: dict[str, str], site_name: str, name: str, *, dry_run: bool
) -> tuple[str, str, engine.DeployResult]:
    """Boot the previous key of `name` again (nothing copied, nothing rebuilt)."""
    record = read_record(hosts, env)
    keys = record["images"].get(name, [])
    if len(keys) < 2:
        raise BadInput(
            f"image {name}: {len(keys)} publication(s) on this server, none to roll back to"
        )
    record["images"][name] = [keys[1], keys[0], *keys[2:]]
    result = engine.run(
        hosts, _publish, site_name, {}, record, record["titles"], dry_run=dry_run, env=env
    )
    return keys[0], keys[1], result
