"""Lab host images, built here from recipes in lab/images/<name>/ and cached by recipe hash.

`base` is a debootstrap rootfs imported into podman; every other image is a Containerfile
`FROM localhost/preau-<parent>:${PARENT_TAG}`. An image's tag hashes its recipe files and its
parent's tag, so `podman image exists` is the whole cache check and a rebuild with nothing
changed costs nothing. The base rootfs tarball is kept under the user cache with the same
key, so a wiped podman store re-imports it in seconds instead of re-running debootstrap.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from preau.errors import BadInput, ServiceError
from preau.lab import podman

RECIPES = podman.REPO / "lab" / "images"
PREFIX = "localhost/preau-"
SUITE = "bookworm"
HOST_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
_FROM = re.compile(r"^FROM\s+localhost/preau-([a-z0-9-]+):", re.MULTILINE)
# Bump when the build procedure itself (not a recipe) changes what an image contains.
_PROCEDURE = "preau-images-1"

Say = Callable[[str], None]


def cache_dir() -> Path:
    """Where base rootfs tarballs live: $PREAU_CACHE/images, like scripts/bootstrap's cache."""
    root = os.environ.get("PREAU_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "preau"
    )
    return Path(root) / "images"


@dataclass(frozen=True)
class Recipe:
    """One image recipe: a folder under lab/images/."""

    name: str
    directory: Path
    parent: str | None

    @property
    def repository(self) -> str:
        return f"{PREFIX}{self.name}"

    def files(self) -> list[Path]:
        return sorted(p for p in self.directory.rglob("*") if p.is_file())


@dataclass(frozen=True)
class Image:
    """A recipe with its computed tag and what the local store holds."""

    recipe: Recipe
    tag: str
    parent_tag: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.recipe.repository}:{self.tag}"


@dataclass(frozen=True)
class Built:
    """The outcome of building one image."""

    image: Image
    cached: bool
    seconds: float


