"""The PC images as built (scripts/test builds them, cached by recipe): what each root filesystem
holds, read from the squashfs itself (unsquashfs), not from the recipe that asked for it.

Both images: every package the recipe names is installed (the manifest and dpkg's own database
in the image agree), the checksums hold, the build names its key, the locale and keyboard are
French, the login goes through Kerberos with the home mount required (no home, no session), the
names come from the files the app server serves (extrausers), the client configuration is
fetched at boot, and nothing collège-specific or secret is inside (no keytab, no host key, no
machine id, no password). The pupils' desktop adds its greeter (LightDM as the display manager)
and Firefox in French. The light image is also booted on the twin
(test_college_rollout.py); the desktop is not (its greeter under TCG takes too long for CI).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from preau.images import build, recipes

pytestmark = pytest.mark.lab

IMAGES = recipes.names()


def _squashfs(name: str) -> tuple[recipes.Recipe, Path]:
    recipe = recipes.recipe(name)
    folder = build.output_dir(recipe)
    assert build.verify(folder), f"{name} {recipe.key} is not built (scripts/test builds it)"
    return recipe, folder / "filesystem.squashfs"


def _cat(squashfs: Path, path: str) -> str:
    out = subprocess.run(
        ["unsquashfs", "-cat", str(squashfs), path], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, f"{path}: {out.stderr.strip()}"
    return out.stdout


def _listing(squashfs: Path) -> dict[str, str]:
    """Path in the image -> its `ls -l` line (with a symbolic link's target)."""
    out = subprocess.run(
        ["unsquashfs", "-ll", "-d", "", str(squashfs)], capture_output=True, text=True, check=True
    )
    lines = {}
    for line in out.stdout.splitlines():
        match = re.match(r"^\S+ \S+ +\d+ \S+ \S+ (/\S*)", line)
        if match:
            lines[match.group(1)] = line
    return lines


@pytest.mark.parametrize("name", IMAGES)
def test_the_image_holds_its_packages_and_names_its_build(name: str) -> None:
    recipe, squashfs = _squashfs(name)
    manifest = (squashfs.parent / "packages.manifest").read_text().split("\n")
    installed = {line.split("\t")[0] for line in manifest if line}
    assert set(recipe.packages) <= installed, set(recipe.packages) - installed
    in_image = set()
    for stanza in _cat(squashfs, "var/lib/dpkg/status").split("\n\n"):
        fields = dict(re.findall(r"^([\w-]+): (.*)$", stanza, re.M))
        if fields.get("Status") == "install ok installed":
            in_image.add(fields["Package"])
    assert installed == in_image
    assert _cat(squashfs, "etc/preau-image").split() == [name, recipe.key]


@pytest.mark.parametrize("name", IMAGES)
def test_the_image_logs_in_through_the_domain_with_the_home_required(name: str) -> None:
    _, squashfs = _squashfs(name)
    auth = _cat(squashfs, "etc/pam.d/common-auth")
    assert re.search(r"^auth\s.*pam_krb5\.so", auth, re.M), auth
    session = _cat(squashfs, "etc/pam.d/common-session")
    assert re.search(r"^session\s+required\s+pam_mount\.so", session, re.M), session
    assert not re.search(r"^session\s+optional\s+pam_mount\.so", session, re.M)
    nss = _cat(squashfs, "etc/nsswitch.conf")
    assert re.search(r"^passwd:\s+files extrausers$", nss, re.M), nss
    files = _listing(squashfs)
    unit = "/etc/systemd/system/multi-user.target.wants/preau-client-config.service"
    assert unit in files and files[unit].startswith("l"), "the client configuration is not fetched"


@pytest.mark.parametrize("name", IMAGES)
def test_the_image_is_french_and_carries_nothing_of_a_college(name: str) -> None:
    _, squashfs = _squashfs(name)
    assert "LANG=fr_FR.UTF-8" in _cat(squashfs, "etc/default/locale")
    assert 'XKBLAYOUT="fr"' in _cat(squashfs, "etc/default/keyboard")
    assert _cat(squashfs, "etc/machine-id") == ""
    files = _listing(squashfs)
    secrets = [p for p in files if p.endswith(".keytab") or re.match(r"/etc/ssh/ssh_host_", p)]
    assert not secrets, secrets
    # what the app server serves at boot is not in the image
    for served in ("/var/lib/extrausers/passwd", "/etc/security/pam_mount.conf.xml"):
        assert served not in files or "preau" not in _cat(squashfs, served[1:]), served
    shadow = _cat(squashfs, "etc/shadow")
    assert all(line.split(":")[1] in ("*", "!", "!*", "") for line in shadow.splitlines())


def test_the_pupils_desktop_has_its_greeter_and_a_french_browser() -> None:
    recipe, squashfs = _squashfs("poste-eleve")
    files = _listing(squashfs)
    manager = files["/etc/systemd/system/display-manager.service"]
    assert manager.endswith("lightdm.service"), manager
    assert "/usr/sbin/lightdm" in _cat(squashfs, "etc/X11/default-display-manager")
    assert {"firefox-esr", "firefox-esr-l10n-fr", "lightdm-gtk-greeter"} <= set(recipe.packages)
    assert "/usr/lib/firefox-esr/firefox-esr" in files
