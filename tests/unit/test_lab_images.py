"""Lab image recipes: parents first, tags that follow the recipe and the parent, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from preau.errors import BadInput, ServiceError
from preau.lab import images

SOURCES = """Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


@pytest.fixture
def recipes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "images"
    (root / "base").mkdir(parents=True)
    (root / "base" / "packages.txt").write_text("systemd\n")
    (root / "base" / "setup.sh").write_text("true\n")
    for name in ("router", "server"):
        (root / name).mkdir()
        (root / name / "Containerfile").write_text(
            "ARG PARENT_TAG=latest\n"
            "FROM localhost/preau-base:${PARENT_TAG}\n"
            f"RUN preau-install {name}\n"
        )
    sources = tmp_path / "debian.sources"
    sources.write_text(SOURCES)
    monkeypatch.setattr(images, "RECIPES", root)
    monkeypatch.setattr(images, "HOST_SOURCES", sources)
    return root


def tags() -> dict[str, str]:
    return {i.recipe.name: i.tag for i in images.plan()}


def test_parents_come_first_and_with_their_children(recipes: Path) -> None:
    planned = images.plan(["server"])
    assert [i.recipe.name for i in planned] == ["base", "server"]
    assert planned[1].parent_tag == planned[0].tag
    assert planned[1].ref == f"localhost/preau-server:{planned[1].tag}"


def test_a_child_recipe_change_retags_only_that_child(recipes: Path) -> None:
    before = tags()
    (recipes / "router" / "Containerfile").write_text(
        "ARG PARENT_TAG=latest\nFROM localhost/preau-base:${PARENT_TAG}\nRUN preau-install frr\n"
    )
    after = tags()
    assert after["router"] != before["router"]
    assert after["base"] == before["base"]
    assert after["server"] == before["server"]


def test_a_base_change_retags_every_image(recipes: Path) -> None:
    before = tags()
    (recipes / "base" / "packages.txt").write_text("systemd\nchrony\n")
    after = tags()
    assert all(after[name] != before[name] for name in before)


def test_the_mirror_is_part_of_the_base_recipe(recipes: Path) -> None:
    before = tags()
    images.HOST_SOURCES.write_text(SOURCES.replace("mirror.example", "other.example"))
    assert tags()["base"] != before["base"]


def test_tags_are_stable(recipes: Path) -> None:
    assert tags() == tags()


def test_unknown_image_names_the_known_ones(recipes: Path) -> None:
    with pytest.raises(BadInput, match=r"image nope: no recipe .*known: base, router, server"):
        images.plan(["nope"])


def test_missing_parent_is_bad_input(recipes: Path) -> None:
    (recipes / "pc").mkdir()
    (recipes / "pc" / "Containerfile").write_text("FROM localhost/preau-desktop:${PARENT_TAG}\n")
    with pytest.raises(BadInput, match=r"lab/images/pc: FROM: no recipe lab/images/desktop/"):
        images.plan()


def test_primary_mirror_is_the_release_stanza() -> None:
    assert images.primary_mirror(SOURCES) == "http://mirror.example/debian"
    with pytest.raises(ServiceError, match="Suites: bookworm"):
        images.primary_mirror("Types: deb\nURIs: http://x/\nSuites: trixie\n")
