"""Publish PC images on a collège's app server (pyinfra), and roll a publication back.

A publication copies a built image (kernel, initrd, root filesystem) to
`<http_root>/boot/<image>/<key>/` (files already there with the same checksum are not sent
again) and rewrites `<http_root>/boot/published.ipxe`, the menu the app server's boot script
chains to (roles/app_server writes boot.ipxe; preau writes this one, so neither undoes the
other). The server keeps every published key it holds and `published.json` records them newest
first: rolling back rewrites the menu to the previous key, copying and rebuilding nothing.

The menu boots each PC its room's image (the source of truth's `room_images`, matched by the
MACs NetBox gives the room's PCs), any other PC the default; a room rolled back on its own is
pinned to an older key in the record (`rooms`), which the menu then offers too.
"""

from __future__ import annotations

import io
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyinfra.api import deploy
from pyinfra.facts.server import Command
from pyinfra.operations import files

from preau.engines import pyinfra as engine
from preau.errors import BadInput
from preau.model import College, services

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
    # an older key a room was rolled back to is offered beside the current one
    previous: bool = False

    @property
    def label(self) -> str:
        """The menu's target: the image's name for its current key, name-key for an older one."""
        return f"{self.name}-{self.key}" if self.previous else self.name


def cmdline(entry: Entry, console: str = "ttyS0,115200") -> str:
    """The kernel command line: live-boot fetches the root filesystem over HTTP into RAM, and
    the booted PC its collège's client configuration from the same server (preau.client=,
    read by the image's preau-client-config; roles/app_server serves it)."""
    base = f"${{boot-url}}/{entry.name}/{entry.key}"
    fetch = f"fetch={base}/filesystem.squashfs"
    client = f"preau.client=${{boot-url}}/{services.BOOT.client_dir}"
    return f"initrd=initrd.img boot=live {fetch} {client} console=tty0 console={console}"


def _ascii(text: str) -> str:
    """iPXE prints bytes, not UTF-8: accents go, dashes become '-'."""
    text = text.replace("\u2014", "-").replace("\u2013", "-")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def menu(
    site_name: str, entries: list[Entry], default: str, picks: Mapping[str, str] | None = None
) -> str:
    """published.ipxe: one item per published image (and per older key a room was rolled back
    to); a PC whose MAC is in `picks` (MAC -> label: its room's image) boots that one after 5 s,
    any other PC `default`."""
    labels = {e.label for e in entries}
    chosen = {mac: label for mac, label in (picks or {}).items() if label in labels}
    lines = [
        "#!ipxe",
        "# Written by `preau image publish`: the images this app server offers.",
        f"menu {_ascii(f'Démarrage réseau ({site_name})')}",
        *(f"item {e.label} {_ascii(e.title)}" for e in entries),
        f"item local {_ascii('Démarrer sur le disque local')}",
        # the PC's room picks its image (the source of truth's room_images), by the PC's MAC
        f"set preau-image {default}",
        *(f"iseq ${{net0/mac}} {mac} && set preau-image {label} ||"
          for mac, label in sorted(chosen.items())),
        "choose --timeout 5000 --default ${preau-image} target || goto local",
        "goto ${target}",
    ]  # fmt: skip
    for e in entries:
        base = f"${{boot-url}}/{e.name}/{e.key}"
        lines += [
            "",
            f":{e.label}",
            f"kernel {base}/vmlinuz {cmdline(e)}",
            f"initrd {base}/initrd.img",
            "boot || goto local",
        ]
    lines += ["", ":local", "exit", ""]
    return "\n".join(lines)


