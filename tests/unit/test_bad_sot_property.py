"""Broken départements, generated: every mutant of the demo either validates and renders, or is
refused as bad input naming its file, object and field. Never another exception.

Mutations start from the embedded demo inventory as plain YAML data: delete a key, misspell
one, change a value's type, move an address out of its prefix or onto its network/broadcast
address, copy a value from a sibling (a duplicate UAI, MAC, address, name), duplicate or drop
a list item.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from netaddr import IPNetwork

from preau.errors import BadInput, ValidationFailed
from preau.render import render_site
from preau.sot.filesource import FileSource

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "inventory"


def _demo() -> dict[str, Any]:
    out = {"departement.yml": yaml.safe_load((SOURCE / "departement.yml").read_text())}
    for p in sorted((SOURCE / "sites").glob("*.yml")):
        out[f"sites/{p.name}"] = yaml.safe_load(p.read_text())
    return out


DEMO = _demo()
Path_ = tuple[Any, ...]


def paths(node: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every place in the tree (mapping keys and list items), parents before children."""
    out: list[Path_] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((*prefix, k))
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append((*prefix, i))
            out += paths(v, (*prefix, i))
    return out


def parent_of(tree: Any, path: Path_) -> Any:
    for step in path[:-1]:
        tree = tree[step]
    return tree


values = st.one_of(
    st.integers(-3, 70_000),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=6),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True),
    st.lists(st.integers(0, 5), max_size=2),
    st.just({"x": 1}),
    st.sampled_from(["", "  ", "198.18.0.0/22", "100.64.0.2/32", "2001:db8::1/64", "0929001J"]),
)


def misspell(data: st.DataObject, key: str) -> str:
    if not key:
        return "x"
    i = data.draw(st.integers(0, len(key) - 1))
    how = data.draw(st.sampled_from(["drop", "double", "swap", "upper"]))
    if how == "drop":
        return key[:i] + key[i + 1 :] or "x"
    if how == "double":
        return key[:i] + key[i] + key[i:]
    if how == "swap" and i + 1 < len(key):
        return key[:i] + key[i + 1] + key[i] + key[i + 2 :]
    return key.upper() if key.upper() != key else key + "s"


def move_address(data: st.DataObject, value: str) -> str:
    """An address or prefix moved: outside its block, or on its network/broadcast address."""
    net = IPNetwork(value)
    how = data.draw(st.sampled_from(["outside", "network", "broadcast", "shift", "length"]))
    if how == "outside":
        return f"203.0.113.{net.ip.words[3]}/{net.prefixlen}"
    if how == "network":
        return f"{net.network}/{net.prefixlen}"
    if how == "broadcast":
        return f"{net.broadcast or net.network}/{net.prefixlen}"
    if how == "shift":
        return f"{net.ip + data.draw(st.integers(-130, 130))}/{net.prefixlen}"
    return f"{net.ip}/{data.draw(st.integers(0, 32))}"


def mutate(data: st.DataObject, tree: dict[str, Any]) -> str:
    """Apply one random mutation to one file; say what it was."""
    file = data.draw(st.sampled_from(sorted(tree)))
    places = paths(tree[file])
    path = data.draw(st.sampled_from(places))
    parent = parent_of(tree[file], path)
    last = path[-1]
    op = data.draw(st.sampled_from(["delete", "rename", "retype", "address", "copy", "repeat"]))
    if op == "delete":
        del parent[last]
    elif op == "rename" and isinstance(parent, dict):
        parent[misspell(data, str(last))] = parent.pop(last)
    elif op == "address" and isinstance(parent[last], str) and "/" in parent[last]:
        try:
            parent[last] = move_address(data, parent[last])
        except Exception:  # not an address after all: leave it
            return f"{file}: {path} unchanged"
    elif op == "copy":
        # the same key elsewhere in any file: a duplicate UAI, MAC, address, name, slug...
        same = [
            (f, p)
            for f in tree
            for p in paths(tree[f])
            if p[-1] == last and (f, p) != (file, path) and isinstance(last, str)
        ]
        if same:
            f, p = data.draw(st.sampled_from(same))
            parent[last] = copy.deepcopy(parent_of(tree[f], p)[p[-1]])
    elif op == "repeat" and isinstance(parent, list):
        parent.insert(last, copy.deepcopy(parent[last]))
    else:
        parent[last] = data.draw(values)
    event(op)
    return f"{file}: {op} {path}"


def write(tree: dict[str, Any], root: Path) -> None:
    (root / "sites").mkdir(parents=True, exist_ok=True)
    for rel, content in tree.items():
        (root / rel).write_text(yaml.safe_dump(content, allow_unicode=True, sort_keys=False))


def test_the_demo_itself_validates_and_renders(tmp_path: Path) -> None:
    write(copy.deepcopy(DEMO), tmp_path)
    dep = FileSource(tmp_path).read()
    assert all(render_site(dep, s) for s in dep.sites)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data())
def test_a_broken_departement_is_bad_input_or_renders(data: st.DataObject) -> None:
    tree = copy.deepcopy(DEMO)
    done = [mutate(data, tree) for _ in range(data.draw(st.integers(1, 3)))]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write(tree, root)
        before = {p: p.read_bytes() for p in root.rglob("*.yml")}
        try:
            dep = FileSource(root).read()
        except ValidationFailed as exc:
            event("refused")
            assert exc.exit_code == 2
            for p in exc.problems:
                assert p.obj and p.field and p.message, (done, p)
                assert p.file and p.file.endswith(".yml"), (done, p)
                assert "\n" not in str(p), (done, p)
        except BadInput as exc:  # pragma: no cover - says which mutation escaped the schema
            raise AssertionError(f"{done}: bad input without a field: {exc}") from exc
        else:
            event("valid")
            # valid for the model: every network device renders (render's own checks included)
            for site in dep.sites:
                assert render_site(dep, site), (done, site.slug)
        assert before == {p: p.read_bytes() for p in root.rglob("*.yml")}
