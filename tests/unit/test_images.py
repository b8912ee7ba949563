"""PC image recipes (their checks and cache key) and the boot menu a publication writes."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from preau.deploys import images as publish
from preau.errors import BadInput
from preau.images import recipes
from preau.model import College, services
from preau.sot import open_source

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def recipe_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of images/ the tests may edit."""
    root = tmp_path / "images"
    shutil.copytree(recipes.RECIPES, root)
    monkeypatch.setattr(recipes, "RECIPES", root)
    monkeypatch.setattr(recipes, "REPO", tmp_path)
    return root


def test_a_child_image_has_its_parents_packages_and_its_own() -> None:
    leger, eleve = recipes.recipe("poste-leger"), recipes.recipe("poste-eleve")
    assert eleve.packages[: len(leger.packages)] == leger.packages
    assert "lightdm" in eleve.packages and "lightdm" not in leger.packages
    assert "live-boot" in leger.packages and "linux-image-amd64" in leger.packages


def test_the_key_follows_every_recipe_file_and_the_parent(recipe_dir: Path) -> None:
    before = (recipes.recipe("poste-leger").key, recipes.recipe("poste-eleve").key)
    path = recipe_dir / "poste-leger" / "recipe.yml"
    path.write_text(path.read_text() + "  - htop\n")
    after = (recipes.recipe("poste-leger").key, recipes.recipe("poste-eleve").key)
    assert before[0] != after[0] and before[1] != after[1]  # the child follows its parent
    path.write_text(path.read_text().replace("  - htop\n", ""))
    assert recipes.recipe("poste-leger").key == before[0]  # same files, same key


def test_the_key_follows_the_overlay_and_the_customisation_every_image_runs(
    recipe_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = recipes.recipe("poste-leger").key
    script = (
        recipe_dir / "poste-leger" / "rootfs" / "usr" / "local" / "sbin" / "preau-client-config"
    )
    script.write_text(script.read_text() + "# changed\n")
    overlaid = recipes.recipe("poste-leger").key
    customize = tmp_path / "customize.sh"
    customize.write_text(recipes.CUSTOMIZE.read_text() + "true\n")
    monkeypatch.setattr(recipes, "CUSTOMIZE", customize)
    customised = recipes.recipe("poste-leger").key
    assert len({before, overlaid, customised}) == 3


def test_the_menu_tells_a_booted_pc_where_its_client_configuration_is() -> None:
    """What the image's preau-client-config reads on the kernel command line is the folder the
    app server serves it in (roles/app_server: preau_boot.client_dir under the boot folder)."""
    line = publish.cmdline(publish.Entry("poste-leger", "k1", "Poste leger"))
    assert f"preau.client=${{boot-url}}/{services.BOOT.client_dir} " in line
    client = (recipes.RECIPES / "poste-leger/rootfs/usr/local/sbin/preau-client-config").read_text()
    assert "preau\\.client=" in client


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("description:", "descripton:"), "unknown key(s) descripton"),
        (("epoch: 1767225600", "epoch: soon"), "epoch:"),
        (("  - chrony", "  - Chrony Daemon"), "packages: Chrony Daemon"),
    ],
)
def test_a_bad_recipe_is_bad_input_naming_file_and_field(
    recipe_dir: Path, edit: tuple[str, str], message: str
) -> None:
    path = recipe_dir / "poste-leger" / "recipe.yml"
    path.write_text(path.read_text().replace(*edit, 1))
    with pytest.raises(BadInput, match="images/poste-leger/recipe.yml") as exc:
        recipes.recipe("poste-leger")
    assert message in str(exc.value)


def test_an_unknown_image_names_the_recipes() -> None:
    with pytest.raises(BadInput, match="recipes: poste-eleve, poste-leger"):
        recipes.recipe("poste-inconnu")


def test_the_menu_boots_each_images_current_key_with_live_boot() -> None:
    entries = [publish.Entry("poste-leger", "k1", "Poste leger"), publish.Entry("b", "k2", "B")]
    menu = publish.menu("Collège X", entries, default="poste-leger")
    assert menu.startswith("#!ipxe\n")
    assert menu.isascii() and "menu Demarrage reseau (College X)" in menu  # iPXE has no UTF-8
    assert "set preau-image poste-leger\n" in menu
    assert "choose --timeout 5000 --default ${preau-image} target" in menu
    assert "kernel ${boot-url}/poste-leger/k1/vmlinuz initrd=initrd.img boot=live " in menu
    assert "fetch=${boot-url}/poste-leger/k1/filesystem.squashfs" in menu
    assert "initrd ${boot-url}/b/k2/initrd.img" in menu
    # the file the app server's boot script chains to is the declared one
    assert publish.MENU.endswith(f"{services.BOOT.http_dir}/{services.BOOT.menu}")


def _college_with_rooms(**room_images: str) -> College:
    dep = open_source("files", REPO / "inventory").read()
    site = dep.colleges[0]
    return replace(site, room_images=room_images)


def test_each_pc_boots_its_rooms_image_and_a_rolled_back_room_its_older_key() -> None:
    site = _college_with_rooms(s101="poste-eleve", cdi="poste-leger")
    record = {
        "images": {"poste-leger": ["k2", "k1"], "poste-eleve": ["e1"]},
        "titles": {"poste-leger": "Leger", "poste-eleve": "Eleve"},
        "default": "poste-leger",
        "rooms": {"cdi": "k1"},  # rolled back
    }
    entries, picks = publish.entries_and_picks(site, record)
    assert [(e.label, e.key) for e in entries] == [
        ("poste-eleve", "e1"), ("poste-leger", "k2"), ("poste-leger-k1", "k1"),
    ]  # fmt: skip
    by_room = {pc.room: pc.interfaces[0].mac for pc in site.devices_by_role("pc")}
    assert picks[str(by_room["s101"]).lower()] == "poste-eleve"
    assert picks[str(by_room["cdi"]).lower()] == "poste-leger-k1"
    assert str(by_room["s102"]).lower() not in picks  # no image named: the default
    menu = publish.menu(site.name, entries, "poste-leger", picks)
    assert (
        f"iseq ${{net0/mac}} {str(by_room['cdi']).lower()} && set preau-image poste-leger-k1 ||"
        in menu
    )
    assert ":poste-leger-k1\nkernel ${boot-url}/poste-leger/k1/vmlinuz" in menu
    # a rolled-back key the server no longer holds: the room follows the current one
    record["images"]["poste-leger"] = ["k4", "k3", "k2"]
    assert publish.room_keys(site, record)["cdi"] == ("poste-leger", "k4")


def test_a_room_given_an_image_that_is_not_published_boots_the_default() -> None:
    site = _college_with_rooms(s101="poste-eleve")
    record = {
        "images": {"poste-leger": ["k1"]},
        "titles": {},
        "default": "poste-leger",
        "rooms": {},
    }
    entries, picks = publish.entries_and_picks(site, record)
    assert picks == {} and [e.label for e in entries] == ["poste-leger"]