def room_keys(site: College, record: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Each room with an image published here -> (image, key it boots): the key it was rolled
    back to (record["rooms"]) while the server still holds it, else the image's current one."""
    out: dict[str, tuple[str, str]] = {}
    for room, image in site.room_images.items():
        keys = record["images"].get(image, [])[:KEEP]
        if keys:
            pinned = record["rooms"].get(room)
            out[room] = (image, pinned if pinned in keys else keys[0])
    return out


def entries_and_picks(
    site: College, record: Mapping[str, Any]
) -> tuple[list[Entry], dict[str, str]]:
    """The menu's entries (each image's current key, and the older keys rooms boot) and each
    PC's pick (MAC -> label), from the source of truth's rooms and the publication record."""
    titles = record["titles"]
    entries = [Entry(n, keys[0], titles.get(n, n)) for n, keys in sorted(record["images"].items())]
    rooms = room_keys(site, record)
    for image, key in sorted(set(rooms.values())):
        if key != record["images"][image][0]:
            title = f"{titles.get(image, image)} ({_ascii('précédente')} {key})"
            entries.append(Entry(image, key, title, previous=True))
    by_room = {room: Entry(i, k, "", previous=k != record["images"][i][0]).label
               for room, (i, k) in rooms.items()}  # fmt: skip
    picks = {
        itf.mac.lower(): by_room[pc.room]
        for pc in site.devices_by_role("pc")
        if pc.room in by_room
        for itf in pc.interfaces
        if itf.mac
    }
    return entries, picks


# How many keys of an image the server keeps (the current one and those to roll back to).
KEEP = 3


@deploy("preau: publish PC images")
def _publish(site: College, sources: dict[str, Path], record: dict[str, Any]) -> None:
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
    kept = {n: keys[:KEEP] for n, keys in record["images"].items()}
    record = {**record, "images": kept}
    entries, picks = entries_and_picks(site, record)
    files.put(
        name="boot menu published.ipxe",
        src=io.StringIO(menu(site.name, entries, record["default"], picks)),
        dest=MENU,
        mode="644",
    )
    files.put(
        name="publication record",
        src=io.StringIO(json.dumps(record, indent=2, sort_keys=True) + "\n"),
        dest=STATE,
        mode="644",
    )


def read_record(hosts: list[engine.Host], env: dict[str, str]) -> dict[str, Any]:
    """What the app server has published: images (name: keys, newest first), default, titles."""
    raw = engine.facts(hosts, Command, f"cat {STATE} 2>/dev/null || true", env=env)
    text = next(iter(raw.values())) or ""
    record = json.loads(text) if text.strip() else {}
    return {"images": {}, "default": None, "titles": {}, "rooms": {}, **record}


def publish(
    hosts: list[engine.Host],
    env: dict[str, str],
    site: College,
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
    return engine.run(hosts, _publish, site, {name: folder}, record, dry_run=dry_run, env=env)


def rollback(
    hosts: list[engine.Host],
    env: dict[str, str],
    site: College,
    name: str,
    *,
    room: str | None = None,
    dry_run: bool,
) -> tuple[str, str, engine.DeployResult]:
    """Boot the previous key of `name` again, nothing copied or rebuilt: on every PC, or only
    in `room` (one of the rooms the source of truth gives this image). A second rollback undoes
    the first. Returns (the key booted before, the key booted now, the run)."""
    if room is not None and site.room_images.get(room) != name:
        rooms = sorted(r for r, i in site.room_images.items() if i == name)
        raise BadInput(
            f"college {site.slug}: room_images: room {room!r} does not boot {name} "
            f"(rooms that do: {', '.join(rooms) or 'none'})"
        )
    record = read_record(hosts, env)
    keys = record["images"].get(name, [])[:KEEP]
    if len(keys) < 2:
        raise BadInput(
            f"image {name}: {len(keys)} publication(s) on this server, none to roll back to"
        )
    if room is None:
        record["images"][name] = [keys[1], keys[0], *keys[2:]]
        was, now = keys[0], keys[1]
    else:
        was = room_keys(site, record)[room][1]
        now = keys[1] if was == keys[0] else keys[0]
        record["rooms"] = {**record["rooms"], room: now}
        if now == keys[0]:
            del record["rooms"][room]  # back on the current key: it follows the next publication
    result = engine.run(hosts, _publish, site, {}, record, dry_run=dry_run, env=env)
    return was, now, result
