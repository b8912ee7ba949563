"""`preau image` and the rooms' images in `preau college show`, on the embedded files."""

import json

import yaml


def test_show_lists_each_rooms_image_and_its_pcs(preau, inventory_copy):
    site = inventory_copy / "sites" / "clg-0929001j.yml"
    data = yaml.safe_load(site.read_text())
    r = preau("college", "show", "0929001J", "--source", "files", "--path", str(inventory_copy),
              "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    shown = json.loads(r.output)
    assert shown["room_images"] == data["room_images"]
    pcs = [d for d in data["devices"] if d["role"] == "pc"]
    for room, row in shown["pc_boot"].items():
        assert row["image"] == data["room_images"].get(room)
        assert row["pcs"] == sum(1 for d in pcs if d.get("room") == room)
    table = preau("college", "show", "0929001J", "--source", "files", "--path",
                  str(inventory_copy))  # fmt: skip
    assert "network boot by room" in table.output and "poste-eleve" in table.output


def test_a_room_rolled_back_to_an_image_it_does_not_boot_is_refused_before_any_connection(
    preau, inventory_copy
):
    r = preau("image", "rollback", "poste-leger", "-c", "0929001J", "--room", "cdi",
              "--source", "files", "--path", str(inventory_copy))  # fmt: skip
    assert r.exit_code == 2, r.output
    assert "room_images: room 'cdi' does not boot poste-leger" in r.output
    assert "Traceback" not in r.output


def test_publishing_an_image_without_a_recipe_names_the_recipes(preau, inventory_copy):
    r = preau("image", "publish", "poste-inconnu", "-c", "0929001J", "--source", "files",
              "--path", str(inventory_copy))  # fmt: skip
    assert r.exit_code == 2 and "poste-eleve, poste-leger" in r.output, r.output


def test_list_names_every_recipe_and_its_key(preau):
    r = preau("image", "list", "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert {row["name"] for row in rows} == {"poste-eleve", "poste-leger"}
    assert all(len(row["recipe_key"]) == 16 for row in rows)
