"""Build a PC image from its recipe with mmdebstrap, into the cache keyed by the recipe's hash.

Why mmdebstrap: it builds a Debian system from Debian's packages alone, as root or not, in one
call with hooks (our overlay, our customisation, a shared .deb cache), and honours
SOURCE_DATE_EPOCH, so two builds from the same package versions give the same files;
live-build would wrap the same steps in a larger framework we would mostly turn off.

The output of a build, in `<cache>/pc-images/<name>/<key>/`:
- `vmlinuz`, `initrd.img`: the kernel and its initramfs, with live-boot (it fetches the root
  filesystem over HTTP into RAM, then boots it);
- `filesystem.squashfs`: the root filesystem (zstd, built with -reproducible; mksquashfs takes
  SOURCE_DATE_EPOCH, the recipe's epoch, as every timestamp);
- `packages.manifest`: every installed package and version;
- `SHA256SUMS` of those four, and `build.json` (sizes, seconds, packages).
A build happens in a temporary folder and is renamed into place whole, so a failed or killed
build leaves nothing half-made and the next run starts clean.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from preau.errors import ServiceError
from preau.images.recipes import CUSTOMIZE, SUITE, Recipe
from preau.netbox_local import paths

HOST_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
ARTEFACTS = ("vmlinuz", "initrd.img", "filesystem.squashfs", "packages.manifest")

Say = Callable[[str], None]


def cache_root() -> Path:
    """`<preau's cache>/pc-images` (default ~/.cache/preau/pc-images, or $PREAU_CACHE)."""
    return paths.cache_root() / "pc-images"


@dataclass(frozen=True)
class Built:
    """A built image in the cache."""

    name: str
    key: str
    directory: Path
    seconds: float
    cached: bool

    def info(self) -> dict[str, object]:
        return json.loads((self.directory / "build.json").read_text())


def output_dir(recipe: Recipe) -> Path:
    return cache_root() / recipe.name / recipe.key


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(directory: Path) -> bool:
    """Every artefact is there and matches SHA256SUMS."""
    sums = directory / "SHA256SUMS"
    if not sums.is_file():
        return False
    want: dict[str, str] = {}
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition("  ")
        want[name] = digest
    return set(want) == set(ARTEFACTS) and all(
        (directory / name).is_file() and sha256(directory / name) == digest
        for name, digest in want.items()
    )


@contextmanager
def _locked(root: Path, say: Say) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".build.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another image build to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run(cmd: list[str], say: Say, env: dict[str, str], log: Path) -> None:
    """Run a build step, its output to the build log, its progress lines to `say`."""
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        try:
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
            )
        except FileNotFoundError:
            raise ServiceError(
                f"{cmd[0]} is not installed: run `make bootstrap` (scripts/host-packages.txt)"
            ) from None
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            if line.startswith(("I: ", "E: ", "W: ")):
                say(line[3:].strip())
        if proc.wait() != 0:
            raise ServiceError(f"{cmd[0]} failed (exit {proc.returncode}): see {log}")


def build(
    recipe: Recipe, *, proxy: str | None = None, force: bool = False, say: Say = print
) -> Built:
    """The image of `recipe`, built unless the cache holds it already (verified)."""
    root = cache_root()
    final = output_dir(recipe)
    start = time.monotonic()
    with _locked(root, say):
        if not force and verify(final):
            return Built(recipe.name, recipe.key, final, 0.0, cached=True)
        work = root / f".build-{recipe.name}-{recipe.key}"
        shutil.rmtree(work, ignore_errors=True)
        rootfs, out = work / "rootfs", work / "out"
        out.mkdir(parents=True)
        debs = root / "debs"
        debs.mkdir(exist_ok=True)
        log = work / "build.log"
        env = {
            **os.environ,
            "SOURCE_DATE_EPOCH": str(recipe.epoch),
            "PREAU_IMAGE": f"{recipe.name} {recipe.key}",
        }
        cmd = [
            "mmdebstrap",
            "--mode=root",
            "--format=directory",
            "--variant=apt",
            f"--include={','.join(recipe.packages)}",
            "--skip=download/empty",
            # .debs kept between builds: a warm build downloads nothing
            '--setup-hook=mkdir -p "$1"/var/cache/apt/archives',
            f"--setup-hook=sync-in {debs} /var/cache/apt/archives/",
            *[f"--customize-hook=sync-in {o} /" for o in recipe.overlays],
            f'--customize-hook=chroot "$1" /bin/sh -s < {CUSTOMIZE}',
            f"--customize-hook=sync-out /var/cache/apt/archives {debs}",
            '--customize-hook=rm -f "$1"/var/cache/apt/archives/*.deb',
        ]
        if proxy:
            cmd.append(f'--aptopt=Acquire::http::Proxy "{proxy}"')
        cmd += [SUITE, str(rootfs), str(HOST_SOURCES)]
        say(f"mmdebstrap: {len(recipe.packages)} packages and their dependencies")
        _run(cmd, say, env, log)
        boot = rootfs / "boot"
        kernels = sorted(boot.glob("vmlinuz-*"))
        initrds = sorted(boot.glob("initrd.img-*"))
        if not kernels or not initrds:
            raise ServiceError(f"image {recipe.name}: no kernel or initrd in /boot: see {log}")
        shutil.copyfile(kernels[-1], out / "vmlinuz")
        shutil.copyfile(initrds[-1], out / "initrd.img")
        manifest = subprocess.run(
            ["dpkg-query", f"--admindir={rootfs}/var/lib/dpkg", "-W", "-f",
             "${Package}\t${Version}\t${Architecture}\n"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        (out / "packages.manifest").write_text("".join(sorted(manifest.splitlines(True))))
        say("mksquashfs: the root filesystem")
        _run(
            ["mksquashfs", str(rootfs), str(out / "filesystem.squashfs"), "-noappend",
             "-comp", "zstd", "-reproducible", "-wildcards", "-e", "boot/*", "-no-progress"],
            say, env, log,
        )  # fmt: skip
        sums = "".join(f"{sha256(out / name)}  {name}\n" for name in ARTEFACTS)
        (out / "SHA256SUMS").write_text(sums)
        seconds = time.monotonic() - start
        info = {
            "name": recipe.name,
            "key": recipe.key,
            "description": recipe.description,
            "seconds": round(seconds, 1),
            "packages": len(manifest.splitlines()),
            "sizes": {name: (out / name).stat().st_size for name in ARTEFACTS},
            "sha256": {name: sha256(out / name) for name in ARTEFACTS},
            "kernel": kernels[-1].name,
        }
        (out / "build.json").write_text(json.dumps(info, indent=2) + "\n")
        shutil.copyfile(log, out / "build.log")
        if final.exists():
            shutil.rmtree(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        out.rename(final)
        shutil.rmtree(work, ignore_errors=True)
        return Built(recipe.name, recipe.key, final, seconds, cached=False)


def built(name: str) -> list[Path]:
    """The cached builds of an image (one folder per recipe key), newest first."""
    folder = cache_root() / name
    if not folder.is_dir():
        return []
    found = [d for d in folder.iterdir() if d.is_dir() and (d / "build.json").is_file()]
    return sorted(found, key=lambda d: d.stat().st_mtime, reverse=True)