def recipes() -> dict[str, Recipe]:
    """Every recipe under lab/images/, parents before children."""
    found: dict[str, Recipe] = {}
    for directory in sorted(p for p in RECIPES.iterdir() if p.is_dir()):
        containerfile = directory / "Containerfile"
        if containerfile.is_file():
            match = _FROM.search(containerfile.read_text())
            if match is None:
                raise BadInput(
                    f"{containerfile}: FROM: must be localhost/preau-<parent>:${{PARENT_TAG}}"
                )
            found[directory.name] = Recipe(directory.name, directory, match.group(1))
        elif (directory / "packages.txt").is_file():
            found[directory.name] = Recipe(directory.name, directory, None)
    ordered: dict[str, Recipe] = {}

    def visit(name: str, seen: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in seen:
            raise BadInput(f"lab/images/{name}: FROM: parent cycle {' -> '.join((*seen, name))}")
        recipe = found.get(name)
        if recipe is None:
            raise BadInput(f"lab/images/{seen[-1]}: FROM: no recipe lab/images/{name}/")
        if recipe.parent:
            visit(recipe.parent, (*seen, name))
        ordered[name] = recipe

    for name in found:
        visit(name, ())
    return ordered


def host_sources() -> str:
    """The host's Debian sources (deb822): the image uses the mirror this machine already uses."""
    try:
        return HOST_SOURCES.read_text()
    except OSError as exc:
        raise ServiceError(
            f"{HOST_SOURCES}: cannot read the Debian mirror to build lab images from ({exc})"
        ) from exc


def primary_mirror(sources: str) -> str:
    """The URI of the stanza carrying the release itself (Suites: bookworm ...)."""
    for stanza in re.split(r"\n\s*\n", sources):
        fields = dict(
            (k.strip(), v.strip())
            for k, v in (line.split(":", 1) for line in stanza.splitlines() if ":" in line)
            if not k.startswith("#")
        )
        if SUITE in fields.get("Suites", "").split() and fields.get("URIs"):
            return fields["URIs"].split()[0]
    raise ServiceError(f"{HOST_SOURCES}: no stanza with 'Suites: {SUITE}' and a URIs field")


def plan(names: Iterable[str] = ()) -> list[Image]:
    """The images to build for NAMES (all when empty) and their parents, parents first, tagged."""
    all_recipes = recipes()
    wanted = list(names) or list(all_recipes)
    unknown = [n for n in wanted if n not in all_recipes]
    if unknown:
        raise BadInput(
            f"image {', '.join(unknown)}: no recipe in lab/images/ "
            f"(known: {', '.join(all_recipes)})"
        )
    closure: set[str] = set()
    for name in wanted:
        cursor: str | None = name
        while cursor:
            closure.add(cursor)
            cursor = all_recipes[cursor].parent
    tags: dict[str, str] = {}
    images = []
    for name, recipe in all_recipes.items():
        digest = hashlib.sha256(_PROCEDURE.encode())
        for path in recipe.files():
            digest.update(str(path.relative_to(recipe.directory)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
        if recipe.parent:
            digest.update(b"parent\0" + tags[recipe.parent].encode())
        else:
            digest.update(b"sources\0" + host_sources().encode())
        tags[name] = digest.hexdigest()[:12]
        if name in closure:
            images.append(Image(recipe, tags[name], tags.get(recipe.parent or "")))
    return images


def build(
    images: list[Image],
    force: bool = False,
    say: Callable[[Image, str], None] | None = None,
) -> list[Built]:
    """Build IMAGES in order (parents first), skipping those already in the store unless FORCE."""
    report = say or (lambda _image, _line: None)
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    # Two builds at once (the twin and molecule-all) would build the same image twice: the
    # second waits here, then finds the images in the store.
    with (cache / ".build.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            for image in images[:1]:
                report(image, "waiting for another build to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(images, force, report)


def _build_locked(
    images: list[Image], force: bool, report: Callable[[Image, str], None]
) -> list[Built]:
    results = []
    for image in images:
        start = time.monotonic()
        cached = not force and podman.image_exists(image.ref)
        if not cached:
            step = _build_base if image.recipe.parent is None else _build_derived
            step(image, force, functools.partial(report, image))
        # :latest follows the recipe, so scenarios and the twin can name images without a hash.
        podman.run("tag", image.ref, f"{image.recipe.repository}:latest")
        results.append(Built(image, cached, time.monotonic() - start))
    return results


def _build_derived(image: Image, force: bool, say: Say) -> None:
    parent = image.recipe.parent
    assert parent is not None
    args = [
        "build",
        # host network: the build reaches the mirror without a podman bridge address
        "--network=host",
        "--build-arg",
        f"PARENT_TAG={image.parent_tag}",
        "--label",
        f"preau.recipe={image.tag}",
        "-t",
        image.ref,
        "-f",
        str(image.recipe.directory / "Containerfile"),
    ]
    if force:
        args.append("--no-cache")
    say("podman build")
    podman.stream([*args, str(image.recipe.directory)], say)


def _build_base(image: Image, force: bool, say: Say) -> None:
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / f"{image.recipe.name}-{image.tag}.tar"
    if force or not tarball.is_file():
        _bootstrap(image, tarball, say)
    say("podman import")
    podman.stream(
        [
            "import",
            "--change",
            'CMD=["/sbin/init"]',
            # systemd stops cleanly on SIGRTMIN+3, not on podman's default SIGTERM
            "--change",
            "STOPSIGNAL=SIGRTMIN+3",
            "--change",
            f"LABEL=preau.recipe={image.tag}",
            "--message",
            f"preau {image.recipe.name} {SUITE} minbase",
            str(tarball),
            image.ref,
        ],
        say,
    )


def _bootstrap(image: Image, tarball: Path, say: Say) -> None:
    """debootstrap the rootfs, run setup.sh chrooted in it, pack it as TARBALL."""
    if os.geteuid() != 0:
        raise ServiceError("building the base image needs root (debootstrap, chroot)")
    if shutil.which("debootstrap") is None:
        raise ServiceError("debootstrap is not installed: run scripts/bootstrap")
    recipe = image.recipe
    sources = host_sources()
    packages = [
        line.strip()
        for line in (recipe.directory / "packages.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    work = Path(tempfile.mkdtemp(prefix="build-", dir=tarball.parent))
    rootfs = work / "rootfs"
    try:
        say("debootstrap")
        _stream(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(packages)}",
                SUITE,
                str(rootfs),
                primary_mirror(sources),
            ],
            say,
        )
        (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
        (rootfs / "etc/apt/sources.list.d/debian.sources").write_text(sources)
        shutil.copy(recipe.directory / "setup.sh", rootfs / "preau-setup.sh")
        say("setup.sh")
        proc = rootfs / "proc"
        subprocess.run(["mount", "-t", "proc", "proc", str(proc)], check=True)
        try:
            _stream(["chroot", str(rootfs), "/bin/sh", "-eu", "/preau-setup.sh"], say)
        finally:
            subprocess.run(["umount", "-l", str(proc)], check=False)
        (rootfs / "preau-setup.sh").unlink()
        say("tar")
        partial = tarball.with_suffix(".partial")
        _stream(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(partial), "."], say)
        partial.rename(tarball)
        for old in tarball.parent.glob(f"{recipe.name}-*.tar"):
            if old != tarball:
                old.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _stream(cmd: list[str], say: Say) -> None:
    tail: list[str] = []
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as proc:
        assert proc.stdout is not None
        for raw in proc.stdout:
            tail = [*tail[-19:], raw.rstrip()]
            say(tail[-1])
        rc = proc.wait()
    if rc != 0:
        raise ServiceError(f"{cmd[0]} failed (exit {rc}):\n" + "\n".join(tail))


@dataclass(frozen=True)
class Status:
    """What `preau lab image list` shows for one image."""

    name: str
    tag: str
    built: bool
    size: int | None


def status() -> list[Status]:
    """Each recipe's current tag, and whether the store holds that image and its size."""
    rows = []
    for image in plan():
        size = None
        built = podman.image_exists(image.ref)
        if built:
            out = podman.run("image", "inspect", "--format", "{{.Size}}", image.ref).stdout
            size = int(out.strip() or 0)
        rows.append(Status(image.recipe.name, image.tag, built, size))
    return rows
