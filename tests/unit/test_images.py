"""PC image recipes (their checks and cache key) and the boot menu a publication writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from preau.deploys import images as publish
from preau.errors import BadInput
from preau.images import recipes
from preau.model import services


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
    assert "choose --timeout 5000 --default poste-leger target" in menu
    assert "kernel ${boot-url}/poste-leger/k1/vmlinuz initrd=initrd.img boot=live " in menu
    assert "fetch=${boot-url}/poste-leger/k1/filesystem.squashfs" in menu
    assert "initrd ${boot-url}/b/k2/initrd.img" in menu
    # the file the app server's boot script chains to is the declared one
    assert publish.MENU.endswith(f"{services.BOOT.http_dir}/{services.BOOT.menu}")
