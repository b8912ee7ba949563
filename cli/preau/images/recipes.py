"""PC image recipes: one folder per image under images/, read and checked here (no I/O besides
reading the recipe files).

A recipe is `recipe.yml` (description, packages, SOURCE_DATE_EPOCH, optional parent) and an
optional `rootfs/` overlay copied over the installed system. A child recipe adds its packages
and overlay to its parent's. The cache key hashes every file of the recipe and its parents and
the build procedure's version, so an unchanged recipe is never rebuilt.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from preau.errors import BadInput

REPO = Path(__file__).resolve().parents[3]
RECIPES = REPO / "images"
SUITE = "bookworm"
# Bump when the build procedure itself (not a recipe) changes what an image contains.
PROCEDURE = "preau-pc-image-1"
# Run in every image after its overlay (build.py): part of what an image is, so of its key.
CUSTOMIZE = Path(__file__).with_name("customize.sh")
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_KEYS = {"description", "epoch", "packages", "parent"}


@dataclass(frozen=True)
class Recipe:
    """One image recipe, with its parents' packages and overlays folded in."""

    name: str
    directory: Path
    description: str
    epoch: int
    packages: tuple[str, ...]
    overlays: tuple[Path, ...]
    files: tuple[Path, ...]
    parent: str | None = None

    @property
    def key(self) -> str:
        """A hash of everything the image is built from: its cache key."""
        h = hashlib.sha256(f"{PROCEDURE}\0{SUITE}\0".encode())
        h.update(CUSTOMIZE.read_bytes() + b"\0")
        for path in self.files:
            h.update(str(path.relative_to(RECIPES)).encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
        return h.hexdigest()[:16]


def _load(path: Path) -> dict[str, Any]:
    where = f"{path.relative_to(REPO)}"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BadInput(f"{where}: cannot read the recipe ({exc})") from None
    if not isinstance(raw, dict):
        raise BadInput(f"{where}: a recipe is a mapping (description, packages, ...)")
    unknown = set(raw) - _KEYS
    if unknown:
        raise BadInput(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if not isinstance(raw.get("description"), str) or not raw["description"].strip():
        raise BadInput(f"{where}: description: give one line saying what the image is for")
    if not isinstance(raw.get("epoch"), int) or raw["epoch"] <= 0:
        raise BadInput(f"{where}: epoch: the SOURCE_DATE_EPOCH of builds, a positive integer")
    packages = raw.get("packages")
    if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
        raise BadInput(f"{where}: packages: a list of Debian package names")
    bad = [p for p in packages if not _PACKAGE.match(p)]
    if bad:
        raise BadInput(f"{where}: packages: {', '.join(bad)} not Debian package names")
    return raw


def recipe(name: str, seen: tuple[str, ...] = ()) -> Recipe:
    """The recipe `images/<name>/`, its parents folded in."""
    if not _NAME.match(name):
        raise BadInput(f"image {name!r}: names are lowercase letters, digits and dashes")
    directory = RECIPES / name
    path = directory / "recipe.yml"
    if not path.is_file():
        have = ", ".join(names()) or "none"
        raise BadInput(f"image {name!r}: no {path.relative_to(REPO)} (recipes: {have})")
    if name in seen:
        raise BadInput(f"image {name!r}: parent loop {' -> '.join((*seen, name))}")
    raw = _load(path)
    own = tuple(sorted(p for p in directory.rglob("*") if p.is_file()))
    overlay = directory / "rootfs"
    parent_name = raw.get("parent")
    packages: tuple[str, ...]
    overlays: tuple[Path, ...]
    files: tuple[Path, ...]
    if parent_name is None:
        packages, overlays, files = tuple(raw["packages"]), (), own
    else:
        if not isinstance(parent_name, str):
            raise BadInput(f"{path.relative_to(REPO)}: parent: the name of another image")
        parent = recipe(parent_name, (*seen, name))
        packages = parent.packages + tuple(p for p in raw["packages"] if p not in parent.packages)
        overlays, files = parent.overlays, parent.files + own
    if overlay.is_dir():
        overlays = (*overlays, overlay)
    return Recipe(
        name=name,
        directory=directory,
        description=raw["description"].strip(),
        epoch=raw["epoch"],
        packages=packages,
        overlays=overlays,
        files=files,
        parent=parent_name,
    )


def names() -> list[str]:
    """Every image with a recipe."""
    if not RECIPES.is_dir():
        return []
    return sorted(p.parent.name for p in RECIPES.glob("*/recipe.yml"))
